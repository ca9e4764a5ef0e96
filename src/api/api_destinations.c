/*
 * api_destinations.c - POST/GET /withdrawal-destinations, and the typed
 * destination decoder shared with POST /off-ramp-sessions (whose inline
 * copy must equal the saved one: the service reads the saved text back
 * with api_destination_read and compares the structs, destination_equal).
 *
 * The request may nest the typed destination under "destination" (as the
 * session body does) or give its fields at the top level beside
 * "account_ref"; both are accepted and saved alike.
 *
 * Bank coordinates by scheme (the rail decides which): iban {iban, bic?},
 * swift {bic, iban | account_number}, aba {routing_number, account_number,
 * account_type}, sort_code {sort_code, account_number}, pix {pix_key_type,
 * pix_key}, clabe {clabe}; each also takes country, account_holder_name and
 * bank_name. Crypto: {method, asset, network, destination {address, memo},
 * label}.
 */
#include "api/api_internal.h"
#include "api/json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/destination.h"

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* Optional nullable string field copied into dst; an over-long value is
 * a field error, never a silent cut. */
static void field(struct jd *d, struct jd_obj *o, const char *key, bool required, char *dst,
		  size_t size, size_t max_bytes, enum err too_long)
{
	const char *v = jd_str(d, o, key, required, !required, max_bytes);
	if (d->e || !v)
		return;
	if (strlen(v) >= size) {
		jd_fail(d, o, key, too_long);
		return;
	}
	copy(dst, size, v);
}

static void decode_bank_coordinates(struct jd *d, struct jd_obj *bc, struct dest_bank *b)
{
	static const char *const schemes[] = {"iban", "aba", "sort_code", "pix", "clabe", "swift",
					      NULL};
	const char *scheme = jd_enum(d, bc, "scheme", true, schemes);
	if (!scheme)
		return;
	copy(b->scheme, sizeof b->scheme, scheme);
	field(d, bc, "account_holder_name", false, b->account_holder_name,
	      sizeof b->account_holder_name, LIMIT_NAME_BYTES, ERR_STRING_TOO_LONG);
	field(d, bc, "bank_name", false, b->bank_name, sizeof b->bank_name, LIMIT_NAME_BYTES,
	      ERR_STRING_TOO_LONG);
	bool iban_scheme = strcmp(scheme, "iban") == 0, swift = strcmp(scheme, "swift") == 0;
	field(d, bc, "country", iban_scheme, b->country, sizeof b->country, 64,
	      ERR_INVALID_COUNTRY);
	if (iban_scheme || swift) {
		field(d, bc, "iban", iban_scheme, b->iban, sizeof b->iban, 2 * BANK_IBAN_MAX,
		      ERR_INVALID_IBAN);
		field(d, bc, "bic", swift, b->bic, sizeof b->bic, 64, ERR_INVALID_BIC);
	}
	if (swift || strcmp(scheme, "aba") == 0 || strcmp(scheme, "sort_code") == 0)
		field(d, bc, "account_number", !swift, b->account_number, sizeof b->account_number,
		      64, ERR_INVALID_ACCOUNT_NUMBER);
	if (strcmp(scheme, "aba") == 0) {
		field(d, bc, "routing_number", true, b->routing_number, sizeof b->routing_number, 64,
		      ERR_INVALID_ROUTING_NUMBER);
		field(d, bc, "account_type", true, b->account_type, sizeof b->account_type, 64,
		      ERR_INVALID_ACCOUNT_TYPE);
	} else if (strcmp(scheme, "sort_code") == 0) {
		field(d, bc, "sort_code", true, b->sort_code, sizeof b->sort_code, 64,
		      ERR_INVALID_SORT_CODE);
	} else if (strcmp(scheme, "pix") == 0) {
		field(d, bc, "pix_key_type", true, b->pix_key_type, sizeof b->pix_key_type, 64,
		      ERR_INVALID_VALUE);
		field(d, bc, "pix_key", true, b->pix_key, sizeof b->pix_key, 256,
		      ERR_INVALID_PIX_KEY);
	} else if (strcmp(scheme, "clabe") == 0) {
		field(d, bc, "clabe", true, b->clabe, sizeof b->clabe, 64, ERR_INVALID_CLABE);
	}
	jd_done(d, bc);
}

