/*
 * ident.h - validators for the account identifiers of every rail other
 * than SEPA (bank.h has IBAN, BIC, RF): ABA routing numbers and US
 * account numbers (ACH, wire), UK sort codes and account numbers (Faster
 * Payments), PIX keys (CPF, CNPJ, e-mail, E.164 phone, random UUID), CLABE
 * (SPEI), and on-chain addresses (EVM with EIP-55, Tron base58check).
 *
 * Pure functions; no allocation; no global state but const tables;
 * thread-safe. Inputs are NUL-terminated strings owned by the caller.
 * Each returns ERR_OK or the field-specific error from base/errors.def.
 * Normalising functions write a canonical form the caller then stores.
 */
#ifndef OFFRAMP_DOMAIN_IDENT_H
#define OFFRAMP_DOMAIN_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/errors.h"

#define IDENT_MAX 80 /* every canonical identifier fits in this, NUL included */

/* ABA routing number: exactly 9 digits, not 000000000, first two (the
 * Federal Reserve routing symbol) in 00-12, 21-32, 61-72 or 80 (the ABA's
 * assigned ranges; 13-20, 33-60, 73-79 and 81-99 are unassigned), and
 * 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
 * ERR_OK or ERR_INVALID_ROUTING_NUMBER. */
enum err ident_aba_routing(const char *s);

/* US bank account number: 4..17 digits. ERR_OK or ERR_INVALID_ACCOUNT_NUMBER. */
enum err ident_us_account(const char *s);

/* "checking" or "savings" (lower case). ERR_OK or ERR_INVALID_ACCOUNT_TYPE. */
enum err ident_us_account_type(const char *s);

/* UK sort code: 6 digits, optionally written "12-34-56"; out gets the 6
 * digits. ERR_OK or ERR_INVALID_SORT_CODE. */
enum err ident_uk_sort_code(const char *s, char out[IDENT_MAX]);

/* UK account number: exactly 8 digits. ERR_OK or ERR_INVALID_ACCOUNT_NUMBER. */
enum err ident_uk_account(const char *s);

/* PIX key types. */
enum pix_key_type { PIX_CPF, PIX_CNPJ, PIX_EMAIL, PIX_PHONE, PIX_RANDOM };
/* "CPF", "CNPJ", "EMAIL", "PHONE", "RANDOM" (upper case; the Lumx
 * spelling); false if unknown. */
bool ident_pix_key_type(const char *name, enum pix_key_type *out);
/*
 * A PIX key of the given type, normalised into out:
 *  CPF    11 digits with both mod-11 check digits; "123.456.789-09"
 *         punctuation accepted and dropped; all-equal digits refused.
 *  CNPJ   14 characters with both check digits; "12.345.678/0001-95"
 *         punctuation accepted and dropped; all-equal digits refused.
 *         Since July 2026 the first 12 may be letters (alphanumeric CNPJ,
 *         valued as ASCII code minus 48; kept upper case).
 *  EMAIL  local@domain, at most 77 characters (the DICT limit), ASCII:
 *         the local part a dot-atom of at most 64 (letters, digits and
 *         !#$%&'*+-/=?^_`{|}~, no leading, trailing or doubled dot); the
 *         domain two or more labels of 1..63 letters, digits and inner
 *         hyphens, the last alphabetic (2+) or "xn--"; lower-cased.
 *  PHONE  a Brazilian mobile in E.164: "+55", an area code (DDD) ANATEL
 *         assigns (ident_br_area_code), then 9 and eight digits.
 *  RANDOM a UUID (8-4-4-4-12 hex); lower-cased.
 * ERR_OK or ERR_INVALID_PIX_KEY.
 */
enum err ident_pix_key(enum pix_key_type t, const char *s, char out[IDENT_MAX]);

/* true when code (11..99) is a Brazilian area code (DDD) in use. */
bool ident_br_area_code(unsigned code);

/* CLABE: 18 digits; the last is the control digit: weights 3,7,1
 * repeated over the first 17, sum of (d·w mod 10), control =
 * (10 - sum mod 10) mod 10. ERR_OK or ERR_INVALID_CLABE. */
enum err ident_clabe(const char *s);

/*
 * EVM address (ethereum, base, polygon): "0x" + 40 hex digits. All lower
 * or all upper case hex is accepted as unchecksummed; mixed case must be
 * the EIP-55 checksum (Keccak-256 of the lower-case hex). out gets the
 * EIP-55 checksummed form. ERR_OK or ERR_INVALID_ADDRESS.
 */
enum err ident_evm_address(const char *s, char out[IDENT_MAX]);

/* Tron address: base58 (Bitcoin alphabet), decoding to 25 bytes: 0x41,
 * 20 bytes, then the first 4 bytes of SHA-256(SHA-256(first 21)).
 * ERR_OK or ERR_INVALID_ADDRESS. */
enum err ident_tron_address(const char *s);

/* Keccak-256 (Ethereum's, original padding 0x01; not SHA3-256) of len
 * bytes, built on nettle's Keccak-f[1600] permutation. */
void ident_keccak256(const void *data, size_t len, unsigned char out[32]);

#endif
