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
 *    Falkland Islands and Yemen), with each country's BBAN format and, where
 *    defined, published and cheap, its national check digits (the
 *    bank_national list below). Territories that the registry lists under
 *    a parent (AX under FI; GF, GP, MQ, RE, YT, ... under FR; JE, GG, IM under
 *    GB) use the parent's prefix, so they are not rows here.
 *  - BIC: ISO 9362:2022 (institution code may hold digits since 2014).
 *  - Countries: ISO 3166-1 alpha-2, the 249 officially assigned codes, plus
 *    XK (Kosovo), a user-assigned code that SWIFT and the IBAN registry use.
 *  - SEPA: EPC409-09, EPC list of countries in the SEPA schemes'
 *    geographical scope (41 countries, the 2025 edition with Albania,
 *    Moldova, Montenegro, North Macedonia and Serbia, and the territories it
 *    names that have an ISO 3166 code, Gibraltar among them).
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

/*
 * National check digits, where a country defines them in its BBAN, the
 * algorithm is published, it costs a loop, and the registry's example (and
 * the other published examples in the unit tests) pass it. Each is named
 * after the country whose standard defines it; others share it.
 */
enum bank_national {
	BANK_NAT_NONE = 0,
	BANK_NAT_BE,    /* BE: digits 1-10 mod 97 (0 read as 97) = digits 11-12 */
	BANK_NAT_CZ,    /* CZ, SK: prefix and account, weighted sums mod 11 = 0 */
	BANK_NAT_EE,    /* EE: 7-3-1 weights from the right, mod 10 */
	BANK_NAT_ES,    /* ES: the two DC digits, weights 2^i mod 11 */
	BANK_NAT_FI,    /* FI: Luhn over the 14 digits */
	BANK_NAT_FR,    /* FR, MC: the RIB key, 23 characters mod 97 = 0 */
	BANK_NAT_HR,    /* HR: ISO 7064 MOD 11,10 over bank and account */
	BANK_NAT_HU,    /* HU: 9-7-3-1 weights over bank/branch and account */
	BANK_NAT_IT,    /* IT, SM: the CIN letter over the 22 that follow it */
	BANK_NAT_MOD97, /* PT, BA, ME, RS, SI: BBAN mod 97 = 1 (ISO 7064 97-10) */
	BANK_NAT_NO,    /* NO: weights 5,4,3,2,7,6,5,4,3,2 mod 11 */
	BANK_NAT_PL,    /* PL: the sort code's digit, weights 3,9,7,1,3,9,7 */
};

/*
 * The SWIFT IBAN Registry, sorted by country: the BBAN format in the
 * registry's own notation (runs of "<count>!<class>", class n a digit, a an
 * upper-case letter, c either) and the national check. The IBAN's length is
 * 4 + the BBAN's, so the registry's length column is not written again: the
 * format is the one truth, and the unit tests hold it to the registry's
 * lengths and examples.
 */
struct bank_iban_country {
	char cc[3];
	const char *bban;
	enum bank_national national;
};

