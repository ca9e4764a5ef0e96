/*
 * destination.c - destination validation; rules per rail in one table.
 */
#include "domain/destination.h"

#include <string.h>

static const struct {
	const char *name;
	enum currency currency;
} dest_rails[RAIL__COUNT] = {
	[RAIL_NONE] = {"", CUR_NONE},
#define X(e, name, cur) [e] = {name, cur},
	DEST_RAILS(X)
#undef X
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

/*
 * Territories that use a parent's IBAN prefix may carry their own ISO code
 * in the BIC and the country field (a bank in Reunion: BIC ...RERE..., IBAN
 * FR...). Agreement is judged on the IBAN prefix each code maps to.
 */
static const char *iban_country_of(const char *cc)
{
	static const struct {
		const char *territory, *parent;
	} map[] = {
		{"GF", "FR"}, {"GP", "FR"}, {"MQ", "FR"}, {"RE", "FR"}, {"YT", "FR"},
		{"PM", "FR"}, {"BL", "FR"}, {"MF", "FR"}, {"NC", "FR"}, {"PF", "FR"},
		{"WF", "FR"}, {"TF", "FR"}, {"JE", "GB"}, {"GG", "GB"}, {"IM", "GB"},
		{"AX", "FI"},
	};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (strcmp(map[i].territory, cc) == 0)
			return map[i].parent;
	return cc;
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

enum err destination_validate(struct destination *d, const char **field)
{
	*field = NULL;
	if (d->method != DEST_BANK_TRANSFER)
		return fail(field, "method", ERR_UNSUPPORTED_ROUTE);
	if (d->rail == RAIL_NONE)
		return fail(field, "fiat_rail", ERR_INVALID_VALUE);
	if (d->currency != dest_rail_currency(d->rail))
		return fail(field, "currency", ERR_CURRENCY_MISMATCH);

	struct dest_bank *b = &d->bank;
	/* BICs and country codes are upper case by standard; accept what a
	 * person types, as for the IBAN, and keep the normal form. */
	for (char *p = b->bic; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	for (char *p = b->country; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (strcmp(b->scheme, "iban") != 0)
		return fail(field, "bank_coordinates/scheme", ERR_INVALID_VALUE);
	char norm[BANK_IBAN_MAX + 1];
	if (bank_iban_normalize(b->iban, norm) != ERR_OK || bank_iban_check(norm) != ERR_OK)
		return fail(field, "bank_coordinates/iban", ERR_INVALID_IBAN);
	memcpy(b->iban, norm, sizeof norm);
	if (b->bic[0] && bank_bic_check(b->bic) != ERR_OK)
		return fail(field, "bank_coordinates/bic", ERR_INVALID_BIC);
	if (!bank_country_valid(b->country))
		return fail(field, "bank_coordinates/country", ERR_INVALID_COUNTRY);
	/* Each is valid; now they must agree. */
	if (!same_prefix(b->iban, b->country))
		return fail(field, "bank_coordinates/country", ERR_COUNTRY_MISMATCH);
	if (b->bic[0]) {
		char cc[3];
		bank_bic_country(b->bic, cc);
		if (!same_prefix(b->iban, cc))
			return fail(field, "bank_coordinates/bic", ERR_COUNTRY_MISMATCH);
	}
	if (d->bank.has_reference_hint) {
		enum err e = bank_payment_reference_check(b->reference_hint);
		if (e != ERR_OK)
			return fail(field, "reference_hint", e);
	}
	return ERR_OK;
}

enum err dest_route_check(const struct destination *d)
{
	switch (d->rail) {
	case RAIL_SEPA_CREDIT_TRANSFER:
	{
		char cc[3] = {d->bank.iban[0], d->bank.iban[1], '\0'};
		return bank_sepa_country(cc) ? ERR_OK : ERR_UNSUPPORTED_ROUTE;
	}
	default:
		return ERR_UNSUPPORTED_ROUTE;
	}
}
