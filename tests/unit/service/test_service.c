/*
 * test_service.c - the service over a real SQLite file, without HTTP:
 * keys, the seed session, idempotency (replay, reuse, 16 racing
 * duplicates), kept 422s, the typed outcomes refusals hand the renderer
 * (the field blamed, limit and verification details), and the ledger
 * audit after each.
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
#include "service/service.h"

#include <sqlite3.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "fixture.h"

static struct svc_session_request seed_request(struct fx *f, int64_t amount)
{
	return (struct svc_session_request){
		.account_id = f->account_id,
		.source = CUR_USDC,
		.amount_minor = amount,
		.target_currency = CUR_EUR,
		.target_rail = "fiat",
		.route_owner_client_id = f->client_id,
		.destination_id = f->dest_id,
		.inline_dest = &f->dest,
		.payment_reference = "RF18539007547034",
	};
}

static void balance(struct fx *f, int64_t *avail, int64_t *held)
{
	struct svc_account_view v;
	assert_int_equal(svc_account_get(&f->svc, &f->auth, f->account_id, &v), ERR_OK);
	assert_int_equal(v.balances[0].currency, CUR_USDC);
	*avail = ledger_available(&v.balances[0].b);
	*held = ledger_held(&v.balances[0].b);
}

static void count_each(void *arg, const struct store_session *s) { ++*(int *)arg; }

static int session_count(struct fx *f)
{
	int n = 0;
	bool more;
	struct svc_session_query q = {.limit = 100};
	assert_int_equal(svc_session_list(&f->svc, &f->auth, &q, count_each, &n, &more), ERR_OK);
	return n;
}

static void test_auth_rejects_unknown_and_empty_keys(void **state)
{
	struct fx *f = *state;
	struct auth a;
	char wrong[64];
	snprintf(wrong, sizeof wrong, "%s", f->key.secret);
	wrong[strlen(wrong) - 1] ^= 1;
	assert_int_equal(svc_authenticate(&f->svc, wrong, &a), ERR_UNAUTHENTICATED);
	assert_int_equal(svc_authenticate(&f->svc, "", &a), ERR_UNAUTHENTICATED);
	assert_int_equal(svc_authenticate(&f->svc, NULL, &a), ERR_UNAUTHENTICATED);
	assert_int_equal(f->auth.caps, CAP_ALL);
	struct svc_new_key k2;
	assert_int_equal(svc_api_key_create(&f->svc, f->key.tenant_id, CAP_RAMPS_READ, "service",
					    &k2),
			 ERR_OK);
	assert_int_equal(svc_authenticate(&f->svc, k2.secret, &a), ERR_OK);
	assert_int_equal(a.caps, CAP_RAMPS_READ);
	assert_string_equal(a.principal_kind, "service");
	assert_int_equal(svc_api_key_create(&f->svc, "00000000-0000-7000-8000-00000000dead",
					    CAP_RAMPS_READ, "user", &k2),
			 ERR_NOT_FOUND);
}

/* Revoke a key behind the service's back (no revocation API yet). */
static void revoke_key(const struct fx *f, const char *secret)
{
	uint8_t h[32];
	crypto_sha256(secret, strlen(secret), h);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE api_keys SET revoked_at = 1 WHERE key_hash = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The auth cache answers without the store for at most
 * LIMIT_AUTH_CACHE_MS: a revoked key keeps working no longer than that;
 * without a cache, not at all. */
static void test_auth_cache_bounds_revocation(void **state)
{
	struct fx *f = *state;
	struct svc_new_key k;
	struct auth a;
	assert_int_equal(svc_api_key_create(&f->svc, f->auth.tenant_id, f->key.caps, "service", &k),
			 ERR_OK);
	f->svc.auth_cache = svc_auth_cache_new();
	assert_non_null(f->svc.auth_cache);
	assert_int_equal(svc_authenticate(&f->svc, k.secret, &a), ERR_OK);
	assert_string_equal(a.principal_id, k.principal_id);
	revoke_key(f, k.secret);
	uint64_t t0 = clock_now_ms();
	enum err cached = svc_authenticate(&f->svc, k.secret, &a);
	if (clock_now_ms() - t0 < LIMIT_AUTH_CACHE_MS / 2)
		assert_int_equal(cached, ERR_OK); /* still within the bound */
	usleep((LIMIT_AUTH_CACHE_MS + 100) * 1000);
	assert_int_equal(svc_authenticate(&f->svc, k.secret, &a), ERR_UNAUTHENTICATED);
	/* A wrong secret sharing the slot is never a hit. */
	assert_int_equal(svc_authenticate(&f->svc, "ofr_sk_not-a-key", &a), ERR_UNAUTHENTICATED);
	svc_auth_cache_free(f->svc.auth_cache);
	f->svc.auth_cache = NULL;
	/* Without a cache, revocation is immediate. */
	assert_int_equal(svc_authenticate(&f->svc, f->key.secret, &a), ERR_OK);
	revoke_key(f, f->key.secret);
	assert_int_equal(svc_authenticate(&f->svc, f->key.secret, &a), ERR_UNAUTHENTICATED);
}

static void test_seed_session_holds_principal_plus_fee(void **state)
{
	struct fx *f = *state;
	struct svc_session_request q = seed_request(f, 250000000);
	struct svc_answer a = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	assert_int_equal(a.status, 201);
	struct store_session s;
	assert_int_equal(svc_session_get(&f->svc, &f->auth, a.body, &s), ERR_OK);
	assert_string_equal(s.status, "executing");
	assert_int_equal(s.fee_total_minor, 1000000);
	int64_t avail, held;
	balance(f, &avail, &held);
	assert_int_equal(held, 251000000);
	assert_int_equal(avail, 749000000);
	svc_answer_clear(&a);
}

static void test_replay_and_reuse(void **state)
{
	struct fx *f = *state;
	struct svc_session_request q = seed_request(f, 10000000);
	struct svc_idem idem = {.key = "k1", .endpoint = "POST /off-ramp-sessions",
				.request_hash = "aaaa"};
	struct svc_answer a1 = {0}, a2 = {0}, a3 = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a1);
	assert_int_equal(a1.status, 201);
	assert_false(a1.cached);
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a2);
	assert_true(a2.cached);
	assert_int_equal(a2.status, 201);
	assert_memory_equal(a1.body, a2.body, a1.len);
	assert_int_equal(session_count(f), 1);
	snprintf(idem.request_hash, sizeof idem.request_hash, "bbbb");
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a3);
	assert_int_equal(a3.status, 409);
	assert_string_equal(a3.body, "idempotency_key_reused");
	assert_int_equal(session_count(f), 1);
	/* The same key on another endpoint is another key. */
	snprintf(idem.endpoint, sizeof idem.endpoint, "POST /clients");
	assert_int_equal(svc_idem_replay(&f->svc, &f->auth, &idem, &a3), ERR_NOT_FOUND);
	svc_answer_clear(&a1);
	svc_answer_clear(&a2);
	svc_answer_clear(&a3);
}

