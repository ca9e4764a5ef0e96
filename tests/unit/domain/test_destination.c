/*
 * test_destination.c - unit tests for domain/destination.c.
 *
 * Every case starts from the seed's SEPA destination (a valid one) and
 * changes only the fields its row names, so each refusal is caused by one
 * thing, and is checked by its error code AND the field path it blames.
 * The bank validators themselves are tested in test_bank.c; here we test
 * what destination_validate adds: the order of checks, field paths,
 * normalisation in place, and agreement between IBAN, BIC and country
 * (territories included), then dest_route_check, then destination_equal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "domain/destination.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Valid IBANs: the SWIFT IBAN Registry's examples. */
#define IBAN_GB "GB29NWBK60161331926819"
#define IBAN_DE "DE89370400440532013000"
#define IBAN_CH "CH9300762011623852957"
#define IBAN_FR "FR1420041010050500013M02606"
#define IBAN_FI "FI2112345600000785"
#define IBAN_BR "BR1800360305000010009795493C1"
#define IBAN_TR "TR330006100519786457841326"
#define IBAN_GI "GI75NWBK000000007099453"

/* ---- helpers ---------------------------------------------------------- */

static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	assert_true(n < cap);
	memcpy(dst, src, n + 1);
}
#define SET(field, value) copy_field((field), sizeof(field), (value))

/* The seed's SEPA destination. */
static void seed_destination(struct destination *d)
{
	memset(d, 0, sizeof *d);
	d->method = DEST_BANK_TRANSFER;
	d->rail = RAIL_SEPA_CREDIT_TRANSFER;
	d->currency = CUR_EUR;
	SET(d->bank.beneficiary_name, "Acme Treasury");
	SET(d->bank.scheme, "iban");
	SET(d->bank.iban, IBAN_GB);
	SET(d->bank.bic, "NWBKGB2L");
	SET(d->bank.country, "GB");
	d->bank.has_reference_hint = false;
}

/* A row changes the seed where a field is non-NULL (or non-zero). */
struct dest_case {
	const char *name;
	enum dest_method method; /* 0: keep */
	enum dest_rail rail;     /* 0: keep; use RAIL__COUNT for "set RAIL_NONE" */
	enum currency currency;  /* 0: keep */
	const char *scheme, *iban, *bic, *country;
	const char *ref; /* non-NULL: has_reference_hint = true */
	enum err want;
	const char *want_field; /* on failure */
	const char *want_iban;  /* on success: the normalised IBAN */
};

static void apply_case(struct destination *d, const struct dest_case *t)
{
	seed_destination(d);
	if (t->method)
		d->method = t->method;
	if (t->rail)
		d->rail = t->rail == RAIL__COUNT ? RAIL_NONE : t->rail;
	if (t->currency)
		d->currency = t->currency;
	if (t->scheme)
		SET(d->bank.scheme, t->scheme);
	if (t->iban)
		SET(d->bank.iban, t->iban);
	if (t->bic)
		SET(d->bank.bic, t->bic);
	if (t->country)
		SET(d->bank.country, t->country);
	if (t->ref) {
		d->bank.has_reference_hint = true;
		SET(d->bank.reference_hint, t->ref);
	}
}

static void run_cases(const struct dest_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct dest_case *t = &cases[i];
		struct destination d;
		const char *field = "(not set)";

		apply_case(&d, t);
		enum err e = destination_validate(&d, &field);
		if (e != t->want)
			fail_msg("\"%s\": %s at %s, want %s", t->name, err_code(e),
				 field ? field : "(null)", err_code(t->want));
		if (e != ERR_OK) {
			if (field == NULL || strcmp(field, t->want_field) != 0)
				fail_msg("\"%s\": %s blames \"%s\", want \"%s\"", t->name,
					 err_code(e), field ? field : "(null)", t->want_field);
		} else {
			const char *want_iban = t->want_iban ? t->want_iban
				: t->iban ? t->iban : IBAN_GB;
			if (strcmp(d.bank.iban, want_iban) != 0)
				fail_msg("\"%s\": iban \"%s\", want \"%s\"", t->name,
					 d.bank.iban, want_iban);
		}
	}
}

/* ---- valid destinations ----------------------------------------------- */

