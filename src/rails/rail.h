/*
 * rail.h - the payment rail interface: how a session's money leaves.
 *
 * A rail moves the stablecoin on chain, pays out (fiat or crypto) and
 * reports what became of a payout. Every call carries the session's own
 * idempotency key; a rail must treat a repeated key as the same request
 * (answer what it answered, never pay twice). That is what makes a worker
 * free to repeat a call after a crash or a lost lease.
 *
 * Calls happen outside any store transaction of ours and may block; a
 * rail is used from several worker threads at once.
 */
#ifndef OFFRAMP_RAILS_RAIL_H
#define OFFRAMP_RAILS_RAIL_H

#include <stdint.h>

#include "domain/money.h"

enum rail_outcome {
	RAIL_OK,        /* done (transfer made, payout accepted, payout confirmed) */
	RAIL_PENDING,   /* payout status: not decided yet; ask again later */
	RAIL_TRANSIENT, /* could not answer now; retry with the same key */
	RAIL_REJECTED,  /* final refusal; reason says why */
};

struct rail_call {
	const char *idempotency_key; /* "<session id>:chain", "<session id>:payout" */
	const char *tenant_id;
	const char *session_id;
	const char *rail_name;       /* "sepa_credit_transfer", ... */
	enum currency source;        /* the stablecoin debited */
	int64_t principal_minor;     /* in source */
	enum currency currency;      /* what this call moves */
	int64_t amount_minor;        /* in currency */
	int attempt;                 /* 0 for the first try of this step */
};

struct rail_result {
	enum rail_outcome outcome;
	char reason[48]; /* stable failure_reason code when REJECTED */
};

struct rail;
struct rail_ops {
	const char *name;
	void (*chain_transfer)(struct rail *, const struct rail_call *, struct rail_result *);
	void (*payout_submit)(struct rail *, const struct rail_call *, struct rail_result *);
	void (*payout_status)(struct rail *, const struct rail_call *, struct rail_result *);
	void (*close)(struct rail *);
};

struct rail {
	const struct rail_ops *ops;
};

struct store;
/* The sandbox rail (CONTRACT §9): outcomes chosen by the principal's
 * cents; its payouts are kept in the store, keyed by idempotency key. The
 * store is borrowed. */
struct rail *rail_sandbox_new(struct store *store);

static inline void rail_close(struct rail *r)
{
	if (r)
		r->ops->close(r);
}

#endif
