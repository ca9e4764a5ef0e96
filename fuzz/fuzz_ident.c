/*
 * fuzz_ident.c - the rail identifier validators on arbitrary text: no
 * crash, no read past the NUL, no write past IDENT_MAX, and every
 * normalising validator is idempotent (what it accepts, it writes in a form
 * it accepts again unchanged). Also: what is accepted has the shape the
 * header promises (ident.h: ABA prefixes and not all zero; CPF digits; CNPJ
 * alphanumeric with two check digits; PIX e-mail a dot-atom of at most 64
 * before one "@", at most 77 in all, lower case; PIX phone a Brazilian
 * mobile), and Keccak-256 runs on the raw bytes.
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

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

/* The Federal Reserve routing symbol ranges ident.h names. */
static bool aba_shape(const char *s)
{
	int p;

	if (!all_digits(s, 9) || strcmp(s, "000000000") == 0)
		return false;
	p = (s[0] - '0') * 10 + (s[1] - '0');
	return p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80;
}

/* 12 digits or upper-case letters, then two check digits. */
static bool cnpj_shape(const char *s)
{
	if (strlen(s) != 14 || !is_digit(s[12]) || !is_digit(s[13]))
		return false;
	for (size_t i = 0; i < 12; i++)
		if (!is_digit(s[i]) && !is_upper(s[i]))
			return false;
	return true;
}

/* local@domain, lower case, at most 77; local 1..64 without a leading,
 * trailing or doubled dot; the domain has a dot, and no empty label. */
static bool email_shape(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s), local;

	if (at == NULL || strchr(at + 1, '@') != NULL || n > 77)
		return false;
	local = (size_t)(at - s);
	if (local < 1 || local > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	if (strstr(s, "..") != NULL || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (is_upper(s[i]) || (unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] >= 0x7F)
			return false;
	return true;
}

/* "+55", an area code in use, "9", eight digits. */
static bool phone_shape(const char *s)
{
	return strlen(s) == 14 && strncmp(s, "+55", 3) == 0 &&
	       all_digits(s + 3, 11) &&
	       ident_br_area_code((unsigned)((s[3] - '0') * 10 + (s[4] - '0'))) &&
	       s[5] == '9';
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
		assert(aba_shape(s));
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
		assert(cnpj_shape(out));
	if (ident_pix_key(PIX_EMAIL, s, out) == ERR_OK)
		assert(email_shape(out) && same_but_case(out, s));
	if (ident_pix_key(PIX_PHONE, s, out) == ERR_OK)
		assert(phone_shape(out) && strcmp(out, s) == 0);
	if (ident_pix_key(PIX_RANDOM, s, out) == ERR_OK)
		assert(strlen(out) == 36 && same_but_case(out, s));

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
