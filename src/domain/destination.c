/*
 * destination.c - destination validation; rules per rail and per network
 * in the tables of destination.h.
 *
 * Order of checks, so a client hears first of the field that is wrong in
 * itself, then of fields that merely disagree: method and rail; currency
 * for the rail; the scheme the rail uses; each identifier; countries
 * agreeing; the reference hint.
 */
#include "domain/destination.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum currency currency;
	enum dest_scheme scheme;
	const char *country;
	int64_t cap;
} dest_rails[RAIL__COUNT] = {
	[RAIL_NONE] = {"", CUR_NONE, SCHEME_NONE, "", 0},
#define X(e, name, cur, scheme, country, cap) [e] = {name, cur, scheme, country, cap},
	DEST_RAILS(X)
#undef X
};

static const struct {
	const char *name;
	enum dest_address_kind kind;
	bool usdc, usdt;
} dest_networks[NET__COUNT] = {
	[NET_NONE] = {"", ADDR_EVM, false, false},
#define X(e, name, kind, usdc, usdt) [e] = {name, kind, usdc, usdt},
	DEST_NETWORKS(X)
#undef X
};

static const char *const scheme_names[] = {
	[SCHEME_NONE] = "",        [SCHEME_IBAN] = "iban",   [SCHEME_ABA] = "aba",
	[SCHEME_SORT_CODE] = "sort_code", [SCHEME_PIX] = "pix", [SCHEME_CLABE] = "clabe",
	[SCHEME_SWIFT] = "swift",
};

enum dest_rail dest_rail_parse(const char *name)
{
	for (int r = 1; r < RAIL__COUNT; r++)
		if (strcmp(dest_rails[r].name, name) == 0)
			return (enum dest_rail)r;
	return RAIL_NONE;
}

const char *dest_rail_name(enum dest_rail r)
{
	return (unsigned)r < RAIL__COUNT ? dest_rails[r].name : "";
}

enum currency dest_rail_currency(enum dest_rail r)
{
	return (unsigned)r < RAIL__COUNT ? dest_rails[r].currency : CUR_NONE;
}

enum dest_scheme dest_rail_scheme(enum dest_rail r)
{
	return (unsigned)r < RAIL__COUNT ? dest_rails[r].scheme : SCHEME_NONE;
}

const char *dest_scheme_name(enum dest_scheme s)
{
	return (unsigned)s < sizeof scheme_names / sizeof *scheme_names ? scheme_names[s] : "";
}

int64_t dest_rail_cap(enum dest_rail r)
{
	return (unsigned)r < RAIL__COUNT ? dest_rails[r].cap : 0;
}

enum dest_method dest_method_parse(const char *name)
{
	if (strcmp(name, "bank_transfer") == 0)
		return DEST_BANK_TRANSFER;
	if (strcmp(name, "crypto_transfer") == 0)
		return DEST_CRYPTO_TRANSFER;
	return DEST_METHOD_NONE;
}

const char *dest_method_name(enum dest_method m)
{
	switch (m) {
	case DEST_BANK_TRANSFER: return "bank_transfer";
	case DEST_CRYPTO_TRANSFER: return "crypto_transfer";
	default: return "";
	}
}

enum dest_network dest_network_parse(const char *name)
{
	for (int n = 1; n < NET__COUNT; n++)
		if (strcmp(dest_networks[n].name, name) == 0)
			return (enum dest_network)n;
	return NET_NONE;
}

const char *dest_network_name(enum dest_network n)
{
	return (unsigned)n < NET__COUNT ? dest_networks[n].name : "";
}

bool dest_network_has(enum dest_network n, enum currency asset)
{
	if (n <= NET_NONE || n >= NET__COUNT)
		return false;
	return asset == CUR_USDC ? dest_networks[n].usdc
	       : asset == CUR_USDT ? dest_networks[n].usdt
				   : false;
}

