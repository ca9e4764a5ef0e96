/*
 * evm_codec.c - Keccak-256, RLP, EIP-155 signing, ERC-20 call data (see
 * evm_codec.h for why each comes from where).
 *
 * Invariants: every writer is bounded by its caller's cap; the private key
 * lives only in struct evm_signer and is wiped when it is freed; nothing
 * here logs.
 */
#include "rails/evm_codec.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "domain/ident.h"

/* ---- Keccak-256 --------------------------------------------------------- */

/* One sponge in the tree: domain/ident.c's (nettle's permutation, Keccak's
 * own padding), which EIP-55 address checksums already use. */
void evm_keccak256(const void *data, size_t len, uint8_t out[EVM_HASH_LEN])
{
	ident_keccak256(data, len, out);
}

/* ---- RLP ---------------------------------------------------------------- */

void evm_rlp_init(struct evm_rlp *w, uint8_t *buf, size_t cap)
{
	w->b = buf;
	w->n = 0;
	w->cap = cap;
	w->overflow = false;
}

static void put(struct evm_rlp *w, const uint8_t *p, size_t len)
{
	if (len == 0)
		return; /* p may be NULL then */
	if (w->overflow || len > w->cap - w->n) {
		w->overflow = true;
		return;
	}
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

/* Big-endian bytes of v without leading zeros into be[8]; returns count. */
static size_t be_min(uint64_t v, uint8_t be[8])
{
	size_t n = 0;
	for (int shift = 56; shift >= 0; shift -= 8)
		if (n || (v >> shift) & 0xff)
			be[n++] = (uint8_t)(v >> shift);
	return n;
}

/* The header of a string (base 0x80) or list (base 0xc0) of len bytes. */
static size_t header(uint8_t base, size_t len, uint8_t out[9])
{
	if (len <= 55) {
		out[0] = (uint8_t)(base + len);
		return 1;
	}
	size_t k = be_min(len, out + 1);
	out[0] = (uint8_t)(base + 55 + k);
	return 1 + k;
}

void evm_rlp_bytes(struct evm_rlp *w, const uint8_t *p, size_t len)
{
	if (len == 1 && p[0] < 0x80) {
		put(w, p, 1);
		return;
	}
	uint8_t h[9];
	put(w, h, header(0x80, len, h));
	put(w, p, len);
}

void evm_rlp_uint(struct evm_rlp *w, uint64_t v)
{
	uint8_t be[8];
	evm_rlp_bytes(w, be, be_min(v, be));
}

void evm_rlp_uint256(struct evm_rlp *w, const uint8_t be[32])
{
	size_t skip = 0;
	while (skip < 32 && be[skip] == 0)
		skip++;
	evm_rlp_bytes(w, be + skip, 32 - skip);
}

void evm_rlp_list(struct evm_rlp *w, size_t start)
{
	if (w->overflow)
		return;
	uint8_t h[9];
	size_t len = w->n - start, hl = header(0xc0, len, h);
	if (hl > w->cap - w->n) {
		w->overflow = true;
		return;
	}
	memmove(w->b + start + hl, w->b + start, len);
	memcpy(w->b + start, h, hl);
	w->n += hl;
}

/* ---- transactions ------------------------------------------------------- */

/* Legacy: nonce, gasPrice, gas, to, value, data. EIP-1559 (type 2):
 * chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value,
 * data, accessList (empty). */
static void tx_fields(struct evm_rlp *w, const struct evm_tx *tx)
{
	if (tx->type == EVM_TX_EIP1559) {
		evm_rlp_uint(w, tx->chain_id);
		evm_rlp_uint(w, tx->nonce);
		evm_rlp_uint(w, tx->max_priority_fee_wei);
	} else {
		evm_rlp_uint(w, tx->nonce);
	}
	evm_rlp_uint(w, tx->gas_price_wei);
	evm_rlp_uint(w, tx->gas_limit);
	evm_rlp_bytes(w, tx->to, EVM_ADDR_LEN);
	evm_rlp_uint256(w, tx->value_be);
	evm_rlp_bytes(w, tx->data, tx->data_len);
	if (tx->type == EVM_TX_EIP1559) {
		size_t start = w->n;
		evm_rlp_list(w, start); /* no access list */
	}
}

/* A typed transaction is its type byte, then the RLP list (EIP-2718). */
static size_t type_prefix(const struct evm_tx *tx, uint8_t *out, size_t cap)
{
	if (tx->type != EVM_TX_EIP1559)
		return 0;
	if (cap > 0)
		out[0] = EVM_TX_EIP1559;
	return 1;
}

size_t evm_tx_signing_rlp(const struct evm_tx *tx, uint8_t *out, size_t cap)
{
	size_t pre = type_prefix(tx, out, cap);
	if (pre > cap)
		return 0;
	struct evm_rlp w;
	evm_rlp_init(&w, out + pre, cap - pre);
	tx_fields(&w, tx);
	if (tx->type != EVM_TX_EIP1559) {
		evm_rlp_uint(&w, tx->chain_id); /* EIP-155: chain id, 0, 0 */
		evm_rlp_uint(&w, 0);
		evm_rlp_uint(&w, 0);
	}
	evm_rlp_list(&w, 0);
	return w.overflow ? 0 : pre + w.n;
}

void evm_tx_signing_hash(const struct evm_tx *tx, uint8_t hash[EVM_HASH_LEN])
{
	uint8_t buf[EVM_TX_MAX];
	size_t n = evm_tx_signing_rlp(tx, buf, sizeof buf);
	evm_keccak256(buf, n, hash);
}

struct evm_signer {
	secp256k1_context *ctx;
	uint8_t key[EVM_KEY_LEN];
	uint8_t addr[EVM_ADDR_LEN];
};

static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n--)
		*v++ = 0;
}

