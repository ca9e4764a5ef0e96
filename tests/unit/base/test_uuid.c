/*
 * test_uuid.c - unit tests for base/uuid.c.
 *
 * The known vector is RFC 9562 Appendix A.6's UUIDv7
 * (017F22E2-79B0-7CC3-98C4-DC0C0C07398F): its unix_ts_ms, rand_a and the
 * rand_b bytes before the variant bits are set. Generated ids are checked
 * field by field (version, variant, timestamp near now) and for strict
 * increase as strings, which is what keyset pagination relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/uuid.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode a canonical UUID into 16 bytes, checking the layout on the way. */
static void decode(const char *s, uint8_t b[16])
{
	assert_int_equal(strlen(s), UUID_STR_LEN);
	int n = 0;
	for (int i = 0; i < UUID_STR_LEN;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			assert_int_equal(s[i], '-');
			i++;
			continue;
		}
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		b[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	assert_int_equal(n, 16);
}

static uint64_t ts_ms(const uint8_t b[16])
{
	uint64_t ms = 0;
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | b[i];
	return ms;
}

static bool is_lower_hex_form(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || *s == '-'))
			return false;
	return true;
}

/* ---- uuid_v7_from ----------------------------------------------------- */

static void test_rfc9562_vector(void **state)
{
	(void)state;
	static const uint8_t rnd[8] = {0x18, 0xC4, 0xDC, 0x0C, 0x0C, 0x07, 0x39, 0x8F};
	char out[UUID_STR_LEN + 1];
	uint8_t b[16];

	memset(out, 'Z', sizeof out);
	uuid_v7_from(0x017F22E279B0ULL, 0xCC3, rnd, out);
	assert_string_equal(out, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
	assert_true(uuid_valid(out));

	decode(out, b);
	assert_int_equal(ts_ms(b), 0x017F22E279B0ULL); /* 2022-02-22 19:22:22 UTC */
	assert_int_equal(b[6] >> 4, 7);                /* version */
	assert_int_equal(b[8] >> 6, 2);                /* variant 10xx */
	assert_int_equal((b[6] & 0x0f) << 8 | b[7], 0xCC3);
	/* rand_b: the 62 low bits of the random bytes, unchanged. */
	assert_int_equal(b[8] & 0x3f, rnd[0] & 0x3f);
	assert_memory_equal(b + 9, rnd + 1, 7);
}

struct from_case {
	uint64_t ms;
	uint16_t counter;
	uint8_t rnd[8];
	const char *want;
};

static const struct from_case froms[] = {
	/* all zero: only version and variant bits set */
	{0, 0, {0}, "00000000-0000-7000-8000-000000000000"},
	/* all ones: variant bits forced to 10, version to 7 */
	{0xFFFFFFFFFFFFULL, 0xFFF, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
	 "ffffffff-ffff-7fff-bfff-ffffffffffff"},
	/* the counter is 12 bits: higher bits never reach the version */
	{1, 0xF001, {0x40, 1, 2, 3, 4, 5, 6, 7}, "00000000-0001-7001-8001-020304050607"},
	/* ms above 48 bits: only the low 48 bits are kept */
	{0x1000000000001ULL, 0x123, {0xC0, 0, 0, 0, 0, 0, 0, 0xAB},
	 "00000000-0001-7123-8000-0000000000ab"},
};

static void test_v7_from_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(froms); i++) {
		char out[UUID_STR_LEN + 1];

		uuid_v7_from(froms[i].ms, froms[i].counter, froms[i].rnd, out);
		if (strcmp(out, froms[i].want) != 0)
			fail_msg("row %zu: \"%s\", want \"%s\"", i, out, froms[i].want);
	}
}

/* Ids made from increasing (ms, counter) sort in that order as strings,
 * whatever the random bytes. */
