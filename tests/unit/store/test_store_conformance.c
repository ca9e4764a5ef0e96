/*
 * test_store_conformance.c - one suite, both backends (STYLE §4: "one
 * conformance suite run against both"). Every test goes through struct
 * store_ops (and, where the rule lives above the store, the service), on
 * two store instances opened on one database: two nodes, each with its
 * own committer and read pool (on SQLite, two handles on one file). What
 * one writes the other must read, and the races are between real
 * committers.
 *
 * Backend: OFFRAMP_TEST_STORE unset runs each test on a scratch SQLite
 * file; set to a PostgreSQL admin URL (postgres://offramp@127.0.0.1:PORT/
 * postgres, from scripts/pg-cluster.sh) each test gets a fresh database,
 * made with CREATE DATABASE on the admin connection and dropped at
 * teardown. The program prints which backend it ran on.
 *
 * Checked: every op at least once (the _Static_assert on the size of
 * struct store_ops makes a new op fail the build until it has a test
 * here); tenancy on every get and list that takes a tenant; event paging
 * by after_seq; idempotency conflicts and expiry; lease claims and their
 * release by owner prefix; a locked exchange rate used once. Races: no
 * lost balance update; exactly as many debits as the balance covers; a
 * reader paging events while both nodes write sees each committed event
 * once; no session leased twice; one winner per idempotency key and per
 * locked rate.
 *
 * Writes follow store.h's rule: a write fn is re-runnable and runs on its
 * store's committer thread, so it never asserts (a cmocka failure would
 * longjmp across threads). It records what each call answered and the
 * test asserts once store_run has returned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "api/api.h"
#include "base/clock.h"
#include "scratch_db.h"
#include "service/internal.h"
#include "store/store.h"

/* Every op of struct store_ops (with its name) has a test below: adding
 * one changes this count, and the suite must say how the new op behaves. */
_Static_assert(sizeof(struct store_ops) == 90 * sizeof(void *),
	       "a new store op needs a conformance test (then update this count)");

/* ---- backends ----------------------------------------------------------- */

static const char *cf_admin; /* OFFRAMP_TEST_STORE: PostgreSQL admin URL; NULL: SQLite */
static int cf_serial;

/* One test's database and the two nodes on it. */
struct cf {
	char spec[512];
	char dbname[64];
	struct store *s[2];
	struct service svc[2];
};

static void cf_admin_sql(const char *sql)
{
	PGconn *db = PQconnectdb(cf_admin);
	if (PQstatus(db) != CONNECTION_OK)
		fail_msg("admin connect %s: %s", cf_admin, PQerrorMessage(db));
	PGresult *r = PQexec(db, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(db);
}

/* The admin URL with its database replaced: scheme://authority/db?params. */
static void cf_db_url(const char *admin, const char *db, char *out, size_t cap)
{
	const char *auth = strstr(admin, "://");
	auth = auth ? auth + 3 : admin;
	const char *slash = strchr(auth, '/');
	const char *query = strchr(auth, '?');
	if (slash && query && slash > query)
		slash = NULL;
	size_t head = slash ? (size_t)(slash - admin)
		      : query ? (size_t)(query - admin)
			      : strlen(admin);
	snprintf(out, cap, "%.*s/%s%s", (int)head, admin, db, query ? query : "");
}

static int cf_setup(void **state)
{
	struct cf *c = calloc(1, sizeof *c);
	assert_non_null(c);
	int n = ++cf_serial;
	if (cf_admin) {
		char sql[128];
		snprintf(c->dbname, sizeof c->dbname, "offramp_conf_%d_%d", (int)getpid(), n);
		snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", c->dbname);
		cf_admin_sql(sql);
		cf_db_url(cf_admin, c->dbname, c->spec, sizeof c->spec);
	} else {
		snprintf(c->spec, sizeof c->spec, "/tmp/offramp-conf-%d-%d.db", (int)getpid(), n);
		scratch_db_remove(c->spec);
	}
	for (int i = 0; i < 2; i++) {
		const char *err = NULL;
		c->s[i] = store_open(c->spec, &err);
		if (!c->s[i])
			fail_msg("store_open %s: %s", c->spec, err ? err : "?");
		assert_string_equal(c->s[i]->ops->name, cf_admin ? "postgresql" : "sqlite");
		c->svc[i] = (struct service){.store = c->s[i], .fees = fees_default(),
					     .sandbox = true,
					     .destination_read = api_destination_read};
	}
	*state = c;
	return 0;
}

static int cf_teardown(void **state)
{
	struct cf *c = *state;
	for (int i = 0; i < 2; i++)
		store_close(c->s[i]);
	if (cf_admin) {
		char sql[128];
		snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", c->dbname);
		cf_admin_sql(sql);
	} else {
		scratch_db_remove(c->spec);
	}
	free(c);
	return 0;
}

/* ---- recording inside a transaction, asserting after it ------------------ */

#define CF_STEPS_MAX 96

struct cf_steps {
	int n;
	struct {
		const char *what;
		enum store_status st;
	} s[CF_STEPS_MAX];
};

/* Inside a tx: keep what the call named `what` answered; returns it. */
static enum store_status rec(struct cf_steps *p, const char *what, enum store_status st)
{
	if (p->n < CF_STEPS_MAX) {
		p->s[p->n].what = what;
		p->s[p->n].st = st;
	}
	p->n++;
	return st;
}

/* After the tx: the call named what answered want. */
static void expect(const struct cf_steps *p, const char *what, enum store_status want)
{
	assert_true(p->n <= CF_STEPS_MAX);
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->s[i].what, what) != 0)
			continue;
		if (p->s[i].st != want)
			fail_msg("%s: %s, want %s", what, store_status_name(p->s[i].st),
				 store_status_name(want));
		return;
	}
	fail_msg("%s: never ran", what);
}

static void run_ok(struct store *s, bool write, store_tx_fn fn, void *arg)
{
	enum store_status st = store_run(s, write, fn, arg);
	if (st != STORE_OK)
		fail_msg("transaction: %s", store_status_name(st));
}

/* Rows handed to a list's callback: ids in order, and a number each. */
#define CF_ROWS_MAX 512
struct cf_rows {
	int n;
	store_id id[CF_ROWS_MAX];
	int64_t num[CF_ROWS_MAX];
	char text[CF_ROWS_MAX][24]; /* a status, a body's start */
};

static void rows_add(struct cf_rows *r, const char *id, int64_t num, const char *text)
{
	if (r->n < CF_ROWS_MAX) {
		snprintf(r->id[r->n], sizeof r->id[0], "%s", id);
		r->num[r->n] = num;
		snprintf(r->text[r->n], sizeof r->text[0], "%s", text ? text : "");
	}
	r->n++;
}

static void row_session(void *arg, const void *row)
{
	const struct store_session *s = row;
	rows_add(arg, s->id, s->version, s->lease_owner);
}
static void row_event(void *arg, const void *row)
{
	const struct store_event *e = row;
	rows_add(arg, e->id, e->seq, e->data);
}
static void row_destination(void *arg, const void *row)
{
	const struct store_destination *d = row;
	rows_add(arg, d->id, 0, d->body);
}
static void row_approval(void *arg, const void *row)
{
	const struct store_approval *a = row;
	rows_add(arg, a->id, a->amount_minor, a->status);
}
static void row_payout(void *arg, const void *row)
{
	const struct store_payout *p = row;
	rows_add(arg, p->session_id, p->calls, p->outcome);
}
static void row_hook(void *arg, const void *row)
{
	const struct store_hook_endpoint *h = row;
	rows_add(arg, h->id, h->enabled, h->url);
}
static void row_delivery(void *arg, const void *row)
{
	const struct store_hook_delivery *d = row;
	char text[24];
	snprintf(text, sizeof text, "%s:%s", d->status, d->lease_owner);
	rows_add(arg, d->id, d->lease_until_ms, text);
}
static void row_attempt(void *arg, const void *row)
{
	const struct store_hook_attempt *a = row;
	rows_add(arg, a->id, a->attempt, a->error);
}
static void row_account(void *arg, const void *row)
{
	const struct store_account *a = row;
	rows_add(arg, a->id, a->flags, a->kind);
}
static void row_balance(void *arg, const void *row)
{
	const struct store_balance *b = row;
	rows_add(arg, b->account_id, ledger_net_posted(&b->b), b->currency);
}
static void row_transfer(void *arg, const void *row)
{
	const struct store_transfer *t = row;
	rows_add(arg, t->id, t->amount_minor, t->op);
}

static int rows_find(const struct cf_rows *r, const char *id)
{
	assert_true(r->n <= CF_ROWS_MAX);
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->id[i], id))
			return i;
	return -1;
}

static void new_id(store_id out) { assert_true(uuid_v7(out)); }

/* ---- a tenant's rows, made through the store ----------------------------- */

/* A tenant with a user, two clients with an account each, the system
 * account "holds" and a saved destination of the first client. */
struct cf_world {
	store_id tenant, principal, client, account, client2, account2, holds, dest;
};

static enum store_status world_tx(struct store_tx *tx, void *arg)
{
	const struct cf_world *w = arg;
	struct store_tenant t = {.created_at = 1000};
	memcpy(t.id, w->tenant, sizeof t.id);
	snprintf(t.name, sizeof t.name, "conformance");
	struct store_principal p = {.created_at = 1000};
	memcpy(p.id, w->principal, sizeof p.id);
	memcpy(p.tenant_id, w->tenant, sizeof p.tenant_id);
	snprintf(p.kind, sizeof p.kind, "user");
	enum store_status st;
	if ((st = STORE_CALL(tx, tenant_insert, &t)) != STORE_OK ||
	    (st = STORE_CALL(tx, principal_insert, &p)) != STORE_OK)
		return st;
	const char *clients[2][2] = {{w->client, w->account}, {w->client2, w->account2}};
	for (int i = 0; i < 2; i++) {
		struct store_client c = {.created_at = 1000 + i};
		snprintf(c.id, sizeof c.id, "%s", clients[i][0]);
		memcpy(c.tenant_id, w->tenant, sizeof c.tenant_id);
		snprintf(c.display_name, sizeof c.display_name, "client %d", i);
		snprintf(c.default_account_id, sizeof c.default_account_id, "%s", clients[i][1]);
		struct store_account a = {.flags = LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS,
					  .created_at = 1000 + i};
		snprintf(a.id, sizeof a.id, "%s", clients[i][1]);
		memcpy(a.tenant_id, w->tenant, sizeof a.tenant_id);
		snprintf(a.client_id, sizeof a.client_id, "%s", clients[i][0]);
		snprintf(a.kind, sizeof a.kind, "client");
		if ((st = STORE_CALL(tx, client_insert, &c)) != STORE_OK ||
		    (st = STORE_CALL(tx, account_insert, &a)) != STORE_OK)
			return st;
	}
	struct store_account h = {.created_at = 1000};
	memcpy(h.id, w->holds, sizeof h.id);
	memcpy(h.tenant_id, w->tenant, sizeof h.tenant_id);
	snprintf(h.kind, sizeof h.kind, "system");
	snprintf(h.code, sizeof h.code, "holds");
	struct store_destination d = {.created_at = 1000, .body = "{\"dest\":1}"};
	memcpy(d.id, w->dest, sizeof d.id);
	memcpy(d.tenant_id, w->tenant, sizeof d.tenant_id);
	memcpy(d.client_id, w->client, sizeof d.client_id);
	memcpy(d.account_id, w->account, sizeof d.account_id);
	snprintf(d.method, sizeof d.method, "bank_transfer");
	snprintf(d.fiat_rail, sizeof d.fiat_rail, "sepa_credit_transfer");
	snprintf(d.currency, sizeof d.currency, "EUR");
	if ((st = STORE_CALL(tx, account_insert, &h)) != STORE_OK)
		return st;
	return STORE_CALL(tx, destination_insert, &d);
}

static void world_make(struct store *s, struct cf_world *w)
{
	new_id(w->tenant);
	new_id(w->principal);
	new_id(w->client);
	new_id(w->account);
	new_id(w->client2);
	new_id(w->account2);
	new_id(w->holds);
	new_id(w->dest);
	run_ok(s, true, world_tx, w);
}

/* A session of w's first client as a create leaves it, with its hold id. */
static void session_fill(struct store_session *r, const struct cf_world *w, const char *status,
			 int64_t amount, int64_t created_at, int64_t next_run_ms)
{
	memset(r, 0, sizeof *r);
	new_id(r->id);
	new_id(r->hold_transfer_id);
	memcpy(r->tenant_id, w->tenant, sizeof r->tenant_id);
	memcpy(r->account_id, w->account, sizeof r->account_id);
	memcpy(r->client_id, w->client, sizeof r->client_id);
	memcpy(r->destination_id, w->dest, sizeof r->destination_id);
	memcpy(r->principal_id, w->principal, sizeof r->principal_id);
	snprintf(r->principal_kind, sizeof r->principal_kind, "user");
	snprintf(r->status, sizeof r->status, "%s", status);
	snprintf(r->stage, sizeof r->stage, "stablecoin_transfer");
	snprintf(r->currency, sizeof r->currency, "USDC");
	r->principal_minor = amount;
	r->fee_network_minor = 1;
	r->fee_total_minor = 1;
	snprintf(r->target_currency, sizeof r->target_currency, "EUR");
	snprintf(r->target_rail, sizeof r->target_rail, "fiat");
	snprintf(r->method, sizeof r->method, "bank_transfer");
	snprintf(r->fiat_rail, sizeof r->fiat_rail, "sepa_credit_transfer");
	snprintf(r->payment_reference, sizeof r->payment_reference, "RF18539007547034");
	snprintf(r->network, sizeof r->network, "ethereum");
	r->version = 1;
	r->event_seq = 1;
	r->created_at = r->updated_at = created_at;
	r->next_run_ms = next_run_ms;
}

/* The session's hold (a pending transfer) and the session. */
static enum store_status session_put(struct store_tx *tx, const struct store_session *r)
{
	struct store_transfer t = {.amount_minor = r->principal_minor + r->fee_total_minor,
				   .created_at = r->created_at};
	memcpy(t.id, r->hold_transfer_id, sizeof t.id);
	snprintf(t.op, sizeof t.op, "pending");
	memcpy(t.debit_account_id, r->account_id, sizeof t.debit_account_id);
	struct store_account holds;
	enum store_status st = STORE_CALL(tx, account_get_system, r->tenant_id, "holds", &holds);
	if (st != STORE_OK)
		return st;
	memcpy(t.credit_account_id, holds.id, sizeof t.credit_account_id);
	snprintf(t.currency, sizeof t.currency, "%s", r->currency);
	memcpy(t.session_id, r->id, sizeof t.session_id);
	snprintf(t.kind, sizeof t.kind, "session_hold");
	if ((st = STORE_CALL(tx, transfer_insert, &t)) != STORE_OK)
		return st;
	return STORE_CALL(tx, session_insert, r);
}

struct sessions_put {
	struct store_session *rows;
	int n;
};

