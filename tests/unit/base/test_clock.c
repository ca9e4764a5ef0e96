/*
 * test_clock.c - the UTC calendar month a time falls in (monthly limits).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/clock.h"

static void month_of(int64_t t, const char *want)
{
	char got[CLOCK_RFC3339_LEN + 1];
	clock_rfc3339(clock_month_start(t), got);
	assert_string_equal(got, want);
}

static void test_month_start(void **state)
{
	month_of(0, "1970-01-01T00:00:00Z");
	month_of(1777629600, "2026-05-01T00:00:00Z");     /* 2026-05-01T10:00:00Z */
	month_of(1777593600, "2026-05-01T00:00:00Z");     /* the first second itself */
	month_of(1777593599, "2026-04-01T00:00:00Z");     /* the second before */
	month_of(1709251199, "2024-02-01T00:00:00Z");     /* 2024-02-29T23:59:59Z, leap day */
	month_of(1709251200, "2024-03-01T00:00:00Z");
	month_of(1798761599, "2026-12-01T00:00:00Z");     /* 2026-12-31T23:59:59Z */
	month_of(1798761600, "2027-01-01T00:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_month_start),
	};
	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
