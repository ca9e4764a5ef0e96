/*
 * test_evm_codec.c - the EVM rail's bytes against published vectors:
 * Keccak-256 ("" and "abc"), RLP (the examples of the Ethereum wiki's RLP
 * page and the yellow paper's set-theoretic one), the EIP-155 example
 * transaction (its signing payload, hash and the signed raw transaction,
 * byte for byte), the address of private key 1, the ERC-20 selector, the
 * units conversion and the hostile-hex parsers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rails/evm_codec.h"

static void assert_bytes(const uint8_t *got, size_t got_len, const char *want_hex)
{
	char buf[2 * EVM_TX_MAX + 3];
	assert_true(got_len <= EVM_TX_MAX);
	evm_hex_encode(got, got_len, buf);
	assert_string_equal(buf + 2, want_hex);
}

static void test_keccak256_vectors(void **state)
{
	uint8_t h[EVM_HASH_LEN];
	evm_keccak256("", 0, h);
	assert_bytes(h, 32, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	evm_keccak256("abc", 3, h);
	assert_bytes(h, 32, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
	/* Padding at and across the rate (136 bytes): one byte short of a
	 * block, exactly a block, more than one. Digests from js-sha3's
	 * keccak256 (an independent implementation). */
	static const struct { size_t n; const char *hex; } as[] = {
		{135, "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"},
		{136, "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"},
		{200, "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d"},
	};
	char a[200];
	memset(a, 'a', sizeof a);
	for (size_t i = 0; i < sizeof as / sizeof *as; i++) {
		evm_keccak256(a, as[i].n, h);
		assert_bytes(h, 32, as[i].hex);
	}
	/* ERC-20's selector: the first 4 bytes of the signature's hash. */
	evm_keccak256("transfer(address,uint256)", 25, h);
	assert_bytes(h, 4, "a9059cbb");
}

static void test_rlp_vectors(void **state)
{
	uint8_t buf[128];
	struct evm_rlp w;
	static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";

	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_bytes(&w, (const uint8_t *)"dog", 3);
	assert_bytes(buf, w.n, "83646f67");

	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_bytes(&w, (const uint8_t *)"cat", 3);
	evm_rlp_bytes(&w, (const uint8_t *)"dog", 3);
	evm_rlp_list(&w, 0);
	assert_bytes(buf, w.n, "c88363617483646f67");

	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_bytes(&w, NULL, 0);
	assert_bytes(buf, w.n, "80");

	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_list(&w, 0);
	assert_bytes(buf, w.n, "c0");

	static const struct { uint64_t v; const char *hex; } ints[] = {
		{0, "80"}, {15, "0f"}, {127, "7f"}, {128, "8180"}, {256, "820100"}, {1024, "820400"},
		{UINT64_MAX, "88ffffffffffffffff"},
	};
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
		evm_rlp_init(&w, buf, sizeof buf);
		evm_rlp_uint(&w, ints[i].v);
		assert_bytes(buf, w.n, ints[i].hex);
	}

	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_bytes(&w, (const uint8_t *)"\x00", 1);
	assert_bytes(buf, w.n, "00");

	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_bytes(&w, (const uint8_t *)lorem, strlen(lorem));
	assert_bytes(buf, w.n,
		     "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465"
		     "747572206164697069736963696e6720656c6974");
	/* The same string in a list: a payload of 58 bytes, the long list form. */
	evm_rlp_list(&w, 0);
	assert_int_equal(w.n, 60);
	assert_int_equal(buf[0], 0xf8);
	assert_int_equal(buf[1], 0x3a);

	/* [ [], [[]], [ [], [[]] ] ] */
	evm_rlp_init(&w, buf, sizeof buf);
	evm_rlp_list(&w, 0);
	size_t b = w.n;
	evm_rlp_list(&w, w.n);
	evm_rlp_list(&w, b);
	size_t c = w.n;
	evm_rlp_list(&w, w.n);
	size_t d = w.n;
	evm_rlp_list(&w, w.n);
	evm_rlp_list(&w, d);
	evm_rlp_list(&w, c);
	evm_rlp_list(&w, 0);
	assert_false(w.overflow);
	assert_bytes(buf, w.n, "c7c0c1c0c3c0c1c0");

	/* A write past the cap is refused once and for all. */
	evm_rlp_init(&w, buf, 3);
	evm_rlp_bytes(&w, (const uint8_t *)"dog", 3);
	assert_true(w.overflow);
}

