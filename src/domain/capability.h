/*
 * capability.h - what an API key may do (CONTRACT §4), as a bit set.
 */
#ifndef OFFRAMP_DOMAIN_CAPABILITY_H
#define OFFRAMP_DOMAIN_CAPABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPABILITIES(X) \
	X(CAP_RAMPS_CREATE, "ramps.create") \
	X(CAP_RAMPS_READ, "ramps.read") \
	X(CAP_RAMPS_APPROVE, "ramps.approve") \
	X(CAP_RAMPS_CANCEL, "ramps.cancel") \
	X(CAP_CLIENTS_MANAGE, "clients.manage") \
	X(CAP_ACCOUNTS_READ, "accounts.read") \
	X(CAP_DESTINATIONS_MANAGE, "destinations.manage") \
	X(CAP_POLICIES_MANAGE, "policies.manage") \
	X(CAP_WEBHOOKS_MANAGE, "webhooks.manage") \
	X(CAP_SANDBOX_FUND, "sandbox.fund")

enum capability_bit {
#define X(e, name) e##_BIT,
	CAPABILITIES(X)
#undef X
	CAP__COUNT
};

/* Bit masks as enum constants, so route tables can use them statically. */
enum capability {
#define X(e, name) e = 1 << e##_BIT,
	CAPABILITIES(X)
#undef X
};

#define CAP_ALL ((1u << CAP__COUNT) - 1u)

/* Parse "a,b,c" (no spaces) into a set; false on an unknown or empty
 * name, with the offending name's start in *bad (may be NULL). */
bool capability_parse_list(const char *list, uint32_t *out, const char **bad);
/* The name of bit i (0 <= i < CAP__COUNT). */
const char *capability_name(int i);

#endif
