/*
 * api_lumx.c - the Lumx-compatible surface (CONTRACT §6), on the same
 * engine, tenants and keys as the sessions API.
 *
 *   customer     = a client (and its default account: accountRef)
 *   destination  = a saved withdrawal destination (bank transfer)
 *   transaction  = an off-ramp session
 *
 * What Lumx carries beyond the engine's model (a customer's KYC fields, a
 * destination's name, identifier and holder, a transaction's request,
 * purpose and metadata) is kept as the resource's "lumx" extension
 * document, written in the same transaction as the resource. Resources
 * made through the sessions API are shown here too, with what can be
 * derived from them.
 *
 * Differences from the sessions API, as Lumx clients expect: camelCase
 * fields, POST /transactions/off-ramp answers 202, Idempotency-Key must be
 * a UUID, lists are {data, nextCursor, previousCursor} with `size`.
 * Errors keep the one envelope of both surfaces.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "domain/bank.h"
#include "domain/fx.h"
#include "domain/ident.h"
#include "domain/session.h"

/* ---- names ------------------------------------------------------------- */

static const struct {
	const char *lumx;
	enum dest_rail rail;
} lumx_rails[] = {
	{"SEPA", RAIL_SEPA_CREDIT_TRANSFER}, {"SEPA_INSTANT", RAIL_SEPA_INSTANT},
	{"ACH", RAIL_ACH},                   {"WIRE", RAIL_WIRE},
	{"FASTER_PAYMENTS", RAIL_FASTER_PAYMENTS}, {"PIX", RAIL_PIX},
	{"SPEI", RAIL_SPEI},                 {"SWIFT", RAIL_SWIFT},
};

static enum dest_rail rail_from_lumx(const char *name)
{
	for (size_t i = 0; i < sizeof lumx_rails / sizeof *lumx_rails; i++)
		if (strcmp(lumx_rails[i].lumx, name) == 0)
			return lumx_rails[i].rail;
	return RAIL_NONE;
}

static const char *rail_to_lumx(const char *fiat_rail)
{
	enum dest_rail r = dest_rail_parse(fiat_rail);
	for (size_t i = 0; i < sizeof lumx_rails / sizeof *lumx_rails; i++)
		if (lumx_rails[i].rail == r)
			return lumx_rails[i].lumx;
	return "CRYPTO";
}

static bool alpha3(const char *s)
{
	return s && strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
	       s[2] >= 'A' && s[2] <= 'Z';
}

/* YYYY-MM-DD with plausible ranges (no calendar arithmetic needed). */
static bool iso_date(const char *s)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
	return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static json_t *time_iso(int64_t unix_s)
{
	return api_time_json(unix_s, false);
}

/* The extension document of a resource, parsed with its numbers' text
 * (json_exact.h); NULL when none. */
static json_t *ext_of(struct api_call *c, const char *id)
{
	char *text = NULL;
	if (svc_ext_get(c->api->svc, &c->auth, id, &text) != ERR_OK)
		return NULL;
	json_t *v = json_exact_parse(text, strlen(text));
	free(text);
	return v;
}

/* The request body as sent, numbers as written: what this surface keeps
 * of a client's document (metadata above all). */
static json_t *body_exact(const struct api_call *c)
{
	if (!c->req->body)
		return json_object();
	return json_exact_parse(c->req->body, c->req->body_len);
}

/* Answer obj (stolen): documents that may hold a client's numbers are
 * written with their text (api_answer_json would show the mark). */
static void answer_exact(json_t *obj, int status, struct svc_answer *out)
{
	svc_answer_clear(out);
	if (!obj)
		return;
	out->body = json_exact_dumps(obj);
	json_decref(obj);
	if (out->body) {
		out->len = strlen(out->body);
		out->status = status;
	}
}

/* ---- customers ------------------------------------------------------------ */

/* An amount of stablecoin units, or null for "no limit". */
static json_t *limit_json(int64_t minor)
{
	char v[MONEY_STR_MAX];
	return minor != SVC_LIMIT_NONE ? json_string(money_format(minor, CUR_USDC, v)) : json_null();
}

static json_t *remaining_json(int64_t max, int64_t used)
{
	return limit_json(max == SVC_LIMIT_NONE ? max : max > used ? max - used : 0);
}

/* Offramp's view of the limits (beyond Lumx's): with what is used. */
static json_t *limits_json(const struct svc_limits *l)
{
	char u[MONEY_STR_MAX], m[MONEY_STR_MAX];
	return json_pack("{s:o, s:o, s:o, s:s, s:o, s:s, s:o}", "perTransaction",
			 limit_json(l->per_transaction_minor), "daily", limit_json(l->daily_minor),
			 "monthly", limit_json(l->monthly_minor), "usedToday",
			 money_format(l->used_today_minor, CUR_USDC, u), "remainingToday",
			 remaining_json(l->daily_minor, l->used_today_minor), "usedThisMonth",
			 money_format(l->used_month_minor, CUR_USDC, m), "remainingThisMonth",
			 remaining_json(l->monthly_minor, l->used_month_minor));
}

/* What a customer still has to send, by verification (Lumx's document
 * names; sandbox customers are never asked for more). */