/* The record is written once, with its answer (one statement on the
 * single writer); an expired record under the key is replaced by the next
 * use of the key, which then replays as usual. */
static const struct store_ops *real_ops;
static struct store_ops recording_ops;
static int idem_inserts, idem_inserts_with_answer;

static enum store_status record_idem_insert(struct store_tx *tx, const struct store_idem *r)
{
	idem_inserts++;
	idem_inserts_with_answer += r->status == 201 && r->body && r->body_len > 0;
	return real_ops->idem_insert(tx, r);
}

static void expire_key(struct fx *f, const char *key)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE idempotency SET expires_at = 1 WHERE key = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_key_record_written_once_with_its_answer(void **state)
{
	struct fx *f = *state;
	real_ops = f->store->ops;
	recording_ops = *real_ops;
	recording_ops.idem_insert = record_idem_insert;
	f->store->ops = &recording_ops;
	struct svc_session_request q = seed_request(f, 10000000);
	struct svc_idem idem = {.key = "k-expiring", .endpoint = "POST /off-ramp-sessions",
				.request_hash = "aaaa"};
	struct svc_answer a1 = {0}, a2 = {0}, a3 = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a1);
	assert_int_equal(a1.status, 201);
	assert_int_equal(idem_inserts, 1);
	assert_int_equal(idem_inserts_with_answer, 1);
	/* Expired: the key is free again, for another request. */
	expire_key(f, idem.key);
	snprintf(idem.request_hash, sizeof idem.request_hash, "bbbb");
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a2);
	assert_int_equal(a2.status, 201);
	assert_false(a2.cached);
	assert_string_not_equal(a1.body, a2.body);
	assert_int_equal(session_count(f), 2);
	assert_int_equal(idem_inserts_with_answer, 2);
	/* The new record is the one kept. */
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a3);
	assert_true(a3.cached);
	assert_string_equal(a3.body, a2.body);
	assert_int_equal(session_count(f), 2);
	f->store->ops = real_ops;
	svc_answer_clear(&a1);
	svc_answer_clear(&a2);
	svc_answer_clear(&a3);
}

