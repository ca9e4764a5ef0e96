/*
 * evm_codec.h - what the EVM rail writes on chain, byte for byte:
 * Keccak-256, RLP, EIP-155 legacy and EIP-1559 (type 2) transactions signed
 * with secp256k1, the ERC-20 transfer(address,uint256) call data, and the
 * exact conversion of our minor units into a token's base units.
 *
 * Nothing here is home-made cryptography. Keccak-256 is domain/ident.c's
 * sponge (rate 136, Keccak's pad 0x01..0x80) over nettle's Keccak-f[1600]
 * permutation (sha3_permute): nettle 3.8's sha3_256 pads 0x06 (SHA-3, not
 * the Keccak-256 Ethereum uses) and OpenSSL 3.0 has no "KECCAK-256" digest
 * (only KECCAK-KMAC; KECCAK-256 arrived in 3.2), so the padding is ours and
 * the permutation the library's. Signatures come from libsecp256k1
 * (RFC 6979 nonces, low-s, recoverable). RLP is a serialisation.
 *
 * All functions are pure and thread-safe except evm_signer_*, whose
 * context is made once and then only read.
 */
#ifndef OFFRAMP_RAILS_EVM_CODEC_H
#define OFFRAMP_RAILS_EVM_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVM_HASH_LEN 32
#define EVM_ADDR_LEN 20
#define EVM_KEY_LEN 32
#define EVM_TX_MAX 512        /* a signed ERC-20 transfer is ~110 bytes */
#define EVM_CALLDATA_LEN 68   /* selector + address word + amount word */

void evm_keccak256(const void *data, size_t len, uint8_t out[EVM_HASH_LEN]);

/* An RLP writer into a fixed buffer; a write past cap sets overflow and
 * every later write is dropped, so one check at the end suffices. */
struct evm_rlp {
	uint8_t *b;
	size_t n, cap;
	bool overflow;
};
void evm_rlp_init(struct evm_rlp *w, uint8_t *buf, size_t cap);
/* A byte string (RLP's single byte, short and long forms). */
void evm_rlp_bytes(struct evm_rlp *w, const uint8_t *p, size_t len);
/* An unsigned integer: big-endian, no leading zeros, 0 as the empty string. */
void evm_rlp_uint(struct evm_rlp *w, uint64_t v);
/* A 256-bit big-endian integer, leading zeros stripped (r, s, value). */
void evm_rlp_uint256(struct evm_rlp *w, const uint8_t be[32]);
/* Wrap everything written since offset `start` as one list (moves the
 * payload right to make room for the header). */
void evm_rlp_list(struct evm_rlp *w, size_t start);

/* A transaction: legacy, signed per EIP-155 (type 0), or EIP-1559's
 * dynamic-fee transaction (type 2, EIP-2718 envelope, empty access list). */
#define EVM_TX_LEGACY 0
#define EVM_TX_EIP1559 2
struct evm_tx {
	uint8_t type;                  /* EVM_TX_LEGACY or EVM_TX_EIP1559 */
	uint64_t nonce;
	uint64_t gas_price_wei;        /* legacy: gasPrice; type 2: maxFeePerGas */
	uint64_t max_priority_fee_wei; /* type 2 only */
	uint64_t gas_limit;
	uint8_t to[EVM_ADDR_LEN];
	uint8_t value_be[32]; /* wei, big-endian 256-bit */
	const uint8_t *data;  /* borrowed */
	size_t data_len;
	uint64_t chain_id;
};

/* The signing payload (EIP-155's RLP; for type 2, 0x02 || RLP) and its
 * hash. Returns the payload's length, 0 if it did not fit in cap. */
size_t evm_tx_signing_rlp(const struct evm_tx *tx, uint8_t *out, size_t cap);
void evm_tx_signing_hash(const struct evm_tx *tx, uint8_t hash[EVM_HASH_LEN]);

struct evm_signer; /* the hot wallet's key and a secp256k1 context */
/* From 32 raw key bytes (copied; the caller wipes its own). NULL for a key
 * outside the curve's range or no memory. */
struct evm_signer *evm_signer_new(const uint8_t key[EVM_KEY_LEN]);
/* Wipes the key. */
void evm_signer_free(struct evm_signer *s);
/* The key's address: keccak256(uncompressed pubkey x||y)[12..32]. */
void evm_signer_address(const struct evm_signer *s, uint8_t addr[EVM_ADDR_LEN]);
/* Sign tx (legacy: v = recid + 2*chain_id + 35; type 2: y parity) into
 * out, ready for eth_sendRawTransaction; the tx hash
 * (keccak of the signed bytes, what nodes call it) into hash. Returns the
 * length, 0 on failure (no room, signing refused). Deterministic: the same
 * tx always gives the same bytes, which is what makes a re-send the same
 * transaction. */
size_t evm_tx_sign(const struct evm_signer *s, const struct evm_tx *tx, uint8_t *out, size_t cap,
		   uint8_t hash[EVM_HASH_LEN]);

/* transfer(address,uint256): 0xa9059cbb, the address left-padded to a
 * word, the amount as a big-endian word. */
void evm_erc20_transfer_data(const uint8_t to[EVM_ADDR_LEN], uint64_t amount,
			     uint8_t out[EVM_CALLDATA_LEN]);

/* Our minor units (scale digits) into the token's base units (decimals
 * digits): multiply by 10^(decimals-scale). False if decimals < scale
 * (would drop digits), the amount is negative, or the result overflows. */
bool evm_token_units(int64_t minor, int scale, int decimals, uint64_t *out);

/* "0x" + exactly 2*len hex digits (either case) into out. False otherwise. */
bool evm_hex_decode(const char *s, uint8_t *out, size_t len);
/* A quantity ("0x0", "0x1a"; no leading zeros, at most 16 digits) to u64. */
bool evm_quantity_parse(const char *s, uint64_t *out);
/* "0x" + lower-case hex of len bytes; out holds 2*len+3. */
void evm_hex_encode(const uint8_t *in, size_t len, char *out);

#endif
