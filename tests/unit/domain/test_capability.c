/*
 * test_capability.c - unit tests for domain/capability.c.
 *
 * Lists are handed to the parser in heap buffers of exactly their size, so
 * ASan reports a read past the NUL. Refusals are checked by the offset
 * *bad points at, so a parser that blames the wrong name fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "domain/capability.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char *exact_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* CONTRACT §4's list, written out independently of CAPABILITIES. */
static const char *const names[] = {
	"ramps.create", "ramps.read", "ramps.approve", "ramps.cancel",
	"clients.manage", "accounts.read", "destinations.manage",
	"policies.manage", "webhooks.manage", "sandbox.fund",
};

static void test_names_round_trip(void **state)
{
	(void)state;
	assert_int_equal(COUNT(names), CAP__COUNT);
	uint32_t all = 0;

	for (int i = 0; i < CAP__COUNT; i++) {
		const char *name = capability_name(i);
		char *p = exact_copy(name);
		uint32_t set = 0xDEADBEEF;
		const char *bad = NULL;

		assert_string_equal(name, names[i]);
		if (!capability_parse_list(p, &set, &bad))
			fail_msg("capability_parse_list(\"%s\") refused", name);
		assert_int_equal(set, 1u << i);
		all |= set;
		free(p);
	}
	assert_int_equal(all, CAP_ALL);
	assert_int_equal(CAP_RAMPS_CREATE, 1u << CAP_RAMPS_CREATE_BIT);
	assert_int_equal(CAP_SANDBOX_FUND, 1u << CAP_SANDBOX_FUND_BIT);
}

struct list_ok {
	const char *list;
	uint32_t want;
};

static const struct list_ok lists_ok[] = {
	{"ramps.create,ramps.read", CAP_RAMPS_CREATE | CAP_RAMPS_READ},
	{"ramps.read,ramps.create", CAP_RAMPS_CREATE | CAP_RAMPS_READ},
	{"ramps.read,ramps.read", CAP_RAMPS_READ},
	{"sandbox.fund", CAP_SANDBOX_FUND},
	{"ramps.create,ramps.read,ramps.approve,ramps.cancel,clients.manage,"
	 "accounts.read,destinations.manage,policies.manage,webhooks.manage,"
	 "sandbox.fund",
	 CAP_ALL},
};

static void test_parse_lists(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(lists_ok); i++) {
		char *p = exact_copy(lists_ok[i].list);
		uint32_t set = 0xDEADBEEF;
		const char *bad = NULL;

		if (!capability_parse_list(p, &set, &bad))
			fail_msg("capability_parse_list(\"%s\") refused at \"%s\"",
				 lists_ok[i].list, bad ? bad : "(null)");
		if (set != lists_ok[i].want)
			fail_msg("capability_parse_list(\"%s\") = %#x, want %#x",
				 lists_ok[i].list, set, lists_ok[i].want);
		free(p);
	}
	/* Two bits, exactly. */
	uint32_t set = 0;
	assert_true(capability_parse_list("ramps.create,ramps.read", &set, NULL));
	assert_int_equal(__builtin_popcount(set), 2);
}

struct list_bad {
	const char *list;
	size_t bad_at; /* offset *bad must point at */
};

static const struct list_bad lists_bad[] = {
	{"", 0},                             /* empty list: an empty name */
	{"a,", 0},                           /* unknown, before the trailing comma */
	{"ramps.read,", 11},                 /* trailing comma: the empty last name */
	{",ramps.read", 0},                  /* leading comma */
	{"ramps.read,,ramps.create", 11},    /* double comma */
	{"ramps.read, ramps.create", 11},    /* space after comma */
	{" ramps.read", 0},                  /* leading space */
	{"ramps.read ", 0},                  /* trailing space */
	{"ramps.read ,ramps.create", 0},     /* space before comma */
	{"ramps.create,ramps.delete", 13},   /* unknown second name */
	{"RAMPS.READ", 0},                   /* case matters */
	{"ramps", 0},                        /* prefix of a name */
	{"ramps.reads", 0},                  /* name plus a character */
	{"ramps.rea", 0},                    /* name minus a character */
	{"ramps.read,sandbox.fund,x", 24},   /* unknown third name */
	{"ramps.read;ramps.create", 0},      /* wrong separator */
};

static void test_parse_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(lists_bad); i++) {
		char *p = exact_copy(lists_bad[i].list);
		uint32_t set = 0;
		const char *bad = NULL;

		if (capability_parse_list(p, &set, &bad))
			fail_msg("capability_parse_list(\"%s\") accepted it (%#x)",
				 lists_bad[i].list, set);
		if (bad == NULL)
			fail_msg("capability_parse_list(\"%s\") left *bad NULL",
				 lists_bad[i].list);
		if (bad != p + lists_bad[i].bad_at)
			fail_msg("capability_parse_list(\"%s\"): *bad at offset %td, want %zu",
				 lists_bad[i].list, bad - p, lists_bad[i].bad_at);
		/* bad may be NULL. */
		assert_false(capability_parse_list(p, &set, NULL));
		free(p);
	}
}

static void test_names_distinct(void **state)
{
	(void)state;
	/* Every in-range name is distinct and non-empty. */
	for (int a = 0; a < CAP__COUNT; a++) {
		assert_true(strlen(capability_name(a)) > 0);
		for (int b = a + 1; b < CAP__COUNT; b++)
			assert_string_not_equal(capability_name(a), capability_name(b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_parse_lists),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_names_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
