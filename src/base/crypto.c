/*
 * crypto.c - thin wrappers over OpenSSL 3 (EVP, RAND, CRYPTO_memcmp).
 */
#include "base/crypto.h"
#include "base/uuid.h"

#include <assert.h>
#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* SHA-256 fetched from the default provider once: EVP_sha256() makes
 * every digest look the implementation up again (OpenSSL 3's implicit
 * fetch), which cost about as much as hashing a request body. Kept for
 * the life of the process. */
static EVP_MD *crypto_sha256_md;
static pthread_once_t crypto_sha256_once = PTHREAD_ONCE_INIT;

static void crypto_sha256_fetch(void) { crypto_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	pthread_once(&crypto_sha256_once, crypto_sha256_fetch);
	unsigned int n = 0;
	int ok = EVP_Digest(data, len, out, &n, crypto_sha256_md ? crypto_sha256_md : EVP_sha256(),
			    NULL);
	/* EVP_Digest with a built-in digest cannot fail short of memory
	 * exhaustion inside OpenSSL; treat that as our bug, not theirs. */
	assert(ok == 1 && n == CRYPTO_SHA256_LEN);
	(void)ok;
}

void crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_LEN + 1])
{
	uint8_t d[CRYPTO_SHA256_LEN];
	crypto_sha256(data, len, d);
	crypto_hex(d, sizeof d, out);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_random(void *out, size_t len)
{
#ifdef OFFRAMP_FAULTS
	/* tests/sim: a seeded run draws from its own stream (base/uuid.h). */
	if (uuid_fake_bytes(out, len))
		return true;
#endif
	return RAND_bytes(out, (int)len) == 1;
}

void crypto_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

size_t crypto_base64url(const uint8_t *in, size_t len, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long crypto_base64url_decode(const char *in, size_t n, uint8_t *out)
{
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1)))
		return -1; /* non-zero padding bits: not the canonical form */
	return (long)o;
}
