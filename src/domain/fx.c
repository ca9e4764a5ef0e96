/*
 * fx.c - exchange rates as (value, scale) integers, and exact conversion.
 *
 * A rate is value / 10^scale with value > 0 and 0 <= scale <= FX_SCALE_MAX.
 * Rates that come out of fx_rate_parse and fx_default_rate are normalised:
 * no trailing fractional zeros (scale is as small as it can be), so two
 * equal rates compare equal field by field. fx_rate_format normalises on
 * output too, so a hand-built (920, 3) still prints "0.92".
 *
 * Conversion is exact: floor(amount * value * 10^to / 10^(from + scale)).
 * The powers of ten are cancelled first, so the only 128-bit intermediate
 * is amount * value (< 2^126 since both are int64) optionally multiplied by
 * at most 10^MONEY_SCALE_MAX, and every multiplication is overflow-checked.
 * Rounding happens once, at the end, toward zero: the recipient never
 * receives more than the exact product. No floating point anywhere.
 *
 * Precondition violations the header leaves open (a negative amount, a
 * rate that is not positive or has a scale outside 0..FX_SCALE_MAX, a
 * currency that is not one of money.h's) are answered with an error and
 * *out_minor left untouched, never with a guess: ERR_INVALID_VALUE for the
 * amount and the rate, ERR_UNSUPPORTED_CURRENCY for a currency.
 */
#include "domain/fx.h"

_Static_assert(FX_SCALE_MAX + MONEY_SCALE_MAX <= 18, "10^(scale + currency scale) must fit uint64");
_Static_assert(FX_INT_DIGITS_MAX + FX_SCALE_MAX <= 18, "a parsed rate's digits must fit int64");
_Static_assert(FX_STR_MAX >= 22, "'-', 19 digits, '.', NUL: any int64 value at any scale fits");

/* 10^0 .. 10^18: every power conversion needs (see the asserts above). */
static const uint64_t fx_pow10[19] = {
	1ull,
	10ull,
	100ull,
	1000ull,
	10000ull,
	100000ull,
	1000000ull,
	10000000ull,
	100000000ull,
	1000000000ull,
	10000000000ull,
	100000000000ull,
	1000000000000ull,
	10000000000000ull,
	100000000000000ull,
	1000000000000000ull,
	10000000000000000ull,
	100000000000000000ull,
	1000000000000000000ull,
};

static bool fx_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool fx_rate_valid(const struct fx_rate *r)
{
	return r && r->value > 0 && r->scale >= 0 && r->scale <= FX_SCALE_MAX;
}

enum err fx_rate_parse(const char *s, struct fx_rate *out)
{
	if (!s || !out)
		return ERR_INVALID_VALUE;
	/* At most 6 + 12 digits are accumulated, so value < 10^18: no
	 * overflow is possible (see the _Static_assert above). */
	int64_t value = 0;
	int int_digits = 0, frac_digits = 0;
	size_t i = 0;

	while (fx_digit(s[i])) {
		if (int_digits == 1 && s[0] == '0')
			return ERR_INVALID_VALUE; /* leading zero: "01", "00.5" */
		if (int_digits == FX_INT_DIGITS_MAX)
			return ERR_INVALID_VALUE;
		value = value * 10 + (s[i] - '0');
		int_digits++;
		i++;
	}
	if (int_digits == 0)
		return ERR_INVALID_VALUE; /* "", ".5", "+1", " 1" */
	if (s[i] == '.') {
		i++;
		while (fx_digit(s[i])) {
			if (frac_digits == FX_SCALE_MAX)
				return ERR_INVALID_VALUE;
			value = value * 10 + (s[i] - '0');
			frac_digits++;
			i++;
		}
		if (frac_digits == 0)
			return ERR_INVALID_VALUE; /* "1." */
	}
	if (s[i] != '\0')
		return ERR_INVALID_VALUE; /* "1e3", "1 ", "1.2.3" */
	if (value == 0)
		return ERR_INVALID_VALUE; /* "0", "0.000" */
	while (frac_digits > 0 && value % 10 == 0) {
		value /= 10;
		frac_digits--;
	}
	out->value = value;
	out->scale = frac_digits;
	return ERR_OK;
}

char *fx_rate_format(const struct fx_rate *r, char out[FX_STR_MAX])
{
	if (!r || r->scale < 0 || r->scale > FX_SCALE_MAX) {
		out[0] = '\0';
		return out;
	}
	/* Printing is total over int64 even though only positive rates are
	 * valid; no trailing zeros, no point for whole numbers. */
	return money_decimal(r->value, r->scale, 0, out, FX_STR_MAX);
}

enum err fx_convert(int64_t amount_minor, enum currency from, const struct fx_rate *r,
		    enum currency to, int64_t *out_minor)
{
	if (from <= CUR_NONE || from >= CUR__COUNT || to <= CUR_NONE || to >= CUR__COUNT)
		return ERR_UNSUPPORTED_CURRENCY;
	if (amount_minor < 0 || !fx_rate_valid(r) || !out_minor)
		return ERR_INVALID_VALUE;
	int down = money_scale(from) + r->scale; /* divide by 10^down */
	int up = money_scale(to);                /* multiply by 10^up */

	/* amount < 2^63 and value < 2^63, so this cannot overflow; checked
	 * all the same, as every multiplication here is. */
	unsigned __int128 q;
	if (__builtin_mul_overflow((unsigned __int128)amount_minor,
				   (unsigned __int128)r->value, &q))
		return ERR_AMOUNT_TOO_LARGE;
	if (up >= down) {
		/* Exact: nothing is divided away. If this overflows 128 bits
		 * the result is far beyond int64. */
		if (__builtin_mul_overflow(q, (unsigned __int128)fx_pow10[up - down], &q))
			return ERR_AMOUNT_TOO_LARGE;
	} else {
		/* floor(a*v*10^up / 10^down) == floor(a*v / 10^(down-up)). */
		q /= fx_pow10[down - up];
	}
	if (q > (unsigned __int128)INT64_MAX)
		return ERR_AMOUNT_TOO_LARGE;
	*out_minor = (int64_t)q;
	return ERR_OK;
}

/* LIFECYCLE.md, Money: the same defaults for USDC and USDT, normalised
 * (1.00 is (1, 0), 5.50 is (55, 1)) so they equal what fx_rate_parse
 * gives for the documented strings. */
static const struct fx_rate fx_defaults[CUR__COUNT] = {
	[CUR_EUR] = {92, 2},  /* 0.92 */
	[CUR_USD] = {1, 0},   /* 1.00 */
	[CUR_GBP] = {79, 2},  /* 0.79 */
	[CUR_BRL] = {55, 1},  /* 5.50 */
	[CUR_MXN] = {172, 1}, /* 17.20 */
};

bool fx_default_rate(enum currency from, enum currency to, struct fx_rate *out)
{
	if (!money_is_stablecoin(from) || to <= CUR_NONE || to >= CUR__COUNT)
		return false;
	if (money_is_stablecoin(to) || fx_defaults[to].value == 0)
		return false;
	if (out)
		*out = fx_defaults[to];
	return true;
}
