/*
 * destination.h - a typed withdrawal destination and its validation.
 *
 * A destination is decoded from JSON by the api layer into this struct,
 * then destination_validate() normalises it in place (IBAN without spaces;
 * IBAN, BIC and country upper case) and checks it. The normalised struct is what gets saved and
 * what a session's inline copy is compared against, so "GB29 NWBK ..." and
 * "GB29NWBK..." are the same destination.
 *
 * Rails: SEPA credit transfer (EUR) in this milestone; each further rail
 * adds a row to DEST_RAILS and its own coordinates.
 *
 * Pure; no allocation; thread-safe.
 */
#ifndef OFFRAMP_DOMAIN_DESTINATION_H
#define OFFRAMP_DOMAIN_DESTINATION_H

#include <stdbool.h>

#include "base/errors.h"
#include "base/limits.h"
#include "domain/bank.h"
#include "domain/money.h"

/* X(enum, "wire name", currency) */
#define DEST_RAILS(X) \
	X(RAIL_SEPA_CREDIT_TRANSFER, "sepa_credit_transfer", CUR_EUR)

enum dest_rail {
	RAIL_NONE = 0,
#define X(e, name, cur) e,
	DEST_RAILS(X)
#undef X
	RAIL__COUNT
};

enum dest_method { DEST_METHOD_NONE = 0, DEST_BANK_TRANSFER, DEST_CRYPTO_TRANSFER };

#define DEST_TEXT_MAX (4 * 140) /* 140 characters of up to 4 UTF-8 bytes */

struct dest_bank {
	char beneficiary_name[LIMIT_NAME_BYTES + 1];
	char account_holder_name[LIMIT_NAME_BYTES + 1]; /* "" when absent */
	char bank_name[LIMIT_NAME_BYTES + 1];           /* "" when absent */
	char scheme[8];                                 /* "iban" */
	char iban[BANK_IBAN_MAX + 1];
	char bic[BANK_BIC_MAX + 1]; /* "" when absent */
	char country[3];
	bool has_reference_hint;
	char reference_hint[DEST_TEXT_MAX + 1];
};

struct destination {
	enum dest_method method;
	enum dest_rail rail;
	enum currency currency;
	struct dest_bank bank;
};

enum dest_rail dest_rail_parse(const char *name);
const char *dest_rail_name(enum dest_rail r);
/* The one currency a rail pays out in. */
enum currency dest_rail_currency(enum dest_rail r);
enum dest_method dest_method_parse(const char *name);
const char *dest_method_name(enum dest_method m);

/*
 * Normalise and validate d. On failure returns the error and sets *field
 * to the failing field's path relative to the destination object, as a
 * JSON pointer fragment without the leading slash (e.g.
 * "bank_coordinates/iban"). Checks, in order: rail and currency agree;
 * IBAN (ISO 13616), BIC (ISO 9362), country (ISO 3166) each valid; IBAN
 * country, BIC country and country agree; reference hint.
 * Does not check that the rail serves the country: see dest_route_check.
 */
enum err destination_validate(struct destination *d, const char **field);

/* The rail serves this (validated) destination's country and currency:
 * SEPA needs an IBAN of one of the scheme's 41 countries (by IBAN prefix,
 * so French overseas departments and the Crown dependencies qualify). Returns ERR_OK
 * or ERR_UNSUPPORTED_ROUTE. */
enum err dest_route_check(const struct destination *d);

#endif