static enum store_status sessions_put_tx(struct store_tx *tx, void *arg)
{
	struct sessions_put *p = arg;
	for (int i = 0; i < p->n; i++) {
		enum store_status st = session_put(tx, &p->rows[i]);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

static void sessions_make(struct store *s, struct store_session *rows, int n)
{
	struct sessions_put p = {rows, n};
	run_ok(s, true, sessions_put_tx, &p);
}

/* False if no id could be made (callable from any thread: no assert). */
static bool event_fill(struct store_event *e, const char *tenant, const char *resource,
		       int64_t resource_seq, char *data)
{
	memset(e, 0, sizeof *e);
	snprintf(e->tenant_id, sizeof e->tenant_id, "%s", tenant);
	snprintf(e->resource_id, sizeof e->resource_id, "%s", resource);
	e->resource_seq = resource_seq;
	snprintf(e->type, sizeof e->type, "off_ramp_session.executing");
	e->data = data;
	e->created_at = 1000;
	return uuid_v7(e->id);
}

/* ---- tenants, principals, keys -------------------------------------------- */

struct keys_case {
	struct cf_world w;
	struct store_api_key key, dup;
	struct store_tenant tenant, got_tenant;
	struct store_api_key got_key;
	uint8_t unknown[32];
	struct cf_steps p;
};

static enum store_status keys_write_tx(struct store_tx *tx, void *arg)
{
	struct keys_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "api_key_insert", STORE_CALL(tx, api_key_insert, &k->key));
	/* Taken keys answer EXISTS and leave the transaction usable. */
	rec(&k->p, "tenant_insert dup", STORE_CALL(tx, tenant_insert, &k->tenant));
	rec(&k->p, "api_key_insert dup hash", STORE_CALL(tx, api_key_insert, &k->dup));
	rec(&k->p, "tenant_get after", STORE_CALL(tx, tenant_get, k->w.tenant, &k->got_tenant));
	return STORE_OK;
}

static enum store_status keys_read_tx(struct store_tx *tx, void *arg)
{
	struct keys_case *k = arg;
	struct store_tenant t;
	struct store_api_key none;
	store_id missing;
	k->p.n = 0;
	snprintf(missing, sizeof missing, "%s", k->key.id); /* a key id is no tenant id */
	rec(&k->p, "tenant_get", STORE_CALL(tx, tenant_get, k->w.tenant, &k->got_tenant));
	rec(&k->p, "tenant_get missing", STORE_CALL(tx, tenant_get, missing, &t));
	rec(&k->p, "api_key_find", STORE_CALL(tx, api_key_find, k->key.hash, &k->got_key));
	rec(&k->p, "api_key_find unknown", STORE_CALL(tx, api_key_find, k->unknown, &none));
	return STORE_OK;
}

static void test_tenants_and_keys(void **state)
{
	struct cf *c = *state;
	struct keys_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	new_id(k->key.id);
	memcpy(k->key.principal_id, k->w.principal, sizeof k->key.principal_id);
	memcpy(k->key.tenant_id, k->w.tenant, sizeof k->key.tenant_id);
	for (int i = 0; i < 32; i++) {
		k->key.hash[i] = (uint8_t)(i * 37); /* a 0 byte and high bytes: binary exact */
		k->unknown[i] = (uint8_t)(i * 37 + 1);
	}
	k->key.capabilities = 0x5a5a;
	k->key.created_at = 1234;
	k->dup = k->key;
	new_id(k->dup.id);
	memcpy(k->tenant.id, k->w.tenant, sizeof k->tenant.id);
	snprintf(k->tenant.name, sizeof k->tenant.name, "again");
	run_ok(c->s[0], true, keys_write_tx, k);
	expect(&k->p, "api_key_insert", STORE_OK);
	expect(&k->p, "tenant_insert dup", STORE_EXISTS);
	expect(&k->p, "api_key_insert dup hash", STORE_EXISTS);
	expect(&k->p, "tenant_get after", STORE_OK);

	run_ok(c->s[1], false, keys_read_tx, k); /* the other node reads it */
	expect(&k->p, "tenant_get", STORE_OK);
	expect(&k->p, "tenant_get missing", STORE_NOT_FOUND);
	expect(&k->p, "api_key_find", STORE_OK);
	expect(&k->p, "api_key_find unknown", STORE_NOT_FOUND);
	assert_string_equal(k->got_tenant.name, "conformance");
	assert_int_equal(k->got_tenant.created_at, 1000);
	assert_string_equal(k->got_key.id, k->key.id);
	assert_string_equal(k->got_key.tenant_id, k->w.tenant);
	assert_string_equal(k->got_key.principal_id, k->w.principal);
	assert_string_equal(k->got_key.principal_kind, "user");
	assert_memory_equal(k->got_key.hash, k->key.hash, 32);
	assert_int_equal(k->got_key.capabilities, 0x5a5a);
	assert_false(k->got_key.revoked);
	assert_int_equal(k->got_key.created_at, 1234);
	free(k);
}

/* ---- clients and accounts --------------------------------------------------- */

struct accounts_case {
	struct cf_world w;
	store_id missing, funding;
	struct store_client client, none_client;
	struct store_account acct, sys, none, dup_code;
	struct cf_rows rows;
	struct cf_steps p;
};

static enum store_status accounts_write_tx(struct store_tx *tx, void *arg)
{
	struct accounts_case *a = arg;
	a->p.n = 0;
	struct store_account f = {.created_at = 1000};
	memcpy(f.id, a->funding, sizeof f.id);
	memcpy(f.tenant_id, a->w.tenant, sizeof f.tenant_id);
	snprintf(f.kind, sizeof f.kind, "system");
	snprintf(f.code, sizeof f.code, "sandbox_funding");
	rec(&a->p, "account_insert system", STORE_CALL(tx, account_insert, &f));
	/* One system account per code and tenant. */
	a->dup_code = f;
	new_id(a->dup_code.id);
	rec(&a->p, "account_insert dup code", STORE_CALL(tx, account_insert, &a->dup_code));
	rec(&a->p, "client_lock", STORE_CALL(tx, client_lock, a->w.tenant, a->w.client));
	rec(&a->p, "client_lock missing", STORE_CALL(tx, client_lock, a->w.tenant, a->missing));
	return STORE_OK;
}

static enum store_status accounts_read_tx(struct store_tx *tx, void *arg)
{
	struct accounts_case *a = arg;
	a->p.n = 0;
	a->rows.n = 0;
	rec(&a->p, "client_get", STORE_CALL(tx, client_get, a->w.tenant, a->w.client, &a->client));
	rec(&a->p, "client_get missing",
	    STORE_CALL(tx, client_get, a->w.tenant, a->missing, &a->none_client));
	rec(&a->p, "account_get", STORE_CALL(tx, account_get, a->w.tenant, a->w.account, &a->acct));
	/* System accounts are never named by a request. */
	rec(&a->p, "account_get system", STORE_CALL(tx, account_get, a->w.tenant, a->w.holds, &a->none));
	rec(&a->p, "account_get_system",
	    STORE_CALL(tx, account_get_system, a->w.tenant, "holds", &a->sys));
	rec(&a->p, "account_get_system missing",
	    STORE_CALL(tx, account_get_system, a->w.tenant, "fees", &a->none));
	rec(&a->p, "account_each", STORE_CALL(tx, account_each, row_account, &a->rows));
	return STORE_OK;
}

static void test_clients_and_accounts(void **state)
{
	struct cf *c = *state;
	struct accounts_case *a = calloc(1, sizeof *a);
	world_make(c->s[0], &a->w);
	new_id(a->missing);
	new_id(a->funding);
	run_ok(c->s[1], true, accounts_write_tx, a);
	expect(&a->p, "account_insert system", STORE_OK);
	expect(&a->p, "account_insert dup code", STORE_EXISTS);
	expect(&a->p, "client_lock", STORE_OK);
	expect(&a->p, "client_lock missing", STORE_NOT_FOUND);

	run_ok(c->s[0], false, accounts_read_tx, a);
	expect(&a->p, "client_get", STORE_OK);
	expect(&a->p, "client_get missing", STORE_NOT_FOUND);
	expect(&a->p, "account_get", STORE_OK);
	expect(&a->p, "account_get system", STORE_NOT_FOUND);
	expect(&a->p, "account_get_system", STORE_OK);
	expect(&a->p, "account_get_system missing", STORE_NOT_FOUND);
	expect(&a->p, "account_each", STORE_OK);
	assert_string_equal(a->client.display_name, "client 0");
	assert_string_equal(a->client.default_account_id, a->w.account);
	assert_string_equal(a->client.tenant_id, a->w.tenant);
	assert_string_equal(a->acct.client_id, a->w.client);
	assert_string_equal(a->acct.kind, "client");
	assert_int_equal(a->acct.flags, LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS);
	assert_string_equal(a->sys.id, a->w.holds);
	assert_string_equal(a->sys.code, "holds");
	assert_string_equal(a->sys.client_id, "");
	/* Every account once, in id order; the refused duplicate is not there. */
	assert_int_equal(a->rows.n, 4);
	for (int i = 1; i < a->rows.n; i++)
		assert_true(strcmp(a->rows.id[i - 1], a->rows.id[i]) < 0);
	assert_true(rows_find(&a->rows, a->funding) >= 0);
	assert_true(rows_find(&a->rows, a->dup_code.id) < 0);
	free(a);
}

/* ---- the ledger ------------------------------------------------------------- */

struct ledger_case {
	struct cf_world w;
	struct store_account acct, holds;
	struct ledger_balance lock_b, got, got_acct, got_holds;
	enum store_status lock_st;
	struct store_transfer raw, post, post_again;
	char hold_id[UUID_STR_LEN + 1], dep_id[UUID_STR_LEN + 1], post_id[UUID_STR_LEN + 1];
	char over_id[UUID_STR_LEN + 1];
	store_id again_id; /* made outside: a write fn never asserts */
	store_id sess_id;  /* the session the hold and its post belong to */
	enum ledger_result lr_dep, lr_hold, lr_post, lr_over;
	struct cf_rows balances, transfers, of_session, of_none;
	struct cf_steps p;
};

static enum store_status ledger_raw_tx(struct store_tx *tx, void *arg)
{
	struct ledger_case *l = arg;
	const struct ledger_balance b = {1, 2, 3, 4};
	l->p.n = 0;
	rec(&l->p, "balance_get missing", STORE_CALL(tx, balance_get, l->w.account, "USDT", &l->got));
	/* A missing row locks as zero: NOT_FOUND, or OK with zeros (store.h). */
	l->lock_b = (struct ledger_balance){-1, -1, -1, -1};
	l->lock_st = STORE_CALL(tx, balance_lock, l->w.account, "USDT", &l->lock_b);
	rec(&l->p, "balance_put", STORE_CALL(tx, balance_put, l->w.account, "USDT", &b));
	rec(&l->p, "balance_get", STORE_CALL(tx, balance_get, l->w.account, "USDT", &l->got));
	rec(&l->p, "transfer_insert", STORE_CALL(tx, transfer_insert, &l->raw));
	return STORE_OK;
}

static enum store_status ledger_moves_tx(struct store_tx *tx, void *arg)
{
	struct ledger_case *l = arg;
	l->p.n = 0;
	enum store_status st;
	/* 100.00 in, 60.00 held, the hold posted; then a hold of more than
	 * is available refused by the ledger, nothing written. */
	st = svc_ledger_move(tx, LEDGER_OP_POSTED, &l->holds, &l->acct, CUR_USDC, 100000000, NULL,
			     NULL, "deposit", 1000, l->dep_id, &l->lr_dep);
	if (st == STORE_OK)
		st = svc_ledger_move(tx, LEDGER_OP_PENDING, &l->acct, &l->holds, CUR_USDC, 60000000,
				     NULL, l->sess_id, "session_hold", 1000, l->hold_id, &l->lr_hold);
	if (st == STORE_OK)
		st = svc_ledger_move(tx, LEDGER_OP_POST, &l->acct, &l->holds, CUR_USDC, 60000000,
				     l->hold_id, l->sess_id, "session_post", 1000, l->post_id, &l->lr_post);
	if (st == STORE_OK)
		st = svc_ledger_move(tx, LEDGER_OP_PENDING, &l->acct, &l->holds, CUR_USDC, 50000000,
				     NULL, NULL, "session_hold", 1000, l->over_id, &l->lr_over);
	if (st != STORE_OK)
		return st;
	/* A hold is posted or voided once: a second transfer naming it is a
	 * taken key. */
	l->post_again = l->raw;
	memcpy(l->post_again.id, l->again_id, sizeof l->post_again.id);
	snprintf(l->post_again.op, sizeof l->post_again.op, "void");
	snprintf(l->post_again.pending_id, sizeof l->post_again.pending_id, "%s", l->hold_id);
	rec(&l->p, "transfer_insert pending twice", STORE_CALL(tx, transfer_insert, &l->post_again));
	return STORE_OK;
}

static enum store_status ledger_read_tx(struct store_tx *tx, void *arg)
{
	struct ledger_case *l = arg;
	l->p.n = 0;
	l->balances.n = l->transfers.n = l->of_session.n = l->of_none.n = 0;
	rec(&l->p, "balance_get usdt", STORE_CALL(tx, balance_get, l->w.account, "USDT", &l->got));
	rec(&l->p, "balance_get acct", STORE_CALL(tx, balance_get, l->w.account, "USDC", &l->got_acct));
	rec(&l->p, "balance_get holds", STORE_CALL(tx, balance_get, l->w.holds, "USDC", &l->got_holds));
	rec(&l->p, "balance_each", STORE_CALL(tx, balance_each, row_balance, &l->balances));
	rec(&l->p, "transfer_each", STORE_CALL(tx, transfer_each, row_transfer, &l->transfers));
	rec(&l->p, "transfer_each_session", STORE_CALL(tx, transfer_each_session, l->sess_id,
						       row_transfer, &l->of_session));
	rec(&l->p, "transfer_each_session none", STORE_CALL(tx, transfer_each_session, l->again_id,
							    row_transfer, &l->of_none));
	return STORE_OK;
}

static enum store_status accounts_of_tx(struct store_tx *tx, void *arg)
{
	struct ledger_case *l = arg;
	enum store_status st = STORE_CALL(tx, account_get, l->w.tenant, l->w.account, &l->acct);
	return st == STORE_OK ? STORE_CALL(tx, account_get_system, l->w.tenant, "holds", &l->holds)
			      : st;
}

static void test_ledger(void **state)
{
	struct cf *c = *state;
	struct ledger_case *l = calloc(1, sizeof *l);
	world_make(c->s[0], &l->w);
	run_ok(c->s[0], false, accounts_of_tx, l);
	new_id(l->again_id);
	new_id(l->sess_id);
	new_id(l->raw.id);
	snprintf(l->raw.op, sizeof l->raw.op, "posted");
	memcpy(l->raw.debit_account_id, l->w.holds, sizeof l->raw.debit_account_id);
	memcpy(l->raw.credit_account_id, l->w.account2, sizeof l->raw.credit_account_id);
	snprintf(l->raw.currency, sizeof l->raw.currency, "EUR");
	l->raw.amount_minor = 777;
	snprintf(l->raw.kind, sizeof l->raw.kind, "deposit");
	l->raw.created_at = 999;
	run_ok(c->s[0], true, ledger_raw_tx, l);
	expect(&l->p, "balance_get missing", STORE_NOT_FOUND);
	assert_true(l->lock_st == STORE_OK || l->lock_st == STORE_NOT_FOUND);
	if (l->lock_st == STORE_OK)
		assert_int_equal(l->lock_b.debits_posted | l->lock_b.credits_posted |
					 l->lock_b.debits_pending | l->lock_b.credits_pending, 0);
	expect(&l->p, "balance_put", STORE_OK);
	expect(&l->p, "balance_get", STORE_OK);
	assert_int_equal(l->got.credits_pending, 4);
	expect(&l->p, "transfer_insert", STORE_OK);

	run_ok(c->s[1], true, ledger_moves_tx, l);
	assert_int_equal(l->lr_dep, LEDGER_OK);
	assert_int_equal(l->lr_hold, LEDGER_OK);
	assert_int_equal(l->lr_post, LEDGER_OK);
	assert_int_equal(l->lr_over, LEDGER_EXCEEDS_CREDITS);
	expect(&l->p, "transfer_insert pending twice", STORE_EXISTS);

	run_ok(c->s[0], false, ledger_read_tx, l);
	expect(&l->p, "balance_get usdt", STORE_OK);
	assert_int_equal(l->got.debits_posted, 1);
	assert_int_equal(l->got.credits_posted, 2);
	assert_int_equal(l->got.debits_pending, 3);
	assert_int_equal(l->got.credits_pending, 4);
	expect(&l->p, "balance_get acct", STORE_OK);
	assert_int_equal(l->got_acct.credits_posted, 100000000);
	assert_int_equal(l->got_acct.debits_posted, 60000000);
	assert_int_equal(l->got_acct.debits_pending, 0);
	expect(&l->p, "balance_get holds", STORE_OK);
	assert_int_equal(l->got_holds.debits_posted, 100000000);
	assert_int_equal(l->got_holds.credits_posted, 60000000);
	assert_int_equal(l->got_holds.credits_pending, 0);
	expect(&l->p, "balance_each", STORE_OK);
	int net = 0, rows = 0;
	for (int i = 0; i < l->balances.n; i++)
		if (!strcmp(l->balances.text[i], "USDC")) {
			net += (int)(l->balances.num[i] / 1000000);
			rows++;
		}
	assert_int_equal(rows, 2);
	assert_int_equal(net, 0); /* every transfer adds the same to both sides */
	expect(&l->p, "transfer_each", STORE_OK);
	assert_int_equal(l->transfers.n, 4); /* raw, deposit, hold, post: not the refused two */
	int at = rows_find(&l->transfers, l->raw.id);
	assert_true(at >= 0);
	assert_int_equal(l->transfers.num[at], 777);
	assert_string_equal(l->transfers.text[rows_find(&l->transfers, l->post_id)],
			    ledger_op_name(LEDGER_OP_POST));
	assert_true(rows_find(&l->transfers, l->post_again.id) < 0);
	/* One session's transfers: its hold and post only, by id (oldest first). */
	expect(&l->p, "transfer_each_session", STORE_OK);
	assert_int_equal(l->of_session.n, 2);
	const char *first = strcmp(l->hold_id, l->post_id) < 0 ? l->hold_id : l->post_id;
	assert_int_equal(rows_find(&l->of_session, first), 0);
	assert_true(rows_find(&l->of_session, l->raw.id) < 0);
	assert_true(rows_find(&l->of_session, l->dep_id) < 0);
	expect(&l->p, "transfer_each_session none", STORE_OK);
	assert_int_equal(l->of_none.n, 0);
	free(l);
}

/* ---- destinations and extension documents ---------------------------------- */

struct dest_case {
	struct cf_world w;
	struct store_destination d2, d3, got;
	char *ext, *ext_after, *ext_other;
	struct cf_rows two, all;
	struct cf_steps p;
};

static enum store_status dest_write_tx(struct store_tx *tx, void *arg)
{
	struct dest_case *d = arg;
	d->p.n = 0;
	rec(&d->p, "destination_insert 2", STORE_CALL(tx, destination_insert, &d->d2));
	rec(&d->p, "destination_insert 3", STORE_CALL(tx, destination_insert, &d->d3));
	rec(&d->p, "destination_insert dup", STORE_CALL(tx, destination_insert, &d->d3));
	rec(&d->p, "ext_put", STORE_CALL(tx, ext_put, d->w.tenant, d->w.dest, "lumx", "{\"a\":1}"));
	rec(&d->p, "ext_put again",
	    STORE_CALL(tx, ext_put, d->w.tenant, d->w.dest, "lumx", "{\"a\":2}"));
	return STORE_OK;
}

static enum store_status dest_read_tx(struct store_tx *tx, void *arg)
{
	struct dest_case *d = arg;
	d->p.n = 0;
	d->two.n = d->all.n = 0;
	store_destination_clear(&d->got);
	free(d->ext);
	free(d->ext_other);
	d->ext = d->ext_other = NULL;
	rec(&d->p, "destination_get", STORE_CALL(tx, destination_get, d->w.tenant, d->w.dest, &d->got));
	rec(&d->p, "destination_list 2",
	    STORE_CALL(tx, destination_list, d->w.tenant, d->w.client, 2, row_destination, &d->two));
	rec(&d->p, "destination_list all",
	    STORE_CALL(tx, destination_list, d->w.tenant, d->w.client, 10, row_destination, &d->all));
	rec(&d->p, "ext_get", STORE_CALL(tx, ext_get, d->w.tenant, d->w.dest, "lumx", &d->ext));
	rec(&d->p, "ext_get kind",
	    STORE_CALL(tx, ext_get, d->w.tenant, d->w.dest, "other", &d->ext_other));
	return STORE_OK;
}

static void test_destinations_and_ext(void **state)
{
	struct cf *c = *state;
	struct dest_case *d = calloc(1, sizeof *d);
	world_make(c->s[0], &d->w);
	struct store_destination *mk[2] = {&d->d2, &d->d3};
	for (int i = 0; i < 2; i++) {
		new_id(mk[i]->id);
		memcpy(mk[i]->tenant_id, d->w.tenant, sizeof mk[i]->tenant_id);
		memcpy(mk[i]->client_id, d->w.client, sizeof mk[i]->client_id);
		memcpy(mk[i]->account_id, d->w.account, sizeof mk[i]->account_id);
		snprintf(mk[i]->method, sizeof mk[i]->method, "crypto_transfer");
		snprintf(mk[i]->currency, sizeof mk[i]->currency, "USDC");
		mk[i]->body = i ? "{\"dest\":3}" : "{\"dest\":2}";
		mk[i]->created_at = 2000 + i;
	}
	run_ok(c->s[0], true, dest_write_tx, d);
	expect(&d->p, "destination_insert 2", STORE_OK);
	expect(&d->p, "destination_insert 3", STORE_OK);
	expect(&d->p, "destination_insert dup", STORE_EXISTS);
	expect(&d->p, "ext_put", STORE_OK);
	expect(&d->p, "ext_put again", STORE_OK);

	run_ok(c->s[1], false, dest_read_tx, d);
	expect(&d->p, "destination_get", STORE_OK);
	assert_string_equal(d->got.body, "{\"dest\":1}");
	assert_string_equal(d->got.fiat_rail, "sepa_credit_transfer");
	assert_string_equal(d->got.client_id, d->w.client);
	expect(&d->p, "destination_list 2", STORE_OK);
	assert_int_equal(d->two.n, 2); /* newest first, limited */
	assert_string_equal(d->two.id[0], d->d3.id);
	assert_string_equal(d->two.id[1], d->d2.id);
	assert_string_equal(d->two.text[0], "{\"dest\":3}");
	assert_int_equal(d->all.n, 3);
	assert_string_equal(d->all.id[2], d->w.dest);
	expect(&d->p, "ext_get", STORE_OK);
	assert_string_equal(d->ext, "{\"a\":2}");
	expect(&d->p, "ext_get kind", STORE_NOT_FOUND);
	store_destination_clear(&d->got);
	free(d->ext);
	free(d->ext_other);
	free(d);
}

/* ---- operations gauges (GET /metrics) ------------------------------------ */

/* session_count_by_status and held_by_currency count across every tenant:
 * two tenants' rows, each op's rows summed as the service sums them. */
struct gauges_case {
	struct cf_world w[2];
	struct store_session s[5];
	int64_t executing, settled, failed, other, usdc, usdt, eur, other_cur;
	struct cf_steps p;
};

static void gauge_status_row(void *arg, const void *row)
{
	const struct store_count *r = row;
	struct gauges_case *k = arg;
	int64_t *to = !strcmp(r->name, "executing") ? &k->executing
		      : !strcmp(r->name, "settled") ? &k->settled
		      : !strcmp(r->name, "failed")  ? &k->failed
						    : &k->other;
	*to += r->n;
}

static void gauge_held_row(void *arg, const void *row)
{
	const struct store_count *r = row;
	struct gauges_case *k = arg;
	int64_t *to = !strcmp(r->name, "USDC") ? &k->usdc
		      : !strcmp(r->name, "USDT") ? &k->usdt
		      : !strcmp(r->name, "EUR")  ? &k->eur
						 : &k->other_cur;
	*to += r->n;
}

static enum store_status gauges_holds_tx(struct store_tx *tx, void *arg)
{
	struct gauges_case *k = arg;
	k->p.n = 0;
	/* Held is what the holds accounts hold pending; a client account's
	 * pending credits and the holds' posted ones are not held. */
	const struct ledger_balance h0 = {.credits_pending = 40, .credits_posted = 1000},
				    h1 = {.credits_pending = 2},
				    t1 = {.credits_pending = 5},
				    client = {.credits_pending = 900};
	rec(&k->p, "holds 0 USDC", STORE_CALL(tx, balance_put, k->w[0].holds, "USDC", &h0));
	rec(&k->p, "holds 1 USDC", STORE_CALL(tx, balance_put, k->w[1].holds, "USDC", &h1));
	rec(&k->p, "holds 1 USDT", STORE_CALL(tx, balance_put, k->w[1].holds, "USDT", &t1));
	rec(&k->p, "client USDC", STORE_CALL(tx, balance_put, k->w[0].account, "USDC", &client));
	return STORE_OK;
}

static enum store_status gauges_read_tx(struct store_tx *tx, void *arg)
{
	struct gauges_case *k = arg;
	k->p.n = 0;
	k->executing = k->settled = k->failed = k->other = 0;
	k->usdc = k->usdt = k->eur = k->other_cur = 0;
	rec(&k->p, "session_count_by_status",
	    STORE_CALL(tx, session_count_by_status, gauge_status_row, k));
	rec(&k->p, "held_by_currency", STORE_CALL(tx, held_by_currency, gauge_held_row, k));
	return STORE_OK;
}

static void test_gauges(void **state)
{
	struct cf *c = *state;
	struct gauges_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w[0]);
	world_make(c->s[0], &k->w[1]);
	run_ok(c->s[1], false, gauges_read_tx, k);
	expect(&k->p, "session_count_by_status", STORE_OK);
	expect(&k->p, "held_by_currency", STORE_OK);
	assert_int_equal(k->executing + k->settled + k->failed + k->other, 0);
	assert_int_equal(k->usdc + k->usdt + k->eur + k->other_cur, 0);

	static const char *const st[5] = {"executing", "settled", "executing", "failed",
					  "pending_approval"};
	for (int i = 0; i < 5; i++)
		session_fill(&k->s[i], &k->w[i % 2], st[i], 10 + i, 100 + i, 0);
	sessions_make(c->s[0], k->s, 5);
	run_ok(c->s[0], true, gauges_holds_tx, k);
	for (int i = 0; i < k->p.n; i++)
		assert_int_equal(k->p.s[i].st, STORE_OK);

