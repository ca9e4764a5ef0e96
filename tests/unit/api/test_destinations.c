/*
 * test_destinations.c - a session's inline destination is compared with
 * the saved one as typed values (destination_equal on the saved text read
 * back with api_destination_read), where it used to be compared as
 * canonical JSON text. What counts as equal must not have moved: over one
 * destination of every rail and network and a variant for each field,
 * typed equality holds exactly when the canonical texts are the same
 * bytes; and every saved text reads back to a destination equal to the
 * one saved, whose text is the saved text again.
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
#include "domain/destination.h"

#define BC(coords) coords

/* One typed destination per rail, scheme and network, as a request gives
 * it: a bank transfer's coordinates (BC), or a whole crypto destination. */
static const struct {
	const char *rail, *currency, *json;
} bases[] = {
	{"sepa_credit_transfer", "EUR",
	 BC("\"scheme\":\"iban\",\"iban\":\"de89 3704 0044 0532 0130 00\",\"country\":\"de\","
	    "\"bic\":\"COBADEFFXXX\"")},
	{"sepa_instant", "EUR", BC("\"scheme\":\"iban\",\"iban\":\"FR1420041010050500013M02606\",\"country\":\"FR\"")},
	{"ach", "USD", BC("\"scheme\":\"aba\",\"routing_number\":\"021000021\",\"account_number\":"
			  "\"12345678\",\"account_type\":\"checking\",\"country\":\"US\"")},
	{"wire", "USD", BC("\"scheme\":\"aba\",\"routing_number\":\"026009593\",\"account_number\":"
			   "\"12345678\",\"account_type\":\"savings\"")},
	{"faster_payments", "GBP",
	 BC("\"scheme\":\"sort_code\",\"sort_code\":\"60-16-13\",\"account_number\":\"31926819\"")},
	{"pix", "BRL", BC("\"scheme\":\"pix\",\"pix_key_type\":\"EMAIL\",\"pix_key\":"
			  "\"Pix@Example.com.br\",\"country\":\"BR\"")},
	{"pix", "BRL", BC("\"scheme\":\"pix\",\"pix_key_type\":\"CPF\",\"pix_key\":\"529.982.247-25\"")},
	{"spei", "MXN", BC("\"scheme\":\"clabe\",\"clabe\":\"032180000118359719\"")},
	{"swift", "USD", BC("\"scheme\":\"swift\",\"bic\":\"DEUTDEFF\",\"account_number\":"
			    "\"0532013000\",\"country\":\"DE\"")},
	{"swift", "GBP", BC("\"scheme\":\"swift\",\"bic\":\"NWBKGB2L\",\"iban\":"
			    "\"GB29NWBK60161331926819\"")},
	{NULL, NULL,
	 "{\"method\":\"crypto_transfer\",\"asset\":\"USDC\",\"network\":\"base\",\"destination\":"
	 "{\"address\":\"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\",\"memo\":null},"
	 "\"label\":\"Treasury wallet\"}"},
	{NULL, NULL,
	 "{\"method\":\"crypto_transfer\",\"asset\":\"USDT\",\"network\":\"tron\",\"destination\":"
	 "{\"address\":\"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t\",\"memo\":\"m\"}}"},
};
#define NBASES (sizeof bases / sizeof *bases)

static void read_base(size_t i, struct destination *d)
{
	char json[1024];
	if (bases[i].rail)
		snprintf(json, sizeof json,
			 "{\"method\":\"bank_transfer\",\"fiat_rail\":\"%s\",\"currency\":\"%s\","
			 "\"beneficiary_name\":\"Acme Treasury\",\"reference_hint\":null,"
			 "\"bank_coordinates\":{\"account_holder_name\":\"Acme Treasury\","
			 "\"bank_name\":\"Demo Bank\",%s}}",
			 bases[i].rail, bases[i].currency, bases[i].json);
	else
		snprintf(json, sizeof json, "%s", bases[i].json);
	if (!api_destination_read(json, d))
		fail_msg("base %zu does not read: %s", i, json);
}

#define SET(field, value) snprintf((field), sizeof(field), "%s", (value))

/* Variants of d, one field changed each, written to out; returns how many.
 * Some change what the canonical text carries, some what it leaves out
 * (fields outside the rail's scheme), some only the empty/absent line. */
