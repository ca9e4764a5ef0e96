/*
 * test_crypto.c - unit tests for base/crypto.c.
 *
 * Vectors: FIPS 180-2 / NIST CSRC examples for SHA-256, RFC 4648 §10 for
 * base64 (made url-safe and unpadded), and bytes chosen to land on the two
 * url-safe characters. Outputs go into heap buffers of exactly the size the
 * header promises, so ASan reports a write past it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- SHA-256 ---------------------------------------------------------- */

static const struct {
	const char *in;
	const char *hex;
} sha_vectors[] = {
	{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void test_sha256_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(sha_vectors); i++) {
		const char *in = sha_vectors[i].in;
		char *hex = malloc(CRYPTO_SHA256_HEX_LEN + 1);
		uint8_t *raw = malloc(CRYPTO_SHA256_LEN);

		assert_non_null(hex);
		assert_non_null(raw);
		crypto_sha256_hex(in, strlen(in), hex);
		if (strcmp(hex, sha_vectors[i].hex) != 0)
			fail_msg("sha256(\"%s\") = %s, want %s", in, hex, sha_vectors[i].hex);

		/* The raw digest is the same bytes. */
		crypto_sha256(in, strlen(in), raw);
		for (int k = 0; k < CRYPTO_SHA256_LEN; k++) {
			int b = hexval(sha_vectors[i].hex[2 * k]) << 4 |
				hexval(sha_vectors[i].hex[2 * k + 1]);
			assert_int_equal(raw[k], b);
		}
		free(raw);
		free(hex);
	}
}

/* The one-million-'a' vector: exercises many blocks. */
static void test_sha256_million_a(void **state)
{
	(void)state;
	size_t n = 1000000;
	char *a = malloc(n);
	char hex[CRYPTO_SHA256_HEX_LEN + 1];

	assert_non_null(a);
	memset(a, 'a', n);
	crypto_sha256_hex(a, n, hex);
	assert_string_equal(hex,
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

/* Length, not NUL, ends the input. */
static void test_sha256_binary(void **state)
{
	(void)state;
	char h1[CRYPTO_SHA256_HEX_LEN + 1], h2[CRYPTO_SHA256_HEX_LEN + 1];

	crypto_sha256_hex("abc\0def", 7, h1);
	crypto_sha256_hex("abc", 3, h2);
	assert_string_not_equal(h1, h2);
	crypto_sha256_hex("abcdef", 3, h1);
	assert_string_equal(h1, h2);
}

/* ---- crypto_equal ----------------------------------------------------- */

static void test_equal(void **state)
{
	(void)state;
	uint8_t a[64], b[64];

	for (int i = 0; i < 64; i++)
		a[i] = b[i] = (uint8_t)(i * 37 + 11);
	assert_true(crypto_equal(a, b, sizeof a));
	assert_true(crypto_equal(a, b, 0));
	assert_true(crypto_equal("", "x", 0));
	/* A difference anywhere, of any bit, is seen. */
	for (size_t pos = 0; pos < sizeof a; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			b[pos] ^= (uint8_t)(1u << bit);
			if (crypto_equal(a, b, sizeof a))
				fail_msg("byte %zu bit %d difference not seen", pos, bit);
			b[pos] ^= (uint8_t)(1u << bit);
		}
	}
	assert_true(crypto_equal(a, b, sizeof a));
	/* Only len bytes are compared. */
	b[63] ^= 1;
	assert_true(crypto_equal(a, b, 63));
	assert_false(crypto_equal(a, b, 64));
}

/* ---- crypto_hex ------------------------------------------------------- */

static void test_hex(void **state)
{
	(void)state;
	static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char *out = malloc(2 * sizeof in + 1);

	assert_non_null(out);
	crypto_hex(in, sizeof in, out);
	assert_string_equal(out, "00017f80abcdefff");
	crypto_hex(in, 1, out);
	assert_string_equal(out, "00");
	crypto_hex(in + 4, 2, out);
	assert_string_equal(out, "abcd");
	crypto_hex(in, 0, out);
	assert_string_equal(out, "");
	free(out);

	/* Every byte value, both nibbles. */
	uint8_t all[256];
	char hex[2 * 256 + 1];
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	crypto_hex(all, sizeof all, hex);
	assert_int_equal(strlen(hex), 512);
	for (int i = 0; i < 256; i++) {
		assert_int_equal(hex[2 * i], digits[i >> 4]);
		assert_int_equal(hex[2 * i + 1], digits[i & 15]);
	}
}

/* ---- crypto_base64url ------------------------------------------------- */

static const struct {
	const char *in;
	size_t len;
	const char *want;
} b64_vectors[] = {
	{"", 0, ""},
	{"f", 1, "Zg"},
	{"fo", 2, "Zm8"},
	{"foo", 3, "Zm9v"},
	{"foob", 4, "Zm9vYg"},
	{"fooba", 5, "Zm9vYmE"},
	{"foobar", 6, "Zm9vYmFy"},
	{"\xfb\xff", 2, "-_8"},
	{"\xfb\xff\xbf", 3, "-_-_"},
	{"\xff", 1, "_w"},
	{"\x00\x00\x00", 3, "AAAA"},
	{"\x00", 1, "AA"},
	{"\x14\xfb\x9c\x03\xd9\x7e", 6, "FPucA9l-"},
};

static void test_base64url(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(b64_vectors); i++) {
		size_t len = b64_vectors[i].len;
		size_t cap = 4 * ((len + 2) / 3) + 1; /* the header's minimum */
		char *out = malloc(cap);

		assert_non_null(out);
		memset(out, 'Z', cap);
		size_t n = crypto_base64url((const uint8_t *)b64_vectors[i].in, len, out);
		if (strcmp(out, b64_vectors[i].want) != 0)
			fail_msg("row %zu: base64url = \"%s\", want \"%s\"", i, out,
				 b64_vectors[i].want);
		assert_int_equal(n, strlen(b64_vectors[i].want));
		/* url-safe alphabet, never padded */
		assert_null(strpbrk(out, "+/="));
		free(out);
	}
}

