/*
 * fuzz_destination.c - destination_validate, the one validator both
 * surfaces' destinations go through (every rail's scheme: IBAN + BIC,
 * SWIFT, ABA, sort code, PIX, CLABE; crypto addresses by network), and
 * the canonical text a destination is saved as.
 *
 * Input: byte 0 method and rail, byte 1 currency and network, byte 2
 * flags (reference hint, memo, label present), then newline-separated
 * fields: beneficiary, holder, bank name, scheme ("" = the rail's), country,
 * iban, bic, routing number, account number, account type, sort code, pix
 * key type, pix key, clabe, reference hint, address, memo, label (cut to
 * their sizes, printable ASCII, none empty but absent, as the JSON
 * decoder leaves them).
 *
 * Properties: a refusal names a field; what is accepted is a normal form
 * (validating it again accepts it unchanged), equals itself, has a
 * canonical text that reads back (api_destination_read) to an equal
 * destination whose text is the same; dest_route_check answers OK or
 * unsupported_route with a field. Every enum's parse and name agree.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "domain/destination.h"
#include "domain/session.h"

enum { F_BENEF, F_HOLDER, F_BANK, F_SCHEME, F_COUNTRY, F_IBAN, F_BIC, F_ROUTING, F_ACCOUNT,
       F_ACCOUNT_TYPE, F_SORT, F_PIX_TYPE, F_PIX, F_CLABE, F_HINT, F_ADDRESS, F_MEMO, F_LABEL,
       F__COUNT };

static void put(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] >= 0x20 && (unsigned char)src[i] < 0x7f ? src[i] : '.';
	dst[i] = '\0';
}

static void build(const uint8_t *data, size_t size, struct destination *d, char *first,
		  size_t first_size)
{
	memset(d, 0, sizeof *d);
	d->method = data[0] & 1 ? DEST_CRYPTO_TRANSFER : DEST_BANK_TRANSFER;
	if ((data[0] >> 1) == 0x7f)
		d->method = DEST_METHOD_NONE;
	d->rail = (enum dest_rail)((data[0] >> 1) % (RAIL__COUNT + 1));
	d->currency = (enum currency)(data[1] % (CUR__COUNT + 1));
	d->crypto.network = (enum dest_network)((data[1] >> 4) % (NET__COUNT + 1));
	if (d->rail >= RAIL__COUNT)
		d->rail = RAIL_NONE;
	if (d->currency >= CUR__COUNT)
		d->currency = CUR_NONE;
	if (d->crypto.network >= NET__COUNT)
		d->crypto.network = NET_NONE;
	d->bank.has_reference_hint = data[2] & 1;
	d->crypto.has_memo = data[2] & 2;
	d->crypto.has_label = data[2] & 4;

	char *text = malloc(size - 3 + 1);
	assert(text);
	memcpy(text, data + 3, size - 3);
	text[size - 3] = '\0';
	char *f[F__COUNT] = {0};
	char *p = text;
	for (int i = 0; i < F__COUNT; i++) {
		f[i] = p ? p : "";
		char *nl = p ? strchr(p, '\n') : NULL;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
	}
	struct dest_bank *b = &d->bank;
	put(b->beneficiary_name, sizeof b->beneficiary_name, f[F_BENEF]);
	put(b->account_holder_name, sizeof b->account_holder_name, f[F_HOLDER]);
	put(b->bank_name, sizeof b->bank_name, f[F_BANK]);
	put(b->scheme, sizeof b->scheme,
	    f[F_SCHEME][0] ? f[F_SCHEME] : dest_scheme_name(dest_rail_scheme(d->rail)));
	put(b->country, sizeof b->country, f[F_COUNTRY]);
	put(b->iban, sizeof b->iban, f[F_IBAN]);
	put(b->bic, sizeof b->bic, f[F_BIC]);
	put(b->routing_number, sizeof b->routing_number, f[F_ROUTING]);
	put(b->account_number, sizeof b->account_number, f[F_ACCOUNT]);
	put(b->account_type, sizeof b->account_type, f[F_ACCOUNT_TYPE]);
	put(b->sort_code, sizeof b->sort_code, f[F_SORT]);
	put(b->pix_key_type, sizeof b->pix_key_type, f[F_PIX_TYPE]);
	put(b->pix_key, sizeof b->pix_key, f[F_PIX]);
	put(b->clabe, sizeof b->clabe, f[F_CLABE]);
	if (b->has_reference_hint)
		put(b->reference_hint, sizeof b->reference_hint, f[F_HINT]);
	put(d->crypto.address, sizeof d->crypto.address, f[F_ADDRESS]);
	if (d->crypto.has_memo)
		put(d->crypto.memo, sizeof d->crypto.memo, f[F_MEMO]);
	if (d->crypto.has_label)
		put(d->crypto.label, sizeof d->crypto.label, f[F_LABEL]);
	/* The decoder refuses an empty string: a required one is never
	 * empty, an optional one empty is absent. */
	if (!b->beneficiary_name[0])
		snprintf(b->beneficiary_name, sizeof b->beneficiary_name, "B");
	b->has_reference_hint = b->has_reference_hint && b->reference_hint[0];
	d->crypto.has_memo = d->crypto.has_memo && d->crypto.memo[0];
	d->crypto.has_label = d->crypto.has_label && d->crypto.label[0];
	snprintf(first, first_size, "%s", f[F_BENEF]);
	free(text);
}

