/*
 * sqlite_store.c - the SQLite backend of store.h.
 *
 * Durability: WAL journal with synchronous=FULL, so a COMMIT has been
 * fsync'd to the WAL before it returns; a 2xx is only sent after that.
 * Write transactions start with BEGIN IMMEDIATE, taking the write lock up
 * front, so two writers never deadlock upgrading read locks; waiting for
 * the lock uses SQLite's busy handler (LIMIT_STORE_BUSY_TIMEOUT_MS), and a
 * lock still busy after it becomes STORE_RETRY for store_run's loop.
 *
 * Group commit. Every write transaction of the process goes to one
 * committer thread (store/committer.h, shared with the PostgreSQL backend;
 * SQLite has one writer anyway, and a queue in front of it is fair, where
 * SQLite's busy lock is not). It takes what is queued, up to
 * store->commit_batch_max; sq_batch_run opens one BEGIN IMMEDIATE, runs each job's fn in
 * its own SAVEPOINT (a fn that does not return STORE_OK rolls back to its
 * savepoint only, so one refusal never fails a neighbour), COMMITs once, so
 * one fsync covers the batch, and only then wakes the callers: nobody
 * hears STORE_OK before its effects are durable. The committer never waits
 * for a batch to fill: a lone write commits at once, and writes arriving
 * during a commit make the next batch. If the transaction dies under a
 * job (disk full, I/O error), the jobs before it lost their effects and get
 * STORE_RETRY, which store_run turns into a re-run (fns are re-runnable).
 * Reads never queue: they run on pooled connections (WAL readers do not
 * wait for the writer).
 *
 * Connections: a pool, one connection per concurrent transaction (SQLite
 * connections must not be shared by two threads at once). Each connection
 * keeps its prepared statements, keyed by the address of the static SQL
 * text, so the hot path does not re-parse SQL.
 *
 * Errors map to store statuses in one function, sq_status().
 */
#include "store/store.h"
#include "store/committer.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/fiber.h"
#include "base/log.h"
#include "domain/session.h"
#include "store/sqlite/sqlite_schema.h"
#include "store/sqlite/fault_vfs.h"

#define SQ_STMT_CACHE 128

struct sq_conn {
	sqlite3 *db;
	struct sq_conn *next;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[SQ_STMT_CACHE];
};

struct sq_store {
	struct store base;
	char *path;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sq_conn *idle;
	int open;
	struct committer w;   /* the one writer (store/committer.h) */
	struct sq_conn *wconn; /* its own connection, never pooled */
};

struct sq_tx {
	struct store_tx base;
	struct sq_conn *conn;
};

static const struct store_ops sq_ops;
static pthread_once_t sq_rules_once = PTHREAD_ONCE_INIT;
static void sq_rules_build(void);

static enum store_status sq_status(sqlite3 *db, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return STORE_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_RETRY;
	case SQLITE_FULL:
		/* Disk full: nothing of the transaction was written, and a
		 * retry succeeds once space returns; the client hears 503
		 * database_unavailable, the operator this line. */
		log_error("sqlite: %s: the disk is full (%d)", what, rc);
		return STORE_UNAVAILABLE;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			return STORE_EXISTS;
		break;
	default:
		break;
	}
	log_error("sqlite: %s: %s (%d)", what, db ? sqlite3_errmsg(db) : "?", rc);
	return STORE_FAIL;
}

/* ---- connections ------------------------------------------------------ */

