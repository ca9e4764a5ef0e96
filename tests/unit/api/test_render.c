/*
 * test_render.c - the session's text: the snapshot events carry and the
 * answer a create reuses are written by json_exact_dumps (yajl), GET by
 * jansson; all three must be the same bytes for the same session, and the
 * answer must reuse the snapshot only for the very same session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_internal.h"

static void fill(struct store_session *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "01a23c4d-580f-7002-a7fd-aad98de27565");
	snprintf(s->tenant_id, sizeof s->tenant_id, "01a23c4d-5769-7002-bf0e-dd1e466fc72a");
	snprintf(s->account_id, sizeof s->account_id, "01a23c4d-5769-7002-bf0e-dd1e466fc72b");
	snprintf(s->client_id, sizeof s->client_id, "01a23c4d-5769-7002-bf0e-dd1e466fc72c");
	snprintf(s->destination_id, sizeof s->destination_id, "01a23c4d-5769-7002-bf0e-dd1e466fc72d");
	snprintf(s->principal_id, sizeof s->principal_id, "01a23c4d-5769-7002-bf0e-dd1e466fc72e");
	snprintf(s->principal_kind, sizeof s->principal_kind, "user");
	snprintf(s->status, sizeof s->status, "executing");
	snprintf(s->stage, sizeof s->stage, "stablecoin_transfer");
	snprintf(s->currency, sizeof s->currency, "USDC");
	snprintf(s->target_currency, sizeof s->target_currency, "EUR");
	snprintf(s->target_rail, sizeof s->target_rail, "fiat");
	snprintf(s->method, sizeof s->method, "bank_transfer");
	snprintf(s->fiat_rail, sizeof s->fiat_rail, "sepa_credit_transfer");
	/* Escapes and non-ASCII text must come out the same from both writers. */
	snprintf(s->payment_reference, sizeof s->payment_reference, "a/b \"q\" \\ é € 😀");
	s->principal_minor = 250000000;
	s->fee_network_minor = 1000000;
	s->fee_total_minor = 1000000;
	s->created_at = s->updated_at = 1780000000;
	s->version = 1;
}

static char *jansson_text(const struct store_session *s)
{
	json_t *o = api_session_json(s);
	char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return t;
}

static void test_three_writers_agree(void **state)
{
	struct store_session s;
	fill(&s);
	for (int round = 0; round < 2; round++) {
		char *get = jansson_text(&s);
		char *snap = api_session_snapshot(&s);
		char *answer = api_session_text(&s); /* reuses snap */
		char *again = api_session_text(&s);  /* used once: rendered anew */
		assert_non_null(get);
		assert_string_equal(snap, get);
		assert_string_equal(answer, get);
		assert_string_equal(again, get);
		free(get);
		free(snap);
		free(answer);
		free(again);
		/* A settled session: fill rate, delivered amount, settled_at. */
		snprintf(s.status, sizeof s.status, "settled");
		s.fill_rate_value = 92;
		s.fill_rate_scale = 2;
		s.delivered_minor = 23000;
		s.settled_at = 1780000003;
		s.version = 5;
	}
}

static void test_reuse_only_for_the_same_session(void **state)
{
	struct store_session s;
	fill(&s);
	char *snap = api_session_snapshot(&s);
	s.version++; /* changed after the snapshot */
	char *answer = api_session_text(&s);
	char *get = jansson_text(&s);
	assert_string_not_equal(answer, snap);
	assert_string_equal(answer, get);
	free(snap);
	free(answer);
	free(get);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_writers_agree),
		cmocka_unit_test(test_reuse_only_for_the_same_session),
	};
	return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