static void test_insufficient_funds_is_kept_and_changes_nothing(void **state)
{
	struct fx *f = *state;
	int64_t avail0, held0, avail1, held1;
	balance(f, &avail0, &held0);
	/* 999.00 + 1.00 fee = exactly 1000.00: allowed; 999.000001 is not. */
	struct svc_session_request q = seed_request(f, 999000001);
	struct svc_idem idem = {.key = "poor", .endpoint = "POST /off-ramp-sessions",
				.request_hash = "cccc"};
	struct svc_answer a = {0}, b = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &a);
	assert_int_equal(a.status, 422);
	assert_string_equal(a.body, "insufficient_funds");
	balance(f, &avail1, &held1);
	assert_int_equal(avail0, avail1);
	assert_int_equal(held0, held1);
	assert_int_equal(session_count(f), 0);
	/* Kept: the same key replays the 422 even once funds would suffice. */
	svc_session_create(&f->svc, &f->auth, &idem, &q, &r, &b);
	assert_true(b.cached);
	assert_int_equal(b.status, 422);
	svc_answer_clear(&a);
	svc_answer_clear(&b);
	/* Exactly the available balance is allowed. */
	q.amount_minor = 999000000;
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	assert_int_equal(a.status, 201);
	balance(f, &avail1, &held1);
	assert_int_equal(avail1, 0);
	svc_answer_clear(&a);
}

static void test_destination_checks(void **state)
{
	struct fx *f = *state;
	struct svc_answer a = {0};
	struct svc_render r = {fx_render, "session"};
	struct svc_session_request q = seed_request(f, 1000000);
	struct destination other = f->dest;
	snprintf(other.bank.beneficiary_name, sizeof other.bank.beneficiary_name, "Mallory Ltd");
	q.inline_dest = &other;
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	assert_string_equal(a.body, "destination_mismatch");
	svc_answer_clear(&a);
	q = seed_request(f, 1000000);
	q.route_owner_client_id = "00000000-0000-7000-8000-0000000000aa";
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	assert_string_equal(a.body, "destination_mismatch");
	svc_answer_clear(&a);
	q = seed_request(f, 1000000);
	q.destination_id = "00000000-0000-7000-8000-0000000000bb";
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	assert_int_equal(a.status, 404);
	svc_answer_clear(&a);
	q = seed_request(f, 1000000);
	q.account_id = "00000000-0000-7000-8000-0000000000cc";
	svc_session_create(&f->svc, &f->auth, NULL, &q, &r, &a);
	assert_int_equal(a.status, 404);
	svc_answer_clear(&a);
	assert_int_equal(session_count(f), 0);
}

/* A renderer that keeps the outcome it was handed. */
static void keep_outcome(void *ctx, const struct svc_outcome *o, const void *result,
			 struct svc_answer *out)
{
	*(struct svc_outcome *)ctx = *o;
	out->body = strdup(o->err ? err_code(o->err) : "ok");
	out->len = strlen(out->body);
	out->status = 1;
}

static struct svc_outcome outcome_of(struct fx *f, const struct svc_session_request *q)
{
	struct svc_outcome o;
	memset(&o, 0xff, sizeof o); /* whatever the renderer is not handed shows */
	struct svc_render r = {keep_outcome, &o};
	struct svc_answer a = {0};
	svc_session_create(&f->svc, &f->auth, NULL, q, &r, &a);
	svc_answer_clear(&a);
	return o;
}

