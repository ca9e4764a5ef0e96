/*
 * accounts.c - clients, client accounts, sandbox deposits, and the one
 * helper that moves money in the ledger (svc_ledger_move).
 *
 * A client is created with its default account in the same transaction.
 * Client accounts carry LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS, so no
 * client's available balance can go below zero whatever the caller does.
 */
#include "service/internal.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* One balance, locked (store.h), zero when it has no row yet. */
static enum store_status balance_lock(struct store_tx *tx, const char *account_id,
				      const char *code, struct ledger_balance *b)
{
	enum store_status st = STORE_CALL(tx, balance_lock, account_id, code, b);
	if (st == STORE_NOT_FOUND) {
		*b = (struct ledger_balance){0};
		return STORE_OK;
	}
	return st;
}

enum store_status svc_ledger_move(struct store_tx *tx, enum ledger_op op,
				  const struct store_account *dr, const struct store_account *cr,
				  enum currency cur, int64_t amount, const char *pending_id,
				  const char *session_id, const char *kind, int64_t now,
				  char out_id[UUID_STR_LEN + 1], enum ledger_result *lr)
{
	const char *code = money_currency_code(cur);
	/* Two handles on one row would let the second write overwrite the
	 * first: a move from an account to itself is refused outright. */
	if (strcmp(dr->id, cr->id) == 0) {
		*lr = LEDGER_SAME_ACCOUNT;
		return STORE_OK;
	}
	/* Both rows locked until commit (store.h), the lower account id first
	 * so two moves never wait on each other. A missing balance row reads
	 * as zero, whatever the backend leaves in the struct. */
	struct ledger_balance db = {0}, cb = {0};
	bool dr_first = strcmp(dr->id, cr->id) < 0;
	enum store_status st = balance_lock(tx, dr_first ? dr->id : cr->id, code,
					    dr_first ? &db : &cb);
	if (st == STORE_OK)
		st = balance_lock(tx, dr_first ? cr->id : dr->id, code, dr_first ? &cb : &db);
	if (st != STORE_OK)
		return st;
	*lr = ledger_apply(op, amount, &db, dr->flags, &cb);
	if (*lr != LEDGER_OK)
		return STORE_OK;
	struct store_transfer t = {.amount_minor = amount, .created_at = now};
	if (!uuid_v7(t.id))
		return STORE_FAIL;
	snprintf(t.op, sizeof t.op, "%s", ledger_op_name(op));
	snprintf(t.pending_id, sizeof t.pending_id, "%s", pending_id ? pending_id : "");
	memcpy(t.debit_account_id, dr->id, sizeof t.debit_account_id);
	memcpy(t.credit_account_id, cr->id, sizeof t.credit_account_id);
	snprintf(t.currency, sizeof t.currency, "%s", code);
	snprintf(t.session_id, sizeof t.session_id, "%s", session_id ? session_id : "");
	snprintf(t.kind, sizeof t.kind, "%s", kind);
	if ((st = STORE_CALL(tx, transfer_insert, &t)) != STORE_OK ||
	    (st = STORE_CALL(tx, balance_put, dr->id, code, &db)) != STORE_OK ||
	    (st = STORE_CALL(tx, balance_put, cr->id, code, &cb)) != STORE_OK)
		return st;
	memcpy(out_id, t.id, UUID_STR_LEN + 1);
	return STORE_OK;
}

enum store_status svc_system_account(struct store_tx *tx, const char *tenant_id,
				     const char *code, struct store_account *out)
{
	enum store_status st = STORE_CALL(tx, account_get_system, tenant_id, code, out);
	if (st != STORE_NOT_FOUND)
		return st;
	memset(out, 0, sizeof *out);
	if (!uuid_v7(out->id))
		return STORE_FAIL;
	snprintf(out->tenant_id, sizeof out->tenant_id, "%s", tenant_id);
	snprintf(out->kind, sizeof out->kind, "system");
	snprintf(out->code, sizeof out->code, "%s", code);
	out->created_at = svc_now();
	return STORE_CALL(tx, account_insert, out);
}

/* ---- clients ------------------------------------------------------------ */

/* ---- verification --------------------------------------------------------- */

const char *svc_verification_name(enum svc_verification v)
{
	switch (v) {
#define X(e, value, name) \
	case e:           \
		return name;
		SVC_VERIFICATIONS
#undef X
	}
	return "APPROVED";
}

enum svc_verification svc_verification_sandbox(const char *tax_id)
{
	char last = 0;
	for (const char *p = tax_id ? tax_id : ""; *p; p++)
		if (*p >= '0' && *p <= '9')
			last = *p;
	return last == '1'   ? SVC_VERIFICATION_NOT_STARTED
	       : last == '2' ? SVC_VERIFICATION_RFI
	       : last == '3' ? SVC_VERIFICATION_FINAL_REJECTION
			     : SVC_VERIFICATION_APPROVED;
}

