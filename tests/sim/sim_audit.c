/*
 * sim_audit.c - the simulator's auditor (tests/sim/README.md): after every
 * step, everything the service stored against what the world knows (the
 * acknowledged creates and decisions, the deposits, the rail's book),
 * and verify-ledger's own re-derivation. Reads with faults suspended, so
 * the audit never changes the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fault.h"
#include "sim.h"

/* ---- the auditor ---------------------------------------------------------- */

/* Every row the auditor reads, from one read transaction. */
struct snap {
	struct store_session *s;
	int ns, caps;
	struct store_account *a;
	int na, capa;
	struct store_balance *b;
	int nb, capb;
	bool oom;
};

static void *snap_push(void **arr, int *n, int *cap, size_t size, bool *oom)
{
	if (*n == *cap) {
		int nc = *cap ? *cap * 2 : 64;
		void *p = realloc(*arr, (size_t)nc * size);
		if (!p) {
			*oom = true;
			return NULL;
		}
		*arr = p;
		*cap = nc;
	}
	return (char *)*arr + (size_t)(*n)++ * size;
}

static void snap_session(void *arg, const void *row)
{
	struct snap *x = arg;
	struct store_session *p = snap_push((void **)&x->s, &x->ns, &x->caps, sizeof *p, &x->oom);
	if (p)
		*p = *(const struct store_session *)row;
}

static void snap_account(void *arg, const void *row)
{
	struct snap *x = arg;
	struct store_account *p = snap_push((void **)&x->a, &x->na, &x->capa, sizeof *p, &x->oom);
	if (p)
		*p = *(const struct store_account *)row;
}

static void snap_balance(void *arg, const void *row)
{
	struct snap *x = arg;
	struct store_balance *p = snap_push((void **)&x->b, &x->nb, &x->capb, sizeof *p, &x->oom);
	if (p)
		*p = *(const struct store_balance *)row;
}

static enum store_status snap_tx(struct store_tx *tx, void *arg)
{
	struct snap *x = arg;
	x->ns = x->na = x->nb = 0;
	enum store_status st;
	if ((st = STORE_CALL(tx, session_each, snap_session, x)) != STORE_OK ||
	    (st = STORE_CALL(tx, account_each, snap_account, x)) != STORE_OK ||
	    (st = STORE_CALL(tx, balance_each, snap_balance, x)) != STORE_OK)
		return st;
	return x->oom ? STORE_FAIL : STORE_OK;
}

static const struct ledger_balance *snap_bal(const struct snap *x, const char *account_id,
					     enum currency cur)
{
	static const struct ledger_balance zero;
	for (int i = 0; i < x->nb; i++)
		if (strcmp(x->b[i].account_id, account_id) == 0 &&
		    strcmp(x->b[i].currency, money_currency_code(cur)) == 0)
			return &x->b[i].b;
	return &zero;
}

static const char *system_account(const struct snap *x, const char *code)
{
	for (int i = 0; i < x->na; i++)
		if (strcmp(x->a[i].kind, "system") == 0 && strcmp(x->a[i].code, code) == 0)
			return x->a[i].id;
	return NULL;
}

/* to is from, or reached from it along the table's edges. */
bool sim_reachable(enum session_status from, enum session_status to)
{
	if (from == to)
		return true;
	for (int ev = 0; ev < SEV__COUNT; ev++) {
		enum session_status next;
		if (session_transition(from, (enum session_event)ev, &next) && next != from &&
		    sim_reachable(next, to))
			return true;
	}
	return false;
}

struct sums {
	int64_t held[SIM_ACCOUNTS][CUR__COUNT], spent[SIM_ACCOUNTS][CUR__COUNT];
	int64_t all_held[CUR__COUNT], paid_principal[CUR__COUNT], fees[CUR__COUNT],
		partner[CUR__COUNT];
};

/* One session's row against what the simulator knows of it and what the
 * rail did for it; adds its money to sums. */
