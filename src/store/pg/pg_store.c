/*
 * pg_store.c - the PostgreSQL backend of store.h, on libpq. It mirrors
 * sqlite_store.c op by op (same tables and columns, pg_schema.h).
 *
 * Writes: one committer thread per process (store/committer.h) with its
 * own connection batches the queued write transactions into one
 * transaction, one SAVEPOINT per job, exactly as the SQLite committer
 * does; a job that does not return STORE_OK (or whose statement failed)
 * rolls back to its savepoint only. Reads run on pooled connections
 * (store.pool_size), each in REPEATABLE READ so a read of many rows sees
 * one snapshot, as a SQLite read transaction does.
 *
 * Isolation: READ COMMITTED for writes, plus explicit locks where a
 * decision reads before it writes: balance_lock (a zero row made if
 * missing, then SELECT ... FOR UPDATE), client_lock (FOR UPDATE), the
 * claims (FOR UPDATE SKIP LOCKED, so two nodes never lease one row), and
 * one transaction-scoped advisory lock taken before a transaction's first
 * event insert, so event-writing transactions take seq and commit one at a
 * time: seq is commit-ordered across nodes (store.h, event_insert).
 *
 * Errors. A statement error aborts a PostgreSQL transaction, so inserts
 * that may meet a unique key say ON CONFLICT DO NOTHING and answer
 * STORE_EXISTS on no row, leaving the transaction usable, as SQLite's
 * failed statement does. Any other error marks the job failed (its
 * savepoint is rolled back). Contention inside a job (deadlock 40P01,
 * serialization failure 40001, a lock wait past lock_timeout 55P03) rolls
 * back that job's savepoint only and gives it STORE_RETRY, which store_run
 * re-runs (bounded); the rest of the batch commits. A connection lost
 * before COMMIT was sent (a killed backend, a restarted server) gives
 * every job STORE_RETRY: the server rolled the transaction back with the
 * session, nothing of it happened, and the rerun goes to a fresh
 * connection; so does a read whose connection was lost, since a read has
 * no effect. A database that cannot be reached (connection refused, or
 * no answer within LIMIT_PG_CONNECT_TIMEOUT_MS) is STORE_UNAVAILABLE, the
 * api's 503 database_unavailable. Only a connection lost during COMMIT
 * leaves the outcome unknown: no job is told success (STORE_UNAVAILABLE
 * too; a client's retry under the same Idempotency-Key is resolved by the
 * idempotency record). The connection is re-established with a bounded
 * backoff at the next use, so the service recovers by itself when the
 * server is back.
 *
 * Lock waits in a batch. Each job takes its row locks in one order
 * (balance_lock: by account id), but a batch holds every earlier job's
 * locks while a later one runs, and two nodes' batches hold them in no
 * common order: node A's second job can wait for a row node B's batch
 * holds while B waits for one of A's. PostgreSQL finds such a cycle only
 * after deadlock_timeout (1 s by default), a stall of both batches per
 * collision (two nodes moving money of one tenant, whose "holds" account
 * every session shares, collide all the time). So the jobs after a
 * batch's first wait at most LIMIT_PG_BATCH_LOCK_WAIT_MS for a lock, then
 * run again on their own; the first job holds none of the batch's locks
 * and waits as long as it must, so every batch makes progress.
 *
 * Statements are prepared once per connection, keyed by the address of
 * their static SQL text. Parameters go as text (bytea as binary), results
 * come as text.
 */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "base/clock.h"
#include "base/log.h"
#include "domain/session.h"
#include "store/committer.h"
#include "store/pg/pg_schema.h"

#define PG_STMT_CACHE 160
#define PG_PARAMS_MAX 48

struct pg_conn {
	PGconn *db;
	struct pg_conn *next;
	bool broken; /* lost: reconnect before the next use */
	const char *cache[PG_STMT_CACHE]; /* slot i is prepared as "s<i>" */
};

struct pg_store {
	struct store base;
	char *url;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pg_conn *idle;
	int open;
	struct pg_conn *wconn; /* the committer's own */
	struct committer w;
};

struct pg_tx {
	struct store_tx base;
	struct pg_conn *conn;
	bool event_locked; /* the event advisory lock is held */
	bool failed;       /* a statement failed: the job cannot commit */
	bool retry;        /* deadlock / serialization failure: the batch reruns */
};

/* A statement's parameters, 1-based as in its SQL text. */
struct pg_q {
	int n;
	const char *v[PG_PARAMS_MAX];
	int len[PG_PARAMS_MAX];
	int fmt[PG_PARAMS_MAX];
	char num[PG_PARAMS_MAX][24];
};

static const struct store_ops pg_ops;
static pthread_once_t pg_rules_once = PTHREAD_ONCE_INIT;
static void pg_rules_build(void);

static void qslot(struct pg_q *q, int i)
{
	assert(i >= 1 && i <= PG_PARAMS_MAX);
	if (i > q->n)
		q->n = i;
}
/* Text, NULL when empty (as the SQLite backend binds it). */
static void qt(struct pg_q *q, int i, const char *v)
{
	qslot(q, i);
	q->v[i - 1] = v && *v ? v : NULL;
	q->fmt[i - 1] = 0;
}
/* Text that may be empty ('' rather than NULL). */
static void qte(struct pg_q *q, int i, const char *v)
{
	qslot(q, i);
	q->v[i - 1] = v ? v : "";
	q->fmt[i - 1] = 0;
}
static void qi(struct pg_q *q, int i, int64_t v)
{
	qslot(q, i);
	snprintf(q->num[i - 1], sizeof q->num[i - 1], "%" PRId64, v);
	q->v[i - 1] = q->num[i - 1];
	q->fmt[i - 1] = 0;
}
/* Bytes, sent in binary (bytea), exact. */
static void qb(struct pg_q *q, int i, const void *p, size_t n)
{
	qslot(q, i);
	q->v[i - 1] = p ? (p && n ? p : "") : NULL;
	q->len[i - 1] = (int)n;
	q->fmt[i - 1] = 1;
}

/* ---- connections ------------------------------------------------------ */

/* Wait until db's socket is ready (to read, or to write), at most until
 * deadline_ms (clock_mono_ms). false on timeout or error. */
static bool pg_wait_socket(PGconn *db, bool for_read, uint64_t deadline_ms)
{
	for (;;) {
		int fd = PQsocket(db);
		uint64_t now = clock_mono_ms();
		if (fd < 0 || now >= deadline_ms)
			return false;
		struct pollfd p = {.fd = fd, .events = for_read ? POLLIN : POLLOUT};
		int rc = poll(&p, 1, (int)(deadline_ms - now));
		if (rc > 0)
			return true;
		if (rc == 0 || errno != EINTR)
			return false;
	}
}

/* A connection within timeout_ms (libpq's own connect_timeout counts whole
 * seconds and only per attempt): a host that drops packets costs a request
 * that long, never a hung thread. */
static PGconn *pg_connect(const char *url, int timeout_ms)
{
	const char *const keys[] = {"dbname", NULL};
	const char *const vals[] = {url, NULL};
	PGconn *db = PQconnectStartParams(keys, vals, 1);
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	while (db && PQstatus(db) != CONNECTION_BAD && ps != PGRES_POLLING_OK &&
	       ps != PGRES_POLLING_FAILED) {
		if (!pg_wait_socket(db, ps == PGRES_POLLING_READING, deadline)) {
			log_error("pg: connect: no answer within %d ms", timeout_ms);
			PQfinish(db);
			return NULL;
		}
		ps = PQconnectPoll(db);
	}
	if (!db || PQstatus(db) != CONNECTION_OK) {
		log_error("pg: connect: %s", db ? PQerrorMessage(db) : "out of memory");
		PQfinish(db);
		return NULL;
	}
	/* Notices (e.g. "relation already exists, skipping") are not ours to print. */
	PGresult *r = PQexec(db, "SET client_min_messages = warning");
	PQclear(r);
	return db;
}

static void pg_conn_drop(struct pg_conn *c)
{
	PQfinish(c->db);
	c->db = NULL;
	memset(c->cache, 0, sizeof c->cache); /* a new session has none prepared */
}

/* The connection, usable: re-established when lost, up to tries times
 * with a doubling pause from LIMIT_PG_RECONNECT_BASE_MS, each attempt
 * within LIMIT_PG_CONNECT_TIMEOUT_MS. */
