/*
 * fuzz_money.c - exact money both ways.
 *
 * Text -> value -> text: money_parse never crashes; what it accepts is
 * positive and prints (money_format) as the canonical form of the input
 * (the same integer digits, the fraction with trailing zeros dropped down
 * to two digits, padded to two), which parses back to the same value.
 * What it refuses it refuses with one of the four amount errors.
 *
 * Value -> text -> value: the first 8 bytes as an int64 and a scale: the
 * value prints for every currency and parses back to itself when positive
 * (refused as not positive at zero, as a grammar error when negative);
 * money_decimal at any scale and min_frac prints digits that spell the
 * value (checked here with plain integer arithmetic), never more than
 * min_frac trailing zeros; money_add and money_sub agree with 128-bit
 * arithmetic and report overflow exactly when it happens.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "domain/money.h"

/* The canonical text of an accepted amount: as money_format prints. */
static void canonical(const char *s, size_t n, char *out, size_t size)
{
	const char *dot = memchr(s, '.', n);
	size_t ilen = dot ? (size_t)(dot - s) : n;
	size_t flen = dot ? n - ilen - 1 : 0;
	while (flen > 2 && dot[flen] == '0')
		flen--;
	int w = snprintf(out, size, "%.*s.%.*s%s", (int)ilen, s, (int)flen, dot ? dot + 1 : "",
			 flen == 0 ? "00" : flen == 1 ? "0" : "");
	assert(w > 0 && (size_t)w < size);
}

static void text_to_value(const uint8_t *data, size_t size)
{
	for (int c = CUR_NONE; c < CUR__COUNT; c++) {
		int64_t v = 0, back = 0;
		enum err e = money_parse((const char *)data, size, (enum currency)c, &v);
		if (e != ERR_OK) {
			assert(e == ERR_INVALID_AMOUNT || e == ERR_AMOUNT_TOO_PRECISE ||
			       e == ERR_AMOUNT_NOT_POSITIVE || e == ERR_AMOUNT_TOO_LARGE);
			assert(c != CUR_NONE || e == ERR_INVALID_AMOUNT);
			continue;
		}
		assert(v > 0 && c != CUR_NONE);
		char s[MONEY_STR_MAX], want[64];
		money_format(v, (enum currency)c, s);
		canonical((const char *)data, size, want, sizeof want);
		assert(strcmp(s, want) == 0);
		e = money_parse(s, strlen(s), (enum currency)c, &back);
		assert(e == ERR_OK && back == v);
	}
}

/* out spells value / 10^scale with at least min_frac fractional digits
 * and no trailing zero beyond them. */
static void check_decimal(int64_t value, int scale, int min_frac)
{
	char out[48];
	money_decimal(value, scale, min_frac, out, sizeof out);
	assert(out[0] != '\0');
	const char *p = out;
	bool neg = *p == '-';
	if (neg)
		p++;
	__int128 mag = 0;
	int frac = -1;
	bool dot = false;
	for (; *p; p++) {
		if (*p == '.') {
			assert(!dot && p > out + neg);
			dot = true;
			frac = 0;
			continue;
		}
		assert(*p >= '0' && *p <= '9');
		mag = mag * 10 + (*p - '0');
		if (frac >= 0)
			frac++;
	}
	if (frac < 0)
		frac = 0;
	assert(frac >= min_frac && dot == (frac > 0));
	if (frac > min_frac)
		assert(out[strlen(out) - 1] != '0');
	/* Integer part: no leading zero but a lone "0". */
	assert(out[neg] != '0' || out[neg + 1] == '.' || out[neg + 1] == '\0');
	__int128 want = value;
	for (int k = scale; k < frac; k++)
		want *= 10; /* printed digits past the scale are padding zeros */
	for (int k = frac; k < scale; k++)
		mag *= 10; /* dropped trailing zeros */
	assert((neg ? -mag : mag) == want);
	assert(neg == (value < 0));
}

static void value_to_text(const uint8_t *data, size_t size)
{
	if (size < 10)
		return;
	int64_t v, w;
	memcpy(&v, data, 8);
	memcpy(&w, data + 1, 8);
	for (int c = CUR_NONE + 1; c < CUR__COUNT; c++) {
		char s[MONEY_STR_MAX];
		int64_t back = 0;
		money_format(v, (enum currency)c, s);
		assert(s[0] != '\0');
		enum err e = money_parse(s, strlen(s), (enum currency)c, &back);
		if (v > 0)
			assert(e == ERR_OK && back == v);
		else
			assert(e == (v == 0 ? ERR_AMOUNT_NOT_POSITIVE : ERR_INVALID_AMOUNT));
	}
	check_decimal(v, data[8] % 19, data[9] % 19);

	int64_t r = 0x5a5a;
	__int128 sum = (__int128)v + w, diff = (__int128)v - w;
	bool ok = money_add(v, w, &r);
	assert(ok == (sum >= INT64_MIN && sum <= INT64_MAX));
	assert(ok ? r == (int64_t)sum : r == 0x5a5a);
	r = 0x5a5a;
	ok = money_sub(v, w, &r);
	assert(ok == (diff >= INT64_MIN && diff <= INT64_MAX));
	assert(ok ? r == (int64_t)diff : r == 0x5a5a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	text_to_value(data, size);
	value_to_text(data, size);
	return 0;
}
