/*
 * test_fees.c - unit tests for domain/fees.c.
 *
 * One table of (schedule, principal) -> (outcome, components, total). The
 * expected platform fees are worked out by hand from fees.h's rule:
 * principal * bps / 10000 rounded half up, exact in 128 bits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "domain/fees.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The seed's network fee: 1.00 in a 6-decimal stablecoin. */
#define ONE_USDC 1000000

struct quote_case {
	const char *name;
	struct fee_schedule sched;
	enum currency source;
	int64_t principal;
	enum err want;
	/* expected on ERR_OK: */
	int n;
	struct fee_component comps[FEES_COMPONENTS_MAX];
	int64_t total;
};

static const struct quote_case quotes[] = {
	{"default schedule, seed principal", {ONE_USDC, 0, 0, 0}, CUR_USDC, 250000000, ERR_OK,
	 1, {{FEE_NETWORK, ONE_USDC}}, ONE_USDC},
	{"default schedule, USDT", {ONE_USDC, 0, 0, 0}, CUR_USDT, 1, ERR_OK,
	 1, {{FEE_NETWORK, ONE_USDC}}, ONE_USDC},

	/* partner fees: proportional part rounded half up, plus the flat part */
	{"partner 50 bps + 0.50 on 1000.00", {ONE_USDC, 0, 50, 500000}, CUR_USDC, 1000000000, ERR_OK,
	 2, {{FEE_NETWORK, ONE_USDC}, {FEE_PARTNER, 5500000}}, ONE_USDC + 5500000},
	{"partner flat only", {0, 0, 0, 250000}, CUR_USDC, 1, ERR_OK,
	 1, {{FEE_PARTNER, 250000}}, 250000},
	{"partner 1 minor at 5000 bps rounds up", {0, 0, 5000, 0}, CUR_USDC, 1, ERR_OK,
	 1, {{FEE_PARTNER, 1}}, 1},
	{"network, platform and partner in order", {ONE_USDC, 25, 50, 0}, CUR_USDC, 250000000, ERR_OK,
	 3, {{FEE_NETWORK, ONE_USDC}, {FEE_PLATFORM, 625000}, {FEE_PARTNER, 1250000}},
	 ONE_USDC + 625000 + 1250000},

	/* platform bps, rounding half up */
	{"1 minor at 5000 bps: exactly half rounds up", {0, 5000, 0, 0}, CUR_USDC, 1, ERR_OK,
	 1, {{FEE_PLATFORM, 1}}, 1},
	{"1 minor at 4999 bps: below half is omitted", {0, 4999, 0, 0}, CUR_USDC, 1, ERR_OK,
	 0, {{0}}, 0},
	{"1 minor at 1 bps", {0, 1, 0, 0}, CUR_USDC, 1, ERR_OK, 0, {{0}}, 0},
	{"250.00 at 25 bps", {0, 25, 0, 0}, CUR_USDC, 250000000, ERR_OK,
	 1, {{FEE_PLATFORM, 625000}}, 625000},
	{"3 minor at 5000 bps: 1.5 -> 2", {0, 5000, 0, 0}, CUR_USDC, 3, ERR_OK,
	 1, {{FEE_PLATFORM, 2}}, 2},
	{"5 minor at 1000 bps: 0.5 -> 1", {0, 1000, 0, 0}, CUR_USDC, 5, ERR_OK,
	 1, {{FEE_PLATFORM, 1}}, 1},
	{"14999 at 1 bps: 1.4999 -> 1", {0, 1, 0, 0}, CUR_USDC, 14999, ERR_OK,
	 1, {{FEE_PLATFORM, 1}}, 1},
	{"15000 at 1 bps: 1.5 -> 2", {0, 1, 0, 0}, CUR_USDC, 15000, ERR_OK,
	 1, {{FEE_PLATFORM, 2}}, 2},
	{"10000 bps is the whole principal", {0, 10000, 0, 0}, CUR_USDC, 123456789, ERR_OK,
	 1, {{FEE_PLATFORM, 123456789}}, 123456789},
	{"zero principal has no platform fee", {0, 25, 0, 0}, CUR_USDC, 0, ERR_OK,
	 0, {{0}}, 0},

	/* both components: network first, then platform; total is the sum */
	{"network plus platform", {ONE_USDC, 25, 0, 0}, CUR_USDC, 250000000, ERR_OK,
	 2, {{FEE_NETWORK, ONE_USDC}, {FEE_PLATFORM, 625000}}, ONE_USDC + 625000},
	{"network plus platform rounding away", {ONE_USDC, 4999, 0, 0}, CUR_USDC, 1, ERR_OK,
	 1, {{FEE_NETWORK, ONE_USDC}}, ONE_USDC},

	/* zero network fee is left out */
	{"no fees at all", {0, 0, 0, 0}, CUR_USDC, 250000000, ERR_OK, 0, {{0}}, 0},

	/* near INT64_MAX */
	{"INT64_MAX principal at 10000 bps, no network fee", {0, 10000, 0, 0}, CUR_USDC,
	 INT64_MAX, ERR_OK, 1, {{FEE_PLATFORM, INT64_MAX}}, INT64_MAX},
	{"INT64_MAX principal at 5000 bps: .5 rounds up", {0, 5000, 0, 0}, CUR_USDC, INT64_MAX,
	 ERR_OK, 1, {{FEE_PLATFORM, INT64_C(4611686018427387904)}},
	 INT64_C(4611686018427387904)},
	{"INT64_MAX network fee alone", {INT64_MAX, 0, 0, 0}, CUR_USDC, 1, ERR_OK,
	 1, {{FEE_NETWORK, INT64_MAX}}, INT64_MAX},
	{"network + platform just fits", {1, 10000, 0, 0}, CUR_USDC, INT64_MAX - 1, ERR_OK,
	 2, {{FEE_NETWORK, 1}, {FEE_PLATFORM, INT64_MAX - 1}}, INT64_MAX},
	{"network + platform total overflows", {ONE_USDC, 10000, 0, 0}, CUR_USDC, INT64_MAX,
	 ERR_AMOUNT_TOO_LARGE, 0, {{0}}, 0},
	{"network + platform total overflows by one", {1, 10000, 0, 0}, CUR_USDC, INT64_MAX,
	 ERR_AMOUNT_TOO_LARGE, 0, {{0}}, 0},
	{"huge network fee + platform", {INT64_MAX, 1, 0, 0}, CUR_USDC, 10000, ERR_AMOUNT_TOO_LARGE,
	 0, {{0}}, 0},
};

