/*
 * fees.c - fee quotes; see fees.h for the rounding rule.
 */
#include "domain/fees.h"

#include <string.h>

struct fee_schedule fees_default(void)
{
	return (struct fee_schedule){.network_fee_minor = 1000000, .platform_bps = 0};
}

const char *fees_kind_name(enum fee_kind k)
{
	return k == FEE_PLATFORM ? "platform_fee" : k == FEE_PARTNER ? "partner_fee" : "network_fee";
}

enum err fees_quote(const struct fee_schedule *s, enum currency source,
		    int64_t principal_minor, struct fee_quote *out)
{
	memset(out, 0, sizeof *out);
	out->currency = source;
	if (s->network_fee_minor > 0) {
		out->components[out->n++] =
			(struct fee_component){FEE_NETWORK, s->network_fee_minor};
	}
	if (s->platform_bps > 0) {
		__int128 p = (__int128)principal_minor * s->platform_bps;
		__int128 fee = (p + 5000) / 10000; /* half up; p >= 0 */
		if (fee > INT64_MAX)
			return ERR_AMOUNT_TOO_LARGE;
		if (fee > 0)
			out->components[out->n++] =
				(struct fee_component){FEE_PLATFORM, (int64_t)fee};
	}
	if (s->partner_bps > 0 || s->partner_flat_minor > 0) {
		__int128 p = (__int128)principal_minor * s->partner_bps;
		__int128 fee = (p + 5000) / 10000 + s->partner_flat_minor;
		if (fee > INT64_MAX)
			return ERR_AMOUNT_TOO_LARGE;
		if (fee > 0)
			out->components[out->n++] =
				(struct fee_component){FEE_PARTNER, (int64_t)fee};
	}
	for (int i = 0; i < out->n; i++)
		if (!money_add(out->total_minor, out->components[i].amount_minor,
			       &out->total_minor))
			return ERR_AMOUNT_TOO_LARGE;
	return ERR_OK;
}