static void test_v7_from_sorts(void **state)
{
	(void)state;
	static const uint8_t hi[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	static const uint8_t lo[8] = {0};
	static const struct {
		uint64_t ms;
		uint16_t counter;
	} seq[] = {
		{1000, 0}, {1000, 1}, {1000, 0xFFE}, {1000, 0xFFF}, {1001, 0}, {0x10000, 0},
	};
	char prev[UUID_STR_LEN + 1], cur[UUID_STR_LEN + 1];

	uuid_v7_from(seq[0].ms, seq[0].counter, hi, prev);
	for (size_t i = 1; i < COUNT(seq); i++) {
		uuid_v7_from(seq[i].ms, seq[i].counter, lo, cur);
		if (strcmp(prev, cur) >= 0)
			fail_msg("\"%s\" does not sort before \"%s\"", prev, cur);
		uuid_v7_from(seq[i].ms, seq[i].counter, hi, prev);
	}
}

/* ---- uuid_v7 ---------------------------------------------------------- */

#define GEN_COUNT 10000

static void test_v7_generated(void **state)
{
	(void)state;
	char (*ids)[UUID_STR_LEN + 1] = malloc(GEN_COUNT * sizeof *ids);
	assert_non_null(ids);

	uint64_t before = (uint64_t)time(NULL) * 1000;
	for (int i = 0; i < GEN_COUNT; i++)
		assert_true(uuid_v7(ids[i]));
	uint64_t after = ((uint64_t)time(NULL) + 1) * 1000;

	for (int i = 0; i < GEN_COUNT; i++) {
		uint8_t b[16];

		if (!uuid_valid(ids[i]) || !is_lower_hex_form(ids[i]))
			fail_msg("id %d \"%s\" is not canonical lower case", i, ids[i]);
		decode(ids[i], b);
		assert_int_equal(b[6] >> 4, 7);
		assert_int_equal(b[8] >> 6, 2);
		/* Timestamp is now (a counter overflow may borrow a few ms). */
		uint64_t ms = ts_ms(b);
		if (ms < before || ms > after + 10)
			fail_msg("id %d \"%s\": timestamp %llu not in [%llu, %llu]", i,
				 ids[i], (unsigned long long)ms,
				 (unsigned long long)before, (unsigned long long)after);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("id %d \"%s\" not after \"%s\"", i, ids[i], ids[i - 1]);
	}
	/* The random part really varies. */
	assert_string_not_equal(ids[0] + 19, ids[GEN_COUNT - 1] + 19);
	free(ids);
}

/* ---- uuid_valid / uuid_lower ------------------------------------------ */

static const char *const valid_ids[] = {
	"017f22e2-79b0-7cc3-98c4-dc0c0c07398f",
	"017F22E2-79B0-7CC3-98C4-DC0C0C07398F",
	"017F22e2-79b0-7Cc3-98C4-dc0c0C07398f",
	"00000000-0000-0000-0000-000000000000",
	"ffffffff-ffff-ffff-ffff-ffffffffffff",
	"f81d4fae-7dec-11d0-a765-00a0c91e6bf6", /* RFC 9562's v1 example */
};

static const char *const invalid_ids[] = {
	"",
	"017f22e2-79b0-7cc3-98c4-dc0c0c07398",   /* 35 */
	"017f22e2-79b0-7cc3-98c4-dc0c0c07398f0", /* 37 */
	"017f22e279b07cc398c4dc0c0c07398f",      /* no dashes */
	"017f22e2-79b0-7cc3-98c4dc0c0c07398f0",  /* a dash moved */
	"017f22e2079b0-7cc3-98c4-dc0c0c07398f",  /* first dash a digit */
	"017f22e-279b0-7cc3-98c4-dc0c0c07398f",  /* dash one early */
	"017f22e2-79b0-7cc3-98c4-dc0c0c07398g",  /* g */
	"017f22e2-79b0-7cc3-98c4-dc0c0c07398 ",  /* space */
	"017f22e2_79b0_7cc3_98c4_dc0c0c07398f",  /* underscores */
	"{017f22e2-79b0-7cc3-98c4-dc0c0c07398f}",
	"urn:uuid:017f22e2-79b0-7cc3-98c4-dc0c0c07398f",
	"017f22e2-79b0-7cc3-98c4-dc0c0c07398\xC3\xA9", /* 37 bytes, non-ASCII */
	"017f22e2-79b0-7cc3-98c4-dc0c0c0739\xC3\xA9",   /* 36 bytes, non-ASCII */
	"017f22e2-79b0-7cc3-98c4--c0c0c07398f",
	"------------------------------------",
};

static void test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(valid_ids); i++)
		if (!uuid_valid(valid_ids[i]))
			fail_msg("uuid_valid(\"%s\") refused", valid_ids[i]);
	for (size_t i = 0; i < COUNT(invalid_ids); i++)
		if (uuid_valid(invalid_ids[i]))
			fail_msg("uuid_valid(\"%s\") accepted", invalid_ids[i]);
}

static void test_lower(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(valid_ids); i++) {
		char s[UUID_STR_LEN + 1];
		uint8_t want[16], got[16];

		memcpy(s, valid_ids[i], sizeof s);
		decode(s, want);
		uuid_lower(s);
		assert_true(uuid_valid(s));
		assert_true(is_lower_hex_form(s));
		decode(s, got);
		assert_memory_equal(got, want, 16);
	}
	char s[] = "017F22E2-79B0-7CC3-98C4-DC0C0C07398F";
	uuid_lower(s);
	assert_string_equal(s, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9562_vector),
		cmocka_unit_test(test_v7_from_table),
		cmocka_unit_test(test_v7_from_sorts),
		cmocka_unit_test(test_v7_generated),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_lower),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
