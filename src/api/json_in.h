/*
 * json_in.h - strict request decoding on jansson (CONTRACT §3).
 *
 * json_in_parse() turns a body into a jansson object or the precise 400:
 * not JSON, duplicate key, invalid UTF-8 or a control character in a
 * string (raw or escaped, U+0000..U+001F; all three are invalid_string,
 * naming the field), nesting past LIMIT_JSON_DEPTH,
 * or a top level that is not an object.
 *
 * The jd_* readers then take fields one by one from an object, recording
 * the first error and its field as a JSON pointer; once an error is
 * recorded every later read is a no-op returning NULL, so a handler reads
 * all its fields and checks jd->e once. jd_done() rejects fields the
 * handler did not read (unknown fields).
 */
#ifndef OFFRAMP_API_JSON_IN_H
#define OFFRAMP_API_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/errors.h"
#include "domain/money.h"

#define JD_PATH_MAX 256
#define JD_KEYS_MAX 24

struct jd_obj {
	json_t *obj;
	char path[JD_PATH_MAX]; /* JSON pointer of this object, "" for the root */
	const char *seen[JD_KEYS_MAX];
	int nseen;
};

struct jd {
	enum err e;
	char field[JD_PATH_MAX]; /* pointer of the failing field */
};

/* Route jansson's allocations through ours, so a parse that failed for
 * want of memory answers ERR_INTERNAL rather than blame the client's
 * bytes (jansson 2.14 reports some such failures as invalid syntax).
 * Call once at start, before any JSON is made; not thread-safe. */
void json_in_init(void);
/* How many JSON allocations failed on this thread so far: a request
 * reads it at its start and before blaming the client, since a decode
 * that lost an allocation is our failure (500), not a 400 to keep under
 * an idempotency key. Counts only after json_in_init. */
unsigned json_in_alloc_failures(void);

/* Parse; on failure *e is set and NULL returned. The caller owns the
 * result (json_decref). */
json_t *json_in_parse(const char *body, size_t len, enum err *e);
/* The same; on ERR_INVALID_STRING, field holds the JSON pointer of the
 * string (or member name) at fault, "" when it cannot be told. */
json_t *json_in_parse_at(const char *body, size_t len, enum err *e, char field[JD_PATH_MAX]);

/* Canonical text of a value (keys sorted, compact): malloc'd. */
char *json_in_canonical(const json_t *v);

void jd_init(struct jd_obj *o, json_t *obj, const char *path);
/* Record an error at path/key (key may be NULL for the object itself). */
void jd_fail(struct jd *d, const struct jd_obj *o, const char *key, enum err e);

/* A string field. required: absent is missing_field. nullable: JSON null
 * reads as NULL without error. max_bytes: longer is string_too_long.
 * Empty strings are invalid_value unless allow_empty. */
const char *jd_str(struct jd *d, struct jd_obj *o, const char *key, bool required,
		   bool nullable, size_t max_bytes);
/* A string that must be one of the NULL-terminated list. */
const char *jd_enum(struct jd *d, struct jd_obj *o, const char *key, bool required,
		    const char *const *allowed);
/* An object field; fills sub for reading. Returns false if absent/null
 * (and not required) or on error. */
bool jd_sub(struct jd *d, struct jd_obj *o, const char *key, bool required, bool nullable,
	    struct jd_obj *sub);
/* A "<collection>/<uuid>" reference; writes the lower-cased uuid to id. */
bool jd_ref(struct jd *d, struct jd_obj *o, const char *key, const char *collection,
	    char id[37]);
/* A bare uuid; lower-cased into id. */
bool jd_uuid(struct jd *d, struct jd_obj *o, const char *key, char id[37]);
/* A money object {"currency","value"}; stablecoin_only restricts the
 * currency to USDC/USDT. */
bool jd_money(struct jd *d, struct jd_obj *o, const char *key, bool stablecoin_only,
	      enum currency *cur, int64_t *minor);
/* An amount's decimal string: a JSON number, null (when not nullable)
 * or any other type is invalid_amount, as in jd_money. */
const char *jd_amount(struct jd *d, struct jd_obj *o, const char *key, bool required,
		      bool nullable);
/* Mark key as read when the caller reads it from o->obj itself (numbers,
 * booleans, free-form objects). */
void jd_seen(struct jd_obj *o, const char *key);
/* Fail with unknown_field if o holds a key that was not read. */
void jd_done(struct jd *d, struct jd_obj *o);

#endif
