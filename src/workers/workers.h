/*
 * workers.h - the threads inside `serve` that drive sessions through their
 * stages (service/lifecycle.c does the work; this owns the threads).
 */
#ifndef OFFRAMP_WORKERS_WORKERS_H
#define OFFRAMP_WORKERS_WORKERS_H

#include <stdbool.h>

struct service;
struct rail;
struct workers;

/* Start n threads (1..POOL_MAX) working through svc and rail (both
 * borrowed, outliving the workers). Releases this node's stale leases
 * first (node: serve --node-id, copied). NULL on failure. */
struct workers *workers_start(struct service *svc, struct rail *rail, int n, const char *node);

/* Whether the workers run (pool_running, LIMIT_READY_WORKER_STALL_MS);
 * w may be NULL. Thread-safe. */
bool workers_running(struct workers *w);

/* Ask every thread to stop after its current step, join them, free. */
void workers_stop(struct workers *w);

#endif
