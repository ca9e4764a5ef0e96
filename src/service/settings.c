/*
 * settings.c - reads of the event log and the sandbox's book, and the
 * operator's settings: FX rates and tenants' fee schedules.
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
