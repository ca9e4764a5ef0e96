/*
 * errors.c - lookups over the error table in errors.def.
 */
#include "base/errors.h"

struct err_row {
	const char *code;
	int status;
	const char *message;
};

static const struct err_row err_rows[ERR__COUNT] = {
	[ERR_OK] = {"ok", 200, "ok"},
#define X(name, c, s, m) [name] = {c, s, m},
#include "errors.def"
#undef X
};

static const struct err_row *err_row(enum err e)
{
	if ((int)e < 0 || e >= ERR__COUNT)
		e = ERR_INTERNAL;
	return &err_rows[e];
}

const char *err_code(enum err e) { return err_row(e)->code; }
int err_http_status(enum err e) { return err_row(e)->status; }
const char *err_message(enum err e) { return err_row(e)->message; }

bool err_kept(enum err e)
{
	/* By the code's class in the one table, so the rule cannot drift
	 * from the codes (and the service needs no HTTP status of its own). */
	int s = err_row(e)->status;
	return e == ERR_OK || s == 400 || s == 404 || s == 422;
}
