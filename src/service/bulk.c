/*
 * bulk.c - `offramp admin bulk-load`: a tenant's history of settled
 * sessions, written many per commit, to measure the service with millions
 * of stored sessions (docs/SCALE.md).
 *
 * A loaded session is what a real one is once settled. sessions.c and
 * lifecycle.c write it step by step; here the same steps are replayed in
 * memory and each row is written once, in its final state:
 *   - the session row: settled, stage payout, version 5, event_seq 4;
 *   - its transfers: the hold (pending, client -> holds), its post, the
 *     payout (holds -> payouts) and our fee (holds -> fees), each applied
 *     with ledger_apply to the balances, which are read and written once
 *     per batch, so the books balance after every commit;
 *   - its four events (executing, stage_changed, executed, settled), each
 *     with the snapshot of the session as it stood then;
 *   - the idempotency record its create left: key "bulk-<session id>",
 *     the answer (the first snapshot: the same bytes, with the status the
 *     api answers a create with, req->created_status);
 *   - the sandbox rail's book entry for its payout.
 * Each client account is funded (one deposit) with what its sessions
 * spend plus BULK_SPARE_MINOR, so creates can follow the load.
 *
 * Time is synthetic: the sessions are spread over the past, at most a
 * second apart and LIMIT_BULK_SPAN_S in all, ending a few seconds ago;
 * each moves through its stages a quarter of that gap apart. Every id is a
 * UUIDv7 of that timeline, drawn in time order, so each row's id is larger
 * than the one written before it in its table: every index is appended to.
 *
 * Refused: a tenant with webhook endpoints (a load would queue millions of
 * deliveries to real URLs) or an approval policy (its sessions would have
 * waited for approval); a destination that is not a bank transfer.
 *
 * Speed: LIMIT_BULK_BATCH sessions per transaction through the store's
 * prepared statements; the next batch is built and its snapshots rendered
 * on this thread while the committer writes the current one.
 */
#include "service/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "domain/session.h"

#define BULK_SPARE_MINOR 1000000000000000LL /* 1,000,000,000.00 USDC per account */
#define BULK_EVENTS 4                        /* per session */
#define BULK_TRANSFERS 4                     /* per session: hold, post, payout, fee */
#define BULK_ENDPOINT "POST /off-ramp-sessions"

/* ---- ids on a synthetic timeline ------------------------------------------- */

/* UUIDv7s for times that never go back: strictly increasing in the order
 * drawn (the counter orders ids within a millisecond). */