static bool pg_conn_ensure_within(struct pg_store *s, struct pg_conn *c, int tries,
				  int timeout_ms)
{
	if (c->db && !c->broken && PQstatus(c->db) == CONNECTION_OK)
		return true;
	pg_conn_drop(c);
	c->broken = false;
	for (int i = 0; i < tries; i++) {
		if (i > 0) {
			long ms = (long)LIMIT_PG_RECONNECT_BASE_MS << (i - 1);
			struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		if ((c->db = pg_connect(s->url, timeout_ms))) {
			log_info("pg: connection (re)established");
			return true;
		}
	}
	return false;
}

static bool pg_conn_ensure(struct pg_store *s, struct pg_conn *c, int tries)
{
	return pg_conn_ensure_within(s, c, tries, LIMIT_PG_CONNECT_TIMEOUT_MS);
}

/* A pooled connection, usable, or NULL. With timeout_ms > 0 (a probe) it
 * waits for a free slot and connects only within that bound, trying once;
 * else it waits for a slot as long as it takes and connects as any use does. */
static struct pg_conn *pg_take_within(struct pg_store *s, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	pthread_mutex_lock(&s->mu);
	int cap = s->base.pool_size;
	if (cap < 1 || cap > LIMIT_DATABASE_POOL_MAX)
		cap = LIMIT_DATABASE_POOL_DEFAULT;
	while (!s->idle && s->open >= cap) {
		if (timeout_ms <= 0)
			pthread_cond_wait(&s->cv, &s->mu);
		else if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
	}
	struct pg_conn *c = s->idle;
	if (c)
		s->idle = c->next;
	else
		s->open++;
	pthread_mutex_unlock(&s->mu);
	if (!c)
		c = calloc(1, sizeof *c);
	uint64_t now = clock_mono_ms();
	bool ok = c && (timeout_ms <= 0 ? pg_conn_ensure(s, c, LIMIT_PG_RECONNECT_TRIES)
			: now < deadline && pg_conn_ensure_within(s, c, 1, (int)(deadline - now)));
	if (ok)
		return c;
	/* Not usable now: give the slot back; the next take tries again. */
	if (c) {
		pg_conn_drop(c);
		free(c);
	}
	pthread_mutex_lock(&s->mu);
	s->open--;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static struct pg_conn *pg_take(struct pg_store *s) { return pg_take_within(s, 0); }

static void pg_give(struct pg_store *s, struct pg_conn *c)
{
	pthread_mutex_lock(&s->mu);
	c->next = s->idle;
	s->idle = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- statements -------------------------------------------------------- */

/* A SQLSTATE that says the server is gone or going: connection
 * exceptions (class 08) and the operator intervention codes that end
 * sessions (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
 * cannot_connect_now). The session is unusable after them. */
static bool pg_code_unavailable(const char *code)
{
	return code && (!strncmp(code, "08", 2) || !strcmp(code, "57P01") ||
			!strcmp(code, "57P02") || !strcmp(code, "57P03"));
}

/* An error result (or none) as a store status; marks the tx. */
static enum store_status pg_err(struct pg_tx *tx, PGresult *r, const char *what)
{
	const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	tx->failed = true;
	if (PQstatus(tx->conn->db) != CONNECTION_OK || pg_code_unavailable(code)) {
		tx->conn->broken = true;
		log_error("pg: %s: connection lost: %s", what,
			  r && code ? PQresultErrorMessage(r) : PQerrorMessage(tx->conn->db));
		return STORE_UNAVAILABLE;
	}
	if (code && !strcmp(code, "23505"))
		return STORE_EXISTS;
	if (code && (!strcmp(code, "40001") || !strcmp(code, "40P01") || !strcmp(code, "55P03"))) {
		tx->retry = true;
		return STORE_RETRY;
	}
	log_error("pg: %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(tx->conn->db));
	return STORE_FAIL;
}

/* Run sql (static text) with q; the result on success (caller clears). */
static PGresult *pg_q_run(struct store_tx *t, const char *sql, const struct pg_q *q,
			  enum store_status *st, const char *what)
{
	struct pg_tx *tx = (struct pg_tx *)t;
	struct pg_conn *c = tx->conn;
	if (c->broken || tx->retry) {
		*st = c->broken ? STORE_UNAVAILABLE : STORE_RETRY;
		return NULL;
	}
	int slot = -1;
	for (int i = 0; i < PG_STMT_CACHE; i++) {
		if (c->cache[i] == sql || !c->cache[i]) {
			slot = i;
			break;
		}
	}
	/* A full cache is our bug (more distinct statements than slots). */
	assert(slot >= 0);
	char name[16];
	snprintf(name, sizeof name, "s%d", slot);
	if (c->cache[slot] != sql) {
		PGresult *p = PQprepare(c->db, name, sql, 0, NULL);
		if (PQresultStatus(p) != PGRES_COMMAND_OK) {
			*st = pg_err(tx, p, what);
			PQclear(p);
			return NULL;
		}
		PQclear(p);
		c->cache[slot] = sql;
	}
	PGresult *r = PQexecPrepared(c->db, name, q ? q->n : 0, q ? q->v : NULL,
				     q ? q->len : NULL, q ? q->fmt : NULL, 0);
	ExecStatusType es = PQresultStatus(r);
	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
		*st = STORE_OK;
		return r;
	}
	*st = pg_err(tx, r, what);
	PQclear(r);
	return NULL;
}

/* Rows changed by a command result. */
static long pg_changes(PGresult *r) { return strtol(PQcmdTuples(r), NULL, 10); }

/* A statement without rows; *changes (if not NULL) gets its row count. */
static enum store_status pg_exec(struct store_tx *t, const char *sql, const struct pg_q *q,
				 const char *what, long *changes)
{
	enum store_status st;
	PGresult *r = pg_q_run(t, sql, q, &st, what);
	if (r && changes)
		*changes = pg_changes(r);
	PQclear(r);
	return st;
}

/* Exactly one row changed, else `otherwise`. */
static enum store_status pg_exec1(struct store_tx *t, const char *sql, const struct pg_q *q,
				  const char *what, enum store_status otherwise)
{
	long n = 0;
	enum store_status st = pg_exec(t, sql, q, what, &n);
	return st == STORE_OK && n != 1 ? otherwise : st;
}

/* An insert written ON CONFLICT DO NOTHING: no row is a taken key. */
static enum store_status pg_insert(struct store_tx *t, const char *sql, const struct pg_q *q,
				   const char *what)
{
	return pg_exec1(t, sql, q, what, STORE_EXISTS);
}

/* A one-row lookup: STORE_OK with *res (caller clears), or NOT_FOUND. */
static enum store_status pg_one(struct store_tx *t, const char *sql, const struct pg_q *q,
				const char *what, PGresult **res)
{
	enum store_status st;
	PGresult *r = pg_q_run(t, sql, q, &st, what);
	*res = NULL;
	if (!r)
		return st;
	if (PQntuples(r) < 1) {
		PQclear(r);
		return STORE_NOT_FOUND;
	}
	*res = r;
	return STORE_OK;
}

typedef void (*pg_row_fn)(PGresult *r, int row, void *out);

/* Every row to fn. The whole result is on the client already, so fn may
 * run statements in the same transaction. */
static enum store_status pg_each(struct store_tx *t, const char *sql, const struct pg_q *q,
				 const char *what, pg_row_fn row_fn, void *row, store_each_fn fn,
				 void *arg)
{
	enum store_status st;
	PGresult *r = pg_q_run(t, sql, q, &st, what);
	if (!r)
		return st;
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		row_fn(r, i, row);
		fn(arg, row);
	}
	PQclear(r);
	return STORE_OK;
}

/* ---- columns ------------------------------------------------------------ */

static void ct(PGresult *r, int row, int col, char *out, size_t size)
{
	const char *v = PQgetvalue(r, row, col);
	size_t n = (size_t)PQgetlength(r, row, col);
	/* Every column was written by us through the same size limits. */
	assert(n < size);
	if (n >= size)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}
static int64_t ci(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}
static bool cnull(PGresult *r, int row, int col) { return PQgetisnull(r, row, col); }
/* An owned copy of a text column, NULL for SQL NULL. */
static char *cdup(PGresult *r, int row, int col)
{
	return cnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}
/* An owned copy of a bytea column (text result, hex), NULL for SQL NULL. */
static char *cbytes(PGresult *r, int row, int col, size_t *len, bool *oom)
{
	*len = 0;
	*oom = false;
	if (cnull(r, row, col))
		return NULL;
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	char *p = raw ? malloc(n + 1) : NULL;
	if (p) {
		memcpy(p, raw, n);
		p[n] = '\0';
		*len = n;
	} else {
		*oom = true;
	}
	PQfreemem(raw);
	return p;
}

/* ---- transactions ------------------------------------------------------ */

/* A command on the connection itself (BEGIN, SAVEPOINT...). */
static bool pg_cmd(struct pg_tx *tx, const char *sql, enum store_status *st)
{
	PGresult *r = PQexec(tx->conn->db, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		*st = STORE_OK;
		return true;
	}
	*st = pg_err(tx, r, sql);
	PQclear(r);
	return false;
}

static void pg_rollback(struct pg_tx *tx)
{
	if (tx->conn->broken || PQstatus(tx->conn->db) != CONNECTION_OK)
		return;
	PGresult *r = PQexec(tx->conn->db, "ROLLBACK");
	PQclear(r);
}

/* What every job of a batch that ended before its COMMIT hears. None of
 * it happened, whether contention or a lost connection ended it (the
 * server rolls back with the session), so both rerun (store_run's bounded
 * loop): a killed backend or a restarted server costs nothing, and while
 * the server stays unreachable the rerun's reconnect fails and answers
 * STORE_UNAVAILABLE. Anything else fails. */
static enum store_status pg_batch_status(const struct pg_tx *tx, enum store_status st)
{
	if (tx->conn->broken || tx->retry || st == STORE_RETRY)
		return STORE_RETRY;
	return st == STORE_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_FAIL;
}

static void pg_batch_fail(struct committer_job **jobs, int from, int n, enum store_status st)
{
	for (int i = from; i < n; i++)
		jobs[i]->st = st;
}

/* The committer's batch: one transaction, one savepoint per job. */
static void pg_batch_run(void *ctx, struct committer_job **jobs, int n)
{
	struct pg_store *s = ctx;
	struct pg_tx tx = {.base = {.store = &s->base}, .conn = s->wconn};
	enum store_status st;
	if (!pg_conn_ensure(s, tx.conn, LIMIT_PG_RECONNECT_TRIES)) {
		pg_batch_fail(jobs, 0, n, STORE_UNAVAILABLE);
		return;
	}
	/* A connection that died while idle (a restarted server, a killed
	 * backend) shows only at its next use: nothing ran yet, so one fresh
	 * connection may begin the batch instead. */
	bool begun = pg_cmd(&tx, "BEGIN ISOLATION LEVEL READ COMMITTED", &st);
	if (!begun && tx.conn->broken && pg_conn_ensure(s, tx.conn, LIMIT_PG_RECONNECT_TRIES)) {
		tx.failed = false;
		begun = pg_cmd(&tx, "BEGIN ISOLATION LEVEL READ COMMITTED", &st);
	}
	if (!begun) {
		/* Lost again at once: still nothing ran, so a rerun may find
		 * the server back (or answer it unavailable). */
		pg_batch_fail(jobs, 0, n, pg_batch_status(&tx, st));
		pg_rollback(&tx);
		return;
	}
	char lock_wait[64];
	snprintf(lock_wait, sizeof lock_wait, "SET LOCAL lock_timeout = %d",
		 LIMIT_PG_BATCH_LOCK_WAIT_MS);
	for (int i = 0; i < n; i++) {
		/* From the second job on, lock waits are bounded (see "Lock
		 * waits in a batch" above). */
		if (i == 1 && !pg_cmd(&tx, lock_wait, &st))
			goto broken;
		if (!pg_cmd(&tx, "SAVEPOINT job", &st))
			goto broken;
		bool had_lock = tx.event_locked;
		tx.failed = false;
		jobs[i]->st = jobs[i]->fn(&tx.base, jobs[i]->arg);
		if (tx.conn->broken)
			goto broken;
		if (tx.retry)
			jobs[i]->st = STORE_RETRY; /* contention: this job alone runs again */
		else if (jobs[i]->st == STORE_OK && tx.failed)
			jobs[i]->st = STORE_FAIL; /* an error it did not pass on */
		if (jobs[i]->st != STORE_OK) {
			/* Locks taken under the savepoint go with it. */
			tx.event_locked = had_lock;
			tx.failed = false;
			tx.retry = false;
			if (!pg_cmd(&tx, "ROLLBACK TO SAVEPOINT job", &st))
				goto broken;
		}
		if (!pg_cmd(&tx, "RELEASE SAVEPOINT job", &st))
			goto broken;
	}
	PGresult *r = PQexec(tx.conn->db, "COMMIT");
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return;
	}
	st = pg_err(&tx, r, "commit");
	PQclear(r);
	if (tx.conn->broken) {
		/* COMMIT may or may not have happened: nobody hears success. */
		log_error("pg: connection lost during COMMIT of %d writes: outcome unknown", n);
		pg_batch_fail(jobs, 0, n, STORE_UNAVAILABLE);
		return;
	}
	pg_batch_fail(jobs, 0, n, pg_batch_status(&tx, st));
	pg_rollback(&tx);
	return;
broken:
	/* The transaction is gone before its COMMIT, so none of it happened,
	 * whether contention or a lost connection ended it: every job reruns
	 * (a lost connection is replaced at the next batch). */
	pg_batch_fail(jobs, 0, n, pg_batch_status(&tx, STORE_FAIL));
	pg_rollback(&tx);
}

/* One read transaction on c: a snapshot for all its statements. */
static enum store_status pg_read(struct store *base, struct pg_conn *c, store_tx_fn fn, void *arg)
{
	struct pg_tx tx = {.base = {.store = base}, .conn = c};
	enum store_status st;
	if (pg_cmd(&tx, "BEGIN ISOLATION LEVEL REPEATABLE READ", &st)) {
		st = fn(&tx.base, arg);
		if (st == STORE_OK && tx.failed)
			st = tx.retry ? STORE_RETRY : STORE_FAIL;
		/* Whatever fn made of the failure, a lost connection is that. */
		if (st != STORE_OK && c->broken)
			st = STORE_UNAVAILABLE;
		if (st == STORE_OK)
			pg_cmd(&tx, "COMMIT", &st);
		else
			pg_rollback(&tx);
	}
	return st;
}

static enum store_status pg_run(struct store *base, bool write, store_tx_fn fn, void *arg)
{
	struct pg_store *s = (struct pg_store *)base;
	if (write) {
		if (!s->w.running)
			return STORE_FAIL;
		/* A write from inside a write would wait on itself: our bug. */
		assert(!committer_on_thread());
		return committer_write(&s->w, fn, arg);
	}
	struct pg_conn *c = pg_take(s);
	if (!c)
		return STORE_UNAVAILABLE;
	enum store_status st = pg_read(base, c, fn, arg);
	/* A pooled connection that died while idle shows only now; a read
	 * has no effect, so it runs again once on a fresh connection. */
	if (c->broken && pg_conn_ensure(s, c, LIMIT_PG_RECONNECT_TRIES))
		st = pg_read(base, c, fn, arg);
	/* Lost again (killed mid-read): store_run's bounded loop reruns it. */
	if (c->broken && c->db)
		st = STORE_RETRY;
	pg_give(s, c);
	return st;
}

/* SELECT 1 on c, answered by deadline_ms. A query cut off by the
 * deadline leaves the connection mid-protocol: it is dropped. */
static bool pg_ping_conn(struct pg_conn *c, uint64_t deadline_ms)
{
	bool ok = PQsendQuery(c->db, "SELECT 1") == 1;
	while (ok) {
		while (ok && PQisBusy(c->db))
			ok = pg_wait_socket(c->db, true, deadline_ms) && PQconsumeInput(c->db) == 1;
		if (!ok)
			break;
		PGresult *r = PQgetResult(c->db);
		if (!r)
			return true;
		ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
	}
	c->broken = true;
	return false;
}

static enum store_status pg_ping(struct store *base, int timeout_ms)
{
	struct pg_store *s = (struct pg_store *)base;
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	struct pg_conn *c = pg_take_within(s, timeout_ms);
	if (!c)
		return STORE_UNAVAILABLE;
	bool ok = pg_ping_conn(c, deadline);
	/* An idle connection may have died unseen (a restarted server): one
	 * fresh one may still answer in time. */
	uint64_t now = clock_mono_ms();
	if (!ok && now < deadline && pg_conn_ensure_within(s, c, 1, (int)(deadline - now)))
		ok = pg_ping_conn(c, deadline);
	pg_give(s, c);
	return ok ? STORE_OK : STORE_UNAVAILABLE;
}

static void pg_run_all(struct store *base, store_tx_fn fn, void *const *args, int n,
		       enum store_status *out)
{
	struct pg_store *s = (struct pg_store *)base;
	if (!s->w.running) {
		for (int i = 0; i < n; i++)
			out[i] = STORE_FAIL;
		return;
	}
	committer_write_all(&s->w, fn, args, n, out);
}

static void pg_close(struct store *base)
{
	struct pg_store *s = (struct pg_store *)base;
	if (s->w.running) {
		committer_stop(&s->w);
		if (s->w.commits)
			log_info("pg: %llu writes in %llu commits", (unsigned long long)s->w.writes,
				 (unsigned long long)s->w.commits);
	}
	if (s->wconn) {
		pg_conn_drop(s->wconn);
		free(s->wconn);
	}
	while (s->idle) {
		struct pg_conn *c = s->idle;
		s->idle = c->next;
		pg_conn_drop(c);
		free(c);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->url);
	free(s);
}

/* ---- migrations -------------------------------------------------------- */

static bool pg_simple(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	ExecStatusType es = PQresultStatus(r);
	bool ok = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK;
	if (!ok)
		log_error("pg: migration: %s", PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static int pg_version(PGconn *db)
{
	PGresult *r = PQexec(db, "SELECT version FROM schema_version");
	int v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* Under a session advisory lock: the first node to start migrates, the
 * others wait and find the schema current. */
static bool pg_migrate(PGconn *db)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", (long long)PG_MIGRATION_LOCK_KEY);
	if (!pg_simple(db, sql))
		return false;
	bool ok = pg_simple(db, "CREATE TABLE IF NOT EXISTS schema_version(version BIGINT NOT NULL);"
				"INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS"
				" (SELECT 1 FROM schema_version)");
	int version = ok ? pg_version(db) : -1;
	if (version > PG_SCHEMA_VERSION) {
		log_error("pg: database schema version %d is newer than this binary's %d", version,
			  PG_SCHEMA_VERSION);
		ok = false;
	}
	for (int v = version; ok && v >= 0 && v < PG_SCHEMA_VERSION; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "UPDATE schema_version SET version = %d", v + 1);
		ok = pg_simple(db, "BEGIN") && pg_simple(db, pg_migrations[v]) &&
		     pg_simple(db, bump) && pg_simple(db, "COMMIT");
		if (!ok)
			pg_simple(db, "ROLLBACK");
		else
			log_info("pg: migrated schema to version %d", v + 1);
	}
	snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", (long long)PG_MIGRATION_LOCK_KEY);
	pg_simple(db, sql);
	return ok && version >= 0;
}

struct store *store_open_pg(const char *url, const char **err)
{
	*err = NULL;
	struct pg_store *s = calloc(1, sizeof *s);
	if (!s || !(s->url = strdup(url))) {
		free(s);
		*err = "out of memory";
		return NULL;
	}
	s->base.ops = &pg_ops;
	s->base.commit_batch_max = LIMIT_COMMIT_BATCH_DEFAULT;
	s->base.pool_size = LIMIT_DATABASE_POOL_DEFAULT;
	pthread_once(&pg_rules_once, pg_rules_build);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	struct pg_conn *c = pg_take(s);
	if (!c) {
		*err = "cannot connect to the database";
		pg_close(&s->base);
		return NULL;
	}
	if (!pg_migrate(c->db)) {
		*err = "cannot create or migrate the schema";
		pg_give(s, c);
		pg_close(&s->base);
		return NULL;
	}
	pg_give(s, c);
	s->wconn = calloc(1, sizeof *s->wconn);
	if (!s->wconn || !pg_conn_ensure(s, s->wconn, 1) ||
	    !committer_start(&s->w, &s->base.commit_batch_max, pg_batch_run, s)) {
		*err = "cannot start the committer";
		pg_close(&s->base);
		return NULL;
	}
	return &s->base;
}

/* ---- tenants, principals, keys ---------------------------------------- */

static enum store_status pg_tenant_insert(struct store_tx *t, const struct store_tenant *r)
{
	static const char sql[] = "INSERT INTO tenants(id, name, created_at) VALUES ($1, $2, $3)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qte(&q, 2, r->name);
	qi(&q, 3, r->created_at);
	return pg_insert(t, sql, &q, "tenant insert");
}

static enum store_status pg_tenant_get(struct store_tx *t, const char *id, struct store_tenant *r)
{
	static const char sql[] = "SELECT id, name, created_at FROM tenants WHERE id = $1";
	struct pg_q q = {0};
	qt(&q, 1, id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "tenant get", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->id, sizeof r->id);
	ct(res, 0, 1, r->name, sizeof r->name);
	r->created_at = ci(res, 0, 2);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_principal_insert(struct store_tx *t, const struct store_principal *r)
{
	static const char sql[] = "INSERT INTO principals(id, tenant_id, kind, created_at)"
				  " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->kind);
	qi(&q, 4, r->created_at);
	return pg_insert(t, sql, &q, "principal insert");
}

static enum store_status pg_api_key_insert(struct store_tx *t, const struct store_api_key *r)
{
	static const char sql[] =
		"INSERT INTO api_keys(id, principal_id, tenant_id, key_hash, capabilities, created_at)"
		" VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->principal_id);
	qt(&q, 3, r->tenant_id);
	qb(&q, 4, r->hash, sizeof r->hash);
	qi(&q, 5, r->capabilities);
	qi(&q, 6, r->created_at);
	return pg_insert(t, sql, &q, "api key insert");
}

static enum store_status pg_api_key_find(struct store_tx *t, const uint8_t hash[32],
					 struct store_api_key *r)
{
	static const char sql[] =
		"SELECT k.id, k.principal_id, k.tenant_id, p.kind, k.key_hash, k.capabilities,"
		" (k.revoked_at IS NOT NULL)::int, k.created_at"
		" FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.key_hash = $1";
	struct pg_q q = {0};
	qb(&q, 1, hash, 32);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "api key find", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->id, sizeof r->id);
	ct(res, 0, 1, r->principal_id, sizeof r->principal_id);
	ct(res, 0, 2, r->tenant_id, sizeof r->tenant_id);
	ct(res, 0, 3, r->principal_kind, sizeof r->principal_kind);
	memset(r->hash, 0, sizeof r->hash);
	size_t n;
	bool oom;
	char *h = cbytes(res, 0, 4, &n, &oom);
	if (h && n == sizeof r->hash)
		memcpy(r->hash, h, sizeof r->hash);
	free(h);
	r->capabilities = (uint32_t)ci(res, 0, 5);
	r->revoked = ci(res, 0, 6) != 0;
	r->created_at = ci(res, 0, 7);
	PQclear(res);
	return oom ? STORE_FAIL : STORE_OK;
}

/* ---- clients and accounts --------------------------------------------- */

static enum store_status pg_client_insert(struct store_tx *t, const struct store_client *r)
{
	static const char sql[] =
		"INSERT INTO clients(id, tenant_id, display_name, default_account_id, created_at)"
		" VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qte(&q, 3, r->display_name);
	qt(&q, 4, r->default_account_id);
	qi(&q, 5, r->created_at);
	return pg_insert(t, sql, &q, "client insert");
}

static enum store_status pg_client_get(struct store_tx *t, const char *tenant_id, const char *id,
				       struct store_client *r)
{
	static const char sql[] = "SELECT id, tenant_id, display_name, default_account_id, created_at"
				  " FROM clients WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "client get", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->id, sizeof r->id);
	ct(res, 0, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, 0, 2, r->display_name, sizeof r->display_name);
	ct(res, 0, 3, r->default_account_id, sizeof r->default_account_id);
	r->created_at = ci(res, 0, 4);
	PQclear(res);
	return STORE_OK;
}

/* The client's row locked until commit: limit checks of one client are
 * serial across every node's committer. */
static enum store_status pg_client_lock(struct store_tx *t, const char *tenant_id, const char *id)
{
	static const char sql[] = "SELECT 1 FROM clients WHERE id = $1 AND tenant_id = $2 FOR UPDATE";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "client lock", &res);
	PQclear(res);
	return s;
}

static enum store_status pg_account_insert(struct store_tx *t, const struct store_account *r)
{
	static const char sql[] =
		"INSERT INTO accounts(id, tenant_id, client_id, kind, code, flags, created_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->client_id);
	qt(&q, 4, r->kind);
	qt(&q, 5, r->code);
	qi(&q, 6, r->flags);
	qi(&q, 7, r->created_at);
	return pg_insert(t, sql, &q, "account insert");
}

#define PG_ACCOUNT_COLS "id, tenant_id, client_id, kind, code, flags, created_at"

static void pg_account_row(PGresult *res, int i, void *row)
{
	struct store_account *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 2, r->client_id, sizeof r->client_id);
	ct(res, i, 3, r->kind, sizeof r->kind);
	ct(res, i, 4, r->code, sizeof r->code);
	r->flags = (unsigned)ci(res, i, 5);
	r->created_at = ci(res, i, 6);
}

