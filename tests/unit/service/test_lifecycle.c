/*
 * test_lifecycle.c - workers over the sandbox rail and over a rail made
 * to misbehave, against a real SQLite file: outcomes by cents, money
 * after each, idempotency keys on every rail call, a late rail answer
 * that must not overwrite a terminal state, and a pass handing the
 * sandbox its payouts in one write.
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

#include "domain/capability.h"
#include "rails/rail.h"
#include "service/internal.h"

#include "fixture.h"

static int try_create(struct fx *f, int64_t amount, char id[UUID_STR_LEN + 1])
{
	struct svc_session_request q = {
		.account_id = f->account_id, .source = CUR_USDC, .amount_minor = amount,
		.target_currency = CUR_EUR, .target_rail = "fiat",
		.route_owner_client_id = f->client_id, .destination_id = f->dest_id,
		.inline_dest = &f->dest, .payment_reference = ""};
	struct svc_answer a = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	int status = a.status;
	snprintf(id, UUID_STR_LEN + 1, "%s", a.body);
	svc_answer_clear(&a);
	return status;
}

static void create(struct fx *f, int64_t amount, char id[UUID_STR_LEN + 1])
{
	assert_int_equal(try_create(f, amount, id), 201);
}

/* Tick until every session rests (bounded: a loop without end is a bug). */
static void run(struct fx *f, struct rail *rail)
{
	int64_t next;
	for (int i = 0; i < 400; i++) {
		int n = svc_worker_tick(&f->svc, rail, "test/0", 16, &next);
		assert_true(n >= 0);
		if (n == 0 && next == 0)
			return;
		int64_t wait = next - svc_now_ms();
		if (n == 0 && wait > 0)
			usleep((useconds_t)(wait < 1000 ? wait : 1000) * 1000); /* retry backoff */
	}
	fail_msg("sessions still moving after 400 passes");
}

static struct store_session get(struct fx *f, const char *id)
{
	struct store_session s;
	assert_int_equal(svc_session_get(&f->svc, &f->auth, id, &s), ERR_OK);
	return s;
}

static int64_t available(struct fx *f)
{
	struct svc_account_view v;
	assert_int_equal(svc_account_get(&f->svc, &f->auth, f->account_id, &v), ERR_OK);
	assert_int_equal(ledger_held(&v.balances[0].b), 0);
	return ledger_available(&v.balances[0].b);
}

static void test_outcomes_by_cents(void **state)
{
	struct fx *f = *state;
	struct rail *rail = rail_sandbox_new(f->store);
	static const struct {
		int64_t amount;
		const char *status, *reason;
		int64_t delivered;
	} cases[] = {
		{250000000, "settled", "", 23000},                   /* 250.00 at 0.92 */
		{10050000, "failed", "chain_transfer_failed", 0},     /* .05 */
		{10060000, "failed", "beneficiary_account_closed", 925}, /* .06 */
		{10070000, "settled", "", 926},                      /* .07: late */
	};
	enum { N = sizeof cases / sizeof *cases };
	char ids[N][UUID_STR_LEN + 1];
	int64_t before = available(f), spent = 0;
	for (int i = 0; i < N; i++)
		create(f, cases[i].amount, ids[i]);
	run(f, rail);
	for (int i = 0; i < N; i++) {
		struct store_session s = get(f, ids[i]);
		if (strcmp(s.status, cases[i].status) != 0 ||
		    strcmp(s.failure_reason, cases[i].reason) != 0)
			fail_msg("case %d: %s/%s, want %s/%s", i, s.status, s.failure_reason,
				 cases[i].status, cases[i].reason);
		assert_int_equal(s.delivered_minor, cases[i].delivered);
		if (strcmp(s.status, "settled") == 0) {
			spent += s.principal_minor + s.fee_total_minor;
			assert_true(s.settled_at > 0);
		}
	}
	assert_int_equal(available(f), before - spent);
	/* 0.001 USDC converts to 0.00092 EUR: nothing to deliver. Any
	 * positive amount is valid input (CONTRACT §3), so the session is
	 * accepted and fails at conversion with its hold released. */
	char small[UUID_STR_LEN + 1];
	before = available(f);
	create(f, 1000, small);
	run(f, rail);
	struct store_session s = get(f, small);
	assert_string_equal(s.status, "failed");
	assert_string_equal(s.failure_reason, "amount_too_small");
	assert_int_equal(available(f), before);
	rail_close(rail);
}