struct bulk_ids {
	uint64_t ms;
	uint16_t counter;
	uint64_t rng; /* splitmix64 state, seeded from the system's CSPRNG */
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void bulk_id(struct bulk_ids *g, int64_t at_ms, char out[UUID_STR_LEN + 1])
{
	if ((uint64_t)at_ms > g->ms) {
		g->ms = (uint64_t)at_ms;
		g->counter = 0;
	} else if (++g->counter > 0x0fff) {
		g->ms++;
		g->counter = 0;
	}
	uint64_t r = splitmix64(&g->rng);
	uint8_t rnd[8];
	memcpy(rnd, &r, sizeof rnd);
	uuid_v7_from(g->ms, g->counter, rnd, out);
}

/* ---- the plan of the load ---------------------------------------------------- */

struct bulk_plan {
	const struct svc_bulk_request *req;
	struct service *svc;
	struct bulk_ids ids;
	int64_t start_ms, gap_ms, step_ms;
	struct fee_schedule fees;
	struct fx_rate rate;
	enum currency target;
	/* Accounts: the clients' (req->accounts of them) and the system ones. */
	struct store_account *client; /* [accounts] */
	struct store_account holds, payouts, fees_acct, funding;
	struct svc_bulk_report *rep;
	store_id principal_id;
	bool refused; /* set by setup_tx: report->problem says why */
	enum err refusal;
};

/* Session i's principal in USDC minor units (10^-6): whole units 10..999,
 * cents that are none of the sandbox's outcome triggers (.05, .06, .07:
 * rails/sandbox.c). */
static int64_t bulk_amount(int64_t i)
{
	int64_t units = 10 + (i * 7919) % 990, cents = (i * 37) % 100;
	if (cents >= 5 && cents <= 7)
		cents += 3;
	return units * 1000000 + cents * 10000;
}

static bool bulk_quote(const struct bulk_plan *p, int64_t amount, struct fee_quote *fq,
		       int64_t *hold)
{
	return fees_quote(&p->fees, CUR_USDC, amount, fq) == ERR_OK &&
	       money_add(amount, fq->total_minor, hold);
}

/* ---- setup: principal, clients, accounts, destinations, deposits --------------- */

static void count_row(void *arg, const void *row) { ++*(int *)arg; }

static enum store_status put_balance(struct store_tx *tx, const struct store_account *a,
				      const struct ledger_balance *b)
{
	return STORE_CALL(tx, balance_put, a->id, money_currency_code(CUR_USDC), b);
}

static enum store_status get_balance(struct store_tx *tx, const struct store_account *a,
				     struct ledger_balance *b)
{
	enum store_status st = STORE_CALL(tx, balance_get, a->id, money_currency_code(CUR_USDC), b);
	if (st == STORE_NOT_FOUND) {
		*b = (struct ledger_balance){0};
		return STORE_OK;
	}
	return st;
}

/* The refusals, the fee schedule and the rate, read in tx. */
static enum store_status check_tx(struct store_tx *tx, void *arg)
{
	struct bulk_plan *p = arg;
	const struct svc_bulk_request *q = p->req;
	p->refused = false;
	struct store_tenant tenant;
	enum store_status st = STORE_CALL(tx, tenant_get, q->tenant_id, &tenant);
	if (st == STORE_NOT_FOUND) {
		p->refused = true;
		p->refusal = ERR_NOT_FOUND;
		snprintf(p->rep->problem, sizeof p->rep->problem, "no such tenant");
		return STORE_ABORT;
	}
	if (st != STORE_OK)
		return st;
	int endpoints = 0;
	if ((st = STORE_CALL(tx, hook_endpoint_list, q->tenant_id, count_row, &endpoints)) != STORE_OK)
		return st;
	struct store_policy pol;
	st = STORE_CALL(tx, policy_get, q->tenant_id, &pol);
	if (st != STORE_OK && st != STORE_NOT_FOUND)
		return st;
	bool policy = st == STORE_OK && pol.threshold_minor > 0;
	if (endpoints || policy) {
		p->refused = true;
		p->refusal = ERR_INVALID_STATE_TRANSITION;
		snprintf(p->rep->problem, sizeof p->rep->problem, "%s",
			 endpoints ? "the tenant has webhook endpoints: a load would queue deliveries"
				   : "the tenant has an approval policy: its sessions would wait");
		return STORE_ABORT;
	}
	if ((st = svc_fee_schedule(tx, p->svc, NULL, q->tenant_id, CUR_USDC, "ethereum", &p->fees)) !=
	    STORE_OK)
		return st;
	st = svc_fx_rate(tx, CUR_USDC, p->target, &p->rate);
	if (st == STORE_NOT_FOUND) {
		p->refused = true;
		p->refusal = ERR_UNSUPPORTED_ROUTE;
		snprintf(p->rep->problem, sizeof p->rep->problem,
			 "no USDC rate to the destination's currency");
		return STORE_ABORT;
	}
	return st;
}

/* The setup's ids are drawn before the transaction, so a re-run writes
 * the same rows. */
struct setup_arg {
	struct bulk_plan *p;
	int64_t *need; /* [accounts]: what each account's sessions hold */
	store_id *deposit_ids, *dest_ids;
	struct store_client *clients;
};

static enum store_status setup_tx(struct store_tx *tx, void *arg)
{
	struct setup_arg *a = arg;
	struct bulk_plan *p = a->p;
	const struct svc_bulk_request *q = p->req;
	/* Checked again under the write lock; the schedule and rate stay
	 * those the holds were counted at. */
	struct fee_schedule fees = p->fees;
	struct fx_rate rate = p->rate;
	enum store_status st = check_tx(tx, p);
	p->fees = fees;
	p->rate = rate;
	if (st != STORE_OK)
		return st;
	if ((st = svc_system_account(tx, q->tenant_id, "holds", &p->holds)) != STORE_OK ||
	    (st = svc_system_account(tx, q->tenant_id, "payouts", &p->payouts)) != STORE_OK ||
	    (st = svc_system_account(tx, q->tenant_id, "fees", &p->fees_acct)) != STORE_OK ||
	    (st = svc_system_account(tx, q->tenant_id, "sandbox_funding", &p->funding)) != STORE_OK)
		return st;

