/*
 * destination.h - a typed withdrawal destination and its validation.
 *
 * A destination is decoded from JSON by the api layer into this struct,
 * then destination_validate() normalises it in place (IBAN without spaces;
 * IBAN, BIC and country upper case; sort code digits only; PIX keys and
 * EVM addresses in their canonical form) and checks it. The normalised
 * struct is what gets saved and what a session's inline copy is compared
 * against.
 *
 * Rails, with their currency, account scheme, country and amount cap, are
 * one table (DEST_RAILS); crypto networks and the assets that exist on
 * them another (DEST_NETWORKS). Adding a rail is a row and a scheme.
 *
 * Pure; no allocation; thread-safe.
 */
#ifndef OFFRAMP_DOMAIN_DESTINATION_H
#define OFFRAMP_DOMAIN_DESTINATION_H

#include <stdbool.h>
#include <stdint.h>

#include "base/errors.h"
#include "base/limits.h"
#include "domain/bank.h"
#include "domain/ident.h"
#include "domain/money.h"

/* How a bank account is identified. */
enum dest_scheme {
	SCHEME_NONE = 0,
	SCHEME_IBAN,      /* iban (+ bic) */
	SCHEME_ABA,       /* routing_number + account_number + account_type */
	SCHEME_SORT_CODE, /* sort_code + account_number */
	SCHEME_PIX,       /* pix_key_type + pix_key */
	SCHEME_CLABE,     /* clabe */
	SCHEME_SWIFT,     /* bic + (iban | account_number) */
};

/*
 * X(enum, "wire name", currency (CUR_NONE: any fiat), scheme,
 *   country ("" = per scheme: SEPA's scope by IBAN and country, or any for SWIFT),
 *   cap in the currency's minor units (0 = none))
 *
 * SEPA Instant's cap is the EPC scheme maximum of 100,000.00 EUR.
 */
#define DEST_RAILS(X) \
	X(RAIL_SEPA_CREDIT_TRANSFER, "sepa_credit_transfer", CUR_EUR, SCHEME_IBAN, "", 0) \
	X(RAIL_SEPA_INSTANT, "sepa_instant", CUR_EUR, SCHEME_IBAN, "", 10000000) \
	X(RAIL_ACH, "ach", CUR_USD, SCHEME_ABA, "US", 0) \
	X(RAIL_WIRE, "wire", CUR_USD, SCHEME_ABA, "US", 0) \
	X(RAIL_FASTER_PAYMENTS, "faster_payments", CUR_GBP, SCHEME_SORT_CODE, "GB", 0) \
	X(RAIL_PIX, "pix", CUR_BRL, SCHEME_PIX, "BR", 0) \
	X(RAIL_SPEI, "spei", CUR_MXN, SCHEME_CLABE, "MX", 0) \
	X(RAIL_SWIFT, "swift", CUR_NONE, SCHEME_SWIFT, "", 0)

enum dest_rail {
	RAIL_NONE = 0,
#define X(e, name, cur, scheme, country, cap) e,
	DEST_RAILS(X)
#undef X
	RAIL__COUNT
};

/* X(enum, "name", address kind, USDC there, USDT there). USDC left Tron
 * in 2024 (Circle ended minting and support), so it is not offered there. */
enum dest_address_kind { ADDR_EVM, ADDR_TRON };
#define DEST_NETWORKS(X) \
	X(NET_ETHEREUM, "ethereum", ADDR_EVM, true, true) \
	X(NET_BASE, "base", ADDR_EVM, true, false) \
	X(NET_POLYGON, "polygon", ADDR_EVM, true, true) \
	X(NET_TRON, "tron", ADDR_TRON, false, true)

enum dest_network {
	NET_NONE = 0,
#define X(e, name, kind, usdc, usdt) e,
	DEST_NETWORKS(X)
#undef X
	NET__COUNT
};

enum dest_method { DEST_METHOD_NONE = 0, DEST_BANK_TRANSFER, DEST_CRYPTO_TRANSFER };

#define DEST_TEXT_MAX (4 * 140) /* 140 characters of up to 4 UTF-8 bytes */

