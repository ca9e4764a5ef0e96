/*
 * registry.h - which rail pays which session: one table from a session's
 * payout rail name ("sepa_credit_transfer", "sepa_instant", "crypto", ...)
 * to a rail object, with a fallback for every name not in it.
 *
 * The registry is itself a rail (struct rail, all three *_many ops): the
 * workers hand it every call of a pass and it splits them by
 * rail_call.rail_name into one batch per rail. So a new rail (the ISO
 * 20022 file rail, an EVM rail) is one rail_registry_route() call in
 * serve's start-up, and the lifecycle does not know how many rails exist.
 *
 * Ownership: the registry owns every rail given to it (the fallback and
 * each routed one) and closes each exactly once when it is closed, even a
 * rail routed under several names. Routes are set at start-up, before any
 * call; after that the table is read-only and calls are thread-safe as
 * the rails they reach are.
 *
 * Deadlines: a batch split among rails is asked rail by rail; each rail
 * gets its part at once (until_ms is not applied to the parts).
 */
#ifndef OFFRAMP_RAILS_REGISTRY_H
#define OFFRAMP_RAILS_REGISTRY_H

#include <stdbool.h>

#include "rails/rail.h"

/* A registry answering every name with fallback (taken: closed with the
 * registry, also when this fails). NULL when out of memory. */
struct rail *rail_registry_new(struct rail *fallback);

/* Route calls whose rail_name is name (copied) to r (taken; the same r
 * may be routed under several names). False (r not taken) when name is
 * routed already, the table is full (LIMIT_RAIL_ROUTES) or registry is
 * not a registry. */
bool rail_registry_route(struct rail *registry, const char *name, struct rail *r);

/* The rail that answers name: its route, else the fallback. Borrowed. */
struct rail *rail_registry_for(struct rail *registry, const char *name);

#endif