/* A rail that counts calls by key, answers "confirmed" to payout status,
 * and, on its first status call, lets another worker fail the session
 * first (as if our lease had expired): a late answer. */
struct late_rail {
	struct rail base;
	struct rail *inner;
	struct fx *f;
	int status_calls, submit_calls;
	char last_key[96];
};

static void late_chain(struct rail *r, const struct rail_call *c, struct rail_result *out)
{
	struct late_rail *l = (struct late_rail *)r;
	snprintf(l->last_key, sizeof l->last_key, "%s", c->idempotency_key);
	l->inner->ops->chain_transfer(l->inner, c, out);
}

static void late_submit(struct rail *r, const struct rail_call *c, struct rail_result *out)
{
	struct late_rail *l = (struct late_rail *)r;
	l->submit_calls++;
	char want[96];
	snprintf(want, sizeof want, "%s:payout", c->session_id);
	assert_string_equal(c->idempotency_key, want);
	l->inner->ops->payout_submit(l->inner, c, out);
}

struct force_arg {
	struct fx *f;
	const char *id;
};

static enum store_status force_fail_tx(struct store_tx *tx, void *arg)
{
	struct force_arg *a = arg;
	struct store_session s;
	enum store_status st = STORE_CALL(tx, session_get, a->f->auth.tenant_id, a->id, &s);
	if (st != STORE_OK)
		return st;
	int64_t v = s.version;
	snprintf(s.status, sizeof s.status, "failed");
	snprintf(s.failure_reason, sizeof s.failure_reason, "beneficiary_account_closed");
	if ((st = svc_hold_release(tx, &s)) != STORE_OK)
		return st;
	return svc_session_save(tx, &a->f->svc, &s, v, "off_ramp_session.failed");
}

static void late_status(struct rail *r, const struct rail_call *c, struct rail_result *out)
{
	struct late_rail *l = (struct late_rail *)r;
	if (l->status_calls++ == 0) {
		struct force_arg a = {l->f, c->session_id};
		assert_int_equal(store_run(l->f->store, true, force_fail_tx, &a), STORE_OK);
	}
	memset(out, 0, sizeof *out);
	out->outcome = RAIL_OK; /* "confirmed" - too late */
}

static void late_close(struct rail *r) { (void)r; }

static const struct rail_ops late_ops = {
	.name = "late",
	.chain_transfer = late_chain,
	.payout_submit = late_submit,
	.payout_status = late_status,
	.close = late_close,
};

static void test_late_answer_never_overwrites_a_terminal_state(void **state)
{
	struct fx *f = *state;
	struct late_rail l = {.base = {&late_ops}, .inner = rail_sandbox_new(f->store), .f = f};
	char id[UUID_STR_LEN + 1];
	int64_t before = available(f);
	create(f, 50000000, id);
	run(f, &l.base);
	struct store_session s = get(f, id);
	assert_string_equal(s.status, "failed");
	assert_int_equal(s.settled_at, 0);
	assert_int_equal(l.status_calls, 1); /* terminal: never asked again */
	assert_int_equal(l.submit_calls, 1);
	char want[96];
	snprintf(want, sizeof want, "%s:chain", id);
	assert_string_equal(l.last_key, want);
	assert_int_equal(available(f), before); /* released once, never posted */
	rail_close(l.inner);
}

/* A rail that answers "pending" (RAIL_PENDING) before it answers: a wallet
 * short of funds at submit, confirmations at status. Each later call sees
 * what the last pending answer left on the session. */
struct pending_rail {
	struct rail base;
	struct fx *f;
	int submits, statuses;
};

static void pending_chain(struct rail *r, const struct rail_call *c, struct rail_result *out)
{
	memset(out, 0, sizeof *out);
	out->outcome = RAIL_OK;
}

