/*
 * server.h - the HTTP adapter: libmicrohttpd in, struct api_request to
 * api_handle(), struct api_response out. It owns connection caps (in all
 * and per client address), header and body deadlines, the 64 KiB body cap
 * (413), request ids and graceful stop; it knows nothing of routes or JSON.
 */
#ifndef OFFRAMP_HTTP_SERVER_H
#define OFFRAMP_HTTP_SERVER_H

#include "api/api.h"

struct http_server;

struct http_config {
	const char *listen;       /* "HOST:PORT"; HOST may be an IPv4, [IPv6] or name */
	unsigned threads;         /* worker threads, 1..LIMIT_HTTP_THREADS_MAX */
	unsigned max_connections; /* in all, 1..LIMIT_CONNECTIONS_MAX */
	unsigned max_per_ip;      /* from one client address, 1..max_connections */
	unsigned header_timeout_ms; /* headers from connection start, body from headers
				     * complete: LIMIT_HEADER_TIMEOUT_MS_MIN..MAX */
};

/* Start serving api on cfg->listen. Raises the process's open-file limit
 * to what max_connections needs (serving fewer, with a warning, when the
 * hard limit is lower). Returns NULL (and logs why) when the address
 * cannot be bound. */
struct http_server *http_start(const struct http_config *cfg, struct api *api);

/* Stop accepting, let in-flight requests finish (up to
 * LIMIT_SHUTDOWN_DRAIN_MS), then close everything and free. */
void http_stop(struct http_server *s);

/*
 * serve --metrics-listen: GET /metrics (and HEAD) on an address of its own,
 * served by a libmicrohttpd daemon of its own (one thread, at most
 * LIMIT_METRICS_CONNECTIONS connections), so that scraping never competes
 * with clients for the API's connections and a crowded API listener
 * cannot hide the numbers that show it. api must have metrics =
 * API_METRICS_ONLY (any other path answers 404). Returns NULL (and logs
 * why) when the address cannot be bound.
 */
struct http_metrics;
struct http_metrics *http_metrics_start(const char *listen, struct api *api);
void http_metrics_stop(struct http_metrics *m);

#endif