void svc_verification_key(const char *client_id, char key[64])
{
	snprintf(key, 64, "verification:%s", client_id);
}

enum store_status svc_verification_read(struct store_tx *tx, const struct svc_settings *pre,
					const char *tenant_id, const char *client_id,
					enum svc_verification *out)
{
	char key[64];
	svc_verification_key(client_id, key);
	int64_t v;
	enum store_status st = svc_setting(tx, pre, tenant_id, key, &v);
	*out = SVC_VERIFICATION_APPROVED;
	if (st == STORE_NOT_FOUND)
		return STORE_OK;
	if (st != STORE_OK)
		return st;
	switch (v) {
#define X(e, value, name) \
	case value:       \
		*out = e; \
		return STORE_OK;
		SVC_VERIFICATIONS
#undef X
	}
	/* A value this build does not know: not approved. */
	*out = SVC_VERIFICATION_FINAL_REJECTION;
	return STORE_OK;
}

struct verification_arg {
	const struct auth *a;
	const char *client;
	enum svc_verification *out;
};

static enum store_status verification_get_tx(struct store_tx *tx, void *arg)
{
	struct verification_arg *g = arg;
	struct store_client cl;
	enum store_status st = STORE_CALL(tx, client_get, g->a->tenant_id, g->client, &cl);
	if (st != STORE_OK)
		return st;
	return svc_verification_read(tx, NULL, g->a->tenant_id, g->client, g->out);
}

enum err svc_verification_get(struct service *s, const struct auth *a, const char *client_id,
			      enum svc_verification *out)
{
	struct verification_arg g = {a, client_id, out};
	enum store_status st = store_run(s->store, false, verification_get_tx, &g);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

/* ---- clients ------------------------------------------------------------------ */

struct client_arg {
	const struct auth *a;
	const char *display_name;
	const struct svc_customer *customer;
	struct store_client client;
};

static enum store_status client_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				       const void **result)
{
	struct client_arg *c = arg;
	int64_t now = svc_now();
	struct store_account acct = {.flags = LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS,
				     .created_at = now};
	memset(&c->client, 0, sizeof c->client);
	if (!uuid_v7(c->client.id) || !uuid_v7(acct.id))
		return STORE_FAIL;
	memcpy(c->client.tenant_id, c->a->tenant_id, sizeof c->client.tenant_id);
	snprintf(c->client.display_name, sizeof c->client.display_name, "%s", c->display_name);
	memcpy(c->client.default_account_id, acct.id, sizeof acct.id);
	c->client.created_at = now;
	memcpy(acct.tenant_id, c->a->tenant_id, sizeof acct.tenant_id);
	memcpy(acct.client_id, c->client.id, sizeof acct.client_id);
	snprintf(acct.kind, sizeof acct.kind, "client");
	enum store_status st = STORE_CALL(tx, client_insert, &c->client);
	if (st == STORE_OK)
		st = STORE_CALL(tx, account_insert, &acct);
	if (st == STORE_OK && c->customer) {
		/* A Lumx customer: its document, its verification and the
		 * documented limits. */
		char k1[64], k2[64], k3[64], kv[64];
		svc_limit_keys(c->client.id, k1, k2, k3);
		svc_verification_key(c->client.id, kv);
		st = STORE_CALL(tx, ext_put, c->a->tenant_id, c->client.id, "lumx", c->customer->ext);
		if (st == STORE_OK)
			st = STORE_CALL(tx, setting_put, c->a->tenant_id, kv, c->customer->verification);
		if (st == STORE_OK)
			st = STORE_CALL(tx, setting_put, c->a->tenant_id, k1, SVC_LIMIT_PER_TX_DEFAULT);
		if (st == STORE_OK)
			st = STORE_CALL(tx, setting_put, c->a->tenant_id, k2, SVC_LIMIT_DAILY_DEFAULT);
		if (st == STORE_OK)
			st = STORE_CALL(tx, setting_put, c->a->tenant_id, k3, SVC_LIMIT_MONTHLY_DEFAULT);
	}
	*result = &c->client;
	return st;
}

void svc_client_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
		       const char *display_name, const struct svc_customer *customer,
		       const struct svc_render *r, struct svc_answer *out)
{
	struct client_arg c = {.a = a, .display_name = display_name, .customer = customer};
	svc_commit(s, a, idem, client_effect, &c, ERR_OK, r, out);
}

struct get_arg {
	const struct auth *a;
	const char *id;
	void *out;
};

static enum store_status client_get_tx(struct store_tx *tx, void *arg)
{
	struct get_arg *g = arg;
	return STORE_CALL(tx, client_get, g->a->tenant_id, g->id, g->out);
}