	int64_t at = p->start_ms / 1000;
	struct store_principal pr = {.created_at = at};
	memcpy(pr.id, p->principal_id, sizeof pr.id);
	snprintf(pr.tenant_id, sizeof pr.tenant_id, "%s", q->tenant_id);
	snprintf(pr.kind, sizeof pr.kind, "service");
	if ((st = STORE_CALL(tx, principal_insert, &pr)) != STORE_OK)
		return st;
	struct ledger_balance fund;
	if ((st = get_balance(tx, &p->funding, &fund)) != STORE_OK)
		return st;
	for (int k = 0; k < q->accounts; k++) {
		const struct store_account *acct = &p->client[k];
		if ((st = STORE_CALL(tx, client_insert, &a->clients[k])) != STORE_OK ||
		    (st = STORE_CALL(tx, account_insert, acct)) != STORE_OK)
			return st;
		struct store_destination d = {.created_at = at, .body = (char *)q->dest_canonical};
		memcpy(d.id, a->dest_ids[k], sizeof d.id);
		memcpy(d.tenant_id, acct->tenant_id, sizeof d.tenant_id);
		memcpy(d.client_id, acct->client_id, sizeof d.client_id);
		memcpy(d.account_id, acct->id, sizeof d.account_id);
		snprintf(d.method, sizeof d.method, "%s", dest_method_name(q->dest->method));
		snprintf(d.fiat_rail, sizeof d.fiat_rail, "%s", dest_rail_name(q->dest->rail));
		snprintf(d.currency, sizeof d.currency, "%s", money_currency_code(q->dest->currency));
		if ((st = STORE_CALL(tx, destination_insert, &d)) != STORE_OK)
			return st;
		/* The deposit (accounts.c, deposit_effect): funding -> client. */
		struct ledger_balance cb = {0};
		int64_t amount;
		if (!money_add(a->need[k], BULK_SPARE_MINOR, &amount) ||
		    ledger_apply(LEDGER_OP_POSTED, amount, &fund, p->funding.flags, &cb) != LEDGER_OK) {
			p->refused = true;
			p->refusal = ERR_AMOUNT_TOO_LARGE;
			snprintf(p->rep->problem, sizeof p->rep->problem, "the deposits overflow");
			return STORE_ABORT;
		}
		struct store_transfer t = {.amount_minor = amount, .created_at = at};
		memcpy(t.id, a->deposit_ids[k], sizeof t.id);
		snprintf(t.op, sizeof t.op, "%s", ledger_op_name(LEDGER_OP_POSTED));
		memcpy(t.debit_account_id, p->funding.id, sizeof t.debit_account_id);
		memcpy(t.credit_account_id, acct->id, sizeof t.credit_account_id);
		snprintf(t.currency, sizeof t.currency, "%s", money_currency_code(CUR_USDC));
		snprintf(t.kind, sizeof t.kind, "deposit");
		if ((st = STORE_CALL(tx, transfer_insert, &t)) != STORE_OK ||
		    (st = put_balance(tx, acct, &cb)) != STORE_OK)
			return st;
	}
	return put_balance(tx, &p->funding, &fund);
}

/* ---- one batch ------------------------------------------------------------------- */

struct bulk_batch {
	struct bulk_plan *p;
	int n;
	int64_t first; /* index of its first session */
	struct store_session *rec;  /* [n], final state */
	int *account;               /* [n]: index into p->client */
	struct store_transfer *tr;  /* [n * BULK_TRANSFERS], in ledger order */
	struct store_event *ev;     /* [n * BULK_EVENTS]; data owned */
	struct store_idem *idem;    /* [n]; body borrowed from the first event */
	struct store_payout *payout; /* [n] */
	/* Set by batch_tx. */
	bool short_funds;
	enum store_status st;
};

static bool batch_alloc(struct bulk_batch *b, int cap)
{
	b->rec = calloc((size_t)cap, sizeof *b->rec);
	b->account = calloc((size_t)cap, sizeof *b->account);
	b->tr = calloc((size_t)cap * BULK_TRANSFERS, sizeof *b->tr);
	b->ev = calloc((size_t)cap * BULK_EVENTS, sizeof *b->ev);
	b->idem = calloc((size_t)cap, sizeof *b->idem);
	b->payout = calloc((size_t)cap, sizeof *b->payout);
	return b->rec && b->account && b->tr && b->ev && b->idem && b->payout;
}

static void batch_release(struct bulk_batch *b)
{
	for (int i = 0; i < b->n * BULK_EVENTS; i++) {
		free(b->ev[i].data);
		b->ev[i].data = NULL;
	}
	b->n = 0;
}

static void batch_free(struct bulk_batch *b)
{
	if (b->ev)
		batch_release(b);
	free(b->rec);
	free(b->account);
	free(b->tr);
	free(b->ev);
	free(b->idem);
	free(b->payout);
}

static void transfer(struct store_transfer *t, struct bulk_ids *g, int64_t at_ms,
		     enum ledger_op op, const char *pending_id, const struct store_account *dr,
		     const struct store_account *cr, int64_t amount, const char *session_id,
		     const char *kind)
{
	memset(t, 0, sizeof *t);
	bulk_id(g, at_ms, t->id);
	snprintf(t->op, sizeof t->op, "%s", ledger_op_name(op));
	snprintf(t->pending_id, sizeof t->pending_id, "%s", pending_id ? pending_id : "");
	memcpy(t->debit_account_id, dr->id, sizeof t->debit_account_id);
	memcpy(t->credit_account_id, cr->id, sizeof t->credit_account_id);
	snprintf(t->currency, sizeof t->currency, "%s", money_currency_code(CUR_USDC));
	t->amount_minor = amount;
	memcpy(t->session_id, session_id, sizeof t->session_id);
	snprintf(t->kind, sizeof t->kind, "%s", kind);
	t->created_at = at_ms / 1000;
}

/* Event k (1-based) of s as svc_session_save writes it: the session at
 * its new version, with its snapshot. */
static bool event(struct store_event *ev, struct bulk_ids *g, const struct service *svc,
		  const struct store_session *s, int64_t at_ms, const char *type)
{
	memset(ev, 0, sizeof *ev);
	bulk_id(g, at_ms, ev->id);
	memcpy(ev->tenant_id, s->tenant_id, sizeof ev->tenant_id);
	memcpy(ev->resource_id, s->id, sizeof ev->resource_id);
	ev->resource_seq = s->event_seq;
	snprintf(ev->type, sizeof ev->type, "%s", type);
	ev->created_at = s->updated_at;
	ev->data = svc->session_snapshot ? svc->session_snapshot(s) : strdup("{}");
	return ev->data != NULL;
}

/* Session i through its lifecycle, in time order, into slot j of b. */
static bool build_session(struct bulk_batch *b, int j, int64_t i)
{
	struct bulk_plan *p = b->p;
	const struct svc_bulk_request *q = p->req;
	struct bulk_ids *g = &p->ids;
	int k = (int)(i % q->accounts);
	const struct store_account *acct = &p->client[k];
	struct store_session *s = &b->rec[j];
	struct store_transfer *tr = &b->tr[j * BULK_TRANSFERS];
	struct store_event *ev = &b->ev[j * BULK_EVENTS];
	int64_t t0 = p->start_ms + i * p->gap_ms, step = p->step_ms;
	b->account[j] = k;

	/* Create (sessions.c, session_effect). */
	int64_t amount = bulk_amount(i), hold;
	struct fee_quote fq;
	if (!bulk_quote(p, amount, &fq, &hold))
		return false;
	memset(s, 0, sizeof *s);
	bulk_id(g, t0, s->id);
	memcpy(s->tenant_id, acct->tenant_id, sizeof s->tenant_id);
	memcpy(s->account_id, acct->id, sizeof s->account_id);
	memcpy(s->client_id, acct->client_id, sizeof s->client_id);
	memcpy(s->destination_id, p->rep->accounts[k].destination_id, sizeof s->destination_id);
	memcpy(s->principal_id, p->principal_id, sizeof s->principal_id);
	snprintf(s->principal_kind, sizeof s->principal_kind, "service");
	snprintf(s->status, sizeof s->status, "%s", session_status_name(SESSION_EXECUTING));
	snprintf(s->stage, sizeof s->stage, "stablecoin_transfer");
	snprintf(s->network, sizeof s->network, "ethereum");
	snprintf(s->currency, sizeof s->currency, "%s", money_currency_code(CUR_USDC));
	s->principal_minor = amount;
	for (int c = 0; c < fq.n; c++) {
		if (fq.components[c].kind == FEE_NETWORK)
			s->fee_network_minor = fq.components[c].amount_minor;
		else if (fq.components[c].kind == FEE_PLATFORM)
			s->fee_platform_minor = fq.components[c].amount_minor;
		else
			s->fee_partner_minor = fq.components[c].amount_minor;
	}
	s->fee_total_minor = fq.total_minor;
	snprintf(s->target_currency, sizeof s->target_currency, "%s", money_currency_code(p->target));
	snprintf(s->target_rail, sizeof s->target_rail, "fiat");
	snprintf(s->method, sizeof s->method, "%s", dest_method_name(q->dest->method));
	snprintf(s->fiat_rail, sizeof s->fiat_rail, "%s", dest_rail_name(q->dest->rail));
	snprintf(s->payment_reference, sizeof s->payment_reference, "%s",
		 q->payment_reference ? q->payment_reference : "");
	s->created_at = t0 / 1000;
	transfer(&tr[0], g, t0, LEDGER_OP_PENDING, NULL, acct, &p->holds, hold, s->id,
		 "session_hold");
	memcpy(s->hold_transfer_id, tr[0].id, sizeof s->hold_transfer_id);
	s->next_run_ms = t0 + step;
	s->version = 1;
	s->event_seq = 1;
	s->updated_at = t0 / 1000;
	if (!event(&ev[0], g, p->svc, s, t0, "off_ramp_session.executing"))
		return false;
	/* Its idempotency record keeps the create's answer: this same rendering. */
	struct store_idem *r = &b->idem[j];
	memset(r, 0, sizeof *r);
	memcpy(r->tenant_id, s->tenant_id, sizeof r->tenant_id);
	snprintf(r->endpoint, sizeof r->endpoint, BULK_ENDPOINT);
	snprintf(r->key, sizeof r->key, "bulk-%s", s->id);
	crypto_sha256_hex(r->key, strlen(r->key), r->request_hash);
	r->status = q->created_status;
	r->body = ev[0].data;
	r->body_len = strlen(ev[0].data);
	r->created_at = s->created_at;
	r->expires_at = s->created_at + LIMIT_IDEMPOTENCY_TTL_S;

	/* Step 1: the stablecoin moved (lifecycle.c, advance). */
	int64_t t1 = t0 + step;
	snprintf(s->stage, sizeof s->stage, "conversion");
	s->next_run_ms = t1 + step;
	s->version = 2;
	s->event_seq = 2;
	s->updated_at = t1 / 1000;
	if (!event(&ev[1], g, p->svc, s, t1, "off_ramp_session.stage_changed"))
		return false;

	/* Step 2: the rate fixed (no event), then the payout submitted. */
	int64_t t2 = t0 + 2 * step;
	if (fx_convert(amount, CUR_USDC, &p->rate, p->target, &s->delivered_minor) != ERR_OK ||
	    s->delivered_minor <= 0)
		return false;
	s->fill_rate_value = p->rate.value;
	s->fill_rate_scale = p->rate.scale;
	struct store_payout *po = &b->payout[j];
	memset(po, 0, sizeof *po);
	snprintf(po->idempotency_key, sizeof po->idempotency_key, "%s:payout", s->id);
	bulk_id(g, t2, po->id);
	memcpy(po->tenant_id, s->tenant_id, sizeof po->tenant_id);
	memcpy(po->session_id, s->id, sizeof po->session_id);
	snprintf(po->rail, sizeof po->rail, "%s", s->fiat_rail);
	snprintf(po->currency, sizeof po->currency, "%s", s->target_currency);
	po->amount_minor = s->delivered_minor;
	snprintf(po->outcome, sizeof po->outcome, "paid");
	po->calls = 1;
	po->created_at = t2 / 1000;
	snprintf(s->status, sizeof s->status, "%s", session_status_name(SESSION_EXECUTED));
	snprintf(s->stage, sizeof s->stage, "payout");
	s->next_run_ms = t2 + step;
	s->version = 4;
	s->event_seq = 3;
	s->updated_at = t2 / 1000;
	if (!event(&ev[2], g, p->svc, s, t2, "off_ramp_session.executed"))
		return false;

	/* Step 3: the rail confirmed; the hold is posted and paid out
	 * (lifecycle.c, svc_hold_settle). No partner fee: none is named. */
	int64_t t3 = t0 + 3 * step;
	transfer(&tr[1], g, t3, LEDGER_OP_POST, s->hold_transfer_id, acct, &p->holds, hold, s->id,
		 "session_post");
	transfer(&tr[2], g, t3, LEDGER_OP_POSTED, NULL, &p->holds, &p->payouts, amount, s->id,
		 "session_payout");
	int64_t ours = s->fee_total_minor - s->fee_partner_minor;
	if (ours > 0)
		transfer(&tr[3], g, t3, LEDGER_OP_POSTED, NULL, &p->holds, &p->fees_acct, ours, s->id,
			 "session_fees");
	else
		tr[3].amount_minor = 0; /* none: skipped */
	snprintf(s->status, sizeof s->status, "%s", session_status_name(SESSION_SETTLED));
	s->settled_at = t3 / 1000;
	s->next_run_ms = 0;
	s->version = 5;
	s->event_seq = 4;
	s->updated_at = t3 / 1000;
	return event(&ev[3], g, p->svc, s, t3, "off_ramp_session.settled");
}

/* Balances of every account a batch touches, read and written once. */
struct batch_books {
	struct ledger_balance *client; /* [accounts] */
	struct ledger_balance holds, payouts, fees;
};

/* The balance and account of id, one of session k's client account and
 * the system accounts; NULL for any other (our bug). */
static struct ledger_balance *book_of(struct batch_books *bk, const struct bulk_plan *p,
				      const char *id, int k, unsigned *flags)
{
	const struct store_account *a[] = {&p->client[k], &p->holds, &p->payouts, &p->fees_acct};
	struct ledger_balance *b[] = {&bk->client[k], &bk->holds, &bk->payouts, &bk->fees};
	for (size_t i = 0; i < sizeof a / sizeof *a; i++)
		if (strcmp(id, a[i]->id) == 0) {
			*flags = a[i]->flags;
			return b[i];
		}
	return NULL;
}

static enum store_status batch_tx(struct store_tx *tx, void *arg)
{
	struct bulk_batch *b = arg;
	struct bulk_plan *p = b->p;
	int na = p->req->accounts;
	b->short_funds = false;
	struct batch_books bk = {.client = calloc((size_t)na, sizeof *bk.client)};
	if (!bk.client)
		return STORE_FAIL;
	enum store_status st = STORE_OK;
	for (int k = 0; st == STORE_OK && k < na; k++)
		st = get_balance(tx, &p->client[k], &bk.client[k]);
	if (st == STORE_OK)
		st = get_balance(tx, &p->holds, &bk.holds);
	if (st == STORE_OK)
		st = get_balance(tx, &p->payouts, &bk.payouts);
	if (st == STORE_OK)
		st = get_balance(tx, &p->fees_acct, &bk.fees);
	for (int j = 0; st == STORE_OK && j < b->n; j++) {
		int k = b->account[j];
		for (int x = 0; st == STORE_OK && x < BULK_TRANSFERS; x++) {
			const struct store_transfer *t = &b->tr[j * BULK_TRANSFERS + x];
			if (t->amount_minor == 0)
				continue;
			enum ledger_op op;
			if (!ledger_op_parse(t->op, &op)) {
				st = STORE_FAIL;
				break;
			}
			unsigned drf, crf;
			struct ledger_balance *dr = book_of(&bk, p, t->debit_account_id, k, &drf);
			struct ledger_balance *cr = book_of(&bk, p, t->credit_account_id, k, &crf);
			enum ledger_result lr = LEDGER_SAME_ACCOUNT; /* no such account: our bug */
			if (dr && cr)
				lr = ledger_apply(op, t->amount_minor, dr, drf, cr);
			if (lr == LEDGER_EXCEEDS_CREDITS) {
				b->short_funds = true;
				st = STORE_ABORT;
			} else if (lr != LEDGER_OK) {
				st = STORE_FAIL;
			} else {
				st = STORE_CALL(tx, transfer_insert, t);
			}
		}
		if (st == STORE_OK)
			st = STORE_CALL(tx, session_insert, &b->rec[j]);
		if (st == STORE_OK)
			st = STORE_CALL(tx, payout_insert, &b->payout[j]);
		if (st == STORE_OK)
			st = STORE_CALL(tx, idem_insert, &b->idem[j]);
		for (int x = 0; st == STORE_OK && x < BULK_EVENTS; x++)
			st = STORE_CALL(tx, event_insert, &b->ev[j * BULK_EVENTS + x]);
	}
	for (int k = 0; st == STORE_OK && k < na; k++)
		st = put_balance(tx, &p->client[k], &bk.client[k]);
	if (st == STORE_OK)
		st = put_balance(tx, &p->holds, &bk.holds);
	if (st == STORE_OK)
		st = put_balance(tx, &p->payouts, &bk.payouts);
	if (st == STORE_OK)
		st = put_balance(tx, &p->fees_acct, &bk.fees);
	free(bk.client);
	return st;
}

static void *batch_thread(void *arg)
{
	struct bulk_batch *b = arg;
	b->st = store_run(b->p->svc->store, true, batch_tx, b);
	return NULL;
}

/* ---- the load ---------------------------------------------------------------------- */

void svc_bulk_report_clear(struct svc_bulk_report *r)
{
	free(r->accounts);
	r->accounts = NULL;
	r->naccounts = 0;
}

static enum err bulk_setup(struct bulk_plan *p)
{
	const struct svc_bulk_request *q = p->req;
	struct svc_bulk_report *rep = p->rep;
	int na = q->accounts;
	enum store_status st = store_run(p->svc->store, false, check_tx, p);
	if (p->refused)
		return p->refusal;
	if (st != STORE_OK)
		return svc_store_err(st);
	struct setup_arg a = {
		.p = p,
		.need = calloc((size_t)na, sizeof *a.need),
		.deposit_ids = calloc((size_t)na, sizeof *a.deposit_ids),
		.dest_ids = calloc((size_t)na, sizeof *a.dest_ids),
		.clients = calloc((size_t)na, sizeof *a.clients),
	};
	enum err e = ERR_INTERNAL;
	if (!a.need || !a.deposit_ids || !a.dest_ids || !a.clients)
		goto out;
	/* Each account gets what its sessions hold, at the tenant's fees. */
	for (int64_t i = 0; i < q->sessions; i++) {
		struct fee_quote fq;
		int64_t hold;
		int k = (int)(i % na);
		if (!bulk_quote(p, bulk_amount(i), &fq, &hold) ||
		    !money_add(a.need[k], hold, &a.need[k])) {
			e = ERR_AMOUNT_TOO_LARGE;
			snprintf(rep->problem, sizeof rep->problem, "the holds overflow");
			goto out;
		}
	}
	int64_t at = p->start_ms;
	bulk_id(&p->ids, at, p->principal_id);
	memcpy(rep->principal_id, p->principal_id, sizeof rep->principal_id);
	for (int k = 0; k < na; k++) {
		struct store_account *acct = &p->client[k];
		struct store_client *cl = &a.clients[k];
		bulk_id(&p->ids, at, cl->id);
		bulk_id(&p->ids, at, acct->id);
		bulk_id(&p->ids, at, a.dest_ids[k]);
		bulk_id(&p->ids, at, a.deposit_ids[k]);
		snprintf(cl->tenant_id, sizeof cl->tenant_id, "%s", q->tenant_id);
		snprintf(cl->display_name, sizeof cl->display_name, "Bulk client %d", k + 1);
		memcpy(cl->default_account_id, acct->id, sizeof acct->id);
		cl->created_at = at / 1000;
		memcpy(acct->tenant_id, cl->tenant_id, sizeof acct->tenant_id);
		memcpy(acct->client_id, cl->id, sizeof acct->client_id);
		snprintf(acct->kind, sizeof acct->kind, "client");
		acct->flags = LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
		acct->created_at = at / 1000;
		memcpy(rep->accounts[k].client_id, cl->id, sizeof cl->id);
		memcpy(rep->accounts[k].account_id, acct->id, sizeof acct->id);
		memcpy(rep->accounts[k].destination_id, a.dest_ids[k], sizeof a.dest_ids[k]);
	}
	st = store_run(p->svc->store, true, setup_tx, &a);
	e = p->refused ? p->refusal : st == STORE_OK ? ERR_OK : svc_store_err(st);
out:
	free(a.need);
	free(a.deposit_ids);
	free(a.dest_ids);
	free(a.clients);
	return e;
}

enum err svc_bulk_load(struct service *s, const struct svc_bulk_request *req,
		       struct svc_bulk_report *rep)
{
	memset(rep, 0, sizeof *rep);
	if (req->sessions < 1 || req->sessions > LIMIT_BULK_SESSIONS_MAX || req->accounts < 1 ||
	    req->accounts > LIMIT_BULK_ACCOUNTS_MAX || !req->dest ||
	    req->dest->method != DEST_BANK_TRANSFER || !req->dest_canonical ||
	    req->created_status <= 0) {
		snprintf(rep->problem, sizeof rep->problem,
			 "sessions 1..%d, accounts 1..%d, a bank transfer destination and the "
			 "created status",
			 LIMIT_BULK_SESSIONS_MAX, LIMIT_BULK_ACCOUNTS_MAX);
		return ERR_INVALID_VALUE;
	}
	struct bulk_plan p = {.req = req, .svc = s, .rep = rep, .target = req->dest->currency};
	if (!crypto_random(&p.ids.rng, sizeof p.ids.rng))
		return ERR_INTERNAL;
	/* The timeline: gap_ms between creates, stages a quarter of it apart,
	 * the last session settled a few seconds before now. */
	p.gap_ms = (int64_t)LIMIT_BULK_SPAN_S * 1000 / req->sessions;
	if (p.gap_ms > 1000)
		p.gap_ms = 1000;
	p.step_ms = p.gap_ms / 4;
	_Static_assert((int64_t)LIMIT_BULK_SPAN_S * 1000 / LIMIT_BULK_SESSIONS_MAX >= 4,
		       "every stage of a loaded session gets its own millisecond");
	p.start_ms = (int64_t)clock_now_ms() - req->sessions * p.gap_ms - 5000;
	rep->accounts = calloc((size_t)req->accounts, sizeof *rep->accounts);
	p.client = calloc((size_t)req->accounts, sizeof *p.client);
	struct bulk_batch b[2] = {{.p = &p}, {.p = &p}};
	enum err e = ERR_INTERNAL;
	if (!rep->accounts || !p.client || !batch_alloc(&b[0], LIMIT_BULK_BATCH) ||
	    !batch_alloc(&b[1], LIMIT_BULK_BATCH))
		goto out;
	rep->naccounts = req->accounts;
	if ((e = bulk_setup(&p)) != ERR_OK)
		goto out;
	/* The principal; per account its client, account, destination, deposit. */
	rep->rows = 1 + 4 * (int64_t)req->accounts;
	rep->commits = 1;
	rep->first_created_at = p.start_ms / 1000;
	rep->last_created_at = (p.start_ms + (req->sessions - 1) * p.gap_ms) / 1000;

