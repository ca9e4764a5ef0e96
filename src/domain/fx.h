/*
 * fx.h - exchange rates as integers with a scale, and exact conversion.
 *
 * A rate r means: 1 unit of the source currency buys r units of the
 * target. It is stored as value / 10^scale with value > 0 and
 * 0 <= scale <= FX_SCALE_MAX; no floating point anywhere.
 *
 * Conversion computes amount × rate exactly in 128-bit integers and
 * rounds once, down (toward zero), to the target's minor unit: a recipient
 * never receives more than the exact product.
 *
 * Pure; no allocation; thread-safe.
 */
#ifndef OFFRAMP_DOMAIN_FX_H
#define OFFRAMP_DOMAIN_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "domain/money.h"

#define FX_SCALE_MAX 12
#define FX_INT_DIGITS_MAX 6 /* a rate below 1,000,000 */
#define FX_STR_MAX 24       /* "999999.999999999999" and NUL, rounded up */

struct fx_rate {
	int64_t value;
	int scale;
};

/*
 * Parse a positive decimal string ("0.9234", "17.2", "1"): digits, an
 * optional point and 1..FX_SCALE_MAX digits; at most FX_INT_DIGITS_MAX
 * integer digits; no sign, exponent, spaces or leading zeros ("01.2").
 * Trailing fractional zeros are dropped from the scale ("0.9200" is
 * value 92, scale 2). Returns ERR_OK or ERR_INVALID_VALUE; *out written
 * only on ERR_OK.
 */
enum err fx_rate_parse(const char *s, struct fx_rate *out);

/* Print as a decimal string without trailing fractional zeros and
 * without a point for whole numbers ("0.9234", "1", "17.2"). */
char *fx_rate_format(const struct fx_rate *r, char out[FX_STR_MAX]);

/*
 * Convert amount_minor of `from` at rate r into minor units of `to`,
 * rounding down. Returns ERR_OK, or ERR_AMOUNT_TOO_LARGE if the result
 * does not fit int64 (or an intermediate would not fit 128 bits).
 * amount_minor must be >= 0.
 */
enum err fx_convert(int64_t amount_minor, enum currency from, const struct fx_rate *r,
		    enum currency to, int64_t *out_minor);

/* The documented default rate from a stablecoin to a fiat currency;
 * false when there is none. */
bool fx_default_rate(enum currency from, enum currency to, struct fx_rate *out);

#endif
