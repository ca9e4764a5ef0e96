/*
 * test_fx.c - unit tests for domain/fx.c.
 *
 * Parsing, printing and conversion are tested from tables. Every string
 * handed to fx_rate_parse lives in a heap buffer of exactly strlen + 1
 * bytes, and every fx_rate_format output buffer is a heap buffer of
 * exactly FX_STR_MAX bytes, so ASan reports any read or write past them.
 * Each conversion row is also checked against an independent oracle, the
 * exact quotient amount * value * 10^to / 10^(from + scale) computed here
 * in unsigned __int128, so a wrong expectation in the table fails too. A
 * fixed-seed LCG drives the round-trip and floor-property loops so any
 * failure replays. No floating point.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fx.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

/* A sentinel no table expects: proves *out was left alone. */
#define UNTOUCHED_VALUE ((int64_t)-777)
#define UNTOUCHED_SCALE (-7)
#define UNTOUCHED_MINOR ((int64_t)-555)

typedef unsigned __int128 u128;

static enum err parse_heap(const char *s, struct fx_rate *out)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	assert_non_null(p);
	memcpy(p, s, n);
	enum err e = fx_rate_parse(p, out);
	free(p);
	return e;
}

/* Format into a heap buffer of exactly FX_STR_MAX bytes and compare. */
static void check_format(int64_t value, int scale, const char *want)
{
	struct fx_rate r = {value, scale};
	char *buf = malloc(FX_STR_MAX);

	assert_non_null(buf);
	memset(buf, 'x', FX_STR_MAX);
	char *ret = fx_rate_format(&r, buf);
	if (ret != buf)
		fail_msg("fx_rate_format(%lld, %d) did not return its buffer",
			 (long long)value, scale);
	if (memchr(buf, '\0', FX_STR_MAX) == NULL || strcmp(buf, want) != 0)
		fail_msg("fx_rate_format(%lld, %d) = \"%.*s\"; want \"%s\"",
			 (long long)value, scale, FX_STR_MAX, buf, want);
	free(buf);
}

static u128 pow10_u128(int n)
{
	u128 p = 1;
	for (int i = 0; i < n; i++)
		p *= 10;
	return p;
}

/* Decimal text of a u128, for failure messages. */
static const char *u128_str(u128 v, char buf[48])
{
	char tmp[48];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

/*
 * The oracle: num = amount * value * 10^scale(to), den = 10^(scale(from)
 * + rate scale). Returns false when num does not fit 128 bits.
 */
static bool exact_ratio(int64_t amount, enum currency from, struct fx_rate r,
			enum currency to, u128 *num, u128 *den)
{
	u128 n;
	if (__builtin_mul_overflow((u128)amount, (u128)r.value, &n) ||
	    __builtin_mul_overflow(n, pow10_u128(money_scale(to)), &n))
		return false;
	*num = n;
	*den = pow10_u128(money_scale(from) + r.scale);
	return true;
}

/* A fixed-seed 64-bit LCG (Knuth's MMIX constants); high bits are best. */
static uint64_t lcg_state;

static uint64_t lcg(void)
{
	lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
	return lcg_state;
}

/* A random non-negative int64 of a random bit length, so small, medium
 * and huge magnitudes all turn up. */
static int64_t lcg_int64(void)
{
	int shift = (int)(lcg() >> 58); /* 0..63 */
	return (int64_t)((lcg() >> 1) >> shift);
}

/* ---- fx_rate_parse: valid ------------------------------------------- */

struct parse_ok {
	const char *in;
	int64_t value;
	int scale;
};

static const struct parse_ok parse_valid[] = {
	{"0.9234", 9234, 4},
	{"0.92", 92, 2},
	{"0.9200", 92, 2}, /* trailing zeros leave the scale */
	{"17.2", 172, 1},
	{"17.20", 172, 1},
	{"5.50", 55, 1},
	{"1", 1, 0},
	{"1.0", 1, 0},
	{"1.00", 1, 0},
	{"10", 10, 0},
	{"100.000000000000", 100, 0}, /* 12 zeros */
	{"0.5", 5, 1},
	{"0.100000000000", 1, 1},
	{"1.05", 105, 2},
	{"999999", 999999, 0},
	{"0.000000000001", 1, 12},
	{"0.000000000010", 1, 11},
	{"999999.999999999999", 999999999999999999, 12},
	{"123456.000000000001", 123456000000000001, 12},
	{"123456.789", 123456789, 3},
	{"0.000001", 1, 6},
};

static void test_parse_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(parse_valid); i++) {
		const struct parse_ok *t = &parse_valid[i];
		struct fx_rate got = {UNTOUCHED_VALUE, UNTOUCHED_SCALE};
		enum err e = parse_heap(t->in, &got);

		if (e != ERR_OK || got.value != t->value || got.scale != t->scale)
			fail_msg("fx_rate_parse(\"%s\") = %s, (%lld, %d); want ok, (%lld, %d)",
				 t->in, err_code(e), (long long)got.value, got.scale,
				 (long long)t->value, t->scale);
	}
}

