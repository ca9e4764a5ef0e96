/*
 * lifecycle.c - moving sessions through their stages (docs/LIFECYCLE.md).
 *
 * A worker pass leases due sessions (one write transaction), asks the
 * rail what their steps need (no transaction open: a rail may block), one
 * batch per kind of call, plans each change and makes the row it commits
 * and its event's snapshot (still outside: the single writer only checks,
 * moves money and writes), then commits each in its own transaction with
 * its ledger effect and its event, provided the session has not moved and
 * the lease is still ours (all submitted at once, so they share a
 * commit). A commit that finds the session moved does nothing: whoever
 * moved it repeats the rail call with the same idempotency key, which the
 * rail answers the same, so nothing is paid twice.
 *
 * Invariants: a status changes only along the table in domain/session.c;
 * the hold is posted exactly when the session becomes settled and voided
 * exactly when it becomes failed or cancelled, in the same transaction.
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "domain/session.h"
#include "rails/rail.h"

#define BACKOFF_BASE_MS 100      /* first retry of a transient rail error */
#define BACKOFF_CAP_MS 60000     /* retries never wait longer than this */
#define PRE_PAYOUT_ATTEMPTS 8    /* before the payout: then fail, nothing was paid */

int64_t svc_now_ms(void) { return (int64_t)clock_now_ms(); }

/* ---- shared helpers ------------------------------------------------------ */

void svc_network_fee_key(enum currency asset, const char *network, char key[64])
{
	snprintf(key, 64, "network_fee:%s:%s", money_currency_code(asset), network);
}

enum store_status svc_fee_schedule(struct store_tx *tx, const struct service *s,
				   const struct svc_settings *pre, const char *tenant_id,
				   enum currency asset, const char *network,
				   struct fee_schedule *out)
{
	*out = s->fees;
	int64_t v;
	enum store_status st = svc_setting(tx, pre, tenant_id, "platform_bps", &v);
	if (st == STORE_OK)
		out->platform_bps = (int32_t)v;
	else if (st != STORE_NOT_FOUND)
		return st;
	char key[64];
	svc_network_fee_key(asset, network, key);
	st = svc_setting(tx, pre, tenant_id, key, &v);
	if (st == STORE_OK)
		out->network_fee_minor = v;
	else if (st != STORE_NOT_FOUND)
		return st;
	return STORE_OK;
}

enum store_status svc_fx_rate(struct store_tx *tx, enum currency source, enum currency target,
			      struct fx_rate *out)
{
	if (source == target) {
		/* A crypto payout of the same asset: nothing to convert. */
		*out = (struct fx_rate){.value = 1, .scale = 0};
		return STORE_OK;
	}
	int64_t value;
	int scale;
	enum store_status st = STORE_CALL(tx, fx_get, money_currency_code(source),
					  money_currency_code(target), &value, &scale);
	if (st == STORE_OK) {
		out->value = value;
		out->scale = scale;
		return STORE_OK;
	}
	if (st != STORE_NOT_FOUND)
		return st;
	return fx_default_rate(source, target, out) ? STORE_OK : STORE_NOT_FOUND;
}

void svc_session_stamp(struct store_session *s, int64_t expect_version, const char *event_type)
{
	s->version = expect_version + 1;
	s->updated_at = svc_now();
	if (event_type)
		s->event_seq++;
}

enum store_status svc_session_write(struct store_tx *tx, const struct service *svc,
				    const struct store_session *s, int64_t expect_version,
				    const char *event_type, const char *data)
{
	enum store_status st = STORE_CALL(tx, session_update, s, expect_version);
	if (st != STORE_OK || !event_type)
		return st;
	return svc_session_event(tx, svc, s, event_type, data);
}

enum store_status svc_session_event(struct store_tx *tx, const struct service *svc,
				    const struct store_session *s, const char *event_type,
				    const char *data)
{
	struct store_event ev = {.resource_seq = s->event_seq, .created_at = s->updated_at};
	if (!uuid_v7(ev.id))
		return STORE_FAIL;
	memcpy(ev.tenant_id, s->tenant_id, sizeof ev.tenant_id);
	memcpy(ev.resource_id, s->id, sizeof ev.resource_id);
	snprintf(ev.type, sizeof ev.type, "%s", event_type);
	char *own = NULL;
	if (!data)
		data = own = svc->session_snapshot ? svc->session_snapshot(s) : strdup("{}");
	if (!data)
		return STORE_FAIL;
	ev.data = (char *)data; /* event_insert only reads it */
	enum store_status st = STORE_CALL(tx, event_insert, &ev);
	if (st == STORE_OK)
		st = svc_outbox_event(tx, svc, s, &ev);
	free(own);
	return st;
}

