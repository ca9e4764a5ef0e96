/*
 * test_registry.c - the rail registry (rails/registry.h): each call goes
 * to the rail routed under its rail name, or to the fallback; each rail
 * gets its part of a batch as one *_many call, in order; results land
 * where their calls were; routes are set once; every distinct rail is
 * closed exactly once, also one routed under two names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rails/registry.h"

struct fake {
	struct rail base;
	const char *tag;
	int many_calls, asked, *closed;
};

static void answer(struct fake *f, const struct rail_call *c, struct rail_result *r)
{
	memset(r, 0, sizeof *r);
	r->outcome = RAIL_OK;
	snprintf(r->reason, sizeof r->reason, "%s:%lld", f->tag, (long long)c->amount_minor);
	f->asked++;
}

static void one(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	answer((struct fake *)rail, c, r);
}

static void many(struct rail *rail, const struct rail_call *c, struct rail_result *r, int n)
{
	struct fake *f = (struct fake *)rail;
	f->many_calls++;
	for (int i = 0; i < n; i++)
		answer(f, &c[i], &r[i]);
}

static void fake_close(struct rail *rail)
{
	struct fake *f = (struct fake *)rail;
	(*f->closed)++;
	free(f);
}

static const struct rail_ops fake_ops = {
	.name = "fake", .chain_transfer = one, .payout_submit = one, .payout_status = one,
	.close = fake_close, .payout_submit_many = many, .payout_status_many = many,
};

static struct fake *fake_new(const char *tag, int *closed)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->base.ops = &fake_ops;
	f->tag = tag;
	f->closed = closed;
	return f;
}

static void test_routes_and_closes(void **state)
{
	int closed_sb = 0, closed_file = 0, closed_other = 0;
	struct fake *sb = fake_new("sb", &closed_sb), *file = fake_new("file", &closed_file);
	struct fake *other = fake_new("other", &closed_other);
	struct rail *reg = rail_registry_new(&sb->base);
	assert_non_null(reg);
	assert_true(rail_registry_route(reg, "sepa_credit_transfer", &file->base));
	assert_true(rail_registry_route(reg, "sepa_instant", &file->base));
	/* Set once: a second route for a name is refused, the rail not taken. */
	assert_false(rail_registry_route(reg, "sepa_instant", &other->base));
	assert_ptr_equal(rail_registry_for(reg, "sepa_instant"), &file->base);
	assert_ptr_equal(rail_registry_for(reg, "ach"), &sb->base);
	assert_ptr_equal(rail_registry_for(reg, "crypto"), &sb->base);

	static const char *const names[] = {"ach", "sepa_instant", "crypto", "sepa_credit_transfer",
					    "sepa_instant", "pix"};
	enum { N = sizeof names / sizeof *names };
	struct rail_call calls[N];
	struct rail_result res[N];
	for (int i = 0; i < N; i++)
		calls[i] = (struct rail_call){.rail_name = names[i], .amount_minor = 100 + i};
	assert_int_equal(rail_ask(reg, RAIL_PAYOUT_SUBMIT, calls, res, N, 0), N);
	for (int i = 0; i < N; i++) {
		char want[48];
		snprintf(want, sizeof want, "%s:%d", strncmp(names[i], "sepa", 4) == 0 ? "file" : "sb",
			 100 + i);
		assert_string_equal(res[i].reason, want);
	}
	/* One *_many per rail for the whole batch. */
	assert_int_equal(file->many_calls, 1);
	assert_int_equal(sb->many_calls, 1);
	assert_int_equal(file->asked, 3);
	assert_int_equal(sb->asked, 3);
	/* A kind without *_many reaches each rail call by call. */
	assert_int_equal(rail_ask(reg, RAIL_CHAIN_TRANSFER, calls, res, N, 0), N);
	assert_int_equal(file->asked, 6);
	assert_string_equal(res[3].reason, "file:103");

	rail_close(reg);
	assert_int_equal(closed_sb, 1);
	assert_int_equal(closed_file, 1); /* routed twice, closed once */
	assert_int_equal(closed_other, 0);
	fake_close(&other->base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_closes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
