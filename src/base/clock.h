/*
 * clock.h - wall-clock time, behind one seam so tests and a later simulator
 * can move it. All times are Unix milliseconds or seconds (units in names).
 */
#ifndef OFFRAMP_BASE_CLOCK_H
#define OFFRAMP_BASE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CLOCK_RFC3339_LEN 20 /* "2026-05-01T10:00:00Z" without NUL */

/* Current Unix time in milliseconds (CLOCK_REALTIME). */
uint64_t clock_now_ms(void);
#ifdef OFFRAMP_FAULTS
/* Test build only (tests/sim): clock_now_ms answers ms from now on, until
 * set to 0 (the real clock again). The production build has no such
 * hook: clock_now_ms reads CLOCK_REALTIME and nothing else. */
void clock_fake_set(uint64_t ms);
#endif
/* Monotonic milliseconds, for durations and timeouts only. */
uint64_t clock_mono_ms(void);
/* Monotonic microseconds, for durations measured finer (GET /metrics). */
uint64_t clock_mono_us(void);
/* Monotonic nanoseconds (the rate limiter's token arithmetic). */
uint64_t clock_mono_ns(void);
/* Format Unix seconds as RFC 3339 UTC with second precision. */
void clock_rfc3339(int64_t unix_s, char out[CLOCK_RFC3339_LEN + 1]);
/* The first second of the UTC calendar month holding unix_s. */
int64_t clock_month_start(int64_t unix_s);

#endif
