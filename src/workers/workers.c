/*
 * workers.c - worker threads.
 *
 * Each thread loops: one pass (svc_worker_tick), then sleeps until the
 * next session is due, at most POLL_MAX_MS (so sessions made by another
 * process or an approval are noticed), on a condition variable that
 * workers_stop() signals, so stopping never waits for a sleep. A thread
 * finishes the step it is in before it stops: a step is one rail call
 * plus one commit, and an interrupted step is repeated safely after a
 * restart anyway (idempotent rail calls, versioned commits).
 */
#include "workers/workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "service/service.h"

#define WORKERS_MAX 8
#define POLL_MAX_MS 50
#define BATCH 16

struct workers {
	struct service *svc;
	struct rail *rail;
	int n;
	pthread_t threads[WORKERS_MAX];
	char owners[WORKERS_MAX][64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;
	struct worker_arg {
		struct workers *w;
		int i;
	} args[WORKERS_MAX];
};

static void *worker_main(void *p)
{
	struct worker_arg *a = p;
	struct workers *w = a->w;
	const char *owner = w->owners[a->i];
	while (!atomic_load(&w->stop)) {
		int64_t next = 0;
		int n = svc_worker_tick(w->svc, w->rail, owner, BATCH, &next);
		if (n > 0)
			continue; /* more may be due right away */
		int64_t now = (int64_t)clock_now_ms();
		int64_t wait_ms = POLL_MAX_MS;
		if (n == 0 && next > now && next - now < wait_ms)
			wait_ms = next - now;
		if (n < 0)
			wait_ms = 1000; /* the store failed: do not spin */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&w->mu);
		if (!atomic_load(&w->stop))
			pthread_cond_timedwait(&w->cv, &w->mu, &until);
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

struct workers *workers_start(struct service *svc, struct rail *rail, int n)
{
	if (n < 1)
		n = 1;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	if (svc_worker_recover(svc) != ERR_OK) {
		log_error("workers: cannot release stale leases");
		return NULL;
	}
	struct workers *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->svc = svc;
	w->rail = rail;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	char proc[UUID_STR_LEN + 1];
	if (!uuid_v7(proc)) {
		free(w);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		/* Owner names say which process and thread holds a lease. */
		snprintf(w->owners[i], sizeof w->owners[i], "%d/%.8s/%d", (int)getpid(), proc + 28, i);
		w->args[i] = (struct worker_arg){w, i};
		if (pthread_create(&w->threads[i], NULL, worker_main, &w->args[i]) != 0) {
			log_error("workers: cannot start thread %d", i);
			w->n = i;
			workers_stop(w);
			return NULL;
		}
		w->n = i + 1;
	}
	log_info("workers: %d started", n);
	return w;
}

void workers_stop(struct workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	log_info("workers: stopped");
}
