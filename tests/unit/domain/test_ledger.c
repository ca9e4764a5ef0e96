/*
 * test_ledger.c - unit tests for domain/ledger.c.
 *
 * Single transfers come from a table of (starting balances, op, amount,
 * flags) -> (outcome, resulting balances); on any outcome but LEDGER_OK
 * the resulting balances must equal the starting ones. Then a fixed-seed
 * simulation drives random transfers across three accounts against a
 * reference model and checks the ledger's invariants after every step:
 * each currency sums to zero (posted and pending alike) and no flagged
 * account's available balance is negative.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "domain/ledger.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define FLAG LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS

/* ---- helpers ---------------------------------------------------------- */

static const char *result_name(enum ledger_result r)
{
	switch (r) {
	case LEDGER_OK: return "ok";
	case LEDGER_EXCEEDS_CREDITS: return "exceeds_credits";
	case LEDGER_OVERFLOW: return "overflow";
	case LEDGER_INVALID_AMOUNT: return "invalid_amount";
	case LEDGER_SAME_ACCOUNT: return "same_account";
	case LEDGER_NO_PENDING: return "no_pending";
	}
	return "?";
}

static bool balance_eq(const struct ledger_balance *a, const struct ledger_balance *b)
{
	return a->debits_posted == b->debits_posted &&
	       a->credits_posted == b->credits_posted &&
	       a->debits_pending == b->debits_pending &&
	       a->credits_pending == b->credits_pending;
}

static void expect_balance(const char *what, size_t row,
			   const struct ledger_balance *got,
			   const struct ledger_balance *want)
{
	if (!balance_eq(got, want))
		fail_msg("row %zu %s: got {dp %lld, cp %lld, dpend %lld, cpend %lld}, "
			 "want {dp %lld, cp %lld, dpend %lld, cpend %lld}",
			 row, what, (long long)got->debits_posted,
			 (long long)got->credits_posted,
			 (long long)got->debits_pending,
			 (long long)got->credits_pending,
			 (long long)want->debits_posted,
			 (long long)want->credits_posted,
			 (long long)want->debits_pending,
			 (long long)want->credits_pending);
}

/* Balances written {debits_posted, credits_posted, debits_pending, credits_pending}. */
#define B(dp, cp, dpend, cpend) {(dp), (cp), (dpend), (cpend)}

/* ---- one transfer at a time ------------------------------------------- */

struct apply_case {
	const char *name;
	enum ledger_op op;
	int64_t amount;
	unsigned dr_flags;
	struct ledger_balance dr, cr;           /* before */
	enum ledger_result want;
	struct ledger_balance dr_after, cr_after; /* on LEDGER_OK only */
};

