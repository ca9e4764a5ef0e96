/*
 * test_session.c - unit tests for domain/session.c.
 *
 * The allowed transitions are written out here from session.h's diagram
 * and CONTRACT §5 (approve; reject or cancel while pending approval; payout
 * submitted; rail confirmed; a failed stage while executing or executed),
 * independently of the table in session.c. Every (status, event) pair is
 * tried: the listed ones must succeed with the listed next status, every
 * other one must fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "domain/session.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	enum session_status from;
	enum session_event ev;
	enum session_status to;
} allowed[] = {
	{SESSION_PENDING_APPROVAL, SEV_APPROVE, SESSION_EXECUTING},
	{SESSION_PENDING_APPROVAL, SEV_REJECT, SESSION_CANCELLED},
	{SESSION_PENDING_APPROVAL, SEV_CANCEL, SESSION_CANCELLED},
	{SESSION_EXECUTING, SEV_PAYOUT_SUBMITTED, SESSION_EXECUTED},
	{SESSION_EXECUTING, SEV_STAGE_FAILED, SESSION_FAILED},
	{SESSION_EXECUTED, SEV_RAIL_CONFIRMED, SESSION_SETTLED},
	{SESSION_EXECUTED, SEV_STAGE_FAILED, SESSION_FAILED},
	{SESSION_SETTLED, SEV_BANK_RETURNED, SESSION_RETURNED},
};

/* Independent of SESSION_STATUSES: name, terminal, hold. */
static const struct {
	enum session_status s;
	const char *name;
	bool terminal;
	enum session_hold hold;
} statuses[] = {
	{SESSION_PENDING_APPROVAL, "pending_approval", false, HOLD_PENDING},
	{SESSION_EXECUTING, "executing", false, HOLD_PENDING},
	{SESSION_EXECUTED, "executed", false, HOLD_PENDING},
	{SESSION_SETTLED, "settled", false, HOLD_POSTED},
	{SESSION_FAILED, "failed", true, HOLD_VOIDED},
	{SESSION_CANCELLED, "cancelled", true, HOLD_VOIDED},
	{SESSION_RETURNED, "returned", true, HOLD_POSTED},
};

static const struct {
	enum session_event e;
	const char *name;
} events[] = {
	{SEV_APPROVE, "approve"},
	{SEV_REJECT, "reject"},
	{SEV_CANCEL, "cancel"},
	{SEV_PAYOUT_SUBMITTED, "payout_submitted"},
	{SEV_RAIL_CONFIRMED, "rail_confirmed"},
	{SEV_STAGE_FAILED, "stage_failed"},
	{SEV_BANK_RETURNED, "bank_returned"},
};

static void test_every_pair(void **state)
{
	(void)state;
	int successes = 0;

	for (int s = 0; s < SESSION__COUNT; s++) {
		for (int e = 0; e < SEV__COUNT; e++) {
			int row = -1;
			for (size_t i = 0; i < COUNT(allowed); i++)
				if ((int)allowed[i].from == s && (int)allowed[i].ev == e)
					row = (int)i;
			enum session_status next = (enum session_status)-1;
			bool ok = session_transition((enum session_status)s,
						     (enum session_event)e, &next);
			const char *sn = session_status_name((enum session_status)s);
			const char *en = session_event_name((enum session_event)e);

			if (row < 0 && ok)
				fail_msg("%s --%s--> %s is allowed, must not be", sn, en,
					 session_status_name(next));
			if (row >= 0 && !ok)
				fail_msg("%s --%s--> refused, want %s", sn, en,
					 session_status_name(allowed[row].to));
			if (row >= 0 && next != allowed[row].to)
				fail_msg("%s --%s--> %s, want %s", sn, en,
					 session_status_name(next),
					 session_status_name(allowed[row].to));
			if (ok)
				successes++;
		}
	}
	assert_int_equal(successes, (int)COUNT(allowed));
}

static void test_terminal_accept_nothing(void **state)
{
	(void)state;
	int terminals = 0;

	for (size_t i = 0; i < COUNT(statuses); i++) {
		assert_int_equal(session_status_terminal(statuses[i].s), statuses[i].terminal);
		if (!statuses[i].terminal)
			continue;
		terminals++;
		for (int e = 0; e < SEV__COUNT; e++) {
			enum session_status next;

			if (session_transition(statuses[i].s, (enum session_event)e, &next))
				fail_msg("terminal %s accepted %s", statuses[i].name,
					 session_event_name((enum session_event)e));
		}
	}
	assert_int_equal(terminals, 3);

	/* And every non-terminal status has a way out. */
	for (size_t i = 0; i < COUNT(statuses); i++) {
		if (statuses[i].terminal)
			continue;
		bool any = false;
		for (int e = 0; e < SEV__COUNT; e++) {
			enum session_status next;
			any |= session_transition(statuses[i].s, (enum session_event)e, &next);
		}
		if (!any)
			fail_msg("non-terminal %s has no transition", statuses[i].name);
	}
}

