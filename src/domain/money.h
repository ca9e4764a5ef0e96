/*
 * money.h - exact money: an int64 count of minor units and its currency.
 *
 * The only place where decimal strings become integers and back. No
 * floating point. Parsing is strict (CONTRACT §3): digits, optionally a
 * point and more digits; no sign, exponent, spaces, leading zeros ("01"),
 * bare point ("5." or ".5"); no more fractional digits than the currency's
 * scale; greater than zero; fits int64. Printing gives at least two
 * fractional digits and drops trailing zeros beyond them.
 *
 * Pure; thread-safe; no allocation.
 */
#ifndef OFFRAMP_DOMAIN_MONEY_H
#define OFFRAMP_DOMAIN_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

/* Assets and currencies the service knows. Order is stored nowhere: the
 * database keeps the code string. */
#define MONEY_CURRENCIES(X) \
	X(CUR_USDC, "USDC", 6, true) \
	X(CUR_USDT, "USDT", 6, true) \
	X(CUR_EUR, "EUR", 2, false) \
	X(CUR_USD, "USD", 2, false) \
	X(CUR_GBP, "GBP", 2, false) \
	X(CUR_BRL, "BRL", 2, false) \
	X(CUR_MXN, "MXN", 2, false)

enum currency {
	CUR_NONE = 0,
#define X(e, code, scale, coin) e,
	MONEY_CURRENCIES(X)
#undef X
	CUR__COUNT
};

#define MONEY_SCALE_MAX 6
/* "-9223372036854775807" with a point and NUL, rounded up. */
#define MONEY_STR_MAX 32

/* Look up a currency by its upper-case code; CUR_NONE if unknown. */
enum currency money_currency(const char *code);
/* The code, e.g. "USDC"; "" for CUR_NONE. */
const char *money_currency_code(enum currency c);
/* Fractional digits of the minor unit (USDC 6, EUR 2). */
int money_scale(enum currency c);
/* true for USDC and USDT, the assets a client account holds. */
bool money_is_stablecoin(enum currency c);

/*
 * Parse a positive decimal string in currency c into minor units.
 * Returns ERR_OK, ERR_INVALID_AMOUNT (grammar), ERR_AMOUNT_TOO_PRECISE,
 * ERR_AMOUNT_NOT_POSITIVE or ERR_AMOUNT_TOO_LARGE. *out is written only on
 * ERR_OK. len is the string's length (it need not be NUL-terminated; an
 * embedded NUL is a grammar error).
 */
enum err money_parse(const char *s, size_t len, enum currency c, int64_t *out);

/*
 * Print value / 10^scale (any sign, 0 <= scale <= 18) as a decimal string
 * into out (size bytes): trailing fractional zeros dropped down to
 * min_frac digits (padded up to min_frac when scale is smaller), no point
 * when no fractional digit remains. "" when it does not fit. The one
 * integer-to-decimal printer: money_format and fx_rate_format use it.
 */
char *money_decimal(int64_t value, int scale, int min_frac, char *out, size_t size);

/* Print minor units of c (any sign) into out; returns out. */
char *money_format(int64_t minor, enum currency c, char out[MONEY_STR_MAX]);

/* Overflow-checked arithmetic; false (and *out untouched) on overflow. */
bool money_add(int64_t a, int64_t b, int64_t *out);
bool money_sub(int64_t a, int64_t b, int64_t *out);

#endif
