/*
 * test_committer.c - the SQLite backend's group commit (store.h, "Group
 * commit" in sqlite_store.c): many threads' writes share commits; a write
 * that refuses (ABORT), collides (EXISTS) or fails rolls back only its own
 * savepoint; every STORE_OK is on disk when the caller hears it (checked
 * by reopening the file); batches of one work; store_run_all submits
 * together and reports each outcome; a lone write is not queued behind a
 * whole worker pass's bulk writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch_db.h"
#include "store/store.h"

#define THREADS 16
#define PER_THREAD 40

struct ins {
	char id[UUID_STR_LEN + 1];
	int mode; /* 0 commit, 1 insert then abort, 2 insert twice (EXISTS) */
};

static enum store_status ins_tx(struct store_tx *tx, void *arg)
{
	const struct ins *a = arg;
	struct store_tenant t = {.created_at = 1};
	snprintf(t.id, sizeof t.id, "%s", a->id);
	snprintf(t.name, sizeof t.name, "t");
	enum store_status st = STORE_CALL(tx, tenant_insert, &t);
	if (st != STORE_OK)
		return st;
	if (a->mode == 1)
		return STORE_ABORT;
	if (a->mode == 2)
		return STORE_CALL(tx, tenant_insert, &t);
	return STORE_OK;
}

struct get {
	const char *id;
	struct store_tenant t;
};

static enum store_status get_tx(struct store_tx *tx, void *arg)
{
	struct get *g = arg;
	return STORE_CALL(tx, tenant_get, g->id, &g->t);
}

static bool exists(struct store *s, const char *id)
{
	struct get g = {.id = id};
	return store_run(s, false, get_tx, &g) == STORE_OK;
}

struct worker {
	struct store *s;
	struct ins rows[PER_THREAD];
	enum store_status st[PER_THREAD];
};

static void *writer(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++)
		w->st[i] = store_run(w->s, true, ins_tx, &w->rows[i]);
	return NULL;
}

static char path[64];

static struct store *open_at(int batch_max)
{
	const char *err = NULL;
	struct store *s = store_open_sqlite(path, &err);
	assert_non_null(s);
	s->commit_batch_max = batch_max;
	return s;
}

static int setup(void **state)
{
	snprintf(path, sizeof path, "/tmp/test_committer_%d.db", (int)getpid());
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	scratch_db_remove(path);
	return 0;
}

static void race(int batch_max)
{
	struct store *s = open_at(batch_max);
	static struct worker w[THREADS];
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++) {
		w[t].s = s;
		for (int i = 0; i < PER_THREAD; i++) {
			assert_true(uuid_v7(w[t].rows[i].id));
			w[t].rows[i].mode = (t + i) % 5 == 0 ? 1 : (t + i) % 7 == 0 ? 2 : 0;
		}
		assert_int_equal(pthread_create(&th[t], NULL, writer, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	store_close(s);
	/* Reopened: exactly the committed ones are there. */
	s = open_at(batch_max);
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < PER_THREAD; i++) {
			const struct ins *r = &w[t].rows[i];
			enum store_status want = r->mode == 0 ? STORE_OK
						 : r->mode == 1 ? STORE_ABORT
								: STORE_EXISTS;
			assert_int_equal(w[t].st[i], want);
			assert_int_equal(exists(s, r->id), r->mode == 0);
		}
	}
	store_close(s);
}

static void test_group_commit_isolates_refusals(void **state) { race(LIMIT_COMMIT_BATCH_DEFAULT); }
static void test_one_commit_per_write(void **state) { race(1); }

static void test_run_all(void **state)
{
	struct store *s = open_at(8); /* 20 jobs: more than one batch */
	struct ins rows[20];
	void *args[20];
	enum store_status out[20];
	for (int i = 0; i < 20; i++) {
		assert_true(uuid_v7(rows[i].id));
		rows[i].mode = i % 3 == 1 ? 1 : 0;
		args[i] = &rows[i];
	}
	/* A duplicate of an earlier job in the same submission collides. */
	rows[19] = rows[0];
	rows[19].mode = 0;
	store_run_all(s, ins_tx, args, 20, out);
	for (int i = 0; i < 19; i++) {
		assert_int_equal(out[i], rows[i].mode == 0 ? STORE_OK : STORE_ABORT);
		assert_int_equal(exists(s, rows[i].id), rows[i].mode == 0);
	}
	assert_int_equal(out[19], STORE_EXISTS);
	store_close(s);
}

/* Fairness: 1,000 bulk writes queued at once, then one lone write. In
 * arrival order the lone one would run after all of them (four batches
 * later); it runs in the batch after the one in progress. */
#define BULK 1000
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t order_cv = PTHREAD_COND_INITIALIZER;
static int order_next, lone_at = -1;
static bool lone_queued;

struct ordered {
	struct ins row;
	bool first, lone;
};

static enum store_status ordered_tx(struct store_tx *tx, void *arg)
{
	struct ordered *o = arg;
	pthread_mutex_lock(&order_mu);
	/* The first bulk write holds its batch until the lone one is queued
	 * (plus a moment, for it to reach the queue). */
	while (o->first && !lone_queued)
		pthread_cond_wait(&order_cv, &order_mu);
	pthread_mutex_unlock(&order_mu);
	if (o->first)
		usleep(100 * 1000);
	pthread_mutex_lock(&order_mu);
	if (o->lone)
		lone_at = order_next;
	order_next++;
	pthread_mutex_unlock(&order_mu);
	return ins_tx(tx, &o->row);
}

struct bulk_arg {
	struct store *s;
	struct ordered *jobs;
	enum store_status *out;
};

static void *bulk_writer(void *arg)
{
	struct bulk_arg *b = arg;
	static void *args[BULK];
	for (int i = 0; i < BULK; i++)
		args[i] = &b->jobs[i];
	store_run_all(b->s, ordered_tx, args, BULK, b->out);
	return NULL;
}

static void test_lone_write_is_not_queued_behind_bulk(void **state)
{
	struct store *s = open_at(LIMIT_COMMIT_BATCH_DEFAULT);
	static struct ordered jobs[BULK];
	static enum store_status out[BULK];
	for (int i = 0; i < BULK; i++) {
		jobs[i] = (struct ordered){.first = i == 0};
		assert_true(uuid_v7(jobs[i].row.id));
	}
	struct bulk_arg b = {s, jobs, out};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, bulk_writer, &b), 0);
	usleep(100 * 1000); /* the bulk writes are queued, the first batch runs */
	struct ordered lone = {.lone = true};
	assert_true(uuid_v7(lone.row.id));
	pthread_mutex_lock(&order_mu);
	lone_queued = true;
	pthread_cond_broadcast(&order_cv);
	pthread_mutex_unlock(&order_mu);
	assert_int_equal(store_run(s, true, ordered_tx, &lone), STORE_OK);
	pthread_join(th, NULL);
	for (int i = 0; i < BULK; i++)
		assert_int_equal(out[i], STORE_OK);
	/* Batch one: 256 bulk writes; batch two: the bulk share, then it. */
	assert_true(lone_at >= 0);
	assert_true(lone_at <= LIMIT_COMMIT_BATCH_DEFAULT + LIMIT_COMMIT_BULK_SHARE);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_commit_isolates_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_commit_per_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lone_write_is_not_queued_behind_bulk, setup, teardown),
	};
	return cmocka_run_group_tests_name("committer", tests, NULL, NULL);
}
