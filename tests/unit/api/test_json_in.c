/*
 * test_json_in.c - strict decoding: what jansson refuses, what we refuse
 * on top, and the field readers' error codes and JSON pointers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_in.h"
#include "base/limits.h"

static enum err parse_err(const char *s, size_t len)
{
	enum err e = ERR_OK;
	json_t *v = json_in_parse(s, len, &e);
	json_decref(v);
	return v ? ERR_OK : e;
}
#define PARSE(s) parse_err((s), sizeof(s) - 1)

static void test_parse_refusals(void **state)
{
	assert_int_equal(PARSE("{}"), ERR_OK);
	assert_int_equal(PARSE(""), ERR_INVALID_JSON);
	assert_int_equal(PARSE("{"), ERR_INVALID_JSON);
	assert_int_equal(PARSE("{} {}"), ERR_INVALID_JSON);
	assert_int_equal(PARSE("[]"), ERR_INVALID_TYPE);
	assert_int_equal(PARSE("\"x\""), ERR_INVALID_JSON); /* jansson: top level must be a container */
	assert_int_equal(PARSE("{\"a\":1,\"a\":2}"), ERR_DUPLICATE_KEY);
	assert_int_equal(PARSE("{\"a\":\"\\u0000\"}"), ERR_INVALID_STRING);
	assert_int_equal(PARSE("{\"a\":\"\\u001f\"}"), ERR_INVALID_STRING);
	assert_int_equal(PARSE("{\"a\":\"\\n\"}"), ERR_INVALID_STRING);
	assert_int_equal(PARSE("{\"a\\u0001\":1}"), ERR_INVALID_STRING);
	assert_int_equal(PARSE("{\"a\":\"\x01\"}"), ERR_INVALID_STRING); /* raw control */
	assert_int_equal(PARSE("{\"a\":\"\xff\"}"), ERR_INVALID_STRING);
	assert_int_equal(PARSE("{\"a\":\"\xc3\x28\"}"), ERR_INVALID_STRING);
	assert_int_equal(PARSE("{\"a\":\"\\ud800\"}"), ERR_INVALID_JSON); /* lone surrogate */
	assert_int_equal(PARSE("{\"a\":\"\\u00e9\\u20ac\"}"), ERR_OK);
	assert_int_equal(parse_err("{\"a\":1}\0", 8), ERR_INVALID_JSON); /* NUL after the value */
	assert_int_equal(parse_err("{\"a\":1.5\0\n,\"b\":2}", 17), ERR_INVALID_JSON); /* jansson lets it pass */
	/* Integers past int64 are JSON (metadata keeps their text); past a
	 * double's range they are not accepted. */
	assert_int_equal(PARSE("{\"a\":100000000000000000000000,\"b\":1}"), ERR_OK);
	assert_int_equal(PARSE("{\"a\":-123456789012345678901234567890}"), ERR_OK);
	assert_int_equal(PARSE("{\"a\":1e400}"), ERR_INVALID_JSON);
}

static void test_depth_cap(void **state)
{
	char buf[256];
	for (int depth = LIMIT_JSON_DEPTH - 1; depth <= LIMIT_JSON_DEPTH + 1; depth++) {
		/* depth objects: {"a":{"a":...{}...}} */
		size_t o = 0;
		for (int i = 0; i < depth - 1; i++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"a\":");
		o += (size_t)snprintf(buf + o, sizeof buf - o, "{}");
		for (int i = 0; i < depth - 1; i++)
			buf[o++] = '}';
		buf[o] = '\0';
		enum err want = depth <= LIMIT_JSON_DEPTH ? ERR_OK : ERR_JSON_TOO_DEEP;
		assert_int_equal(parse_err(buf, o), want);
	}
	/* Far deeper than jansson's own limit: still a clean 400. */
	size_t n = 10000;
	char *deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	enum err e = parse_err(deep, 2 * n);
	assert_true(e == ERR_JSON_TOO_DEEP || e == ERR_INVALID_JSON);
	free(deep);
}

struct reader {
	json_t *root;
	struct jd d;
	struct jd_obj o;
};