static enum store_status pg_account_get(struct store_tx *t, const char *tenant_id, const char *id,
					struct store_account *r)
{
	static const char sql[] = "SELECT " PG_ACCOUNT_COLS " FROM accounts WHERE id = $1"
				  " AND tenant_id = $2 AND kind = 'client'";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "account get", &res);
	if (s != STORE_OK)
		return s;
	pg_account_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_account_get_system(struct store_tx *t, const char *tenant_id,
					       const char *code, struct store_account *r)
{
	static const char sql[] = "SELECT " PG_ACCOUNT_COLS " FROM accounts"
				  " WHERE tenant_id = $1 AND code = $2 AND kind = 'system'";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, code);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "system account get", &res);
	if (s != STORE_OK)
		return s;
	pg_account_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_account_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " PG_ACCOUNT_COLS " FROM accounts ORDER BY id";
	struct store_account row;
	return pg_each(t, sql, NULL, "account each", pg_account_row, &row, fn, arg);
}

/* ---- ledger ------------------------------------------------------------ */

static void pg_balance_cols(PGresult *res, int i, int from, struct ledger_balance *b)
{
	b->debits_posted = ci(res, i, from);
	b->credits_posted = ci(res, i, from + 1);
	b->debits_pending = ci(res, i, from + 2);
	b->credits_pending = ci(res, i, from + 3);
}

static enum store_status pg_balance_read(struct store_tx *t, const char *sql, const char *account_id,
					 const char *currency, struct ledger_balance *b,
					 const char *what)
{
	struct pg_q q = {0};
	qt(&q, 1, account_id);
	qt(&q, 2, currency);
	memset(b, 0, sizeof *b);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, what, &res);
	if (s != STORE_OK)
		return s;
	pg_balance_cols(res, 0, 0, b);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_balance_get(struct store_tx *t, const char *account_id,
					const char *currency, struct ledger_balance *b)
{
	static const char sql[] =
		"SELECT debits_posted, credits_posted, debits_pending, credits_pending"
		" FROM balances WHERE account_id = $1 AND currency = $2";
	return pg_balance_read(t, sql, account_id, currency, b, "balance get");
}

/* A row to lock must exist: a zero one is made first (a concurrent maker
 * waits on ours, or we on theirs), then locked; answers STORE_OK. */
static enum store_status pg_balance_lock(struct store_tx *t, const char *account_id,
					 const char *currency, struct ledger_balance *b)
{
	static const char make[] =
		"INSERT INTO balances(account_id, currency, debits_posted, credits_posted,"
		" debits_pending, credits_pending) VALUES ($1, $2, 0, 0, 0, 0) ON CONFLICT DO NOTHING";
	static const char sql[] =
		"SELECT debits_posted, credits_posted, debits_pending, credits_pending"
		" FROM balances WHERE account_id = $1 AND currency = $2 FOR UPDATE";
	struct pg_q q = {0};
	qt(&q, 1, account_id);
	qt(&q, 2, currency);
	enum store_status s = pg_exec(t, make, &q, "balance lock (make)", NULL);
	if (s != STORE_OK)
		return s;
	return pg_balance_read(t, sql, account_id, currency, b, "balance lock");
}

static enum store_status pg_balance_put(struct store_tx *t, const char *account_id,
					const char *currency, const struct ledger_balance *b)
{
	static const char sql[] =
		"INSERT INTO balances(account_id, currency, debits_posted, credits_posted,"
		" debits_pending, credits_pending) VALUES ($1, $2, $3, $4, $5, $6)"
		" ON CONFLICT (account_id, currency) DO UPDATE SET"
		" debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,"
		" debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending";
	struct pg_q q = {0};
	qt(&q, 1, account_id);
	qt(&q, 2, currency);
	qi(&q, 3, b->debits_posted);
	qi(&q, 4, b->credits_posted);
	qi(&q, 5, b->debits_pending);
	qi(&q, 6, b->credits_pending);
	return pg_exec(t, sql, &q, "balance put", NULL);
}

static void pg_balance_row(PGresult *res, int i, void *row)
{
	struct store_balance *r = row;
	ct(res, i, 0, r->account_id, sizeof r->account_id);
	ct(res, i, 1, r->currency, sizeof r->currency);
	pg_balance_cols(res, i, 2, &r->b);
}

static enum store_status pg_balance_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT account_id, currency, debits_posted, credits_posted, debits_pending,"
		" credits_pending FROM balances ORDER BY account_id, currency";
	struct store_balance row;
	return pg_each(t, sql, NULL, "balance each", pg_balance_row, &row, fn, arg);
}

static enum store_status pg_transfer_insert(struct store_tx *t, const struct store_transfer *r)
{
	static const char sql[] =
		"INSERT INTO transfers(id, op, pending_id, debit_account_id, credit_account_id,"
		" currency, amount, session_id, kind, created_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->op);
	qt(&q, 3, r->pending_id);
	qt(&q, 4, r->debit_account_id);
	qt(&q, 5, r->credit_account_id);
	qt(&q, 6, r->currency);
	qi(&q, 7, r->amount_minor);
	qt(&q, 8, r->session_id);
	qt(&q, 9, r->kind);
	qi(&q, 10, r->created_at);
	return pg_insert(t, sql, &q, "transfer insert");
}

static void pg_transfer_row(PGresult *res, int i, void *row)
{
	struct store_transfer *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->op, sizeof r->op);
	ct(res, i, 2, r->pending_id, sizeof r->pending_id);
	ct(res, i, 3, r->debit_account_id, sizeof r->debit_account_id);
	ct(res, i, 4, r->credit_account_id, sizeof r->credit_account_id);
	ct(res, i, 5, r->currency, sizeof r->currency);
	r->amount_minor = ci(res, i, 6);
	ct(res, i, 7, r->session_id, sizeof r->session_id);
	ct(res, i, 8, r->kind, sizeof r->kind);
	r->created_at = ci(res, i, 9);
}

static enum store_status pg_transfer_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT id, op, pending_id, debit_account_id, credit_account_id, currency, amount,"
		" session_id, kind, created_at FROM transfers ORDER BY id";
	struct store_transfer row;
	return pg_each(t, sql, NULL, "transfer each", pg_transfer_row, &row, fn, arg);
}

static enum store_status pg_transfer_each_session(struct store_tx *t, const char *session_id,
						   store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT id, op, pending_id, debit_account_id, credit_account_id, currency, amount,"
		" session_id, kind, created_at FROM transfers WHERE session_id = $1 ORDER BY id";
	struct pg_q q = {0};
	qt(&q, 1, session_id);
	struct store_transfer row;
	return pg_each(t, sql, &q, "transfer each session", pg_transfer_row, &row, fn, arg);
}

/* ---- destinations ------------------------------------------------------ */

#define PG_DEST_COLS "id, tenant_id, client_id, account_id, method, fiat_rail, currency, body, created_at"

static enum store_status pg_destination_insert(struct store_tx *t, const struct store_destination *r)
{
	static const char sql[] = "INSERT INTO destinations(" PG_DEST_COLS ")"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->client_id);
	qt(&q, 4, r->account_id);
	qt(&q, 5, r->method);
	qte(&q, 6, r->fiat_rail);
	qt(&q, 7, r->currency);
	qte(&q, 8, r->body);
	qi(&q, 9, r->created_at);
	return pg_insert(t, sql, &q, "destination insert");
}

/* Body borrowed from the result (valid until it is cleared). */
static void pg_destination_row(PGresult *res, int i, void *row)
{
	struct store_destination *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 2, r->client_id, sizeof r->client_id);
	ct(res, i, 3, r->account_id, sizeof r->account_id);
	ct(res, i, 4, r->method, sizeof r->method);
	ct(res, i, 5, r->fiat_rail, sizeof r->fiat_rail);
	ct(res, i, 6, r->currency, sizeof r->currency);
	r->body = PQgetvalue(res, i, 7);
	r->created_at = ci(res, i, 8);
}

static enum store_status pg_destination_get(struct store_tx *t, const char *tenant_id,
					    const char *id, struct store_destination *r)
{
	static const char sql[] = "SELECT " PG_DEST_COLS " FROM destinations"
				  " WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "destination get", &res);
	if (s != STORE_OK)
		return s;
	free(r->body);
	pg_destination_row(res, 0, r);
	r->body = cdup(res, 0, 7);
	PQclear(res);
	return r->body ? STORE_OK : STORE_FAIL;
}

static enum store_status pg_destination_list(struct store_tx *t, const char *tenant_id,
					     const char *client_id, int limit, store_each_fn fn,
					     void *arg)
{
	static const char sql[] = "SELECT " PG_DEST_COLS " FROM destinations WHERE tenant_id = $1"
				  " AND client_id = $2 ORDER BY id DESC LIMIT $3";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, client_id);
	qi(&q, 3, limit);
	struct store_destination row;
	return pg_each(t, sql, &q, "destination list", pg_destination_row, &row, fn, arg);
}

/* ---- sessions ---------------------------------------------------------- */