static sqlite3 *sq_open_db(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
				 sq_fault_vfs());
	if (rc != SQLITE_OK) {
		log_error("sqlite: open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, LIMIT_STORE_BUSY_TIMEOUT_MS);
	/* journal_mode=WAL persists in the file; the others are per
	 * connection and must be set on every one. temp_store=MEMORY keeps
	 * the savepoint journal (every page a job first touches, so that its
	 * savepoint can be rolled back alone) in memory: in a temporary file
	 * it cost two pwrite calls per page, most of the committer's system
	 * time. It is scratch either way: the WAL holds what is durable.
	 * secure_delete=FAST zeroes what a rewrite frees inside a page at no
	 * extra I/O, so a value rewritten in place (a webhook secret sealed
	 * at start, service/secrets.c) leaves no copy in the page's free
	 * space. */
	const char *pragmas = "PRAGMA journal_mode=WAL;"
			      "PRAGMA synchronous=FULL;"
			      "PRAGMA foreign_keys=ON;"
			      "PRAGMA trusted_schema=OFF;"
			      "PRAGMA temp_store=MEMORY;"
			      "PRAGMA secure_delete=FAST;";
	char *msg = NULL;
	rc = sqlite3_exec(db, pragmas, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("sqlite: pragmas on %s: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void sq_conn_free(struct sq_conn *c)
{
	for (int i = 0; i < SQ_STMT_CACHE; i++)
		sqlite3_finalize(c->cache[i].st);
	sqlite3_close(c->db);
	free(c);
}

static struct sq_conn *sq_take(struct sq_store *s)
{
	pthread_mutex_lock(&s->mu);
	while (!s->idle && s->open >= LIMIT_STORE_CONNECTIONS)
		pthread_cond_wait(&s->cv, &s->mu);
	struct sq_conn *c = s->idle;
	if (c) {
		s->idle = c->next;
		pthread_mutex_unlock(&s->mu);
		return c;
	}
	s->open++;
	pthread_mutex_unlock(&s->mu);

	c = calloc(1, sizeof *c);
	if (c && !(c->db = sq_open_db(s->path))) {
		free(c);
		c = NULL;
	}
	if (!c) {
		pthread_mutex_lock(&s->mu);
		s->open--;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	return c;
}

static void sq_give(struct sq_store *s, struct sq_conn *c)
{
	pthread_mutex_lock(&s->mu);
	c->next = s->idle;
	s->idle = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* The connection's prepared statement for sql (a static string), reset
 * and unbound; NULL (logged) if it does not prepare. */
static sqlite3_stmt *sq_conn_stmt(struct sq_conn *c, const char *sql)
{
	/* Slots fill in order and are never emptied: the first empty one
	 * ends the search and is where a new statement goes. */
	int free_slot = -1;
	for (int i = 0; i < SQ_STMT_CACHE; i++) {
		if (c->cache[i].sql == sql) {
			sqlite3_reset(c->cache[i].st);
			sqlite3_clear_bindings(c->cache[i].st);
			return c->cache[i].st;
		}
		if (!c->cache[i].sql) {
			free_slot = i;
			break;
		}
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite: prepare: %s: %s", sqlite3_errmsg(c->db), sql);
		return NULL;
	}
	/* A full cache is our bug (more distinct statements than slots). */
	assert(free_slot >= 0);
	c->cache[free_slot].sql = sql;
	c->cache[free_slot].st = st;
	return st;
}

/* A prepared statement for sql (a static string) in t, reset and unbound. */
static sqlite3_stmt *sq_stmt(struct store_tx *t, const char *sql)
{
	struct sq_conn *c = ((struct sq_tx *)t)->conn;
	/* Every statement runs inside its transaction: if SQLite rolled it
	 * back under us (the committer's batch after an I/O error, say), a
	 * statement now would autocommit on its own, outside the batch. */
	if (sqlite3_get_autocommit(c->db)) {
		log_error("sqlite: statement outside its transaction refused: %s", sql);
		return NULL;
	}
	return sq_conn_stmt(c, sql);
}

static sqlite3 *sq_db(struct store_tx *t) { return ((struct sq_tx *)t)->conn->db; }

/* ---- bind and column helpers ------------------------------------------ */

static void bt(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}
/* Bind text that may legitimately be empty (stored as '', not NULL). */
static void bte(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}
static void bi(sqlite3_stmt *st, int i, int64_t v) { sqlite3_bind_int64(st, i, v); }

static void ct(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	size_t n = v ? (size_t)sqlite3_column_bytes(st, i) : 0;
	/* Every column was written by us through the same size limits. */
	assert(n < size);
	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(out, v, n);
	out[n] = '\0';
}
static int64_t ci(sqlite3_stmt *st, int i) { return sqlite3_column_int64(st, i); }
static char *cdup(sqlite3_stmt *st, int i, size_t *len)
{
	const void *v = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	if (len)
		*len = n;
	if (!v && sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	char *p = fault_hit(FAULT_ALLOC) ? NULL : malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, v, n);
		p[n] = '\0';
	}
	return p;
}

/* Run a statement that returns no rows. */
static enum store_status sq_exec(struct store_tx *t, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	enum store_status s = sq_status(sq_db(t), rc, what);
	sqlite3_reset(st);
	return s;
}

/* Step a one-row lookup: STORE_OK with the row ready, or NOT_FOUND. */
static enum store_status sq_one(struct store_tx *t, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	enum store_status s = sq_status(sq_db(t), rc, what);
	sqlite3_reset(st);
	return s == STORE_OK ? STORE_NOT_FOUND : s;
}

/* ---- transactions ----------------------------------------------------- */

static void sq_reset_all(struct sq_conn *c)
{
	/* Statements left mid-step would keep read snapshots open; the
	 * others (most: every helper resets what it steps) need nothing. */
	for (int i = 0; i < SQ_STMT_CACHE && c->cache[i].st; i++)
		if (sqlite3_stmt_busy(c->cache[i].st))
			sqlite3_reset(c->cache[i].st);
}

static enum store_status sq_run(struct store *base, bool write, store_tx_fn fn, void *arg);

/* The committer's own statements (BEGIN, SAVEPOINT, RELEASE...), kept
 * prepared: parsing them for every job cost as much as a small insert. */
static bool sq_exec_sql(struct sq_conn *c, const char *sql, enum store_status *st)
{
	sqlite3_stmt *stmt = sq_conn_stmt(c, sql);
	if (!stmt) {
		*st = STORE_FAIL;
		return false;
	}
	int rc = sqlite3_step(stmt);
	*st = sq_status(c->db, rc, sql);
	sqlite3_reset(stmt);
	return *st == STORE_OK;
}

/* Jobs [from, n) get st (the transaction is gone or never began). */
static void sq_batch_fail(struct committer_job **jobs, int from, int n, enum store_status st)
{
	for (int i = from; i < n; i++)
		jobs[i]->st = st;
}

/* The committer's batch (committer_batch_fn): one transaction, one
 * savepoint per job. */
static void sq_batch_run(void *ctx, struct committer_job **jobs, int n)
{
	struct sq_store *s = ctx;
	struct sq_conn *c = s->wconn;
	struct sq_tx tx = {.base = {.store = &s->base}, .conn = c};
	enum store_status st;
	if (!sq_exec_sql(c, "BEGIN IMMEDIATE", &st)) {
		sq_batch_fail(jobs, 0, n, st);
		return;
	}
	for (int i = 0; i < n; i++) {
		enum store_status ok;
		if (!sq_exec_sql(c, "SAVEPOINT job", &ok)) {
			sq_batch_fail(jobs, 0, i, STORE_RETRY);
			sq_batch_fail(jobs, i, n, ok);
			goto rollback;
		}
		jobs[i]->st = jobs[i]->fn(&tx.base, jobs[i]->arg);
		sq_reset_all(c);
		if (sqlite3_get_autocommit(c->db)) {
			/* SQLite rolled the whole transaction back under this job:
			 * the earlier ones lost their effects and run again. */
			if (jobs[i]->st == STORE_OK)
				jobs[i]->st = STORE_FAIL;
			sq_batch_fail(jobs, 0, i, STORE_RETRY);
			sq_batch_fail(jobs, i + 1, n, STORE_RETRY);
			return;
		}
		if ((jobs[i]->st != STORE_OK && !sq_exec_sql(c, "ROLLBACK TO job", &ok)) ||
		    !sq_exec_sql(c, "RELEASE job", &ok)) {
			/* This job broke the transaction: it fails, and only the
			 * others run again (so it cannot use up their tries). */
			sq_batch_fail(jobs, 0, n, STORE_RETRY);
			jobs[i]->st = STORE_FAIL;
			goto rollback;
		}
	}
	/* The test build's commit fault: the disk is full at COMMIT (a
	 * failed fsync, SQLITE_IOERR, stops the process below by design). */
	bool fault = fault_hit(FAULT_COMMIT);
	sqlite3_stmt *commit = fault ? NULL : sq_conn_stmt(c, "COMMIT");
	int rc = fault ? SQLITE_FULL : commit ? sqlite3_step(commit) : SQLITE_ERROR;
	if (commit)
		sqlite3_reset(commit);
	if ((rc & 0xff) == SQLITE_IOERR) {
		/* The WAL frames may be on disk though the sync failed: the
		 * outcome is unknown, and no answer we could give (success or
		 * failure) is known to be true. Stop, as PostgreSQL does after
		 * a failed fsync; recovery at the next start decides. */
		log_error("sqlite: commit failed with an I/O error (%s): stopping, outcome unknown",
			  sqlite3_errmsg(c->db));
		abort();
	}
	st = sq_status(c->db, rc, "commit");
	if (st == STORE_OK)
		return;
	/* Nothing of the batch is durable: no job may report success. A
	 * full disk stays STORE_UNAVAILABLE (503, retry later). */
	sq_batch_fail(jobs, 0, n, st == STORE_RETRY || st == STORE_UNAVAILABLE ? st : STORE_FAIL);
rollback:
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

static void sq_run_all(struct store *base, store_tx_fn fn, void *const *args, int n,
		       enum store_status *out)
{
	struct sq_store *s = (struct sq_store *)base;
	if (!s->w.running) {
		for (int i = 0; i < n; i++)
			out[i] = sq_run(base, true, fn, args[i]);
		return;
	}
	committer_write_all(&s->w, fn, args, n, out);
}

static bool sq_committer_start(struct sq_store *s)
{
	s->wconn = calloc(1, sizeof *s->wconn);
	if (!s->wconn || !(s->wconn->db = sq_open_db(s->path))) {
		free(s->wconn);
		s->wconn = NULL;
		return false;
	}
	if (!committer_start(&s->w, &s->base.commit_batch_max, sq_batch_run, s)) {
		sq_conn_free(s->wconn);
		s->wconn = NULL;
		return false;
	}
	return true;
}

/* Drains the queue (every waiting write is committed), then stops. */
static void sq_committer_stop(struct sq_store *s)
{
	if (!s->w.running)
		return;
	committer_stop(&s->w);
	if (s->w.commits)
		log_info("sqlite: %llu writes in %llu commits", (unsigned long long)s->w.writes,
			 (unsigned long long)s->w.commits);
	sq_conn_free(s->wconn);
	s->wconn = NULL;
}

static enum store_status sq_run(struct store *base, bool write, store_tx_fn fn, void *arg)
{
	struct sq_store *s = (struct sq_store *)base;
	if (write && s->w.running) {
		/* A write from inside a write would wait on itself: our bug. */
		assert(!committer_on_thread());
		return committer_write(&s->w, fn, arg);
	}
	struct sq_conn *c = sq_take(s);
	if (!c)
		return STORE_FAIL;
	struct sq_tx tx = {.base = {.store = base}, .conn = c};
	enum store_status st;
	if (sq_exec_sql(c, write ? "BEGIN IMMEDIATE" : "BEGIN", &st)) {
		st = fn(&tx.base, arg);
		if (st == STORE_OK)
			sq_exec_sql(c, "COMMIT", &st);
		if (st != STORE_OK && !sqlite3_get_autocommit(c->db))
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sq_reset_all(c);
	sq_give(s, c);
	return st;
}

static void sq_close(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	sq_committer_stop(s);
	while (s->idle) {
		struct sq_conn *c = s->idle;
		s->idle = c->next;
		sq_conn_free(c);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->path);
	free(s);
}

static bool sq_migrate(sqlite3 *db)
{
	char *msg = NULL;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db,
			 "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);"
			 "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version);",
			 NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	sqlite3_stmt *st = NULL;
	int version = 0;
	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > SQ_SCHEMA_VERSION) {
		log_error("sqlite: database schema version %d is newer than this binary's %d",
			  version, SQ_SCHEMA_VERSION);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return false;
	}
	for (int v = version; v < SQ_SCHEMA_VERSION; v++) {
		if (sqlite3_exec(db, sq_migrations[v], NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
		char bump[64];
		snprintf(bump, sizeof bump, "UPDATE schema_version SET version = %d", v + 1);
		if (sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
		log_info("sqlite: migrated schema to version %d", v + 1);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return true;
fail:
	log_error("sqlite: migration failed: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}

struct store *store_open_sqlite(const char *path, const char **err)
{
	*err = NULL;
	if (sqlite3_threadsafe() == 0) {
		*err = "sqlite library was built without thread support";
		return NULL;
	}
	struct sq_store *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(path))) {
		free(s);
		*err = "out of memory";
		return NULL;
	}
	s->base.ops = &sq_ops;
	pthread_once(&sq_rules_once, sq_rules_build);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	struct sq_conn *c = sq_take(s);
	if (!c) {
		*err = "cannot open the database file";
		sq_close(&s->base);
		return NULL;
	}
	if (!sq_migrate(c->db)) {
		*err = "cannot create or migrate the schema";
		sq_conn_free(c);
		s->open--;
		sq_close(&s->base);
		return NULL;
	}
	sq_give(s, c);
	s->base.commit_batch_max = LIMIT_COMMIT_BATCH_DEFAULT;
	if (!sq_committer_start(s)) {
		*err = "cannot start the committer";
		sq_close(&s->base);
		return NULL;
	}
	return &s->base;
}

/* ---- tenants, principals, keys ---------------------------------------- */

static enum store_status sq_tenant_insert(struct store_tx *t, const struct store_tenant *r)
{
	static const char sql[] = "INSERT INTO tenants(id, name, created_at) VALUES (?1, ?2, ?3)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bte(st, 2, r->name);
	bi(st, 3, r->created_at);
	return sq_exec(t, st, "tenant insert");
}

static enum store_status sq_tenant_get(struct store_tx *t, const char *id, struct store_tenant *r)
{
	static const char sql[] = "SELECT id, name, created_at FROM tenants WHERE id = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	enum store_status s = sq_one(t, st, "tenant get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->name, sizeof r->name);
	r->created_at = ci(st, 2);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_principal_insert(struct store_tx *t, const struct store_principal *r)
{
	static const char sql[] =
		"INSERT INTO principals(id, tenant_id, kind, created_at) VALUES (?1, ?2, ?3, ?4)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->kind);
	bi(st, 4, r->created_at);
	return sq_exec(t, st, "principal insert");
}

static enum store_status sq_api_key_insert(struct store_tx *t, const struct store_api_key *r)
{
	static const char sql[] =
		"INSERT INTO api_keys(id, principal_id, tenant_id, key_hash, capabilities, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->principal_id);
	bt(st, 3, r->tenant_id);
	sqlite3_bind_blob(st, 4, r->hash, sizeof r->hash, SQLITE_STATIC);
	bi(st, 5, r->capabilities);
	bi(st, 6, r->created_at);
	return sq_exec(t, st, "api key insert");
}

static enum store_status sq_api_key_find(struct store_tx *t, const uint8_t hash[32],
					 struct store_api_key *r)
{
	static const char sql[] =
		"SELECT k.id, k.principal_id, k.tenant_id, p.kind, k.key_hash, k.capabilities,"
		" k.revoked_at IS NOT NULL, k.created_at"
		" FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.key_hash = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	enum store_status s = sq_one(t, st, "api key find");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->principal_id, sizeof r->principal_id);
	ct(st, 2, r->tenant_id, sizeof r->tenant_id);
	ct(st, 3, r->principal_kind, sizeof r->principal_kind);
	memset(r->hash, 0, sizeof r->hash);
	if (sqlite3_column_bytes(st, 4) == (int)sizeof r->hash)
		memcpy(r->hash, sqlite3_column_blob(st, 4), sizeof r->hash);
	r->capabilities = (uint32_t)ci(st, 5);
	r->revoked = ci(st, 6) != 0;
	r->created_at = ci(st, 7);
	sqlite3_reset(st);
	return STORE_OK;
}

/* ---- clients and accounts --------------------------------------------- */

static enum store_status sq_client_insert(struct store_tx *t, const struct store_client *r)
{
	static const char sql[] =
		"INSERT INTO clients(id, tenant_id, display_name, default_account_id, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bte(st, 3, r->display_name);
	bt(st, 4, r->default_account_id);
	bi(st, 5, r->created_at);
	return sq_exec(t, st, "client insert");
}

static enum store_status sq_client_get(struct store_tx *t, const char *tenant_id, const char *id,
				       struct store_client *r)
{
	static const char sql[] =
		"SELECT id, tenant_id, display_name, default_account_id, created_at"
		" FROM clients WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "client get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->display_name, sizeof r->display_name);
	ct(st, 3, r->default_account_id, sizeof r->default_account_id);
	r->created_at = ci(st, 4);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_account_insert(struct store_tx *t, const struct store_account *r)
{
	static const char sql[] =
		"INSERT INTO accounts(id, tenant_id, client_id, kind, code, flags, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->client_id);
	bt(st, 4, r->kind);
	bt(st, 5, r->code);
	bi(st, 6, r->flags);
	bi(st, 7, r->created_at);
	return sq_exec(t, st, "account insert");
}

#define SQ_ACCOUNT_COLS "id, tenant_id, client_id, kind, code, flags, created_at"

static void sq_account_row(sqlite3_stmt *st, struct store_account *r)
{
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->client_id, sizeof r->client_id);
	ct(st, 3, r->kind, sizeof r->kind);
	ct(st, 4, r->code, sizeof r->code);
	r->flags = (unsigned)ci(st, 5);
	r->created_at = ci(st, 6);
}

static enum store_status sq_account_get(struct store_tx *t, const char *tenant_id, const char *id,
					struct store_account *r)
{
	static const char sql[] =
		"SELECT " SQ_ACCOUNT_COLS " FROM accounts WHERE id = ?1 AND tenant_id = ?2"
		" AND kind = 'client'";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "account get");
	if (s != STORE_OK)
		return s;
	sq_account_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_account_get_system(struct store_tx *t, const char *tenant_id,
					       const char *code, struct store_account *r)
{
	static const char sql[] =
		"SELECT " SQ_ACCOUNT_COLS " FROM accounts"
		" WHERE tenant_id = ?1 AND code = ?2 AND kind = 'system'";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, code);
	enum store_status s = sq_one(t, st, "system account get");
	if (s != STORE_OK)
		return s;
	sq_account_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

/* Iterate a prepared, bound statement, handing each row to row_fn. */
static enum store_status sq_each(struct store_tx *t, sqlite3_stmt *st, const char *what,
				 void (*row_fn)(sqlite3_stmt *, void *row), void *row,
				 store_each_fn fn, void *arg)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_fn(st, row);
		fn(arg, row);
	}
	enum store_status s = sq_status(sq_db(t), rc, what);
	sqlite3_reset(st);
	return s;
}

static void sq_account_row_v(sqlite3_stmt *st, void *row) { sq_account_row(st, row); }

static enum store_status sq_account_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " SQ_ACCOUNT_COLS " FROM accounts ORDER BY id";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	struct store_account row;
	return sq_each(t, st, "account each", sq_account_row_v, &row, fn, arg);
}

/* SQLite has one writer, which holds the whole database until it commits:
 * a lock on one row adds nothing, so this only says whether the row is
 * there. */
static enum store_status sq_client_lock(struct store_tx *t, const char *tenant_id, const char *id)
{
	static const char sql[] = "SELECT 1 FROM clients WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "client lock");
	if (s == STORE_OK)
		sqlite3_reset(st);
	return s;
}

/* ---- ledger ------------------------------------------------------------ */

static enum store_status sq_balance_get(struct store_tx *t, const char *account_id,
					const char *currency, struct ledger_balance *b)
{
	static const char sql[] =
		"SELECT debits_posted, credits_posted, debits_pending, credits_pending"
		" FROM balances WHERE account_id = ?1 AND currency = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, account_id);
	bt(st, 2, currency);
	memset(b, 0, sizeof *b);
	enum store_status s = sq_one(t, st, "balance get");
	if (s != STORE_OK)
		return s;
	b->debits_posted = ci(st, 0);
	b->credits_posted = ci(st, 1);
	b->debits_pending = ci(st, 2);
	b->credits_pending = ci(st, 3);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_balance_put(struct store_tx *t, const char *account_id,
					const char *currency, const struct ledger_balance *b)
{
	static const char sql[] =
		"INSERT INTO balances(account_id, currency, debits_posted, credits_posted,"
		" debits_pending, credits_pending) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT(account_id, currency) DO UPDATE SET"
		" debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,"
		" debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, account_id);
	bt(st, 2, currency);
	bi(st, 3, b->debits_posted);
	bi(st, 4, b->credits_posted);
	bi(st, 5, b->debits_pending);
	bi(st, 6, b->credits_pending);
	return sq_exec(t, st, "balance put");
}

static void sq_balance_row(sqlite3_stmt *st, void *row)
{
	struct store_balance *r = row;
	ct(st, 0, r->account_id, sizeof r->account_id);
	ct(st, 1, r->currency, sizeof r->currency);
	r->b.debits_posted = ci(st, 2);
	r->b.credits_posted = ci(st, 3);
	r->b.debits_pending = ci(st, 4);
	r->b.credits_pending = ci(st, 5);
}

static enum store_status sq_balance_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT account_id, currency, debits_posted, credits_posted, debits_pending,"
		" credits_pending FROM balances ORDER BY account_id, currency";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	struct store_balance row;
	return sq_each(t, st, "balance each", sq_balance_row, &row, fn, arg);
}

static enum store_status sq_transfer_insert(struct store_tx *t, const struct store_transfer *r)
{
	static const char sql[] =
		"INSERT INTO transfers(id, op, pending_id, debit_account_id, credit_account_id,"
		" currency, amount, session_id, kind, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->op);
	bt(st, 3, r->pending_id);
	bt(st, 4, r->debit_account_id);
	bt(st, 5, r->credit_account_id);
	bt(st, 6, r->currency);
	bi(st, 7, r->amount_minor);
	bt(st, 8, r->session_id);
	bt(st, 9, r->kind);
	bi(st, 10, r->created_at);
	return sq_exec(t, st, "transfer insert");
}

static void sq_transfer_row(sqlite3_stmt *st, void *row)
{
	struct store_transfer *r = row;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->op, sizeof r->op);
	ct(st, 2, r->pending_id, sizeof r->pending_id);
	ct(st, 3, r->debit_account_id, sizeof r->debit_account_id);
	ct(st, 4, r->credit_account_id, sizeof r->credit_account_id);
	ct(st, 5, r->currency, sizeof r->currency);
	r->amount_minor = ci(st, 6);
	ct(st, 7, r->session_id, sizeof r->session_id);
	ct(st, 8, r->kind, sizeof r->kind);
	r->created_at = ci(st, 9);
}

static enum store_status sq_transfer_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT id, op, pending_id, debit_account_id, credit_account_id, currency, amount,"
		" session_id, kind, created_at FROM transfers ORDER BY id";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	struct store_transfer row;
	return sq_each(t, st, "transfer each", sq_transfer_row, &row, fn, arg);
}

static enum store_status sq_transfer_each_session(struct store_tx *t, const char *session_id,
						   store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT id, op, pending_id, debit_account_id, credit_account_id, currency, amount,"
		" session_id, kind, created_at FROM transfers WHERE session_id = ?1 ORDER BY id";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, session_id);
	struct store_transfer row;
	return sq_each(t, st, "transfer each session", sq_transfer_row, &row, fn, arg);
}

/* ---- destinations ------------------------------------------------------ */

static enum store_status sq_destination_insert(struct store_tx *t, const struct store_destination *r)
{
	static const char sql[] =
		"INSERT INTO destinations(id, tenant_id, client_id, account_id, method, fiat_rail,"
		" currency, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->client_id);
	bt(st, 4, r->account_id);
	bt(st, 5, r->method);
	bte(st, 6, r->fiat_rail);
	bt(st, 7, r->currency);
	bte(st, 8, r->body);
	bi(st, 9, r->created_at);
	return sq_exec(t, st, "destination insert");
}

static enum store_status sq_destination_get(struct store_tx *t, const char *tenant_id,
					    const char *id, struct store_destination *r)
{
	static const char sql[] =
		"SELECT id, tenant_id, client_id, account_id, method, fiat_rail, currency, body,"
		" created_at FROM destinations WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "destination get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->client_id, sizeof r->client_id);
	ct(st, 3, r->account_id, sizeof r->account_id);
	ct(st, 4, r->method, sizeof r->method);
	ct(st, 5, r->fiat_rail, sizeof r->fiat_rail);
	ct(st, 6, r->currency, sizeof r->currency);
	free(r->body);
	r->body = cdup(st, 7, NULL);
	r->created_at = ci(st, 8);
	sqlite3_reset(st);
	return r->body ? STORE_OK : STORE_FAIL;
}

/* ---- sessions ---------------------------------------------------------- */

#define SQ_SESSION_COLS                                                                      \
	"id, tenant_id, account_id, client_id, destination_id, principal_id, principal_kind," \
	" status, stage, currency, principal_minor, fee_network_minor, fee_platform_minor,"  \
	" fee_total_minor, target_currency, target_rail, method, fiat_rail,"                 \
	" payment_reference, failure_reason, hold_transfer_id, version, created_at,"          \
	" updated_at, settled_at, next_run_ms, lease_owner, lease_until_ms, attempts,"        \
	" fill_rate_value, fill_rate_scale, delivered_minor, approval_id, approved_by_id,"     \
	" approved_by_kind, network, event_seq, fee_partner_minor, locked_rate_value,"        \
	" locked_rate_scale, payout_reference, waiting_reason, failure_detail"
#define SQ_SESSION_NCOLS 43

static void sq_session_row(sqlite3_stmt *st, void *row)
{
	struct store_session *r = row;
	int i = 0;
	ct(st, i++, r->id, sizeof r->id);
	ct(st, i++, r->tenant_id, sizeof r->tenant_id);
	ct(st, i++, r->account_id, sizeof r->account_id);
	ct(st, i++, r->client_id, sizeof r->client_id);
	ct(st, i++, r->destination_id, sizeof r->destination_id);
	ct(st, i++, r->principal_id, sizeof r->principal_id);
	ct(st, i++, r->principal_kind, sizeof r->principal_kind);
	ct(st, i++, r->status, sizeof r->status);
	ct(st, i++, r->stage, sizeof r->stage);
	ct(st, i++, r->currency, sizeof r->currency);
	r->principal_minor = ci(st, i++);
	r->fee_network_minor = ci(st, i++);
	r->fee_platform_minor = ci(st, i++);
	r->fee_total_minor = ci(st, i++);
	ct(st, i++, r->target_currency, sizeof r->target_currency);
	ct(st, i++, r->target_rail, sizeof r->target_rail);
	ct(st, i++, r->method, sizeof r->method);
	ct(st, i++, r->fiat_rail, sizeof r->fiat_rail);
	ct(st, i++, r->payment_reference, sizeof r->payment_reference);
	ct(st, i++, r->failure_reason, sizeof r->failure_reason);
	ct(st, i++, r->hold_transfer_id, sizeof r->hold_transfer_id);
	r->version = ci(st, i++);
	r->created_at = ci(st, i++);
	r->updated_at = ci(st, i++);
	r->settled_at = ci(st, i++);
	r->next_run_ms = ci(st, i++);
	ct(st, i++, r->lease_owner, sizeof r->lease_owner);
	r->lease_until_ms = ci(st, i++);
	r->attempts = (int)ci(st, i++);
	r->fill_rate_value = ci(st, i++);
	r->fill_rate_scale = (int)ci(st, i++);
	r->delivered_minor = ci(st, i++);
	ct(st, i++, r->approval_id, sizeof r->approval_id);
	ct(st, i++, r->approved_by_id, sizeof r->approved_by_id);
	ct(st, i++, r->approved_by_kind, sizeof r->approved_by_kind);
	ct(st, i++, r->network, sizeof r->network);
	r->event_seq = ci(st, i++);
	r->fee_partner_minor = ci(st, i++);
	r->locked_rate_value = ci(st, i++);
	r->locked_rate_scale = (int)ci(st, i++);
	ct(st, i++, r->payout_reference, sizeof r->payout_reference);
	ct(st, i++, r->waiting_reason, sizeof r->waiting_reason);
	ct(st, i++, r->failure_detail, sizeof r->failure_detail);
	assert(i == SQ_SESSION_NCOLS);
}

/* Bind every column in SQ_SESSION_COLS order to ?1..?42. */
static void sq_session_bind(sqlite3_stmt *st, const struct store_session *r)
{
	int i = 1;
	bt(st, i++, r->id);
	bt(st, i++, r->tenant_id);
	bt(st, i++, r->account_id);
	bt(st, i++, r->client_id);
	bt(st, i++, r->destination_id);
	bt(st, i++, r->principal_id);
	bt(st, i++, r->principal_kind);
	bt(st, i++, r->status);
	bte(st, i++, r->stage);
	bt(st, i++, r->currency);
	bi(st, i++, r->principal_minor);
	bi(st, i++, r->fee_network_minor);
	bi(st, i++, r->fee_platform_minor);
	bi(st, i++, r->fee_total_minor);
	bt(st, i++, r->target_currency);
	bt(st, i++, r->target_rail);
	bt(st, i++, r->method);
	bte(st, i++, r->fiat_rail);
	bte(st, i++, r->payment_reference);
	bte(st, i++, r->failure_reason);
	bt(st, i++, r->hold_transfer_id);
	bi(st, i++, r->version);
	bi(st, i++, r->created_at);
	bi(st, i++, r->updated_at);
	bi(st, i++, r->settled_at);
	bi(st, i++, r->next_run_ms);
	bte(st, i++, r->lease_owner);
	bi(st, i++, r->lease_until_ms);
	bi(st, i++, r->attempts);
	bi(st, i++, r->fill_rate_value);
	bi(st, i++, r->fill_rate_scale);
	bi(st, i++, r->delivered_minor);
	bte(st, i++, r->approval_id);
	bte(st, i++, r->approved_by_id);
	bte(st, i++, r->approved_by_kind);
	bte(st, i++, r->network[0] ? r->network : "ethereum");
	bi(st, i++, r->event_seq);
	bi(st, i++, r->fee_partner_minor);
	bi(st, i++, r->locked_rate_value);
	bi(st, i++, r->locked_rate_scale);
	bte(st, i++, r->payout_reference);
	bte(st, i++, r->waiting_reason);
	bte(st, i++, r->failure_detail);
	assert(i == SQ_SESSION_NCOLS + 1);
}

static enum store_status sq_session_insert(struct store_tx *t, const struct store_session *r)
{
	static const char sql[] =
		"INSERT INTO sessions(" SQ_SESSION_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		" ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25,"
		" ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_session_bind(st, r);
	return sq_exec(t, st, "session insert");
}

static enum store_status sq_session_update(struct store_tx *t, const struct store_session *r,
					   int64_t expect_version)
{
	/* Identity columns (?1..?7, ?10..?21 bar the status ones) never
	 * change; the WHERE pins the row and the version it was read at. */
	static const char sql[] =
		"UPDATE sessions SET status = ?8, stage = ?9, failure_reason = ?20, version = ?22,"
		" updated_at = ?24, settled_at = ?25, next_run_ms = ?26, lease_owner = ?27,"
		" lease_until_ms = ?28, attempts = ?29, fill_rate_value = ?30, fill_rate_scale = ?31,"
		" delivered_minor = ?32, approval_id = ?33, approved_by_id = ?34,"
		" approved_by_kind = ?35, event_seq = ?37, payout_reference = ?41,"
		" waiting_reason = ?42, failure_detail = ?43"
		" WHERE id = ?1 AND tenant_id = ?2 AND version = ?44";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_session_bind(st, r);
	bi(st, 44, expect_version);
	enum store_status s = sq_exec(t, st, "session update");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_NOT_FOUND;
	return s;
}

/*
 * The statements whose cost must stay O(page size) at any table size are
 * at file scope, so sq_query_plans() can show their plans: the workers'
 * claim and look-ahead (the partial index of in-flight sessions, never the
 * settled history), lookups by id, and list pages (below).
 */
/*
 * Which statuses are in flight, or count toward a limit, is the session
 * table's business (domain/session.h), so these statements are written
 * from it once, at open; sq_stmt caches by the text's address, which is
 * stable. The partial index of in-flight sessions (sqlite_schema.h) was
 * written with the same list, which the planner needs to use it
 * (tests/unit/domain/test_session.c holds the list to that text).
 *
 * A leased session's next_run_ms moves to its lease's end (store.h), so the
 * next due time is the first entry of the partial index.
 */
static char sq_sql_session_claim[2048];
static char sq_sql_session_next_due[256];
/* Only in-flight sessions are ever leased (a step that ends a session
 * clears its lease in the same write), so the release reads the partial
 * index of those rather than every session ever made; and only the leases
 * of the restarting node: another node's run out on their own. A leased
 * row's next_run_ms is its lease's end (the claim moved it there), so a
 * released one is due at once. */
static char sq_sql_session_release[512];
/* Reads every session of the client since `since` (a day or a month of
 * them): bounded by what one client did in that window, not the table. */
static char sq_sql_session_sum[512];

static void sq_rules_build(void)
{
	char driven[96], counts[128];
	bool ok = session_status_sql_list(session_status_driven, driven, sizeof driven) > 0 &&
		  session_status_sql_list(session_status_counts, counts, sizeof counts) > 0;
	int n[4];
	n[0] = snprintf(sq_sql_session_claim, sizeof sq_sql_session_claim,
			"UPDATE sessions SET lease_owner = ?2, lease_until_ms = ?3,"
			" next_run_ms = MAX(next_run_ms, ?3) WHERE id IN ("
			" SELECT id FROM sessions WHERE status IN (%s)"
			" AND next_run_ms <= ?1 AND lease_until_ms <= ?1 ORDER BY next_run_ms LIMIT ?4)"
			" RETURNING " SQ_SESSION_COLS, driven);
	n[1] = snprintf(sq_sql_session_next_due, sizeof sq_sql_session_next_due,
			"SELECT MIN(next_run_ms) FROM sessions WHERE status IN (%s)", driven);
	n[2] = snprintf(sq_sql_session_release, sizeof sq_sql_session_release,
			"UPDATE sessions SET lease_owner = '', lease_until_ms = 0, next_run_ms = 0"
			" WHERE status IN (%s) AND lease_until_ms > 0"
			" AND substr(lease_owner, 1, length(?1)) = ?1", driven);
	n[3] = snprintf(sq_sql_session_sum, sizeof sq_sql_session_sum,
			"SELECT COALESCE(SUM(principal_minor), 0) FROM sessions WHERE tenant_id = ?1"
			" AND client_id = ?2 AND created_at >= ?3 AND status IN (%s)", counts);
	/* Sizes are ours: a text that does not fit is our bug. */
	assert(ok && n[0] > 0 && (size_t)n[0] < sizeof sq_sql_session_claim &&
	       n[1] > 0 && (size_t)n[1] < sizeof sq_sql_session_next_due && n[2] > 0 &&
	       (size_t)n[2] < sizeof sq_sql_session_release && n[3] > 0 &&
	       (size_t)n[3] < sizeof sq_sql_session_sum);
	(void)ok;
	(void)n;
}

static const char sq_sql_session_get[] =
	"SELECT " SQ_SESSION_COLS " FROM sessions WHERE id = ?1 AND tenant_id = ?2";

static enum store_status sq_session_claim(struct store_tx *t, int64_t now_ms, const char *owner,
					  int64_t lease_until_ms, int limit, store_each_fn fn,
					  void *arg)
{
	sqlite3_stmt *st = sq_stmt(t, sq_sql_session_claim);
	if (!st)
		return STORE_FAIL;
	bi(st, 1, now_ms);
	bt(st, 2, owner);
	bi(st, 3, lease_until_ms);
	bi(st, 4, limit);
	struct store_session row;
	return sq_each(t, st, "session claim", sq_session_row, &row, fn, arg);
}

static enum store_status sq_session_next_due(struct store_tx *t, int64_t *next_ms)
{
	sqlite3_stmt *st = sq_stmt(t, sq_sql_session_next_due);
	if (!st)
		return STORE_FAIL;
	enum store_status s = sq_one(t, st, "session next due");
	if (s != STORE_OK)
		return s;
	bool none = sqlite3_column_type(st, 0) == SQLITE_NULL;
	*next_ms = ci(st, 0);
	sqlite3_reset(st);
	return none ? STORE_NOT_FOUND : STORE_OK;
}

static enum store_status sq_session_release_leases(struct store_tx *t, const char *owner_prefix)
{
	sqlite3_stmt *st = sq_stmt(t, sq_sql_session_release);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, owner_prefix);
	return sq_exec(t, st, "release leases");
}

static enum store_status sq_session_get(struct store_tx *t, const char *tenant_id, const char *id,
					struct store_session *r)
{
	sqlite3_stmt *st = sq_stmt(t, sq_sql_session_get);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "session get");
	if (s != STORE_OK)
		return s;
	sq_session_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

/*
 * List pages. One statement per combination of filters and direction,
 * each naming only the columns it filters on: a clause like "(?2 IS NULL
 * OR status = ?2)" cannot drive an index, so one statement for every
 * combination reads the tenant's whole index from the newest row and
 * filters, and a deep page (id < cursor) walks everything above its
 * cursor. Named, each filter is an equality on an index that ends in id
 * (sessions_by_status, _by_account, _by_account_status, _by_client) and
 * the cursor a range on that id, so a page costs O(page size) at any
 * table size. Ids are UUIDv7, so id order is creation order and keyset
 * cursors are stable under inserts. Built once; sq_stmt caches by the
 * text's address, which is stable.
 */
enum { SQ_LIST_STATUS = 1, SQ_LIST_ACCOUNT = 2, SQ_LIST_CLIENT = 4, SQ_LIST_FILTERS = 8 };
enum sq_list_dir { SQ_LIST_NEWEST, SQ_LIST_BEFORE, SQ_LIST_AFTER, SQ_LIST_DIRS };
static char sq_list_sql[SQ_LIST_FILTERS][SQ_LIST_DIRS][1024];
static pthread_once_t sq_list_once = PTHREAD_ONCE_INIT;

static void sq_list_build(void)
{
	for (int f = 0; f < SQ_LIST_FILTERS; f++)
		for (int d = 0; d < SQ_LIST_DIRS; d++) {
			int n = snprintf(sq_list_sql[f][d], sizeof sq_list_sql[f][d],
					 "SELECT " SQ_SESSION_COLS " FROM sessions WHERE tenant_id = ?1"
					 "%s%s%s%s ORDER BY id %s LIMIT ?6",
					 f & SQ_LIST_STATUS ? " AND status = ?2" : "",
					 f & SQ_LIST_ACCOUNT ? " AND account_id = ?3" : "",
					 f & SQ_LIST_CLIENT ? " AND client_id = ?4" : "",
					 d == SQ_LIST_BEFORE  ? " AND id < ?5"
					 : d == SQ_LIST_AFTER ? " AND id > ?5"
							      : "",
					 d == SQ_LIST_AFTER ? "ASC" : "DESC");
			assert(n > 0 && (size_t)n < sizeof sq_list_sql[f][d]);
			(void)n;
		}
}

static const char *sq_list_text(int filters, enum sq_list_dir dir)
{
	pthread_once(&sq_list_once, sq_list_build);
	return sq_list_sql[filters][dir];
}

static enum store_status sq_session_list(struct store_tx *t, const struct store_session_filter *f,
					 store_each_fn fn, void *arg)
{
	int filters = (f->status ? SQ_LIST_STATUS : 0) | (f->account_id ? SQ_LIST_ACCOUNT : 0) |
		      (f->client_id ? SQ_LIST_CLIENT : 0);
	enum sq_list_dir dir = f->after_id ? SQ_LIST_AFTER : f->before_id ? SQ_LIST_BEFORE
									   : SQ_LIST_NEWEST;
	sqlite3_stmt *st = sq_stmt(t, sq_list_text(filters, dir));
	if (!st)
		return STORE_FAIL;
	/* Every statement ends in ?6, so ?1..?6 all exist; the ones it does
	 * not name are bound and ignored. */
	bt(st, 1, f->tenant_id);
	bt(st, 2, f->status);
	bt(st, 3, f->account_id);
	bt(st, 4, f->client_id);
	bt(st, 5, f->after_id ? f->after_id : f->before_id);
	bi(st, 6, f->limit);
	struct store_session row;
	return sq_each(t, st, "session list", sq_session_row, &row, fn, arg);
}

static enum store_status sq_session_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " SQ_SESSION_COLS " FROM sessions ORDER BY id";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	struct store_session row;
	return sq_each(t, st, "session each", sq_session_row, &row, fn, arg);
}

