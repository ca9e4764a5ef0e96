/*
 * server.c - libmicrohttpd adapter.
 *
 * Threading: MHD's internal thread pool (epoll where available). A read
 * (GET, HEAD) runs its handler on the pool thread. A write runs it on a
 * fiber (base/fiber.h): when the handler waits for its commit, the fiber
 * parks, the connection is suspended (MHD_suspend_connection) and the
 * thread serves other connections; the committer's wake resumes the
 * connection, and libmicrohttpd calls the handler again, which runs the
 * fiber on from where it parked. So thousands of writes can wait for
 * their commits at once, on a few threads, and share those commits. The
 * suspend happens while the waiter's lock is held (fiber.h's on_park), so
 * a wake never comes before its suspend. One more thread, the reaper,
 * enforces the deadlines below.
 *
 * Connection caps: --max-connections in all and --max-connections-per-ip
 * from one client address (libmicrohttpd's own counts; past either it
 * closes the new connection at once). The per-address cap is below the
 * total, so one address at its cap cannot keep others (or /healthz) out.
 * The open-file limit is raised at start to the total plus
 * LIMIT_FD_RESERVE, and polling is epoll (else poll), never select(),
 * whose FD_SETSIZE would cap descriptors at 1024.
 *
 * Deadlines: libmicrohttpd's connection timeout is an idle timeout that
 * every byte resets, so a client trickling one header byte every few
 * seconds would hold its connection for ever. Each connection therefore
 * has a slot (made in the connect notification, freed in the close one)
 * holding its phase and a deadline: headers within --header-timeout-ms of
 * the connection's start (or of the previous answer, on a keep-alive
 * connection), the body within as long again of the headers. No deadline
 * runs while a request is handled and answered. A reaper thread checks
 * the slots every LIMIT_DEADLINE_TICK_MS and shuts down the socket of a
 * connection past its deadline; libmicrohttpd then reads end-of-file and
 * closes it as a client abort (nothing handled, so no effect). The slot
 * mutex is held for the shutdown and for the close notification, which
 * libmicrohttpd sends before it closes the descriptor, so the reaper never
 * shuts down a descriptor that was reused.
 *
 * Log: an attack makes libmicrohttpd log a line per connection; refusals
 * over a cap, cut-offs and lines past LIMIT_HTTP_LOG_LINES_PER_S are
 * counted instead and reported once a second.
 *
 * Request size: a request target (path and query, as sent) over
 * LIMIT_URL_BYTES is answered 414, header fields over LIMIT_HEADER_BYTES
 * 431, both with the JSON error body and before any key is looked at. The
 * target's length is taken in the URI log callback, where libmicrohttpd
 * still has it whole. Past LIMIT_HEADER_POOL_BYTES (the connection's
 * memory) the request never reaches us: libmicrohttpd answers 414 or 431
 * itself, with its own short HTML body, and closes the connection.
 *
 * Body cap: a Content-Length over LIMIT_BODY_BYTES is answered 413 before
 * any body is read; a chunked body is counted as it arrives and answered
 * 413 once it passes the cap, without buffering the excess.
 *
 * Graceful stop: MHD_quiesce_daemon closes the listening socket, then we
 * wait until the in-flight counter reaches zero (or the drain time runs
 * out) before MHD_stop_daemon. A write still parked then (its commit
 * never came) has its connection resumed and closed, as libmicrohttpd
 * requires before stopping, and its request and fiber are left to the
 * committer, which may still wake it (the wake then does nothing). A request whose handler has run gets up to
 * LIMIT_SHUTDOWN_DRAIN_MS for its answer to go out; one whose body is still
 * arriving gets LIMIT_SHUTDOWN_UPLOAD_MS to finish sending it (and is then
 * handled), so a client that stalls or vanishes mid-body cannot hold the
 * shutdown for long. Neither has had an effect until it is handled.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/fiber.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/internal.h"

/* Where a connection is; the deadline runs in HEADERS and BODY only. */
enum http_phase {
	HTTP_PHASE_FREE,    /* slot unused */
	HTTP_PHASE_HEADERS, /* waiting for a request's headers */
	HTTP_PHASE_BODY,    /* headers in, body arriving */
	HTTP_PHASE_ANSWER,  /* handled, answer going out: no deadline */
	HTTP_PHASE_CUT,     /* past its deadline, socket shut down */
};

