/*
 * api_sessions.c - POST/GET /off-ramp-sessions.
 *
 * Decoding checks shape and everything that needs no database: types,
 * unknown fields, amounts, references, rails and currencies agreeing,
 * IBAN/BIC/country, the payment reference. The service then checks what
 * needs the database, inside the transaction that writes.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "domain/bank.h"
#include "domain/session.h"

API_RENDERER(render_session, api_session_json, struct store_session, 201)

API_HANDLER(api_h_session_create)
{
	struct jd d = {0};
	struct jd_obj root, dest, typed;
	jd_init(&root, c->body, "");
	char account_id[UUID_STR_LEN + 1] = "", owner_id[UUID_STR_LEN + 1] = "",
	     dest_id[UUID_STR_LEN + 1] = "";
	enum currency source = CUR_NONE;
	int64_t amount = 0;
	static const char *const rails[] = {"fiat", "crypto", NULL};

	jd_ref(&d, &root, "account_ref", "client-accounts", account_id);
	jd_money(&d, &root, "amount", true, &source, &amount);
	const char *target_currency = jd_str(&d, &root, "target_currency", true, false, 8);
	const char *target_rail = jd_enum(&d, &root, "target_rail", true, rails);
	const char *method = NULL, *fiat_rail = NULL, *reference = NULL;
	struct destination dst;
	memset(&dst, 0, sizeof dst);
	if (jd_sub(&d, &root, "destination", true, false, &dest)) {
		method = jd_str(&d, &dest, "method", true, false, 64);
		fiat_rail = jd_str(&d, &dest, "fiat_rail", false, true, 64);
		reference = jd_str(&d, &dest, "payment_reference", false, true, DEST_TEXT_MAX);
		jd_ref(&d, &dest, "route_owner_ref", "clients", owner_id);
		jd_uuid(&d, &dest, "withdrawal_destination_id", dest_id);
		if (jd_sub(&d, &dest, "destination", true, false, &typed))
			api_decode_destination(&d, &typed, &dst);
		jd_done(&d, &dest);
	}
	jd_done(&d, &root);

	/* Semantics that need no database. */
	enum currency target = d.e ? CUR_NONE : money_currency(target_currency);
	if (!d.e && (target == CUR_NONE || money_is_stablecoin(target)))
		jd_fail(&d, &root, "target_currency", ERR_UNSUPPORTED_CURRENCY);
	/* target_rail, the outer method and the typed destination's method
	 * must tell one story (400); a consistent crypto request is valid but
	 * not executable yet (422). */
	if (!d.e && strcmp(method, dest_method_name(dst.method)) != 0)
		jd_fail(&d, &dest, "method", ERR_RAIL_MISMATCH);
	if (!d.e && (strcmp(target_rail, "fiat") == 0) != (dst.method == DEST_BANK_TRANSFER))
		jd_fail(&d, &root, "target_rail", ERR_RAIL_MISMATCH);
	if (!d.e && dst.method == DEST_CRYPTO_TRANSFER)
		jd_fail(&d, &root, "target_rail", ERR_UNSUPPORTED_ROUTE);
	if (!d.e && (!fiat_rail || strcmp(fiat_rail, dest_rail_name(dst.rail)) != 0))
		jd_fail(&d, &dest, "fiat_rail", ERR_RAIL_MISMATCH);
	api_validate_destination(&d, &typed, &dst);
	if (!d.e && target != dst.currency)
		jd_fail(&d, &root, "target_currency", ERR_CURRENCY_MISMATCH);
	if (!d.e && reference) {
		enum err e = bank_payment_reference_check(reference);
		if (e)
			jd_fail(&d, &dest, "payment_reference", e);
	}
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	char *canon = api_destination_canonical(&dst);
	if (!canon) {
		api_fail(c, ERR_INTERNAL, NULL);
		return;
	}
	struct svc_session_request q = {
		.account_id = account_id,
		.source = source,
		.amount_minor = amount,
		.target_currency = target,
		.target_rail = target_rail,
		.route_owner_client_id = owner_id,
		.destination_id = dest_id,
		.inline_dest = &dst,
		.inline_canonical = canon,
		.payment_reference = reference ? reference : "",
	};
	struct svc_render r = {render_session, c};
	svc_session_create(c->api->svc, &c->auth, api_idem(c), &q, &r, &c->answer);
	free(canon);
}

