/*
 * test_json_exact.c - numbers keep their text through parse and dump;
 * everything else is written as jansson writes it; what is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_exact.h"
#include "api/json_in.h"
#include "base/limits.h"

static char *canon(const char *s) { return json_exact_canonical(s, strlen(s)); }

static void expect_canon(const char *in, const char *want)
{
	char *got = canon(in);
	assert_non_null(got);
	assert_string_equal(got, want);
	/* Canonical text is a fixed point. */
	char *again = canon(got);
	assert_string_equal(again, got);
	free(again);
	free(got);
}

static void test_numbers_keep_their_text(void **state)
{
	expect_canon("{\"a\": 0.1, \"b\": 1.5e-7, \"c\": 1.0, \"d\": 1e2, \"e\": 1E+2}",
		     "{\"a\":0.1,\"b\":1.5e-7,\"c\":1.0,\"d\":1e2,\"e\":1E+2}");
	expect_canon("{\"z\": -0, \"y\": -0.0, \"x\": 100000000000000000000000,"
		     " \"w\": -123456789012345678901234567890, \"v\": 3.141592653589793238462643383279}",
		     "{\"v\":3.141592653589793238462643383279,\"w\":-123456789012345678901234567890,"
		     "\"x\":100000000000000000000000,\"y\":-0.0,\"z\":-0}");
	expect_canon("{\"l\": [2.50, {\"n\": 1.000}, [7E-1, 42]], \"s\": \"0.1\", \"t\": true, \"f\": false,"
		     " \"n\": null, \"o\": {}, \"a\": []}",
		     "{\"a\":[],\"f\":false,\"l\":[2.50,{\"n\":1.000},[7E-1,42]],\"n\":null,\"o\":{},"
		     "\"s\":\"0.1\",\"t\":true}");
}

static void test_strings_keep_their_characters(void **state)
{
	/* Escapes are normalised (the same characters): as jansson writes. */
	expect_canon("{\"k\\u00e9\": \"caf\\u00e9 \\\"q\\\" \\\\ \\/ \\ud83d\\ude00 \\u20ac\"}",
		     "{\"k\xc3\xa9\":\"caf\xc3\xa9 \\\"q\\\" \\\\ / \xf0\x9f\x98\x80 \xe2\x82\xac\"}");
}

/* Without marked numbers, the dump is byte for byte json_in_canonical's. */
static void test_same_bytes_as_jansson(void **state)
{
	const char *docs[] = {
		"{\"b\":1,\"a\":[1,2,{\"y\":null,\"x\":true}],\"c\":\"Z\xc3\xbcrich \xe2\x82\xac\"}",
		"{\"id\":\"01a2\",\"n\":-9223372036854775807,\"e\":{},\"q\":\"a\\\"b\\\\c/d\"}",
		"{\"r\":0.5,\"s\":1e300}",
	};
	for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
		enum err e;
		json_t *v = json_in_parse(docs[i], strlen(docs[i]), &e);
		assert_non_null(v);
		char *a = json_in_canonical(v), *b = json_exact_dumps(v);
		assert_string_equal(a, b);
		free(a);
		free(b);
		json_decref(v);
	}
}

/* A document json_in read has the canonical text json_exact_canonical
 * gives its text, whether the tree is dumped (no number in it) or the text
 * parsed again (a number in it): the idempotency hash of a request does not
 * depend on which path computed it. */
static void test_canonical_of_a_read_tree(void **state)
{
	const char *docs[] = {
		"{\"b\": \"x\", \"a\": [\"1\", {\"y\": null, \"x\": true}], \"c\": \"Z\xc3\xbcrich \xe2\x82\xac\"}",
		"{\"k\\u00e9\": \"caf\\u00e9 \\\"q\\\" \\\\ \\/ \\ud83d\\ude00\", \"e\": {}, \"f\": [[], [{}]]}",
		"{\"account_ref\":\"client-accounts/x\",\"amount\":{\"currency\":\"USDC\",\"value\":\"250.00\"},"
		" \"destination\": {\"method\": \"bank_transfer\", \"reference_hint\": null}}",
		"{\"n\": 1.0, \"s\": \"t\"}",
		"{\"deep\": [{\"a\": [false, {\"b\": -0}]}]}",
		"{\"big\": 100000000000000000000000, \"s\": \"\\t\"}",
	};
	for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
		enum err e = ERR_OK;
		char field[JD_PATH_MAX];
		json_t *tree = json_in_parse_at(docs[i], strlen(docs[i]), &e, field);
		char *want = json_exact_canonical(docs[i], strlen(docs[i]));
		if (!tree) {
			assert_int_not_equal(e, ERR_OK); /* refused: no canonical text asked for */
			free(want);
			continue;
		}
		char *got = json_exact_canonical_of(tree, docs[i], strlen(docs[i]));
		assert_non_null(want);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
		free(want);
		json_decref(tree);
	}
}

