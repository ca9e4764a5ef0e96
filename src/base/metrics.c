/*
 * metrics.c - the series of metrics.h and their Prometheus text.
 *
 * Layout: requests are counted per (route slot, status) in one flat array
 * of atomics, statuses 100..599 each a cell (LIMIT_METRICS_ROUTES x 500
 * counters, 256 KiB, touched only where traffic goes): no table to search
 * or grow, so recording is one index and one atomic add. Histograms keep
 * per-bucket (not cumulative) counts, so an observation is one add to its
 * bucket and one to the sum; the scrape accumulates them, which is what
 * keeps _count equal to the +Inf bucket in every scrape.
 *
 * Buckets (fixed, docs/OPERATIONS.md):
 *   request duration: 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5, 5, 10 s
 *   writes per commit: 1, 2, 4, ... 1024 (LIMIT_COMMIT_BATCH_MAX)
 */
#include "base/metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "base/limits.h"

#define HIST_BOUNDS_MAX 16
#define STATUSES (METRICS_STATUS_MAX - METRICS_STATUS_MIN + 1)

struct hist {
	_Atomic uint64_t bucket[HIST_BOUNDS_MAX + 1]; /* [i]: <= bounds[i]; [n]: above all */
	_Atomic uint64_t sum;
};

static const uint64_t http_bounds_us[] = {1000,   2500,   5000,    10000,   25000,
					  50000,  100000, 250000,  500000,  1000000,
					  2500000, 5000000, 10000000};
#define HTTP_BOUNDS ((int)(sizeof http_bounds_us / sizeof *http_bounds_us))

static const uint64_t batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define BATCH_BOUNDS ((int)(sizeof batch_bounds / sizeof *batch_bounds))

_Static_assert(HTTP_BOUNDS <= HIST_BOUNDS_MAX && BATCH_BOUNDS <= HIST_BOUNDS_MAX,
	       "every histogram's buckets fit");
_Static_assert(1024 >= LIMIT_COMMIT_BATCH_MAX, "the largest batch falls in a finite bucket");

static _Atomic uint64_t m_requests[LIMIT_METRICS_ROUTES][STATUSES];
static struct hist m_durations[LIMIT_METRICS_ROUTES];
static struct hist m_batches;
static _Atomic int64_t m_lag_ms;
static _Atomic uint64_t m_hooks[METRICS_HOOK__COUNT];

static const char *const hook_labels[METRICS_HOOK__COUNT] = {
#define X(e, label) [e] = label,
	METRICS_HOOK_RESULTS(X)
#undef X
};

