/*
 * json_out.c - JSON text written straight into a buffer; see json_out.h.
 *
 * The buffer doubles from 2 KiB (a session's text is about 1.5 KiB) up to
 * LIMIT_RESPONSE_BYTES. Escaping and UTF-8 checking follow jansson's
 * dump.c and utf8.c, so the text equals json_dumps()'s.
 */
#include "api/json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

#define JSON_OUT_FIRST 2048

void json_out_init(struct json_out *o) { memset(o, 0, sizeof *o); }

void json_out_free(struct json_out *o)
{
	free(o->buf);
	json_out_init(o);
}

/* Room for n more bytes and the NUL; false (and failed) when there is none. */
static bool reserve(struct json_out *o, size_t n)
{
	if (o->failed)
		return false;
	size_t need = o->len + n + 1;
	if (need <= o->cap)
		return true;
	size_t cap = o->cap ? o->cap : JSON_OUT_FIRST;
	while (cap < need)
		cap *= 2;
	char *b = need <= LIMIT_RESPONSE_BYTES ? realloc(o->buf, cap) : NULL;
	if (!b) {
		o->failed = true;
		return false;
	}
	o->buf = b;
	o->cap = cap;
	return true;
}

static void put(struct json_out *o, const char *s, size_t n)
{
	if (!reserve(o, n))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void json_out_raw(struct json_out *o, const char *text) { put(o, text, strlen(text)); }

/* Bytes in the UTF-8 sequence starting at s (1..4), or 0 if it is not a
 * valid one: overlong forms, surrogates and values past U+10FFFF are
 * refused, as jansson's utf8_check_first/utf8_check_full refuse them. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	uint32_t v;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* a NUL ends the loop here too */
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	return n;
}

/* s's characters, escaped, without the quotes. */
static void escaped(struct json_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p && !o->failed) {
		/* The run that needs no escape goes in one copy. */
		const unsigned char *run = p;
		size_t n;
		for (;;) {
			if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
				p++; /* ASCII, most of what we write */
			else if (*p >= 0x80 && (n = utf8_len(p)) > 0)
				p += n;
			else
				break;
		}
		put(o, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		char seq[8];
		switch (*p) {
		case '"': put(o, "\\\"", 2); break;
		case '\\': put(o, "\\\\", 2); break;
		case '\b': put(o, "\\b", 2); break;
		case '\f': put(o, "\\f", 2); break;
		case '\n': put(o, "\\n", 2); break;
		case '\r': put(o, "\\r", 2); break;
		case '\t': put(o, "\\t", 2); break;
		default:
			if (*p >= 0x20) { /* not UTF-8: jansson would not hold it */
				o->failed = true;
				return;
			}
			snprintf(seq, sizeof seq, "\\u%04X", (unsigned)*p);
			put(o, seq, 6);
		}
		p++;
	}
}

void json_out_str(struct json_out *o, const char *s)
{
	put(o, "\"", 1);
	escaped(o, s);
	put(o, "\"", 1);
}

void json_out_str2(struct json_out *o, const char *prefix, const char *s)
{
	put(o, "\"", 1);
	escaped(o, prefix);
	escaped(o, s);
	put(o, "\"", 1);
}

void json_out_str_or_null(struct json_out *o, const char *s)
{
	if (s && *s)
		json_out_str(o, s);
	else
		put(o, "null", 4);
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct json_out_member *)a)->key,
		      ((const struct json_out_member *)b)->key);
}

void json_out_object(struct json_out *o, struct json_out_member *m, size_t n)
{
	qsort(m, n, sizeof *m, member_cmp);
	put(o, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(o, ",", 1);
		json_out_str(o, m[i].key);
		put(o, ":", 1);
		if (m[i].raw)
			json_out_raw(o, m[i].raw);
		else if (m[i].str)
			json_out_str(o, m[i].str);
		else
			put(o, "null", 4);
	}
	put(o, "}", 1);
}

char *json_out_take(struct json_out *o, size_t *len)
{
	if (!o->failed)
		reserve(o, 0); /* an empty writer has no buffer yet */
	if (o->failed) {
		json_out_free(o);
		return NULL;
	}
	o->buf[o->len] = '\0';
	char *text = o->buf;
	if (len)
		*len = o->len;
	json_out_init(o);
	return text;
}