static json_t *requirements_json(enum svc_verification v, bool business)
{
	static const char *const individual[] = {
		"ID_CARD", "PASSPORT", "DRIVERS_LICENSE", "BANK_STATEMENT", "INCOME_TAX_RETURN",
		"DELIVERY_RECEIPT", "SELFIE", "ADDITIONAL_INFORMATION", "TERMS_OF_SERVICE", NULL};
	static const char *const company[] = {
		"INCORPORATION_ARTICLES", "SHAREHOLDER_REGISTRY", "DIRECTORS_REGISTRY", "PROOF_OF_ADDRESS",
		"ADDITIONAL_INFORMATION", "TERMS_OF_SERVICE", NULL};
	static const char *const more[] = {"ADDITIONAL_INFORMATION", NULL};
	const char *const *names = v == SVC_VERIFICATION_NOT_STARTED ? (business ? company : individual)
				   : v == SVC_VERIFICATION_RFI	   ? more
								   : NULL;
	json_t *list = json_array();
	for (int i = 0; names && names[i]; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "name", names[i], "status", "NOT_SENT"));
	return list;
}

/*
 * The customer in Lumx's shape: the fields as given, verification {status,
 * level, link}, requirements, transactionLimits {single, daily, monthly},
 * metadata; plus Offramp's own: status (the verification's), accountRef
 * and limits.
 */
static json_t *customer_json(const struct store_client *cl, json_t *ext,
			     const struct svc_limits *lim, enum svc_verification ver)
{
	json_t *o = ext ? json_deep_copy(ext) : json_pack("{s:s, s:s}", "type", "BUSINESS",
							    "legalName", cl->display_name);
	const char *type = json_string_value(json_object_get(o, "type"));
	json_t *meta = json_object_get(o, "metadata");
	if (!json_is_object(meta))
		json_object_set_new(o, "metadata", json_object());
	json_object_set_new(o, "id", json_string(cl->id));
	json_object_set_new(o, "status", json_string(svc_verification_name(ver)));
	json_object_set_new(o, "verification",
			    json_pack("{s:s, s:s, s:n}", "status", svc_verification_name(ver), "level",
				      "STANDARD", "link"));
	json_object_set_new(o, "requirements",
			    requirements_json(ver, !type || strcmp(type, "BUSINESS") == 0));
	json_object_set_new(o, "transactionLimits",
			    json_pack("{s:o, s:o, s:o}", "single", limit_json(lim->per_transaction_minor),
				      "daily", limit_json(lim->daily_minor), "monthly",
				      limit_json(lim->monthly_minor)));
	json_object_set_new(o, "accountRef", api_ref_json("client-accounts", cl->default_account_id));
	json_object_set_new(o, "createdAt", time_iso(cl->created_at));
	json_object_set_new(o, "updatedAt", time_iso(cl->created_at));
	json_object_set_new(o, "limits", limits_json(lim));
	return o;
}

struct customer_ctx {
	struct api_call *c;
	json_t *ext;
	enum svc_verification verification;
};

static void render_customer(void *ctx, const struct svc_outcome *o, const void *result,
			    struct svc_answer *out)
{
	struct customer_ctx *x = ctx;
	if (o->err) /* a customer's creation blames no field */
		api_render_outcome(x->c, o, NULL, out);
	else {
		/* A new customer: the defaults, nothing used yet. */
		struct svc_limits lim = {SVC_LIMIT_PER_TX_DEFAULT, SVC_LIMIT_DAILY_DEFAULT,
					 SVC_LIMIT_MONTHLY_DEFAULT, 0, 0};
		answer_exact(customer_json(result, x->ext, &lim, x->verification), 201, out);
	}
}

API_HANDLER(api_h_lumx_customer_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	static const char *const types[] = {"INDIVIDUAL", "BUSINESS", NULL};
	const char *type = jd_enum(&d, &root, "type", true, types);
	bool business = type && strcmp(type, "BUSINESS") == 0;
	const char *name = jd_str(&d, &root, "name", false, true, LIMIT_NAME_BYTES);
	const char *legal = jd_str(&d, &root, "legalName", false, true, LIMIT_NAME_BYTES);
	const char *country = jd_str(&d, &root, "country", true, false, 8);
	const char *email = jd_str(&d, &root, "email", true, false, LIMIT_NAME_BYTES);
	const char *tax_id = jd_str(&d, &root, "taxId", true, false, 64);
	const char *birth = jd_str(&d, &root, "birthDate", false, true, 16);
	const char *inc = jd_str(&d, &root, "incorporationDate", false, true, 16);
	struct jd_obj meta;
	jd_sub(&d, &root, "metadata", false, true, &meta); /* any JSON object, kept as sent */
	jd_done(&d, &root);
	const char *display = business ? legal : name;
	if (!d.e && !display)
		jd_fail(&d, &root, business ? "legalName" : "name", ERR_MISSING_FIELD);
	if (!d.e && !alpha3(country))
		jd_fail(&d, &root, "country", ERR_INVALID_COUNTRY);
	char norm[IDENT_MAX];
	if (!d.e && ident_pix_key(PIX_EMAIL, email, norm) != ERR_OK)
		jd_fail(&d, &root, "email", ERR_INVALID_VALUE);
	if (!d.e && birth && !iso_date(birth))
		jd_fail(&d, &root, "birthDate", ERR_INVALID_VALUE);
	if (!d.e && inc && !iso_date(inc))
		jd_fail(&d, &root, "incorporationDate", ERR_INVALID_VALUE);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	/* Kept as given (the customer's own record), bar the e-mail's case. */
	json_t *ext = body_exact(c);
	if (ext)
		json_object_set_new(ext, "email", json_string(norm));
	char *text = json_exact_dumps(ext);
	struct customer_ctx x = {c, ext, svc_verification_sandbox(tax_id)};
	struct svc_customer cust = {text, x.verification};
	struct svc_render r = {render_customer, &x};
	if (text)
		svc_client_create(c->api->svc, &c->auth, api_idem(c), display, &cust, &r, &c->answer);
	else
		api_fail(c, ERR_INTERNAL, NULL);
	free(text);
	json_decref(ext);
}