enum store_status svc_session_save(struct store_tx *tx, const struct service *svc,
				   struct store_session *s, int64_t expect_version,
				   const char *event_type)
{
	svc_session_stamp(s, expect_version, event_type);
	return svc_session_write(tx, svc, s, expect_version, event_type, NULL);
}

static enum store_status hold_accounts(struct store_tx *tx, const struct store_session *s,
				       struct store_account *client, struct store_account *holds)
{
	enum store_status st = STORE_CALL(tx, account_get, s->tenant_id, s->account_id, client);
	if (st != STORE_OK)
		return st == STORE_NOT_FOUND ? STORE_FAIL : st;
	return svc_system_account(tx, s->tenant_id, "holds", holds);
}

static enum store_status move(struct store_tx *tx, enum ledger_op op,
			      const struct store_account *dr, const struct store_account *cr,
			      const struct store_session *s, int64_t amount, const char *kind)
{
	char id[UUID_STR_LEN + 1];
	enum ledger_result lr;
	enum store_status st =
		svc_ledger_move(tx, op, dr, cr, money_currency(s->currency), amount,
				op == LEDGER_OP_POST || op == LEDGER_OP_VOID ? s->hold_transfer_id : NULL,
				s->id, kind, svc_now(), id, &lr);
	if (st == STORE_OK && lr != LEDGER_OK) {
		/* The ledger refusing our own bookkeeping is our bug. */
		log_error("lifecycle: session %s: ledger refused %s (%d)", s->id, kind, (int)lr);
		return STORE_FAIL;
	}
	return st;
}

enum store_status svc_hold_settle(struct store_tx *tx, const struct store_session *s)
{
	struct store_account client, holds, payouts, fees;
	enum store_status st = hold_accounts(tx, s, &client, &holds);
	if (st == STORE_OK)
		st = move(tx, LEDGER_OP_POST, &client, &holds, s, s->principal_minor + s->fee_total_minor,
			  "session_post");
	if (st == STORE_OK)
		st = svc_system_account(tx, s->tenant_id, "payouts", &payouts);
	if (st == STORE_OK)
		st = move(tx, LEDGER_OP_POSTED, &holds, &payouts, s, s->principal_minor,
			  "session_payout");
	int64_t ours = s->fee_total_minor - s->fee_partner_minor;
	if (st == STORE_OK && ours > 0) {
		st = svc_system_account(tx, s->tenant_id, "fees", &fees);
		if (st == STORE_OK)
			st = move(tx, LEDGER_OP_POSTED, &holds, &fees, s, ours, "session_fees");
	}
	if (st == STORE_OK && s->fee_partner_minor > 0) {
		struct store_account partner;
		st = svc_system_account(tx, s->tenant_id, "partner_fees", &partner);
		if (st == STORE_OK)
			st = move(tx, LEDGER_OP_POSTED, &holds, &partner, s, s->fee_partner_minor,
				  "session_partner_fees");
	}
	return st;
}

enum store_status svc_hold_release(struct store_tx *tx, const struct store_session *s)
{
	struct store_account client, holds;
	enum store_status st = hold_accounts(tx, s, &client, &holds);
	if (st == STORE_OK)
		st = move(tx, LEDGER_OP_VOID, &client, &holds, s,
			  s->principal_minor + s->fee_total_minor, "session_void");
	return st;
}

/* ---- one step ------------------------------------------------------------ */

enum money_action { MONEY_NONE, MONEY_SETTLE, MONEY_RELEASE };

struct plan {
	enum session_status status;
	char stage[24];
	char reason[48];
	char detail[16]; /* failure_detail: the rail's own code */
	int attempts;
	int64_t next_run_ms;
	bool convert;      /* fix fill_rate and the delivered amount */
	struct fx_rate fill;
	int64_t delivered_minor;
	enum money_action money;
};

