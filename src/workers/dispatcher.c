/*
 * dispatcher.c - the webhook dispatchers: a pool (pool.c) whose pass is
 * one svc_hook_tick, sending with webhooks/hooks.c. A send in progress is
 * abandoned at once when the pool stops, so a stalled receiver cannot
 * hold the shutdown; the delivery is retried after the restart.
 */
#include "workers/dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "service/service.h"
#include "webhooks/hooks.h"
#include "workers/pool.h"

#define POLL_MAX_MS 50
#define BATCH 8

struct dispatcher {
	struct service *svc;
	bool allow_loopback;
	struct pool *pool;
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
		.cancel = pool_stopping(d->pool),
	};
	struct hook_outcome o;
	hook_send(&m, &o);
	*status = o.status;
	snprintf(error, 128, "%s", o.error);
	*duration_ms = o.duration_ms;
}

static int64_t dispatch_pass(void *arg, const char *owner)
{
	struct dispatcher *d = arg;
	int64_t next = 0;
	int n = svc_hook_tick(d->svc, send_one, d, owner, BATCH, &next);
	return pool_wait_ms(n, next, (int64_t)clock_now_ms(), POLL_MAX_MS);
}

struct dispatcher *dispatcher_start(struct service *svc, bool allow_loopback, int n)
{
	if (svc_hook_recover(svc) != ERR_OK) {
		log_error("webhooks: cannot release stale delivery leases");
		return NULL;
	}
	struct dispatcher *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->svc = svc;
	d->allow_loopback = allow_loopback;
	if (!(d->pool = pool_start("hook", n, dispatch_pass, d))) {
		free(d);
		return NULL;
	}
	log_info("webhooks: %d dispatchers started%s", n,
		 allow_loopback ? " (loopback endpoints allowed)" : "");
	return d;
}

void dispatcher_stop(struct dispatcher *d)
{
	if (!d)
		return;
	pool_stop(d->pool);
	free(d);
	log_info("webhooks: dispatchers stopped");
}