/* ---- idempotency ------------------------------------------------------- */

static enum store_status sq_idem_insert(struct store_tx *t, const struct store_idem *r)
{
	/* One statement: a new key is inserted; an expired record under the
	 * same key is replaced in place (keys are kept 24 hours, after which
	 * the key is free again); a live one is left alone, changes nothing,
	 * and the key is taken. */
	static const char sql[] =
		"INSERT INTO idempotency(tenant_id, endpoint, key, request_hash, status, body,"
		" created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		" ON CONFLICT(tenant_id, endpoint, key) DO UPDATE SET"
		" request_hash = excluded.request_hash, status = excluded.status,"
		" body = excluded.body, created_at = excluded.created_at,"
		" expires_at = excluded.expires_at"
		" WHERE idempotency.expires_at <= excluded.created_at";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->tenant_id);
	bt(st, 2, r->endpoint);
	bte(st, 3, r->key);
	bt(st, 4, r->request_hash);
	bi(st, 5, r->status);
	if (r->body)
		sqlite3_bind_blob(st, 6, r->body, (int)r->body_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	bi(st, 7, r->created_at);
	bi(st, 8, r->expires_at);
	enum store_status s = sq_exec(t, st, "idempotency insert");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_EXISTS;
	return s;
}

static enum store_status sq_idem_get(struct store_tx *t, const char *tenant_id,
				     const char *endpoint, const char *key, int64_t now,
				     struct store_idem *r)
{
	static const char sql[] =
		"SELECT tenant_id, endpoint, key, request_hash, status, body, created_at, expires_at"
		" FROM idempotency WHERE tenant_id = ?1 AND endpoint = ?2 AND key = ?3"
		" AND expires_at > ?4";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, endpoint);
	bte(st, 3, key);
	bi(st, 4, now);
	enum store_status s = sq_one(t, st, "idempotency get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->tenant_id, sizeof r->tenant_id);
	ct(st, 1, r->endpoint, sizeof r->endpoint);
	ct(st, 2, r->key, sizeof r->key);
	ct(st, 3, r->request_hash, sizeof r->request_hash);
	r->status = (int)ci(st, 4);
	free(r->body);
	r->body = cdup(st, 5, &r->body_len);
	/* A NULL answer is kept as such; a lost copy of one is a failure. */
	bool lost = !r->body && sqlite3_column_type(st, 5) != SQLITE_NULL;
	r->created_at = ci(st, 6);
	r->expires_at = ci(st, 7);
	sqlite3_reset(st);
	return lost ? STORE_FAIL : STORE_OK;
}

