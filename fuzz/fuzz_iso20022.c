/*
 * fuzz_iso20022.c - the bank report readers (rails/iso20022.c) on
 * arbitrary bytes: pain.002.001.10 and camt.054.001.08 as a hostile bank
 * or a man in the middle might send them. No crash, no leak, no read past
 * the buffer (it is not NUL-terminated here), and what is accepted is
 * bounded: one of the two messages, at most LIMIT_BANK_REPORT_ENTRIES
 * items, each id within Max35Text, each outcome one of the four, amounts
 * either absent (-1) or non-negative. A refusal always says why and leaves
 * nothing to free. Schema validation is left out (schema_dir NULL): it is
 * libxml2's own code, and the readers must hold without it.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "rails/iso20022.h"

static void check_item(const struct iso_item *it)
{
	assert(it->outcome == ISO_ACCEPTED || it->outcome == ISO_REJECTED ||
	       it->outcome == ISO_BOOKED || it->outcome == ISO_RETURNED);
	assert(strlen(it->end_to_end_id) <= ISO_ID_MAX);
	assert(strlen(it->msg_id) <= ISO_ID_MAX);
	assert(strlen(it->pmtinf_id) <= ISO_ID_MAX);
	assert(strlen(it->reason) < sizeof it->reason);
	assert(strlen(it->currency) < sizeof it->currency);
	assert(it->amount_minor >= -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		iso_init();
		ready = true;
	}
	/* A copy of exactly size bytes: a read past it is ASan's to find. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct iso_report r;
	char why[256] = "";
	bool ok = iso_report_read(buf, size, NULL, &r, why, sizeof why);
	if (ok) {
		assert(strcmp(r.kind, "pain.002.001.10") == 0 || strcmp(r.kind, "camt.054.001.08") == 0);
		assert(r.n >= 0 && r.n <= LIMIT_BANK_REPORT_ENTRIES);
		assert(strlen(r.msg_id) <= ISO_ID_MAX);
		for (int i = 0; i < r.n; i++)
			check_item(&r.items[i]);
		iso_report_free(&r);
	} else {
		assert(why[0] != '\0');
		assert(r.items == NULL && r.n == 0);
	}
	free(buf);
	return 0;
}
