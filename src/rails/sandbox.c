/*
 * sandbox.c - the sandbox rail: the outside world, simulated.
 *
 * Outcomes are chosen by the principal's cents (its first two fractional
 * digits), as card sandboxes do:
 *   .05  the stablecoin transfer fails: chain_transfer_failed
 *   .06  the payout is accepted, then rejected: beneficiary_account_closed
 *   .07  every call fails transiently on its first two attempts
 * anything else succeeds. Timing is the workers' business (they wait
 * --sandbox-step-ms between stages), so every call here answers at once.
 *
 * The sandbox keeps a book of the payouts it made, in the store's
 * sandbox_payouts table, keyed by the call's idempotency key: a repeated
 * submit finds its payout and answers the same, and counts the call, so
 * a test can prove that no session was ever paid twice. A batch of
 * submits is one write of the book (one commit), a batch of status
 * questions one read: a worker pass costs the book that much, whatever
 * the number of sessions in it.
 */
#include "rails/rail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/store.h"

struct sandbox {
	struct rail base;
	struct store *store;
};

static int cents(const struct rail_call *c)
{
	int64_t unit = 1;
	for (int i = 2; i < money_scale(c->source); i++)
		unit *= 10;
	return (int)((c->principal_minor / unit) % 100);
}

static void unavailable(struct rail_result *r)
{
	r->outcome = RAIL_TRANSIENT;
	snprintf(r->reason, sizeof r->reason, "rail_unavailable");
}

static bool transient(const struct rail_call *c, struct rail_result *r)
{
	if (cents(c) == 7 && c->attempt < 2) {
		unavailable(r);
		return true;
	}
	return false;
}

static void sb_chain_transfer(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	memset(r, 0, sizeof *r);
	if (transient(c, r))
		return;
	if (cents(c) == 5) {
		r->outcome = RAIL_REJECTED;
		snprintf(r->reason, sizeof r->reason, "chain_transfer_failed");
		return;
	}
	r->outcome = RAIL_OK;
}

/* One call of a batch, as the book sees it. */
struct book_item {
	const struct rail_call *c;
	bool skip; /* answered already (transient by the cents) */
	bool found;
	bool repeated;
	struct store_payout p;
};

/* A batch of calls and its items; made and freed by the batched call. */
struct book_arg {
	struct book_item *items;
	int n;
};

static bool book_new(struct book_arg *b, const struct rail_call *c, struct rail_result *r, int n)
{
	b->n = n;
	b->items = calloc((size_t)n, sizeof *b->items);
	for (int i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof r[i]);
		if (!b->items) {
			unavailable(&r[i]);
			continue;
		}
		b->items[i].c = &c[i];
		b->items[i].skip = transient(&c[i], &r[i]);
	}
	return b->items != NULL;
}

static bool book_empty(const struct book_arg *b)
{
	for (int i = 0; i < b->n; i++)
		if (!b->items[i].skip)
			return false;
	return true;
}

static enum store_status submit_one(struct store_tx *tx, struct book_item *it)
{
	const struct rail_call *c = it->c;
	enum store_status st = STORE_CALL(tx, payout_get, c->idempotency_key, &it->p);
	if (st == STORE_OK) {
		it->repeated = true;
		return STORE_CALL(tx, payout_touch, c->idempotency_key);
	}
	if (st != STORE_NOT_FOUND)
		return st;
	it->repeated = false;
	struct store_payout *p = &it->p;
	memset(p, 0, sizeof *p);
	snprintf(p->idempotency_key, sizeof p->idempotency_key, "%s", c->idempotency_key);
	if (!uuid_v7(p->id))
		return STORE_FAIL;
	snprintf(p->tenant_id, sizeof p->tenant_id, "%s", c->tenant_id);
	snprintf(p->session_id, sizeof p->session_id, "%s", c->session_id);
	snprintf(p->rail, sizeof p->rail, "%s", c->rail_name);
	snprintf(p->currency, sizeof p->currency, "%s", money_currency_code(c->currency));
	p->amount_minor = c->amount_minor;
	snprintf(p->outcome, sizeof p->outcome, "%s", cents(c) == 6 ? "rejected" : "paid");
	p->calls = 1;
	p->created_at = (int64_t)(clock_now_ms() / 1000);
	return STORE_CALL(tx, payout_insert, p);
}