/* ---- approvals, policies, rates, settings ------------------------------- */

#define SQ_APPROVAL_COLS                                                                \
	"id, tenant_id, session_id, status, initiator_id, initiator_kind, decided_by_id," \
	" decided_by_kind, currency, amount_minor, created_at, decided_at"

static void sq_approval_row(sqlite3_stmt *st, void *row)
{
	struct store_approval *r = row;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->session_id, sizeof r->session_id);
	ct(st, 3, r->status, sizeof r->status);
	ct(st, 4, r->initiator_id, sizeof r->initiator_id);
	ct(st, 5, r->initiator_kind, sizeof r->initiator_kind);
	ct(st, 6, r->decided_by_id, sizeof r->decided_by_id);
	ct(st, 7, r->decided_by_kind, sizeof r->decided_by_kind);
	ct(st, 8, r->currency, sizeof r->currency);
	r->amount_minor = ci(st, 9);
	r->created_at = ci(st, 10);
	r->decided_at = ci(st, 11);
}

static void sq_approval_bind(sqlite3_stmt *st, const struct store_approval *r)
{
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->session_id);
	bt(st, 4, r->status);
	bt(st, 5, r->initiator_id);
	bt(st, 6, r->initiator_kind);
	bte(st, 7, r->decided_by_id);
	bte(st, 8, r->decided_by_kind);
	bt(st, 9, r->currency);
	bi(st, 10, r->amount_minor);
	bi(st, 11, r->created_at);
	bi(st, 12, r->decided_at);
}

