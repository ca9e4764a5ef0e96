/*
 * fuzz_codec.c - the small text codecs requests go through: base64url
 * (page tokens), hex, list page tokens, page sizes, UUIDs (path ids,
 * Lumx idempotency keys), capability lists (admin keys).
 *
 * base64url: encoding any bytes gives 4n/3 rounded up characters of the
 * URL alphabet that decode to the same bytes; decoding accepts only
 * canonical text, so what it accepts encodes back to itself. Hex is lower
 * case and spells the bytes. A page token made of a tag and a value reads
 * back as that value under that tag, and under no other; any text read as
 * a token never overflows the value buffer. A page size is 1..100 exactly
 * when the text is 1 to 3 digits naming such a number. uuid_valid holds
 * exactly for 8-4-4-4-12 hex, and uuid_lower keeps it valid and lower case.
 * capability_parse_list accepts exactly the comma lists of known names,
 * and the set it returns prints back as a list parsing to the same set.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/crypto.h"
#include "base/uuid.h"
#include "domain/capability.h"

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void check_base64url(const uint8_t *data, size_t size)
{
	char *text = malloc(4 * (size / 3 + 1) + 1);
	uint8_t *back = malloc(size + 3);
	assert(text && back);
	size_t n = crypto_base64url(data, size, text);
	assert(n == (4 * size + 2) / 3 && strlen(text) == n);
	for (size_t i = 0; i < n; i++)
		assert(b64url_char(text[i]));
	assert(crypto_base64url_decode(text, n, back) == (long)size);
	assert(size == 0 || memcmp(back, data, size) == 0);

	/* The input as text: canonical or refused. */
	long m = crypto_base64url_decode((const char *)data, size, back);
	if (m >= 0) {
		assert((size_t)m == size * 3 / 4);
		char *again = malloc(4 * ((size_t)m / 3 + 1) + 1);
		assert(again);
		assert(crypto_base64url(back, (size_t)m, again) == size);
		assert(memcmp(again, data, size) == 0);
		free(again);
	}
	free(back);
	free(text);

	char *hex = malloc(2 * size + 1);
	assert(hex);
	crypto_hex(data, size, hex);
	assert(strlen(hex) == 2 * size);
	for (size_t i = 0; i < size; i++) {
		static const char d[] = "0123456789abcdef";
		assert(hex[2 * i] == d[data[i] >> 4] && hex[2 * i + 1] == d[data[i] & 15]);
	}
	free(hex);
}

static void check_tokens(const char *s)
{
	/* "<tag> <value>": the value a page cursor (an id, a sequence). */
	char tag[8], value[64], got[64], tok[96];
	const char *sp = strchr(s, ' ');
	size_t tl = sp ? (size_t)(sp - s) : 0;
	if (sp && tl >= 1 && tl < sizeof tag && strlen(sp + 1) + tl + 1 < 64 && !strchr(sp + 1, ':')) {
		memcpy(tag, s, tl);
		tag[tl] = '\0';
		snprintf(value, sizeof value, "%s", sp + 1);
		if (!strchr(tag, ':') && value[0]) {
			api_token_make(tag, value, tok);
			assert(strlen(tok) < 96);
			assert(api_token_read(tok, tag, got, sizeof got) && strcmp(got, value) == 0);
			char other[10];
			snprintf(other, sizeof other, "%sx", tag);
			assert(!api_token_read(tok, other, got, sizeof got));
			/* A value buffer too small refuses rather than cuts. */
			char small[4];
			assert(api_token_read(tok, tag, small, sizeof small) == (strlen(value) < 4));
		}
	}
	/* Any tag and value: the token fits its 96 bytes (tag:value is cut
	 * to 63 bytes, and reads back as that cut). */
	if (sp && tl >= 1 && tl < sizeof tag) {
		char raw[64];
		memcpy(tag, s, tl);
		tag[tl] = '\0';
		api_token_make(tag, sp + 1, tok);
		assert(strlen(tok) < 96);
		snprintf(raw, sizeof raw, "%s:%s", tag, sp + 1);
		if (!strchr(tag, ':') && strlen(raw) > tl + 1 &&
		    api_token_read(tok, tag, got, sizeof got))
			assert(strcmp(got, raw + tl + 1) == 0);
	}
	/* Any text as a token: a small buffer is never overrun. */
	char tiny[8];
	static const char *const tags[] = {"s1", "a1", "e1", "w1", "n", "p"};
	for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
		if (api_token_read(s, tags[i], tiny, sizeof tiny))
			assert(strlen(tiny) < sizeof tiny);
}

static void check_page_size(const char *s)
{
	int n = api_page_size(s);
	size_t len = strlen(s);
	bool digits = len >= 1 && len <= 3 && strspn(s, "0123456789") == len;
	int want = digits ? atoi(s) : 0;
	assert(n == (want >= 1 && want <= LIMIT_PAGE_SIZE_MAX ? want : 0));
}

static void check_uuid(const char *s)
{
	bool shape = strlen(s) == UUID_STR_LEN;
	for (size_t i = 0; shape && i < UUID_STR_LEN; i++)
		shape = (i == 8 || i == 13 || i == 18 || i == 23) ? s[i] == '-' : is_hex(s[i]);
	assert(uuid_valid(s) == shape);
	if (shape) {
		char l[UUID_STR_LEN + 1];
		memcpy(l, s, sizeof l);
		uuid_lower(l);
		assert(uuid_valid(l));
		for (size_t i = 0; i < UUID_STR_LEN; i++)
			assert(l[i] == (s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]));
	}
}

static void check_capabilities(const char *s)
{
	uint32_t set = 0xdeadbeef, again = 0;
	const char *bad = NULL;
	bool ok = capability_parse_list(s, &set, &bad);
	/* The reference: split on ',' and look each name up. */
	bool want = s[0] != '\0';
	uint32_t want_set = 0;
	for (const char *p = s; want && *p;) {
		size_t n = strcspn(p, ",");
		int found = -1;
		for (int i = 0; i < CAP__COUNT; i++)
			if (strlen(capability_name(i)) == n && strncmp(capability_name(i), p, n) == 0)
				found = i;
		if (found < 0) {
			want = false;
			break;
		}
		want_set |= 1u << found;
		p += n;
		if (*p == ',') {
			p++;
			want = *p != '\0'; /* a trailing comma names nothing */
		}
	}
	assert(ok == want);
	if (!ok) {
		assert(set == 0xdeadbeef); /* untouched */
		assert(bad == NULL || (bad >= s && bad <= s + strlen(s)));
		return;
	}
	assert(set == want_set && (set & ~CAP_ALL) == 0);
	char list[1024] = "";
	for (int i = 0; i < CAP__COUNT; i++)
		if (set & (1u << i)) {
			if (list[0])
				strcat(list, ",");
			strcat(list, capability_name(i));
		}
	assert(capability_parse_list(list, &again, NULL) && again == set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_base64url(data, size);
	char *s = malloc(size + 1);
	assert(s);
	memcpy(s, data, size);
	s[size] = '\0';
	check_tokens(s);
	check_page_size(s);
	check_uuid(s);
	check_capabilities(s);
	free(s);
	return 0;
}