/* Every submit of the batch in one write transaction: a worker pass waits
 * for one commit of the book however many payouts it hands over. A key
 * repeated within the batch finds the payout its first call inserted. */
static enum store_status submit_tx(struct store_tx *tx, void *arg)
{
	struct book_arg *b = arg;
	for (int i = 0; i < b->n; i++) {
		if (b->items[i].skip)
			continue;
		enum store_status st = submit_one(tx, &b->items[i]);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

static void sb_payout_submit_many(struct rail *rail, const struct rail_call *c,
				  struct rail_result *r, int n)
{
	struct sandbox *sb = (struct sandbox *)rail;
	struct book_arg b;
	if (!book_new(&b, c, r, n))
		return;
	enum store_status st = book_empty(&b) ? STORE_OK : store_run(sb->store, true, submit_tx, &b);
	for (int i = 0; i < n; i++) {
		struct book_item *it = &b.items[i];
		if (it->skip)
			continue;
		if (st != STORE_OK) {
			unavailable(&r[i]);
			continue;
		}
		if (it->repeated)
			log_info("sandbox: payout %s asked again (call %d), same answer",
				 c[i].idempotency_key, it->p.calls + 1);
		r[i].outcome = RAIL_OK;
	}
	free(b.items);
}

static void sb_payout_submit(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	sb_payout_submit_many(rail, c, r, 1);
}

/* Every status of the batch read in one read transaction. */
static enum store_status status_tx(struct store_tx *tx, void *arg)
{
	struct book_arg *b = arg;
	for (int i = 0; i < b->n; i++) {
		struct book_item *it = &b->items[i];
		if (it->skip)
			continue;
		enum store_status st = STORE_CALL(tx, payout_get, it->c->idempotency_key, &it->p);
		if (st != STORE_OK && st != STORE_NOT_FOUND)
			return st;
		it->found = st == STORE_OK;
	}
	return STORE_OK;
}

static void status_answer(const struct book_item *it, struct rail_result *r)
{
	if (!it->found) {
		/* Never submitted: a caller bug; refuse rather than invent. */
		r->outcome = RAIL_REJECTED;
		snprintf(r->reason, sizeof r->reason, "payout_unknown");
	} else if (strcmp(it->p.outcome, "rejected") == 0) {
		r->outcome = RAIL_REJECTED;
		snprintf(r->reason, sizeof r->reason, "beneficiary_account_closed");
	} else {
		r->outcome = RAIL_OK;
	}
}

static void sb_payout_status_many(struct rail *rail, const struct rail_call *c,
				  struct rail_result *r, int n)
{
	struct sandbox *sb = (struct sandbox *)rail;
	struct book_arg b;
	if (!book_new(&b, c, r, n))
		return;
	enum store_status st = book_empty(&b) ? STORE_OK : store_run(sb->store, false, status_tx, &b);
	for (int i = 0; i < n; i++) {
		if (b.items[i].skip)
			continue;
		if (st != STORE_OK)
			unavailable(&r[i]);
		else
			status_answer(&b.items[i], &r[i]);
	}
	free(b.items);
}

static void sb_payout_status(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	sb_payout_status_many(rail, c, r, 1);
}

static void sb_close(struct rail *rail)
{
	free(rail);
}

static const struct rail_ops sandbox_ops = {
	.name = "sandbox",
	.chain_transfer = sb_chain_transfer,
	.payout_submit = sb_payout_submit,
	.payout_status = sb_payout_status,
	.close = sb_close,
	.payout_submit_many = sb_payout_submit_many,
	.payout_status_many = sb_payout_status_many,
};

struct rail *rail_sandbox_new(struct store *store)
{
	struct sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return NULL;
	sb->base.ops = &sandbox_ops;
	sb->store = store;
	return &sb->base;
}