static enum store_status sq_approval_insert(struct store_tx *t, const struct store_approval *r)
{
	static const char sql[] = "INSERT INTO approvals(" SQ_APPROVAL_COLS ") VALUES"
				  " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_approval_bind(st, r);
	return sq_exec(t, st, "approval insert");
}

static enum store_status sq_approval_update(struct store_tx *t, const struct store_approval *r)
{
	static const char sql[] = "UPDATE approvals SET status = ?4, decided_by_id = ?7,"
				  " decided_by_kind = ?8, decided_at = ?12"
				  " WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_approval_bind(st, r);
	enum store_status s = sq_exec(t, st, "approval update");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_NOT_FOUND;
	return s;
}

static enum store_status sq_approval_get(struct store_tx *t, const char *tenant_id, const char *id,
					 struct store_approval *r)
{
	static const char sql[] =
		"SELECT " SQ_APPROVAL_COLS " FROM approvals WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "approval get");
	if (s != STORE_OK)
		return s;
	sq_approval_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_approval_list(struct store_tx *t, const char *tenant_id,
					  const char *status, const char *before_id, int limit,
					  store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT " SQ_APPROVAL_COLS " FROM approvals WHERE tenant_id = ?1"
		" AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR id < ?3)"
		" ORDER BY id DESC LIMIT ?4";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, status);
	bt(st, 3, before_id);
	bi(st, 4, limit);
	struct store_approval row;
	return sq_each(t, st, "approval list", sq_approval_row, &row, fn, arg);
}

static enum store_status sq_policy_get(struct store_tx *t, const char *tenant_id,
				       struct store_policy *r)
{
	static const char sql[] = "SELECT tenant_id, threshold_currency, threshold_minor,"
				  " updated_at FROM policies WHERE tenant_id = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	enum store_status s = sq_one(t, st, "policy get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->tenant_id, sizeof r->tenant_id);
	ct(st, 1, r->threshold_currency, sizeof r->threshold_currency);
	r->threshold_minor = ci(st, 2);
	r->updated_at = ci(st, 3);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_policy_put(struct store_tx *t, const struct store_policy *r)
{
	static const char sql[] =
		"INSERT INTO policies(tenant_id, threshold_currency, threshold_minor, updated_at)"
		" VALUES (?1, ?2, ?3, ?4) ON CONFLICT(tenant_id) DO UPDATE SET"
		" threshold_currency = excluded.threshold_currency,"
		" threshold_minor = excluded.threshold_minor, updated_at = excluded.updated_at";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->tenant_id);
	bte(st, 2, r->threshold_currency);
	bi(st, 3, r->threshold_minor);
	bi(st, 4, r->updated_at);
	return sq_exec(t, st, "policy put");
}

static enum store_status sq_fx_get(struct store_tx *t, const char *source, const char *target,
				   int64_t *value, int *scale)
{
	static const char sql[] =
		"SELECT value, scale FROM fx_rates WHERE source = ?1 AND target = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, source);
	bt(st, 2, target);
	enum store_status s = sq_one(t, st, "fx get");
	if (s != STORE_OK)
		return s;
	*value = ci(st, 0);
	*scale = (int)ci(st, 1);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_fx_put(struct store_tx *t, const char *source, const char *target,
				   int64_t value, int scale, int64_t now)
{
	static const char sql[] =
		"INSERT INTO fx_rates(source, target, value, scale, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(source, target) DO UPDATE SET"
		" value = excluded.value, scale = excluded.scale, updated_at = excluded.updated_at";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, source);
	bt(st, 2, target);
	bi(st, 3, value);
	bi(st, 4, scale);
	bi(st, 5, now);
	return sq_exec(t, st, "fx put");
}

static enum store_status sq_setting_get(struct store_tx *t, const char *tenant_id,
					const char *key, int64_t *value)
{
	static const char sql[] =
		"SELECT value FROM tenant_settings WHERE tenant_id = ?1 AND key = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, key);
	enum store_status s = sq_one(t, st, "setting get");
	if (s != STORE_OK)
		return s;
	*value = ci(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_setting_get_many(struct store_tx *t, const char *tenant_id,
					     const char *const *keys, int n, int64_t *values,
					     bool *found)
{
	/* A fixed statement for any n: unused slots are NULL and match no key. */
	static const char sql[] = "SELECT key, value FROM tenant_settings WHERE tenant_id = ?1"
				  " AND key IN (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	_Static_assert(LIMIT_SETTINGS_MANY == 8, "one placeholder per key");
	assert(n >= 0 && n <= LIMIT_SETTINGS_MANY);
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	for (int i = 0; i < LIMIT_SETTINGS_MANY; i++) {
		if (i < n)
			bt(st, 2 + i, keys[i]);
		else
			sqlite3_bind_null(st, 2 + i);
	}
	for (int i = 0; i < n; i++)
		found[i] = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		for (int i = 0; k && i < n; i++) {
			if (strcmp(k, keys[i]) == 0) {
				found[i] = true;
				values[i] = ci(st, 1);
			}
		}
	}
	enum store_status s = rc == SQLITE_DONE ? STORE_OK : sq_status(sq_db(t), rc, "settings get");
	sqlite3_reset(st);
	return s;
}

static enum store_status sq_setting_put(struct store_tx *t, const char *tenant_id,
					const char *key, int64_t value)
{
	static const char sql[] =
		"INSERT INTO tenant_settings(tenant_id, key, value) VALUES (?1, ?2, ?3)"
		" ON CONFLICT(tenant_id, key) DO UPDATE SET value = excluded.value";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, key);
	bi(st, 3, value);
	return sq_exec(t, st, "setting put");
}

/* ---- events ------------------------------------------------------------- */

static enum store_status sq_event_insert(struct store_tx *t, struct store_event *ev)
{
	static const char sql[] =
		"INSERT INTO events(id, tenant_id, resource_id, resource_seq, type, data, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, ev->id);
	bt(st, 2, ev->tenant_id);
	bt(st, 3, ev->resource_id);
	bi(st, 4, ev->resource_seq);
	bt(st, 5, ev->type);
	bte(st, 6, ev->data);
	bi(st, 7, ev->created_at);
	enum store_status s = sq_exec(t, st, "event insert");
	if (s == STORE_OK)
		ev->seq = sqlite3_last_insert_rowid(sq_db(t));
	return s;
}

static void sq_event_row(sqlite3_stmt *st, void *row)
{
	struct store_event *r = row;
	r->seq = ci(st, 0);
	ct(st, 1, r->id, sizeof r->id);
	ct(st, 2, r->tenant_id, sizeof r->tenant_id);
	ct(st, 3, r->resource_id, sizeof r->resource_id);
	r->resource_seq = ci(st, 4);
	ct(st, 5, r->type, sizeof r->type);
	r->data = (char *)sqlite3_column_text(st, 6); /* borrowed for the callback */
	r->created_at = ci(st, 7);
}

/* A resource's events seek events_by_resource; "(?2 IS NULL OR
 * resource_id = ?2)" would walk the tenant's whole log from after_seq. */
#define SQ_EVENT_LIST(where)                                                        \
	"SELECT seq, id, tenant_id, resource_id, resource_seq, type, data, created_at" \
	" FROM events WHERE tenant_id = ?1" where " AND seq > ?3 ORDER BY seq LIMIT ?4"
static const char sq_sql_event_list[] = SQ_EVENT_LIST("");
static const char sq_sql_event_list_resource[] = SQ_EVENT_LIST(" AND resource_id = ?2");

static enum store_status sq_event_list(struct store_tx *t, const char *tenant_id,
				       const char *resource_id, int64_t after_seq, int limit,
				       store_each_fn fn, void *arg)
{
	sqlite3_stmt *st = sq_stmt(t, resource_id ? sq_sql_event_list_resource : sq_sql_event_list);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, resource_id);
	bi(st, 3, after_seq);
	bi(st, 4, limit);
	struct store_event row;
	return sq_each(t, st, "event list", sq_event_row, &row, fn, arg);
}

/* ---- extension documents, destinations by client --------------------- */

static enum store_status sq_ext_get(struct store_tx *t, const char *tenant_id,
				    const char *resource_id, const char *kind, char **body)
{
	static const char sql[] = "SELECT body FROM resource_ext"
				  " WHERE resource_id = ?1 AND kind = ?2 AND tenant_id = ?3";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, resource_id);
	bt(st, 2, kind);
	bt(st, 3, tenant_id);
	enum store_status s = sq_one(t, st, "ext get");
	if (s != STORE_OK)
		return s;
	free(*body);
	*body = cdup(st, 0, NULL);
	sqlite3_reset(st);
	return *body ? STORE_OK : STORE_FAIL;
}

static enum store_status sq_ext_put(struct store_tx *t, const char *tenant_id,
				    const char *resource_id, const char *kind, const char *body)
{
	static const char sql[] =
		"INSERT INTO resource_ext(resource_id, kind, tenant_id, body) VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT(resource_id, kind) DO UPDATE SET body = excluded.body"
		" WHERE tenant_id = excluded.tenant_id";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, resource_id);
	bt(st, 2, kind);
	bt(st, 3, tenant_id);
	bte(st, 4, body);
	return sq_exec(t, st, "ext put");
}

static void sq_destination_row(sqlite3_stmt *st, void *row)
{
	struct store_destination *r = row;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->client_id, sizeof r->client_id);
	ct(st, 3, r->account_id, sizeof r->account_id);
	ct(st, 4, r->method, sizeof r->method);
	ct(st, 5, r->fiat_rail, sizeof r->fiat_rail);
	ct(st, 6, r->currency, sizeof r->currency);
	r->body = (char *)sqlite3_column_text(st, 7); /* borrowed for the callback */
	r->created_at = ci(st, 8);
}

static enum store_status sq_destination_list(struct store_tx *t, const char *tenant_id,
					     const char *client_id, int limit, store_each_fn fn,
					     void *arg)
{
	static const char sql[] =
		"SELECT id, tenant_id, client_id, account_id, method, fiat_rail, currency, body,"
		" created_at FROM destinations WHERE tenant_id = ?1 AND client_id = ?2"
		" ORDER BY id DESC LIMIT ?3";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, client_id);
	bi(st, 3, limit);
	struct store_destination row;
	return sq_each(t, st, "destination list", sq_destination_row, &row, fn, arg);
}

/* ---- exchange rates, partner fees, limits ----------------------------- */

#define SQ_RATE_COLS \
	"id, tenant_id, type, source, target, value, scale, time_lock, expires_at, used_by, created_at"

static enum store_status sq_exchange_rate_insert(struct store_tx *t,
						 const struct store_exchange_rate *r)
{
	static const char sql[] = "INSERT INTO exchange_rates(" SQ_RATE_COLS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->type);
	bt(st, 4, r->source);
	bt(st, 5, r->target);
	bi(st, 6, r->value);
	bi(st, 7, r->scale);
	bte(st, 8, r->time_lock);
	bi(st, 9, r->expires_at);
	bte(st, 10, r->used_by);
	bi(st, 11, r->created_at);
	return sq_exec(t, st, "exchange rate insert");
}

static enum store_status sq_exchange_rate_get(struct store_tx *t, const char *tenant_id,
					      const char *id, struct store_exchange_rate *r)
{
	static const char sql[] =
		"SELECT " SQ_RATE_COLS " FROM exchange_rates WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "exchange rate get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->type, sizeof r->type);
	ct(st, 3, r->source, sizeof r->source);
	ct(st, 4, r->target, sizeof r->target);
	r->value = ci(st, 5);
	r->scale = (int)ci(st, 6);
	ct(st, 7, r->time_lock, sizeof r->time_lock);
	r->expires_at = ci(st, 8);
	ct(st, 9, r->used_by, sizeof r->used_by);
	r->created_at = ci(st, 10);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_exchange_rate_use(struct store_tx *t, const char *tenant_id,
					      const char *id, const char *session_id)
{
	static const char sql[] = "UPDATE exchange_rates SET used_by = ?3"
				  " WHERE id = ?1 AND tenant_id = ?2 AND used_by = ''";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	bt(st, 3, session_id);
	enum store_status s = sq_exec(t, st, "exchange rate use");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_EXISTS;
	return s;
}

