/*
 * crypto.c - thin wrappers over OpenSSL 3 (EVP, RAND, CRYPTO_memcmp), and
 * the operator's key file (read with its mode checked, or created 0600).
 */
#include "base/crypto.h"
#include "base/uuid.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- AES-256-GCM ------------------------------------------------------------ */

static bool aead_run(bool seal, const uint8_t key[CRYPTO_AEAD_KEY_LEN],
		     const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], const void *aad, size_t aad_len,
		     const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[CRYPTO_AEAD_TAG_LEN])
{
	if (len > INT_MAX || aad_len > INT_MAX)
		return false;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return false;
	int n = 0;
	bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, seal) == 1 &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_AEAD_NONCE_LEN, NULL) ==
			  1 &&
		  EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, seal) == 1 &&
		  (aad_len == 0 ||
		   EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
		  (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1);
	if (ok && !seal)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_AEAD_TAG_LEN, tag) == 1;
	/* Decrypting, Final is where the tag is checked. */
	ok = ok && EVP_CipherFinal_ex(ctx, out + len, &n) == 1;
	if (ok && seal)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_AEAD_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

bool crypto_aead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		      const void *in, size_t len, uint8_t *out)
{
	if (!crypto_random(out, CRYPTO_AEAD_NONCE_LEN))
		return false;
	return aead_run(true, key, out, aad, aad_len, in, len, out + CRYPTO_AEAD_NONCE_LEN,
			out + CRYPTO_AEAD_NONCE_LEN + len);
}

bool crypto_aead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const void *aad, size_t aad_len,
		      const uint8_t *in, size_t n, uint8_t *out)
{
	if (n < CRYPTO_AEAD_OVERHEAD)
		return false;
	size_t len = n - CRYPTO_AEAD_OVERHEAD;
	uint8_t tag[CRYPTO_AEAD_TAG_LEN];
	memcpy(tag, in + CRYPTO_AEAD_NONCE_LEN + len, sizeof tag);
	bool ok = aead_run(false, key, in, aad, aad_len, in + CRYPTO_AEAD_NONCE_LEN, len, out, tag);
	if (!ok)
		OPENSSL_cleanse(out, len);
	return ok;
}

/* ---- the key file -------------------------------------------------------------- */

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool crypto_key_file_read(const char *path, uint8_t key[CRYPTO_AEAD_KEY_LEN], char *err,
			  size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	struct stat st;
	char text[2 * CRYPTO_AEAD_KEY_LEN + 2];
	ssize_t n = -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s is not a regular file", path);
	} else if (st.st_mode & 077) {
		snprintf(err, err_len,
			 "%s may be read or written by others (mode %03o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
	} else {
		n = read(fd, text, sizeof text);
		if (n < 0)
			snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
	}
	close(fd);
	if (n < 0)
		return false;
	size_t len = (size_t)n;
	/* 66 bytes were asked for, so a longer file reads as 66 and fails. */
	if (len == 2 * CRYPTO_AEAD_KEY_LEN + 1 && text[len - 1] == '\n')
		len--;
	bool ok = len == 2 * CRYPTO_AEAD_KEY_LEN;
	for (size_t i = 0; ok && i < CRYPTO_AEAD_KEY_LEN; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
		ok = hi >= 0 && lo >= 0;
		key[i] = ok ? (uint8_t)(hi << 4 | lo) : 0;
	}
	OPENSSL_cleanse(text, sizeof text);
	if (!ok) {
		OPENSSL_cleanse(key, CRYPTO_AEAD_KEY_LEN);
		snprintf(err, err_len, "%s must hold 64 hex digits (32 bytes) and nothing else", path);
	}
	return ok;
}

bool crypto_key_file_create(const char *path, uint8_t key[CRYPTO_AEAD_KEY_LEN], char *err,
			    size_t err_len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp) {
		snprintf(err, err_len, "key file path too long");
		return false;
	}
	uint8_t raw[CRYPTO_AEAD_KEY_LEN];
	char text[2 * CRYPTO_AEAD_KEY_LEN + 2];
	if (!crypto_random(raw, sizeof raw)) {
		snprintf(err, err_len, "no random bytes for a key");
		return false;
	}
	crypto_hex(raw, sizeof raw, text);
	OPENSSL_cleanse(raw, sizeof raw);
	text[2 * CRYPTO_AEAD_KEY_LEN] = '\n';
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1) &&
		  fsync(fd) == 0;
	OPENSSL_cleanse(text, sizeof text);
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	/* link() fails if path exists: then the other process's key is the key. */
	if (ok && link(tmp, path) != 0 && errno != EEXIST) {
		snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	if (fd >= 0)
		unlink(tmp);
	if (!ok) {
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
		return false;
	}
	return crypto_key_file_read(path, key, err, err_len);
}