/* ---- fx_rate_parse: every refusal ----------------------------------- */

static const char *const parse_invalid[] = {
	/* grammar */
	"",
	".",
	"1.",
	".5",
	"+1",
	"-1",
	"1e3",
	"1E3",
	" 1",
	"1 ",
	"1\t",
	"1\n",
	"0x1",
	"1,5",
	"1..2",
	"1.2.3",
	"1.5x",
	"Infinity",
	"NaN",
	"\xD9\xA1",     /* U+0661 ARABIC-INDIC ONE */
	"1\xD9\xA1",    /* ASCII 1, then U+0661 */
	"\xEF\xBC\x91", /* U+FF11 FULLWIDTH ONE */
	/* leading zeros */
	"01.5",
	"01",
	"00",
	"00.5",
	"000001",
	/* zero */
	"0",
	"0.0",
	"0.000",
	"0.000000000000",
	/* too many digits */
	"1.0000000000001",  /* 13 fractional digits */
	"0.0000000000001",  /* 13 */
	"1.0000000000000",  /* 13, all zeros: still refused */
	"1000000",          /* 7 integer digits */
	"1000000.5",
	"9999999.999999999999",
	"99999999999999999999999999",
	"0.99999999999999999999999999",
};

static void test_parse_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(parse_invalid); i++) {
		struct fx_rate got = {UNTOUCHED_VALUE, UNTOUCHED_SCALE};
		enum err e = parse_heap(parse_invalid[i], &got);

		if (e != ERR_INVALID_VALUE)
			fail_msg("fx_rate_parse(\"%s\") = %s; want invalid_value",
				 parse_invalid[i], err_code(e));
		if (got.value != UNTOUCHED_VALUE || got.scale != UNTOUCHED_SCALE)
			fail_msg("fx_rate_parse(\"%s\") wrote *out on error", parse_invalid[i]);
	}

	struct fx_rate got = {UNTOUCHED_VALUE, UNTOUCHED_SCALE};
	assert_int_equal(fx_rate_parse(NULL, &got), ERR_INVALID_VALUE);
	assert_true(got.value == UNTOUCHED_VALUE && got.scale == UNTOUCHED_SCALE);
	assert_int_equal(fx_rate_parse("1", NULL), ERR_INVALID_VALUE);
}

/* A string much longer than any rate is refused without reading past its
 * end (the heap copy is exactly its length + 1). */
static void test_parse_long_strings(void **state)
{
	(void)state;
	enum { N = 4096 };
	static const char fill[] = {'1', '0', '9'};
	char *s = malloc(N + 1);

	assert_non_null(s);
	for (size_t f = 0; f < COUNT(fill); f++) {
		memset(s, fill[f], N);
		s[N] = '\0';
		struct fx_rate got = {UNTOUCHED_VALUE, UNTOUCHED_SCALE};
		if (parse_heap(s, &got) != ERR_INVALID_VALUE)
			fail_msg("a %d-digit string of '%c' parsed", N, fill[f]);
		/* "0." and then a long fraction */
		s[0] = '0';
		s[1] = '.';
		if (parse_heap(s, &got) != ERR_INVALID_VALUE)
			fail_msg("0. and %d digits of '%c' parsed", N - 2, fill[f]);
		assert_true(got.value == UNTOUCHED_VALUE);
	}
	free(s);
}

