/*
 * json_exact.h - JSON whose numbers keep their text (docs/API.md
 * "Metadata").
 *
 * jansson holds every real as a double, so a client's 0.1 would come back
 * as 0.10000000000000001 and 1.0, 1e2 or a 30-digit integer would change
 * too. A client's own document (Lumx metadata) must come back as sent. So
 * documents that carry one are read with yajl, which hands each number
 * over as its text, into a jansson tree where each number is a string
 * holding JSON_EXACT_MARK and that text; and they are written with
 * yajl_gen, which emits that text as the number it was.
 *
 * The mark is U+0001, which no string of an accepted request can hold
 * (json_in refuses control characters in strings and keys), and
 * json_exact_parse() refuses it in any string it reads: a marked string
 * is always a number. Marked trees live in memory only: what is stored
 * and sent is JSON text from json_exact_dumps().
 */
#ifndef OFFRAMP_API_JSON_EXACT_H
#define OFFRAMP_API_JSON_EXACT_H

#include <stddef.h>

#include <jansson.h>

#define JSON_EXACT_MARK '\x01'

/* Parse JSON text (a document json_in_parse() accepted, or one this
 * module wrote) into a marked tree; NULL when it is not JSON, is nested
 * past LIMIT_JSON_EXACT_DEPTH, or has a NUL or the mark in a string or
 * key. */
json_t *json_exact_parse(const char *text, size_t len);

/* Compact text with sorted keys (as json_in_canonical()), marked strings
 * written as their numbers, any other real as jansson writes it;
 * malloc'd, NULL on failure. */
char *json_exact_dumps(const json_t *v);

/* The canonical text of a JSON document with its numbers as written:
 * json_exact_dumps(json_exact_parse(text)). NULL if it does not parse. */
char *json_exact_canonical(const char *text, size_t len);

/* The same text for a document json_in_parse() already read into tree:
 * a tree with no number in it is what json_exact_parse() would build
 * (only numbers differ between the two readers), so it is dumped as it
 * is, without parsing text again; one with a number is parsed from text. */
char *json_exact_canonical_of(const json_t *tree, const char *text, size_t len);

#endif
