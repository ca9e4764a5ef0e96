/*
 * server.c - libmicrohttpd adapter.
 *
 * Threading: MHD's internal thread pool (epoll where available); each
 * request runs its handler synchronously on a pool thread, so a request
 * waiting on its commit holds that thread. (Group commit will suspend the
 * connection with MHD_suspend_connection and resume it from the
 * committer instead; nothing here assumes otherwise.)
 *
 * Body cap: a Content-Length over LIMIT_BODY_BYTES is answered 413 before
 * any body is read; a chunked body is counted as it arrives and answered
 * 413 once it passes the cap, without buffering the excess.
 *
 * Graceful stop: MHD_quiesce_daemon closes the listening socket, then we
 * wait until the in-flight counter reaches zero (or the drain time runs
 * out) before MHD_stop_daemon. A request whose handler has run gets up to
 * LIMIT_SHUTDOWN_DRAIN_MS for its answer to go out; one whose body is still
 * arriving gets LIMIT_SHUTDOWN_UPLOAD_MS to finish sending it (and is then
 * handled), so a client that stalls or vanishes mid-body cannot hold the
 * shutdown for long. Neither has had an effect until it is handled.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"

struct http_server {
	struct MHD_Daemon *d;
	struct api *api;
	atomic_int inflight;  /* handler has run, answer not yet delivered */
	atomic_int uploading; /* headers in, body still arriving */
};

struct http_req {
	struct api_request r;
	char *body;
	size_t len;
	bool too_large;
	bool dispatched; /* counted in inflight: the handler has run */
	uint64_t start_ms;
	int status;
	char method[16];
	char path[128];
};

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

static enum MHD_Result send_answer(struct MHD_Connection *conn, struct http_req *hr,
				   struct api_response *res)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(res->len, res->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		api_response_clear(res);
		return MHD_NO;
	}
	res->body = NULL; /* now MHD's, freed with free() */
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Request-Id", hr->r.request_id);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (res->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (res->cached)
		MHD_add_response_header(resp, "X-Idempotency-Cached", "true");
	if (res->etag[0])
		MHD_add_response_header(resp, "ETag", res->etag);
	if (res->allow[0])
		MHD_add_response_header(resp, "Allow", res->allow);
	hr->status = res->status;
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
	r->body_too_large = hr->too_large;
	r->body = hr->too_large ? NULL : hr->body;
	r->body_len = hr->too_large ? 0 : hr->len;
	hr->dispatched = true;
	atomic_fetch_add(&s->inflight, 1);
	atomic_fetch_sub(&s->uploading, 1);
	struct api_response res;
	api_handle(s->api, r, &res);
	return send_answer(conn, hr, &res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *hr = *con_cls;
	if (!hr) {
		hr = calloc(1, sizeof *hr);
		if (!hr)
			return MHD_NO;
		*con_cls = hr;
		atomic_fetch_add(&s->uploading, 1);
		hr->start_ms = clock_mono_ms();
		snprintf(hr->method, sizeof hr->method, "%s", method);
		snprintf(hr->path, sizeof hr->path, "%s", url);
		if (!uuid_v7(hr->r.request_id))
			snprintf(hr->r.request_id, sizeof hr->r.request_id, "unknown");
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (strlen(url) > LIMIT_URL_BYTES)
			return send_error(conn, hr, ERR_ROUTE_NOT_FOUND);
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
	log_info("http %s %s %d %llums request=%s%s", hr->method, hr->path, hr->status,
		 (unsigned long long)(clock_mono_ms() - hr->start_ms), hr->r.request_id,
		 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
	atomic_fetch_sub(hr->dispatched ? &s->inflight : &s->uploading, 1);
	free(hr->body);
	free(hr);
	*con_cls = NULL;
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
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("microhttpd: %s", line);
}

/* Parse "HOST:PORT" into a socket address. */
static bool parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
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

struct http_server *http_start(const struct http_config *cfg, struct api *api)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6 = false;
	if (!parse_listen(cfg->listen, &ss, &sl, &v6)) {
		log_error("http: cannot parse listen address '%s' (want HOST:PORT)", cfg->listen);
		return NULL;
	}
	struct http_server *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->api = api;
	unsigned threads = cfg->threads;
	if (threads < 1)
		threads = 1;
	if (threads > LIMIT_HTTP_THREADS_MAX)
		threads = LIMIT_HTTP_THREADS_MAX;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			 MHD_USE_AUTO;
	if (v6)
		flags |= MHD_USE_IPv6;
	uint16_t port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	s->d = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_HEADER_POOL_BYTES,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_no_nul, NULL,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		MHD_OPTION_END);
	if (!s->d) {
		log_error("http: cannot listen on %s", cfg->listen);
		free(s);
		return NULL;
	}
	log_info("http: listening on %s with %u threads", cfg->listen, threads);
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
	if (atomic_load(&s->inflight) > 0 || atomic_load(&s->uploading) > 0)
		log_warn("http: closing with %d answers undelivered and %d bodies incomplete",
			 atomic_load(&s->inflight), atomic_load(&s->uploading));
	MHD_stop_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	free(s);
}
