/*
 * render.c - the JSON shapes of resources (what GET shows and what
 * creates answer). Keys are emitted sorted (JSON_SORT_KEYS), which is
 * also the seed page's order.
 */
#include "api/api_internal.h"
#include "api/json_exact.h"
#include "api/json_out.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "domain/fx.h"

json_t *api_money_json(enum currency cur, int64_t minor)
{
	char v[MONEY_STR_MAX];
	return json_pack("{s:s, s:s}", "currency", money_currency_code(cur), "value",
			 money_format(minor, cur, v));
}

json_t *api_money_json_code(const char *code, int64_t minor)
{
	return api_money_json(money_currency(code), minor);
}

json_t *api_time_json(int64_t unix_s, bool nullable)
{
	if (nullable && unix_s == 0)
		return json_null();
	char t[CLOCK_RFC3339_LEN + 1];
	clock_rfc3339(unix_s, t);
	return json_string(t);
}

json_t *api_ref_json(const char *collection, const char *id)
{
	char ref[96];
	snprintf(ref, sizeof ref, "%s/%s", collection, id);
	return json_string(ref);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

void api_session_etag(const struct store_session *s, char out[40])
{
	snprintf(out, 40, "\"v%lld\"", (long long)s->version);
}

static json_t *principal_json(const char *id, const char *kind, const char *tenant_id)
{
	return json_pack("{s:s, s:s, s:o}", "id", id, "kind", kind, "tenant_ref",
			 api_ref_json("enterprises", tenant_id));
}

json_t *api_session_json(const struct store_session *s)
{
	json_t *components = json_array();
	if (s->fee_network_minor > 0)
		json_array_append_new(components,
				      json_pack("{s:o, s:s}", "amount",
						api_money_json_code(s->currency, s->fee_network_minor),
						"kind", "network_fee"));
	if (s->fee_platform_minor > 0)
		json_array_append_new(components,
				      json_pack("{s:o, s:s}", "amount",
						api_money_json_code(s->currency, s->fee_platform_minor),
						"kind", "platform_fee"));
	if (s->fee_partner_minor > 0)
		json_array_append_new(components,
				      json_pack("{s:o, s:s}", "amount",
						api_money_json_code(s->currency, s->fee_partner_minor),
						"kind", "partner_fee"));
	json_t *attribution = json_pack(
		"{s:n, s:o, s:o, s:{s:s, s:o}, s:n, s:s, s:n, s:o}",
		"actor",
		"approved_by", s->approved_by_id[0]
				       ? principal_json(s->approved_by_id, s->approved_by_kind, s->tenant_id)
				       : json_null(),
		"authenticated_principal", principal_json(s->principal_id, s->principal_kind, s->tenant_id),
		"enterprise_binding", "tenant_type", "enterprise", "topology_ref",
		api_ref_json("enterprises", s->tenant_id),
		"federation", "identity_source", "platform-managed", "initiated_by",
		"subject", principal_json(s->principal_id, s->principal_kind, s->tenant_id));
	char etag[40];
	api_session_etag(s, etag);
	char rate[FX_STR_MAX];
	if (s->fill_rate_value > 0)
		fx_rate_format(&(struct fx_rate){s->fill_rate_value, s->fill_rate_scale}, rate);
	json_t *o = json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:{s:s, s:s}, s:{s:o, s:o}, s:o, s:o,"
		" s:o, s:s, s:s, s:s, s:o, s:s}",
		"id", s->id,
		"account_ref", api_ref_json("client-accounts", s->account_id),
		"approval_ref", s->approval_id[0] ? api_ref_json("approvals", s->approval_id) : json_null(),
		"created_at", api_time_json(s->created_at, false),
		"updated_at", api_time_json(s->updated_at, false),
		"failure_reason", str_or_null(s->failure_reason),
		"failure_detail", str_or_null(s->failure_detail),
		"family", "off_ramp",
		"family_params", "source_currency", s->currency, "target_rail", s->target_rail,
		"fee_summary", "components", components, "total",
		api_money_json_code(s->currency, s->fee_total_minor),
		"fill_rate", s->fill_rate_value > 0 ? json_string(rate) : json_null(),
		"principal_amount", api_money_json_code(s->currency, s->principal_minor),
		"settled_at", api_time_json(s->settled_at, true),
		"status", s->status,
		"stage", s->stage,
		"target_currency", s->target_currency,
		"delivered_amount", s->fill_rate_value > 0
			? api_money_json_code(s->target_currency, s->delivered_minor) : json_null(),
		"etag", etag);
	json_object_set_new(o, "subject_attribution", attribution);
	json_object_set_new(o, "payout_reference", str_or_null(s->payout_reference));
	json_object_set_new(o, "waiting_reason", str_or_null(s->waiting_reason));
	json_object_set_new(
		o, "destination",
		json_pack("{s:s, s:o, s:o, s:o, s:s}", "method", s->method, "fiat_rail",
			  str_or_null(s->fiat_rail), "payment_reference",
			  str_or_null(s->payment_reference), "route_owner_ref",
			  api_ref_json("clients", s->client_id), "withdrawal_destination_id",
			  s->destination_id));
	return o;
}

