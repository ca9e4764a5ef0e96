/*
 * uuid.h - UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, a 12-bit
 * counter that keeps ids made in one millisecond by this process strictly
 * increasing, variant bits, 62 random bits from OpenSSL.
 *
 * Ids therefore sort by creation time, which is what keyset pagination
 * ("newest first, stable under concurrent inserts") is built on.
 */
#ifndef OFFRAMP_BASE_UUID_H
#define OFFRAMP_BASE_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 36 /* without the NUL */

/* Write a new UUIDv7 in canonical lower-case form to out (37 bytes with
 * NUL). Thread-safe. Returns false only if the random source failed. */
bool uuid_v7(char out[UUID_STR_LEN + 1]);

/* Same, with the clock and random bytes given: for tests and fuzzing.
 * counter is the 12-bit sequence placed in rand_a. */
void uuid_v7_from(uint64_t unix_ms, uint16_t counter, const uint8_t rnd[8],
		  char out[UUID_STR_LEN + 1]);

/* true when s is a canonical UUID (8-4-4-4-12 hex, either case). */
#ifdef OFFRAMP_FAULTS
/* Test build only (tests/sim): seed != 0 makes every later id's random
 * bits a function of the seed and the ids made before (and restarts the
 * monotonic counter), so a simulation run replays id for id; 0 goes back
 * to RAND_bytes. */
void uuid_fake_seed(uint64_t seed);
/* While seeded: out gets len bytes of the same stream (crypto_random's
 * source then, so retry jitter and key secrets replay too); false when
 * not seeded. */
bool uuid_fake_bytes(void *out, size_t len);
#endif
bool uuid_valid(const char *s);

/* Lower-case a valid UUID in place. */
void uuid_lower(char *s);

#endif