	run_ok(c->s[1], false, gauges_read_tx, k);
	expect(&k->p, "session_count_by_status", STORE_OK);
	assert_int_equal(k->executing, 2); /* one per tenant, summed */
	assert_int_equal(k->settled, 1);
	assert_int_equal(k->failed, 1);
	assert_int_equal(k->other, 1);
	expect(&k->p, "held_by_currency", STORE_OK);
	assert_int_equal(k->usdc, 42);
	assert_int_equal(k->usdt, 5);
	assert_int_equal(k->eur + k->other_cur, 0);
	free(k);
}

/* ---- sessions: rows, lists, sums ---------------------------------------------- */

#define SESSIONS_N 6

struct sessions_case {
	struct cf_world w;
	struct store_session s[SESSIONS_N], got, moved, dup;
	struct store_session_filter f;
	int64_t sum_all, sum_since, next_due;
	struct cf_rows rows;
	struct cf_steps p;
};

static enum store_status session_get_tx(struct store_tx *tx, void *arg)
{
	struct sessions_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "session_get", STORE_CALL(tx, session_get, k->w.tenant, k->s[0].id, &k->got));
	rec(&k->p, "session_sum", STORE_CALL(tx, session_sum, k->w.tenant, k->w.client, 0, &k->sum_all));
	rec(&k->p, "session_sum since",
	    STORE_CALL(tx, session_sum, k->w.tenant, k->w.client, 250, &k->sum_since));
	rec(&k->p, "session_next_due", STORE_CALL(tx, session_next_due, &k->next_due));
	k->rows.n = 0;
	rec(&k->p, "session_each", STORE_CALL(tx, session_each, row_session, &k->rows));
	return STORE_OK;
}

static enum store_status session_list_tx(struct store_tx *tx, void *arg)
{
	struct sessions_case *k = arg;
	k->rows.n = 0;
	return STORE_CALL(tx, session_list, &k->f, row_session, &k->rows);
}

static enum store_status session_update_tx(struct store_tx *tx, void *arg)
{
	struct sessions_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "session_update stale", STORE_CALL(tx, session_update, &k->moved, 5));
	rec(&k->p, "session_update", STORE_CALL(tx, session_update, &k->moved, 1));
	rec(&k->p, "session_update twice", STORE_CALL(tx, session_update, &k->moved, 1));
	rec(&k->p, "session_insert dup", STORE_CALL(tx, session_insert, &k->dup));
	return STORE_OK;
}

/* What session_list must answer for filter f, from the rows themselves. */
static int sessions_expected(const struct sessions_case *k, const struct store_session_filter *f,
			     const char *out[SESSIONS_N])
{
	int n = 0;
	bool asc = f->after_id != NULL;
	for (int j = 0; j < SESSIONS_N; j++) {
		const struct store_session *s = &k->s[asc ? j : SESSIONS_N - 1 - j];
		if ((f->status && strcmp(s->status, f->status)) ||
		    (f->account_id && strcmp(s->account_id, f->account_id)) ||
		    (f->client_id && strcmp(s->client_id, f->client_id)) ||
		    (f->after_id && strcmp(s->id, f->after_id) <= 0) ||
		    (!f->after_id && f->before_id && strcmp(s->id, f->before_id) >= 0))
			continue;
		if (n < f->limit)
			out[n++] = s->id;
	}
	return n;
}

static void test_sessions(void **state)
{
	struct cf *c = *state;
	struct sessions_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	static const struct {
		const char *status;
		int64_t amount, next_run_ms;
		bool second_client;
	} rows[SESSIONS_N] = {
		{"executing", 10, 1000, false}, {"executed", 20, 2000, false},
		{"settled", 30, 0, false},      {"failed", 40, 0, false},
		{"pending_approval", 50, 0, false}, {"executing", 60, 1500, true},
	};
	for (int i = 0; i < SESSIONS_N; i++) {
		session_fill(&k->s[i], &k->w, rows[i].status, rows[i].amount, 100 * (i + 1),
			     rows[i].next_run_ms);
		if (rows[i].second_client) {
			memcpy(k->s[i].client_id, k->w.client2, sizeof k->s[i].client_id);
			memcpy(k->s[i].account_id, k->w.account2, sizeof k->s[i].account_id);
		}
	}
	snprintf(k->s[0].payment_reference, sizeof k->s[0].payment_reference, "%s",
		 "référence ü €"); /* UTF-8 kept byte for byte */
	k->s[0].fee_partner_minor = 7;
	k->s[0].locked_rate_value = 5400;
	k->s[0].locked_rate_scale = 4;
	snprintf(k->s[0].network, sizeof k->s[0].network, "polygon");
	sessions_make(c->s[1], k->s, SESSIONS_N);

	run_ok(c->s[0], false, session_get_tx, k);
	expect(&k->p, "session_get", STORE_OK);
	const struct store_session *g = &k->got, *w = &k->s[0];
	assert_string_equal(g->id, w->id);
	assert_string_equal(g->tenant_id, w->tenant_id);
	assert_string_equal(g->account_id, w->account_id);
	assert_string_equal(g->destination_id, w->destination_id);
	assert_string_equal(g->principal_id, w->principal_id);
	assert_string_equal(g->status, "executing");
	assert_string_equal(g->payment_reference, w->payment_reference);
	assert_string_equal(g->hold_transfer_id, w->hold_transfer_id);
	assert_string_equal(g->network, "polygon");
	assert_string_equal(g->failure_reason, "");
	assert_string_equal(g->failure_detail, "");
	assert_string_equal(g->lease_owner, "");
	assert_int_equal(g->principal_minor, 10);
	assert_int_equal(g->fee_total_minor, 1);
	assert_int_equal(g->fee_partner_minor, 7);
	assert_int_equal(g->locked_rate_value, 5400);
	assert_int_equal(g->locked_rate_scale, 4);
	assert_int_equal(g->version, 1);
	assert_int_equal(g->event_seq, 1);
	assert_int_equal(g->next_run_ms, 1000);
	assert_int_equal(g->created_at, 100);
	/* Sums count what holds money: not failed or cancelled ones. */
	expect(&k->p, "session_sum", STORE_OK);
	assert_int_equal(k->sum_all, 10 + 20 + 30 + 50);
	assert_int_equal(k->sum_since, 30 + 50);
	/* The earliest due driven session; pending and settled ones are not driven. */
	expect(&k->p, "session_next_due", STORE_OK);
	assert_int_equal(k->next_due, 1000);
	expect(&k->p, "session_each", STORE_OK);
	assert_int_equal(k->rows.n, SESSIONS_N);
	for (int i = 0; i < SESSIONS_N; i++)
		assert_string_equal(k->rows.id[i], k->s[i].id);

	/* Every filter combination in every direction answers what the rows say. */
	const char *statuses[] = {NULL, "executing"};
	const char *accounts[] = {NULL, k->w.account};
	const char *clients[] = {NULL, k->w.client2};
	for (int m = 0; m < 8; m++)
		for (int dir = 0; dir < 3; dir++)
			for (int limit = 1; limit <= 7; limit += 3) {
				struct store_session_filter f = {
					.status = statuses[m & 1], .account_id = accounts[(m >> 1) & 1],
					.client_id = clients[(m >> 2) & 1], .limit = limit};
				memcpy(f.tenant_id, k->w.tenant, sizeof f.tenant_id);
				if (dir == 1)
					f.before_id = k->s[4].id;
				if (dir == 2)
					f.after_id = k->s[0].id;
				const char *want[SESSIONS_N];
				int n = sessions_expected(k, &f, want);
				k->f = f;
				run_ok(c->s[m & 1], false, session_list_tx, k);
				if (k->rows.n != n)
					fail_msg("session_list filters %d dir %d limit %d: %d rows, want %d",
						 m, dir, limit, k->rows.n, n);
				for (int i = 0; i < n; i++)
					assert_string_equal(k->rows.id[i], want[i]);
			}

	k->moved = k->s[0];
	k->moved.version = 2;
	snprintf(k->moved.status, sizeof k->moved.status, "executed");
	snprintf(k->moved.stage, sizeof k->moved.stage, "fiat_payout");
	k->moved.attempts = 3;
	k->moved.fill_rate_value = 91;
	k->moved.fill_rate_scale = 2;
	k->moved.delivered_minor = 909;
	k->moved.updated_at = 5000;
	k->moved.event_seq = 2;
	snprintf(k->moved.failure_detail, sizeof k->moved.failure_detail, "AC04");
	k->dup = k->s[1];
	run_ok(c->s[1], true, session_update_tx, k);
	expect(&k->p, "session_update stale", STORE_NOT_FOUND);
	expect(&k->p, "session_update", STORE_OK);
	expect(&k->p, "session_update twice", STORE_NOT_FOUND); /* it moved */
	expect(&k->p, "session_insert dup", STORE_EXISTS);
	run_ok(c->s[0], false, session_get_tx, k);
	assert_int_equal(k->got.version, 2);
	assert_string_equal(k->got.status, "executed");
	assert_string_equal(k->got.stage, "fiat_payout");
	assert_int_equal(k->got.attempts, 3);
	assert_int_equal(k->got.delivered_minor, 909);
	assert_string_equal(k->got.failure_detail, "AC04"); /* written by session_update */
	assert_int_equal(k->got.fill_rate_value, 91);
	assert_int_equal(k->got.event_seq, 2);
	assert_int_equal(k->got.principal_minor, 10); /* immutable columns stay */
	free(k);
}

/* ---- leases ---------------------------------------------------------------------- */

struct lease_case {
	struct cf_world w;
	struct store_session s[5];
	int64_t now;
	const char *owner, *prefix;
	int64_t until, next_due;
	int limit;
	struct cf_rows rows;
	enum store_status st;
};

static enum store_status claim_tx(struct store_tx *tx, void *arg)
{
	struct lease_case *l = arg;
	l->rows.n = 0;
	return STORE_CALL(tx, session_claim, l->now, l->owner, l->until, l->limit, row_session,
			  &l->rows);
}

static enum store_status release_tx(struct store_tx *tx, void *arg)
{
	struct lease_case *l = arg;
	return STORE_CALL(tx, session_release_leases, l->prefix);
}

static enum store_status next_due_tx(struct store_tx *tx, void *arg)
{
	struct lease_case *l = arg;
	l->st = STORE_CALL(tx, session_next_due, &l->next_due);
	return STORE_OK;
}

/* Each session's lease owner, in s order, as stored. */
static enum store_status owners_tx(struct store_tx *tx, void *arg)
{
	struct lease_case *l = arg;
	l->rows.n = 0;
	for (int i = 0; i < 5; i++) {
		struct store_session got;
		enum store_status st = STORE_CALL(tx, session_get, l->w.tenant, l->s[i].id, &got);
		if (st != STORE_OK)
			return st;
		row_session(&l->rows, &got);
		l->rows.num[i] = got.next_run_ms;
	}
	return STORE_OK;
}

static int claim(struct store *s, struct lease_case *l, int64_t now, const char *owner, int limit)
{
	l->now = now;
	l->owner = owner;
	l->until = now + 60000;
	l->limit = limit;
	run_ok(s, true, claim_tx, l);
	for (int i = 0; i < l->rows.n; i++) {
		assert_string_equal(l->rows.text[i], owner); /* handed over as leased */
		bool due = false;
		for (int k = 0; k < 3; k++)
			due |= !strcmp(l->rows.id[i], l->s[k].id);
		if (!due)
			fail_msg("claimed %s, which is not due or not driven", l->rows.id[i]);
	}
	return l->rows.n;
}

static void release(struct store *s, struct lease_case *l, const char *prefix)
{
	l->prefix = prefix;
	run_ok(s, true, release_tx, l);
}

static void owners_are(struct store *s, struct lease_case *l, const char *const want[3])
{
	run_ok(s, false, owners_tx, l);
	for (int i = 0; i < 3; i++)
		if (strcmp(l->rows.text[i], want[i]) != 0)
			fail_msg("session %d leased to \"%s\", want \"%s\"", i, l->rows.text[i],
				 want[i]);
	assert_string_equal(l->rows.text[3], "");
	assert_string_equal(l->rows.text[4], "");
}

static void test_leases(void **state)
{
	struct cf *c = *state;
	struct lease_case *l = calloc(1, sizeof *l);
	world_make(c->s[0], &l->w);
	int64_t now = (int64_t)clock_now_ms();
	/* Three due, one due in an hour, one settled (not driven). */
	for (int i = 0; i < 3; i++)
		session_fill(&l->s[i], &l->w, i == 2 ? "executed" : "executing", 10, 100, 0);
	session_fill(&l->s[3], &l->w, "executing", 10, 100, now + 3600000);
	session_fill(&l->s[4], &l->w, "settled", 10, 100, 0);
	run_ok(c->s[1], false, next_due_tx, l);
	assert_int_equal(l->st, STORE_NOT_FOUND); /* no session at all */
	sessions_make(c->s[0], l->s, 5);

	assert_int_equal(claim(c->s[0], l, now, "node/w1", 2), 2);
	assert_int_equal(claim(c->s[1], l, now, "nodeb/w1", 10), 1);
	assert_int_equal(claim(c->s[0], l, now, "nodec/w1", 10), 0); /* all leased or not due */
	/* Leased ones are due when their lease ends (the claim moved next_run_ms). */
	run_ok(c->s[1], false, next_due_tx, l);
	assert_int_equal(l->st, STORE_OK);
	assert_true(l->next_due >= now + 60000 && l->next_due < now + 3600000);
	run_ok(c->s[0], false, owners_tx, l);
	for (int i = 0; i < 3; i++)
		assert_true(l->rows.num[i] >= now + 60000);
	int nodeb = -1;
	for (int i = 0; i < 3; i++)
		if (!strcmp(l->rows.text[i], "nodeb/w1"))
			nodeb = i;
	assert_true(nodeb >= 0);
	const char *want[3];
	for (int i = 0; i < 3; i++)
		want[i] = i == nodeb ? "nodeb/w1" : "node/w1";
	owners_are(c->s[1], l, want);

	/* The prefix is literal: "nod_/" (a LIKE pattern) and "nodeb" without
	 * its separator are not "node/". "node/" releases only node's. */
	release(c->s[1], l, "nod_/");
	owners_are(c->s[0], l, want);
	release(c->s[1], l, "node/");
	for (int i = 0; i < 3; i++)
		want[i] = i == nodeb ? "nodeb/w1" : "";
	owners_are(c->s[0], l, want);
	for (int i = 0; i < 3; i++)
		if (i != nodeb)
			assert_int_equal(l->rows.num[i], 0); /* due at once */
	assert_int_equal(claim(c->s[1], l, now, "node/w2", 10), 2);

	/* Leases that ran out are anyone's: another node takes all three. */
	assert_int_equal(claim(c->s[0], l, now + 120000, "nodec/w1", 10), 3);
	/* The service's recovery: its node's leases only ("<node>/"). */
	assert_int_equal(svc_worker_recover(&c->svc[1], "node"), ERR_OK);
	for (int i = 0; i < 3; i++)
		want[i] = "nodec/w1";
	owners_are(c->s[0], l, want);
	assert_int_equal(svc_worker_recover(&c->svc[1], "nodec"), ERR_OK);
	for (int i = 0; i < 3; i++)
		want[i] = "";
	owners_are(c->s[0], l, want);
	free(l);
}

/* ---- approvals, policies, settings, operator rates -------------------------- */

struct approvals_case {
	struct cf_world w;
	struct store_approval a[3], got, decided, missing;
	struct store_policy pol, pol2, got_pol;
	int64_t setting, fx_value;
	int fx_scale;
	int64_t many[3], other_many[1];
	bool many_found[3], other_found[1];
	struct cf_rows all, pending, page;
	struct cf_steps p;
};

static enum store_status approvals_write_tx(struct store_tx *tx, void *arg)
{
	struct approvals_case *k = arg;
	k->p.n = 0;
	for (int i = 0; i < 3; i++)
		rec(&k->p, "approval_insert", STORE_CALL(tx, approval_insert, &k->a[i]));
	rec(&k->p, "approval_insert dup", STORE_CALL(tx, approval_insert, &k->a[2]));
	rec(&k->p, "approval_update", STORE_CALL(tx, approval_update, &k->decided));
	rec(&k->p, "approval_update missing", STORE_CALL(tx, approval_update, &k->missing));
	rec(&k->p, "policy_get none", STORE_CALL(tx, policy_get, k->w.tenant, &k->got_pol));
	rec(&k->p, "policy_put", STORE_CALL(tx, policy_put, &k->pol));
	rec(&k->p, "policy_put again", STORE_CALL(tx, policy_put, &k->pol2));
	rec(&k->p, "setting_get none", STORE_CALL(tx, setting_get, k->w.tenant, "fee_bps", &k->setting));
	rec(&k->p, "setting_put", STORE_CALL(tx, setting_put, k->w.tenant, "fee_bps", 25));
	rec(&k->p, "setting_put again", STORE_CALL(tx, setting_put, k->w.tenant, "fee_bps", 30));
	rec(&k->p, "fx_get none", STORE_CALL(tx, fx_get, "USDT", "BRL", &k->fx_value, &k->fx_scale));
	rec(&k->p, "fx_put", STORE_CALL(tx, fx_put, "USDT", "BRL", 55000, 4, 1000));
	rec(&k->p, "fx_put again", STORE_CALL(tx, fx_put, "USDT", "BRL", 56000, 4, 1001));
	return STORE_OK;
}

static enum store_status approvals_read_tx(struct store_tx *tx, void *arg)
{
	struct approvals_case *k = arg;
	k->p.n = 0;
	k->all.n = k->pending.n = k->page.n = 0;
	rec(&k->p, "approval_get", STORE_CALL(tx, approval_get, k->w.tenant, k->a[0].id, &k->got));
	rec(&k->p, "approval_list",
	    STORE_CALL(tx, approval_list, k->w.tenant, NULL, NULL, 10, row_approval, &k->all));
	rec(&k->p, "approval_list pending",
	    STORE_CALL(tx, approval_list, k->w.tenant, "pending", NULL, 10, row_approval, &k->pending));
	rec(&k->p, "approval_list before",
	    STORE_CALL(tx, approval_list, k->w.tenant, NULL, k->a[2].id, 1, row_approval, &k->page));
	rec(&k->p, "policy_get", STORE_CALL(tx, policy_get, k->w.tenant, &k->got_pol));
	rec(&k->p, "setting_get", STORE_CALL(tx, setting_get, k->w.tenant, "fee_bps", &k->setting));
	/* Several at once: unset keys are found false, set ones carry their
	 * value whatever their place; another tenant sees none of them. */
	const char *keys[3] = {"unset_a", "fee_bps", "unset_b"};
	k->many[0] = k->many[2] = -1;
	rec(&k->p, "setting_get_many",
	    STORE_CALL(tx, setting_get_many, k->w.tenant, keys, 3, k->many, k->many_found));
	const char *other[1] = {"fee_bps"};
	store_id nobody;
	new_id(nobody);
	k->other_found[0] = true;
	rec(&k->p, "setting_get_many other tenant",
	    STORE_CALL(tx, setting_get_many, nobody, other, 1, k->other_many, k->other_found));
	rec(&k->p, "setting_get_many none", STORE_CALL(tx, setting_get_many, k->w.tenant, keys, 0,
						       k->many, k->many_found));
	rec(&k->p, "fx_get", STORE_CALL(tx, fx_get, "USDT", "BRL", &k->fx_value, &k->fx_scale));
	return STORE_OK;
}