static const struct apply_case applies[] = {
	/* each op moves the right counters */
	{"posted moves posted counters", LEDGER_OP_POSTED, 40, 0,
	 B(0, 0, 0, 0), B(0, 0, 0, 0), LEDGER_OK, B(40, 0, 0, 0), B(0, 40, 0, 0)},
	{"pending moves pending counters", LEDGER_OP_PENDING, 40, 0,
	 B(0, 0, 0, 0), B(0, 0, 0, 0), LEDGER_OK, B(0, 0, 40, 0), B(0, 0, 0, 40)},
	{"post turns pending into posted", LEDGER_OP_POST, 40, 0,
	 B(0, 0, 40, 0), B(0, 0, 0, 40), LEDGER_OK, B(40, 0, 0, 0), B(0, 40, 0, 0)},
	{"void releases pending", LEDGER_OP_VOID, 40, 0,
	 B(0, 0, 40, 0), B(0, 0, 0, 40), LEDGER_OK, B(0, 0, 0, 0), B(0, 0, 0, 0)},
	{"partial post leaves the rest pending", LEDGER_OP_POST, 15, FLAG,
	 B(5, 100, 40, 7), B(3, 9, 2, 40), LEDGER_OK, B(20, 100, 25, 7), B(3, 24, 2, 25)},
	{"other counters are untouched", LEDGER_OP_POSTED, 1, 0,
	 B(11, 22, 33, 44), B(55, 66, 77, 88), LEDGER_OK, B(12, 22, 33, 44), B(55, 67, 77, 88)},

	/* the client flag */
	{"flag: debit beyond available", LEDGER_OP_POSTED, 101, FLAG,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_EXCEEDS_CREDITS, {0}, {0}},
	{"flag: hold beyond available", LEDGER_OP_PENDING, 101, FLAG,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_EXCEEDS_CREDITS, {0}, {0}},
	{"flag: held funds are not available", LEDGER_OP_POSTED, 61, FLAG,
	 B(10, 100, 30, 0), B(0, 0, 0, 0), LEDGER_EXCEEDS_CREDITS, {0}, {0}},
	{"flag: pending credits are not available", LEDGER_OP_POSTED, 1, FLAG,
	 B(0, 0, 0, 500), B(0, 0, 0, 0), LEDGER_EXCEEDS_CREDITS, {0}, {0}},
	{"flag: exactly available is allowed", LEDGER_OP_POSTED, 60, FLAG,
	 B(10, 100, 30, 0), B(0, 0, 0, 0), LEDGER_OK, B(70, 100, 30, 0), B(0, 60, 0, 0)},
	{"flag: exactly available hold", LEDGER_OP_PENDING, 60, FLAG,
	 B(10, 100, 30, 0), B(0, 0, 0, 0), LEDGER_OK, B(10, 100, 90, 0), B(0, 0, 0, 60)},
	{"flag: post of a hold at zero available", LEDGER_OP_POST, 30, FLAG,
	 B(70, 100, 30, 0), B(0, 0, 0, 30), LEDGER_OK, B(100, 100, 0, 0), B(0, 30, 0, 0)},
	{"no flag: may go negative", LEDGER_OP_POSTED, 500, 0,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_OK, B(500, 100, 0, 0), B(0, 500, 0, 0)},
	{"no flag: hold may go negative", LEDGER_OP_PENDING, 500, 0,
	 B(0, 0, 0, 0), B(0, 0, 0, 0), LEDGER_OK, B(0, 0, 500, 0), B(0, 0, 0, 500)},

	/* post / void of more than is pending */
	{"post more than debit pending", LEDGER_OP_POST, 41, 0,
	 B(0, 0, 40, 0), B(0, 0, 0, 100), LEDGER_NO_PENDING, {0}, {0}},
	{"post more than credit pending", LEDGER_OP_POST, 41, 0,
	 B(0, 0, 100, 0), B(0, 0, 0, 40), LEDGER_NO_PENDING, {0}, {0}},
	{"void more than debit pending", LEDGER_OP_VOID, 41, 0,
	 B(0, 0, 40, 0), B(0, 0, 0, 100), LEDGER_NO_PENDING, {0}, {0}},
	{"void more than credit pending", LEDGER_OP_VOID, 41, 0,
	 B(0, 0, 100, 0), B(0, 0, 0, 40), LEDGER_NO_PENDING, {0}, {0}},
	{"post with nothing pending", LEDGER_OP_POST, 1, FLAG,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_NO_PENDING, {0}, {0}},
	{"void with nothing pending", LEDGER_OP_VOID, 1, 0,
	 B(0, 0, 0, 0), B(0, 0, 0, 0), LEDGER_NO_PENDING, {0}, {0}},

	/* amounts */
	{"zero amount", LEDGER_OP_POSTED, 0, 0,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_INVALID_AMOUNT, {0}, {0}},
	{"negative amount", LEDGER_OP_POSTED, -5, 0,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_INVALID_AMOUNT, {0}, {0}},
	{"INT64_MIN amount", LEDGER_OP_PENDING, INT64_MIN, 0,
	 B(0, 100, 0, 0), B(0, 0, 0, 0), LEDGER_INVALID_AMOUNT, {0}, {0}},
	{"zero void", LEDGER_OP_VOID, 0, 0,
	 B(0, 0, 5, 0), B(0, 0, 0, 5), LEDGER_INVALID_AMOUNT, {0}, {0}},
	{"negative post", LEDGER_OP_POST, -1, 0,
	 B(0, 0, 5, 0), B(0, 0, 0, 5), LEDGER_INVALID_AMOUNT, {0}, {0}},

	/* overflow */
	{"credit side posted overflows", LEDGER_OP_POSTED, 1, 0,
	 B(0, 0, 0, 0), B(0, INT64_MAX, 0, 0), LEDGER_OVERFLOW, {0}, {0}},
	{"debit side posted overflows", LEDGER_OP_POSTED, 1, 0,
	 B(INT64_MAX, 0, 0, 0), B(0, 0, 0, 0), LEDGER_OVERFLOW, {0}, {0}},
	{"credit side pending overflows", LEDGER_OP_PENDING, 2, 0,
	 B(0, 0, 0, 0), B(0, 0, 0, INT64_MAX - 1), LEDGER_OVERFLOW, {0}, {0}},
	{"debit side pending overflows", LEDGER_OP_PENDING, INT64_MAX, 0,
	 B(0, 0, 1, 0), B(0, 0, 0, 0), LEDGER_OVERFLOW, {0}, {0}},
	{"post overflows posted", LEDGER_OP_POST, 10, 0,
	 B(INT64_MAX - 5, 0, 10, 0), B(0, 0, 0, 10), LEDGER_OVERFLOW, {0}, {0}},
	{"post overflows credit posted", LEDGER_OP_POST, 10, 0,
	 B(0, 0, 10, 0), B(0, INT64_MAX, 0, 10), LEDGER_OVERFLOW, {0}, {0}},
	{"up to INT64_MAX exactly", LEDGER_OP_POSTED, INT64_MAX, 0,
	 B(0, 0, 0, 0), B(0, 0, 0, 0), LEDGER_OK, B(INT64_MAX, 0, 0, 0), B(0, INT64_MAX, 0, 0)},
	{"flag: whole INT64_MAX credit spendable", LEDGER_OP_POSTED, INT64_MAX, FLAG,
	 B(0, INT64_MAX, 0, 0), B(0, 0, 0, 0), LEDGER_OK,
	 B(INT64_MAX, INT64_MAX, 0, 0), B(0, INT64_MAX, 0, 0)},
};

