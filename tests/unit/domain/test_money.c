/*
 * test_money.c - unit tests for domain/money.c.
 *
 * Parsing is tested from tables of (input, currency, expected outcome).
 * Every input is handed to money_parse in a heap buffer of exactly its
 * length and without a NUL (money_parse takes a length, not a C string),
 * so ASan reports any read past the end. Printing is tested into a heap
 * buffer of exactly MONEY_STR_MAX bytes for the same reason. A fixed-seed
 * LCG drives the format/parse round trip so that any failure replays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/money.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

/* A sentinel that no table expects as a parse result. */
#define UNTOUCHED ((int64_t)-777)

/*
 * Parse s[0..len) from a heap copy of exactly len bytes. For len 0 the
 * buffer holds one byte, a '7', that the parser must not read: if it did,
 * "" would parse as 7.
 */
static enum err parse_exact(const char *s, size_t len, enum currency c,
			    int64_t *out)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, s, len);
	else
		p[0] = '7';
	enum err e = money_parse(p, len, c, out);
	free(p);
	return e;
}

static const char *int64_str(int64_t v, char buf[32])
{
	snprintf(buf, 32, "%lld", (long long)v);
	return buf;
}

/* ---- money_parse: valid --------------------------------------------- */

struct parse_ok {
	const char *in;
	enum currency cur;
	int64_t want;
};

static const struct parse_ok parse_valid[] = {
	{"250.00", CUR_USDC, 250000000},
	{"0.000001", CUR_USDC, 1},
	{"1", CUR_USDC, 1000000},
	{"1.5", CUR_USDC, 1500000},
	{"0.5", CUR_USDC, 500000},
	{"1.000000", CUR_USDC, 1000000},
	{"123.456789", CUR_USDC, 123456789},
	{"10", CUR_USDT, 10000000},
	{"9223372036854.775807", CUR_USDC, INT64_MAX},
	{"0.01", CUR_EUR, 1},
	{"100", CUR_EUR, 10000},
	{"1.10", CUR_EUR, 110},
	{"0.5", CUR_EUR, 50},
	{"92233720368547758.07", CUR_EUR, INT64_MAX},
	{"7.25", CUR_USD, 725},
	{"7.25", CUR_GBP, 725},
	{"7.25", CUR_BRL, 725},
	{"7.25", CUR_MXN, 725},
};

static void test_parse_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(parse_valid); i++) {
		const struct parse_ok *t = &parse_valid[i];
		int64_t got = UNTOUCHED;
		enum err e = parse_exact(t->in, strlen(t->in), t->cur, &got);
		char a[32], b[32];

		if (e != ERR_OK || got != t->want)
			fail_msg("money_parse(\"%s\", %s) = %s, %s; want ok, %s",
				 t->in, money_currency_code(t->cur), err_code(e),
				 int64_str(got, a), int64_str(t->want, b));
	}
}

/* ---- money_parse: every refusal ------------------------------------- */

struct parse_bad {
	const char *in;
	size_t len; /* 0: strlen(in); otherwise the exact length (embedded NUL) */
	enum currency cur;
	enum err want;
};