/* EIP-155's example: nonce 9, 20 gwei, gas 21000, to 0x3535..35, 1 ether,
 * chain id 1, key 0x4646..46. */
static struct evm_tx eip155_tx(void)
{
	struct evm_tx tx = {.nonce = 9, .gas_price_wei = 20000000000ull, .gas_limit = 21000,
			    .chain_id = 1};
	memset(tx.to, 0x35, sizeof tx.to);
	uint64_t wei = 1000000000000000000ull;
	for (int i = 0; i < 8; i++)
		tx.value_be[31 - i] = (uint8_t)(wei >> (8 * i));
	return tx;
}

static void test_eip155_example(void **state)
{
	struct evm_tx tx = eip155_tx();
	uint8_t buf[EVM_TX_MAX], h[EVM_HASH_LEN];
	size_t n = evm_tx_signing_rlp(&tx, buf, sizeof buf);
	assert_bytes(buf, n,
		     "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
		     "80018080");
	evm_tx_signing_hash(&tx, h);
	assert_bytes(h, 32, "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");

	uint8_t key[EVM_KEY_LEN];
	memset(key, 0x46, sizeof key);
	struct evm_signer *s = evm_signer_new(key);
	assert_non_null(s);
	n = evm_tx_sign(s, &tx, buf, sizeof buf, h);
	assert_bytes(buf, n,
		     "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
		     "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8"
		     "997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");
	/* The hash nodes name it by: keccak of the signed bytes. */
	uint8_t h2[EVM_HASH_LEN];
	evm_keccak256(buf, n, h2);
	assert_memory_equal(h, h2, EVM_HASH_LEN);
	/* Deterministic (RFC 6979): signing again gives the same bytes. */
	uint8_t again[EVM_TX_MAX];
	assert_int_equal(evm_tx_sign(s, &tx, again, sizeof again, h2), n);
	assert_memory_equal(buf, again, n);
	/* No room: refused, not truncated. */
	assert_int_equal(evm_tx_sign(s, &tx, again, 50, h2), 0);
	evm_signer_free(s);
}

/* The same transfer as EIP-1559's type 2 (tip 1 gwei, max fee 20 gwei): the
 * signed bytes ganache 7.9.2's eth_signTransaction (ethereumjs, an
 * independent implementation, also RFC 6979) gives for key 0x4646..46. */
static void test_eip1559_matches_an_independent_signer(void **state)
{
	struct evm_tx tx = eip155_tx();
	tx.type = EVM_TX_EIP1559;
	tx.max_priority_fee_wei = 1000000000ull;
	uint8_t key[EVM_KEY_LEN], buf[EVM_TX_MAX], h[EVM_HASH_LEN], addr[EVM_ADDR_LEN];
	memset(key, 0x46, sizeof key);
	struct evm_signer *s = evm_signer_new(key);
	assert_non_null(s);
	evm_signer_address(s, addr); /* the EIP-155 example's sender */
	assert_bytes(addr, EVM_ADDR_LEN, "9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");
	size_t n = evm_tx_signing_rlp(&tx, buf, sizeof buf);
	assert_true(n > 1);
	assert_int_equal(buf[0], 0x02); /* EIP-2718: the type, then the list */
	n = evm_tx_sign(s, &tx, buf, sizeof buf, h);
	assert_bytes(buf, n,
		     "02f8730109843b9aca008504a817c800825208943535353535353535353535353535353535353535"
		     "880de0b6b3a764000080c080a04e87ced8b47d801c979c6baa52bbd78b42c9db2515c9d1f473e06f"
		     "65d49aaa90a02357671517c59544ebd95012d1988c102292eb570cc840ac9af72bb4c52e5edd");
	uint8_t h2[EVM_HASH_LEN];
	evm_keccak256(buf, n, h2); /* the hash covers the type byte */
	assert_memory_equal(h, h2, EVM_HASH_LEN);
	evm_signer_free(s);
}