static void pending_submit(struct rail *r, const struct rail_call *c, struct rail_result *out)
{
	struct pending_rail *p = (struct pending_rail *)r;
	struct store_session s = get(p->f, c->session_id);
	memset(out, 0, sizeof *out);
	if (p->submits++ < 2) {
		if (p->submits == 2) { /* what the first answer left */
			assert_string_equal(s.waiting_reason, "hot_wallet_underfunded");
			assert_string_equal(s.status, "executing");
			assert_int_equal(s.attempts, 0); /* pending is no failure */
		}
		out->outcome = RAIL_PENDING;
		snprintf(out->reason, sizeof out->reason, "hot_wallet_underfunded");
		return;
	}
	out->outcome = RAIL_OK;
	snprintf(out->reference, sizeof out->reference, "0x%064d", 7);
}

static void pending_status(struct rail *r, const struct rail_call *c, struct rail_result *out)
{
	struct pending_rail *p = (struct pending_rail *)r;
	struct store_session s = get(p->f, c->session_id);
	assert_string_equal(s.status, "executed");
	assert_int_equal(strlen(s.payout_reference), 66); /* kept from the submit */
	assert_int_equal(s.attempts, 0);
	if (p->statuses > 0)
		assert_string_equal(s.waiting_reason, "awaiting_confirmations");
	else
		assert_string_equal(s.waiting_reason, ""); /* cleared by the submit's OK */
	memset(out, 0, sizeof *out);
	out->outcome = p->statuses++ < 3 ? RAIL_PENDING : RAIL_OK;
	if (out->outcome == RAIL_PENDING)
		snprintf(out->reason, sizeof out->reason, "awaiting_confirmations");
}

static const struct rail_ops pending_ops = {
	.name = "pending",
	.chain_transfer = pending_chain,
	.payout_submit = pending_submit,
	.payout_status = pending_status,
	.close = late_close,
};

static void test_pending_answers_wait_without_failing(void **state)
{
	struct fx *f = *state;
	struct pending_rail p = {.base = {&pending_ops}, .f = f};
	char id[UUID_STR_LEN + 1];
	create(f, 50000000, id);
	run(f, &p.base);
	struct store_session s = get(f, id);
	assert_string_equal(s.status, "settled");
	assert_string_equal(s.failure_reason, "");
	assert_string_equal(s.waiting_reason, "");
	assert_int_equal(strlen(s.payout_reference), 66);
	assert_int_equal(p.submits, 3);
	assert_int_equal(p.statuses, 4);
}

static void test_rail_keys_are_stable_across_repeats(void **state)
{
	/* A payout submitted twice (as after a crash) is one payout. */
	struct fx *f = *state;
	struct rail *rail = rail_sandbox_new(f->store);
	struct rail_call c = {.idempotency_key = "x:payout", .tenant_id = f->auth.tenant_id,
			      .session_id = "x", .rail_name = "sepa_credit_transfer",
			      .source = CUR_USDC, .principal_minor = 1000000, .currency = CUR_EUR,
			      .amount_minor = 92};
	struct rail_result r;
	rail->ops->payout_submit(rail, &c, &r);
	assert_int_equal(r.outcome, RAIL_OK);
	c.amount_minor = 93; /* a confused retry must not pay again, or differently */
	rail->ops->payout_submit(rail, &c, &r);
	assert_int_equal(r.outcome, RAIL_OK);
	rail->ops->payout_status(rail, &c, &r);
	assert_int_equal(r.outcome, RAIL_OK);
	rail_close(rail);
}

/* A store that counts the transactions the sandbox asks of it and passes
 * them on; its transactions run on the real store (tx->store is it). */
struct counting_store {
	struct store base;
	struct store_ops ops;
	struct store *inner;
	int writes, reads;
};

static enum store_status counting_run(struct store *s, bool write, store_tx_fn fn, void *arg)
{
	struct counting_store *c = (struct counting_store *)s;
	if (write)
		c->writes++;
	else
		c->reads++;
	return c->inner->ops->run(c->inner, write, fn, arg);
}

static void counting_run_all(struct store *s, store_tx_fn fn, void *const *args, int n,
			     enum store_status *out)
{
	struct counting_store *c = (struct counting_store *)s;
	c->writes += n;
	store_run_all(c->inner, fn, args, n, out);
}

