/*
 * test_bulk.c - svc_bulk_load (admin bulk-load, docs/SCALE.md) against a
 * real SQLite file: a loaded session leaves exactly the rows a session
 * that went through create and the workers leaves (session, transfers,
 * events, sandbox book, idempotency record), the ledger verifies (the
 * fixture's teardown), each account is funded to the minor unit, and a
 * tenant with webhook endpoints or an unknown tenant is refused.
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

#include "rails/rail.h"
#include "service/internal.h"

#include "fixture.h"

#define N 2000
#define K 3
#define SPARE 1000000000000000LL /* bulk.c: 1,000,000,000.00 USDC per account */

static struct svc_bulk_request request(struct fx *f, int64_t n, int k)
{
	return (struct svc_bulk_request){.tenant_id = f->auth.tenant_id, .sessions = n,
					 .accounts = k, .dest = &f->dest,
					 .dest_canonical = f->canon, .created_status = 201,
					 .payment_reference = ""};
}

/* One session through create and the workers, as a client makes it. */
static void real_session(struct fx *f, char id[UUID_STR_LEN + 1])
{
	struct svc_session_request q = {
		.account_id = f->account_id, .source = CUR_USDC, .amount_minor = 250000000,
		.target_currency = CUR_EUR, .target_rail = "fiat",
		.route_owner_client_id = f->client_id, .destination_id = f->dest_id,
		.inline_dest = &f->dest, .payment_reference = ""};
	struct svc_idem idem = {.key = "real-1", .endpoint = "POST /off-ramp-sessions",
				.request_hash = "h"};
	struct svc_answer a = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a);
	assert_int_equal(a.status, 201);
	snprintf(id, UUID_STR_LEN + 1, "%s", a.body);
	svc_answer_clear(&a);
	struct rail *rail = rail_sandbox_new(f->store);
	int64_t next;
	for (int i = 0; i < 100; i++)
		if (svc_worker_tick(&f->svc, rail, "test/0", 16, &next) == 0 && next == 0)
			break;
	rail_close(rail);
}

/* ---- what a session left behind ---------------------------------------------- */

struct trail {
	const char *session_id;
	struct store_session s;
	int ntr;
	struct store_transfer tr[8];
	int nev;
	char ev_type[8][48];
	int64_t ev_seq[8];
	char first_data[4096];
	int npay;
	struct store_payout pay;
	bool idem;
	struct store_idem rec;
};

static void on_transfer(void *arg, const void *row)
{
	struct trail *t = arg;
	const struct store_transfer *x = row;
	if (strcmp(x->session_id, t->session_id) == 0 && t->ntr < 8)
		t->tr[t->ntr++] = *x;
}

static enum store_status trail_tx(struct store_tx *tx, void *arg)
{
	struct trail *t = arg;
	t->ntr = 0;
	enum store_status st = STORE_CALL(tx, transfer_each, on_transfer, t);
	if (st != STORE_OK)
		return st;
	return STORE_CALL(tx, session_get, t->s.tenant_id, t->session_id, &t->s);
}

static void on_event(void *arg, const struct store_event *e)
{
	struct trail *t = arg;
	if (t->nev == 0)
		snprintf(t->first_data, sizeof t->first_data, "%s", e->data);
	if (t->nev < 8) {
		snprintf(t->ev_type[t->nev], sizeof t->ev_type[0], "%s", e->type);
		t->ev_seq[t->nev] = e->resource_seq;
	}
	t->nev++;
}

static void on_payout(void *arg, const struct store_payout *p)
{
	struct trail *t = arg;
	t->pay = *p;
	t->npay++;
}

struct idem_arg {
	const char *tenant, *key;
	struct store_idem *rec;
};

static enum store_status idem_tx(struct store_tx *tx, void *arg)
{
	struct idem_arg *a = arg;
	return STORE_CALL(tx, idem_get, a->tenant, "POST /off-ramp-sessions", a->key, 0, a->rec);
}

static void trail_of(struct fx *f, const char *id, const char *idem_key, struct trail *t)
{
	memset(t, 0, sizeof *t);
	t->session_id = id;
	memcpy(t->s.tenant_id, f->auth.tenant_id, sizeof t->s.tenant_id);
	assert_int_equal(store_run(f->store, false, trail_tx, t), STORE_OK);
	bool more;
	assert_int_equal(svc_event_list(&f->svc, &f->auth, id, 0, 100, on_event, t, &more), ERR_OK);
	assert_int_equal(svc_payout_list(&f->svc, &f->auth, id, on_payout, t), ERR_OK);
	struct idem_arg ia = {f->auth.tenant_id, idem_key, &t->rec};
	t->idem = store_run(f->store, false, idem_tx, &ia) == STORE_OK;
}