/* ---- fx_rate_format --------------------------------------------------- */

struct format_case {
	int64_t value;
	int scale;
	const char *want;
};

static const struct format_case formats[] = {
	{9234, 4, "0.9234"},
	{92, 2, "0.92"},
	{1, 0, "1"},
	{172, 1, "17.2"},
	{55, 1, "5.5"},
	{5, 1, "0.5"},
	{105, 2, "1.05"},
	{100, 0, "100"},
	{10, 0, "10"},
	{1, 12, "0.000000000001"},
	{999999999999999999, 12, "999999.999999999999"},
	{123456000000000001, 12, "123456.000000000001"},
	/* not normalised: trailing zeros still dropped */
	{920, 3, "0.92"},
	{1000, 3, "1"},
	{500000000000, 12, "0.5"},
	{1000000000000, 12, "1"},
	{100, 1, "10"},
	/* total over int64 at any valid scale, even where the rate is invalid */
	{INT64_MAX, 0, "9223372036854775807"},
	{INT64_MAX, 12, "9223372.036854775807"},
	{INT64_MIN, 0, "-9223372036854775808"},
	{INT64_MIN, 12, "-9223372.036854775808"},
	{-5, 1, "-0.5"},
	{0, 0, "0"},
	{0, 12, "0"},
	/* scale out of range: nothing to print */
	{1, 13, ""},
	{1, -1, ""},
};

static void test_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(formats); i++)
		check_format(formats[i].value, formats[i].scale, formats[i].want);

	char buf[FX_STR_MAX];
	buf[0] = 'x';
	assert_ptr_equal(fx_rate_format(NULL, buf), buf);
	assert_string_equal(buf, "");
}

/* ---- parse -> format -> parse --------------------------------------- */

struct trip {
	const char *in;
	const char *canonical;
};

static const struct trip trips[] = {
	{"0.9234", "0.9234"},
	{"0.9200", "0.92"},
	{"1.00", "1"},
	{"1.0", "1"},
	{"17.20", "17.2"},
	{"5.50", "5.5"},
	{"100.000000000000", "100"},
	{"0.000000000001", "0.000000000001"},
	{"999999.999999999999", "999999.999999999999"},
	{"0.100000000000", "0.1"},
	{"1.05", "1.05"},
	{"999999", "999999"},
};

static void test_round_trip_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(trips); i++) {
		struct fx_rate r = {UNTOUCHED_VALUE, UNTOUCHED_SCALE}, back = r;
		char s[FX_STR_MAX];

		if (parse_heap(trips[i].in, &r) != ERR_OK)
			fail_msg("fx_rate_parse(\"%s\") failed", trips[i].in);
		fx_rate_format(&r, s);
		if (strcmp(s, trips[i].canonical) != 0)
			fail_msg("\"%s\" printed as \"%s\"; want \"%s\"", trips[i].in, s,
				 trips[i].canonical);
		if (parse_heap(s, &back) != ERR_OK || back.value != r.value ||
		    back.scale != r.scale)
			fail_msg("\"%s\" -> \"%s\" did not parse back to (%lld, %d)",
				 trips[i].in, s, (long long)r.value, r.scale);
	}
}

/*
 * Random valid rates: value in [1, 10^(6+scale)), any scale. Printing and
 * parsing back gives the rate with its trailing zeros removed.
 */
static void test_round_trip_random(void **state)
{
	(void)state;
	lcg_state = 0x9234;
	for (int i = 0; i < 100000; i++) {
		int scale = (int)((lcg() >> 32) % (FX_SCALE_MAX + 1));
		uint64_t limit = 1;
		for (int k = 0; k < FX_INT_DIGITS_MAX + scale; k++)
			limit *= 10;
		int shift = (int)(lcg() >> 58);
		int64_t value = (int64_t)(1 + ((lcg() >> shift) % (limit - 1)));
		struct fx_rate r = {value, scale}, want = r, back = {UNTOUCHED_VALUE, 0};
		while (want.scale > 0 && want.value % 10 == 0) {
			want.value /= 10;
			want.scale--;
		}
		char s[FX_STR_MAX];

		fx_rate_format(&r, s);
		if (parse_heap(s, &back) != ERR_OK || back.value != want.value ||
		    back.scale != want.scale)
			fail_msg("iteration %d: (%lld, %d) -> \"%s\" -> (%lld, %d); want (%lld, %d)",
				 i, (long long)value, scale, s, (long long)back.value,
				 back.scale, (long long)want.value, want.scale);
	}
}

