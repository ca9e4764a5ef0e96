/*
 * health.c - readiness (GET /readyz): can this node serve? It can when the
 * database answers and the workers that move sessions run. Liveness
 * (/livez) needs nothing of the service: a process that answers at all is
 * alive. Checks are typed values; the api words them.
 *
 * The database check is a cheap read on a read connection, bounded
 * (store_ping), so a probe every second from a load balancer costs one
 * index probe and never waits behind the writer or a dead host.
 */
#include "service/internal.h"

#include "base/limits.h"

bool svc_ready(struct service *s, struct svc_readiness *out)
{
	out->database = store_ping(s->store, LIMIT_READY_DB_TIMEOUT_MS) == STORE_OK;
	out->workers = s->workers_running && s->workers_running(s->workers_arg);
	return out->database && out->workers;
}
