/*
 * server.h - the HTTP adapter: libmicrohttpd in, struct api_request to
 * api_handle(), struct api_response out. It owns connection limits, the
 * 64 KiB body cap (413), request ids and graceful stop; it knows nothing
 * of routes or JSON.
 */
#ifndef OFFRAMP_HTTP_SERVER_H
#define OFFRAMP_HTTP_SERVER_H

#include "api/api.h"

struct http_server;

struct http_config {
	const char *listen; /* "HOST:PORT"; HOST may be an IPv4, [IPv6] or name */
	unsigned threads;   /* worker threads, 1..LIMIT_HTTP_THREADS_MAX */
};

/* Start serving api on cfg->listen. Returns NULL (and logs why) when the
 * address cannot be bound. */
struct http_server *http_start(const struct http_config *cfg, struct api *api);

/* Stop accepting, let in-flight requests finish (up to
 * LIMIT_SHUTDOWN_DRAIN_MS), then close everything and free. */
void http_stop(struct http_server *s);

#endif