static void decode_crypto(struct jd *d, struct jd_obj *o, struct destination *out)
{
	const char *asset = jd_str(d, o, "asset", true, false, 8);
	const char *network = jd_str(d, o, "network", true, false, 32);
	struct jd_obj inner;
	if (jd_sub(d, o, "destination", true, false, &inner)) {
		field(d, &inner, "address", true, out->crypto.address, sizeof out->crypto.address,
		      128, ERR_INVALID_ADDRESS);
		const char *memo = jd_str(d, &inner, "memo", false, true, LIMIT_NAME_BYTES);
		out->crypto.has_memo = memo != NULL;
		copy(out->crypto.memo, sizeof out->crypto.memo, memo);
		jd_done(d, &inner);
	}
	const char *label = jd_str(d, o, "label", false, true, LIMIT_NAME_BYTES);
	out->crypto.has_label = label != NULL;
	copy(out->crypto.label, sizeof out->crypto.label, label);
	jd_done(d, o);
	if (d->e)
		return;
	out->currency = money_currency(asset);
	if (!money_is_stablecoin(out->currency)) {
		jd_fail(d, o, "asset", ERR_UNSUPPORTED_CURRENCY);
		return;
	}
	out->crypto.network = dest_network_parse(network);
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
		decode_crypto(d, o, out);
		return;
	}
	const char *rail = jd_str(d, o, "fiat_rail", true, false, 64);
	const char *cur = jd_str(d, o, "currency", true, false, 8);
	const char *name = jd_str(d, o, "beneficiary_name", true, false, LIMIT_NAME_BYTES);
	const char *hint = jd_str(d, o, "reference_hint", false, true, DEST_TEXT_MAX);
	struct jd_obj bc;
	if (jd_sub(d, o, "bank_coordinates", true, false, &bc))
		decode_bank_coordinates(d, &bc, &out->bank);
	jd_done(d, o);
	if (d->e)
		return;
	out->rail = dest_rail_parse(rail);
	if (out->rail == RAIL_NONE) {
		jd_fail(d, o, "fiat_rail", ERR_INVALID_VALUE);
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
	const char *where = NULL;
	enum err e = destination_validate(dst, &where);
	if (e)
		jd_fail(d, o, where, e);
}

/* The members a destination's canonical text has, by scheme; "" is JSON
 * null where a field is optional. */
#define DEST_MEMBERS_MAX 12

static void member(struct json_out_member *m, size_t *n, const char *key, const char *str)
{
	m[(*n)++] = (struct json_out_member){key, str, NULL};
}

static void member_opt(struct json_out_member *m, size_t *n, const char *key, const char *str)
{
	member(m, n, key, str && *str ? str : NULL);
}

/* bank_coordinates, as text (malloc'd), or NULL. */
static char *bank_coordinates(const struct destination *dst)
{
	const struct dest_bank *b = &dst->bank;
	struct json_out_member m[DEST_MEMBERS_MAX];
	size_t n = 0;
	member(m, &n, "scheme", b->scheme);
	member_opt(m, &n, "account_holder_name", b->account_holder_name);
	member_opt(m, &n, "bank_name", b->bank_name);
	member(m, &n, "country", b->country);
	switch (dest_rail_scheme(dst->rail)) {
	case SCHEME_IBAN:
		member_opt(m, &n, "bic", b->bic);
		member(m, &n, "iban", b->iban);
		break;
	case SCHEME_SWIFT:
		member(m, &n, "bic", b->bic);
		member_opt(m, &n, "iban", b->iban);
		member_opt(m, &n, "account_number", b->account_number);
		break;
	case SCHEME_ABA:
		member(m, &n, "routing_number", b->routing_number);
		member(m, &n, "account_number", b->account_number);
		member(m, &n, "account_type", b->account_type);
		break;
	case SCHEME_SORT_CODE:
		member(m, &n, "sort_code", b->sort_code);
		member(m, &n, "account_number", b->account_number);
		break;
	case SCHEME_PIX:
		member(m, &n, "pix_key_type", b->pix_key_type);
		member(m, &n, "pix_key", b->pix_key);
		break;
	case SCHEME_CLABE:
		member(m, &n, "clabe", b->clabe);
		break;
	default:
		break;
	}
	struct json_out o;
	json_out_init(&o);
	json_out_object(&o, m, n);
	return json_out_take(&o, NULL);
}