	/* Build batch `cur` while the other one is being written. */
	pthread_t writer;
	bool writing = false, built = true;
	int cur = 0;
	for (int64_t i = 0;;) {
		struct bulk_batch *nb = &b[cur];
		batch_release(nb);
		nb->first = i;
		while (built && i < req->sessions && nb->n < LIMIT_BULK_BATCH) {
			nb->n++; /* counted first: a half-built one's snapshots are freed too */
			built = build_session(nb, nb->n - 1, i++);
		}
		if (writing) {
			pthread_join(writer, NULL);
			writing = false;
			const struct bulk_batch *done = &b[cur ^ 1];
			if (done->st != STORE_OK) {
				e = done->short_funds ? ERR_INSUFFICIENT_FUNDS
						      : svc_store_err(done->st);
				goto out;
			}
			rep->sessions += done->n;
			rep->rows += (int64_t)done->n * (1 + BULK_TRANSFERS + BULK_EVENTS + 2);
			rep->commits++;
			if (req->progress)
				req->progress(req->progress_arg, rep->sessions, req->sessions);
		}
		if (!built) {
			e = ERR_INTERNAL;
			snprintf(rep->problem, sizeof rep->problem, "session %lld cannot be built",
				 (long long)i - 1);
			goto out;
		}
		if (nb->n == 0)
			break;
		if (pthread_create(&writer, NULL, batch_thread, nb) != 0) {
			e = ERR_INTERNAL;
			goto out;
		}
		writing = true;
		cur ^= 1;
	}
	e = ERR_OK;
out:
	batch_free(&b[0]);
	batch_free(&b[1]);
	free(p.client);
	if (e != ERR_OK && !rep->problem[0])
		snprintf(rep->problem, sizeof rep->problem, "%s", err_message(e));
	return e;
}

/* ---- query plans --------------------------------------------------------------------- */

struct plans_arg {
	char (*text)[2][160];
	int n, cap;
	bool oom;
};

static void plan_row(void *arg, const void *row)
{
	struct plans_arg *a = arg;
	const struct store_plan_step *s = row;
	if (a->n == a->cap) {
		int cap = a->cap ? a->cap * 2 : 64;
		void *t = realloc(a->text, (size_t)cap * sizeof *a->text);
		if (!t) {
			a->oom = true;
			return;
		}
		a->text = t;
		a->cap = cap;
	}
	snprintf(a->text[a->n][0], sizeof a->text[a->n][0], "%s", s->statement);
	snprintf(a->text[a->n][1], sizeof a->text[a->n][1], "%s", s->detail ? s->detail : "");
	a->n++;
}

static enum store_status plans_tx(struct store_tx *tx, void *arg)
{
	struct plans_arg *a = arg;
	a->n = 0;
	a->oom = false;
	enum store_status st = STORE_CALL(tx, query_plans, plan_row, a);
	return st == STORE_OK && a->oom ? STORE_FAIL : st;
}

enum err svc_query_plans(struct service *s,
			 void (*each)(void *arg, const struct store_plan_step *step), void *arg)
{
	/* Buffered, so each never runs inside a transaction. */
	struct plans_arg a = {0};
	enum store_status st = store_run(s->store, false, plans_tx, &a);
	for (int i = 0; st == STORE_OK && i < a.n; i++) {
		struct store_plan_step step = {a.text[i][0], a.text[i][1]};
		each(arg, &step);
	}
	free(a.text);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}