struct evm_signer *evm_signer_new(const uint8_t key[EVM_KEY_LEN])
{
	struct evm_signer *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	secp256k1_pubkey pub;
	uint8_t raw[65], h[EVM_HASH_LEN], seed[32];
	size_t rl = sizeof raw;
	/* Blinding against side channels (the library's advice for a context
	 * that signs); the signatures stay deterministic (RFC 6979). */
	bool blinded = s->ctx && crypto_random(seed, sizeof seed) &&
		       secp256k1_context_randomize(s->ctx, seed);
	wipe(seed, sizeof seed);
	if (!blinded || !secp256k1_ec_seckey_verify(s->ctx, key) ||
	    !secp256k1_ec_pubkey_create(s->ctx, &pub, key) ||
	    !secp256k1_ec_pubkey_serialize(s->ctx, raw, &rl, &pub, SECP256K1_EC_UNCOMPRESSED)) {
		evm_signer_free(s);
		return NULL;
	}
	memcpy(s->key, key, EVM_KEY_LEN);
	evm_keccak256(raw + 1, 64, h); /* drop the 0x04 prefix */
	memcpy(s->addr, h + 12, EVM_ADDR_LEN);
	return s;
}

void evm_signer_free(struct evm_signer *s)
{
	if (!s)
		return;
	wipe(s->key, sizeof s->key);
	if (s->ctx)
		secp256k1_context_destroy(s->ctx);
	free(s);
}

void evm_signer_address(const struct evm_signer *s, uint8_t addr[EVM_ADDR_LEN])
{
	memcpy(addr, s->addr, EVM_ADDR_LEN);
}

size_t evm_tx_sign(const struct evm_signer *s, const struct evm_tx *tx, uint8_t *out, size_t cap,
		   uint8_t hash[EVM_HASH_LEN])
{
	uint8_t msg[EVM_HASH_LEN], rs[64];
	secp256k1_ecdsa_recoverable_signature sig;
	int recid;
	evm_tx_signing_hash(tx, msg);
	if (!secp256k1_ecdsa_sign_recoverable(s->ctx, &sig, msg, s->key, NULL, NULL) ||
	    !secp256k1_ecdsa_recoverable_signature_serialize_compact(s->ctx, rs, &recid, &sig))
		return 0;
	if (tx->chain_id > (UINT64_MAX - 36) / 2)
		return 0;
	size_t pre = type_prefix(tx, out, cap);
	if (pre > cap)
		return 0;
	struct evm_rlp w;
	evm_rlp_init(&w, out + pre, cap - pre);
	tx_fields(&w, tx);
	/* Typed: the y parity itself; legacy: EIP-155's v. */
	evm_rlp_uint(&w, tx->type == EVM_TX_EIP1559 ? (uint64_t)recid
						    : (uint64_t)recid + 2 * tx->chain_id + 35);
	evm_rlp_uint256(&w, rs);
	evm_rlp_uint256(&w, rs + 32);
	evm_rlp_list(&w, 0);
	if (w.overflow)
		return 0;
	evm_keccak256(out, pre + w.n, hash);
	return pre + w.n;
}

/* ---- ERC-20 and amounts ------------------------------------------------- */

void evm_erc20_transfer_data(const uint8_t to[EVM_ADDR_LEN], uint64_t amount,
			     uint8_t out[EVM_CALLDATA_LEN])
{
	static const uint8_t selector[4] = {0xa9, 0x05, 0x9c, 0xbb}; /* keccak("transfer(address,uint256)") */
	memset(out, 0, EVM_CALLDATA_LEN);
	memcpy(out, selector, 4);
	memcpy(out + 4 + 12, to, EVM_ADDR_LEN);
	for (int i = 0; i < 8; i++)
		out[EVM_CALLDATA_LEN - 1 - i] = (uint8_t)(amount >> (8 * i));
}

bool evm_token_units(int64_t minor, int scale, int decimals, uint64_t *out)
{
	if (minor < 0 || scale < 0 || decimals < scale || decimals - scale > 19)
		return false;
	uint64_t v = (uint64_t)minor;
	for (int i = scale; i < decimals; i++) {
		if (v > UINT64_MAX / 10)
			return false;
		v *= 10;
	}
	*out = v;
	return true;
}

/* ---- hex ---------------------------------------------------------------- */

static int nibble(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

bool evm_hex_decode(const char *s, uint8_t *out, size_t len)
{
	if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || strlen(s + 2) != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		int hi = nibble(s[2 + 2 * i]), lo = nibble(s[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

bool evm_quantity_parse(const char *s, uint64_t *out)
{
	if (!s || s[0] != '0' || s[1] != 'x')
		return false;
	const char *d = s + 2;
	size_t n = strlen(d);
	if (n == 0 || n > 16 || (n > 1 && d[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int x = nibble(d[i]);
		if (x < 0)
			return false;
		v = v << 4 | (uint64_t)x;
	}
	*out = v;
	return true;
}

void evm_hex_encode(const uint8_t *in, size_t len, char *out)
{
	out[0] = '0';
	out[1] = 'x';
	crypto_hex(in, len, out + 2);
}
