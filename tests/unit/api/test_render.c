/*
 * test_render.c - the session's text: the snapshot events carry, the
 * answer a create reuses and GET's answer are written by json_out
 * (api_session_render), lists by jansson (api_session_json); all must be
 * the same bytes for the same session, and the answer must reuse the
 * snapshot only for the very same session.
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

/* Every optional part of the shape, and every kind of character a string
 * may hold, through both writers. */
static void test_text_writer_matches_jansson(void **state)
{
	static const char *const texts[] = {
		"", "plain", "a/b \"q\" \\ é € 😀", "tab\there\nline\r\b\f", "\x01\x1f\x7f",
		"\xef\xbf\xbf \xf4\x8f\xbf\xbf", /* U+FFFF, U+10FFFF: valid */
	};
	struct store_session s;
	for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
		for (int variant = 0; variant < 8; variant++) {
			fill(&s);
			snprintf(s.payment_reference, sizeof s.payment_reference, "%s", texts[t]);
			snprintf(s.failure_reason, sizeof s.failure_reason, "%s",
				 variant & 1 ? texts[t] : "");
			snprintf(s.failure_detail, sizeof s.failure_detail, "%s",
				 variant & 1 ? "AC04" : "");
			if (variant & 1)
				s.fiat_rail[0] = '\0';
			if (variant & 2) {
				snprintf(s.approval_id, sizeof s.approval_id, "%s", s.id);
				snprintf(s.approved_by_id, sizeof s.approved_by_id, "%s", s.client_id);
				snprintf(s.approved_by_kind, sizeof s.approved_by_kind, "service");
				s.fee_network_minor = 0;
			}
			if (variant & 4) {
				s.fee_platform_minor = 1250;
				s.fee_partner_minor = 7;
				s.fee_total_minor = s.fee_network_minor + 1257;
				s.fill_rate_value = 9234;
				s.fill_rate_scale = 4;
				s.delivered_minor = 23085;
				s.settled_at = 1780000009;
				snprintf(s.target_currency, sizeof s.target_currency, "BRL");
			}
			char *want = jansson_text(&s);
			size_t len = 0;
			char *got = api_session_render(&s, &len);
			assert_non_null(want);
			assert_non_null(got);
			assert_string_equal(got, want);
			assert_int_equal(len, strlen(want));
			free(want);
			free(got);
		}
	}
}

/* Text jansson would not hold (not UTF-8) renders as nothing: no answer
 * rather than one with a field left out. */
static void test_text_writer_refuses_invalid_utf8(void **state)
{
	static const char *const bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
					  "ok\xff", "\xe2\x82"};
	struct store_session s;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		fill(&s);
		snprintf(s.payment_reference, sizeof s.payment_reference, "%s", bad[i]);
		assert_null(json_string(bad[i]));
		assert_null(api_session_render(&s, NULL));
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
		cmocka_unit_test(test_text_writer_matches_jansson),
		cmocka_unit_test(test_text_writer_refuses_invalid_utf8),
	};
	return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
