/*
 * api.c - the route table and what every request goes through before its
 * handler: route, authenticate, authorise, content type, idempotency
 * replay, strict JSON. Also the one place where an enum err becomes an
 * HTTP status and an error body (api_render_error).
 *
 * Order of checks (each answers before the next runs):
 *   404/405 route -> 401 key -> 429 rate -> 403 capability -> 413 body size ->
 *   415 content type -> 400 idempotency key -> replay / 409 -> 400 JSON ->
 *   handler.
 * (The HTTP adapter flags an oversized body without reading it, so 413
 * still costs no more than the headers.)
 * The rate limit comes right after the key is known and before anything
 * that reads or keeps the request: a 429 creates nothing and leaves its
 * Idempotency-Key unused, so the same request can be retried as it was.
 */
#include "api/api_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/crypto.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "domain/capability.h"

/* X(method, pattern, handler, capabilities, authenticated, lumx): the key
 * must hold at least one of the capabilities; lumx routes take only UUID
 * idempotency keys (as Lumx documents). */
#define API_ROUTES(X)                                                                          \
	X("POST", "/clients", api_h_client_create, CAP_CLIENTS_MANAGE, true, false)                   \
	X("GET", "/clients/{id}", api_h_client_get, CAP_CLIENTS_MANAGE, true, false)                  \
	X("POST", "/client-accounts", api_h_account_create, CAP_CLIENTS_MANAGE, true, false)          \
	X("GET", "/client-accounts/{id}", api_h_account_get, CAP_ACCOUNTS_READ, true, false)          \
	X("POST", "/sandbox/deposits", api_h_deposit_create, CAP_SANDBOX_FUND, true, false)           \
	X("POST", "/withdrawal-destinations", api_h_destination_create, CAP_DESTINATIONS_MANAGE, true, false) \
	X("GET", "/withdrawal-destinations/{id}", api_h_destination_get, CAP_DESTINATIONS_MANAGE, true, false) \
	X("POST", "/off-ramp-sessions", api_h_session_create, CAP_RAMPS_CREATE, true, false)          \
	X("GET", "/off-ramp-sessions", api_h_session_list, CAP_RAMPS_READ, true, false)               \
	X("GET", "/off-ramp-sessions/{id}", api_h_session_get, CAP_RAMPS_READ, true, false)           \
	X("GET", "/off-ramp-sessions/{id}/ledger", api_h_session_ledger, CAP_RAMPS_READ, true, false) \
	X("POST", "/off-ramp-sessions/{id}/cancel", api_h_session_cancel, CAP_RAMPS_CANCEL, true, false) \
	X("GET", "/approvals", api_h_approval_list, CAP_RAMPS_APPROVE | CAP_RAMPS_READ, true, false)  \
	X("GET", "/approvals/{id}", api_h_approval_get, CAP_RAMPS_APPROVE | CAP_RAMPS_READ, true, false) \
	X("POST", "/approvals/{id}/approve", api_h_approval_approve, CAP_RAMPS_APPROVE, true, false)  \
	X("POST", "/approvals/{id}/reject", api_h_approval_reject, CAP_RAMPS_APPROVE, true, false)    \
	X("PUT", "/policies/off-ramp-approval", api_h_policy_put, CAP_POLICIES_MANAGE, true, false)   \
	X("GET", "/policies/off-ramp-approval", api_h_policy_get, CAP_POLICIES_MANAGE, true, false)   \
	X("GET", "/events", api_h_event_list, CAP_RAMPS_READ, true, false)                            \
	X("GET", "/sandbox/payouts", api_h_payout_list, CAP_SANDBOX_FUND, true, false)                \
	/* The Lumx-compatible surface (api_lumx.c). */                                       \
	X("POST", "/customers", api_h_lumx_customer_create, CAP_CLIENTS_MANAGE, true, true)          \
	X("GET", "/customers/{id}", api_h_lumx_customer_get, CAP_CLIENTS_MANAGE | CAP_ACCOUNTS_READ, true, true) \
	X("POST", "/destinations", api_h_lumx_destination_create, CAP_DESTINATIONS_MANAGE, true, true) \
	X("GET", "/destinations", api_h_lumx_destination_list, CAP_DESTINATIONS_MANAGE, true, true)  \
	X("GET", "/destinations/{id}", api_h_lumx_destination_get, CAP_DESTINATIONS_MANAGE, true, true) \
	X("POST", "/transactions/off-ramp", api_h_lumx_offramp_create, CAP_RAMPS_CREATE, true, true) \
	X("GET", "/transactions", api_h_lumx_transaction_list, CAP_RAMPS_READ, true, true)           \
	X("GET", "/transactions/{id}", api_h_lumx_transaction_get, CAP_RAMPS_READ, true, true)       \
	X("PUT", "/customers/{id}/limits", api_h_lumx_customer_limits, CAP_CLIENTS_MANAGE, true, true) \
	X("POST", "/exchange-rates", api_h_lumx_exchange_rate_create, CAP_RAMPS_CREATE, true, true) \
	X("POST", "/partner-fees", api_h_lumx_partner_fee_create, CAP_POLICIES_MANAGE, true, true) \
	X("POST", "/webhook-endpoints", api_h_hook_create, CAP_WEBHOOKS_MANAGE, true, false)   \
	X("GET", "/webhook-endpoints", api_h_hook_list, CAP_WEBHOOKS_MANAGE, true, false)      \
	X("GET", "/webhook-endpoints/{id}", api_h_hook_get, CAP_WEBHOOKS_MANAGE, true, false)  \
	X("PATCH", "/webhook-endpoints/{id}", api_h_hook_update, CAP_WEBHOOKS_MANAGE, true, false) \
	X("DELETE", "/webhook-endpoints/{id}", api_h_hook_delete, CAP_WEBHOOKS_MANAGE, true, false) \
	X("POST", "/webhook-endpoints/{id}/rotate-secret", api_h_hook_rotate, CAP_WEBHOOKS_MANAGE, true, false) \
	X("GET", "/webhook-endpoints/{id}/attempts", api_h_hook_attempts, CAP_WEBHOOKS_MANAGE, true, false) \
	X("POST", "/webhook-endpoints/{id}/resend", api_h_hook_resend, CAP_WEBHOOKS_MANAGE, true, false) \
	X("GET", "/healthz", api_h_healthz, 0, false, false)                                          \
	X("GET", "/metrics", api_h_metrics, 0, false, false)                                          \
	X("GET", "/livez", api_h_livez, 0, false, false)                                              \
	X("GET", "/readyz", api_h_readyz, 0, false, false)                                            \
	X("GET", "/errors.json", api_h_errors, 0, false, false)                                       \
	X("GET", "/openapi.json", api_h_openapi, 0, false, false)                                     \
	API_FAULT_ROUTES(X)

