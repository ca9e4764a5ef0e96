/*
 * session.c - the session state machine table.
 *
 * The table is the only place transitions are defined; any (state, event)
 * pair not listed is forbidden, terminal states have no rows.
 */
#include "domain/session.h"

#include <stdio.h>
#include <string.h>

struct session_row {
	const char *name;
	bool terminal, driven;
	enum session_hold hold;
};

static const struct session_row session_rows[SESSION__COUNT] = {
#define X(e, name, terminal, driven, hold) [e] = {name, terminal, driven, hold},
	SESSION_STATUSES(X)
#undef X
};

static const char *const session_event_names[SEV__COUNT] = {
#define X(e, name) [e] = name,
	SESSION_EVENTS(X)
#undef X
};

static const struct {
	enum session_status from;
	enum session_event ev;
	enum session_status to;
} session_edges[] = {
	{SESSION_PENDING_APPROVAL, SEV_APPROVE, SESSION_EXECUTING},
	{SESSION_PENDING_APPROVAL, SEV_REJECT, SESSION_CANCELLED},
	{SESSION_PENDING_APPROVAL, SEV_CANCEL, SESSION_CANCELLED},
	{SESSION_EXECUTING, SEV_PAYOUT_SUBMITTED, SESSION_EXECUTED},
	{SESSION_EXECUTING, SEV_STAGE_FAILED, SESSION_FAILED},
	{SESSION_EXECUTED, SEV_RAIL_CONFIRMED, SESSION_SETTLED},
	{SESSION_EXECUTED, SEV_STAGE_FAILED, SESSION_FAILED},
	/* The one edge out of settled: the bank returned the transfer; the
	 * hold stays posted and a reversal credits the principal back. */
	{SESSION_SETTLED, SEV_BANK_RETURNED, SESSION_RETURNED},
};

const char *session_status_name(enum session_status s)
{
	return (unsigned)s < SESSION__COUNT ? session_rows[s].name : "unknown";
}

bool session_status_parse(const char *name, enum session_status *out)
{
	for (int i = 0; i < SESSION__COUNT; i++)
		if (strcmp(session_rows[i].name, name) == 0) {
			*out = (enum session_status)i;
			return true;
		}
	return false;
}

bool session_status_terminal(enum session_status s)
{
	return (unsigned)s < SESSION__COUNT && session_rows[s].terminal;
}

enum session_hold session_status_hold(enum session_status s)
{
	return (unsigned)s < SESSION__COUNT ? session_rows[s].hold : HOLD_PENDING;
}

bool session_status_driven(enum session_status s)
{
	return (unsigned)s < SESSION__COUNT && session_rows[s].driven;
}

bool session_status_counts(enum session_status s)
{
	return (unsigned)s < SESSION__COUNT && session_rows[s].hold != HOLD_VOIDED;
}

size_t session_status_sql_list(bool (*pred)(enum session_status), char *buf, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return 0;
	buf[0] = '\0';
	for (int i = 0; i < SESSION__COUNT; i++) {
		if (!pred((enum session_status)i))
			continue;
		/* Status names are our own lower-case words: no quote to escape. */
		int w = snprintf(buf + n, cap - n, "%s'%s'", n ? ", " : "", session_rows[i].name);
		if (w < 0 || (size_t)w >= cap - n) {
			buf[0] = '\0';
			return 0;
		}
		n += (size_t)w;
	}
	return n;
}

const char *session_event_name(enum session_event e)
{
	return (unsigned)e < SEV__COUNT ? session_event_names[e] : "unknown";
}

bool session_transition(enum session_status from, enum session_event ev,
			enum session_status *next)
{
	for (size_t i = 0; i < sizeof session_edges / sizeof *session_edges; i++)
		if (session_edges[i].from == from && session_edges[i].ev == ev) {
			*next = session_edges[i].to;
			return true;
		}
	return false;
}
