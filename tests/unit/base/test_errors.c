/*
 * test_errors.c - the error table's lookups, and the kept-answer rule
 * (CONTRACT §7) derived from it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/errors.h"

static void test_kept_rule(void **state)
{
	assert_true(err_kept(ERR_OK));
	assert_true(err_kept(ERR_INSUFFICIENT_FUNDS));      /* 422 */
	assert_true(err_kept(ERR_NOT_FOUND));               /* 404 */
	assert_true(err_kept(ERR_INVALID_JSON));            /* 400 */
	assert_false(err_kept(ERR_UNAUTHENTICATED));        /* 401 */
	assert_false(err_kept(ERR_MISSING_CAPABILITY));     /* 403 */
	assert_false(err_kept(ERR_IDEMPOTENCY_KEY_REUSED)); /* 409 */
	assert_false(err_kept(ERR_PRECONDITION_FAILED));    /* 412 */
	assert_false(err_kept(ERR_INTERNAL));
	assert_false(err_kept(ERR_UNAVAILABLE));
	/* Every code: kept exactly when its class is 400, 404 or 422. */
	for (int e = 1; e < ERR__COUNT; e++) {
		int s = err_http_status((enum err)e);
		assert_int_equal(err_kept((enum err)e), s == 400 || s == 404 || s == 422);
		assert_true(strlen(err_code((enum err)e)) > 0);
	}
	/* Out of range is treated as internal: never kept. */
	assert_false(err_kept((enum err)ERR__COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_rule),
	};
	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