static void test_approvals_policies_settings(void **state)
{
	struct cf *c = *state;
	struct approvals_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	for (int i = 0; i < 3; i++) {
		struct store_approval *a = &k->a[i];
		new_id(a->id);
		new_id(a->session_id);
		memcpy(a->tenant_id, k->w.tenant, sizeof a->tenant_id);
		snprintf(a->status, sizeof a->status, "%s", i == 1 ? "rejected" : "pending");
		memcpy(a->initiator_id, k->w.principal, sizeof a->initiator_id);
		snprintf(a->initiator_kind, sizeof a->initiator_kind, "user");
		snprintf(a->currency, sizeof a->currency, "USDC");
		a->amount_minor = 100 + i;
		a->created_at = 1000 + i;
	}
	k->decided = k->a[0];
	snprintf(k->decided.status, sizeof k->decided.status, "approved");
	memcpy(k->decided.decided_by_id, k->w.principal, sizeof k->decided.decided_by_id);
	snprintf(k->decided.decided_by_kind, sizeof k->decided.decided_by_kind, "service");
	k->decided.decided_at = 2000;
	k->missing = k->decided;
	new_id(k->missing.id);
	k->pol = (struct store_policy){.threshold_minor = 5000, .updated_at = 1};
	memcpy(k->pol.tenant_id, k->w.tenant, sizeof k->pol.tenant_id);
	snprintf(k->pol.threshold_currency, sizeof k->pol.threshold_currency, "USDC");
	k->pol2 = k->pol;
	k->pol2.threshold_minor = 7000;
	k->pol2.updated_at = 2;
	run_ok(c->s[0], true, approvals_write_tx, k);
	expect(&k->p, "approval_insert", STORE_OK);
	expect(&k->p, "approval_insert dup", STORE_EXISTS);
	expect(&k->p, "approval_update", STORE_OK);
	expect(&k->p, "approval_update missing", STORE_NOT_FOUND);
	expect(&k->p, "policy_get none", STORE_NOT_FOUND);
	expect(&k->p, "policy_put", STORE_OK);
	expect(&k->p, "policy_put again", STORE_OK);
	expect(&k->p, "setting_get none", STORE_NOT_FOUND);
	expect(&k->p, "setting_put", STORE_OK);
	expect(&k->p, "setting_put again", STORE_OK);
	expect(&k->p, "fx_get none", STORE_NOT_FOUND);
	expect(&k->p, "fx_put", STORE_OK);
	expect(&k->p, "fx_put again", STORE_OK);
	assert_int_equal(k->p.n, 15);

	run_ok(c->s[1], false, approvals_read_tx, k);
	expect(&k->p, "approval_get", STORE_OK);
	assert_string_equal(k->got.status, "approved");
	assert_string_equal(k->got.decided_by_id, k->w.principal);
	assert_string_equal(k->got.decided_by_kind, "service");
	assert_int_equal(k->got.decided_at, 2000);
	assert_string_equal(k->got.session_id, k->a[0].session_id);
	assert_int_equal(k->got.amount_minor, 100);
	expect(&k->p, "approval_list", STORE_OK);
	assert_int_equal(k->all.n, 3); /* newest first */
	for (int i = 0; i < 3; i++)
		assert_string_equal(k->all.id[i], k->a[2 - i].id);
	assert_int_equal(k->pending.n, 1);
	assert_string_equal(k->pending.id[0], k->a[2].id);
	assert_int_equal(k->page.n, 1);
	assert_string_equal(k->page.id[0], k->a[1].id);
	expect(&k->p, "policy_get", STORE_OK);
	assert_int_equal(k->got_pol.threshold_minor, 7000);
	assert_string_equal(k->got_pol.threshold_currency, "USDC");
	expect(&k->p, "setting_get", STORE_OK);
	assert_int_equal(k->setting, 30);
	expect(&k->p, "setting_get_many", STORE_OK);
	assert_false(k->many_found[0]);
	assert_true(k->many_found[1]);
	assert_int_equal(k->many[1], 30);
	assert_false(k->many_found[2]);
	expect(&k->p, "setting_get_many other tenant", STORE_OK);
	assert_false(k->other_found[0]);
	expect(&k->p, "setting_get_many none", STORE_OK);
	expect(&k->p, "fx_get", STORE_OK);
	assert_int_equal(k->fx_value, 56000);
	assert_int_equal(k->fx_scale, 4);
	free(k);
}

/* ---- events: paging by after_seq ------------------------------------------------ */

#define EVENTS_A 25
#define EVENTS_B 5

struct events_case {
	store_id tenant_a, tenant_b, res[3];
	struct store_event ev[EVENTS_A + EVENTS_B];
	char data[EVENTS_A + EVENTS_B][16];
	int from, to; /* the events this transaction inserts */
	struct store_event dup_id, dup_seq;
	const char *tenant, *resource;
	int64_t after;
	int limit;
	struct cf_rows page;
	struct cf_steps p;
};

static enum store_status events_insert_tx(struct store_tx *tx, void *arg)
{
	struct events_case *e = arg;
	for (int i = e->from; i < e->to; i++) {
		enum store_status st = STORE_CALL(tx, event_insert, &e->ev[i]);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

static enum store_status events_dup_tx(struct store_tx *tx, void *arg)
{
	struct events_case *e = arg;
	e->p.n = 0;
	rec(&e->p, "event_insert dup id", STORE_CALL(tx, event_insert, &e->dup_id));
	rec(&e->p, "event_insert dup resource_seq", STORE_CALL(tx, event_insert, &e->dup_seq));
	return STORE_OK;
}

static enum store_status events_page_tx(struct store_tx *tx, void *arg)
{
	struct events_case *e = arg;
	e->page.n = 0;
	return STORE_CALL(tx, event_list, e->tenant, e->resource, e->after, e->limit, row_event,
			  &e->page);
}

/* Page through tenant's events (of resource, or all) limit at a time;
 * the ids seen, in order, into out. */
static int events_all(struct store *s, struct events_case *e, const char *tenant,
		      const char *resource, int limit, struct cf_rows *out)
{
	e->tenant = tenant;
	e->resource = resource;
	e->after = 0;
	e->limit = limit;
	out->n = 0;
	for (int pages = 0; pages < 100; pages++) {
		run_ok(s, false, events_page_tx, e);
		assert_true(e->page.n <= limit);
		if (e->page.n == 0)
			return out->n;
		for (int i = 0; i < e->page.n; i++) {
			assert_true(e->page.num[i] > e->after); /* in seq order, after the cursor */
			e->after = e->page.num[i];
			rows_add(out, e->page.id[i], e->page.num[i], e->page.text[i]);
		}
	}
	fail_msg("event paging did not end");
	return -1;
}

static void test_event_paging(void **state)
{
	struct cf *c = *state;
	struct events_case *e = calloc(1, sizeof *e);
	struct cf_world a, b;
	world_make(c->s[0], &a);
	world_make(c->s[0], &b);
	memcpy(e->tenant_a, a.tenant, sizeof e->tenant_a);
	memcpy(e->tenant_b, b.tenant, sizeof e->tenant_b);
	for (int r = 0; r < 3; r++)
		new_id(e->res[r]);
	store_id res_b;
	new_id(res_b);
	int64_t rseq[3] = {0};
	/* Tenant B's events interleaved with A's. */
	for (int i = 0, ia = 0; i < EVENTS_A + EVENTS_B; i++) {
		snprintf(e->data[i], sizeof e->data[i], "{\"n\":%d}", i);
		if (i % 6 == 5) {
			assert_true(event_fill(&e->ev[i], b.tenant, res_b, i, e->data[i]));
		} else {
			int r = ia++ % 3;
			assert_true(event_fill(&e->ev[i], a.tenant, e->res[r], ++rseq[r], e->data[i]));
		}
	}
	/* In three transactions, on both nodes: seq grows in commit order. */
	int cut[4] = {0, 10, 20, EVENTS_A + EVENTS_B};
	for (int t = 0; t < 3; t++) {
		e->from = cut[t];
		e->to = cut[t + 1];
		run_ok(c->s[t % 2], true, events_insert_tx, e);
	}
	for (int i = 1; i < EVENTS_A + EVENTS_B; i++)
		assert_true(e->ev[i].seq > e->ev[i - 1].seq);

	struct cf_rows *seen = calloc(1, sizeof *seen);
	for (int limit = 1; limit <= 8; limit += 7) {
		assert_int_equal(events_all(c->s[1], e, a.tenant, NULL, limit, seen), EVENTS_A);
		for (int i = 0, k = 0; i < EVENTS_A + EVENTS_B; i++) {
			if (i % 6 == 5)
				continue;
			assert_string_equal(seen->id[k], e->ev[i].id); /* each once, in order */
			assert_int_equal(seen->num[k], e->ev[i].seq);
			assert_string_equal(seen->text[k], e->data[i]);
			k++;
		}
	}
	/* One resource's events, and only those. */
	assert_int_equal(events_all(c->s[0], e, a.tenant, e->res[1], 3, seen), 8);
	for (int k = 0; k < seen->n; k++) {
		int i = 0;
		while (strcmp(e->ev[i].id, seen->id[k]))
			i++;
		assert_string_equal(e->ev[i].resource_id, e->res[1]);
		assert_int_equal(e->ev[i].resource_seq, k + 1);
	}
	assert_int_equal(events_all(c->s[0], e, b.tenant, NULL, 2, seen), EVENTS_B);
	/* After the last one: nothing. */
	e->tenant = a.tenant;
	e->resource = NULL;
	e->after = e->ev[EVENTS_A + EVENTS_B - 2].seq;
	e->limit = 10;
	run_ok(c->s[0], false, events_page_tx, e);
	assert_int_equal(e->page.n, 0);

	e->dup_id = e->ev[0];
	e->dup_id.resource_seq = 99;
	assert_true(event_fill(&e->dup_seq, a.tenant, e->res[0], 1, e->data[0]));
	run_ok(c->s[0], true, events_dup_tx, e);
	expect(&e->p, "event_insert dup id", STORE_EXISTS);
	expect(&e->p, "event_insert dup resource_seq", STORE_EXISTS);
	free(seen);
	free(e);
}

/* ---- the sandbox rail's book --------------------------------------------------- */

struct payouts_case {
	struct cf_world w;
	struct store_payout p1, p2, got, none;
	struct cf_rows all, one;
	struct cf_steps p;
};

static enum store_status payouts_write_tx(struct store_tx *tx, void *arg)
{
	struct payouts_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "payout_insert 1", STORE_CALL(tx, payout_insert, &k->p1));
	rec(&k->p, "payout_insert 2", STORE_CALL(tx, payout_insert, &k->p2));
	rec(&k->p, "payout_insert dup", STORE_CALL(tx, payout_insert, &k->p1));
	rec(&k->p, "payout_touch", STORE_CALL(tx, payout_touch, k->p1.idempotency_key));
	return STORE_OK;
}

static enum store_status payouts_read_tx(struct store_tx *tx, void *arg)
{
	struct payouts_case *k = arg;
	k->p.n = 0;
	k->all.n = k->one.n = 0;
	rec(&k->p, "payout_get", STORE_CALL(tx, payout_get, k->p1.idempotency_key, &k->got));
	rec(&k->p, "payout_get missing", STORE_CALL(tx, payout_get, "no-such-key", &k->none));
	rec(&k->p, "payout_list", STORE_CALL(tx, payout_list, k->w.tenant, NULL, row_payout, &k->all));
	rec(&k->p, "payout_list session",
	    STORE_CALL(tx, payout_list, k->w.tenant, k->p2.session_id, row_payout, &k->one));
	return STORE_OK;
}

static void test_payouts(void **state)
{
	struct cf *c = *state;
	struct payouts_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	struct store_payout *mk[2] = {&k->p1, &k->p2};
	for (int i = 0; i < 2; i++) {
		new_id(mk[i]->id);
		new_id(mk[i]->session_id);
		snprintf(mk[i]->idempotency_key, sizeof mk[i]->idempotency_key, "%s:payout",
			 mk[i]->session_id);
		memcpy(mk[i]->tenant_id, k->w.tenant, sizeof mk[i]->tenant_id);
		snprintf(mk[i]->rail, sizeof mk[i]->rail, "sepa_credit_transfer");
		snprintf(mk[i]->currency, sizeof mk[i]->currency, "EUR");
		mk[i]->amount_minor = 900 + i;
		snprintf(mk[i]->outcome, sizeof mk[i]->outcome, "%s", i ? "rejected" : "paid");
		mk[i]->calls = 1;
		mk[i]->created_at = 1000;
	}
	run_ok(c->s[0], true, payouts_write_tx, k);
	expect(&k->p, "payout_insert 1", STORE_OK);
	expect(&k->p, "payout_insert 2", STORE_OK);
	expect(&k->p, "payout_insert dup", STORE_EXISTS);
	expect(&k->p, "payout_touch", STORE_OK);
	run_ok(c->s[1], false, payouts_read_tx, k);
	expect(&k->p, "payout_get", STORE_OK);
	assert_int_equal(k->got.calls, 2);
	assert_int_equal(k->got.amount_minor, 900);
	assert_string_equal(k->got.outcome, "paid");
	assert_string_equal(k->got.session_id, k->p1.session_id);
	assert_string_equal(k->got.id, k->p1.id);
	expect(&k->p, "payout_get missing", STORE_NOT_FOUND);
	expect(&k->p, "payout_list", STORE_OK);
	assert_int_equal(k->all.n, 2);
	assert_int_equal(k->one.n, 1);
	assert_string_equal(k->one.id[0], k->p2.session_id);
	assert_string_equal(k->one.text[0], "rejected");
	free(k);
}

/* ---- the EVM rail's book ------------------------------------------------------- */

#define CHAIN_ACCOUNT "1337:0x1563915e194d8cfba1943570603f7606a3115508"

struct chain_case {
	struct store_chain_tx t1, t2, t3, got, got2, none;
	int64_t nonce[4];
	int64_t pending[3]; /* both in flight; another contract; after t1 is mined */
	struct cf_steps p;
};

static void chain_row(struct store_chain_tx *t, const char *hash_digit, int64_t nonce)
{
	memset(t, 0, sizeof *t);
	store_id sid;
	new_id(sid);
	memcpy(t->session_id, sid, sizeof t->session_id);
	new_id(t->tenant_id);
	snprintf(t->idempotency_key, sizeof t->idempotency_key, "%s:payout", sid);
	snprintf(t->network, sizeof t->network, "ethereum");
	t->chain_id = 1337;
	snprintf(t->sender, sizeof t->sender, "0x1563915e194d8cfba1943570603f7606a3115508");
	t->nonce = nonce;
	snprintf(t->contract, sizeof t->contract, "0xae519fc2ba8e6ffe6473195c092bf1bae986ff90");
	snprintf(t->calldata, sizeof t->calldata, "0xa9059cbb%0128d", 7);
	t->gas_limit = 62000;
	t->gas_price_wei = 2000000000;
	t->amount_units = 1000 + nonce;
	t->tx_type = 2;
	t->tip_wei = 1000000000;
	snprintf(t->raw, sizeof t->raw, "0xf8a9%01020d", 1); /* a long raw: near the cap */
	t->hash[0] = '0';
	t->hash[1] = 'x';
	for (int i = 0; i < 64; i++)
		t->hash[2 + i] = hash_digit[0];
	snprintf(t->state, sizeof t->state, "signed");
	t->created_at = 1000;
}

static enum store_status chain_write_tx(struct store_tx *tx, void *arg)
{
	struct chain_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "nonce floor 5", STORE_CALL(tx, chain_nonce_take, CHAIN_ACCOUNT, 5, &k->nonce[0]));
	rec(&k->p, "nonce floor 0", STORE_CALL(tx, chain_nonce_take, CHAIN_ACCOUNT, 0, &k->nonce[1]));
	rec(&k->p, "nonce floor 10", STORE_CALL(tx, chain_nonce_take, CHAIN_ACCOUNT, 10, &k->nonce[2]));
	rec(&k->p, "insert 1", STORE_CALL(tx, chain_tx_insert, &k->t1));
	rec(&k->p, "insert dup key", STORE_CALL(tx, chain_tx_insert, &k->t1));
	rec(&k->p, "insert dup nonce", STORE_CALL(tx, chain_tx_insert, &k->t2));
	rec(&k->p, "insert 3", STORE_CALL(tx, chain_tx_insert, &k->t3));
	return STORE_OK;
}

static enum store_status chain_read_tx(struct store_tx *tx, void *arg)
{
	struct chain_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "get", STORE_CALL(tx, chain_tx_get, k->t1.idempotency_key, &k->got));
	rec(&k->p, "get missing", STORE_CALL(tx, chain_tx_get, "no-such-key", &k->none));
	rec(&k->p, "get 3", STORE_CALL(tx, chain_tx_get, k->t3.idempotency_key, &k->got2));
	rec(&k->p, "pending", STORE_CALL(tx, chain_pending_units, 1337, k->t1.sender, k->t1.contract,
					 &k->pending[0]));
	rec(&k->p, "pending other", STORE_CALL(tx, chain_pending_units, 1337, k->t1.sender,
					       "0x0000000000000000000000000000000000000001",
					       &k->pending[1]));
	return STORE_OK;
}

static enum store_status chain_mined_tx(struct store_tx *tx, void *arg)
{
	struct chain_case *k = arg;
	k->p.n = 0;
	struct store_chain_tx m = k->got; /* t1 as updated */
	snprintf(m.state, sizeof m.state, "mined");
	rec(&k->p, "update mined", STORE_CALL(tx, chain_tx_update, &m));
	rec(&k->p, "pending after", STORE_CALL(tx, chain_pending_units, 1337, m.sender, m.contract,
					       &k->pending[2]));
	return STORE_OK;
}

static enum store_status chain_update_tx(struct store_tx *tx, void *arg)
{
	struct chain_case *k = arg;
	k->p.n = 0;
	/* A replacement: new fee, raw and hash, the old hash kept, sent. */
	struct store_chain_tx next = k->t1;
	next.gas_price_wei = 2500000001;
	next.tip_wei = 1250000001;
	next.tx_type = 0; /* not an updated column: stays */
	memset(next.hash + 2, 'b', 64);
	snprintf(next.raw, sizeof next.raw, "0xf86b");
	snprintf(next.prior_hashes, sizeof next.prior_hashes, "%s", k->t1.hash);
	next.replacements = 1;
	snprintf(next.state, sizeof next.state, "sent");
	next.sent_at_ms = 123456;
	next.nonce = 99;          /* not an updated column: stays */
	next.created_at = 5;      /* nor this */
	rec(&k->p, "update", STORE_CALL(tx, chain_tx_update, &next));
	rec(&k->p, "update missing", STORE_CALL(tx, chain_tx_update, &k->none));
	rec(&k->p, "nonce other node", STORE_CALL(tx, chain_nonce_take, CHAIN_ACCOUNT, 0, &k->nonce[3]));
	return STORE_OK;
}

static void test_chain_txs(void **state)
{
	struct cf *c = *state;
	struct chain_case *k = calloc(1, sizeof *k);
	chain_row(&k->t1, "a", 10);
	chain_row(&k->t2, "c", 10); /* another session, the same nonce */
	chain_row(&k->t3, "d", 11);
	memset(&k->none, 0, sizeof k->none);
	snprintf(k->none.idempotency_key, sizeof k->none.idempotency_key, "no-such-key");
	snprintf(k->none.network, sizeof k->none.network, "x");
	run_ok(c->s[0], true, chain_write_tx, k);
	expect(&k->p, "nonce floor 5", STORE_OK);
	expect(&k->p, "nonce floor 0", STORE_OK);
	expect(&k->p, "nonce floor 10", STORE_OK);
	assert_int_equal(k->nonce[0], 5);  /* first take: the node's count */
	assert_int_equal(k->nonce[1], 6);  /* then ours, past a lower count */
	assert_int_equal(k->nonce[2], 10); /* a higher count wins (sent elsewhere) */
	expect(&k->p, "insert 1", STORE_OK);
	expect(&k->p, "insert dup key", STORE_EXISTS);
	expect(&k->p, "insert dup nonce", STORE_EXISTS);
	expect(&k->p, "insert 3", STORE_OK);
	run_ok(c->s[1], false, chain_read_tx, k);
	expect(&k->p, "get", STORE_OK);
	expect(&k->p, "get missing", STORE_NOT_FOUND);
	expect(&k->p, "get 3", STORE_OK);
	assert_memory_equal(&k->got, &k->t1, sizeof k->got); /* every field, byte for byte */
	assert_int_equal(k->got2.nonce, 11);
	expect(&k->p, "pending", STORE_OK);
	assert_int_equal(k->pending[0], 1010 + 1011); /* t1 and t3, both signed */
	expect(&k->p, "pending other", STORE_OK);
	assert_int_equal(k->pending[1], 0);
	run_ok(c->s[1], true, chain_update_tx, k);
	expect(&k->p, "update", STORE_OK);
	expect(&k->p, "update missing", STORE_NOT_FOUND);
	expect(&k->p, "nonce other node", STORE_OK);
	assert_int_equal(k->nonce[3], 11); /* the other node continues the sequence */
	run_ok(c->s[0], false, chain_read_tx, k);
	assert_int_equal(k->got.gas_price_wei, 2500000001);
	assert_string_equal(k->got.state, "sent");
	assert_string_equal(k->got.prior_hashes, k->t1.hash);
	assert_int_equal(k->got.replacements, 1);
	assert_int_equal(k->got.sent_at_ms, 123456);
	assert_string_equal(k->got.raw, "0xf86b");
	assert_int_equal(k->got.hash[2], 'b');
	assert_int_equal(k->got.nonce, 10);
	assert_int_equal(k->got.created_at, 1000);
	assert_int_equal(k->got.amount_units, 1010);
	assert_int_equal(k->got.tip_wei, 1250000001);
	assert_int_equal(k->got.tx_type, 2);
	assert_int_equal(k->pending[0], 1010 + 1011); /* sent is still in flight */
	run_ok(c->s[1], true, chain_mined_tx, k);
	expect(&k->p, "update mined", STORE_OK);
	expect(&k->p, "pending after", STORE_OK);
	assert_int_equal(k->pending[2], 1011); /* mined: the chain's balance shows it */
	free(k);
}

/* Two nodes taking nonces of one account at once never take one twice. */
#define NONCE_RACE_N 25
struct nonce_race {
	struct store *s;
	int64_t got[NONCE_RACE_N];
	enum store_status st[NONCE_RACE_N];
};

