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
 *
 * Batches. A worker pass has many sessions waiting on the same kind of
 * call; rail_ask() hands them to the rail together. A rail that can answer
 * many calls for the price of one (one write to its book, one request to
 * its bank) fills the optional *_many ops; the others are asked one call
 * at a time. Either way each call in a batch is its own request, keyed by
 * its own idempotency key, with its own result: a batch is a transport,
 * never a unit of success or failure the caller must reason about.
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
	const char *network;         /* crypto: "ethereum", "base", ... */
	const char *destination_id;  /* the saved withdrawal destination */
};

struct rail_result {
	enum rail_outcome outcome;
	char reason[48]; /* stable failure_reason code when REJECTED; why it
			  * waits when PENDING or TRANSIENT ("" for none) */
	char reference[80]; /* what the rail calls the payout (a transaction
			     * hash), kept on the session; "" for none */
	char detail[16]; /* the rail's own code when REJECTED (ISO 20022 "AC04"); "" for none */
};

/* The kinds of call, in the order of a session's life. */
enum rail_kind { RAIL_CHAIN_TRANSFER, RAIL_PAYOUT_SUBMIT, RAIL_PAYOUT_STATUS, RAIL_KINDS };

struct rail;
/* n calls of one kind: results[i] answers calls[i] (n >= 1; both arrays
 * borrowed for the call). The same contract as n single calls, in any
 * order, a key repeated within the batch included. */
typedef void (*rail_many_fn)(struct rail *, const struct rail_call *calls,
			     struct rail_result *results, int n);

struct rail_ops {
	const char *name;
	void (*chain_transfer)(struct rail *, const struct rail_call *, struct rail_result *);
	void (*payout_submit)(struct rail *, const struct rail_call *, struct rail_result *);
	void (*payout_status)(struct rail *, const struct rail_call *, struct rail_result *);
	void (*close)(struct rail *);
	/* Optional (NULL: rail_ask asks one call at a time). */
	rail_many_fn chain_transfer_many;
	rail_many_fn payout_submit_many;
	rail_many_fn payout_status_many;
};

struct rail {
	const struct rail_ops *ops;
};

struct store;
/* The sandbox rail (CONTRACT §9): outcomes chosen by the principal's
 * cents; its payouts are kept in the store, keyed by idempotency key. The
 * store is borrowed. */
struct rail *rail_sandbox_new(struct store *store);

/* Ask n calls of one kind, results[i] answering calls[i]. A rail with the
 * kind's *_many op gets them all in one call; otherwise they go one by
 * one, and none is started once the clock (clock_now_ms) reaches until_ms
 * (0: no limit), so a slow rail cannot keep its caller past a deadline.
 * Returns how many were asked: calls[0, returned) have results, the rest
 * were never made. Blocks as long as the rail does; thread-safe as the
 * rail is. */
int rail_ask(struct rail *r, enum rail_kind kind, const struct rail_call *calls,
	     struct rail_result *results, int n, int64_t until_ms);

static inline void rail_close(struct rail *r)
{
	if (r)
		r->ops->close(r);
}

#endif