static void test_apply_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(applies); i++) {
		const struct apply_case *t = &applies[i];
		struct ledger_balance dr = t->dr, cr = t->cr;
		enum ledger_result r = ledger_apply(t->op, t->amount, &dr, t->dr_flags, &cr);

		if (r != t->want)
			fail_msg("row %zu \"%s\": %s, want %s", i, t->name,
				 result_name(r), result_name(t->want));
		if (r == LEDGER_OK) {
			expect_balance("debit", i, &dr, &t->dr_after);
			expect_balance("credit", i, &cr, &t->cr_after);
		} else {
			/* On anything but LEDGER_OK neither balance changes. */
			expect_balance("debit unchanged", i, &dr, &t->dr);
			expect_balance("credit unchanged", i, &cr, &t->cr);
		}
	}
}

static void test_same_account(void **state)
{
	(void)state;
	static const enum ledger_op ops[] = {
		LEDGER_OP_POSTED, LEDGER_OP_PENDING, LEDGER_OP_POST, LEDGER_OP_VOID,
	};
	for (size_t i = 0; i < COUNT(ops); i++) {
		struct ledger_balance a = B(1, 1000, 50, 50);
		const struct ledger_balance before = a;

		assert_int_equal(ledger_apply(ops[i], 10, &a, 0, &a), LEDGER_SAME_ACCOUNT);
		assert_int_equal(ledger_apply(ops[i], 10, &a, FLAG, &a), LEDGER_SAME_ACCOUNT);
		assert_true(balance_eq(&a, &before));
	}
}