static enum store_status nonce_take_tx(struct store_tx *tx, void *arg)
{
	return STORE_CALL(tx, chain_nonce_take, CHAIN_ACCOUNT, 0, (int64_t *)arg);
}

static void *nonce_racer(void *arg)
{
	struct nonce_race *r = arg;
	for (int i = 0; i < NONCE_RACE_N; i++)
		r->st[i] = store_run(r->s, true, nonce_take_tx, &r->got[i]);
	return NULL;
}

static void test_chain_nonce_race(void **state)
{
	struct cf *c = *state;
	struct nonce_race r[2] = {{.s = c->s[0]}, {.s = c->s[1]}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, nonce_racer, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	bool seen[2 * NONCE_RACE_N] = {false};
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < NONCE_RACE_N; j++) {
			assert_int_equal(r[i].st[j], STORE_OK);
			assert_true(r[i].got[j] >= 0 && r[i].got[j] < 2 * NONCE_RACE_N);
			assert_false(seen[r[i].got[j]]);
			seen[r[i].got[j]] = true;
		}
}

/* ---- exchange rates and partner fees ------------------------------------------- */

struct rates_case {
	struct cf_world w;
	struct store_exchange_rate locked, floating, got;
	struct store_partner_fee fee, got_fee, none_fee;
	store_id used_by, second;
	struct cf_steps p;
};

static enum store_status rates_write_tx(struct store_tx *tx, void *arg)
{
	struct rates_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "exchange_rate_insert", STORE_CALL(tx, exchange_rate_insert, &k->locked));
	rec(&k->p, "exchange_rate_insert floating", STORE_CALL(tx, exchange_rate_insert, &k->floating));
	rec(&k->p, "exchange_rate_insert dup", STORE_CALL(tx, exchange_rate_insert, &k->locked));
	rec(&k->p, "partner_fee_insert", STORE_CALL(tx, partner_fee_insert, &k->fee));
	rec(&k->p, "partner_fee_insert dup", STORE_CALL(tx, partner_fee_insert, &k->fee));
	return STORE_OK;
}

static enum store_status rates_use_tx(struct store_tx *tx, void *arg)
{
	struct rates_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "exchange_rate_use",
	    STORE_CALL(tx, exchange_rate_use, k->w.tenant, k->locked.id, k->used_by));
	rec(&k->p, "exchange_rate_use again",
	    STORE_CALL(tx, exchange_rate_use, k->w.tenant, k->locked.id, k->second));
	return STORE_OK;
}

static enum store_status rates_read_tx(struct store_tx *tx, void *arg)
{
	struct rates_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "exchange_rate_get",
	    STORE_CALL(tx, exchange_rate_get, k->w.tenant, k->locked.id, &k->got));
	rec(&k->p, "partner_fee_get", STORE_CALL(tx, partner_fee_get, k->w.tenant, k->fee.id, &k->got_fee));
	rec(&k->p, "partner_fee_get missing",
	    STORE_CALL(tx, partner_fee_get, k->w.tenant, k->locked.id, &k->none_fee));
	return STORE_OK;
}

static void test_rates_and_fees(void **state)
{
	struct cf *c = *state;
	struct rates_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	struct store_exchange_rate *mk[2] = {&k->locked, &k->floating};
	for (int i = 0; i < 2; i++) {
		new_id(mk[i]->id);
		memcpy(mk[i]->tenant_id, k->w.tenant, sizeof mk[i]->tenant_id);
		snprintf(mk[i]->type, sizeof mk[i]->type, "%s", i ? "FLOATING" : "LOCKED");
		snprintf(mk[i]->source, sizeof mk[i]->source, "USDC");
		snprintf(mk[i]->target, sizeof mk[i]->target, "EUR");
		mk[i]->value = 9200 + i;
		mk[i]->scale = 4;
		snprintf(mk[i]->time_lock, sizeof mk[i]->time_lock, "%s", i ? "" : "5m");
		mk[i]->expires_at = i ? 0 : 1300;
		mk[i]->created_at = 1000;
	}
	new_id(k->used_by);
	new_id(k->second);
	new_id(k->fee.id);
	memcpy(k->fee.tenant_id, k->w.tenant, sizeof k->fee.tenant_id);
	snprintf(k->fee.name, sizeof k->fee.name, "partner");
	k->fee.bps = 35;
	k->fee.flat_minor = 250000;
	k->fee.is_default = true;
	k->fee.created_at = 1000;
	run_ok(c->s[0], true, rates_write_tx, k);
	expect(&k->p, "exchange_rate_insert", STORE_OK);
	expect(&k->p, "exchange_rate_insert floating", STORE_OK);
	expect(&k->p, "exchange_rate_insert dup", STORE_EXISTS);
	expect(&k->p, "partner_fee_insert", STORE_OK);
	expect(&k->p, "partner_fee_insert dup", STORE_EXISTS);
	/* A locked rate is used once, by one session, from whichever node. */
	run_ok(c->s[1], true, rates_use_tx, k);
	expect(&k->p, "exchange_rate_use", STORE_OK);
	expect(&k->p, "exchange_rate_use again", STORE_EXISTS);
	run_ok(c->s[0], true, rates_use_tx, k);
	expect(&k->p, "exchange_rate_use", STORE_EXISTS);
	run_ok(c->s[0], false, rates_read_tx, k);
	expect(&k->p, "exchange_rate_get", STORE_OK);
	assert_string_equal(k->got.used_by, k->used_by);
	assert_string_equal(k->got.type, "LOCKED");
	assert_string_equal(k->got.time_lock, "5m");
	assert_int_equal(k->got.value, 9200);
	assert_int_equal(k->got.scale, 4);
	assert_int_equal(k->got.expires_at, 1300);
	expect(&k->p, "partner_fee_get", STORE_OK);
	assert_int_equal(k->got_fee.bps, 35);
	assert_int_equal(k->got_fee.flat_minor, 250000);
	assert_true(k->got_fee.is_default);
	assert_string_equal(k->got_fee.name, "partner");
	expect(&k->p, "partner_fee_get missing", STORE_NOT_FOUND);
	free(k);
}

/* ---- webhooks: endpoints, the outbox, attempts ---------------------------------- */

struct hooks_case {
	struct cf_world w;
	struct store_hook_endpoint e[3], got, upd, missing;
	struct store_hook_delivery d[6], fin;
	struct store_hook_attempt at[3];
	store_id ev[3];
	int64_t next_due;
	enum store_status next_st;
	/* A claim's arguments. */
	int64_t now, until;
	const char *owner, *prefix;
	int limit, per_endpoint;
	struct cf_rows rows, rows2, page, rest, first;
	struct cf_steps p;
};

static enum store_status hooks_write_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->p.n = 0;
	for (int i = 0; i < 3; i++)
		rec(&k->p, "hook_endpoint_insert", STORE_CALL(tx, hook_endpoint_insert, &k->e[i]));
	rec(&k->p, "hook_endpoint_insert dup", STORE_CALL(tx, hook_endpoint_insert, &k->e[0]));
	for (int i = 0; i < 6; i++)
		rec(&k->p, "hook_delivery_insert", STORE_CALL(tx, hook_delivery_insert, &k->d[i]));
	rec(&k->p, "hook_delivery_insert dup", STORE_CALL(tx, hook_delivery_insert, &k->d[0]));
	for (int i = 0; i < 3; i++)
		rec(&k->p, "hook_attempt_insert", STORE_CALL(tx, hook_attempt_insert, &k->at[i]));
	rec(&k->p, "hook_endpoint_update", STORE_CALL(tx, hook_endpoint_update, &k->upd));
	rec(&k->p, "hook_endpoint_update missing", STORE_CALL(tx, hook_endpoint_update, &k->missing));
	return STORE_OK;
}

static enum store_status hooks_read_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->p.n = 0;
	k->rows.n = k->rows2.n = k->page.n = k->rest.n = k->first.n = 0;
	rec(&k->p, "hook_endpoint_get", STORE_CALL(tx, hook_endpoint_get, k->w.tenant, k->e[0].id, &k->got));
	rec(&k->p, "hook_endpoint_page", STORE_CALL(tx, hook_endpoint_page, k->e[0].id, 1, row_hook, &k->page));
	rec(&k->p, "hook_endpoint_page first",
	    STORE_CALL(tx, hook_endpoint_page, "", CF_ROWS_MAX, row_hook, &k->first));
	rec(&k->p, "hook_endpoint_page rest",
	    STORE_CALL(tx, hook_endpoint_page, k->e[1].id, CF_ROWS_MAX, row_hook, &k->rest));
	rec(&k->p, "hook_endpoint_list", STORE_CALL(tx, hook_endpoint_list, k->w.tenant, row_hook, &k->rows));
	rec(&k->p, "hook_attempt_list",
	    STORE_CALL(tx, hook_attempt_list, k->w.tenant, k->e[0].id, NULL, 10, row_attempt, &k->rows2));
	return STORE_OK;
}

static enum store_status hooks_next_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->next_st = STORE_CALL(tx, hook_delivery_next_due, &k->next_due);
	return STORE_OK;
}

static enum store_status hooks_attempt_page_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->rows2.n = 0;
	return STORE_CALL(tx, hook_attempt_list, k->w.tenant, k->e[0].id, k->at[2].id, 1, row_attempt,
			  &k->rows2);
}

static enum store_status hooks_claim_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->rows.n = 0;
	return STORE_CALL(tx, hook_delivery_claim, k->now, k->owner, k->until, k->limit,
			  k->per_endpoint, LIMIT_WEBHOOK_TENANT_IN_FLIGHT, row_delivery, &k->rows);
}

static enum store_status hooks_finish_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	return STORE_CALL(tx, hook_delivery_finish, &k->fin, k->owner);
}

static enum store_status hooks_release_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	return STORE_CALL(tx, hook_delivery_release_leases, k->prefix);
}

static enum store_status hooks_cancel_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	return STORE_CALL(tx, hook_delivery_cancel, k->e[1].id);
}

static enum store_status hooks_of_event_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->rows.n = k->rows2.n = 0;
	enum store_status st = STORE_CALL(tx, hook_delivery_of_event, k->e[0].id, k->ev[0],
					  row_delivery, &k->rows);
	return st == STORE_OK ? STORE_CALL(tx, hook_delivery_of_event, k->e[1].id, k->ev[0],
					   row_delivery, &k->rows2)
			      : st;
}

static enum store_status hooks_delete_tx(struct store_tx *tx, void *arg)
{
	struct hooks_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "hook_endpoint_delete", STORE_CALL(tx, hook_endpoint_delete, k->w.tenant, k->e[1].id));
	rec(&k->p, "hook_endpoint_get deleted",
	    STORE_CALL(tx, hook_endpoint_get, k->w.tenant, k->e[1].id, &k->got));
	rec(&k->p, "hook_endpoint_delete again",
	    STORE_CALL(tx, hook_endpoint_delete, k->w.tenant, k->e[1].id));
	return STORE_OK;
}

/* Claim with these arguments on s; returns the rows. */
static int hooks_claim(struct store *s, struct hooks_case *k, const char *owner, int per_endpoint)
{
	k->now = 1000;
	k->until = 5000;
	k->owner = owner;
	k->limit = 10;
	k->per_endpoint = per_endpoint;
	run_ok(s, true, hooks_claim_tx, k);
	char want[24];
	snprintf(want, sizeof want, "pending:%s", owner);
	for (int i = 0; i < k->rows.n; i++) {
		assert_string_equal(k->rows.text[i], want);
		assert_int_equal(k->rows.num[i], 5000);
	}
	return k->rows.n;
}

static void hooks_make(struct hooks_case *k)
{
	for (int i = 0; i < 3; i++) {
		struct store_hook_endpoint *e = &k->e[i];
		new_id(e->id);
		new_id(k->ev[i]);
		memcpy(e->tenant_id, k->w.tenant, sizeof e->tenant_id);
		snprintf(e->url, sizeof e->url, "https://hooks.example/%d", i);
		snprintf(e->format, sizeof e->format, "standard");
		snprintf(e->event_types, sizeof e->event_types, "[\"*\"]");
		e->enabled = true;
		snprintf(e->secret, sizeof e->secret, "whsec_%d", i);
		e->created_at = e->updated_at = 1000 + i;
	}
	k->upd = k->e[0];
	snprintf(k->upd.url, sizeof k->upd.url, "https://hooks.example/moved");
	k->upd.enabled = false;
	snprintf(k->upd.disabled_reason, sizeof k->upd.disabled_reason, "disabled");
	/* A sealed secret's length (service/secrets.c): the whole column. */
	memset(k->upd.previous_secret, 'p', sizeof k->upd.previous_secret - 1);
	k->upd.previous_until = 4000;
	k->upd.updated_at = 3000;
	k->missing = k->upd;
	new_id(k->missing.id);
	/* e0: two (events 0 and 1), e1: one (event 0), e2: three (event 2). */
	static const struct {
		int ep, ev;
		int64_t next_ms;
	} ds[6] = {{0, 0, 100}, {0, 1, 200}, {1, 0, 150}, {2, 2, 300}, {2, 2, 310}, {2, 2, 320}};
	for (int i = 0; i < 6; i++) {
		struct store_hook_delivery *d = &k->d[i];
		new_id(d->id);
		memcpy(d->tenant_id, k->w.tenant, sizeof d->tenant_id);
		memcpy(d->endpoint_id, k->e[ds[i].ep].id, sizeof d->endpoint_id);
		memcpy(d->event_id, k->ev[ds[i].ev], sizeof d->event_id);
		memcpy(d->message_id, k->ev[ds[i].ev], sizeof(store_id));
		snprintf(d->type, sizeof d->type, "off_ramp_session.settled");
		d->body = "{\"hook\":true}";
		snprintf(d->status, sizeof d->status, "pending");
		d->next_attempt_ms = ds[i].next_ms;
		d->created_at = d->updated_at = 1000;
	}
	for (int i = 0; i < 3; i++) {
		struct store_hook_attempt *a = &k->at[i];
		new_id(a->id);
		memcpy(a->tenant_id, k->w.tenant, sizeof a->tenant_id);
		memcpy(a->endpoint_id, k->e[0].id, sizeof a->endpoint_id);
		memcpy(a->delivery_id, k->d[0].id, sizeof a->delivery_id);
		memcpy(a->event_id, k->ev[0], sizeof a->event_id);
		a->attempt = i + 1;
		a->status_code = i ? 500 : 0;
		snprintf(a->error, sizeof a->error, "%s", i ? "" : "timeout");
		a->duration_ms = 10 * i;
		a->created_at = 1000 + i;
	}
}

static void test_webhooks(void **state)
{
	struct cf *c = *state;
	struct hooks_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	hooks_make(k);
	run_ok(c->s[1], false, hooks_next_tx, k);
	assert_int_equal(k->next_st, STORE_NOT_FOUND); /* nothing pending */
	run_ok(c->s[0], true, hooks_write_tx, k);
	expect(&k->p, "hook_endpoint_insert", STORE_OK);
	expect(&k->p, "hook_endpoint_insert dup", STORE_EXISTS);
	expect(&k->p, "hook_delivery_insert", STORE_OK);
	expect(&k->p, "hook_delivery_insert dup", STORE_EXISTS);
	expect(&k->p, "hook_attempt_insert", STORE_OK);
	expect(&k->p, "hook_endpoint_update", STORE_OK);
	expect(&k->p, "hook_endpoint_update missing", STORE_NOT_FOUND);
	for (int i = 0; i < k->p.n; i++)
		if (strstr(k->p.s[i].what, "insert") && !strstr(k->p.s[i].what, "dup"))
			assert_int_equal(k->p.s[i].st, STORE_OK);

	run_ok(c->s[1], false, hooks_read_tx, k);
	expect(&k->p, "hook_endpoint_get", STORE_OK);
	assert_string_equal(k->got.url, "https://hooks.example/moved");
	assert_false(k->got.enabled);
	assert_string_equal(k->got.disabled_reason, "disabled");
	assert_string_equal(k->got.secret, "whsec_0");
	assert_int_equal(strlen(k->got.previous_secret), STORE_HOOK_SECRET_MAX - 1);
	assert_string_equal(k->got.previous_secret, k->upd.previous_secret);
	/* Pages by id across tenants: after e0 one row (e1); after e1, e2 first. */
	expect(&k->p, "hook_endpoint_page", STORE_OK);
	assert_int_equal(k->page.n, 1);
	assert_string_equal(k->page.id[0], k->e[1].id);
	expect(&k->p, "hook_endpoint_page first", STORE_OK); /* "": from the first */
	for (int i = 0; i < 3; i++)
		assert_true(rows_find(&k->first, k->e[i].id) >= 0);
	expect(&k->p, "hook_endpoint_page rest", STORE_OK);
	assert_true(k->rest.n >= 1);
	assert_string_equal(k->rest.id[0], k->e[2].id);
	assert_true(rows_find(&k->rest, k->e[0].id) < 0 && rows_find(&k->rest, k->e[1].id) < 0);
	assert_int_equal(k->got.previous_until, 4000);
	assert_string_equal(k->got.event_types, "[\"*\"]");
	assert_int_equal(k->got.updated_at, 3000);
	expect(&k->p, "hook_endpoint_list", STORE_OK);
	assert_int_equal(k->rows.n, 3); /* oldest first */
	for (int i = 0; i < 3; i++)
		assert_string_equal(k->rows.id[i], k->e[i].id);
	expect(&k->p, "hook_attempt_list", STORE_OK);
	assert_int_equal(k->rows2.n, 3); /* newest first */
	for (int i = 0; i < 3; i++)
		assert_string_equal(k->rows2.id[i], k->at[2 - i].id);
	assert_string_equal(k->rows2.text[2], "timeout");
	run_ok(c->s[0], false, hooks_attempt_page_tx, k);
	assert_int_equal(k->rows2.n, 1);
	assert_string_equal(k->rows2.id[0], k->at[1].id);
	run_ok(c->s[0], false, hooks_next_tx, k);
	assert_int_equal(k->next_st, STORE_OK);
	assert_int_equal(k->next_due, 100);

	/* At most two per endpoint: e2's third waits; then none is left to
	 * lease; another node's claim finds nothing either. */
	assert_int_equal(hooks_claim(c->s[1], k, "node/w1", 2), 5);
	assert_true(rows_find(&k->rows, k->d[5].id) < 0);
	assert_int_equal(hooks_claim(c->s[0], k, "nodeb/w1", 2), 0);

	/* Finish only under the claim's own lease. */
	k->fin = k->d[0];
	snprintf(k->fin.status, sizeof k->fin.status, "delivered");
	k->fin.attempts = 1;
	k->fin.last_status = 200;
	k->fin.next_attempt_ms = 0;
	k->fin.lease_until_ms = 5000;
	k->fin.updated_at = 1001;
	k->owner = "nodeb/w1";
	assert_int_equal(store_run(c->s[0], true, hooks_finish_tx, k), STORE_NOT_FOUND);
	k->owner = "node/w1";
	run_ok(c->s[0], true, hooks_finish_tx, k);
	assert_int_equal(store_run(c->s[1], true, hooks_finish_tx, k), STORE_NOT_FOUND);

	/* Release by literal prefix; the released ones are claimable again. */
	k->prefix = "nodeb/";
	run_ok(c->s[1], true, hooks_release_tx, k);
	assert_int_equal(hooks_claim(c->s[1], k, "node/w2", 4), 1); /* only e2's third */
	assert_string_equal(k->rows.id[0], k->d[5].id);
	k->prefix = "node/";
	run_ok(c->s[1], true, hooks_release_tx, k);
	assert_int_equal(hooks_claim(c->s[0], k, "node/w3", 4), 5);
	assert_true(rows_find(&k->rows, k->d[0].id) < 0); /* delivered */

	run_ok(c->s[0], true, hooks_cancel_tx, k); /* e1's pending ones end */
	k->fin = k->d[2];
	snprintf(k->fin.status, sizeof k->fin.status, "delivered");
	k->fin.lease_until_ms = 5000;
	k->owner = "node/w3";
	assert_int_equal(store_run(c->s[1], true, hooks_finish_tx, k), STORE_NOT_FOUND);
	run_ok(c->s[1], false, hooks_of_event_tx, k);
	assert_int_equal(k->rows.n, 1);
	assert_string_equal(k->rows.id[0], k->d[0].id);
	assert_string_equal(k->rows.text[0], "delivered:");
	assert_int_equal(k->rows2.n, 1);
	assert_string_equal(k->rows2.id[0], k->d[2].id);
	assert_true(!strncmp(k->rows2.text[0], "cancelled:", 10));
	/* Pending ones count, leased or not: e0's second is the earliest. */
	run_ok(c->s[0], false, hooks_next_tx, k);
	assert_int_equal(k->next_st, STORE_OK);
	assert_int_equal(k->next_due, 200);

	run_ok(c->s[1], true, hooks_delete_tx, k);
	expect(&k->p, "hook_endpoint_delete", STORE_OK);
	expect(&k->p, "hook_endpoint_get deleted", STORE_NOT_FOUND);
	expect(&k->p, "hook_endpoint_delete again", STORE_NOT_FOUND);
	free(k);
}