API_HANDLER(api_h_session_get)
{
	struct store_session s;
	enum err e = svc_session_get(c->api->svc, &c->auth, c->id, &s);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	api_session_etag(&s, c->etag);
	api_answer_json(api_session_json(&s), 200, &c->answer);
}

static void list_each(void *arg, const struct store_session *s)
{
	json_array_append_new(arg, api_session_json(s));
}

/* Page tokens are opaque to clients: base64url of "s1:<last id>". */
static bool token_decode(const char *tok, char id[UUID_STR_LEN + 1])
{
	uint8_t raw[64];
	size_t n = strlen(tok);
	if (n > 60)
		return false;
	long len = crypto_base64url_decode(tok, n, raw);
	if (len != 3 + UUID_STR_LEN || memcmp(raw, "s1:", 3) != 0)
		return false;
	memcpy(id, raw + 3, UUID_STR_LEN);
	id[UUID_STR_LEN] = '\0';
	if (!uuid_valid(id))
		return false;
	uuid_lower(id);
	return true;
}

static void token_encode(const char *id, char out[64])
{
	char raw[3 + UUID_STR_LEN + 1];
	snprintf(raw, sizeof raw, "s1:%s", id);
	crypto_base64url((const uint8_t *)raw, 39, out);
}

API_HANDLER(api_h_session_list)
{
	const struct api_request *q = c->req;
	int page_size = LIMIT_PAGE_SIZE_DEFAULT;
	const char *status = NULL;
	char account_id[UUID_STR_LEN + 1] = "", before[UUID_STR_LEN + 1] = "";
	bool has_account = false, has_before = false;
	if (q->query_overflow) {
		api_fail(c, ERR_INVALID_QUERY, NULL);
		return;
	}
	for (int i = 0; i < q->nquery; i++) {
		const char *k = q->query[i].key, *v = q->query[i].value;
		char field[80];
		snprintf(field, sizeof field, "?%s", k);
		for (int j = 0; j < i; j++)
			if (strcmp(q->query[j].key, k) == 0) {
				api_fail(c, ERR_INVALID_QUERY, field); /* repeated: which one? */
				return;
			}
		if (strcmp(k, "page_size") == 0) {
			/* 1 to 3 ASCII digits, nothing else: no sign, space, exponent. */
			size_t len = strlen(v);
			bool digits = len >= 1 && len <= 3 && strspn(v, "0123456789") == len;
			int n = digits ? atoi(v) : 0;
			if (n < 1 || n > LIMIT_PAGE_SIZE_MAX) {
				api_fail(c, ERR_INVALID_QUERY, field);
				return;
			}
			page_size = n;
		} else if (strcmp(k, "page_token") == 0) {
			if (!token_decode(v, before)) {
				api_fail(c, ERR_INVALID_PAGE_TOKEN, field);
				return;
			}
			has_before = true;
		} else if (strcmp(k, "status") == 0) {
			enum session_status st;
			if (!session_status_parse(v, &st)) {
				api_fail(c, ERR_INVALID_QUERY, field);
				return;
			}
			status = v;
		} else if (strcmp(k, "account_ref") == 0) {
			const char *pre = "client-accounts/";
			if (strncmp(v, pre, strlen(pre)) != 0 || !uuid_valid(v + strlen(pre))) {
				api_fail(c, ERR_INVALID_QUERY, field);
				return;
			}
			memcpy(account_id, v + strlen(pre), UUID_STR_LEN + 1);
			uuid_lower(account_id);
			has_account = true;
		} else {
			api_fail(c, ERR_INVALID_QUERY, field);
			return;
		}
	}
	json_t *items = json_array();
	bool more = false;
	enum err e = svc_session_list(c->api->svc, &c->auth, status,
				      has_account ? account_id : NULL, has_before ? before : NULL,
				      page_size, list_each, items, &more);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	json_t *next = json_null();
	size_t n = json_array_size(items);
	if (more && n > 0) {
		char tok[64];
		token_encode(json_string_value(json_object_get(json_array_get(items, n - 1), "id")),
			     tok);
		next = json_string(tok);
	}
	api_answer_json(json_pack("{s:o, s:o}", "items", items, "next_page_token", next), 200,
			&c->answer);
}