/*
 * Territories that use a parent's IBAN prefix may carry their own ISO code
 * in the BIC and the country field (a bank in Reunion: BIC ...RERE..., IBAN
 * FR...). Agreement is judged on the IBAN prefix each code maps to.
 */
static const char *iban_country_of(const char *cc)
{
	return bank_iban_prefix(cc);
}

static bool same_prefix(const char *iban, const char *cc)
{
	const char *p = iban_country_of(cc);
	return iban[0] == p[0] && iban[1] == p[1];
}

static enum err fail(const char **field, const char *name, enum err e)
{
	*field = name;
	return e;
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* 1..34 letters or digits: an account number as SWIFT carries it. */
static bool swift_account_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 34)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

void dest_iban_country(const char *iban, char cc[3])
{
	char norm[BANK_IBAN_MAX + 1];

	cc[0] = '\0';
	if (bank_iban_normalize(iban, norm) == ERR_OK && norm[0] && norm[1]) {
		cc[0] = norm[0];
		cc[1] = norm[1];
		cc[2] = '\0';
	}
}

static enum err check_iban(struct dest_bank *b, const char **field)
{
	char norm[BANK_IBAN_MAX + 1];
	if (bank_iban_normalize(b->iban, norm) != ERR_OK || bank_iban_check(norm) != ERR_OK)
		return fail(field, "bank_coordinates/iban", ERR_INVALID_IBAN);
	snprintf(b->iban, sizeof b->iban, "%s", norm);
	return ERR_OK;
}

/* IBAN-scheme coordinates (SEPA) and the SWIFT scheme share the BIC,
 * country and agreement rules. */
static enum err check_bic_country(struct dest_bank *b, bool bic_required, const char **field)
{
	if (bic_required && !b->bic[0])
		return fail(field, "bank_coordinates/bic", ERR_MISSING_FIELD);
	if (b->bic[0] && bank_bic_check(b->bic) != ERR_OK)
		return fail(field, "bank_coordinates/bic", ERR_INVALID_BIC);
	if (b->country[0] && !bank_country_valid(b->country))
		return fail(field, "bank_coordinates/country", ERR_INVALID_COUNTRY);
	return ERR_OK;
}

static enum err check_bank(struct destination *d, const char **field)
{
	struct dest_bank *b = &d->bank;
	enum dest_scheme want = dest_rail_scheme(d->rail);
	upper(b->bic);
	upper(b->country);
	if (strcmp(b->scheme, dest_scheme_name(want)) != 0)
		return fail(field, "bank_coordinates/scheme", ERR_RAIL_MISMATCH);
	const char *rail_cc = dest_rails[d->rail].country;
	enum err e;