/* ---- idempotency records ----------------------------------------------------------- */

struct idem_case {
	struct cf_world w;
	struct store_idem r1, r1_other, r1_endpoint, expired_new, nobody, got;
	int64_t now;
	struct cf_steps p;
};

static enum store_status idem_write_tx(struct store_tx *tx, void *arg)
{
	struct idem_case *k = arg;
	k->p.n = 0;
	rec(&k->p, "idem_insert", STORE_CALL(tx, idem_insert, &k->r1));
	rec(&k->p, "idem_insert taken", STORE_CALL(tx, idem_insert, &k->r1_other));
	rec(&k->p, "idem_insert other endpoint", STORE_CALL(tx, idem_insert, &k->r1_endpoint));
	rec(&k->p, "idem_insert no body", STORE_CALL(tx, idem_insert, &k->nobody));
	return STORE_OK;
}

static enum store_status idem_replace_tx(struct store_tx *tx, void *arg)
{
	struct idem_case *k = arg;
	return STORE_CALL(tx, idem_insert, &k->expired_new);
}

static enum store_status idem_get_tx(struct store_tx *tx, void *arg)
{
	struct idem_case *k = arg;
	store_idem_clear(&k->got);
	return STORE_CALL(tx, idem_get, k->r1.tenant_id, k->r1.endpoint, k->r1.key, k->now, &k->got);
}

static void test_idempotency_records(void **state)
{
	struct cf *c = *state;
	struct idem_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->w);
	static char body1[] = {'o', 'k', '\0', '\xff', '"'}; /* bytes, not text */
	k->r1 = (struct store_idem){.status = 201, .body = body1, .body_len = sizeof body1,
				    .created_at = 1000, .expires_at = 2000};
	memcpy(k->r1.tenant_id, k->w.tenant, sizeof k->r1.tenant_id);
	snprintf(k->r1.endpoint, sizeof k->r1.endpoint, "POST /off-ramp-sessions");
	snprintf(k->r1.key, sizeof k->r1.key, "key-1 with spaces/ünïcode");
	snprintf(k->r1.request_hash, sizeof k->r1.request_hash, "%064d", 1);
	k->r1_other = k->r1;
	k->r1_other.body = "other";
	k->r1_other.body_len = 5;
	k->r1_other.status = 400;
	snprintf(k->r1_other.request_hash, sizeof k->r1_other.request_hash, "%064d", 2);
	k->r1_endpoint = k->r1;
	snprintf(k->r1_endpoint.endpoint, sizeof k->r1_endpoint.endpoint, "POST /deposits");
	k->nobody = k->r1;
	snprintf(k->nobody.key, sizeof k->nobody.key, "key-2");
	k->nobody.body = NULL;
	k->nobody.body_len = 0;
	run_ok(c->s[0], true, idem_write_tx, k);
	expect(&k->p, "idem_insert", STORE_OK);
	expect(&k->p, "idem_insert taken", STORE_EXISTS); /* nothing written */
	expect(&k->p, "idem_insert other endpoint", STORE_OK);
	expect(&k->p, "idem_insert no body", STORE_OK);

	k->now = 1999;
	run_ok(c->s[1], false, idem_get_tx, k);
	assert_int_equal(k->got.status, 201);
	assert_int_equal(k->got.body_len, sizeof body1);
	assert_memory_equal(k->got.body, body1, sizeof body1);
	assert_string_equal(k->got.request_hash, k->r1.request_hash);
	assert_string_equal(k->got.key, k->r1.key);
	assert_int_equal(k->got.created_at, 1000);
	assert_int_equal(k->got.expires_at, 2000);
	/* Expired: gone for readers, and free for a new record. */
	k->now = 2000;
	assert_int_equal(store_run(c->s[1], false, idem_get_tx, k), STORE_NOT_FOUND);
	k->expired_new = k->r1_other;
	k->expired_new.created_at = 2000;
	k->expired_new.expires_at = 3000;
	run_ok(c->s[1], true, idem_replace_tx, k);
	k->now = 2500;
	run_ok(c->s[0], false, idem_get_tx, k);
	assert_int_equal(k->got.status, 400);
	assert_int_equal(k->got.body_len, 5);
	assert_memory_equal(k->got.body, "other", 5);
	/* A record without a body reads back without one. */
	k->r1 = k->nobody;
	k->now = 1500;
	run_ok(c->s[0], false, idem_get_tx, k);
	assert_null(k->got.body);
	assert_int_equal(k->got.body_len, 0);
	store_idem_clear(&k->got);
	free(k);
}

/* ---- tenancy: tenant B never reaches tenant A's rows ----------------------------- */

struct tenancy_case {
	struct cf_world a, b;
	struct store_session sa, sa_as_b;
	struct store_approval ap, ap_as_b;
	struct store_policy pol;
	struct store_event ev;
	struct store_payout po;
	struct store_exchange_rate rate;
	struct store_partner_fee fee;
	struct hooks_case *h; /* endpoint e[0], attempt at[0] */
	struct store_hook_endpoint ep_as_b;
	struct store_idem idem, idem_b;
	store_id funding, user_of_b;
	/* scratch outputs */
	struct store_client cl;
	struct store_account acct;
	struct store_destination dest;
	struct store_session sess;
	struct store_approval appr;
	struct store_policy got_pol;
	struct store_exchange_rate got_rate;
	struct store_partner_fee got_fee;
	struct store_hook_endpoint got_ep;
	struct store_idem got_idem;
	char *ext;
	int64_t value;
	struct cf_rows rows[12];
	struct cf_steps p;
};

static enum store_status tenancy_fill_tx(struct store_tx *tx, void *arg)
{
	struct tenancy_case *k = arg;
	struct hooks_case *h = k->h;
	struct store_account f = {.created_at = 1000};
	memcpy(f.id, k->funding, sizeof f.id);
	memcpy(f.tenant_id, k->a.tenant, sizeof f.tenant_id);
	snprintf(f.kind, sizeof f.kind, "system");
	snprintf(f.code, sizeof f.code, "sandbox_funding");
	enum store_status st;
	if ((st = STORE_CALL(tx, account_insert, &f)) != STORE_OK ||
	    (st = session_put(tx, &k->sa)) != STORE_OK ||
	    (st = STORE_CALL(tx, approval_insert, &k->ap)) != STORE_OK ||
	    (st = STORE_CALL(tx, policy_put, &k->pol)) != STORE_OK ||
	    (st = STORE_CALL(tx, setting_put, k->a.tenant, "platform_bps", 12)) != STORE_OK ||
	    (st = STORE_CALL(tx, event_insert, &k->ev)) != STORE_OK ||
	    (st = STORE_CALL(tx, payout_insert, &k->po)) != STORE_OK ||
	    (st = STORE_CALL(tx, ext_put, k->a.tenant, k->a.dest, "lumx", "{\"mine\":1}")) != STORE_OK ||
	    (st = STORE_CALL(tx, exchange_rate_insert, &k->rate)) != STORE_OK ||
	    (st = STORE_CALL(tx, partner_fee_insert, &k->fee)) != STORE_OK ||
	    (st = STORE_CALL(tx, hook_endpoint_insert, &h->e[0])) != STORE_OK ||
	    (st = STORE_CALL(tx, hook_delivery_insert, &h->d[0])) != STORE_OK ||
	    (st = STORE_CALL(tx, hook_attempt_insert, &h->at[0])) != STORE_OK)
		return st;
	return STORE_CALL(tx, idem_insert, &k->idem);
}

/* Reads through tenant t of A's rows; rows[] and p filled. */
static enum store_status tenancy_read_tx(struct store_tx *tx, void *arg)
{
	struct tenancy_case *k = arg;
	const char *t = k->user_of_b; /* whose id every call passes */
	struct hooks_case *h = k->h;
	struct cf_rows *r = k->rows;
	k->p.n = 0;
	for (int i = 0; i < 12; i++)
		r[i].n = 0;
	store_destination_clear(&k->dest);
	store_idem_clear(&k->got_idem);
	free(k->ext);
	k->ext = NULL;
	struct store_session_filter all = {.limit = 10}, by_account = {.limit = 10},
				    by_client = {.limit = 10};
	snprintf(all.tenant_id, sizeof all.tenant_id, "%s", t);
	by_account = by_client = all;
	by_account.account_id = k->a.account;
	by_client.client_id = k->a.client;
	by_client.status = "executing";
	rec(&k->p, "client_get", STORE_CALL(tx, client_get, t, k->a.client, &k->cl));
	rec(&k->p, "account_get", STORE_CALL(tx, account_get, t, k->a.account, &k->acct));
	rec(&k->p, "account_get_system",
	    STORE_CALL(tx, account_get_system, t, "sandbox_funding", &k->acct));
	rec(&k->p, "destination_get", STORE_CALL(tx, destination_get, t, k->a.dest, &k->dest));
	rec(&k->p, "destination_list",
	    STORE_CALL(tx, destination_list, t, k->a.client, 10, row_destination, &r[0]));
	rec(&k->p, "session_get", STORE_CALL(tx, session_get, t, k->sa.id, &k->sess));
	rec(&k->p, "session_list", STORE_CALL(tx, session_list, &all, row_session, &r[1]));
	rec(&k->p, "session_list account", STORE_CALL(tx, session_list, &by_account, row_session, &r[2]));
	rec(&k->p, "session_list client", STORE_CALL(tx, session_list, &by_client, row_session, &r[3]));
	rec(&k->p, "session_sum", STORE_CALL(tx, session_sum, t, k->a.client, 0, &k->value));
	r[4].num[0] = k->value;
	rec(&k->p, "approval_get", STORE_CALL(tx, approval_get, t, k->ap.id, &k->appr));
	rec(&k->p, "approval_list", STORE_CALL(tx, approval_list, t, NULL, NULL, 10, row_approval, &r[5]));
	rec(&k->p, "policy_get", STORE_CALL(tx, policy_get, t, &k->got_pol));
	rec(&k->p, "setting_get", STORE_CALL(tx, setting_get, t, "platform_bps", &k->value));
	rec(&k->p, "event_list", STORE_CALL(tx, event_list, t, NULL, 0, 10, row_event, &r[6]));
	rec(&k->p, "event_list resource",
	    STORE_CALL(tx, event_list, t, k->sa.id, 0, 10, row_event, &r[7]));
	rec(&k->p, "payout_list", STORE_CALL(tx, payout_list, t, NULL, row_payout, &r[8]));
	rec(&k->p, "payout_list session",
	    STORE_CALL(tx, payout_list, t, k->sa.id, row_payout, &r[9]));
	rec(&k->p, "ext_get", STORE_CALL(tx, ext_get, t, k->a.dest, "lumx", &k->ext));
	rec(&k->p, "exchange_rate_get", STORE_CALL(tx, exchange_rate_get, t, k->rate.id, &k->got_rate));
	rec(&k->p, "partner_fee_get", STORE_CALL(tx, partner_fee_get, t, k->fee.id, &k->got_fee));
	rec(&k->p, "hook_endpoint_get", STORE_CALL(tx, hook_endpoint_get, t, h->e[0].id, &k->got_ep));
	rec(&k->p, "hook_endpoint_list", STORE_CALL(tx, hook_endpoint_list, t, row_hook, &r[10]));
	rec(&k->p, "hook_attempt_list",
	    STORE_CALL(tx, hook_attempt_list, t, h->e[0].id, NULL, 10, row_attempt, &r[11]));
	rec(&k->p, "idem_get",
	    STORE_CALL(tx, idem_get, t, k->idem.endpoint, k->idem.key, 1500, &k->got_idem));
	return STORE_OK;
}

/* Writes through tenant B aimed at A's rows. */
static enum store_status tenancy_write_tx(struct store_tx *tx, void *arg)
{
	struct tenancy_case *k = arg;
	const char *t = k->b.tenant;
	k->p.n = 0;
	rec(&k->p, "client_lock", STORE_CALL(tx, client_lock, t, k->a.client));
	rec(&k->p, "session_update", STORE_CALL(tx, session_update, &k->sa_as_b, 1));
	rec(&k->p, "approval_update", STORE_CALL(tx, approval_update, &k->ap_as_b));
	rec(&k->p, "exchange_rate_use", STORE_CALL(tx, exchange_rate_use, t, k->rate.id, k->b.principal));
	rec(&k->p, "ext_put", STORE_CALL(tx, ext_put, t, k->a.dest, "lumx", "{\"theirs\":1}"));
	rec(&k->p, "hook_endpoint_update", STORE_CALL(tx, hook_endpoint_update, &k->ep_as_b));
	rec(&k->p, "hook_endpoint_delete", STORE_CALL(tx, hook_endpoint_delete, t, k->h->e[0].id));
	/* Keys are per tenant: B's own record under A's key is B's. */
	rec(&k->p, "idem_insert", STORE_CALL(tx, idem_insert, &k->idem_b));
	return STORE_OK;
}

static void tenancy_make(struct tenancy_case *k)
{
	struct cf_world *a = &k->a;
	new_id(k->funding);
	session_fill(&k->sa, a, "executing", 10, 100, 0);
	k->sa_as_b = k->sa;
	memcpy(k->sa_as_b.tenant_id, k->b.tenant, sizeof k->sa_as_b.tenant_id);
	k->sa_as_b.version = 2;
	snprintf(k->sa_as_b.status, sizeof k->sa_as_b.status, "failed");
	new_id(k->ap.id);
	memcpy(k->ap.tenant_id, a->tenant, sizeof k->ap.tenant_id);
	memcpy(k->ap.session_id, k->sa.id, sizeof k->ap.session_id);
	snprintf(k->ap.status, sizeof k->ap.status, "pending");
	memcpy(k->ap.initiator_id, a->principal, sizeof k->ap.initiator_id);
	snprintf(k->ap.initiator_kind, sizeof k->ap.initiator_kind, "user");
	snprintf(k->ap.currency, sizeof k->ap.currency, "USDC");
	k->ap.amount_minor = 10;
	k->ap_as_b = k->ap;
	memcpy(k->ap_as_b.tenant_id, k->b.tenant, sizeof k->ap_as_b.tenant_id);
	snprintf(k->ap_as_b.status, sizeof k->ap_as_b.status, "approved");
	k->pol = (struct store_policy){.threshold_minor = 1};
	memcpy(k->pol.tenant_id, a->tenant, sizeof k->pol.tenant_id);
	snprintf(k->pol.threshold_currency, sizeof k->pol.threshold_currency, "USDC");
	assert_true(event_fill(&k->ev, a->tenant, k->sa.id, 1, "{}"));
	new_id(k->po.id);
	snprintf(k->po.idempotency_key, sizeof k->po.idempotency_key, "%s:payout", k->sa.id);
	memcpy(k->po.tenant_id, a->tenant, sizeof k->po.tenant_id);
	memcpy(k->po.session_id, k->sa.id, sizeof k->po.session_id);
	snprintf(k->po.rail, sizeof k->po.rail, "sepa_credit_transfer");
	snprintf(k->po.currency, sizeof k->po.currency, "EUR");
	k->po.amount_minor = 9;
	snprintf(k->po.outcome, sizeof k->po.outcome, "paid");
	k->po.calls = 1;
	new_id(k->rate.id);
	memcpy(k->rate.tenant_id, a->tenant, sizeof k->rate.tenant_id);
	snprintf(k->rate.type, sizeof k->rate.type, "LOCKED");
	snprintf(k->rate.source, sizeof k->rate.source, "USDC");
	snprintf(k->rate.target, sizeof k->rate.target, "EUR");
	k->rate.value = 9000;
	k->rate.scale = 4;
	snprintf(k->rate.time_lock, sizeof k->rate.time_lock, "1m");
	k->rate.expires_at = 9999999999;
	new_id(k->fee.id);
	memcpy(k->fee.tenant_id, a->tenant, sizeof k->fee.tenant_id);
	snprintf(k->fee.name, sizeof k->fee.name, "fee");
	k->h = calloc(1, sizeof *k->h);
	assert_non_null(k->h);
	k->h->w = *a;
	hooks_make(k->h);
	k->ep_as_b = k->h->e[0];
	memcpy(k->ep_as_b.tenant_id, k->b.tenant, sizeof k->ep_as_b.tenant_id);
	snprintf(k->ep_as_b.url, sizeof k->ep_as_b.url, "https://attacker.example/");
	k->idem = (struct store_idem){.status = 201, .body = "mine", .body_len = 4,
				      .created_at = 1000, .expires_at = 2000};
	memcpy(k->idem.tenant_id, a->tenant, sizeof k->idem.tenant_id);
	snprintf(k->idem.endpoint, sizeof k->idem.endpoint, "POST /clients");
	snprintf(k->idem.key, sizeof k->idem.key, "same-key");
	snprintf(k->idem.request_hash, sizeof k->idem.request_hash, "h");
	k->idem_b = k->idem;
	memcpy(k->idem_b.tenant_id, k->b.tenant, sizeof k->idem_b.tenant_id);
	k->idem_b.body = "theirs";
	k->idem_b.body_len = 6;
}

static void test_tenancy(void **state)
{
	static const char *const gets[] = {
		"client_get", "account_get", "account_get_system", "destination_get", "session_get",
		"approval_get", "policy_get", "setting_get", "ext_get", "exchange_rate_get",
		"partner_fee_get", "hook_endpoint_get", "idem_get",
	};
	static const char *const lists[] = {
		"destination_list", "session_list", "session_list account", "session_list client",
		NULL, "approval_list", "event_list", "event_list resource", "payout_list",
		"payout_list session", "hook_endpoint_list", "hook_attempt_list",
	};
	struct cf *c = *state;
	struct tenancy_case *k = calloc(1, sizeof *k);
	world_make(c->s[0], &k->a);
	world_make(c->s[1], &k->b);
	tenancy_make(k);
	run_ok(c->s[0], true, tenancy_fill_tx, k);

	/* As A, every get finds its row and every list has it: the checks
	 * below could fail. */
	memcpy(k->user_of_b, k->a.tenant, sizeof k->user_of_b);
	run_ok(c->s[1], false, tenancy_read_tx, k);
	for (size_t i = 0; i < sizeof gets / sizeof *gets; i++)
		expect(&k->p, gets[i], STORE_OK);
	for (int i = 0; i < 12; i++)
		if (lists[i] && k->rows[i].n != 1)
			fail_msg("%s as the owner: %d rows, want 1", lists[i], k->rows[i].n);
	assert_int_equal(k->rows[4].num[0], 10); /* session_sum */

	/* As B: not found, as if absent; lists empty; the sum nothing. */
	memcpy(k->user_of_b, k->b.tenant, sizeof k->user_of_b);
	for (int node = 0; node < 2; node++) {
		run_ok(c->s[node], false, tenancy_read_tx, k);
		for (size_t i = 0; i < sizeof gets / sizeof *gets; i++)
			expect(&k->p, gets[i], STORE_NOT_FOUND);
		for (int i = 0; i < 12; i++)
			if (lists[i] && k->rows[i].n != 0)
				fail_msg("%s as another tenant: %d rows", lists[i], k->rows[i].n);
		expect(&k->p, "session_sum", STORE_OK);
		assert_int_equal(k->rows[4].num[0], 0);
	}

	run_ok(c->s[1], true, tenancy_write_tx, k);
	expect(&k->p, "client_lock", STORE_NOT_FOUND);
	expect(&k->p, "session_update", STORE_NOT_FOUND);
	expect(&k->p, "approval_update", STORE_NOT_FOUND);
	expect(&k->p, "hook_endpoint_update", STORE_NOT_FOUND);
	expect(&k->p, "hook_endpoint_delete", STORE_NOT_FOUND);
	expect(&k->p, "idem_insert", STORE_OK);
	/* Another tenant's rate is not its to use (an absent one neither). */
	for (int i = 0; i < k->p.n; i++)
		if (!strcmp(k->p.s[i].what, "exchange_rate_use"))
			assert_int_not_equal(k->p.s[i].st, STORE_OK);

	/* And A's rows are as A left them. */
	memcpy(k->user_of_b, k->a.tenant, sizeof k->user_of_b);
	run_ok(c->s[0], false, tenancy_read_tx, k);
	for (size_t i = 0; i < sizeof gets / sizeof *gets; i++)
		expect(&k->p, gets[i], STORE_OK);
	assert_int_equal(k->sess.version, 1);
	assert_string_equal(k->sess.status, "executing");
	assert_string_equal(k->appr.status, "pending");
	assert_string_equal(k->got_rate.used_by, "");
	assert_string_equal(k->ext, "{\"mine\":1}");
	assert_string_equal(k->got_ep.url, "https://hooks.example/0");
	assert_int_equal(k->got_idem.body_len, 4);
	assert_memory_equal(k->got_idem.body, "mine", 4);
	store_destination_clear(&k->dest);
	store_idem_clear(&k->got_idem);
	free(k->ext);
	free(k->h);
	free(k);
}

