/*
 * query.c - what every list endpoint shares: strict query parameters,
 * page sizes, opaque page tokens and the {"items","next_page_token"}
 * answer.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"


/* Opaque page tokens: base64url of "<tag>:<value>". */
void api_token_make(const char *tag, const char *value, char out[96])
{
	char raw[64];
	int n = snprintf(raw, sizeof raw, "%s:%s", tag, value);
	/* snprintf answers the untruncated length: encode only what raw holds
	 * (cursors are ids, far shorter; fuzz_codec makes longer ones). */
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof raw)
		n = (int)sizeof raw - 1;
	crypto_base64url((const uint8_t *)raw, (size_t)n, out);
}

bool api_token_read(const char *tok, const char *tag, char *value, size_t size)
{
	uint8_t raw[72];
	size_t n = strlen(tok);
	if (n > 90)
		return false;
	long len = crypto_base64url_decode(tok, n, raw);
	size_t tl = strlen(tag);
	if (len <= (long)tl + 1 || (size_t)len - tl - 1 >= size || memcmp(raw, tag, tl) != 0 ||
	    raw[tl] != ':')
		return false;
	memcpy(value, raw + tl + 1, (size_t)len - tl - 1);
	value[len - tl - 1] = '\0';
	return true;
}

/* 1 to 3 digits in 1..LIMIT_PAGE_SIZE_MAX. */
int api_page_size(const char *v)
{
	size_t len = strlen(v);
	if (len < 1 || len > 3 || strspn(v, "0123456789") != len)
		return 0;
	int n = atoi(v);
	return n <= LIMIT_PAGE_SIZE_MAX ? n : 0;
}

/* Reject repeated and unknown query parameters. allowed: NULL-ended. */
bool api_query_ok(struct api_call *c, const char *const *allowed)
{
	const struct api_request *q = c->req;
	if (q->query_overflow) {
		api_fail(c, ERR_INVALID_QUERY, NULL);
		return false;
	}
	for (int i = 0; i < q->nquery; i++) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			known = known || strcmp(*a, q->query[i].key) == 0;
		for (int j = 0; j < i && known; j++)
			known = strcmp(q->query[j].key, q->query[i].key) != 0;
		if (!known) {
			char field[80];
			snprintf(field, sizeof field, "?%s", q->query[i].key);
			api_fail(c, ERR_INVALID_QUERY, field);
			return false;
		}
	}
	return true;
}

const char *api_query(const struct api_call *c, const char *key)
{
	for (int i = 0; i < c->req->nquery; i++)
		if (strcmp(c->req->query[i].key, key) == 0)
			return c->req->query[i].value;
	return NULL;
}

void api_answer_page(struct api_call *c, json_t *items, bool more, const char *tag,
		     const char *cursor_key)
{
	json_t *next = json_null();
	size_t n = json_array_size(items);
	if (more && n) {
		json_t *v = json_object_get(json_array_get(items, n - 1), cursor_key);
		char text[64], t[96];
		if (json_is_integer(v))
			snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
		else
			snprintf(text, sizeof text, "%s", json_string_value(v) ? json_string_value(v) : "");
		api_token_make(tag, text, t);
		next = json_string(t);
	}
	api_answer_json(json_pack("{s:o, s:o}", "items", items, "next_page_token", next), 200,
			&c->answer);
}
