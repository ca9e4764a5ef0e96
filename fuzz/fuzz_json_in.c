/*
 * fuzz_json_in.c - strict JSON decoding: no crash, and whatever is
 * accepted is an object within the depth cap whose canonical form parses
 * again to an equal value.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum err e = ERR_OK;
	json_t *v = json_in_parse((const char *)data, size, &e);
	if (!v) {
		assert(e != ERR_OK);
		return 0;
	}
	assert(json_is_object(v));
	char *c = json_in_canonical(v);
	assert(c);
	enum err e2;
	json_t *w = json_in_parse(c, strlen(c), &e2);
	assert(w && json_equal(v, w));
	json_decref(w);
	free(c);
	json_decref(v);
	return 0;
}