static const struct store_transfer *transfer_of(const struct trail *t, const char *kind)
{
	for (int i = 0; i < t->ntr; i++)
		if (strcmp(t->tr[i].kind, kind) == 0)
			return &t->tr[i];
	fail_msg("session %s has no %s transfer", t->session_id, kind);
	return NULL;
}

/* ---- tests ------------------------------------------------------------------- */

struct list_arg {
	int n;
	char last[UUID_STR_LEN + 1];
	char pick[UUID_STR_LEN + 1];
};

static void on_listed(void *arg, const struct store_session *s)
{
	struct list_arg *l = arg;
	if (l->n == 7)
		memcpy(l->pick, s->id, sizeof l->pick);
	memcpy(l->last, s->id, sizeof l->last);
	l->n++;
}

static void test_loaded_session_is_a_settled_session(void **state)
{
	struct fx *f = *state;
	char real_id[UUID_STR_LEN + 1];
	real_session(f, real_id);

	struct svc_bulk_request q = request(f, N, K);
	struct svc_bulk_report rep;
	assert_int_equal(svc_bulk_load(&f->svc, &q, &rep), ERR_OK);
	assert_int_equal(rep.sessions, N);
	assert_int_equal(rep.naccounts, K);
	assert_true(rep.commits >= 2);

	/* Every loaded account: funded with what its sessions spent plus the
	 * spare, to the minor unit, nothing held. */
	for (int k = 0; k < K; k++) {
		struct svc_account_view v;
		assert_int_equal(svc_account_get(&f->svc, &f->auth, rep.accounts[k].account_id, &v),
				 ERR_OK);
		assert_int_equal(ledger_held(&v.balances[0].b), 0);
		assert_int_equal(ledger_available(&v.balances[0].b), SPARE);
	}

	/* A loaded session, from the first account's list. */
	struct svc_session_query lq = {.account_id = rep.accounts[0].account_id, .limit = 20};
	struct list_arg l = {0};
	bool more;
	assert_int_equal(svc_session_list(&f->svc, &f->auth, &lq, on_listed, &l, &more), ERR_OK);
	assert_int_equal(l.n, 20);
	assert_true(more);
	char key[96];
	snprintf(key, sizeof key, "bulk-%s", l.pick);
	static struct trail real, got;
	trail_of(f, real_id, "real-1", &real);
	trail_of(f, l.pick, key, &got);

	assert_string_equal(real.s.status, "settled");
	assert_string_equal(got.s.status, real.s.status);
	assert_string_equal(got.s.stage, real.s.stage);
	assert_int_equal(got.s.version, real.s.version);
	assert_int_equal(got.s.event_seq, real.s.event_seq);
	assert_int_equal(got.s.next_run_ms, 0);
	assert_string_equal(got.s.lease_owner, "");
	assert_int_equal(got.s.lease_until_ms, 0);
	assert_int_equal(got.s.attempts, 0);
	assert_true(got.s.settled_at >= got.s.created_at && got.s.settled_at > 0);
	assert_int_equal(got.s.fill_rate_value, real.s.fill_rate_value);
	assert_int_equal(got.s.fill_rate_scale, real.s.fill_rate_scale);
	assert_true(got.s.delivered_minor > 0);
	assert_string_equal(got.s.account_id, rep.accounts[0].account_id);
	assert_string_equal(got.s.destination_id, rep.accounts[0].destination_id);

	/* The same transfers, amounts related the same way. */
	assert_int_equal(got.ntr, real.ntr);
	static const char *const kinds[] = {"session_hold", "session_post", "session_payout",
					    "session_fees"};
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		assert_string_equal(transfer_of(&got, kinds[i])->op, transfer_of(&real, kinds[i])->op);
	int64_t hold = got.s.principal_minor + got.s.fee_total_minor;
	assert_string_equal(transfer_of(&got, "session_hold")->id, got.s.hold_transfer_id);
	assert_int_equal(transfer_of(&got, "session_hold")->amount_minor, hold);
	assert_int_equal(transfer_of(&got, "session_post")->amount_minor, hold);
	assert_string_equal(transfer_of(&got, "session_post")->pending_id, got.s.hold_transfer_id);
	assert_int_equal(transfer_of(&got, "session_payout")->amount_minor, got.s.principal_minor);
	assert_int_equal(transfer_of(&got, "session_fees")->amount_minor, got.s.fee_total_minor);

	/* The same events, in the same order. */
	assert_int_equal(got.nev, real.nev);
	for (int i = 0; i < got.nev; i++) {
		assert_string_equal(got.ev_type[i], real.ev_type[i]);
		assert_int_equal(got.ev_seq[i], i + 1);
	}

	/* The rail's book: one payout, paid once, of what was delivered. */
	assert_int_equal(got.npay, 1);
	assert_int_equal(real.npay, 1);
	assert_string_equal(got.pay.outcome, "paid");
	assert_int_equal(got.pay.calls, 1);
	assert_int_equal(got.pay.amount_minor, got.s.delivered_minor);
	assert_string_equal(got.pay.rail, real.pay.rail);

	/* The create's idempotency record keeps the 201 answer, the first
	 * snapshot. */
	assert_true(real.idem);
	assert_true(got.idem);
	assert_int_equal(got.rec.status, 201);
	assert_non_null(got.rec.body);
	assert_string_equal(got.rec.body, got.first_data);
	store_idem_clear(&real.rec);
	store_idem_clear(&got.rec);
	svc_bulk_report_clear(&rep);
}