static void test_seed_destination_ok(void **state)
{
	(void)state;
	struct destination d;
	const char *field = "(not set)";

	seed_destination(&d);
	assert_int_equal(destination_validate(&d, &field), ERR_OK);
	assert_string_equal(d.bank.iban, IBAN_GB);
	assert_string_equal(d.bank.bic, "NWBKGB2L");
	assert_string_equal(d.bank.country, "GB");
	const char *where = NULL;
	assert_int_equal(dest_route_check(&d, &where), ERR_OK);

	/* BIC and country are upper-cased like the IBAN. */
	seed_destination(&d);
	strcpy(d.bank.bic, "nwbkGB2l");
	strcpy(d.bank.country, "gb");
	assert_int_equal(destination_validate(&d, &field), ERR_OK);
	assert_string_equal(d.bank.bic, "NWBKGB2L");
	assert_string_equal(d.bank.country, "GB");

	/* Validating twice is harmless: a normalised destination is valid. */
	assert_int_equal(destination_validate(&d, &field), ERR_OK);
	assert_string_equal(d.bank.iban, IBAN_GB);
}

static const struct dest_case valid_cases[] = {
	{"IBAN with spaces and lower case", .iban = "gb29 nwbk 6016 1331 9268 19",
	 .want = ERR_OK, .want_iban = IBAN_GB},
	{"IBAN in print form", .iban = "GB29 NWBK 6016 1331 9268 19",
	 .want = ERR_OK, .want_iban = IBAN_GB},
	{"IBAN mixed case", .iban = "Gb29nWbK60161331926819", .want = ERR_OK,
	 .want_iban = IBAN_GB},
	{"no BIC", .bic = "", .want = ERR_OK},
	{"BIC with branch", .bic = "NWBKGB2LXXX", .want = ERR_OK},
	{"German", .iban = IBAN_DE, .bic = "DEUTDEFF", .country = "DE", .want = ERR_OK},
	{"Swiss", .iban = IBAN_CH, .bic = "UBSWCHZH80A", .country = "CH", .want = ERR_OK},
	{"Reunion: FR IBAN, RE country and BIC", .iban = IBAN_FR, .bic = "BNPARERXXXX",
	 .country = "RE", .want = ERR_OK},
	{"Reunion BIC, FR country", .iban = IBAN_FR, .bic = "BNPARERXXXX",
	 .country = "FR", .want = ERR_OK},
	{"Guadeloupe country, FR BIC", .iban = IBAN_FR, .bic = "BNPAFRPP",
	 .country = "GP", .want = ERR_OK},
	{"Jersey: GB IBAN", .country = "JE", .bic = "NWBKJESH", .want = ERR_OK},
	{"Isle of Man: GB IBAN, GB BIC", .country = "IM", .want = ERR_OK},
	{"Aland: FI IBAN", .iban = IBAN_FI, .bic = "", .country = "AX", .want = ERR_OK},
	{"valid RF reference", .ref = "RF18539007547034", .want = ERR_OK},
	{"valid RF reference, print form", .ref = "RF18 5390 0754 7034", .want = ERR_OK},
	{"unstructured reference", .ref = "invoice 2026-05 / Acme", .want = ERR_OK},
	{"empty reference", .ref = "", .want = ERR_OK},
	/* Brazil and Turkey are valid destinations; the route check refuses them. */
	{"Brazilian IBAN", .iban = IBAN_BR, .bic = "", .country = "BR", .want = ERR_OK},
	{"Turkish IBAN", .iban = IBAN_TR, .bic = "", .country = "TR", .want = ERR_OK},
};

static void test_valid_destinations(void **state)
{
	(void)state;
	run_cases(valid_cases, COUNT(valid_cases));
}

/* A reference hint is checked only when present. */
static void test_absent_reference_hint_ignored(void **state)
{
	(void)state;
	struct destination d;
	const char *field;

	seed_destination(&d);
	SET(d.bank.reference_hint, "RF19539007547034"); /* bad check digits */
	d.bank.has_reference_hint = false;
	assert_int_equal(destination_validate(&d, &field), ERR_OK);
	d.bank.has_reference_hint = true;
	assert_int_equal(destination_validate(&d, &field), ERR_INVALID_PAYMENT_REFERENCE);
	assert_string_equal(field, "reference_hint");
}

/* ---- refusals --------------------------------------------------------- */

static char long_ref[BANK_UNSTRUCTURED_REF_MAX + 2];
static char max_ref[BANK_UNSTRUCTURED_REF_MAX + 1];

