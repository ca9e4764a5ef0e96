/*
 * evm.h - the EVM rail (CONTRACT §14, docs/RAILS.md "EVM rail"): crypto
 * payouts on configured EVM networks as ERC-20 transfer()s from the
 * operator's hot wallet, signed in-process, sent over JSON-RPC.
 *
 * It is a rail (struct rail) that answers for the sessions it serves (a
 * crypto payout whose network has --evm-chain-id and whose asset has an
 * --evm-token there) and hands every other call to its fallback rail
 * unchanged, so it can stand in front of the sandbox on its own or sit
 * in a rail registry under "crypto".
 *
 * Ownership: the rail owns its fallback (closed with it) and borrows the
 * store. Calls are thread-safe (each makes its own HTTP handles; the
 * signer is read-only after start).
 */
#ifndef OFFRAMP_RAILS_EVM_H
#define OFFRAMP_RAILS_EVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "rails/rail.h"

struct evm_config {
	const char *rpc_url;  /* borrowed for evm_rail_new only */
	const char *key_file; /* the hot wallet's key: "0x" + 64 hex digits */
	struct {
		char asset[8];
		char network[16];
		char contract[43];
	} tokens[LIMIT_EVM_TOKENS];
	int n_tokens;
	struct {
		char network[16];
		uint64_t chain_id;
	} chains[LIMIT_EVM_CHAINS];
	int n_chains;
	int confirmations;        /* >= 1 */
	int tx_type;              /* EVM_TXPREF_*: which transactions to send */
	int64_t replace_after_ms; /* unmined this long: replaced at a higher fee */
};

/* --evm-tx-type: auto sends EIP-1559 transactions when the node's latest
 * block has a base fee (London and later), legacy EIP-155 ones otherwise. */
enum { EVM_TXPREF_AUTO = 0, EVM_TXPREF_LEGACY, EVM_TXPREF_EIP1559 };
bool evm_config_tx_type(struct evm_config *c, const char *word);

/* "ASSET:NETWORK:0xCONTRACT" and "NETWORK:ID" into c; false with why in
 * err when malformed or past the caps. */
bool evm_config_token(struct evm_config *c, const char *spec, char *err, size_t errlen);
bool evm_config_chain(struct evm_config *c, const char *spec, char *err, size_t errlen);

/* The rail. Reads the key file (refused when group or others may read
 * it, or it is not one key), keeps the key in memory only and never
 * prints it. fallback is taken (closed on failure too). NULL with why in
 * err. */
struct rail *evm_rail_new(const struct evm_config *c, struct store *store, struct rail *fallback,
			  char *err, size_t errlen);

#endif