static enum store_status sq_partner_fee_insert(struct store_tx *t, const struct store_partner_fee *r)
{
	static const char sql[] =
		"INSERT INTO partner_fees(id, tenant_id, name, bps, flat_minor, is_default, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bte(st, 3, r->name);
	bi(st, 4, r->bps);
	bi(st, 5, r->flat_minor);
	bi(st, 6, r->is_default);
	bi(st, 7, r->created_at);
	return sq_exec(t, st, "partner fee insert");
}

static enum store_status sq_partner_fee_get(struct store_tx *t, const char *tenant_id,
					    const char *id, struct store_partner_fee *r)
{
	static const char sql[] =
		"SELECT id, tenant_id, name, bps, flat_minor, is_default, created_at"
		" FROM partner_fees WHERE tenant_id = ?1 AND id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, id);
	enum store_status s = sq_one(t, st, "partner fee get");
	if (s != STORE_OK)
		return s;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->name, sizeof r->name);
	r->bps = (int32_t)ci(st, 3);
	r->flat_minor = ci(st, 4);
	r->is_default = ci(st, 5) != 0;
	r->created_at = ci(st, 6);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_session_sum(struct store_tx *t, const char *tenant_id,
					const char *client_id, int64_t since, int64_t *sum)
{
	sqlite3_stmt *st = sq_stmt(t, sq_sql_session_sum);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, client_id);
	bi(st, 3, since);
	enum store_status s = sq_one(t, st, "session sum");
	if (s != STORE_OK)
		return s;
	*sum = ci(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/* ---- operations gauges (GET /metrics) ---------------------------------- */

static void sq_count_row(sqlite3_stmt *st, void *row)
{
	struct store_count *r = row;
	r->name = (const char *)sqlite3_column_text(st, 0);
	r->n = ci(st, 1);
}

/* The status index (tenant_id, status, id) is read whole, table rows
 * never: COUNT needs no column outside it. */
static enum store_status sq_session_count_by_status(struct store_tx *t, store_each_fn fn,
						    void *arg)
{
	static const char sql[] = "SELECT status, COUNT(*) FROM sessions GROUP BY status";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	struct store_count row;
	return sq_each(t, st, "session count by status", sq_count_row, &row, fn, arg);
}

/* The holds accounts through the partial index of system accounts, then
 * their balance rows by primary key: a few rows per tenant. */
static enum store_status sq_held_by_currency(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT b.currency, SUM(b.credits_pending) FROM accounts a"
		" JOIN balances b ON b.account_id = a.id"
		" WHERE a.code = 'holds' AND a.kind = 'system' GROUP BY b.currency";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	struct store_count row;
	return sq_each(t, st, "held by currency", sq_count_row, &row, fn, arg);
}

/* ---- the sandbox rail's book ------------------------------------------- */

#define SQ_PAYOUT_COLS                                                                     \
	"idempotency_key, id, tenant_id, session_id, rail, currency, amount_minor, outcome," \
	" calls, created_at"

static void sq_payout_row(sqlite3_stmt *st, void *row)
{
	struct store_payout *r = row;
	ct(st, 0, r->idempotency_key, sizeof r->idempotency_key);
	ct(st, 1, r->id, sizeof r->id);
	ct(st, 2, r->tenant_id, sizeof r->tenant_id);
	ct(st, 3, r->session_id, sizeof r->session_id);
	ct(st, 4, r->rail, sizeof r->rail);
	ct(st, 5, r->currency, sizeof r->currency);
	r->amount_minor = ci(st, 6);
	ct(st, 7, r->outcome, sizeof r->outcome);
	r->calls = (int)ci(st, 8);
	r->created_at = ci(st, 9);
}

static enum store_status sq_payout_get(struct store_tx *t, const char *key, struct store_payout *r)
{
	static const char sql[] =
		"SELECT " SQ_PAYOUT_COLS " FROM sandbox_payouts WHERE idempotency_key = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, key);
	enum store_status s = sq_one(t, st, "payout get");
	if (s != STORE_OK)
		return s;
	sq_payout_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_payout_insert(struct store_tx *t, const struct store_payout *r)
{
	static const char sql[] = "INSERT INTO sandbox_payouts(" SQ_PAYOUT_COLS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->idempotency_key);
	bt(st, 2, r->id);
	bt(st, 3, r->tenant_id);
	bt(st, 4, r->session_id);
	bt(st, 5, r->rail);
	bt(st, 6, r->currency);
	bi(st, 7, r->amount_minor);
	bt(st, 8, r->outcome);
	bi(st, 9, r->calls);
	bi(st, 10, r->created_at);
	return sq_exec(t, st, "payout insert");
}

static enum store_status sq_payout_touch(struct store_tx *t, const char *key)
{
	static const char sql[] =
		"UPDATE sandbox_payouts SET calls = calls + 1 WHERE idempotency_key = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, key);
	return sq_exec(t, st, "payout touch");
}

/* A session's payouts seek sandbox_payouts_by_tenant (see event list). */
#define SQ_PAYOUT_LIST(where)                                                 \
	"SELECT " SQ_PAYOUT_COLS " FROM sandbox_payouts WHERE tenant_id = ?1" where \
	" ORDER BY id LIMIT 10000"
static const char sq_sql_payout_list[] = SQ_PAYOUT_LIST("");
static const char sq_sql_payout_list_session[] = SQ_PAYOUT_LIST(" AND session_id = ?2");

static enum store_status sq_payout_list(struct store_tx *t, const char *tenant_id,
					const char *session_id, store_each_fn fn, void *arg)
{
	sqlite3_stmt *st = sq_stmt(t, session_id ? sq_sql_payout_list_session : sq_sql_payout_list);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, session_id);
	struct store_payout row;
	return sq_each(t, st, "payout list", sq_payout_row, &row, fn, arg);
}

/* ---- the EVM rail's book ------------------------------------------------ */

static enum store_status sq_chain_nonce_take(struct store_tx *t, const char *account,
					     int64_t floor, int64_t *nonce)
{
	/* One statement: the stored next nonce (or the node's count, if
	 * higher) is taken and the one after it stored. */
	static const char sql[] =
		"INSERT INTO chain_nonces(account, next_nonce) VALUES (?1, ?2 + 1)"
		" ON CONFLICT(account) DO UPDATE SET next_nonce = max(next_nonce, ?2) + 1"
		" RETURNING next_nonce - 1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, account);
	bi(st, 2, floor);
	enum store_status s = sq_one(t, st, "chain nonce take");
	if (s != STORE_OK)
		return s == STORE_NOT_FOUND ? STORE_FAIL : s;
	*nonce = ci(st, 0);
	return sq_exec(t, st, "chain nonce take"); /* steps to the end, resets */
}

#define SQ_CHAIN_COLS                                                                       \
	"idempotency_key, tenant_id, session_id, network, chain_id, sender, nonce, contract,"  \
	" calldata, gas_limit, gas_price_wei, raw, hash, prior_hashes, replacements, state,"   \
	" sent_at_ms, created_at, amount_units, tx_type, tip_wei"

static void sq_chain_row(sqlite3_stmt *st, struct store_chain_tx *r)
{
	int i = 0;
	ct(st, i++, r->idempotency_key, sizeof r->idempotency_key);
	ct(st, i++, r->tenant_id, sizeof r->tenant_id);
	ct(st, i++, r->session_id, sizeof r->session_id);
	ct(st, i++, r->network, sizeof r->network);
	r->chain_id = ci(st, i++);
	ct(st, i++, r->sender, sizeof r->sender);
	r->nonce = ci(st, i++);
	ct(st, i++, r->contract, sizeof r->contract);
	ct(st, i++, r->calldata, sizeof r->calldata);
	r->gas_limit = ci(st, i++);
	r->gas_price_wei = ci(st, i++);
	ct(st, i++, r->raw, sizeof r->raw);
	ct(st, i++, r->hash, sizeof r->hash);
	ct(st, i++, r->prior_hashes, sizeof r->prior_hashes);
	r->replacements = (int)ci(st, i++);
	ct(st, i++, r->state, sizeof r->state);
	r->sent_at_ms = ci(st, i++);
	r->created_at = ci(st, i++);
	r->amount_units = ci(st, i++);
	r->tx_type = (int)ci(st, i++);
	r->tip_wei = ci(st, i++);
}

/* ?1..?21 in SQ_CHAIN_COLS order. */
static void sq_chain_bind(sqlite3_stmt *st, const struct store_chain_tx *r)
{
	int i = 1;
	bt(st, i++, r->idempotency_key);
	bt(st, i++, r->tenant_id);
	bt(st, i++, r->session_id);
	bt(st, i++, r->network);
	bi(st, i++, r->chain_id);
	bt(st, i++, r->sender);
	bi(st, i++, r->nonce);
	bt(st, i++, r->contract);
	bt(st, i++, r->calldata);
	bi(st, i++, r->gas_limit);
	bi(st, i++, r->gas_price_wei);
	bt(st, i++, r->raw);
	bt(st, i++, r->hash);
	bte(st, i++, r->prior_hashes);
	bi(st, i++, r->replacements);
	bt(st, i++, r->state);
	bi(st, i++, r->sent_at_ms);
	bi(st, i++, r->created_at);
	bi(st, i++, r->amount_units);
	bi(st, i++, r->tx_type);
	bi(st, i++, r->tip_wei);
}

