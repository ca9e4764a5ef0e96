/*
 * json_in.c - strict JSON decoding; see json_in.h.
 *
 * jansson does the parsing (it validates UTF-8 and refuses raw control
 * characters and, without JSON_ALLOW_NUL, "\u0000"). What it allows and
 * the contract does not, we check on the parsed tree: escaped control
 * characters, depth, the top-level type. jansson's own recursion limit
 * (2048) bounds the walk.
 */
#include "api/json_in.h"

#include "base/fault.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/uuid.h"

static bool clean_string(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

/* Append "/" + key to a JSON pointer (RFC 6901: "~" -> "~0", "/" -> "~1"),
 * truncating at JD_PATH_MAX. */
static void path_push(char path[JD_PATH_MAX], const char *key, size_t n)
{
	size_t at = strlen(path);
	if (at + 1 < JD_PATH_MAX)
		path[at++] = '/';
	for (size_t i = 0; i < n && at + 2 < JD_PATH_MAX; i++) {
		if (key[i] == '~' || key[i] == '/') {
			path[at++] = '~';
			path[at++] = key[i] == '~' ? '0' : '1';
		} else {
			path[at++] = key[i];
		}
	}
	path[at] = '\0';
}

/* Checks the tree; on an error, path holds the pointer of the first value
 * (or member name) at fault. */
static enum err walk(const json_t *v, int depth, char path[JD_PATH_MAX])
{
	if (depth > LIMIT_JSON_DEPTH)
		return ERR_JSON_TOO_DEEP;
	size_t base = strlen(path);
	switch (json_typeof(v)) {
	case JSON_STRING:
		return clean_string(json_string_value(v), json_string_length(v))
			       ? ERR_OK
			       : ERR_INVALID_STRING;
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			path_push(path, k, strlen(k));
			if (!clean_string(k, strlen(k)))
				return ERR_INVALID_STRING;
			enum err e = walk(x, depth + 1, path);
			if (e)
				return e;
			path[base] = '\0';
		}
		return ERR_OK;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			char idx[24];
			int n = snprintf(idx, sizeof idx, "%zu", i);
			path_push(path, idx, (size_t)n);
			enum err e = walk(x, depth + 1, path);
			if (e)
				return e;
			path[base] = '\0';
		}
		return ERR_OK;
	}
	default:
		return ERR_OK;
	}
}

/* jansson files a raw control character under invalid syntax; only its
 * message tells it apart. It is a string fault all the same. */
static bool raw_control(const json_error_t *jerr)
{
	return json_error_code(jerr) == json_error_invalid_syntax &&
	       strncmp(jerr->text, "control character", 17) == 0;
}

/*
 * Which field holds the bad string jansson refused? jansson reports only
 * a byte position, so we patch the offending bytes in a copy into an
 * escaped control character ("\u0001", which jansson accepts and the walk
 * refuses), let jansson parse the copy and the walk name the field. Each
 * round fixes one spot; a body with more than LIMIT_JSON_BAD_STRINGS of
 * them, or any other fault, names no field.
 */
static bool patch_at(char **buf, size_t *len, const json_error_t *jerr)
{
	static const char esc[] = "\\u0001";
	size_t pos = (size_t)jerr->position, n = *len;
	int code = json_error_code(jerr);
	if (code == json_error_null_character || code == json_error_null_byte_in_key) {
		/* jansson stops after the string token: rewrite its last
		 * "\u0000" escape in place (same length). */
		for (size_t i = pos < n ? pos : n; i >= 6; i--) {
			char *p = *buf + i - 6;
			if (memcmp(p, "\\u0000", 6) == 0) {
				p[5] = '1';
				return true;
			}
		}
		return false;
	}
	/* Raw control byte or invalid UTF-8: jansson stops on the byte. */
	if (pos >= n || n > SIZE_MAX - sizeof esc)
		return false;
	char *next = malloc(n + sizeof esc);
	if (!next)
		return false;
	memcpy(next, *buf, pos);
	memcpy(next + pos, esc, sizeof esc - 1);
	memcpy(next + pos + sizeof esc - 1, *buf + pos + 1, n - pos - 1);
	free(*buf);
	*buf = next;
	*len = n + sizeof esc - 2;
	return true;
}

static void bad_string_field(const char *body, size_t len, const json_error_t *first,
			     char field[JD_PATH_MAX])
{
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return;
	memcpy(buf, body, len);
	json_error_t jerr = *first;
	for (int round = 0; round < LIMIT_JSON_BAD_STRINGS; round++) {
		if (!patch_at(&buf, &len, &jerr))
			break;
		json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		if (root) {
			char path[JD_PATH_MAX] = "";
			if (walk(root, 1, path) == ERR_INVALID_STRING)
				snprintf(field, JD_PATH_MAX, "%s", path);
			json_decref(root);
			break;
		}
		int code = json_error_code(&jerr);
		if (code != json_error_invalid_utf8 && code != json_error_null_character &&
		    code != json_error_null_byte_in_key && !raw_control(&jerr))
			break;
	}
	free(buf);
}

/* Failed allocations on this thread, ever: a caller compares two reads. */
static _Thread_local unsigned ji_alloc_failures;