static API_HANDLER(api_h_healthz);
static API_HANDLER(api_h_livez);
static API_HANDLER(api_h_readyz);
static API_HANDLER(api_h_errors);

struct api_route {
	const char *method;
	const char *pattern;
	void (*handler)(struct api_call *);
	uint32_t cap;
	bool auth;
	bool lumx;
};

static const struct api_route api_routes[] = {
#define X(m, p, h, cap, auth, lumx) {m, p, h, cap, auth, lumx},
	API_ROUTES(X)
#undef X
};

/* The same rows as the metrics' route labels: slot i + 1 is api_routes[i]. */
static const struct metrics_route api_metric_labels[] = {
#define X(m, p, h, cap, auth, lumx) {m, p},
	API_ROUTES(X)
#undef X
};
#define API_ROUTE_COUNT (sizeof api_routes / sizeof *api_routes)
_Static_assert(API_ROUTE_COUNT + 1 <= LIMIT_METRICS_ROUTES,
	       "every route, and unmatched, has a metrics slot");

const char *api_route_name(int metrics_route)
{
	if (metrics_route < 1 || metrics_route > (int)API_ROUTE_COUNT)
		return "unmatched";
	return api_routes[metrics_route - 1].pattern;
}

const struct metrics_route *api_metric_routes(int *n)
{
	*n = (int)API_ROUTE_COUNT;
	return api_metric_labels;
}

/* ---- answers ----------------------------------------------------------- */

void api_answer_json(json_t *obj, int status, struct svc_answer *out)
{
	svc_answer_clear(out);
	if (!obj)
		return;
	out->body = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (out->body) {
		out->len = strlen(out->body);
		out->status = status;
	}
}

void api_answer_text(char *text, int status, struct svc_answer *out)
{
	svc_answer_clear(out);
	out->body = text;
	if (text) {
		out->len = strlen(text);
		out->status = status;
	}
}