static const struct bank_iban_country bank_iban_countries[] = {
	{"AD", "4!n4!n12!c", BANK_NAT_NONE},
	{"AE", "3!n16!n", BANK_NAT_NONE},
	{"AL", "8!n16!c", BANK_NAT_NONE},
	{"AT", "5!n11!n", BANK_NAT_NONE},
	{"AZ", "4!a20!c", BANK_NAT_NONE},
	{"BA", "3!n3!n8!n2!n", BANK_NAT_MOD97},
	{"BE", "3!n7!n2!n", BANK_NAT_BE},
	{"BG", "4!a4!n2!n8!c", BANK_NAT_NONE},
	{"BH", "4!a14!c", BANK_NAT_NONE},
	{"BI", "5!n5!n11!n2!n", BANK_NAT_NONE},
	{"BR", "8!n5!n10!n1!a1!c", BANK_NAT_NONE},
	{"BY", "4!c4!n16!c", BANK_NAT_NONE},
	{"CH", "5!n12!c", BANK_NAT_NONE},
	{"CR", "4!n14!n", BANK_NAT_NONE},
	{"CY", "3!n5!n16!c", BANK_NAT_NONE},
	{"CZ", "4!n6!n10!n", BANK_NAT_CZ},
	{"DE", "8!n10!n", BANK_NAT_NONE},
	{"DJ", "5!n5!n11!n2!n", BANK_NAT_NONE},
	{"DK", "4!n9!n1!n", BANK_NAT_NONE},
	{"DO", "4!c20!n", BANK_NAT_NONE},
	{"EE", "2!n14!n", BANK_NAT_EE},
	{"EG", "4!n4!n17!n", BANK_NAT_NONE},
	{"ES", "4!n4!n1!n1!n10!n", BANK_NAT_ES},
	{"FI", "3!n11!n", BANK_NAT_FI},
	{"FK", "2!a12!n", BANK_NAT_NONE},
	{"FO", "4!n9!n1!n", BANK_NAT_NONE},
	{"FR", "5!n5!n11!c2!n", BANK_NAT_FR},
	{"GB", "4!a6!n8!n", BANK_NAT_NONE},
	{"GE", "2!a16!n", BANK_NAT_NONE},
	{"GI", "4!a15!c", BANK_NAT_NONE},
	{"GL", "4!n9!n1!n", BANK_NAT_NONE},
	{"GR", "3!n4!n16!c", BANK_NAT_NONE},
	{"GT", "4!c20!c", BANK_NAT_NONE},
	{"HN", "4!a20!n", BANK_NAT_NONE},
	{"HR", "7!n10!n", BANK_NAT_HR},
	{"HU", "3!n4!n1!n15!n1!n", BANK_NAT_HU},
	{"IE", "4!a6!n8!n", BANK_NAT_NONE},
	{"IL", "3!n3!n13!n", BANK_NAT_NONE},
	{"IQ", "4!a3!n12!n", BANK_NAT_NONE},
	{"IS", "4!n2!n6!n10!n", BANK_NAT_NONE},
	{"IT", "1!a5!n5!n12!c", BANK_NAT_IT},
	{"JO", "4!a4!n18!c", BANK_NAT_NONE},
	{"KW", "4!a22!c", BANK_NAT_NONE},
	{"KZ", "3!n13!c", BANK_NAT_NONE},
	{"LB", "4!n20!c", BANK_NAT_NONE},
	{"LC", "4!a24!c", BANK_NAT_NONE},
	{"LI", "5!n12!c", BANK_NAT_NONE},
	{"LT", "5!n11!n", BANK_NAT_NONE},
	{"LU", "3!n13!c", BANK_NAT_NONE},
	{"LV", "4!a13!c", BANK_NAT_NONE},
	{"LY", "3!n3!n15!n", BANK_NAT_NONE},
	{"MC", "5!n5!n11!c2!n", BANK_NAT_FR},
	{"MD", "2!c18!c", BANK_NAT_NONE},
	{"ME", "3!n13!n2!n", BANK_NAT_MOD97},
	{"MK", "3!n10!c2!n", BANK_NAT_NONE},
	{"MN", "4!n12!n", BANK_NAT_NONE},
	{"MR", "5!n5!n11!n2!n", BANK_NAT_NONE},
	{"MT", "4!a5!n18!c", BANK_NAT_NONE},
	{"MU", "4!a2!n2!n12!n3!n3!a", BANK_NAT_NONE},
	{"NI", "4!a20!n", BANK_NAT_NONE},
	{"NL", "4!a10!n", BANK_NAT_NONE},
	{"NO", "4!n6!n1!n", BANK_NAT_NO},
	{"OM", "3!n16!c", BANK_NAT_NONE},
	{"PK", "4!a16!c", BANK_NAT_NONE},
	{"PL", "8!n16!n", BANK_NAT_PL},
	{"PS", "4!a21!c", BANK_NAT_NONE},
	{"PT", "4!n4!n11!n2!n", BANK_NAT_MOD97},
	{"QA", "4!a21!c", BANK_NAT_NONE},
	{"RO", "4!a16!c", BANK_NAT_NONE},
	{"RS", "3!n13!n2!n", BANK_NAT_MOD97},
	{"RU", "9!n5!n15!c", BANK_NAT_NONE},
	{"SA", "2!n18!c", BANK_NAT_NONE},
	{"SC", "4!a2!n2!n16!n3!a", BANK_NAT_NONE},
	{"SD", "2!n12!n", BANK_NAT_NONE},
	{"SE", "3!n16!n1!n", BANK_NAT_NONE},
	{"SI", "5!n8!n2!n", BANK_NAT_MOD97},
	{"SK", "4!n6!n10!n", BANK_NAT_CZ},
	{"SM", "1!a5!n5!n12!c", BANK_NAT_IT},
	{"SO", "4!n3!n12!n", BANK_NAT_NONE},
	{"ST", "4!n4!n11!n2!n", BANK_NAT_NONE},
	{"SV", "4!a20!n", BANK_NAT_NONE},
	{"TL", "3!n14!n2!n", BANK_NAT_NONE},
	{"TN", "2!n3!n13!n2!n", BANK_NAT_NONE},
	{"TR", "5!n1!n16!c", BANK_NAT_NONE},
	{"UA", "6!n19!c", BANK_NAT_NONE},
	{"VA", "3!n15!n", BANK_NAT_NONE},
	{"VG", "4!a16!n", BANK_NAT_NONE},
	{"XK", "4!n10!n2!n", BANK_NAT_NONE},
	{"YE", "4!a4!n18!c", BANK_NAT_NONE},
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

/* EPC409-09: the SEPA schemes' 41 countries, sorted. */
static const char bank_sepa_countries[][3] = {
	"AD", "AL", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE",
	"ES", "FI", "FR", "GB", "GR", "HR", "HU", "IE", "IS", "IT", "LI",
	"LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL",
	"PT", "RO", "RS", "SE", "SI", "SK", "SM", "VA",
};

_Static_assert(BANK_COUNT(bank_sepa_countries) == 41,
	       "the EPC lists 41 SEPA scheme countries");

/*
 * EPC409-09's territories that have an ISO 3166 code of their own, sorted:
 * Gibraltar (its own IBAN prefix, GI), the Crown dependencies (GB IBANs),
 * Aland (FI) and the French overseas departments and collectivities the
 * list names (FR). The Azores, Madeira, the Canary Islands, Ceuta and
 * Melilla are in scope too but carry PT and ES. Not in scope, though their
 * banks use a member's IBAN prefix: New Caledonia, French Polynesia, Wallis
 * and Futuna and the French Southern Territories (FR); nor the Faroe
 * Islands and Greenland (their own FO and GL).
 */
static const char bank_sepa_territories[][3] = {
	"AX", "BL", "GF", "GG", "GI", "GP", "IM", "JE", "MF", "MQ", "PM",
	"RE", "YT",
};

_Static_assert(BANK_COUNT(bank_sepa_territories) == 13,
	       "13 territories of EPC409-09 have an ISO 3166 code");

/*
 * Territories whose accounts carry a parent's IBAN prefix (the IBAN
 * registry lists them under it), sorted by territory. Every other code is
 * its own prefix.
 */
static const struct {
	char territory[3], parent[3];
} bank_iban_parents[] = {
	{"AX", "FI"}, {"BL", "FR"}, {"GF", "FR"}, {"GG", "GB"}, {"GP", "FR"},
	{"IM", "GB"}, {"JE", "GB"}, {"MF", "FR"}, {"MQ", "FR"}, {"NC", "FR"},
	{"PF", "FR"}, {"PM", "FR"}, {"RE", "FR"}, {"TF", "FR"}, {"WF", "FR"},
	{"YT", "FR"},
};

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

/* The registry's row for cc (two characters read), or NULL. */
static const struct bank_iban_country *bank_iban_country_of(const char *cc)
{
	size_t lo = 0, hi = BANK_COUNT(bank_iban_countries);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = bank_cc_cmp(cc, bank_iban_countries[mid].cc);

		if (c == 0)
			return &bank_iban_countries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Read one "<count>!<class>" run of a registry format; returns the rest of
 * the format. The table is ours and the unit tests parse every row, so a
 * malformed row is a programming error. */
static const char *bank_fmt_run(const char *f, size_t *count, char *cls)
{
	size_t n = 0;

	while (bank_is_digit((unsigned char)*f))
		n = n * 10 + (size_t)(*f++ - '0');
	assert(n > 0 && f[0] == '!' &&
	       (f[1] == 'n' || f[1] == 'a' || f[1] == 'c'));
	*count = n;
	*cls = f[1];
	return f + 2;
}

/* Characters in a BBAN of this format. */
static size_t bank_bban_length(const char *fmt)
{
	size_t total = 0, n;
	char cls;

	while (*fmt != '\0') {
		fmt = bank_fmt_run(fmt, &n, &cls);
		total += n;
	}
	return total;
}

/* The BBAN (exactly the format's length, upper-case alphanumerics) has a
 * digit wherever the format says n and a letter wherever it says a. */
static bool bank_bban_fits(const char *fmt, const unsigned char *b)
{
	size_t n;
	char cls;

	while (*fmt != '\0') {
		fmt = bank_fmt_run(fmt, &n, &cls);
		for (; n > 0; n--, b++) {
			if (cls == 'n' && !bank_is_digit(*b))
				return false;
			if (cls == 'a' && !bank_is_upper(*b))
				return false;
		}
	}
	return true;
}

/* ---- national check digits ------------------------------------------- */
/* Each reads only positions its country's format makes digits (or, for
 * FR and IT, upper-case alphanumerics), so the value arithmetic is safe. */

static unsigned bank_dv(unsigned char c) { return (unsigned)(c - '0'); }

/* sum of d[i] * w[i] over n digits */
static unsigned bank_weighted(const unsigned char *d, const unsigned *w,
			      size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += bank_dv(d[i]) * w[i];
	return sum;
}

/* Belgium (NBB): 3 bank + 7 account digits, then their value mod 97, with
 * a remainder of 0 written as 97. */
static bool bank_nat_be(const unsigned char *b)
{
	unsigned r = 0;

	for (size_t i = 0; i < 10; i++)
		r = (r * 10 + bank_dv(b[i])) % 97;
	return (r == 0 ? 97 : r) == bank_dv(b[10]) * 10 + bank_dv(b[11]);
}

/* Czech Republic and Slovakia (CNB decree 169/2011, NBS decree 8/2013):
 * after the 4-digit bank code, a 6-digit prefix and a 10-digit number, each
 * of whose weighted sums is divisible by 11. */
static bool bank_nat_cz(const unsigned char *b)
{
	static const unsigned wp[6] = {10, 5, 8, 4, 2, 1};
	static const unsigned wn[10] = {6, 3, 7, 9, 10, 5, 8, 4, 2, 1};

	return bank_weighted(b + 4, wp, 6) % 11 == 0 &&
	       bank_weighted(b + 10, wn, 10) % 11 == 0;
}

/* Estonia: after the 2-digit bank code, the account's check digit (the
 * last) by weights 7, 3, 1 from the right: (10 - sum mod 10) mod 10. */
static bool bank_nat_ee(const unsigned char *b)
{
	static const unsigned w[3] = {7, 3, 1};
	unsigned sum = 0;

	for (size_t k = 0; k < 13; k++)
		sum += bank_dv(b[14 - k]) * w[k % 3];
	return (10 - sum % 10) % 10 == bank_dv(b[15]);
}

/* Spain (CCC): bank(4) branch(4) DC(2) account(10). The first DC digit
 * covers "00" + bank + branch, the second the account; weights 2^i mod 11
 * from the left; the digit is 11 - sum mod 11, 11 read as 0 and 10 as 1. */
static unsigned bank_es_digit(const unsigned char *d)
{
	static const unsigned w[10] = {1, 2, 4, 8, 5, 10, 9, 7, 3, 6};
	unsigned r = bank_weighted(d, w, 10) % 11;

	return r < 2 ? r : 11 - r;
}

static bool bank_nat_es(const unsigned char *b)
{
	unsigned char first[10] = {'0', '0'};

	for (size_t i = 0; i < 8; i++)
		first[2 + i] = b[i];
	return bank_es_digit(first) == bank_dv(b[8]) &&
	       bank_es_digit(b + 10) == bank_dv(b[9]);
}

/* Finland: the 14-digit machine form ends in a Luhn check digit. */
static bool bank_nat_fi(const unsigned char *b)
{
	unsigned sum = 0;

	for (size_t k = 0; k < 14; k++) {
		unsigned v = bank_dv(b[13 - k]);

		if (k % 2 == 1)
			v = v * 2 > 9 ? v * 2 - 9 : v * 2;
		sum += v;
	}
	return sum % 10 == 0;
}

/* France and Monaco: bank(5) branch(5) account(11, may hold letters)
 * key(2). Letters are read as digits by the RIB table (A-I 1-9, J-R 1-9,
 * S-Z 2-9); the key makes the 23-digit number divisible by 97. */
static bool bank_nat_fr(const unsigned char *b)
{
	unsigned r = 0;

	for (size_t i = 0; i < 23; i++) {
		unsigned char c = b[i];
		unsigned v = bank_is_digit(c)	? bank_dv(c)
			     : c <= 'I'		? (unsigned)(c - 'A') + 1
			     : c <= 'R'		? (unsigned)(c - 'J') + 1
						: (unsigned)(c - 'S') + 2;

		r = (r * 10 + v) % 97;
	}
	return r == 0;
}

/* ISO 7064 MOD 11,10 over n digits, the last being the check digit. */
static bool bank_mod11_10(const unsigned char *d, size_t n)
{
	unsigned p = 10;

	for (size_t i = 0; i + 1 < n; i++) {
		unsigned s = (p + bank_dv(d[i])) % 10;

		p = (s == 0 ? 10 : s) * 2 % 11;
	}
	return (p + bank_dv(d[n - 1])) % 10 == 1;
}

/* Croatia (HNB): bank code (7) and account (10), each MOD 11,10. */
static bool bank_nat_hr(const unsigned char *b)
{
	return bank_mod11_10(b, 7) && bank_mod11_10(b + 7, 10);
}

/* weights 9, 7, 3, 1 repeating over n digits, then the check digit */
static bool bank_hu_group(const unsigned char *d, size_t n)
{
	static const unsigned w[4] = {9, 7, 3, 1};
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += bank_dv(d[i]) * w[i % 4];
	return (10 - sum % 10) % 10 == bank_dv(d[n]);
}

/* Hungary (MNB): bank(3) branch(4) check(1), then an account of 16 digits
 * (the last its check) or 8 + 8 zeros, where the check is the 8th. */
static bool bank_nat_hu(const unsigned char *b)
{
	bool short_form = true;

	for (size_t i = 16; i < 24; i++)
		short_form = short_form && b[i] == '0';
	return bank_hu_group(b, 7) &&
	       (short_form ? bank_hu_group(b + 8, 7) : bank_hu_group(b + 8, 15));
}

/* Italy and San Marino: the CIN letter, then ABI(5) CAB(5) account(12).
 * Over those 22, odd positions (1st, 3rd, ...) count by the table below,
 * even ones by their value (digits 0-9, letters A=0 ... Z=25); the CIN is
 * the letter of the sum mod 26. */
static bool bank_nat_it(const unsigned char *b)
{
	static const unsigned odd[26] = {1,  0,  5,  7,  9,  13, 15, 17, 19,
					 21, 2,  4,  18, 20, 11, 3,  6,  8,
					 12, 14, 16, 10, 22, 25, 24, 23};
	unsigned sum = 0;

	for (size_t i = 0; i < 22; i++) {
		unsigned char c = b[1 + i];
		unsigned v = bank_is_digit(c) ? bank_dv(c) : (unsigned)(c - 'A');

		sum += i % 2 == 0 ? odd[v] : v;
	}
	return b[0] == (unsigned char)('A' + sum % 26);
}

/* The whole BBAN, all digits, is 1 mod 97 (Portugal's NIB; BA, ME, RS,
 * SI use the same two trailing digits). */
static bool bank_nat_mod97(const unsigned char *b, size_t n)
{
	unsigned r = 0;

	for (size_t i = 0; i < n; i++)
		r = (r * 10 + bank_dv(b[i])) % 97;
	return r == 1;
}

/* Norway: bank(4) account(6) check(1), weights 5,4,3,2,7,6,5,4,3,2; the
 * digit is 11 - sum mod 11 (0 for 0; a remainder of 1 is no number). The
 * old postal giro accounts, bank code 0000, carry a Luhn digit instead of
 * this one and are not checked. */
static bool bank_nat_no(const unsigned char *b)
{
	static const unsigned w[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
	unsigned r;

	if (b[0] == '0' && b[1] == '0' && b[2] == '0' && b[3] == '0')
		return true;
	r = bank_weighted(b, w, 10) % 11;
	return r != 1 && (r == 0 ? 0 : 11 - r) == bank_dv(b[10]);
}

/* Poland (NBP): the 8-digit sort code ends in a check digit over the first
 * seven, weights 3, 9, 7, 1, 3, 9, 7: (10 - sum mod 10) mod 10. */
static bool bank_nat_pl(const unsigned char *b)
{
	static const unsigned w[7] = {3, 9, 7, 1, 3, 9, 7};

	return (10 - bank_weighted(b, w, 7) % 10) % 10 == bank_dv(b[7]);
}

static bool bank_national_ok(enum bank_national nat, const unsigned char *b,
			     size_t n)
{
	switch (nat) {
	case BANK_NAT_NONE: return true;
	case BANK_NAT_BE: return bank_nat_be(b);
	case BANK_NAT_CZ: return bank_nat_cz(b);
	case BANK_NAT_EE: return bank_nat_ee(b);
	case BANK_NAT_ES: return bank_nat_es(b);
	case BANK_NAT_FI: return bank_nat_fi(b);
	case BANK_NAT_FR: return bank_nat_fr(b);
	case BANK_NAT_HR: return bank_nat_hr(b);
	case BANK_NAT_HU: return bank_nat_hu(b);
	case BANK_NAT_IT: return bank_nat_it(b);
	case BANK_NAT_MOD97: return bank_nat_mod97(b, n);
	case BANK_NAT_NO: return bank_nat_no(b);
	case BANK_NAT_PL: return bank_nat_pl(b);
	}
	return false;
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
	const struct bank_iban_country *row;
	size_t len;
	unsigned r = 0;

	assert(iban != NULL);
	len = bank_bounded_len(iban, BANK_IBAN_MAX);
	if (len < BANK_IBAN_MIN || len > BANK_IBAN_MAX)
		return ERR_INVALID_IBAN;
	if (!bank_is_upper(s[0]) || !bank_is_upper(s[1]) ||
	    !bank_is_digit(s[2]) || !bank_is_digit(s[3]))
		return ERR_INVALID_IBAN;
	row = bank_iban_country_of(iban);
	if (row == NULL || len != 4 + bank_bban_length(row->bban))
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
	if (r != 1)
		return ERR_INVALID_IBAN;

	/* The country's own structure: a letter where it wants a digit passes
	 * mod 97 as readily as a digit does. Then its check digits, if any. */
	if (!bank_bban_fits(row->bban, s + 4) ||
	    !bank_national_ok(row->national, s + 4, len - 4))
		return ERR_INVALID_IBAN;
	return ERR_OK;
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
	       (bank_cc_in(bank_sepa_countries, BANK_COUNT(bank_sepa_countries),
			   cc) ||
		bank_cc_in(bank_sepa_territories,
			   BANK_COUNT(bank_sepa_territories), cc));
}

size_t bank_sepa_country_count(void)
{
	return BANK_COUNT(bank_sepa_countries);
}

size_t bank_sepa_territory_count(void)
{
	return BANK_COUNT(bank_sepa_territories);
}

const char *bank_iban_prefix(const char *cc)
{
	assert(cc != NULL);
	if (!bank_is_cc_shape(cc))
		return cc;
	for (size_t i = 0; i < BANK_COUNT(bank_iban_parents); i++)
		if (bank_cc_cmp(cc, bank_iban_parents[i].territory) == 0)
			return bank_iban_parents[i].parent;
	return cc;
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
