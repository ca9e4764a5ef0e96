/*
 * fuzz_lumx_api.c - every route of the Lumx-compatible API (customers,
 * customer limits, destinations, off-ramp transactions, exchange rates,
 * partner fees), with their path ids, query strings (cursors, filters),
 * headers and bodies, through api_handle against a scratch database with
 * fixtures. Input format and properties: api_harness.h.
 */
#include "api_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h_req q;
	if (!h_st)
		h_init();
	if (h_build(data, size, 1, false, &q))
		harness_check(&q);
	h_req_free(&q);
	return 0;
}
