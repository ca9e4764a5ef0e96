/*
 * test_ratelimit.c - the per-key token bucket (service/ratelimit.c) on a
 * clock the test moves: burst, refill, Retry-After rounding, independence
 * of keys, bounded memory and racing threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "base/limits.h"
#include "service/service.h"

#define S 1000000000ull /* one second in ns */
#define T0 (1000 * S)   /* any start but 0 */

static int admitted(struct svc_rate *r, const char *key, uint64_t now, int n)
{
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += svc_rate_take(r, key, now) == 0;
	return ok;
}

static void test_burst_then_rate(void **state)
{
	struct svc_rate *r = svc_rate_new(10, 20); /* 10/s, 20 at once */
	assert_non_null(r);
	assert_int_equal(admitted(r, "k", T0, 25), 20);
	/* 100 ms is one token at 10/s. */
	assert_int_equal(admitted(r, "k", T0 + S / 10, 5), 1);
	/* A whole second refills 10, never more than the burst. */
	assert_int_equal(admitted(r, "k", T0 + S / 10 + S, 15), 10);
	assert_int_equal(admitted(r, "k", T0 + 1000 * S, 30), 20);
	svc_rate_free(r);
}

static void test_retry_after_is_the_ceiling_of_the_wait(void **state)
{
	struct svc_rate *r = svc_rate_new(1, 1); /* one a second */
	assert_int_equal(svc_rate_take(r, "k", T0), 0);
	/* The next token is due at T0 + 1 s. */
	assert_int_equal(svc_rate_take(r, "k", T0), 1);
	assert_int_equal(svc_rate_take(r, "k", T0 + S / 2), 1); /* 0.5 s: rounded up */
	assert_int_equal(svc_rate_take(r, "k", T0 + S), 0);     /* due: admitted */
	svc_rate_free(r);

	r = svc_rate_new(1, 5);
	assert_int_equal(admitted(r, "k", T0, 5), 5);
	assert_int_equal(svc_rate_take(r, "k", T0), 1);
	svc_rate_free(r);

	/* A slow rate: the wait is many seconds, and a refusal costs nothing
	 * (the same answer again, not a longer one). */
	r = svc_rate_new(1, 1);
	assert_int_equal(svc_rate_take(r, "k", T0), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(svc_rate_take(r, "k", T0 + S / 4), 1);
	assert_int_equal(svc_rate_take(r, "k", T0 + S), 0);
	svc_rate_free(r);
}

static void test_keys_are_independent(void **state)
{
	struct svc_rate *r = svc_rate_new(5, 5);
	assert_int_equal(admitted(r, "flood", T0, 100), 5);
	assert_int_equal(admitted(r, "quiet", T0, 5), 5);
	assert_int_not_equal(svc_rate_take(r, "flood", T0), 0);
	svc_rate_free(r);
}

static void test_off_and_out_of_range(void **state)
{
	assert_null(svc_rate_new(0, 10));
	assert_null(svc_rate_new(10, 0));
	assert_null(svc_rate_new(LIMIT_RATE_RPS_MAX + 1ull, 10));
	assert_null(svc_rate_new(10, LIMIT_RATE_BURST_MAX + 1ull));
	assert_int_equal(svc_rate_take(NULL, "k", T0), 0); /* no limit admits all */
	struct svc_rate *r = svc_rate_new(LIMIT_RATE_RPS_MAX, LIMIT_RATE_BURST_MAX);
	assert_non_null(r);
	assert_int_equal(admitted(r, "k", T0, 1000), 1000);
	svc_rate_free(r);
}

/* Many more keys than buckets: memory stays fixed, each key still gets
 * its burst, and a key whose bucket survives keeps its debt. */
static void test_bounded_memory(void **state)
{
	struct svc_rate *r = svc_rate_new(1, 2);
	assert_int_equal(admitted(r, "hot", T0, 3), 2);
	char key[40];
	for (int i = 0; i < 4 * LIMIT_RATE_BUCKETS; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		assert_int_equal(admitted(r, key, T0 + S * 10, 2), 2);
	}
	/* Ten seconds on, "hot" is full again whether it was evicted or not. */
	assert_int_equal(admitted(r, "hot", T0 + S * 10, 3), 2);
	svc_rate_free(r);
}

struct race {
	struct svc_rate *r;
	int ok;
};

static void *race_main(void *arg)
{
	struct race *x = arg;
	x->ok = admitted(x->r, "shared", T0, 5000);
	return NULL;
}

/* Racing threads on one key at one instant: exactly the burst admitted. */
static void test_threads_share_one_bucket(void **state)
{
	struct svc_rate *r = svc_rate_new(1, 1000);
	struct race x[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		x[i] = (struct race){r, 0};
		assert_int_equal(pthread_create(&t[i], NULL, race_main, &x[i]), 0);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += x[i].ok;
	}
	assert_int_equal(total, 1000);
	svc_rate_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_retry_after_is_the_ceiling_of_the_wait),
		cmocka_unit_test(test_keys_are_independent),
		cmocka_unit_test(test_off_and_out_of_range),
		cmocka_unit_test(test_bounded_memory),
		cmocka_unit_test(test_threads_share_one_bucket),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