#define PG_SESSION_COLS                                                                      \
	"id, tenant_id, account_id, client_id, destination_id, principal_id, principal_kind," \
	" status, stage, currency, principal_minor, fee_network_minor, fee_platform_minor,"  \
	" fee_total_minor, target_currency, target_rail, method, fiat_rail,"                 \
	" payment_reference, failure_reason, hold_transfer_id, version, created_at,"          \
	" updated_at, settled_at, next_run_ms, lease_owner, lease_until_ms, attempts,"        \
	" fill_rate_value, fill_rate_scale, delivered_minor, approval_id, approved_by_id,"     \
	" approved_by_kind, network, event_seq, fee_partner_minor, locked_rate_value,"        \
	" locked_rate_scale, payout_reference, waiting_reason, failure_detail"
#define PG_SESSION_NCOLS 43

static void pg_session_row(PGresult *res, int row, void *out)
{
	struct store_session *r = out;
	int i = 0;
	ct(res, row, i++, r->id, sizeof r->id);
	ct(res, row, i++, r->tenant_id, sizeof r->tenant_id);
	ct(res, row, i++, r->account_id, sizeof r->account_id);
	ct(res, row, i++, r->client_id, sizeof r->client_id);
	ct(res, row, i++, r->destination_id, sizeof r->destination_id);
	ct(res, row, i++, r->principal_id, sizeof r->principal_id);
	ct(res, row, i++, r->principal_kind, sizeof r->principal_kind);
	ct(res, row, i++, r->status, sizeof r->status);
	ct(res, row, i++, r->stage, sizeof r->stage);
	ct(res, row, i++, r->currency, sizeof r->currency);
	r->principal_minor = ci(res, row, i++);
	r->fee_network_minor = ci(res, row, i++);
	r->fee_platform_minor = ci(res, row, i++);
	r->fee_total_minor = ci(res, row, i++);
	ct(res, row, i++, r->target_currency, sizeof r->target_currency);
	ct(res, row, i++, r->target_rail, sizeof r->target_rail);
	ct(res, row, i++, r->method, sizeof r->method);
	ct(res, row, i++, r->fiat_rail, sizeof r->fiat_rail);
	ct(res, row, i++, r->payment_reference, sizeof r->payment_reference);
	ct(res, row, i++, r->failure_reason, sizeof r->failure_reason);
	ct(res, row, i++, r->hold_transfer_id, sizeof r->hold_transfer_id);
	r->version = ci(res, row, i++);
	r->created_at = ci(res, row, i++);
	r->updated_at = ci(res, row, i++);
	r->settled_at = ci(res, row, i++);
	r->next_run_ms = ci(res, row, i++);
	ct(res, row, i++, r->lease_owner, sizeof r->lease_owner);
	r->lease_until_ms = ci(res, row, i++);
	r->attempts = (int)ci(res, row, i++);
	r->fill_rate_value = ci(res, row, i++);
	r->fill_rate_scale = (int)ci(res, row, i++);
	r->delivered_minor = ci(res, row, i++);
	ct(res, row, i++, r->approval_id, sizeof r->approval_id);
	ct(res, row, i++, r->approved_by_id, sizeof r->approved_by_id);
	ct(res, row, i++, r->approved_by_kind, sizeof r->approved_by_kind);
	ct(res, row, i++, r->network, sizeof r->network);
	r->event_seq = ci(res, row, i++);
	r->fee_partner_minor = ci(res, row, i++);
	r->locked_rate_value = ci(res, row, i++);
	r->locked_rate_scale = (int)ci(res, row, i++);
	ct(res, row, i++, r->payout_reference, sizeof r->payout_reference);
	ct(res, row, i++, r->waiting_reason, sizeof r->waiting_reason);
	ct(res, row, i++, r->failure_detail, sizeof r->failure_detail);
	assert(i == PG_SESSION_NCOLS);
}

static enum store_status pg_session_insert(struct store_tx *t, const struct store_session *r)
{
	static const char sql[] =
		"INSERT INTO sessions(" PG_SESSION_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
		" $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,"
		" $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43)"
		" ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	int i = 1;
	qt(&q, i++, r->id);
	qt(&q, i++, r->tenant_id);
	qt(&q, i++, r->account_id);
	qt(&q, i++, r->client_id);
	qt(&q, i++, r->destination_id);
	qt(&q, i++, r->principal_id);
	qt(&q, i++, r->principal_kind);
	qt(&q, i++, r->status);
	qte(&q, i++, r->stage);
	qt(&q, i++, r->currency);
	qi(&q, i++, r->principal_minor);
	qi(&q, i++, r->fee_network_minor);
	qi(&q, i++, r->fee_platform_minor);
	qi(&q, i++, r->fee_total_minor);
	qt(&q, i++, r->target_currency);
	qt(&q, i++, r->target_rail);
	qt(&q, i++, r->method);
	qte(&q, i++, r->fiat_rail);
	qte(&q, i++, r->payment_reference);
	qte(&q, i++, r->failure_reason);
	qt(&q, i++, r->hold_transfer_id);
	qi(&q, i++, r->version);
	qi(&q, i++, r->created_at);
	qi(&q, i++, r->updated_at);
	qi(&q, i++, r->settled_at);
	qi(&q, i++, r->next_run_ms);
	qte(&q, i++, r->lease_owner);
	qi(&q, i++, r->lease_until_ms);
	qi(&q, i++, r->attempts);
	qi(&q, i++, r->fill_rate_value);
	qi(&q, i++, r->fill_rate_scale);
	qi(&q, i++, r->delivered_minor);
	qte(&q, i++, r->approval_id);
	qte(&q, i++, r->approved_by_id);
	qte(&q, i++, r->approved_by_kind);
	qte(&q, i++, r->network[0] ? r->network : "ethereum");
	qi(&q, i++, r->event_seq);
	qi(&q, i++, r->fee_partner_minor);
	qi(&q, i++, r->locked_rate_value);
	qi(&q, i++, r->locked_rate_scale);
	qte(&q, i++, r->payout_reference);
	qte(&q, i++, r->waiting_reason);
	qte(&q, i++, r->failure_detail);
	assert(i == PG_SESSION_NCOLS + 1);
	return pg_insert(t, sql, &q, "session insert");
}

static enum store_status pg_session_update(struct store_tx *t, const struct store_session *r,
					   int64_t expect_version)
{
	/* The mutable columns only; the WHERE pins the row and its version. */
	static const char sql[] =
		"UPDATE sessions SET status = $3, stage = $4, failure_reason = $5, version = $6,"
		" updated_at = $7, settled_at = $8, next_run_ms = $9, lease_owner = $10,"
		" lease_until_ms = $11, attempts = $12, fill_rate_value = $13, fill_rate_scale = $14,"
		" delivered_minor = $15, approval_id = $16, approved_by_id = $17,"
		" approved_by_kind = $18, event_seq = $19, payout_reference = $21,"
		" waiting_reason = $22, failure_detail = $23"
		" WHERE id = $1 AND tenant_id = $2 AND version = $20";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->status);
	qte(&q, 4, r->stage);
	qte(&q, 5, r->failure_reason);
	qi(&q, 6, r->version);
	qi(&q, 7, r->updated_at);
	qi(&q, 8, r->settled_at);
	qi(&q, 9, r->next_run_ms);
	qte(&q, 10, r->lease_owner);
	qi(&q, 11, r->lease_until_ms);
	qi(&q, 12, r->attempts);
	qi(&q, 13, r->fill_rate_value);
	qi(&q, 14, r->fill_rate_scale);
	qi(&q, 15, r->delivered_minor);
	qte(&q, 16, r->approval_id);
	qte(&q, 17, r->approved_by_id);
	qte(&q, 18, r->approved_by_kind);
	qi(&q, 19, r->event_seq);
	qi(&q, 20, expect_version);
	qte(&q, 21, r->payout_reference);
	qte(&q, 22, r->waiting_reason);
	qte(&q, 23, r->failure_detail);
	return pg_exec1(t, sql, &q, "session update", STORE_NOT_FOUND);
}

/*
 * Statements written from the session table's rules (domain/session.h)
 * once, at open, as the SQLite backend does. The claim locks what it
 * leases with SKIP LOCKED: two nodes claiming at once take disjoint rows,
 * and a row another node is leasing right now is left to it.
 */
static char pg_sql_session_claim[2048];
static char pg_sql_session_next_due[256];
static char pg_sql_session_release[512];
static char pg_sql_session_sum[512];

static void pg_rules_build(void)
{
	char driven[96], counts[128];
	bool ok = session_status_sql_list(session_status_driven, driven, sizeof driven) > 0 &&
		  session_status_sql_list(session_status_counts, counts, sizeof counts) > 0;
	int n[4];
	n[0] = snprintf(pg_sql_session_claim, sizeof pg_sql_session_claim,
			"UPDATE sessions SET lease_owner = $2, lease_until_ms = $3,"
			" next_run_ms = GREATEST(next_run_ms, $3) WHERE id IN ("
			" SELECT id FROM sessions WHERE status IN (%s)"
			" AND next_run_ms <= $1 AND lease_until_ms <= $1 ORDER BY next_run_ms LIMIT $4"
			" FOR UPDATE SKIP LOCKED) RETURNING " PG_SESSION_COLS, driven);
	n[1] = snprintf(pg_sql_session_next_due, sizeof pg_sql_session_next_due,
			"SELECT MIN(next_run_ms) FROM sessions WHERE status IN (%s)", driven);
	n[2] = snprintf(pg_sql_session_release, sizeof pg_sql_session_release,
			"UPDATE sessions SET lease_owner = '', lease_until_ms = 0, next_run_ms = 0"
			" WHERE status IN (%s) AND lease_until_ms > 0"
			" AND starts_with(lease_owner, $1)", driven);
	n[3] = snprintf(pg_sql_session_sum, sizeof pg_sql_session_sum,
			"SELECT COALESCE(SUM(principal_minor), 0)::bigint FROM sessions"
			" WHERE tenant_id = $1 AND client_id = $2 AND created_at >= $3"
			" AND status IN (%s)", counts);
	assert(ok && n[0] > 0 && (size_t)n[0] < sizeof pg_sql_session_claim &&
	       n[1] > 0 && (size_t)n[1] < sizeof pg_sql_session_next_due && n[2] > 0 &&
	       (size_t)n[2] < sizeof pg_sql_session_release && n[3] > 0 &&
	       (size_t)n[3] < sizeof pg_sql_session_sum);
	(void)ok;
	(void)n;
}

static const char pg_sql_session_get[] =
	"SELECT " PG_SESSION_COLS " FROM sessions WHERE id = $1 AND tenant_id = $2";

static enum store_status pg_session_claim(struct store_tx *t, int64_t now_ms, const char *owner,
					  int64_t lease_until_ms, int limit, store_each_fn fn,
					  void *arg)
{
	struct pg_q q = {0};
	qi(&q, 1, now_ms);
	qt(&q, 2, owner);
	qi(&q, 3, lease_until_ms);
	qi(&q, 4, limit);
	struct store_session row;
	return pg_each(t, pg_sql_session_claim, &q, "session claim", pg_session_row, &row, fn, arg);
}

/* MIN of a column: NOT_FOUND when there is no row. */
static enum store_status pg_min(struct store_tx *t, const char *sql, const char *what,
				int64_t *out)
{
	PGresult *res;
	enum store_status s = pg_one(t, sql, NULL, what, &res);
	if (s != STORE_OK)
		return s;
	bool none = cnull(res, 0, 0);
	*out = none ? 0 : ci(res, 0, 0);
	PQclear(res);
	return none ? STORE_NOT_FOUND : STORE_OK;
}

static enum store_status pg_session_next_due(struct store_tx *t, int64_t *next_ms)
{
	return pg_min(t, pg_sql_session_next_due, "session next due", next_ms);
}

static enum store_status pg_session_release_leases(struct store_tx *t, const char *owner_prefix)
{
	struct pg_q q = {0};
	qt(&q, 1, owner_prefix);
	return pg_exec(t, pg_sql_session_release, &q, "release leases", NULL);
}

static enum store_status pg_session_get(struct store_tx *t, const char *tenant_id, const char *id,
					struct store_session *r)
{
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, pg_sql_session_get, &q, "session get", &res);
	if (s != STORE_OK)
		return s;
	pg_session_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

/* List pages: one statement per combination of filters and direction,
 * each naming only what it filters on (see sqlite_store.c), parameters
 * numbered in the order they appear. */
enum { PG_LIST_STATUS = 1, PG_LIST_ACCOUNT = 2, PG_LIST_CLIENT = 4, PG_LIST_FILTERS = 8 };
enum pg_list_dir { PG_LIST_NEWEST, PG_LIST_BEFORE, PG_LIST_AFTER, PG_LIST_DIRS };
static char pg_list_sql[PG_LIST_FILTERS][PG_LIST_DIRS][1024];
static pthread_once_t pg_list_once = PTHREAD_ONCE_INIT;

static void pg_list_build(void)
{
	for (int f = 0; f < PG_LIST_FILTERS; f++)
		for (int d = 0; d < PG_LIST_DIRS; d++) {
			char *p = pg_list_sql[f][d];
			size_t cap = sizeof pg_list_sql[f][d];
			int k = 1;
			int n = snprintf(p, cap, "SELECT " PG_SESSION_COLS
					 " FROM sessions WHERE tenant_id = $%d", k++);
			if (f & PG_LIST_STATUS)
				n += snprintf(p + n, cap - (size_t)n, " AND status = $%d", k++);
			if (f & PG_LIST_ACCOUNT)
				n += snprintf(p + n, cap - (size_t)n, " AND account_id = $%d", k++);
			if (f & PG_LIST_CLIENT)
				n += snprintf(p + n, cap - (size_t)n, " AND client_id = $%d", k++);
			if (d != PG_LIST_NEWEST)
				n += snprintf(p + n, cap - (size_t)n, " AND id %c $%d",
					      d == PG_LIST_AFTER ? '>' : '<', k++);
			n += snprintf(p + n, cap - (size_t)n, " ORDER BY id %s LIMIT $%d",
				      d == PG_LIST_AFTER ? "ASC" : "DESC", k);
			assert(n > 0 && (size_t)n < cap);
		}
}

static const char *pg_list_text(int filters, enum pg_list_dir dir)
{
	pthread_once(&pg_list_once, pg_list_build);
	return pg_list_sql[filters][dir];
}

