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

#include "domain/bank.h"
#include "domain/session.h"

static void render_session(void *ctx, const struct svc_outcome *o, const void *result,
			   struct svc_answer *out)
{
	if (o->err) {
		api_render_outcome(ctx, o, api_field_pointer, out);
		return;
	}
	api_answer_text(api_session_text(result), API_SESSION_CREATED_STATUS, out);
}

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

	/* Semantics that need no database. target_rail, the outer method and
	 * rail, and the typed destination must tell one story. */
	bool crypto = !d.e && dst.method == DEST_CRYPTO_TRANSFER;
	if (!d.e && strcmp(method, dest_method_name(dst.method)) != 0)
		jd_fail(&d, &dest, "method", ERR_RAIL_MISMATCH);
	if (!d.e && (strcmp(target_rail, "crypto") == 0) != crypto)
		jd_fail(&d, &root, "target_rail", ERR_RAIL_MISMATCH);
	if (!d.e && (crypto ? fiat_rail != NULL
			    : !fiat_rail || strcmp(fiat_rail, dest_rail_name(dst.rail)) != 0))
		jd_fail(&d, &dest, "fiat_rail", ERR_RAIL_MISMATCH);
	/* Then the currency target_rail calls for: fiat, or the asset. */
	enum currency target = d.e ? CUR_NONE : money_currency(target_currency);
	if (!d.e && (target == CUR_NONE || money_is_stablecoin(target) != crypto))
		jd_fail(&d, &root, "target_currency", ERR_UNSUPPORTED_CURRENCY);
	api_validate_destination(&d, &typed, &dst);
	if (!d.e && target != dst.currency)
		jd_fail(&d, &root, "target_currency", ERR_CURRENCY_MISMATCH);
	/* A crypto payout sends the asset it debits: no stablecoin swaps. */
	if (!d.e && crypto && source != dst.currency)
		jd_fail(&d, &root, "amount/currency", ERR_CURRENCY_MISMATCH);
	if (!d.e && reference) {
		enum err e = bank_payment_reference_check(reference);
		if (e)
			jd_fail(&d, &dest, "payment_reference", e);
	}
	if (d.e) {
		api_reject(c, d.e, d.field);
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
		.payment_reference = reference ? reference : "",
	};
	struct svc_render r = {render_session, c};
	svc_session_create(c->api->svc, &c->auth, api_idem(c), &q, &r, &c->answer);
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
	api_answer_text(api_session_render(&s, NULL), 200, &c->answer);
}

static void ledger_each(void *arg, const struct store_transfer *t)
{
	json_array_append_new(
		arg, json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o}", "id", t->id, "op", t->op,
			       "kind", t->kind, "pending_id", t->pending_id[0] ? json_string(t->pending_id) : json_null(),
			       "debit_account_id", t->debit_account_id, "credit_account_id",
			       t->credit_account_id, "amount",
			       api_money_json_code(t->currency, t->amount_minor), "created_at",
			       api_time_json(t->created_at, false)));
}

/* GET /off-ramp-sessions/{id}/ledger: the session's ledger transfers, for
 * the dashboard (docs/DASHBOARD.md). */
API_HANDLER(api_h_session_ledger)
{
	json_t *items = json_array();
	enum err e = svc_session_transfers(c->api->svc, &c->auth, c->id, ledger_each, items);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_json(json_pack("{s:o}", "items", items), 200, &c->answer);
}

static void list_each(void *arg, const struct store_session *s)
{
	json_array_append_new(arg, api_session_json(s));
}

API_HANDLER(api_h_session_list)
{
	static const char *const allowed[] = {"page_size", "page_token", "status", "account_ref",
					      NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *ps = api_query(c, "page_size"), *tok = api_query(c, "page_token"),
		   *status = api_query(c, "status"), *acct = api_query(c, "account_ref");
	int page_size = ps ? api_page_size(ps) : LIMIT_PAGE_SIZE_DEFAULT;
	if (!page_size) {
		api_fail(c, ERR_INVALID_QUERY, "?page_size");
		return;
	}
	char before[UUID_STR_LEN + 1] = "", account_id[UUID_STR_LEN + 1] = "";
	if (tok && (!api_token_read(tok, "s1", before, sizeof before) || !uuid_valid(before))) {
		api_fail(c, ERR_INVALID_PAGE_TOKEN, "?page_token");
		return;
	}
	uuid_lower(before);
	enum session_status st;
	if (status && !session_status_parse(status, &st)) {
		api_fail(c, ERR_INVALID_QUERY, "?status");
		return;
	}
	const char *pre = "client-accounts/";
	if (acct) {
		if (strncmp(acct, pre, strlen(pre)) != 0 || !uuid_valid(acct + strlen(pre))) {
			api_fail(c, ERR_INVALID_QUERY, "?account_ref");
			return;
		}
		memcpy(account_id, acct + strlen(pre), UUID_STR_LEN + 1);
		uuid_lower(account_id);
	}
	json_t *items = json_array();
	bool more = false;
	struct svc_session_query sq = {.status = status, .account_id = acct ? account_id : NULL,
				       .before_id = tok ? before : NULL, .limit = page_size};
	enum err e = svc_session_list(c->api->svc, &c->auth, &sq, list_each, items, &more);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_page(c, items, more, "s1", "id");
}
