/*
 * sessions.c - creating and reading off-ramp sessions.
 *
 * Creation checks, in order, inside one write transaction (CONTRACT §5):
 * the account is the tenant's and its client is verified (a Lumx
 * customer transacts only once APPROVED); the destination exists, belongs to the
 * route owner, the route owner is the account's client, and the inline
 * copy equals what was saved; the rail serves the destination's country;
 * the account's available balance covers principal plus fees. Only then
 * does it write: the hold (a pending transfer of principal + fees from
 * the client account to the system "holds" account), the session, and
 * the idempotency record, all in the one commit.
 *
 * Sessions start `executing`, or `pending_approval` with an approval
 * record when the tenant's policy asks for one; workers take them from
 * there (lifecycle.c).
 */
#include "service/internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/session.h"

/*
 * Rows a create reads that never change once committed: accounts and
 * destinations are never updated or deleted, and a tenant's system
 * account, once made, is that row for good. They are read before the
 * write, on a pooled read connection, so the single writer does not read
 * them: what a committed read found, the write would find the same. What
 * the read did not find (or could not read) is looked for again inside
 * the write, where it may have been made meanwhile. Rows that change
 * (balances, limits, settings, the policy, a locked rate) and decide the
 * outcome are read inside the write only.
 */
struct session_pre {
	enum store_status acct_st, dest_st, holds_st;
	struct store_account acct, holds;
	struct store_destination dest;
	bool dest_same; /* dest_st OK: the inline copy is the saved one, value for value */
};

struct session_arg {
	struct service *s;
	const struct auth *a;
	const struct svc_session_request *req;
	struct session_pre pre;
	struct store_session rec;
};

/* The inline copy must be the saved destination, value for value. We
 * wrote the saved text, so one that does not read back (out of memory)
 * is our failure, STORE_FAIL, never the client's mismatch. */
static enum store_status same_destination(const struct session_arg *c, const char *saved_body,
					  bool *same)
{
	struct destination saved;
	if (!c->s->destination_read(saved_body, &saved))
		return STORE_FAIL;
	*same = destination_equal(&saved, c->req->inline_dest);
	return STORE_OK;
}

static enum store_status pre_tx(struct store_tx *tx, void *arg)
{
	struct session_arg *c = arg;
	struct session_pre *p = &c->pre;
	store_destination_clear(&p->dest); /* a retried read starts afresh */
	p->acct_st = STORE_CALL(tx, account_get, c->a->tenant_id, c->req->account_id, &p->acct);
	p->dest_st = STORE_CALL(tx, destination_get, c->a->tenant_id, c->req->destination_id,
				&p->dest);
	/* Parsing the saved text is work the single writer need not do. */
	p->dest_same = false;
	if (p->dest_st == STORE_OK && same_destination(c, p->dest.body, &p->dest_same) != STORE_OK)
		p->dest_st = STORE_FAIL; /* the write transaction reads it again */
	p->holds_st = STORE_CALL(tx, account_get_system, c->a->tenant_id, "holds", &p->holds);
	return STORE_OK;
}

static enum store_status session_account(struct store_tx *tx, const struct session_arg *c,
					 struct store_account *out)
{
	if (c->pre.acct_st == STORE_OK) {
		*out = c->pre.acct;
		return STORE_OK;
	}
	return STORE_CALL(tx, account_get, c->a->tenant_id, c->req->account_id, out);
}

/* The destination, its body owned by out (the caller clears it). */
static enum store_status session_destination(struct store_tx *tx, const struct session_arg *c,
					     struct store_destination *out)
{
	if (c->pre.dest_st == STORE_OK) {
		*out = c->pre.dest;
		out->body = strdup(c->pre.dest.body ? c->pre.dest.body : "");
		return out->body ? STORE_OK : STORE_FAIL;
	}
	return STORE_CALL(tx, destination_get, c->a->tenant_id, c->req->destination_id, out);
}

static enum store_status session_holds(struct store_tx *tx, const struct session_arg *c,
				       struct store_account *out)
{
	if (c->pre.holds_st == STORE_OK) {
		*out = c->pre.holds;
		return STORE_OK;
	}
	return svc_system_account(tx, c->a->tenant_id, "holds", out);
}

