/*
 * metrics_listener.c - serve --metrics-listen: GET /metrics on an address
 * of its own (server.h).
 *
 * A second libmicrohttpd daemon with one internal thread, a handful of
 * connections (LIMIT_METRICS_CONNECTIONS) and a short idle timeout: a
 * scraper makes one request every few seconds, so this needs none of the
 * API listener's machinery (fibers, deadlines, per-address caps). It
 * hands every request to api_handle with an api whose only route is
 * /metrics, so the answers (404 elsewhere, 405 with Allow, HEAD without a
 * body) and their counting are the API listener's. A request body is
 * read and dropped: no route here takes one.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/internal.h"

struct http_metrics {
	struct MHD_Daemon *d;
	struct api *api;
};

struct metrics_req {
	uint64_t start_us;
	char request_id[LIMIT_REQUEST_ID_BYTES + 1];
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_metrics *m = cls;
	struct metrics_req *mr = *con_cls;
	if (!mr) {
		if (!(mr = calloc(1, sizeof *mr)))
			return MHD_NO;
		mr->start_us = clock_mono_us();
		http_request_id(conn, mr->request_id);
		*con_cls = mr;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	struct api_request req = {.method = method, .path = url};
	memcpy(req.request_id, mr->request_id, sizeof req.request_id);
	struct api_response res;
	api_handle(m->api, &req, &res);
	uint64_t latency_us = clock_mono_us() - mr->start_us;
	metrics_http_observe(res.metrics_route, res.status, latency_us);
	log_request(&(struct log_request){.request_id = mr->request_id,
					  .method = method,
					  .route = api_route_name(res.metrics_route),
					  .status = res.status,
					  .latency_us = latency_us});
	struct MHD_Response *resp = http_response_of(&res, mr->request_id);
	if (!resp)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)res.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
}

struct http_metrics *http_metrics_start(const char *listen, struct api *api)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6 = false;
	if (!http_parse_listen(listen, &ss, &sl, &v6)) {
		log_error("http: cannot parse --metrics-listen address '%s' (want HOST:PORT)", listen);
		return NULL;
	}
	struct http_metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->api = api;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0);
	uint16_t port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	m->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, m,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_METRICS_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_METRICS_TIMEOUT_S,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
				MHD_OPTION_END);
	if (!m->d) {
		log_error("http: cannot listen on %s (--metrics-listen)", listen);
		free(m);
		return NULL;
	}
	log_info("http: metrics on %s", listen);
	return m;
}

void http_metrics_stop(struct http_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
