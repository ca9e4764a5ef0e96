/*
 * api_destinations.c - POST/GET /withdrawal-destinations, and the typed
 * destination decoder shared with POST /off-ramp-sessions (whose inline
 * copy must equal the saved one, compared in canonical form).
 *
 * The request may nest the typed destination under "destination" (as the
 * session body does) or give its fields at the top level beside
 * "account_ref"; both are accepted and saved alike.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/destination.h"

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void api_decode_destination(struct jd *d, struct jd_obj *o, struct destination *out)
{
	memset(out, 0, sizeof *out);
	static const char *const methods[] = {"bank_transfer", "crypto_transfer", NULL};
	const char *method = jd_enum(d, o, "method", true, methods);
	if (!method)
		return;
	out->method = dest_method_parse(method);
	if (out->method == DEST_CRYPTO_TRANSFER) {
		/* Crypto payouts arrive with the other rails; the caller
		 * refuses the route (422) or the mismatch (400). */
		return;
	}
	const char *rail = jd_str(d, o, "fiat_rail", true, false, 64);
	const char *cur = jd_str(d, o, "currency", true, false, 8);
	const char *name = jd_str(d, o, "beneficiary_name", true, false, LIMIT_NAME_BYTES);
	const char *hint = jd_str(d, o, "reference_hint", false, true, DEST_TEXT_MAX);
	struct jd_obj bc;
	if (jd_sub(d, o, "bank_coordinates", true, false, &bc)) {
		copy(out->bank.account_holder_name, sizeof out->bank.account_holder_name,
		     jd_str(d, &bc, "account_holder_name", false, true, LIMIT_NAME_BYTES));
		copy(out->bank.bank_name, sizeof out->bank.bank_name,
		     jd_str(d, &bc, "bank_name", false, true, LIMIT_NAME_BYTES));
		copy(out->bank.bic, sizeof out->bank.bic,
		     jd_str(d, &bc, "bic", false, true, 64));
		copy(out->bank.country, sizeof out->bank.country,
		     jd_str(d, &bc, "country", true, false, 64));
		copy(out->bank.iban, sizeof out->bank.iban,
		     jd_str(d, &bc, "iban", true, false, 64));
		copy(out->bank.scheme, sizeof out->bank.scheme,
		     jd_str(d, &bc, "scheme", true, false, 64));
		/* Strings longer than their buffers were cut by copy(); make
		 * that a validation failure, never a silent truncation. */
		if (!d->e) {
			const char *bic = json_string_value(json_object_get(bc.obj, "bic"));
			const char *iban = json_string_value(json_object_get(bc.obj, "iban"));
			const char *cc = json_string_value(json_object_get(bc.obj, "country"));
			const char *scheme = json_string_value(json_object_get(bc.obj, "scheme"));
			if (bic && strlen(bic) > BANK_BIC_MAX)
				jd_fail(d, &bc, "bic", ERR_INVALID_BIC);
			else if (iban && strlen(iban) > 2 * BANK_IBAN_MAX)
				jd_fail(d, &bc, "iban", ERR_INVALID_IBAN);
			else if (cc && strlen(cc) != 2)
				jd_fail(d, &bc, "country", ERR_INVALID_COUNTRY);
			else if (scheme && strlen(scheme) >= sizeof out->bank.scheme)
				jd_fail(d, &bc, "scheme", ERR_INVALID_VALUE);
		}
		jd_done(d, &bc);
	}
	jd_done(d, o);
	if (d->e)
		return;
	out->rail = dest_rail_parse(rail);
	if (out->rail == RAIL_NONE) {
		/* A rail the contract names but this build does not serve is
		 * valid input and not executable (422); any other name is
		 * invalid input (400). */
		static const char *const named[] = {
			"sepa_instant", "ach", "wire", "faster_payments", "pix", "spei", "swift", NULL};
		enum err e = ERR_INVALID_VALUE;
		for (const char *const *n = named; *n; n++)
			if (strcmp(*n, rail) == 0)
				e = ERR_UNSUPPORTED_ROUTE;
		jd_fail(d, o, "fiat_rail", e);
		return;
	}
	out->currency = money_currency(cur);
	if (out->currency == CUR_NONE || money_is_stablecoin(out->currency)) {
		jd_fail(d, o, "currency", ERR_UNSUPPORTED_CURRENCY);
		return;
	}
	copy(out->bank.beneficiary_name, sizeof out->bank.beneficiary_name, name);
	out->bank.has_reference_hint = hint != NULL;
	copy(out->bank.reference_hint, sizeof out->bank.reference_hint, hint);
}

void api_validate_destination(struct jd *d, const struct jd_obj *o, struct destination *dst)
{
	if (d->e)
		return;
	const char *field = NULL;
	enum err e = destination_validate(dst, &field);
	if (e)
		jd_fail(d, o, field, e);
}

static json_t *opt(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

char *api_destination_canonical(const struct destination *dst)
{
	const struct dest_bank *b = &dst->bank;
	json_t *o = json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:{s:o, s:o, s:o, s:s, s:s, s:s}}", "method",
		dest_method_name(dst->method), "fiat_rail", dest_rail_name(dst->rail), "currency",
		money_currency_code(dst->currency), "beneficiary_name", b->beneficiary_name,
		"reference_hint", b->has_reference_hint ? json_string(b->reference_hint) : json_null(),
		"bank_coordinates", "account_holder_name", opt(b->account_holder_name), "bank_name",
		opt(b->bank_name), "bic", opt(b->bic), "country", b->country, "iban", b->iban,
		"scheme", b->scheme);
	char *s = json_in_canonical(o);
	json_decref(o);
	return s;
}

API_RENDERER(render_destination, api_destination_json, struct store_destination, 201)

API_HANDLER(api_h_destination_create)
{
	if (!c->has_idem) {
		api_fail(c, ERR_IDEMPOTENCY_KEY_REQUIRED, NULL);
		return;
	}
	struct jd d = {0};
	struct jd_obj root, inner;
	jd_init(&root, c->body, "");
	char account_id[UUID_STR_LEN + 1] = "";
	jd_ref(&d, &root, "account_ref", "client-accounts", account_id);
	struct destination dst;
	struct jd_obj *typed = &root;
	if (json_object_get(c->body, "destination")) {
		if (jd_sub(&d, &root, "destination", true, false, &inner))
			typed = &inner;
		jd_done(&d, &root);
	}
	if (!d.e)
		api_decode_destination(&d, typed, &dst);
	if (!d.e && dst.method == DEST_CRYPTO_TRANSFER)
		jd_fail(&d, typed, "method", ERR_UNSUPPORTED_ROUTE);
	api_validate_destination(&d, typed, &dst);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	char *canon = api_destination_canonical(&dst);
	if (!canon) {
		api_fail(c, ERR_INTERNAL, NULL);
		return;
	}
	struct svc_render r = {render_destination, c};
	svc_destination_create(c->api->svc, &c->auth, api_idem(c), account_id, &dst, canon, &r,
			       &c->answer);
	free(canon);
}

API_HANDLER(api_h_destination_get)
{
	struct store_destination dst = {0};
	enum err e = svc_destination_get(c->api->svc, &c->auth, c->id, &dst);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(api_destination_json(&dst), 200, &c->answer);
	store_destination_clear(&dst);
}
