/*
 * test_ident.c - unit tests for domain/ident.c.
 *
 * Vectors: published identifiers (Federal Reserve and bank routing numbers,
 * Receita Federal's textbook CPF/CNPJ, Banxico's CLABE examples, EIP-55's
 * own test addresses, the USDT contract on Tron, Keccak-256 digests) plus
 * hand-made cases that each break one rule. Every check digit is also
 * recomputed here by a reference written differently from ident.c (the
 * "r < 2 ? 0 : 11 - r" form of mod 11, explicit weight tables, a Keccak
 * sponge that pads the whole message first), and the reference sponge is
 * itself checked against OpenSSL's SHA3-256 at every length across three
 * blocks, so the Keccak-256 vectors do not rest on one implementation.
 * Tron addresses are built here by an independent base58check encoder over
 * OpenSSL SHA-256. Every string is handed to the code under test in a heap
 * buffer of exactly its size, and every output buffer is a heap buffer of
 * exactly IDENT_MAX bytes, so ASan reports any read or write past either.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha3.h>
#include <openssl/evp.h>

#include "domain/ident.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------- */

typedef enum err (*check_fn)(const char *s);
typedef enum err (*norm_fn)(const char *s, char out[IDENT_MAX]);

struct check_case {
	const char *in;
	enum err want;
};

struct norm_case {
	const char *in;
	enum err want;
	const char *out; /* canonical form when want is ERR_OK */
};

static char *exact_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* An output buffer of exactly IDENT_MAX bytes, filled with junk so a
 * missing NUL shows. */
static char *out_buf(void)
{
	char *p = malloc(IDENT_MAX);

	assert_non_null(p);
	memset(p, 'Z', IDENT_MAX);
	return p;
}

static enum err call_check(check_fn f, const char *s)
{
	char *p = exact_copy(s);
	enum err e = f(p);

	free(p);
	return e;
}

/* Runs f on an exact copy of s; copies the output to out (IDENT_MAX). */
static enum err call_norm(norm_fn f, const char *s, char *out)
{
	char *p = exact_copy(s);
	char *o = out_buf();
	enum err e = f(p, o);

	assert_non_null(memchr(o, '\0', IDENT_MAX));
	memcpy(out, o, IDENT_MAX);
	free(o);
	free(p);
	return e;
}

static void expect_err(const char *what, const char *input, enum err got,
		       enum err want)
{
	if (got != want)
		fail_msg("%s(\"%s\") = %s, want %s", what, input, err_code(got),
			 err_code(want));
}

static void run_checks(const char *what, check_fn f,
		       const struct check_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_err(what, c[i].in, call_check(f, c[i].in), c[i].want);
}

/* Also: an accepted input's output is accepted again, unchanged; a refused
 * input leaves the output empty. */
static void run_norms(const char *what, norm_fn f, const struct norm_case *c,
		      size_t n)
{
	char out[IDENT_MAX], again[IDENT_MAX];

	for (size_t i = 0; i < n; i++) {
		enum err e = call_norm(f, c[i].in, out);

		expect_err(what, c[i].in, e, c[i].want);
		if (e != ERR_OK) {
			if (out[0] != '\0')
				fail_msg("%s(\"%s\") refused but wrote \"%s\"",
					 what, c[i].in, out);
			continue;
		}
		if (strcmp(out, c[i].out) != 0)
			fail_msg("%s(\"%s\") wrote \"%s\", want \"%s\"", what,
				 c[i].in, out, c[i].out);
		expect_err(what, out, call_norm(f, out, again), ERR_OK);
		if (strcmp(out, again) != 0)
			fail_msg("%s is not idempotent on \"%s\"", what, out);
	}
}

static uint64_t rng_state = 0x0DDC0FFEEULL;

/* splitmix64: deterministic, so a failure replays. */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static bool all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * Every byte 1..255 at every position of a good input, and every proper
 * prefix of it: the validator must agree with the reference each time.
 */
static void every_byte(const char *what, check_fn f, enum err bad,
		       bool (*ref)(const char *), const char *good)
{
	size_t n = strlen(good);
	char *buf = malloc(n + 1);

	assert_non_null(buf);
	if (!ref(good))
		fail_msg("reference refuses the seed \"%s\"", good);
	for (size_t i = 0; i < n; i++) {
		for (int b = 1; b < 256; b++) {
			memcpy(buf, good, n + 1);
			buf[i] = (char)b;
			expect_err(what, buf, f(buf), ref(buf) ? ERR_OK : bad);
		}
	}
	free(buf);
	for (size_t k = 0; k < n; k++) {
		char *p = malloc(k + 1);

		assert_non_null(p);
		memcpy(p, good, k);
		p[k] = '\0';
		expect_err(what, p, f(p), ref(p) ? ERR_OK : bad);
		free(p);
	}
}

static void hex_of(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- references ------------------------------------------------------- */

static bool ref_aba(const char *s)
{
	static const int lo[] = {0, 21, 61, 80}, hi[] = {12, 32, 72, 80};
	int d[9], prefix, check;
	bool assigned = false;

	if (!all_digits(s, 9))
		return false;
	for (int i = 0; i < 9; i++)
		d[i] = s[i] - '0';
	prefix = d[0] * 10 + d[1];
	for (size_t i = 0; i < COUNT(lo); i++)
		assigned = assigned || (prefix >= lo[i] && prefix <= hi[i]);
	check = (10 - (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) +
		       (d[2] + d[5])) % 10) % 10;
	/* 000000000: no one's number, though its checksum is right */
	return assigned && check == d[8] && strcmp(s, "000000000") != 0;
}

/* CPF check digits of the 9-digit base: weights 10..2, then 11..2 over
 * base + first digit; r = sum mod 11, digit 0 if r < 2 else 11 - r. */
static void ref_cpf_digits(const char *base9, char dv[2])
{
	int s1 = 0, s2 = 0, d1, d2;

	for (int i = 0; i < 9; i++) {
		s1 += (base9[i] - '0') * (10 - i);
		s2 += (base9[i] - '0') * (11 - i);
	}
	d1 = s1 % 11 < 2 ? 0 : 11 - s1 % 11;
	s2 += d1 * 2;
	d2 = s2 % 11 < 2 ? 0 : 11 - s2 % 11;
	dv[0] = (char)('0' + d1);
	dv[1] = (char)('0' + d2);
}

static bool ref_cpf_digits_ok(const char *d)
{
	char dv[2];

	ref_cpf_digits(d, dv);
	return dv[0] == d[9] && dv[1] == d[10];
}

static bool ref_same_digits(const char *d)
{
	return strspn(d, (char[]){d[0], '\0'}) == strlen(d);
}

/* Bare or "ddd.ddd.ddd-dd" into 11 digits, or false. */
static bool ref_cpf_strip(const char *s, char d[12])
{
	if (all_digits(s, 11)) {
		memcpy(d, s, 12);
		return true;
	}
	if (strlen(s) != 14 || s[3] != '.' || s[7] != '.' || s[11] != '-')
		return false;
	snprintf(d, 12, "%.3s%.3s%.3s%.2s", s, s + 4, s + 8, s + 12);
	return all_digits(d, 11);
}

static bool ref_cpf(const char *s)
{
	char d[12];

	return ref_cpf_strip(s, d) && !ref_same_digits(d) &&
	       ref_cpf_digits_ok(d);
}