static void *ji_malloc(size_t n)
{
	void *p = fault_hit(FAULT_ALLOC) ? NULL : malloc(n);
	if (!p)
		ji_alloc_failures++;
	return p;
}

unsigned json_in_alloc_failures(void)
{
	return ji_alloc_failures;
}

void json_in_init(void)
{
	json_set_alloc_funcs(ji_malloc, free);
}

json_t *json_in_parse_at(const char *body, size_t len, enum err *e, char field[JD_PATH_MAX])
{
	/* Zeroed: jansson sets no error at all when it cannot allocate its
	 * lexer, leaving text "" and the code json_error_unknown. */
	json_error_t jerr = {0};
	field[0] = '\0';
	body = body ? body : "";
	unsigned failures = ji_alloc_failures;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
		/* An integer past int64 is valid JSON, and a client's metadata
		 * may hold one (kept as its text: json_exact.h). Read integers
		 * as reals then, so that no field expecting an integer takes
		 * it; a number past a double's range stays invalid_json. */
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	/* No JSON text holds a raw NUL (in a string jansson refuses it as a
	 * control character, an invalid_string), but jansson lets one pass
	 * after a number; yajl (json_exact.h) would not, and both must read
	 * one language. */
	if (root && memchr(body, '\0', len)) {
		json_decref(root);
		*e = ERR_INVALID_JSON;
		return NULL;
	}
	if (!root && (ji_alloc_failures != failures || !jerr.text[0])) {
		*e = ERR_INTERNAL; /* out of memory before any byte was read */
		return NULL;
	}
	if (!root) {
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
			*e = ERR_DUPLICATE_KEY;
			break;
		case json_error_invalid_utf8:
		case json_error_null_character:
		case json_error_null_byte_in_key:
			*e = ERR_INVALID_STRING;
			break;
		case json_error_stack_overflow:
			*e = ERR_JSON_TOO_DEEP;
			break;
		case json_error_out_of_memory:
			/* Ours, not the client's: a 500, which is never kept
			 * under an idempotency key, so the retry is served. */
			*e = ERR_INTERNAL;
			break;
		default:
			*e = raw_control(&jerr) ? ERR_INVALID_STRING : ERR_INVALID_JSON;
			break;
		}
		if (*e == ERR_INVALID_STRING)
			bad_string_field(body, len, &jerr, field);
		return NULL;
	}
	*e = walk(root, 1, field);
	if (*e != ERR_INVALID_STRING)
		field[0] = '\0';
	if (*e == ERR_OK && !json_is_object(root))
		*e = ERR_INVALID_TYPE;
	if (*e) {
		json_decref(root);
		return NULL;
	}
	return root;
}

json_t *json_in_parse(const char *body, size_t len, enum err *e)
{
	char field[JD_PATH_MAX];
	return json_in_parse_at(body, len, e, field);
}

