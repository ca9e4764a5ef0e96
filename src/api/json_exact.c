/*
 * json_exact.c - JSON whose numbers keep their text; see json_exact.h.
 *
 * yajl parses (with the yajl_number callback every number arrives as its
 * text, never converted) and generates (yajl_gen_number writes text as
 * given); jansson holds the tree in between, so the api's code handles
 * these documents like any other.
 */
#include "api/json_exact.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "base/limits.h"


/* ---- parse -------------------------------------------------------------- */

struct build {
	json_t *root;
	json_t *stack[LIMIT_JSON_EXACT_DEPTH]; /* open containers */
	char *key[LIMIT_JSON_EXACT_DEPTH];     /* the pending key of an open object */
	int depth;
};

static bool clean(const unsigned char *s, size_t n)
{
	return memchr(s, '\0', n) == NULL && memchr(s, JSON_EXACT_MARK, n) == NULL;
}

/* Attach v (stolen) to the open container, or make it the root. */
static int add(struct build *b, json_t *v)
{
	if (!v)
		return 0;
	if (b->depth == 0) {
		if (b->root) {
			json_decref(v);
			return 0;
		}
		b->root = v;
		return 1;
	}
	json_t *parent = b->stack[b->depth - 1];
	if (json_is_array(parent))
		return json_array_append_new(parent, v) == 0;
	char *k = b->key[b->depth - 1];
	b->key[b->depth - 1] = NULL;
	int ok = k && json_object_set_new(parent, k, v) == 0;
	if (!k)
		json_decref(v);
	free(k);
	return ok;
}

static int open_container(struct build *b, json_t *c)
{
	if (!c || b->depth >= LIMIT_JSON_EXACT_DEPTH) {
		json_decref(c);
		return 0;
	}
	/* Attached first (the tree owns it), then pushed. */
	if (!add(b, json_incref(c))) {
		json_decref(c);
		return 0;
	}
	b->stack[b->depth] = c;
	b->key[b->depth] = NULL;
	b->depth++;
	return 1;
}

static int close_container(struct build *b)
{
	if (b->depth == 0)
		return 0;
	b->depth--;
	free(b->key[b->depth]);
	b->key[b->depth] = NULL;
	json_decref(b->stack[b->depth]);
	return 1;
}

static int on_null(void *ctx) { return add(ctx, json_null()); }

static int on_boolean(void *ctx, int v) { return add(ctx, json_boolean(v)); }

static int on_number(void *ctx, const char *s, size_t n)
{
	char *text = malloc(n + 1);
	if (!text)
		return 0;
	text[0] = JSON_EXACT_MARK;
	memcpy(text + 1, s, n);
	json_t *v = json_stringn_nocheck(text, n + 1);
	free(text);
	return add(ctx, v);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
	if (!clean(s, n))
		return 0;
	return add(ctx, json_stringn((const char *)s, n));
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
	struct build *b = ctx;
	if (b->depth == 0 || !clean(s, n))
		return 0;
	char *k = strndup((const char *)s, n);
	if (!k)
		return 0;
	free(b->key[b->depth - 1]);
	b->key[b->depth - 1] = k;
	return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, json_object()); }

static int on_start_array(void *ctx) { return open_container(ctx, json_array()); }

static int on_end(void *ctx) { return close_container(ctx); }

static const yajl_callbacks exact_callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_boolean,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_end,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end,
};

json_t *json_exact_parse(const char *text, size_t len)
{
	struct build b = {0};
	yajl_handle h = yajl_alloc(&exact_callbacks, NULL, &b);
	if (!h)
		return NULL;
	/* yajl's defaults are strict JSON: no comments, UTF-8 checked, one
	 * value and nothing after it. */
	bool ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
		  yajl_complete_parse(h) == yajl_status_ok && b.depth == 0 && b.root;
	yajl_free(h);
	while (b.depth > 0)
		close_container(&b);
	if (!ok) {
		json_decref(b.root);
		return NULL;
	}
	return b.root;
}

/* ---- generate ------------------------------------------------------------ */

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* RFC 8259's number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool number_text(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

static bool gen(yajl_gen g, const json_t *v, int depth)
{
	if (depth > LIMIT_JSON_EXACT_DEPTH)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = n ? malloc(n * sizeof *keys) : NULL;
		if (n && !keys)
			return false;
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
			keys[i++] = k;
		/* Sorted as JSON_SORT_KEYS sorts: the canonical form. */
		if (n)
			qsort(keys, n, sizeof *keys, key_cmp);
		bool ok = yajl_gen_map_open(g) == yajl_gen_status_ok;
		for (i = 0; ok && i < n; i++)
			ok = yajl_gen_string(g, (const unsigned char *)keys[i], strlen(keys[i])) ==
				     yajl_gen_status_ok &&
			     gen(g, json_object_get(v, keys[i]), depth + 1);
		free(keys);
		return ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
	}
	case JSON_ARRAY: {
		bool ok = yajl_gen_array_open(g) == yajl_gen_status_ok;
		for (size_t i = 0; ok && i < json_array_size(v); i++)
			ok = gen(g, json_array_get(v, i), depth + 1);
		return ok && yajl_gen_array_close(g) == yajl_gen_status_ok;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		/* Only a number's text is written raw: a marked string that is
		 * not one (which no input can make today) fails the write
		 * rather than inject JSON. */
		if (n > 1 && s[0] == JSON_EXACT_MARK)
			return number_text(s + 1, n - 1) &&
			       yajl_gen_number(g, s + 1, n - 1) == yajl_gen_status_ok;
		return yajl_gen_string(g, (const unsigned char *)s, n) == yajl_gen_status_ok;
	}
	case JSON_INTEGER:
		return yajl_gen_integer(g, (long long)json_integer_value(v)) == yajl_gen_status_ok;
	case JSON_REAL: {
		/* Not a client's number (those are marked): jansson's text. */
		char *t = json_dumps(v, JSON_ENCODE_ANY);
		bool ok = t && yajl_gen_number(g, t, strlen(t)) == yajl_gen_status_ok;
		free(t);
		return ok;
	}
	case JSON_TRUE:
	case JSON_FALSE:
		return yajl_gen_bool(g, json_is_true(v)) == yajl_gen_status_ok;
	case JSON_NULL:
		return yajl_gen_null(g) == yajl_gen_status_ok;
	}
	return false;
}

char *json_exact_dumps(const json_t *v)
{
	if (!v)
		return NULL;
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	char *out = NULL;
	const unsigned char *buf;
	size_t len;
	if (gen(g, v, 1) && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		out = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return out;
}

char *json_exact_canonical(const char *text, size_t len)
{
	json_t *v = json_exact_parse(text, len);
	char *out = json_exact_dumps(v);
	json_decref(v);
	return out;
}

static bool has_number(const json_t *v, int depth)
{
	if (depth > LIMIT_JSON_EXACT_DEPTH)
		return true; /* too deep to walk: let the parser decide */
	switch (json_typeof(v)) {
	case JSON_INTEGER:
	case JSON_REAL:
		return true;
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
			if (has_number(x, depth + 1))
				return true;
		return false;
	}
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v); i++)
			if (has_number(json_array_get(v, i), depth + 1))
				return true;
		return false;
	default:
		return false;
	}
}

char *json_exact_canonical_of(const json_t *tree, const char *text, size_t len)
{
	if (tree && !has_number(tree, 1))
		return json_exact_dumps(tree);
	return json_exact_canonical(text, len);
}