struct dest_bank {
	char beneficiary_name[LIMIT_NAME_BYTES + 1];
	char account_holder_name[LIMIT_NAME_BYTES + 1]; /* "" when absent */
	char bank_name[LIMIT_NAME_BYTES + 1];           /* "" when absent */
	char scheme[16];                                /* "iban", "aba", ... */
	char country[3];                                /* "" when absent (non-IBAN) */
	char iban[2 * BANK_IBAN_MAX + 1]; /* as typed (print form may hold spaces); normalised to <= 34 */
	char bic[BANK_BIC_MAX + 1];
	char routing_number[16];
	char account_number[40];
	char account_type[16];
	char sort_code[IDENT_MAX];
	char pix_key_type[16];
	char pix_key[IDENT_MAX];
	char clabe[24];
	bool has_reference_hint;
	char reference_hint[DEST_TEXT_MAX + 1];
};

struct dest_crypto {
	enum dest_network network;
	char address[IDENT_MAX];
	bool has_memo;
	char memo[LIMIT_NAME_BYTES + 1];
	bool has_label;
	char label[LIMIT_NAME_BYTES + 1];
};

struct destination {
	enum dest_method method;
	enum dest_rail rail;     /* bank transfers */
	enum currency currency;  /* fiat for bank transfers; the asset for crypto */
	struct dest_bank bank;
	struct dest_crypto crypto;
};

enum dest_rail dest_rail_parse(const char *name);
const char *dest_rail_name(enum dest_rail r);
/* The one currency a rail pays out in; CUR_NONE for "any fiat" (SWIFT). */
enum currency dest_rail_currency(enum dest_rail r);
enum dest_scheme dest_rail_scheme(enum dest_rail r);
const char *dest_scheme_name(enum dest_scheme s);
/* The most a rail pays in one payout, in minor units of its currency; 0 = no cap. */
int64_t dest_rail_cap(enum dest_rail r);
enum dest_method dest_method_parse(const char *name);
const char *dest_method_name(enum dest_method m);
enum dest_network dest_network_parse(const char *name);
const char *dest_network_name(enum dest_network n);
/* true when asset (USDC/USDT) exists on network. */
bool dest_network_has(enum dest_network n, enum currency asset);

/*
 * Normalise and validate d. On failure returns the error and sets *field
 * to the failing field's path relative to the destination object, as a
 * JSON pointer fragment without the leading slash (e.g.
 * "bank_coordinates/iban"). Bank transfers: the rail's currency (or any
 * fiat for SWIFT), the scheme the rail uses, each identifier valid, then
 * countries agreeing, then the reference hint. Crypto: the asset exists on
 * the network, the address is valid for the network.
 * Does not check that the rail serves the country: see dest_route_check.
 */
enum err destination_validate(struct destination *d, const char **field);

/*
 * Whether two validated (normalised) destinations are the same one: what
 * a session's inline copy must be of the saved destination it names. The
 * same method; for a bank transfer the same rail, currency, beneficiary,
 * reference hint (absent differs from any text) and the coordinates its
 * rail's scheme uses (scheme, holder, bank name, country, and the
 * scheme's identifiers), an empty optional name equal to an absent one,
 * fields outside the scheme ignored; for crypto the same asset, network,
 * address, memo and label (absent differs from any text). Exact bytes:
 * normalisation (case, spaces) is destination_validate's job.
 */
bool destination_equal(const struct destination *a, const struct destination *b);

/* The country of an IBAN as typed: its first two letters once normalised
 * by bank_iban_normalize (spaces dropped, upper-cased), the one
 * normalisation both surfaces use; "" when it does not normalise (the IBAN
 * check then refuses it). For a surface that takes no country with an
 * IBAN (Lumx's SEPA identifier). */
void dest_iban_country(const char *iban, char cc[3]);

/* The rail serves this (validated) destination: SEPA needs an IBAN whose
 * prefix is in the SEPA scope (EPC409-09: 41 countries, and Gibraltar with
 * its own GI) and an account country in that scope (the French overseas
 * departments, Aland and the Crown dependencies qualify with their parent's
 * IBAN; New Caledonia, French Polynesia, Wallis and Futuna do not, though
 * their IBANs are FR); domestic rails need their country; SWIFT and crypto
 * go anywhere. ERR_OK or ERR_UNSUPPORTED_ROUTE, with *field set. */
enum err dest_route_check(const struct destination *d, const char **field);

#endif