/* pending then post == posted; pending then void == nothing happened. */
static void test_hold_sequences(void **state)
{
	(void)state;
	static const unsigned flags[] = {0, FLAG};
	for (size_t f = 0; f < COUNT(flags); f++) {
		const struct ledger_balance dr0 = B(100, 1000, 20, 3);
		const struct ledger_balance cr0 = B(7, 70, 0, 20);

		struct ledger_balance d_direct = dr0, c_direct = cr0;
		assert_int_equal(ledger_apply(LEDGER_OP_POSTED, 250, &d_direct, flags[f], &c_direct),
				 LEDGER_OK);

		struct ledger_balance d = dr0, c = cr0;
		assert_int_equal(ledger_apply(LEDGER_OP_PENDING, 250, &d, flags[f], &c), LEDGER_OK);
		assert_int_equal(ledger_held(&d), 20 + 250);
		assert_int_equal(ledger_available(&d), 1000 - 100 - 20 - 250);
		assert_int_equal(ledger_total(&d), 1000 - 100);
		assert_int_equal(ledger_apply(LEDGER_OP_POST, 250, &d, flags[f], &c), LEDGER_OK);
		assert_true(balance_eq(&d, &d_direct));
		assert_true(balance_eq(&c, &c_direct));
		/* Posted exactly once: a second post finds nothing of ours. */
		assert_int_equal(ledger_apply(LEDGER_OP_POST, 250, &d, flags[f], &c),
				 LEDGER_NO_PENDING);

		d = dr0;
		c = cr0;
		assert_int_equal(ledger_apply(LEDGER_OP_PENDING, 250, &d, flags[f], &c), LEDGER_OK);
		assert_false(balance_eq(&d, &dr0));
		assert_int_equal(ledger_apply(LEDGER_OP_VOID, 250, &d, flags[f], &c), LEDGER_OK);
		assert_true(balance_eq(&d, &dr0));
		assert_true(balance_eq(&c, &cr0));
	}
}

/* A refused debit on a client account leaves both sides as they were, and
 * the same amount goes through once the account is funded. */
static void test_exceeds_then_funded(void **state)
{
	(void)state;
	struct ledger_balance client = B(0, 0, 0, 0), sys = B(0, 0, 0, 0);

	assert_int_equal(ledger_apply(LEDGER_OP_PENDING, 1, &client, FLAG, &sys),
			 LEDGER_EXCEEDS_CREDITS);
	assert_true(balance_eq(&client, &(struct ledger_balance)B(0, 0, 0, 0)));
	assert_true(balance_eq(&sys, &(struct ledger_balance)B(0, 0, 0, 0)));
	/* Fund it from the (unflagged) system account, which goes negative. */
	assert_int_equal(ledger_apply(LEDGER_OP_POSTED, 300, &sys, 0, &client), LEDGER_OK);
	assert_int_equal(ledger_total(&sys), -300);
	assert_int_equal(ledger_available(&client), 300);
	assert_int_equal(ledger_apply(LEDGER_OP_PENDING, 301, &client, FLAG, &sys),
			 LEDGER_EXCEEDS_CREDITS);
	assert_int_equal(ledger_apply(LEDGER_OP_PENDING, 300, &client, FLAG, &sys), LEDGER_OK);
	assert_int_equal(ledger_available(&client), 0);
	assert_int_equal(ledger_held(&client), 300);
	assert_int_equal(ledger_total(&client), 300);
}

static void test_views(void **state)
{
	(void)state;
	const struct ledger_balance b = B(30, 100, 20, 5);

	assert_int_equal(ledger_available(&b), 50);
	assert_int_equal(ledger_held(&b), 20);
	assert_int_equal(ledger_total(&b), 70);
	assert_int_equal(ledger_net_posted(&b), 70);
	assert_int_equal(ledger_net_pending(&b), -15);

	const struct ledger_balance neg = B(500, 100, 0, 40);
	assert_int_equal(ledger_available(&neg), -400);
	assert_int_equal(ledger_held(&neg), 0);
	assert_int_equal(ledger_total(&neg), -400);
	assert_int_equal(ledger_net_posted(&neg), -400);
	assert_int_equal(ledger_net_pending(&neg), 40);
}

/* ---- simulation ------------------------------------------------------- */

static uint64_t lcg_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s;
}

#define SIM_ACCOUNTS 3
#define SIM_STEPS 20000

