/*
 * fuzz_bank.c - the bank validators on arbitrary text: no crash, no read
 * past the NUL, and normalisation is idempotent. What passes the IBAN check
 * has a registry country, two check digits and a length the registry has
 * (15..33), and passes again in print form (groups of four, spaces around,
 * lower case: the one normalisation both surfaces use, whose country
 * dest_iban_country reports). SEPA countries and territories are ISO codes
 * whose IBAN prefix is SEPA too; a territory's prefix is another ISO code;
 * an RF reference that passes is a valid payment reference.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/bank.h"
#include "domain/destination.h"

static void check_iban_accepted(const char *iban)
{
	size_t n = strlen(iban), k = 0;
	char print[3 * BANK_IBAN_MAX], norm[BANK_IBAN_MAX + 1], cc[3];

	assert(n >= 15 && n <= 33);
	cc[0] = iban[0];
	cc[1] = iban[1];
	cc[2] = '\0';
	assert(bank_country_valid(cc));
	assert(iban[2] >= '0' && iban[2] <= '9' && iban[3] >= '0' && iban[3] <= '9');

	/* "  gb29 nwbk 6016 ... " */
	print[k++] = ' ';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && i % 4 == 0)
			print[k++] = ' ';
		char c = iban[i];
		print[k++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	print[k++] = ' ';
	print[k] = '\0';
	assert(bank_iban_normalize(print, norm) == ERR_OK && strcmp(norm, iban) == 0);
	assert(bank_iban_check(norm) == ERR_OK);
	char got[3] = "??";
	dest_iban_country(print, got);
	assert(strcmp(got, cc) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	char norm[BANK_IBAN_MAX + 1], again[BANK_IBAN_MAX + 1], cc[3];
	if (bank_iban_normalize(s, norm) == ERR_OK) {
		enum err first = bank_iban_check(norm);
		assert(bank_iban_normalize(norm, again) == ERR_OK && strcmp(norm, again) == 0);
		assert(bank_iban_check(again) == first);
		if (first == ERR_OK)
			check_iban_accepted(norm);
		dest_iban_country(s, cc);
		if (strlen(norm) >= 2)
			assert(cc[0] == norm[0] && cc[1] == norm[1] && cc[2] == '\0');
		else
			assert(cc[0] == '\0');
	} else {
		dest_iban_country(s, cc);
		assert(cc[0] == '\0');
	}
	if (bank_bic_check(s) == ERR_OK) {
		bank_bic_country(s, cc);
		assert(bank_country_valid(cc));
	}
	if (bank_rf_check(s) == ERR_OK)
		assert(bank_payment_reference_check(s) == ERR_OK);
	(void)bank_payment_reference_check(s);
	if (bank_sepa_country(s)) {
		assert(bank_country_valid(s));
		assert(bank_sepa_country(bank_iban_prefix(s)));
	}
	const char *p = bank_iban_prefix(s);
	if (p != s)
		assert(bank_country_valid(s) && bank_country_valid(p) && strcmp(p, s) != 0);
	free(s);
	return 0;
}
