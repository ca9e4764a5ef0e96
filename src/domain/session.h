/*
 * session.h - an off-ramp session's status and the state machine that
 * moves it (CONTRACT §5), as one table that code, docs and the event log
 * share.
 *
 *   pending_approval -> executing -> executed -> settled -> returned
 *   executing | executed -> failed
 *   pending_approval -> cancelled
 *
 * failed, cancelled and returned are terminal; settled changes only to
 * returned (a bank returns a paid-out transfer, CONTRACT §13). Each status also says what
 * must be true of the session's ledger hold, which verify-ledger checks.
 */
#ifndef OFFRAMP_DOMAIN_SESSION_H
#define OFFRAMP_DOMAIN_SESSION_H

#include <stdbool.h>
#include <stddef.h>

/* X(enum, "name", terminal, driven, hold): hold is what the session's
 * hold must be in that status; driven, whether the workers move it (the
 * store leases only those). */
enum session_hold { HOLD_PENDING, HOLD_POSTED, HOLD_VOIDED };

#define SESSION_STATUSES(X) \
	X(SESSION_PENDING_APPROVAL, "pending_approval", false, false, HOLD_PENDING) \
	X(SESSION_EXECUTING, "executing", false, true, HOLD_PENDING) \
	X(SESSION_EXECUTED, "executed", false, true, HOLD_PENDING) \
	X(SESSION_SETTLED, "settled", false, false, HOLD_POSTED) \
	X(SESSION_FAILED, "failed", true, false, HOLD_VOIDED) \
	X(SESSION_CANCELLED, "cancelled", true, false, HOLD_VOIDED) \
	X(SESSION_RETURNED, "returned", true, false, HOLD_POSTED)

enum session_status {
#define X(e, name, terminal, driven, hold) e,
	SESSION_STATUSES(X)
#undef X
	SESSION__COUNT
};

/* Events that move a session. */
#define SESSION_EVENTS(X) \
	X(SEV_APPROVE, "approve") \
	X(SEV_REJECT, "reject") \
	X(SEV_CANCEL, "cancel") \
	X(SEV_PAYOUT_SUBMITTED, "payout_submitted") \
	X(SEV_RAIL_CONFIRMED, "rail_confirmed") \
	X(SEV_STAGE_FAILED, "stage_failed") \
	X(SEV_BANK_RETURNED, "bank_returned")

enum session_event {
#define X(e, name) e,
	SESSION_EVENTS(X)
#undef X
	SEV__COUNT
};

const char *session_status_name(enum session_status s);
/* Parse a status name; false if unknown. */
bool session_status_parse(const char *name, enum session_status *out);
bool session_status_terminal(enum session_status s);
enum session_hold session_status_hold(enum session_status s);
/* The workers move it: the store leases, and counts as due, only these. */
bool session_status_driven(enum session_status s);
/* Its principal counts toward the client's daily and monthly limits:
 * every status whose hold is not voided (money still promised or paid). */
bool session_status_counts(enum session_status s);
/* The names of the statuses pred holds for, as SQL text: quoted, ", "
 * between, in table order ("'executing', 'executed'"), so a backend's
 * statements follow this table instead of restating it. Returns the
 * length written; 0 (and buf "") if it does not fit in cap. */
size_t session_status_sql_list(bool (*pred)(enum session_status), char *buf, size_t cap);
const char *session_event_name(enum session_event e);

/* The transition table: true and *next set when (from, ev) is allowed. */
bool session_transition(enum session_status from, enum session_event ev,
			enum session_status *next);

#endif
