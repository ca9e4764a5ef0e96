/*
 * settings.c - reads of the event log and the sandbox's book, and the
 * operator's settings: FX rates and tenants' fee schedules.
 */
#include "service/internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

struct event_list_arg {
	const struct auth *a;
	const char *resource;
	int64_t after;
	int limit;
	struct store_event rows[LIMIT_PAGE_SIZE_MAX + 1];
	int n;
};

static void event_row(void *arg, const void *row)
{
	struct event_list_arg *l = arg;
	if (l->n >= LIMIT_PAGE_SIZE_MAX + 1)
		return;
	struct store_event *e = &l->rows[l->n];
	*e = *(const struct store_event *)row;
	e->data = strdup(e->data ? e->data : "{}"); /* the row's text is borrowed */
	if (e->data)
		l->n++;
}

static void event_rows_free(struct event_list_arg *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->rows[i].data);
	l->n = 0;
}

static enum store_status event_list_tx(struct store_tx *tx, void *arg)
{
	struct event_list_arg *l = arg;
	event_rows_free(l);
	return STORE_CALL(tx, event_list, l->a->tenant_id, l->resource, l->after, l->limit + 1,
			  event_row, l);
}

enum err svc_event_list(struct service *s, const struct auth *a, const char *resource_id,
			int64_t after_seq, int limit,
			void (*each)(void *arg, const struct store_event *), void *arg,
			bool *more)
{
	if (limit < 1 || limit > LIMIT_PAGE_SIZE_MAX)
		return ERR_INVALID_QUERY;
	struct event_list_arg *l = calloc(1, sizeof *l);
	if (!l)
		return ERR_INTERNAL;
	l->a = a;
	l->resource = resource_id;
	l->after = after_seq;
	l->limit = limit;
	enum store_status st = store_run(s->store, false, event_list_tx, l);
	if (st == STORE_OK) {
		*more = l->n > limit;
		for (int i = 0; i < l->n && i < limit; i++)
			each(arg, &l->rows[i]);
	}
	event_rows_free(l);
	free(l);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

struct payout_list_arg {
	const struct auth *a;
	const char *session;
	void (*each)(void *, const struct store_payout *);
	void *arg;
};

static void payout_row(void *arg, const void *row)
{
	struct payout_list_arg *l = arg;
	l->each(l->arg, row);
}

static enum store_status payout_list_tx(struct store_tx *tx, void *arg)
{
	struct payout_list_arg *l = arg;
	return STORE_CALL(tx, payout_list, l->a->tenant_id, l->session, payout_row, l);
}

enum err svc_payout_list(struct service *s, const struct auth *a, const char *session_id,
			 void (*each)(void *arg, const struct store_payout *), void *arg)
{
	/* A read transaction is never retried midway after rows were handed
	 * out: SQLite reads do not meet BUSY in WAL mode. */
	struct payout_list_arg l = {a, session_id, each, arg};
	enum store_status st = s->store->ops->run(s->store, false, payout_list_tx, &l);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

struct fx_arg {
	enum currency source, target;
	const struct fx_rate *rate;
};

static enum store_status fx_tx(struct store_tx *tx, void *arg)
{
	struct fx_arg *f = arg;
	return STORE_CALL(tx, fx_put, money_currency_code(f->source), money_currency_code(f->target),
			  f->rate->value, f->rate->scale, svc_now());
}

enum err svc_fx_set(struct service *s, enum currency source, enum currency target,
		    const struct fx_rate *rate)
{
	if (!money_is_stablecoin(source) || target == CUR_NONE || money_is_stablecoin(target))
		return ERR_UNSUPPORTED_CURRENCY;
	if (rate->value <= 0)
		return ERR_INVALID_VALUE;
	struct fx_arg f = {source, target, rate};
	enum store_status st = store_run(s->store, true, fx_tx, &f);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

struct fees_arg {
	const char *tenant;
	int32_t bps;
	enum currency asset;
	const char *network;
	int64_t fee;
	bool missing;
};

static enum store_status fees_tx(struct store_tx *tx, void *arg)
{
	struct fees_arg *f = arg;
	struct store_tenant t;
	f->missing = false; /* outputs are rewritten on every run */
	enum store_status st = STORE_CALL(tx, tenant_get, f->tenant, &t);
	if (st == STORE_NOT_FOUND) {
		f->missing = true;
		return STORE_ABORT;
	}
	if (st != STORE_OK)
		return st;
	if (f->bps >= 0 && (st = STORE_CALL(tx, setting_put, f->tenant, "platform_bps", f->bps)) != STORE_OK)
		return st;
	if (f->asset != CUR_NONE) {
		char key[64];
		snprintf(key, sizeof key, "network_fee:%s:%s", money_currency_code(f->asset), f->network);
		if ((st = STORE_CALL(tx, setting_put, f->tenant, key, f->fee)) != STORE_OK)
			return st;
	}
	return STORE_OK;
}

enum err svc_fees_set(struct service *s, const char *tenant_id, int32_t platform_bps,
		      enum currency asset, const char *network, int64_t network_fee_minor)
{
	if (platform_bps > 10000)
		return ERR_INVALID_VALUE;
	if (asset != CUR_NONE && (!money_is_stablecoin(asset) || network_fee_minor < 0 || !network ||
				  !*network || strlen(network) > 16))
		return ERR_INVALID_VALUE;
	struct fees_arg f = {tenant_id, platform_bps, asset, network, network_fee_minor, false};
	enum store_status st = store_run(s->store, true, fees_tx, &f);
	if (f.missing)
		return ERR_NOT_FOUND;
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

/* ---- settings read ahead ---------------------------------------------------- */

void svc_settings_want(struct svc_settings *c, const char *key)
{
	/* Our own use cases want a fixed handful: more is our bug. */
	assert(c->n < LIMIT_SETTINGS_MANY && !c->fetched);
	snprintf(c->keys[c->n], sizeof c->keys[c->n], "%s", key);
	c->n++;
}

enum store_status svc_settings_fetch(struct store_tx *tx, const char *tenant_id,
				     struct svc_settings *c)
{
	const char *keys[LIMIT_SETTINGS_MANY];
	for (int i = 0; i < c->n; i++)
		keys[i] = c->keys[i];
	enum store_status st =
		STORE_CALL(tx, setting_get_many, tenant_id, keys, c->n, c->values, c->found);
	c->fetched = st == STORE_OK;
	return st;
}

enum store_status svc_setting(struct store_tx *tx, const struct svc_settings *c,
			      const char *tenant_id, const char *key, int64_t *out)
{
	for (int i = 0; c && c->fetched && i < c->n; i++) {
		if (strcmp(c->keys[i], key) != 0)
			continue;
		if (!c->found[i])
			return STORE_NOT_FOUND;
		*out = c->values[i];
		return STORE_OK;
	}
	return STORE_CALL(tx, setting_get, tenant_id, key, out);
}

/* ---- limits ---------------------------------------------------------------- */

void svc_limit_keys(const char *client_id, char tx_key[64], char day_key[64],
		    char month_key[64])
{
	snprintf(tx_key, 64, "limit_tx:%s", client_id);
	snprintf(day_key, 64, "limit_day:%s", client_id);
	snprintf(month_key, 64, "limit_month:%s", client_id);
}

/* One limit setting, or SVC_LIMIT_NONE when it was never set. */
static enum store_status limit_get(struct store_tx *tx, const struct svc_settings *pre,
				   const char *tenant_id, const char *key, int64_t *out)
{
	enum store_status st = svc_setting(tx, pre, tenant_id, key, out);
	if (st == STORE_NOT_FOUND) {
		*out = SVC_LIMIT_NONE;
		return STORE_OK;
	}
	return st;
}

enum store_status svc_limits_read(struct store_tx *tx, const struct svc_settings *pre,
				  const char *tenant_id, const char *client_id, bool for_check,
				  struct svc_limits *out)
{
	char k1[64], k2[64], k3[64];
	svc_limit_keys(client_id, k1, k2, k3);
	enum store_status st = limit_get(tx, pre, tenant_id, k1, &out->per_transaction_minor);
	if (st == STORE_OK)
		st = limit_get(tx, pre, tenant_id, k2, &out->daily_minor);
	if (st == STORE_OK)
		st = limit_get(tx, pre, tenant_id, k3, &out->monthly_minor);
	if (st != STORE_OK)
		return st;
	/* Checking a creation against no limit needs no total: skip the sum,
	 * it runs inside the write lock of every session creation. */
	out->used_today_minor = out->used_month_minor = 0;
	/* The sum and the insert it allows must be one step per client for
	 * every writer of the database, not only this process's committer:
	 * two nodes could otherwise both see room for one more session. */
	if (for_check && (out->daily_minor != SVC_LIMIT_NONE || out->monthly_minor != SVC_LIMIT_NONE))
		st = STORE_CALL(tx, client_lock, tenant_id, client_id);
	if (st != STORE_OK)
		return st;
	int64_t now = svc_now();
	if (!for_check || out->daily_minor != SVC_LIMIT_NONE)
		st = STORE_CALL(tx, session_sum, tenant_id, client_id, now - now % 86400,
				&out->used_today_minor);
	if (st == STORE_OK && (!for_check || out->monthly_minor != SVC_LIMIT_NONE))
		st = STORE_CALL(tx, session_sum, tenant_id, client_id, clock_month_start(now),
				&out->used_month_minor);
	return st;
}

struct limits_arg {
	const struct auth *a;
	const char *client;
	int64_t per_tx, daily, monthly;
	struct svc_limits *out;
};

static enum store_status limits_get_tx(struct store_tx *tx, void *arg)
{
	struct limits_arg *l = arg;
	struct store_client cl;
	enum store_status st = STORE_CALL(tx, client_get, l->a->tenant_id, l->client, &cl);
	if (st != STORE_OK)
		return st;
	return svc_limits_read(tx, NULL, l->a->tenant_id, l->client, false, l->out);
}

enum err svc_limits_get(struct service *s, const struct auth *a, const char *client_id,
			struct svc_limits *out)
{
	struct limits_arg l = {a, client_id, 0, 0, 0, out};
	enum store_status st = store_run(s->store, false, limits_get_tx, &l);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

static enum store_status limits_set_tx(struct store_tx *tx, void *arg)
{
	struct limits_arg *l = arg;
	struct store_client cl;
	enum store_status st = STORE_CALL(tx, client_get, l->a->tenant_id, l->client, &cl);
	if (st != STORE_OK)
		return st;
	char k1[64], k2[64], k3[64];
	svc_limit_keys(l->client, k1, k2, k3);
	if (l->per_tx >= 0 && (st = STORE_CALL(tx, setting_put, l->a->tenant_id, k1, l->per_tx)) != STORE_OK)
		return st;
	if (l->daily >= 0 && (st = STORE_CALL(tx, setting_put, l->a->tenant_id, k2, l->daily)) != STORE_OK)
		return st;
	if (l->monthly >= 0 &&
	    (st = STORE_CALL(tx, setting_put, l->a->tenant_id, k3, l->monthly)) != STORE_OK)
		return st;
	return STORE_OK;
}

enum err svc_limits_set(struct service *s, const struct auth *a, const char *client_id,
			int64_t per_transaction_minor, int64_t daily_minor, int64_t monthly_minor)
{
	struct limits_arg l = {a, client_id, per_transaction_minor, daily_minor, monthly_minor, NULL};
	enum store_status st = store_run(s->store, true, limits_set_tx, &l);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

/* ---- exchange rates, partner fees ------------------------------------------ */

struct rate_arg {
	const struct auth *a;
	enum currency source, target;
	bool locked;
	const char *time_lock;
	int64_t lock_s;
	struct store_exchange_rate r;
};

static enum store_status rate_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				     const void **result)
{
	struct rate_arg *c = arg;
	struct fx_rate rate;
	enum store_status st = svc_fx_rate(tx, c->source, c->target, &rate);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_UNSUPPORTED_ROUTE;
		o->field = SVC_FIELD_TARGET_CURRENCY;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	struct store_exchange_rate *r = &c->r;
	memset(r, 0, sizeof *r);
	if (!uuid_v7(r->id))
		return STORE_FAIL;
	memcpy(r->tenant_id, c->a->tenant_id, sizeof r->tenant_id);
	snprintf(r->type, sizeof r->type, "%s", c->locked ? "LOCKED" : "FLOATING");
	snprintf(r->source, sizeof r->source, "%s", money_currency_code(c->source));
	snprintf(r->target, sizeof r->target, "%s", money_currency_code(c->target));
	r->value = rate.value;
	r->scale = rate.scale;
	snprintf(r->time_lock, sizeof r->time_lock, "%s", c->locked ? c->time_lock : "");
	r->created_at = svc_now();
	r->expires_at = c->locked ? r->created_at + c->lock_s : 0;
	*result = r;
	return STORE_CALL(tx, exchange_rate_insert, r);
}

void svc_exchange_rate_create(struct service *s, const struct auth *a,
			      const struct svc_idem *idem, enum currency source,
			      enum currency target, bool locked, const char *time_lock,
			      int64_t time_lock_s, const struct svc_render *r,
			      struct svc_answer *out)
{
	struct rate_arg c = {.a = a, .source = source, .target = target, .locked = locked,
			     .time_lock = time_lock, .lock_s = time_lock_s};
	svc_commit(s, a, idem, rate_effect, &c, ERR_OK, r, out);
}

struct pfee_arg {
	const struct auth *a;
	const char *name;
	int32_t bps;
	int64_t flat;
	bool dflt;
	struct store_partner_fee f;
};

static enum store_status pfee_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				     const void **result)
{
	struct pfee_arg *c = arg;
	struct store_partner_fee *f = &c->f;
	memset(f, 0, sizeof *f);
	if (!uuid_v7(f->id))
		return STORE_FAIL;
	memcpy(f->tenant_id, c->a->tenant_id, sizeof f->tenant_id);
	snprintf(f->name, sizeof f->name, "%s", c->name ? c->name : "");
	f->bps = c->bps;
	f->flat_minor = c->flat;
	f->is_default = c->dflt;
	f->created_at = svc_now();
	*result = f;
	return STORE_CALL(tx, partner_fee_insert, f);
}

void svc_partner_fee_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			    const char *name, int32_t bps, int64_t flat_minor, bool is_default,
			    const struct svc_render *r, struct svc_answer *out)
{
	struct pfee_arg c = {.a = a, .name = name, .bps = bps, .flat = flat_minor, .dflt = is_default};
	svc_commit(s, a, idem, pfee_effect, &c, ERR_OK, r, out);
}
