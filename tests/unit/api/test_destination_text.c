/*
 * test_destination_text.c - a destination's canonical text (what is saved
 * with it, and what every create's inline copy must equal byte for byte)
 * is written straight (json_out); it must be the text jansson writes for
 * the same object, which is how destinations saved before were written.
 * The oracle below is that jansson builder, kept here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

static json_t *opt(const char *s) { return s && *s ? json_string(s) : json_null(); }

static char *jansson_canonical(const struct destination *dst)
{
	json_t *o;
	if (dst->method == DEST_CRYPTO_TRANSFER) {
		const struct dest_crypto *c = &dst->crypto;
		o = json_pack("{s:s, s:s, s:s, s:{s:s, s:o}, s:o}", "method",
			      dest_method_name(dst->method), "asset", money_currency_code(dst->currency),
			      "network", dest_network_name(c->network), "destination", "address",
			      c->address, "memo", c->has_memo ? json_string(c->memo) : json_null(),
			      "label", c->has_label ? json_string(c->label) : json_null());
	} else {
		const struct dest_bank *b = &dst->bank;
		json_t *bc = json_pack("{s:s}", "scheme", b->scheme);
		json_object_set_new(bc, "account_holder_name", opt(b->account_holder_name));
		json_object_set_new(bc, "bank_name", opt(b->bank_name));
		json_object_set_new(bc, "country", json_string(b->country));
		switch (dest_rail_scheme(dst->rail)) {
		case SCHEME_IBAN:
			json_object_set_new(bc, "bic", opt(b->bic));
			json_object_set_new(bc, "iban", json_string(b->iban));
			break;
		case SCHEME_SWIFT:
			json_object_set_new(bc, "bic", json_string(b->bic));
			json_object_set_new(bc, "iban", opt(b->iban));
			json_object_set_new(bc, "account_number", opt(b->account_number));
			break;
		case SCHEME_ABA:
			json_object_set_new(bc, "routing_number", json_string(b->routing_number));
			json_object_set_new(bc, "account_number", json_string(b->account_number));
			json_object_set_new(bc, "account_type", json_string(b->account_type));
			break;
		case SCHEME_SORT_CODE:
			json_object_set_new(bc, "sort_code", json_string(b->sort_code));
			json_object_set_new(bc, "account_number", json_string(b->account_number));
			break;
		case SCHEME_PIX:
			json_object_set_new(bc, "pix_key_type", json_string(b->pix_key_type));
			json_object_set_new(bc, "pix_key", json_string(b->pix_key));
			break;
		case SCHEME_CLABE:
			json_object_set_new(bc, "clabe", json_string(b->clabe));
			break;
		default:
			break;
		}
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "method",
			      dest_method_name(dst->method), "fiat_rail", dest_rail_name(dst->rail),
			      "currency", money_currency_code(dst->currency), "beneficiary_name",
			      b->beneficiary_name, "reference_hint",
			      b->has_reference_hint ? json_string(b->reference_hint) : json_null(),
			      "bank_coordinates", bc);
	}
	char *s = json_in_canonical(o);
	json_decref(o);
	return s;
}

static void bank(struct destination *d, enum dest_rail rail, enum currency cur, int variant)
{
	memset(d, 0, sizeof *d);
	d->method = DEST_BANK_TRANSFER;
	d->rail = rail;
	d->currency = cur;
	struct dest_bank *b = &d->bank;
	const char *name = variant & 1 ? "Zürich \"Treasury\" \\ / €" : "Acme Treasury";
	snprintf(b->beneficiary_name, sizeof b->beneficiary_name, "%s", name);
	if (variant & 2) {
		snprintf(b->account_holder_name, sizeof b->account_holder_name, "%s", name);
		snprintf(b->bank_name, sizeof b->bank_name, "Demo Bank");
		b->has_reference_hint = true;
		snprintf(b->reference_hint, sizeof b->reference_hint, "%s", variant & 4 ? "" : "inv 7");
	}
	snprintf(b->scheme, sizeof b->scheme, "%s", dest_scheme_name(dest_rail_scheme(rail)));
	snprintf(b->country, sizeof b->country, "%s", variant & 4 ? "" : "GB");
	snprintf(b->iban, sizeof b->iban, "%s", variant & 2 ? "GB29 NWBK 6016 1331 9268 19" : "");
	snprintf(b->bic, sizeof b->bic, "%s", variant & 1 ? "NWBKGB2L" : "");
	snprintf(b->routing_number, sizeof b->routing_number, "021000021");
	snprintf(b->account_number, sizeof b->account_number, "%s", variant & 4 ? "" : "31926819");
	snprintf(b->account_type, sizeof b->account_type, "checking");
	snprintf(b->sort_code, sizeof b->sort_code, "601613");
	snprintf(b->pix_key_type, sizeof b->pix_key_type, "email");
	snprintf(b->pix_key, sizeof b->pix_key, "a@b.example");
	snprintf(b->clabe, sizeof b->clabe, "032180000118359719");
}

static void expect_same(const struct destination *d)
{
	char *want = jansson_canonical(d);
	char *got = api_destination_canonical(d);
	assert_non_null(want);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void test_bank_destinations_match_jansson(void **state)
{
	static const struct {
		enum dest_rail rail;
		enum currency cur;
	} rails[] = {
		{RAIL_SEPA_CREDIT_TRANSFER, CUR_EUR}, {RAIL_SEPA_INSTANT, CUR_EUR},
		{RAIL_ACH, CUR_USD}, {RAIL_WIRE, CUR_USD}, {RAIL_FASTER_PAYMENTS, CUR_GBP},
		{RAIL_PIX, CUR_BRL}, {RAIL_SPEI, CUR_MXN}, {RAIL_SWIFT, CUR_USD},
	};
	struct destination d;
	for (size_t i = 0; i < sizeof rails / sizeof *rails; i++)
		for (int variant = 0; variant < 8; variant++) {
			bank(&d, rails[i].rail, rails[i].cur, variant);
			expect_same(&d);
		}
}

static void test_crypto_destinations_match_jansson(void **state)
{
	struct destination d;
	for (int variant = 0; variant < 8; variant++) {
		memset(&d, 0, sizeof d);
		d.method = DEST_CRYPTO_TRANSFER;
		d.currency = variant & 4 ? CUR_USDT : CUR_USDC;
		d.crypto.network = variant & 4 ? NET_TRON : NET_BASE;
		snprintf(d.crypto.address, sizeof d.crypto.address,
			 "0x52908400098527886E0F7030069857D2E4169EE7");
		d.crypto.has_memo = variant & 1;
		snprintf(d.crypto.memo, sizeof d.crypto.memo, "%s", variant & 2 ? "" : "memo \"1\"");
		d.crypto.has_label = variant & 2;
		snprintf(d.crypto.label, sizeof d.crypto.label, "cold wallet é");
		expect_same(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bank_destinations_match_jansson),
		cmocka_unit_test(test_crypto_destinations_match_jansson),
	};
	return cmocka_run_group_tests_name("destination_text", tests, NULL, NULL);
}
