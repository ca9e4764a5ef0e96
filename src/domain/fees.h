/*
 * fees.h - pricing a session's fees.
 *
 * A fee schedule has a flat network fee per source asset and an optional
 * platform fee in basis points of the principal. The default schedule is
 * the seed's: network_fee 1.00 in the source asset, no platform fee.
 * (Per-tenant schedules arrive with the session lifecycle; the struct is
 * already the shape they will have.)
 *
 * Rounding: the platform fee, and the partner fee's proportional part, are
 * principal * bps / 10000 rounded half up to the asset's minor unit,
 * computed in 128-bit integers. No other rounding.
 */
#ifndef OFFRAMP_DOMAIN_FEES_H
#define OFFRAMP_DOMAIN_FEES_H

#include <stdint.h>

#include "base/errors.h"
#include "domain/money.h"

#define FEES_COMPONENTS_MAX 4

enum fee_kind { FEE_NETWORK, FEE_PLATFORM, FEE_PARTNER };

struct fee_component {
	enum fee_kind kind;
	int64_t amount_minor;
};

struct fee_quote {
	enum currency currency;
	int n;
	struct fee_component components[FEES_COMPONENTS_MAX];
	int64_t total_minor;
};

struct fee_schedule {
	int64_t network_fee_minor;  /* in minor units of the asset (USDC/USDT: 10^-6) */
	int32_t platform_bps;       /* 0..10000 */
	int32_t partner_bps;        /* 0..10000: the partner's share (Lumx partner fees) */
	int64_t partner_flat_minor; /* added to the partner's share */
};

/* The default schedule: 1.00 network fee, no platform fee. */
struct fee_schedule fees_default(void);

/* Quote fees on principal (minor units of source, a stablecoin).
 * Components of zero are left out. Returns ERR_OK or ERR_AMOUNT_TOO_LARGE
 * on overflow. */
enum err fees_quote(const struct fee_schedule *s, enum currency source,
		    int64_t principal_minor, struct fee_quote *out);

/* "network_fee", "platform_fee", "partner_fee". */
const char *fees_kind_name(enum fee_kind k);

#endif