static const struct parse_bad parse_invalid[] = {
	/* grammar */
	{"", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{".", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"5.", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{".5", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"+1", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"-1", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{" 1", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1 ", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1e3", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1E3", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"0x10", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"01", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"00", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"00.5", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"007", 0, CUR_EUR, ERR_INVALID_AMOUNT},
	{"1,00", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1..0", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1.0.0", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"\xD9\xA1", 0, CUR_USDC, ERR_INVALID_AMOUNT},  /* U+0661 ARABIC-INDIC ONE */
	{"1\xD9\xA1", 0, CUR_USDC, ERR_INVALID_AMOUNT}, /* ASCII 1, then U+0661 */
	{"\xEF\xBC\x91", 0, CUR_USDC, ERR_INVALID_AMOUNT}, /* U+FF11 FULLWIDTH ONE */
	{"1\0", 2, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1\0" "2", 3, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1.\0" "5", 4, CUR_USDC, ERR_INVALID_AMOUNT},
	{"\0" "1", 2, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1.00x", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"1.0000001x", 0, CUR_USDC, ERR_INVALID_AMOUNT}, /* grammar before precision */
	{"1\t", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"Infinity", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	{"NaN", 0, CUR_USDC, ERR_INVALID_AMOUNT},
	/* not positive */
	{"0", 0, CUR_USDC, ERR_AMOUNT_NOT_POSITIVE},
	{"0.00", 0, CUR_USDC, ERR_AMOUNT_NOT_POSITIVE},
	{"0.000000", 0, CUR_USDC, ERR_AMOUNT_NOT_POSITIVE},
	{"0.0", 0, CUR_EUR, ERR_AMOUNT_NOT_POSITIVE},
	{"0", 0, CUR_EUR, ERR_AMOUNT_NOT_POSITIVE},
	/* too precise */
	{"1.0000001", 0, CUR_USDC, ERR_AMOUNT_TOO_PRECISE},
	{"0.0000001", 0, CUR_USDT, ERR_AMOUNT_TOO_PRECISE},
	{"1.001", 0, CUR_EUR, ERR_AMOUNT_TOO_PRECISE},
	{"1.000", 0, CUR_EUR, ERR_AMOUNT_TOO_PRECISE}, /* refused, never rounded */
	/* too large */
	{"9223372036854.775808", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	{"92233720368547758.08", 0, CUR_EUR, ERR_AMOUNT_TOO_LARGE},
	{"9223372036854775807", 0, CUR_EUR, ERR_AMOUNT_TOO_LARGE},
	{"9223372036854775808", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	/* the integer part fits int64 but not once scaled to minor units */
	{"9223372036855", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	{"9999999999999", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	/* 2^64 + 1 minor units: a parser that wraps would return 1 */
	{"18446744073709.551617", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	{"184467440737095516.17", 0, CUR_EUR, ERR_AMOUNT_TOO_LARGE},
	{"123456789012345678901234567890", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	{"123456789012345678901234567890", 0, CUR_EUR, ERR_AMOUNT_TOO_LARGE},
	{"123456789012345678901234567890.5", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	{"100000000000000000000000000000", 0, CUR_USDC, ERR_AMOUNT_TOO_LARGE},
	/* unknown currency */
	{"1", 0, CUR_NONE, ERR_INVALID_AMOUNT},
	{"1.00", 0, CUR__COUNT, ERR_INVALID_AMOUNT},
};

static void test_parse_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(parse_invalid); i++) {
		const struct parse_bad *t = &parse_invalid[i];
		size_t len = t->len ? t->len : strlen(t->in);
		int64_t got = UNTOUCHED;
		enum err e = parse_exact(t->in, len, t->cur, &got);

		if (e != t->want)
			fail_msg("money_parse(row %zu \"%s\" len %zu, %s) = %s, want %s",
				 i, t->in, len, money_currency_code(t->cur),
				 err_code(e), err_code(t->want));
		/* *out is written only on ERR_OK. */
		if (got != UNTOUCHED)
			fail_msg("money_parse(row %zu \"%s\") wrote *out on %s", i,
				 t->in, err_code(e));
	}
}

/* Long digit strings, built rather than typed, in both currencies. */
static void test_parse_huge_digit_strings(void **state)
{
	(void)state;
	static const size_t lengths[] = {20, 30, 64, 200, 4096};
	static const enum currency curs[] = {CUR_USDC, CUR_EUR};

	for (size_t i = 0; i < COUNT(lengths); i++) {
		char *s = malloc(lengths[i]);

		assert_non_null(s);
		memset(s, '9', lengths[i]);
		for (size_t c = 0; c < COUNT(curs); c++) {
			int64_t got = UNTOUCHED;

			assert_int_equal(money_parse(s, lengths[i], curs[c], &got),
					 ERR_AMOUNT_TOO_LARGE);
			assert_int_equal(got, UNTOUCHED);
		}
		/* The same digits after "0." are a precision error, not size. */
		char *f = malloc(lengths[i] + 2);
		assert_non_null(f);
		memcpy(f, "0.", 2);
		memset(f + 2, '9', lengths[i]);
		for (size_t c = 0; c < COUNT(curs); c++) {
			int64_t got = UNTOUCHED;

			assert_int_equal(money_parse(f, lengths[i] + 2, curs[c], &got),
					 ERR_AMOUNT_TOO_PRECISE);
			assert_int_equal(got, UNTOUCHED);
		}
		free(f);
		free(s);
	}
}

/* The length bounds the parse: the same bytes with a shorter len are a
 * different (valid) amount, and bytes past len are never looked at. */
static void test_parse_uses_len(void **state)
{
	(void)state;
	int64_t got = UNTOUCHED;

	assert_int_equal(parse_exact("12.34xyz", 5, CUR_EUR, &got), ERR_OK);
	assert_int_equal(got, 1234);
	got = UNTOUCHED;
	assert_int_equal(parse_exact("12.34xyz", 3, CUR_EUR, &got),
			 ERR_INVALID_AMOUNT); /* "12." */
	assert_int_equal(got, UNTOUCHED);
	assert_int_equal(parse_exact("12.34xyz", 2, CUR_EUR, &got), ERR_OK);
	assert_int_equal(got, 1200);
}

/* ---- money_format ----------------------------------------------------- */

struct format_case {
	int64_t minor;
	enum currency cur;
	const char *want;
};

static const struct format_case formats[] = {
	{250000000, CUR_USDC, "250.00"},
	{123457, CUR_USDC, "0.123457"},
	{1, CUR_USDC, "0.000001"},
	{10, CUR_USDC, "0.00001"},
	{100000, CUR_USDC, "0.10"},
	{0, CUR_USDC, "0.00"},
	{0, CUR_EUR, "0.00"},
	{100, CUR_EUR, "1.00"},
	{5, CUR_EUR, "0.05"},
	{1230000, CUR_USDC, "1.23"},
	{1234500, CUR_USDC, "1.2345"},
	{1000000, CUR_USDT, "1.00"},
	{-1500000, CUR_USDC, "-1.50"},
	{-150, CUR_EUR, "-1.50"},
	{-1, CUR_USDC, "-0.000001"},
	{-5, CUR_EUR, "-0.05"},
	{INT64_MAX, CUR_USDC, "9223372036854.775807"},
	{INT64_MIN, CUR_USDC, "-9223372036854.775808"},
	{INT64_MIN + 1, CUR_USDC, "-9223372036854.775807"},
	{INT64_MAX, CUR_EUR, "92233720368547758.07"},
	{INT64_MIN, CUR_EUR, "-92233720368547758.08"},
	{123456789, CUR_GBP, "1234567.89"},
};

static void test_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(formats); i++) {
		const struct format_case *t = &formats[i];
		char *out = malloc(MONEY_STR_MAX);
		char a[32];

		assert_non_null(out);
		memset(out, 'Z', MONEY_STR_MAX);
		char *r = money_format(t->minor, t->cur, out);
		assert_ptr_equal(r, out);
		assert_non_null(memchr(out, '\0', MONEY_STR_MAX));
		if (strcmp(out, t->want) != 0)
			fail_msg("money_format(%s, %s) = \"%s\", want \"%s\"",
				 int64_str(t->minor, a),
				 money_currency_code(t->cur), out, t->want);
		free(out);
	}
}

/* ---- round trip ------------------------------------------------------- */

/* Knuth's MMIX LCG: fixed seed, so a failure replays exactly. */
static uint64_t lcg_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s;
}

static void test_round_trip(void **state)
{
	(void)state;
	static const enum currency curs[] = {CUR_USDC, CUR_USDT, CUR_EUR, CUR_BRL};
	uint64_t seed = 0x0FF2A3B1ULL;
	int checked = 0;

	for (int i = 0; i < 4000; i++) {
		/* Top bits of the LCG, shifted by a random amount so every
		 * magnitude from 1 to INT64_MAX gets picked. */
		uint64_t r = lcg_next(&seed) >> 1;
		unsigned shift = (unsigned)(lcg_next(&seed) >> 58); /* 0..63 */
		int64_t v = (int64_t)(r >> (shift > 62 ? 62 : shift));
		if (v == 0)
			v = 1;
		if (i == 0)
			v = INT64_MAX;
		for (size_t c = 0; c < COUNT(curs); c++) {
			char out[MONEY_STR_MAX];
			char a[32];
			int64_t back = UNTOUCHED;

			money_format(v, curs[c], out);
			enum err e = money_parse(out, strlen(out), curs[c], &back);
			if (e != ERR_OK || back != v)
				fail_msg("round trip %s %s -> \"%s\" -> %s",
					 int64_str(v, a), money_currency_code(curs[c]),
					 out, err_code(e));
			checked++;
		}
	}
	assert_int_equal(checked, 4000 * (int)COUNT(curs));
}

/* ---- money_add / money_sub -------------------------------------------- */

struct arith_case {
	bool sub;
	int64_t a, b;
	bool ok;
	int64_t want;
};

static const struct arith_case ariths[] = {
	{false, 2, 3, true, 5},
	{false, INT64_MAX, 0, true, INT64_MAX},
	{false, INT64_MAX, 1, false, 0},
	{false, 1, INT64_MAX, false, 0},
	{false, INT64_MAX, INT64_MAX, false, 0},
	{false, INT64_MIN, -1, false, 0},
	{false, -1, INT64_MIN, false, 0},
	{false, INT64_MIN, INT64_MIN, false, 0},
	{false, INT64_MAX, INT64_MIN, true, -1},
	{false, INT64_MAX - 1, 1, true, INT64_MAX},
	{false, INT64_MIN + 1, -1, true, INT64_MIN},
	{true, 5, 7, true, -2},
	{true, INT64_MIN, 0, true, INT64_MIN},
	{true, INT64_MIN, 1, false, 0},
	{true, 0, INT64_MIN, false, 0},
	{true, -1, INT64_MIN, true, INT64_MAX},
	{true, INT64_MAX, -1, false, 0},
	{true, INT64_MAX, INT64_MAX, true, 0},
	{true, INT64_MIN + 1, 1, true, INT64_MIN},
};

static void test_add_sub(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(ariths); i++) {
		const struct arith_case *t = &ariths[i];
		int64_t out = UNTOUCHED;
		bool ok = t->sub ? money_sub(t->a, t->b, &out)
				 : money_add(t->a, t->b, &out);
		char a[32], b[32], o[32];

		if (ok != t->ok)
			fail_msg("row %zu: money_%s(%s, %s) = %s", i,
				 t->sub ? "sub" : "add", int64_str(t->a, a),
				 int64_str(t->b, b), ok ? "true" : "false");
		if (ok && out != t->want)
			fail_msg("row %zu: money_%s(%s, %s) gave %s", i,
				 t->sub ? "sub" : "add", int64_str(t->a, a),
				 int64_str(t->b, b), int64_str(out, o));
		if (!ok && out != UNTOUCHED)
			fail_msg("row %zu: *out written on overflow", i);
	}
}

/* ---- currencies ------------------------------------------------------- */

/* Written out independently of MONEY_CURRENCIES: CONTRACT §3's list. */
static const struct {
	const char *code;
	int scale;
	bool coin;
} currencies[] = {
	{"USDC", 6, true}, {"USDT", 6, true}, {"EUR", 2, false}, {"USD", 2, false},
	{"GBP", 2, false}, {"BRL", 2, false}, {"MXN", 2, false},
};

static void test_currencies(void **state)
{
	(void)state;
	assert_int_equal(COUNT(currencies), CUR__COUNT - 1);
	for (size_t i = 0; i < COUNT(currencies); i++) {
		enum currency c = money_currency(currencies[i].code);

		if (c == CUR_NONE)
			fail_msg("money_currency(\"%s\") = CUR_NONE", currencies[i].code);
		assert_string_equal(money_currency_code(c), currencies[i].code);
		assert_int_equal(money_scale(c), currencies[i].scale);
		assert_int_equal(money_is_stablecoin(c), currencies[i].coin);
		assert_true(money_scale(c) <= MONEY_SCALE_MAX);
	}
	assert_int_equal(money_currency("USDC"), CUR_USDC);
	assert_int_equal(money_currency("EUR"), CUR_EUR);
	assert_int_equal(money_scale(CUR_USDC), 6);
	assert_int_equal(money_scale(CUR_EUR), 2);

	static const char *const unknown[] = {
		"usdc", "Usdc", "eur", "", "US", "USDCX", "USDC ", " EUR", "XAU", "BTC",
	};
	for (size_t i = 0; i < COUNT(unknown); i++)
		if (money_currency(unknown[i]) != CUR_NONE)
			fail_msg("money_currency(\"%s\") is not CUR_NONE", unknown[i]);

	assert_string_equal(money_currency_code(CUR_NONE), "");
	assert_false(money_is_stablecoin(CUR_NONE));
	assert_false(money_is_stablecoin(CUR_EUR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_huge_digit_strings),
		cmocka_unit_test(test_parse_uses_len),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_add_sub),
		cmocka_unit_test(test_currencies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
