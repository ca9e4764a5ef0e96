/*
 * uuid.c - UUIDv7 generation and validation.
 *
 * Monotonicity: a process-wide (ms, counter) pair under a mutex. When the
 * clock does not move (or moves back), the counter increments; when the
 * counter would overflow its 12 bits we borrow the next millisecond. So
 * ids from one process are strictly increasing even across clock steps.
 *
 * Randomness: OpenSSL's RAND_bytes checks for a fork (a getpid system
 * call) on every call, and a create makes several ids, so each thread
 * draws RAND_bytes a block at a time and hands out 8 bytes per id. offramp
 * never forks, so no two processes share a block.
 */
#include "base/uuid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/clock.h"

#define UUID_RANDOM_BLOCK 256 /* bytes drawn from RAND_bytes at once */

static _Thread_local uint8_t uuid_pool[UUID_RANDOM_BLOCK];
static _Thread_local size_t uuid_pool_used = UUID_RANDOM_BLOCK;

static bool uuid_random8(uint8_t out[8])
{
	if (uuid_pool_used + 8 > UUID_RANDOM_BLOCK) {
		if (RAND_bytes(uuid_pool, sizeof uuid_pool) != 1)
			return false;
		uuid_pool_used = 0;
	}
	memcpy(out, uuid_pool + uuid_pool_used, 8);
	/* Handed out once: not left where a later reader could find it. */
	memset(uuid_pool + uuid_pool_used, 0, 8);
	uuid_pool_used += 8;
	return true;
}

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uuid_last_ms;
static uint16_t uuid_counter;

void uuid_v7_from(uint64_t unix_ms, uint16_t counter, const uint8_t rnd[8],
		  char out[UUID_STR_LEN + 1])
{
	uint8_t b[16];
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0f));
	b[7] = (uint8_t)(counter & 0xff);
	memcpy(b + 8, rnd, 8);
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 0x0f];
	}
	*o = '\0';
}

#ifdef OFFRAMP_FAULTS
static uint64_t uuid_fake_state; /* under uuid_lock; 0: RAND_bytes (the state
				    * steps by an odd constant: it wraps to 0 only
				    * after 2^64 ids) */

void uuid_fake_seed(uint64_t seed)
{
	pthread_mutex_lock(&uuid_lock);
	uuid_fake_state = seed;
	uuid_last_ms = 0;
	uuid_counter = 0;
	pthread_mutex_unlock(&uuid_lock);
}

/* splitmix64 over the seeded state; false when no seed is set. */
static bool uuid_fake8(uint8_t out[8])
{
	pthread_mutex_lock(&uuid_lock);
	bool on = uuid_fake_state != 0;
	uint64_t z = on ? (uuid_fake_state += 0x9e3779b97f4a7c15ULL) : 0;
	pthread_mutex_unlock(&uuid_lock);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	memcpy(out, &z, 8);
	return on;
}

bool uuid_fake_bytes(void *out, size_t len)
{
	uint8_t *o = out, b[8];
	for (size_t i = 0; i < len; i += 8) {
		if (!uuid_fake8(b))
			return false;
		memcpy(o + i, b, len - i < 8 ? len - i : 8);
	}
	return true;
}
#endif

bool uuid_v7(char out[UUID_STR_LEN + 1])
{
	uint8_t rnd[8];
#ifdef OFFRAMP_FAULTS
	if (!uuid_fake8(rnd) && !uuid_random8(rnd))
		return false;
#else
	if (!uuid_random8(rnd))
		return false;
#endif
	uint64_t now = clock_now_ms();
	pthread_mutex_lock(&uuid_lock);
	if (now > uuid_last_ms) {
		uuid_last_ms = now;
		uuid_counter = 0;
	} else if (++uuid_counter > 0x0fff) {
		uuid_last_ms++;
		uuid_counter = 0;
	}
	uint64_t ms = uuid_last_ms;
	uint16_t counter = uuid_counter;
	pthread_mutex_unlock(&uuid_lock);
	uuid_v7_from(ms, counter, rnd, out);
	return true;
}

bool uuid_valid(const char *s)
{
	if (!s || strlen(s) != UUID_STR_LEN)
		return false;
	for (int i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

void uuid_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}
