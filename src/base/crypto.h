/*
 * crypto.h - the few primitives the service needs, all from OpenSSL 3:
 * SHA-256, constant-time comparison, random bytes, and hex/base64url text.
 * Nothing here is home-made cryptography.
 */
#ifndef OFFRAMP_BASE_CRYPTO_H
#define OFFRAMP_BASE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA256_HEX_LEN 64

/* SHA-256 of len bytes at data. */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* Same, written as 64 lower-case hex digits and a NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1]);
/* Constant-time equality of two equal-length buffers (CRYPTO_memcmp). */
bool crypto_equal(const void *a, const void *b, size_t len);
/* len random bytes from OpenSSL's CSPRNG; false if it failed. */
bool crypto_random(void *out, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void crypto_hex(const uint8_t *in, size_t len, char *out);
/* Unpadded base64url of len bytes into out (at least 4*ceil(len/3)+1 bytes).
 * Returns the number of characters written. */
size_t crypto_base64url(const uint8_t *in, size_t len, char *out);

/* Decode unpadded base64url text of n characters into out (room for
 * 3*n/4 bytes). Returns the byte count, or -1 for a character outside the
 * alphabet or an impossible length. Only the canonical encoding is
 * accepted (unused trailing bits must be zero). */
long crypto_base64url_decode(const char *in, size_t n, uint8_t *out);

#endif