static void ref_cnpj_digits(const char *base12, char dv[2])
{
	static const int w1[12] = {5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
	static const int w2[13] = {6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
	int s1 = 0, s2 = 0, d1, d2;

	for (int i = 0; i < 12; i++)
		s1 += (base12[i] - '0') * w1[i];
	d1 = s1 % 11 < 2 ? 0 : 11 - s1 % 11;
	for (int i = 0; i < 12; i++)
		s2 += (base12[i] - '0') * w2[i];
	s2 += d1 * w2[12];
	d2 = s2 % 11 < 2 ? 0 : 11 - s2 % 11;
	dv[0] = (char)('0' + d1);
	dv[1] = (char)('0' + d2);
}

static bool ref_cnpj_digits_ok(const char *d)
{
	char dv[2];

	ref_cnpj_digits(d, dv);
	return dv[0] == d[12] && dv[1] == d[13];
}

/* Alphanumeric CNPJ (Receita Federal, July 2026): 12 characters of
 * [0-9A-Za-z] (letters upper-cased), then 2 check digits. */
static bool ref_cnpj_shape(char d[15])
{
	for (int i = 0; i < 12; i++) {
		char c = d[i];
		if (c >= 'a' && c <= 'z')
			d[i] = c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return all_digits(d + 12, 2) && d[14] == '\0';
}

static bool ref_cnpj_strip(const char *s, char d[15])
{
	if (strlen(s) == 14) {
		memcpy(d, s, 15);
		return ref_cnpj_shape(d);
	}
	if (strlen(s) != 18 || s[2] != '.' || s[6] != '.' || s[10] != '/' ||
	    s[15] != '-')
		return false;
	snprintf(d, 15, "%.2s%.3s%.3s%.4s%.2s", s, s + 3, s + 7, s + 11,
		 s + 16);
	return strlen(d) == 14 && ref_cnpj_shape(d);
}

static bool ref_cnpj(const char *s)
{
	char d[15];

	return ref_cnpj_strip(s, d) && !ref_same_digits(d) &&
	       ref_cnpj_digits_ok(d);
}

static char ref_clabe_control(const char *d17)
{
	static const int w[17] = {3, 7, 1, 3, 7, 1, 3, 7, 1,
				  3, 7, 1, 3, 7, 1, 3, 7};
	int sum = 0;

	for (int i = 0; i < 17; i++)
		sum += ((d17[i] - '0') * w[i]) % 10;
	return (char)('0' + (10 - sum % 10) % 10);
}

static bool ref_clabe(const char *s)
{
	return all_digits(s, 18) && ref_clabe_control(s) == s[17];
}

static bool ref_sort_code(const char *s)
{
	char d[7];

	if (all_digits(s, 6))
		return true;
	if (strlen(s) != 8 || s[2] != '-' || s[5] != '-')
		return false;
	snprintf(d, sizeof(d), "%.2s%.2s%.2s", s, s + 3, s + 6);
	return all_digits(d, 6);
}

static bool ref_uk_account(const char *s) { return all_digits(s, 8); }

static bool ref_us_account(const char *s)
{
	size_t n = strlen(s);

	return n >= 4 && n <= 17 && all_digits(s, n);
}

/*
 * Keccak sponge with rate 136 and the given first padding byte (0x01 for
 * Keccak-256, 0x06 for SHA3-256): pad the whole message into a buffer,
 * then absorb it block by block, lanes assembled most significant byte
 * first. Uses nettle's permutation, as ident.c does; the SHA3-256 check
 * against OpenSSL below is what vouches for the pair.
 */
static void ref_sponge(const unsigned char *msg, size_t len, unsigned char pad,
		       unsigned char out[32])
{
	size_t blocks = len / 136 + 1, total = blocks * 136;
	unsigned char *buf = calloc(total, 1);
	struct sha3_state st;

	assert_non_null(buf);
	memset(&st, 0, sizeof(st));
	if (len > 0)
		memcpy(buf, msg, len);
	buf[len] = pad;
	buf[total - 1] |= 0x80;
	for (size_t b = 0; b < blocks; b++) {
		for (size_t k = 0; k < 17; k++) {
			uint64_t lane = 0;

			for (int j = 7; j >= 0; j--)
				lane = (lane << 8) | buf[b * 136 + 8 * k + (size_t)j];
			st.a[k] ^= lane;
		}
		sha3_permute(&st);
	}
	for (size_t k = 0; k < 4; k++)
		for (size_t j = 0; j < 8; j++)
			out[8 * k + j] = (unsigned char)(st.a[k] >> (8 * j));
	free(buf);
}

/* EIP-55 of 20 bytes: "0x" + 40 hex + NUL into out. */
static void ref_eip55(const unsigned char addr[20], char out[43])
{
	char lower[41];
	unsigned char h[32];

	hex_of(addr, 20, lower);
	ref_sponge((const unsigned char *)lower, 40, 0x01, h);
	out[0] = '0';
	out[1] = 'x';
	for (int i = 0; i < 40; i++) {
		int bit = (h[i / 2] >> (i % 2 ? 0 : 4)) & 8;
		char c = lower[i];

		out[2 + i] = (char)(bit && c >= 'a' ? c - 32 : c);
	}
	out[42] = '\0';
}

static void ref_sha256(const void *d, size_t n, unsigned char out[32])
{
	assert_int_equal(EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL), 1);
}

/* base58check of version + 20 bytes, by repeated division; out >= 40. */
static void ref_base58check(unsigned char version, const unsigned char p[20],
			    char *out)
{
	static const char a[] =
		"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	unsigned char b[25], h[32], num[25];
	char rev[40];
	size_t n = 0, zeros = 0;
	bool nonzero = true;

	b[0] = version;
	memcpy(b + 1, p, 20);
	ref_sha256(b, 21, h);
	ref_sha256(h, 32, h);
	memcpy(b + 21, h, 4);
	memcpy(num, b, 25);
	while (nonzero) {
		unsigned rem = 0;

		nonzero = false;
		for (int j = 0; j < 25; j++) {
			unsigned cur = rem * 256 + num[j];

			num[j] = (unsigned char)(cur / 58);
			rem = cur % 58;
			nonzero = nonzero || num[j] != 0;
		}
		rev[n++] = a[rem];
	}
	while (zeros < 25 && b[zeros] == 0)
		zeros++;
	for (size_t i = 0; i < zeros; i++)
		out[i] = '1';
	for (size_t i = 0; i < n; i++)
		out[zeros + i] = rev[n - 1 - i];
	out[zeros + n] = '\0';
}

/* ---- Keccak-256 ------------------------------------------------------- */

static void keccak_hex(const char *msg, char hex[65])
{
	unsigned char h[32];
	size_t n = strlen(msg);
	char *p = n ? exact_copy(msg) : NULL;

	ident_keccak256(p, n, h);
	free(p);
	hex_of(h, 32, hex);
}

static void test_keccak_vectors(void **state)
{
	static const struct {
		const char *msg, *hex;
	} v[] = {
		{"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
		{"The quick brown fox jumps over the lazy dog",
		 "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"},
		{"testing",
		 "5f16f4c7f149ac4f9510d9cf8cf384038ad348b3bcdc01915f95de12df9d1b02"},
	};
	char hex[65];

	(void)state;
	for (size_t i = 0; i < COUNT(v); i++) {
		keccak_hex(v[i].msg, hex);
		if (strcmp(hex, v[i].hex) != 0)
			fail_msg("keccak256(\"%s\") = %s, want %s", v[i].msg,
				 hex, v[i].hex);
	}
	/* SHA3-256("") for contrast: the padding byte is what differs. */
	keccak_hex("", hex);
	assert_string_not_equal(hex, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

/* Lengths 0 .. 3 blocks + 3: every padding position, including the one
 * where 0x01 and 0x80 share a byte and the one that needs a block of its
 * own. The reference sponge must reproduce OpenSSL's SHA3-256 first. */
static void test_keccak_every_length(void **state)
{
	enum { MAX = 3 * 136 + 3 };
	unsigned char msg[MAX], want[32], got[32], sha3[32];

	(void)state;
	for (size_t i = 0; i < MAX; i++)
		msg[i] = (unsigned char)rng();
	for (size_t len = 0; len <= MAX; len++) {
		unsigned char *p = len ? malloc(len) : NULL;

		if (len)
			memcpy(p, msg, len);
		ref_sponge(msg, len, 0x06, want);
		assert_int_equal(EVP_Digest(msg, len, sha3, NULL,
					    EVP_sha3_256(), NULL),
				 1);
		if (memcmp(want, sha3, 32) != 0)
			fail_msg("reference sponge disagrees with SHA3-256 at %zu",
				 len);
		ref_sponge(msg, len, 0x01, want);
		ident_keccak256(p, len, got);
		if (memcmp(want, got, 32) != 0)
			fail_msg("keccak256 wrong at length %zu", len);
		free(p);
	}
}

/* ---- ABA and US accounts ---------------------------------------------- */

static void test_aba_table(void **state)
{
	static const struct check_case c[] = {
		{"011000015", ERR_OK}, /* Federal Reserve Bank of Boston */
		{"021000021", ERR_OK}, /* JPMorgan Chase, New York */
		{"026009593", ERR_OK}, /* Bank of America, New York */
		{"122105155", ERR_OK}, /* U.S. Bank, Arizona */
		{"111000025", ERR_OK}, /* Bank of America, Texas */
		{"121000358", ERR_OK}, /* Bank of America, California */
		{"322271627", ERR_OK}, /* JPMorgan Chase, California */
		{"021000022", ERR_INVALID_ROUTING_NUMBER},
		{"121000021", ERR_INVALID_ROUTING_NUMBER},
		{"02100002", ERR_INVALID_ROUTING_NUMBER},
		{"0210000210", ERR_INVALID_ROUTING_NUMBER},
		{"02100002a", ERR_INVALID_ROUTING_NUMBER},
		{"O21000021", ERR_INVALID_ROUTING_NUMBER},
		{" 021000021", ERR_INVALID_ROUTING_NUMBER},
		{"021000021 ", ERR_INVALID_ROUTING_NUMBER},
		{"021-000-021", ERR_INVALID_ROUTING_NUMBER},
		{"", ERR_INVALID_ROUTING_NUMBER},
		/* checksum-valid, unassigned routing symbols */
		{"130000006", ERR_INVALID_ROUTING_NUMBER},
		{"200000004", ERR_INVALID_ROUTING_NUMBER},
		{"330000000", ERR_INVALID_ROUTING_NUMBER},
		{"600000002", ERR_INVALID_ROUTING_NUMBER},
		{"730000008", ERR_INVALID_ROUTING_NUMBER},
		{"810000009", ERR_INVALID_ROUTING_NUMBER},
		{"990000000", ERR_INVALID_ROUTING_NUMBER},
		/* checksum-valid, prefix 00 (U.S. Government), but all zero */
		{"000000000", ERR_INVALID_ROUTING_NUMBER},
		/* checksum-valid, assigned edges */
		{"000000518", ERR_OK},
		{"120000003", ERR_OK},
		{"210000007", ERR_OK},
		{"320000007", ERR_OK},
		{"610000005", ERR_OK},
		{"720000005", ERR_OK},
		{"800000006", ERR_OK},
	};

	(void)state;
	/* The table's verdicts are the reference's, so a typo in a vector
	 * cannot pass silently. */
	for (size_t i = 0; i < COUNT(c); i++)
		if (ref_aba(c[i].in) != (c[i].want == ERR_OK))
			fail_msg("vector \"%s\" disagrees with the reference",
				 c[i].in);
	run_checks("ident_aba_routing", ident_aba_routing, c, COUNT(c));
}

/* Every routing symbol 00..99 with a correct check digit: accepted exactly
 * in 00-12, 21-32, 61-72 and 80. */
static void test_aba_every_prefix(void **state)
{
	char s[10];
	int accepted = 0;

	(void)state;
	for (int p = 0; p < 100; p++) {
		for (int d = 0; d < 10; d++) {
			snprintf(s, sizeof(s), "%02d345678%d", p, d);
			expect_err("ident_aba_routing", s,
				   call_check(ident_aba_routing, s),
				   ref_aba(s) ? ERR_OK
					      : ERR_INVALID_ROUTING_NUMBER);
			accepted += ref_aba(s);
		}
	}
	assert_int_equal(accepted, 13 + 12 + 12 + 1);
}

/* Weights 3, 7, 1 are units mod 10, so no single changed digit passes. */
static void test_aba_every_byte(void **state)
{
	(void)state;
	every_byte("ident_aba_routing", ident_aba_routing,
		   ERR_INVALID_ROUTING_NUMBER, ref_aba, "021000021");
	every_byte("ident_aba_routing", ident_aba_routing,
		   ERR_INVALID_ROUTING_NUMBER, ref_aba, "322271627");
}

static void test_us_account(void **state)
{
	static const struct check_case c[] = {
		{"1234", ERR_OK},
		{"0000", ERR_OK},
		{"12345678901234567", ERR_OK},
		{"000123456789", ERR_OK},
		{"123", ERR_INVALID_ACCOUNT_NUMBER},
		{"123456789012345678", ERR_INVALID_ACCOUNT_NUMBER},
		{"12a4", ERR_INVALID_ACCOUNT_NUMBER},
		{"12 34", ERR_INVALID_ACCOUNT_NUMBER},
		{"1234-5678", ERR_INVALID_ACCOUNT_NUMBER},
		{"-1234", ERR_INVALID_ACCOUNT_NUMBER},
		{"", ERR_INVALID_ACCOUNT_NUMBER},
	};
	char s[32];

	(void)state;
	run_checks("ident_us_account", ident_us_account, c, COUNT(c));
	for (size_t n = 0; n < 30; n++) {
		memset(s, '7', n);
		s[n] = '\0';
		expect_err("ident_us_account", s,
			   call_check(ident_us_account, s),
			   n >= 4 && n <= 17 ? ERR_OK
					     : ERR_INVALID_ACCOUNT_NUMBER);
	}
	every_byte("ident_us_account", ident_us_account,
		   ERR_INVALID_ACCOUNT_NUMBER, ref_us_account,
		   "12345678901234567");
}

static void test_us_account_type(void **state)
{
	static const struct check_case c[] = {
		{"checking", ERR_OK},
		{"savings", ERR_OK},
		{"Checking", ERR_INVALID_ACCOUNT_TYPE},
		{"SAVINGS", ERR_INVALID_ACCOUNT_TYPE},
		{"loan", ERR_INVALID_ACCOUNT_TYPE},
		{"check", ERR_INVALID_ACCOUNT_TYPE},
		{"checkings", ERR_INVALID_ACCOUNT_TYPE},
		{"saving", ERR_INVALID_ACCOUNT_TYPE},
		{" savings", ERR_INVALID_ACCOUNT_TYPE},
		{"", ERR_INVALID_ACCOUNT_TYPE},
	};

	(void)state;
	run_checks("ident_us_account_type", ident_us_account_type, c, COUNT(c));
}

/* ---- UK --------------------------------------------------------------- */

static enum err sort_code_check(const char *s)
{
	char out[IDENT_MAX];

	return ident_uk_sort_code(s, out);
}

static void test_uk_sort_code(void **state)
{
	static const struct norm_case c[] = {
		{"601613", ERR_OK, "601613"},
		{"60-16-13", ERR_OK, "601613"},
		{"000000", ERR_OK, "000000"},
		{"40-47-84", ERR_OK, "404784"},
		{"60161", ERR_INVALID_SORT_CODE, NULL},
		{"60-1613", ERR_INVALID_SORT_CODE, NULL},
		{"6016-13", ERR_INVALID_SORT_CODE, NULL},
		{"6016134", ERR_INVALID_SORT_CODE, NULL},
		{"60-16-1", ERR_INVALID_SORT_CODE, NULL},
		{"60-16-134", ERR_INVALID_SORT_CODE, NULL},
		{"60 16 13", ERR_INVALID_SORT_CODE, NULL},
		{"60--1613", ERR_INVALID_SORT_CODE, NULL},
		{"-601613", ERR_INVALID_SORT_CODE, NULL},
		{"60161a", ERR_INVALID_SORT_CODE, NULL},
		{"", ERR_INVALID_SORT_CODE, NULL},
	};

	(void)state;
	run_norms("ident_uk_sort_code", ident_uk_sort_code, c, COUNT(c));
	every_byte("ident_uk_sort_code", sort_code_check, ERR_INVALID_SORT_CODE,
		   ref_sort_code, "60-16-13");
	every_byte("ident_uk_sort_code", sort_code_check, ERR_INVALID_SORT_CODE,
		   ref_sort_code, "601613");
}

static void test_uk_account(void **state)
{
	static const struct check_case c[] = {
		{"31926819", ERR_OK},
		{"00000000", ERR_OK},
		{"3192681", ERR_INVALID_ACCOUNT_NUMBER},
		{"319268190", ERR_INVALID_ACCOUNT_NUMBER},
		{"3192681a", ERR_INVALID_ACCOUNT_NUMBER},
		{"3192 6819", ERR_INVALID_ACCOUNT_NUMBER},
		{"", ERR_INVALID_ACCOUNT_NUMBER},
	};

	(void)state;
	run_checks("ident_uk_account", ident_uk_account, c, COUNT(c));
	every_byte("ident_uk_account", ident_uk_account,
		   ERR_INVALID_ACCOUNT_NUMBER, ref_uk_account, "31926819");
}

/* ---- PIX -------------------------------------------------------------- */

static enum err pix_cpf(const char *s, char out[IDENT_MAX])
{
	return ident_pix_key(PIX_CPF, s, out);
}
static enum err pix_cnpj(const char *s, char out[IDENT_MAX])
{
	return ident_pix_key(PIX_CNPJ, s, out);
}
static enum err pix_email(const char *s, char out[IDENT_MAX])
{
	return ident_pix_key(PIX_EMAIL, s, out);
}
static enum err pix_phone(const char *s, char out[IDENT_MAX])
{
	return ident_pix_key(PIX_PHONE, s, out);
}
static enum err pix_random(const char *s, char out[IDENT_MAX])
{
	return ident_pix_key(PIX_RANDOM, s, out);
}
static enum err pix_cpf_check(const char *s)
{
	char out[IDENT_MAX];

	return pix_cpf(s, out);
}
static enum err pix_cnpj_check(const char *s)
{
	char out[IDENT_MAX];

	return pix_cnpj(s, out);
}

static void test_pix_key_type(void **state)
{
	static const struct {
		const char *name;
		bool ok;
		enum pix_key_type t;
	} c[] = {
		{"CPF", true, PIX_CPF},       {"CNPJ", true, PIX_CNPJ},
		{"EMAIL", true, PIX_EMAIL},   {"PHONE", true, PIX_PHONE},
		{"RANDOM", true, PIX_RANDOM}, {"cpf", false, PIX_CPF},
		{"email", false, PIX_CPF},    {"Phone", false, PIX_CPF},
		{"EVP", false, PIX_CPF},      {"CPFX", false, PIX_CPF},
		{"CP", false, PIX_CPF},       {"", false, PIX_CPF},
		{"RANDOM ", false, PIX_CPF},
	};

	(void)state;
	for (size_t i = 0; i < COUNT(c); i++) {
		char *p = exact_copy(c[i].name);
		enum pix_key_type t = (enum pix_key_type)99;
		bool ok = ident_pix_key_type(p, &t);

		free(p);
		if (ok != c[i].ok)
			fail_msg("ident_pix_key_type(\"%s\") = %d", c[i].name,
				 ok);
		if (ok && t != c[i].t)
			fail_msg("ident_pix_key_type(\"%s\") gave type %d",
				 c[i].name, (int)t);
		if (!ok && t != (enum pix_key_type)99)
			fail_msg("ident_pix_key_type(\"%s\") wrote on failure",
				 c[i].name);
	}
}

static void test_pix_cpf(void **state)
{
	static const struct norm_case c[] = {
		{"529.982.247-25", ERR_OK, "52998224725"},
		{"52998224725", ERR_OK, "52998224725"},
		{"111.444.777-35", ERR_OK, "11144477735"},
		{"123.456.789-09", ERR_OK, "12345678909"},
		{"52998224724", ERR_INVALID_PIX_KEY, NULL},
		{"52998224715", ERR_INVALID_PIX_KEY, NULL},
		{"111.111.111-11", ERR_INVALID_PIX_KEY, NULL},
		{"11111111111", ERR_INVALID_PIX_KEY, NULL},
		{"00000000000", ERR_INVALID_PIX_KEY, NULL},
		{"529.982.24725", ERR_INVALID_PIX_KEY, NULL},
		{"529982247-25", ERR_INVALID_PIX_KEY, NULL},
		{"529.982.247.25", ERR_INVALID_PIX_KEY, NULL},
		{"529-982-247-25", ERR_INVALID_PIX_KEY, NULL},
		{"5299822472", ERR_INVALID_PIX_KEY, NULL},
		{"529982247250", ERR_INVALID_PIX_KEY, NULL},
		{" 52998224725", ERR_INVALID_PIX_KEY, NULL},
		{"52998224725 ", ERR_INVALID_PIX_KEY, NULL},
		{"5299822472a", ERR_INVALID_PIX_KEY, NULL},
		{"", ERR_INVALID_PIX_KEY, NULL},
	};

	(void)state;
	for (size_t i = 0; i < COUNT(c); i++)
		if (ref_cpf(c[i].in) != (c[i].want == ERR_OK))
			fail_msg("vector \"%s\" disagrees with the reference",
				 c[i].in);
	run_norms("ident_pix_key(CPF)", pix_cpf, c, COUNT(c));
	every_byte("ident_pix_key(CPF)", pix_cpf_check, ERR_INVALID_PIX_KEY,
		   ref_cpf, "529.982.247-25");
	every_byte("ident_pix_key(CPF)", pix_cpf_check, ERR_INVALID_PIX_KEY,
		   ref_cpf, "11144477735");
}

/* All-equal digits pass mod 11 (the reference says so) and are refused. */
static void test_pix_cpf_cnpj_all_equal(void **state)
{
	char s[15], out[IDENT_MAX];

	(void)state;
	for (char d = '0'; d <= '9'; d++) {
		memset(s, d, 11);
		s[11] = '\0';
		assert_true(ref_cpf_digits_ok(s));
		expect_err("ident_pix_key(CPF)", s, call_norm(pix_cpf, s, out),
			   ERR_INVALID_PIX_KEY);
		memset(s, d, 14);
		s[14] = '\0';
		expect_err("ident_pix_key(CNPJ)", s,
			   call_norm(pix_cnpj, s, out), ERR_INVALID_PIX_KEY);
	}
	/* 00000000000000 passes the CNPJ check digits; the rule refuses it. */
	assert_true(ref_cnpj_digits_ok("00000000000000"));
}

/* Random bases with the reference's check digits, in both spellings;
 * then each wrong second digit. */
static void test_pix_cpf_cnpj_generated(void **state)
{
	char d[15], s[20], want[15], out[IDENT_MAX];

	(void)state;
	for (int n = 0; n < 2000; n++) {
		for (int i = 0; i < 12; i++)
			d[i] = (char)('0' + rng() % 10);
		ref_cpf_digits(d, d + 9);
		d[11] = '\0';
		snprintf(s, sizeof(s), "%.3s.%.3s.%.3s-%.2s", d, d + 3, d + 6,
			 d + 9);
		snprintf(want, sizeof(want), "%s", d);
		if (ref_same_digits(d))
			continue;
		expect_err("ident_pix_key(CPF)", s, call_norm(pix_cpf, s, out),
			   ERR_OK);
		assert_string_equal(out, want);
		expect_err("ident_pix_key(CPF)", d, call_norm(pix_cpf, d, out),
			   ERR_OK);
		for (char w = '0'; w <= '9'; w++) {
			if (w == want[10])
				continue;
			d[10] = w;
			expect_err("ident_pix_key(CPF)", d,
				   call_norm(pix_cpf, d, out),
				   ERR_INVALID_PIX_KEY);
		}
	}
	for (int n = 0; n < 2000; n++) {
		for (int i = 0; i < 12; i++)
			d[i] = (char)('0' + rng() % 10);
		ref_cnpj_digits(d, d + 12);
		d[14] = '\0';
		snprintf(s, sizeof(s), "%.2s.%.3s.%.3s/%.4s-%.2s", d, d + 2,
			 d + 5, d + 8, d + 12);
		snprintf(want, sizeof(want), "%s", d);
		if (ref_same_digits(d))
			continue;
		expect_err("ident_pix_key(CNPJ)", s,
			   call_norm(pix_cnpj, s, out), ERR_OK);
		assert_string_equal(out, want);
		for (char w = '0'; w <= '9'; w++) {
			if (w == want[13])
				continue;
			d[13] = w;
			expect_err("ident_pix_key(CNPJ)", d,
				   call_norm(pix_cnpj, d, out),
				   ERR_INVALID_PIX_KEY);
		}
	}
}

static void test_pix_cnpj(void **state)
{
	static const struct norm_case c[] = {
		{"11.222.333/0001-81", ERR_OK, "11222333000181"},
		{"11222333000181", ERR_OK, "11222333000181"},
		{"00.000.000/0001-91", ERR_OK, "00000000000191"}, /* Banco do Brasil */
		{"33.000.167/0001-01", ERR_OK, "33000167000101"}, /* Petrobras */
		{"11222333000182", ERR_INVALID_PIX_KEY, NULL},
		{"11222333000171", ERR_INVALID_PIX_KEY, NULL},
		{"00000000000000", ERR_INVALID_PIX_KEY, NULL},
		{"11.222.333/000181", ERR_INVALID_PIX_KEY, NULL},
		{"11.222.333.0001-81", ERR_INVALID_PIX_KEY, NULL},
		{"11222333/0001-81", ERR_INVALID_PIX_KEY, NULL},
		{"1122233300018", ERR_INVALID_PIX_KEY, NULL},
		{"112223330001811", ERR_INVALID_PIX_KEY, NULL},
		{"1122233300018a", ERR_INVALID_PIX_KEY, NULL}, /* check digits stay digits */
		/* Alphanumeric CNPJ: the Receita Federal's own example. */
		{"12.ABC.345/01DE-35", ERR_OK, "12ABC34501DE35"},
		{"12ABC34501DE35", ERR_OK, "12ABC34501DE35"},
		{"12abc34501de35", ERR_OK, "12ABC34501DE35"},
		{"12ABC34501DE36", ERR_INVALID_PIX_KEY, NULL},
		{"12ABC34501DF35", ERR_INVALID_PIX_KEY, NULL},
		{"12-ABC34501DE35", ERR_INVALID_PIX_KEY, NULL},
		{"52998224725", ERR_INVALID_PIX_KEY, NULL},
		{"", ERR_INVALID_PIX_KEY, NULL},
	};

	(void)state;
	for (size_t i = 0; i < COUNT(c); i++)
		if (ref_cnpj(c[i].in) != (c[i].want == ERR_OK))
			fail_msg("vector \"%s\" disagrees with the reference",
				 c[i].in);
	run_norms("ident_pix_key(CNPJ)", pix_cnpj, c, COUNT(c));
	every_byte("ident_pix_key(CNPJ)", pix_cnpj_check, ERR_INVALID_PIX_KEY,
		   ref_cnpj, "11.222.333/0001-81");
	every_byte("ident_pix_key(CNPJ)", pix_cnpj_check, ERR_INVALID_PIX_KEY,
		   ref_cnpj, "33000167000101");
}

static void test_pix_email(void **state)
{
	static const struct norm_case c[] = {
		{"pix@example.com.br", ERR_OK, "pix@example.com.br"},
		{"PIX@Example.COM.BR", ERR_OK, "pix@example.com.br"},
		{"a@b.co", ERR_OK, "a@b.co"},
		{"first.last+tag@sub.example.org", ERR_OK,
		 "first.last+tag@sub.example.org"},
		{"o'brien_#1{x}@mail-1.example.io", ERR_OK,
		 "o'brien_#1{x}@mail-1.example.io"},
		{"a@xn--mnchen-3ya.de", ERR_OK, "a@xn--mnchen-3ya.de"},
		{"a@example.xn--p1ai", ERR_OK, "a@example.xn--p1ai"},
		{"a@1.2.example.com", ERR_OK, "a@1.2.example.com"},
		/* the outside testers' examples */
		{"a..b@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a,b@example.com", ERR_INVALID_PIX_KEY, NULL},
		/* local part: dots, specials, quoting */
		{".a@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a.@example.com", ERR_INVALID_PIX_KEY, NULL},
		{".@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a(b)@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a;b@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a<b>@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a\\b@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"\"a b\"@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a:b@example.com", ERR_INVALID_PIX_KEY, NULL},
		/* domain: labels, hyphens, top level */
		{"a@b.c", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.c0m", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.123", ERR_INVALID_PIX_KEY, NULL},
		{"a@-example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@example-.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@exa_mple.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@[127.0.0.1]", ERR_INVALID_PIX_KEY, NULL},
		{"a@127.0.0.1", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.com-", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.xn--", ERR_INVALID_PIX_KEY, NULL},
		/* the old rules' refusals still hold */
		{"no-at.example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@b", ERR_INVALID_PIX_KEY, NULL},
		{"a b@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@exa mple.com", ERR_INVALID_PIX_KEY, NULL},
		{" a@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.com ", ERR_INVALID_PIX_KEY, NULL},
		{"a\t@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.com\n", ERR_INVALID_PIX_KEY, NULL},
		{"a\x7f@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"jos\xc3\xa9@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@", ERR_INVALID_PIX_KEY, NULL},
		{"a@@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@b@example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@.example.com", ERR_INVALID_PIX_KEY, NULL},
		{"a@example.com.", ERR_INVALID_PIX_KEY, NULL},
		{"a@example..com", ERR_INVALID_PIX_KEY, NULL},
		{"a@.", ERR_INVALID_PIX_KEY, NULL},
		{"", ERR_INVALID_PIX_KEY, NULL},
	};
	char s[100], want[100], out[IDENT_MAX];

	(void)state;
	run_norms("ident_pix_key(EMAIL)", pix_email, c, COUNT(c));
	/* Local parts around 64 characters, and totals around 77: the local
	 * part is at most 64 (65 refused, the testers' case), the whole at
	 * most 77 (64 + "@ex.com.br" = 74 fits; 64 + "@example.co.uk" = 78 does
	 * not). */
	for (size_t n = 1; n < 70; n++) {
		static const char *const doms[] = {"@ex.com.br", "@example.co.uk"};

		for (size_t k = 0; k < COUNT(doms); k++) {
			size_t dl = strlen(doms[k]);

			memset(s, 'X', n);
			memcpy(s + n, doms[k], dl + 1);
			for (size_t i = 0; i <= n + dl; i++)
				want[i] = s[i] == 'X' ? 'x' : s[i];
			bool ok = n <= 64 && n + dl <= 77;
			expect_err("ident_pix_key(EMAIL)", s,
				   call_norm(pix_email, s, out),
				   ok ? ERR_OK : ERR_INVALID_PIX_KEY);
			if (ok)
				assert_string_equal(out, want);
		}
	}
	/* A 63-character label is a label; 64 is not. */
	memset(s, 'a', sizeof(s));
	memcpy(s, "a@", 2);
	memcpy(s + 2 + 63, ".br", 4);
	assert_int_equal(call_norm(pix_email, s, out), ERR_OK);
	memset(s + 2, 'a', 64);
	memcpy(s + 2 + 64, ".br", 4);
	assert_int_equal(call_norm(pix_email, s, out), ERR_INVALID_PIX_KEY);
	/* Every byte in the local part: letters, digits and RFC 5322's atext
	 * specials are kept (letters lower-cased); anything else is refused. */
	for (int b = 1; b < 256; b++) {
		char in[] = "ab?d@example.com";
		bool atext = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
			     (b >= '0' && b <= '9') ||
			     (b < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~.", b) != NULL);
		enum err e;

		in[2] = (char)b;
		e = call_norm(pix_email, in, out);
		expect_err("ident_pix_key(EMAIL)", in, e,
			   atext ? ERR_OK : ERR_INVALID_PIX_KEY);
		if (e == ERR_OK && out[2] != (b >= 'A' && b <= 'Z' ? b + 32 : b))
			fail_msg("byte %d written as %d", b, out[2]);
	}
}

static void test_pix_phone(void **state)
{
	static const struct norm_case c[] = {
		{"+5511999998888", ERR_OK, "+5511999998888"},
		{"+5521987654321", ERR_OK, "+5521987654321"},
		{"+5599900000000", ERR_OK, "+5599900000000"},
		/* the outside testers' examples: not Brazilian; no leading 9 */
		{"+12345678", ERR_INVALID_PIX_KEY, NULL},
		{"+551101064156", ERR_INVALID_PIX_KEY, NULL},
		/* other countries' E.164 numbers */
		{"+123456789012345", ERR_INVALID_PIX_KEY, NULL},
		{"+442071838750", ERR_INVALID_PIX_KEY, NULL},
		{"+351912345678", ERR_INVALID_PIX_KEY, NULL},
		/* Brazilian, but a landline or the wrong length */
		{"+551133334444", ERR_INVALID_PIX_KEY, NULL},
		{"+55119999988880", ERR_INVALID_PIX_KEY, NULL},
		{"+551199999888", ERR_INVALID_PIX_KEY, NULL},
		{"+5511899998888", ERR_INVALID_PIX_KEY, NULL},
		/* area codes no one has: 0 digits, unassigned */
		{"+5501999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5510999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5520999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5523999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5552999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5590999998888", ERR_INVALID_PIX_KEY, NULL},
		/* shape */
		{"5511999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+05511999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+55 11 99999 8888", ERR_INVALID_PIX_KEY, NULL},
		{"+55(11)999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5511999998888a", ERR_INVALID_PIX_KEY, NULL},
		{"++5511999998888", ERR_INVALID_PIX_KEY, NULL},
		{"+5511-99999-8888", ERR_INVALID_PIX_KEY, NULL},
		{"+", ERR_INVALID_PIX_KEY, NULL},
		{"", ERR_INVALID_PIX_KEY, NULL},
	};
	/* ANATEL's area codes, written out here as the reference */
	static const int ddd[] = {
		11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32,
		33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 53,
		54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77,
		79, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96,
		97, 98, 99,
	};
	char s[32], out[IDENT_MAX];
	int accepted = 0;

	(void)state;
	run_norms("ident_pix_key(PHONE)", pix_phone, c, COUNT(c));
	assert_int_equal(COUNT(ddd), 67);
	for (int a = 0; a < 100; a++) {
		bool in_use = false;

		for (size_t i = 0; i < COUNT(ddd); i++)
			in_use = in_use || ddd[i] == a;
		snprintf(s, sizeof(s), "+55%02d912345678", a);
		expect_err("ident_pix_key(PHONE)", s, call_norm(pix_phone, s, out),
			   in_use ? ERR_OK : ERR_INVALID_PIX_KEY);
		assert_true(ident_br_area_code((unsigned)a) == in_use);
		accepted += in_use;
	}
	assert_int_equal(accepted, 67);
	for (size_t n = 0; n < 25; n++) {
		s[0] = '+';
		memset(s + 1, '9', n);
		s[n + 1] = '\0';
		memcpy(s + 1, "5511", n < 4 ? n : 4);
		expect_err("ident_pix_key(PHONE)", s,
			   call_norm(pix_phone, s, out),
			   n == 13 ? ERR_OK : ERR_INVALID_PIX_KEY);
	}
}

static void test_pix_random(void **state)
{
	static const struct norm_case c[] = {
		{"123e4567-e89b-12d3-a456-426614174000", ERR_OK,
		 "123e4567-e89b-12d3-a456-426614174000"},
		{"123E4567-E89B-12D3-A456-426614174000", ERR_OK,
		 "123e4567-e89b-12d3-a456-426614174000"},
		{"00000000-0000-0000-0000-000000000000", ERR_OK,
		 "00000000-0000-0000-0000-000000000000"},
		{"FFFFFFFF-ffff-FfFf-fFfF-ABCDEFabcdef", ERR_OK,
		 "ffffffff-ffff-ffff-ffff-abcdefabcdef"},
		{"123e4567-e89b-12d3-a456-42661417400", ERR_INVALID_PIX_KEY, NULL},
		{"123e4567-e89b-12d3-a456-4266141740000", ERR_INVALID_PIX_KEY, NULL},
		{"123e4567e89b12d3a456426614174000", ERR_INVALID_PIX_KEY, NULL},
		{"123e4567-e89b-12d3-a4564-26614174000", ERR_INVALID_PIX_KEY, NULL},
		{"123e4567-e89b-12d3-a456_426614174000", ERR_INVALID_PIX_KEY, NULL},
		{"123g4567-e89b-12d3-a456-426614174000", ERR_INVALID_PIX_KEY, NULL},
		{"{123e4567-e89b-12d3-a456-426614174000}", ERR_INVALID_PIX_KEY, NULL},
		{"urn:uuid:123e4567-e89b-12d3-a456-426614174000",
		 ERR_INVALID_PIX_KEY, NULL},
		{" 123e4567-e89b-12d3-a456-426614174000", ERR_INVALID_PIX_KEY, NULL},
		{"", ERR_INVALID_PIX_KEY, NULL},
	};
	char in[] = "123e4567-e89b-12d3-a456-426614174000", out[IDENT_MAX];

	(void)state;
	run_norms("ident_pix_key(RANDOM)", pix_random, c, COUNT(c));
	for (size_t i = 0; i < sizeof(in) - 1; i++) {
		char keep = in[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		for (int b = 1; b < 256; b++) {
			bool hex = (b >= '0' && b <= '9') ||
				   (b >= 'a' && b <= 'f') ||
				   (b >= 'A' && b <= 'F');

			in[i] = (char)b;
			expect_err("ident_pix_key(RANDOM)", in,
				   call_norm(pix_random, in, out),
				   (dash ? b == '-' : hex)
					   ? ERR_OK
					   : ERR_INVALID_PIX_KEY);
		}
		in[i] = keep;
	}
}

/* An out-of-range type is refused, not trusted. */
static void test_pix_bad_type(void **state)
{
	char out[IDENT_MAX];

	(void)state;
	expect_err("ident_pix_key(99)", "52998224725",
		   ident_pix_key((enum pix_key_type)99, "52998224725", out),
		   ERR_INVALID_PIX_KEY);
	assert_string_equal(out, "");
}

/* ---- CLABE ------------------------------------------------------------ */

static void test_clabe(void **state)
{
	static const struct check_case c[] = {
		{"032180000118359719", ERR_OK},
		{"002010077777777771", ERR_OK}, /* Banxico's example */
		{"000000000000000000", ERR_OK},
		{"032180000118359718", ERR_INVALID_CLABE},
		{"032180000118359710", ERR_INVALID_CLABE},
		{"03218000011835971", ERR_INVALID_CLABE},
		{"0321800001183597190", ERR_INVALID_CLABE},
		{"03218000011835971a", ERR_INVALID_CLABE},
		{"O32180000118359719", ERR_INVALID_CLABE},
		{"032 180 00011835971 9", ERR_INVALID_CLABE},
		{"", ERR_INVALID_CLABE},
	};
	char d[19];

	(void)state;
	for (size_t i = 0; i < COUNT(c); i++)
		if (ref_clabe(c[i].in) != (c[i].want == ERR_OK))
			fail_msg("vector \"%s\" disagrees with the reference",
				 c[i].in);
	run_checks("ident_clabe", ident_clabe, c, COUNT(c));
	every_byte("ident_clabe", ident_clabe, ERR_INVALID_CLABE, ref_clabe,
		   "032180000118359719");
	for (int n = 0; n < 3000; n++) {
		for (int i = 0; i < 17; i++)
			d[i] = (char)('0' + rng() % 10);
		d[17] = ref_clabe_control(d);
		d[18] = '\0';
		expect_err("ident_clabe", d, call_check(ident_clabe, d), ERR_OK);
	}
}

/* ---- EVM -------------------------------------------------------------- */

static enum err evm_check(const char *s)
{
	char out[IDENT_MAX];

	return ident_evm_address(s, out);
}

/* The four kinds of case: lower, upper, digit-only, mixed. */
static bool has_lower(const char *s) { return strpbrk(s + 2, "abcdef") != NULL; }
static bool has_upper(const char *s) { return strpbrk(s + 2, "ABCDEF") != NULL; }

static void case_all(char *s, bool upper)
{
	for (char *p = s + 2; *p; p++) {
		if (upper && *p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
		if (!upper && *p >= 'A' && *p <= 'F')
			*p = (char)(*p + 32);
	}
}

/* A checksummed address: accepted as is, in all lower and all upper case;
 * every single letter flipped is refused unless that leaves one case. */
static void check_eip55(const char *good)
{
	char s[43], out[IDENT_MAX];

	assert_int_equal(strlen(good), 42);
	expect_err("ident_evm_address", good,
		   call_norm(ident_evm_address, good, out), ERR_OK);
	assert_string_equal(out, good);
	for (int upper = 0; upper < 2; upper++) {
		strcpy(s, good);
		case_all(s, upper);
		expect_err("ident_evm_address", s,
			   call_norm(ident_evm_address, s, out), ERR_OK);
		assert_string_equal(out, good);
	}
	for (size_t i = 2; i < 42; i++) {
		if (!((good[i] >= 'a' && good[i] <= 'f') ||
		      (good[i] >= 'A' && good[i] <= 'F')))
			continue;
		strcpy(s, good);
		s[i] = (char)(s[i] ^ 0x20);
		enum err e = call_norm(ident_evm_address, s, out);
		bool one_case = !has_lower(s) || !has_upper(s);

		expect_err("ident_evm_address", s, e,
			   one_case ? ERR_OK : ERR_INVALID_ADDRESS);
		assert_string_equal(out, one_case ? good : "");
	}
}

static void test_evm_eip55_vectors(void **state)
{
	/* EIP-55's test cases: all caps, all lower, normal. */
	static const char *const v[] = {
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	};

	(void)state;
	for (size_t i = 0; i < COUNT(v); i++)
		check_eip55(v[i]);
	/* One flip in a normal vector is always refused. */
	char out[IDENT_MAX];
	expect_err("ident_evm_address", "0x5Aaeb...",
		   call_norm(ident_evm_address,
			     "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", out),
		   ERR_INVALID_ADDRESS);
}

static void test_evm_generated(void **state)
{
	unsigned char a[20];
	char good[43], out[IDENT_MAX];

	(void)state;
	for (int n = 0; n < 300; n++) {
		for (int i = 0; i < 20; i++)
			a[i] = (unsigned char)rng();
		if (n == 0)
			memset(a, 0x11, 20); /* digits only: no case at all */
		if (n == 1) {
			memset(a, 0x11, 20);
			a[7] = 0x1a;         /* exactly one letter */
		}
		ref_eip55(a, good);
		check_eip55(good);
	}
	/* The reference agrees with EIP-55 on its own vector. */
	static const unsigned char v[20] = {
		0x5a, 0xae, 0xb6, 0x05, 0x3f, 0x3e, 0x94, 0xc9, 0xb9, 0xa0,
		0x9f, 0x33, 0x66, 0x94, 0x35, 0xe7, 0xef, 0x1b, 0xea, 0xed};
	ref_eip55(v, good);
	assert_string_equal(good, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	expect_err("ident_evm_address", good,
		   call_norm(ident_evm_address, good, out), ERR_OK);
}

static void test_evm_shape(void **state)
{
	static const struct norm_case c[] = {
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", ERR_OK,
		 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"},
		{"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", ERR_OK,
		 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"},
		{"0x0000000000000000000000000000000000000000", ERR_OK,
		 "0x0000000000000000000000000000000000000000"},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", ERR_INVALID_ADDRESS, NULL},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0", ERR_INVALID_ADDRESS, NULL},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", ERR_INVALID_ADDRESS, NULL},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed0", ERR_INVALID_ADDRESS, NULL},
		{"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID_ADDRESS, NULL},
		{"005aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID_ADDRESS, NULL},
		{"0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID_ADDRESS, NULL},
		{"0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", ERR_INVALID_ADDRESS, NULL},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", ERR_INVALID_ADDRESS, NULL},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea d", ERR_INVALID_ADDRESS, NULL},
		{" 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", ERR_INVALID_ADDRESS, NULL},
		{"0x", ERR_INVALID_ADDRESS, NULL},
		{"", ERR_INVALID_ADDRESS, NULL},
	};

	(void)state;
	run_norms("ident_evm_address", ident_evm_address, c, COUNT(c));
	/* Every byte at every position of a lower-case address: accepted
	 * exactly when it stays one case. */
	const char *lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
	char s[43], out[IDENT_MAX];

	for (size_t i = 0; i < 42; i++) {
		for (int b = 1; b < 256; b++) {
			bool ok;

			strcpy(s, lower);
			s[i] = (char)b;
			if (i < 2)
				ok = s[i] == lower[i];
			else
				ok = (b >= '0' && b <= '9') ||
				     (b >= 'a' && b <= 'f') ||
				     ((b >= 'A' && b <= 'F') && !has_lower(s));
			expect_err("ident_evm_address", s,
				   call_norm(ident_evm_address, s, out),
				   ok ? ERR_OK : ERR_INVALID_ADDRESS);
		}
	}
	for (size_t k = 0; k < 42; k++) {
		char *p = malloc(k + 1);

		assert_non_null(p);
		memcpy(p, lower, k);
		p[k] = '\0';
		expect_err("ident_evm_address", p, evm_check(p),
			   ERR_INVALID_ADDRESS);
		free(p);
	}
}

/* ---- Tron ------------------------------------------------------------- */

static void test_tron_table(void **state)
{
	static const struct check_case c[] = {
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ERR_OK}, /* USDT */
		{"TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", ERR_OK},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6T", ERR_INVALID_ADDRESS},
		{"tR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6tt", ERR_INVALID_ADDRESS},
		{"1TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ERR_INVALID_ADDRESS},
		/* Bitcoin's genesis address: valid base58check, version 0 */
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", ERR_INVALID_ADDRESS},
		/* 0, O, I, l are not base58 */
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj60", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLjOt", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLIt6", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjlj6t", ERR_INVALID_ADDRESS},
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t ", ERR_INVALID_ADDRESS},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID_ADDRESS},
		{"T", ERR_INVALID_ADDRESS},
		{"", ERR_INVALID_ADDRESS},
	};

	(void)state;
	run_checks("ident_tron_address", ident_tron_address, c, COUNT(c));
}

/* The reference encoder reproduces the known addresses from their bytes. */
static void test_tron_reference_encoder(void **state)
{
	static const char *const known[] = {
		"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
		"TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7",
	};
	static const char a[] =
		"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

	(void)state;
	for (size_t k = 0; k < COUNT(known); k++) {
		unsigned char b[25] = {0};
		char again[40];

		/* decode by schoolbook multiplication */
		for (const char *p = known[k]; *p; p++) {
			unsigned carry = (unsigned)(strchr(a, *p) - a);

			for (int j = 24; j >= 0; j--) {
				carry += b[j] * 58u;
				b[j] = (unsigned char)carry;
				carry >>= 8;
			}
			assert_int_equal(carry, 0);
		}
		assert_int_equal(b[0], 0x41);
		ref_base58check(0x41, b + 1, again);
		assert_string_equal(again, known[k]);
	}
}

static void test_tron_generated(void **state)
{
	static const unsigned char versions[] = {0x41, 0x00, 0x05, 0x40, 0x42,
						 0xA0};
	unsigned char p[20];
	char s[40];

	(void)state;
	for (int n = 0; n < 500; n++) {
		for (int i = 0; i < 20; i++)
			p[i] = (unsigned char)rng();
		if (n == 0)
			memset(p, 0, 20);
		if (n == 1)
			memset(p, 0xFF, 20);
		for (size_t v = 0; v < COUNT(versions); v++) {
			ref_base58check(versions[v], p, s);
			expect_err("ident_tron_address", s,
				   call_check(ident_tron_address, s),
				   versions[v] == 0x41 ? ERR_OK
						       : ERR_INVALID_ADDRESS);
		}
	}
}

/* Every byte at every position: only the original character is accepted
 * (a changed symbol changes the payload or the checksum, and for these two
 * addresses no collision exists); every prefix is refused. */
static bool tron_ref_exact(const char *s)
{
	return strcmp(s, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t") == 0 ||
	       strcmp(s, "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7") == 0;
}

static void test_tron_every_byte(void **state)
{
	(void)state;
	every_byte("ident_tron_address", ident_tron_address,
		   ERR_INVALID_ADDRESS, tron_ref_exact,
		   "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
	every_byte("ident_tron_address", ident_tron_address,
		   ERR_INVALID_ADDRESS, tron_ref_exact,
		   "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7");
}

/* Long inputs cost bounded work and are refused by every validator. */
static void test_long_inputs(void **state)
{
	size_t n = 100000;
	char *s = malloc(n + 1), out[IDENT_MAX];

	(void)state;
	assert_non_null(s);
	memset(s, '1', n);
	s[n] = '\0';
	assert_int_equal(ident_aba_routing(s), ERR_INVALID_ROUTING_NUMBER);
	assert_int_equal(ident_us_account(s), ERR_INVALID_ACCOUNT_NUMBER);
	assert_int_equal(ident_us_account_type(s), ERR_INVALID_ACCOUNT_TYPE);
	assert_int_equal(ident_uk_sort_code(s, out), ERR_INVALID_SORT_CODE);
	assert_int_equal(ident_uk_account(s), ERR_INVALID_ACCOUNT_NUMBER);
	for (int t = PIX_CPF; t <= PIX_RANDOM; t++)
		assert_int_equal(ident_pix_key((enum pix_key_type)t, s, out),
				 ERR_INVALID_PIX_KEY);
	s[50] = '@';
	memcpy(s + 60, ".br", 3);
	assert_int_equal(ident_pix_key(PIX_EMAIL, s, out), ERR_INVALID_PIX_KEY);
	assert_int_equal(ident_clabe(s), ERR_INVALID_CLABE);
	memcpy(s, "0x", 2);
	assert_int_equal(ident_evm_address(s, out), ERR_INVALID_ADDRESS);
	assert_int_equal(ident_tron_address(s), ERR_INVALID_ADDRESS);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keccak_vectors),
		cmocka_unit_test(test_keccak_every_length),
		cmocka_unit_test(test_aba_table),
		cmocka_unit_test(test_aba_every_prefix),
		cmocka_unit_test(test_aba_every_byte),
		cmocka_unit_test(test_us_account),
		cmocka_unit_test(test_us_account_type),
		cmocka_unit_test(test_uk_sort_code),
		cmocka_unit_test(test_uk_account),
		cmocka_unit_test(test_pix_key_type),
		cmocka_unit_test(test_pix_cpf),
		cmocka_unit_test(test_pix_cpf_cnpj_all_equal),
		cmocka_unit_test(test_pix_cpf_cnpj_generated),
		cmocka_unit_test(test_pix_cnpj),
		cmocka_unit_test(test_pix_email),
		cmocka_unit_test(test_pix_phone),
		cmocka_unit_test(test_pix_random),
		cmocka_unit_test(test_pix_bad_type),
		cmocka_unit_test(test_clabe),
		cmocka_unit_test(test_evm_eip55_vectors),
		cmocka_unit_test(test_evm_generated),
		cmocka_unit_test(test_evm_shape),
		cmocka_unit_test(test_tron_table),
		cmocka_unit_test(test_tron_reference_encoder),
		cmocka_unit_test(test_tron_generated),
		cmocka_unit_test(test_tron_every_byte),
		cmocka_unit_test(test_long_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