static void audit_session(struct world *w, const struct store_session *row, struct sums *sum)
{
	struct sim_session *m = sim_sess_find(w, row->id);
	if (!m) {
		sim_failf(w, "session %s exists but no create was acknowledged", row->id);
		return;
	}
	int idx = (int)(m - w->sess);
	enum session_status cur;
	if (!session_status_parse(row->status, &cur)) {
		sim_failf(w, "s%d has status %s", idx, row->status);
		return;
	}
	if (row->principal_minor != m->amount || money_currency(row->currency) != m->cur ||
	    strcmp(row->account_id, w->acct[m->acct].account_id) != 0)
		sim_failf(w, "s%d is %lld %s, created as %lld %s", idx, (long long)row->principal_minor,
		      row->currency, (long long)m->amount, money_currency_code(m->cur));
	enum session_status prev = m->last;
	if (m->moved && cur != m->want)
		sim_failf(w, "s%d is %s after a decision to %s", idx, row->status,
		      session_status_name(m->want));
	if (!m->moved && prev == SESSION_PENDING_APPROVAL && cur != prev)
		sim_failf(w, "s%d left pending_approval for %s with no decision", idx, row->status);
	if (sim_final(prev) && cur != prev)
		sim_failf(w, "s%d was %s (terminal) and is now %s", idx, session_status_name(prev),
		      row->status);
	else if (!sim_reachable(prev, cur))
		sim_failf(w, "s%d moved %s -> %s, not along the table", idx, session_status_name(prev),
		      row->status);
	if (row->version < m->version || (cur != prev && row->version == m->version))
		sim_failf(w, "s%d version %lld after %lld", idx, (long long)row->version,
		      (long long)m->version);
	int npay;
	const struct sim_payout *p = sim_rail_payout_of(&w->rail, row->id, &npay);
	if (npay > 1)
		sim_failf(w, "s%d paid %d times", idx, npay);
	if (p && (p->amount_minor != row->delivered_minor ||
		  p->currency != money_currency(row->target_currency)))
		sim_failf(w, "s%d paid %lld %s, delivers %lld %s", idx, (long long)p->amount_minor,
		      money_currency_code(p->currency), (long long)row->delivered_minor,
		      row->target_currency);
	if (cur == SESSION_SETTLED && (!p || p->state != SIM_PAY_CONFIRMED))
		sim_failf(w, "s%d settled without a confirmed payout (%s)", idx,
		      !p ? "none" : p->state == SIM_PAY_SENT ? "sent" : "returned");
	if ((cur == SESSION_FAILED || cur == SESSION_CANCELLED) && p && p->state != SIM_PAY_RETURNED)
		sim_failf(w, "s%d is %s (%s) but its payout was %s", idx, row->status,
		      row->failure_reason, p->state == SIM_PAY_SENT ? "sent" : "confirmed");
	if (cur == SESSION_EXECUTED && !p)
		sim_failf(w, "s%d executed with no payout at the rail", idx);
	const struct sim_chain *ch = sim_rail_chain_of(&w->rail, row->id);
	if ((cur == SESSION_EXECUTED || cur == SESSION_SETTLED ||
	     (cur == SESSION_EXECUTING && strcmp(row->stage, "stablecoin_transfer") != 0)) &&
	    (!ch || !ch->done))
		sim_failf(w, "s%d is %s/%s but its stablecoin never moved", idx, row->status, row->stage);
	if (m->rate >= 0) {
		const struct sim_rate *x = &w->rates[m->rate];
		if (row->locked_rate_value != x->value || row->locked_rate_scale != x->scale ||
		    (row->fill_rate_value && (row->fill_rate_value != x->value ||
					      row->fill_rate_scale != x->scale)))
			sim_failf(w, "s%d converts at %lld/%d (locked %lld/%d), rate r%d is %lld/%d", idx,
			      (long long)row->fill_rate_value, row->fill_rate_scale,
			      (long long)row->locked_rate_value, row->locked_rate_scale, m->rate,
			      (long long)x->value, x->scale);
	} else if (row->locked_rate_value) {
		sim_failf(w, "s%d has a locked rate it never named", idx);
	}
	int64_t hold = row->principal_minor + row->fee_total_minor;
	enum currency c = m->cur;
	switch (session_status_hold(cur)) {
	case HOLD_PENDING:
		sum->held[m->acct][c] += hold;
		sum->spent[m->acct][c] += hold;
		sum->all_held[c] += hold;
		break;
	case HOLD_POSTED:
		sum->spent[m->acct][c] += hold;
		sum->paid_principal[c] += row->principal_minor;
		sum->fees[c] += row->fee_total_minor - row->fee_partner_minor;
		sum->partner[c] += row->fee_partner_minor;
		break;
	case HOLD_VOIDED: break;
	}
	m->last = cur;
	m->version = row->version;
	m->moved = false;
}