/* ---- the session as text (json_out.h): the hot path's renderer ---------
 *
 * The same shape as api_session_json(), written in sorted key order, so
 * the text is what json_dumps(api_session_json(s), JSON_COMPACT |
 * JSON_SORT_KEYS) writes (tests/unit/api/test_render.c holds the two to
 * one text). A key added to one must be added to the other.
 */

static void money_out(struct json_out *o, const char *code, int64_t minor)
{
	char v[MONEY_STR_MAX];
	enum currency cur = money_currency(code);
	json_out_raw(o, "{\"currency\":");
	json_out_str(o, money_currency_code(cur));
	json_out_raw(o, ",\"value\":");
	json_out_str(o, money_format(minor, cur, v));
	json_out_raw(o, "}");
}

static void time_out(struct json_out *o, int64_t unix_s, bool nullable)
{
	if (nullable && unix_s == 0) {
		json_out_raw(o, "null");
		return;
	}
	char t[CLOCK_RFC3339_LEN + 1];
	clock_rfc3339(unix_s, t);
	json_out_str(o, t);
}

static void principal_out(struct json_out *o, const char *id, const char *kind,
			  const char *tenant_id)
{
	json_out_raw(o, "{\"id\":");
	json_out_str(o, id);
	json_out_raw(o, ",\"kind\":");
	json_out_str(o, kind);
	json_out_raw(o, ",\"tenant_ref\":");
	json_out_str2(o, "enterprises/", tenant_id);
	json_out_raw(o, "}");
}

static void fee_out(struct json_out *o, bool *first, const char *code, int64_t minor,
		    const char *kind)
{
	if (minor <= 0)
		return;
	json_out_raw(o, *first ? "{\"amount\":" : ",{\"amount\":");
	*first = false;
	money_out(o, code, minor);
	json_out_raw(o, ",\"kind\":");
	json_out_str(o, kind);
	json_out_raw(o, "}");
}

static void attribution_out(struct json_out *o, const struct store_session *s)
{
	json_out_raw(o, "{\"actor\":null,\"approved_by\":");
	if (s->approved_by_id[0])
		principal_out(o, s->approved_by_id, s->approved_by_kind, s->tenant_id);
	else
		json_out_raw(o, "null");
	json_out_raw(o, ",\"authenticated_principal\":");
	principal_out(o, s->principal_id, s->principal_kind, s->tenant_id);
	json_out_raw(o, ",\"enterprise_binding\":{\"tenant_type\":\"enterprise\",\"topology_ref\":");
	json_out_str2(o, "enterprises/", s->tenant_id);
	json_out_raw(o, "},\"federation\":null,\"identity_source\":\"platform-managed\","
			"\"initiated_by\":null,\"subject\":");
	principal_out(o, s->principal_id, s->principal_kind, s->tenant_id);
	json_out_raw(o, "}");
}