static void test_quote_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(quotes); i++) {
		const struct quote_case *t = &quotes[i];
		struct fee_quote q;

		memset(&q, 0xA5, sizeof q);
		enum err e = fees_quote(&t->sched, t->source, t->principal, &q);
		if (e != t->want)
			fail_msg("row %zu \"%s\": %s, want %s", i, t->name, err_code(e),
				 err_code(t->want));
		if (e != ERR_OK)
			continue;
		if (q.currency != t->source || q.n != t->n || q.total_minor != t->total)
			fail_msg("row %zu \"%s\": currency %d n %d total %lld, want %d %d %lld",
				 i, t->name, (int)q.currency, q.n, (long long)q.total_minor,
				 (int)t->source, t->n, (long long)t->total);
		for (int k = 0; k < t->n; k++)
			if (q.components[k].kind != t->comps[k].kind ||
			    q.components[k].amount_minor != t->comps[k].amount_minor)
				fail_msg("row %zu \"%s\": component %d is %s %lld, want %s %lld",
					 i, t->name, k, fees_kind_name(q.components[k].kind),
					 (long long)q.components[k].amount_minor,
					 fees_kind_name(t->comps[k].kind),
					 (long long)t->comps[k].amount_minor);
		/* Components of zero are left out. */
		for (int k = 0; k < q.n; k++)
			assert_true(q.components[k].amount_minor > 0);
	}
}

/* fees_default() is the seed's schedule, and quotes the seed's answer. */
static void test_default_schedule(void **state)
{
	(void)state;
	struct fee_schedule s = fees_default();
	struct fee_quote q;

	assert_int_equal(s.network_fee_minor, ONE_USDC);
	assert_int_equal(s.platform_bps, 0);
	static const int64_t principals[] = {1, 250000000, INT64_MAX - ONE_USDC};
	for (size_t i = 0; i < COUNT(principals); i++) {
		memset(&q, 0xA5, sizeof q);
		assert_int_equal(fees_quote(&s, CUR_USDC, principals[i], &q), ERR_OK);
		assert_int_equal(q.currency, CUR_USDC);
		assert_int_equal(q.n, 1);
		assert_int_equal(q.components[0].kind, FEE_NETWORK);
		assert_string_equal(fees_kind_name(q.components[0].kind), "network_fee");
		assert_int_equal(q.components[0].amount_minor, 1000000);
		assert_int_equal(q.total_minor, 1000000);
	}
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(fees_kind_name(FEE_NETWORK), "network_fee");
	assert_string_equal(fees_kind_name(FEE_PLATFORM), "platform_fee");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_schedule),
		cmocka_unit_test(test_quote_table),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
