/*
 * approvals.c - approval policies, approving and rejecting sessions, and
 * cancelling them (CONTRACT §5, docs/LIFECYCLE.md).
 *
 * Each decision is one transaction: the approval record, the session's
 * transition (through the table in domain/session.c), its ledger effect
 * (a rejected or cancelled session's hold is voided) and its event.
 * The initiator of a session can never approve it (four-eyes rule).
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/session.h"

/* Move a pending_approval session by ev; fills *e on a refused move. */
static enum store_status decide_session(struct store_tx *tx, const struct service *svc,
					struct store_session *s, enum session_event ev,
					const struct auth *by, const char *reason, enum err *e)
{
	enum session_status from, to;
	if (!session_status_parse(s->status, &from) || !session_transition(from, ev, &to)) {
		*e = ERR_INVALID_STATE_TRANSITION;
		return STORE_OK;
	}
	int64_t version = s->version;
	snprintf(s->status, sizeof s->status, "%s", session_status_name(to));
	if (to == SESSION_EXECUTING) {
		snprintf(s->stage, sizeof s->stage, "stablecoin_transfer");
		s->next_run_ms = svc_now_ms() + svc->step_ms;
		memcpy(s->approved_by_id, by->principal_id, sizeof s->approved_by_id);
		memcpy(s->approved_by_kind, by->principal_kind, sizeof s->approved_by_kind);
	} else {
		snprintf(s->failure_reason, sizeof s->failure_reason, "%s", reason ? reason : "");
		enum store_status st = svc_hold_release(tx, s);
		if (st != STORE_OK)
			return st;
	}
	char type[48];
	snprintf(type, sizeof type, "off_ramp_session.%s", s->status);
	enum store_status st = svc_session_save(tx, svc, s, version, type);
	return st == STORE_NOT_FOUND ? STORE_RETRY : st;
}

/* ---- cancel ---------------------------------------------------------------- */

bool svc_match_ok(const struct svc_match *m, int64_t version)
{
	if (m->any)
		return true;
	for (int i = 0; i < m->n; i++)
		if (m->versions[i] == version)
			return true;
	return false;
}

int64_t svc_approval_version(const struct store_approval *ap)
{
	return strcmp(ap->status, "pending") == 0 ? 1 : 2;
}

struct cancel_arg {
	const struct service *svc;
	const struct auth *a;
	const char *id;
	const struct svc_match *match;
	struct store_session s;
};

static enum store_status cancel_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				       const void **result)
{
	struct cancel_arg *c = arg;
	enum store_status st = STORE_CALL(tx, session_get, c->a->tenant_id, c->id, &c->s);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	if (!svc_match_ok(c->match, c->s.version)) {
		o->err = ERR_PRECONDITION_FAILED;
		return STORE_OK;
	}
	if (c->s.approval_id[0]) {
		struct store_approval ap;
		st = STORE_CALL(tx, approval_get, c->a->tenant_id, c->s.approval_id, &ap);
		if (st != STORE_OK)
			return st == STORE_NOT_FOUND ? STORE_FAIL : st;
		if (strcmp(ap.status, "pending") == 0) {
			snprintf(ap.status, sizeof ap.status, "cancelled");
			ap.decided_at = svc_now();
			memcpy(ap.decided_by_id, c->a->principal_id, sizeof ap.decided_by_id);
			memcpy(ap.decided_by_kind, c->a->principal_kind, sizeof ap.decided_by_kind);
			/* Written only if the session move below succeeds: the
			 * transaction rolls back otherwise. */
			enum session_status from, to;
			if (session_status_parse(c->s.status, &from) &&
			    session_transition(from, SEV_CANCEL, &to) &&
			    (st = STORE_CALL(tx, approval_update, &ap)) != STORE_OK)
				return st;
		}
	}
	st = decide_session(tx, c->svc, &c->s, SEV_CANCEL, c->a, NULL, &o->err);
	*result = &c->s;
	return st;
}

void svc_session_cancel(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const char *session_id, const struct svc_match *match,
			const struct svc_render *r, struct svc_answer *out)
{
	struct cancel_arg c = {.svc = s, .a = a, .id = session_id, .match = match};
	svc_commit(s, a, idem, cancel_effect, &c, ERR_OK, r, out);
}

/* ---- approve / reject ---------------------------------------------------- */

struct decide_arg {
	const struct service *svc;
	const struct auth *a;
	const char *id;
	bool approve;
	const struct svc_match *match;
	struct store_approval ap;
};