static enum store_status pg_session_list(struct store_tx *t, const struct store_session_filter *f,
					 store_each_fn fn, void *arg)
{
	int filters = (f->status ? PG_LIST_STATUS : 0) | (f->account_id ? PG_LIST_ACCOUNT : 0) |
		      (f->client_id ? PG_LIST_CLIENT : 0);
	enum pg_list_dir dir = f->after_id ? PG_LIST_AFTER : f->before_id ? PG_LIST_BEFORE
									   : PG_LIST_NEWEST;
	struct pg_q q = {0};
	int k = 1;
	qt(&q, k++, f->tenant_id);
	if (f->status)
		qt(&q, k++, f->status);
	if (f->account_id)
		qt(&q, k++, f->account_id);
	if (f->client_id)
		qt(&q, k++, f->client_id);
	if (dir != PG_LIST_NEWEST)
		qt(&q, k++, f->after_id ? f->after_id : f->before_id);
	qi(&q, k, f->limit);
	struct store_session row;
	return pg_each(t, pg_list_text(filters, dir), &q, "session list", pg_session_row, &row, fn,
		       arg);
}

static enum store_status pg_session_each(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " PG_SESSION_COLS " FROM sessions ORDER BY id";
	struct store_session row;
	return pg_each(t, sql, NULL, "session each", pg_session_row, &row, fn, arg);
}

static enum store_status pg_session_sum(struct store_tx *t, const char *tenant_id,
					const char *client_id, int64_t since, int64_t *sum)
{
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, client_id);
	qi(&q, 3, since);
	PGresult *res;
	enum store_status s = pg_one(t, pg_sql_session_sum, &q, "session sum", &res);
	if (s != STORE_OK)
		return s;
	*sum = ci(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

/* ---- operations gauges (GET /metrics) ---------------------------------- */

static void pg_count_row(PGresult *r, int i, void *row)
{
	struct store_count *c = row;
	c->name = PQgetvalue(r, i, 0);
	c->n = ci(r, i, 1);
}

/* READ COMMITTED: one snapshot per statement, so the counts are of one
 * instant; an index-only scan of sessions_by_status when the visibility
 * map allows. */
static enum store_status pg_session_count_by_status(struct store_tx *t, store_each_fn fn,
						    void *arg)
{
	static const char sql[] = "SELECT status, count(*) FROM sessions GROUP BY status";
	struct store_count row;
	return pg_each(t, sql, NULL, "session count by status", pg_count_row, &row, fn, arg);
}

/* SUM of bigint is numeric in PostgreSQL: cast back, an overflow is an
 * error rather than a wrong number. */
static enum store_status pg_held_by_currency(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT b.currency, sum(b.credits_pending)::bigint FROM accounts a"
		" JOIN balances b ON b.account_id = a.id"
		" WHERE a.code = 'holds' AND a.kind = 'system' GROUP BY b.currency";
	struct store_count row;
	return pg_each(t, sql, NULL, "held by currency", pg_count_row, &row, fn, arg);
}

/* ---- idempotency ------------------------------------------------------- */

static enum store_status pg_idem_insert(struct store_tx *t, const struct store_idem *r)
{
	/* A new key is inserted; an expired record under it replaced in
	 * place; a live one left alone (the key is taken). A concurrent
	 * insert of the same key waits for ours and then sees it live. */
	static const char sql[] =
		"INSERT INTO idempotency(tenant_id, endpoint, key, request_hash, status, body,"
		" created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
		" ON CONFLICT (tenant_id, endpoint, key) DO UPDATE SET"
		" request_hash = excluded.request_hash, status = excluded.status,"
		" body = excluded.body, created_at = excluded.created_at,"
		" expires_at = excluded.expires_at"
		" WHERE idempotency.expires_at <= excluded.created_at";
	struct pg_q q = {0};
	qt(&q, 1, r->tenant_id);
	qt(&q, 2, r->endpoint);
	qte(&q, 3, r->key);
	qt(&q, 4, r->request_hash);
	qi(&q, 5, r->status);
	qb(&q, 6, r->body, r->body ? r->body_len : 0);
	qi(&q, 7, r->created_at);
	qi(&q, 8, r->expires_at);
	return pg_insert(t, sql, &q, "idempotency insert");
}

static enum store_status pg_idem_get(struct store_tx *t, const char *tenant_id,
				     const char *endpoint, const char *key, int64_t now,
				     struct store_idem *r)
{
	static const char sql[] =
		"SELECT tenant_id, endpoint, key, request_hash, status, body, created_at, expires_at"
		" FROM idempotency WHERE tenant_id = $1 AND endpoint = $2 AND key = $3"
		" AND expires_at > $4";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, endpoint);
	qte(&q, 3, key);
	qi(&q, 4, now);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "idempotency get", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->tenant_id, sizeof r->tenant_id);
	ct(res, 0, 1, r->endpoint, sizeof r->endpoint);
	ct(res, 0, 2, r->key, sizeof r->key);
	ct(res, 0, 3, r->request_hash, sizeof r->request_hash);
	r->status = (int)ci(res, 0, 4);
	free(r->body);
	bool oom;
	r->body = cbytes(res, 0, 5, &r->body_len, &oom);
	r->created_at = ci(res, 0, 6);
	r->expires_at = ci(res, 0, 7);
	PQclear(res);
	return oom ? STORE_FAIL : STORE_OK;
}

/* ---- approvals, policies, rates, settings ------------------------------- */

#define PG_APPROVAL_COLS                                                                \
	"id, tenant_id, session_id, status, initiator_id, initiator_kind, decided_by_id," \
	" decided_by_kind, currency, amount_minor, created_at, decided_at"

static void pg_approval_row(PGresult *res, int i, void *row)
{
	struct store_approval *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 2, r->session_id, sizeof r->session_id);
	ct(res, i, 3, r->status, sizeof r->status);
	ct(res, i, 4, r->initiator_id, sizeof r->initiator_id);
	ct(res, i, 5, r->initiator_kind, sizeof r->initiator_kind);
	ct(res, i, 6, r->decided_by_id, sizeof r->decided_by_id);
	ct(res, i, 7, r->decided_by_kind, sizeof r->decided_by_kind);
	ct(res, i, 8, r->currency, sizeof r->currency);
	r->amount_minor = ci(res, i, 9);
	r->created_at = ci(res, i, 10);
	r->decided_at = ci(res, i, 11);
}

static enum store_status pg_approval_insert(struct store_tx *t, const struct store_approval *r)
{
	static const char sql[] = "INSERT INTO approvals(" PG_APPROVAL_COLS ") VALUES"
				  " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->session_id);
	qt(&q, 4, r->status);
	qt(&q, 5, r->initiator_id);
	qt(&q, 6, r->initiator_kind);
	qte(&q, 7, r->decided_by_id);
	qte(&q, 8, r->decided_by_kind);
	qt(&q, 9, r->currency);
	qi(&q, 10, r->amount_minor);
	qi(&q, 11, r->created_at);
	qi(&q, 12, r->decided_at);
	return pg_insert(t, sql, &q, "approval insert");
}

static enum store_status pg_approval_update(struct store_tx *t, const struct store_approval *r)
{
	static const char sql[] = "UPDATE approvals SET status = $3, decided_by_id = $4,"
				  " decided_by_kind = $5, decided_at = $6"
				  " WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->status);
	qte(&q, 4, r->decided_by_id);
	qte(&q, 5, r->decided_by_kind);
	qi(&q, 6, r->decided_at);
	return pg_exec1(t, sql, &q, "approval update", STORE_NOT_FOUND);
}

static enum store_status pg_approval_get(struct store_tx *t, const char *tenant_id, const char *id,
					 struct store_approval *r)
{
	static const char sql[] =
		"SELECT " PG_APPROVAL_COLS " FROM approvals WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "approval get", &res);
	if (s != STORE_OK)
		return s;
	pg_approval_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_approval_list(struct store_tx *t, const char *tenant_id,
					  const char *status, const char *before_id, int limit,
					  store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT " PG_APPROVAL_COLS " FROM approvals WHERE tenant_id = $1"
		" AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id < $3)"
		" ORDER BY id DESC LIMIT $4";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, status);
	qt(&q, 3, before_id);
	qi(&q, 4, limit);
	struct store_approval row;
	return pg_each(t, sql, &q, "approval list", pg_approval_row, &row, fn, arg);
}

static enum store_status pg_policy_get(struct store_tx *t, const char *tenant_id,
				       struct store_policy *r)
{
	static const char sql[] = "SELECT tenant_id, threshold_currency, threshold_minor,"
				  " updated_at FROM policies WHERE tenant_id = $1";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "policy get", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->tenant_id, sizeof r->tenant_id);
	ct(res, 0, 1, r->threshold_currency, sizeof r->threshold_currency);
	r->threshold_minor = ci(res, 0, 2);
	r->updated_at = ci(res, 0, 3);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_policy_put(struct store_tx *t, const struct store_policy *r)
{
	static const char sql[] =
		"INSERT INTO policies(tenant_id, threshold_currency, threshold_minor, updated_at)"
		" VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET"
		" threshold_currency = excluded.threshold_currency,"
		" threshold_minor = excluded.threshold_minor, updated_at = excluded.updated_at";
	struct pg_q q = {0};
	qt(&q, 1, r->tenant_id);
	qte(&q, 2, r->threshold_currency);
	qi(&q, 3, r->threshold_minor);
	qi(&q, 4, r->updated_at);
	return pg_exec(t, sql, &q, "policy put", NULL);
}

static enum store_status pg_fx_get(struct store_tx *t, const char *source, const char *target,
				   int64_t *value, int *scale)
{
	static const char sql[] = "SELECT value, scale FROM fx_rates WHERE source = $1 AND target = $2";
	struct pg_q q = {0};
	qt(&q, 1, source);
	qt(&q, 2, target);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "fx get", &res);
	if (s != STORE_OK)
		return s;
	*value = ci(res, 0, 0);
	*scale = (int)ci(res, 0, 1);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_fx_put(struct store_tx *t, const char *source, const char *target,
				   int64_t value, int scale, int64_t now)
{
	static const char sql[] =
		"INSERT INTO fx_rates(source, target, value, scale, updated_at)"
		" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, target) DO UPDATE SET"
		" value = excluded.value, scale = excluded.scale, updated_at = excluded.updated_at";
	struct pg_q q = {0};
	qt(&q, 1, source);
	qt(&q, 2, target);
	qi(&q, 3, value);
	qi(&q, 4, scale);
	qi(&q, 5, now);
	return pg_exec(t, sql, &q, "fx put", NULL);
}

