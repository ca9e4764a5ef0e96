/*
 * api.h - the API surface: route table, handlers, JSON in and out, and
 * the one place where outcomes (enum err) become HTTP statuses.
 *
 * The HTTP adapter (src/http) parses nothing itself beyond what
 * libmicrohttpd gives it: it fills a struct api_request, calls
 * api_handle(), and writes back the struct api_response. So handlers can
 * be driven without a socket (unit tests, fuzzing).
 */
#ifndef OFFRAMP_API_API_H
#define OFFRAMP_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "base/uuid.h"
#include "service/service.h"

#define API_QUERY_MAX 16
#define API_ALLOW_MAX 64 /* "POST, GET, HEAD, PUT, PATCH, DELETE" and a NUL fit */

struct api_request {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* without the query string */
	struct {
		const char *key, *value; /* value may be "" */
	} query[API_QUERY_MAX];
	int nquery;
	bool query_overflow;       /* more than API_QUERY_MAX parameters */
	const char *authorization; /* header values, NULL when absent */
	const char *content_type;
	const char *idempotency_key;
	const char *if_match;
	const char *if_none_match; /* the dashboard's assets answer 304 on their ETag */
	bool body_too_large;       /* past LIMIT_BODY_BYTES: answered 413 after auth */
	const char *body;          /* NULL or len bytes, not NUL-terminated */
	size_t body_len;
	/* The client's X-Request-Id when sane (http/server.c), else a UUIDv7. */
	char request_id[LIMIT_REQUEST_ID_BYTES + 1];
};

struct api_response {
	int status;
	char *body; /* malloc'd, owned by the response */
	size_t len;
	bool cached;           /* X-Idempotency-Cached: true */
	bool www_authenticate; /* 401: WWW-Authenticate: Bearer */
	char etag[40];         /* "" for none */
	char allow[API_ALLOW_MAX]; /* 405: the path's methods ("GET, HEAD, POST"); else "" */
	int retry_after_s;     /* > 0: Retry-After (a 503 or 429: try again this soon) */
	/* static text; NULL: application/json (the dashboard's files, /metrics) */
	const char *content_type;
	const char *cache_control; /* static text; NULL: no-store */
	bool dashboard;            /* add the dashboard's CSP and security headers */
	int metrics_route;     /* metrics_http_observe's slot: 0 unmatched, else the route's */
	store_id principal_id; /* the authenticated principal (the log's); "" for none */
};

/* Where GET /metrics is served (serve --metrics-listen). */
enum api_metrics_where {
	API_METRICS_HERE = 0,  /* a route like the others */
	API_METRICS_ELSEWHERE, /* not here: /metrics answers 404 */
	API_METRICS_ONLY,      /* the metrics listener: /metrics and nothing else */
};

struct api {
	struct service *svc;
	enum api_metrics_where metrics;
};

/* Handle one request. Always fills res (status and a JSON body). */
void api_handle(struct api *api, const struct api_request *req, struct api_response *res);
void api_response_clear(struct api_response *res);

/* GET or HEAD of /dashboard or /dashboard/<file>: fills res with the
 * embedded file (or a 404/405 JSON error) and returns true; false for any
 * other path. The body is malloc'd, owned by res. Thread-safe. */
bool api_dashboard(const struct api_request *req, struct api_response *res);
/* What every dashboard answer carries (CONTRACT §15): nothing but our own
 * files, no inline script or style, never framed. */
#define API_DASHBOARD_CSP                                                                \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "     \
	"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


/* An error answer with no request context (used by the HTTP adapter for
 * 413 and the like). */
void api_error_response(enum err e, const char *request_id, struct api_response *res);

/* A session as GET shows it, as JSON text (malloc'd); the service's
 * event snapshots (struct service.session_snapshot). */
struct store_session;
char *api_session_snapshot(const struct store_session *s);

/* The canonical JSON of a validated destination (malloc'd): what is saved
 * and what GET shows (admin bulk-load saves one). */
struct destination;
char *api_destination_canonical(const struct destination *dst);
/* That text read back into the validated struct (struct
 * service.destination_read): false when it does not read as one. */
bool api_destination_read(const char *body, struct destination *out);

/* The status POST /off-ramp-sessions answers a created session with
 * (svc_bulk_request.created_status keeps it with loaded sessions). */
#define API_SESSION_CREATED_STATUS 201

/* An event's webhook payloads per format (struct service.hook_payloads). */
struct store_event;
struct svc_hook_payload;
int api_hook_payloads(const char *format, const struct store_session *s,
		      const struct store_event *ev, const char *ext,
		      struct svc_hook_payload *out);
/* Whether endpoint URLs may be on loopback (serve --webhook-allow-loopback). */
extern bool api_webhook_allow_loopback;

/* GET /metrics: the Prometheus text (exposition format 0.0.4) of every
 * series (docs/OPERATIONS.md), malloc'd, *len its length; NULL when out of
 * memory. */
#define API_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
char *api_metrics_text(struct api *api, size_t *len);

/* The route template of a metrics_route slot ("/off-ramp-sessions/{id}"),
 * "unmatched" for 0 or a slot out of range. Static. */
const char *api_route_name(int metrics_route);

/* The errors.json catalogue, built from base/errors.def. Owned by caller. */
char *api_errors_catalogue(size_t *len);

#endif
