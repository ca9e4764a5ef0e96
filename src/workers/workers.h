/*
 * workers.h - the threads inside `serve` that drive sessions through their
 * stages (service/lifecycle.c does the work; this owns the threads).
 */
#ifndef OFFRAMP_WORKERS_WORKERS_H
#define OFFRAMP_WORKERS_WORKERS_H

struct service;
struct rail;
struct workers;

/* Start n threads (1..POOL_MAX) working through svc and rail (both
 * borrowed, outliving the workers). Releases this node's stale leases
 * first (node: serve --node-id, copied). NULL on failure. */
struct workers *workers_start(struct service *svc, struct rail *rail, int n, const char *node);

/* Ask every thread to stop after its current step, join them, free. */
void workers_stop(struct workers *w);

#endif
