/*
 * fuzz_webhook_sign.c - the two webhook signatures (webhooks/hooks.h,
 * docs/WEBHOOKS.md) against a receiver's verification written here.
 *
 * Input: byte 0 the key length (1..72), byte 1 a position, then the key,
 * then "<msg id>\n<timestamp digits>\n<body>" (missing parts are empty).
 *
 * Standard Webhooks: the secret "whsec_" + base64(key) signs; the value is
 * "v1," and the base64 of the 32-byte HMAC-SHA256(key, id.ts.body), which
 * a receiver (decode the base64 after "v1,", HMAC the signed content,
 * compare in constant time) accepts; changing any one byte of the body or
 * of the id, the timestamp by one, or one bit of the key makes it refuse.
 * The whole body is signed, NUL bytes included. A secret that is not
 * "whsec_" and a multiple-of-four base64 is refused, never crashes.
 * Lumx: 64 lower-case hex digits of HMAC-SHA256(secret text, body); the
 * same single-byte changes make a receiver refuse. A new secret
 * (hook_secret_new) has a 32-byte key.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/crypto.h"
#include "webhooks/hooks.h"

/* A receiver's check of one "v1,<base64>" value. */
static bool receiver_standard(const unsigned char *key, size_t kl, const char *id, long long ts,
			      const unsigned char *body, size_t len, const char *sig)
{
	if (strncmp(sig, "v1,", 3) != 0 || strlen(sig + 3) != 44)
		return false;
	unsigned char got[33], want[32];
	if (EVP_DecodeBlock(got, (const unsigned char *)sig + 3, 44) != 33 || sig[3 + 43] != '=')
		return false;
	char prefix[128];
	int pl = snprintf(prefix, sizeof prefix, "%s.%lld.", id, ts);
	unsigned char *msg = malloc((size_t)pl + len + 1);
	assert(msg);
	memcpy(msg, prefix, (size_t)pl);
	if (len)
		memcpy(msg + pl, body, len);
	unsigned int ml = 0;
	assert(HMAC(EVP_sha256(), key, (int)kl, msg, (size_t)pl + len, want, &ml) && ml == 32);
	free(msg);
	return crypto_equal(got, want, 32);
}

static bool receiver_lumx(const char *secret, const unsigned char *body, size_t len,
			  const char *sig)
{
	unsigned char mac[32];
	unsigned int ml = 0;
	char hex[65];
	assert(HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &ml) && ml == 32);
	crypto_hex(mac, 32, hex);
	return strlen(sig) == 64 && crypto_equal(hex, sig, 64);
}

static void check_standard(const unsigned char *key, size_t kl, const char *id, long long ts,
			   unsigned char *body, size_t len, size_t pos)
{
	char secret[8 + 4 * 72 / 3], sig[HOOK_SECRET_MAX]; /* the signer takes up to 72 key bytes */
	memcpy(secret, "whsec_", 6);
	EVP_EncodeBlock((unsigned char *)secret + 6, key, (int)kl);
	bool ok = hook_sign_standard(secret, id, ts, (const char *)body, len, sig);
	/* The prefix "id.ts." must fit the signer's 96 bytes. */
	char prefix[160];
	int pl = snprintf(prefix, sizeof prefix, "%s.%lld.", id, ts);
	if (pl >= 96) {
		assert(!ok);
		return;
	}
	assert(ok);
	assert(receiver_standard(key, kl, id, ts, body, len, sig));
	assert(!receiver_standard(key, kl, id, ts + 1, body, len, sig));
	unsigned char k2[72];
	memcpy(k2, key, kl);
	k2[pos % kl] ^= (unsigned char)(1u << (pos % 8));
	assert(!receiver_standard(k2, kl, id, ts, body, len, sig));
	if (len) {
		body[pos % len] ^= 0x01;
		assert(!receiver_standard(key, kl, id, ts, body, len, sig));
		body[pos % len] ^= 0x01;
		assert(!receiver_standard(key, kl, id, ts, body, len - 1, sig));
	}
	size_t il = strlen(id);
	if (il) {
		char *id2 = strdup(id);
		id2[pos % il] = id2[pos % il] == 'a' ? 'b' : 'a';
		assert(!receiver_standard(key, kl, id2, ts, body, len, sig));
		free(id2);
	}
}

static void check_lumx(const char *secret, unsigned char *body, size_t len, size_t pos)
{
	char sig[65];
	hook_sign_lumx(secret, (const char *)body, len, sig);
	for (size_t i = 0; i < 64; i++)
		assert((sig[i] >= '0' && sig[i] <= '9') || (sig[i] >= 'a' && sig[i] <= 'f'));
	assert(sig[64] == '\0');
	assert(receiver_lumx(secret, body, len, sig));
	if (len) {
		body[pos % len] ^= 0x80;
		assert(!receiver_lumx(secret, body, len, sig));
		body[pos % len] ^= 0x80;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t kl = 1 + data[0] % 72, pos = data[1];
	data += 2;
	size -= 2;
	if (kl > size)
		kl = size;
	const unsigned char *key = data;
	data += kl;
	size -= kl;

	/* "<id>\n<ts>\n<body>" */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t idl = nl ? (size_t)(nl - data) : size;
	char *id = strndup((const char *)data, idl);
	data += nl ? idl + 1 : size;
	size -= nl ? idl + 1 : size;
	nl = memchr(data, '\n', size);
	size_t tsl = nl ? (size_t)(nl - data) : 0;
	long long ts = 0;
	for (size_t i = 0; i < tsl && i < 12; i++)
		ts = ts * 10 + (data[i] >= '0' && data[i] <= '9' ? data[i] - '0' : 0);
	data += nl ? tsl + 1 : 0;
	size -= nl ? tsl + 1 : 0;
	unsigned char *body = malloc(size + 1);
	assert(body && id);
	if (size)
		memcpy(body, data, size);

	if (strlen(id) == idl)
		check_standard(key, kl, id, ts, body, size, pos);

	/* The key bytes as a Lumx secret (text up to a NUL). */
	char *lsecret = strndup((const char *)key, kl);
	check_lumx(lsecret, body, size, pos);

	/* Any text after "whsec_": refused or signed, never a crash; signed
	 * only when its base64 is a multiple of four. */
	char sec[HOOK_SECRET_MAX + 8], sig[HOOK_SECRET_MAX];
	snprintf(sec, sizeof sec, "whsec_%s", lsecret);
	if (hook_sign_standard(sec, "msg_x", 1, (const char *)body, size, sig))
		assert(strlen(sec + 6) % 4 == 0 && strncmp(sig, "v1,", 3) == 0 &&
		       strlen(sig) == 47);
	assert(!hook_sign_standard(lsecret, "msg_x", 1, (const char *)body, size, sig) ||
	       strncmp(lsecret, "whsec_", 6) == 0);

	/* A fresh secret carries a 32-byte key (44 base64 characters). */
	char fresh[HOOK_SECRET_MAX];
	assert(hook_secret_new(fresh));
	assert(strncmp(fresh, "whsec_", 6) == 0 && strlen(fresh) == 50);
	unsigned char fk[33];
	assert(EVP_DecodeBlock(fk, (unsigned char *)fresh + 6, 44) == 33);
	assert(hook_sign_standard(fresh, "msg_x", 1, (const char *)body, size, sig));
	assert(receiver_standard(fk, 32, "msg_x", 1, body, size, sig));

	free(lsecret);
	free(body);
	free(id);
	return 0;
}
