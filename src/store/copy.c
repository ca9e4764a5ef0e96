/*
 * copy.c - store_copy: a whole database from one backend into another
 * (offramp admin migrate-sqlite), through the copy_* ops only, so it knows
 * no SQL and no backend.
 *
 * Shape: the target's write transaction is the outer one. Inside it (one
 * job of the target's committer, so all or nothing) it checks the target
 * is empty, then runs one read transaction on the source, which streams
 * every table, parents first in the target's order, row by row into the
 * target: one snapshot of the source, no row buffered. Then generated keys
 * are moved past the copied ones, and after the commit each table's count
 * is read on both sides and compared.
 *
 * The job is re-runnable as every store fn must be: a rerun (contention)
 * starts the report afresh and copies again from the start.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"

struct copy_names {
	int n;
	bool overflow;
	char names[LIMIT_COPY_TABLES][64];
};

static void copy_name(void *arg, const char *name)
{
	struct copy_names *t = arg;
	if (t->n >= LIMIT_COPY_TABLES || strlen(name) >= sizeof t->names[0]) {
		t->overflow = true;
		return;
	}
	snprintf(t->names[t->n++], sizeof t->names[0], "%s", name);
}

static enum store_status tables_tx(struct store_tx *tx, void *arg)
{
	struct copy_names *t = arg;
	t->n = 0;
	t->overflow = false;
	enum store_status st = STORE_CALL(tx, copy_tables, copy_name, t);
	return st == STORE_OK && t->overflow ? STORE_FAIL : st;
}

static bool names_have(const struct copy_names *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->names[i], name))
			return true;
	return false;
}

struct copy_job {
	struct store *from;
	const struct copy_names *target; /* the tables, parents first */
	const struct copy_names *source;
	struct store_copy_report *r;
	struct store_tx *to_tx; /* the target's transaction, while the source streams */
	int cur;                /* the table being copied: r->tables[cur] */
	const struct store_progress *progress; /* may be NULL */
};

static void copy_progress(const struct copy_job *j, bool done)
{
	if (j->progress && j->progress->fn)
		j->progress->fn(j->progress->arg, j->r->tables[j->cur].name, j->r->tables[j->cur].rows,
				done);
}

static enum store_status copy_row(void *arg, const struct store_copy_row *row)
{
	struct copy_job *j = arg;
	enum store_status st = STORE_CALL(j->to_tx, copy_insert, row);
	if (st != STORE_OK) {
		snprintf(j->r->problem, sizeof j->r->problem,
			 "table %s: a row was refused by the target (%s)", row->table,
			 store_status_name(st));
		return st == STORE_EXISTS ? STORE_FAIL : st;
	}
	j->r->tables[j->cur].rows++;
	j->r->rows++;
	if (j->r->tables[j->cur].rows % LIMIT_PROGRESS_ROWS == 0)
		copy_progress(j, false);
	return STORE_OK;
}

/* The source's read transaction: every table in the target's order. */
static enum store_status stream_tx(struct store_tx *tx, void *arg)
{
	struct copy_job *j = arg;
	for (int i = 0; i < j->r->ntables; i++) {
		j->cur = i;
		if (!names_have(j->source, j->r->tables[i].name))
			continue; /* a table the source's schema does not have yet */
		enum store_status st = STORE_CALL(tx, copy_rows, j->r->tables[i].name, copy_row, j);
		if (st != STORE_OK)
			return st;
		copy_progress(j, true);
	}
	return STORE_OK;
}