static void load(struct reader *r, const char *s)
{
	enum err e;
	r->root = json_in_parse(s, strlen(s), &e);
	assert_non_null(r->root);
	memset(&r->d, 0, sizeof r->d);
	jd_init(&r->o, r->root, "");
}

static void test_field_readers(void **state)
{
	struct reader r;
	load(&r, "{\"name\":\"x\",\"n\":1,\"nil\":null,\"empty\":\"\"}");
	assert_string_equal(jd_str(&r.d, &r.o, "name", true, false, 10), "x");
	assert_int_equal(r.d.e, ERR_OK);
	assert_null(jd_str(&r.d, &r.o, "nil", false, true, 10));
	assert_int_equal(r.d.e, ERR_OK);
	assert_null(jd_str(&r.d, &r.o, "absent", false, false, 10));
	assert_int_equal(r.d.e, ERR_OK);
	jd_str(&r.d, &r.o, "n", true, false, 10);
	assert_int_equal(r.d.e, ERR_INVALID_TYPE);
	assert_string_equal(r.d.field, "/n");
	json_decref(r.root);

	load(&r, "{\"a\":\"x\"}");
	jd_str(&r.d, &r.o, "b", true, false, 10);
	assert_int_equal(r.d.e, ERR_MISSING_FIELD);
	assert_string_equal(r.d.field, "/b");
	json_decref(r.root);

	load(&r, "{\"a\":\"toolong\"}");
	jd_str(&r.d, &r.o, "a", true, false, 3);
	assert_int_equal(r.d.e, ERR_STRING_TOO_LONG);
	json_decref(r.root);

	load(&r, "{\"a\":\"x\",\"b/c~d\":1}");
	jd_str(&r.d, &r.o, "a", true, false, 10);
	jd_done(&r.d, &r.o);
	assert_int_equal(r.d.e, ERR_UNKNOWN_FIELD);
	assert_string_equal(r.d.field, "/b~1c~0d");
	json_decref(r.root);
}

static void test_money_reader(void **state)
{
	static const struct {
		const char *json;
		enum err want;
		const char *field;
	} cases[] = {
		{"{\"m\":{\"currency\":\"USDC\",\"value\":\"250.00\"}}", ERR_OK, ""},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":250}}", ERR_INVALID_AMOUNT, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":250.5}}", ERR_INVALID_AMOUNT, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":null}}", ERR_INVALID_AMOUNT, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\"}}", ERR_MISSING_FIELD, "/m/value"},
		{"{\"m\":{\"currency\":\"EUR\",\"value\":\"1.00\"}}", ERR_UNSUPPORTED_CURRENCY, "/m/currency"},
		{"{\"m\":{\"currency\":\"XXX\",\"value\":\"1.00\"}}", ERR_UNSUPPORTED_CURRENCY, "/m/currency"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":\"1e3\"}}", ERR_INVALID_AMOUNT, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":\"-1\"}}", ERR_INVALID_AMOUNT, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":\"0\"}}", ERR_AMOUNT_NOT_POSITIVE, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":\"1.0000001\"}}", ERR_AMOUNT_TOO_PRECISE, "/m/value"},
		{"{\"m\":{\"currency\":\"USDC\",\"value\":\"1\",\"x\":1}}", ERR_UNKNOWN_FIELD, "/m/x"},
		{"{\"m\":\"250.00\"}", ERR_INVALID_TYPE, "/m"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct reader r;
		load(&r, cases[i].json);
		enum currency cur;
		int64_t minor = 0;
		jd_money(&r.d, &r.o, "m", true, &cur, &minor);
		if (r.d.e != cases[i].want)
			fail_msg("case %zu (%s): got %s want %s", i, cases[i].json, err_code(r.d.e),
				 err_code(cases[i].want));
		assert_string_equal(r.d.field, cases[i].field);
		if (cases[i].want == ERR_OK)
			assert_int_equal(minor, 250000000);
		json_decref(r.root);
	}
}

