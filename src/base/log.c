/*
 * log.c - JSON lines on stderr (log.h).
 *
 * Each line is one jansson object dumped compact into a buffer on the
 * stack (a line longer than LIMIT_LOG_LINE_BYTES is dumped into the heap
 * instead) and written with one fwrite, which takes the stdio lock, so
 * lines from different threads never interleave. stderr is unbuffered:
 * one line, one write(2), as before the lines were JSON.
 *
 * Strings reach jansson as they are when they are UTF-8 (jansson checks);
 * a message that is not (a libmicrohttpd line quoting a client's bytes) is
 * copied with every byte past ASCII made '?', so a line is never lost and
 * never invalid JSON.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/limits.h"

static enum log_level log_min = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level min) { log_min = min; }

/* "2026-12-04T18:16:01.123Z" */
#define LOG_TS_LEN (CLOCK_RFC3339_LEN + 4)

static void log_ts(char out[LOG_TS_LEN + 1])
{
	uint64_t ms = clock_now_ms();
	char s[CLOCK_RFC3339_LEN + 1];
	clock_rfc3339((int64_t)(ms / 1000), s);
	s[CLOCK_RFC3339_LEN - 1] = '\0'; /* drop the Z */
	snprintf(out, LOG_TS_LEN + 1, "%s.%03uZ", s, (unsigned)(ms % 1000));
}

/* A string value, checked for UTF-8; else its ASCII with '?' for the rest. */
static json_t *log_str(const char *v)
{
	json_t *j = json_string(v);
	if (j)
		return j;
	char safe[LIMIT_LOG_MSG_BYTES];
	size_t n = 0;
	for (; v[n] && n + 1 < sizeof safe; n++)
		safe[n] = (unsigned char)v[n] < 0x80 ? v[n] : '?';
	safe[n] = '\0';
	return json_string(safe);
}

/* A new line's object with ts, level and msg; NULL when out of memory. */
static json_t *log_line(enum log_level lvl, const char *msg)
{
	char ts[LOG_TS_LEN + 1];
	log_ts(ts);
	json_t *o = json_object();
	if (o && (json_object_set_new_nocheck(o, "ts", json_string_nocheck(ts)) ||
		  json_object_set_new_nocheck(o, "level", json_string_nocheck(log_names[lvl])) ||
		  json_object_set_new_nocheck(o, "msg", log_str(msg)))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Write o as one line and release it. */
static void log_emit(json_t *o)
{
	if (!o)
		return;
	char buf[LIMIT_LOG_LINE_BYTES];
	size_t n = json_dumpb(o, buf, sizeof buf - 1, JSON_COMPACT | JSON_REAL_PRECISION(6));
	if (n > 0 && n < sizeof buf - 1) {
		buf[n++] = '\n';
		fwrite(buf, 1, n, stderr);
	} else if (n > 0) {
		char *big = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
		if (big)
			fprintf(stderr, "%s\n", big);
		free(big);
	}
	json_decref(o);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < log_min)
		return;
	char line[LIMIT_LOG_MSG_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_emit(log_line(lvl, line));
}

void log_request(const struct log_request *r)
{
	if (LOG_INFO < log_min)
		return;
	json_t *o = log_line(LOG_INFO, "request");
	if (!o)
		return;
	/* Request ids are checked (http/server.c) or ours; the method is
	 * libmicrohttpd's token; route and principal are ours: all ASCII,
	 * but checked all the same, a wrong byte costing a field, not a line. */
	json_object_set_new_nocheck(o, "request_id", json_string(r->request_id));
	json_object_set_new_nocheck(o, "method", json_string(r->method));
	json_object_set_new_nocheck(o, "route", json_string(r->route));
	json_object_set_new_nocheck(o, "status", json_integer(r->status));
	json_object_set_new_nocheck(o, "latency_ms", json_real((double)r->latency_us / 1000.0));
	if (r->principal && r->principal[0])
		json_object_set_new_nocheck(o, "principal", json_string(r->principal));
	if (r->ended_early)
		json_object_set_new_nocheck(o, "ended_early", json_true());
	log_emit(o);
}

void log_mask(const char *in, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	size_t n = strlen(in), o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen; i++)
		out[o++] = (i < 4 || i + 4 >= n) && n > 8 ? in[i] : '*';
	out[o] = '\0';
}
