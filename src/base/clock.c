/*
 * clock.c - the process clock.
 */
#include "base/clock.h"

#include <time.h>

#ifdef OFFRAMP_FAULTS
#include <stdatomic.h>

/* The simulator's clock (tests/sim): 0 while the real one is in use. */
static _Atomic uint64_t clock_fake_ms;

void clock_fake_set(uint64_t ms) { atomic_store(&clock_fake_ms, ms); }
#endif

uint64_t clock_now_ms(void)
{
#ifdef OFFRAMP_FAULTS
	uint64_t fake = atomic_load(&clock_fake_ms);
	if (fake)
		return fake;
#endif
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void clock_rfc3339(int64_t unix_s, char out[CLOCK_RFC3339_LEN + 1])
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, CLOCK_RFC3339_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t clock_month_start(int64_t unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)timegm(&tm);
}
