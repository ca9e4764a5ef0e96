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
 * a test can prove that no session was ever paid twice.
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

static bool transient(const struct rail_call *c, struct rail_result *r)
{
	if (cents(c) == 7 && c->attempt < 2) {
		r->outcome = RAIL_TRANSIENT;
		snprintf(r->reason, sizeof r->reason, "rail_unavailable");
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

struct submit_arg {
	const struct rail_call *c;
	struct store_payout p;
	bool repeated;
};

static enum store_status submit_tx(struct store_tx *tx, void *arg)
{
	struct submit_arg *a = arg;
	enum store_status st = STORE_CALL(tx, payout_get, a->c->idempotency_key, &a->p);
	if (st == STORE_OK) {
		a->repeated = true;
		return STORE_CALL(tx, payout_touch, a->c->idempotency_key);
	}
	if (st != STORE_NOT_FOUND)
		return st;
	a->repeated = false;
	memset(&a->p, 0, sizeof a->p);
	snprintf(a->p.idempotency_key, sizeof a->p.idempotency_key, "%s", a->c->idempotency_key);
	if (!uuid_v7(a->p.id))
		return STORE_FAIL;
	snprintf(a->p.tenant_id, sizeof a->p.tenant_id, "%s", a->c->tenant_id);
	snprintf(a->p.session_id, sizeof a->p.session_id, "%s", a->c->session_id);
	snprintf(a->p.rail, sizeof a->p.rail, "%s", a->c->rail_name);
	snprintf(a->p.currency, sizeof a->p.currency, "%s", money_currency_code(a->c->currency));
	a->p.amount_minor = a->c->amount_minor;
	snprintf(a->p.outcome, sizeof a->p.outcome, "%s", cents(a->c) == 6 ? "rejected" : "paid");
	a->p.calls = 1;
	a->p.created_at = (int64_t)(clock_now_ms() / 1000);
	return STORE_CALL(tx, payout_insert, &a->p);
}

static void sb_payout_submit(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct sandbox *sb = (struct sandbox *)rail;
	memset(r, 0, sizeof *r);
	if (transient(c, r))
		return;
	struct submit_arg a = {.c = c};
	enum store_status st = store_run(sb->store, true, submit_tx, &a);
	if (st != STORE_OK) {
		r->outcome = RAIL_TRANSIENT;
		snprintf(r->reason, sizeof r->reason, "rail_unavailable");
		return;
	}
	if (a.repeated)
		log_info("sandbox: payout %s asked again (call %d), same answer",
			 c->idempotency_key, a.p.calls + 1);
	r->outcome = RAIL_OK;
}

struct status_arg {
	const char *key;
	struct store_payout p;
};

static enum store_status status_tx(struct store_tx *tx, void *arg)
{
	struct status_arg *a = arg;
	return STORE_CALL(tx, payout_get, a->key, &a->p);
}

static void sb_payout_status(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct sandbox *sb = (struct sandbox *)rail;
	memset(r, 0, sizeof *r);
	if (transient(c, r))
		return;
	struct status_arg a = {.key = c->idempotency_key};
	enum store_status st = store_run(sb->store, false, status_tx, &a);
	if (st == STORE_NOT_FOUND) {
		/* Never submitted: a caller bug; refuse rather than invent. */
		r->outcome = RAIL_REJECTED;
		snprintf(r->reason, sizeof r->reason, "payout_unknown");
		return;
	}
	if (st != STORE_OK) {
		r->outcome = RAIL_TRANSIENT;
		snprintf(r->reason, sizeof r->reason, "rail_unavailable");
		return;
	}
	if (strcmp(a.p.outcome, "rejected") == 0) {
		r->outcome = RAIL_REJECTED;
		snprintf(r->reason, sizeof r->reason, "beneficiary_account_closed");
		return;
	}
	r->outcome = RAIL_OK;
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
