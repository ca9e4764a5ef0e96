/*
 * workers.c - the session workers: a pool (pool.c) whose pass is one
 * svc_worker_tick. A thread finishes the step it is in before it stops: a
 * step is one rail call plus one commit, and an interrupted step is
 * repeated safely after a restart anyway (idempotent rail calls, versioned
 * commits).
 */
#include "workers/workers.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "service/service.h"
#include "workers/pool.h"

#define POLL_MAX_MS 50 /* notice sessions made elsewhere (approvals, another process) */

#define LAG_WARN_MS 1000      /* the oldest due session this late is worth a line */
#define LAG_LOG_EVERY_MS 10000 /* ... at most this often */

struct workers {
	struct service *svc;
	struct rail *rail;
	struct pool *pool;
	_Atomic int64_t lag_logged_ms;
	_Atomic int64_t next_due_ms; /* the last pass's next due time (any worker) */
};

/* The lifecycle's lag (how late the oldest due session is) made visible:
 * every measure as offramp_worker_lag_seconds, and a line when it passes
 * LAG_WARN_MS, at most every LAG_LOG_EVERY_MS. */
static void note_lag(struct workers *w, int64_t next_due_ms, int64_t now)
{
	int64_t lag = next_due_ms > 0 ? now - next_due_ms : 0;
	metrics_worker_lag_set(lag);
	int64_t last = atomic_load(&w->lag_logged_ms);
	if (lag < LAG_WARN_MS || now - last < LAG_LOG_EVERY_MS ||
	    !atomic_compare_exchange_strong(&w->lag_logged_ms, &last, now))
		return;
	log_warn("workers: behind by %lld ms (the oldest due session waits that long)",
		 (long long)lag);
}

static int64_t worker_pass(void *arg, const char *owner)
{
	struct workers *w = arg;
	/* Before a pass: how late is the session the last pass said was due
	 * next? That catches a stall (the process stopped, the machine
	 * starved) even when this one pass then clears the whole backlog. */
	note_lag(w, atomic_load(&w->next_due_ms), (int64_t)clock_now_ms());
	int64_t next = 0;
	int n = svc_worker_tick(w->svc, w->rail, owner, LIMIT_WORKER_BATCH, &next);
	int64_t now = (int64_t)clock_now_ms();
	atomic_store(&w->next_due_ms, next);
	/* After a pass, a next due time in the past is a backlog that age. */
	note_lag(w, next, now);
	return pool_wait_ms(n, next, now, POLL_MAX_MS);
}

struct workers *workers_start(struct service *svc, struct rail *rail, int n, const char *node)
{
	if (svc_worker_recover(svc, node) != ERR_OK) {
		log_error("workers: cannot release stale leases");
		return NULL;
	}
	struct workers *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->svc = svc;
	w->rail = rail;
	if (!(w->pool = pool_start(node, "worker", n, worker_pass, w))) {
		free(w);
		return NULL;
	}
	log_info("workers: %d started", n);
	return w;
}

bool workers_running(struct workers *w)
{
	return w && pool_running(w->pool, LIMIT_READY_WORKER_STALL_MS);
}

void workers_stop(struct workers *w)
{
	if (!w)
		return;
	pool_stop(w->pool);
	free(w);
	log_info("workers: stopped");
}