struct http_conn {
	MHD_socket fd;
	enum http_phase phase;
	uint64_t deadline_ms; /* clock_mono_ms(); HEADERS and BODY only */
	size_t target_len;    /* the current request's target as sent (its thread's only) */
	struct http_conn *next_free;
};

struct http_server {
	struct MHD_Daemon *d;
	struct api *api;
	atomic_int inflight;  /* handler has run, answer not yet delivered */
	atomic_int uploading; /* headers in, body still arriving */
	unsigned header_timeout_ms;
	unsigned max_connections, max_per_ip;

	/* Connection slots, one per connection libmicrohttpd may hold. */
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the reaper's tick, or stop */
	struct http_conn *conns;
	struct http_conn *free_conns;
	bool stopping;
	bool closing; /* the drain is over: no request is handled any more */
	bool reaper_started;
	pthread_t reaper;
	atomic_uint refused; /* over a cap (counted from libmicrohttpd's log), not yet logged */
	/* libmicrohttpd logs a line per aborted connection: a client could
	 * fill the log, so at most LIMIT_HTTP_LOG_LINES_PER_S a second. */
	_Atomic uint64_t log_second;
	atomic_uint log_lines, log_dropped;

	/* Writes parked on their commits, their connections suspended. Its
	 * own lock, taken inside the committer's (fiber.h's hooks run under
	 * it) and never around anything but suspend and resume. */
	pthread_mutex_t park_mu;
	struct http_req *parked;
};

struct http_req {
	struct api_request r;
	char *body;
	size_t len;
	bool too_large;
	bool dispatched; /* counted in inflight: the handler has run */
	uint64_t start_us; /* headers in: latency and the duration histogram */
	uint64_t latency_us; /* to the answer queued */
	int status;
	int route;          /* the answer's metrics_route slot, for the log */
	store_id principal; /* the answer's authenticated principal, "" for none */
	char method[16];
	/* A write's fiber, its hooks and its answer (see Threading). */
	struct fiber *fiber;
	struct fiber_hooks hooks;
	struct api_response res;
	struct http_server *srv;
	struct MHD_Connection *conn;
	bool suspended; /* under park_mu */
	bool orphan;    /* the server stopped while it was parked */
	struct http_req *park_prev, *park_next;
};

/* Requests whose fiber was still parked when the server stopped: kept
 * (not freed) because the committer may yet wake them. */
static pthread_mutex_t http_orphans_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_req *http_orphans;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct api_request *r = cls;
	if (r->nquery >= API_QUERY_MAX) {
		r->query_overflow = true;
		return MHD_NO;
	}
	r->query[r->nquery].key = key;
	r->query[r->nquery].value = value ? value : "";
	r->nquery++;
	return MHD_YES;
}

/* Move conn to phase: HEADERS and BODY start a deadline from now, ANSWER
 * stops it. A connection that was cut stays cut: returns false, and its
 * request must not be handled (its client was told nothing). */
