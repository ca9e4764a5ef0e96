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
	uint8_t b[16];
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0f));
	b[7] = (uint8_t)(counter & 0xff);
	memcpy(b + 8, rnd, 8);
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	snprintf(out, UUID_STR_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
		 b[11], b[12], b[13], b[14], b[15]);
}

bool uuid_v7(char out[UUID_STR_LEN + 1])
{
	uint8_t rnd[8];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
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