static void counting_init(struct counting_store *c, struct store *inner)
{
	*c = (struct counting_store){.inner = inner, .ops = *inner->ops};
	c->ops.run = counting_run;
	c->ops.run_all = counting_run_all;
	c->base = (struct store){.ops = &c->ops, .commit_batch_max = inner->commit_batch_max};
}

struct book_count {
	int payouts, calls;
};

static void count_payout(void *arg, const struct store_payout *p)
{
	struct book_count *b = arg;
	b->payouts++;
	b->calls += p->calls;
}

static void test_a_pass_books_its_payouts_in_one_write(void **state)
{
	/* 16 sessions due together (run() leases 16 a pass): their payouts
	 * reach the sandbox in one batch, booked in one write, and their
	 * statuses in one read. One write per payout made a pass wait for
	 * 16 commits. */
	struct fx *f = *state;
	struct counting_store cs;
	counting_init(&cs, f->store);
	struct rail *rail = rail_sandbox_new(&cs.base);
	enum { N = 16 };
	char ids[N][UUID_STR_LEN + 1];
	for (int i = 0; i < N; i++)
		create(f, 10000000 + i, ids[i]); /* 10.00...: cents that settle */
	run(f, rail);
	for (int i = 0; i < N; i++)
		assert_string_equal(get(f, ids[i]).status, "settled");
	assert_int_equal(cs.writes, 1);
	assert_int_equal(cs.reads, 1);
	struct book_count b = {0};
	assert_int_equal(svc_payout_list(&f->svc, &f->auth, NULL, count_payout, &b), ERR_OK);
	assert_int_equal(b.payouts, N);
	assert_int_equal(b.calls, N); /* each paid once, asked once */
	rail_close(rail);
}

static void test_a_batch_repeating_a_key_pays_once(void **state)
{
	/* One payout asked twice in one batch (a confused caller), and again
	 * in a later batch: one payout, the same answer each time. */
	struct fx *f = *state;
	struct rail *rail = rail_sandbox_new(f->store);
	struct rail_call c = {.idempotency_key = "y:payout", .tenant_id = f->auth.tenant_id,
			      .session_id = "y", .rail_name = "sepa_credit_transfer",
			      .source = CUR_USDC, .principal_minor = 1000000, .currency = CUR_EUR,
			      .amount_minor = 92};
	struct rail_call calls[3] = {c, c, c};
	calls[1].amount_minor = 93;
	struct rail_result r[3];
	assert_int_equal(rail_ask(rail, RAIL_PAYOUT_SUBMIT, calls, r, 2, 0), 2);
	assert_int_equal(rail_ask(rail, RAIL_PAYOUT_SUBMIT, &calls[2], &r[2], 1, 0), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].outcome, RAIL_OK);
	struct book_count b = {0};
	assert_int_equal(svc_payout_list(&f->svc, &f->auth, "y", count_payout, &b), ERR_OK);
	assert_int_equal(b.payouts, 1);
	assert_int_equal(b.calls, 3);
	rail_close(rail);
}

static void test_a_pass_with_nothing_due_writes_nothing(void **state)
{
	/* Idle workers poll several times a second each: a pass that finds
	 * nothing due must not queue a write for the committer. */
	struct fx *f = *state;
	struct counting_store cs;
	counting_init(&cs, f->store);
	struct store *real = f->svc.store;
	f->svc.store = &cs.base;
	int64_t next = -1;
	assert_int_equal(svc_worker_tick(&f->svc, NULL, "test/0", 16, &next), 0);
	assert_int_equal(next, 0); /* nothing in flight */
	char id[UUID_STR_LEN + 1];
	f->svc.store = real;
	f->svc.step_ms = 60000;
	create(f, 10000000, id); /* due in a minute */
	f->svc.store = &cs.base;
	assert_int_equal(svc_worker_tick(&f->svc, NULL, "test/0", 16, &next), 0);
	assert_true(next > svc_now_ms());
	assert_int_equal(cs.writes, 0);
	f->svc.store = real;
}

/* Counts the snapshots rendered, and those rendered by the committer
 * (the store's one writer thread, named so). */