API_HANDLER(api_h_lumx_customer_get)
{
	struct store_client cl;
	enum err e = svc_client_get(c->api->svc, &c->auth, c->id, &cl);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	struct svc_limits lim;
	enum svc_verification ver;
	if ((e = svc_limits_get(c->api->svc, &c->auth, cl.id, &lim)) != ERR_OK ||
	    (e = svc_verification_get(c->api->svc, &c->auth, cl.id, &ver)) != ERR_OK) {
		api_fail(c, e, NULL);
		return;
	}
	json_t *ext = ext_of(c, cl.id);
	answer_exact(customer_json(&cl, ext, &lim, ver), 200, &c->answer);
	json_decref(ext);
}

/* A limit as a positive stablecoin amount ("500.00"). */
static bool limit_value(struct jd *d, struct jd_obj *o, const char *key, int64_t *out)
{
	*out = -1;
	const char *v = jd_amount(d, o, key, false, true);
	if (d->e || !v)
		return !d->e;
	enum err e = money_parse(v, strlen(v), CUR_USDC, out);
	if (e)
		jd_fail(d, o, key, e);
	return !e;
}

API_HANDLER(api_h_lumx_customer_limits)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	int64_t per_tx, daily, monthly;
	limit_value(&d, &root, "perTransaction", &per_tx);
	limit_value(&d, &root, "daily", &daily);
	limit_value(&d, &root, "monthly", &monthly);
	jd_done(&d, &root);
	if (d.e) {
		api_fail(c, d.e, d.field);
		return;
	}
	enum err e = svc_limits_set(c->api->svc, &c->auth, c->id, per_tx, daily, monthly);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	api_h_lumx_customer_get(c);
}

/* ---- exchange rates and partner fees ---------------------------------------- */

static json_t *exchange_rate_json(const struct store_exchange_rate *r)
{
	char rate[FX_STR_MAX];
	fx_rate_format(&(struct fx_rate){r->value, r->scale}, rate);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", r->id, "type", r->type,
			 "sourceCurrency", r->source, "targetCurrency", r->target, "rate", rate,
			 "timeLock", r->time_lock[0] ? json_string(r->time_lock) : json_null(),
			 "expiresAt", api_time_json(r->expires_at, true), "createdAt",
			 time_iso(r->created_at));
}

static json_t *partner_fee_json(const struct store_partner_fee *f)
{
	char flat[MONEY_STR_MAX];
	return json_pack("{s:s, s:s, s:i, s:s, s:b, s:o}", "id", f->id, "name", f->name,
			 "basisPoints", f->bps, "flatAmount", money_format(f->flat_minor, CUR_USDC, flat),
			 "default", f->is_default, "createdAt", time_iso(f->created_at));
}

const char *api_lumx_rate_field_pointer(enum svc_field f)
{
	return f == SVC_FIELD_TARGET_CURRENCY ? "/targetCurrency" : NULL;
}

API_RENDERER_MAP(render_exchange_rate, api_lumx_rate_field_pointer, exchange_rate_json,
		 struct store_exchange_rate, 201)
/* A partner fee's creation blames no field. */
API_RENDERER_MAP(render_partner_fee, NULL, partner_fee_json, struct store_partner_fee, 201)

API_HANDLER(api_h_lumx_exchange_rate_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	static const char *const sources[] = {"USDC", "USDT", NULL};
	static const char *const types[] = {"FLOATING", "LOCKED", NULL};
	static const char *const locks[] = {"30s", "1m", "5m", NULL};
	const char *src = jd_enum(&d, &root, "sourceCurrency", true, sources);
	const char *dst = jd_str(&d, &root, "targetCurrency", true, false, 8);
	const char *type = jd_enum(&d, &root, "type", true, types);
	bool has_lock = json_object_get(c->body, "timeLock") &&
			!json_is_null(json_object_get(c->body, "timeLock"));
	const char *lock = has_lock ? jd_enum(&d, &root, "timeLock", false, locks)
				    : jd_str(&d, &root, "timeLock", false, true, 8);
	jd_done(&d, &root);
	bool locked = type && strcmp(type, "LOCKED") == 0;
	enum currency target = dst ? money_currency(dst) : CUR_NONE;
	if (!d.e && (target == CUR_NONE || money_is_stablecoin(target)))
		jd_fail(&d, &root, "targetCurrency", ERR_UNSUPPORTED_CURRENCY);
	if (!d.e && locked != (lock != NULL))
		jd_fail(&d, &root, "timeLock", locked ? ERR_MISSING_FIELD : ERR_INVALID_VALUE);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	int64_t secs = !lock ? 0 : strcmp(lock, "30s") == 0 ? 30 : strcmp(lock, "1m") == 0 ? 60 : 300;
	struct svc_render r = {render_exchange_rate, c};
	svc_exchange_rate_create(c->api->svc, &c->auth, api_idem(c), money_currency(src), target,
				 locked, lock ? lock : "", secs, &r, &c->answer);
}

