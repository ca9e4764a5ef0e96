/*
 * api_webhooks.c - webhook endpoints (docs/WEBHOOKS.md) and the payloads
 * the outbox queues for them.
 *
 * Payloads are rendered in the transaction of the transition, once per
 * format, and stored with each delivery: every retry sends the same bytes
 * under the same message id.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/hooks.h"

bool api_webhook_allow_loopback = false;

#define HOOK_GRACE_S (24 * 3600)

/* ---- payloads ----------------------------------------------------------------- */

/* body (stolen) is written canonical: a Lumx transaction's metadata with
 * its numbers' text (json_exact.h), the same bytes as any other dump
 * otherwise. */
static void payload(struct svc_hook_payload *p, const char *type, const char *id, json_t *body)
{
	snprintf(p->type, sizeof p->type, "%s", type);
	snprintf(p->message_id, sizeof p->message_id, "%s", id);
	p->body = json_exact_dumps(body);
	json_decref(body);
}

static int hook_payloads_render(const char *format, const struct store_session *s,
				const struct store_event *ev, const char *ext,
				struct svc_hook_payload *out)
{
	const char *pre = "off_ramp_session.";
	const char *what = strncmp(ev->type, pre, strlen(pre)) == 0 ? ev->type + strlen(pre) : "";
	if (strcmp(format, "lumx") != 0) {
		/* standard: one payload per status entered; stage changes are
		 * not status events. */
		if (strcmp(what, "stage_changed") == 0 || !*what)
			return 0;
		json_error_t jerr;
		json_t *data = json_loads(ev->data ? ev->data : "{}", 0, &jerr);
		payload(&out[0], ev->type, ev->id,
			json_pack("{s:s, s:s, s:o, s:I, s:o}", "id", ev->id, "type", ev->type,
				  "created_at", api_time_json(ev->created_at, false), "sequence",
				  (json_int_t)ev->resource_seq, "data", data ? data : json_object()));
		return out[0].body ? 1 : 0;
	}
	/* lumx: Lumx's event names for the same transitions. A failure
	 * releases the hold in the transaction that records it, so its one
	 * engine event is Lumx's three, each showing the transaction as it
	 * stood then. The first keeps the event's id and sequence; the refund
	 * events take the id suffixed and the next two sequence numbers,
	 * which no later event can take: failed is terminal. */
	static const struct {
		const char *type, *state, *id_suffix;
	} failure[] = {
		{"offramp.failed", "FAILED", ""},
		{"offramp.refunding", "REFUNDING", ":refunding"},
		{"offramp.refunded", "REFUNDED", ":refunded"},
	};
	_Static_assert(sizeof failure / sizeof *failure <= SVC_HOOK_PAYLOADS_MAX, "payloads per event");
	const char *types[SVC_HOOK_PAYLOADS_MAX] = {0};
	int n = 0;
	bool failed = false;
	if (strcmp(what, "executing") == 0)
		types[n++] = "offramp.transferring_stablecoin";
	else if (strcmp(what, "stage_changed") == 0 && strcmp(s->stage, "conversion") == 0)
		types[n++] = "offramp.trading";
	else if (strcmp(what, "executed") == 0)
		types[n++] = "offramp.transferring_fiat";
	else if (strcmp(what, "settled") == 0)
		types[n++] = "offramp.success";
	else if (strcmp(what, "returned") == 0)
		types[n++] = "offramp.refunded"; /* a bank return (docs/RAILS.md) */
	else if ((failed = strcmp(what, "failed") == 0))
		for (; n < (int)(sizeof failure / sizeof *failure); n++)
			types[n] = failure[n].type;
	json_t *x = ext ? json_exact_parse(ext, strlen(ext)) : NULL;
	for (int i = 0; i < n; i++) {
		char id[64];
		snprintf(id, sizeof id, "%s%s", ev->id, failed ? failure[i].id_suffix : "");
		json_t *data = api_lumx_transaction_json(s, x, failed ? failure[i].state : NULL);
		json_object_set_new(data, "sequence", json_integer(ev->resource_seq + i));
		payload(&out[i], types[i], id,
			json_pack("{s:s, s:s, s:o}", "eventId", id, "eventType", types[i], "data", data));
		if (!out[i].body) {
			for (int k = 0; k < i; k++)
				free(out[k].body);
			json_decref(x);
			return 0;
		}
	}
	json_decref(x);
	return n;
}

