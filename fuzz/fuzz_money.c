/*
 * fuzz_money.c - money_parse never crashes, and what it accepts prints
 * back to a string that parses to the same value (exactness).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "domain/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int c = CUR_NONE; c < CUR__COUNT; c++) {
		int64_t v = 0, back = 0;
		if (money_parse((const char *)data, size, (enum currency)c, &v) != ERR_OK)
			continue;
		assert(v > 0);
		char s[MONEY_STR_MAX];
		money_format(v, (enum currency)c, s);
		enum err e = money_parse(s, strlen(s), (enum currency)c, &back);
		assert(e == ERR_OK && back == v);
	}
	return 0;
}