/* ---- plans; many writes submitted together ---------------------------------------- */

struct cf_plans {
	int n;
	char name[128][64];
	int steps[128]; /* steps with text */
};

static void on_plan(void *arg, const void *row)
{
	struct cf_plans *p = arg;
	const struct store_plan_step *s = row;
	if (!p->n || strcmp(p->name[p->n - 1], s->statement) != 0) {
		if (p->n == 128)
			return;
		snprintf(p->name[p->n], sizeof p->name[0], "%s", s->statement);
		p->steps[p->n++] = 0;
	}
	p->steps[p->n - 1] += s->detail && *s->detail;
}

static enum store_status plans_tx(struct store_tx *tx, void *arg)
{
	((struct cf_plans *)arg)->n = 0;
	return tx->store->ops->query_plans(tx, on_plan, arg);
}

struct bulk_job {
	store_id id;
	int mode; /* 0 insert, 1 insert then refuse, 2 insert a taken id */
};

static enum store_status bulk_tx(struct store_tx *tx, void *arg)
{
	const struct bulk_job *j = arg;
	struct store_tenant t = {.created_at = 1};
	memcpy(t.id, j->id, sizeof t.id);
	snprintf(t.name, sizeof t.name, "bulk");
	enum store_status st = STORE_CALL(tx, tenant_insert, &t);
	return st == STORE_OK && j->mode == 1 ? STORE_ABORT : st;
}

static enum store_status tenant_get_tx(struct store_tx *tx, void *arg)
{
	struct store_tenant t;
	return STORE_CALL(tx, tenant_get, ((struct bulk_job *)arg)->id, &t);
}

static void test_plans_and_run_all(void **state)
{
	struct cf *c = *state;
	struct cf_plans *r = calloc(1, sizeof *r);
	run_ok(c->s[0], false, plans_tx, r);
	/* Both backends name the same statements (admin query-plans reads
	 * them by name), each with at least one step of text. */
	static const char *const must[] = {"session_get", "session_claim", "session_next_due",
					   "session_release_leases", "event_list",
					   "event_list resource", "payout_list session", "session_sum"};
	static const char *const filters[] = {"", " status", " account", " status+account",
					      " client", " status+client", " account+client",
					      " status+account+client"};
	static const char *const dirs[] = {"newest", "before", "after"};
	char name[64];
	for (size_t i = 0; i < sizeof must / sizeof *must + 8 * 3; i++) {
		if (i < sizeof must / sizeof *must) {
			snprintf(name, sizeof name, "%s", must[i]);
		} else {
			size_t j = i - sizeof must / sizeof *must;
			snprintf(name, sizeof name, "session_list%s %s", filters[j / 3], dirs[j % 3]);
		}
		int at = -1;
		for (int k = 0; k < r->n && at < 0; k++)
			if (!strcmp(r->name[k], name))
				at = k;
		if (at < 0)
			fail_msg("no plan for %s", name);
		assert_true(r->steps[at] >= 1);
	}
	free(r);

	/* One refusal or collision never undoes a neighbour. */
	struct bulk_job jobs[8];
	void *args[8];
	enum store_status out[8];
	for (int i = 0; i < 8; i++) {
		new_id(jobs[i].id);
		jobs[i].mode = i == 3 ? 1 : 0;
		args[i] = &jobs[i];
	}
	jobs[6] = jobs[1];
	jobs[6].mode = 2;
	store_run_all(c->s[1], bulk_tx, args, 8, out);
	for (int i = 0; i < 8; i++) {
		enum store_status want = i == 3 ? STORE_ABORT : i == 6 ? STORE_EXISTS : STORE_OK;
		if (out[i] != want)
			fail_msg("job %d: %s, want %s", i, store_status_name(out[i]),
				 store_status_name(want));
		if (i != 6)
			assert_int_equal(store_run(c->s[0], false, tenant_get_tx, &jobs[i]),
					 i == 3 ? STORE_NOT_FOUND : STORE_OK);
	}
}

/* ---- races: threads on both nodes ------------------------------------------------ */

static pthread_t cf_spawn(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
	return th;
}

/* Renders "<id>" on success and "<code>" on error (as the service tests do). */
static void cf_render(void *ctx, const struct svc_outcome *o, const void *result,
		      struct svc_answer *out)
{
	char buf[128];
	const char *kind = ctx;
	if (o->err) {
		snprintf(buf, sizeof buf, "%s", err_code(o->err));
		out->status = err_http_status(o->err);
	} else {
		const char *id = !strcmp(kind, "client")    ? ((const struct store_client *)result)->id
				 : !strcmp(kind, "session") ? ((const struct store_session *)result)->id
				 : !strcmp(kind, "dest")
					 ? ((const struct store_destination *)result)->id
					 : ((const struct store_transfer *)result)->id;
		snprintf(buf, sizeof buf, "%s", id);
		out->status = 201;
	}
	out->body = strdup(buf);
	out->len = strlen(buf);
}

/* A tenant with a client funded with deposit_minor USDC and a saved SEPA
 * destination, made through the service on node 0. */
struct cf_svc_world {
	struct svc_new_key key;
	struct auth auth;
	store_id client, account, dest;
	struct destination d;
	char *canon;
};

static void svc_world_make(struct service *svc, struct cf_svc_world *w, int64_t deposit_minor)
{
	assert_int_equal(svc_tenant_create(svc, "Race", &w->key), ERR_OK);
	assert_int_equal(svc_authenticate(svc, w->key.secret, &w->auth), ERR_OK);
	struct svc_answer a = {0};
	struct svc_render rc = {cf_render, "client"};
	svc_client_create(svc, &w->auth, NULL, "Race Treasury", NULL, &rc, &a);
	assert_int_equal(a.status, 201);
	snprintf(w->client, sizeof w->client, "%s", a.body);
	svc_answer_clear(&a);
	struct store_client cl;
	assert_int_equal(svc_client_get(svc, &w->auth, w->client, &cl), ERR_OK);
	memcpy(w->account, cl.default_account_id, sizeof w->account);
	if (deposit_minor > 0) {
		struct svc_render rd = {cf_render, "deposit"};
		svc_deposit_create(svc, &w->auth, NULL, w->account, CUR_USDC, deposit_minor, &rd, &a);
		assert_int_equal(a.status, 201);
		svc_answer_clear(&a);
	}
	w->d.method = DEST_BANK_TRANSFER;
	w->d.rail = RAIL_SEPA_CREDIT_TRANSFER;
	w->d.currency = CUR_EUR;
	strcpy(w->d.bank.beneficiary_name, "Race Treasury");
	strcpy(w->d.bank.scheme, "iban");
	strcpy(w->d.bank.iban, "GB29NWBK60161331926819");
	strcpy(w->d.bank.bic, "NWBKGB2L");
	strcpy(w->d.bank.country, "GB");
	const char *field;
	assert_int_equal(destination_validate(&w->d, &field), ERR_OK);
	w->canon = api_destination_canonical(&w->d);
	assert_non_null(w->canon);
	struct svc_render rde = {cf_render, "dest"};
	svc_destination_create(svc, &w->auth, NULL, w->account, &w->d, w->canon, NULL, &rde, &a);
	assert_int_equal(a.status, 201);
	snprintf(w->dest, sizeof w->dest, "%s", a.body);
	svc_answer_clear(&a);
}

static void ledger_sound(struct service *svc)
{
	struct svc_ledger_report rep;
	assert_int_equal(svc_verify_ledger(svc, &rep), ERR_OK);
	if (!rep.ok)
		fail_msg("ledger: %s", rep.first_problem);
}

/* (1) Lost update: threads on both nodes move money between three
 * accounts with balance_lock + write back (svc_ledger_move); every move
 * must land. */
#define BAL_THREADS 4 /* per node */
#define BAL_MOVES 40
#define BAL_RACE_MAX_MS 10000

struct bal_race {
	struct store *s[2];
	struct store_account acc[3];
	pthread_barrier_t go;
};

struct bal_thread {
	struct bal_race *r;
	int t, done;
	enum store_status bad;
	enum ledger_result bad_lr;
};

struct move {
	const struct store_account *dr, *cr;
	int64_t amount;
	enum ledger_result lr;
	char id[UUID_STR_LEN + 1];
};

static const int bal_pairs[5][2] = {{0, 1}, {1, 2}, {2, 0}, {0, 2}, {1, 0}};
static int64_t bal_amount(int t, int i) { return 1 + (t * BAL_MOVES + i) % 7; }

static enum store_status move_tx(struct store_tx *tx, void *arg)
{
	struct move *m = arg;
	return svc_ledger_move(tx, LEDGER_OP_POSTED, m->dr, m->cr, CUR_USDT, m->amount, NULL, NULL,
			       "deposit", 1000, m->id, &m->lr);
}

static void *bal_worker(void *arg)
{
	struct bal_thread *w = arg;
	pthread_barrier_wait(&w->r->go);
	for (int i = 0; i < BAL_MOVES; i++) {
		const int *p = bal_pairs[(w->t + i) % 5];
		struct move m = {.dr = &w->r->acc[p[0]], .cr = &w->r->acc[p[1]],
				 .amount = bal_amount(w->t, i)};
		enum store_status st = store_run(w->r->s[w->t % 2], true, move_tx, &m);
		if (st == STORE_OK && m.lr == LEDGER_OK) {
			w->done++;
		} else if (w->bad == STORE_OK) {
			w->bad = st != STORE_OK ? st : STORE_ABORT;
			w->bad_lr = m.lr;
		}
	}
	return NULL;
}