static int snapshots, snapshots_on_committer;

static char *counting_snapshot(const struct store_session *s)
{
	char name[16] = "";
	pthread_getname_np(pthread_self(), name, sizeof name);
	snapshots++;
	snapshots_on_committer += strcmp(name, "committer") == 0;
	char buf[96];
	snprintf(buf, sizeof buf, "{\"id\":\"%s\",\"version\":%lld}", s->id, (long long)s->version);
	return strdup(buf);
}

static void last_event(void *arg, const struct store_event *e)
{
	snprintf(arg, 128, "%s", e->data);
}

static void test_steps_render_their_events_outside_the_committer(void **state)
{
	/* The one writer serialises every commit of the process: a step's
	 * event snapshot is made by the worker, and is of the row committed. */
	struct fx *f = *state;
	struct rail *rail = rail_sandbox_new(f->store);
	char id[UUID_STR_LEN + 1];
	create(f, 10000000, id);
	f->svc.session_snapshot = counting_snapshot;
	snapshots = snapshots_on_committer = 0;
	run(f, rail);
	f->svc.session_snapshot = NULL;
	struct store_session s = get(f, id);
	assert_string_equal(s.status, "settled");
	assert_int_equal(snapshots, 3); /* stage_changed, executed, settled */
	assert_int_equal(snapshots_on_committer, 0);
	char last[128] = "";
	bool more;
	assert_int_equal(svc_event_list(&f->svc, &f->auth, id, 0, 10, last_event, last, &more),
			 ERR_OK);
	char want[128];
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"version\":%lld}", id, (long long)s.version);
	assert_string_equal(last, want); /* the settled event shows the row as committed */
	rail_close(rail);
}

struct self_arg {
	struct fx *f;
	enum ledger_result lr;
};

static enum store_status self_tx(struct store_tx *tx, void *arg)
{
	struct self_arg *a = arg;
	struct store_account acct;
	enum store_status st = STORE_CALL(tx, account_get, a->f->auth.tenant_id, a->f->account_id, &acct);
	if (st != STORE_OK)
		return st;
	char id[UUID_STR_LEN + 1];
	/* Two handles on one row: must be refused, or the second balance
	 * write would overwrite the first and create money. */
	return svc_ledger_move(tx, LEDGER_OP_POSTED, &acct, &acct, CUR_USDC, 1000000, NULL, NULL,
			       "test", svc_now(), id, &a->lr);
}

static void test_self_transfer_is_refused(void **state)
{
	struct fx *f = *state;
	int64_t before = available(f);
	struct self_arg a = {.f = f};
	assert_int_equal(store_run(f->store, true, self_tx, &a), STORE_OK);
	assert_int_equal(a.lr, LEDGER_SAME_ACCOUNT);
	assert_int_equal(available(f), before);
}

/* ---- what reaches the committer ------------------------------------------
 * The store's operations, wrapped to count the calls made on the committer
 * thread (the one writer: whatever runs there caps every write). */
static const struct store_ops *real_ops;
static struct store_ops counting_ops;
static int next_due_on_committer, updates_on_committer;

static bool on_committer(void)
{
	char name[16] = "";
	pthread_getname_np(pthread_self(), name, sizeof name);
	return strcmp(name, "committer") == 0;
}

static enum store_status count_next_due(struct store_tx *tx, int64_t *next)
{
	next_due_on_committer += on_committer();
	return real_ops->session_next_due(tx, next);
}

static enum store_status count_update(struct store_tx *tx, const struct store_session *r,
				      int64_t expect_version)
{
	updates_on_committer += on_committer();
	return real_ops->session_update(tx, r, expect_version);
}

static int fixed_reads_on_committer;

static enum store_status count_account_get(struct store_tx *tx, const char *tenant_id,
					   const char *id, struct store_account *out)
{
	fixed_reads_on_committer += on_committer();
	return real_ops->account_get(tx, tenant_id, id, out);
}

static enum store_status count_account_get_system(struct store_tx *tx, const char *tenant_id,
						  const char *code, struct store_account *out)
{
	fixed_reads_on_committer += on_committer();
	return real_ops->account_get_system(tx, tenant_id, code, out);
}