/* The envelope: code, message, details (stolen) with the field added. */
static void render_envelope(const struct api_call *c, enum err e, const char *field,
			    json_t *details, struct svc_answer *out)
{
	if (!details)
		details = json_object();
	if (field && *field)
		json_object_set_new(details, "field", json_string(field));
	json_t *o = json_pack("{s:s, s:s, s:o, s:s}", "code", err_code(e), "message",
			      err_message(e), "details", details, "request_id",
			      c ? c->req->request_id : "");
	api_answer_json(o, err_http_status(e), out);
}

void api_render_error(const struct api_call *c, enum err e, const char *field,
		      struct svc_answer *out)
{
	render_envelope(c, e, field, NULL, out);
}

/* ---- what the service blames, in the sessions API's words ---------------- */

/* The session body's destination is /destination/destination; the
 * destination endpoint's is /destination (api_destination_field_pointer). */
static const char *const api_field_pointers[SVC_FIELD__COUNT] = {
	[SVC_FIELD_CLIENT] = "/client_ref",
	[SVC_FIELD_ACCOUNT] = "/account_ref",
	[SVC_FIELD_AMOUNT] = "/amount/value",
	[SVC_FIELD_TARGET_CURRENCY] = "/target_currency",
	[SVC_FIELD_DESTINATION_ID] = "/destination/withdrawal_destination_id",
	[SVC_FIELD_ROUTE_OWNER] = "/destination/route_owner_ref",
	[SVC_FIELD_DESTINATION] = "/destination/destination",
	[SVC_FIELD_DESTINATION_COUNTRY] = "/destination/destination/bank_coordinates/country",
	[SVC_FIELD_EXCHANGE_RATE] = NULL, /* Lumx's exchangeRateId only */
	[SVC_FIELD_PARTNER_FEE] = NULL,   /* Lumx's partnerFeeId only */
	[SVC_FIELD_EVENT] = "/event_id",
};

const char *api_field_pointer(enum svc_field f)
{
	return (unsigned)f < SVC_FIELD__COUNT ? api_field_pointers[f] : NULL;
}

static const char *const api_limit_names[] = {
	[SVC_LIMIT_KIND_PER_TRANSACTION] = "per_transaction",
	[SVC_LIMIT_KIND_DAILY] = "daily",
	[SVC_LIMIT_KIND_MONTHLY] = "monthly",
};

json_t *api_details_json(const struct svc_details *d)
{
	switch (d->kind) {
	case SVC_DETAILS_LIMIT: {
		char max[MONEY_STR_MAX], used[MONEY_STR_MAX], rem[MONEY_STR_MAX];
		unsigned k = (unsigned)d->limit.kind;
		return json_pack("{s:s, s:s, s:s, s:s}", "limit",
				 k < sizeof api_limit_names / sizeof *api_limit_names ? api_limit_names[k]
										     : "",
				 "max", money_format(d->limit.max_minor, d->limit.currency, max), "used",
				 money_format(d->limit.used_minor, d->limit.currency, used), "remaining",
				 money_format(d->limit.remaining_minor, d->limit.currency, rem));
	}
	case SVC_DETAILS_VERIFICATION:
		return json_pack("{s:s}", "verification",
				 svc_verification_name(d->verification.state));
	default:
		return json_object();
	}
}

void api_render_outcome(const struct api_call *c, const struct svc_outcome *o,
			api_field_map map, struct svc_answer *out)
{
	render_envelope(c, o->err, map ? map(o->field) : NULL, api_details_json(&o->details), out);
}

void api_fail(struct api_call *c, enum err e, const char *field)
{
	api_render_error(c, e, field, &c->answer);
}

/* One entity tag at *p: our strong tags are "v<version>"; a weak tag
 * (W/"...") or any other opaque tag names no version (If-Match compares
 * strongly). Advances *p past it; false on a syntax error. */
static bool etag_read(const char **p, int64_t *version)
{
	const char *s = *p;
	bool weak = strncmp(s, "W/", 2) == 0;
	if (weak)
		s += 2;
	if (*s != '"')
		return false;
	const char *end = strchr(s + 1, '"');
	if (!end)
		return false;
	*p = end + 1;
	*version = -1;
	if (weak || s[1] != 'v' || s[2] < '1' || s[2] > '9' || end - s > 20)
		return true;
	int64_t v = 0;
	for (const char *q = s + 2; q < end; q++) {
		if (*q < '0' || *q > '9')
			return true;
		v = v * 10 + (*q - '0');
	}
	*version = v;
	return true;
}

