/*
 * api_harness.h - the request pipeline without a socket, for the API fuzz
 * targets (fuzz_sessions_api, fuzz_lumx_api, fuzz_idempotency). Included
 * by one target each; everything here is static.
 *
 * A scratch SQLite database holds one tenant with a full-capability key
 * and fixtures made through the API itself at start: a client, its funded
 * account, a saved destination, a session, a pending approval, a webhook
 * endpoint; a Lumx customer (funded), destination, transaction, exchange
 * rate and partner fee. "@X" in a path or body stands for fixture X's id
 * (fx_ids below), so inputs reach handlers past the lookups.
 *
 * Routes come from the route table itself (api_metric_routes), so a new
 * route is fuzzed without touching this file; a surface is the set of
 * first path segments it owns (lumx_roots).
 *
 * Input: byte 0 the route (0xff: the first line is "METHOD /path?query",
 * anything), byte 1 flags (H_*), then lines: the path's tail (the {id}
 * segment, "" or "@" meaning the fixture; then "?query"), the
 * Idempotency-Key ("" = a fresh one), If-Match; the rest is the body.
 *
 * Checked on every answer (harness_check): status in 200..499; a JSON body
 * (but /metrics' text); an error is the envelope whose code's status is
 * the answer's. For a POST with a key and a kept answer (2xx, or an error
 * err_kept keeps): the same request again replays the same bytes, marked
 * cached; the body with whitespace added replays the same bytes when it is
 * JSON and is refused as idempotency_key_reused when it is not; a body
 * with one more member is idempotency_key_reused. Every 256 runs the
 * ledger verifies.
 */
#include <assert.h>
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "api/json_in.h"
#include "domain/capability.h"
#include "base/log.h"
#include "base/metrics.h"

/* No DNS from a fuzz run: names do not resolve, numeric hosts do (the
 * webhook URL check resolves the endpoint's host). */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
			      struct addrinfo **);
	static gai_fn real;
	if (!real)
		real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	struct addrinfo h = {0};
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

enum {
	H_IDEM = 1,         /* send an Idempotency-Key */
	H_NO_TYPE = 2,      /* no Content-Type */
	H_TEXT_TYPE = 4,    /* Content-Type: text/plain */
	H_IF_MATCH = 8,     /* send If-Match (line 3) */
	H_HEAD = 16,        /* HEAD for a GET route */
	H_WEAK_KEY = 32,    /* a key with ramps.read only */
	H_NO_KEY = 64,      /* no Authorization */
	H_TOO_LARGE = 128,  /* the adapter flagged the body as too large */
};

static struct store *h_st;
static struct service h_svc;
static struct api h_api;
static char h_key[128], h_weak_key[128];
static long h_runs;
static char h_db[64];

/* Fixture ids by letter. */
static char fx_ids[26][UUID_STR_LEN + 1];
#define FX(c) fx_ids[(c) - 'A']

static const char *const lumx_roots[] = {"customers", "destinations", "transactions",
					 "exchange-rates", "partner-fees", NULL};