static enum store_status session_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
					const void **result)
{
	struct session_arg *c = arg;
	const struct svc_session_request *q = c->req;
	enum store_status st;

	struct store_account acct, holds;
	st = session_account(tx, c, &acct);
	if (st == STORE_NOT_FOUND)
		return svc_refuse(o, ERR_NOT_FOUND, SVC_FIELD_ACCOUNT);
	if (st != STORE_OK)
		return st;
	/* Crypto payouts pay the network fee of the destination's chain; fiat
	 * payouts move the stablecoin on ethereum first. */
	const char *network = q->inline_dest->method == DEST_CRYPTO_TRANSFER
				      ? dest_network_name(q->inline_dest->crypto.network)
				      : q->network ? q->network : "ethereum";
	/* Every tenant setting this create reads, in one statement. */
	struct svc_settings pre = {0};
	char key[64], k_tx[64], k_day[64], k_month[64];
	svc_verification_key(acct.client_id, key);
	svc_settings_want(&pre, key);
	svc_limit_keys(acct.client_id, k_tx, k_day, k_month);
	svc_settings_want(&pre, k_tx);
	svc_settings_want(&pre, k_day);
	svc_settings_want(&pre, k_month);
	svc_settings_want(&pre, "platform_bps");
	svc_network_fee_key(q->source, network, key);
	svc_settings_want(&pre, key);
	if ((st = svc_settings_fetch(tx, c->a->tenant_id, &pre)) != STORE_OK)
		return st;
	enum svc_verification ver;
	if ((st = svc_verification_read(tx, &pre, c->a->tenant_id, acct.client_id, &ver)) !=
	    STORE_OK)
		return st;
	if (ver != SVC_VERIFICATION_APPROVED) {
		o->details = (struct svc_details){.kind = SVC_DETAILS_VERIFICATION,
						  .verification.state = ver};
		return svc_refuse(o, ERR_CUSTOMER_NOT_VERIFIED, SVC_FIELD_ACCOUNT);
	}

	struct store_destination dest = {0};
	st = session_destination(tx, c, &dest);
	if (st == STORE_NOT_FOUND)
		return svc_refuse(o, ERR_NOT_FOUND, SVC_FIELD_DESTINATION_ID);
	if (st != STORE_OK)
		return st;
	bool same_owner = strcmp(dest.client_id, q->route_owner_client_id) == 0;
	bool own_client = strcmp(acct.client_id, q->route_owner_client_id) == 0;
	bool same_dest = c->pre.dest_same;
	if (same_owner && own_client && c->pre.dest_st != STORE_OK &&
	    same_destination(c, dest.body, &same_dest) != STORE_OK) {
		store_destination_clear(&dest);
		return STORE_FAIL;
	}
	same_dest = same_dest && same_owner && own_client;
	store_destination_clear(&dest);
	if (!same_owner || !own_client)
		return svc_refuse(o, ERR_DESTINATION_MISMATCH, SVC_FIELD_ROUTE_OWNER);
	if (!same_dest)
		return svc_refuse(o, ERR_DESTINATION_MISMATCH, SVC_FIELD_DESTINATION);
	const char *where = NULL;
	if (dest_route_check(q->inline_dest, &where) != ERR_OK)
		return svc_refuse(o, ERR_UNSUPPORTED_ROUTE, SVC_FIELD_DESTINATION_COUNTRY);

	/* A rate must exist now, or the session could only fail later; a
	 * LOCKED rate named by the request fixes it (used once, in time). */
	struct fx_rate rate;
	struct store_exchange_rate locked = {0};
	if (q->exchange_rate_id) {
		st = STORE_CALL(tx, exchange_rate_get, c->a->tenant_id, q->exchange_rate_id, &locked);
		if (st == STORE_NOT_FOUND)
			return svc_refuse(o, ERR_NOT_FOUND, SVC_FIELD_EXCHANGE_RATE);
		if (st != STORE_OK)
			return st;
		if (strcmp(locked.type, "LOCKED") != 0)
			return svc_refuse(o, ERR_EXCHANGE_RATE_NOT_LOCKED, SVC_FIELD_EXCHANGE_RATE);
		if (locked.used_by[0])
			return svc_refuse(o, ERR_EXCHANGE_RATE_USED, SVC_FIELD_EXCHANGE_RATE);
		if (locked.expires_at <= svc_now())
			return svc_refuse(o, ERR_EXCHANGE_RATE_EXPIRED, SVC_FIELD_EXCHANGE_RATE);
		if (money_currency(locked.source) != q->source ||
		    money_currency(locked.target) != q->target_currency)
			return svc_refuse(o, ERR_EXCHANGE_RATE_MISMATCH, SVC_FIELD_EXCHANGE_RATE);
		rate = (struct fx_rate){locked.value, locked.scale};
	} else {
		st = svc_fx_rate(tx, q->source, q->target_currency, &rate);
		if (st == STORE_NOT_FOUND)
			return svc_refuse(o, ERR_UNSUPPORTED_ROUTE, SVC_FIELD_TARGET_CURRENCY);
		if (st != STORE_OK)
			return st;
	}

	/* Limits of the client, in stablecoin units (USDC and USDT at par). */
	struct svc_limits lim;
	if ((st = svc_limits_read(tx, &pre, c->a->tenant_id, acct.client_id, true, &lim)) !=
	    STORE_OK)
		return st;
	/* The first limit the amount passes, in this order. */
	const struct {
		enum svc_limit_kind kind;
		int64_t max, used;
	} limits[] = {
		{SVC_LIMIT_KIND_PER_TRANSACTION, lim.per_transaction_minor, 0},
		{SVC_LIMIT_KIND_DAILY, lim.daily_minor, lim.used_today_minor},
		{SVC_LIMIT_KIND_MONTHLY, lim.monthly_minor, lim.used_month_minor},
	};
	for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
		if (limits[i].max == SVC_LIMIT_NONE ||
		    q->amount_minor <= limits[i].max - limits[i].used)
			continue;
		int64_t remaining = limits[i].max - limits[i].used;
		o->details = (struct svc_details){
			.kind = SVC_DETAILS_LIMIT,
			.limit = {limits[i].kind, CUR_USDC, limits[i].max, limits[i].used,
				  remaining > 0 ? remaining : 0}};
		return svc_refuse(o, ERR_LIMIT_EXCEEDED, SVC_FIELD_AMOUNT);
	}

	/* A rail's cap applies to what it pays out, at today's rate. */
	int64_t cap = q->inline_dest->method == DEST_BANK_TRANSFER
			      ? dest_rail_cap(q->inline_dest->rail) : 0;
	int64_t estimate = 0;
	if (cap > 0 &&
	    (fx_convert(q->amount_minor, q->source, &rate, q->target_currency, &estimate) != ERR_OK ||
	     estimate > cap))
		return svc_refuse(o, ERR_LIMIT_EXCEEDED, SVC_FIELD_AMOUNT);

	struct fee_schedule sched;
	if ((st = svc_fee_schedule(tx, c->s, &pre, c->a->tenant_id, q->source, network,
				   &sched)) != STORE_OK)
		return st;
	/* Only a named partner fee is charged: a fee marked default is a
	 * label, never applied on its own (Lumx: "If not provided, partner
	 * fees will be zero"). */
	if (q->partner_fee_id) {
		struct store_partner_fee pf;
		st = STORE_CALL(tx, partner_fee_get, c->a->tenant_id, q->partner_fee_id, &pf);
		if (st == STORE_NOT_FOUND)
			return svc_refuse(o, ERR_NOT_FOUND, SVC_FIELD_PARTNER_FEE);
		if (st != STORE_OK)
			return st;
		sched.partner_bps = pf.bps;
		sched.partner_flat_minor = pf.flat_minor;
	}
	struct fee_quote fq;
	int64_t hold_minor;
	if (fees_quote(&sched, q->source, q->amount_minor, &fq) != ERR_OK ||
	    !money_add(q->amount_minor, fq.total_minor, &hold_minor))
		return svc_refuse(o, ERR_AMOUNT_TOO_LARGE, SVC_FIELD_AMOUNT);

	/* Approval policy: at or above the threshold waits for a second
	 * principal. USDC and USDT are compared at par (both are dollars). */
	struct store_policy pol;
	st = STORE_CALL(tx, policy_get, c->a->tenant_id, &pol);
	if (st != STORE_OK && st != STORE_NOT_FOUND)
		return st;
	bool needs_approval = st == STORE_OK && pol.threshold_minor > 0 &&
			      q->amount_minor >= pol.threshold_minor;

	if ((st = session_holds(tx, c, &holds)) != STORE_OK)
		return st;

	struct store_session *r = &c->rec;
	memset(r, 0, sizeof *r);
	if (!uuid_v7(r->id))
		return STORE_FAIL;
	int64_t now = svc_now();
	enum ledger_result lr;
	st = svc_ledger_move(tx, LEDGER_OP_PENDING, &acct, &holds, q->source, hold_minor, NULL,
			     r->id, "session_hold", now, r->hold_transfer_id, &lr);
	if (st != STORE_OK)
		return st;
	if (lr == LEDGER_EXCEEDS_CREDITS)
		return svc_refuse(o, ERR_INSUFFICIENT_FUNDS, SVC_FIELD_AMOUNT);
	if (lr != LEDGER_OK)
		return svc_refuse(o, ERR_AMOUNT_TOO_LARGE, SVC_FIELD_AMOUNT);

	memcpy(r->tenant_id, c->a->tenant_id, sizeof r->tenant_id);
	memcpy(r->account_id, acct.id, sizeof r->account_id);
	memcpy(r->client_id, acct.client_id, sizeof r->client_id);
	snprintf(r->destination_id, sizeof r->destination_id, "%s", q->destination_id);
	memcpy(r->principal_id, c->a->principal_id, sizeof r->principal_id);
	memcpy(r->principal_kind, c->a->principal_kind, sizeof r->principal_kind);
	snprintf(r->status, sizeof r->status, "%s",
		 session_status_name(needs_approval ? SESSION_PENDING_APPROVAL : SESSION_EXECUTING));
	snprintf(r->stage, sizeof r->stage, "%s",
		 needs_approval ? "awaiting_approval" : "stablecoin_transfer");
	snprintf(r->network, sizeof r->network, "%s", network);
	r->next_run_ms = needs_approval ? 0 : svc_now_ms() + c->s->step_ms;
	snprintf(r->currency, sizeof r->currency, "%s", money_currency_code(q->source));
	r->principal_minor = q->amount_minor;
	for (int i = 0; i < fq.n; i++) {
		if (fq.components[i].kind == FEE_NETWORK)
			r->fee_network_minor = fq.components[i].amount_minor;
		else if (fq.components[i].kind == FEE_PLATFORM)
			r->fee_platform_minor = fq.components[i].amount_minor;
		else
			r->fee_partner_minor = fq.components[i].amount_minor;
	}
	r->locked_rate_value = q->exchange_rate_id ? rate.value : 0;
	r->locked_rate_scale = q->exchange_rate_id ? rate.scale : 0;
	r->fee_total_minor = fq.total_minor;
	snprintf(r->target_currency, sizeof r->target_currency, "%s",
		 money_currency_code(q->target_currency));
	snprintf(r->target_rail, sizeof r->target_rail, "%s", q->target_rail);
	snprintf(r->method, sizeof r->method, "%s", dest_method_name(q->inline_dest->method));
	snprintf(r->fiat_rail, sizeof r->fiat_rail, "%s", dest_rail_name(q->inline_dest->rail));
	snprintf(r->payment_reference, sizeof r->payment_reference, "%s",
		 q->payment_reference ? q->payment_reference : "");
	r->created_at = r->updated_at = now;
	if (needs_approval) {
		struct store_approval ap = {.amount_minor = q->amount_minor, .created_at = now};
		if (!uuid_v7(ap.id))
			return STORE_FAIL;
		memcpy(ap.tenant_id, c->a->tenant_id, sizeof ap.tenant_id);
		memcpy(ap.session_id, r->id, sizeof ap.session_id);
		snprintf(ap.status, sizeof ap.status, "pending");
		memcpy(ap.initiator_id, c->a->principal_id, sizeof ap.initiator_id);
		memcpy(ap.initiator_kind, c->a->principal_kind, sizeof ap.initiator_kind);
		snprintf(ap.currency, sizeof ap.currency, "%s", r->currency);
		if ((st = STORE_CALL(tx, approval_insert, &ap)) != STORE_OK)
			return st;
		memcpy(r->approval_id, ap.id, sizeof r->approval_id);
	}
	/* Inserted as version 1 with its first event: the row and event a
	 * save from version 0 would leave, without writing the row twice
	 * (an update rewrites it and its status indexes). */
	r->version = 1;
	r->event_seq = 1;
	if ((st = STORE_CALL(tx, session_insert, r)) != STORE_OK)
		return st;
	if (q->ext && (st = STORE_CALL(tx, ext_put, c->a->tenant_id, r->id, "lumx", q->ext)) != STORE_OK)
		return st;
	if (q->exchange_rate_id) {
		st = STORE_CALL(tx, exchange_rate_use, c->a->tenant_id, q->exchange_rate_id, r->id);
		if (st == STORE_EXISTS) /* checked above in this transaction: cannot happen */
			return STORE_FAIL;
		if (st != STORE_OK)
			return st;
	}
	char type[48];
	snprintf(type, sizeof type, "off_ramp_session.%s", r->status);
	if ((st = svc_session_event(tx, c->s, r, type, NULL)) != STORE_OK)
		return st;
	*result = r;
	return STORE_OK;
}