static void assert_refused(struct svc_outcome o, enum err e, enum svc_field field)
{
	assert_string_equal(err_code(o.err), err_code(e));
	assert_string_equal(svc_field_name(o.field), svc_field_name(field));
}

static void test_refusals_are_typed(void **state)
{
	struct fx *f = *state;
	struct svc_session_request q = seed_request(f, 1000000);
	q.account_id = "00000000-0000-7000-8000-0000000000cc";
	struct svc_outcome o = outcome_of(f, &q);
	assert_refused(o, ERR_NOT_FOUND, SVC_FIELD_ACCOUNT);
	assert_int_equal(o.details.kind, SVC_DETAILS_NONE);

	q = seed_request(f, 1000000);
	q.destination_id = "00000000-0000-7000-8000-0000000000bb";
	assert_refused(outcome_of(f, &q), ERR_NOT_FOUND, SVC_FIELD_DESTINATION_ID);
	q = seed_request(f, 1000000);
	q.route_owner_client_id = "00000000-0000-7000-8000-0000000000aa";
	assert_refused(outcome_of(f, &q), ERR_DESTINATION_MISMATCH, SVC_FIELD_ROUTE_OWNER);
	struct destination other = f->dest;
	other.bank.has_reference_hint = true; /* "" differs from none */
	q = seed_request(f, 1000000);
	q.inline_dest = &other;
	assert_refused(outcome_of(f, &q), ERR_DESTINATION_MISMATCH, SVC_FIELD_DESTINATION);
	q = seed_request(f, 999000001); /* with the 1.00 fee, 0.000001 past the balance */
	assert_refused(outcome_of(f, &q), ERR_INSUFFICIENT_FUNDS, SVC_FIELD_AMOUNT);

	/* Limits: the first one passed, with max, used and what remains. */
	assert_int_equal(svc_limits_set(&f->svc, &f->auth, f->client_id, 100000000, 250000000, -1),
			 ERR_OK);
	q = seed_request(f, 100000001);
	o = outcome_of(f, &q);
	assert_refused(o, ERR_LIMIT_EXCEEDED, SVC_FIELD_AMOUNT);
	assert_int_equal(o.details.kind, SVC_DETAILS_LIMIT);
	assert_int_equal(o.details.limit.kind, SVC_LIMIT_KIND_PER_TRANSACTION);
	assert_int_equal(o.details.limit.currency, CUR_USDC);
	assert_int_equal(o.details.limit.max_minor, 100000000);
	assert_int_equal(o.details.limit.used_minor, 0);
	assert_int_equal(o.details.limit.remaining_minor, 100000000);
	for (int i = 0; i < 2; i++) {
		q = seed_request(f, 100000000);
		assert_int_equal(outcome_of(f, &q).err, ERR_OK);
	}
	q = seed_request(f, 100000001);
	o = outcome_of(f, &q);
	assert_refused(o, ERR_LIMIT_EXCEEDED, SVC_FIELD_AMOUNT);
	assert_int_equal(o.details.limit.kind, SVC_LIMIT_KIND_PER_TRANSACTION);
	q = seed_request(f, 100000000);
	o = outcome_of(f, &q);
	assert_refused(o, ERR_LIMIT_EXCEEDED, SVC_FIELD_AMOUNT);
	assert_int_equal(o.details.limit.kind, SVC_LIMIT_KIND_DAILY);
	assert_int_equal(o.details.limit.max_minor, 250000000);
	assert_int_equal(o.details.limit.used_minor, 200000000);
	assert_int_equal(o.details.limit.remaining_minor, 50000000);
	/* A limit lowered below what was used leaves nothing, never less. */
	assert_int_equal(svc_limits_set(&f->svc, &f->auth, f->client_id, -1, 150000000, -1), ERR_OK);
	q = seed_request(f, 1000000);
	o = outcome_of(f, &q);
	assert_int_equal(o.details.limit.kind, SVC_LIMIT_KIND_DAILY);
	assert_int_equal(o.details.limit.used_minor, 200000000);
	assert_int_equal(o.details.limit.remaining_minor, 0);
}

