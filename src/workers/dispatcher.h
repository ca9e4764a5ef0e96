/*
 * dispatcher.h - the threads inside `serve` that send webhook deliveries
 * (service/webhooks.c does the bookkeeping, webhooks/hooks.c the HTTP).
 */
#ifndef OFFRAMP_WORKERS_DISPATCHER_H
#define OFFRAMP_WORKERS_DISPATCHER_H

#include <stdbool.h>

struct service;
struct dispatcher;

/* Start n threads (1..8); releases stale delivery leases first. svc is
 * borrowed and outlives the dispatcher. */
struct dispatcher *dispatcher_start(struct service *svc, bool allow_loopback, int n);
/* Stop after the current sends, join, free. */
void dispatcher_stop(struct dispatcher *d);

#endif