static const struct dest_case invalid_cases[] = {
	{"crypto method with a fiat currency", .method = DEST_CRYPTO_TRANSFER,
	 .want = ERR_UNSUPPORTED_CURRENCY, .want_field = "asset"},
	{"no rail", .rail = RAIL__COUNT, .want = ERR_INVALID_VALUE, .want_field = "fiat_rail"},
	{"USD on a EUR rail", .currency = CUR_USD, .want = ERR_CURRENCY_MISMATCH,
	 .want_field = "currency"},
	{"USDC on a EUR rail", .currency = CUR_USDC, .want = ERR_CURRENCY_MISMATCH,
	 .want_field = "currency"},
	{"scheme bban", .scheme = "bban", .want = ERR_RAIL_MISMATCH,
	 .want_field = "bank_coordinates/scheme"},
	{"scheme IBAN upper case", .scheme = "IBAN", .want = ERR_RAIL_MISMATCH,
	 .want_field = "bank_coordinates/scheme"},
	{"scheme aba on a SEPA rail", .scheme = "aba", .want = ERR_RAIL_MISMATCH,
	 .want_field = "bank_coordinates/scheme"},
	{"IBAN bad checksum", .iban = "GB28NWBK60161331926819", .want = ERR_INVALID_IBAN,
	 .want_field = "bank_coordinates/iban"},
	{"IBAN one digit changed", .iban = "GB29NWBK60161331926818", .want = ERR_INVALID_IBAN,
	 .want_field = "bank_coordinates/iban"},
	{"IBAN with a dash", .iban = "GB29-NWBK-6016-1331-9268-19", .want = ERR_INVALID_IBAN,
	 .want_field = "bank_coordinates/iban"},
	{"IBAN empty", .iban = "", .want = ERR_INVALID_IBAN,
	 .want_field = "bank_coordinates/iban"},
	{"IBAN too short", .iban = "GB29NWBK6016133192681", .want = ERR_INVALID_IBAN,
	 .want_field = "bank_coordinates/iban"},
	{"country FR with GB IBAN", .country = "FR", .bic = "", .want = ERR_COUNTRY_MISMATCH,
	 .want_field = "bank_coordinates/country"},
	{"country FR with GB IBAN and BIC", .country = "FR", .want = ERR_COUNTRY_MISMATCH,
	 .want_field = "bank_coordinates/country"},
	{"territory of another parent", .country = "RE", .bic = "", .want = ERR_COUNTRY_MISMATCH,
	 .want_field = "bank_coordinates/country"},
	{"BIC of another country", .bic = "DEUTDEFF", .want = ERR_COUNTRY_MISMATCH,
	 .want_field = "bank_coordinates/bic"},
	{"BIC of a territory of another parent", .bic = "BNPARERXXXX",
	 .want = ERR_COUNTRY_MISMATCH, .want_field = "bank_coordinates/bic"},
	{"BIC too short", .bic = "NWBKGB2", .want = ERR_INVALID_BIC,
	 .want_field = "bank_coordinates/bic"},
	{"BIC of 9 characters", .bic = "NWBKGB2LX", .want = ERR_INVALID_BIC,
	 .want_field = "bank_coordinates/bic"},
	{"BIC with unassigned country", .bic = "NWBKZZ2L", .want = ERR_INVALID_BIC,
	 .want_field = "bank_coordinates/bic"},
	{"country ZZ", .country = "ZZ", .want = ERR_INVALID_COUNTRY,
	 .want_field = "bank_coordinates/country"},
	{"country empty", .country = "", .want = ERR_MISSING_FIELD,
	 .want_field = "bank_coordinates/country"},
	{"RF reference with bad check digits", .ref = "RF19539007547034",
	 .want = ERR_INVALID_PAYMENT_REFERENCE, .want_field = "reference_hint"},
	{"RF reference with a bad character", .ref = "RF18539007547034!",
	 .want = ERR_INVALID_PAYMENT_REFERENCE, .want_field = "reference_hint"},
	{"unstructured reference of 141 characters", .ref = long_ref,
	 .want = ERR_PAYMENT_REFERENCE_TOO_LONG, .want_field = "reference_hint"},
};

