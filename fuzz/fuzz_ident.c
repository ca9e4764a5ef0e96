/*
 * fuzz_ident.c - the rail identifier validators on arbitrary text: no
 * crash, no read past the NUL, no write past IDENT_MAX, and every
 * normalising validator is idempotent (what it accepts, it writes in a form
 * it accepts again unchanged). Also: what is accepted has the shape the
 * header promises, and Keccak-256 runs on the raw bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/ident.h"

static bool all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Equal but for the case of ASCII letters (strcasecmp follows the locale). */
static bool same_but_case(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;

		if (x != y)
			return false;
		if (x == '\0')
			return true;
	}
}

/* Exact-size heap copies of out, so ASan sees the second pass's reads. */
static void again_pix(enum pix_key_type t, const char *out)
{
	size_t n = strlen(out) + 1;
	char *p = malloc(n), again[IDENT_MAX];

	assert(p != NULL && n <= IDENT_MAX);
	memcpy(p, out, n);
	assert(ident_pix_key(t, p, again) == ERR_OK);
	assert(strcmp(again, out) == 0);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char *out = malloc(IDENT_MAX), again[IDENT_MAX];
	unsigned char h[32];
	enum pix_key_type t;

	if (s == NULL || out == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	if (ident_aba_routing(s) == ERR_OK)
		assert(all_digits(s, 9));
	if (ident_us_account(s) == ERR_OK)
		assert(strlen(s) >= 4 && strlen(s) <= 17);
	(void)ident_us_account_type(s);
	if (ident_uk_account(s) == ERR_OK)
		assert(all_digits(s, 8));
	if (ident_clabe(s) == ERR_OK)
		assert(all_digits(s, 18));
	if (ident_tron_address(s) == ERR_OK)
		assert(strlen(s) == 34 && s[0] == 'T');

	if (ident_uk_sort_code(s, out) == ERR_OK) {
		assert(all_digits(out, 6));
		assert(ident_uk_sort_code(out, again) == ERR_OK);
		assert(strcmp(again, out) == 0);
	} else {
		assert(out[0] == '\0');
	}

	if (ident_pix_key_type(s, &t))
		assert(t >= PIX_CPF && t <= PIX_RANDOM);
	for (int k = PIX_CPF; k <= PIX_RANDOM; k++) {
		enum pix_key_type kt = (enum pix_key_type)k;

		if (ident_pix_key(kt, s, out) == ERR_OK)
			again_pix(kt, out);
		else
			assert(out[0] == '\0');
	}
	if (ident_pix_key(PIX_CPF, s, out) == ERR_OK)
		assert(all_digits(out, 11));
	if (ident_pix_key(PIX_CNPJ, s, out) == ERR_OK)
		assert(all_digits(out, 14));

	if (ident_evm_address(s, out) == ERR_OK) {
		assert(strlen(out) == 42 && out[0] == '0' && out[1] == 'x');
		assert(same_but_case(out, s));
		assert(ident_evm_address(out, again) == ERR_OK);
		assert(strcmp(again, out) == 0);
	} else {
		assert(out[0] == '\0');
	}

	ident_keccak256(data, size, h);
	free(out);
	free(s);
	return 0;
}