	switch (want) {
	case SCHEME_IBAN:
		if ((e = check_iban(b, field)) != ERR_OK)
			return e;
		if (!b->country[0])
			return fail(field, "bank_coordinates/country", ERR_MISSING_FIELD);
		if ((e = check_bic_country(b, false, field)) != ERR_OK)
			return e;
		/* Each is valid; now they must agree. */
		if (!same_prefix(b->iban, b->country))
			return fail(field, "bank_coordinates/country", ERR_COUNTRY_MISMATCH);
		if (b->bic[0]) {
			char cc[3];
			bank_bic_country(b->bic, cc);
			if (!same_prefix(b->iban, cc))
				return fail(field, "bank_coordinates/bic", ERR_COUNTRY_MISMATCH);
		}
		break;
	case SCHEME_SWIFT: {
		bool has_iban = b->iban[0] != '\0', has_acct = b->account_number[0] != '\0';
		if (has_iban == has_acct)
			return fail(field, has_iban ? "bank_coordinates/account_number"
						    : "bank_coordinates/iban",
				    has_iban ? ERR_INVALID_VALUE : ERR_MISSING_FIELD);
		if ((e = check_bic_country(b, true, field)) != ERR_OK)
			return e;
		if (has_iban && (e = check_iban(b, field)) != ERR_OK)
			return e;
		if (has_acct && !swift_account_ok(b->account_number))
			return fail(field, "bank_coordinates/account_number", ERR_INVALID_ACCOUNT_NUMBER);
		char bic_cc[3];
		bank_bic_country(b->bic, bic_cc);
		if (!b->country[0])
			memcpy(b->country, bic_cc, sizeof bic_cc);
		if (has_iban && !same_prefix(b->iban, bic_cc))
			return fail(field, "bank_coordinates/bic", ERR_COUNTRY_MISMATCH);
		if (strcmp(iban_country_of(b->country), iban_country_of(bic_cc)) != 0)
			return fail(field, "bank_coordinates/country", ERR_COUNTRY_MISMATCH);
		break;
	}
	case SCHEME_ABA:
		if ((e = ident_aba_routing(b->routing_number)) != ERR_OK)
			return fail(field, "bank_coordinates/routing_number", e);
		if ((e = ident_us_account(b->account_number)) != ERR_OK)
			return fail(field, "bank_coordinates/account_number", e);
		if ((e = ident_us_account_type(b->account_type)) != ERR_OK)
			return fail(field, "bank_coordinates/account_type", e);
		break;
	case SCHEME_SORT_CODE: {
		char norm[IDENT_MAX];
		if ((e = ident_uk_sort_code(b->sort_code, norm)) != ERR_OK)
			return fail(field, "bank_coordinates/sort_code", e);
		snprintf(b->sort_code, sizeof b->sort_code, "%s", norm);
		if ((e = ident_uk_account(b->account_number)) != ERR_OK)
			return fail(field, "bank_coordinates/account_number", e);
		break;
	}
	case SCHEME_PIX: {
		enum pix_key_type t;
		char norm[IDENT_MAX];
		if (!ident_pix_key_type(b->pix_key_type, &t))
			return fail(field, "bank_coordinates/pix_key_type", ERR_INVALID_VALUE);
		if ((e = ident_pix_key(t, b->pix_key, norm)) != ERR_OK)
			return fail(field, "bank_coordinates/pix_key", e);
		snprintf(b->pix_key, sizeof b->pix_key, "%s", norm);
		break;
	}
	case SCHEME_CLABE:
		if ((e = ident_clabe(b->clabe)) != ERR_OK)
			return fail(field, "bank_coordinates/clabe", e);
		break;
	default:
		return fail(field, "fiat_rail", ERR_UNSUPPORTED_ROUTE);
	}
	/* Domestic rails: the country is implied; a different one given is
	 * checked by dest_route_check (the rail does not serve it). */
	if (rail_cc[0] && !b->country[0])
		memcpy(b->country, rail_cc, 3);
	if (b->country[0] && !bank_country_valid(b->country))
		return fail(field, "bank_coordinates/country", ERR_INVALID_COUNTRY);
	if (b->has_reference_hint && (e = bank_payment_reference_check(b->reference_hint)) != ERR_OK)
		return fail(field, "reference_hint", e);
	return ERR_OK;
}

static enum err check_crypto(struct destination *d, const char **field)
{
	struct dest_crypto *c = &d->crypto;
	if (!money_is_stablecoin(d->currency))
		return fail(field, "asset", ERR_UNSUPPORTED_CURRENCY);
	if (c->network == NET_NONE)
		return fail(field, "network", ERR_INVALID_VALUE);
	if (!dest_network_has(c->network, d->currency))
		return fail(field, "network", ERR_UNSUPPORTED_NETWORK);
	enum err e;
	if (dest_networks[c->network].kind == ADDR_EVM) {
		char norm[IDENT_MAX];
		if ((e = ident_evm_address(c->address, norm)) != ERR_OK)
			return fail(field, "destination/address", e);
		snprintf(c->address, sizeof c->address, "%s", norm);
	} else if ((e = ident_tron_address(c->address)) != ERR_OK) {
		return fail(field, "destination/address", e);
	}
	return ERR_OK;
}

