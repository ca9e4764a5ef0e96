/*
 * fuzz_json_exact.c - numbers kept as text (api/json_exact.h): whatever
 * strict decoding accepts, the exact reader accepts too; its canonical
 * text is a fixed point and is the same JSON value as the input.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_exact.h"
#include "api/json_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *c = json_exact_canonical(text, size);
	enum err e = ERR_OK;
	json_t *v = json_in_parse(text, size, &e);
	if (!v) {
		free(c);
		return 0;
	}
	assert(c);
	char *again = json_exact_canonical(c, strlen(c));
	assert(again && strcmp(again, c) == 0);
	enum err e2 = ERR_OK;
	json_t *w = json_in_parse(c, strlen(c), &e2);
	assert(w && json_equal(v, w));
	json_decref(w);
	json_decref(v);
	free(again);
	free(c);
	return 0;
}
