/*
 * ident.c - validators for the account identifiers of every rail other
 * than SEPA: ABA routing and US account numbers, UK sort codes and account
 * numbers, PIX keys, CLABE, and EVM and Tron addresses; and the Keccak-256
 * that EIP-55 needs.
 *
 * Every function is pure: it reads a caller-owned NUL-terminated string,
 * writes at most IDENT_MAX bytes into the caller's buffer, allocates
 * nothing, keeps no state, and is safe from any thread. The only globals
 * are const tables. No floating point, no bignums: every checksum folds one
 * digit at a time into a small unsigned. No <ctype.h>: its answers depend on
 * the locale, and every format here is defined on ASCII alone. Every scan
 * stops at the NUL or one character past the format's maximum length,
 * whichever comes first, so a long or malformed string costs bounded work
 * and is never read past its NUL. A normalising function that refuses its
 * input leaves out as the empty string, never as a half-written form; one
 * that accepts writes a form it would itself accept unchanged (the fuzz
 * target checks this).
 *
 * Standards and data:
 *  - ABA routing number: ABA Routing Number Policy (Accuity/LexisNexis,
 *    the registrar); check digit weights 3, 7, 1. The first two digits are
 *    the Federal Reserve routing symbol: 00 (U.S. government), 01-12
 *    (Federal Reserve districts), 21-32 (thrifts), 61-72 (electronic
 *    transactions), 80 (traveller's cheques); everything else is unassigned.
 *  - US account number: no national standard; 4..17 digits is the range
 *    NACHA's DFI account number field (17 characters) and the banks use.
 *  - UK: the Pay.UK (Vocalink) sort code and 8-digit account number as
 *    Faster Payments carries them. The modulus checks of Vocalink's
 *    "Validating account numbers" need its licensed weight table, which
 *    changes monthly; they are the bank's job, not ours.
 *  - PIX: Banco Central do Brasil, Manual de Padrões para Iniciação do Pix
 *    and the DICT API: CPF (Receita Federal, mod 11, two check digits), CNPJ
 *    (mod 11, weights 2..9 from the right), e-mail at most 77 characters
 *    (dot-atom local part of at most 64, RFC 5321/5322; host name per RFC
 *    1035 with an alphabetic or IDN top-level label, as validator.js's
 *    isEmail has it by default), phone a Brazilian mobile in E.164
 *    (+55, an ANATEL area code, 9 and eight digits), random key an RFC 9562
 *    UUID in 8-4-4-4-12 form. E-mail is limited to ASCII: the DICT key
 *    regex admits nothing else, and it keeps the 77-character limit a byte
 *    limit, so the canonical form always fits IDENT_MAX.
 *  - CLABE: Banco de México, SPEI rules (18 digits, weights 3, 7, 1, each
 *    product taken mod 10).
 *  - EVM: EIP-55 mixed-case checksum over Keccak-256 of the lower-case hex.
 *  - Keccak-256: the Keccak team's submission to the SHA-3 competition,
 *    round 3, as Ethereum uses it: Keccak[r=1088, c=512] with the original
 *    pad10*1 starting at byte 0x01 (FIPS 202's SHA3-256 differs only in its
 *    0x06). The permutation is nettle's Keccak-f[1600]; only the sponge,
 *    twenty lines of byte shuffling, is here.
 *  - Tron: base58 (Bitcoin's alphabet) of version byte 0x41, the 20-byte
 *    account, and the first 4 bytes of SHA-256(SHA-256(those 21 bytes)),
 *    SHA-256 from OpenSSL through base/crypto.h.
 */
#include "domain/ident.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <nettle/sha3.h>

#include "base/crypto.h"