static void test_pages_walk_every_loaded_session_once(void **state)
{
	struct fx *f = *state;
	struct svc_bulk_request q = request(f, 1000, 2);
	struct svc_bulk_report rep;
	assert_int_equal(svc_bulk_load(&f->svc, &q, &rep), ERR_OK);
	svc_bulk_report_clear(&rep);
	int total = 0;
	char cursor[UUID_STR_LEN + 1] = "", prev_last[UUID_STR_LEN + 1] = "";
	for (bool more = true; more;) {
		struct svc_session_query lq = {.status = "settled", .before_id = cursor[0] ? cursor : NULL,
					       .limit = 100};
		struct list_arg l = {0};
		assert_int_equal(svc_session_list(&f->svc, &f->auth, &lq, on_listed, &l, &more),
				 ERR_OK);
		if (prev_last[0])
			assert_true(strcmp(l.last, prev_last) < 0);
		total += l.n;
		memcpy(cursor, l.last, sizeof cursor);
		memcpy(prev_last, l.last, sizeof prev_last);
	}
	assert_int_equal(total, 1000);
}

static enum store_status hook_tx(struct store_tx *tx, void *arg)
{
	struct store_hook_endpoint ep = {.enabled = true, .created_at = 1, .updated_at = 1};
	if (!uuid_v7(ep.id))
		return STORE_FAIL;
	snprintf(ep.tenant_id, sizeof ep.tenant_id, "%s", (const char *)arg);
	snprintf(ep.url, sizeof ep.url, "https://example.com/hook");
	snprintf(ep.format, sizeof ep.format, "standard");
	snprintf(ep.event_types, sizeof ep.event_types, "[\"*\"]");
	snprintf(ep.secret, sizeof ep.secret, "whsec_x");
	return STORE_CALL(tx, hook_endpoint_insert, &ep);
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	struct svc_bulk_report rep;
	struct svc_bulk_request q = request(f, 10, 1);
	q.tenant_id = "00000000-0000-7000-8000-000000000000";
	assert_int_equal(svc_bulk_load(&f->svc, &q, &rep), ERR_NOT_FOUND);
	svc_bulk_report_clear(&rep);
	q = request(f, 0, 1);
	assert_int_equal(svc_bulk_load(&f->svc, &q, &rep), ERR_INVALID_VALUE);
	svc_bulk_report_clear(&rep);
	q = request(f, 10, LIMIT_BULK_ACCOUNTS_MAX + 1);
	assert_int_equal(svc_bulk_load(&f->svc, &q, &rep), ERR_INVALID_VALUE);
	svc_bulk_report_clear(&rep);
	assert_int_equal(store_run(f->store, true, hook_tx, f->auth.tenant_id), STORE_OK);
	q = request(f, 10, 1);
	assert_int_equal(svc_bulk_load(&f->svc, &q, &rep), ERR_INVALID_STATE_TRANSITION);
	assert_non_null(strstr(rep.problem, "webhook"));
	svc_bulk_report_clear(&rep);
	/* Nothing was written. */
	struct svc_session_query lq = {.limit = 10};
	struct list_arg l = {0};
	bool more;
	assert_int_equal(svc_session_list(&f->svc, &f->auth, &lq, on_listed, &l, &more), ERR_OK);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_loaded_session_is_a_settled_session, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_pages_walk_every_loaded_session_once, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
