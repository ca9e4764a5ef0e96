/*
 * money.c - decimal strings <-> int64 minor units.
 *
 * Invariant: every amount inside the service is an int64 of minor units
 * paired with a currency; every conversion to or from text happens here.
 * Rounding never happens here: a string with more digits than the scale is
 * refused, never truncated.
 */
#include "domain/money.h"

#include <string.h>

struct money_cur {
	const char *code;
	int scale;
	bool coin;
};

static const struct money_cur money_curs[CUR__COUNT] = {
	[CUR_NONE] = {"", 0, false},
#define X(e, code, scale, coin) [e] = {code, scale, coin},
	MONEY_CURRENCIES(X)
#undef X
};

enum currency money_currency(const char *code)
{
	if (!code)
		return CUR_NONE;
	for (int c = 1; c < CUR__COUNT; c++)
		if (strcmp(money_curs[c].code, code) == 0)
			return (enum currency)c;
	return CUR_NONE;
}

const char *money_currency_code(enum currency c)
{
	return (c > CUR_NONE && c < CUR__COUNT) ? money_curs[c].code : "";
}

int money_scale(enum currency c)
{
	return (c > CUR_NONE && c < CUR__COUNT) ? money_curs[c].scale : 0;
}

bool money_is_stablecoin(enum currency c)
{
	return c > CUR_NONE && c < CUR__COUNT && money_curs[c].coin;
}

bool money_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool money_sub(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

enum err money_parse(const char *s, size_t len, enum currency c, int64_t *out)
{
	if (c <= CUR_NONE || c >= CUR__COUNT || !s)
		return ERR_INVALID_AMOUNT;
	int scale = money_curs[c].scale;
	size_t i = 0, int_digits = 0, frac_digits = 0;
	int64_t v = 0;
	bool too_large = false;

	/* Integer part: one or more digits, no leading zero unless it is "0". */
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (int_digits == 1 && s[0] == '0')
			return ERR_INVALID_AMOUNT;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, s[i] - '0', &v))
			too_large = true;
		int_digits++;
		i++;
	}
	if (int_digits == 0)
		return ERR_INVALID_AMOUNT;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			frac_digits++;
			if ((int)frac_digits <= scale) {
				if (__builtin_mul_overflow(v, 10, &v) ||
				    __builtin_add_overflow(v, s[i] - '0', &v))
					too_large = true;
			}
			/* Digits past the scale are refused below, after the
			 * grammar: "1.0000001" is a precision error, "1.00x" a
			 * grammar error. */
			i++;
		}
		if (frac_digits == 0)
			return ERR_INVALID_AMOUNT;
	}
	if (i != len)
		return ERR_INVALID_AMOUNT;
	if ((int)frac_digits > scale)
		return ERR_AMOUNT_TOO_PRECISE;
	for (int k = (int)frac_digits; k < scale; k++)
		if (__builtin_mul_overflow(v, 10, &v))
			too_large = true;
	if (too_large)
		return ERR_AMOUNT_TOO_LARGE;
	if (v == 0)
		return ERR_AMOUNT_NOT_POSITIVE;
	*out = v;
	return ERR_OK;
}

char *money_decimal(int64_t value, int scale, int min_frac, char *out, size_t size)
{
	if (size == 0)
		return out;
	out[0] = '\0';
	if (scale < 0 || scale > 18 || min_frac < 0 || min_frac > 18)
		return out;
	/* Work in uint64 so INT64_MIN has a magnitude. */
	bool neg = value < 0;
	uint64_t mag = neg ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	char digits[24]; /* least significant first */
	int n = 0;
	do {
		digits[n++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	while (n <= scale)
		digits[n++] = '0'; /* at least one integer digit: "0.5" */
	/* Fractional digits to keep: all but trailing zeros, at least min_frac. */
	int keep = scale;
	while (keep > min_frac && digits[scale - keep] == '0')
		keep--;
	int frac = keep > min_frac ? keep : min_frac;
	size_t need = (size_t)neg + (size_t)(n - scale) + (frac ? 1u + (size_t)frac : 0u) + 1u;
	if (need > size)
		return out;
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	for (int k = n - 1; k >= scale; k--)
		out[o++] = digits[k];
	if (frac) {
		out[o++] = '.';
		for (int k = scale - 1; k >= scale - keep; k--)
			out[o++] = digits[k];
		for (int k = keep; k < frac; k++)
			out[o++] = '0'; /* a scale below min_frac still prints min_frac */
	}
	out[o] = '\0';
	return out;
}

char *money_format(int64_t minor, enum currency c, char out[MONEY_STR_MAX])
{
	return money_decimal(minor, money_scale(c), 2, out, MONEY_STR_MAX);
}