static void session_out(struct json_out *o, const struct store_session *s)
{
	json_out_raw(o, "{\"account_ref\":");
	json_out_str2(o, "client-accounts/", s->account_id);
	json_out_raw(o, ",\"approval_ref\":");
	if (s->approval_id[0])
		json_out_str2(o, "approvals/", s->approval_id);
	else
		json_out_raw(o, "null");
	json_out_raw(o, ",\"created_at\":");
	time_out(o, s->created_at, false);
	json_out_raw(o, ",\"delivered_amount\":");
	if (s->fill_rate_value > 0)
		money_out(o, s->target_currency, s->delivered_minor);
	else
		json_out_raw(o, "null");
	json_out_raw(o, ",\"destination\":{\"fiat_rail\":");
	json_out_str_or_null(o, s->fiat_rail);
	json_out_raw(o, ",\"method\":");
	json_out_str(o, s->method);
	json_out_raw(o, ",\"payment_reference\":");
	json_out_str_or_null(o, s->payment_reference);
	json_out_raw(o, ",\"route_owner_ref\":");
	json_out_str2(o, "clients/", s->client_id);
	json_out_raw(o, ",\"withdrawal_destination_id\":");
	json_out_str(o, s->destination_id);
	char etag[40];
	api_session_etag(s, etag);
	json_out_raw(o, "},\"etag\":");
	json_out_str(o, etag);
	json_out_raw(o, ",\"failure_detail\":");
	json_out_str_or_null(o, s->failure_detail);
	json_out_raw(o, ",\"failure_reason\":");
	json_out_str_or_null(o, s->failure_reason);
	json_out_raw(o, ",\"family\":\"off_ramp\",\"family_params\":{\"source_currency\":");
	json_out_str(o, s->currency);
	json_out_raw(o, ",\"target_rail\":");
	json_out_str(o, s->target_rail);
	json_out_raw(o, "},\"fee_summary\":{\"components\":[");
	bool first = true;
	fee_out(o, &first, s->currency, s->fee_network_minor, "network_fee");
	fee_out(o, &first, s->currency, s->fee_platform_minor, "platform_fee");
	fee_out(o, &first, s->currency, s->fee_partner_minor, "partner_fee");
	json_out_raw(o, "],\"total\":");
	money_out(o, s->currency, s->fee_total_minor);
	json_out_raw(o, "},\"fill_rate\":");
	if (s->fill_rate_value > 0) {
		char rate[FX_STR_MAX];
		json_out_str(o, fx_rate_format(&(struct fx_rate){s->fill_rate_value,
								   s->fill_rate_scale}, rate));
	} else {
		json_out_raw(o, "null");
	}
	json_out_raw(o, ",\"id\":");
	json_out_str(o, s->id);
	json_out_raw(o, ",\"payout_reference\":");
	json_out_str_or_null(o, s->payout_reference);
	json_out_raw(o, ",\"principal_amount\":");
	money_out(o, s->currency, s->principal_minor);
	json_out_raw(o, ",\"settled_at\":");
	time_out(o, s->settled_at, true);
	json_out_raw(o, ",\"stage\":");
	json_out_str(o, s->stage);
	json_out_raw(o, ",\"status\":");
	json_out_str(o, s->status);
	json_out_raw(o, ",\"subject_attribution\":");
	attribution_out(o, s);
	json_out_raw(o, ",\"target_currency\":");
	json_out_str(o, s->target_currency);
	json_out_raw(o, ",\"updated_at\":");
	time_out(o, s->updated_at, false);
	json_out_raw(o, ",\"waiting_reason\":");
	json_out_str_or_null(o, s->waiting_reason);
	json_out_raw(o, "}");
}

char *api_session_render(const struct store_session *s, size_t *len)
{
	struct json_out o;
	json_out_init(&o);
	session_out(&o, s);
	return json_out_take(&o, len);
}

/*
 * The last snapshot rendered on this thread. A create renders its session
 * twice in one transaction, on the committer: the event's data, then the
 * answer, both "the session as GET shows it". The answer reuses the text
 * when the session is byte for byte the one snapshotted (same object, same
 * contents), so the serial path renders it once.
 */
struct snapshot_memo {
	struct store_session s;
	char *text;
};
static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_free(void *p)
{
	struct snapshot_memo *m = p;
	free(m->text);
	free(m);
}

static void memo_init(void) { pthread_key_create(&memo_key, memo_free); }

static struct snapshot_memo *memo(void)
{
	pthread_once(&memo_once, memo_init);
	struct snapshot_memo *m = pthread_getspecific(memo_key);
	if (!m && (m = calloc(1, sizeof *m)) && pthread_setspecific(memo_key, m) != 0) {
		free(m);
		m = NULL;
	}
	return m;
}

char *api_session_snapshot(const struct store_session *s)
{
	size_t len;
	char *text = api_session_render(s, &len);
	struct snapshot_memo *m = memo();
	if (m && text) {
		free(m->text);
		m->s = *s;
		m->text = malloc(len + 1);
		if (m->text)
			memcpy(m->text, text, len + 1);
	}
	return text;
}

char *api_session_text(const struct store_session *s)
{
	struct snapshot_memo *m = memo();
	if (m && m->text && memcmp(&m->s, s, sizeof *s) == 0) {
		char *text = m->text;
		m->text = NULL; /* used once */
		return text;
	}
	return api_session_render(s, NULL);
}

void api_approval_etag(const struct store_approval *a, char out[40])
{
	snprintf(out, 40, "\"v%lld\"", (long long)svc_approval_version(a));
}

json_t *api_approval_json(const struct store_approval *a)
{
	char etag[40];
	api_approval_etag(a, etag);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", a->id, "etag", etag, "status",
			 a->status, "session_ref", api_ref_json("off-ramp-sessions", a->session_id),
			 "amount", api_money_json_code(a->currency, a->amount_minor), "initiated_by",
			 principal_json(a->initiator_id, a->initiator_kind, a->tenant_id),
			 "decided_by",
			 a->decided_by_id[0]
				 ? principal_json(a->decided_by_id, a->decided_by_kind, a->tenant_id)
				 : json_null(),
			 "created_at", api_time_json(a->created_at, false), "decided_at",
			 api_time_json(a->decided_at, true));
}