/* What a leased session's step does: one of the rail's kinds of call
 * (enum rail_kind), or one of these, which ask the rail nothing. */
enum { STEP_CONVERT = RAIL_KINDS, STEP_STUCK };

/* One step, from its lease to its commit. Everything but the checks, the
 * money and the writes is done outside the transaction, by the worker:
 * the rail call, the plan, the row it commits and its event's snapshot,
 * so the one committer spends its time on nothing else. */
struct step_arg {
	const struct service *svc;
	const struct store_session *seen; /* as leased */
	const char *owner;
	struct plan plan;
	bool moved; /* the session changed under us: nothing committed */
	int what;   /* enum rail_kind, STEP_CONVERT or STEP_STUCK */
	bool asked; /* the rail answered call: result holds its answer */
	char key[UUID_STR_LEN + 16];
	struct rail_call call;
	struct rail_result result;
	enum store_status rate_st; /* STEP_CONVERT: the rate, read before */
	struct fx_rate rate;
	struct store_session next; /* the row to commit (step_next) */
	const char *event;         /* its event type, NULL for none */
	char type[48];
	char *snapshot;            /* the event's data (owned) */
};

static int64_t backoff_ms(int attempts)
{
	int64_t d = BACKOFF_BASE_MS;
	for (int i = 1; i < attempts && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	return d < BACKOFF_CAP_MS ? d : BACKOFF_CAP_MS;
}

/* Commit a step planned outside: the session must be as leased and still
 * ours; then its money moves and its next version is written. */
static enum store_status step_tx(struct store_tx *tx, void *arg)
{
	struct step_arg *a = arg;
	const struct store_session *s = &a->next;
	struct store_session cur;
	a->moved = false;
	enum store_status st = STORE_CALL(tx, session_get, a->seen->tenant_id, a->seen->id, &cur);
	if (st != STORE_OK)
		return st == STORE_NOT_FOUND ? STORE_FAIL : st;
	if (cur.version != a->seen->version || strcmp(cur.lease_owner, a->owner) != 0) {
		a->moved = true;
		return STORE_ABORT;
	}
	if (a->plan.money == MONEY_SETTLE)
		st = svc_hold_settle(tx, s);
	else if (a->plan.money == MONEY_RELEASE)
		st = svc_hold_release(tx, s);
	if (st != STORE_OK)
		return st;
	st = svc_session_write(tx, a->svc, s, a->seen->version, a->event, a->snapshot);
	if (st == STORE_NOT_FOUND) {
		a->moved = true;
		return STORE_ABORT;
	}
	return st;
}

static void plan_fail(struct plan *p, const char *reason)
{
	p->status = SESSION_FAILED;
	snprintf(p->reason, sizeof p->reason, "%s", reason);
	p->money = MONEY_RELEASE;
	p->next_run_ms = 0;
}

/* A transient answer: retry later, or give up if nothing was paid yet and
 * the attempts are spent. */
static void plan_retry(struct plan *p, bool may_give_up, int64_t now)
{
	p->attempts++;
	if (may_give_up && p->attempts >= PRE_PAYOUT_ATTEMPTS)
		plan_fail(p, "rail_unavailable");
	else
		p->next_run_ms = now + backoff_ms(p->attempts);
}

/* The stages, as one table: a session resting at (status, stage) makes
 * the call `what`, and the rail's RAIL_OK moves it to (next, next_stage)
 * with that money effect. Every other pair has no step (STEP_STUCK). A
 * session at conversion without its rate fixes it first (STEP_CONVERT),
 * in its own commit, so a retried payout always asks for the same
 * amount. */
static const struct stage_row {
	enum session_status status;
	const char *stage;
	enum rail_kind what;
	enum session_status next;
	const char *next_stage;
	enum money_action money;
	enum session_event ev; /* the state table's event for status -> next */
} stage_rows[] = {
	{SESSION_EXECUTING, "stablecoin_transfer", RAIL_CHAIN_TRANSFER, SESSION_EXECUTING,
	 "conversion", MONEY_NONE, SEV__COUNT /* same status */},
	{SESSION_EXECUTING, "conversion", RAIL_PAYOUT_SUBMIT, SESSION_EXECUTED, "payout", MONEY_NONE,
	 SEV_PAYOUT_SUBMITTED},
	{SESSION_EXECUTED, NULL, RAIL_PAYOUT_STATUS, SESSION_SETTLED, NULL, MONEY_SETTLE,
	 SEV_RAIL_CONFIRMED},
};

static const struct stage_row *stage_of(enum session_status status, const char *stage)
{
	for (size_t i = 0; i < sizeof stage_rows / sizeof *stage_rows; i++)
		if (stage_rows[i].status == status &&
		    (!stage_rows[i].stage || strcmp(stage_rows[i].stage, stage) == 0))
			return &stage_rows[i];
	return NULL;
}

static const struct stage_row *stage_by_call(enum rail_kind what)
{
	for (size_t i = 0; i < sizeof stage_rows / sizeof *stage_rows; i++)
		if (stage_rows[i].what == what)
			return &stage_rows[i];
	return NULL;
}

/* What a session resting at status/stage asks next. */
static int step_what(enum session_status status, const struct store_session *s)
{
	const struct stage_row *row = stage_of(status, s->stage);
	if (!row)
		return STEP_STUCK;
	if (row->what == RAIL_PAYOUT_SUBMIT && s->fill_rate_value == 0)
		return STEP_CONVERT;
	return (int)row->what;
}

/* The call a step makes: the session's own key for its kind. */
static void step_call(struct step_arg *a)
{
	const struct store_session *s = a->seen;
	bool chain = a->what == RAIL_CHAIN_TRANSFER;
	snprintf(a->key, sizeof a->key, "%s:%s", s->id, chain ? "chain" : "payout");
	a->call = (struct rail_call){
		.idempotency_key = a->key,
		.tenant_id = s->tenant_id,
		.session_id = s->id,
		.rail_name = s->fiat_rail[0] ? s->fiat_rail : "crypto",
		.source = money_currency(s->currency),
		.principal_minor = s->principal_minor,
		.currency = money_currency(chain ? s->currency : s->target_currency),
		.amount_minor = chain ? s->principal_minor : s->delivered_minor,
		.attempt = s->attempts,
		.network = s->network,
		.destination_id = s->destination_id,
	};
}

/* Start a leased session's step in *a: the plan if nothing changes, and
 * the rail call it waits on, if any. False when it has no step at all. */
static bool step_start(struct service *svc, const char *owner, const struct store_session *s,
		       int64_t now, struct step_arg *a)
{
	enum session_status status;
	if (!session_status_parse(s->status, &status))
		return false;
	*a = (struct step_arg){.svc = svc, .seen = s, .owner = owner};
	struct plan *p = &a->plan;
	p->status = status;
	snprintf(p->stage, sizeof p->stage, "%s", s->stage);
	p->attempts = s->attempts;
	p->next_run_ms = now + svc->step_ms;
	a->what = step_what(status, s);
	if (a->what < RAIL_KINDS) {
		step_call(a);
	} else if (a->what == STEP_CONVERT) {
		p->convert = true;
		p->next_run_ms = now;
	} else {
		log_error("lifecycle: session %s in %s/%s has no step", s->id, s->status, s->stage);
		p->next_run_ms = now + BACKOFF_CAP_MS;
	}
	return true;
}

/* Plan from the rail's answer to a step's call. */
static void step_answer(struct step_arg *a, int64_t now)
{
	struct plan *p = &a->plan;
	const struct rail_result *r = &a->result;
	if (r->outcome == RAIL_REJECTED) {
		plan_fail(p, r->reason);
		snprintf(p->detail, sizeof p->detail, "%s", r->detail);
		return;
	}
	if (r->outcome == RAIL_PENDING) {
		/* Not decided yet (a bank that answers by file, confirmations,
		 * a wallet's funds): look again a step later, no attempt spent. */
		return;
	}
	if (r->outcome != RAIL_OK) {
		/* Before the payout nothing was paid: give up in the end.
		 * From the payout on the rail may have taken it: ask again. */
		plan_retry(p, a->what == RAIL_CHAIN_TRANSFER, now);
		return;
	}
	const struct stage_row *row = stage_by_call((enum rail_kind)a->what);
	p->status = row->next;
	if (row->next_stage)
		snprintf(p->stage, sizeof p->stage, "%s", row->next_stage);
	p->attempts = 0;
	p->money = row->money;
	if (row->money == MONEY_SETTLE)
		p->next_run_ms = 0;
}

/* Every change goes along the table: checked here, our bug if not. */
static bool step_in_table(const struct step_arg *a)
{
	const struct store_session *s = a->seen;
	enum session_status status;
	if (!session_status_parse(s->status, &status))
		return false;
	if (a->plan.status == status)
		return true;
	enum session_status next;
	const struct stage_row *row = a->what < RAIL_KINDS ? stage_by_call((enum rail_kind)a->what)
							   : NULL;
	enum session_event ev = a->plan.status == SESSION_FAILED ? SEV_STAGE_FAILED
				: row			       ? row->ev
							       : SEV__COUNT;
	if (!session_transition(status, ev, &next) || next != a->plan.status) {
		log_error("lifecycle: session %s: %s -> %s is not in the table", s->id, s->status,
			  session_status_name(a->plan.status));
		return false;
	}
	return true;
}

/* The rates the pass's conversions apply, read in one read transaction
 * before their commits (a session that locked its rate at creation has
 * it already). */
static enum store_status rates_tx(struct store_tx *tx, void *arg)
{
	struct step_arg **convert = arg;
	for (; *convert; convert++) {
		struct step_arg *a = *convert;
		const struct store_session *s = a->seen;
		a->rate_st = svc_fx_rate(tx, money_currency(s->currency),
					 money_currency(s->target_currency), &a->rate);
		if (a->rate_st != STORE_OK && a->rate_st != STORE_NOT_FOUND)
			return a->rate_st;
	}
	return STORE_OK;
}

static void read_rates(struct service *svc, struct step_arg *steps, int n)
{
	struct step_arg *convert[LIMIT_WORKER_BATCH + 1];
	int k = 0;
	for (int i = 0; i < n; i++) {
		struct step_arg *a = &steps[i];
		if (a->what != STEP_CONVERT)
			continue;
		const struct store_session *s = a->seen;
		if (s->locked_rate_value > 0) {
			a->rate = (struct fx_rate){s->locked_rate_value, s->locked_rate_scale};
			a->rate_st = STORE_OK;
		} else {
			convert[k++] = a;
		}
	}
	convert[k] = NULL;
	if (k == 0)
		return;
	enum store_status st = store_run(svc->store, false, rates_tx, convert);
	for (int i = 0; st != STORE_OK && i < k; i++)
		convert[i]->rate_st = st;
}

/* Plan a conversion from its rate: the amount to deliver, or a failure
 * before any payout. False when the rate could not be read. */
static bool step_convert(struct step_arg *a)
{
	struct plan *p = &a->plan;
	const struct store_session *s = a->seen;
	if (a->rate_st != STORE_OK && a->rate_st != STORE_NOT_FOUND)
		return false;
	const char *why = NULL;
	if (a->rate_st == STORE_NOT_FOUND)
		why = "fx_rate_unavailable";
	else if (fx_convert(s->principal_minor, money_currency(s->currency), &a->rate,
			    money_currency(s->target_currency), &p->delivered_minor) != ERR_OK)
		why = "amount_too_large";
	else if (p->delivered_minor <= 0)
		why = "amount_too_small";
	if (why) {
		/* No rate, or nothing (or too much) to deliver. */
		p->convert = false;
		plan_fail(p, why);
	} else {
		p->fill = a->rate;
	}
	return true;
}

/* The row the step commits: the session as leased with the plan applied,
 * stamped as its next version, and its event's snapshot. False when the
 * snapshot could not be made. */
static bool step_next(struct step_arg *a)
{
	const struct plan *p = &a->plan;
	struct store_session *s = &a->next;
	*s = *a->seen;
	a->event = NULL;
	if (strcmp(session_status_name(p->status), s->status) != 0) {
		snprintf(a->type, sizeof a->type, "off_ramp_session.%s", session_status_name(p->status));
		a->event = a->type;
	} else if (strcmp(p->stage, s->stage) != 0) {
		a->event = "off_ramp_session.stage_changed";
	}
	snprintf(s->status, sizeof s->status, "%s", session_status_name(p->status));
	snprintf(s->stage, sizeof s->stage, "%s", p->stage);
	snprintf(s->failure_reason, sizeof s->failure_reason, "%s", p->reason);
	if (a->asked) {
		/* What the rail calls the payout (a transaction hash), and why
		 * the session waits, while it does. */
		const struct rail_result *r = &a->result;
		if (r->reference[0])
			snprintf(s->payout_reference, sizeof s->payout_reference, "%s", r->reference);
		bool waits = r->outcome == RAIL_PENDING || r->outcome == RAIL_TRANSIENT;
		snprintf(s->waiting_reason, sizeof s->waiting_reason, "%s", waits ? r->reason : "");
	}
	snprintf(s->failure_detail, sizeof s->failure_detail, "%s", p->detail);
	s->attempts = p->attempts;
	s->next_run_ms = p->next_run_ms;
	s->lease_owner[0] = '\0';
	s->lease_until_ms = 0;
	if (p->convert) {
		s->fill_rate_value = p->fill.value;
		s->fill_rate_scale = p->fill.scale;
		s->delivered_minor = p->delivered_minor;
	}
	if (p->money == MONEY_SETTLE)
		s->settled_at = svc_now();
	svc_session_stamp(s, a->seen->version, a->event);
	if (!a->event)
		return true;
	const struct service *svc = a->svc;
	a->snapshot = svc->session_snapshot ? svc->session_snapshot(s) : strdup("{}");
	return a->snapshot != NULL;
}

/* Ask the rail every call of the pass, one batch per kind (the rail's
 * *_many op, when it has one, answers a batch for the price of a call),
 * none started after until_ms: those steps are left unasked. The kinds
 * closest to settling go first, so a slow rail drains the pipeline
 * rather than filling it. */
static void ask_rail(struct rail *rail, struct step_arg *steps, int n, int64_t until_ms)
{
	struct rail_call calls[LIMIT_WORKER_BATCH];
	struct rail_result results[LIMIT_WORKER_BATCH];
	int idx[LIMIT_WORKER_BATCH];
	for (int kind = RAIL_KINDS - 1; kind >= 0; kind--) {
		int k = 0;
		for (int i = 0; i < n; i++) {
			if (steps[i].what != kind)
				continue;
			calls[k] = steps[i].call;
			idx[k++] = i;
		}
		int asked = rail_ask(rail, (enum rail_kind)kind, calls, results, k, until_ms);
		for (int j = 0; j < asked; j++) {
			steps[idx[j]].result = results[j];
			steps[idx[j]].asked = true;
		}
	}
}

/* ---- worker pass --------------------------------------------------------- */

struct claim_arg {
	int64_t now;
	int64_t lease_ms;
	const char *owner;
	int limit;
	struct store_session *rows;
	int n;
};

static void claim_row(void *arg, const void *row)
{
	struct claim_arg *c = arg;
	if (c->n < c->limit)
		c->rows[c->n++] = *(const struct store_session *)row;
}

static enum store_status claim_tx(struct store_tx *tx, void *arg)
{
	struct claim_arg *c = arg;
	c->n = 0;
	return STORE_CALL(tx, session_claim, c->now, c->owner, c->now + c->lease_ms, c->limit,
			  claim_row, c);
}

static enum store_status next_due_tx(struct store_tx *tx, void *arg)
{
	return STORE_CALL(tx, session_next_due, (int64_t *)arg);
}

/* Plan a step from what the rail (or the rate) answered, and make the row
 * it commits; false when it has nothing to commit. */
static bool step_plan(struct step_arg *a, int64_t now)
{
	if (a->what < RAIL_KINDS && !a->asked)
		return false; /* its lease lapses; a later pass asks */
	if (a->asked)
		step_answer(a, now);
	if (a->what == STEP_CONVERT && !step_convert(a)) {
		log_error("lifecycle: session %s: cannot read its rate: %s", a->seen->id,
			  store_status_name(a->rate_st));
		return false;
	}
	if (!step_in_table(a))
		return false;
	if (!step_next(a)) {
		log_error("lifecycle: session %s: out of memory for its event", a->seen->id);
		return false;
	}
	return true;
}

/* Commit the steps that have something to commit, all submitted at once:
 * each is its own transaction (one session moving under us never undoes
 * another's step), and with group commit they share one fsync. */
static void commit_steps(struct service *svc, struct step_arg *steps, int n)
{
	void *args[LIMIT_WORKER_BATCH];
	struct step_arg *committed[LIMIT_WORKER_BATCH];
	enum store_status out[LIMIT_WORKER_BATCH];
	int m = 0;
	int64_t now = svc_now_ms();
	for (int i = 0; i < n; i++) {
		if (!step_plan(&steps[i], now))
			continue;
		args[m] = &steps[i];
		committed[m++] = &steps[i];
	}
	store_run_all(svc->store, step_tx, args, m, out);
	for (int i = 0; i < m; i++)
		if (out[i] != STORE_OK && !(out[i] == STORE_ABORT && committed[i]->moved))
			log_error("lifecycle: session %s: commit failed: %s", committed[i]->seen->id,
				  store_status_name(out[i]));
	for (int i = 0; i < n; i++)
		free(steps[i].snapshot);
}

/* How long a worker's claim on a session lasts: what --session-lease-ms
 * says, else LIMIT_SESSION_LEASE_MS. */
static int64_t lease_ms(const struct service *s)
{
	return s->session_lease_ms > 0 ? s->session_lease_ms : LIMIT_SESSION_LEASE_MS;
}

/* Work a pass's leased rows: rail calls first, outside any transaction,
 * then the commits. The steps commit only if their leases still hold: a
 * pass whose rail calls run long stops asking after a third of the lease
 * (the rest lapse unasked and are leased again by a later pass), so it
 * cannot outlive its leases and lose every step to a second worker. */
static int work(struct service *s, struct rail *rail, const char *owner,
		const struct store_session *rows, int n_rows, int64_t now)
{
	struct step_arg *steps = calloc((size_t)n_rows, sizeof *steps);
	if (!steps)
		return -1;
	int n = 0;
	for (int i = 0; i < n_rows; i++)
		n += step_start(s, owner, &rows[i], now, &steps[n]);
	ask_rail(rail, steps, n, now + lease_ms(s) / 3);
	read_rates(s, steps, n);
	commit_steps(s, steps, n);
	free(steps);
	return n_rows;
}

/* The earliest next_run_ms of a session in flight into *next_ms (0 and
 * STORE_NOT_FOUND when none is). */
static enum store_status next_due(struct service *s, int64_t *next_ms)
{
	*next_ms = 0;
	enum store_status st = store_run(s->store, false, next_due_tx, next_ms);
	if (st != STORE_OK)
		*next_ms = 0;
	return st;
}

int svc_worker_tick(struct service *s, struct rail *rail, const char *owner, int batch,
		    int64_t *next_due_ms)
{
	if (batch < 1)
		batch = 1;
	if (batch > LIMIT_WORKER_BATCH)
		batch = LIMIT_WORKER_BATCH;
	/* Look first, with a read: a pass that finds nothing due costs the
	 * committer nothing (idle workers poll several times a second). */
	int64_t now = svc_now_ms();
	enum store_status st = next_due(s, next_due_ms);
	if (st != STORE_OK && st != STORE_NOT_FOUND)
		return -1;
	if (st == STORE_NOT_FOUND || *next_due_ms > now)
		return 0;
	struct store_session *rows = malloc((size_t)batch * sizeof *rows);
	if (!rows)
		return -1;
	struct claim_arg c = {.now = now, .lease_ms = lease_ms(s), .owner = owner, .limit = batch,
			      .rows = rows};
	st = store_run(s->store, true, claim_tx, &c);
	int n = st != STORE_OK ? -1 : c.n > 0 ? work(s, rail, owner, rows, c.n, now) : 0;
	free(rows);
	if (n < 0)
		return -1;
	st = next_due(s, next_due_ms);
	return st == STORE_OK || st == STORE_NOT_FOUND ? n : -1;
}

static enum store_status recover_tx(struct store_tx *tx, void *arg)
{
	return tx->store->ops->session_release_leases(tx, arg);
}

enum err svc_worker_recover(struct service *s, const char *node)
{
	/* "<node>/": the separator keeps node "a" from taking "ab"'s leases. */
	char prefix[LIMIT_NODE_ID_BYTES + 2];
	snprintf(prefix, sizeof prefix, "%s/", node);
	enum store_status st = store_run(s->store, true, recover_tx, prefix);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}