static enum store_status pg_setting_get(struct store_tx *t, const char *tenant_id,
					const char *key, int64_t *value)
{
	static const char sql[] = "SELECT value FROM tenant_settings WHERE tenant_id = $1 AND key = $2";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, key);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "setting get", &res);
	if (s != STORE_OK)
		return s;
	*value = ci(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_setting_get_many(struct store_tx *t, const char *tenant_id,
					     const char *const *keys, int n, int64_t *values,
					     bool *found)
{
	/* A fixed statement for any n: unused slots are NULL and match no key. */
	static const char sql[] = "SELECT key, value FROM tenant_settings WHERE tenant_id = $1"
				  " AND key IN ($2, $3, $4, $5, $6, $7, $8, $9)";
	_Static_assert(LIMIT_SETTINGS_MANY == 8, "one placeholder per key");
	assert(n >= 0 && n <= LIMIT_SETTINGS_MANY);
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	for (int i = 0; i < LIMIT_SETTINGS_MANY; i++)
		qt(&q, 2 + i, i < n ? keys[i] : NULL);
	for (int i = 0; i < n; i++)
		found[i] = false;
	enum store_status st;
	PGresult *r = pg_q_run(t, sql, &q, &st, "settings get");
	if (!r)
		return st;
	for (int row = 0; row < PQntuples(r); row++) {
		const char *k = PQgetvalue(r, row, 0);
		for (int i = 0; i < n; i++) {
			if (strcmp(k, keys[i]) == 0) {
				found[i] = true;
				values[i] = ci(r, row, 1);
			}
		}
	}
	PQclear(r);
	return STORE_OK;
}

static enum store_status pg_setting_put(struct store_tx *t, const char *tenant_id,
					const char *key, int64_t value)
{
	static const char sql[] =
		"INSERT INTO tenant_settings(tenant_id, key, value) VALUES ($1, $2, $3)"
		" ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, key);
	qi(&q, 3, value);
	return pg_exec(t, sql, &q, "setting put", NULL);
}

/* ---- events ------------------------------------------------------------- */

static enum store_status pg_event_insert(struct store_tx *t, struct store_event *ev)
{
	/* Commit order: the first event of a transaction takes one advisory
	 * lock, held to commit, so event-writing transactions take their seq
	 * and commit one at a time across every node: a reader paging
	 * after_seq never sees a greater seq before a smaller one commits. */
	static const char lock[] = "SELECT pg_advisory_xact_lock($1)";
	static const char sql[] =
		"INSERT INTO events(id, tenant_id, resource_id, resource_seq, type, data, created_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING seq";
	struct pg_tx *tx = (struct pg_tx *)t;
	enum store_status s;
	if (!tx->event_locked) {
		struct pg_q lq = {0};
		qi(&lq, 1, PG_EVENT_LOCK_KEY);
		if ((s = pg_exec(t, lock, &lq, "event lock", NULL)) != STORE_OK)
			return s;
		tx->event_locked = true;
	}
	struct pg_q q = {0};
	qt(&q, 1, ev->id);
	qt(&q, 2, ev->tenant_id);
	qt(&q, 3, ev->resource_id);
	qi(&q, 4, ev->resource_seq);
	qt(&q, 5, ev->type);
	qte(&q, 6, ev->data);
	qi(&q, 7, ev->created_at);
	PGresult *res;
	s = pg_one(t, sql, &q, "event insert", &res);
	if (s == STORE_NOT_FOUND)
		return STORE_EXISTS;
	if (s != STORE_OK)
		return s;
	ev->seq = ci(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

static void pg_event_row(PGresult *res, int i, void *row)
{
	struct store_event *r = row;
	r->seq = ci(res, i, 0);
	ct(res, i, 1, r->id, sizeof r->id);
	ct(res, i, 2, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 3, r->resource_id, sizeof r->resource_id);
	r->resource_seq = ci(res, i, 4);
	ct(res, i, 5, r->type, sizeof r->type);
	r->data = PQgetvalue(res, i, 6); /* borrowed for the callback */
	r->created_at = ci(res, i, 7);
}

#define PG_EVENT_LIST(where)                                                        \
	"SELECT seq, id, tenant_id, resource_id, resource_seq, type, data, created_at" \
	" FROM events WHERE tenant_id = $1" where
static const char pg_sql_event_list[] = PG_EVENT_LIST(" AND seq > $2 ORDER BY seq LIMIT $3");
static const char pg_sql_event_list_resource[] =
	PG_EVENT_LIST(" AND resource_id = $4 AND seq > $2 ORDER BY seq LIMIT $3");

static enum store_status pg_event_list(struct store_tx *t, const char *tenant_id,
				       const char *resource_id, int64_t after_seq, int limit,
				       store_each_fn fn, void *arg)
{
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qi(&q, 2, after_seq);
	qi(&q, 3, limit);
	if (resource_id)
		qt(&q, 4, resource_id);
	struct store_event row;
	return pg_each(t, resource_id ? pg_sql_event_list_resource : pg_sql_event_list, &q,
		       "event list", pg_event_row, &row, fn, arg);
}

/* ---- extension documents ------------------------------------------------ */

static enum store_status pg_ext_get(struct store_tx *t, const char *tenant_id,
				    const char *resource_id, const char *kind, char **body)
{
	static const char sql[] = "SELECT body FROM resource_ext"
				  " WHERE resource_id = $1 AND kind = $2 AND tenant_id = $3";
	struct pg_q q = {0};
	qt(&q, 1, resource_id);
	qt(&q, 2, kind);
	qt(&q, 3, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "ext get", &res);
	if (s != STORE_OK)
		return s;
	free(*body);
	*body = cdup(res, 0, 0);
	PQclear(res);
	return *body ? STORE_OK : STORE_FAIL;
}

static enum store_status pg_ext_put(struct store_tx *t, const char *tenant_id,
				    const char *resource_id, const char *kind, const char *body)
{
	static const char sql[] =
		"INSERT INTO resource_ext(resource_id, kind, tenant_id, body) VALUES ($1, $2, $3, $4)"
		" ON CONFLICT (resource_id, kind) DO UPDATE SET body = excluded.body"
		" WHERE resource_ext.tenant_id = excluded.tenant_id";
	struct pg_q q = {0};
	qt(&q, 1, resource_id);
	qt(&q, 2, kind);
	qt(&q, 3, tenant_id);
	qte(&q, 4, body);
	return pg_exec(t, sql, &q, "ext put", NULL);
}

/* ---- exchange rates, partner fees ------------------------------------- */

#define PG_RATE_COLS \
	"id, tenant_id, type, source, target, value, scale, time_lock, expires_at, used_by, created_at"

static enum store_status pg_exchange_rate_insert(struct store_tx *t,
						 const struct store_exchange_rate *r)
{
	static const char sql[] = "INSERT INTO exchange_rates(" PG_RATE_COLS ")"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->type);
	qt(&q, 4, r->source);
	qt(&q, 5, r->target);
	qi(&q, 6, r->value);
	qi(&q, 7, r->scale);
	qte(&q, 8, r->time_lock);
	qi(&q, 9, r->expires_at);
	qte(&q, 10, r->used_by);
	qi(&q, 11, r->created_at);
	return pg_insert(t, sql, &q, "exchange rate insert");
}

static enum store_status pg_exchange_rate_get(struct store_tx *t, const char *tenant_id,
					      const char *id, struct store_exchange_rate *r)
{
	static const char sql[] =
		"SELECT " PG_RATE_COLS " FROM exchange_rates WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "exchange rate get", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->id, sizeof r->id);
	ct(res, 0, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, 0, 2, r->type, sizeof r->type);
	ct(res, 0, 3, r->source, sizeof r->source);
	ct(res, 0, 4, r->target, sizeof r->target);
	r->value = ci(res, 0, 5);
	r->scale = (int)ci(res, 0, 6);
	ct(res, 0, 7, r->time_lock, sizeof r->time_lock);
	r->expires_at = ci(res, 0, 8);
	ct(res, 0, 9, r->used_by, sizeof r->used_by);
	r->created_at = ci(res, 0, 10);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_exchange_rate_use(struct store_tx *t, const char *tenant_id,
					      const char *id, const char *session_id)
{
	static const char sql[] = "UPDATE exchange_rates SET used_by = $3"
				  " WHERE id = $1 AND tenant_id = $2 AND used_by = ''";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	qt(&q, 3, session_id);
	return pg_exec1(t, sql, &q, "exchange rate use", STORE_EXISTS);
}

static enum store_status pg_partner_fee_insert(struct store_tx *t, const struct store_partner_fee *r)
{
	static const char sql[] =
		"INSERT INTO partner_fees(id, tenant_id, name, bps, flat_minor, is_default, created_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qte(&q, 3, r->name);
	qi(&q, 4, r->bps);
	qi(&q, 5, r->flat_minor);
	qi(&q, 6, r->is_default);
	qi(&q, 7, r->created_at);
	return pg_insert(t, sql, &q, "partner fee insert");
}

static enum store_status pg_partner_fee_get(struct store_tx *t, const char *tenant_id,
					    const char *id, struct store_partner_fee *r)
{
	static const char sql[] = "SELECT id, tenant_id, name, bps, flat_minor, is_default, created_at"
				  " FROM partner_fees WHERE tenant_id = $1 AND id = $2";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "partner fee get", &res);
	if (s != STORE_OK)
		return s;
	ct(res, 0, 0, r->id, sizeof r->id);
	ct(res, 0, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, 0, 2, r->name, sizeof r->name);
	r->bps = (int32_t)ci(res, 0, 3);
	r->flat_minor = ci(res, 0, 4);
	r->is_default = ci(res, 0, 5) != 0;
	r->created_at = ci(res, 0, 6);
	PQclear(res);
	return STORE_OK;
}

/* ---- the sandbox rail's book ------------------------------------------- */

#define PG_PAYOUT_COLS                                                                     \
	"idempotency_key, id, tenant_id, session_id, rail, currency, amount_minor, outcome," \
	" calls, created_at"

static void pg_payout_row(PGresult *res, int i, void *row)
{
	struct store_payout *r = row;
	ct(res, i, 0, r->idempotency_key, sizeof r->idempotency_key);
	ct(res, i, 1, r->id, sizeof r->id);
	ct(res, i, 2, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 3, r->session_id, sizeof r->session_id);
	ct(res, i, 4, r->rail, sizeof r->rail);
	ct(res, i, 5, r->currency, sizeof r->currency);
	r->amount_minor = ci(res, i, 6);
	ct(res, i, 7, r->outcome, sizeof r->outcome);
	r->calls = (int)ci(res, i, 8);
	r->created_at = ci(res, i, 9);
}

static enum store_status pg_payout_get(struct store_tx *t, const char *key, struct store_payout *r)
{
	static const char sql[] =
		"SELECT " PG_PAYOUT_COLS " FROM sandbox_payouts WHERE idempotency_key = $1";
	struct pg_q q = {0};
	qt(&q, 1, key);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "payout get", &res);
	if (s != STORE_OK)
		return s;
	pg_payout_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_payout_insert(struct store_tx *t, const struct store_payout *r)
{
	static const char sql[] = "INSERT INTO sandbox_payouts(" PG_PAYOUT_COLS ")"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->idempotency_key);
	qt(&q, 2, r->id);
	qt(&q, 3, r->tenant_id);
	qt(&q, 4, r->session_id);
	qt(&q, 5, r->rail);
	qt(&q, 6, r->currency);
	qi(&q, 7, r->amount_minor);
	qt(&q, 8, r->outcome);
	qi(&q, 9, r->calls);
	qi(&q, 10, r->created_at);
	return pg_insert(t, sql, &q, "payout insert");
}

static enum store_status pg_payout_touch(struct store_tx *t, const char *key)
{
	static const char sql[] =
		"UPDATE sandbox_payouts SET calls = calls + 1 WHERE idempotency_key = $1";
	struct pg_q q = {0};
	qt(&q, 1, key);
	return pg_exec(t, sql, &q, "payout touch", NULL);
}

#define PG_PAYOUT_LIST(where)                                                 \
	"SELECT " PG_PAYOUT_COLS " FROM sandbox_payouts WHERE tenant_id = $1" where \
	" ORDER BY id LIMIT 10000"
static const char pg_sql_payout_list[] = PG_PAYOUT_LIST("");
static const char pg_sql_payout_list_session[] = PG_PAYOUT_LIST(" AND session_id = $2");

static enum store_status pg_payout_list(struct store_tx *t, const char *tenant_id,
					const char *session_id, store_each_fn fn, void *arg)
{
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	if (session_id)
		qt(&q, 2, session_id);
	struct store_payout row;
	return pg_each(t, session_id ? pg_sql_payout_list_session : pg_sql_payout_list, &q,
		       "payout list", pg_payout_row, &row, fn, arg);
}

/* ---- the EVM rail's book ------------------------------------------------ */

static enum store_status pg_chain_nonce_take(struct store_tx *t, const char *account,
					     int64_t floor, int64_t *nonce)
{
	/* One statement, atomic across nodes: the row lock of the upsert
	 * orders two takes of one account. */
	static const char sql[] =
		"INSERT INTO chain_nonces(account, next_nonce) VALUES ($1, $2::bigint + 1)"
		" ON CONFLICT (account) DO UPDATE"
		" SET next_nonce = GREATEST(chain_nonces.next_nonce, $2::bigint) + 1"
		" RETURNING next_nonce - 1";
	struct pg_q q = {0};
	qt(&q, 1, account);
	qi(&q, 2, floor);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "chain nonce take", &res);
	if (s != STORE_OK)
		return s == STORE_NOT_FOUND ? STORE_FAIL : s;
	*nonce = ci(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

#define PG_CHAIN_COLS                                                                       \
	"idempotency_key, tenant_id, session_id, network, chain_id, sender, nonce, contract,"  \
	" calldata, gas_limit, gas_price_wei, raw, hash, prior_hashes, replacements, state,"   \
	" sent_at_ms, created_at, amount_units, tx_type, tip_wei"

static void pg_chain_row(PGresult *res, int row, struct store_chain_tx *r)
{
	int i = 0;
	ct(res, row, i++, r->idempotency_key, sizeof r->idempotency_key);
	ct(res, row, i++, r->tenant_id, sizeof r->tenant_id);
	ct(res, row, i++, r->session_id, sizeof r->session_id);
	ct(res, row, i++, r->network, sizeof r->network);
	r->chain_id = ci(res, row, i++);
	ct(res, row, i++, r->sender, sizeof r->sender);
	r->nonce = ci(res, row, i++);
	ct(res, row, i++, r->contract, sizeof r->contract);
	ct(res, row, i++, r->calldata, sizeof r->calldata);
	r->gas_limit = ci(res, row, i++);
	r->gas_price_wei = ci(res, row, i++);
	ct(res, row, i++, r->raw, sizeof r->raw);
	ct(res, row, i++, r->hash, sizeof r->hash);
	ct(res, row, i++, r->prior_hashes, sizeof r->prior_hashes);
	r->replacements = (int)ci(res, row, i++);
	ct(res, row, i++, r->state, sizeof r->state);
	r->sent_at_ms = ci(res, row, i++);
	r->created_at = ci(res, row, i++);
	r->amount_units = ci(res, row, i++);
	r->tx_type = (int)ci(res, row, i++);
	r->tip_wei = ci(res, row, i++);
}

/* $1..$21 in PG_CHAIN_COLS order. */
static void pg_chain_bind(struct pg_q *q, const struct store_chain_tx *r)
{
	int i = 1;
	qt(q, i++, r->idempotency_key);
	qt(q, i++, r->tenant_id);
	qt(q, i++, r->session_id);
	qt(q, i++, r->network);
	qi(q, i++, r->chain_id);
	qt(q, i++, r->sender);
	qi(q, i++, r->nonce);
	qt(q, i++, r->contract);
	qt(q, i++, r->calldata);
	qi(q, i++, r->gas_limit);
	qi(q, i++, r->gas_price_wei);
	qt(q, i++, r->raw);
	qt(q, i++, r->hash);
	qte(q, i++, r->prior_hashes);
	qi(q, i++, r->replacements);
	qt(q, i++, r->state);
	qi(q, i++, r->sent_at_ms);
	qi(q, i++, r->created_at);
	qi(q, i++, r->amount_units);
	qi(q, i++, r->tx_type);
	qi(q, i++, r->tip_wei);
}

static enum store_status pg_chain_tx_get(struct store_tx *t, const char *key,
					 struct store_chain_tx *r)
{
	static const char sql[] =
		"SELECT " PG_CHAIN_COLS " FROM chain_txs WHERE idempotency_key = $1";
	struct pg_q q = {0};
	qt(&q, 1, key);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "chain tx get", &res);
	if (s != STORE_OK)
		return s;
	pg_chain_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_chain_tx_insert(struct store_tx *t, const struct store_chain_tx *r)
{
	static const char sql[] = "INSERT INTO chain_txs(" PG_CHAIN_COLS ") VALUES ($1, $2, $3,"
				  " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	pg_chain_bind(&q, r);
	return pg_insert(t, sql, &q, "chain tx insert");
}

static enum store_status pg_chain_tx_update(struct store_tx *t, const struct store_chain_tx *r)
{
	static const char sql[] =
		"UPDATE chain_txs SET network = $2, contract = $3, calldata = $4, gas_limit = $5,"
		" gas_price_wei = $6, raw = $7, hash = $8, prior_hashes = $9, replacements = $10,"
		" state = $11, sent_at_ms = $12, tip_wei = $13 WHERE idempotency_key = $1";
	struct pg_q q = {0};
	qt(&q, 1, r->idempotency_key);
	qt(&q, 2, r->network);
	qt(&q, 3, r->contract);
	qt(&q, 4, r->calldata);
	qi(&q, 5, r->gas_limit);
	qi(&q, 6, r->gas_price_wei);
	qt(&q, 7, r->raw);
	qt(&q, 8, r->hash);
	qte(&q, 9, r->prior_hashes);
	qi(&q, 10, r->replacements);
	qt(&q, 11, r->state);
	qi(&q, 12, r->sent_at_ms);
	qi(&q, 13, r->tip_wei);
	return pg_exec1(t, sql, &q, "chain tx update", STORE_NOT_FOUND);
}

static enum store_status pg_chain_pending_units(struct store_tx *t, int64_t chain_id,
						const char *sender, const char *contract,
						int64_t *units)
{
	static const char sql[] =
		"SELECT coalesce(sum(amount_units), 0)::bigint FROM chain_txs"
		" WHERE chain_id = $1 AND sender = $2 AND contract = $3 AND state <> 'mined'";
	struct pg_q q = {0};
	qi(&q, 1, chain_id);
	qt(&q, 2, sender);
	qt(&q, 3, contract);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "chain pending units", &res);
	if (s != STORE_OK)
		return s == STORE_NOT_FOUND ? STORE_FAIL : s;
	*units = ci(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

/* ---- webhooks ------------------------------------------------------------ */

#define PG_HOOK_COLS                                                                         \
	"id, tenant_id, url, format, event_types, enabled, disabled_reason, secret,"        \
	" previous_secret, previous_until, created_at, updated_at"

static void pg_hook_row(PGresult *res, int i, void *row)
{
	struct store_hook_endpoint *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 2, r->url, sizeof r->url);
	ct(res, i, 3, r->format, sizeof r->format);
	ct(res, i, 4, r->event_types, sizeof r->event_types);
	r->enabled = ci(res, i, 5) != 0;
	ct(res, i, 6, r->disabled_reason, sizeof r->disabled_reason);
	ct(res, i, 7, r->secret, sizeof r->secret);
	ct(res, i, 8, r->previous_secret, sizeof r->previous_secret);
	r->previous_until = ci(res, i, 9);
	r->created_at = ci(res, i, 10);
	r->updated_at = ci(res, i, 11);
}

/* $1..$10 as in PG_HOOK_COLS order. */
static void pg_hook_bind(struct pg_q *q, const struct store_hook_endpoint *r)
{
	qt(q, 1, r->id);
	qt(q, 2, r->tenant_id);
	qte(q, 3, r->url);
	qte(q, 4, r->format);
	qte(q, 5, r->event_types);
	qi(q, 6, r->enabled);
	qte(q, 7, r->disabled_reason);
	qte(q, 8, r->secret);
	qte(q, 9, r->previous_secret);
	qi(q, 10, r->previous_until);
}

static enum store_status pg_hook_endpoint_insert(struct store_tx *t, const struct store_hook_endpoint *r)
{
	static const char sql[] = "INSERT INTO webhook_endpoints(" PG_HOOK_COLS ")"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	pg_hook_bind(&q, r);
	qi(&q, 11, r->created_at);
	qi(&q, 12, r->updated_at);
	return pg_insert(t, sql, &q, "webhook endpoint insert");
}

static enum store_status pg_hook_endpoint_update(struct store_tx *t, const struct store_hook_endpoint *r)
{
	static const char sql[] =
		"UPDATE webhook_endpoints SET url = $3, format = $4, event_types = $5, enabled = $6,"
		" disabled_reason = $7, secret = $8, previous_secret = $9, previous_until = $10,"
		" updated_at = $11 WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	pg_hook_bind(&q, r);
	qi(&q, 11, r->updated_at);
	return pg_exec1(t, sql, &q, "webhook endpoint update", STORE_NOT_FOUND);
}

static enum store_status pg_hook_endpoint_get(struct store_tx *t, const char *tenant_id,
					      const char *id, struct store_hook_endpoint *r)
{
	static const char sql[] =
		"SELECT " PG_HOOK_COLS " FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	PGresult *res;
	enum store_status s = pg_one(t, sql, &q, "webhook endpoint get", &res);
	if (s != STORE_OK)
		return s;
	pg_hook_row(res, 0, r);
	PQclear(res);
	return STORE_OK;
}

static enum store_status pg_hook_endpoint_delete(struct store_tx *t, const char *tenant_id,
						 const char *id)
{
	static const char sql[] = "DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2";
	struct pg_q q = {0};
	qt(&q, 1, id);
	qt(&q, 2, tenant_id);
	return pg_exec1(t, sql, &q, "webhook endpoint delete", STORE_NOT_FOUND);
}

static enum store_status pg_hook_endpoint_list(struct store_tx *t, const char *tenant_id,
					       store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " PG_HOOK_COLS " FROM webhook_endpoints"
				  " WHERE tenant_id = $1 ORDER BY id LIMIT 1000";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	struct store_hook_endpoint row;
	return pg_each(t, sql, &q, "webhook endpoint list", pg_hook_row, &row, fn, arg);
}

static enum store_status pg_hook_endpoint_page(struct store_tx *t, const char *after_id, int limit,
					       store_each_fn fn, void *arg)
{
	static const char sql[] = "SELECT " PG_HOOK_COLS " FROM webhook_endpoints"
				  " WHERE id > $1 ORDER BY id LIMIT $2";
	struct pg_q q = {0};
	qte(&q, 1, after_id); /* "": every id is after it */
	qi(&q, 2, limit);
	struct store_hook_endpoint row;
	return pg_each(t, sql, &q, "webhook endpoint page", pg_hook_row, &row, fn, arg);
}

#define PG_DELIVERY_COLS                                                                   \
	"id, tenant_id, endpoint_id, event_id, message_id, type, body, status, attempts,"  \
	" next_attempt_ms, lease_owner, lease_until_ms, last_status, created_at, updated_at"

static void pg_delivery_row(PGresult *res, int i, void *row)
{
	struct store_hook_delivery *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 2, r->endpoint_id, sizeof r->endpoint_id);
	ct(res, i, 3, r->event_id, sizeof r->event_id);
	ct(res, i, 4, r->message_id, sizeof r->message_id);
	ct(res, i, 5, r->type, sizeof r->type);
	r->body = PQgetvalue(res, i, 6); /* borrowed for the callback */
	ct(res, i, 7, r->status, sizeof r->status);
	r->attempts = (int)ci(res, i, 8);
	r->next_attempt_ms = ci(res, i, 9);
	ct(res, i, 10, r->lease_owner, sizeof r->lease_owner);
	r->lease_until_ms = ci(res, i, 11);
	r->last_status = (int)ci(res, i, 12);
	r->created_at = ci(res, i, 13);
	r->updated_at = ci(res, i, 14);
}

static enum store_status pg_hook_delivery_insert(struct store_tx *t, const struct store_hook_delivery *r)
{
	static const char sql[] = "INSERT INTO webhook_deliveries(" PG_DELIVERY_COLS ")"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
				  " ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->endpoint_id);
	qt(&q, 4, r->event_id);
	qt(&q, 5, r->message_id);
	qt(&q, 6, r->type);
	qte(&q, 7, r->body);
	qt(&q, 8, r->status);
	qi(&q, 9, r->attempts);
	qi(&q, 10, r->next_attempt_ms);
	qte(&q, 11, r->lease_owner);
	qi(&q, 12, r->lease_until_ms);
	qi(&q, 13, r->last_status);
	qi(&q, 14, r->created_at);
	qi(&q, 15, r->updated_at);
	return pg_insert(t, sql, &q, "webhook delivery insert");
}

/* The SQLite claim's fairness (see sqlite_store.c and docs/WEBHOOKS.md),
 * in PostgreSQL: the loose index scan of endpoints, each one's oldest due
 * deliveries through LATERAL, the per-endpoint and per-tenant caps; then
 * the picked rows are locked with SKIP LOCKED and their lease rechecked,
 * so two nodes claiming at once never lease one delivery twice. */
static const char pg_sql_delivery_claim[] =
	"WITH RECURSIVE eps(e) AS ("
	"  SELECT (SELECT MIN(endpoint_id) FROM webhook_deliveries WHERE status = 'pending')"
	"  UNION ALL SELECT (SELECT MIN(endpoint_id) FROM webhook_deliveries"
	"   WHERE status = 'pending' AND endpoint_id > eps.e) FROM eps WHERE eps.e IS NOT NULL),"
	" leased AS (SELECT tenant_id, endpoint_id, COUNT(*) AS n FROM webhook_deliveries"
	"  WHERE status = 'pending' AND lease_until_ms > 0 AND lease_until_ms > $1::bigint"
	"  GROUP BY tenant_id, endpoint_id),"
	" tleased AS (SELECT tenant_id, SUM(n)::bigint AS n FROM leased GROUP BY tenant_id),"
	" due AS (SELECT d.id, d.tenant_id, d.endpoint_id, d.next_attempt_ms, ROW_NUMBER() OVER"
	"  (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_ms, d.id) AS rn"
	"  FROM eps CROSS JOIN LATERAL (SELECT x.id, x.tenant_id, x.endpoint_id, x.next_attempt_ms"
	"   FROM webhook_deliveries x WHERE x.endpoint_id = eps.e AND x.status = 'pending'"
	"   AND x.next_attempt_ms <= $1::bigint AND x.lease_until_ms <= $1::bigint"
	"   ORDER BY x.next_attempt_ms LIMIT $5::bigint) d WHERE eps.e IS NOT NULL),"
	" fit AS (SELECT due.id, due.tenant_id, due.next_attempt_ms, due.rn FROM due"
	"  LEFT JOIN leased ON leased.endpoint_id = due.endpoint_id"
	"  WHERE due.rn + COALESCE(leased.n, 0) <= $5::bigint),"
	" ranked AS (SELECT id, tenant_id, next_attempt_ms, ROW_NUMBER() OVER"
	"  (PARTITION BY tenant_id ORDER BY rn, next_attempt_ms, id) AS trn FROM fit),"
	" pick AS (SELECT ranked.id FROM ranked LEFT JOIN tleased ON tleased.tenant_id = ranked.tenant_id"
	"  WHERE ranked.trn + COALESCE(tleased.n, 0) <= $6::bigint"
	"  ORDER BY ranked.trn, ranked.next_attempt_ms, ranked.id LIMIT $4::bigint)"
	" UPDATE webhook_deliveries SET lease_owner = $2, lease_until_ms = $3::bigint WHERE id IN ("
	"  SELECT w.id FROM webhook_deliveries w WHERE w.id IN (SELECT id FROM pick)"
	"  AND w.status = 'pending' AND w.lease_until_ms <= $1::bigint FOR UPDATE SKIP LOCKED)"
	" RETURNING " PG_DELIVERY_COLS;

static enum store_status pg_hook_delivery_claim(struct store_tx *t, int64_t now_ms, const char *owner,
						int64_t lease_until_ms, int limit, int per_endpoint,
						int per_tenant, store_each_fn fn, void *arg)
{
	struct pg_q q = {0};
	qi(&q, 1, now_ms);
	qt(&q, 2, owner);
	qi(&q, 3, lease_until_ms);
	qi(&q, 4, limit);
	qi(&q, 5, per_endpoint);
	qi(&q, 6, per_tenant);
	struct store_hook_delivery row;
	return pg_each(t, pg_sql_delivery_claim, &q, "webhook delivery claim", pg_delivery_row, &row,
		       fn, arg);
}

static enum store_status pg_hook_delivery_finish(struct store_tx *t, const struct store_hook_delivery *r,
						 const char *owner)
{
	static const char sql[] =
		"UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_ms = $4,"
		" last_status = $5, updated_at = $6, lease_owner = '', lease_until_ms = 0"
		" WHERE id = $1 AND status = 'pending' AND lease_owner = $7 AND lease_until_ms = $8";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->status);
	qi(&q, 3, r->attempts);
	qi(&q, 4, r->next_attempt_ms);
	qi(&q, 5, r->last_status);
	qi(&q, 6, r->updated_at);
	qt(&q, 7, owner);
	qi(&q, 8, r->lease_until_ms);
	return pg_exec1(t, sql, &q, "webhook delivery finish", STORE_NOT_FOUND);
}

