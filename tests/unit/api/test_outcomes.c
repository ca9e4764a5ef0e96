/*
 * test_outcomes.c - what each surface says of a refusal the service hands
 * it as a typed outcome: the JSON pointer each body names for every
 * enum svc_field (one table below, every field a row, so a field added
 * without its names fails here), and the error envelope with typed
 * details written as exact decimal strings, byte for byte as the answers
 * the e2e tests hold.
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

/* Every field and what each body calls it (NULL: that body names none).
 * sessions: POST /off-ramp-sessions and every other sessions API body;
 * dest: POST /withdrawal-destinations (and Lumx's POST /destinations);
 * lumx_tx: POST /transactions/off-ramp; lumx_rate: POST /exchange-rates. */
static const struct {
	enum svc_field f;
	const char *sessions, *dest, *lumx_tx, *lumx_rate;
} names[] = {
	{SVC_FIELD_CLIENT, "/client_ref", "/client_ref", NULL, NULL},
	{SVC_FIELD_ACCOUNT, "/account_ref", "/account_ref", "/bankAccountId", NULL},
	{SVC_FIELD_AMOUNT, "/amount/value", "/amount/value", "/sourceAmount", NULL},
	{SVC_FIELD_TARGET_CURRENCY, "/target_currency", "/target_currency", "/bankAccountId",
	 "/targetCurrency"},
	{SVC_FIELD_DESTINATION_ID, "/destination/withdrawal_destination_id",
	 "/destination/withdrawal_destination_id", "/bankAccountId", NULL},
	{SVC_FIELD_ROUTE_OWNER, "/destination/route_owner_ref", "/destination/route_owner_ref",
	 "/bankAccountId", NULL},
	{SVC_FIELD_DESTINATION, "/destination/destination", "/destination/destination",
	 "/bankAccountId", NULL},
	{SVC_FIELD_DESTINATION_COUNTRY, "/destination/destination/bank_coordinates/country",
	 "/destination/bank_coordinates/country", "/bankAccountId", NULL},
	{SVC_FIELD_EXCHANGE_RATE, NULL, NULL, "/exchangeRateId", NULL},
	{SVC_FIELD_PARTNER_FEE, NULL, NULL, "/partnerFeeId", NULL},
	{SVC_FIELD_EVENT, "/event_id", "/event_id", NULL, NULL},
};

static void assert_name(const char *got, const char *want, enum svc_field f, const char *map)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("%s names %s as %s, want %s", map, svc_field_name(f), got ? got : "nothing",
			 want ? want : "nothing");
}

static void test_every_field_has_a_row(void **state)
{
	assert_int_equal(sizeof names / sizeof *names, SVC_FIELD__COUNT - 1);
	for (int f = 1; f < SVC_FIELD__COUNT; f++) {
		bool found = false;
		for (size_t i = 0; i < sizeof names / sizeof *names; i++)
			found |= names[i].f == (enum svc_field)f;
		if (!found)
			fail_msg("no row for %s", svc_field_name((enum svc_field)f));
		assert_true(svc_field_name((enum svc_field)f)[0] != '\0');
	}
}

static void test_each_surface_names_each_field(void **state)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		enum svc_field f = names[i].f;
		assert_name(api_field_pointer(f), names[i].sessions, f, "sessions");
		assert_name(api_destination_field_pointer(f), names[i].dest, f, "destinations");
		assert_name(api_lumx_tx_field_pointer(f), names[i].lumx_tx, f, "lumx transactions");
		assert_name(api_lumx_rate_field_pointer(f), names[i].lumx_rate, f, "lumx rates");
	}
	/* Nothing blamed, or out of range: no field at all. */
	assert_null(api_field_pointer(SVC_FIELD_NONE));
	assert_null(api_destination_field_pointer(SVC_FIELD_NONE));
	assert_null(api_lumx_tx_field_pointer(SVC_FIELD_NONE));
	assert_null(api_lumx_rate_field_pointer(SVC_FIELD_NONE));
	assert_null(api_field_pointer(SVC_FIELD__COUNT));
	assert_null(api_lumx_tx_field_pointer(SVC_FIELD__COUNT));
}

/* Every field a session creation may blame has a pointer on the sessions
 * API unless only a Lumx body can carry it, and one on Lumx's body unless
 * only the sessions API's can: no refusal goes out without its field. */