static bool conn_enter(struct http_server *s, struct MHD_Connection *conn, enum http_phase phase)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *c = ci ? ci->socket_context : NULL;
	pthread_mutex_lock(&s->mu);
	/* Once the drain is over, libmicrohttpd is stopping and would drop
	 * any answer queued now: a request not yet handled is not handled
	 * at all, so no effect happens whose answer is lost. */
	bool live = !(phase == HTTP_PHASE_ANSWER && s->closing) &&
		    (!c || c->phase != HTTP_PHASE_CUT);
	if (live && c) {
		c->phase = phase;
		c->deadline_ms = phase == HTTP_PHASE_ANSWER ? 0 : clock_mono_ms() + s->header_timeout_ms;
	}
	pthread_mutex_unlock(&s->mu);
	return live;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	pthread_mutex_lock(&s->mu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct http_conn *c = s->free_conns;
		if (c && ci) {
			s->free_conns = c->next_free;
			*c = (struct http_conn){.fd = ci->connect_fd, .phase = HTTP_PHASE_HEADERS,
						.deadline_ms = clock_mono_ms() + s->header_timeout_ms};
			*socket_context = c;
		} else if (ci) {
			/* libmicrohttpd holds no more than max_connections, one
			 * slot each; should it ever hold more, the extra one
			 * goes rather than live without a deadline. */
			shutdown(ci->connect_fd, SHUT_RDWR);
			atomic_fetch_add(&s->refused, 1);
		}
	} else if (*socket_context) {
		struct http_conn *c = *socket_context;
		*c = (struct http_conn){.fd = MHD_INVALID_SOCKET, .phase = HTTP_PHASE_FREE,
					.next_free = s->free_conns};
		s->free_conns = c;
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&s->mu);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request target as sent, before the
 * path and the query are split and decoded. Leaves *con_cls NULL. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *c = ci ? ci->socket_context : NULL;
	if (c)
		c->target_len = uri ? strlen(uri) : 0;
	return NULL;
}

static size_t target_len(struct MHD_Connection *conn, const char *url)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const struct http_conn *c = ci ? ci->socket_context : NULL;
	return c ? c->target_len : strlen(url);
}

static enum MHD_Result add_header_bytes(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	size_t *n = cls;
	*n += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	return MHD_YES;
}

/* The header fields' bytes as sent (near enough: names, values, separators). */
static size_t header_bytes(struct MHD_Connection *conn)
{
	size_t n = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_bytes, &n);
	return n;
}

/* Log what was counted since the last report: connections cut off,
 * refused over a cap, libmicrohttpd lines not logged. */
static void reaper_report(struct http_server *s, unsigned *cut_headers, unsigned *cut_body)
{
	unsigned refused = atomic_exchange(&s->refused, 0);
	unsigned dropped = atomic_exchange(&s->log_dropped, 0);
	if (*cut_headers || *cut_body)
		log_warn("http: cut off %u connections still sending headers and %u still sending "
			 "a body after %u ms",
			 *cut_headers, *cut_body, s->header_timeout_ms);
	if (refused)
		log_warn("http: refused %u connections over the caps (%u in all, %u per address)",
			 refused, s->max_connections, s->max_per_ip);
	if (dropped)
		log_warn("http: %u more libmicrohttpd messages not logged (at most %d a second)",
			 dropped, LIMIT_HTTP_LOG_LINES_PER_S);
	*cut_headers = *cut_body = 0;
}

/* Every tick, shut down each connection past its deadline; report once a
 * second at most, so that an attack cannot flood the log. */
static void *reaper_main(void *arg)
{
	struct http_server *s = arg;
	unsigned cut_headers = 0, cut_body = 0;
	uint64_t reported_ms = clock_mono_ms();
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		uint64_t now = clock_mono_ms();
		for (unsigned i = 0; i < s->max_connections; i++) {
			struct http_conn *c = &s->conns[i];
			if ((c->phase != HTTP_PHASE_HEADERS && c->phase != HTTP_PHASE_BODY) ||
			    now < c->deadline_ms)
				continue;
			*(c->phase == HTTP_PHASE_HEADERS ? &cut_headers : &cut_body) += 1;
			c->phase = HTTP_PHASE_CUT;
			shutdown(c->fd, SHUT_RDWR);
		}
		if (now - reported_ms >= 1000) {
			pthread_mutex_unlock(&s->mu);
			reaper_report(s, &cut_headers, &cut_body);
			reported_ms = now;
			pthread_mutex_lock(&s->mu);
		}
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += LIMIT_DEADLINE_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!s->stopping)
			pthread_cond_timedwait(&s->wake, &s->mu, &until);
	}
	pthread_mutex_unlock(&s->mu);
	reaper_report(s, &cut_headers, &cut_body);
	return NULL;
}

