/*
 * dispatcher.c - webhook dispatcher threads: the same loop as the session
 * workers (a pass, then sleep until the next delivery is due, at most
 * POLL_MAX_MS, woken at once by dispatcher_stop).
 */
#include "workers/dispatcher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "service/service.h"
#include "webhooks/hooks.h"

#define DISPATCHERS_MAX 8
#define POLL_MAX_MS 50
#define BATCH 8

struct dispatcher {
	struct service *svc;
	bool allow_loopback;
	int n;
	pthread_t threads[DISPATCHERS_MAX];
	char owners[DISPATCHERS_MAX][64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stop;
	struct darg {
		struct dispatcher *d;
		int i;
	} args[DISPATCHERS_MAX];
};

/* svc_hook_send_fn over hooks.c. */
static void send_one(void *ctx, const struct store_hook_endpoint *ep,
		     const struct store_hook_delivery *dl, int *status, char error[128],
		     int64_t *duration_ms)
{
	const struct dispatcher *d = ctx;
	struct hook_message m = {
		.url = ep->url,
		.format = ep->format,
		.message_id = dl->message_id,
		.body = dl->body,
		.len = strlen(dl->body),
		.secret = ep->secret,
		.previous_secret = ep->previous_secret,
		.allow_loopback = d->allow_loopback,
		.cancel = &d->stop, /* a stalled receiver cannot hold the shutdown */
	};
	struct hook_outcome o;
	hook_send(&m, &o);
	*status = o.status;
	snprintf(error, 128, "%s", o.error);
	*duration_ms = o.duration_ms;
}

static void *dispatcher_main(void *p)
{
	struct darg *a = p;
	struct dispatcher *d = a->d;
	while (!atomic_load(&d->stop)) {
		int64_t next = 0;
		int n = svc_hook_tick(d->svc, send_one, d, d->owners[a->i], BATCH, &next);
		if (n > 0)
			continue;
		int64_t now = (int64_t)clock_now_ms(), wait_ms = POLL_MAX_MS;
		if (n == 0 && next > now && next - now < wait_ms)
			wait_ms = next - now;
		if (n < 0)
			wait_ms = 1000;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&d->mu);
		if (!atomic_load(&d->stop))
			pthread_cond_timedwait(&d->cv, &d->mu, &until);
		pthread_mutex_unlock(&d->mu);
	}
	return NULL;
}

struct dispatcher *dispatcher_start(struct service *svc, bool allow_loopback, int n)
{
	if (n < 1)
		n = 1;
	if (n > DISPATCHERS_MAX)
		n = DISPATCHERS_MAX;
	if (svc_hook_recover(svc) != ERR_OK) {
		log_error("webhooks: cannot release stale delivery leases");
		return NULL;
	}
	struct dispatcher *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->svc = svc;
	d->allow_loopback = allow_loopback;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(d->owners[i], sizeof d->owners[i], "%d/hook/%d", (int)getpid(), i);
		d->args[i] = (struct darg){d, i};
		if (pthread_create(&d->threads[i], NULL, dispatcher_main, &d->args[i]) != 0) {
			d->n = i;
			dispatcher_stop(d);
			return NULL;
		}
		d->n = i + 1;
	}
	log_info("webhooks: %d dispatchers started%s", n,
		 allow_loopback ? " (loopback endpoints allowed)" : "");
	return d;
}

void dispatcher_stop(struct dispatcher *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	atomic_store(&d->stop, true);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (int i = 0; i < d->n; i++)
		pthread_join(d->threads[i], NULL);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
	log_info("webhooks: dispatchers stopped");
}