void api_if_match(const struct api_call *c, struct svc_match *m)
{
	memset(m, 0, sizeof *m);
	const char *p = c->req->if_match;
	while (p && (*p == ' ' || *p == '\t'))
		p++;
	if (!p || strcmp(p, "*") == 0) {
		m->any = true;
		return;
	}
	/* A list: tag *( OWS "," OWS tag ). Past the cap, or on a syntax
	 * error, what was read so far stands (an unreadable header matches
	 * nothing, so the request fails closed with 412). */
	while (*p && m->n < LIMIT_IF_MATCH_TAGS) {
		int64_t v;
		if (!etag_read(&p, &v))
			return;
		if (v > 0)
			m->versions[m->n++] = v;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
	}
}

const struct svc_idem *api_idem(const struct api_call *c)
{
	return c->has_idem ? &c->idem : NULL;
}

/* A decoding error names the field the api itself found at fault; any
 * other outcome (the write failed, the key was taken meanwhile) none. */
struct reject_ctx {
	const struct api_call *c;
	enum err e;
	const char *field;
};

static void reject_render(void *ctx, const struct svc_outcome *o, const void *result,
			  struct svc_answer *out)
{
	const struct reject_ctx *x = ctx;
	api_render_error(x->c, o->err, o->err == x->e ? x->field : NULL, out);
}

void api_reject(struct api_call *c, enum err e, const char *field)
{
	if (json_in_alloc_failures() != c->alloc_failures) {
		/* The decode lost an allocation: what it blames may be untrue,
		 * and a 500 is not kept under the idempotency key. */
		api_fail(c, ERR_INTERNAL, NULL);
		return;
	}
	struct reject_ctx x = {c, e, field};
	struct svc_render r = {reject_render, &x};
	svc_reject(c->api->svc, &c->auth, api_idem(c), e, &r, &c->answer);
}

void api_error_response(enum err e, const char *request_id, struct api_response *res)
{
	struct api_request req = {0};
	snprintf(req.request_id, sizeof req.request_id, "%s", request_id ? request_id : "");
	struct api_call c = {.req = &req};
	api_render_error(&c, e, NULL, &c.answer);
	memset(res, 0, sizeof *res);
	res->status = c.answer.status ? c.answer.status : 500;
	res->body = c.answer.body;
	res->len = c.answer.len;
	if (res->status == 503)
		res->retry_after_s = LIMIT_RETRY_AFTER_UNAVAILABLE_S;
}

void api_response_clear(struct api_response *res)
{
	free(res->body);
	memset(res, 0, sizeof *res);
}

char *api_errors_catalogue(size_t *len)
{
	json_t *list = json_array();
	for (int e = 1; e < ERR__COUNT; e++)
		json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "code",
						      err_code((enum err)e), "status",
						      err_http_status((enum err)e), "message",
						      err_message((enum err)e)));
	json_t *o = json_pack("{s:o}", "errors", list);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	*len = s ? strlen(s) : 0;
	return s;
}

static API_HANDLER(api_h_healthz)
{
	api_answer_json(json_pack("{s:s}", "status", "ok"), 200, &c->answer);
}

/* Alive: this process answers. Nothing else is asked, so a database
 * outage never gets a node restarted by its supervisor. */
static API_HANDLER(api_h_livez)
{
	api_answer_json(json_pack("{s:s}", "status", "ok"), 200, &c->answer);
}

/* Ready: every check of svc_ready holds; else 503 naming each one's state,
 * so a load balancer takes the node out and an operator sees why. */
static API_HANDLER(api_h_readyz)
{
	struct svc_readiness r;
	bool ok = svc_ready(c->api->svc, &r);
	api_answer_json(json_pack("{s:s, s:{s:s, s:s}}", "status", ok ? "ok" : "unavailable",
				  "checks", "database", r.database ? "ok" : "down", "workers",
				  r.workers ? "ok" : "down"),
			ok ? 200 : 503, &c->answer);
}

static API_HANDLER(api_h_errors)
{
	svc_answer_clear(&c->answer);
	c->answer.body = api_errors_catalogue(&c->answer.len);
	c->answer.status = c->answer.body ? 200 : 500;
}