/* ---- fx_convert: table ------------------------------------------------ */

struct conv {
	int64_t amount;
	enum currency from;
	struct fx_rate rate;
	enum currency to;
	enum err want_err;
	int64_t want; /* when ERR_OK */
	bool exact;   /* when ERR_OK: nothing was rounded away */
};

static const struct conv convs[] = {
	/* the seed: 250.00 USDC at 0.9234 is 230.85 EUR, exactly */
	{250000000, CUR_USDC, {9234, 4}, CUR_EUR, ERR_OK, 23085, true},
	/* rounding down, never half up */
	{1, CUR_USDC, {92, 2}, CUR_EUR, ERR_OK, 0, false},
	{5000, CUR_USDC, {92, 2}, CUR_EUR, ERR_OK, 0, false},  /* 0.005 -> 0.0046 */
	{5000, CUR_USDC, {1, 0}, CUR_USD, ERR_OK, 0, false},   /* 0.005 -> 0.005 */
	{9999, CUR_USDC, {1, 0}, CUR_USD, ERR_OK, 0, false},   /* 0.009999 */
	{10000, CUR_USDC, {1, 0}, CUR_USD, ERR_OK, 1, true},   /* 0.01 */
	{19999, CUR_USDT, {1, 0}, CUR_USD, ERR_OK, 1, false},  /* 0.019999 */
	{1234567, CUR_USDC, {92, 2}, CUR_EUR, ERR_OK, 113, false}, /* 1.13580164 */
	{100000000, CUR_USDC, {92, 2}, CUR_EUR, ERR_OK, 9200, true},
	{1000000, CUR_USDT, {172, 1}, CUR_MXN, ERR_OK, 1720, true},
	{1000000, CUR_USDC, {55, 1}, CUR_BRL, ERR_OK, 550, true},
	{3333333, CUR_USDC, {79, 2}, CUR_GBP, ERR_OK, 263, false}, /* 2.63333307 */
	{0, CUR_USDC, {9234, 4}, CUR_EUR, ERR_OK, 0, true},
	/* rates at scale 12 */
	{250000000, CUR_USDC, {123456789012, 12}, CUR_EUR, ERR_OK, 3086, false},
	{1000000, CUR_USDC, {999999999999999999, 12}, CUR_EUR, ERR_OK, 99999999, false},
	{2000000, CUR_USDC, {500000000000, 12}, CUR_EUR, ERR_OK, 100, true},
	{1000000, CUR_USDC, {1, 12}, CUR_EUR, ERR_OK, 0, false},
	{INT64_MAX, CUR_USDC, {1, 12}, CUR_EUR, ERR_OK, 922, false},
	/* fiat to fiat, coin to coin, fiat to coin: conversion itself allows them */
	{10000, CUR_EUR, {108, 2}, CUR_USD, ERR_OK, 10800, true},
	{1234567, CUR_USDC, {1, 0}, CUR_USDT, ERR_OK, 1234567, true},
	{1234567, CUR_USDC, {1, 0}, CUR_USDC, ERR_OK, 1234567, true},
	{123, CUR_EUR, {1, 0}, CUR_USDC, ERR_OK, 1230000, true},
	{1, CUR_EUR, {1, 12}, CUR_USDC, ERR_OK, 0, false},
	/* near INT64_MAX */
	{INT64_MAX, CUR_USDC, {172, 1}, CUR_MXN, ERR_OK, 15864199903390214, false},
	{INT64_MAX, CUR_MXN, {172, 1}, CUR_MXN, ERR_AMOUNT_TOO_LARGE, 0, false},
	{INT64_MAX, CUR_EUR, {172, 1}, CUR_MXN, ERR_AMOUNT_TOO_LARGE, 0, false},
	{536242560282254407, CUR_EUR, {172, 1}, CUR_MXN, ERR_OK, 9223372036854775800, false},
	{536242560282254408, CUR_EUR, {172, 1}, CUR_MXN, ERR_AMOUNT_TOO_LARGE, 0, false},
	{INT64_MAX, CUR_EUR, {1, 0}, CUR_EUR, ERR_OK, INT64_MAX, true},
	{4611686018427387903, CUR_EUR, {2, 0}, CUR_EUR, ERR_OK, 9223372036854775806, true},
	{4611686018427387904, CUR_EUR, {2, 0}, CUR_EUR, ERR_AMOUNT_TOO_LARGE, 0, false},
	{922337203685477, CUR_EUR, {1, 0}, CUR_USDC, ERR_OK, 9223372036854770000, true},
	{922337203685478, CUR_EUR, {1, 0}, CUR_USDC, ERR_AMOUNT_TOO_LARGE, 0, false},
	/* the 128-bit intermediate itself overflows */
	{INT64_MAX, CUR_EUR, {INT64_MAX, 0}, CUR_USDC, ERR_AMOUNT_TOO_LARGE, 0, false},
	{INT64_MAX, CUR_USDC, {INT64_MAX, 12}, CUR_EUR, ERR_AMOUNT_TOO_LARGE, 0, false},
	/* 2^62 * 2^62 * 10^4 = 625 * 2^128: wraps to exactly 0 if unchecked */
	{4611686018427387904, CUR_EUR, {4611686018427387904, 0}, CUR_USDC, ERR_AMOUNT_TOO_LARGE, 0,
	 false},
	/* preconditions */
	{-1, CUR_USDC, {92, 2}, CUR_EUR, ERR_INVALID_VALUE, 0, false},
	{INT64_MIN, CUR_USDC, {92, 2}, CUR_EUR, ERR_INVALID_VALUE, 0, false},
	{100, CUR_USDC, {0, 2}, CUR_EUR, ERR_INVALID_VALUE, 0, false},
	{100, CUR_USDC, {-92, 2}, CUR_EUR, ERR_INVALID_VALUE, 0, false},
	{100, CUR_USDC, {92, 13}, CUR_EUR, ERR_INVALID_VALUE, 0, false},
	{100, CUR_USDC, {92, -1}, CUR_EUR, ERR_INVALID_VALUE, 0, false},
	{100, CUR_NONE, {92, 2}, CUR_EUR, ERR_UNSUPPORTED_CURRENCY, 0, false},
	{100, CUR_USDC, {92, 2}, CUR_NONE, ERR_UNSUPPORTED_CURRENCY, 0, false},
	{100, CUR_USDC, {92, 2}, CUR__COUNT, ERR_UNSUPPORTED_CURRENCY, 0, false},
};