#define IDENT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define IDENT_ABA_LEN 9
#define IDENT_US_ACCOUNT_MIN 4
#define IDENT_US_ACCOUNT_MAX 17
#define IDENT_UK_ACCOUNT_LEN 8
#define IDENT_CPF_LEN 11
#define IDENT_CNPJ_LEN 14
#define IDENT_EMAIL_MAX 77   /* DICT: e-mail keys are at most 77 characters */
#define IDENT_EMAIL_LOCAL_MAX 64 /* RFC 5321: a local part is at most 64 */
#define IDENT_DNS_LABEL_MAX 63   /* RFC 1035 */
#define IDENT_PHONE_LEN 14   /* "+55", 2-digit DDD, 9-digit mobile */
#define IDENT_UUID_LEN 36
#define IDENT_CLABE_LEN 18
#define IDENT_EVM_HEX 40     /* 20 bytes of address */
#define IDENT_EVM_LEN (2 + IDENT_EVM_HEX)
#define IDENT_TRON_LEN 34    /* every 25-byte payload led by 0x41 */
#define IDENT_TRON_BYTES 25
#define IDENT_TRON_VERSION 0x41
#define IDENT_KECCAK_RATE 136 /* bytes: 1600 - 2 * 256 bits of capacity */
#define IDENT_KECCAK_OUT 32

_Static_assert(IDENT_EMAIL_MAX + 1 <= IDENT_MAX, "an e-mail key fits out");
_Static_assert(IDENT_PHONE_LEN + 1 <= IDENT_MAX, "a phone key fits out");
_Static_assert(IDENT_UUID_LEN + 1 <= IDENT_MAX, "a uuid fits out");
_Static_assert(IDENT_CNPJ_LEN + 1 <= IDENT_MAX, "a cnpj fits out");
_Static_assert(IDENT_EVM_LEN + 1 <= IDENT_MAX, "an evm address fits out");
_Static_assert(IDENT_KECCAK_RATE % 8 == 0, "the rate is whole lanes");
_Static_assert(IDENT_KECCAK_RATE / 8 <= SHA3_STATE_LENGTH,
	       "the rate lies inside the state");

static const char ident_base58[] =
	"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

_Static_assert(sizeof(ident_base58) == 58 + 1, "58 symbols");

/* ---- characters ------------------------------------------------------- */

static bool ident_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool ident_is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool ident_is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