static void test_unverified_customer_refusal_carries_its_state(void **state)
{
	struct fx *f = *state;
	struct svc_customer cust = {"{}", SVC_VERIFICATION_RFI};
	struct svc_answer a = {0};
	struct svc_render rc = {fx_render, "client"};
	svc_client_create(&f->svc, &f->auth, NULL, "Unverified", &cust, &rc, &a);
	assert_int_equal(a.status, 201);
	struct store_client cl;
	assert_int_equal(svc_client_get(&f->svc, &f->auth, a.body, &cl), ERR_OK);
	svc_answer_clear(&a);
	struct svc_session_request q = seed_request(f, 1000000);
	q.account_id = cl.default_account_id;
	struct svc_outcome o = outcome_of(f, &q);
	assert_refused(o, ERR_CUSTOMER_NOT_VERIFIED, SVC_FIELD_ACCOUNT);
	assert_int_equal(o.details.kind, SVC_DETAILS_VERIFICATION);
	assert_int_equal(o.details.verification.state, SVC_VERIFICATION_RFI);
}

static void test_other_tenant_sees_nothing(void **state)
{
	struct fx *f = *state;
	struct svc_new_key k;
	struct auth other;
	assert_int_equal(svc_tenant_create(&f->svc, "Other", &k), ERR_OK);
	assert_int_equal(svc_authenticate(&f->svc, k.secret, &other), ERR_OK);
	struct store_client cl;
	struct svc_account_view v;
	struct store_destination d = {0};
	assert_int_equal(svc_client_get(&f->svc, &other, f->client_id, &cl), ERR_NOT_FOUND);
	assert_int_equal(svc_account_get(&f->svc, &other, f->account_id, &v), ERR_NOT_FOUND);
	assert_int_equal(svc_destination_get(&f->svc, &other, f->dest_id, &d), ERR_NOT_FOUND);
	struct svc_session_request q = seed_request(f, 1000000);
	struct svc_answer a = {0};
	struct svc_render r = {fx_render, "session"};
	svc_session_create(&f->svc, &other, NULL, &q, &r, &a);
	assert_int_equal(a.status, 404);
	svc_answer_clear(&a);
}

struct racer {
	struct fx *f;
	pthread_barrier_t *start;
	struct svc_answer a;
};

static void *race(void *arg)
{
	struct racer *x = arg;
	struct svc_session_request q = seed_request(x->f, 5000000);
	struct svc_idem idem = {.key = "race", .endpoint = "POST /off-ramp-sessions",
				.request_hash = "dddd"};
	struct svc_render r = {fx_render, "session"};
	pthread_barrier_wait(x->start);
	svc_session_create(&x->f->svc, &x->f->auth, &idem, &q, &r, &x->a);
	return NULL;
}

static void test_sixteen_concurrent_duplicates_make_one_session(void **state)
{
	struct fx *f = *state;
	enum { N = 16 };
	pthread_t t[N];
	struct racer x[N];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, N);
	for (int i = 0; i < N; i++) {
		x[i] = (struct racer){.f = f, .start = &start};
		pthread_create(&t[i], NULL, race, &x[i]);
	}
	int fresh = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(x[i].a.status, 201);
		assert_string_equal(x[i].a.body, x[0].a.body);
		fresh += !x[i].a.cached;
	}
	assert_int_equal(fresh, 1);
	assert_int_equal(session_count(f), 1);
	int64_t avail, held;
	balance(f, &avail, &held);
	assert_int_equal(held, 6000000);
	for (int i = 0; i < N; i++)
		svc_answer_clear(&x[i].a);
	pthread_barrier_destroy(&start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth_rejects_unknown_and_empty_keys, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_auth_cache_bounds_revocation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_seed_session_holds_principal_plus_fee, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_reuse, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_key_record_written_once_with_its_answer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_insufficient_funds_is_kept_and_changes_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_destination_checks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals_are_typed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unverified_customer_refusal_carries_its_state,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_other_tenant_sees_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sixteen_concurrent_duplicates_make_one_session, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