static void test_random_sequence(void **state)
{
	(void)state;
	/* Account 0 is a system account (no flag), 1 and 2 are clients. */
	static const unsigned flags[SIM_ACCOUNTS] = {0, FLAG, FLAG};
	struct ledger_balance acct[SIM_ACCOUNTS] = {{0}};
	uint64_t seed = 20260501;
	int outcomes[LEDGER_NO_PENDING + 1] = {0};

	for (int step = 0; step < SIM_STEPS; step++) {
		enum ledger_op op = (enum ledger_op)(lcg_next(&seed) >> 62);
		int d = (int)((lcg_next(&seed) >> 33) % SIM_ACCOUNTS);
		int c = (int)((d + 1 + (int)((lcg_next(&seed) >> 33) % (SIM_ACCOUNTS - 1))) %
			      SIM_ACCOUNTS);
		int64_t amount = (int64_t)((lcg_next(&seed) >> 33) % 1000) + 1;
		const struct ledger_balance d0 = acct[d], c0 = acct[c];

		/* The reference model: what the outcome must be. */
		enum ledger_result want = LEDGER_OK;
		struct ledger_balance dw = d0, cw = c0;
		switch (op) {
		case LEDGER_OP_POSTED:
			if ((flags[d] & FLAG) && ledger_available(&d0) < amount)
				want = LEDGER_EXCEEDS_CREDITS;
			dw.debits_posted += amount;
			cw.credits_posted += amount;
			break;
		case LEDGER_OP_PENDING:
			if ((flags[d] & FLAG) && ledger_available(&d0) < amount)
				want = LEDGER_EXCEEDS_CREDITS;
			dw.debits_pending += amount;
			cw.credits_pending += amount;
			break;
		case LEDGER_OP_POST:
		case LEDGER_OP_VOID:
			if (d0.debits_pending < amount || c0.credits_pending < amount)
				want = LEDGER_NO_PENDING;
			dw.debits_pending -= amount;
			cw.credits_pending -= amount;
			if (op == LEDGER_OP_POST) {
				dw.debits_posted += amount;
				cw.credits_posted += amount;
			}
			break;
		}

		enum ledger_result r = ledger_apply(op, amount, &acct[d], flags[d], &acct[c]);
		if (r != want)
			fail_msg("step %d: %s %lld from %d to %d: %s, want %s", step,
				 ledger_op_name(op), (long long)amount, d, c,
				 result_name(r), result_name(want));
		outcomes[r]++;
		if (r == LEDGER_OK) {
			assert_true(balance_eq(&acct[d], &dw));
			assert_true(balance_eq(&acct[c], &cw));
		} else {
			assert_true(balance_eq(&acct[d], &d0));
			assert_true(balance_eq(&acct[c], &c0));
		}

		int64_t net_posted = 0, net_pending = 0;
		for (int a = 0; a < SIM_ACCOUNTS; a++) {
			net_posted += ledger_net_posted(&acct[a]);
			net_pending += ledger_net_pending(&acct[a]);
			if ((flags[a] & FLAG) && ledger_available(&acct[a]) < 0)
				fail_msg("step %d: client account %d available %lld", step,
					 a, (long long)ledger_available(&acct[a]));
		}
		if (net_posted != 0 || net_pending != 0)
			fail_msg("step %d: net posted %lld, net pending %lld", step,
				 (long long)net_posted, (long long)net_pending);
	}
	/* The walk must actually exercise the interesting outcomes. */
	assert_true(outcomes[LEDGER_OK] > SIM_STEPS / 10);
	assert_true(outcomes[LEDGER_EXCEEDS_CREDITS] > 0);
	assert_true(outcomes[LEDGER_NO_PENDING] > 0);
}

/* ---- names ------------------------------------------------------------ */

static void test_op_names(void **state)
{
	(void)state;
	static const struct {
		enum ledger_op op;
		const char *name;
	} names[] = {
		{LEDGER_OP_POSTED, "posted"},
		{LEDGER_OP_PENDING, "pending"},
		{LEDGER_OP_POST, "post_pending"},
		{LEDGER_OP_VOID, "void_pending"},
	};
	for (size_t i = 0; i < COUNT(names); i++) {
		enum ledger_op back = (enum ledger_op)99;

		assert_string_equal(ledger_op_name(names[i].op), names[i].name);
		assert_true(ledger_op_parse(ledger_op_name(names[i].op), &back));
		assert_int_equal(back, names[i].op);
	}
	static const char *const unknown[] = {
		"", "POSTED", "post", "void", "posted ", "pending_post", "unknown",
	};
	for (size_t i = 0; i < COUNT(unknown); i++) {
		enum ledger_op back;

		if (ledger_op_parse(unknown[i], &back))
			fail_msg("ledger_op_parse(\"%s\") accepted it", unknown[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_table),
		cmocka_unit_test(test_same_account),
		cmocka_unit_test(test_hold_sequences),
		cmocka_unit_test(test_exceeds_then_funded),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_random_sequence),
		cmocka_unit_test(test_op_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