static void hist_observe(struct hist *h, const uint64_t *bounds, int n, uint64_t v)
{
	int i = 0;
	while (i < n && v > bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void metrics_http_observe(int route, int status, uint64_t duration_us)
{
	if (route < 0 || route >= LIMIT_METRICS_ROUTES)
		route = METRICS_ROUTE_UNMATCHED;
	if (status < METRICS_STATUS_MIN || status > METRICS_STATUS_MAX)
		status = METRICS_STATUS_MAX;
	atomic_fetch_add_explicit(&m_requests[route][status - METRICS_STATUS_MIN], 1,
				  memory_order_relaxed);
	hist_observe(&m_durations[route], http_bounds_us, HTTP_BOUNDS, duration_us);
}

void metrics_commit_batch_observe(int writes)
{
	hist_observe(&m_batches, batch_bounds, BATCH_BOUNDS, writes > 0 ? (uint64_t)writes : 0);
}

void metrics_worker_lag_set(int64_t lag_ms)
{
	atomic_store_explicit(&m_lag_ms, lag_ms > 0 ? lag_ms : 0, memory_order_relaxed);
}

void metrics_hook_observe(enum metrics_hook_result r)
{
	if ((unsigned)r < METRICS_HOOK__COUNT)
		atomic_fetch_add_explicit(&m_hooks[r], 1, memory_order_relaxed);
}

char *metrics_seconds(uint64_t us, bool trim, char out[METRICS_NUM_MAX])
{
	snprintf(out, METRICS_NUM_MAX, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
	if (trim) {
		size_t n = strlen(out);
		while (out[n - 1] == '0')
			out[--n] = '\0';
		if (out[n - 1] == '.')
			out[n - 1] = '\0';
	}
	return out;
}

static uint64_t load(_Atomic uint64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A label value as the text format wants it: \, " and newline escaped. */
static void put_label(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

/* The labels of route slot i (no braces): method and route, or unmatched. */
static void put_route(FILE *f, const struct metrics_route *routes, int i)
{
	if (i == METRICS_ROUTE_UNMATCHED) {
		put_label(f, "route", "unmatched");
		return;
	}
	put_label(f, "method", routes[i - 1].method);
	fputc(',', f);
	put_label(f, "route", routes[i - 1].pattern);
}

static void put_num(FILE *f, uint64_t v, bool seconds)
{
	char s[METRICS_NUM_MAX];
	if (seconds)
		fputs(metrics_seconds(v, false, s), f);
	else
		fprintf(f, "%" PRIu64, v);
}

/* One histogram's lines; labels (no braces) are those of route slot
 * `route`, or none when routes is NULL. seconds: bounds and sum are
 * microseconds, printed as seconds. */
static void hist_render(FILE *f, const char *name, struct hist *h, const uint64_t *bounds, int n,
			bool seconds, const struct metrics_route *routes, int route)
{
	uint64_t cum = 0;
	for (int i = 0; i <= n; i++) {
		cum += load(&h->bucket[i]);
		fprintf(f, "%s_bucket{", name);
		if (routes) {
			put_route(f, routes, route);
			fputc(',', f);
		}
		char le[METRICS_NUM_MAX];
		if (i == n)
			snprintf(le, sizeof le, "+Inf");
		else if (seconds)
			metrics_seconds(bounds[i], true, le);
		else
			snprintf(le, sizeof le, "%" PRIu64, bounds[i]);
		fprintf(f, "le=\"%s\"} %" PRIu64 "\n", le, cum);
	}
	const char *parts[] = {"sum", "count"};
	for (int p = 0; p < 2; p++) {
		fprintf(f, "%s_%s", name, parts[p]);
		if (routes) {
			fputc('{', f);
			put_route(f, routes, route);
			fputc('}', f);
		}
		fputc(' ', f);
		if (p == 0)
			put_num(f, load(&h->sum), seconds);
		else
			fprintf(f, "%" PRIu64, cum);
		fputc('\n', f);
	}
}

static void put_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static bool route_answered(int route)
{
	for (int s = 0; s < STATUSES; s++)
		if (load(&m_requests[route][s]))
			return true;
	return false;
}

bool metrics_render(FILE *f, const struct metrics_route *routes, int n)
{
	if (n < 0)
		n = 0;
	if (n > LIMIT_METRICS_ROUTES - 1)
		n = LIMIT_METRICS_ROUTES - 1;
	bool seen[LIMIT_METRICS_ROUTES];
	for (int r = 0; r <= n; r++)
		seen[r] = route_answered(r);

	put_head(f, "offramp_http_requests_total", "counter",
		 "HTTP requests answered, by route template and status.");
	for (int r = 0; r <= n; r++)
		for (int s = 0; seen[r] && s < STATUSES; s++) {
			uint64_t v = load(&m_requests[r][s]);
			if (!v)
				continue;
			fputs("offramp_http_requests_total{", f);
			put_route(f, routes, r);
			fprintf(f, ",status=\"%d\"} %" PRIu64 "\n", s + METRICS_STATUS_MIN, v);
		}

	put_head(f, "offramp_http_request_duration_seconds", "histogram",
		 "Time from a request's headers to its answer, by route template.");
	for (int r = 0; r <= n; r++)
		if (seen[r])
			hist_render(f, "offramp_http_request_duration_seconds", &m_durations[r],
				    http_bounds_us, HTTP_BOUNDS, true, routes, r);

	put_head(f, "offramp_commit_batch_size", "histogram",
		 "Writes sharing one database commit (group commit), one observation per commit.");
	hist_render(f, "offramp_commit_batch_size", &m_batches, batch_bounds, BATCH_BOUNDS, false,
		    NULL, 0);

	put_head(f, "offramp_worker_lag_seconds", "gauge",
		 "How late the oldest due session was when the workers last looked.");
	int64_t lag = atomic_load_explicit(&m_lag_ms, memory_order_relaxed);
	fputs("offramp_worker_lag_seconds ", f);
	put_num(f, (uint64_t)lag * 1000, true);
	fputc('\n', f);

	put_head(f, "offramp_webhook_deliveries_total", "counter",
		 "Webhook delivery attempts, by result.");
	for (int i = 0; i < METRICS_HOOK__COUNT; i++)
		fprintf(f, "offramp_webhook_deliveries_total{result=\"%s\"} %" PRIu64 "\n",
			hook_labels[i], load(&m_hooks[i]));
	return !ferror(f);
}

void metrics_reset(void)
{
	for (int r = 0; r < LIMIT_METRICS_ROUTES; r++) {
		for (int s = 0; s < STATUSES; s++)
			atomic_store(&m_requests[r][s], 0);
		for (int i = 0; i <= HIST_BOUNDS_MAX; i++)
			atomic_store(&m_durations[r].bucket[i], 0);
		atomic_store(&m_durations[r].sum, 0);
	}
	for (int i = 0; i <= HIST_BOUNDS_MAX; i++)
		atomic_store(&m_batches.bucket[i], 0);
	atomic_store(&m_batches.sum, 0);
	atomic_store(&m_lag_ms, 0);
	for (int i = 0; i < METRICS_HOOK__COUNT; i++)
		atomic_store(&m_hooks[i], 0);
}
