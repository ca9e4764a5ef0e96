/*
 * bank.c - validators for bank coordinates: IBAN, BIC, ISO 3166 countries,
 * SEPA scheme membership and payment references.
 *
 * Every function is pure: it reads a caller-owned NUL-terminated string,
 * writes at most into the caller's fixed-size buffer, allocates nothing,
 * keeps no state, and is safe from any thread. The only globals are the
 * const tables below. No floating point, no bignums: the two mod-97 checks
 * fold one character at a time into a remainder below 97, so nothing can
 * overflow however long the input. No <ctype.h> either: its answers depend
 * on the locale, and these formats are defined on ASCII alone. Every scan
 * stops at the NUL or at the format's maximum length, whichever comes first,
 * so a long or malformed string costs a bounded amount of work.
 *
 * Standards and data:
 *  - IBAN: ISO 13616-1:2020 (at most 34 characters: 2 letters of country,
 *    2 check digits, an alphanumeric BBAN); check digits per ISO/IEC
 *    7064:2003 MOD 97-10. Country lengths are the SWIFT IBAN Registry's
 *    89 entries (2025 content, the latest additions being Honduras, Oman,
 *    Falkland Islands and Yemen). Territories that the registry lists under
 *    a parent (AX under FI; GF, GP, MQ, RE, YT, ... under FR; JE, GG, IM under
 *    GB) use the parent's prefix, so they are not rows here.
 *  - BIC: ISO 9362:2022 (institution code may hold digits since 2014).
 *  - Countries: ISO 3166-1 alpha-2, the 249 officially assigned codes, plus
 *    XK (Kosovo), a user-assigned code that SWIFT and the IBAN registry use.
 *  - SEPA: EPC409-09, EPC list of SEPA scheme countries (41 countries, the
 *    2025 edition with Albania, Moldova, Montenegro, North Macedonia and
 *    Serbia). Dependent territories in that document are not included.
 *  - Creditor reference: ISO 11649:2009 ("RF", 2 check digits, 1..21
 *    alphanumerics, mod 97 over the rearranged string equals 1).
 *  - Unstructured remittance information: the SEPA credit transfer
 *    rulebook's 140 characters (counted as Unicode code points).
 *
 * Invariant for the tables: each is sorted by code with no duplicates,
 * because lookups are binary searches; the unit tests check every row.
 */
#include "domain/bank.h"

#include <assert.h>

/* ISO 11649: "RF" + 2 check digits + at least one character. */
#define BANK_RF_MIN 5
/* Shortest IBAN we could ever look at: country + check digits + 1. */
#define BANK_IBAN_MIN 5

struct bank_iban_country {
	char cc[3];
	unsigned char length; /* total IBAN length, country code included */
};