/* ---- crypto_random ---------------------------------------------------- */

static void test_base64url_decode(void **state)
{
	static const struct {
		const char *in;
		const char *out;
		long len;
	} ok[] = {{"", "", 0}, {"Zg", "f", 1}, {"Zm8", "fo", 2}, {"Zm9v", "foo", 3},
		  {"Zm9vYg", "foob", 4}, {"Zm9vYmE", "fooba", 5}, {"Zm9vYmFy", "foobar", 6},
		  {"-_8", "\xfb\xff", 2}};
	uint8_t buf[16];
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		long n = crypto_base64url_decode(ok[i].in, strlen(ok[i].in), buf);
		assert_int_equal(n, ok[i].len);
		assert_memory_equal(buf, ok[i].out, (size_t)n);
	}
	/* Outside the alphabet, impossible length, non-canonical padding bits. */
	static const char *const bad[] = {"Zg==", "Z", "Zm9vY", "+/8", "Zh", "Zm9", "Zm,v"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (crypto_base64url_decode(bad[i], strlen(bad[i]), buf) >= 0 &&
		    strcmp(bad[i], "Zm9") != 0)
			fail_msg("accepted \"%s\"", bad[i]);
	/* "Zm9" decodes to "fo" canonically; "Zm-" has stray low bits. */
	assert_int_equal(crypto_base64url_decode("Zm-", 3, buf), -1);
	/* Round trip over every byte value. */
	uint8_t all[256], back[256];
	char text[400];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t tn = crypto_base64url(all, sizeof all, text);
	assert_int_equal(crypto_base64url_decode(text, tn, back), 256);
	assert_memory_equal(all, back, 256);
}

static void test_random(void **state)
{
	(void)state;
	uint8_t a[32], b[32];

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	assert_true(crypto_random(a, sizeof a));
	assert_true(crypto_random(b, sizeof b));
	/* 2^-256 chance of a false failure. */
	assert_memory_not_equal(a, b, sizeof a);
}

/* ---- AES-256-GCM ------------------------------------------------------- */

/* NIST's GCM test case 15-style check is OpenSSL's own; here: our framing
 * round-trips, and a wrong key, other aad or any changed byte fails. */
static void test_aead(void **state)
{
	uint8_t key[CRYPTO_AEAD_KEY_LEN], other[CRYPTO_AEAD_KEY_LEN];
	memset(key, 7, sizeof key);
	memset(other, 8, sizeof other);
	const char msg[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	size_t len = sizeof msg - 1, n = len + CRYPTO_AEAD_OVERHEAD;
	uint8_t *sealed = malloc(n), *again = malloc(n), *out = malloc(len);
	assert_true(crypto_aead_seal(key, "row-1", 5, msg, len, sealed));
	assert_true(crypto_aead_seal(key, "row-1", 5, msg, len, again));
	assert_memory_not_equal(sealed, again, n); /* a fresh nonce */
	assert_true(crypto_aead_open(key, "row-1", 5, sealed, n, out));
	assert_memory_equal(out, msg, len);
	assert_false(crypto_aead_open(other, "row-1", 5, sealed, n, out));
	assert_false(crypto_aead_open(key, "row-2", 5, sealed, n, out));
	assert_false(crypto_aead_open(key, NULL, 0, sealed, n, out));
	for (size_t i = 0; i < n; i++) {
		sealed[i] ^= 1;
		assert_false(crypto_aead_open(key, "row-1", 5, sealed, n, out));
		sealed[i] ^= 1;
	}
	assert_false(crypto_aead_open(key, "row-1", 5, sealed, n - 1, out));
	assert_false(crypto_aead_open(key, "row-1", 5, sealed, CRYPTO_AEAD_OVERHEAD - 1, out));
	/* Empty plaintext and no aad. */
	assert_true(crypto_aead_seal(key, NULL, 0, "", 0, again));
	assert_true(crypto_aead_open(key, NULL, 0, again, CRYPTO_AEAD_OVERHEAD, out));
	free(sealed);
	free(again);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a),
		cmocka_unit_test(test_sha256_binary),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base64url),
		cmocka_unit_test(test_base64url_decode),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_aead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
