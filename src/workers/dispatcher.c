/*
 * dispatcher.c - the webhook dispatcher: one thread (a pool of one,
 * pool.c) that claims due deliveries (svc_hook_claim), keeps up to
 * LIMIT_WEBHOOK_IN_FLIGHT sends in flight on one hook_sender (a libcurl
 * multi handle) and completes each as its answer comes (svc_hook_complete).
 * A stalled receiver holds one slot until the send timeout, never the
 * thread; the claim's caps keep one endpoint or tenant from holding many.
 *
 * At stop every send in flight is abandoned at once, so a stalled receiver
 * cannot hold the shutdown; each is recorded as a failed attempt and
 * retried after the restart.
 */
#include "workers/dispatcher.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/metrics.h"
#include "service/service.h"
#include "webhooks/hooks.h"
#include "workers/pool.h"

#define POLL_MAX_MS 50    /* notice deliveries queued elsewhere */
#define STORE_PAUSE_MS 1000 /* after a failed claim: do not spin on a sick store */

struct dispatcher {
	struct service *svc;
	bool allow_loopback;
	struct pool *pool;
	struct hook_sender *sender;
	_Atomic bool stopping;
	int64_t next_claim_ms; /* wall clock, as the store's due times */
	/* slots[i] is in flight while busy[i]; batch is the claim's scratch. */
	struct svc_hook_job slots[LIMIT_WEBHOOK_IN_FLIGHT];
	bool busy[LIMIT_WEBHOOK_IN_FLIGHT];
	struct svc_hook_job batch[LIMIT_WEBHOOK_IN_FLIGHT];
};

/* An attempt's result as offramp_webhook_deliveries_total counts it; the
 * service decides the same way (svc_hook_complete). */
static enum metrics_hook_result attempt_result(int status)
{
	if (status >= 200 && status < 300)
		return METRICS_HOOK_DELIVERED;
	return status == 410 ? METRICS_HOOK_GONE : METRICS_HOOK_FAILED;
}

/* hook_done_fn: record the outcome, free the slot, claim again soon. */
static void on_done(void *arg, void *tag, const struct hook_outcome *o)
{
	struct dispatcher *d = arg;
	struct svc_hook_job *j = tag;
	metrics_hook_observe(attempt_result(o->status));
	svc_hook_complete(d->svc, j, o->status, o->error, o->duration_ms);
	d->busy[j - d->slots] = false;
	d->next_claim_ms = 0;
}

static void start(struct dispatcher *d, struct svc_hook_job *job)
{
	int i = 0;
	while (i < LIMIT_WEBHOOK_IN_FLIGHT && d->busy[i])
		i++;
	if (i == LIMIT_WEBHOOK_IN_FLIGHT) {
		/* Cannot happen (a claim asks for no more than the free slots);
		 * were it to, the lease runs out and the delivery is sent later. */
		svc_hook_job_clear(job);
		return;
	}
	struct svc_hook_job *j = &d->slots[i];
	*j = *job;
	job->d.body = NULL;
	d->busy[i] = true;
	struct hook_message m = {
		.url = j->ep.url,
		.format = j->ep.format,
		.message_id = j->d.message_id,
		.body = j->d.body,
		.len = strlen(j->d.body),
		.secret = j->ep.secret,
		.previous_secret = j->ep.previous_secret,
		.allow_loopback = d->allow_loopback,
	};
	if (!hook_sender_add(d->sender, &m, j)) {
		struct hook_outcome o = {.error = "cannot start the http client"};
		on_done(d, j, &o);
	}
}

static int64_t dispatch_pass(void *arg, const char *owner)
{
	struct dispatcher *d = arg;
	if (atomic_load(&d->stopping))
		return 0;
	int64_t now = (int64_t)clock_now_ms();
	int room = LIMIT_WEBHOOK_IN_FLIGHT - hook_sender_running(d->sender);
	if (room > 0 && now >= d->next_claim_ms) {
		int64_t next = 0;
		int n = svc_hook_claim(d->svc, owner, room, d->batch, &next);
		for (int i = 0; i < n; i++)
			start(d, &d->batch[i]);
		if (n < 0)
			d->next_claim_ms = now + STORE_PAUSE_MS;
		else if (n == room)
			d->next_claim_ms = now; /* more may be due at once */
		else
			d->next_claim_ms = now + pool_wait_ms(0, next, now, POLL_MAX_MS);
	}
	int64_t wait = POLL_MAX_MS;
	if (room > 0 && d->next_claim_ms - now < wait)
		wait = d->next_claim_ms > now ? d->next_claim_ms - now : 0;
	hook_sender_run(d->sender, (int)wait, on_done, d);
	return 0; /* the wait was in the sender */
}

struct dispatcher *dispatcher_start(struct service *svc, bool allow_loopback, const char *node)
{
	if (svc_hook_recover(svc, node) != ERR_OK) {
		log_error("webhooks: cannot release stale delivery leases");
		return NULL;
	}
	struct dispatcher *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->svc = svc;
	d->allow_loopback = allow_loopback;
	if (!(d->sender = hook_sender_new())) {
		free(d);
		return NULL;
	}
	if (!(d->pool = pool_start(node, "hook", 1, dispatch_pass, d))) {
		hook_sender_free(d->sender);
		free(d);
		return NULL;
	}
	log_info("webhooks: dispatcher started, up to %d sends in flight%s",
		 LIMIT_WEBHOOK_IN_FLIGHT, allow_loopback ? " (loopback endpoints allowed)" : "");
	return d;
}

void dispatcher_stop(struct dispatcher *d)
{
	if (!d)
		return;
	atomic_store(&d->stopping, true);
	hook_sender_wakeup(d->sender);
	pool_stop(d->pool);
	/* The thread is gone: abandon what is in flight, record each. */
	int n = hook_sender_running(d->sender);
	hook_sender_abort(d->sender, "aborted: shutting down", on_done, d);
	hook_sender_free(d->sender);
	free(d);
	log_info("webhooks: dispatcher stopped (%d sends abandoned)", n);
}