/* A client's id is kept when it could not bend a log line or a header:
 * 1..LIMIT_REQUEST_ID_BYTES of letters, digits and - _ . : (a UUID, a
 * trace id), not shaped like one of our secrets. Anything else is
 * replaced, not cleaned: a half-kept id would match neither side's records. */
static bool request_id_sane(const char *v)
{
	size_t n = 0;
	for (; v[n]; n++) {
		unsigned char ch = (unsigned char)v[n];
		if (n >= LIMIT_REQUEST_ID_BYTES ||
		    !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      ch == '-' || ch == '_' || ch == '.' || ch == ':'))
			return false;
	}
	/* A client that sends its API key or a webhook secret as its request
	 * id must not get it logged: ids shaped like our secrets are replaced. */
	return n > 0 && strncmp(v, "ofr_sk_", 7) != 0 && strncmp(v, "whsec_", 6) != 0;
}

void http_request_id(struct MHD_Connection *conn, char out[LIMIT_REQUEST_ID_BYTES + 1])
{
	const char *in = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (in && request_id_sane(in))
		snprintf(out, LIMIT_REQUEST_ID_BYTES + 1, "%s", in);
	else if (!uuid_v7(out))
		snprintf(out, LIMIT_REQUEST_ID_BYTES + 1, "unknown");
}

struct MHD_Response *http_response_of(struct api_response *res, const char *request_id)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(res->len, res->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		api_response_clear(res);
		return NULL;
	}
	res->body = NULL; /* now MHD's, freed with free() */
	MHD_add_response_header(resp, "Content-Type",
				res->content_type ? res->content_type : "application/json");
	MHD_add_response_header(resp, "X-Request-Id", request_id);
	MHD_add_response_header(resp, "Cache-Control",
				res->cache_control ? res->cache_control : "no-store");
	if (res->dashboard) {
		MHD_add_response_header(resp, "Content-Security-Policy", API_DASHBOARD_CSP);
		MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	}
	if (res->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (res->cached)
		MHD_add_response_header(resp, "X-Idempotency-Cached", "true");
	if (res->etag[0])
		MHD_add_response_header(resp, "ETag", res->etag);
	if (res->allow[0])
		MHD_add_response_header(resp, "Allow", res->allow);
	if (res->retry_after_s > 0) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", res->retry_after_s);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	return resp;
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, struct http_req *hr,
				   struct api_response *res)
{
	/* Counted when queued: what the client waits for is this answer. */
	hr->latency_us = clock_mono_us() - hr->start_us;
	metrics_http_observe(res->metrics_route, res->status, hr->latency_us);
	hr->status = res->status;
	hr->route = res->metrics_route;
	memcpy(hr->principal, res->principal_id, sizeof hr->principal);
	struct MHD_Response *resp = http_response_of(res, hr->r.request_id);
	if (!resp)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct http_req *hr, enum err e)
{
	struct api_response res;
	api_error_response(e, hr->r.request_id, &res);
	return send_answer(conn, hr, &res);
}

/* ---- writes on fibers (see Threading) ----------------------------------- */

static void run_api(void *arg)
{
	struct http_req *hr = arg;
	api_handle(hr->srv->api, &hr->r, &hr->res);
}

/* On the connection's thread, inside the handler, as the fiber parks. */
static void on_park(void *ctx)
{
	struct http_req *hr = ctx;
	struct http_server *s = hr->srv;
	pthread_mutex_lock(&s->park_mu);
	MHD_suspend_connection(hr->conn);
	hr->suspended = true;
	hr->park_prev = NULL;
	hr->park_next = s->parked;
	if (s->parked)
		s->parked->park_prev = hr;
	s->parked = hr;
	pthread_mutex_unlock(&s->park_mu);
}

static void park_unlink(struct http_server *s, struct http_req *hr)
{
	if (hr->park_prev)
		hr->park_prev->park_next = hr->park_next;
	else
		s->parked = hr->park_next;
	if (hr->park_next)
		hr->park_next->park_prev = hr->park_prev;
	hr->park_prev = hr->park_next = NULL;
	hr->suspended = false;
}