static enum store_status count_destination_get(struct store_tx *tx, const char *tenant_id,
					       const char *id, struct store_destination *out)
{
	fixed_reads_on_committer += on_committer();
	return real_ops->destination_get(tx, tenant_id, id, out);
}

static void count_committer_calls(struct fx *f)
{
	real_ops = f->store->ops;
	counting_ops = *real_ops;
	counting_ops.session_next_due = count_next_due;
	counting_ops.session_update = count_update;
	counting_ops.account_get = count_account_get;
	counting_ops.account_get_system = count_account_get_system;
	counting_ops.destination_get = count_destination_get;
	f->store->ops = &counting_ops;
	next_due_on_committer = updates_on_committer = fixed_reads_on_committer = 0;
}

/* A create writes its session row once, as version 1 with event 1; the
 * workers then see it due and move it as before. */
static void test_create_writes_the_row_once(void **state)
{
	struct fx *f = *state;
	count_committer_calls(f);
	char id[UUID_STR_LEN + 1];
	create(f, 25000, id);
	assert_int_equal(updates_on_committer, 0);
	struct store_session s = get(f, id);
	assert_int_equal(s.version, 1);
	assert_int_equal(s.event_seq, 1);
	assert_int_equal(s.updated_at, s.created_at);
	f->store->ops = real_ops;
}

/* The rows a create reads that never change (its account, destination and
 * the tenant's holds account) are read before the write, not by the
 * committer; the first create of a tenant makes its holds account there. */
static void test_create_reads_fixed_rows_before_the_write(void **state)
{
	struct fx *f = *state;
	count_committer_calls(f);
	char id[UUID_STR_LEN + 1];
	create(f, 25000, id);
	assert_int_equal(fixed_reads_on_committer, 1); /* holds, made on first use */
	fixed_reads_on_committer = 0;
	create(f, 26000, id);
	assert_int_equal(fixed_reads_on_committer, 0);
	/* An account unknown before the write is looked for inside it. */
	char known[UUID_STR_LEN + 1];
	memcpy(known, f->account_id, sizeof known);
	snprintf(f->account_id, sizeof f->account_id, "01a23c4d-5769-7002-bf0e-dd1e466fc72b");
	assert_int_equal(try_create(f, 26000, id), 404);
	memcpy(f->account_id, known, sizeof known);
	assert_int_equal(fixed_reads_on_committer, 1);
	f->store->ops = real_ops;
}

static void count_row(void *arg, const void *row)
{
	(*(int *)arg)++;
}

struct lease_arg {
	int64_t now;
	const char *owner;
	int n;
};

static enum store_status lease_tx(struct store_tx *tx, void *arg)
{
	struct lease_arg *l = arg;
	l->n = 0;
	return STORE_CALL(tx, session_claim, l->now, l->owner, l->now + LIMIT_SESSION_LEASE_MS, 16,
			  count_row, &l->n);
}

/* A node at start drops its own earlier run's leases, never another
 * node's (that one may be alive: its leases run out on their own). */
