/*
 * errors.h - error codes, generated from errors.def.
 *
 * `enum err` is what every layer below the api returns for an outcome the
 * client caused (ERR_OK for none). Infrastructure failures use ERR_INTERNAL
 * or ERR_UNAVAILABLE. Only api/ turns an `enum err` into an HTTP answer.
 */
#ifndef OFFRAMP_BASE_ERRORS_H
#define OFFRAMP_BASE_ERRORS_H

#include <stdbool.h>

enum err {
	ERR_OK = 0,
#define X(name, code, status, message) name,
#include "errors.def"
#undef X
	ERR__COUNT
};

/* The stable machine code, e.g. "invalid_iban". Never NULL. */
const char *err_code(enum err e);
/* The HTTP status the code maps to (200 for ERR_OK). */
int err_http_status(enum err e);
/* The short lower-case message. Never NULL. */
const char *err_message(enum err e);
/* Whether an outcome is kept under its idempotency key (CONTRACT §7):
 * success, and the client's own faults that a retry would repeat
 * (malformed input, absent resources, valid but not executable). Not
 * kept: auth, conflicts, preconditions, rate limits, infrastructure. */
bool err_kept(enum err e);

#endif