static enum store_status sq_chain_tx_get(struct store_tx *t, const char *key,
					 struct store_chain_tx *r)
{
	static const char sql[] =
		"SELECT " SQ_CHAIN_COLS " FROM chain_txs WHERE idempotency_key = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, key);
	enum store_status s = sq_one(t, st, "chain tx get");
	if (s != STORE_OK)
		return s;
	sq_chain_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_chain_tx_insert(struct store_tx *t, const struct store_chain_tx *r)
{
	static const char sql[] = "INSERT INTO chain_txs(" SQ_CHAIN_COLS ") VALUES (?1, ?2, ?3,"
				  " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_chain_bind(st, r);
	return sq_exec(t, st, "chain tx insert");
}

static enum store_status sq_chain_tx_update(struct store_tx *t, const struct store_chain_tx *r)
{
	static const char sql[] =
		"UPDATE chain_txs SET network = ?4, contract = ?8, calldata = ?9, gas_limit = ?10,"
		" gas_price_wei = ?11, raw = ?12, hash = ?13, prior_hashes = ?14,"
		" replacements = ?15, state = ?16, sent_at_ms = ?17, tip_wei = ?21"
		" WHERE idempotency_key = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_chain_bind(st, r);
	enum store_status s = sq_exec(t, st, "chain tx update");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_NOT_FOUND;
	return s;
}

static enum store_status sq_chain_pending_units(struct store_tx *t, int64_t chain_id,
						const char *sender, const char *contract,
						int64_t *units)
{
	static const char sql[] =
		"SELECT coalesce(sum(amount_units), 0) FROM chain_txs"
		" WHERE chain_id = ?1 AND sender = ?2 AND contract = ?3 AND state <> 'mined'";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bi(st, 1, chain_id);
	bt(st, 2, sender);
	bt(st, 3, contract);
	enum store_status s = sq_one(t, st, "chain pending units");
	if (s != STORE_OK)
		return s == STORE_NOT_FOUND ? STORE_FAIL : s;
	*units = ci(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/* ---- webhooks ------------------------------------------------------------ */

#define SQ_HOOK_COLS                                                                         \
	"id, tenant_id, url, format, event_types, enabled, disabled_reason, secret,"        \
	" previous_secret, previous_until, created_at, updated_at"

static void sq_hook_row(sqlite3_stmt *st, void *row)
{
	struct store_hook_endpoint *r = row;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->url, sizeof r->url);
	ct(st, 3, r->format, sizeof r->format);
	ct(st, 4, r->event_types, sizeof r->event_types);
	r->enabled = ci(st, 5) != 0;
	ct(st, 6, r->disabled_reason, sizeof r->disabled_reason);
	ct(st, 7, r->secret, sizeof r->secret);
	ct(st, 8, r->previous_secret, sizeof r->previous_secret);
	r->previous_until = ci(st, 9);
	r->created_at = ci(st, 10);
	r->updated_at = ci(st, 11);
}

static void sq_hook_bind(sqlite3_stmt *st, const struct store_hook_endpoint *r)
{
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bte(st, 3, r->url);
	bte(st, 4, r->format);
	bte(st, 5, r->event_types);
	bi(st, 6, r->enabled);
	bte(st, 7, r->disabled_reason);
	bte(st, 8, r->secret);
	bte(st, 9, r->previous_secret);
	bi(st, 10, r->previous_until);
	bi(st, 11, r->created_at);
	bi(st, 12, r->updated_at);
}

static enum store_status sq_hook_endpoint_insert(struct store_tx *t, const struct store_hook_endpoint *r)
{
	static const char sql[] = "INSERT INTO webhook_endpoints(" SQ_HOOK_COLS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_hook_bind(st, r);
	return sq_exec(t, st, "webhook endpoint insert");
}

static enum store_status sq_hook_endpoint_update(struct store_tx *t, const struct store_hook_endpoint *r)
{
	static const char sql[] =
		"UPDATE webhook_endpoints SET url = ?3, format = ?4, event_types = ?5, enabled = ?6,"
		" disabled_reason = ?7, secret = ?8, previous_secret = ?9, previous_until = ?10,"
		" updated_at = ?12 WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	sq_hook_bind(st, r);
	enum store_status s = sq_exec(t, st, "webhook endpoint update");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_NOT_FOUND;
	return s;
}

static enum store_status sq_hook_endpoint_get(struct store_tx *t, const char *tenant_id,
					      const char *id, struct store_hook_endpoint *r)
{
	static const char sql[] =
		"SELECT " SQ_HOOK_COLS " FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_one(t, st, "webhook endpoint get");
	if (s != STORE_OK)
		return s;
	sq_hook_row(st, r);
	sqlite3_reset(st);
	return STORE_OK;
}

static enum store_status sq_hook_endpoint_delete(struct store_tx *t, const char *tenant_id,
						 const char *id)
{
	static const char sql[] = "DELETE FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, id);
	bt(st, 2, tenant_id);
	enum store_status s = sq_exec(t, st, "webhook endpoint delete");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_NOT_FOUND;
	return s;
}

static enum store_status sq_hook_endpoint_list(struct store_tx *t, const char *tenant_id,
					       store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " SQ_HOOK_COLS " FROM webhook_endpoints"
				  " WHERE tenant_id = ?1 ORDER BY id LIMIT 1000";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	struct store_hook_endpoint row;
	return sq_each(t, st, "webhook endpoint list", sq_hook_row, &row, fn, arg);
}

static enum store_status sq_hook_endpoint_page(struct store_tx *t, const char *after_id, int limit,
					       store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " SQ_HOOK_COLS " FROM webhook_endpoints"
				  " WHERE id > ?1 ORDER BY id LIMIT ?2";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bte(st, 1, after_id); /* "": every id is after it */
	bi(st, 2, limit);
	struct store_hook_endpoint row;
	return sq_each(t, st, "webhook endpoint page", sq_hook_row, &row, fn, arg);
}

#define SQ_DELIVERY_COLS                                                                   \
	"id, tenant_id, endpoint_id, event_id, message_id, type, body, status, attempts,"  \
	" next_attempt_ms, lease_owner, lease_until_ms, last_status, created_at, updated_at"

static void sq_delivery_row(sqlite3_stmt *st, void *row)
{
	struct store_hook_delivery *r = row;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->endpoint_id, sizeof r->endpoint_id);
	ct(st, 3, r->event_id, sizeof r->event_id);
	ct(st, 4, r->message_id, sizeof r->message_id);
	ct(st, 5, r->type, sizeof r->type);
	r->body = (char *)sqlite3_column_text(st, 6); /* borrowed for the callback */
	ct(st, 7, r->status, sizeof r->status);
	r->attempts = (int)ci(st, 8);
	r->next_attempt_ms = ci(st, 9);
	ct(st, 10, r->lease_owner, sizeof r->lease_owner);
	r->lease_until_ms = ci(st, 11);
	r->last_status = (int)ci(st, 12);
	r->created_at = ci(st, 13);
	r->updated_at = ci(st, 14);
}

static enum store_status sq_hook_delivery_insert(struct store_tx *t, const struct store_hook_delivery *r)
{
	static const char sql[] = "INSERT INTO webhook_deliveries(" SQ_DELIVERY_COLS ")"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->endpoint_id);
	bt(st, 4, r->event_id);
	bt(st, 5, r->message_id);
	bt(st, 6, r->type);
	bte(st, 7, r->body);
	bt(st, 8, r->status);
	bi(st, 9, r->attempts);
	bi(st, 10, r->next_attempt_ms);
	bte(st, 11, r->lease_owner);
	bi(st, 12, r->lease_until_ms);
	bi(st, 13, r->last_status);
	bi(st, 14, r->created_at);
	bi(st, 15, r->updated_at);
	return sq_exec(t, st, "webhook delivery insert");
}

static enum store_status sq_hook_delivery_claim(struct store_tx *t, int64_t now_ms, const char *owner,
						int64_t lease_until_ms, int limit, int per_endpoint,
						int per_tenant, store_each_fn fn, void *arg)
{
	/* Fairness in one statement (docs/WEBHOOKS.md). eps: the endpoints
	 * with pending deliveries, one index seek each (a loose index scan).
	 * due: each one's oldest due deliveries not leased, at most
	 * per_endpoint, numbered rn; fit: those that fit beside the endpoint's
	 * leased ones; ranked: numbered per tenant in rn order (trn: each
	 * endpoint's first, then each one's second...); then what fits beside
	 * the tenant's leased ones, trn 1 of every tenant first, then trn 2.
	 * A backlog on one endpoint or tenant never pushes the others out, and
	 * the cost does not grow with it (migration 6's indexes, named so the
	 * planner cannot pick a scan of every pending row). */
	static const char sql[] =
		"WITH RECURSIVE eps(e) AS ("
		"  SELECT (SELECT MIN(endpoint_id) FROM webhook_deliveries"
		"   INDEXED BY webhook_deliveries_due_by_endpoint WHERE status = 'pending')"
		"  UNION ALL SELECT (SELECT MIN(endpoint_id) FROM webhook_deliveries"
		"   INDEXED BY webhook_deliveries_due_by_endpoint"
		"   WHERE status = 'pending' AND endpoint_id > eps.e) FROM eps WHERE eps.e IS NOT NULL),"
		" leased AS (SELECT tenant_id, endpoint_id, COUNT(*) AS n FROM webhook_deliveries"
		"  INDEXED BY webhook_deliveries_leased"
		"  WHERE status = 'pending' AND lease_until_ms > 0 AND lease_until_ms > ?1"
		"  GROUP BY tenant_id, endpoint_id),"
		" tleased AS (SELECT tenant_id, SUM(n) AS n FROM leased GROUP BY tenant_id),"
		" due AS (SELECT d.id, d.tenant_id, d.endpoint_id, d.next_attempt_ms, ROW_NUMBER() OVER"
		"  (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_ms, d.id) AS rn"
		"  FROM eps JOIN webhook_deliveries d ON d.id IN (SELECT x.id FROM webhook_deliveries x"
		"   WHERE x.endpoint_id = eps.e AND x.status = 'pending' AND x.next_attempt_ms <= ?1"
		"   AND x.lease_until_ms <= ?1 ORDER BY x.next_attempt_ms LIMIT ?5)),"
		" fit AS (SELECT due.id, due.tenant_id, due.next_attempt_ms, due.rn FROM due"
		"  LEFT JOIN leased ON leased.endpoint_id = due.endpoint_id"
		"  WHERE due.rn + COALESCE(leased.n, 0) <= ?5),"
		" ranked AS (SELECT id, tenant_id, next_attempt_ms, ROW_NUMBER() OVER"
		"  (PARTITION BY tenant_id ORDER BY rn, next_attempt_ms, id) AS trn FROM fit)"
		" UPDATE webhook_deliveries SET lease_owner = ?2, lease_until_ms = ?3 WHERE id IN ("
		"  SELECT ranked.id FROM ranked LEFT JOIN tleased ON tleased.tenant_id = ranked.tenant_id"
		"  WHERE ranked.trn + COALESCE(tleased.n, 0) <= ?6"
		"  ORDER BY ranked.trn, ranked.next_attempt_ms, ranked.id LIMIT ?4)"
		" RETURNING " SQ_DELIVERY_COLS;
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bi(st, 1, now_ms);
	bt(st, 2, owner);
	bi(st, 3, lease_until_ms);
	bi(st, 4, limit);
	bi(st, 5, per_endpoint);
	bi(st, 6, per_tenant);
	struct store_hook_delivery row;
	return sq_each(t, st, "webhook delivery claim", sq_delivery_row, &row, fn, arg);
}

static enum store_status sq_hook_delivery_finish(struct store_tx *t, const struct store_hook_delivery *r,
						 const char *owner)
{
	static const char sql[] =
		"UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_ms = ?4,"
		" last_status = ?5, updated_at = ?6, lease_owner = '', lease_until_ms = 0"
		" WHERE id = ?1 AND status = 'pending' AND lease_owner = ?7 AND lease_until_ms = ?8";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->status);
	bi(st, 3, r->attempts);
	bi(st, 4, r->next_attempt_ms);
	bi(st, 5, r->last_status);
	bi(st, 6, r->updated_at);
	bt(st, 7, owner);
	bi(st, 8, r->lease_until_ms);
	enum store_status s = sq_exec(t, st, "webhook delivery finish");
	if (s == STORE_OK && sqlite3_changes(sq_db(t)) != 1)
		return STORE_NOT_FOUND;
	return s;
}

static enum store_status sq_hook_delivery_cancel(struct store_tx *t, const char *endpoint_id)
{
	static const char sql[] = "UPDATE webhook_deliveries SET status = 'cancelled'"
				  " WHERE endpoint_id = ?1 AND status = 'pending'";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, endpoint_id);
	return sq_exec(t, st, "webhook delivery cancel");
}

static enum store_status sq_hook_delivery_next_due(struct store_tx *t, int64_t *next_ms)
{
	/* MIN over the due index: one seek however many are pending. */
	static const char sql[] = "SELECT MIN(next_attempt_ms)"
				  " FROM webhook_deliveries WHERE status = 'pending'";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	enum store_status s = sq_one(t, st, "webhook next due");
	if (s != STORE_OK)
		return s;
	bool none = sqlite3_column_type(st, 0) == SQLITE_NULL;
	*next_ms = ci(st, 0);
	sqlite3_reset(st);
	return none ? STORE_NOT_FOUND : STORE_OK;
}

static enum store_status sq_hook_delivery_release_leases(struct store_tx *t,
							const char *owner_prefix)
{
	static const char sql[] = "UPDATE webhook_deliveries SET lease_owner = '',"
				  " lease_until_ms = 0 WHERE status = 'pending' AND lease_until_ms > 0"
				  " AND substr(lease_owner, 1, length(?1)) = ?1";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, owner_prefix);
	return sq_exec(t, st, "webhook release leases");
}

static enum store_status sq_hook_delivery_of_event(struct store_tx *t, const char *endpoint_id,
						   const char *event_id, store_each_fn fn, void *arg)
{
	/* Buffer the rows (at most a few per event) so the callback may
	 * insert into the same table while we are not stepping. */
	static const char sql[] = "SELECT " SQ_DELIVERY_COLS " FROM webhook_deliveries"
				  " WHERE endpoint_id = ?1 AND event_id = ?2 ORDER BY id DESC LIMIT 16";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, endpoint_id);
	bt(st, 2, event_id);
	struct store_hook_delivery rows[16];
	int n = 0, rc;
	bool lost = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 16) {
		sq_delivery_row(st, &rows[n]);
		rows[n].body = cdup(st, 6, NULL);
		if ((lost = !rows[n].body))
			break;
		n++;
	}
	/* A row whose copy was lost must not read as a shorter list. */
	enum store_status s = lost ? STORE_FAIL
			      : rc == SQLITE_ROW || rc == SQLITE_DONE
				      ? STORE_OK
				      : sq_status(sq_db(t), rc, "deliveries of event");
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		if (s == STORE_OK)
			fn(arg, &rows[i]);
		free(rows[i].body);
	}
	return s;
}