/* jansson 2.14's lexer ignores a failed allocation while it saves a
 * string's bytes: under memory pressure a parsed string comes out one
 * character short, with no error (found by tests/sim, seed 5: an
 * account_ref missing a digit in a signed webhook). So a payload whose
 * rendering lost any allocation is not sent: -1, and the event's write
 * fails and runs again. */
int api_hook_payloads(const char *format, const struct store_session *s,
		      const struct store_event *ev, const char *ext,
		      struct svc_hook_payload *out)
{
	unsigned failures = json_in_alloc_failures();
	int n = hook_payloads_render(format, s, ev, ext, out);
	if (json_in_alloc_failures() == failures)
		return n;
	for (int k = 0; k < n; k++) {
		free(out[k].body);
		out[k].body = NULL;
	}
	return -1;
}

/* ---- endpoints ------------------------------------------------------------------ */

static json_t *hook_json(const struct store_hook_endpoint *ep, bool with_secret)
{
	json_error_t jerr;
	json_t *types = json_loads(ep->event_types, 0, &jerr);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:o}", "id", ep->id, "url",
			      ep->url, "format", ep->format, "event_types", types ? types : json_array(),
			      "enabled", ep->enabled, "disabled_reason",
			      ep->disabled_reason[0] ? json_string(ep->disabled_reason) : json_null(),
			      "created_at", api_time_json(ep->created_at, false), "updated_at",
			      api_time_json(ep->updated_at, false));
	if (with_secret)
		json_object_set_new(o, "secret", json_string(ep->secret));
	return o;
}

static json_t *hook_json_secret(const struct store_hook_endpoint *ep)
{
	return hook_json(ep, true);
}

API_RENDERER(render_hook_created, hook_json_secret, struct store_hook_endpoint, 201)
API_RENDERER(render_hook_rotated, hook_json_secret, struct store_hook_endpoint, 200)

static json_t *resend_json(const char *delivery_id)
{
	return json_pack("{s:s}", "delivery_id", delivery_id);
}
API_RENDERER(render_hook_resent, resend_json, char, 202)

/* Read event_types: an array of known type names for the format, or
 * ["*"]; written canonical (sorted, unique not required). */
static char *read_types(struct jd *d, struct jd_obj *root, const char *format, bool required)
{
	static const char *const standard[] = {
		"off_ramp_session.pending_approval", "off_ramp_session.executing",
		"off_ramp_session.executed",         "off_ramp_session.settled",
		"off_ramp_session.failed",           "off_ramp_session.cancelled", NULL};
	static const char *const lumx[] = {
		"offramp.transferring_stablecoin", "offramp.trading", "offramp.transferring_fiat",
		"offramp.success", "offramp.failed", "offramp.refunding", "offramp.refunded", NULL};
	json_t *v = json_object_get(root->obj, "event_types");
	jd_seen(root, "event_types");
	if (d->e)
		return NULL;
	if (!v) {
		if (required)
			jd_fail(d, root, "event_types", ERR_MISSING_FIELD);
		return NULL;
	}
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16) {
		jd_fail(d, root, "event_types", json_is_array(v) ? ERR_INVALID_VALUE : ERR_INVALID_TYPE);
		return NULL;
	}
	const char *const *known = format && strcmp(format, "lumx") == 0 ? lumx : standard;
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) {
		const char *t = json_string_value(x);
		bool ok = t && strcmp(t, "*") == 0;
		for (const char *const *k = known; t && *k && !ok; k++)
			ok = strcmp(*k, t) == 0;
		if (!ok) {
			jd_fail(d, root, "event_types", ERR_INVALID_VALUE);
			return NULL;
		}
	}
	return json_dumps(v, JSON_COMPACT);
}

API_HANDLER(api_h_hook_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	static const char *const formats[] = {"standard", "lumx", NULL};
	const char *url = jd_str(&d, &root, "url", true, false, 2048);
	const char *format = json_object_get(c->body, "format")
				     ? jd_enum(&d, &root, "format", false, formats)
				     : "standard";
	char *types = read_types(&d, &root, format, false);
	jd_done(&d, &root);
	if (!d.e) {
		enum err e = hook_url_check(url, api_webhook_allow_loopback);
		if (e)
			jd_fail(&d, &root, "url", e);
	}
	if (d.e) {
		free(types);
		api_reject(c, d.e, d.field);
		return;
	}
	char secret[HOOK_SECRET_MAX];
	if (!hook_secret_new(secret)) {
		free(types);
		api_fail(c, ERR_INTERNAL, NULL);
		return;
	}
	struct svc_render r = {render_hook_created, c};
	svc_hook_create(c->api->svc, &c->auth, api_idem(c), url, format, types ? types : "[\"*\"]",
			secret, &r, &c->answer);
	free(types);
}