static void test_signer_address_and_bad_keys(void **state)
{
	uint8_t key[EVM_KEY_LEN] = {0}, addr[EVM_ADDR_LEN];
	assert_null(evm_signer_new(key)); /* zero is not a key */
	memset(key, 0xff, sizeof key);
	assert_null(evm_signer_new(key)); /* past the group order */
	memset(key, 0, sizeof key);
	key[31] = 1;
	struct evm_signer *s = evm_signer_new(key);
	assert_non_null(s);
	evm_signer_address(s, addr);
	assert_bytes(addr, EVM_ADDR_LEN, "7e5f4552091a69125d5dfcb7b8c2659029395bdf");
	evm_signer_free(s);
}

static void test_erc20_transfer_data(void **state)
{
	uint8_t to[EVM_ADDR_LEN], out[EVM_CALLDATA_LEN];
	memset(to, 0x35, sizeof to);
	evm_erc20_transfer_data(to, 1234567, out);
	assert_bytes(out, sizeof out,
		     "a9059cbb0000000000000000000000003535353535353535353535353535353535353535"
		     "000000000000000000000000000000000000000000000000000000000012d687");
}

static void test_token_units(void **state)
{
	uint64_t v;
	assert_true(evm_token_units(250000000, 6, 6, &v)); /* 250.000000 USDC */
	assert_int_equal(v, 250000000);
	assert_true(evm_token_units(1, 6, 18, &v));
	assert_int_equal(v, 1000000000000ull);
	assert_false(evm_token_units(1, 6, 2, &v)); /* would drop digits */
	assert_false(evm_token_units(-1, 6, 6, &v));
	assert_false(evm_token_units(INT64_MAX, 6, 18, &v)); /* overflow */
}

static void test_hex_parsers_refuse_hostile_input(void **state)
{
	uint8_t b[2];
	uint64_t q;
	assert_true(evm_hex_decode("0xaBcD", b, 2));
	assert_int_equal(b[0], 0xab);
	assert_false(evm_hex_decode("0xabc", b, 2));
	assert_false(evm_hex_decode("0xabcdef", b, 2));
	assert_false(evm_hex_decode("abcd", b, 2));
	assert_false(evm_hex_decode("0xabzd", b, 2));
	assert_false(evm_hex_decode(NULL, b, 2));
	assert_true(evm_quantity_parse("0x0", &q));
	assert_int_equal(q, 0);
	assert_true(evm_quantity_parse("0x1a", &q));
	assert_int_equal(q, 26);
	assert_true(evm_quantity_parse("0xffffffffffffffff", &q));
	assert_int_equal(q, UINT64_MAX);
	assert_false(evm_quantity_parse("0x", &q));
	assert_false(evm_quantity_parse("0x01", &q)); /* leading zero */
	assert_false(evm_quantity_parse("0x10000000000000000", &q)); /* > 64 bits */
	assert_false(evm_quantity_parse("26", &q));
	assert_false(evm_quantity_parse("0x1g", &q));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keccak256_vectors),
		cmocka_unit_test(test_rlp_vectors),
		cmocka_unit_test(test_eip155_example),
		cmocka_unit_test(test_eip1559_matches_an_independent_signer),
		cmocka_unit_test(test_signer_address_and_bad_keys),
		cmocka_unit_test(test_erc20_transfer_data),
		cmocka_unit_test(test_token_units),
		cmocka_unit_test(test_hex_parsers_refuse_hostile_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