static enum err get_result(enum store_status st)
{
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

enum err svc_client_get(struct service *s, const struct auth *a, const char *id,
			struct store_client *out)
{
	struct get_arg g = {a, id, out};
	return get_result(store_run(s->store, false, client_get_tx, &g));
}

/* ---- accounts ----------------------------------------------------------- */

static enum store_status account_view(struct store_tx *tx, struct svc_account_view *v)
{
	static const enum currency shown[2] = {CUR_USDC, CUR_USDT};
	v->n = 0;
	for (int i = 0; i < 2; i++) {
		v->balances[i].currency = shown[i];
		enum store_status st = STORE_CALL(tx, balance_get, v->account.id,
						  money_currency_code(shown[i]), &v->balances[i].b);
		if (st != STORE_OK && st != STORE_NOT_FOUND)
			return st;
		if (st == STORE_NOT_FOUND)
			v->balances[i].b = (struct ledger_balance){0};
		v->n++;
	}
	return STORE_OK;
}

struct account_arg {
	const struct auth *a;
	const char *client_id;
	struct svc_account_view view;
};

static enum store_status account_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
					const void **result)
{
	struct account_arg *c = arg;
	struct store_client client;
	enum store_status st = STORE_CALL(tx, client_get, c->a->tenant_id, c->client_id, &client);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		o->field = SVC_FIELD_CLIENT;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	struct store_account *acct = &c->view.account;
	memset(&c->view, 0, sizeof c->view);
	if (!uuid_v7(acct->id))
		return STORE_FAIL;
	memcpy(acct->tenant_id, c->a->tenant_id, sizeof acct->tenant_id);
	memcpy(acct->client_id, client.id, sizeof acct->client_id);
	snprintf(acct->kind, sizeof acct->kind, "client");
	acct->flags = LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
	acct->created_at = svc_now();
	if ((st = STORE_CALL(tx, account_insert, acct)) != STORE_OK)
		return st;
	if ((st = account_view(tx, &c->view)) != STORE_OK)
		return st;
	*result = &c->view;
	return STORE_OK;
}

void svc_account_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const char *client_id, const struct svc_render *r, struct svc_answer *out)
{
	struct account_arg c = {.a = a, .client_id = client_id};
	svc_commit(s, a, idem, account_effect, &c, ERR_OK, r, out);
}

static enum store_status account_get_tx(struct store_tx *tx, void *arg)
{
	struct get_arg *g = arg;
	struct svc_account_view *v = g->out;
	enum store_status st = STORE_CALL(tx, account_get, g->a->tenant_id, g->id, &v->account);
	if (st != STORE_OK)
		return st;
	return account_view(tx, v);
}

enum err svc_account_get(struct service *s, const struct auth *a, const char *id,
			 struct svc_account_view *out)
{
	memset(out, 0, sizeof *out);
	struct get_arg g = {a, id, out};
	return get_result(store_run(s->store, false, account_get_tx, &g));
}

/* ---- deposits ----------------------------------------------------------- */

struct deposit_arg {
	const struct auth *a;
	const char *account_id;
	enum currency cur;
	int64_t amount;
	struct store_transfer transfer;
};

static enum store_status deposit_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
					const void **result)
{
	struct deposit_arg *d = arg;
	struct store_account acct, funding;
	enum store_status st = STORE_CALL(tx, account_get, d->a->tenant_id, d->account_id, &acct);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		o->field = SVC_FIELD_ACCOUNT;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	if ((st = svc_system_account(tx, d->a->tenant_id, "sandbox_funding", &funding)) != STORE_OK)
		return st;
	enum ledger_result lr;
	int64_t now = svc_now();
	char id[UUID_STR_LEN + 1] = "";
	st = svc_ledger_move(tx, LEDGER_OP_POSTED, &funding, &acct, d->cur, d->amount, NULL, NULL,
			     "deposit", now, id, &lr);
	if (st != STORE_OK)
		return st;
	if (lr != LEDGER_OK) {
		/* Only overflow can refuse a credit: a balance past int64. */
		o->err = ERR_AMOUNT_TOO_LARGE;
		o->field = SVC_FIELD_AMOUNT;
		return STORE_OK;
	}
	memset(&d->transfer, 0, sizeof d->transfer);
	memcpy(d->transfer.id, id, sizeof d->transfer.id);
	snprintf(d->transfer.kind, sizeof d->transfer.kind, "deposit");
	memcpy(d->transfer.credit_account_id, acct.id, sizeof acct.id);
	memcpy(d->transfer.debit_account_id, funding.id, sizeof funding.id);
	snprintf(d->transfer.currency, sizeof d->transfer.currency, "%s",
		 money_currency_code(d->cur));
	d->transfer.amount_minor = d->amount;
	d->transfer.created_at = now;
	*result = &d->transfer;
	return STORE_OK;
}

void svc_deposit_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const char *account_id, enum currency cur, int64_t amount_minor,
			const struct svc_render *r, struct svc_answer *out)
{
	struct deposit_arg d = {.a = a, .account_id = account_id, .cur = cur,
				.amount = amount_minor};
	svc_commit(s, a, idem, deposit_effect, &d, ERR_OK, r, out);
}
