/*
 * fuzz_json_in.c - strict JSON decoding: no crash, and whatever is
 * accepted is an object within the depth cap whose canonical form parses
 * again to an equal value; json_in_parse_at agrees with json_in_parse, and
 * names a field (a JSON pointer: empty or starting with "/") only for
 * invalid_string.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum err e = ERR_OK, ea = ERR_OK;
	char field[JD_PATH_MAX];
	json_t *v = json_in_parse((const char *)data, size, &e);
	json_t *va = json_in_parse_at((const char *)data, size, &ea, field);
	assert(ea == e && !va == !v);
	assert(field[0] == '\0' || (ea == ERR_INVALID_STRING && field[0] == '/'));
	json_decref(va);
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
