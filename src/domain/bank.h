/*
 * bank.h - validators for bank coordinates: IBAN, BIC, ISO 3166 countries,
 * SEPA scheme membership and payment references (ISO 11649 RF).
 *
 * Pure functions: no I/O, no allocation, no global state; safe from any
 * thread. Inputs are NUL-terminated strings owned by the caller; nothing is
 * retained. Every function returns ERR_OK or the specific client error from
 * base/errors.def, so the api layer can name the field that failed.
 */
#ifndef OFFRAMP_DOMAIN_BANK_H
#define OFFRAMP_DOMAIN_BANK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"

#define BANK_IBAN_MAX 34     /* ISO 13616: at most 34 characters */
#define BANK_BIC_MAX 11      /* ISO 9362: 8 or 11 characters */
#define BANK_UNSTRUCTURED_REF_MAX 140 /* SEPA remittance info, in characters */
#define BANK_RF_MAX 25       /* ISO 11649: "RF" + 2 check digits + up to 21 */

/*
 * Normalise an IBAN as a person might type it: drop spaces, upper-case
 * letters. Writes at most BANK_IBAN_MAX + 1 bytes to out (NUL included).
 * Returns ERR_INVALID_IBAN if, after dropping spaces, the input is longer
 * than BANK_IBAN_MAX or holds anything but ASCII letters and digits.
 */
enum err bank_iban_normalize(const char *in, char out[BANK_IBAN_MAX + 1]);

/*
 * Check a normalised IBAN (as bank_iban_normalize writes it): the country
 * is in the SWIFT IBAN registry, the length is that country's, the check
 * digits are not 00, 01 or 99, the ISO 7064 mod 97-10 remainder is 1, the
 * BBAN has the registry's structure for that country (a digit wherever it
 * says n, a letter wherever it says a), and the national check digits are
 * right in the countries that define ones we verify: BE (mod 97), CZ and SK
 * (mod 11), EE (7-3-1), ES (the two DC digits), FI (Luhn), FR and MC (RIB
 * key), HR (ISO 7064 MOD 11,10), HU (9-7-3-1), IT and SM (CIN), NO (mod 11;
 * bank code 0000 excepted), PL (the sort code's digit), and PT, BA, ME, RS,
 * SI (BBAN mod 97 = 1). Elsewhere (DE, NL, GB, ...: bank-specific methods,
 * licensed tables or none at all) mod 97 is the only checksum.
 * Returns ERR_OK or ERR_INVALID_IBAN.
 */
enum err bank_iban_check(const char *iban);

/*
 * Check a BIC (ISO 9362): 8 or 11 characters, upper case; 4 letters of
 * institution (letters or digits since the 2014 edition), 2 letters of an
 * assigned ISO 3166 country, 2 alphanumerics of location, optional 3
 * alphanumerics of branch. Returns ERR_OK or ERR_INVALID_BIC.
 */
enum err bank_bic_check(const char *bic);

/* Copy the BIC's country (characters 5-6) to out[0..1] and NUL. Only for a
 * BIC that passed bank_bic_check. */
void bank_bic_country(const char *bic, char out[3]);

/* true when cc is an assigned ISO 3166-1 alpha-2 code (upper case, 2 chars). */
bool bank_country_valid(const char *cc);

/* true when cc is in the SEPA schemes' geographical scope (EPC409-09): one
 * of its 41 countries or of the 13 territories with an ISO 3166 code of
 * their own (GI; GG, IM, JE; AX; BL, GF, GP, MF, MQ, PM, RE, YT). */
bool bank_sepa_country(const char *cc);

/* How many countries (41) and territories (13) bank_sepa_country accepts. */
size_t bank_sepa_country_count(void);
size_t bank_sepa_territory_count(void);

/* The IBAN prefix of accounts held in cc: the parent's for a territory the
 * IBAN registry lists under a parent (AX -> FI; BL, GF, GP, MF, MQ, NC, PF,
 * PM, RE, TF, WF, YT -> FR; GG, IM, JE -> GB), else cc itself. */
const char *bank_iban_prefix(const char *cc);

/*
 * Check an ISO 11649 creditor reference, "RF" + 2 check digits + 1..21
 * alphanumerics, spaces allowed between groups (print form), letters in
 * either case; mod 97 of the rearranged number must be 1.
 * Returns ERR_OK or ERR_INVALID_PAYMENT_REFERENCE.
 */
enum err bank_rf_check(const char *ref);

/*
 * Check a payment reference as SEPA carries it. A reference that starts
 * with "RF" (either case) followed by two digits is a structured creditor
 * reference and must pass bank_rf_check. Any other reference is
 * unstructured remittance information: at most BANK_UNSTRUCTURED_REF_MAX
 * characters (Unicode code points of valid UTF-8).
 * Returns ERR_OK, ERR_INVALID_PAYMENT_REFERENCE or
 * ERR_PAYMENT_REFERENCE_TOO_LONG.
 */
enum err bank_payment_reference_check(const char *ref);

#endif
