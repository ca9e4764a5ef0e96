/*
 * test_webhooks.c - the dispatcher's side of the webhook outbox: claims
 * are fair (a backlog on one endpoint or tenant does not push others out,
 * per-endpoint and per-tenant caps hold), and a result is recorded only
 * under the lease its claim took (docs/WEBHOOKS.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/limits.h"
#include "fixture.h"

struct ins {
	const char *tenant, *endpoint;
	bool enabled;
	int n;
	int64_t due_ms;
	char ids[64][UUID_STR_LEN + 1]; /* event ids of the deliveries made */
};

static enum store_status endpoint_tx(struct store_tx *tx, void *arg)
{
	struct ins *in = arg;
	struct store_hook_endpoint ep = {.enabled = in->enabled, .created_at = 1, .updated_at = 1};
	snprintf(ep.id, sizeof ep.id, "%s", in->endpoint);
	snprintf(ep.tenant_id, sizeof ep.tenant_id, "%s", in->tenant);
	snprintf(ep.url, sizeof ep.url, "http://127.0.0.1:9/hook");
	snprintf(ep.format, sizeof ep.format, "standard");
	snprintf(ep.event_types, sizeof ep.event_types, "[\"*\"]");
	snprintf(ep.secret, sizeof ep.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	return STORE_CALL(tx, hook_endpoint_insert, &ep);
}

static enum store_status deliveries_tx(struct store_tx *tx, void *arg)
{
	struct ins *in = arg;
	for (int i = 0; i < in->n; i++) {
		struct store_hook_delivery d = {.next_attempt_ms = in->due_ms + i, .created_at = 1,
						.updated_at = 1, .body = "{}"};
		if (!uuid_v7(d.id) || !uuid_v7(d.event_id))
			return STORE_FAIL;
		snprintf(d.tenant_id, sizeof d.tenant_id, "%s", in->tenant);
		snprintf(d.endpoint_id, sizeof d.endpoint_id, "%s", in->endpoint);
		snprintf(d.message_id, sizeof d.message_id, "%s", d.event_id);
		snprintf(d.type, sizeof d.type, "off_ramp_session.settled");
		snprintf(d.status, sizeof d.status, "pending");
		snprintf(in->ids[i], sizeof in->ids[i], "%s", d.event_id);
		enum store_status st = STORE_CALL(tx, hook_delivery_insert, &d);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

/* An endpoint of tenant with n deliveries due from due_ms (oldest first);
 * its id goes to id. */
static void add_endpoint(struct fx *f, const char *tenant, bool enabled, int n, int64_t due_ms,
			 char id[UUID_STR_LEN + 1], struct ins *out)
{
	struct ins in = {.tenant = tenant, .endpoint = id, .enabled = enabled, .n = n,
			 .due_ms = due_ms};
	assert_true(uuid_v7(id));
	assert_int_equal(store_run(f->store, true, endpoint_tx, &in), STORE_OK);
	assert_int_equal(store_run(f->store, true, deliveries_tx, &in), STORE_OK);
	if (out)
		*out = in;
}

struct one {
	const char *endpoint, *event;
	struct store_hook_delivery d;
	int n;
};

static void one_row(void *arg, const void *row)
{
	struct one *o = arg;
	o->d = *(const struct store_hook_delivery *)row;
	o->d.body = NULL;
	o->n++;
}

static enum store_status one_tx(struct store_tx *tx, void *arg)
{
	struct one *o = arg;
	o->n = 0;
	return STORE_CALL(tx, hook_delivery_of_event, o->endpoint, o->event, one_row, o);
}

static struct store_hook_delivery delivery(struct fx *f, const char *endpoint, const char *event)
{
	struct one o = {.endpoint = endpoint, .event = event};
	assert_int_equal(store_run(f->store, false, one_tx, &o), STORE_OK);
	assert_int_equal(o.n, 1);
	return o.d;
}

static int count_of(const struct svc_hook_job *jobs, int n, const char *endpoint)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += strcmp(jobs[i].d.endpoint_id, endpoint) == 0;
	return k;
}

static void clear_all(struct svc_hook_job *jobs, int n)
{
	for (int i = 0; i < n; i++)
		svc_hook_job_clear(&jobs[i]);
}

/* A claim through the store at a later "now" (a lease run out). */
struct reclaim {
	int64_t at;
	struct store_hook_delivery d;
	int n;
};

static void reclaim_row(void *arg, const void *row)
{
	struct reclaim *r = arg;
	r->d = *(const struct store_hook_delivery *)row;
	r->d.body = NULL;
	r->n++;
}

static enum store_status claim_later_tx(struct store_tx *tx, void *arg)
{
	struct reclaim *r = arg;
	r->n = 0;
	return STORE_CALL(tx, hook_delivery_claim, r->at, "t/hook/0", r->at + LIMIT_WEBHOOK_LEASE_MS,
			  4, LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT, LIMIT_WEBHOOK_TENANT_IN_FLIGHT,
			  reclaim_row, r);
}

static enum store_status release_tx(struct store_tx *tx, void *arg)
{
	return tx->store->ops->hook_delivery_release_leases(tx, arg);
}

static void count_attempt(void *arg, const struct store_hook_attempt *at)
{
	(*(int *)arg)++;
}

static struct svc_hook_job jobs[LIMIT_WEBHOOK_IN_FLIGHT];

static void test_a_backlog_on_one_endpoint_does_not_starve_another(void **state)
{
	struct fx *f = *state;
	int64_t now = (int64_t)clock_now_ms();
	char dead[UUID_STR_LEN + 1], other[UUID_STR_LEN + 1];
	/* 40 old deliveries to one endpoint, then 2 newer ones to another of
	 * the same tenant. */
	add_endpoint(f, f->auth.tenant_id, true, 40, now - 60000, dead, NULL);
	add_endpoint(f, f->auth.tenant_id, true, 2, now - 1000, other, NULL);
	int64_t next = 0;
	int n = svc_hook_claim(&f->svc, "t/hook/0", 8, jobs, &next);
	assert_int_equal(n, 2 + LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT);
	assert_int_equal(count_of(jobs, n, other), 2);
	assert_int_equal(count_of(jobs, n, dead), LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT);
	assert_true(next != 0 && next <= now + 1000); /* more are due, held by the cap */
	for (int i = 0; i < n; i++) {
		/* the lease covers a whole send from now on */
		assert_true(jobs[i].d.lease_until_ms - now >= LIMIT_WEBHOOK_LEASE_MS);
		assert_string_equal(jobs[i].d.lease_owner, "t/hook/0");
		assert_string_equal(jobs[i].ep.id, jobs[i].d.endpoint_id);
		assert_string_equal(jobs[i].d.body, "{}");
	}
	/* While those are in flight, the capped endpoint gets no more. */
	struct svc_hook_job more[4];
	assert_int_equal(svc_hook_claim(&f->svc, "t/hook/0", 4, more, &next), 0);
	/* One answered: one slot of that endpoint frees, the oldest next. */
	for (int i = 0; i < n; i++) {
		if (strcmp(jobs[i].d.endpoint_id, dead) == 0) {
			assert_int_equal(svc_hook_complete(&f->svc, &jobs[i], 200, "", 5), SVC_HOOK_RECORDED);
			break;
		}
	}
	assert_int_equal(svc_hook_claim(&f->svc, "t/hook/0", 4, more, &next), 1);
	assert_string_equal(more[0].d.endpoint_id, dead);
	clear_all(more, 1);
	clear_all(jobs, n);
}

static void test_claims_take_turns_across_tenants_and_endpoints(void **state)
{
	struct fx *f = *state;
	int64_t now = (int64_t)clock_now_ms();
	/* Tenant A: 8 endpoints with 5 old deliveries each; tenant B: one
	 * endpoint with one delivery newer than all of A's. */
	char a[8][UUID_STR_LEN + 1], b[UUID_STR_LEN + 1];
	for (int i = 0; i < 8; i++)
		add_endpoint(f, f->auth.tenant_id, true, 5, now - 60000 + i * 10, a[i], NULL);
	struct svc_new_key key;
	struct auth other;
	assert_int_equal(svc_tenant_create(&f->svc, "Other", &key), ERR_OK);
	assert_int_equal(svc_authenticate(&f->svc, key.secret, &other), ERR_OK);
	add_endpoint(f, other.tenant_id, true, 1, now - 1000, b, NULL);

	/* Two slots: one for each tenant's turn, not A's two oldest. */
	int64_t next;
	int n = svc_hook_claim(&f->svc, "t/hook/0", 2, jobs, &next);
	assert_int_equal(n, 2);
	assert_int_equal(count_of(jobs, n, b), 1);
	clear_all(jobs, n);
	assert_int_equal(store_run(f->store, true, release_tx, "t/"), STORE_OK);

	/* Eight slots: each of A's endpoints once (round-robin), B first. */
	n = svc_hook_claim(&f->svc, "t/hook/0", 9, jobs, &next);
	assert_int_equal(n, 9);
	for (int i = 0; i < 8; i++)
		assert_int_equal(count_of(jobs, n, a[i]), 1);
	assert_int_equal(count_of(jobs, n, b), 1);
	clear_all(jobs, n);

	/* All the room there is: A stops at its tenant cap, no endpoint past
	 * its own cap (counting the leases already held). */
	n = svc_hook_claim(&f->svc, "t/hook/0", LIMIT_WEBHOOK_IN_FLIGHT, jobs, &next);
	assert_int_equal(n, LIMIT_WEBHOOK_TENANT_IN_FLIGHT - 8);
	for (int i = 0; i < 8; i++)
		assert_true(count_of(jobs, n, a[i]) + 1 <= LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT);
	clear_all(jobs, n);
}

static void test_a_result_is_recorded_only_under_its_own_lease(void **state)
{
	struct fx *f = *state;
	int64_t now = (int64_t)clock_now_ms();
	char ep[UUID_STR_LEN + 1];
	struct ins in;
	add_endpoint(f, f->auth.tenant_id, true, 1, now - 10, ep, &in);
	int64_t next;
	assert_int_equal(svc_hook_claim(&f->svc, "t/hook/0", 4, jobs, &next), 1);
	struct svc_hook_job first = jobs[0];

	/* The lease runs out and the same owner (one dispatcher thread has one
	 * name) claims it again: that claim sends it now, not the first. */
	struct reclaim rc = {.at = first.d.lease_until_ms + 1};
	assert_int_equal(store_run(f->store, true, claim_later_tx, &rc), STORE_OK);
	assert_int_equal(rc.n, 1);
	assert_string_equal(rc.d.id, first.d.id);
	assert_string_equal(rc.d.lease_owner, first.d.lease_owner);
	struct svc_hook_job second = first;
	second.d.lease_until_ms = rc.d.lease_until_ms;
	second.d.body = strdup("{}");

	/* The first send's result comes late: its attempt is kept, the
	 * delivery is left to the claim that owns it. */
	assert_int_equal(svc_hook_complete(&f->svc, &first, 200, "", 70000), SVC_HOOK_LEASE_LOST);
	struct store_hook_delivery d = delivery(f, ep, in.ids[0]);
	assert_string_equal(d.status, "pending");
	assert_int_equal(d.lease_until_ms, rc.d.lease_until_ms);
	assert_int_equal(d.attempts, 0);

	assert_int_equal(svc_hook_complete(&f->svc, &second, 500, "", 5), SVC_HOOK_RECORDED);
	d = delivery(f, ep, in.ids[0]);
	assert_string_equal(d.status, "pending");
	assert_int_equal(d.attempts, 1);
	assert_int_equal(d.lease_until_ms, 0);
	assert_int_equal(d.last_status, 500);
	/* Both attempts happened, both are listed. */
	int listed = 0;
	bool more = false;
	assert_int_equal(svc_hook_attempts(&f->svc, &f->auth, ep, NULL, 10, count_attempt, &listed,
					   &more),
			 ERR_OK);
	assert_int_equal(listed, 2);
}

static void test_disabled_endpoints_deliveries_end_at_the_claim(void **state)
{
	struct fx *f = *state;
	int64_t now = (int64_t)clock_now_ms();
	char off[UUID_STR_LEN + 1], on[UUID_STR_LEN + 1];
	struct ins in;
	add_endpoint(f, f->auth.tenant_id, false, 3, now - 100, off, &in);
	add_endpoint(f, f->auth.tenant_id, true, 1, now - 50, on, NULL);
	int64_t next;
	int n = svc_hook_claim(&f->svc, "t/hook/0", 8, jobs, &next);
	assert_int_equal(n, 1);
	assert_string_equal(jobs[0].d.endpoint_id, on);
	clear_all(jobs, n);
	for (int i = 0; i < 3; i++)
		assert_string_equal(delivery(f, off, in.ids[i]).status, "cancelled");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_backlog_on_one_endpoint_does_not_starve_another, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_claims_take_turns_across_tenants_and_endpoints, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_result_is_recorded_only_under_its_own_lease, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_disabled_endpoints_deliveries_end_at_the_claim, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