/* On the waking thread (the committer). */
static void on_wake(void *ctx)
{
	struct http_req *hr = ctx;
	struct http_server *s = hr->srv;
	pthread_mutex_lock(&s->park_mu);
	if (hr->suspended && !hr->orphan) {
		park_unlink(s, hr);
		MHD_resume_connection(hr->conn);
	}
	pthread_mutex_unlock(&s->park_mu);
}

static enum MHD_Result continue_fiber(struct MHD_Connection *conn, struct http_req *hr)
{
	if (hr->orphan)
		return MHD_NO; /* the server is stopping: close the connection */
	if (fiber_run(hr->fiber) == FIBER_PARKED)
		return MHD_YES; /* suspended in on_park; called again once woken */
	fiber_free(hr->fiber);
	hr->fiber = NULL;
	return send_answer(conn, hr, &hr->res);
}

/* Before MHD_stop_daemon, which must find no connection suspended. */
static void resume_parked(struct http_server *s)
{
	pthread_mutex_lock(&s->park_mu);
	int n = 0;
	while (s->parked) {
		struct http_req *hr = s->parked;
		park_unlink(s, hr);
		hr->orphan = true;
		MHD_resume_connection(hr->conn);
		n++;
	}
	pthread_mutex_unlock(&s->park_mu);
	if (n)
		log_warn("http: closing %d connections whose writes are still waiting for a commit",
			 n);
}

