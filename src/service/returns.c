/*
 * returns.c - a bank returns a paid-out transfer (CONTRACT §13,
 * docs/RAILS.md "Returns").
 *
 * A settled session's hold was posted: principal to the tenant's
 * `payouts` account, fees to `fees` (and `partner_fees`). A return moves
 * the session settled -> returned (the one edge out of settled, in
 * domain/session.c) and, in the same transaction, credits the principal
 * back to the client account with one posted `session_reversal` transfer
 * from `payouts`. Fees stay where they are: the service was performed,
 * and the bank that returns the transfer does not refund its own
 * charges either (docs/RAILS.md). The hold stays posted, so verify-ledger
 * checks a returned session as a settled one plus exactly one reversal of
 * its principal (service/audit.c).
 *
 * Idempotent: a session already returned answers SVC_RETURN_ALREADY and
 * writes nothing, so a report read twice (or after a crash between its
 * effects and its move to processed/) changes nothing the second time.
 */
#include "service/internal.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "domain/session.h"

struct return_arg {
	const struct service *svc;
	const char *tenant_id, *session_id, *reason;
	enum svc_return_outcome out;
};

static enum store_status reverse(struct store_tx *tx, const struct store_session *s)
{
	struct store_account client, payouts;
	enum store_status st = STORE_CALL(tx, account_get, s->tenant_id, s->account_id, &client);
	if (st != STORE_OK)
		return st == STORE_NOT_FOUND ? STORE_FAIL : st;
	if ((st = svc_system_account(tx, s->tenant_id, "payouts", &payouts)) != STORE_OK)
		return st;
	char id[UUID_STR_LEN + 1];
	enum ledger_result lr;
	st = svc_ledger_move(tx, LEDGER_OP_POSTED, &payouts, &client, money_currency(s->currency),
			     s->principal_minor, NULL, s->id, "session_reversal", svc_now(), id, &lr);
	if (st == STORE_OK && lr != LEDGER_OK) {
		log_error("returns: session %s: ledger refused the reversal (%d)", s->id, (int)lr);
		return STORE_FAIL;
	}
	return st;
}

static enum store_status return_tx(struct store_tx *tx, void *arg)
{
	struct return_arg *a = arg;
	struct store_session s;
	enum store_status st = STORE_CALL(tx, session_get, a->tenant_id, a->session_id, &s);
	if (st == STORE_NOT_FOUND) {
		a->out = SVC_RETURN_REFUSED;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	enum session_status cur, next;
	if (!session_status_parse(s.status, &cur))
		return STORE_FAIL;
	if (cur == SESSION_RETURNED) {
		a->out = SVC_RETURN_ALREADY;
		return STORE_OK;
	}
	if (!session_transition(cur, SEV_BANK_RETURNED, &next)) {
		/* Not settled yet (the booking is still on its way through
		 * the workers) or never paid (failed, cancelled). */
		a->out = session_status_driven(cur) ? SVC_RETURN_NOT_YET : SVC_RETURN_REFUSED;
		return STORE_OK;
	}
	if ((st = reverse(tx, &s)) != STORE_OK)
		return st;
	int64_t version = s.version;
	snprintf(s.status, sizeof s.status, "%s", session_status_name(next));
	snprintf(s.failure_reason, sizeof s.failure_reason, "bank_returned");
	snprintf(s.failure_detail, sizeof s.failure_detail, "%s", a->reason ? a->reason : "");
	s.next_run_ms = 0;
	st = svc_session_save(tx, a->svc, &s, version, "off_ramp_session.returned");
	if (st == STORE_OK)
		a->out = SVC_RETURNED;
	return st;
}

enum err svc_session_return(struct service *s, const char *tenant_id, const char *session_id,
			    const char *reason, enum svc_return_outcome *out)
{
	struct return_arg a = {.svc = s, .tenant_id = tenant_id, .session_id = session_id,
			       .reason = reason, .out = SVC_RETURN_REFUSED};
	enum store_status st = store_run(s->store, true, return_tx, &a);
	*out = a.out;
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}