static enum store_status pg_hook_delivery_cancel(struct store_tx *t, const char *endpoint_id)
{
	static const char sql[] = "UPDATE webhook_deliveries SET status = 'cancelled'"
				  " WHERE endpoint_id = $1 AND status = 'pending'";
	struct pg_q q = {0};
	qt(&q, 1, endpoint_id);
	return pg_exec(t, sql, &q, "webhook delivery cancel", NULL);
}

static const char pg_sql_delivery_next_due[] =
	"SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE status = 'pending'";

static enum store_status pg_hook_delivery_next_due(struct store_tx *t, int64_t *next_ms)
{
	return pg_min(t, pg_sql_delivery_next_due, "webhook next due", next_ms);
}

static enum store_status pg_hook_delivery_release_leases(struct store_tx *t,
							const char *owner_prefix)
{
	static const char sql[] = "UPDATE webhook_deliveries SET lease_owner = '',"
				  " lease_until_ms = 0 WHERE status = 'pending' AND lease_until_ms > 0"
				  " AND starts_with(lease_owner, $1)";
	struct pg_q q = {0};
	qt(&q, 1, owner_prefix);
	return pg_exec(t, sql, &q, "webhook release leases", NULL);
}

static enum store_status pg_hook_delivery_of_event(struct store_tx *t, const char *endpoint_id,
						   const char *event_id, store_each_fn fn, void *arg)
{
	/* The result is buffered client-side: fn may write in tx. */
	static const char sql[] = "SELECT " PG_DELIVERY_COLS " FROM webhook_deliveries"
				  " WHERE endpoint_id = $1 AND event_id = $2 ORDER BY id DESC LIMIT 16";
	struct pg_q q = {0};
	qt(&q, 1, endpoint_id);
	qt(&q, 2, event_id);
	struct store_hook_delivery row;
	return pg_each(t, sql, &q, "deliveries of event", pg_delivery_row, &row, fn, arg);
}

static enum store_status pg_hook_attempt_insert(struct store_tx *t, const struct store_hook_attempt *r)
{
	static const char sql[] =
		"INSERT INTO webhook_attempts(id, tenant_id, endpoint_id, delivery_id, event_id,"
		" attempt, status_code, error, duration_ms, created_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
	struct pg_q q = {0};
	qt(&q, 1, r->id);
	qt(&q, 2, r->tenant_id);
	qt(&q, 3, r->endpoint_id);
	qt(&q, 4, r->delivery_id);
	qt(&q, 5, r->event_id);
	qi(&q, 6, r->attempt);
	qi(&q, 7, r->status_code);
	qte(&q, 8, r->error);
	qi(&q, 9, r->duration_ms);
	qi(&q, 10, r->created_at);
	return pg_insert(t, sql, &q, "webhook attempt insert");
}