static void test_invalid_destinations(void **state)
{
	(void)state;
	memset(long_ref, 'x', BANK_UNSTRUCTURED_REF_MAX + 1);
	long_ref[BANK_UNSTRUCTURED_REF_MAX + 1] = '\0';
	run_cases(invalid_cases, COUNT(invalid_cases));

	/* And 140 characters are fine. */
	memset(max_ref, 'x', BANK_UNSTRUCTURED_REF_MAX);
	max_ref[BANK_UNSTRUCTURED_REF_MAX] = '\0';
	const struct dest_case ok140 = {"140 characters", .ref = max_ref, .want = ERR_OK};
	run_cases(&ok140, 1);
}

/*
 * destination.h: "Checks, in order: rail and currency agree; IBAN, BIC,
 * country each valid; IBAN country, BIC country and country agree;
 * reference hint." With an invalid BIC and a (valid) country that disagrees
 * with the IBAN, the BIC's validity comes first: the client hears of the
 * field that is wrong in itself before fields that merely disagree.
 */
static const struct dest_case order_cases[] = {
	{"invalid BIC before country agreement", .country = "FR", .bic = "NWBKGB2",
	 .want = ERR_INVALID_BIC, .want_field = "bank_coordinates/bic"},
	{"invalid BIC before country validity", .country = "ZZ", .bic = "NWBKGB2",
	 .want = ERR_INVALID_BIC, .want_field = "bank_coordinates/bic"},
};

static void test_check_order(void **state)
{
	(void)state;
	run_cases(order_cases, COUNT(order_cases));
}

/* The orders the header states and the code agrees with: rail/currency
 * before IBAN, IBAN before everything of the bank's, agreement before the
 * reference hint. */
static const struct dest_case first_failure_cases[] = {
	{"currency before IBAN", .currency = CUR_USD, .iban = "GB28NWBK60161331926819",
	 .want = ERR_CURRENCY_MISMATCH, .want_field = "currency"},
	{"IBAN before BIC", .iban = "GB28NWBK60161331926819", .bic = "NWBKGB2",
	 .want = ERR_INVALID_IBAN, .want_field = "bank_coordinates/iban"},
	{"IBAN before country", .iban = "GB28NWBK60161331926819", .country = "ZZ",
	 .want = ERR_INVALID_IBAN, .want_field = "bank_coordinates/iban"},
	{"agreement before reference", .bic = "DEUTDEFF", .ref = "RF19539007547034",
	 .want = ERR_COUNTRY_MISMATCH, .want_field = "bank_coordinates/bic"},
};

static void test_first_failure_wins(void **state)
{
	(void)state;
	run_cases(first_failure_cases, COUNT(first_failure_cases));
}

/* ---- one IBAN normalisation for both surfaces ------------------------ */

/* The country a surface without a country field (Lumx) takes from an IBAN
 * is read after the normalisation the IBAN check uses, so an IBAN with
 * spaces (leading, trailing or in print form) or in lower case means the
 * same on both surfaces. */
static void test_iban_country_after_normalisation(void **state)
{
	(void)state;
	static const struct {
		const char *iban, *cc;
	} c[] = {
		{IBAN_DE, "DE"},
		{" " IBAN_DE, "DE"},
		{IBAN_DE "  ", "DE"},
		{"de89 3704 0044 0532 0130 00", "DE"},
		{"  gi75 nwbk 0000 0000 7099 453 ", "GI"},
		{"\t" IBAN_DE, ""},
		{"DE-89", ""},
		{"", ""},
		{"   ", ""},
		{"D", ""},
	};

	for (size_t i = 0; i < COUNT(c); i++) {
		char cc[3] = "??";

		dest_iban_country(c[i].iban, cc);
		if (strcmp(cc, c[i].cc) != 0)
			fail_msg("dest_iban_country(\"%s\") = \"%s\", want \"%s\"",
				 c[i].iban, cc, c[i].cc);
	}

	/* the Lumx flow: country from the IBAN, then the one validation */
	struct destination d;
	const char *field;

	seed_destination(&d);
	SET(d.bank.iban, " " IBAN_DE);
	SET(d.bank.bic, "");
	dest_iban_country(d.bank.iban, d.bank.country);
	assert_int_equal(destination_validate(&d, &field), ERR_OK);
	assert_string_equal(d.bank.iban, IBAN_DE);
	assert_string_equal(d.bank.country, "DE");
	assert_int_equal(dest_route_check(&d, &field), ERR_OK);
}

/* ---- dest_route_check ------------------------------------------------- */

