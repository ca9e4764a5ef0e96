/*
 * rail.c - what every rail shares: rail_ask, the one entry point that
 * hands a batch of calls to a rail, with the one-by-one loop for rails
 * that only answer single calls.
 */
#include "rails/rail.h"

#include <stdbool.h>
#include <stddef.h>

#include "base/clock.h"
#include "base/fault.h"

typedef void (*rail_one_fn)(struct rail *, const struct rail_call *, struct rail_result *);

static rail_many_fn many_op(const struct rail_ops *o, enum rail_kind kind)
{
	return kind == RAIL_CHAIN_TRANSFER ? o->chain_transfer_many
	       : kind == RAIL_PAYOUT_SUBMIT ? o->payout_submit_many
					    : o->payout_status_many;
}

static rail_one_fn one_op(const struct rail_ops *o, enum rail_kind kind)
{
	return kind == RAIL_CHAIN_TRANSFER ? o->chain_transfer
	       : kind == RAIL_PAYOUT_SUBMIT ? o->payout_submit
					    : o->payout_status;
}

/* The test build's rail fault: the call was made (a payout may have been
 * paid) but its answer is lost, as on a timeout; the caller must repeat
 * it under the same key. */
static void rail_fault(struct rail_result *results, int n)
{
	for (int i = 0; i < n; i++)
		if (fault_hit(FAULT_RAIL))
			results[i] = (struct rail_result){.outcome = RAIL_TRANSIENT};
}

static bool past(int64_t until_ms)
{
	return until_ms > 0 && (int64_t)clock_now_ms() >= until_ms;
}

int rail_ask(struct rail *r, enum rail_kind kind, const struct rail_call *calls,
	     struct rail_result *results, int n, int64_t until_ms)
{
	if (n <= 0 || past(until_ms))
		return 0;
	rail_many_fn many = many_op(r->ops, kind);
	int i = 0;
	if (many) {
		many(r, calls, results, n);
		i = n;
	} else {
		rail_one_fn one = one_op(r->ops, kind);
		do
			one(r, &calls[i], &results[i]);
		while (++i < n && !past(until_ms));
	}
	rail_fault(results, i);
	return i;
}