static void pg_attempt_row(PGresult *res, int i, void *row)
{
	struct store_hook_attempt *r = row;
	ct(res, i, 0, r->id, sizeof r->id);
	ct(res, i, 1, r->tenant_id, sizeof r->tenant_id);
	ct(res, i, 2, r->endpoint_id, sizeof r->endpoint_id);
	ct(res, i, 3, r->delivery_id, sizeof r->delivery_id);
	ct(res, i, 4, r->event_id, sizeof r->event_id);
	r->attempt = (int)ci(res, i, 5);
	r->status_code = (int)ci(res, i, 6);
	ct(res, i, 7, r->error, sizeof r->error);
	r->duration_ms = ci(res, i, 8);
	r->created_at = ci(res, i, 9);
}

static enum store_status pg_hook_attempt_list(struct store_tx *t, const char *tenant_id,
					      const char *endpoint_id, const char *before_id,
					      int limit, store_each_fn fn, void *arg)
{
	static const char sql[] =
		"SELECT id, tenant_id, endpoint_id, delivery_id, event_id, attempt, status_code,"
		" error, duration_ms, created_at FROM webhook_attempts WHERE tenant_id = $1"
		" AND endpoint_id = $2 AND ($3::text IS NULL OR id < $3) ORDER BY id DESC LIMIT $4";
	struct pg_q q = {0};
	qt(&q, 1, tenant_id);
	qt(&q, 2, endpoint_id);
	qt(&q, 3, before_id);
	qi(&q, 4, limit);
	struct store_hook_attempt row;
	return pg_each(t, sql, &q, "webhook attempt list", pg_attempt_row, &row, fn, arg);
}

/* ---- query plans ----------------------------------------------------------- */

static const char *const pg_list_filter_names[PG_LIST_FILTERS] = {
	"", " status", " account", " status+account", " client", " status+client",
	" account+client", " status+account+client",
};
static const char *const pg_list_dir_names[PG_LIST_DIRS] = {"newest", "before", "after"};

/* EXPLAIN of sql with every parameter '0' (a text literal PostgreSQL
 * casts to whatever the parameter is), one step per plan line. */
static enum store_status pg_plan_of(struct store_tx *t, const char *name, const char *sql,
				    store_each_fn fn, void *arg)
{
	struct pg_tx *tx = (struct pg_tx *)t;
	int nparams = 0;
	for (const char *p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
		int k = atoi(p + 1);
		if (k > nparams)
			nparams = k;
	}
	const char *vals[PG_PARAMS_MAX];
	for (int i = 0; i < PG_PARAMS_MAX; i++)
		vals[i] = "0";
	size_t len = strlen(sql) + 16;
	char *text = malloc(len);
	if (!text)
		return STORE_FAIL;
	snprintf(text, len, "EXPLAIN %s", sql);
	PGresult *r = PQexecParams(tx->conn->db, text, nparams, NULL, vals, NULL, NULL, 0);
	free(text);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		enum store_status s = pg_err(tx, r, "explain");
		PQclear(r);
		return s;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_plan_step step = {name, PQgetvalue(r, i, 0)};
		fn(arg, &step);
	}
	PQclear(r);
	return STORE_OK;
}

static enum store_status pg_query_plans(struct store_tx *t, store_each_fn fn, void *arg)
{
	static const struct {
		const char *name, *sql;
	} fixed[] = {
		{"session_get", pg_sql_session_get},
		{"session_claim", pg_sql_session_claim},
		{"session_next_due", pg_sql_session_next_due},
		{"session_release_leases", pg_sql_session_release},
		{"event_list", pg_sql_event_list},
		{"event_list resource", pg_sql_event_list_resource},
		{"payout_list session", pg_sql_payout_list_session},
		{"session_sum", pg_sql_session_sum},
		{"hook_delivery_claim", pg_sql_delivery_claim},
		{"hook_delivery_next_due", pg_sql_delivery_next_due},
	};
	enum store_status s = STORE_OK;
	for (size_t i = 0; s == STORE_OK && i < sizeof fixed / sizeof *fixed; i++)
		s = pg_plan_of(t, fixed[i].name, fixed[i].sql, fn, arg);
	for (int f = 0; s == STORE_OK && f < PG_LIST_FILTERS; f++)
		for (int d = 0; s == STORE_OK && d < PG_LIST_DIRS; d++) {
			char name[64];
			snprintf(name, sizeof name, "session_list%s %s", pg_list_filter_names[f],
				 pg_list_dir_names[d]);
			s = pg_plan_of(t, name, pg_list_text(f, (enum pg_list_dir)d), fn, arg);
		}
	return s;
}

/* ---- copying a database in (store_copy) ---------------------------------- */

/* Dynamic SQL (names from the catalog or the source), unprepared. */
static PGresult *pg_dyn(struct store_tx *t, const char *sql, int n, const char *const *vals,
			const int *lens, const int *fmts, enum store_status *st, const char *what)
{
	struct pg_tx *tx = (struct pg_tx *)t;
	if (tx->conn->broken || tx->retry) {
		*st = tx->conn->broken ? STORE_UNAVAILABLE : STORE_RETRY;
		return NULL;
	}
	PGresult *r = PQexecParams(tx->conn->db, sql, n, NULL, vals, lens, fmts, 0);
	ExecStatusType es = PQresultStatus(r);
	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
		*st = STORE_OK;
		return r;
	}
	*st = pg_err(tx, r, what);
	PQclear(r);
	return NULL;
}

/* Parents first: each table's depth is its longest chain of foreign keys
 * to a table with none (a self-reference, transfers.pending_id, is left
 * to the row order), and tables go by depth. */
static enum store_status pg_copy_tables(struct store_tx *t, store_name_fn fn, void *arg)
{
	static const char sql[] =
		"WITH RECURSIVE t AS (SELECT c.oid FROM pg_class c"
		"  WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
		"  AND c.relname <> 'schema_version'),"
		" fk AS (SELECT conrelid AS child, confrelid AS parent FROM pg_constraint"
		"  WHERE contype = 'f' AND conrelid <> confrelid),"
		" d(oid, depth) AS (SELECT oid, 0 FROM t"
		"  UNION ALL SELECT fk.child, d.depth + 1 FROM d JOIN fk ON fk.parent = d.oid"
		"  WHERE d.depth < 64)"
		" SELECT c.relname FROM d JOIN pg_class c ON c.oid = d.oid JOIN t ON t.oid = d.oid"
		" GROUP BY c.relname ORDER BY max(d.depth), c.relname";
	enum store_status st;
	PGresult *r = pg_dyn(t, sql, 0, NULL, NULL, NULL, &st, "copy tables");
	if (!r)
		return st;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0));
	PQclear(r);
	return STORE_OK;
}

/* "name", quoted for SQL text (PQescapeIdentifier); NULL on failure. */
static char *pg_ident(struct store_tx *t, const char *name)
{
	return PQescapeIdentifier(((struct pg_tx *)t)->conn->db, name, strlen(name));
}

static enum store_status pg_copy_count(struct store_tx *t, const char *table, int64_t *rows)
{
	char *id = pg_ident(t, table);
	if (!id)
		return STORE_FAIL;
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", id);
	PQfreemem(id);
	enum store_status st;
	PGresult *r = pg_dyn(t, sql, 0, NULL, NULL, NULL, &st, "copy count");
	if (!r)
		return st;
	*rows = ci(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

static enum store_status pg_copy_insert(struct store_tx *t, const struct store_copy_row *row)
{
	if (row->n < 1 || row->n > LIMIT_COPY_COLUMNS)
		return STORE_FAIL;
	/* INSERT INTO "t" ("a", "b") VALUES ($1, $2): at most 64 names of at
	 * most 64 bytes each, each doubled by quoting at worst. */
	char sql[LIMIT_COPY_COLUMNS * 140 + 256];
	size_t n = 0;
	char *id = pg_ident(t, row->table);
	if (!id)
		return STORE_FAIL;
	n += (size_t)snprintf(sql + n, sizeof sql - n, "INSERT INTO %s (", id);
	PQfreemem(id);
	for (int i = 0; i < row->n && n < sizeof sql; i++) {
		if (!(id = pg_ident(t, row->columns[i])))
			return STORE_FAIL;
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s", i ? ", " : "", id);
		PQfreemem(id);
	}
	for (int i = 0; i < row->n && n < sizeof sql; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s$%d", i ? ", " : ") VALUES (", i + 1);
	if (n + 2 > sizeof sql)
		return STORE_FAIL;
	memcpy(sql + n, ")", 2);
	const char *vals[LIMIT_COPY_COLUMNS];
	int lens[LIMIT_COPY_COLUMNS], fmts[LIMIT_COPY_COLUMNS];
	for (int i = 0; i < row->n; i++) {
		const struct store_copy_value *v = &row->values[i];
		vals[i] = v->kind == STORE_COPY_NULL ? NULL : v->kind == STORE_COPY_BLOB && !v->p ? "" : v->p;
		lens[i] = (int)v->len;
		/* Bytes go in binary (bytea byte for byte); numbers and text as
		 * text, each converted to its column's type by the server. */
		fmts[i] = v->kind == STORE_COPY_BLOB;
	}
	enum store_status st;
	PGresult *r = pg_dyn(t, sql, row->n, vals, lens, fmts, &st, "copy insert");
	PQclear(r);
	return st;
}

/* Identity columns (the event and idempotency cursors) go on past the
 * largest value copied, as if the rows had been inserted here. */
static enum store_status pg_copy_finish(struct store_tx *t)
{
	static const char sql[] = "SELECT table_name, column_name FROM information_schema.columns"
				  " WHERE table_schema = current_schema() AND is_identity = 'YES'";
	enum store_status st;
	PGresult *cols = pg_dyn(t, sql, 0, NULL, NULL, NULL, &st, "copy identities");
	if (!cols)
		return st;
	for (int i = 0; st == STORE_OK && i < PQntuples(cols); i++) {
		char *tab = pg_ident(t, PQgetvalue(cols, i, 0)), *col = pg_ident(t, PQgetvalue(cols, i, 1));
		char q[512];
		if (tab && col)
			snprintf(q, sizeof q,
				 "SELECT setval(pg_get_serial_sequence($1, $2),"
				 " COALESCE((SELECT max(%s) FROM %s), 0) + 1, false)",
				 col, tab);
		const char *vals[2] = {tab, PQgetvalue(cols, i, 1)};
		PGresult *r = tab && col ? pg_dyn(t, q, 2, vals, NULL, NULL, &st, "copy setval") : NULL;
		if (!tab || !col)
			st = STORE_FAIL;
		PQclear(r);
		PQfreemem(tab);
		PQfreemem(col);
	}
	PQclear(cols);
	return st;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.run = pg_run,
	.run_all = pg_run_all,
	.tenant_insert = pg_tenant_insert,
	.tenant_get = pg_tenant_get,
	.principal_insert = pg_principal_insert,
	.api_key_insert = pg_api_key_insert,
	.api_key_find = pg_api_key_find,
	.client_insert = pg_client_insert,
	.client_get = pg_client_get,
	.client_lock = pg_client_lock,
	.account_insert = pg_account_insert,
	.account_get = pg_account_get,
	.account_get_system = pg_account_get_system,
	.account_each = pg_account_each,
	.balance_get = pg_balance_get,
	.balance_lock = pg_balance_lock,
	.balance_put = pg_balance_put,
	.balance_each = pg_balance_each,
	.transfer_insert = pg_transfer_insert,
	.transfer_each = pg_transfer_each,
	.transfer_each_session = pg_transfer_each_session,
	.destination_insert = pg_destination_insert,
	.destination_get = pg_destination_get,
	.session_insert = pg_session_insert,
	.session_get = pg_session_get,
	.session_list = pg_session_list,
	.session_each = pg_session_each,
	.session_update = pg_session_update,
	.session_claim = pg_session_claim,
	.session_next_due = pg_session_next_due,
	.session_release_leases = pg_session_release_leases,
	.approval_insert = pg_approval_insert,
	.approval_get = pg_approval_get,
	.approval_update = pg_approval_update,
	.approval_list = pg_approval_list,
	.policy_get = pg_policy_get,
	.policy_put = pg_policy_put,
	.fx_get = pg_fx_get,
	.fx_put = pg_fx_put,
	.setting_get = pg_setting_get,
	.setting_get_many = pg_setting_get_many,
	.setting_put = pg_setting_put,
	.event_insert = pg_event_insert,
	.event_list = pg_event_list,
	.payout_get = pg_payout_get,
	.payout_insert = pg_payout_insert,
	.payout_touch = pg_payout_touch,
	.payout_list = pg_payout_list,
	.chain_nonce_take = pg_chain_nonce_take,
	.chain_tx_get = pg_chain_tx_get,
	.chain_tx_insert = pg_chain_tx_insert,
	.chain_tx_update = pg_chain_tx_update,
	.chain_pending_units = pg_chain_pending_units,
	.ext_get = pg_ext_get,
	.ext_put = pg_ext_put,
	.destination_list = pg_destination_list,
	.exchange_rate_insert = pg_exchange_rate_insert,
	.exchange_rate_get = pg_exchange_rate_get,
	.exchange_rate_use = pg_exchange_rate_use,
	.partner_fee_insert = pg_partner_fee_insert,
	.partner_fee_get = pg_partner_fee_get,
	.session_sum = pg_session_sum,
	.session_count_by_status = pg_session_count_by_status,
	.held_by_currency = pg_held_by_currency,
	.hook_endpoint_insert = pg_hook_endpoint_insert,
	.hook_endpoint_get = pg_hook_endpoint_get,
	.hook_endpoint_update = pg_hook_endpoint_update,
	.hook_endpoint_delete = pg_hook_endpoint_delete,
	.hook_endpoint_list = pg_hook_endpoint_list,
	.hook_endpoint_page = pg_hook_endpoint_page,
	.hook_delivery_insert = pg_hook_delivery_insert,
	.hook_delivery_claim = pg_hook_delivery_claim,
	.hook_delivery_finish = pg_hook_delivery_finish,
	.hook_delivery_cancel = pg_hook_delivery_cancel,
	.hook_delivery_next_due = pg_hook_delivery_next_due,
	.hook_delivery_release_leases = pg_hook_delivery_release_leases,
	.hook_delivery_of_event = pg_hook_delivery_of_event,
	.hook_attempt_insert = pg_hook_attempt_insert,
	.hook_attempt_list = pg_hook_attempt_list,
	.idem_insert = pg_idem_insert,
	.idem_get = pg_idem_get,
	.query_plans = pg_query_plans,
	.ping = pg_ping,
	.copy_tables = pg_copy_tables,
	.copy_count = pg_copy_count,
	.copy_insert = pg_copy_insert,
	.copy_finish = pg_copy_finish,
};
