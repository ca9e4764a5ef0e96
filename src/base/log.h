/*
 * log.h - one-line logs to stderr: "<rfc3339> <level> <message>".
 *
 * Never log a secret: API keys are never passed here, and bank identifiers
 * go through log_mask() first (keeps the first 4 and last 4 characters).
 */
#ifndef OFFRAMP_BASE_LOG_H
#define OFFRAMP_BASE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Mask an IBAN or account number for logs: "GB29**************6819".
 * Writes at most outlen bytes including the NUL. */
void log_mask(const char *in, char *out, size_t outlen);

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