static const struct {
	const char *name, *iban, *bic, *country;
	enum err want;
} routes[] = {
	{"GB", IBAN_GB, "NWBKGB2L", "GB", ERR_OK},
	{"DE", IBAN_DE, "DEUTDEFF", "DE", ERR_OK},
	{"CH", IBAN_CH, "", "CH", ERR_OK},
	{"FR", IBAN_FR, "BNPAFRPP", "FR", ERR_OK},
	{"Reunion (FR IBAN)", IBAN_FR, "BNPARERXXXX", "RE", ERR_OK},
	{"Jersey (GB IBAN)", IBAN_GB, "", "JE", ERR_OK},
	{"Aland (FI IBAN)", IBAN_FI, "", "AX", ERR_OK},
	{"Gibraltar (GI IBAN)", IBAN_GI, "NWBKGIGI", "GI", ERR_OK},
	{"Guernsey (GB IBAN)", IBAN_GB, "", "GG", ERR_OK},
	{"Saint Pierre and Miquelon (FR IBAN)", IBAN_FR, "", "PM", ERR_OK},
	/* FR IBANs held in the Pacific collectivities: outside the scope */
	{"New Caledonia (FR IBAN)", IBAN_FR, "", "NC", ERR_UNSUPPORTED_ROUTE},
	{"French Polynesia (FR IBAN)", IBAN_FR, "", "PF", ERR_UNSUPPORTED_ROUTE},
	{"Wallis and Futuna (FR IBAN)", IBAN_FR, "", "WF", ERR_UNSUPPORTED_ROUTE},
	{"Brazil", IBAN_BR, "", "BR", ERR_UNSUPPORTED_ROUTE},
	{"Turkey", IBAN_TR, "", "TR", ERR_UNSUPPORTED_ROUTE},
};

static void test_route_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(routes); i++) {
		struct destination d;
		const char *field = NULL;

		seed_destination(&d);
		SET(d.bank.iban, routes[i].iban);
		SET(d.bank.bic, routes[i].bic);
		SET(d.bank.country, routes[i].country);
		/* The route check is for validated destinations. */
		if (destination_validate(&d, &field) != ERR_OK)
			fail_msg("%s: does not validate (%s)", routes[i].name,
				 field ? field : "?");
		const char *where = NULL;
		enum err e = dest_route_check(&d, &where);
		if (e != routes[i].want)
			fail_msg("%s: dest_route_check = %s, want %s", routes[i].name,
				 err_code(e), err_code(routes[i].want));
	}
}