void svc_session_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const struct svc_session_request *req, const struct svc_render *r,
			struct svc_answer *out)
{
	struct session_arg c = {.s = s, .a = a, .req = req};
	c.pre.acct_st = c.pre.dest_st = c.pre.holds_st = STORE_FAIL;
	if (store_run(s->store, false, pre_tx, &c) != STORE_OK)
		c.pre.acct_st = c.pre.dest_st = c.pre.holds_st = STORE_FAIL;
	svc_commit(s, a, idem, session_effect, &c, ERR_OK, r, out);
	store_destination_clear(&c.pre.dest);
}

struct session_get_arg {
	const struct auth *a;
	const char *id;
	struct store_session *out;
};

static enum store_status session_get_tx(struct store_tx *tx, void *arg)
{
	struct session_get_arg *g = arg;
	return STORE_CALL(tx, session_get, g->a->tenant_id, g->id, g->out);
}

enum err svc_session_get(struct service *s, const struct auth *a, const char *id,
			 struct store_session *out)
{
	struct session_get_arg g = {a, id, out};
	enum store_status st = store_run(s->store, false, session_get_tx, &g);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

struct transfers_arg {
	const struct auth *a;
	const char *id;
	struct store_session s;
	struct store_transfer rows[LIMIT_SESSION_TRANSFERS_MAX];
	int n;
};

static void transfer_row(void *arg, const void *row)
{
	struct transfers_arg *t = arg;
	/* A session moves its hold at most a few times (hold, post or void,
	 * return); more would be our bug, not a client's. */
	assert(t->n < LIMIT_SESSION_TRANSFERS_MAX);
	if (t->n < LIMIT_SESSION_TRANSFERS_MAX)
		t->rows[t->n++] = *(const struct store_transfer *)row;
}

static enum store_status transfers_tx(struct store_tx *tx, void *arg)
{
	struct transfers_arg *t = arg;
	t->n = 0;
	enum store_status st = STORE_CALL(tx, session_get, t->a->tenant_id, t->id, &t->s);
	if (st == STORE_OK)
		st = STORE_CALL(tx, transfer_each_session, t->id, transfer_row, t);
	return st;
}

enum err svc_session_transfers(struct service *s, const struct auth *a, const char *id,
			       void (*each)(void *arg, const struct store_transfer *), void *arg)
{
	struct transfers_arg *t = calloc(1, sizeof *t);
	if (!t)
		return ERR_INTERNAL;
	t->a = a;
	t->id = id;
	enum store_status st = store_run(s->store, false, transfers_tx, t);
	for (int i = 0; st == STORE_OK && i < t->n; i++)
		each(arg, &t->rows[i]);
	free(t);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

/* Rows are buffered in the transaction and handed out after it, so the
 * caller's callback never runs inside a store transaction (and a retried
 * read cannot show it a row twice). */
struct list_arg {
	struct store_session_filter f;
	struct store_session rows[LIMIT_PAGE_SIZE_MAX + 1];
	int n;
};

static void list_row(void *arg, const void *row)
{
	struct list_arg *l = arg;
	if (l->n < LIMIT_PAGE_SIZE_MAX + 1)
		l->rows[l->n++] = *(const struct store_session *)row;
}

static enum store_status list_tx(struct store_tx *tx, void *arg)
{
	struct list_arg *l = arg;
	l->n = 0;
	return STORE_CALL(tx, session_list, &l->f, list_row, l);
}

enum err svc_session_list(struct service *s, const struct auth *a,
			  const struct svc_session_query *q,
			  void (*each)(void *arg, const struct store_session *), void *arg,
			  bool *more)
{
	if (q->limit < 1 || q->limit > LIMIT_PAGE_SIZE_MAX)
		return ERR_INVALID_QUERY;
	struct list_arg *l = calloc(1, sizeof *l);
	if (!l)
		return ERR_INTERNAL;
	memcpy(l->f.tenant_id, a->tenant_id, sizeof l->f.tenant_id);
	l->f.status = q->status;
	l->f.account_id = q->account_id;
	l->f.client_id = q->client_id;
	l->f.before_id = q->before_id;
	l->f.after_id = q->after_id;
	l->f.limit = q->limit + 1; /* one more tells whether a next page exists */
	enum store_status st = store_run(s->store, false, list_tx, l);
	if (st != STORE_OK) {
		free(l);
		return svc_store_err(st);
	}
	*more = l->n > q->limit;
	for (int i = 0; i < l->n && i < q->limit; i++)
		each(arg, &l->rows[i]);
	free(l);
	return ERR_OK;
}
