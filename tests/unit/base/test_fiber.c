/*
 * test_fiber.c - fibers park on a wait and run on when woken, on the
 * thread that made them; a thread's own wait still blocks; a wake never
 * comes before the owner's on_park (the lock is released only after it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/fiber.h"

/* One event a fiber (or a thread) waits for, as the committer's job. */
struct event {
	pthread_mutex_t mu;
	bool done;
	struct fiber_wait wait;
};

struct owner {
	int parks, wakes;
	bool wake_before_park; /* a wake that came while not parked */
	bool parked;
};

static void on_park(void *ctx)
{
	struct owner *o = ctx;
	o->parks++;
	o->parked = true;
}

static void on_wake(void *ctx)
{
	struct owner *o = ctx;
	if (!o->parked)
		o->wake_before_park = true;
	o->parked = false;
	o->wakes++;
}

struct waiter_arg {
	struct event *ev;
	int steps; /* how far the fiber got */
	char deep[64];
};

/* Waits for ev as sq_write_jobs does: a loop on the condition. */
static void wait_event(struct event *ev)
{
	pthread_mutex_lock(&ev->mu);
	fiber_wait_init(&ev->wait);
	while (!ev->done)
		fiber_wait(&ev->wait, &ev->mu);
	pthread_mutex_unlock(&ev->mu);
	fiber_wait_destroy(&ev->wait);
}

static void waiter(void *arg)
{
	struct waiter_arg *a = arg;
	assert_non_null(fiber_self());
	a->steps = 1;
	/* Locals live on the fiber's stack across the park. */
	snprintf(a->deep, sizeof a->deep, "kept %d", 42);
	char mine[32];
	snprintf(mine, sizeof mine, "%s", a->deep);
	wait_event(a->ev);
	assert_string_equal(mine, "kept 42");
	a->steps = 2;
}

static void fire(struct event *ev)
{
	pthread_mutex_lock(&ev->mu);
	ev->done = true;
	fiber_wake(&ev->wait);
	pthread_mutex_unlock(&ev->mu);
}

static void test_park_and_wake(void **state)
{
	struct event ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct owner o = {0};
	struct fiber_hooks h = {on_park, on_wake, &o};
	struct waiter_arg a = {.ev = &ev};
	struct fiber *f = fiber_new(waiter, &a, &h);
	assert_non_null(f);
	assert_null(fiber_self());
	assert_int_equal(fiber_run(f), FIBER_PARKED);
	assert_int_equal(a.steps, 1);
	assert_int_equal(o.parks, 1);
	assert_int_equal(o.wakes, 0);
	/* The lock was released after on_park: a wake can take it now. */
	fire(&ev);
	assert_int_equal(o.wakes, 1);
	assert_false(o.wake_before_park);
	assert_int_equal(fiber_run(f), FIBER_DONE);
	assert_int_equal(a.steps, 2);
	assert_null(fiber_self());
	fiber_free(f);
}

/* Many fibers parked on one thread at once, woken in another order. */
static void test_many_interleaved(void **state)
{
	enum { N = 200 };
	static struct event ev[N];
	static struct waiter_arg a[N];
	static struct fiber *f[N];
	struct owner o = {0};
	struct fiber_hooks h = {on_park, on_wake, &o};
	for (int i = 0; i < N; i++) {
		ev[i] = (struct event){.mu = PTHREAD_MUTEX_INITIALIZER};
		a[i] = (struct waiter_arg){.ev = &ev[i]};
		f[i] = fiber_new(waiter, &a[i], &h);
		assert_non_null(f[i]);
		assert_int_equal(fiber_run(f[i]), FIBER_PARKED);
	}
	for (int i = N; i-- > 0;) {
		fire(&ev[i]);
		assert_int_equal(fiber_run(f[i]), FIBER_DONE);
		assert_int_equal(a[i].steps, 2);
		fiber_free(f[i]);
	}
	assert_int_equal(o.parks, N);
}

/* A wake from another thread, as the committer's. */
static void *fire_later(void *arg)
{
	fire(arg);
	return NULL;
}

static void test_wake_from_another_thread(void **state)
{
	struct event ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct owner o = {0};
	struct fiber_hooks h = {on_park, on_wake, &o};
	struct waiter_arg a = {.ev = &ev};
	struct fiber *f = fiber_new(waiter, &a, &h);
	assert_int_equal(fiber_run(f), FIBER_PARKED);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fire_later, &ev), 0);
	pthread_join(t, NULL);
	assert_int_equal(fiber_run(f), FIBER_DONE);
	fiber_free(f);
}

/* Off a fiber, the same wait blocks its thread on a condition variable. */
static void *thread_waiter(void *arg)
{
	assert_null(fiber_self());
	wait_event(arg);
	return NULL;
}

static void test_thread_wait_blocks(void **state)
{
	struct event ev = {.mu = PTHREAD_MUTEX_INITIALIZER};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, thread_waiter, &ev), 0);
	/* Fire until the waiter has seen it (it may not be waiting yet). */
	fire(&ev);
	pthread_join(t, NULL);
	assert_true(ev.done);
}

/* A fiber that never waits finishes in one run, and a wake of a fiber that
 * is already awake (two waits, one fiber) is ignored. */
static void no_wait(void *arg) { *(int *)arg = 7; }

static void test_no_park(void **state)
{
	int v = 0;
	struct owner o = {0};
	struct fiber_hooks h = {on_park, on_wake, &o};
	struct fiber *f = fiber_new(no_wait, &v, &h);
	assert_int_equal(fiber_run(f), FIBER_DONE);
	assert_int_equal(v, 7);
	assert_int_equal(o.parks, 0);
	fiber_free(f);
	fiber_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_park_and_wake),
		cmocka_unit_test(test_many_interleaved),
		cmocka_unit_test(test_wake_from_another_thread),
		cmocka_unit_test(test_thread_wait_blocks),
		cmocka_unit_test(test_no_park),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
