/*
 * ledger.h - double-entry balance arithmetic (after TigerBeetle).
 *
 * An account's balance in one currency is four counters of minor units:
 * debits and credits, each posted or pending. A transfer moves an amount
 * from a debit account to a credit account; a pending transfer (a hold)
 * is later posted or voided, exactly once, for its full amount.
 *
 * Client accounts are credit-normal liabilities and carry
 * LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS: their available balance
 * (credits_posted - debits_posted - debits_pending) never goes below zero.
 * System accounts (sandbox funding, holds clearing, fee revenue) carry no
 * such flag and may go negative: across all accounts, each currency sums
 * to zero because every transfer adds the same amount to both sides.
 *
 * Pure; no I/O. The store reads balances, these functions change them in
 * memory with every check, the store writes them back in the same
 * transaction.
 */
#ifndef OFFRAMP_DOMAIN_LEDGER_H
#define OFFRAMP_DOMAIN_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

struct ledger_balance {
	int64_t debits_posted;
	int64_t credits_posted;
	int64_t debits_pending;
	int64_t credits_pending;
};

enum ledger_flags {
	LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 0,
};

/* Outcomes, ordered from fine to worst, as values (not errors). */
enum ledger_result {
	LEDGER_OK = 0,
	LEDGER_EXCEEDS_CREDITS, /* debit side's available balance too small */
	LEDGER_OVERFLOW,        /* a counter would overflow int64 */
	LEDGER_INVALID_AMOUNT,  /* amount <= 0: a caller bug */
	LEDGER_SAME_ACCOUNT,    /* debit == credit: a caller bug */
	LEDGER_NO_PENDING,      /* post/void of more than is pending: a bug */
};

/* What a transfer does. */
enum ledger_op {
	LEDGER_OP_POSTED,  /* move now */
	LEDGER_OP_PENDING, /* hold: reserve on both sides */
	LEDGER_OP_POST,    /* turn a hold into a posted move */
	LEDGER_OP_VOID,    /* release a hold */
};

/*
 * Apply op for amount to the debit and credit balances. dr_flags are the
 * debit account's flags. On anything but LEDGER_OK neither balance is
 * changed. dr and cr must be different objects.
 */
enum ledger_result ledger_apply(enum ledger_op op, int64_t amount,
				struct ledger_balance *dr, unsigned dr_flags,
				struct ledger_balance *cr);

/* Credit-normal views of a client account. */
int64_t ledger_available(const struct ledger_balance *b); /* credits - debits - held */
int64_t ledger_held(const struct ledger_balance *b);      /* debits_pending */
int64_t ledger_total(const struct ledger_balance *b);     /* credits - debits posted */

/* Net posted position (credits_posted - debits_posted); summing it over
 * every account of a currency gives zero, and so does the net pending. */
int64_t ledger_net_posted(const struct ledger_balance *b);
int64_t ledger_net_pending(const struct ledger_balance *b);

const char *ledger_op_name(enum ledger_op op);
/* Parse a name written by ledger_op_name; false if unknown. */
bool ledger_op_parse(const char *name, enum ledger_op *out);

#endif
