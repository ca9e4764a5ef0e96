/*
 * test_committer.c - the SQLite backend's group commit (store.h, "Group
 * commit" in sqlite_store.c): many threads' writes share commits; a write
 * that refuses (ABORT), collides (EXISTS) or fails rolls back only its own
 * savepoint; every STORE_OK is on disk when the caller hears it (checked
 * by reopening the file); batches of one work; store_run_all submits
 * together and reports each outcome.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_commit_isolates_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_commit_per_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_all, setup, teardown),
	};
	return cmocka_run_group_tests_name("committer", tests, NULL, NULL);
}