static void test_convert_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(convs); i++) {
		const struct conv *t = &convs[i];
		int64_t got = UNTOUCHED_MINOR;
		enum err e = fx_convert(t->amount, t->from, &t->rate, t->to, &got);
		char rs[FX_STR_MAX];

		fx_rate_format(&t->rate, rs);
		if (e != t->want_err || (e == ERR_OK && got != t->want))
			fail_msg("row %zu: fx_convert(%lld %s at %s to %s) = %s, %lld; want %s, %lld",
				 i, (long long)t->amount, money_currency_code(t->from), rs,
				 money_currency_code(t->to), err_code(e), (long long)got,
				 err_code(t->want_err), (long long)t->want);
		if (e != ERR_OK && got != UNTOUCHED_MINOR)
			fail_msg("row %zu: fx_convert wrote *out_minor on error", i);

		/* The row against the oracle (only where the inputs are valid). */
		if (t->want_err != ERR_OK && t->want_err != ERR_AMOUNT_TOO_LARGE)
			continue;
		u128 num, den;
		char a[48];
		if (!exact_ratio(t->amount, t->from, t->rate, t->to, &num, &den)) {
			/* num >= 2^128 and den <= 10^18: the result is >= 2^68. */
			if (t->want_err != ERR_AMOUNT_TOO_LARGE)
				fail_msg("row %zu: exact product overflows, yet expected ok", i);
			continue;
		}
		u128 q = num / den;
		if (t->want_err == ERR_AMOUNT_TOO_LARGE) {
			if (q <= (u128)INT64_MAX)
				fail_msg("row %zu: exact result %s fits int64", i, u128_str(q, a));
			continue;
		}
		if (q != (u128)t->want || (num % den == 0) != t->exact)
			fail_msg("row %zu: exact quotient %s (remainder %s); table says %lld, %s",
				 i, u128_str(q, a), num % den ? "non-zero" : "zero",
				 (long long)t->want, t->exact ? "exact" : "inexact");
	}

	/* NULL arguments */
	struct fx_rate r = {92, 2};
	int64_t got = UNTOUCHED_MINOR;
	assert_int_equal(fx_convert(100, CUR_USDC, NULL, CUR_EUR, &got), ERR_INVALID_VALUE);
	assert_true(got == UNTOUCHED_MINOR);
	assert_int_equal(fx_convert(100, CUR_USDC, &r, CUR_EUR, NULL), ERR_INVALID_VALUE);
}