static bool ident_is_hex(unsigned char c)
{
	return ident_is_digit(c) || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static unsigned char ident_to_lower(unsigned char c)
{
	return ident_is_upper(c) ? (unsigned char)(c - 'A' + 'a') : c;
}

static unsigned char ident_to_upper(unsigned char c)
{
	return ident_is_lower(c) ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Length of s, but never looks past s[max]: returns max + 1 for anything
 * longer than max, so callers can reject without scanning the rest. */
static size_t ident_bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

/* Exactly n decimal digits, then the NUL. */
static bool ident_digits(const char *s, size_t n)
{
	if (ident_bounded_len(s, n) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ident_is_digit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Match s against a template in which 'd' stands for a decimal digit, 'x'
 * for a hex digit and any other character for itself, and s must end where
 * the template does. The placeholders' characters are copied to out (hex
 * lower-cased) and NUL-terminated; out needs strlen(tmpl) + 1 bytes. Neither
 * placeholder matches the NUL, so the scan never passes the end of s.
 */
static bool ident_template(const char *s, const char *tmpl, char *out)
{
	size_t i = 0, n = 0;

	for (; tmpl[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (tmpl[i] == 'd') {
			if (!ident_is_digit(c))
				return false;
		} else if (tmpl[i] == 'x') {
			if (!ident_is_hex(c))
				return false;
			c = ident_to_lower(c);
		} else if (tmpl[i] == 'a') {
			/* A digit or a letter, kept upper case (alphanumeric CNPJ). */
			if (c >= 'a' && c <= 'z')
				c = (unsigned char)(c - 'a' + 'A');
			if (!ident_is_digit(c) && !(c >= 'A' && c <= 'Z'))
				return false;
		} else {
			if (c != (unsigned char)tmpl[i])
				return false;
			continue;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return s[i] == '\0';
}

/* Try each template in turn; on no match out is left empty. */
static bool ident_templates(const char *s, const char *const *tmpls,
			    size_t count, char *out)
{
	for (size_t i = 0; i < count; i++)
		if (ident_template(s, tmpls[i], out))
			return true;
	out[0] = '\0';
	return false;
}

/* n digits, all the same: they pass the mod-11 checks (000.000.000-00,
 * 111.111.111-11, ...) but are no one's number, so the DICT refuses them;
 * and 000000000 passes the ABA checksum. */
static bool ident_all_equal(const char *d, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (d[i] != d[0])
			return false;
	return true;
}

/* ---- United States ---------------------------------------------------- */

/* The Federal Reserve routing symbol (first two digits) is assigned. */
static bool ident_aba_prefix_assigned(unsigned p)
{
	return p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) ||
	       p == 80;
}

enum err ident_aba_routing(const char *s)
{
	static const unsigned weight[IDENT_ABA_LEN] = {3, 7, 1, 3, 7, 1,
						       3, 7, 1};
	unsigned sum = 0;

	assert(s != NULL);
	if (!ident_digits(s, IDENT_ABA_LEN))
		return ERR_INVALID_ROUTING_NUMBER;
	/* 000000000 passes the checksum (0 is a multiple of 10) and has prefix
	 * 00, yet the ABA assigns it to no one. */
	if (ident_all_equal(s, IDENT_ABA_LEN) && s[0] == '0')
		return ERR_INVALID_ROUTING_NUMBER;
	if (!ident_aba_prefix_assigned((unsigned)(s[0] - '0') * 10 +
				       (unsigned)(s[1] - '0')))
		return ERR_INVALID_ROUTING_NUMBER;
	for (size_t i = 0; i < IDENT_ABA_LEN; i++)
		sum += weight[i] * (unsigned)(s[i] - '0');
	return sum % 10 == 0 ? ERR_OK : ERR_INVALID_ROUTING_NUMBER;
}

enum err ident_us_account(const char *s)
{
	size_t len;

	assert(s != NULL);
	len = ident_bounded_len(s, IDENT_US_ACCOUNT_MAX);
	if (len < IDENT_US_ACCOUNT_MIN || len > IDENT_US_ACCOUNT_MAX)
		return ERR_INVALID_ACCOUNT_NUMBER;
	return ident_digits(s, len) ? ERR_OK : ERR_INVALID_ACCOUNT_NUMBER;
}

enum err ident_us_account_type(const char *s)
{
	assert(s != NULL);
	/* strcmp stops at the first difference or the NUL: never overreads. */
	if (strcmp(s, "checking") == 0 || strcmp(s, "savings") == 0)
		return ERR_OK;
	return ERR_INVALID_ACCOUNT_TYPE;
}

/* ---- United Kingdom --------------------------------------------------- */

enum err ident_uk_sort_code(const char *s, char out[IDENT_MAX])
{
	static const char *const forms[] = {"dddddd", "dd-dd-dd"};

	assert(s != NULL && out != NULL);
	return ident_templates(s, forms, IDENT_COUNT(forms), out)
		       ? ERR_OK
		       : ERR_INVALID_SORT_CODE;
}

enum err ident_uk_account(const char *s)
{
	assert(s != NULL);
	return ident_digits(s, IDENT_UK_ACCOUNT_LEN)
		       ? ERR_OK
		       : ERR_INVALID_ACCOUNT_NUMBER;
}

/* ---- PIX -------------------------------------------------------------- */

bool ident_pix_key_type(const char *name, enum pix_key_type *out)
{
	static const struct {
		const char *name;
		enum pix_key_type type;
	} names[] = {
		{"CPF", PIX_CPF},     {"CNPJ", PIX_CNPJ},
		{"EMAIL", PIX_EMAIL}, {"PHONE", PIX_PHONE},
		{"RANDOM", PIX_RANDOM},
	};

	assert(name != NULL && out != NULL);
	for (size_t i = 0; i < IDENT_COUNT(names); i++) {
		if (strcmp(name, names[i].name) == 0) {
			*out = names[i].type;
			return true;
		}
	}
	return false;
}

/* CPF check digit over the first n digits (9, then 10): weights n+1 down to
 * 2 from the left; the digit is 10·sum mod 11, with 10 read as 0. */
static unsigned ident_cpf_digit(const char *d, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (unsigned)(d[i] - '0') * (unsigned)(n + 1 - i);
	return sum * 10 % 11 % 10;
}

static bool ident_cpf_ok(const char *d)
{
	return !ident_all_equal(d, IDENT_CPF_LEN) &&
	       ident_cpf_digit(d, 9) == (unsigned)(d[9] - '0') &&
	       ident_cpf_digit(d, 10) == (unsigned)(d[10] - '0');
}

/* CNPJ check digit over the first n characters (12, then 13): each valued
 * as its ASCII code minus 48 (digits 0-9, letters A=17 .. Z=42), weights
 * 2..9 from the right, repeating; r = sum mod 11, and the digit is 0 if
 * r < 2, else 11 - r. */
static unsigned ident_cnpj_digit(const char *d, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (unsigned)(d[n - 1 - i] - '0') * (unsigned)(2 + i % 8);
	sum %= 11;
	return sum < 2 ? 0 : 11 - sum;
}

static bool ident_cnpj_ok(const char *d)
{
	return !ident_all_equal(d, IDENT_CNPJ_LEN) &&
	       ident_cnpj_digit(d, 12) == (unsigned)(d[12] - '0') &&
	       ident_cnpj_digit(d, 13) == (unsigned)(d[13] - '0');
}

/* RFC 5322 atext: what a dot-atom local part is made of, besides dots. */
static bool ident_is_atext(unsigned char c)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";

	if (ident_is_digit(c) || ident_is_lower(c) || ident_is_upper(c))
		return true;
	for (const char *p = specials; *p != '\0'; p++)
		if ((unsigned char)*p == c)
			return true;
	return false;
}

/* A dot-atom: 1..max characters of atext in non-empty runs joined by
 * single dots (no leading, trailing or doubled dot). */
static bool ident_dot_atom(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' ? s[i + 1] == '.' : !ident_is_atext(c))
			return false;
	}
	return true;
}

/* A DNS host name of at least two labels: each 1..63 letters, digits and
 * hyphens, not starting or ending with a hyphen; the top-level label all
 * letters (at least two) or an IDN A-label ("xn--..."), never numeric. */
static bool ident_domain(const char *s, size_t n)
{
	size_t start = 0, labels = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];

			if (!ident_is_digit(c) && !ident_is_lower(c) &&
			    !ident_is_upper(c) && c != '-')
				return false;
			continue;
		}
		size_t len = i - start;

		if (len == 0 || len > IDENT_DNS_LABEL_MAX || s[start] == '-' ||
		    s[i - 1] == '-')
			return false;
		labels++;
		if (i == n) {
			bool idn = len > 4 && (s[start] | 0x20) == 'x' &&
				   (s[start + 1] | 0x20) == 'n' &&
				   s[start + 2] == '-' && s[start + 3] == '-';

			if (!idn) {
				if (len < 2)
					return false;
				for (size_t k = start; k < i; k++)
					if (!ident_is_lower((unsigned char)s[k]) &&
					    !ident_is_upper((unsigned char)s[k]))
						return false;
			}
		}
		start = i + 1;
	}
	return labels >= 2;
}

