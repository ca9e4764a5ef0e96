/*
 * dispatcher.h - the thread inside `serve` that sends webhook deliveries,
 * many at once (service/webhooks.c does the bookkeeping and the fair
 * claims, webhooks/hooks.c the HTTP).
 */
#ifndef OFFRAMP_WORKERS_DISPATCHER_H
#define OFFRAMP_WORKERS_DISPATCHER_H

#include <stdbool.h>

struct service;
struct dispatcher;

/* Start the dispatcher thread; releases this node's stale delivery leases
 * first. svc is borrowed and outlives the dispatcher; node (serve
 * --node-id) is copied. NULL on failure. */
struct dispatcher *dispatcher_start(struct service *svc, bool allow_loopback, const char *node);
/* Stop at once: sends in flight are abandoned (and recorded as failed
 * attempts, retried later); join, free. */
void dispatcher_stop(struct dispatcher *d);

#endif
