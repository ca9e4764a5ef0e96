/*
 * json_out.h - JSON text written straight into a buffer, for the shapes
 * rendered on the hot path (a session: every create's event snapshot and
 * answer, on the single committer thread, and every GET).
 *
 * Building a jansson tree to dump it costs a few hundred allocations and
 * a key sort per object; a renderer that knows its shape writes the keys
 * in sorted order itself and only escapes the values. The text is meant
 * to be byte for byte what json_dumps(tree, JSON_COMPACT | JSON_SORT_KEYS)
 * writes for the same tree: strings escaped as jansson escapes them
 * (\" \\ \b \f \n \r \t, other control characters as \u00XX, "/" and
 * non-ASCII as they are), invalid UTF-8 refused as json_string() refuses
 * it. Each renderer's unit test holds it to jansson's text.
 *
 * A writer that fails (out of memory, over LIMIT_RESPONSE_BYTES, invalid
 * UTF-8) stays failed: every later call does nothing and json_out_take()
 * returns NULL, so a renderer checks once, at the end.
 */
#ifndef OFFRAMP_API_JSON_OUT_H
#define OFFRAMP_API_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_out {
	char *buf; /* owned until json_out_take() */
	size_t len, cap;
	bool failed;
};

/* An empty writer; its first write allocates. */
void json_out_init(struct json_out *o);
/* Text we wrote ourselves (punctuation, "key": pairs), as it is. */
void json_out_raw(struct json_out *o, const char *text);
/* A JSON string holding s (escaped); s must be UTF-8. */
void json_out_str(struct json_out *o, const char *s);
/* A JSON string holding prefix then s: "client-accounts/<id>". */
void json_out_str2(struct json_out *o, const char *prefix, const char *s);
/* The JSON string s, or null when s is empty. */
void json_out_str_or_null(struct json_out *o, const char *s);
/* A member of an object written by json_out_object(): its key and its
 * value, a string (str; NULL writes null) or, when raw is set, text we
 * wrote (a nested object). */
struct json_out_member {
	const char *key;
	const char *str;
	const char *raw;
};
/* The object of the n members m, keys in strcmp order (as JSON_SORT_KEYS
 * sorts them); m is sorted in place. Keys must differ. */
void json_out_object(struct json_out *o, struct json_out_member *m, size_t n);
/* The text (malloc'd, NUL-terminated, the caller frees it), or NULL if
 * any write failed; o is empty again afterwards. */
char *json_out_take(struct json_out *o, size_t *len);
/* Free what o holds (when the text is not wanted after all). */
void json_out_free(struct json_out *o);

#endif