static void test_crypto_destinations(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum currency asset;
		enum dest_network network;
		const char *address;
		enum err want;
		const char *want_field;
	} cases[] = {
		{"USDC on base, EIP-55", CUR_USDC, NET_BASE, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_OK, NULL},
		{"USDT on ethereum, lower case", CUR_USDT, NET_ETHEREUM, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", ERR_OK, NULL},
		{"USDT on tron", CUR_USDT, NET_TRON, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ERR_OK, NULL},
		{"USDC on tron: not offered", CUR_USDC, NET_TRON, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ERR_UNSUPPORTED_NETWORK, "network"},
		{"USDT on base: not offered", CUR_USDT, NET_BASE, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_UNSUPPORTED_NETWORK, "network"},
		{"no network", CUR_USDC, NET_NONE, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID_VALUE, "network"},
		{"EIP-55 case flipped", CUR_USDC, NET_POLYGON, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", ERR_INVALID_ADDRESS, "destination/address"},
		{"tron address on an EVM network", CUR_USDT, NET_POLYGON, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ERR_INVALID_ADDRESS, "destination/address"},
		{"EVM address on tron", CUR_USDT, NET_TRON, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID_ADDRESS, "destination/address"},
		{"fiat asset", CUR_EUR, NET_ETHEREUM, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_UNSUPPORTED_CURRENCY, "asset"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct destination d;
		memset(&d, 0, sizeof d);
		d.method = DEST_CRYPTO_TRANSFER;
		d.currency = cases[i].asset;
		d.crypto.network = cases[i].network;
		snprintf(d.crypto.address, sizeof d.crypto.address, "%s", cases[i].address);
		const char *field = NULL;
		enum err e = destination_validate(&d, &field);
		if (e != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].name, err_code(e), err_code(cases[i].want));
		if (e == ERR_OK) {
			const char *where = NULL;
			assert_int_equal(dest_route_check(&d, &where), ERR_OK);
			if (cases[i].network != NET_TRON) /* normalised to EIP-55 */
				assert_string_equal(d.crypto.address, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
		} else {
			assert_non_null(field);
			assert_string_equal(field, cases[i].want_field);
		}
	}
}

/* ---- equality --------------------------------------------------------- */

static void test_equal(void **state)
{
	(void)state;
	struct destination a, b;
	const char *field;
	seed_destination(&a);
	assert_int_equal(destination_validate(&a, &field), ERR_OK);
	b = a;
	assert_true(destination_equal(&a, &b));
	/* What identifies or names it counts. */
	SET(b.bank.beneficiary_name, "Mallory Ltd");
	assert_false(destination_equal(&a, &b));
	b = a;
	SET(b.bank.iban, IBAN_DE);
	assert_false(destination_equal(&a, &b));
	b = a;
	b.bank.bic[0] = '\0';
	assert_false(destination_equal(&a, &b));
	b = a;
	b.rail = RAIL_SEPA_INSTANT;
	assert_false(destination_equal(&a, &b));
	/* A reference hint given empty is not one left out. */
	b = a;
	b.bank.has_reference_hint = true;
	assert_false(destination_equal(&a, &b));
	/* What the rail's scheme does not use does not. */
	b = a;
	SET(b.bank.account_number, "31926819");
	SET(b.bank.sort_code, "601613");
	b.crypto.has_memo = true;
	assert_true(destination_equal(&a, &b));
	/* Exact bytes: normalising is destination_validate's job. */
	b = a;
	SET(b.bank.bic, "nwbkgb2l");
	assert_false(destination_equal(&a, &b));

	memset(&a, 0, sizeof a);
	a.method = DEST_CRYPTO_TRANSFER;
	a.currency = CUR_USDT;
	a.crypto.network = NET_TRON;
	SET(a.crypto.address, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
	assert_int_equal(destination_validate(&a, &field), ERR_OK);
	b = a;
	assert_true(destination_equal(&a, &b));
	b.crypto.has_memo = true; /* an empty memo is not none */
	assert_false(destination_equal(&a, &b));
	b = a;
	b.crypto.network = NET_ETHEREUM;
	assert_false(destination_equal(&a, &b));
	b = a;
	SET(b.bank.iban, IBAN_GB);
	assert_true(destination_equal(&a, &b));
	b = a;
	b.method = DEST_BANK_TRANSFER;
	assert_false(destination_equal(&a, &b));
}

/* ---- names ------------------------------------------------------------ */

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(dest_rail_parse("sepa_credit_transfer"), RAIL_SEPA_CREDIT_TRANSFER);
	assert_string_equal(dest_rail_name(RAIL_SEPA_CREDIT_TRANSFER), "sepa_credit_transfer");
	assert_int_equal(dest_rail_currency(RAIL_SEPA_CREDIT_TRANSFER), CUR_EUR);
	assert_int_equal(dest_rail_parse("SEPA_CREDIT_TRANSFER"), RAIL_NONE);
	assert_int_equal(dest_rail_parse("sepa"), RAIL_NONE);
	assert_int_equal(dest_rail_parse(""), RAIL_NONE);
	for (int r = 1; r < RAIL__COUNT; r++)
		assert_int_equal(dest_rail_parse(dest_rail_name((enum dest_rail)r)), r);

	assert_int_equal(dest_method_parse("bank_transfer"), DEST_BANK_TRANSFER);
	assert_int_equal(dest_method_parse("crypto_transfer"), DEST_CRYPTO_TRANSFER);
	assert_int_equal(dest_method_parse("wire"), DEST_METHOD_NONE);
	assert_int_equal(dest_method_parse(""), DEST_METHOD_NONE);
	assert_string_equal(dest_method_name(DEST_BANK_TRANSFER), "bank_transfer");
	assert_string_equal(dest_method_name(DEST_CRYPTO_TRANSFER), "crypto_transfer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_destination_ok),
		cmocka_unit_test(test_valid_destinations),
		cmocka_unit_test(test_absent_reference_hint_ignored),
		cmocka_unit_test(test_invalid_destinations),
		cmocka_unit_test(test_first_failure_wins),
		cmocka_unit_test(test_check_order),
		cmocka_unit_test(test_iban_country_after_normalisation),
		cmocka_unit_test(test_route_check),
		cmocka_unit_test(test_crypto_destinations),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