static void test_a_restart_releases_only_its_own_leases(void **state)
{
	struct fx *f = *state;
	char id[UUID_STR_LEN + 1];
	create(f, 250000000, id);
	struct lease_arg l = {.now = svc_now_ms(), .owner = "nodeb/worker/0"};
	assert_int_equal(store_run(f->store, true, lease_tx, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	/* "node" is a prefix of "nodeb" but not of "nodeb/". */
	assert_int_equal(svc_worker_recover(&f->svc, "node"), ERR_OK);
	l.owner = "node/worker/0";
	assert_int_equal(store_run(f->store, true, lease_tx, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	struct store_session s = get(f, id);
	assert_string_equal(s.lease_owner, "nodeb/worker/0");
	/* nodeb restarts: its lease goes, and the session is due at once. */
	assert_int_equal(svc_worker_recover(&f->svc, "nodeb"), ERR_OK);
	s = get(f, id);
	assert_string_equal(s.lease_owner, "");
	assert_true(s.next_run_ms <= svc_now_ms());
	assert_int_equal(store_run(f->store, true, lease_tx, &l), STORE_OK);
	assert_int_equal(l.n, 1);
}

/* A bank return (service/returns.c): only a settled session returns, once;
 * its principal comes back, its fees stay, verify-ledger holds, and an
 * extra reversal is a problem verify-ledger names. */
static enum store_status extra_reversal_tx(struct store_tx *tx, void *arg)
{
	const struct store_session *s = arg;
	struct store_account client, payouts;
	enum store_status st = STORE_CALL(tx, account_get, s->tenant_id, s->account_id, &client);
	if (st == STORE_OK)
		st = svc_system_account(tx, s->tenant_id, "payouts", &payouts);
	char id[UUID_STR_LEN + 1];
	enum ledger_result lr;
	if (st == STORE_OK)
		st = svc_ledger_move(tx, LEDGER_OP_POSTED, &payouts, &client, CUR_USDC, 1, NULL, s->id,
				     "session_reversal", svc_now(), id, &lr);
	return st;
}

/* fx_teardown without its ledger check: the test below breaks the ledger
 * on purpose, after checking it whole, to see verify-ledger notice. */
static int fx_teardown_tampered(void **state)
{
	struct fx *f = *state;
	store_close(f->store);
	scratch_db_remove(f->path);
	free(f->canon);
	free(f);
	return 0;
}

static void test_a_bank_return_reverses_the_principal_once(void **state)
{
	struct fx *f = *state;
	struct rail *rail = rail_sandbox_new(f->store);
	char settled[UUID_STR_LEN + 1], failed[UUID_STR_LEN + 1], pending[UUID_STR_LEN + 1];
	create(f, 250000000, settled);
	create(f, 10050000, failed); /* .05: fails at the chain transfer */
	run(f, rail);
	int64_t before = available(f);
	enum svc_return_outcome out;
	assert_int_equal(svc_session_return(&f->svc, f->auth.tenant_id, failed, "AC04", &out), ERR_OK);
	assert_int_equal(out, SVC_RETURN_REFUSED);
	assert_int_equal(svc_session_return(&f->svc, f->auth.tenant_id, settled, "AC04", &out), ERR_OK);
	assert_int_equal(out, SVC_RETURNED);
	struct store_session s = get(f, settled);
	assert_string_equal(s.status, "returned");
	assert_string_equal(s.failure_reason, "bank_returned");
	assert_string_equal(s.failure_detail, "AC04");
	assert_int_equal(available(f), before + s.principal_minor); /* fees kept */
	assert_int_equal(svc_session_return(&f->svc, f->auth.tenant_id, settled, "MD07", &out), ERR_OK);
	assert_int_equal(out, SVC_RETURN_ALREADY);
	assert_string_equal(get(f, settled).failure_detail, "AC04");
	assert_int_equal(available(f), before + s.principal_minor);
	struct svc_ledger_report rep;
	assert_int_equal(svc_verify_ledger(&f->svc, &rep), ERR_OK);
	assert_true(rep.ok);
	/* Still in flight: not yet (the report is read again later). */
	create(f, 10000000, pending);
	assert_int_equal(svc_session_return(&f->svc, f->auth.tenant_id, pending, "AC04", &out), ERR_OK);
	assert_int_equal(out, SVC_RETURN_NOT_YET);
	run(f, rail);
	/* A second reversal of the returned session is what verify-ledger finds. */
	assert_int_equal(store_run(f->store, true, extra_reversal_tx, &s), STORE_OK);
	assert_int_equal(svc_verify_ledger(&f->svc, &rep), ERR_OK);
	assert_false(rep.ok);
	assert_non_null(strstr(rep.first_problem, "reversal"));
	rail_close(rail);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outcomes_by_cents, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_late_answer_never_overwrites_a_terminal_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_answers_wait_without_failing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rail_keys_are_stable_across_repeats, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_self_transfer_is_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_writes_the_row_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_reads_fixed_rows_before_the_write, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_pass_books_its_payouts_in_one_write, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_batch_repeating_a_key_pays_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_steps_render_their_events_outside_the_committer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_pass_with_nothing_due_writes_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_restart_releases_only_its_own_leases, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_bank_return_reverses_the_principal_once, fx_setup,
						fx_teardown_tampered),
	};
	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