API_HANDLER(api_h_hook_get)
{
	struct store_hook_endpoint ep;
	enum err e = svc_hook_get(c->api->svc, &c->auth, c->id, &ep);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(hook_json(&ep, false), 200, &c->answer);
}

static void hook_each(void *arg, const struct store_hook_endpoint *ep)
{
	json_array_append_new(arg, hook_json(ep, false));
}

API_HANDLER(api_h_hook_list)
{
	static const char *const allowed[] = {NULL};
	if (!api_query_ok(c, allowed))
		return;
	json_t *items = json_array();
	enum err e = svc_hook_list(c->api->svc, &c->auth, hook_each, items);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_json(json_pack("{s:o, s:n}", "items", items, "next_page_token"), 200, &c->answer);
}

API_HANDLER(api_h_hook_update)
{
	struct store_hook_endpoint ep;
	enum err e = svc_hook_get(c->api->svc, &c->auth, c->id, &ep);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	json_t *en = json_object_get(c->body, "enabled");
	jd_seen(&root, "enabled");
	char *types = read_types(&d, &root, ep.format, false);
	jd_done(&d, &root);
	if (!d.e && en && !json_is_boolean(en))
		jd_fail(&d, &root, "enabled", ERR_INVALID_TYPE);
	if (d.e) {
		free(types);
		api_fail(c, d.e, d.field);
		return;
	}
	e = svc_hook_update(c->api->svc, &c->auth, c->id, en ? json_is_true(en) : -1, types, &ep);
	free(types);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(hook_json(&ep, false), 200, &c->answer);
}

API_HANDLER(api_h_hook_delete)
{
	enum err e = svc_hook_delete(c->api->svc, &c->auth, c->id);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(json_pack("{s:s, s:b}", "id", c->id, "deleted", 1), 200, &c->answer);
}

API_HANDLER(api_h_hook_rotate)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	jd_done(&d, &root);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	char secret[HOOK_SECRET_MAX];
	if (!hook_secret_new(secret)) {
		api_fail(c, ERR_INTERNAL, NULL);
		return;
	}
	struct svc_render r = {render_hook_rotated, c};
	svc_hook_rotate(c->api->svc, &c->auth, api_idem(c), c->id, secret, HOOK_GRACE_S, &r,
			&c->answer);
}

static void attempt_each(void *arg, const struct store_hook_attempt *a)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:I, s:o}", "id", a->id,
					     "delivery_id", a->delivery_id, "event_id", a->event_id,
					     "attempt", a->attempt, "status_code",
					     a->status_code ? json_integer(a->status_code) : json_null(),
					     "error", a->error[0] ? json_string(a->error) : json_null(),
					     "duration_ms", (json_int_t)a->duration_ms, "created_at",
					     api_time_json(a->created_at, false)));
}

API_HANDLER(api_h_hook_attempts)
{
	static const char *const allowed[] = {"page_size", "page_token", NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *ps = api_query(c, "page_size"), *tok = api_query(c, "page_token");
	int limit = ps ? api_page_size(ps) : LIMIT_PAGE_SIZE_DEFAULT;
	char before[UUID_STR_LEN + 1] = "";
	if (!limit) {
		api_fail(c, ERR_INVALID_QUERY, "?page_size");
		return;
	}
	if (tok && (!api_token_read(tok, "w1", before, sizeof before) || !uuid_valid(before))) {
		api_fail(c, ERR_INVALID_PAGE_TOKEN, "?page_token");
		return;
	}
	json_t *items = json_array();
	bool more = false;
	enum err e = svc_hook_attempts(c->api->svc, &c->auth, c->id, tok ? before : NULL, limit,
				       attempt_each, items, &more);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_page(c, items, more, "w1", "id");
}

API_HANDLER(api_h_hook_resend)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	char event_id[UUID_STR_LEN + 1] = "";
	jd_uuid(&d, &root, "event_id", event_id);
	jd_done(&d, &root);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct svc_render r = {render_hook_resent, c};
	svc_hook_resend(c->api->svc, &c->auth, api_idem(c), c->id, event_id, &r, &c->answer);
}
