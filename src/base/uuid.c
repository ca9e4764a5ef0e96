/*
 * uuid.c - UUIDv7 generation and validation.
 *
 * Monotonicity: a process-wide (ms, counter) pair under a mutex. When the
 * clock does not move (or moves back), the counter increments; when the
 * counter would overflow its 12 bits we borrow the next millisecond. So
 * ids from one process are strictly increasing even across clock steps.
 */
#include "base/uuid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/clock.h"

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uuid_last_ms;
static uint16_t uuid_counter;

void uuid_v7_from(uint64_t unix_ms, uint16_t counter, const uint8_t rnd[8],
		  char out[UUID_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0f));
	b[7] = (uint8_t)(counter & 0xff);
	memcpy(b + 8, rnd, 8);
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	/* 8-4-4-4-12 lower-case hex digits (a few ids per request: no printf). */
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 0x0f];
	}
	*o = '\0';
}

/* Random bytes for ids, drawn from OpenSSL's CSPRNG a block at a time:
 * one RAND_bytes call per 32 ids rather than per id (a create makes four,
 * three of them on the single committer thread). Ids are not secrets;
 * the bytes are the same generator's, only fetched ahead. */
#define UUID_RANDOM_BLOCK 256
static _Thread_local uint8_t uuid_random[UUID_RANDOM_BLOCK];
static _Thread_local size_t uuid_random_left;

static bool uuid_random8(uint8_t out[8])
{
	if (uuid_random_left < 8) {
		if (RAND_bytes(uuid_random, sizeof uuid_random) != 1)
			return false;
		uuid_random_left = sizeof uuid_random;
	}
	uint8_t *p = uuid_random + sizeof uuid_random - uuid_random_left;
	memcpy(out, p, 8);
	memset(p, 0, 8); /* each byte is handed out once */
	uuid_random_left -= 8;
	return true;
}

bool uuid_v7(char out[UUID_STR_LEN + 1])
{
	uint8_t rnd[8];
	if (!uuid_random8(rnd))
		return false;
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