json_t *api_policy_json(const struct store_policy *p)
{
	return json_pack("{s:o, s:o}", "threshold",
			 p->threshold_minor > 0
				 ? api_money_json_code(p->threshold_currency, p->threshold_minor)
				 : json_null(),
			 "updated_at", api_time_json(p->updated_at, true));
}

json_t *api_event_json(const struct store_event *e)
{
	json_error_t jerr;
	json_t *data = json_loads(e->data ? e->data : "{}", 0, &jerr);
	return json_pack("{s:s, s:I, s:s, s:o, s:I, s:o, s:o}", "id", e->id, "sequence",
			 (json_int_t)e->seq, "type", e->type, "resource_ref",
			 api_ref_json("off-ramp-sessions", e->resource_id), "session_sequence",
			 (json_int_t)e->resource_seq, "created_at", api_time_json(e->created_at, false),
			 "data", data ? data : json_object());
}

json_t *api_payout_json(const struct store_payout *p)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:o}", "id", p->id, "session_id",
			 p->session_id, "idempotency_key", p->idempotency_key, "rail", p->rail,
			 "amount", api_money_json_code(p->currency, p->amount_minor), "outcome",
			 p->outcome, "calls", p->calls, "created_at",
			 api_time_json(p->created_at, false));
}

json_t *api_client_json(const struct store_client *c)
{
	return json_pack("{s:s, s:s, s:o, s:o}", "id", c->id, "display_name", c->display_name,
			 "default_account_ref", api_ref_json("client-accounts", c->default_account_id),
			 "created_at", api_time_json(c->created_at, false));
}

json_t *api_account_json(const struct svc_account_view *v)
{
	json_t *balances = json_array();
	for (int i = 0; i < v->n; i++) {
		enum currency cur = v->balances[i].currency;
		const struct ledger_balance *b = &v->balances[i].b;
		char av[MONEY_STR_MAX], he[MONEY_STR_MAX], to[MONEY_STR_MAX];
		json_array_append_new(balances,
				      json_pack("{s:s, s:s, s:s, s:s}", "currency",
						money_currency_code(cur), "available",
						money_format(ledger_available(b), cur, av), "held",
						money_format(ledger_held(b), cur, he), "total",
						money_format(ledger_total(b), cur, to)));
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "id", v->account.id, "client_ref",
			 api_ref_json("clients", v->account.client_id), "balances", balances,
			 "created_at", api_time_json(v->account.created_at, false));
}

/* The members whose string values are account identifiers. PIX keys and
 * routing numbers, sort codes and BICs name a bank or a key, not the
 * account behind it, and stay. */
static bool bank_number_key(const char *k)
{
	static const char *const keys[] = {"iban", "account_number", "accountNumber", "clabe"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

static void mask_at(json_t *v, int depth)
{
	if (depth > LIMIT_JSON_DEPTH)
		return; /* our own stored documents are shallower than any request */
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			mask_at(x, depth + 1);
		return;
	}
	json_object_foreach(v, k, x) {
		if (json_is_string(x) && bank_number_key(k)) {
			char masked[LIMIT_BANK_ID_MASKED_BYTES];
			log_mask(json_string_value(x), masked, sizeof masked);
			json_object_set_new(v, k, json_string(masked));
		} else {
			mask_at(x, depth + 1);
		}
	}
}

void api_mask_bank_numbers(json_t *v)
{
	mask_at(v, 0);
}

json_t *api_destination_json(const struct store_destination *d)
{
	json_error_t jerr;
	json_t *body = json_loads(d->body ? d->body : "null", JSON_DECODE_ANY, &jerr);
	return json_pack("{s:s, s:o, s:o, s:s, s:o, s:s, s:o, s:o}", "id", d->id, "account_ref",
			 api_ref_json("client-accounts", d->account_id), "route_owner_ref",
			 api_ref_json("clients", d->client_id), "method", d->method, "fiat_rail",
			 str_or_null(d->fiat_rail), "currency", d->currency, "destination",
			 body ? body : json_null(), "created_at",
			 api_time_json(d->created_at, false));
}

json_t *api_deposit_json(const struct store_transfer *t)
{
	return json_pack("{s:s, s:o, s:o, s:s, s:o}", "id", t->id, "account_ref",
			 api_ref_json("client-accounts", t->credit_account_id), "amount",
			 api_money_json_code(t->currency, t->amount_minor), "status", "completed",
			 "created_at", api_time_json(t->created_at, false));
}
