/*
 * capability.c - capability names <-> bits.
 */
#include "domain/capability.h"

#include <string.h>

static const char *const capability_names[CAP__COUNT] = {
#define X(e, name) [e##_BIT] = name,
	CAPABILITIES(X)
#undef X
};

const char *capability_name(int i)
{
	return (i >= 0 && i < CAP__COUNT) ? capability_names[i] : "";
}

bool capability_parse_list(const char *list, uint32_t *out, const char **bad)
{
	uint32_t set = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int found = -1;
		for (int i = 0; i < CAP__COUNT; i++)
			if (strlen(capability_names[i]) == n &&
			    memcmp(capability_names[i], p, n) == 0)
				found = i;
		if (found < 0) {
			if (bad)
				*bad = p;
			return false;
		}
		set |= 1u << found;
		if (!end)
			break;
		p = end + 1;
	}
	*out = set;
	return true;
}
