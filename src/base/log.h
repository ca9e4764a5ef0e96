/*
 * log.h - the process's log: one JSON object per line on stderr
 * (docs/OPERATIONS.md "Logs"), encoded by jansson, never by hand.
 *
 * Every line has "ts" (RFC 3339 UTC, milliseconds), "level" (debug, info,
 * warn, error) and "msg"; a request's line (log_request) adds request_id,
 * method, route (the route template, never the raw path), status,
 * latency_ms and, once authenticated, principal.
 *
 * Never log a secret: API keys and webhook secrets are never passed here,
 * and bank identifiers go through log_mask() first (keeps the first 4 and
 * last 4 characters).
 *
 * Thread safety: every function may be called from any thread; a line is
 * written with one fwrite under the stdio lock, so lines never interleave.
 */
#ifndef OFFRAMP_BASE_LOG_H
#define OFFRAMP_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);
/* A line whose msg is fmt formatted (cut at LIMIT_LOG_MSG_BYTES; bytes that
 * are not UTF-8 become '?'). */
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One answered (or abandoned) HTTP request. Strings are borrowed for the
 * call; principal NULL or "" when the request was not authenticated. */
struct log_request {
	const char *request_id;
	const char *method;
	const char *route;     /* the route template, or "unmatched" */
	const char *principal; /* the authenticated principal's id */
	int status;            /* 0: never answered */
	uint64_t latency_us;   /* headers in to answer queued */
	bool ended_early;      /* the connection closed before the answer went out */
};
void log_request(const struct log_request *r);

/* Mask an IBAN or account number for logs: "GB29**************6819".
 * Writes at most outlen bytes including the NUL. */
void log_mask(const char *in, char *out, size_t outlen);

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