/* Whatever the decoder never fills stays empty, so the canonical text
 * (which holds only the scheme's fields) reads back to the same struct. */
static void scrub(struct destination *d)
{
	struct destination c;
	memset(&c, 0, sizeof c);
	c.method = d->method;
	c.currency = d->currency;
	if (d->method == DEST_CRYPTO_TRANSFER) {
		c.crypto = d->crypto;
	} else {
		c.rail = d->rail;
		c.bank = d->bank;
	}
	*d = c;
}

static void check_enums(const char *s)
{
	enum dest_rail r = dest_rail_parse(s);
	if (r != RAIL_NONE)
		assert(strcmp(dest_rail_name(r), s) == 0);
	enum dest_method m = dest_method_parse(s);
	if (m != DEST_METHOD_NONE)
		assert(strcmp(dest_method_name(m), s) == 0);
	enum dest_network n = dest_network_parse(s);
	if (n != NET_NONE)
		assert(strcmp(dest_network_name(n), s) == 0);
	enum currency c = money_currency(s);
	if (c != CUR_NONE)
		assert(strcmp(money_currency_code(c), s) == 0);
	enum session_status st;
	if (session_status_parse(s, &st))
		assert(strcmp(session_status_name(st), s) == 0);
	for (int i = 1; i < RAIL__COUNT; i++)
		assert((int)dest_rail_parse(dest_rail_name((enum dest_rail)i)) == i);
	for (int i = 1; i < NET__COUNT; i++)
		assert((int)dest_network_parse(dest_network_name((enum dest_network)i)) == i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	struct destination d, again, back;
	char first[256];
	build(data, size, &d, first, sizeof first);
	check_enums(first);

	const char *field = NULL;
	enum err e = destination_validate(&d, &field);
	if (e != ERR_OK) {
		assert(field && field[0]);
		return 0;
	}
	assert(field == NULL);
	scrub(&d);
	assert(destination_equal(&d, &d));
	again = d;
	assert(destination_validate(&again, &field) == ERR_OK);
	assert(memcmp(&again, &d, sizeof d) == 0);

	char *text = api_destination_canonical(&d);
	assert(text);
	assert(api_destination_read(text, &back));
	assert(destination_equal(&d, &back) && destination_equal(&back, &d));
	char *text2 = api_destination_canonical(&back);
	assert(text2 && strcmp(text, text2) == 0);

	field = NULL;
	e = dest_route_check(&d, &field);
	assert(e == ERR_OK || (e == ERR_UNSUPPORTED_ROUTE && field && field[0]));
	free(text2);
	free(text);
	return 0;
}