static void test_no_refusal_loses_its_field(void **state)
{
	for (int f = 1; f < SVC_FIELD__COUNT; f++) {
		bool lumx_only = f == SVC_FIELD_EXCHANGE_RATE || f == SVC_FIELD_PARTNER_FEE;
		bool sessions_only = f == SVC_FIELD_CLIENT || f == SVC_FIELD_EVENT;
		const char *s = api_field_pointer((enum svc_field)f);
		const char *l = api_lumx_tx_field_pointer((enum svc_field)f);
		if (!lumx_only && (!s || s[0] != '/'))
			fail_msg("the sessions API names no %s", svc_field_name((enum svc_field)f));
		if (!sessions_only && (!l || l[0] != '/'))
			fail_msg("Lumx names no %s", svc_field_name((enum svc_field)f));
	}
}

static char *render(const struct svc_outcome *o, api_field_map map)
{
	struct api_request req = {.method = "POST", .path = "/x"};
	snprintf(req.request_id, sizeof req.request_id, "r-1");
	struct api_call c = {.req = &req};
	struct svc_answer a = {0};
	api_render_outcome(&c, o, map, &a);
	assert_non_null(a.body);
	assert_int_equal(a.status, err_http_status(o->err));
	return a.body;
}

static void assert_renders(const struct svc_outcome *o, api_field_map map, const char *want)
{
	char *got = render(o, map);
	assert_string_equal(got, want);
	free(got);
}

static void test_limit_details_are_exact_decimals(void **state)
{
	struct svc_outcome o = {
		.err = ERR_LIMIT_EXCEEDED,
		.field = SVC_FIELD_AMOUNT,
		.details = {.kind = SVC_DETAILS_LIMIT,
			    .limit = {SVC_LIMIT_KIND_DAILY, CUR_USDC, 250000000000LL, 249999999999LL,
				      1}},
	};
	assert_renders(&o, api_field_pointer,
		       "{\"code\":\"limit_exceeded\",\"details\":{\"field\":\"/amount/value\","
		       "\"limit\":\"daily\",\"max\":\"250000.00\",\"remaining\":\"0.000001\","
		       "\"used\":\"249999.999999\"},\"message\":\"amount exceeds a limit\","
		       "\"request_id\":\"r-1\"}");
	o.details.limit.kind = SVC_LIMIT_KIND_PER_TRANSACTION;
	o.details.limit.max_minor = o.details.limit.remaining_minor = 5000000;
	o.details.limit.used_minor = 0;
	assert_renders(&o, api_lumx_tx_field_pointer,
		       "{\"code\":\"limit_exceeded\",\"details\":{\"field\":\"/sourceAmount\","
		       "\"limit\":\"per_transaction\",\"max\":\"5.00\",\"remaining\":\"5.00\","
		       "\"used\":\"0.00\"},\"message\":\"amount exceeds a limit\","
		       "\"request_id\":\"r-1\"}");
	o.details.limit.kind = SVC_LIMIT_KIND_MONTHLY;
	char *got = render(&o, api_lumx_tx_field_pointer);
	assert_non_null(strstr(got, "\"limit\":\"monthly\""));
	free(got);
}

static void test_verification_and_no_details(void **state)
{
	struct svc_outcome o = {
		.err = ERR_CUSTOMER_NOT_VERIFIED,
		.field = SVC_FIELD_ACCOUNT,
		.details = {.kind = SVC_DETAILS_VERIFICATION,
			    .verification.state = SVC_VERIFICATION_FINAL_REJECTION},
	};
	char *s = render(&o, api_field_pointer), *l = render(&o, api_lumx_tx_field_pointer);
	assert_non_null(strstr(s, "\"details\":{\"field\":\"/account_ref\","
				  "\"verification\":\"FINAL_REJECTION\"}"));
	assert_non_null(strstr(l, "\"details\":{\"field\":\"/bankAccountId\","
				  "\"verification\":\"FINAL_REJECTION\"}"));
	free(s);
	free(l);
	/* No field, no details: an empty object; a map of NULL names none. */
	o = (struct svc_outcome){.err = ERR_NOT_FOUND, .field = SVC_FIELD_ACCOUNT};
	s = render(&o, NULL);
	assert_non_null(strstr(s, "\"details\":{}"));
	free(s);
	o.field = SVC_FIELD_NONE;
	s = render(&o, api_field_pointer);
	assert_non_null(strstr(s, "\"details\":{}"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_has_a_row),
		cmocka_unit_test(test_each_surface_names_each_field),
		cmocka_unit_test(test_no_refusal_loses_its_field),
		cmocka_unit_test(test_limit_details_are_exact_decimals),
		cmocka_unit_test(test_verification_and_no_details),
	};
	return cmocka_run_group_tests_name("outcomes", tests, NULL, NULL);
}
