/*
 * metrics.h - the process's counters, gauges and histograms, and their
 * Prometheus text (exposition format 0.0.4) for GET /metrics
 * (CONTRACT §12; the series are listed in docs/OPERATIONS.md).
 *
 * Process-wide state: any layer records without being handed a handle:
 * the HTTP adapter (requests by route and status, their durations), the
 * store's committer (writes per commit), the workers (lag) and the webhook
 * dispatcher (attempts by result). The gauges read from the database
 * (sessions by status, held totals) are not kept here: the api layer
 * prints them from the service before calling metrics_render.
 *
 * Lock-free: every series is a C11 atomic in a fixed array (route slots
 * capped by LIMIT_METRICS_ROUTES, statuses 100..599), added to with
 * relaxed order; recording never blocks or allocates. A scrape reads each
 * atomic once, so one scrape's numbers may come from slightly different
 * instants: a histogram's _count is the sum of the bucket counts it
 * printed (they always agree), its _sum may miss an observation in flight.
 *
 * Integers only, no floating point anywhere: durations are kept in
 * microseconds and printed as seconds by integer arithmetic; sizes and
 * counts as integers.
 *
 * Thread safety: every function may be called from any thread at any time.
 */
#ifndef OFFRAMP_BASE_METRICS_H
#define OFFRAMP_BASE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* HTTP route slots: 0 counts every request no route matched (labelled
 * route="unmatched", never with its path); the api numbers the rows of its
 * route table from 1. */
#define METRICS_ROUTE_UNMATCHED 0
#define METRICS_STATUS_MIN 100
#define METRICS_STATUS_MAX 599

/* Room for one printed number: 20 digits, a point, 6 decimals, a NUL. */
#define METRICS_NUM_MAX 32

/* One answered request: its route slot (0..LIMIT_METRICS_ROUTES - 1), its
 * HTTP status and how long from its headers to its answer. A slot or
 * status out of range counts as unmatched or 599 (our bug, still seen). */
void metrics_http_observe(int route, int status, uint64_t duration_us);

/* One commit of the group committer: how many writes it carried. */
void metrics_commit_batch_observe(int writes);

/* The lifecycle's lag as last measured (how late the oldest due session
 * is; negative values read as 0). */
void metrics_worker_lag_set(int64_t lag_ms);

/* X(enum, label): what one webhook delivery attempt came to. */
#define METRICS_HOOK_RESULTS(X)                                                   \
	X(METRICS_HOOK_DELIVERED, "delivered") /* a 2xx answer */                     \
	X(METRICS_HOOK_FAILED, "failed")       /* any other answer, or none: retried */ \
	X(METRICS_HOOK_GONE, "gone")           /* 410: the endpoint is disabled */

enum metrics_hook_result {
#define X(e, label) e,
	METRICS_HOOK_RESULTS(X)
#undef X
	METRICS_HOOK__COUNT
};

void metrics_hook_observe(enum metrics_hook_result r);

/* The labels of route slot i + 1 (borrowed for the call). */
struct metrics_route {
	const char *method;  /* "GET"; HEAD is counted with its GET route */
	const char *pattern; /* the route template, "/off-ramp-sessions/{id}" */
};

/*
 * Write every series kept here to f, with HELP and TYPE lines: requests
 * and durations of each route slot that has answered at least once
 * (routes[i] names slot i + 1; n <= LIMIT_METRICS_ROUTES - 1), the commit
 * batch histogram, the worker lag and webhook attempts by result (every
 * result, zeros included). Returns false if writing to f failed.
 */
bool metrics_render(FILE *f, const struct metrics_route *routes, int n);

/* us as decimal seconds into out: with trim false always six decimals
 * ("0.002500"), with trim true trailing zeros and a bare point dropped
 * ("0.0025", "1"), the form of a bucket's le label. Returns out. */
char *metrics_seconds(uint64_t us, bool trim, char out[METRICS_NUM_MAX]);

/* Every series back to zero (unit tests). */
void metrics_reset(void);

#endif