/* The system accounts' balances against the sessions' money. */
static void audit_system(struct world *w, const struct snap *x, const struct sums *sum)
{
	const char *holds = system_account(x, "holds"), *payouts = system_account(x, "payouts"),
		   *fees = system_account(x, "fees"), *partner = system_account(x, "partner_fees");
	for (int c = 1; c < CUR__COUNT; c++) {
		enum currency cur = (enum currency)c;
		const struct ledger_balance *h = holds ? snap_bal(x, holds, cur) : NULL;
		if (h && (h->credits_pending != sum->all_held[c] ||
			  h->credits_posted != h->debits_posted))
			sim_failf(w, "holds %s: pending %lld posted %lld/%lld, sessions hold %lld",
			      money_currency_code(cur), (long long)h->credits_pending,
			      (long long)h->credits_posted, (long long)h->debits_posted,
			      (long long)sum->all_held[c]);
		if (!holds && sum->all_held[c])
			sim_failf(w, "sessions hold %lld %s with no holds account",
			      (long long)sum->all_held[c], money_currency_code(cur));
		int64_t paid = payouts ? snap_bal(x, payouts, cur)->credits_posted : 0;
		if (paid != sum->paid_principal[c])
			sim_failf(w, "payouts %s credited %lld, settled sessions paid %lld",
			      money_currency_code(cur), (long long)paid,
			      (long long)sum->paid_principal[c]);
		int64_t fee = fees ? snap_bal(x, fees, cur)->credits_posted : 0;
		if (fee != sum->fees[c])
			sim_failf(w, "fees %s credited %lld, settled sessions charged %lld",
			      money_currency_code(cur), (long long)fee, (long long)sum->fees[c]);
		int64_t pf = partner ? snap_bal(x, partner, cur)->credits_posted : 0;
		if (pf != sum->partner[c])
			sim_failf(w, "partner fees %s credited %lld, settled sessions owe %lld",
			      money_currency_code(cur), (long long)pf, (long long)sum->partner[c]);
	}
}

void sim_audit(struct world *w)
{
	fault_suspend(true);
	struct svc_ledger_report rep;
	enum err e = svc_verify_ledger(&w->svc, &rep);
	if (e != ERR_OK)
		sim_failf(w, "verify-ledger: %s", err_code(e));
	else if (!rep.ok)
		sim_failf(w, "verify-ledger: %s (%ld problems)", rep.first_problem, rep.problems);
	struct snap x = {0};
	enum store_status st = store_run(w->store, false, snap_tx, &x);
	if (st != STORE_OK) {
		sim_failf(w, "audit read: %s", store_status_name(st));
	} else {
		if (x.ns != w->nsess)
			sim_failf(w, "%d sessions stored, %d acknowledged", x.ns, w->nsess);
		struct sums sum = {0};
		for (int i = 0; i < x.ns; i++)
			audit_session(w, &x.s[i], &sum);
		for (int ai = 0; ai < SIM_ACCOUNTS; ai++)
			for (int c = 1; c < CUR__COUNT; c++) {
				const struct sim_account *ac = &w->acct[ai];
				const struct ledger_balance *b =
					snap_bal(&x, ac->account_id, (enum currency)c);
				int64_t want_avail = ac->deposits[c] - sum.spent[ai][c];
				if (ledger_held(b) != sum.held[ai][c] ||
				    ledger_available(b) != want_avail)
					sim_failf(w, "acct%d %s: held %lld available %lld, want %lld and %lld", ai,
					      money_currency_code((enum currency)c),
					      (long long)ledger_held(b), (long long)ledger_available(b),
					      (long long)sum.held[ai][c], (long long)want_avail);
				if (ledger_available(b) < 0)
					sim_failf(w, "acct%d available balance negative", ai);
			}
		audit_system(w, &x, &sum);
	}
	if (w->rail.violation[0])
		sim_failf(w, "rail: %s", w->rail.violation);
	free(x.s);
	free(x.a);
	free(x.b);
	fault_suspend(false);
}

/* A session's event log, as the auditor reads it. */
struct events {
	int n;
	int64_t seq[64];
	char type[64][48];
	store_id id[64];
	char *data[64]; /* owned */
};

static void on_event(void *arg, const struct store_event *ev)
{
	struct events *e = arg;
	if (e->n < 64) {
		e->seq[e->n] = ev->resource_seq;
		memcpy(e->id[e->n], ev->id, sizeof e->id[e->n]);
		e->data[e->n] = strdup(ev->data ? ev->data : "");
		snprintf(e->type[e->n], sizeof e->type[e->n], "%s", ev->type);
	}
	e->n++;
}

struct deliveries {
	int n;
	char status[8][12];
	char message_id[8][64];
	char *body; /* the first's (owned) */
};

static void on_delivery(void *arg, const void *row)
{
	struct deliveries *d = arg;
	const struct store_hook_delivery *r = row;
	if (d->n < 8) {
		snprintf(d->status[d->n], sizeof d->status[d->n], "%s", r->status);
		snprintf(d->message_id[d->n], sizeof d->message_id[d->n], "%s", r->message_id);
	}
	if (d->n == 0)
		d->body = strdup(r->body ? r->body : "");
	d->n++;
}

struct of_event {
	const char *endpoint, *event;
	struct deliveries d;
};

