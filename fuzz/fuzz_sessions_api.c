/*
 * fuzz_sessions_api.c - every route of the sessions API (the route table's
 * rows outside Lumx's roots: clients, accounts, deposits, destinations,
 * sessions, approvals, policies, events, payouts, webhook endpoints,
 * health, metrics, errors), with their path ids, query strings, headers
 * and bodies, through api_handle against a scratch database with
 * fixtures. Input format and properties: api_harness.h.
 */
#include "api_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h_req q;
	if (!h_st)
		h_init();
	if (h_build(data, size, 0, false, &q))
		harness_check(&q);
	h_req_free(&q);
	return 0;
}
