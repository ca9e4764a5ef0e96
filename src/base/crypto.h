/*
 * crypto.h - the few primitives the service needs, all from OpenSSL 3:
 * SHA-256, constant-time comparison, random bytes, hex/base64url text,
 * AES-256-GCM (EVP) and the operator's key file. Nothing here is home-made
 * cryptography.
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

/*
 * AES-256-GCM with a random 96-bit nonce (RAND_bytes) per call. A sealed
 * message is nonce || ciphertext || tag: CRYPTO_AEAD_OVERHEAD bytes more
 * than the plaintext. aad (may be NULL with aad_len 0) is authenticated,
 * not stored: open succeeds only with the same aad, key and bytes.
 */
#define CRYPTO_AEAD_KEY_LEN 32
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_AEAD_TAG_LEN 16
#define CRYPTO_AEAD_OVERHEAD (CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN)
/* Seal len bytes of in into out (len + CRYPTO_AEAD_OVERHEAD bytes). False
 * when OpenSSL failed (no randomness, no memory). */
bool crypto_aead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		      const void *in, size_t len, uint8_t *out);
/* Open n sealed bytes into out (n - CRYPTO_AEAD_OVERHEAD bytes). False for
 * a wrong key or aad, any changed byte, or n too short. */
bool crypto_aead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		      const uint8_t *in, size_t n, uint8_t *out);

/*
 * The operator's key file: 64 hex digits (32 random bytes, e.g. `openssl
 * rand -hex 32`), an optional trailing newline, nothing else; a regular
 * file that neither group nor others may read or write (mode 0600 or
 * 0400). read returns false with a message in err (no key bytes in it).
 * create makes path with mode 0600 from fresh random bytes, atomically (a
 * file of its own linked into place): when path already exists, it reads
 * that one instead (two processes starting at once end with one key).
 */
bool crypto_key_file_read(const char *path, uint8_t key[CRYPTO_AEAD_KEY_LEN], char *err,
			  size_t err_len);
bool crypto_key_file_create(const char *path, uint8_t key[CRYPTO_AEAD_KEY_LEN], char *err,
			    size_t err_len);

#endif