/* ---- routing ----------------------------------------------------------- */

/* Match path against pattern; {id} takes one segment into id. */
static bool route_match(const char *pattern, const char *path, char id[UUID_STR_LEN + 1],
			bool *id_ok)
{
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (strncmp(p, "{id}", 4) == 0) {
			size_t n = strcspn(s, "/");
			if (n == 0)
				return false;
			if (n == UUID_STR_LEN) {
				memcpy(id, s, n);
				id[n] = '\0';
				*id_ok = uuid_valid(id);
				if (*id_ok)
					uuid_lower(id);
			} else {
				*id_ok = false; /* not a uuid: cannot exist, answers 404 */
			}
			s += n;
			p += 4;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static bool content_type_json(const char *ct)
{
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	const char *rest = ct + n;
	while (*rest == ' ')
		rest++;
	return *rest == '\0' || *rest == ';';
}

static bool idem_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > LIMIT_IDEMPOTENCY_KEY_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
			return false;
	return true;
}

static const char *bearer_token(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

/* Everything before the handler; false when an answer is already set. */
static bool api_prepare(struct api_call *c, const struct api_route *rt)
{
	const struct api_request *req = c->req;
	if (rt->auth) {
		enum err e = svc_authenticate(c->api->svc, bearer_token(req->authorization),
					      &c->auth);
		if (e) {
			api_fail(c, e, NULL);
			return false;
		}
		c->authenticated = true;
		if (svc_rate_check(c->api->svc, &c->auth, &c->retry_after_s) != ERR_OK) {
			api_fail(c, ERR_RATE_LIMITED, NULL);
			return false;
		}
		if (rt->cap && (c->auth.caps & rt->cap) == 0) {
			api_render_error(c, ERR_MISSING_CAPABILITY, NULL, &c->answer);
			return false;
		}
	}
	if (req->body_too_large) {
		api_fail(c, ERR_PAYLOAD_TOO_LARGE, NULL);
		return false;
	}
	bool post = strcmp(req->method, "POST") == 0;
	if (!post && strcmp(req->method, "PUT") != 0 && strcmp(req->method, "PATCH") != 0)
		return true;

	if ((req->body_len > 0 || req->content_type) && !content_type_json(req->content_type)) {
		api_fail(c, ERR_UNSUPPORTED_MEDIA_TYPE, NULL);
		return false;
	}
	if (post && req->idempotency_key) {
		if (!idem_key_ok(req->idempotency_key) ||
		    (rt->lumx && !uuid_valid(req->idempotency_key))) {
			api_fail(c, ERR_INVALID_IDEMPOTENCY_KEY, NULL);
			return false;
		}
		c->has_idem = true;
		c->idem.key = req->idempotency_key;
		snprintf(c->idem.endpoint, sizeof c->idem.endpoint, "POST %s", req->path);
	}
	enum err e = ERR_OK;
	char field[JD_PATH_MAX] = "";
	/* Actions (cancel, approve, reject) take no body: none means {}. */
	static const char empty[] = "{}";
	bool none = req->body_len == 0 && !req->content_type;
	c->body = none ? json_in_parse(empty, 2, &e)
		       : json_in_parse_at(req->body, req->body_len, &e, field);
	if (c->has_idem) {
		/* Same request = same JSON value: hash its canonical form, so
		 * whitespace and key order do not matter, with each number as
		 * written (0.1 and 0.10000000000000001 are different requests:
		 * metadata is kept as sent); raw bytes when it does not parse. */
		char *canon = !c->body ? NULL
			      : none   ? json_in_canonical(c->body)
				       : json_exact_canonical_of(c->body, req->body, req->body_len);
		if (canon) {
			crypto_sha256_hex(canon, strlen(canon), c->idem.request_hash);
			free(canon);
		} else if (c->body) {
			/* Out of memory: the raw bytes' hash would name another
			 * request than the canonical one a retry gets. */
			api_fail(c, ERR_INTERNAL, NULL);
			return false;
		} else {
			crypto_sha256_hex(req->body ? req->body : "", req->body_len,
					  c->idem.request_hash);
		}
		enum err re = svc_idem_replay(c->api->svc, &c->auth, &c->idem, &c->answer);
		if (re == ERR_OK)
			return false; /* replayed */
		if (re != ERR_NOT_FOUND) {
			api_fail(c, re, NULL);
			return false;
		}
	}
	if (!c->body) {
		api_reject(c, e, field[0] ? field : NULL);
		return false;
	}
	return true;
}

/* HEAD is GET without the body (RFC 9110 §9.3.2): it takes the GET route,
 * with its checks and handler, and the HTTP adapter sends only the headers. */
static bool route_serves(const struct api_route *rt, const char *method)
{
	return strcmp(rt->method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
}

/* The Allow header of a 405 (RFC 9110 §15.5.6): the methods the route
 * table serves on this path, in table order, HEAD right after GET. */
static void route_allow(const char *path, char out[API_ALLOW_MAX])
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof api_routes / sizeof *api_routes; i++) {
		char id[UUID_STR_LEN + 1];
		bool ok;
		if (!route_match(api_routes[i].pattern, path, id, &ok))
			continue;
		const char *m = api_routes[i].method;
		int w = snprintf(out + n, API_ALLOW_MAX - n, "%s%s%s", n ? ", " : "", m,
				 strcmp(m, "GET") == 0 ? ", HEAD" : "");
		/* The table has at most one route per method and path, so the
		 * six methods fit; a longer list would be our bug. */
		assert(w > 0 && (size_t)w < API_ALLOW_MAX - n);
		n += (size_t)w;
	}
}

/* --metrics-listen moves GET /metrics to a listener of its own, which
 * serves nothing else (struct api.metrics). */
static bool route_here(const struct api *api, const struct api_route *rt)
{
	bool metrics = rt->handler == api_h_metrics;
	switch (api->metrics) {
	case API_METRICS_ELSEWHERE:
		return !metrics;
	case API_METRICS_ONLY:
		return metrics;
	default:
		return true;
	}
}

void api_handle(struct api *api, const struct api_request *req, struct api_response *res)
{
	if (api->metrics != API_METRICS_ONLY && api_dashboard(req, res))
		return;
	struct api_call c = {.api = api, .req = req, .alloc_failures = json_in_alloc_failures()};
	const struct api_route *rt = NULL;
	bool path_known = false, id_ok = true;
	for (size_t i = 0; i < sizeof api_routes / sizeof *api_routes; i++) {
		bool ok = true;
		if (!route_here(api, &api_routes[i]) ||
		    !route_match(api_routes[i].pattern, req->path, c.id, &ok))
			continue;
		path_known = true;
		if (route_serves(&api_routes[i], req->method)) {
			rt = &api_routes[i];
			id_ok = ok;
			break;
		}
	}
	if (!rt) {
		api_fail(&c, path_known ? ERR_METHOD_NOT_ALLOWED : ERR_ROUTE_NOT_FOUND, NULL);
	} else if (api_prepare(&c, rt)) {
		if (!id_ok) /* a 404 is kept under the key (CONTRACT §7) */
			api_reject(&c, ERR_NOT_FOUND, NULL);
		else
			rt->handler(&c);
	}
	if (!c.answer.body)
		api_render_error(&c, ERR_INTERNAL, NULL, &c.answer);
	memset(res, 0, sizeof *res);
	res->status = c.answer.status;
	res->body = c.answer.body;
	res->len = c.answer.len;
	res->cached = c.answer.cached;
	res->content_type = c.content_type;
	res->metrics_route = rt ? (int)(rt - api_routes) + 1 : METRICS_ROUTE_UNMATCHED;
	if (c.authenticated)
		memcpy(res->principal_id, c.auth.principal_id, sizeof res->principal_id);
	res->www_authenticate = res->status == 401;
	snprintf(res->etag, sizeof res->etag, "%s", c.etag);
	if (!rt && path_known)
		route_allow(req->path, res->allow);
	/* Every 503 is passing (a lost database, a node not ready, a full
	 * queue): say when to come back rather than leave clients to guess. */
	if (res->status == 503)
		res->retry_after_s = LIMIT_RETRY_AFTER_UNAVAILABLE_S;
	if (res->status == 429)
		res->retry_after_s = c.retry_after_s > 0 ? c.retry_after_s : 1;
	if (res->status >= 500)
		log_error("api: %s %s answered %d (request %s)", req->method,
			  api_route_name(res->metrics_route), res->status, req->request_id);
	json_decref(c.body);
}
