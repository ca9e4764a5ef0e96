/*
 * test_metrics.c - the series of base/metrics.h as Prometheus text:
 * counters by route slot and status (unmatched and out-of-range values
 * folded, not lost), cumulative buckets whose +Inf equals _count, seconds
 * printed from microseconds by integer arithmetic, every webhook result
 * shown (zeros too), the lag gauge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"

static const struct metrics_route routes[] = {{"GET", "/livez"},
					      {"POST", "/off-ramp-sessions"},
					      {"GET", "/off-ramp-sessions/{id}"}};

static char *render(void)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	assert_true(metrics_render(f, routes, 3));
	fclose(f);
	return buf;
}

static void has(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof want, "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("missing line: %s\n---\n%s", line, text);
}

static void test_seconds_are_printed_exactly(void **state)
{
	char s[METRICS_NUM_MAX];
	assert_string_equal(metrics_seconds(2500, false, s), "0.002500");
	assert_string_equal(metrics_seconds(2500, true, s), "0.0025");
	assert_string_equal(metrics_seconds(1000000, true, s), "1");
	assert_string_equal(metrics_seconds(10000000, true, s), "10");
	assert_string_equal(metrics_seconds(0, false, s), "0.000000");
	assert_string_equal(metrics_seconds(UINT64_MAX, false, s), "18446744073709.551615");
}

static void test_series_render(void **state)
{
	metrics_reset();
	metrics_http_observe(2, 201, 3000);     /* POST create: 3 ms */
	metrics_http_observe(2, 201, 3000000);  /* 3 s */
	metrics_http_observe(2, 503, 20000000); /* 20 s: only +Inf */
	metrics_http_observe(0, 404, 10);
	metrics_http_observe(99, 42, 10);       /* out of range: unmatched, 599 */
	metrics_commit_batch_observe(1);
	metrics_commit_batch_observe(3);
	metrics_commit_batch_observe(1024);
	metrics_worker_lag_set(1500);
	metrics_hook_observe(METRICS_HOOK_DELIVERED);
	metrics_hook_observe(METRICS_HOOK_DELIVERED);
	metrics_hook_observe(METRICS_HOOK_GONE);
	char *t = render();
	has(t, "offramp_http_requests_total{method=\"POST\",route=\"/off-ramp-sessions\",status=\"201\"} 2");
	has(t, "offramp_http_requests_total{method=\"POST\",route=\"/off-ramp-sessions\",status=\"503\"} 1");
	has(t, "offramp_http_requests_total{route=\"unmatched\",status=\"404\"} 1");
	has(t, "offramp_http_requests_total{route=\"unmatched\",status=\"599\"} 1");
	assert_null(strstr(t, "route=\"/livez\"")); /* nothing answered there: no series */
	const char *h = "offramp_http_request_duration_seconds";
	char line[256];
	snprintf(line, sizeof line, "%s_bucket{method=\"POST\",route=\"/off-ramp-sessions\",le=\"0.0025\"} 0", h);
	has(t, line);
	snprintf(line, sizeof line, "%s_bucket{method=\"POST\",route=\"/off-ramp-sessions\",le=\"0.005\"} 1", h);
	has(t, line);
	snprintf(line, sizeof line, "%s_bucket{method=\"POST\",route=\"/off-ramp-sessions\",le=\"5\"} 2", h);
	has(t, line);
	snprintf(line, sizeof line, "%s_bucket{method=\"POST\",route=\"/off-ramp-sessions\",le=\"10\"} 2", h);
	has(t, line);
	snprintf(line, sizeof line, "%s_bucket{method=\"POST\",route=\"/off-ramp-sessions\",le=\"+Inf\"} 3", h);
	has(t, line);
	snprintf(line, sizeof line, "%s_count{method=\"POST\",route=\"/off-ramp-sessions\"} 3", h);
	has(t, line);
	snprintf(line, sizeof line, "%s_sum{method=\"POST\",route=\"/off-ramp-sessions\"} 23.003000", h);
	has(t, line);
	has(t, "offramp_commit_batch_size_bucket{le=\"1\"} 1");
	has(t, "offramp_commit_batch_size_bucket{le=\"2\"} 1");
	has(t, "offramp_commit_batch_size_bucket{le=\"4\"} 2");
	has(t, "offramp_commit_batch_size_bucket{le=\"1024\"} 3");
	has(t, "offramp_commit_batch_size_bucket{le=\"+Inf\"} 3");
	has(t, "offramp_commit_batch_size_sum 1028");
	has(t, "offramp_commit_batch_size_count 3");
	has(t, "offramp_worker_lag_seconds 1.500000");
	has(t, "offramp_webhook_deliveries_total{result=\"delivered\"} 2");
	has(t, "offramp_webhook_deliveries_total{result=\"failed\"} 0");
	has(t, "offramp_webhook_deliveries_total{result=\"gone\"} 1");
	has(t, "# TYPE offramp_http_request_duration_seconds histogram");
	has(t, "# TYPE offramp_http_requests_total counter");
	free(t);

	metrics_worker_lag_set(-5); /* a session due in the future: no lag */
	metrics_reset();
	t = render();
	assert_null(strstr(t, "offramp_http_requests_total{"));
	has(t, "offramp_worker_lag_seconds 0.000000");
	has(t, "offramp_commit_batch_size_count 0");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_seconds_are_printed_exactly),
					   cmocka_unit_test(test_series_render)};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