static enum store_status pools_tx(struct store_tx *tx, void *arg)
{
	struct bal_race *r = arg;
	for (int i = 0; i < 3; i++) {
		enum store_status st = STORE_CALL(tx, account_insert, &r->acc[i]);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

struct bal_read {
	const struct bal_race *r;
	struct ledger_balance b[3];
	struct cf_rows transfers;
};

static enum store_status bal_read_tx(struct store_tx *tx, void *arg)
{
	struct bal_read *b = arg;
	for (int i = 0; i < 3; i++) {
		enum store_status st = STORE_CALL(tx, balance_get, b->r->acc[i].id, "USDT", &b->b[i]);
		if (st != STORE_OK)
			return st;
	}
	b->transfers.n = 0;
	return STORE_CALL(tx, transfer_each, row_transfer, &b->transfers);
}

static void test_race_balances(void **state)
{
	struct cf *c = *state;
	struct cf_world w;
	world_make(c->s[0], &w);
	struct bal_race r = {.s = {c->s[0], c->s[1]}};
	for (int i = 0; i < 3; i++) {
		new_id(r.acc[i].id);
		memcpy(r.acc[i].tenant_id, w.tenant, sizeof r.acc[i].tenant_id);
		snprintf(r.acc[i].kind, sizeof r.acc[i].kind, "system");
		snprintf(r.acc[i].code, sizeof r.acc[i].code, "pool_%d", i);
		r.acc[i].created_at = 1000;
	}
	run_ok(c->s[0], true, pools_tx, &r);
	enum { N = 2 * BAL_THREADS };
	struct bal_thread t[N];
	pthread_t th[N];
	pthread_barrier_init(&r.go, NULL, N);
	uint64_t t0 = clock_mono_ms();
	for (int i = 0; i < N; i++) {
		t[i] = (struct bal_thread){.r = &r, .t = i};
		th[i] = cf_spawn(bal_worker, &t[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.go);
	/* A second or two on either backend. Two nodes' batches waiting on
	 * each other's balance rows until PostgreSQL's deadlock detector
	 * (1 s each) took 16 to 29 s here: a stall, not a slow machine. */
	uint64_t took_ms = clock_mono_ms() - t0;
	if (took_ms > BAL_RACE_MAX_MS)
		fail_msg("%d moves took %llu ms (cross-node lock waits stalling?)",
			 N * BAL_MOVES, (unsigned long long)took_ms);
	int64_t debits[3] = {0}, credits[3] = {0};
	for (int i = 0; i < N; i++) {
		if (t[i].done != BAL_MOVES)
			fail_msg("thread %d: %d of %d moves, first failure %s (ledger %d)", i,
				 t[i].done, BAL_MOVES, store_status_name(t[i].bad), t[i].bad_lr);
		for (int j = 0; j < BAL_MOVES; j++) {
			const int *p = bal_pairs[(i + j) % 5];
			debits[p[0]] += bal_amount(i, j);
			credits[p[1]] += bal_amount(i, j);
		}
	}
	struct bal_read *b = calloc(1, sizeof *b);
	b->r = &r;
	run_ok(c->s[1], false, bal_read_tx, b);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(b->b[i].debits_posted, debits[i]);
		assert_int_equal(b->b[i].credits_posted, credits[i]);
	}
	assert_int_equal(b->transfers.n, N * BAL_MOVES);
	free(b);
	ledger_sound(&c->svc[1]);
}

/* (2) 100 session creates of 1,000.00 against 5,000.00, from both nodes:
 * exactly five holds are placed, the rest refused, nothing overdrawn. */
#define DEBIT_THREADS 10 /* half on each node */
#define DEBITS_PER_THREAD 10
#define DEBIT_MINOR 1000000000LL /* 1,000.00 USDC */

struct debit_race {
	struct cf *c;
	struct cf_svc_world *w;
	pthread_barrier_t go;
};

struct debit_thread {
	struct debit_race *r;
	int t, ok, refused, other;
	char other_body[64];
};

static void *debit_worker(void *arg)
{
	struct debit_thread *d = arg;
	struct cf_svc_world *w = d->r->w;
	struct svc_render rs = {cf_render, "session"};
	pthread_barrier_wait(&d->r->go);
	for (int i = 0; i < DEBITS_PER_THREAD; i++) {
		struct svc_session_request q = {
			.account_id = w->account, .source = CUR_USDC, .amount_minor = DEBIT_MINOR,
			.target_currency = CUR_EUR, .target_rail = "fiat",
			.route_owner_client_id = w->client, .destination_id = w->dest,
			.inline_dest = &w->d, .payment_reference = "RF18539007547034"};
		struct svc_answer a = {0};
		svc_session_create(&d->r->c->svc[d->t % 2], &w->auth, NULL, &q, &rs, &a);
		if (a.status == 201) {
			d->ok++;
		} else if (a.body && !strcmp(a.body, err_code(ERR_INSUFFICIENT_FUNDS))) {
			d->refused++;
		} else {
			if (!d->other++)
				snprintf(d->other_body, sizeof d->other_body, "%d %s", a.status,
					 a.body ? a.body : "");
		}
		svc_answer_clear(&a);
	}
	return NULL;
}

static void count_session(void *arg, const struct store_session *s)
{
	int *n = arg;
	*n += s->principal_minor == DEBIT_MINOR && !strcmp(s->status, "executing");
}

static void test_race_debits(void **state)
{
	struct cf *c = *state;
	struct cf_svc_world *w = calloc(1, sizeof *w);
	svc_world_make(&c->svc[0], w, 5 * DEBIT_MINOR);
	/* No fees, so a hold is the principal alone and 5,000.00 covers five. */
	assert_int_equal(svc_fees_set(&c->svc[0], w->auth.tenant_id, 0, CUR_USDC, "ethereum", 0),
			 ERR_OK);
	struct debit_race r = {.c = c, .w = w};
	struct debit_thread t[DEBIT_THREADS];
	pthread_t th[DEBIT_THREADS];
	pthread_barrier_init(&r.go, NULL, DEBIT_THREADS);
	for (int i = 0; i < DEBIT_THREADS; i++) {
		t[i] = (struct debit_thread){.r = &r, .t = i};
		th[i] = cf_spawn(debit_worker, &t[i]);
	}
	int ok = 0, refused = 0;
	for (int i = 0; i < DEBIT_THREADS; i++) {
		pthread_join(th[i], NULL);
		if (t[i].other)
			fail_msg("thread %d: %d unexpected answers, first: %s", i, t[i].other,
				 t[i].other_body);
		ok += t[i].ok;
		refused += t[i].refused;
	}
	pthread_barrier_destroy(&r.go);
	assert_int_equal(ok, 5);
	assert_int_equal(refused, DEBIT_THREADS * DEBITS_PER_THREAD - 5);
	struct svc_account_view v;
	assert_int_equal(svc_account_get(&c->svc[1], &w->auth, w->account, &v), ERR_OK);
	assert_int_equal(v.balances[0].currency, CUR_USDC);
	assert_int_equal(ledger_available(&v.balances[0].b), 0);
	assert_int_equal(ledger_held(&v.balances[0].b), 5 * DEBIT_MINOR);
	int sessions = 0;
	bool more = false;
	struct svc_session_query q = {.limit = LIMIT_PAGE_SIZE_MAX};
	assert_int_equal(svc_session_list(&c->svc[0], &w->auth, &q, count_session, &sessions, &more),
			 ERR_OK);
	assert_int_equal(sessions, 5);
	assert_false(more);
	ledger_sound(&c->svc[0]);
	free(w->canon);
	free(w);
}

/* (3) Readers page events by after_seq on both nodes while writers on both
 * nodes commit events, some late (sleeping between insert and commit):
 * each reader sees every committed event exactly once, in seq order. */
#define EV_WRITERS 2 /* per node */
#define EV_TXS 50
#define EV_MAX (2 * EV_WRITERS * EV_TXS * 2)

struct ev_race {
	struct cf *c;
	const char *tenant;
	pthread_barrier_t go;
	atomic_bool writers_done;
	pthread_mutex_t mu;
	int ncommitted;
	store_id committed[EV_MAX];
};

struct ev_writer {
	struct ev_race *r;
	int t;
	store_id resource;
	int64_t rseq;
	enum store_status bad;
};

struct ev_job {
	struct store_event ev[2];
	char data[2][24];
	int n;
	bool slow;
};

static enum store_status ev_job_tx(struct store_tx *tx, void *arg)
{
	struct ev_job *e = arg;
	for (int i = 0; i < e->n; i++) {
		enum store_status st = STORE_CALL(tx, event_insert, &e->ev[i]);
		if (st != STORE_OK)
			return st;
		if (e->slow) {
			/* Commit late: the window in which a later seq could
			 * commit first and a reader step over this one. */
			struct timespec ts = {0, 300 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	if (e->slow)
		return STORE_CALL(tx, setting_put, e->ev[0].tenant_id, "race", e->ev[0].resource_seq);
	return STORE_OK;
}

static void *ev_writer_main(void *arg)
{
	struct ev_writer *w = arg;
	struct ev_race *r = w->r;
	pthread_barrier_wait(&r->go);
	for (int i = 0; i < EV_TXS; i++) {
		struct ev_job j = {.n = 1 + i % 2, .slow = i % 3 == 0};
		for (int k = 0; k < j.n; k++) {
			snprintf(j.data[k], sizeof j.data[k], "{\"w\":%d,\"i\":%d}", w->t, i);
			if (!event_fill(&j.ev[k], r->tenant, w->resource, ++w->rseq, j.data[k]))
				w->bad = STORE_FAIL;
		}
		enum store_status st = store_run(r->c->s[w->t % 2], true, ev_job_tx, &j);
		if (st != STORE_OK) {
			if (w->bad == STORE_OK)
				w->bad = st;
			continue;
		}
		pthread_mutex_lock(&r->mu);
		for (int k = 0; k < j.n; k++)
			memcpy(r->committed[r->ncommitted++], j.ev[k].id, sizeof(store_id));
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

struct ev_reader {
	struct ev_race *r;
	int node, pages;
	int64_t after;
	bool out_of_order;
	enum store_status bad;
	struct cf_rows page, seen;
};

static enum store_status ev_page_tx(struct store_tx *tx, void *arg)
{
	struct ev_reader *d = arg;
	d->page.n = 0;
	return STORE_CALL(tx, event_list, d->r->tenant, NULL, d->after, 7, row_event, &d->page);
}

static void *ev_reader_main(void *arg)
{
	struct ev_reader *d = arg;
	pthread_barrier_wait(&d->r->go);
	for (;;) {
		/* Read the flag first: a page that is empty after every writer
		 * finished is the end. */
		bool done = atomic_load(&d->r->writers_done);
		enum store_status st = store_run(d->r->c->s[d->node], false, ev_page_tx, d);
		if (st != STORE_OK) {
			d->bad = st;
			return NULL;
		}
		d->pages++;
		for (int i = 0; i < d->page.n && i < CF_ROWS_MAX; i++) {
			if (d->page.num[i] <= d->after)
				d->out_of_order = true;
			d->after = d->page.num[i];
			rows_add(&d->seen, d->page.id[i], d->page.num[i], NULL);
		}
		if (d->page.n == 0) {
			if (done)
				return NULL;
			struct timespec ts = {0, 200 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

static int id_cmp(const void *a, const void *b) { return strcmp(a, b); }

static void test_race_event_paging(void **state)
{
	struct cf *c = *state;
	struct cf_world w;
	world_make(c->s[0], &w);
	struct ev_race *r = calloc(1, sizeof *r);
	r->c = c;
	r->tenant = w.tenant;
	pthread_mutex_init(&r->mu, NULL);
	enum { NW = 2 * EV_WRITERS, NR = 2 };
	struct ev_writer wr[NW];
	struct ev_reader *rd = calloc(NR, sizeof *rd);
	pthread_t tw[NW], trd[NR];
	pthread_barrier_init(&r->go, NULL, NW + NR);
	for (int i = 0; i < NR; i++) {
		rd[i].r = r;
		rd[i].node = i;
		trd[i] = cf_spawn(ev_reader_main, &rd[i]);
	}
	for (int i = 0; i < NW; i++) {
		wr[i] = (struct ev_writer){.r = r, .t = i};
		new_id(wr[i].resource);
		tw[i] = cf_spawn(ev_writer_main, &wr[i]);
	}
	for (int i = 0; i < NW; i++)
		pthread_join(tw[i], NULL);
	atomic_store(&r->writers_done, true);
	for (int i = 0; i < NR; i++)
		pthread_join(trd[i], NULL);
	pthread_barrier_destroy(&r->go);
	for (int i = 0; i < NW; i++)
		if (wr[i].bad != STORE_OK)
			fail_msg("writer %d: %s", i, store_status_name(wr[i].bad));
	assert_true(r->ncommitted >= NW * EV_TXS);
	qsort(r->committed, (size_t)r->ncommitted, sizeof r->committed[0], id_cmp);
	for (int i = 0; i < NR; i++) {
		struct ev_reader *d = &rd[i];
		if (d->bad != STORE_OK)
			fail_msg("reader %d: %s", i, store_status_name(d->bad));
		assert_false(d->out_of_order);
		if (d->seen.n != r->ncommitted)
			fail_msg("reader on node %d saw %d events of %d committed", i, d->seen.n,
				 r->ncommitted);
		qsort(d->seen.id, (size_t)d->seen.n, sizeof d->seen.id[0], id_cmp);
		for (int k = 0; k < d->seen.n; k++)
			if (strcmp(d->seen.id[k], r->committed[k]) != 0)
				fail_msg("reader on node %d: event %s seen twice or one skipped", i,
					 d->seen.id[k]);
		assert_true(d->pages > 1); /* it paged while they wrote */
	}
	pthread_mutex_destroy(&r->mu);
	free(rd);
	free(r);
}

/* (4) Threads on both nodes claim due sessions at once: no session is
 * leased twice while its lease holds, and every one is leased. */
#define CLAIM_SESSIONS 120
#define CLAIM_THREADS 3 /* per node */

struct claim_race {
	struct cf *c;
	struct store_session *s;
	int64_t now;
	atomic_int claims[CLAIM_SESSIONS];
	char owner_of[CLAIM_SESSIONS][32];
	pthread_mutex_t mu;
	pthread_barrier_t go;
};

struct claim_thread {
	struct claim_race *r;
	int t, claimed;
	char owner[32];
	enum store_status bad;
	struct cf_rows rows;
};

static enum store_status claim_race_tx(struct store_tx *tx, void *arg)
{
	struct claim_thread *ct = arg;
	ct->rows.n = 0;
	return STORE_CALL(tx, session_claim, ct->r->now, ct->owner, ct->r->now + 3600000, 4,
			  row_session, &ct->rows);
}

static void *claim_worker(void *arg)
{
	struct claim_thread *ct = arg;
	struct claim_race *r = ct->r;
	pthread_barrier_wait(&r->go);
	for (int iter = 0; iter < CLAIM_SESSIONS; iter++) {
		enum store_status st = store_run(r->c->s[ct->t % 2], true, claim_race_tx, ct);
		if (st != STORE_OK) {
			ct->bad = st;
			return NULL;
		}
		if (ct->rows.n == 0)
			return NULL;
		for (int i = 0; i < ct->rows.n; i++) {
			int at = -1;
			for (int k = 0; k < CLAIM_SESSIONS && at < 0; k++)
				if (!strcmp(r->s[k].id, ct->rows.id[i]))
					at = k;
			if (at < 0)
				continue; /* counted as missing below */
			atomic_fetch_add(&r->claims[at], 1);
			pthread_mutex_lock(&r->mu);
			snprintf(r->owner_of[at], sizeof r->owner_of[at], "%s", ct->owner);
			pthread_mutex_unlock(&r->mu);
			ct->claimed++;
		}
	}
	return NULL;
}

struct owners_read {
	const struct claim_race *r;
	const char *tenant;
	struct cf_rows rows;
};

static enum store_status claim_owners_tx(struct store_tx *tx, void *arg)
{
	struct owners_read *o = arg;
	o->rows.n = 0;
	for (int i = 0; i < CLAIM_SESSIONS; i++) {
		struct store_session got;
		enum store_status st = STORE_CALL(tx, session_get, o->tenant, o->r->s[i].id, &got);
		if (st != STORE_OK)
			return st;
		row_session(&o->rows, &got);
	}
	return STORE_OK;
}

static void test_race_claims(void **state)
{
	struct cf *c = *state;
	struct cf_world w;
	world_make(c->s[0], &w);
	struct claim_race *r = calloc(1, sizeof *r);
	r->c = c;
	r->now = (int64_t)clock_now_ms();
	r->s = calloc(CLAIM_SESSIONS, sizeof *r->s);
	for (int i = 0; i < CLAIM_SESSIONS; i++)
		session_fill(&r->s[i], &w, i % 2 ? "executed" : "executing", 10, 100, i % 7);
	sessions_make(c->s[1], r->s, CLAIM_SESSIONS);
	pthread_mutex_init(&r->mu, NULL);
	enum { N = 2 * CLAIM_THREADS };
	struct claim_thread *t = calloc(N, sizeof *t);
	pthread_t th[N];
	pthread_barrier_init(&r->go, NULL, N);
	for (int i = 0; i < N; i++) {
		t[i].r = r;
		t[i].t = i;
		snprintf(t[i].owner, sizeof t[i].owner, "node%d/w%d", i % 2, i);
		th[i] = cf_spawn(claim_worker, &t[i]);
	}
	int total = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (t[i].bad != STORE_OK)
			fail_msg("claimer %d: %s", i, store_status_name(t[i].bad));
		total += t[i].claimed;
	}
	pthread_barrier_destroy(&r->go);
	for (int i = 0; i < CLAIM_SESSIONS; i++)
		if (atomic_load(&r->claims[i]) != 1)
			fail_msg("session %d leased %d times", i, atomic_load(&r->claims[i]));
	assert_int_equal(total, CLAIM_SESSIONS);
	/* The stored lease is the one its claimer was told of. */
	struct owners_read *o = calloc(1, sizeof *o);
	o->r = r;
	o->tenant = w.tenant;
	run_ok(c->s[0], false, claim_owners_tx, o);
	for (int i = 0; i < CLAIM_SESSIONS; i++)
		assert_string_equal(o->rows.text[i], r->owner_of[i]);
	free(o);
	pthread_mutex_destroy(&r->mu);
	free(t);
	free(r->s);
	free(r);
}

/* (5) One idempotency key inserted at once from both nodes: one insert
 * wins, every other answers EXISTS and the record is the winner's. The
 * same for a locked exchange rate used at once. */
#define IDEM_ROUNDS 20
#define IDEM_THREADS 8 /* half on each node */

struct idem_race {
	struct cf *c;
	struct cf_world w;
	store_id rate[IDEM_ROUNDS];
	enum store_status ins[IDEM_ROUNDS][IDEM_THREADS], use[IDEM_ROUNDS][IDEM_THREADS];
	pthread_barrier_t go;
};

struct idem_thread {
	struct idem_race *r;
	int t, round;
	store_id session[IDEM_ROUNDS]; /* the session each round's use names */
	struct store_idem rec;
	char body[32];
};

static enum store_status idem_race_tx(struct store_tx *tx, void *arg)
{
	return STORE_CALL(tx, idem_insert, &((struct idem_thread *)arg)->rec);
}

static enum store_status rate_race_tx(struct store_tx *tx, void *arg)
{
	struct idem_thread *it = arg;
	return STORE_CALL(tx, exchange_rate_use, it->r->w.tenant, it->r->rate[it->round],
			  it->session[it->round]);
}

static void *idem_worker(void *arg)
{
	struct idem_thread *it = arg;
	struct idem_race *r = it->r;
	struct store *s = r->c->s[it->t % 2];
	for (int k = 0; k < IDEM_ROUNDS; k++) {
		it->round = k;
		snprintf(it->body, sizeof it->body, "node%d/t%d", it->t % 2, it->t);
		it->rec = (struct store_idem){.status = 201, .body = it->body,
					      .body_len = strlen(it->body), .created_at = 1000,
					      .expires_at = 1000 + LIMIT_IDEMPOTENCY_TTL_S};
		memcpy(it->rec.tenant_id, r->w.tenant, sizeof it->rec.tenant_id);
		snprintf(it->rec.endpoint, sizeof it->rec.endpoint, "POST /off-ramp-sessions");
		snprintf(it->rec.key, sizeof it->rec.key, "race-%d", k);
		snprintf(it->rec.request_hash, sizeof it->rec.request_hash, "%d", it->t);
		pthread_barrier_wait(&r->go);
		r->ins[k][it->t] = store_run(s, true, idem_race_tx, it);
		pthread_barrier_wait(&r->go);
		r->use[k][it->t] = store_run(s, true, rate_race_tx, it);
	}
	return NULL;
}

static enum store_status rates_make_tx(struct store_tx *tx, void *arg)
{
	struct idem_race *r = arg;
	for (int k = 0; k < IDEM_ROUNDS; k++) {
		struct store_exchange_rate x = {.value = 9000, .scale = 4, .expires_at = 9999999999,
						.created_at = 1000};
		memcpy(x.id, r->rate[k], sizeof x.id);
		memcpy(x.tenant_id, r->w.tenant, sizeof x.tenant_id);
		snprintf(x.type, sizeof x.type, "LOCKED");
		snprintf(x.source, sizeof x.source, "USDC");
		snprintf(x.target, sizeof x.target, "EUR");
		snprintf(x.time_lock, sizeof x.time_lock, "5m");
		enum store_status st = STORE_CALL(tx, exchange_rate_insert, &x);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

struct race_read {
	const struct idem_race *r;
	int round;
	struct store_idem got;
	struct store_exchange_rate rate;
};

static enum store_status race_read_tx(struct store_tx *tx, void *arg)
{
	struct race_read *q = arg;
	char key[32];
	snprintf(key, sizeof key, "race-%d", q->round);
	store_idem_clear(&q->got);
	enum store_status st = STORE_CALL(tx, idem_get, q->r->w.tenant, "POST /off-ramp-sessions",
					  key, 2000, &q->got);
	if (st != STORE_OK)
		return st;
	return STORE_CALL(tx, exchange_rate_get, q->r->w.tenant, q->r->rate[q->round], &q->rate);
}

static int one_winner(const enum store_status st[IDEM_THREADS], const char *what, int round)
{
	int winner = -1, exists = 0;
	for (int t = 0; t < IDEM_THREADS; t++) {
		if (st[t] == STORE_OK && winner < 0)
			winner = t;
		else if (st[t] == STORE_OK)
			fail_msg("%s round %d: threads %d and %d both won", what, round, winner, t);
		else if (st[t] == STORE_EXISTS)
			exists++;
		else
			fail_msg("%s round %d: thread %d: %s", what, round, t, store_status_name(st[t]));
	}
	if (winner < 0)
		fail_msg("%s round %d: nobody won", what, round);
	assert_int_equal(exists, IDEM_THREADS - 1);
	return winner;
}

static void test_race_idempotency_keys(void **state)
{
	struct cf *c = *state;
	struct idem_race *r = calloc(1, sizeof *r);
	r->c = c;
	world_make(c->s[0], &r->w);
	for (int k = 0; k < IDEM_ROUNDS; k++)
		new_id(r->rate[k]);
	run_ok(c->s[1], true, rates_make_tx, r);
	struct idem_thread *t = calloc(IDEM_THREADS, sizeof *t);
	pthread_t th[IDEM_THREADS];
	pthread_barrier_init(&r->go, NULL, IDEM_THREADS);
	for (int i = 0; i < IDEM_THREADS; i++) {
		t[i].r = r;
		t[i].t = i;
		for (int k = 0; k < IDEM_ROUNDS; k++)
			new_id(t[i].session[k]);
		th[i] = cf_spawn(idem_worker, &t[i]);
	}
	for (int i = 0; i < IDEM_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r->go);
	struct race_read q = {.r = r};
	for (int k = 0; k < IDEM_ROUNDS; k++) {
		int win = one_winner(r->ins[k], "idem_insert", k);
		int use = one_winner(r->use[k], "exchange_rate_use", k);
		q.round = k;
		run_ok(c->s[(k + 1) % 2], false, race_read_tx, &q);
		char want[32];
		snprintf(want, sizeof want, "node%d/t%d", win % 2, win);
		assert_int_equal(q.got.body_len, strlen(want));
		assert_memory_equal(q.got.body, want, strlen(want));
		assert_string_equal(q.rate.used_by, t[use].session[k]);
	}
	store_idem_clear(&q.got);
	free(t);
	free(r);
}

/* The same race through the service (svc_commit): one deposit per key,
 * whichever node each request reached; every answer the same bytes, all
 * but one a replay. */
#define DEP_ROUNDS 10
#define DEP_THREADS 4 /* half on each node */
#define DEP_MINOR 1000000LL

struct dep_race {
	struct cf *c;
	struct cf_svc_world *w;
	struct svc_answer ans[DEP_ROUNDS][DEP_THREADS];
	pthread_barrier_t go;
};

struct dep_thread {
	struct dep_race *r;
	int t;
};

static void *dep_worker(void *arg)
{
	struct dep_thread *d = arg;
	struct dep_race *r = d->r;
	struct svc_render rd = {cf_render, "deposit"};
	for (int k = 0; k < DEP_ROUNDS; k++) {
		struct svc_idem idem = {0};
		char key[32];
		snprintf(key, sizeof key, "dep-%d", k);
		idem.key = key;
		snprintf(idem.endpoint, sizeof idem.endpoint, "POST /deposits");
		snprintf(idem.request_hash, sizeof idem.request_hash, "hash-%d", k);
		pthread_barrier_wait(&r->go);
		svc_deposit_create(&r->c->svc[d->t % 2], &r->w->auth, &idem, r->w->account, CUR_USDC,
				   DEP_MINOR, &rd, &r->ans[k][d->t]);
	}
	return NULL;
}

static void test_race_idempotent_deposits(void **state)
{
	struct cf *c = *state;
	struct dep_race *r = calloc(1, sizeof *r);
	r->c = c;
	r->w = calloc(1, sizeof *r->w);
	svc_world_make(&c->svc[0], r->w, 0);
	struct dep_thread t[DEP_THREADS];
	pthread_t th[DEP_THREADS];
	pthread_barrier_init(&r->go, NULL, DEP_THREADS);
	for (int i = 0; i < DEP_THREADS; i++) {
		t[i] = (struct dep_thread){r, i};
		th[i] = cf_spawn(dep_worker, &t[i]);
	}
	for (int i = 0; i < DEP_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r->go);
	for (int k = 0; k < DEP_ROUNDS; k++) {
		int fresh = 0;
		for (int i = 0; i < DEP_THREADS; i++) {
			struct svc_answer *a = &r->ans[k][i];
			if (a->status != 201)
				fail_msg("round %d thread %d: %d %s", k, i, a->status,
					 a->body ? a->body : "");
			assert_int_equal(a->len, r->ans[k][0].len);
			assert_memory_equal(a->body, r->ans[k][0].body, a->len);
			fresh += !a->cached;
		}
		assert_int_equal(fresh, 1);
		for (int i = 0; i < DEP_THREADS; i++)
			svc_answer_clear(&r->ans[k][i]);
	}
	struct svc_account_view v;
	assert_int_equal(svc_account_get(&c->svc[1], &r->w->auth, r->w->account, &v), ERR_OK);
	assert_int_equal(v.balances[0].b.credits_posted, DEP_ROUNDS * DEP_MINOR);
	ledger_sound(&c->svc[1]);
	free(r->w->canon);
	free(r->w);
	free(r);
}

/* ---- copy and ping ------------------------------------------------------ */

struct copy_case {
	const struct cf_world *w;
	struct store_tenant t;
	enum store_status st;
	int ntables;
	int tenants_at, keys_at; /* positions in copy_tables; -1: absent */
};

static void copy_case_name(void *arg, const char *name)
{
	struct copy_case *k = arg;
	if (!strcmp(name, "tenants"))
		k->tenants_at = k->ntables;
	if (!strcmp(name, "api_keys"))
		k->keys_at = k->ntables;
	k->ntables++;
}

static enum store_status copy_read_tx(struct store_tx *tx, void *arg)
{
	struct copy_case *k = arg;
	k->ntables = 0;
	k->tenants_at = k->keys_at = -1;
	k->st = STORE_CALL(tx, tenant_get, k->w->tenant, &k->t);
	return STORE_CALL(tx, copy_tables, copy_case_name, k);
}

/* store_ping answers on a live database. The copy ops (admin
 * migrate-sqlite) move a whole SQLite world into the backend under test
 * when it can be a copy's target (PostgreSQL), keys kept and readable from
 * the other node, and refuse a second copy into a non-empty target; a
 * backend that cannot be a target (SQLite) says so and writes nothing. */
static void test_copy_and_ping(void **state)
{
	struct cf *c = *state;
	assert_int_equal(store_ping(c->s[0], 1000), STORE_OK);
	assert_int_equal(store_ping(c->s[1], 1000), STORE_OK);

	char src_path[128];
	snprintf(src_path, sizeof src_path, "/tmp/offramp-conf-src-%d.db", (int)getpid());
	scratch_db_remove(src_path);
	const char *err = NULL;
	struct store *src = store_open(src_path, &err);
	if (!src)
		fail_msg("store_open %s: %s", src_path, err ? err : "?");
	struct cf_world w;
	world_make(src, &w);
	struct copy_case k = {.w = &w};
	run_ok(src, false, copy_read_tx, &k);
	assert_int_equal(k.st, STORE_OK);
	assert_true(k.tenants_at >= 0 && k.keys_at > k.tenants_at); /* parents first */

	struct store_copy_report *r = calloc(1, sizeof *r);
	assert_non_null(r);
	enum store_status st = store_copy(src, c->s[0], NULL, r);
	if (!c->s[0]->ops->copy_insert) {
		assert_int_equal(st, STORE_FAIL);
		assert_non_null(strstr(r->problem, "cannot copy"));
	} else {
		assert_int_equal(st, STORE_OK);
		assert_string_equal(r->problem, "");
		assert_true(r->rows >= 8); /* world_make's tenant, principal, clients, accounts, ... */
		int64_t tenants = -1;
		for (int i = 0; i < r->ntables; i++)
			if (!strcmp(r->tables[i].name, "tenants"))
				tenants = r->tables[i].rows;
		assert_int_equal(tenants, 1);
		struct copy_case got = {.w = &w};
		run_ok(c->s[1], false, copy_read_tx, &got);
		assert_int_equal(got.st, STORE_OK);
		assert_string_equal(got.t.name, "conformance");
		assert_int_equal(store_copy(src, c->s[0], NULL, r), STORE_EXISTS);
	}
	free(r);
	store_close(src);
	scratch_db_remove(src_path);
}

int main(void)
{
	cf_admin = getenv("OFFRAMP_TEST_STORE");
	if (cf_admin && !*cf_admin)
		cf_admin = NULL;
	if (cf_admin && !store_spec_is_pg(cf_admin)) {
		fprintf(stderr, "OFFRAMP_TEST_STORE must be a postgres:// admin URL\n");
		return 2;
	}
	printf("store conformance: backend %s%s\n", cf_admin ? "postgresql, admin " : "sqlite",
	       cf_admin ? cf_admin : " (scratch files in /tmp)");
	fflush(stdout);
#define T(fn) cmocka_unit_test_setup_teardown(fn, cf_setup, cf_teardown)
	const struct CMUnitTest tests[] = {
		T(test_tenants_and_keys),
		T(test_clients_and_accounts),
		T(test_ledger),
		T(test_destinations_and_ext),
		T(test_sessions),
		T(test_gauges),
		T(test_leases),
		T(test_approvals_policies_settings),
		T(test_event_paging),
		T(test_payouts),
		T(test_chain_txs),
		T(test_chain_nonce_race),
		T(test_rates_and_fees),
		T(test_webhooks),
		T(test_idempotency_records),
		T(test_tenancy),
		T(test_plans_and_run_all),
		T(test_race_balances),
		T(test_race_debits),
		T(test_race_event_paging),
		T(test_race_claims),
		T(test_race_idempotency_keys),
		T(test_race_idempotent_deposits),
		T(test_copy_and_ping),
	};
#undef T
	return cmocka_run_group_tests_name(cf_admin ? "store conformance (postgresql)"
						    : "store conformance (sqlite)",
					   tests, NULL, NULL);
}