static void test_refusals(void **state)
{
	const char *bad[] = {
		"", "{", "{} {}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":.5}", "{\"a\":1.}", "{\"a\":+1}",
		"{\"a\":NaN}", "{\"a\":\"\\u0000\"}", "{\"a\\u0000\":1}", "{\"a\":\"\\u0001\"}",
		"{\"\x01\":1}", "{\"a\":\"\xff\"}", "/* c */ {}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *v = json_exact_parse(bad[i], strlen(bad[i]));
		if (v)
			fail_msg("accepted: %s", bad[i]);
	}
	/* Depth: the cap parses, one more does not. */
	char deep[2 * LIMIT_JSON_EXACT_DEPTH + 2];
	for (int depth = LIMIT_JSON_EXACT_DEPTH; depth <= LIMIT_JSON_EXACT_DEPTH + 1; depth++) {
		int o = 0;
		for (int i = 0; i < depth; i++)
			deep[o++] = '[';
		for (int i = 0; i < depth; i++)
			deep[o++] = ']';
		json_t *v = json_exact_parse(deep, (size_t)o);
		assert_true((v != NULL) == (depth == LIMIT_JSON_EXACT_DEPTH));
		json_decref(v);
	}
}

/* A parsed number is a marked string in the tree, so code reading the
 * tree cannot take it for a double. */
/* A marked string is written raw only when it is a number's text: a
 * marked string built any other way (no input can make one) fails the
 * write instead of injecting JSON. */
static void test_mark_writes_only_numbers(void **state)
{
	static const char *const ok[] = {"0", "-0", "1.5e-7", "100000000000000000000000", "2E+3"};
	static const char *const bad[] = {"1,\"x\":1", "01", "1.", ".5", "1e", "--1", "true", ""};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		char m[64];
		snprintf(m, sizeof m, "%c%s", JSON_EXACT_MARK, ok[i]);
		json_t *o = json_pack("{s:s}", "n", m);
		char *t = json_exact_dumps(o);
		char want[80];
		snprintf(want, sizeof want, "{\"n\":%s}", ok[i]);
		assert_non_null(t);
		assert_string_equal(t, want);
		free(t);
		json_decref(o);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char m[64];
		snprintf(m, sizeof m, "%c%s", JSON_EXACT_MARK, bad[i]);
		json_t *o = json_pack("{s:s}", "n", m);
		char *t = json_exact_dumps(o);
		if (bad[i][0]) /* the bare mark alone is an ordinary string */
			assert_null(t);
		free(t);
		json_decref(o);
	}
}

static void test_tree_shape(void **state)
{
	const char *s = "{\"m\":{\"n\":0.1}}";
	json_t *v = json_exact_parse(s, strlen(s));
	assert_non_null(v);
	json_t *n = json_object_get(json_object_get(v, "m"), "n");
	assert_true(json_is_string(n));
	assert_int_equal(json_string_value(n)[0], JSON_EXACT_MARK);
	assert_string_equal(json_string_value(n) + 1, "0.1");
	/* Subtrees move between documents and keep their text. */
	json_t *w = json_pack("{s:O, s:i}", "metadata", json_object_get(v, "m"), "k", 7);
	char *t = json_exact_dumps(w);
	assert_string_equal(t, "{\"k\":7,\"metadata\":{\"n\":0.1}}");
	free(t);
	json_decref(w);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_keep_their_text),
		cmocka_unit_test(test_strings_keep_their_characters),
		cmocka_unit_test(test_same_bytes_as_jansson),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mark_writes_only_numbers),
		cmocka_unit_test(test_tree_shape),
		cmocka_unit_test(test_canonical_of_a_read_tree),
	};
	return cmocka_run_group_tests_name("json_exact", tests, NULL, NULL);
}