char *json_in_canonical(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

void jd_init(struct jd_obj *o, json_t *obj, const char *path)
{
	memset(o, 0, sizeof *o);
	o->obj = obj;
	snprintf(o->path, sizeof o->path, "%s", path);
}

void jd_fail(struct jd *d, const struct jd_obj *o, const char *key, enum err e)
{
	if (d->e)
		return;
	d->e = e;
	if (key)
		snprintf(d->field, sizeof d->field, "%s/%s", o->path, key);
	else
		snprintf(d->field, sizeof d->field, "%s", o->path[0] ? o->path : "");
}

static void seen(struct jd_obj *o, const char *key)
{
	for (int i = 0; i < o->nseen; i++)
		if (strcmp(o->seen[i], key) == 0)
			return;
	if (o->nseen < JD_KEYS_MAX)
		o->seen[o->nseen++] = key;
}

void jd_seen(struct jd_obj *o, const char *key) { seen(o, key); }

const char *jd_amount(struct jd *d, struct jd_obj *o, const char *key, bool required,
		      bool nullable)
{
	if (d->e)
		return NULL;
	json_t *v = json_object_get(o->obj, key);
	if (v && !json_is_string(v) && !(nullable && json_is_null(v))) {
		seen(o, key);
		jd_fail(d, o, key, ERR_INVALID_AMOUNT);
		return NULL;
	}
	return jd_str(d, o, key, required, nullable, 40);
}

/* The value at key, or NULL when absent or JSON null (then *is_null). */
static json_t *get(struct jd_obj *o, const char *key, bool *is_null)
{
	seen(o, key);
	json_t *v = json_object_get(o->obj, key);
	*is_null = v && json_is_null(v);
	return *is_null ? NULL : v;
}

/*
 * The value at key if it is present, not null and of the wanted type;
 * otherwise NULL, having recorded missing_field (absent and required) or
 * invalid_type (null when not nullable, or another type). Absent-optional
 * and null-nullable return NULL with no error.
 */
static json_t *present(struct jd *d, struct jd_obj *o, const char *key, bool required,
		       bool nullable, bool (*is_type)(const json_t *))
{
	if (d->e)
		return NULL;
	bool is_null;
	json_t *v = get(o, key, &is_null);
	if (!v) {
		if (is_null && !nullable)
			jd_fail(d, o, key, ERR_INVALID_TYPE);
		else if (!is_null && required)
			jd_fail(d, o, key, ERR_MISSING_FIELD);
		return NULL;
	}
	if (!is_type(v)) {
		jd_fail(d, o, key, ERR_INVALID_TYPE);
		return NULL;
	}
	return v;
}

static bool is_string(const json_t *v) { return json_is_string(v); }
static bool is_object(const json_t *v) { return json_is_object(v); }

const char *jd_str(struct jd *d, struct jd_obj *o, const char *key, bool required,
		   bool nullable, size_t max_bytes)
{
	json_t *v = present(d, o, key, required, nullable, is_string);
	if (!v)
		return NULL;
	size_t n = json_string_length(v);
	if (n > max_bytes) {
		jd_fail(d, o, key, ERR_STRING_TOO_LONG);
		return NULL;
	}
	if (n == 0) {
		jd_fail(d, o, key, ERR_INVALID_VALUE);
		return NULL;
	}
	return json_string_value(v);
}

const char *jd_enum(struct jd *d, struct jd_obj *o, const char *key, bool required,
		    const char *const *allowed)
{
	const char *s = jd_str(d, o, key, required, false, LIMIT_STRING_BYTES);
	if (!s)
		return NULL;
	for (const char *const *a = allowed; *a; a++)
		if (strcmp(*a, s) == 0)
			return s;
	jd_fail(d, o, key, ERR_INVALID_VALUE);
	return NULL;
}

bool jd_sub(struct jd *d, struct jd_obj *o, const char *key, bool required, bool nullable,
	    struct jd_obj *sub)
{
	json_t *v = present(d, o, key, required, nullable, is_object);
	if (!v)
		return false;
	char path[JD_PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", o->path, key);
	jd_init(sub, v, path);
	return true;
}

bool jd_ref(struct jd *d, struct jd_obj *o, const char *key, const char *collection,
	    char id[37])
{
	const char *s = jd_str(d, o, key, true, false, LIMIT_STRING_BYTES);
	if (!s)
		return false;
	size_t n = strlen(collection);
	if (strncmp(s, collection, n) != 0 || s[n] != '/' || !uuid_valid(s + n + 1)) {
		jd_fail(d, o, key, ERR_INVALID_REFERENCE);
		return false;
	}
	memcpy(id, s + n + 1, UUID_STR_LEN + 1);
	uuid_lower(id);
	return true;
}

bool jd_uuid(struct jd *d, struct jd_obj *o, const char *key, char id[37])
{
	const char *s = jd_str(d, o, key, true, false, LIMIT_STRING_BYTES);
	if (!s)
		return false;
	if (!uuid_valid(s)) {
		jd_fail(d, o, key, ERR_INVALID_ID);
		return false;
	}
	memcpy(id, s, UUID_STR_LEN + 1);
	uuid_lower(id);
	return true;
}

bool jd_money(struct jd *d, struct jd_obj *o, const char *key, bool stablecoin_only,
	      enum currency *cur, int64_t *minor)
{
	struct jd_obj m;
	if (!jd_sub(d, o, key, true, false, &m))
		return false;
	const char *code = jd_str(d, &m, "currency", true, false, 8);
	/* value must be a string: a JSON number is refused before it is
	 * ever converted (jansson would read it as a double). */
	bool is_null;
	json_t *v = get(&m, "value", &is_null);
	jd_done(d, &m);
	if (d->e)
		return false;
	*cur = money_currency(code);
	if (*cur == CUR_NONE || (stablecoin_only && !money_is_stablecoin(*cur))) {
		jd_fail(d, &m, "currency", ERR_UNSUPPORTED_CURRENCY);
		return false;
	}
	if (!v) {
		jd_fail(d, &m, "value", is_null ? ERR_INVALID_AMOUNT : ERR_MISSING_FIELD);
		return false;
	}
	if (!json_is_string(v)) {
		jd_fail(d, &m, "value", ERR_INVALID_AMOUNT);
		return false;
	}
	enum err e = money_parse(json_string_value(v), json_string_length(v), *cur, minor);
	if (e) {
		jd_fail(d, &m, "value", e);
		return false;
	}
	return true;
}

void jd_done(struct jd *d, struct jd_obj *o)
{
	if (d->e)
		return;
	const char *k;
	json_t *v;
	json_object_foreach(o->obj, k, v) {
		bool known = false;
		for (int i = 0; i < o->nseen && !known; i++)
			known = strcmp(o->seen[i], k) == 0;
		if (!known) {
			/* The key goes into the pointer: escape per RFC 6901. */
			char esc[JD_PATH_MAX / 2];
			size_t j = 0;
			for (const char *p = k; *p && j + 3 < sizeof esc; p++) {
				if (*p == '~' || *p == '/') {
					esc[j++] = '~';
					esc[j++] = *p == '~' ? '0' : '1';
				} else {
					esc[j++] = *p;
				}
			}
			esc[j] = '\0';
			jd_fail(d, o, esc, ERR_UNKNOWN_FIELD);
			return;
		}
	}
}