/* The target's write transaction. */
static enum store_status load_tx(struct store_tx *tx, void *arg)
{
	struct copy_job *j = arg;
	struct store_copy_report *r = j->r;
	r->rows = 0;
	r->problem[0] = '\0';
	r->ntables = j->target->n;
	for (int i = 0; i < r->ntables; i++) {
		snprintf(r->tables[i].name, sizeof r->tables[i].name, "%s", j->target->names[i]);
		r->tables[i].rows = 0;
		int64_t n = 0;
		enum store_status st = STORE_CALL(tx, copy_count, r->tables[i].name, &n);
		if (st != STORE_OK)
			return st;
		if (n > 0) {
			snprintf(r->problem, sizeof r->problem,
				 "the target database is not empty (table %s holds %lld rows)",
				 r->tables[i].name, (long long)n);
			return STORE_EXISTS;
		}
	}
	j->to_tx = tx;
	/* A read of another store from inside this write: its own
	 * transaction, on its own connection, on this thread. */
	enum store_status st = store_run(j->from, false, stream_tx, j);
	j->to_tx = NULL;
	if (st != STORE_OK) {
		if (!r->problem[0])
			snprintf(r->problem, sizeof r->problem, "reading the source failed (%s)",
				 store_status_name(st));
		return st == STORE_EXISTS || st == STORE_NOT_FOUND ? STORE_FAIL : st;
	}
	st = tx->store->ops->copy_finish(tx);
	if (st != STORE_OK)
		snprintf(r->problem, sizeof r->problem, "moving the target's sequences failed (%s)",
			 store_status_name(st));
	return st;
}

struct count_arg {
	const struct store_copy_report *r;
	int64_t rows[LIMIT_COPY_TABLES];
	const struct copy_names *only; /* count only these tables (others: 0) */
};

static enum store_status count_tx(struct store_tx *tx, void *arg)
{
	struct count_arg *c = arg;
	for (int i = 0; i < c->r->ntables; i++) {
		c->rows[i] = 0;
		if (c->only && !names_have(c->only, c->r->tables[i].name))
			continue;
		enum store_status st = STORE_CALL(tx, copy_count, c->r->tables[i].name, &c->rows[i]);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

/* After the commit: both sides hold the same rows, table by table. */
static enum store_status copy_check(struct store *from, struct store *to,
				    const struct copy_names *source, struct store_copy_report *r)
{
	struct count_arg a = {.r = r, .only = source}, b = {.r = r};
	enum store_status st = store_run(from, false, count_tx, &a);
	if (st == STORE_OK)
		st = store_run(to, false, count_tx, &b);
	if (st != STORE_OK) {
		snprintf(r->problem, sizeof r->problem, "counting the rows copied failed (%s)",
			 store_status_name(st));
		return st;
	}
	for (int i = 0; i < r->ntables; i++)
		if (a.rows[i] != b.rows[i] || b.rows[i] != r->tables[i].rows) {
			snprintf(r->problem, sizeof r->problem,
				 "table %s: %lld rows in the source, %lld in the target",
				 r->tables[i].name, (long long)a.rows[i], (long long)b.rows[i]);
			return STORE_FAIL;
		}
	return STORE_OK;
}

enum store_status store_copy(struct store *from, struct store *to, const struct store_progress *progress,
			     struct store_copy_report *r)
{
	memset(r, 0, sizeof *r);
	const struct store_ops *f = from->ops, *t = to->ops;
	if (!f->copy_tables || !f->copy_rows || !f->copy_count || !t->copy_tables ||
	    !t->copy_insert || !t->copy_count || !t->copy_finish) {
		snprintf(r->problem, sizeof r->problem, "cannot copy from %s into %s", f->name,
			 t->name);
		return STORE_FAIL;
	}
	static struct copy_names source, target; /* admin, once per process: off the stack */
	enum store_status st = store_run(from, false, tables_tx, &source);
	if (st == STORE_OK)
		st = store_run(to, false, tables_tx, &target);
	if (st != STORE_OK) {
		snprintf(r->problem, sizeof r->problem, "listing the tables failed (%s)",
			 store_status_name(st));
		return st;
	}
	for (int i = 0; i < source.n; i++)
		if (!names_have(&target, source.names[i])) {
			snprintf(r->problem, sizeof r->problem,
				 "table %s of the source has no counterpart in the target",
				 source.names[i]);
			return STORE_NOT_FOUND;
		}
	struct copy_job j = {.from = from, .target = &target, .source = &source, .r = r,
			     .progress = progress};
	st = store_run(to, true, load_tx, &j);
	if (st != STORE_OK) {
		if (!r->problem[0])
			snprintf(r->problem, sizeof r->problem, "the copy failed (%s)",
				 store_status_name(st));
		return st;
	}
	log_info("copy: %lld rows in %d tables", (long long)r->rows, r->ntables);
	return copy_check(from, to, &source, r);
}