/*
 * The canonical text of a typed destination: what is saved with it and
 * what a session's inline copy must equal byte for byte. Compact, keys
 * sorted: the text json_in_canonical() gives the same object (written
 * straight, json_out.h, as it is built for every create).
 */
char *api_destination_canonical(const struct destination *dst)
{
	struct json_out_member m[DEST_MEMBERS_MAX];
	size_t n = 0;
	char *bc = NULL;
	member(m, &n, "method", dest_method_name(dst->method));
	if (dst->method == DEST_CRYPTO_TRANSFER) {
		const struct dest_crypto *c = &dst->crypto;
		member(m, &n, "asset", money_currency_code(dst->currency));
		member(m, &n, "network", dest_network_name(c->network));
		member(m, &n, "label", c->has_label ? c->label : NULL);
		struct json_out_member d[2] = {{"address", c->address, NULL},
					       {"memo", c->has_memo ? c->memo : NULL, NULL}};
		struct json_out inner;
		json_out_init(&inner);
		json_out_object(&inner, d, 2);
		bc = json_out_take(&inner, NULL);
		m[n++] = (struct json_out_member){"destination", NULL, bc};
	} else {
		const struct dest_bank *b = &dst->bank;
		member(m, &n, "fiat_rail", dest_rail_name(dst->rail));
		member(m, &n, "currency", money_currency_code(dst->currency));
		member(m, &n, "beneficiary_name", b->beneficiary_name);
		member(m, &n, "reference_hint", b->has_reference_hint ? b->reference_hint : NULL);
		bc = bank_coordinates(dst);
		m[n++] = (struct json_out_member){"bank_coordinates", NULL, bc};
	}
	if (!bc)
		return NULL;
	struct json_out o;
	json_out_init(&o);
	json_out_object(&o, m, n);
	free(bc);
	return json_out_take(&o, NULL);
}

bool api_destination_read(const char *body, struct destination *out)
{
	enum err e = ERR_OK;
	json_t *v = body ? json_in_parse(body, strlen(body), &e) : NULL;
	if (!v)
		return false;
	struct jd d = {0};
	struct jd_obj o;
	jd_init(&o, v, "");
	api_decode_destination(&d, &o, out);
	api_validate_destination(&d, &o, out);
	json_decref(v);
	return d.e == ERR_OK;
}

const char *api_destination_field_pointer(enum svc_field f)
{
	return f == SVC_FIELD_DESTINATION_COUNTRY ? "/destination/bank_coordinates/country"
						  : api_field_pointer(f);
}

API_RENDERER_MAP(render_destination, api_destination_field_pointer, api_destination_json,
		 struct store_destination, 201)

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
	svc_destination_create(c->api->svc, &c->auth, api_idem(c), account_id, &dst, canon, NULL,
			       &r, &c->answer);
	free(canon);
}

/* A saved destination read back: its account identifiers masked. */
static json_t *masked(json_t *v)
{
	if (v)
		api_mask_bank_numbers(v);
	return v;
}

API_HANDLER(api_h_destination_get)
{
	struct store_destination dst = {0};
	enum err e = svc_destination_get(c->api->svc, &c->auth, c->id, &dst);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(masked(api_destination_json(&dst)), 200, &c->answer);
	store_destination_clear(&dst);
}
