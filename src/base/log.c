/*
 * log.c - stderr logger. Each line is written with one fprintf under the
 * stdio lock, so lines from different threads never interleave.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"

static enum log_level log_min = LOG_INFO;

void log_set_level(enum log_level min) { log_min = min; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if (lvl < log_min)
		return;
	char ts[CLOCK_RFC3339_LEN + 1];
	clock_rfc3339((int64_t)(clock_now_ms() / 1000), ts);
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s %s\n", ts, names[lvl], line);
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
