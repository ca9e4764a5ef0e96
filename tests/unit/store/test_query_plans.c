/*
 * test_query_plans.c - the statements whose cost must not grow with the
 * tables (store_ops.query_plans) keep plans that are O(page size) at any
 * size (docs/SCALE.md): no full table scan, no sort of a whole result, and
 * every list page seeks an index on each column it filters on, with its
 * cursor as a range on the id that index ends in. Plans are structural
 * (SQLite has no statistics here, as in production), so no table needs
 * rows and nothing is timed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch_db.h"
#include "store/store.h"

#define PLANS_MAX 256

struct plans {
	int n;
	char name[PLANS_MAX][64];
	char plan[PLANS_MAX][512]; /* steps joined with " | " */
};

static void on_step(void *arg, const void *row)
{
	struct plans *p = arg;
	const struct store_plan_step *s = row;
	if (p->n == 0 || strcmp(p->name[p->n - 1], s->statement) != 0) {
		assert_true(p->n < PLANS_MAX);
		snprintf(p->name[p->n], sizeof p->name[p->n], "%s", s->statement);
		p->plan[p->n][0] = '\0';
		p->n++;
	}
	char *out = p->plan[p->n - 1];
	size_t used = strlen(out);
	snprintf(out + used, sizeof p->plan[0] - used, "%s%s", used ? " | " : "", s->detail);
}

static enum store_status plans_tx(struct store_tx *tx, void *arg)
{
	((struct plans *)arg)->n = 0;
	return tx->store->ops->query_plans(tx, on_step, arg);
}

static struct store *s_open(char path[64])
{
	snprintf(path, 64, "/tmp/offramp-plans-%d.db", getpid());
	const char *err = NULL;
	struct store *s = store_open_sqlite(path, &err);
	assert_non_null(s);
	return s;
}

static void s_close(struct store *s, const char *path)
{
	store_close(s);
	scratch_db_remove(path);
}

static const char *plan_of(const struct plans *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return p->plan[i];
	fail_msg("no plan for %s", name);
	return NULL;
}

static void must_have(const char *name, const char *plan, const char *part)
{
	if (!strstr(plan, part))
		fail_msg("%s: plan \"%s\" lacks \"%s\"", name, plan, part);
}

static void test_no_statement_scans_a_table(void **state)
{
	char path[64];
	struct store *s = s_open(path);
	static struct plans p;
	assert_int_equal(store_run(s, false, plans_tx, &p), STORE_OK);
	assert_true(p.n > 20);
	for (int i = 0; i < p.n; i++) {
		/* "SCAN t" reads all of t; "SCAN t USING INDEX i" all of i. */
		const char *scan = strstr(p.plan[i], "SCAN ");
		if (scan && !strstr(scan, " USING "))
			fail_msg("%s scans a table: %s", p.name[i], p.plan[i]);
		bool bounded_sort = strcmp(p.name[i], "payout_list session") == 0; /* one session's */
		if (!bounded_sort && strstr(p.plan[i], "TEMP B-TREE"))
			fail_msg("%s sorts its whole result: %s", p.name[i], p.plan[i]);
	}
	s_close(s, path);
}

/* The filter combinations the API asks for, each with the index columns
 * its plan must seek. */
static void test_list_pages_seek_their_filters(void **state)
{
	char path[64];
	struct store *s = s_open(path);
	static struct plans p;
	assert_int_equal(store_run(s, false, plans_tx, &p), STORE_OK);
	static const struct {
		const char *filters; /* as in the statement's name */
		const char *seeks[3];
	} cases[] = {
		{"", {NULL}},
		{" status", {"status=?", NULL}},
		{" account", {"account_id=?", NULL}},
		{" status+account", {"account_id=?", "status=?", NULL}},
		{" client", {"client_id=?", NULL}},
	};
	static const struct {
		const char *dir, *cursor;
	} dirs[] = {{"newest", NULL}, {"before", "id<?"}, {"after", "id>?"}};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
		for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
			char name[96];
			snprintf(name, sizeof name, "session_list%s %s", cases[c].filters, dirs[d].dir);
			const char *plan = plan_of(&p, name);
			must_have(name, plan, "SEARCH sessions USING INDEX");
			must_have(name, plan, "tenant_id=?");
			for (int k = 0; cases[c].seeks[k]; k++)
				must_have(name, plan, cases[c].seeks[k]);
			if (dirs[d].cursor)
				must_have(name, plan, dirs[d].cursor);
		}
	must_have("session_get", plan_of(&p, "session_get"), "(id=?)");
	/* The workers read the partial index of in-flight sessions only. */
	must_have("session_claim", plan_of(&p, "session_claim"), "INDEX sessions_due");
	must_have("session_next_due", plan_of(&p, "session_next_due"), "INDEX sessions_due");
	must_have("session_release_leases", plan_of(&p, "session_release_leases"),
		  "INDEX sessions_due");
	must_have("event_list resource", plan_of(&p, "event_list resource"), "resource_id=?");
	must_have("event_list", plan_of(&p, "event_list"), "seq>?");
	must_have("payout_list session", plan_of(&p, "payout_list session"), "session_id=?");
	s_close(s, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_statement_scans_a_table),
		cmocka_unit_test(test_list_pages_seek_their_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
