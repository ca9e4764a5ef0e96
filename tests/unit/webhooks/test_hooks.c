/*
 * test_hooks.c - webhook signatures against their reference vectors, and
 * the address rules that keep endpoints off private networks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhooks/hooks.h"

static void test_standard_reference_vector(void **state)
{
	/* The Standard Webhooks specification's own example. */
	char sig[HOOK_SECRET_MAX];
	const char *body = "{\"test\": 2432232314}";
	assert_true(hook_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				       "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
				       strlen(body), sig));
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* Any change to id, time or body changes it. */
	char other[HOOK_SECRET_MAX];
	assert_true(hook_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				       "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
				       strlen(body), other));
	assert_string_not_equal(sig, other);
	/* Malformed secrets are refused, never signed with garbage. */
	assert_false(hook_sign_standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "x", 1, other));
	assert_false(hook_sign_standard("whsec_abc", "m", 1, "x", 1, other));
}

static void test_lumx_signature(void **state)
{
	/* RFC 4231 test case 2: key "Jefe". */
	const char *body = "what do ya want for nothing?";
	char hex[65];
	hook_sign_lumx("Jefe", body, strlen(body), hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_new_secrets_are_distinct_and_well_formed(void **state)
{
	char a[HOOK_SECRET_MAX], b[HOOK_SECRET_MAX], sig[HOOK_SECRET_MAX];
	assert_true(hook_secret_new(a));
	assert_true(hook_secret_new(b));
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, "whsec_", 6), 0);
	assert_int_equal(strlen(a), 6 + 44); /* base64 of 32 bytes */
	assert_true(hook_sign_standard(a, "m", 1, "{}", 2, sig));
}

static void test_url_rules(void **state)
{
	static const struct {
		const char *url;
		bool loopback_flag;
		enum err want;
	} cases[] = {
		{"https://8.8.8.8/hooks", false, ERR_OK},
		{"https://[2001:4860:4860::8888]/h", false, ERR_OK},
		{"http://8.8.8.8/hooks", false, ERR_INVALID_VALUE}, /* http only in dev mode */
		{"http://8.8.8.8/hooks", true, ERR_OK},
		{"ftp://8.8.8.8/x", true, ERR_INVALID_VALUE},
		{"not a url", false, ERR_INVALID_VALUE},
		{"https://10.0.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://172.16.5.4/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://192.168.1.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://169.254.169.254/latest/meta-data", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://169.254.169.254/latest/meta-data", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://100.64.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://0.0.0.0/x", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://224.0.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://127.0.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://127.0.0.1/x", true, ERR_OK},
		{"http://[::1]:9/x", false, ERR_INVALID_VALUE},
		{"https://[::1]:9/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[::1]:9/x", true, ERR_OK},
		{"https://[fd00:ec2::254]/x", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[fe80::1]/x", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[::ffff:10.0.0.1]/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[::ffff:127.0.0.1]/x", true, ERR_OK},
		{"https://[64:ff9b::a00:1]/x", true, ERR_UNSAFE_WEBHOOK_URL}, /* NAT64 of 10.0.0.1 */
		{"https://[64:ff9b::808:808]/x", false, ERR_OK},              /* NAT64 of 8.8.8.8 */
		{"https://[2002:a00:1::]/x", true, ERR_UNSAFE_WEBHOOK_URL},   /* 6to4 of 10.0.0.1 */
		{"https://[::a00:1]/x", true, ERR_UNSAFE_WEBHOOK_URL},        /* IPv4-compatible */
		{"https://user:pw@8.8.8.8/x", false, ERR_INVALID_VALUE},      /* credentials */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		enum err e = hook_url_check(cases[i].url, cases[i].loopback_flag);
		if (e != cases[i].want)
			fail_msg("%s (loopback %d): %s, want %s", cases[i].url, cases[i].loopback_flag,
				 err_code(e), err_code(cases[i].want));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_reference_vector),
		cmocka_unit_test(test_lumx_signature),
		cmocka_unit_test(test_new_secrets_are_distinct_and_well_formed),
		cmocka_unit_test(test_url_rules),
	};
	hook_global_init();
	int rc = cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
	hook_global_fini();
	return rc;
}
