/*
 * test_log.c - bank identifiers are masked before they reach a log line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/log.h"

static void test_mask_keeps_four_each_side(void **state)
{
	char out[64];
	log_mask("GB29NWBK60161331926819", out, sizeof out);
	assert_string_equal(out, "GB29**************6819");
	log_mask("12345678", out, sizeof out); /* too short to show any of it */
	assert_string_equal(out, "********");
	log_mask("123456789", out, sizeof out);
	assert_string_equal(out, "1234*6789");
	log_mask("GB29NWBK60161331926819", out, 5); /* truncates, still masked */
	assert_string_equal(out, "GB29");
	log_mask("", out, sizeof out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_mask_keeps_four_each_side)};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
