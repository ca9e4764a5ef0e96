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

#include <pthread.h>
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

/* Write o as one line (o stays the caller's). */
static void log_write(json_t *o)
{
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
}

/* Write o as one line and release it. */
static void log_emit(json_t *o)
{
	if (!o)
		return;
	log_write(o);
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

/*
 * The request line is the one written for every request, so its object is
 * made once per thread and per shape (with and without a principal) and
 * only its values are replaced: no hashing, no new nodes, one small copy
 * per string (jansson's string set). Kept under a pthread key whose
 * destructor frees it when the thread ends. A line marked ended_early (a
 * client gone mid-request) is rare and built afresh.
 */
enum { LOG_RQ_TS, LOG_RQ_ID, LOG_RQ_METHOD, LOG_RQ_ROUTE, LOG_RQ_STATUS, LOG_RQ_LATENCY,
       LOG_RQ_PRINCIPAL, LOG_RQ__COUNT };
static const char *const log_rq_keys[LOG_RQ__COUNT] = {"ts", "request_id", "method", "route",
						       "status", "latency_ms", "principal"};

struct log_rq {
	json_t *o;                 /* owns the values below */
	json_t *v[LOG_RQ__COUNT];  /* borrowed from o; principal NULL in the shape without it */
};

static pthread_key_t log_rq_key;
static pthread_once_t log_rq_once = PTHREAD_ONCE_INIT;

static void log_rq_free(void *p)
{
	struct log_rq *t = p;
	for (int i = 0; i < 2; i++)
		json_decref(t[i].o);
	free(t);
}

static void log_rq_init(void) { (void)pthread_key_create(&log_rq_key, log_rq_free); }

/* A fresh object of the request line's shape, values placeholders. */
static bool log_rq_make(struct log_rq *t, bool principal)
{
	if (!(t->o = log_line(LOG_INFO, "request")))
		return false;
	for (int i = 0; i < LOG_RQ__COUNT; i++) {
		if (i == LOG_RQ_TS) {
			t->v[i] = json_object_get(t->o, "ts");
			continue;
		}
		if (i == LOG_RQ_PRINCIPAL && !principal) {
			t->v[i] = NULL;
			continue;
		}
		t->v[i] = i == LOG_RQ_STATUS ? json_integer(0)
			  : i == LOG_RQ_LATENCY ? json_real(0)
						: json_string_nocheck("");
		if (json_object_set_new_nocheck(t->o, log_rq_keys[i], t->v[i]))
			return false;
	}
	return true;
}

/* This thread's object of the shape wanted; NULL when out of memory. */
static struct log_rq *log_rq_get(bool principal)
{
	pthread_once(&log_rq_once, log_rq_init);
	struct log_rq *t = pthread_getspecific(log_rq_key);
	if (!t) {
		if (!(t = calloc(2, sizeof *t)))
			return NULL;
		if (pthread_setspecific(log_rq_key, t)) {
			free(t);
			return NULL;
		}
	}
	t += principal;
	if (!t->o && !log_rq_make(t, principal)) {
		json_decref(t->o);
		t->o = NULL;
		return NULL;
	}
	return t;
}

/* A value from outside (a method token, an id): checked as UTF-8 by
 * jansson; one that is not is shown as "?" rather than lose the line. */
static void log_rq_set(json_t *v, const char *s)
{
	if (json_string_set(v, s ? s : "") != 0)
		json_string_set_nocheck(v, "?");
}

void log_request(const struct log_request *r)
{
	if (LOG_INFO < log_min)
		return;
	bool principal = r->principal && r->principal[0];
	if (r->ended_early) {
		json_t *o = log_line(LOG_INFO, "request");
		if (!o)
			return;
		json_object_set_new_nocheck(o, "request_id", json_string(r->request_id));
		json_object_set_new_nocheck(o, "method", json_string(r->method));
		json_object_set_new_nocheck(o, "route", json_string(r->route));
		json_object_set_new_nocheck(o, "status", json_integer(r->status));
		json_object_set_new_nocheck(o, "latency_ms", json_real((double)r->latency_us / 1000.0));
		if (principal)
			json_object_set_new_nocheck(o, "principal", json_string(r->principal));
		json_object_set_new_nocheck(o, "ended_early", json_true());
		log_emit(o);
		return;
	}
	struct log_rq *t = log_rq_get(principal);
	if (!t)
		return;
	char ts[LOG_TS_LEN + 1];
	log_ts(ts);
	json_string_set_nocheck(t->v[LOG_RQ_TS], ts);
	log_rq_set(t->v[LOG_RQ_ID], r->request_id);
	/* A thread serves the same method and route often: unchanged, the
	 * copy is skipped. */
	if (strcmp(json_string_value(t->v[LOG_RQ_METHOD]), r->method ? r->method : ""))
		log_rq_set(t->v[LOG_RQ_METHOD], r->method);
	if (strcmp(json_string_value(t->v[LOG_RQ_ROUTE]), r->route ? r->route : ""))
		log_rq_set(t->v[LOG_RQ_ROUTE], r->route);
	json_integer_set(t->v[LOG_RQ_STATUS], r->status);
	json_real_set(t->v[LOG_RQ_LATENCY], (double)r->latency_us / 1000.0);
	if (principal)
		log_rq_set(t->v[LOG_RQ_PRINCIPAL], r->principal);
	log_write(t->o);
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