/*
 * Floor semantics for random amounts, rates and currency pairs:
 *   out * 10^(sf+s) <= amount * value * 10^st < (out + 1) * 10^(sf+s)
 * and ERR_AMOUNT_TOO_LARGE exactly when the floor exceeds INT64_MAX.
 */
static void test_convert_floor_property(void **state)
{
	(void)state;
	int ok = 0, exact = 0, too_large = 0, overflow128 = 0;

	lcg_state = 20250101;
	for (int i = 0; i < 200000; i++) {
		int64_t amount = lcg_int64();
		int scale = (int)((lcg() >> 32) % (FX_SCALE_MAX + 1));
		int64_t value = lcg_int64();
		if (value == 0)
			value = 1;
		enum currency from = (enum currency)(1 + (lcg() >> 32) % (CUR__COUNT - 1));
		enum currency to = (enum currency)(1 + (lcg() >> 32) % (CUR__COUNT - 1));
		struct fx_rate r = {value, scale};
		int64_t out = UNTOUCHED_MINOR;
		enum err e = fx_convert(amount, from, &r, to, &out);
		u128 num, den;

		if (!exact_ratio(amount, from, r, to, &num, &den)) {
			overflow128++;
			if (e != ERR_AMOUNT_TOO_LARGE)
				fail_msg("iteration %d: %lld %s at (%lld, %d) to %s: %s; the exact "
					 "product exceeds 2^128",
					 i, (long long)amount, money_currency_code(from),
					 (long long)value, scale, money_currency_code(to),
					 err_code(e));
			continue;
		}
		bool fits = num / den <= (u128)INT64_MAX;
		if (!fits) {
			too_large++;
			if (e != ERR_AMOUNT_TOO_LARGE || out != UNTOUCHED_MINOR)
				fail_msg("iteration %d: %lld %s at (%lld, %d) to %s: %s, %lld; "
					 "want amount_too_large",
					 i, (long long)amount, money_currency_code(from),
					 (long long)value, scale, money_currency_code(to),
					 err_code(e), (long long)out);
			continue;
		}
		if (e != ERR_OK || out < 0)
			fail_msg("iteration %d: %lld %s at (%lld, %d) to %s: %s, %lld; want ok",
				 i, (long long)amount, money_currency_code(from),
				 (long long)value, scale, money_currency_code(to), err_code(e),
				 (long long)out);
		u128 lo = (u128)out * den, hi = ((u128)out + 1) * den;
		if (!(lo <= num && num < hi))
			fail_msg("iteration %d: %lld %s at (%lld, %d) to %s = %lld is not the floor",
				 i, (long long)amount, money_currency_code(from),
				 (long long)value, scale, money_currency_code(to),
				 (long long)out);
		ok++;
		if (lo == num)
			exact++;
	}
	/* The loop must have visited every branch, or it proves little. */
	if (ok < 10000 || exact < 100 || too_large < 1000 || overflow128 < 100)
		fail_msg("poor coverage: %d ok (%d exact), %d too large, %d past 2^128", ok,
			 exact, too_large, overflow128);
}