static int variants(const struct destination *d, struct destination *out)
{
	int n = 0;
#define V(stmt)                     \
	do {                        \
		out[n] = *d;        \
		struct destination *v = &out[n++]; \
		stmt;               \
	} while (0)
	V(v->currency = v->currency == CUR_USD ? CUR_EUR : CUR_USD);
	if (d->method == DEST_CRYPTO_TRANSFER) {
		V(v->method = DEST_BANK_TRANSFER);
		V(v->crypto.network = v->crypto.network == NET_ETHEREUM ? NET_POLYGON : NET_ETHEREUM);
		V(v->crypto.address[2] = v->crypto.address[2] == 'a' ? 'b' : 'a');
		V(v->crypto.has_memo = !v->crypto.has_memo);
		V(SET(v->crypto.memo, "other"));
		V(v->crypto.has_label = !v->crypto.has_label);
		V(SET(v->crypto.label, "other"));
		V((v->crypto.has_label = true, v->crypto.label[0] = '\0'));
		V(SET(v->bank.iban, "GB29NWBK60161331926819")); /* not a crypto field */
		return n;
	}
	V(v->method = DEST_CRYPTO_TRANSFER);
	V(v->rail = v->rail == RAIL_SWIFT ? RAIL_ACH : RAIL_SWIFT);
	V(SET(v->bank.beneficiary_name, "Mallory Ltd"));
	V(v->bank.has_reference_hint = true);
	V((v->bank.has_reference_hint = true, SET(v->bank.reference_hint, "INV-1")));
	V(SET(v->bank.reference_hint, "INV-1")); /* text without the flag: absent still */
	V(SET(v->bank.scheme, "swift"));
	V(SET(v->bank.account_holder_name, "Mallory Ltd"));
	V(v->bank.account_holder_name[0] = '\0');
	V(SET(v->bank.bank_name, "Other Bank"));
	V(v->bank.bank_name[0] = '\0');
	V(SET(v->bank.country, "FR"));
	V(SET(v->bank.iban, "DE89370400440532013000"));
	V(SET(v->bank.iban, ""));
	V(SET(v->bank.bic, "NWBKGB2L"));
	V(SET(v->bank.bic, ""));
	V(SET(v->bank.routing_number, "011000015"));
	V(SET(v->bank.account_number, "99999999"));
	V(SET(v->bank.account_type, "savings"));
	V(SET(v->bank.sort_code, "601614"));
	V(SET(v->bank.pix_key_type, "PHONE"));
	V(SET(v->bank.pix_key, "+5511999998888"));
	V(SET(v->bank.clabe, "002010077777777771"));
	V(v->crypto.has_memo = true); /* not a bank field */
	return n;
#undef V
}

static bool same_text(const struct destination *a, const struct destination *b)
{
	char *x = api_destination_canonical(a), *y = api_destination_canonical(b);
	assert_non_null(x);
	assert_non_null(y);
	bool same = strcmp(x, y) == 0;
	free(x);
	free(y);
	return same;
}

static void test_typed_equality_is_text_equality(void **state)
{
	enum { PER = 40 };
	struct destination *all = calloc(NBASES * (PER + 1), sizeof *all);
	assert_non_null(all);
	size_t n = 0;
	for (size_t i = 0; i < NBASES; i++) {
		read_base(i, &all[n]);
		int k = variants(&all[n], &all[n + 1]);
		assert_true(k <= PER);
		n += 1 + (size_t)k;
	}
	size_t equal = 0, differ = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			bool text = same_text(&all[i], &all[j]);
			if (destination_equal(&all[i], &all[j]) != text)
				fail_msg("destinations %zu and %zu: typed %s, text %s", i, j,
					 text ? "differ" : "equal", text ? "equal" : "differ");
			text ? equal++ : differ++;
		}
	/* Both answers occur beyond the diagonal: variants that leave the text
	 * alone (outside the scheme, absent hint text) and ones that do not. */
	assert_true(equal > n);
	assert_true(differ > 0);
	free(all);
}

static void test_saved_text_reads_back(void **state)
{
	for (size_t i = 0; i < NBASES; i++) {
		struct destination d, back;
		read_base(i, &d);
		char *text = api_destination_canonical(&d);
		assert_non_null(text);
		assert_true(api_destination_read(text, &back));
		assert_true(destination_equal(&back, &d));
		char *again = api_destination_canonical(&back);
		assert_string_equal(again, text);
		free(again);
		free(text);
	}
	/* Text that is not a valid destination reads as nothing (no match). */
	struct destination d;
	assert_false(api_destination_read("{\"canonical\":\"seed\"}", &d));
	assert_false(api_destination_read("not json", &d));
	assert_false(api_destination_read(NULL, &d));
	assert_false(api_destination_read(
		"{\"method\":\"bank_transfer\",\"fiat_rail\":\"sepa_instant\",\"currency\":\"EUR\","
		"\"beneficiary_name\":\"A\",\"reference_hint\":null,\"bank_coordinates\":{"
		"\"scheme\":\"iban\",\"iban\":\"GB28NWBK60161331926819\",\"country\":\"GB\"}}",
		&d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_equality_is_text_equality),
		cmocka_unit_test(test_saved_text_reads_back),
	};
	return cmocka_run_group_tests_name("destinations", tests, NULL, NULL);
}