static void test_refs(void **state)
{
	struct reader r;
	char id[37];
	load(&r, "{\"a\":\"client-accounts/B8E2F1A0-4C3D-4E5F-9A1B-2C3D4E5F6A7B\","
		 "\"b\":\"clients/b8e2f1a0-4c3d-4e5f-9a1b-2c3d4e5f6a7b\"}");
	assert_true(jd_ref(&r.d, &r.o, "a", "client-accounts", id));
	assert_string_equal(id, "b8e2f1a0-4c3d-4e5f-9a1b-2c3d4e5f6a7b");
	assert_false(jd_ref(&r.d, &r.o, "b", "client-accounts", id));
	assert_int_equal(r.d.e, ERR_INVALID_REFERENCE);
	json_decref(r.root);
}

static void test_canonical_ignores_order_and_space(void **state)
{
	enum err e;
	const char *sa = "{\"b\":1, \"a\":[1,2]}", *sb = "{\"a\":[1,2],\"b\":1}";
	json_t *a = json_in_parse(sa, strlen(sa), &e);
	json_t *b = json_in_parse(sb, strlen(sb), &e);
	assert_non_null(a);
	assert_non_null(b);
	char *ca = json_in_canonical(a), *cb = json_in_canonical(b);
	assert_string_equal(ca, cb);
	free(ca);
	free(cb);
	json_decref(a);
	json_decref(b);
}

/* Which field an invalid_string names: raw or escaped control characters,
 * NUL escapes in values and names, invalid UTF-8; nested and in arrays. */
static void expect_field(const char *s, size_t len, const char *want)
{
	enum err e = ERR_OK;
	char field[JD_PATH_MAX] = "junk";
	json_t *v = json_in_parse_at(s, len, &e, field);
	assert_null(v);
	assert_int_equal(e, ERR_INVALID_STRING);
	assert_string_equal(field, want);
}
#define FIELD(s, want) expect_field((s), sizeof(s) - 1, (want))

static void test_invalid_string_names_field(void **state)
{
	FIELD("{\"ok\":\"x\",\"name\":\"a\x01b\"}", "/name");
	FIELD("{\"name\":\"a\\u0001b\"}", "/name");
	FIELD("{\"name\":\"a\\u0000b\"}", "/name");
	FIELD("{\"name\":\"a\xffz\"}", "/name");
	FIELD("{\"name\":\"a\xc3\x28z\"}", "/name");
	FIELD("{\"name\":\"\xe2\x82\"}", "/name"); /* truncated sequence */
	FIELD("{\"a\":{\"b\":[\"ok\",\"x\xff\"]}}", "/a/b/1");
	FIELD("{\"a/b~c\":\"\\n\"}", "/a~1b~0c");
	FIELD("{\"meta\":{\"k\\u0000\":1}}", "/meta/k\001");
	/* The first of several faults is named. */
	FIELD("{\"a\":\"\xff\",\"b\":\"\x01\"}", "/a");
	/* Other faults after the bad string: still invalid_string, no field. */
	FIELD("{\"a\":\"\xff\",", "");
	/* Faults that are not strings name nothing. */
	enum err e = ERR_OK;
	char field[JD_PATH_MAX] = "junk";
	assert_null(json_in_parse_at("{\"a\":1,\"a\":2}", 13, &e, field));
	assert_int_equal(e, ERR_DUPLICATE_KEY);
	assert_string_equal(field, "");
	/* Many bad bytes: bounded work, still the right code. */
	char big[4096];
	size_t o = (size_t)snprintf(big, sizeof big, "{\"x\":\"");
	while (o < sizeof big - 8)
		big[o++] = (char)0xff;
	o += (size_t)snprintf(big + o, sizeof big - o, "\"}");
	enum err e2 = ERR_OK;
	assert_null(json_in_parse_at(big, o, &e2, field));
	assert_int_equal(e2, ERR_INVALID_STRING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_field_readers),
		cmocka_unit_test(test_money_reader),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_canonical_ignores_order_and_space),
		cmocka_unit_test(test_invalid_string_names_field),
	};
	return cmocka_run_group_tests_name("json_in", tests, NULL, NULL);
}