static void h_cleanup(void)
{
	char p[80];
	store_close(h_st);
	unlink(h_db);
	snprintf(p, sizeof p, "%s-wal", h_db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", h_db);
	unlink(p);
}

/* "@X" -> fixture X's id; malloc'd, *n its length. */
static char *h_subst(const char *s, size_t len, size_t *n)
{
	char *out = malloc(len * (UUID_STR_LEN / 2 + 1) + 1);
	assert(out);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '@' && i + 1 < len && s[i + 1] >= 'A' && s[i + 1] <= 'Z' &&
		    FX(s[i + 1])[0]) {
			memcpy(out + o, FX(s[i + 1]), UUID_STR_LEN);
			o += UUID_STR_LEN;
			i++;
			continue;
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	*n = o;
	return out;
}

struct h_req {
	char method[16];
	char path[1024];
	char *qbuf; /* the query's storage */
	struct api_request r;
	char *body;
	size_t body_len;
	int lumx; /* the route's surface: 1 Lumx, 0 sessions */
};

/* Split "a=b&c" into r->query (no decoding: the adapter hands decoded
 * pairs, and any byte but NUL can be in them). */
static void h_query(struct h_req *q, const char *qs)
{
	q->qbuf = strdup(qs);
	assert(q->qbuf);
	char *p = q->qbuf;
	while (*p) {
		char *amp = strchr(p, '&');
		if (amp)
			*amp = '\0';
		char *eq = strchr(p, '=');
		if (eq)
			*eq = '\0';
		if (q->r.nquery == API_QUERY_MAX) {
			q->r.query_overflow = true;
		} else {
			q->r.query[q->r.nquery].key = p;
			q->r.query[q->r.nquery].value = eq ? eq + 1 : "";
			q->r.nquery++;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
}

static void h_req_free(struct h_req *q)
{
	free(q->qbuf);
	free(q->body);
	free((char *)q->r.idempotency_key);
	free((char *)q->r.if_match);
}

static int h_status(const char *method, const char *path, const char *body, const char *idem,
		    json_t **out)
{
	struct api_request r = {.method = method, .path = path, .authorization = h_key,
				.idempotency_key = idem, .body = body,
				.body_len = body ? strlen(body) : 0};
	if (body)
		r.content_type = "application/json";
	snprintf(r.request_id, sizeof r.request_id, "fuzz-init");
	struct api_response res;
	api_handle(&h_api, &r, &res);
	int status = res.status;
	if (out)
		*out = json_loadb(res.body, res.len, 0, NULL);
	api_response_clear(&res);
	return status;
}

/* POST (or PUT) with @ substituted; the answer's "id" into fixture c. */
static json_t *h_make(const char *method, const char *path, const char *body, char c)
{
	size_t n;
	char *b = h_subst(body, strlen(body), &n);
	char *p = h_subst(path, strlen(path), &n);
	char idem[UUID_STR_LEN + 1]; /* Lumx takes UUID keys only */
	assert(uuid_v7(idem));
	json_t *v = NULL;
	int st = h_status(method, p, b, strcmp(method, "POST") == 0 ? idem : NULL, &v);
	if (st >= 300) {
		fprintf(stderr, "fixture %c: %s %s answered %d: %s\n", c, method, p, st,
			v ? json_dumps(v, 0) : "?");
		abort();
	}
	const char *id = json_string_value(json_object_get(v, "id"));
	if (c && id)
		snprintf(FX(c), sizeof FX(c), "%s", id);
	free(b);
	free(p);
	return v;
}

/* The id after "<collection>/" in v[key]. */
static void h_ref(json_t *v, const char *key, char c)
{
	const char *s = json_string_value(json_object_get(v, key));
	assert(s && strchr(s, '/'));
	snprintf(FX(c), sizeof FX(c), "%s", strchr(s, '/') + 1);
}

#define SEPA_TYPED                                                                                 \
	"{\"method\":\"bank_transfer\",\"fiat_rail\":\"sepa_credit_transfer\",\"currency\":\"EUR\"," \
	"\"beneficiary_name\":\"Acme Treasury\",\"reference_hint\":null,\"bank_coordinates\":{"     \
	"\"scheme\":\"iban\",\"account_holder_name\":\"Acme Treasury\",\"bank_name\":\"Demo Bank\"," \
	"\"bic\":\"NWBKGB2L\",\"country\":\"GB\",\"iban\":\"GB29NWBK60161331926819\"}}"

#define H_SESSION_BODY(amount)                                                      \
	"{\"account_ref\":\"client-accounts/@A\",\"amount\":{\"currency\":\"USDC\","  \
	"\"value\":\"" amount "\"},\"destination\":{\"destination\":" SEPA_TYPED      \
	",\"fiat_rail\":\"sepa_credit_transfer\",\"method\":\"bank_transfer\","       \
	"\"payment_reference\":\"RF18539007547034\",\"route_owner_ref\":"             \
	"\"clients/@C\",\"withdrawal_destination_id\":\"@D\"},\"target_currency\":"   \
	"\"EUR\",\"target_rail\":\"fiat\"}"

static void h_fixtures(void)
{
	json_t *v;
	v = h_make("POST", "/clients", "{\"display_name\":\"Fuzz Co\"}", 'C');
	h_ref(v, "default_account_ref", 'A');
	json_decref(v);
	json_decref(h_make("POST", "/sandbox/deposits",
			   "{\"account_ref\":\"client-accounts/@A\",\"amount\":{\"currency\":"
			   "\"USDC\",\"value\":\"100000000.00\"}}", 0));
	json_decref(h_make("POST", "/withdrawal-destinations",
			   "{\"account_ref\":\"client-accounts/@A\",\"destination\":" SEPA_TYPED "}",
			   'D'));
	json_decref(h_make("POST", "/off-ramp-sessions", H_SESSION_BODY("250.00"), 'S'));
	json_decref(h_make("PUT", "/policies/off-ramp-approval",
			   "{\"threshold\":{\"currency\":\"USDC\",\"value\":\"5000.00\"}}", 0));
	v = h_make("POST", "/off-ramp-sessions", H_SESSION_BODY("6000.00"), 0);
	h_ref(v, "approval_ref", 'P');
	json_decref(v);
	json_decref(h_make("POST", "/webhook-endpoints",
			   "{\"url\":\"http://127.0.0.1:9/hook\",\"event_types\":[\"*\"],"
			   "\"format\":\"standard\"}", 'H'));

	v = h_make("POST", "/customers",
		   "{\"type\":\"BUSINESS\",\"legalName\":\"Acme Treasury GmbH\",\"country\":\"DEU\","
		   "\"email\":\"ops@acme.example\",\"taxId\":\"DE123456789\","
		   "\"incorporationDate\":\"2015-04-01\"}", 'K');
	h_ref(v, "accountRef", 'B');
	json_decref(v);
	json_decref(h_make("POST", "/sandbox/deposits",
			   "{\"account_ref\":\"client-accounts/@B\",\"amount\":{\"currency\":"
			   "\"USDC\",\"value\":\"100000000.00\"}}", 0));
	json_decref(h_make("POST", "/destinations",
			   "{\"customerId\":\"@K\",\"name\":\"SEPA account\",\"rail\":\"SEPA\","
			   "\"currency\":\"EUR\",\"identifier\":{\"iban\":\"DE89370400440532013000\","
			   "\"bic\":\"COBADEFFXXX\"},\"holder\":{\"type\":\"BUSINESS\","
			   "\"relationship\":\"SELF\",\"legalName\":\"Acme Treasury GmbH\","
			   "\"taxId\":\"DE123456789\",\"email\":\"treasury@acme.example\","
			   "\"incorporationDate\":\"2015-04-01\",\"address\":{\"line1\":"
			   "\"Unter den Linden 1\",\"city\":\"Berlin\",\"state\":\"BE\","
			   "\"postalCode\":\"10117\",\"country\":\"DEU\"}}}", 'L'));
	json_decref(h_make("POST", "/exchange-rates",
			   "{\"sourceCurrency\":\"USDC\",\"targetCurrency\":\"EUR\",\"type\":"
			   "\"LOCKED\",\"timeLock\":\"5m\"}", 'R'));
	json_decref(h_make("POST", "/partner-fees",
			   "{\"name\":\"fuzz\",\"basisPoints\":10,\"flatAmount\":\"0.50\","
			   "\"default\":false}", 'F'));
	json_decref(h_make("POST", "/transactions/off-ramp",
			   "{\"bankAccountId\":\"@L\",\"sourceCurrency\":\"USDC\","
			   "\"sourceAmount\":\"100.00\",\"purpose\":\"PERSONAL_ACCOUNT\"}", 'T'));
}

/* No lifecycle workers run here; /readyz asks whether they do. */
static bool h_workers_running(void *arg)
{
	(void)arg;
	return true;
}

static void h_init(void)
{
	snprintf(h_db, sizeof h_db, "/tmp/offramp-fuzz-api-%d.db", getpid());
	unlink(h_db);
	log_set_level(LOG_ERROR);
	const char *err;
	h_st = store_open_sqlite(h_db, &err);
	assert(h_st);
	h_svc = (struct service){.store = h_st, .fees = fees_default(), .sandbox = true,
				 .session_snapshot = api_session_snapshot,
				 .hook_payloads = api_hook_payloads,
				 .destination_read = api_destination_read,
				 .workers_running = h_workers_running};
	h_api.svc = &h_svc;
	api_webhook_allow_loopback = true;
	struct svc_new_key k, w;
	assert(svc_tenant_create(&h_svc, "fuzz", &k) == ERR_OK);
	snprintf(h_key, sizeof h_key, "Bearer %s", k.secret);
	assert(svc_api_key_create(&h_svc, k.tenant_id, CAP_RAMPS_READ, "service", &w) == ERR_OK);
	snprintf(h_weak_key, sizeof h_weak_key, "Bearer %s", w.secret);
	atexit(h_cleanup);
	h_fixtures();
}

static bool h_lumx_path(const char *pattern)
{
	for (const char *const *r = lumx_roots; *r; r++) {
		size_t n = strlen(*r);
		if (pattern[0] == '/' && strncmp(pattern + 1, *r, n) == 0 &&
		    (pattern[1 + n] == '/' || pattern[1 + n] == '\0'))
			return true;
	}
	return false;
}

/* The fixture a route's {id} names, by its first segment. */
static char h_fixture_of(const char *pattern)
{
	static const struct {
		const char *root;
		char c;
	} m[] = {{"/clients/", 'C'},      {"/client-accounts/", 'A'},
		 {"/withdrawal-destinations/", 'D'}, {"/off-ramp-sessions/", 'S'},
		 {"/approvals/", 'P'},     {"/webhook-endpoints/", 'H'},
		 {"/customers/", 'K'},     {"/destinations/", 'L'},
		 {"/transactions/", 'T'}};
	for (size_t i = 0; i < sizeof m / sizeof *m; i++)
		if (strncmp(pattern, m[i].root, strlen(m[i].root)) == 0)
			return m[i].c;
	return 'S';
}

/* The routes of one surface (lumx) or both (-1), in table order. */
static int h_routes(int lumx, const struct metrics_route **out, int max)
{
	int n, k = 0;
	const struct metrics_route *all = api_metric_routes(&n);
	for (int i = 0; i < n && k < max; i++)
		if (lumx < 0 || h_lumx_path(all[i].pattern) == (lumx == 1))
			out[k++] = &all[i];
	return k;
}

/* One line of data (up to '\n'), advancing; malloc'd text. */
static char *h_line(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	char *s = strndup((const char *)*data, n);
	assert(s);
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return s;
}

/* Build the request the input describes; false when it describes none. */
static bool h_build(const uint8_t *data, size_t size, int lumx, bool post_only,
		    struct h_req *q)
{
	memset(q, 0, sizeof *q);
	if (size < 2)
		return false;
	uint8_t sel = data[0], flags = data[1];
	data += 2;
	size -= 2;
	char *tail = h_line(&data, &size);
	char *idem = h_line(&data, &size);
	char *ifm = h_line(&data, &size);
	size_t n;
	char *t = h_subst(tail, strlen(tail), &n);
	char *qs = NULL;
	if (sel == 0xff && !post_only) {
		/* "METHOD /path?query" as sent. */
		char *sp = strchr(t, ' ');
		snprintf(q->method, sizeof q->method, "%.*s", sp ? (int)(sp - t) : 0, t);
		char *path = sp ? sp + 1 : t;
		qs = strchr(path, '?');
		if (qs)
			*qs++ = '\0';
		snprintf(q->path, sizeof q->path, "%s", path);
		q->lumx = h_lumx_path(q->path);
	} else {
		const struct metrics_route *rt[128];
		const struct metrics_route *pick[128];
		int nr = h_routes(lumx, rt, 128), np = 0;
		for (int i = 0; i < nr; i++)
			if (!post_only || strcmp(rt[i]->method, "POST") == 0)
				pick[np++] = rt[i];
		assert(np > 0);
		const struct metrics_route *r = pick[sel % np];
		snprintf(q->method, sizeof q->method, "%s",
			 flags & H_HEAD && strcmp(r->method, "GET") == 0 ? "HEAD" : r->method);
		qs = strchr(t, '?');
		if (qs)
			*qs++ = '\0';
		/* The pattern with {id} -> the tail's id, or the fixture's. */
		const char *brace = strstr(r->pattern, "{id}");
		if (brace)
			snprintf(q->path, sizeof q->path, "%.*s%s%s", (int)(brace - r->pattern),
				 r->pattern, t[0] && strcmp(t, "@") != 0 ? t
								       : FX(h_fixture_of(r->pattern)),
				 brace + 4);
		else
			snprintf(q->path, sizeof q->path, "%s", r->pattern);
		q->lumx = h_lumx_path(r->pattern);
	}
	h_query(q, qs ? qs : "");
	free(t);
	free(tail);

	q->body = h_subst((const char *)data, size, &q->body_len);
	q->r.method = q->method;
	q->r.path = q->path;
	q->r.authorization = flags & H_NO_KEY ? NULL : flags & H_WEAK_KEY ? h_weak_key : h_key;
	q->r.body = q->body;
	q->r.body_len = q->body_len;
	q->r.body_too_large = flags & H_TOO_LARGE;
	if (!(flags & H_NO_TYPE))
		q->r.content_type = flags & H_TEXT_TYPE ? "text/plain" : "application/json";
	if (flags & H_IDEM || post_only) {
		if (idem[0]) {
			q->r.idempotency_key = h_subst(idem, strlen(idem), &n);
		} else {
			char *k = malloc(UUID_STR_LEN + 1);
			assert(k && uuid_v7(k));
			q->r.idempotency_key = k;
		}
	}
	if (flags & H_IF_MATCH)
		q->r.if_match = strdup(ifm);
	snprintf(q->r.request_id, sizeof q->r.request_id, "fuzz-%ld", h_runs);
	free(idem);
	free(ifm);
	return true;
}

/* The error enum of a code string; ERR_OK when none has it. */
static enum err h_err_of(const char *code)
{
	for (int e = 1; e < ERR__COUNT; e++)
		if (strcmp(err_code((enum err)e), code) == 0)
			return (enum err)e;
	return ERR_OK;
}

/* Status and JSON shape of one answer; returns its error (ERR_OK on 2xx). */
static enum err h_check_answer(const struct api_request *r, const struct api_response *res)
{
	if (res->status < 200 || res->status >= 500) {
		fprintf(stderr, "%s %s answered %d: %.*s\n", r->method, r->path, res->status,
			(int)res->len, res->body ? res->body : "");
		abort();
	}
	assert(res->body && res->len > 0);
	if (res->content_type) /* /metrics: text */
		return ERR_OK;
	json_error_t je;
	json_t *v = json_loadb(res->body, res->len, 0, &je);
	assert(v);
	enum err e = ERR_OK;
	if (res->status >= 300) {
		const char *code = json_string_value(json_object_get(v, "code"));
		assert(code && json_is_string(json_object_get(v, "message")) &&
		       json_is_object(json_object_get(v, "details")));
		e = h_err_of(code);
		assert(e != ERR_OK && err_http_status(e) == res->status);
	}
	json_decref(v);
	return e;
}

static void h_send(const struct api_request *r, struct api_response *res)
{
	api_handle(&h_api, r, res);
	(void)h_check_answer(r, res);
}

/* body with a space after every structural character outside strings:
 * the same JSON value when body is JSON. */
static char *h_spaced(const char *body, size_t len, size_t *n)
{
	char *out = malloc(2 * len + 2);
	assert(out);
	size_t o = 0;
	bool str = false, esc = false;
	out[o++] = ' ';
	for (size_t i = 0; i < len; i++) {
		char ch = body[i];
		out[o++] = ch;
		if (str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				str = false;
			continue;
		}
		if (ch == '"')
			str = true;
		else if (ch == '{' || ch == '[' || ch == ',' || ch == ':')
			out[o++] = '\n';
	}
	*n = o;
	return out;
}

static bool h_same(const struct api_response *a, const struct api_response *b)
{
	return a->status == b->status && a->len == b->len && memcmp(a->body, b->body, a->len) == 0;
}

/* The properties of one request, the replays included; the first
 * answer's error (ERR_OK for a success). */
static enum err harness_check(struct h_req *q)
{
	struct api_response res, again;
	api_handle(&h_api, &q->r, &res);
	enum err e = h_check_answer(&q->r, &res);
	bool post = strcmp(q->method, "POST") == 0;
	bool kept = res.status < 300 || err_kept(e);
	/* A key is taken (and answers are kept) only past the checks before
	 * it: the route, the principal, the size, the content type, the key. */
	bool keyed = post && q->r.idempotency_key && e != ERR_ROUTE_NOT_FOUND &&
		     e != ERR_METHOD_NOT_ALLOWED && e != ERR_UNAUTHENTICATED &&
		     e != ERR_MISSING_CAPABILITY && e != ERR_PAYLOAD_TOO_LARGE &&
		     e != ERR_UNSUPPORTED_MEDIA_TYPE && e != ERR_INVALID_IDEMPOTENCY_KEY &&
		     !res.cached;
	if (keyed && kept) {
		h_send(&q->r, &again);
		if (!(h_same(&res, &again) && again.cached)) {
			fprintf(stderr, "replay of %s %s: %d %.*s then %d %.*s\n", q->method,
				q->path, res.status, (int)res.len, res.body, again.status,
				(int)again.len, again.body);
			abort();
		}
		api_response_clear(&again);

		enum err pe = ERR_OK;
		json_t *parsed = q->body_len || q->r.content_type
					 ? json_in_parse(q->body, q->body_len, &pe)
					 : NULL;
		bool has_body = q->body_len > 0;
		if (has_body && q->r.content_type) {
			struct api_request v = q->r;
			size_t n;
			char *sp = h_spaced(q->body, q->body_len, &n);
			v.body = sp;
			v.body_len = n;
			h_send(&v, &again);
			if (parsed)
				assert(h_same(&res, &again) && again.cached);
			else
				assert(again.status == 409 &&
				       strstr(again.body, "\"idempotency_key_reused\""));
			api_response_clear(&again);
			free(sp);
		}
		if (parsed && json_is_object(parsed) && json_object_size(parsed) > 0 &&
		    !json_object_get(parsed, "zzFuzz")) {
			/* One member more: another request under the same key. */
			const char *open = memchr(q->body, '{', q->body_len);
			assert(open);
			size_t at = (size_t)(open - q->body) + 1;
			char *other = malloc(q->body_len + 32);
			assert(other);
			memcpy(other, q->body, at);
			int w = sprintf(other + at, "\"zzFuzz\":1,");
			memcpy(other + at + w, q->body + at, q->body_len - at);
			struct api_request v = q->r;
			v.body = other;
			v.body_len = q->body_len + (size_t)w;
			h_send(&v, &again);
			assert(again.status == 409 &&
			       strstr(again.body, "\"idempotency_key_reused\""));
			api_response_clear(&again);
			free(other);
		}
		json_decref(parsed);
	}
	api_response_clear(&res);
	if (++h_runs % 256 == 0) {
		struct svc_ledger_report rep;
		assert(svc_verify_ledger(&h_svc, &rep) == ERR_OK && rep.ok);
	}
	return e;
}
