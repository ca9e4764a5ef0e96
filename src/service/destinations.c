/*
 * destinations.c - saved withdrawal destinations.
 *
 * The route owner is the client that owns the account named at creation;
 * sessions may pay only to destinations of their own account's client.
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dest_arg {
	const struct auth *a;
	const char *account_id;
	const struct destination *d;
	const char *canonical;
	const char *ext;
	struct store_destination rec;
};

static enum store_status dest_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				     const void **result)
{
	struct dest_arg *c = arg;
	struct store_account acct;
	enum store_status st = STORE_CALL(tx, account_get, c->a->tenant_id, c->account_id, &acct);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		o->field = SVC_FIELD_ACCOUNT;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	const char *where = NULL;
	if (dest_route_check(c->d, &where) != ERR_OK) {
		o->err = ERR_UNSUPPORTED_ROUTE;
		o->field = SVC_FIELD_DESTINATION_COUNTRY;
		return STORE_OK;
	}
	struct store_destination *r = &c->rec;
	free(r->body);
	memset(r, 0, sizeof *r);
	if (!uuid_v7(r->id))
		return STORE_FAIL;
	memcpy(r->tenant_id, c->a->tenant_id, sizeof r->tenant_id);
	memcpy(r->client_id, acct.client_id, sizeof r->client_id);
	memcpy(r->account_id, acct.id, sizeof r->account_id);
	snprintf(r->method, sizeof r->method, "%s", dest_method_name(c->d->method));
	snprintf(r->fiat_rail, sizeof r->fiat_rail, "%s", dest_rail_name(c->d->rail));
	snprintf(r->currency, sizeof r->currency, "%s", money_currency_code(c->d->currency));
	r->body = (char *)c->canonical; /* borrowed for the insert and render */
	r->created_at = svc_now();
	st = STORE_CALL(tx, destination_insert, r);
	if (st == STORE_OK && c->ext)
		st = STORE_CALL(tx, ext_put, c->a->tenant_id, r->id, "lumx", c->ext);
	*result = r;
	return st;
}

void svc_destination_create(struct service *s, const struct auth *a,
			    const struct svc_idem *idem, const char *account_id,
			    const struct destination *d, const char *canonical, const char *ext,
			    const struct svc_render *r, struct svc_answer *out)
{
	struct dest_arg c = {.a = a, .account_id = account_id, .d = d, .canonical = canonical,
			     .ext = ext};
	svc_commit(s, a, idem, dest_effect, &c, ERR_OK, r, out);
	/* rec.body was borrowed from canonical; nothing to free. */
}

struct dest_get_arg {
	const struct auth *a;
	const char *id;
	struct store_destination *out;
};

static enum store_status dest_get_tx(struct store_tx *tx, void *arg)
{
	struct dest_get_arg *g = arg;
	return STORE_CALL(tx, destination_get, g->a->tenant_id, g->id, g->out);
}

enum err svc_destination_get(struct service *s, const struct auth *a, const char *id,
			     struct store_destination *out)
{
	struct dest_get_arg g = {a, id, out};
	enum store_status st = store_run(s->store, false, dest_get_tx, &g);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

struct dest_list_arg {
	const struct auth *a;
	const char *client_id;
	int limit;
	void (*each)(void *, const struct store_destination *);
	void *arg;
};

static void dest_row(void *arg, const void *row)
{
	struct dest_list_arg *l = arg;
	l->each(l->arg, row);
}

static enum store_status dest_list_tx(struct store_tx *tx, void *arg)
{
	struct dest_list_arg *l = arg;
	return STORE_CALL(tx, destination_list, l->a->tenant_id, l->client_id, l->limit, dest_row, l);
}

enum err svc_destination_list(struct service *s, const struct auth *a, const char *client_id,
			      int limit, void (*each)(void *arg, const struct store_destination *),
			      void *arg)
{
	/* One read transaction: SQLite WAL reads never meet BUSY, so rows
	 * are never handed out twice by a retry. */
	struct dest_list_arg l = {a, client_id, limit, each, arg};
	enum store_status st = s->store->ops->run(s->store, false, dest_list_tx, &l);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

struct ext_arg {
	const struct auth *a;
	const char *id;
	char **out;
};

static enum store_status ext_tx(struct store_tx *tx, void *arg)
{
	struct ext_arg *x = arg;
	return STORE_CALL(tx, ext_get, x->a->tenant_id, x->id, "lumx", x->out);
}

enum err svc_ext_get(struct service *s, const struct auth *a, const char *resource_id, char **out)
{
	*out = NULL;
	struct ext_arg x = {a, resource_id, out};
	enum store_status st = store_run(s->store, false, ext_tx, &x);
	if (st != STORE_OK) {
		free(*out);
		*out = NULL;
	}
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}
