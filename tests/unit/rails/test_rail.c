/*
 * test_rail.c - rail_ask: a batch goes to a rail's *_many op in one call,
 * or one call at a time to a rail without one, none started past the
 * deadline; results[i] always answers calls[i].
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "rails/rail.h"

/* Answers each call with its amount as the reason, so results can be
 * matched to calls; slow_until_ms > 0 makes each call last until then. */
struct fake {
	struct rail base;
	int single_calls, many_calls, asked;
	int64_t slow_until_ms;
};

static void answer(struct fake *f, const struct rail_call *c, struct rail_result *r)
{
	memset(r, 0, sizeof *r);
	r->outcome = RAIL_OK;
	snprintf(r->reason, sizeof r->reason, "%lld", (long long)c->amount_minor);
	f->asked++;
}

static void one(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct fake *f = (struct fake *)rail;
	f->single_calls++;
	while ((int64_t)clock_now_ms() < f->slow_until_ms)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	answer(f, c, r);
}

static void many(struct rail *rail, const struct rail_call *c, struct rail_result *r, int n)
{
	struct fake *f = (struct fake *)rail;
	f->many_calls++;
	for (int i = 0; i < n; i++)
		answer(f, &c[i], &r[i]);
}

static void noop_close(struct rail *r) { (void)r; }

static const struct rail_ops single_ops = {
	.name = "single", .chain_transfer = one, .payout_submit = one, .payout_status = one,
	.close = noop_close,
};

static const struct rail_ops batch_ops = {
	.name = "batch", .chain_transfer = one, .payout_submit = one, .payout_status = one,
	.close = noop_close, .payout_submit_many = many,
};

enum { N = 5 };

static void calls_init(struct rail_call c[N])
{
	for (int i = 0; i < N; i++)
		c[i] = (struct rail_call){.idempotency_key = "k", .amount_minor = 100 + i};
}

static void assert_answers(const struct rail_result r[], int n)
{
	char want[16];
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof want, "%d", 100 + i);
		assert_string_equal(r[i].reason, want);
	}
}

static void test_a_rail_with_many_gets_one_call(void **state)
{
	struct fake f = {.base = {&batch_ops}};
	struct rail_call c[N];
	struct rail_result r[N];
	calls_init(c);
	assert_int_equal(rail_ask(&f.base, RAIL_PAYOUT_SUBMIT, c, r, N, 0), N);
	assert_int_equal(f.many_calls, 1);
	assert_int_equal(f.single_calls, 0);
	assert_answers(r, N);
	/* A kind without its *_many op goes one by one on the same rail. */
	assert_int_equal(rail_ask(&f.base, RAIL_PAYOUT_STATUS, c, r, N, 0), N);
	assert_int_equal(f.single_calls, N);
	assert_answers(r, N);
}

static void test_a_single_call_rail_is_asked_one_by_one(void **state)
{
	struct fake f = {.base = {&single_ops}};
	struct rail_call c[N];
	struct rail_result r[N];
	calls_init(c);
	assert_int_equal(rail_ask(&f.base, RAIL_CHAIN_TRANSFER, c, r, N, 0), N);
	assert_int_equal(f.single_calls, N);
	assert_answers(r, N);
	assert_int_equal(rail_ask(&f.base, RAIL_CHAIN_TRANSFER, c, r, 0, 0), 0);
	assert_int_equal(f.single_calls, N);
}

static void test_nothing_is_started_past_the_deadline(void **state)
{
	struct rail_call c[N];
	struct rail_result r[N];
	calls_init(c);
	/* Already past: neither kind of rail is asked anything. */
	struct fake s = {.base = {&single_ops}}, b = {.base = {&batch_ops}};
	assert_int_equal(rail_ask(&s.base, RAIL_PAYOUT_SUBMIT, c, r, N, 1), 0);
	assert_int_equal(rail_ask(&b.base, RAIL_PAYOUT_SUBMIT, c, r, N, 1), 0);
	assert_int_equal(s.asked + b.asked, 0);
	/* The first call lasts past the deadline: the others are not made,
	 * and the one made has its answer. */
	int64_t until = (int64_t)clock_now_ms() + 500; /* far enough to reach the first call */
	struct fake slow = {.base = {&single_ops}, .slow_until_ms = until};
	assert_int_equal(rail_ask(&slow.base, RAIL_PAYOUT_SUBMIT, c, r, N, until), 1);
	assert_int_equal(slow.asked, 1);
	assert_answers(r, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_rail_with_many_gets_one_call),
		cmocka_unit_test(test_a_single_call_rail_is_asked_one_by_one),
		cmocka_unit_test(test_nothing_is_started_past_the_deadline),
	};
	return cmocka_run_group_tests_name("rail", tests, NULL, NULL);
}
