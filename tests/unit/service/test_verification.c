/*
 * test_verification.c - Lumx's sandbox verification rule (the tax id's
 * last digit) and the names the API shows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "service/service.h"

static void test_last_digit_rule(void **state)
{
	static const struct {
		const char *tax_id;
		enum svc_verification want;
	} cases[] = {
		{"52998224721", SVC_VERIFICATION_NOT_STARTED},
		{"529.982.247-22", SVC_VERIFICATION_RFI},
		{"DE123456783", SVC_VERIFICATION_FINAL_REJECTION},
		{"DE123456789", SVC_VERIFICATION_APPROVED},
		{"123.456.789-00", SVC_VERIFICATION_APPROVED},
		{"1-X", SVC_VERIFICATION_NOT_STARTED}, /* the last digit, not character */
		{"31", SVC_VERIFICATION_NOT_STARTED},
		{"ABC", SVC_VERIFICATION_APPROVED},    /* no digit */
		{"", SVC_VERIFICATION_APPROVED},
		{NULL, SVC_VERIFICATION_APPROVED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		assert_int_equal(svc_verification_sandbox(cases[i].tax_id), cases[i].want);
}

static void test_names(void **state)
{
	assert_string_equal(svc_verification_name(SVC_VERIFICATION_APPROVED), "APPROVED");
	assert_string_equal(svc_verification_name(SVC_VERIFICATION_NOT_STARTED), "NOT_STARTED");
	assert_string_equal(svc_verification_name(SVC_VERIFICATION_RFI), "RFI");
	assert_string_equal(svc_verification_name(SVC_VERIFICATION_FINAL_REJECTION), "FINAL_REJECTION");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_digit_rule),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests_name("verification", tests, NULL, NULL);
}