/* Fill the request from the connection and hand it to the api. */
static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *conn,
				struct http_req *hr, const char *url, const char *method)
{
	struct api_request *r = &hr->r;
	r->method = method;
	r->path = url;
	r->nquery = 0;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, r);
	r->authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	r->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	r->idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
	r->if_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-Match");
	r->if_none_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
	r->body_too_large = hr->too_large;
	r->body = hr->too_large ? NULL : hr->body;
	r->body_len = hr->too_large ? 0 : hr->len;
	/* The last byte may arrive as the reaper cuts the connection off:
	 * then nothing is handled, as for any other cut-off request. */
	if (!conn_enter(s, conn, HTTP_PHASE_ANSWER))
		return MHD_NO;
	hr->dispatched = true;
	atomic_fetch_add(&s->inflight, 1);
	atomic_fetch_sub(&s->uploading, 1);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !hr->too_large) {
		hr->fiber = fiber_new(run_api, hr, &hr->hooks);
		if (hr->fiber) /* else (out of memory) it runs here, as a read does */
			return continue_fiber(conn, hr);
	}
	api_handle(s->api, r, &hr->res);
	return send_answer(conn, hr, &hr->res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *hr = *con_cls;
	if (hr && hr->fiber)
		return continue_fiber(conn, hr);
	if (!hr) {
		hr = calloc(1, sizeof *hr);
		if (!hr)
			return MHD_NO;
		*con_cls = hr;
		hr->srv = s;
		hr->conn = conn;
		hr->hooks = (struct fiber_hooks){.on_park = on_park, .on_wake = on_wake, .ctx = hr};
		atomic_fetch_add(&s->uploading, 1);
		(void)conn_enter(s, conn, HTTP_PHASE_BODY); /* headers are in */
		hr->start_us = clock_mono_us();
		snprintf(hr->method, sizeof hr->method, "%s", method);
		http_request_id(conn, hr->r.request_id);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (target_len(conn, url) > LIMIT_URL_BYTES || strlen(url) > LIMIT_URL_BYTES)
			return send_error(conn, hr, ERR_URI_TOO_LONG);
		if (header_bytes(conn) > LIMIT_HEADER_BYTES)
			return send_error(conn, hr, ERR_HEADERS_TOO_LARGE);
		if (cl && strtoull(cl, NULL, 10) > LIMIT_BODY_BYTES) {
			/* Answer now, without reading the body; the api still
			 * checks route, key and capability first. */
			hr->too_large = true;
			return dispatch(s, conn, hr, url, method);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (hr->too_large || hr->len + n > LIMIT_BODY_BYTES) {
			hr->too_large = true;
			free(hr->body);
			hr->body = NULL;
			return MHD_YES;
		}
		char *nb = realloc(hr->body, hr->len + n);
		if (!nb)
			return MHD_NO;
		memcpy(nb + hr->len, upload_data, n);
		hr->body = nb;
		hr->len += n;
		return MHD_YES;
	}
	return dispatch(s, conn, hr, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *hr = *con_cls;
	if (!hr)
		return;
	log_request(&(struct log_request){
		.request_id = hr->r.request_id,
		.method = hr->method,
		.route = api_route_name(hr->route),
		.principal = hr->principal,
		.status = hr->status,
		.latency_us = hr->status ? hr->latency_us : clock_mono_us() - hr->start_us,
		.ended_early = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK});
	atomic_fetch_sub(hr->dispatched ? &s->inflight : &s->uploading, 1);
	*con_cls = NULL;
	if (hr->fiber) {
		/* Closed while parked (orphaned at stop, or the client went):
		 * its fiber and this request may still be woken. */
		pthread_mutex_lock(&http_orphans_mu);
		hr->park_next = http_orphans;
		http_orphans = hr;
		pthread_mutex_unlock(&http_orphans_mu);
	} else {
		api_response_clear(&hr->res);
		free(hr->body);
		free(hr);
	}
	/* On a keep-alive connection the next request's headers are due
	 * within the deadline from now. */
	(void)conn_enter(s, conn, HTTP_PHASE_HEADERS);
}

/*
 * Percent-decoding of the path and query, in place. Everything is decoded
 * as libmicrohttpd would, except %00: a decoded NUL would silently cut a C
 * string short ("/clients/<id>%00junk" read as "/clients/<id>"), so it is
 * left as the three characters "%00", which no id, number or reference
 * can contain.
 */
static size_t unescape_no_nul(void *cls, struct MHD_Connection *c, char *s)
{
	char *r = s, *w = s;
	while (*r) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	/* One line per connection refused over a cap would let a client fill
	 * the log; the reaper logs their count instead. */
	if (strstr(fmt, "reached connection limit")) {
		atomic_fetch_add(&s->refused, 1);
		return;
	}
	/* A racy reset of the window only lets a line or two more through. */
	uint64_t second = clock_mono_ms() / 1000;
	if (atomic_exchange(&s->log_second, second) != second)
		atomic_store(&s->log_lines, 0);
	if (atomic_fetch_add(&s->log_lines, 1) >= LIMIT_HTTP_LOG_LINES_PER_S) {
		atomic_fetch_add(&s->log_dropped, 1);
		return;
	}
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("microhttpd: %s", line);
}

bool http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
		       bool *v6)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || strlen(colon + 1) == 0)
		return false;
	size_t hl = (size_t)(colon - listen);
	if (hl >= sizeof host)
		return false;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	*v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return true;
}

/* Raise the open-file limit to what want connections need; returns how many
 * connections fit (want, unless the hard limit is lower). */
static unsigned fd_limit_fit(unsigned want)
{
	const rlim_t need = (rlim_t)want + LIMIT_FD_RESERVE;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want; /* cannot tell: accept() will say */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit up = rl;
		up.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return want;
	unsigned fit = rl.rlim_cur > 2 * LIMIT_FD_RESERVE ? (unsigned)(rl.rlim_cur - LIMIT_FD_RESERVE)
							    : (unsigned)(rl.rlim_cur / 2);
	log_warn("http: the open-file limit is %llu (hard %llu): serving %u connections, not %u",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, fit, want);
	return fit;
}

/* epoll, else poll: select() cannot watch a descriptor past FD_SETSIZE,
 * and libmicrohttpd closes every connection that gets one. Returns the
 * flag, and lowers *max to what select() can watch when it is all there is. */
static unsigned polling_flag(unsigned *max)
{
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		return MHD_USE_EPOLL;
	if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
		return MHD_USE_POLL;
	if (*max > FD_SETSIZE / 2) {
		log_warn("http: libmicrohttpd has only select(): serving %u connections, not %u",
			 (unsigned)(FD_SETSIZE / 2), *max);
		*max = FD_SETSIZE / 2;
	}
	return 0;
}