API_HANDLER(api_h_lumx_partner_fee_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	const char *name = jd_str(&d, &root, "name", true, false, LIMIT_NAME_BYTES);
	json_t *bps = json_object_get(c->body, "basisPoints");
	const char *flat = jd_amount(&d, &root, "flatAmount", false, true);
	json_t *dflt = json_object_get(c->body, "default");
	jd_seen(&root, "basisPoints"); /* a number and a boolean: checked below */
	jd_seen(&root, "default");
	jd_done(&d, &root);
	if (!d.e && !bps)
		jd_fail(&d, &root, "basisPoints", ERR_MISSING_FIELD);
	if (!d.e && !json_is_integer(bps))
		jd_fail(&d, &root, "basisPoints", ERR_INVALID_TYPE);
	if (!d.e && (json_integer_value(bps) < 0 || json_integer_value(bps) > 10000))
		jd_fail(&d, &root, "basisPoints", ERR_INVALID_VALUE);
	if (!d.e && dflt && !json_is_boolean(dflt))
		jd_fail(&d, &root, "default", ERR_INVALID_TYPE);
	/* A percentage-only partner fee has a flat amount of zero. */
	int64_t flat_minor = 0;
	if (!d.e && flat) {
		enum err e = money_parse(flat, strlen(flat), CUR_USDC, &flat_minor);
		if (e == ERR_AMOUNT_NOT_POSITIVE)
			flat_minor = 0;
		else if (e)
			jd_fail(&d, &root, "flatAmount", e);
	}
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct svc_render r = {render_partner_fee, c};
	svc_partner_fee_create(c->api->svc, &c->auth, api_idem(c), name,
			       (int32_t)json_integer_value(bps), flat_minor, json_is_true(dflt), &r,
			       &c->answer);
}

/* ---- destinations --------------------------------------------------------- */

/* The Lumx view of a saved destination: its extension document when it
 * was made here, else what the canonical body tells. */
static json_t *lumx_destination_json(const struct store_destination *d, json_t *ext)
{
	json_t *o;
	if (ext) {
		o = json_deep_copy(ext);
	} else {
		json_error_t jerr;
		json_t *body = json_loads(d->body ? d->body : "{}", 0, &jerr);
		json_t *bc = body ? json_object_get(body, "bank_coordinates") : NULL;
		o = json_pack("{s:o, s:s, s:s, s:o, s:{s:s, s:s, s:o}}", "name",
			      json_incref(json_object_get(body, "beneficiary_name")) ?: json_null(),
			      "rail", rail_to_lumx(d->fiat_rail), "currency", d->currency,
			      "identifier", bc ? json_incref(bc) : json_object(), "holder", "type",
			      "BUSINESS", "relationship", "SELF", "legalName",
			      json_incref(json_object_get(body, "beneficiary_name")) ?: json_null());
		json_decref(body);
	}
	json_object_set_new(o, "id", json_string(d->id));
	json_object_set_new(o, "customerId", json_string(d->client_id));
	json_object_set_new(o, "verification", json_pack("{s:s}", "status", "VERIFIED"));
	json_object_set_new(o, "createdAt", time_iso(d->created_at));
	json_object_set_new(o, "updatedAt", time_iso(d->created_at));
	return o;
}

/* A saved destination read back (GET, lists): its account identifiers
 * masked; only the answer that saved it shows them whole. */
static json_t *lumx_destination_read(const struct store_destination *d, json_t *ext)
{
	json_t *o = lumx_destination_json(d, ext);
	if (o)
		api_mask_bank_numbers(o);
	return o;
}

struct dest_ctx {
	struct api_call *c;
	json_t *ext;
};

/* A refused save names the fields as POST /withdrawal-destinations does
 * (an unserved country: /destination/bank_coordinates/country), as this
 * surface always has. */
