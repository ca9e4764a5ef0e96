/*
 * internal.h - what the HTTP adapter's two listeners (server.c, the API;
 * metrics_listener.c, --metrics-listen) share and nobody else sees.
 */
#ifndef OFFRAMP_HTTP_INTERNAL_H
#define OFFRAMP_HTTP_INTERNAL_H

#include <stdbool.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "api/api.h"
#include "base/limits.h"

/* Parse "HOST:PORT" (HOST an IPv4 address, [IPv6] or a name) into a
 * socket address; false when it does not parse or resolve. */
bool http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
		       bool *v6);

/* The request's id: the client's X-Request-Id when it is sane (length
 * and charset, server.c), else a new UUIDv7. */
void http_request_id(struct MHD_Connection *conn, char out[LIMIT_REQUEST_ID_BYTES + 1]);

/* res as a libmicrohttpd response with our headers (Content-Type,
 * X-Request-Id, Cache-Control, ETag, Allow, ...): the body moves into it
 * (res->body becomes NULL). NULL when out of memory (res cleared). The
 * caller queues and destroys it. */
struct MHD_Response *http_response_of(struct api_response *res, const char *request_id);

#endif
