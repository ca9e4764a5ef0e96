/*
 * test_pool.c - pool_running (GET /readyz's "workers"): true while the
 * pool's threads loop, false once one is stuck inside a pass longer than
 * the stall bound (but not past a longer one), true again when it comes
 * out; false for no pool at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <time.h>

#include "workers/pool.h"

static _Atomic int hold_ms; /* how long the next pass takes */
static _Atomic int passes;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int64_t pass(void *arg, const char *owner)
{
	(void)arg;
	(void)owner;
	atomic_fetch_add(&passes, 1);
	int ms = atomic_exchange(&hold_ms, 0);
	if (ms > 0)
		sleep_ms(ms);
	return 5;
}

static void wait_passes(int n)
{
	for (int i = 0; i < 2000 && atomic_load(&passes) < n; i++)
		sleep_ms(1);
	assert_true(atomic_load(&passes) >= n);
}

static void test_running_stalled_stopped(void **state)
{
	(void)state;
	assert_false(pool_running(NULL, 1000));
	struct pool *p = pool_start("node", "test", 1, pass, NULL);
	assert_non_null(p);
	wait_passes(2);
	assert_true(pool_running(p, 200));

	/* One pass takes 600 ms: past a 200 ms bound it is a stall... */
	int seen = atomic_load(&passes);
	atomic_store(&hold_ms, 600);
	wait_passes(seen + 1);
	sleep_ms(350);
	assert_false(pool_running(p, 200));
	assert_true(pool_running(p, 5000)); /* ...not past a longer one */

	/* ...and over once the pass ends. */
	sleep_ms(400);
	wait_passes(seen + 2);
	assert_true(pool_running(p, 200));
	pool_stop(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running_stalled_stopped),
	};
	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
