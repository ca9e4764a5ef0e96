/*
 * fuzz_fx.c - fx_rate_parse never crashes; what it accepts is a valid,
 * normalised rate that prints to at most FX_STR_MAX - 1 characters and
 * parses back to the same value and scale; and converting a few fixed
 * amounts at it never crashes and, where the result is representable,
 * is the exact floor (checked with 128-bit arithmetic here).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/fx.h"

typedef unsigned __int128 u128;

static u128 fuzz_pow10(int n)
{
	u128 p = 1;
	for (int i = 0; i < n; i++)
		p *= 10;
	return p;
}

static void check_convert(int64_t amount, enum currency from, const struct fx_rate *r,
			  enum currency to)
{
	int64_t out = -1;
	enum err e = fx_convert(amount, from, r, to, &out);
	assert(e == ERR_OK || e == ERR_AMOUNT_TOO_LARGE);
	u128 num, den = fuzz_pow10(money_scale(from) + r->scale);
	if (__builtin_mul_overflow((u128)amount, (u128)r->value, &num) ||
	    __builtin_mul_overflow(num, fuzz_pow10(money_scale(to)), &num)) {
		assert(e == ERR_AMOUNT_TOO_LARGE); /* >= 2^128 / 10^18 */
		return;
	}
	if (num / den > (u128)INT64_MAX) {
		assert(e == ERR_AMOUNT_TOO_LARGE && out == -1);
		return;
	}
	assert(e == ERR_OK && out >= 0 && (u128)out == num / den);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	struct fx_rate r, back;
	if (fx_rate_parse(s, &r) == ERR_OK) {
		assert(r.value > 0 && r.scale >= 0 && r.scale <= FX_SCALE_MAX);
		assert(r.scale == 0 || r.value % 10 != 0);
		char buf[FX_STR_MAX];
		fx_rate_format(&r, buf);
		assert(memchr(buf, '\0', sizeof buf) != NULL);
		/* Canonical input prints back as itself. */
		assert(fx_rate_parse(buf, &back) == ERR_OK);
		assert(back.value == r.value && back.scale == r.scale);

		static const int64_t amounts[] = {0, 1, 5000, 250000000, 999999999999,
						  INT64_MAX / 1000, INT64_MAX};
		static const enum currency pairs[][2] = {
			{CUR_USDC, CUR_EUR}, {CUR_USDT, CUR_MXN}, {CUR_EUR, CUR_USD},
			{CUR_EUR, CUR_USDC}, {CUR_USDC, CUR_USDT},
		};
		for (size_t a = 0; a < sizeof amounts / sizeof amounts[0]; a++)
			for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
				check_convert(amounts[a], pairs[p][0], &r, pairs[p][1]);
	}
	free(s);
	return 0;
}