static enum store_status decide_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				       const void **result)
{
	struct decide_arg *d = arg;
	enum store_status st = STORE_CALL(tx, approval_get, d->a->tenant_id, d->id, &d->ap);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	/* The precondition first: a client deciding on a stale view is told
	 * so, whoever it is. */
	if (!svc_match_ok(d->match, svc_approval_version(&d->ap))) {
		o->err = ERR_PRECONDITION_FAILED;
		return STORE_OK;
	}
	if (strcmp(d->ap.initiator_id, d->a->principal_id) == 0) {
		o->err = ERR_INITIATOR_CANNOT_APPROVE;
		return STORE_OK;
	}
	if (strcmp(d->ap.status, "pending") != 0) {
		o->err = ERR_INVALID_STATE_TRANSITION;
		return STORE_OK;
	}
	struct store_session s;
	st = STORE_CALL(tx, session_get, d->a->tenant_id, d->ap.session_id, &s);
	if (st != STORE_OK)
		return st == STORE_NOT_FOUND ? STORE_FAIL : st;
	st = decide_session(tx, d->svc, &s, d->approve ? SEV_APPROVE : SEV_REJECT, d->a,
			    d->approve ? NULL : "approval_rejected", &o->err);
	if (st != STORE_OK || o->err)
		return st;
	snprintf(d->ap.status, sizeof d->ap.status, "%s", d->approve ? "approved" : "rejected");
	memcpy(d->ap.decided_by_id, d->a->principal_id, sizeof d->ap.decided_by_id);
	memcpy(d->ap.decided_by_kind, d->a->principal_kind, sizeof d->ap.decided_by_kind);
	d->ap.decided_at = svc_now();
	if ((st = STORE_CALL(tx, approval_update, &d->ap)) != STORE_OK)
		return st;
	*result = &d->ap;
	return STORE_OK;
}

void svc_approval_decide(struct service *s, const struct auth *a, const struct svc_idem *idem,
			 const char *approval_id, bool approve, const struct svc_match *match,
			 const struct svc_render *r, struct svc_answer *out)
{
	struct decide_arg d = {.svc = s, .a = a, .id = approval_id, .approve = approve,
			       .match = match};
	svc_commit(s, a, idem, decide_effect, &d, ERR_OK, r, out);
}

struct approval_get_arg {
	const struct auth *a;
	const char *id;
	struct store_approval *out;
};

static enum store_status approval_get_tx(struct store_tx *tx, void *arg)
{
	struct approval_get_arg *g = arg;
	return STORE_CALL(tx, approval_get, g->a->tenant_id, g->id, g->out);
}

enum err svc_approval_get(struct service *s, const struct auth *a, const char *id,
			  struct store_approval *out)
{
	struct approval_get_arg g = {a, id, out};
	enum store_status st = store_run(s->store, false, approval_get_tx, &g);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

struct approval_list_arg {
	const struct auth *a;
	const char *status, *before;
	int limit;
	struct store_approval rows[LIMIT_PAGE_SIZE_MAX + 1];
	int n;
};

static void approval_row(void *arg, const void *row)
{
	struct approval_list_arg *l = arg;
	if (l->n < LIMIT_PAGE_SIZE_MAX + 1)
		l->rows[l->n++] = *(const struct store_approval *)row;
}

static enum store_status approval_list_tx(struct store_tx *tx, void *arg)
{
	struct approval_list_arg *l = arg;
	l->n = 0;
	return STORE_CALL(tx, approval_list, l->a->tenant_id, l->status, l->before, l->limit + 1,
			  approval_row, l);
}

enum err svc_approval_list(struct service *s, const struct auth *a, const char *status,
			   const char *before_id, int limit,
			   void (*each)(void *arg, const struct store_approval *), void *arg,
			   bool *more)
{
	if (limit < 1 || limit > LIMIT_PAGE_SIZE_MAX)
		return ERR_INVALID_QUERY;
	struct approval_list_arg *l = calloc(1, sizeof *l);
	if (!l)
		return ERR_INTERNAL;
	*l = (struct approval_list_arg){.a = a, .status = status, .before = before_id, .limit = limit};
	enum store_status st = store_run(s->store, false, approval_list_tx, l);
	if (st == STORE_OK) {
		*more = l->n > limit;
		for (int i = 0; i < l->n && i < limit; i++)
			each(arg, &l->rows[i]);
	}
	free(l);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

/* ---- policy ---------------------------------------------------------------- */

struct policy_arg {
	const struct auth *a;
	enum currency cur;
	int64_t threshold;
	struct store_policy p;
};

static enum store_status policy_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				       const void **result)
{
	struct policy_arg *c = arg;
	memset(&c->p, 0, sizeof c->p);
	memcpy(c->p.tenant_id, c->a->tenant_id, sizeof c->p.tenant_id);
	snprintf(c->p.threshold_currency, sizeof c->p.threshold_currency, "%s",
		 money_currency_code(c->cur));
	c->p.threshold_minor = c->threshold;
	c->p.updated_at = svc_now();
	*result = &c->p;
	return STORE_CALL(tx, policy_put, &c->p);
}

void svc_policy_put(struct service *s, const struct auth *a, const struct svc_idem *idem,
		    enum currency cur, int64_t threshold_minor, const struct svc_render *r,
		    struct svc_answer *out)
{
	struct policy_arg c = {.a = a, .cur = cur, .threshold = threshold_minor};
	svc_commit(s, a, idem, policy_effect, &c, ERR_OK, r, out);
}

struct policy_get_arg {
	const struct auth *a;
	struct store_policy *out;
};

static enum store_status policy_get_tx(struct store_tx *tx, void *arg)
{
	struct policy_get_arg *g = arg;
	return STORE_CALL(tx, policy_get, g->a->tenant_id, g->out);
}

enum err svc_policy_get(struct service *s, const struct auth *a, struct store_policy *out)
{
	struct policy_get_arg g = {a, out};
	enum store_status st = store_run(s->store, false, policy_get_tx, &g);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}