/*
 * local@domain as the DICT takes e-mail keys, at most 77 characters: a
 * dot-atom local part of at most 64 (RFC 5321), one "@", a host name (no
 * quoted local parts, no IP literals, ASCII only). Written lower-cased.
 */
static bool ident_email(const char *s, char *out)
{
	size_t len = ident_bounded_len(s, IDENT_EMAIL_MAX), at = len;

	if (len > IDENT_EMAIL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '@') {
			if (at != len)
				return false;
			at = i;
		}
	}
	if (at == len || !ident_dot_atom(s, at, IDENT_EMAIL_LOCAL_MAX) ||
	    !ident_domain(s + at + 1, len - at - 1))
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)ident_to_lower((unsigned char)s[i]);
	out[len] = '\0';
	return true;
}

/*
 * Brazil's area codes (DDD) in use, as ANATEL assigns them; sorted. A PIX
 * phone key is a Brazilian mobile: "+55", one of these, then nine digits
 * beginning with 9.
 */
static const unsigned char ident_ddd[] = {
	11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33,
	34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 53, 54, 55,
	61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77, 79, 81, 82,
	83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99,
};

_Static_assert(IDENT_COUNT(ident_ddd) == 67, "ANATEL assigns 67 DDDs");

bool ident_br_area_code(unsigned code)
{
	for (size_t i = 0; i < IDENT_COUNT(ident_ddd); i++)
		if (ident_ddd[i] == code)
			return true;
	return false;
}