enum err destination_validate(struct destination *d, const char **field)
{
	*field = NULL;
	if (d->method == DEST_CRYPTO_TRANSFER)
		return check_crypto(d, field);
	if (d->method != DEST_BANK_TRANSFER)
		return fail(field, "method", ERR_INVALID_VALUE);
	if (d->rail <= RAIL_NONE || d->rail >= RAIL__COUNT)
		return fail(field, "fiat_rail", ERR_INVALID_VALUE);
	enum currency want = dest_rail_currency(d->rail);
	if (want != CUR_NONE ? d->currency != want
			     : d->currency == CUR_NONE || money_is_stablecoin(d->currency))
		return fail(field, "currency", ERR_CURRENCY_MISMATCH);
	return check_bank(d, field);
}

static bool same(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* An optional text that tells absent from empty. */
static bool same_opt(bool has_a, const char *a, bool has_b, const char *b)
{
	return has_a == has_b && (!has_a || same(a, b));
}

static bool same_coordinates(enum dest_scheme scheme, const struct dest_bank *a,
			     const struct dest_bank *b)
{
	if (!same(a->scheme, b->scheme) || !same(a->account_holder_name, b->account_holder_name) ||
	    !same(a->bank_name, b->bank_name) || !same(a->country, b->country))
		return false;
	switch (scheme) {
	case SCHEME_IBAN:
		return same(a->iban, b->iban) && same(a->bic, b->bic);
	case SCHEME_SWIFT:
		return same(a->bic, b->bic) && same(a->iban, b->iban) &&
		       same(a->account_number, b->account_number);
	case SCHEME_ABA:
		return same(a->routing_number, b->routing_number) &&
		       same(a->account_number, b->account_number) &&
		       same(a->account_type, b->account_type);
	case SCHEME_SORT_CODE:
		return same(a->sort_code, b->sort_code) &&
		       same(a->account_number, b->account_number);
	case SCHEME_PIX:
		return same(a->pix_key_type, b->pix_key_type) && same(a->pix_key, b->pix_key);
	case SCHEME_CLABE:
		return same(a->clabe, b->clabe);
	default:
		return true;
	}
}

bool destination_equal(const struct destination *a, const struct destination *b)
{
	if (a->method != b->method || a->currency != b->currency)
		return false;
	if (a->method == DEST_CRYPTO_TRANSFER) {
		const struct dest_crypto *x = &a->crypto, *y = &b->crypto;
		return x->network == y->network && same(x->address, y->address) &&
		       same_opt(x->has_memo, x->memo, y->has_memo, y->memo) &&
		       same_opt(x->has_label, x->label, y->has_label, y->label);
	}
	return a->rail == b->rail && same(a->bank.beneficiary_name, b->bank.beneficiary_name) &&
	       same_opt(a->bank.has_reference_hint, a->bank.reference_hint,
			b->bank.has_reference_hint, b->bank.reference_hint) &&
	       same_coordinates(dest_rail_scheme(a->rail), &a->bank, &b->bank);
}

enum err dest_route_check(const struct destination *d, const char **field)
{
	if (d->method == DEST_CRYPTO_TRANSFER)
		return ERR_OK; /* networks and assets were checked by validate */
	*field = "bank_coordinates/country";
	switch (dest_rail_scheme(d->rail)) {
	case SCHEME_IBAN: {
		/* The IBAN's country and the account's own: a bank in New
		 * Caledonia holds FR IBANs but is outside SEPA. */
		char cc[3] = {d->bank.iban[0], d->bank.iban[1], '\0'};
		return bank_sepa_country(cc) &&
			       (!d->bank.country[0] || bank_sepa_country(d->bank.country))
			       ? ERR_OK
			       : ERR_UNSUPPORTED_ROUTE;
	}
	case SCHEME_SWIFT:
		return ERR_OK;
	default:
		return strcmp(d->bank.country, dest_rails[d->rail].country) == 0
			       ? ERR_OK
			       : ERR_UNSUPPORTED_ROUTE;
	}
}