/* ---- fx_default_rate -------------------------------------------------- */

struct def {
	enum currency from, to;
	const char *doc; /* as LIFECYCLE.md writes it */
	int64_t value;
	int scale;
};

static const struct def defaults[] = {
	{CUR_USDC, CUR_EUR, "0.92", 92, 2},
	{CUR_USDC, CUR_USD, "1.00", 1, 0},
	{CUR_USDC, CUR_GBP, "0.79", 79, 2},
	{CUR_USDC, CUR_BRL, "5.50", 55, 1},
	{CUR_USDC, CUR_MXN, "17.20", 172, 1},
	{CUR_USDT, CUR_EUR, "0.92", 92, 2},
	{CUR_USDT, CUR_USD, "1.00", 1, 0},
	{CUR_USDT, CUR_GBP, "0.79", 79, 2},
	{CUR_USDT, CUR_BRL, "5.50", 55, 1},
	{CUR_USDT, CUR_MXN, "17.20", 172, 1},
};

static void test_default_rates(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(defaults); i++) {
		const struct def *t = &defaults[i];
		struct fx_rate got = {UNTOUCHED_VALUE, UNTOUCHED_SCALE}, doc;

		if (!fx_default_rate(t->from, t->to, &got))
			fail_msg("no default %s -> %s", money_currency_code(t->from),
				 money_currency_code(t->to));
		if (got.value != t->value || got.scale != t->scale)
			fail_msg("default %s -> %s = (%lld, %d); want (%lld, %d)",
				 money_currency_code(t->from), money_currency_code(t->to),
				 (long long)got.value, got.scale, (long long)t->value, t->scale);
		/* The same rate the documented string parses to. */
		if (parse_heap(t->doc, &doc) != ERR_OK || doc.value != got.value ||
		    doc.scale != got.scale)
			fail_msg("default %s -> %s differs from \"%s\"",
				 money_currency_code(t->from), money_currency_code(t->to), t->doc);
		assert_true(fx_default_rate(t->from, t->to, NULL));
	}

	/* Every pair, including CUR_NONE and one past the end: exactly the ten
	 * above exist, and a refusal leaves *out alone. */
	int found = 0;
	for (int f = CUR_NONE; f <= CUR__COUNT; f++) {
		for (int t = CUR_NONE; t <= CUR__COUNT; t++) {
			struct fx_rate got = {UNTOUCHED_VALUE, UNTOUCHED_SCALE};
			bool want = false;
			for (size_t i = 0; i < COUNT(defaults); i++)
				if ((int)defaults[i].from == f && (int)defaults[i].to == t)
					want = true;
			bool has = fx_default_rate((enum currency)f, (enum currency)t, &got);
			if (has != want)
				fail_msg("fx_default_rate(%d, %d) = %d; want %d", f, t, has, want);
			if (!has && (got.value != UNTOUCHED_VALUE || got.scale != UNTOUCHED_SCALE))
				fail_msg("fx_default_rate(%d, %d) wrote *out on false", f, t);
			found += has;
		}
	}
	assert_int_equal(found, 10);

	struct fx_rate r = {UNTOUCHED_VALUE, UNTOUCHED_SCALE};
	assert_false(fx_default_rate(CUR_EUR, CUR_USD, &r));
	assert_false(fx_default_rate(CUR_USDC, CUR_USDT, &r));
	assert_false(fx_default_rate(CUR_USDC, CUR_USDC, &r));
	assert_false(fx_default_rate(CUR_EUR, CUR_USDC, &r));
	assert_true(r.value == UNTOUCHED_VALUE && r.scale == UNTOUCHED_SCALE);

	/* A default in use: 250.00 USDC at the default EUR rate is 230.00. */
	int64_t out = UNTOUCHED_MINOR;
	assert_true(fx_default_rate(CUR_USDC, CUR_EUR, &r));
	assert_int_equal(fx_convert(250000000, CUR_USDC, &r, CUR_EUR, &out), ERR_OK);
	assert_true(out == 23000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_long_strings),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip_table),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_convert_table),
		cmocka_unit_test(test_convert_floor_property),
		cmocka_unit_test(test_default_rates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