/* "+55", DDD, "9", eight digits: 14 characters, copied unchanged. */
static bool ident_phone(const char *s, char *out)
{
	if (!ident_template(s, "+55dd9dddddddd", out) ||
	    !ident_br_area_code((unsigned)(s[3] - '0') * 10 +
				(unsigned)(s[4] - '0')))
		return false;
	memcpy(out, s, IDENT_PHONE_LEN + 1);
	return true;
}

/* 8-4-4-4-12 hex digits, either case; written lower-cased with its hyphens.
 * Any version and variant: a PSP may mint its keys however it likes. */
static bool ident_uuid(const char *s, char *out)
{
	char hex[IDENT_UUID_LEN + 1];

	if (!ident_template(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", hex))
		return false;
	for (size_t i = 0; i < IDENT_UUID_LEN; i++)
		out[i] = (char)ident_to_lower((unsigned char)s[i]);
	out[IDENT_UUID_LEN] = '\0';
	return true;
}

enum err ident_pix_key(enum pix_key_type t, const char *s, char out[IDENT_MAX])
{
	static const char *const cpf_forms[] = {"ddddddddddd",
						"ddd.ddd.ddd-dd"};
	/* Since July 2026 the Receita Federal issues alphanumeric CNPJs: the
	 * first 12 characters may be letters, valued as their ASCII code minus
	 * 48 in the same mod-11 check; the two check digits stay digits. */
	static const char *const cnpj_forms[] = {"aaaaaaaaaaaadd",
						 "aa.aaa.aaa/aaaa-dd"};
	bool ok = false;

	assert(s != NULL && out != NULL);
	switch (t) {
	case PIX_CPF:
		ok = ident_templates(s, cpf_forms, IDENT_COUNT(cpf_forms),
				     out) &&
		     ident_cpf_ok(out);
		break;
	case PIX_CNPJ:
		ok = ident_templates(s, cnpj_forms, IDENT_COUNT(cnpj_forms),
				     out) &&
		     ident_cnpj_ok(out);
		break;
	case PIX_EMAIL:
		ok = ident_email(s, out);
		break;
	case PIX_PHONE:
		ok = ident_phone(s, out);
		break;
	case PIX_RANDOM:
		ok = ident_uuid(s, out);
		break;
	}
	if (!ok) {
		out[0] = '\0';
		return ERR_INVALID_PIX_KEY;
	}
	return ERR_OK;
}

/* ---- Mexico ----------------------------------------------------------- */

enum err ident_clabe(const char *s)
{
	static const unsigned weight[3] = {3, 7, 1};
	unsigned sum = 0;

	assert(s != NULL);
	if (!ident_digits(s, IDENT_CLABE_LEN))
		return ERR_INVALID_CLABE;
	for (size_t i = 0; i < IDENT_CLABE_LEN - 1; i++)
		sum += weight[i % 3] * (unsigned)(s[i] - '0') % 10;
	return (10 - sum % 10) % 10 == (unsigned)(s[IDENT_CLABE_LEN - 1] - '0')
		       ? ERR_OK
		       : ERR_INVALID_CLABE;
}

/* ---- Keccak-256 ------------------------------------------------------- */

/* XOR n bytes into the state as the bytes of little-endian 64-bit lanes,
 * which is how Keccak numbers its bits whatever the host's byte order. */
static void ident_keccak_absorb(struct sha3_state *st, const unsigned char *b,
				size_t n)
{
	for (size_t i = 0; i < n; i++)
		st->a[i / 8] ^= (uint64_t)b[i] << (8 * (i % 8));
}

void ident_keccak256(const void *data, size_t len, unsigned char out[32])
{
	const unsigned char *p = data;
	unsigned char last[IDENT_KECCAK_RATE] = {0};
	struct sha3_state st;

	assert(out != NULL && (data != NULL || len == 0));
	memset(&st, 0, sizeof(st));
	for (; len >= IDENT_KECCAK_RATE; len -= IDENT_KECCAK_RATE) {
		ident_keccak_absorb(&st, p, IDENT_KECCAK_RATE);
		sha3_permute(&st);
		p += IDENT_KECCAK_RATE;
	}
	/* pad10*1 in whole bytes: 0x01 after the message, 0x80 in the last
	 * byte of the block (one byte, 0x81, when len is RATE - 1). There is
	 * always such a final block, empty message included. */
	if (len > 0)
		memcpy(last, p, len);
	last[len] ^= 0x01;
	last[IDENT_KECCAK_RATE - 1] ^= 0x80;
	ident_keccak_absorb(&st, last, IDENT_KECCAK_RATE);
	sha3_permute(&st);
	for (size_t i = 0; i < IDENT_KECCAK_OUT; i++)
		out[i] = (unsigned char)(st.a[i / 8] >> (8 * (i % 8)));
}

/* ---- EVM -------------------------------------------------------------- */

enum err ident_evm_address(const char *s, char out[IDENT_MAX])
{
	unsigned char lower[IDENT_EVM_HEX], hash[IDENT_KECCAK_OUT];
	bool has_lower = false, has_upper = false;

	assert(s != NULL && out != NULL);
	out[0] = '\0';
	if (ident_bounded_len(s, IDENT_EVM_LEN) != IDENT_EVM_LEN ||
	    s[0] != '0' || s[1] != 'x')
		return ERR_INVALID_ADDRESS;
	for (size_t i = 0; i < IDENT_EVM_HEX; i++) {
		unsigned char c = (unsigned char)s[2 + i];

		if (!ident_is_hex(c))
			return ERR_INVALID_ADDRESS;
		has_lower = has_lower || ident_is_lower(c);
		has_upper = has_upper || ident_is_upper(c);
		lower[i] = ident_to_lower(c);
	}

	/* EIP-55: hex digit i is upper case when nibble i of the hash of the
	 * lower-case hex (high nibble first) is 8 or more. */
	ident_keccak256(lower, sizeof(lower), hash);
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < IDENT_EVM_HEX; i++) {
		unsigned nibble = i % 2 == 0 ? hash[i / 2] >> 4
					     : hash[i / 2] & 0x0Fu;

		out[2 + i] = (char)(nibble >= 8 ? ident_to_upper(lower[i])
						: lower[i]);
	}
	out[IDENT_EVM_LEN] = '\0';

	/* One case throughout carries no checksum; mixed case is one. */
	if (has_lower && has_upper && memcmp(out, s, IDENT_EVM_LEN) != 0) {
		out[0] = '\0';
		return ERR_INVALID_ADDRESS;
	}
	return ERR_OK;
}

/* ---- Tron ------------------------------------------------------------- */

/* The symbol's value in Bitcoin's base58 alphabet, or -1. */
static int ident_base58_value(unsigned char c)
{
	for (int v = 0; v < 58; v++)
		if ((unsigned char)ident_base58[v] == c)
			return v;
	return -1;
}

enum err ident_tron_address(const char *s)
{
	unsigned char b[IDENT_TRON_BYTES] = {0};
	uint8_t h1[CRYPTO_SHA256_LEN], h2[CRYPTO_SHA256_LEN];

	assert(s != NULL);
	/* A 25-byte number led by 0x41 lies in [58^33, 58^34): exactly 34
	 * symbols, none of them a leading '1' (the zero byte), so any other
	 * length is refused before decoding. */
	if (ident_bounded_len(s, IDENT_TRON_LEN) != IDENT_TRON_LEN)
		return ERR_INVALID_ADDRESS;
	for (size_t i = 0; i < IDENT_TRON_LEN; i++) {
		int v = ident_base58_value((unsigned char)s[i]);
		unsigned carry;

		if (v < 0)
			return ERR_INVALID_ADDRESS;
		/* b = b * 58 + v, big-endian; carry < 58 * 256 + 58. */
		carry = (unsigned)v;
		for (size_t j = IDENT_TRON_BYTES; j-- > 0;) {
			carry += (unsigned)b[j] * 58;
			b[j] = (unsigned char)(carry & 0xFF);
			carry >>= 8;
		}
		if (carry != 0) /* 58^34 < 2^200, so never; but cheap */
			return ERR_INVALID_ADDRESS;
	}
	if (b[0] != IDENT_TRON_VERSION)
		return ERR_INVALID_ADDRESS;
	crypto_sha256(b, 21, h1);
	crypto_sha256(h1, sizeof(h1), h2);
	return memcmp(h2, b + 21, 4) == 0 ? ERR_OK : ERR_INVALID_ADDRESS;
}