static void server_free(struct http_server *s)
{
	if (s->reaper_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->reaper, NULL);
	}
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->park_mu);
	free(s->conns);
	free(s);
}

struct http_server *http_start(const struct http_config *cfg, struct api *api)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6 = false;
	if (!http_parse_listen(cfg->listen, &ss, &sl, &v6)) {
		log_error("http: cannot parse listen address '%s' (want HOST:PORT)", cfg->listen);
		return NULL;
	}
	struct http_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->park_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	s->api = api;
	s->header_timeout_ms = cfg->header_timeout_ms;
	unsigned threads = cfg->threads;
	if (threads < 1)
		threads = 1;
	if (threads > LIMIT_HTTP_THREADS_MAX)
		threads = LIMIT_HTTP_THREADS_MAX;
	unsigned max = cfg->max_connections;
	if (max < 1 || max > LIMIT_CONNECTIONS_MAX)
		max = LIMIT_CONNECTIONS_DEFAULT;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			 polling_flag(&max);
	unsigned asked = max;
	max = fd_limit_fit(max);
	s->max_connections = max;
	s->max_per_ip = cfg->max_per_ip < 1 || cfg->max_per_ip > max ? max : cfg->max_per_ip;
	/* The open-file limit lowered the total: one address must still
	 * leave room for every other (CONTRACT §12). */
	if (max < asked && s->max_per_ip > max / 2 && max > 1) {
		s->max_per_ip = max / 2;
		log_warn("http: serving at most %u connections per address", s->max_per_ip);
	}
	s->conns = calloc(max, sizeof *s->conns);
	if (!s->conns) {
		server_free(s);
		return NULL;
	}
	for (unsigned i = max; i-- > 0;) {
		s->conns[i] = (struct http_conn){.fd = MHD_INVALID_SOCKET, .next_free = s->free_conns};
		s->free_conns = &s->conns[i];
	}
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		log_error("http: cannot start the deadline thread");
		server_free(s);
		return NULL;
	}
	s->reaper_started = true;
	if (v6)
		flags |= MHD_USE_IPv6;
	uint16_t port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	s->d = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, max,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_HEADER_POOL_BYTES,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_no_nul, NULL,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		MHD_OPTION_END);
	if (!s->d) {
		log_error("http: cannot listen on %s", cfg->listen);
		server_free(s);
		return NULL;
	}
	log_info("http: listening on %s with %u threads (%s), at most %u connections, %u per "
		 "address, headers and body within %u ms each",
		 cfg->listen, threads,
		 flags & MHD_USE_EPOLL ? "epoll" : flags & MHD_USE_POLL ? "poll" : "select", max,
		 s->max_per_ip, s->header_timeout_ms);
	return s;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	/* The listening socket is ours after quiesce, but in thread-pool
	 * epoll mode the pool threads take it out of their epoll sets
	 * asynchronously: closing it now races them (libmicrohttpd aborts
	 * with "Failed to remove listen FD from epoll set"). Close it only
	 * after MHD_stop_daemon has joined them. */
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	uint64_t start = clock_mono_ms();
	for (;;) {
		uint64_t waited = clock_mono_ms() - start;
		bool handled = atomic_load(&s->inflight) > 0 && waited < LIMIT_SHUTDOWN_DRAIN_MS;
		bool bodies = atomic_load(&s->uploading) > 0 && waited < LIMIT_SHUTDOWN_UPLOAD_MS;
		if (!handled && !bodies)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_mutex_unlock(&s->mu);
	if (atomic_load(&s->inflight) > 0 || atomic_load(&s->uploading) > 0)
		log_warn("http: closing with %d answers undelivered and %d bodies incomplete",
			 atomic_load(&s->inflight), atomic_load(&s->uploading));
	/* The reaper runs until every connection is closed: their close
	 * notifications free the slots it reads. */
	resume_parked(s);
	MHD_stop_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	server_free(s);
}