/* Walking the happy path and each failure path from the table gives
 * statuses whose hold requirement follows the money rules: a hold stays
 * pending until it is posted (settled) or voided (failed, cancelled). */
static void test_paths(void **state)
{
	(void)state;
	static const struct {
		enum session_event evs[4];
		int n;
		enum session_status end;
	} paths[] = {
		{{SEV_APPROVE, SEV_PAYOUT_SUBMITTED, SEV_RAIL_CONFIRMED, SEV_BANK_RETURNED}, 4,
		 SESSION_RETURNED},
		{{SEV_APPROVE, SEV_STAGE_FAILED}, 2, SESSION_FAILED},
		{{SEV_APPROVE, SEV_PAYOUT_SUBMITTED, SEV_STAGE_FAILED}, 3, SESSION_FAILED},
		{{SEV_REJECT}, 1, SESSION_CANCELLED},
		{{SEV_CANCEL}, 1, SESSION_CANCELLED},
	};
	for (size_t p = 0; p < COUNT(paths); p++) {
		enum session_status s = SESSION_PENDING_APPROVAL;

		for (int k = 0; k < paths[p].n; k++) {
			assert_false(session_status_terminal(s));
			/* Pending until settled; settled (posted) only returns. */
			assert_int_equal(session_status_hold(s),
					 s == SESSION_SETTLED ? HOLD_POSTED : HOLD_PENDING);
			enum session_status next;
			assert_true(session_transition(s, paths[p].evs[k], &next));
			s = next;
		}
		assert_int_equal(s, paths[p].end);
		assert_true(session_status_terminal(s));
	}
}

static void test_status_names_and_holds(void **state)
{
	(void)state;
	assert_int_equal(COUNT(statuses), SESSION__COUNT);
	for (size_t i = 0; i < COUNT(statuses); i++) {
		enum session_status back = (enum session_status)-1;

		assert_string_equal(session_status_name(statuses[i].s), statuses[i].name);
		assert_true(session_status_parse(statuses[i].name, &back));
		assert_int_equal(back, statuses[i].s);
		if (session_status_hold(statuses[i].s) != statuses[i].hold)
			fail_msg("session_status_hold(%s) = %d, want %d", statuses[i].name,
				 (int)session_status_hold(statuses[i].s),
				 (int)statuses[i].hold);
	}
	static const char *const unknown[] = {
		"", "PENDING_APPROVAL", "pending", "settled ", "canceled", "approve",
		"unknown",
	};
	for (size_t i = 0; i < COUNT(unknown); i++) {
		enum session_status back;

		if (session_status_parse(unknown[i], &back))
			fail_msg("session_status_parse(\"%s\") accepted it", unknown[i]);
	}
}

static void test_event_names(void **state)
{
	(void)state;
	assert_int_equal(COUNT(events), SEV__COUNT);
	for (size_t i = 0; i < COUNT(events); i++)
		assert_string_equal(session_event_name(events[i].e), events[i].name);
	/* Names are distinct, so the event log can be read back. */
	for (int a = 0; a < SEV__COUNT; a++)
		for (int b = a + 1; b < SEV__COUNT; b++)
			assert_string_not_equal(session_event_name((enum session_event)a),
						session_event_name((enum session_event)b));
}

/* The backends' statements and partial indexes name these sets: the
 * SQLite indexes were written as these exact texts, and its planner uses
 * a partial index only when the query's text implies the index's. */
static void test_sql_lists(void **state)
{
	(void)state;
	char buf[128];
	assert_int_equal(session_status_sql_list(session_status_driven, buf, sizeof buf),
			 strlen("'executing', 'executed'"));
	assert_string_equal(buf, "'executing', 'executed'");
	session_status_sql_list(session_status_counts, buf, sizeof buf);
	assert_string_equal(buf,
			    "'pending_approval', 'executing', 'executed', 'settled', 'returned'");
	assert_false(session_status_counts(SESSION_FAILED));
	assert_false(session_status_counts(SESSION_CANCELLED));
	assert_false(session_status_driven(SESSION_PENDING_APPROVAL));
	/* Too small: nothing half-written. */
	assert_int_equal(session_status_sql_list(session_status_driven, buf, 10), 0);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_terminal_accept_nothing),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_status_names_and_holds),
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_sql_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
