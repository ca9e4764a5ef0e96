/*
 * api_faults.c - POST /_test/faults?kind=K&n=N, the test build's switch
 * for base/fault.h (compiled only with -DOFFRAMP_FAULTS, routed only
 * then). Answers each kind's count since the previous arm, then arms K at
 * N. The answer is rendered before arming, so the fault cannot land in
 * this request's own answer; a test arms at 0, sends the request under
 * test, and reads its points from the next arm's answer.
 */
#include "api/api_internal.h"

#ifdef OFFRAMP_FAULTS

#include <stdlib.h>

#include "base/fault.h"

API_HANDLER(api_h_faults)
{
	static const char *const allowed[] = {"kind", "n", NULL};
	if (!api_query_ok(c, allowed))
		return;
	enum fault_kind k;
	const char *word = api_query(c, "kind");
	const char *nv = api_query(c, "n");
	char *end = NULL;
	long long n = nv ? strtoll(nv, &end, 10) : -1;
	if (!fault_kind_parse(word, &k) || n < 0 || !end || *end) {
		api_fail(c, ERR_INVALID_QUERY, "?kind");
		return;
	}
	/* Read the counts without arming, render, then arm: the counts the
	 * answer carries stop before the arm. */
	int64_t counts[FAULT_KINDS], fired;
	fault_arm(FAULT_STORE, 0, counts, &fired);
	json_t *o = json_object();
	for (int i = 0; i < FAULT_KINDS; i++)
		json_object_set_new(o, fault_kind_name((enum fault_kind)i), json_integer(counts[i]));
	json_object_set_new(o, "fired", json_integer(fired));
	api_answer_json(o, 200, &c->answer);
	fault_arm(k, n, NULL, NULL);
}

#else
typedef int api_faults_compiled_out;
#endif