/* SWIFT IBAN Registry: country code and total IBAN length, sorted. */
static const struct bank_iban_country bank_iban_countries[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28},
	{"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22}, {"BI", 27},
	{"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
	{"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28},
	{"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18},
	{"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
	{"GL", 18}, {"GR", 27}, {"GT", 28}, {"HN", 28}, {"HR", 21},
	{"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
	{"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28},
	{"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
	{"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
	{"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28},
	{"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
	{"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22},
	{"RU", 33}, {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24},
	{"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
	{"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
	{"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

#define BANK_COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(BANK_COUNT(bank_iban_countries) == 89,
	       "the SWIFT IBAN registry has 89 countries");

/* ISO 3166-1 alpha-2, every officially assigned code, plus XK; sorted. */
static const char bank_iso_countries[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT",
	"AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI",
	"BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY",
	"BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
	"CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
	"DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK",
	"FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL",
	"GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
	"HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR",
	"IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
	"KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS",
	"LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
	"ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW",
	"MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP",
	"NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
	"PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
	"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
	"SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF",
	"TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
	"TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
	"VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
};

_Static_assert(BANK_COUNT(bank_iso_countries) == 249 + 1,
	       "249 assigned ISO 3166-1 codes plus XK");

/* EPC409-09: the SEPA scheme countries, sorted. */
static const char bank_sepa_countries[][3] = {
	"AD", "AL", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE",
	"ES", "FI", "FR", "GB", "GR", "HR", "HU", "IE", "IS", "IT", "LI",
	"LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL",
	"PT", "RO", "RS", "SE", "SI", "SK", "SM", "VA",
};

_Static_assert(BANK_COUNT(bank_sepa_countries) == 41,
	       "the EPC lists 41 SEPA scheme countries");

static bool bank_is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool bank_is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool bank_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool bank_is_upper_alnum(unsigned char c)
{
	return bank_is_upper(c) || bank_is_digit(c);
}

static unsigned char bank_to_upper(unsigned char c)
{
	return bank_is_lower(c) ? (unsigned char)(c - 'a' + 'A') : c;
}

/* Length of s, but never looks past s[max]: returns max + 1 for anything
 * longer than max, so callers can reject without scanning the rest. */
static size_t bank_bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

/*
 * Fold one upper-case alphanumeric into an ISO 7064 MOD 97-10 remainder.
 * A digit is one decimal digit; a letter is two (A = 10 ... Z = 35). Since
 * r < 97, r * 100 + 35 < 9735, far inside an unsigned, and the result is
 * again below 97: the remainder of the whole number without ever holding it.
 */
static unsigned bank_mod97_step(unsigned r, unsigned char c)
{
	if (bank_is_digit(c))
		return (r * 10 + (unsigned)(c - '0')) % 97;
	return (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
}

/* Check digits 00, 01 and 99 are never generated (98 - n mod 97 lies in
 * 2..98), yet 00, 01 and 99 pass the mod-97 test exactly when 97, 98 and 02
 * would, so they must be refused by name. Both callers pass two digits. */
static bool bank_check_digits_allowed(unsigned char hi, unsigned char lo)
{
	unsigned v = (unsigned)(hi - '0') * 10 + (unsigned)(lo - '0');

	return v >= 2 && v <= 98;
}

static int bank_cc_cmp(const char *a, const char *b)
{
	if (a[0] != b[0])
		return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
	if (a[1] != b[1])
		return (unsigned char)a[1] < (unsigned char)b[1] ? -1 : 1;
	return 0;
}

/* Binary search of a sorted table of 2-letter codes. */
static bool bank_cc_in(const char (*table)[3], size_t n, const char *cc)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = bank_cc_cmp(cc, table[mid]);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* The registry's total IBAN length for cc, or 0 when cc has no IBAN. */
static size_t bank_iban_length(const char *cc)
{
	size_t lo = 0, hi = BANK_COUNT(bank_iban_countries);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = bank_cc_cmp(cc, bank_iban_countries[mid].cc);

		if (c == 0)
			return bank_iban_countries[mid].length;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Exactly two upper-case ASCII letters, then the NUL. */
static bool bank_is_cc_shape(const char *cc)
{
	return bank_is_upper((unsigned char)cc[0]) &&
	       bank_is_upper((unsigned char)cc[1]) && cc[2] == '\0';
}

enum err bank_iban_normalize(const char *in, char out[BANK_IBAN_MAX + 1])
{
	size_t n = 0;

	assert(in != NULL && out != NULL);
	for (const char *p = in; *p != '\0'; p++) {
		unsigned char c = bank_to_upper((unsigned char)*p);

		if (c == ' ')
			continue;
		/* Stop at the first character past the limit: out never
		 * receives more than BANK_IBAN_MAX + 1 bytes. */
		if (!bank_is_upper_alnum(c) || n == BANK_IBAN_MAX) {
			out[0] = '\0';
			return ERR_INVALID_IBAN;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return ERR_OK;
}

enum err bank_iban_check(const char *iban)
{
	const unsigned char *s = (const unsigned char *)iban;
	size_t len, want;
	unsigned r = 0;

	assert(iban != NULL);
	len = bank_bounded_len(iban, BANK_IBAN_MAX);
	if (len < BANK_IBAN_MIN || len > BANK_IBAN_MAX)
		return ERR_INVALID_IBAN;
	if (!bank_is_upper(s[0]) || !bank_is_upper(s[1]) ||
	    !bank_is_digit(s[2]) || !bank_is_digit(s[3]))
		return ERR_INVALID_IBAN;
	want = bank_iban_length(iban);
	if (want == 0 || len != want)
		return ERR_INVALID_IBAN;
	if (!bank_check_digits_allowed(s[2], s[3]))
		return ERR_INVALID_IBAN;

	/* ISO 13616: move the first four characters to the end, read letters
	 * as 10..35, and the number must be 1 modulo 97. */
	for (size_t i = 4; i < len; i++) {
		if (!bank_is_upper_alnum(s[i]))
			return ERR_INVALID_IBAN;
		r = bank_mod97_step(r, s[i]);
	}
	for (size_t i = 0; i < 4; i++)
		r = bank_mod97_step(r, s[i]);
	return r == 1 ? ERR_OK : ERR_INVALID_IBAN;
}

enum err bank_bic_check(const char *bic)
{
	const unsigned char *s = (const unsigned char *)bic;
	size_t len;
	char cc[3];

	assert(bic != NULL);
	len = bank_bounded_len(bic, BANK_BIC_MAX);
	if (len != 8 && len != BANK_BIC_MAX)
		return ERR_INVALID_BIC;
	/* Institution (4) and location (2) are alphanumeric, as is the
	 * optional branch (3). Test-and-training BICs (location ending in
	 * '0') are well-formed and accepted: rejecting them is policy, not
	 * syntax. Lower case is not a BIC. */
	for (size_t i = 0; i < len; i++) {
		if (i == 4 || i == 5)
			continue;
		if (!bank_is_upper_alnum(s[i]))
			return ERR_INVALID_BIC;
	}
	cc[0] = bic[4];
	cc[1] = bic[5];
	cc[2] = '\0';
	return bank_country_valid(cc) ? ERR_OK : ERR_INVALID_BIC;
}

void bank_bic_country(const char *bic, char out[3])
{
	assert(bic != NULL && out != NULL);
	assert(bank_bic_check(bic) == ERR_OK);
	out[0] = bic[4];
	out[1] = bic[5];
	out[2] = '\0';
}

bool bank_country_valid(const char *cc)
{
	assert(cc != NULL);
	return bank_is_cc_shape(cc) &&
	       bank_cc_in(bank_iso_countries, BANK_COUNT(bank_iso_countries), cc);
}

bool bank_sepa_country(const char *cc)
{
	assert(cc != NULL);
	return bank_is_cc_shape(cc) &&
	       bank_cc_in(bank_sepa_countries, BANK_COUNT(bank_sepa_countries),
			  cc);
}

size_t bank_sepa_country_count(void)
{
	return BANK_COUNT(bank_sepa_countries);
}

/* Starts with "RF" in either case and two digits: the shape that makes a
 * reference structured. Reads s[1] only if s[0] is not the NUL, and so on. */
static bool bank_rf_prefix(const unsigned char *s)
{
	return bank_to_upper(s[0]) == 'R' && bank_to_upper(s[1]) == 'F' &&
	       bank_is_digit(s[2]) && bank_is_digit(s[3]);
}

enum err bank_rf_check(const char *ref)
{
	const unsigned char *s = (const unsigned char *)ref;
	size_t n = 4; /* characters kept, "RF" and check digits included */
	unsigned r = 0;

	assert(ref != NULL);
	if (!bank_rf_prefix(s))
		return ERR_INVALID_PAYMENT_REFERENCE;
	if (!bank_check_digits_allowed(s[2], s[3]))
		return ERR_INVALID_PAYMENT_REFERENCE;

	/* The body, in print form or not: a space may stand only between two
	 * alphanumerics (so the first group "RFnn" stays whole, and there is
	 * no leading, trailing or doubled space). The rearranged number is
	 * body + "RF" + check digits; fold the body first. */
	for (size_t i = 4; s[i] != '\0'; i++) {
		unsigned char c = bank_to_upper(s[i]);

		if (c == ' ') {
			if (s[i + 1] == ' ' || s[i + 1] == '\0')
				return ERR_INVALID_PAYMENT_REFERENCE;
			continue;
		}
		if (!bank_is_upper_alnum(c) || n == BANK_RF_MAX)
			return ERR_INVALID_PAYMENT_REFERENCE;
		r = bank_mod97_step(r, c);
		n++;
	}
	if (n < BANK_RF_MIN)
		return ERR_INVALID_PAYMENT_REFERENCE;
	r = bank_mod97_step(r, 'R');
	r = bank_mod97_step(r, 'F');
	r = bank_mod97_step(r, s[2]);
	r = bank_mod97_step(r, s[3]);
	return r == 1 ? ERR_OK : ERR_INVALID_PAYMENT_REFERENCE;
}

enum err bank_payment_reference_check(const char *ref)
{
	size_t points = 0;

	assert(ref != NULL);
	if (bank_rf_prefix((const unsigned char *)ref))
		return bank_rf_check(ref);

	/* Count code points as the bytes that start one (anything but a
	 * 10xxxxxx continuation byte). The input is valid UTF-8 by now; if it
	 * were not, this still stops at the NUL and only miscounts. */
	for (const char *p = ref; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xC0) != 0x80 &&
		    ++points > BANK_UNSTRUCTURED_REF_MAX)
			return ERR_PAYMENT_REFERENCE_TOO_LONG;
	}
	return ERR_OK;
}
