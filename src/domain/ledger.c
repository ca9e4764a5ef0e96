/*
 * ledger.c - balance arithmetic for double-entry transfers.
 *
 * Every function computes into copies and commits both sides only when
 * every check passed, so a refused transfer changes nothing. Overflow is
 * refused, never wrapped.
 */
#include "domain/ledger.h"

#include <string.h>

static bool add(int64_t *v, int64_t d)
{
	return !__builtin_add_overflow(*v, d, v);
}

int64_t ledger_available(const struct ledger_balance *b)
{
	return b->credits_posted - b->debits_posted - b->debits_pending;
}

int64_t ledger_held(const struct ledger_balance *b) { return b->debits_pending; }

int64_t ledger_total(const struct ledger_balance *b)
{
	return b->credits_posted - b->debits_posted;
}

int64_t ledger_net_posted(const struct ledger_balance *b)
{
	return b->credits_posted - b->debits_posted;
}

int64_t ledger_net_pending(const struct ledger_balance *b)
{
	return b->credits_pending - b->debits_pending;
}

enum ledger_result ledger_apply(enum ledger_op op, int64_t amount,
				struct ledger_balance *dr, unsigned dr_flags,
				struct ledger_balance *cr)
{
	if (amount <= 0)
		return LEDGER_INVALID_AMOUNT;
	if (dr == cr)
		return LEDGER_SAME_ACCOUNT;
	struct ledger_balance d = *dr, c = *cr;
	bool ok = true;

	switch (op) {
	case LEDGER_OP_POSTED:
		ok = add(&d.debits_posted, amount) && add(&c.credits_posted, amount);
		break;
	case LEDGER_OP_PENDING:
		ok = add(&d.debits_pending, amount) && add(&c.credits_pending, amount);
		break;
	case LEDGER_OP_POST:
	case LEDGER_OP_VOID:
		if (d.debits_pending < amount || c.credits_pending < amount)
			return LEDGER_NO_PENDING;
		d.debits_pending -= amount;
		c.credits_pending -= amount;
		if (op == LEDGER_OP_POST)
			ok = add(&d.debits_posted, amount) && add(&c.credits_posted, amount);
		break;
	default:
		return LEDGER_INVALID_AMOUNT;
	}
	if (!ok)
		return LEDGER_OVERFLOW;
	/* Available must be computable without overflow, and not negative
	 * where the account forbids it. Posting or voiding a hold never
	 * lowers available, so only new debits are checked. */
	if (dr_flags & LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS) {
		int64_t used, avail;
		if (__builtin_add_overflow(d.debits_posted, d.debits_pending, &used) ||
		    __builtin_sub_overflow(d.credits_posted, used, &avail))
			return LEDGER_OVERFLOW;
		if (avail < 0 && (op == LEDGER_OP_POSTED || op == LEDGER_OP_PENDING))
			return LEDGER_EXCEEDS_CREDITS;
	}
	*dr = d;
	*cr = c;
	return LEDGER_OK;
}

static const char *const ledger_op_names[] = {
	[LEDGER_OP_POSTED] = "posted",
	[LEDGER_OP_PENDING] = "pending",
	[LEDGER_OP_POST] = "post_pending",
	[LEDGER_OP_VOID] = "void_pending",
};

const char *ledger_op_name(enum ledger_op op)
{
	return (unsigned)op < sizeof ledger_op_names / sizeof *ledger_op_names
		       ? ledger_op_names[op]
		       : "unknown";
}

bool ledger_op_parse(const char *name, enum ledger_op *out)
{
	for (unsigned i = 0; i < sizeof ledger_op_names / sizeof *ledger_op_names; i++)
		if (strcmp(ledger_op_names[i], name) == 0) {
			*out = (enum ledger_op)i;
			return true;
		}
	return false;
}