static enum store_status of_event_tx(struct store_tx *tx, void *arg)
{
	struct of_event *o = arg;
	free(o->d.body);
	o->d.body = NULL;
	o->d.n = 0;
	return STORE_CALL(tx, hook_delivery_of_event, o->endpoint, o->event, on_delivery, &o->d);
}

/* A status event has one delivery to the endpoint (a stage change none),
 * delivered, and the receiver got it. */
static void audit_deliveries(struct world *w, int i, const char *event_id, const char *data,
			     bool status_event)
{
	struct of_event o = {.endpoint = w->hook_id, .event = event_id};
	if (store_run(w->store, false, of_event_tx, &o) != STORE_OK) {
		sim_failf(w, "s%d: the deliveries of event %s cannot be read", i, event_id);
	} else if (o.d.n != (status_event ? 1 : 0)) {
		sim_failf(w, "s%d: event %s has %d deliveries", i, event_id, o.d.n);
	} else if (o.d.n && strcmp(o.d.status[0], "delivered") != 0) {
		sim_failf(w, "s%d: event %s's delivery is %s at rest", i, event_id, o.d.status[0]);
	} else if (o.d.n && !sim_received(w, o.d.message_id[0])) {
		sim_failf(w, "s%d: delivery %s recorded delivered, never received", i,
			  o.d.message_id[0]);
	} else if (o.d.n) {
		/* What was sent carries the event's own snapshot (seed 5 once
		 * found a payload a character short: jansson under an alloc
		 * fault; api_hook_payloads now refuses such a rendering). */
		json_t *body = json_loads(o.d.body ? o.d.body : "", 0, NULL);
		json_t *snap = json_loads(data ? data : "", 0, NULL);
		if (!body || !snap || !json_equal(json_object_get(body, "data"), snap))
			sim_failf(w, "s%d: event %s was sent without its snapshot: %.120s", i, event_id,
				  o.d.body ? o.d.body : "");
		json_decref(body);
		json_decref(snap);
	}
	free(o.d.body);
}

/* Each session's events: numbered 1..event_seq without gap, the first
 * its created status, each status event one edge of the table from the
 * one before, the last status event its status now. One event per
 * change: a step committed twice would show. */
void sim_audit_events(struct world *w)
{
	for (int i = 0; i < w->nsess && !w->fail[0]; i++) {
		struct sim_session *m = &w->sess[i];
		struct store_session row;
		struct events e = {0};
		bool more = false;
		if (svc_session_get(&w->svc, &w->a1, m->id, &row) != ERR_OK ||
		    svc_event_list(&w->svc, &w->a1, m->id, 0, LIMIT_PAGE_SIZE_MAX, on_event, &e,
				   &more) != ERR_OK) {
			sim_failf(w, "s%d: its events cannot be read", i);
			return;
		}
		if (more || e.n > 64 || e.n != row.event_seq) {
			sim_failf(w, "s%d has %d events, event_seq %lld", i, e.n, (long long)row.event_seq);
			for (int k = 0; k < e.n && k < 64; k++)
				free(e.data[k]);
			return;
		}
		enum session_status at = SESSION__COUNT;
		for (int k = 0; k < e.n; k++) {
			if (e.seq[k] != k + 1)
				sim_failf(w, "s%d event %d numbered %lld", i, k + 1, (long long)e.seq[k]);
			const char *name = e.type[k] + strlen("off_ramp_session.");
			enum session_status st;
			if (strncmp(e.type[k], "off_ramp_session.", 17) != 0 ||
			    (strcmp(name, "stage_changed") != 0 && !session_status_parse(name, &st)))
				sim_failf(w, "s%d event %d is %s", i, k + 1, e.type[k]);
			else if (strcmp(name, "stage_changed") == 0)
				continue;
			else if (k == 0)
				at = st;
			else if (at == SESSION__COUNT || st == at)
				sim_failf(w, "s%d event %d: %s after %s", i, k + 1, name,
				      session_status_name(at));
			else {
				bool edge = false;
				for (int ev = 0; ev < SEV__COUNT; ev++) {
					enum session_status next;
					edge |= session_transition(at, (enum session_event)ev, &next) &&
						next == st;
				}
				if (!edge)
					sim_failf(w, "s%d event %d: %s -> %s skips the table", i, k + 1,
					      session_status_name(at), name);
				at = st;
			}
		}
		for (int k = 0; k < e.n && k < 64 && w->hook_id[0]; k++)
			audit_deliveries(w, i, e.id[k], e.data[k],
					 strcmp(e.type[k], "off_ramp_session.stage_changed") != 0);
		for (int k = 0; k < e.n && k < 64; k++)
			free(e.data[k]);
		if (at != m->last)
			sim_failf(w, "s%d is %s, its last status event says %s", i,
			      session_status_name(m->last), session_status_name(at));
	}
}