static void render_lumx_destination(void *ctx, const struct svc_outcome *o, const void *result,
				    struct svc_answer *out)
{
	struct dest_ctx *x = ctx;
	if (o->err)
		api_render_outcome(x->c, o, api_destination_field_pointer, out);
	else
		answer_exact(lumx_destination_json(result, x->ext), 201, out);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* identifier by rail -> the engine's bank coordinates. Field errors name
 * /identifier/<field>. */
static void decode_identifier(struct jd *d, struct jd_obj *id, enum dest_rail rail,
			      struct dest_bank *b)
{
	switch (dest_rail_scheme(rail)) {
	case SCHEME_IBAN:
		copy_str(b->scheme, sizeof b->scheme, "iban");
		copy_str(b->iban, sizeof b->iban, jd_str(d, id, "iban", true, false, 2 * BANK_IBAN_MAX));
		copy_str(b->bic, sizeof b->bic, jd_str(d, id, "bic", false, true, BANK_BIC_MAX));
		/* Lumx gives no country for SEPA: the IBAN's own, read after the
		 * domain's normalisation, as the sessions API compares it. */
		if (!d->e)
			dest_iban_country(b->iban, b->country);
		break;
	case SCHEME_ABA: {
		copy_str(b->scheme, sizeof b->scheme, "aba");
		copy_str(b->routing_number, sizeof b->routing_number,
			 jd_str(d, id, "routingNumber", true, false, 15));
		copy_str(b->account_number, sizeof b->account_number,
			 jd_str(d, id, "accountNumber", true, false, 34));
		static const char *const types[] = {"CHECKING", "SAVINGS", NULL};
		const char *t = jd_enum(d, id, "accountType", true, types);
		copy_str(b->account_type, sizeof b->account_type,
			 t && strcmp(t, "SAVINGS") == 0 ? "savings" : "checking");
		break;
	}
	case SCHEME_SORT_CODE:
		copy_str(b->scheme, sizeof b->scheme, "sort_code");
		copy_str(b->sort_code, sizeof b->sort_code, jd_str(d, id, "sortCode", true, false, 16));
		copy_str(b->account_number, sizeof b->account_number,
			 jd_str(d, id, "accountNumber", true, false, 34));
		break;
	case SCHEME_PIX:
		copy_str(b->scheme, sizeof b->scheme, "pix");
		copy_str(b->pix_key_type, sizeof b->pix_key_type,
			 jd_str(d, id, "keyType", true, false, 15));
		copy_str(b->pix_key, sizeof b->pix_key, jd_str(d, id, "keyValue", true, false, 77));
		break;
	case SCHEME_CLABE:
		copy_str(b->scheme, sizeof b->scheme, "clabe");
		copy_str(b->clabe, sizeof b->clabe, jd_str(d, id, "clabe", true, false, 23));
		break;
	case SCHEME_SWIFT:
		copy_str(b->scheme, sizeof b->scheme, "swift");
		copy_str(b->bic, sizeof b->bic, jd_str(d, id, "bic", true, false, BANK_BIC_MAX));
		copy_str(b->account_number, sizeof b->account_number,
			 jd_str(d, id, "accountNumber", false, true, 34));
		copy_str(b->iban, sizeof b->iban, jd_str(d, id, "iban", false, true, 2 * BANK_IBAN_MAX));
		break;
	default:
		break;
	}
	jd_done(d, id);
}

/* Map the engine's field path ("bank_coordinates/pix_key") to Lumx's. */
static const char *lumx_field(const char *engine)
{
	static const struct {
		const char *from, *to;
	} map[] = {
		{"bank_coordinates/iban", "/identifier/iban"},
		{"bank_coordinates/bic", "/identifier/bic"},
		{"bank_coordinates/routing_number", "/identifier/routingNumber"},
		{"bank_coordinates/account_number", "/identifier/accountNumber"},
		{"bank_coordinates/account_type", "/identifier/accountType"},
		{"bank_coordinates/sort_code", "/identifier/sortCode"},
		{"bank_coordinates/pix_key_type", "/identifier/keyType"},
		{"bank_coordinates/pix_key", "/identifier/keyValue"},
		{"bank_coordinates/clabe", "/identifier/clabe"},
		{"bank_coordinates/country", "/identifier"},
		{"currency", "/currency"},
		{"reference_hint", "/identifier"},
	};
	for (size_t i = 0; engine && i < sizeof map / sizeof *map; i++)
		if (strcmp(map[i].from, engine) == 0)
			return map[i].to;
	return "/identifier";
}

static void decode_holder(struct jd *d, struct jd_obj *root, char *legal_name, size_t size)
{
	struct jd_obj h, addr;
	if (!jd_sub(d, root, "holder", true, false, &h))
		return;
	static const char *const types[] = {"BUSINESS", "INDIVIDUAL", NULL};
	static const char *const rels[] = {"SELF", "HOLDING_COMPANY", "SUBSIDIARY_COMPANY",
					   "BRANCH_OFFICE", "BUSINESS_PARTNER", "SUPPLIER",
					   "CUSTOMER", "CREDITOR", "DEBTOR", "FRANCHISEE", NULL};
	jd_enum(d, &h, "type", true, types);
	jd_enum(d, &h, "relationship", true, rels);
	copy_str(legal_name, size, jd_str(d, &h, "legalName", true, false, LIMIT_NAME_BYTES));
	jd_str(d, &h, "taxId", false, true, 64);
	const char *email = jd_str(d, &h, "email", false, true, LIMIT_NAME_BYTES);
	const char *inc = jd_str(d, &h, "incorporationDate", false, true, 16);
	if (jd_sub(d, &h, "address", false, true, &addr)) {
		jd_str(d, &addr, "line1", true, false, LIMIT_NAME_BYTES);
		jd_str(d, &addr, "line2", false, true, LIMIT_NAME_BYTES);
		jd_str(d, &addr, "city", true, false, LIMIT_NAME_BYTES);
		jd_str(d, &addr, "state", false, true, LIMIT_NAME_BYTES);
		jd_str(d, &addr, "postalCode", false, true, 32);
		const char *cc = jd_str(d, &addr, "country", true, false, 8);
		jd_done(d, &addr);
		if (!d->e && !alpha3(cc))
			jd_fail(d, &addr, "country", ERR_INVALID_COUNTRY);
	}
	jd_done(d, &h);
	char norm[IDENT_MAX];
	if (!d->e && email && ident_pix_key(PIX_EMAIL, email, norm) != ERR_OK)
		jd_fail(d, &h, "email", ERR_INVALID_VALUE);
	if (!d->e && inc && !iso_date(inc))
		jd_fail(d, &h, "incorporationDate", ERR_INVALID_VALUE);
}

API_HANDLER(api_h_lumx_destination_create)
{
	struct jd d = {0};
	struct jd_obj root, ident;
	jd_init(&root, c->body, "");
	char customer_id[UUID_STR_LEN + 1] = "";
	jd_uuid(&d, &root, "customerId", customer_id);
	jd_str(&d, &root, "name", true, false, LIMIT_NAME_BYTES);
	const char *rail_name = jd_str(&d, &root, "rail", true, false, 32);
	const char *cur = jd_str(&d, &root, "currency", true, false, 8);
	struct destination dst;
	memset(&dst, 0, sizeof dst);
	dst.method = DEST_BANK_TRANSFER;
	decode_holder(&d, &root, dst.bank.beneficiary_name, sizeof dst.bank.beneficiary_name);
	bool have_ident = jd_sub(&d, &root, "identifier", true, false, &ident);
	jd_done(&d, &root);
	if (!d.e) {
		dst.rail = rail_from_lumx(rail_name);
		if (dst.rail == RAIL_NONE)
			jd_fail(&d, &root, "rail", ERR_INVALID_VALUE);
	}
	if (!d.e) {
		dst.currency = money_currency(cur);
		if (dst.currency == CUR_NONE || money_is_stablecoin(dst.currency))
			jd_fail(&d, &root, "currency", ERR_UNSUPPORTED_CURRENCY);
	}
	if (!d.e && have_ident)
		decode_identifier(&d, &ident, dst.rail, &dst.bank);
	if (!d.e) {
		const char *where = NULL;
		enum err e = destination_validate(&dst, &where);
		if (e)
			d.e = e, snprintf(d.field, sizeof d.field, "%s", lumx_field(where));
	}
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct store_client cl;
	enum err e = svc_client_get(c->api->svc, &c->auth, customer_id, &cl);
	if (e) {
		api_reject(c, e, "/customerId");
		return;
	}
	char *canon = api_destination_canonical(&dst);
	json_t *ext = json_deep_copy(c->body);
	json_object_del(ext, "customerId");
	char *text = json_in_canonical(ext);
	struct dest_ctx x = {c, ext};
	struct svc_render r = {render_lumx_destination, &x};
	if (canon && text)
		svc_destination_create(c->api->svc, &c->auth, api_idem(c), cl.default_account_id, &dst,
				       canon, text, &r, &c->answer);
	else
		api_fail(c, ERR_INTERNAL, NULL);
	free(canon);
	free(text);
	json_decref(ext);
}

API_HANDLER(api_h_lumx_destination_get)
{
	struct store_destination dst = {0};
	enum err e = svc_destination_get(c->api->svc, &c->auth, c->id, &dst);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	json_t *ext = ext_of(c, dst.id);
	answer_exact(lumx_destination_read(&dst, ext), 200, &c->answer);
	json_decref(ext);
	store_destination_clear(&dst);
}

struct dest_list_ctx {
	struct api_call *c;
	json_t *data;
};

static void dest_each(void *arg, const struct store_destination *d)
{
	struct dest_list_ctx *x = arg;
	json_t *ext = ext_of(x->c, d->id);
	json_array_append_new(x->data, lumx_destination_read(d, ext));
	json_decref(ext);
}

API_HANDLER(api_h_lumx_destination_list)
{
	static const char *const allowed[] = {"customerId", NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *cid = api_query(c, "customerId");
	if (!cid || !uuid_valid(cid)) {
		api_fail(c, ERR_INVALID_QUERY, "?customerId");
		return;
	}
	char id[UUID_STR_LEN + 1];
	memcpy(id, cid, sizeof id);
	uuid_lower(id);
	struct dest_list_ctx x = {c, json_array()};
	enum err e = svc_destination_list(c->api->svc, &c->auth, id, LIMIT_PAGE_SIZE_MAX, dest_each, &x);
	if (e) {
		json_decref(x.data);
		api_fail(c, e, NULL);
		return;
	}
	answer_exact(json_pack("{s:o}", "data", x.data), 200, &c->answer);
}

/* ---- transactions ---------------------------------------------------------- */

/* The Lumx state of a session (failed sessions are refunded in the same
 * transaction that fails them, so they show REFUNDED at once). */
static const char *lumx_status(const struct store_session *s)
{
	if (strcmp(s->status, "executing") == 0)
		return strcmp(s->stage, "stablecoin_transfer") == 0 ? "TRANSFERRING_STABLECOIN"
								    : "TRADING";
	if (strcmp(s->status, "executed") == 0)
		return "TRANSFERRING_FIAT";
	if (strcmp(s->status, "settled") == 0)
		return "SUCCESS";
	if (strcmp(s->status, "failed") == 0 || strcmp(s->status, "returned") == 0)
		return "REFUNDED"; /* returned: the bank sent it back, credited back (RAILS.md) */
	if (strcmp(s->status, "pending_approval") == 0)
		return "AWAITING_APPROVAL";
	return "CANCELLED";
}

json_t *api_lumx_transaction_json(const struct store_session *s, json_t *ext, const char *state_name)
{
	char v[MONEY_STR_MAX];
	json_t *request = ext ? json_incref(json_object_get(ext, "request")) : NULL;
	if (!request)
		request = json_pack("{s:s, s:s, s:s}", "bankAccountId", s->destination_id,
				    "sourceCurrency", s->currency, "sourceAmount",
				    money_format(s->principal_minor, money_currency(s->currency), v));
	json_t *metadata = ext ? json_incref(json_object_get(ext, "metadata")) : NULL;
	json_t *state = json_pack("{s:s}", "status", state_name ? state_name : lumx_status(s));
	if (strcmp(s->status, "settled") == 0) {
		char rate[FX_STR_MAX], src[MONEY_STR_MAX], dst[MONEY_STR_MAX], plat[MONEY_STR_MAX],
			part[MONEY_STR_MAX], tot[MONEY_STR_MAX];
		enum currency sc = money_currency(s->currency), tc = money_currency(s->target_currency);
		fx_rate_format(&(struct fx_rate){s->fill_rate_value, s->fill_rate_scale}, rate);
		json_object_set_new(
			state, "receipt",
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "rate", rate,
				  "sourceAmount", money_format(s->principal_minor, sc, src),
				  "sourceCurrency", s->currency, "targetAmount",
				  money_format(s->delivered_minor, tc, dst), "targetCurrency",
				  s->target_currency, "fees", "currency", s->currency, "platform",
				  money_format(s->fee_total_minor - s->fee_partner_minor, sc, plat),
				  "partner", money_format(s->fee_partner_minor, sc, part), "total",
				  money_format(s->fee_total_minor, sc, tot)));
	} else if (strcmp(s->status, "failed") == 0) {
		json_object_set_new(state, "error",
				    json_pack("{s:s, s:s}", "code", s->failure_reason, "message",
					      "the transaction failed and its funds were returned"));
	} else if (strcmp(s->status, "returned") == 0) {
		json_object_set_new(state, "error",
				    json_pack("{s:s, s:s, s:s}", "code", s->failure_reason, "detail",
					      s->failure_detail, "message",
					      "the bank returned the payout; its principal was credited back"));
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id", s->id, "customerId",
			 s->client_id, "type", "OFF_RAMP", "request", request, "state", state,
			 "metadata", metadata ? metadata : json_object(), "createdAt",
			 time_iso(s->created_at), "updatedAt", time_iso(s->updated_at));
}

struct tx_ctx {
	struct api_call *c;
	json_t *ext;
};

/* The transaction body names one saved destination (bankAccountId), which
 * fixes the customer's account, the route owner and the currency paid
 * out: whatever the service blames of those is bankAccountId. */
static const char *const lumx_tx_pointers[SVC_FIELD__COUNT] = {
	[SVC_FIELD_CLIENT] = NULL, /* no Lumx body makes accounts */
	[SVC_FIELD_ACCOUNT] = "/bankAccountId",
	[SVC_FIELD_AMOUNT] = "/sourceAmount",
	[SVC_FIELD_TARGET_CURRENCY] = "/bankAccountId",
	[SVC_FIELD_DESTINATION_ID] = "/bankAccountId",
	[SVC_FIELD_ROUTE_OWNER] = "/bankAccountId",
	[SVC_FIELD_DESTINATION] = "/bankAccountId",
	[SVC_FIELD_DESTINATION_COUNTRY] = "/bankAccountId",
	[SVC_FIELD_EXCHANGE_RATE] = "/exchangeRateId",
	[SVC_FIELD_PARTNER_FEE] = "/partnerFeeId",
	[SVC_FIELD_EVENT] = NULL, /* webhooks are the sessions API's */
};

const char *api_lumx_tx_field_pointer(enum svc_field f)
{
	return (unsigned)f < SVC_FIELD__COUNT ? lumx_tx_pointers[f] : NULL;
}

static void render_transaction(void *ctx, const struct svc_outcome *o, const void *result,
			       struct svc_answer *out)
{
	struct tx_ctx *x = ctx;
	if (o->err)
		api_render_outcome(x->c, o, api_lumx_tx_field_pointer, out);
	else
		answer_exact(api_lumx_transaction_json(result, x->ext, NULL), 202, out);
}

API_HANDLER(api_h_lumx_offramp_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	char dest_id[UUID_STR_LEN + 1] = "", fee_id[UUID_STR_LEN + 1] = "",
	     rate_id[UUID_STR_LEN + 1] = "";
	static const char *const currencies[] = {"USDC", "USDT", NULL};
	static const char *const purposes[] = {"PERSONAL_ACCOUNT", "INVESTMENT", "REAL_ESTATE",
					       "TRADE_TRANSACTIONS", "TAX", "LOAN", "BILLS",
					       "EXPENSES_REIMBURSEMENT", "PROFESSIONAL_SERVICES", NULL};
	static const char *const chains[] = {"ETHEREUM", "BASE", "TRON", "POLYGON", NULL};
	jd_uuid(&d, &root, "bankAccountId", dest_id);
	const char *src = jd_enum(&d, &root, "sourceCurrency", true, currencies);
	const char *amount = jd_amount(&d, &root, "sourceAmount", true, false);
	const char *purpose = jd_enum(&d, &root, "purpose", true, purposes);
	const char *memo = jd_str(&d, &root, "memo", false, true, DEST_TEXT_MAX);
	const char *chain = json_object_get(c->body, "blockchain") &&
					    !json_is_null(json_object_get(c->body, "blockchain"))
				    ? jd_enum(&d, &root, "blockchain", false, chains)
				    : (jd_str(&d, &root, "blockchain", false, true, 16), NULL);
	/* Optional ids: absent and null both mean none, as for every other
	 * optional field here. */
	json_t *fv = json_object_get(c->body, "partnerFeeId"), *rv = json_object_get(c->body, "exchangeRateId");
	bool fee = fv && !json_is_null(fv), locked = rv && !json_is_null(rv);
	if (fee)
		jd_uuid(&d, &root, "partnerFeeId", fee_id);
	else
		jd_seen(&root, "partnerFeeId");
	if (locked)
		jd_uuid(&d, &root, "exchangeRateId", rate_id);
	else
		jd_seen(&root, "exchangeRateId");
	struct jd_obj meta;
	jd_sub(&d, &root, "metadata", false, true, &meta); /* any JSON object, kept */
	jd_done(&d, &root);
	enum currency source = src ? money_currency(src) : CUR_NONE;
	int64_t minor = 0;
	if (!d.e) {
		enum err e = money_parse(amount, strlen(amount), source, &minor);
		if (e)
			jd_fail(&d, &root, "sourceAmount", e);
	}
	if (!d.e && memo) {
		enum err e = bank_payment_reference_check(memo);
		if (e)
			jd_fail(&d, &root, "memo", e);
	}
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct store_destination saved = {0};
	enum err e = svc_destination_get(c->api->svc, &c->auth, dest_id, &saved);
	if (e) {
		store_destination_clear(&saved);
		api_reject(c, e, "/bankAccountId");
		return;
	}
	json_t *dext = ext_of(c, saved.id);
	const char *rel = dext ? json_string_value(json_object_get(
					 json_object_get(dext, "holder"), "relationship"))
			       : "SELF";
	bool personal_ok = !rel || strcmp(rel, "SELF") == 0;
	json_decref(dext);
	if (strcmp(purpose, "PERSONAL_ACCOUNT") == 0 && !personal_ok) {
		store_destination_clear(&saved);
		api_reject(c, ERR_INVALID_VALUE, "/purpose");
		return;
	}
	/* The saved destination is the inline copy: re-read it into the
	 * engine's struct so rail and currency checks run as for a session. */
	struct destination dst;
	if (!api_destination_read(saved.body, &dst) || dst.method != DEST_BANK_TRANSFER) {
		store_destination_clear(&saved);
		api_reject(c, ERR_UNSUPPORTED_ROUTE, "/bankAccountId");
		return;
	}
	struct store_client cl;
	if ((e = svc_client_get(c->api->svc, &c->auth, saved.client_id, &cl)) != ERR_OK) {
		store_destination_clear(&saved);
		api_fail(c, e, NULL);
		return;
	}
	char network[16] = "ethereum";
	if (chain)
		for (int i = 0; chain[i] && i < 15; i++)
			network[i] = (char)(chain[i] + ('a' - 'A')), network[i + 1] = '\0';
	/* The request and its metadata as sent, numbers as written. */
	json_t *request = body_exact(c);
	json_t *given = json_object_get(request, "metadata");
	json_t *metadata = given && !json_is_null(given) ? json_incref(given) : json_object();
	json_t *ext = request ? json_pack("{s:o, s:o, s:s}", "request", request, "metadata", metadata,
					  "purpose", purpose)
			      : NULL;
	if (!request)
		json_decref(metadata);
	char *text = json_exact_dumps(ext);
	struct svc_session_request q = {
		.account_id = cl.default_account_id,
		.source = source,
		.amount_minor = minor,
		.target_currency = dst.currency,
		.target_rail = "fiat",
		.route_owner_client_id = saved.client_id,
		.destination_id = saved.id,
		.inline_dest = &dst,
		.payment_reference = memo ? memo : "",
		.network = network,
		.ext = text,
		.partner_fee_id = fee ? fee_id : NULL,
		.exchange_rate_id = locked ? rate_id : NULL,
	};
	struct tx_ctx x = {c, ext};
	struct svc_render r = {render_transaction, &x};
	if (text)
		svc_session_create(c->api->svc, &c->auth, api_idem(c), &q, &r, &c->answer);
	else
		api_fail(c, ERR_INTERNAL, NULL);
	free(text);
	json_decref(ext);
	store_destination_clear(&saved);
}

API_HANDLER(api_h_lumx_transaction_get)
{
	struct store_session s;
	enum err e = svc_session_get(c->api->svc, &c->auth, c->id, &s);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	json_t *ext = ext_of(c, s.id);
	answer_exact(api_lumx_transaction_json(&s, ext, NULL), 200, &c->answer);
	json_decref(ext);
}

struct tx_list_ctx {
	struct api_call *c;
	json_t *data;
};

static void tx_each(void *arg, const struct store_session *s)
{
	struct tx_list_ctx *x = arg;
	json_t *ext = ext_of(x->c, s->id);
	json_array_append_new(x->data, api_lumx_transaction_json(s, ext, NULL));
	json_decref(ext);
}

/*
 * GET /transactions?size=1..100&cursor=…&customerId=… → newest first.
 * nextCursor continues to older transactions, previousCursor back to
 * newer ones; each is null when there is nothing that way.
 */
API_HANDLER(api_h_lumx_transaction_list)
{
	static const char *const allowed[] = {"size", "cursor", "customerId", NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *size = api_query(c, "size"), *cur = api_query(c, "cursor"),
		   *cid = api_query(c, "customerId");
	int limit = size ? api_page_size(size) : LIMIT_PAGE_SIZE_DEFAULT;
	if (!limit) {
		api_fail(c, ERR_INVALID_QUERY, "?size");
		return;
	}
	char client[UUID_STR_LEN + 1] = "", pos[UUID_STR_LEN + 1] = "";
	if (cid) {
		if (!uuid_valid(cid)) {
			api_fail(c, ERR_INVALID_QUERY, "?customerId");
			return;
		}
		memcpy(client, cid, sizeof client);
		uuid_lower(client);
	}
	bool back = false;
	if (cur) {
		bool ok = api_token_read(cur, "n", pos, sizeof pos) ||
			  (back = api_token_read(cur, "p", pos, sizeof pos));
		if (!ok || !uuid_valid(pos)) {
			api_fail(c, ERR_INVALID_PAGE_TOKEN, "?cursor");
			return;
		}
	}
	struct svc_session_query q = {.client_id = cid ? client : NULL,
				      .before_id = cur && !back ? pos : NULL,
				      .after_id = back ? pos : NULL, .limit = limit};
	struct tx_list_ctx x = {c, json_array()};
	bool more = false;
	enum err e = svc_session_list(c->api->svc, &c->auth, &q, tx_each, &x, &more);
	if (e) {
		json_decref(x.data);
		api_fail(c, e, NULL);
		return;
	}
	size_t n = json_array_size(x.data);
	if (back) { /* fetched oldest first: show newest first */
		json_t *rev = json_array();
		for (size_t i = n; i-- > 0;)
			json_array_append(rev, json_array_get(x.data, i));
		json_decref(x.data);
		x.data = rev;
	}
	/* Going back from a page fetched forward, there is a newer page if we
	 * came with a cursor; going forward from a page fetched back, there is
	 * an older page (the one we came from). */
	bool older = back ? n > 0 : more, newer = back ? more : cur != NULL && n > 0;
	char t[96];
	json_t *next = json_null(), *prev = json_null();
	if (older && n) {
		api_token_make("n", json_string_value(json_object_get(json_array_get(x.data, n - 1), "id")), t);
		next = json_string(t);
	}
	if (newer && n) {
		api_token_make("p", json_string_value(json_object_get(json_array_get(x.data, 0), "id")), t);
		prev = json_string(t);
	}
	answer_exact(json_pack("{s:o, s:o, s:o}", "data", x.data, "nextCursor", next,
				  "previousCursor", prev),
			200, &c->answer);
}
