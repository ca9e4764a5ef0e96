/*
 * fuzz_bank.c - the bank validators on arbitrary text: no crash, no read
 * past the NUL, and normalisation is idempotent.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/bank.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	char norm[BANK_IBAN_MAX + 1], again[BANK_IBAN_MAX + 1];
	if (bank_iban_normalize(s, norm) == ERR_OK) {
		enum err first = bank_iban_check(norm);
		assert(bank_iban_normalize(norm, again) == ERR_OK && strcmp(norm, again) == 0);
		assert(bank_iban_check(again) == first);
	}
	if (bank_bic_check(s) == ERR_OK) {
		char cc[3];
		bank_bic_country(s, cc);
		assert(bank_country_valid(cc));
	}
	(void)bank_rf_check(s);
	(void)bank_payment_reference_check(s);
	(void)bank_sepa_country(s);
	free(s);
	return 0;
}