static enum store_status sq_hook_attempt_insert(struct store_tx *t, const struct store_hook_attempt *r)
{
	static const char sql[] =
		"INSERT INTO webhook_attempts(id, tenant_id, endpoint_id, delivery_id, event_id,"
		" attempt, status_code, error, duration_ms, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, r->id);
	bt(st, 2, r->tenant_id);
	bt(st, 3, r->endpoint_id);
	bt(st, 4, r->delivery_id);
	bt(st, 5, r->event_id);
	bi(st, 6, r->attempt);
	bi(st, 7, r->status_code);
	bte(st, 8, r->error);
	bi(st, 9, r->duration_ms);
	bi(st, 10, r->created_at);
	return sq_exec(t, st, "webhook attempt insert");
}

static void sq_attempt_row(sqlite3_stmt *st, void *row)
{
	struct store_hook_attempt *r = row;
	ct(st, 0, r->id, sizeof r->id);
	ct(st, 1, r->tenant_id, sizeof r->tenant_id);
	ct(st, 2, r->endpoint_id, sizeof r->endpoint_id);
	ct(st, 3, r->delivery_id, sizeof r->delivery_id);
	ct(st, 4, r->event_id, sizeof r->event_id);
	r->attempt = (int)ci(st, 5);
	r->status_code = (int)ci(st, 6);
	ct(st, 7, r->error, sizeof r->error);
	r->duration_ms = ci(st, 8);
	r->created_at = ci(st, 9);
}

static enum store_status sq_hook_attempt_list(struct store_tx *t, const char *tenant_id,
					      const char *endpoint_id, const char *before_id,
					      int limit, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT id, tenant_id, endpoint_id, delivery_id, event_id, attempt, status_code,"
		" error, duration_ms, created_at FROM webhook_attempts WHERE tenant_id = ?1"
		" AND endpoint_id = ?2 AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4";
	sqlite3_stmt *st = sq_stmt(t, sql);
	if (!st)
		return STORE_FAIL;
	bt(st, 1, tenant_id);
	bt(st, 2, endpoint_id);
	bt(st, 3, before_id);
	bi(st, 4, limit);
	struct store_hook_attempt row;
	return sq_each(t, st, "webhook attempt list", sq_attempt_row, &row, fn, arg);
}

/* ---- query plans ----------------------------------------------------------- */

static const char *const sq_list_filter_names[SQ_LIST_FILTERS] = {
	"", " status", " account", " status+account", " client", " status+client",
	" account+client", " status+account+client",
};
static const char *const sq_list_dir_names[SQ_LIST_DIRS] = {"newest", "before", "after"};

static enum store_status sq_plan_of(struct store_tx *t, const char *name, const char *sql,
				    store_each_fn fn, void *arg)
{
	char *text = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
	if (!text)
		return STORE_FAIL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(sq_db(t), text, -1, &st, NULL);
	sqlite3_free(text);
	if (rc != SQLITE_OK)
		return sq_status(sq_db(t), rc, "explain");
	/* Columns: id, parent, notused, detail. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_plan_step step = {name, (const char *)sqlite3_column_text(st, 3)};
		fn(arg, &step);
	}
	enum store_status s = sq_status(sq_db(t), rc, "explain");
	sqlite3_finalize(st);
	return s;
}

static enum store_status sq_query_plans(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const struct {
		const char *name, *sql;
	} fixed[] = {
		{"session_get", sq_sql_session_get},
		{"session_claim", sq_sql_session_claim},
		{"session_next_due", sq_sql_session_next_due},
		{"session_release_leases", sq_sql_session_release},
		{"event_list", sq_sql_event_list},
		{"event_list resource", sq_sql_event_list_resource},
		{"payout_list session", sq_sql_payout_list_session},
		{"session_sum", sq_sql_session_sum},
	};
	enum store_status s = STORE_OK;
	for (size_t i = 0; s == STORE_OK && i < sizeof fixed / sizeof *fixed; i++)
		s = sq_plan_of(t, fixed[i].name, fixed[i].sql, fn, arg);
	for (int f = 0; s == STORE_OK && f < SQ_LIST_FILTERS; f++)
		for (int d = 0; s == STORE_OK && d < SQ_LIST_DIRS; d++) {
			char name[64];
			snprintf(name, sizeof name, "session_list%s %s", sq_list_filter_names[f],
				 sq_list_dir_names[d]);
			s = sq_plan_of(t, name, sq_list_text(f, (enum sq_list_dir)d), fn, arg);
		}
	return s;
}

/* ---- copying a database out (store_copy) --------------------------------- */

static enum store_status sq_copy_tables(struct store_tx *t, store_name_fn fn, void *arg)
{
	sqlite3 *db = ((struct sq_tx *)t)->conn->db;
	sqlite3_stmt *st = NULL;
	/* Creation order: every table after those it references, except a
	 * table rebuilt by a later migration (idempotency, v7), which nothing
	 * references. */
	int rc = sqlite3_prepare_v2(db,
				    "SELECT name FROM sqlite_master WHERE type = 'table'"
				    " AND substr(name, 1, 7) <> 'sqlite_'"
				    " AND name <> 'schema_version' ORDER BY rowid",
				    -1, &st, NULL);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			fn(arg, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return sq_status(db, rc, "copy tables");
}

static enum store_status sq_copy_count(struct store_tx *t, const char *table, int64_t *rows)
{
	sqlite3 *db = ((struct sq_tx *)t)->conn->db;
	char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", table);
	sqlite3_stmt *st = NULL;
	int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
	sqlite3_free(sql);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return sq_status(db, rc, "copy count");
}

static enum store_status sq_copy_rows(struct store_tx *t, const char *table, store_copy_fn fn,
				      void *arg)
{
	sqlite3 *db = ((struct sq_tx *)t)->conn->db;
	/* Insertion order (rowid) where the table has one: a transfer that
	 * posts or voids a hold comes after the hold it names. */
	char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", table);
	sqlite3_stmt *st = NULL;
	int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
	sqlite3_free(sql);
	if (rc != SQLITE_OK && rc != SQLITE_NOMEM) { /* WITHOUT ROWID: key order */
		sql = sqlite3_mprintf("SELECT * FROM \"%w\"", table);
		rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
		sqlite3_free(sql);
	}
	int n = rc == SQLITE_OK ? sqlite3_column_count(st) : 0;
	if (rc == SQLITE_OK && (n < 1 || n > LIMIT_COPY_COLUMNS)) {
		log_error("sqlite: copy %s: %d columns (at most %d)", table, n, LIMIT_COPY_COLUMNS);
		sqlite3_finalize(st);
		return STORE_FAIL;
	}
	const char *cols[LIMIT_COPY_COLUMNS];
	struct store_copy_value vals[LIMIT_COPY_COLUMNS];
	for (int i = 0; i < n; i++)
		cols[i] = sqlite3_column_name(st, i);
	struct store_copy_row row = {.table = table, .n = n, .columns = cols, .values = vals};
	enum store_status out = STORE_OK;
	while (rc == SQLITE_OK && out == STORE_OK) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		rc = SQLITE_OK;
		for (int i = 0; i < n; i++) {
			int type = sqlite3_column_type(st, i);
			/* text before bytes: sqlite3_column_bytes after the
			 * conversion it asks for (SQLite's documented order). */
			vals[i].p = type == SQLITE_BLOB ? sqlite3_column_blob(st, i)
				    : type == SQLITE_NULL ? NULL
							  : (const char *)sqlite3_column_text(st, i);
			vals[i].len = (size_t)sqlite3_column_bytes(st, i);
			vals[i].kind = type == SQLITE_NULL      ? STORE_COPY_NULL
				       : type == SQLITE_INTEGER ? STORE_COPY_INT
				       : type == SQLITE_BLOB    ? STORE_COPY_BLOB
								: STORE_COPY_TEXT;
			/* No floats are stored (money and times are integers). */
			if (type == SQLITE_FLOAT) {
				log_error("sqlite: copy %s.%s: a float value", table, cols[i]);
				out = STORE_FAIL;
			}
		}
		if (out == STORE_OK)
			out = fn(arg, &row);
	}
	sqlite3_finalize(st);
	if (out != STORE_OK)
		return out;
	return sq_status(db, rc == SQLITE_DONE ? SQLITE_OK : rc, "copy rows");
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.run = sq_run,
	.run_all = sq_run_all,
	.tenant_insert = sq_tenant_insert,
	.tenant_get = sq_tenant_get,
	.principal_insert = sq_principal_insert,
	.api_key_insert = sq_api_key_insert,
	.api_key_find = sq_api_key_find,
	.client_insert = sq_client_insert,
	.client_get = sq_client_get,
	.client_lock = sq_client_lock,
	.account_insert = sq_account_insert,
	.account_get = sq_account_get,
	.account_get_system = sq_account_get_system,
	.account_each = sq_account_each,
	.balance_get = sq_balance_get,
	.balance_lock = sq_balance_get, /* the writer holds the whole database */
	.balance_put = sq_balance_put,
	.balance_each = sq_balance_each,
	.transfer_insert = sq_transfer_insert,
	.transfer_each = sq_transfer_each,
	.transfer_each_session = sq_transfer_each_session,
	.destination_insert = sq_destination_insert,
	.destination_get = sq_destination_get,
	.session_insert = sq_session_insert,
	.session_get = sq_session_get,
	.session_list = sq_session_list,
	.session_each = sq_session_each,
	.session_update = sq_session_update,
	.session_claim = sq_session_claim,
	.session_next_due = sq_session_next_due,
	.session_release_leases = sq_session_release_leases,
	.approval_insert = sq_approval_insert,
	.approval_get = sq_approval_get,
	.approval_update = sq_approval_update,
	.approval_list = sq_approval_list,
	.policy_get = sq_policy_get,
	.policy_put = sq_policy_put,
	.fx_get = sq_fx_get,
	.fx_put = sq_fx_put,
	.setting_get = sq_setting_get,
	.setting_get_many = sq_setting_get_many,
	.setting_put = sq_setting_put,
	.event_insert = sq_event_insert,
	.event_list = sq_event_list,
	.payout_get = sq_payout_get,
	.payout_insert = sq_payout_insert,
	.payout_touch = sq_payout_touch,
	.payout_list = sq_payout_list,
	.chain_nonce_take = sq_chain_nonce_take,
	.chain_tx_get = sq_chain_tx_get,
	.chain_tx_insert = sq_chain_tx_insert,
	.chain_tx_update = sq_chain_tx_update,
	.chain_pending_units = sq_chain_pending_units,
	.ext_get = sq_ext_get,
	.ext_put = sq_ext_put,
	.destination_list = sq_destination_list,
	.exchange_rate_insert = sq_exchange_rate_insert,
	.exchange_rate_get = sq_exchange_rate_get,
	.exchange_rate_use = sq_exchange_rate_use,
	.partner_fee_insert = sq_partner_fee_insert,
	.partner_fee_get = sq_partner_fee_get,
	.session_sum = sq_session_sum,
	.session_count_by_status = sq_session_count_by_status,
	.held_by_currency = sq_held_by_currency,
	.hook_endpoint_insert = sq_hook_endpoint_insert,
	.hook_endpoint_get = sq_hook_endpoint_get,
	.hook_endpoint_update = sq_hook_endpoint_update,
	.hook_endpoint_delete = sq_hook_endpoint_delete,
	.hook_endpoint_list = sq_hook_endpoint_list,
	.hook_endpoint_page = sq_hook_endpoint_page,
	.hook_delivery_insert = sq_hook_delivery_insert,
	.hook_delivery_claim = sq_hook_delivery_claim,
	.hook_delivery_finish = sq_hook_delivery_finish,
	.hook_delivery_cancel = sq_hook_delivery_cancel,
	.hook_delivery_next_due = sq_hook_delivery_next_due,
	.hook_delivery_release_leases = sq_hook_delivery_release_leases,
	.hook_delivery_of_event = sq_hook_delivery_of_event,
	.hook_attempt_insert = sq_hook_attempt_insert,
	.hook_attempt_list = sq_hook_attempt_list,
	.idem_insert = sq_idem_insert,
	.idem_get = sq_idem_get,
	.query_plans = sq_query_plans,
	.copy_tables = sq_copy_tables,
	.copy_count = sq_copy_count,
	.copy_rows = sq_copy_rows,
};
