/*
 * webhooks.c - webhook endpoints, the outbox and the dispatcher's pass
 * (docs/WEBHOOKS.md).
 *
 * Outbox: svc_outbox_event() runs inside the transaction that writes a
 * session's event (svc_session_save), and queues one delivery per
 * (endpoint, payload) with its body fixed then. So an acknowledged
 * transition always has its deliveries, and a retry sends the same bytes
 * under the same message id.
 *
 * Dispatch: a claim leases due deliveries fairly (per endpoint and tenant
 * caps, round-robin: docs/WEBHOOKS.md); the dispatcher sends them all at
 * once with no transaction open; each result is recorded (attempt and
 * outcome) in one transaction, provided the claim's lease still holds.
 *
 * Secrets at rest (secrets.c): an endpoint is written with its secrets
 * sealed (ep_put) and read back opened only where a secret is used (the
 * answer of an update or rotation, a claim's signatures: ep_get); lists
 * and existence checks leave them sealed, and a list never hands them on.
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"

#define HOOK_ATTEMPTS_MAX 16
#define HOOK_WAIT_CAP_MS (12LL * 3600 * 1000)
#define HOOK_ENDPOINTS_MAX 64 /* per tenant, for one event's fan-out */

/* ---- outbox ---------------------------------------------------------------- */

/* A tenant's endpoints, grown as rows arrive (most tenants have none or a
 * few, and this runs in every transition's transaction: no 64-slot
 * allocation up front). The caller frees rows. */
struct ep_list {
	struct store_hook_endpoint *rows;
	int n, cap;
	bool oom;
};

static void ep_row(void *arg, const void *row)
{
	struct ep_list *l = arg;
	if (l->n >= HOOK_ENDPOINTS_MAX || l->oom)
		return;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 4;
		if (cap > HOOK_ENDPOINTS_MAX)
			cap = HOOK_ENDPOINTS_MAX;
		struct store_hook_endpoint *r = realloc(l->rows, (size_t)cap * sizeof *r);
		if (!r) {
			l->oom = true;
			return;
		}
		l->rows = r;
		l->cap = cap;
	}
	l->rows[l->n++] = *(const struct store_hook_endpoint *)row;
}

/* The tenant's endpoints into l (rewritten: a re-run starts afresh). */
static enum store_status ep_load(struct store_tx *tx, const char *tenant_id, struct ep_list *l)
{
	l->n = 0;
	l->oom = false;
	enum store_status st = STORE_CALL(tx, hook_endpoint_list, tenant_id, ep_row, l);
	return st == STORE_OK && l->oom ? STORE_FAIL : st;
}

/* "*" or the type, as a JSON string, in the endpoint's canonical list. */
static bool wants(const struct store_hook_endpoint *ep, const char *type)
{
	char quoted[64];
	if (strstr(ep->event_types, "\"*\""))
		return true;
	snprintf(quoted, sizeof quoted, "\"%s\"", type);
	return strstr(ep->event_types, quoted) != NULL;
}

enum store_status svc_outbox_event(struct store_tx *tx, const struct service *svc,
				   const struct store_session *s, const struct store_event *ev)
{
	if (!svc->hook_payloads)
		return STORE_OK;
	struct ep_list l = {0};
	enum store_status st = ep_load(tx, s->tenant_id, &l);
	struct store_hook_endpoint *rows = l.rows;
	char *ext = NULL;
	struct svc_hook_payload std[SVC_HOOK_PAYLOADS_MAX], lumx[SVC_HOOK_PAYLOADS_MAX];
	int nstd = -1, nlumx = -1; /* rendered on first need */
	int64_t now = svc_now_ms();
	for (int i = 0; st == STORE_OK && i < l.n; i++) {
		const struct store_hook_endpoint *ep = &rows[i];
		if (!ep->enabled)
			continue;
		bool is_lumx = strcmp(ep->format, "lumx") == 0;
		if (is_lumx && nlumx < 0) {
			st = STORE_CALL(tx, ext_get, s->tenant_id, s->id, "lumx", &ext);
			if (st == STORE_NOT_FOUND)
				st = STORE_OK;
			if (st != STORE_OK)
				break;
			nlumx = svc->hook_payloads("lumx", s, ev, ext, lumx);
		} else if (!is_lumx && nstd < 0) {
			nstd = svc->hook_payloads("standard", s, ev, NULL, std);
		}
		if ((is_lumx ? nlumx : nstd) < 0) {
			/* Not rendered whole (out of memory): no event without
			 * its deliveries, the write fails. */
			st = STORE_FAIL;
			break;
		}
		struct svc_hook_payload *p = is_lumx ? lumx : std;
		int n = is_lumx ? nlumx : nstd;
		for (int k = 0; st == STORE_OK && k < n; k++) {
			if (!wants(ep, p[k].type))
				continue;
			struct store_hook_delivery d = {.attempts = 0, .next_attempt_ms = now,
							.created_at = svc_now(), .updated_at = svc_now()};
			if (!uuid_v7(d.id)) {
				st = STORE_FAIL;
				break;
			}
			memcpy(d.tenant_id, s->tenant_id, sizeof d.tenant_id);
			memcpy(d.endpoint_id, ep->id, sizeof d.endpoint_id);
			memcpy(d.event_id, ev->id, sizeof d.event_id);
			snprintf(d.message_id, sizeof d.message_id, "%s", p[k].message_id);
			snprintf(d.type, sizeof d.type, "%s", p[k].type);
			snprintf(d.status, sizeof d.status, "pending");
			d.body = p[k].body;
			st = STORE_CALL(tx, hook_delivery_insert, &d);
		}
	}
	for (int k = 0; k < nstd; k++)
		free(std[k].body);
	for (int k = 0; k < nlumx; k++)
		free(lumx[k].body);
	free(ext);
	free(rows);
	return st;
}

/* ---- endpoints -------------------------------------------------------------- */

/* Write ep (plaintext secrets) with its secrets sealed. */
static enum store_status ep_put(struct store_tx *tx, const struct service *s,
				const struct store_hook_endpoint *ep, bool insert)
{
	struct store_hook_endpoint sealed = *ep;
	if (!svc_hook_secrets_seal(s, &sealed))
		return STORE_FAIL;
	return insert ? STORE_CALL(tx, hook_endpoint_insert, &sealed)
		      : STORE_CALL(tx, hook_endpoint_update, &sealed);
}

/* Read an endpoint with its secrets opened; one that does not open is an
 * infrastructure failure (the operator's key is missing or wrong). */
static enum store_status ep_get(struct store_tx *tx, const struct service *s,
				const char *tenant_id, const char *id,
				struct store_hook_endpoint *out)
{
	enum store_status st = STORE_CALL(tx, hook_endpoint_get, tenant_id, id, out);
	if (st == STORE_OK && !svc_hook_secrets_open(s, out))
		return STORE_FAIL;
	return st;
}

struct hook_arg {
	const struct service *s;
	const struct auth *a;
	const char *url, *format, *types, *secret;
	struct store_hook_endpoint ep;
};

static enum store_status hook_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				     const void **result)
{
	struct hook_arg *c = arg;
	struct store_hook_endpoint *ep = &c->ep;
	/* A cap on endpoints per tenant: every one gets every event. */
	struct ep_list l = {0};
	enum store_status st = ep_load(tx, c->a->tenant_id, &l);
	free(l.rows);
	if (st != STORE_OK)
		return st;
	if (l.n >= HOOK_ENDPOINTS_MAX) {
		o->err = ERR_LIMIT_EXCEEDED;
		return STORE_OK;
	}
	memset(ep, 0, sizeof *ep);
	if (!uuid_v7(ep->id))
		return STORE_FAIL;
	memcpy(ep->tenant_id, c->a->tenant_id, sizeof ep->tenant_id);
	snprintf(ep->url, sizeof ep->url, "%s", c->url);
	snprintf(ep->format, sizeof ep->format, "%s", c->format);
	snprintf(ep->event_types, sizeof ep->event_types, "%s", c->types);
	ep->enabled = true;
	snprintf(ep->secret, sizeof ep->secret, "%s", c->secret);
	ep->created_at = ep->updated_at = svc_now();
	*result = ep;
	return ep_put(tx, c->s, ep, true);
}

void svc_hook_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
		     const char *url, const char *format, const char *event_types,
		     const char *secret, const struct svc_render *r, struct svc_answer *out)
{
	struct hook_arg c = {.s = s, .a = a, .url = url, .format = format, .types = event_types,
			     .secret = secret};
	svc_commit_sealed(s, a, idem, hook_effect, &c, r, out);
}

struct hook_op {
	const struct service *s;
	const struct auth *a;
	const char *id;
	int enabled;
	const char *types;
	const char *secret;
	int64_t grace_s;
	struct store_hook_endpoint *out;
	int op; /* 0 get, 1 update, 2 delete, 3 rotate */
};

static enum store_status hook_op_tx(struct store_tx *tx, void *arg)
{
	struct hook_op *o = arg;
	enum store_status st = ep_get(tx, o->s, o->a->tenant_id, o->id, o->out);
	if (st != STORE_OK || o->op == 0)
		return st;
	if (o->op == 2) {
		if ((st = STORE_CALL(tx, hook_delivery_cancel, o->id)) != STORE_OK)
			return st;
		return STORE_CALL(tx, hook_endpoint_delete, o->a->tenant_id, o->id);
	}
	struct store_hook_endpoint *ep = o->out;
	if (o->op == 1) {
		if (o->enabled >= 0) {
			ep->enabled = o->enabled != 0;
			snprintf(ep->disabled_reason, sizeof ep->disabled_reason, "%s",
				 ep->enabled ? "" : "disabled");
		}
		if (o->types)
			snprintf(ep->event_types, sizeof ep->event_types, "%s", o->types);
	} else {
		snprintf(ep->previous_secret, sizeof ep->previous_secret, "%s", ep->secret);
		ep->previous_until = svc_now() + o->grace_s;
		snprintf(ep->secret, sizeof ep->secret, "%s", o->secret);
	}
	ep->updated_at = svc_now();
	return ep_put(tx, o->s, ep, false);
}

static enum err hook_op(struct service *s, struct hook_op *o, bool write)
{
	enum store_status st = store_run(s->store, write, hook_op_tx, o);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

enum err svc_hook_get(struct service *s, const struct auth *a, const char *id,
		      struct store_hook_endpoint *out)
{
	struct hook_op o = {.s = s, .a = a, .id = id, .out = out, .op = 0};
	return hook_op(s, &o, false);
}

enum err svc_hook_update(struct service *s, const struct auth *a, const char *id, int enabled,
			 const char *event_types, struct store_hook_endpoint *out)
{
	struct hook_op o = {.s = s, .a = a, .id = id, .enabled = enabled, .types = event_types,
			    .out = out, .op = 1};
	return hook_op(s, &o, true);
}

enum err svc_hook_delete(struct service *s, const struct auth *a, const char *id)
{
	struct store_hook_endpoint ep;
	struct hook_op o = {.s = s, .a = a, .id = id, .out = &ep, .op = 2};
	return hook_op(s, &o, true);
}

/* Rotation is an effect on the idempotent write path: a retried rotation
 * (same key) replays the first answer instead of minting a second secret,
 * which would end the first secret's grace early. */
struct rotate_arg {
	const struct service *s;
	const struct auth *a;
	const char *id, *secret;
	int64_t grace_s;
	struct store_hook_endpoint ep;
};

static enum store_status rotate_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				       const void **result)
{
	struct rotate_arg *r = arg;
	struct hook_op op = {.s = r->s, .a = r->a, .id = r->id, .secret = r->secret, .grace_s = r->grace_s,
			     .out = &r->ep, .op = 3};
	enum store_status st = hook_op_tx(tx, &op);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		return STORE_OK;
	}
	*result = &r->ep;
	return st;
}

void svc_hook_rotate(struct service *s, const struct auth *a, const struct svc_idem *idem,
		     const char *id, const char *new_secret, int64_t grace_s,
		     const struct svc_render *r, struct svc_answer *out)
{
	struct rotate_arg ra = {.s = s, .a = a, .id = id, .secret = new_secret, .grace_s = grace_s};
	svc_commit_sealed(s, a, idem, rotate_effect, &ra, r, out);
}

struct hook_list {
	const struct auth *a;
	struct ep_list el;
};

static enum store_status hook_list_tx(struct store_tx *tx, void *arg)
{
	struct hook_list *l = arg;
	return ep_load(tx, l->a->tenant_id, &l->el);
}

enum err svc_hook_list(struct service *s, const struct auth *a,
		       void (*each)(void *arg, const struct store_hook_endpoint *), void *arg)
{
	struct hook_list l = {.a = a};
	enum store_status st = store_run(s->store, false, hook_list_tx, &l);
	for (int i = 0; st == STORE_OK && i < l.el.n; i++) {
		/* Sealed or not, a list has no use for them. */
		l.el.rows[i].secret[0] = l.el.rows[i].previous_secret[0] = '\0';
		each(arg, &l.el.rows[i]);
	}
	free(l.el.rows);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

struct attempt_list {
	const struct auth *a;
	const char *endpoint, *before;
	int limit;
	struct store_hook_attempt rows[LIMIT_PAGE_SIZE_MAX + 1];
	int n;
	bool missing;
};

static void attempt_row(void *arg, const void *row)
{
	struct attempt_list *l = arg;
	if (l->n < LIMIT_PAGE_SIZE_MAX + 1)
		l->rows[l->n++] = *(const struct store_hook_attempt *)row;
}

static enum store_status attempt_list_tx(struct store_tx *tx, void *arg)
{
	struct attempt_list *l = arg;
	struct store_hook_endpoint ep;
	l->n = 0;
	enum store_status st = STORE_CALL(tx, hook_endpoint_get, l->a->tenant_id, l->endpoint, &ep);
	if (st != STORE_OK)
		return st;
	return STORE_CALL(tx, hook_attempt_list, l->a->tenant_id, l->endpoint, l->before,
			  l->limit + 1, attempt_row, l);
}

enum err svc_hook_attempts(struct service *s, const struct auth *a, const char *endpoint_id,
			   const char *before_id, int limit,
			   void (*each)(void *arg, const struct store_hook_attempt *), void *arg,
			   bool *more)
{
	if (limit < 1 || limit > LIMIT_PAGE_SIZE_MAX)
		return ERR_INVALID_QUERY;
	struct attempt_list *l = calloc(1, sizeof *l);
	if (!l)
		return ERR_INTERNAL;
	l->a = a;
	l->endpoint = endpoint_id;
	l->before = before_id;
	l->limit = limit;
	enum store_status st = store_run(s->store, false, attempt_list_tx, l);
	if (st == STORE_OK) {
		*more = l->n > limit;
		for (int i = 0; i < l->n && i < limit; i++)
			each(arg, &l->rows[i]);
	}
	free(l);
	return st == STORE_OK ? ERR_OK : st == STORE_NOT_FOUND ? ERR_NOT_FOUND : svc_store_err(st);
}

struct resend_arg {
	const struct auth *a;
	const char *endpoint, *event;
	char *id;
	struct store_tx *tx;
	enum store_status st;
	int n;
	char seen[SVC_HOOK_PAYLOADS_MAX][64];
};

/* Re-queue one message of the event (each distinct message id once: a
 * Lumx failure is three messages). */
static void resend_row(void *arg, const void *row)
{
	struct resend_arg *r = arg;
	struct store_hook_delivery d = *(const struct store_hook_delivery *)row;
	if (r->st != STORE_OK)
		return;
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->seen[i], d.message_id) == 0)
			return;
	if (r->n >= SVC_HOOK_PAYLOADS_MAX || !uuid_v7(d.id)) {
		r->st = STORE_FAIL;
		return;
	}
	snprintf(r->seen[r->n++], sizeof r->seen[0], "%s", d.message_id);
	snprintf(d.status, sizeof d.status, "pending");
	d.attempts = 0;
	d.next_attempt_ms = svc_now_ms();
	d.lease_owner[0] = '\0';
	d.lease_until_ms = 0;
	d.last_status = 0;
	d.created_at = d.updated_at = svc_now();
	r->st = STORE_CALL(r->tx, hook_delivery_insert, &d);
	if (r->n == 1)
		memcpy(r->id, d.id, UUID_STR_LEN + 1);
}

static enum store_status resend_effect(struct store_tx *tx, void *arg, struct svc_outcome *o,
				       const void **result)
{
	struct resend_arg *r = arg;
	struct store_hook_endpoint ep;
	enum store_status st = STORE_CALL(tx, hook_endpoint_get, r->a->tenant_id, r->endpoint, &ep);
	if (st == STORE_NOT_FOUND) {
		o->err = ERR_NOT_FOUND;
		return STORE_OK;
	}
	if (st != STORE_OK)
		return st;
	r->tx = tx;
	r->st = STORE_OK;
	r->n = 0;
	r->id[0] = '\0';
	st = STORE_CALL(tx, hook_delivery_of_event, r->endpoint, r->event, resend_row, r);
	if (st != STORE_OK)
		return st;
	if (r->st != STORE_OK)
		return r->st;
	if (!r->n) {
		o->err = ERR_NOT_FOUND;
		o->field = SVC_FIELD_EVENT;
		return STORE_OK;
	}
	*result = r->id;
	return STORE_OK;
}

void svc_hook_resend(struct service *s, const struct auth *a, const struct svc_idem *idem,
		     const char *endpoint_id, const char *event_id, const struct svc_render *r,
		     struct svc_answer *out)
{
	char delivery[UUID_STR_LEN + 1] = "";
	struct resend_arg ra = {.a = a, .endpoint = endpoint_id, .event = event_id, .id = delivery};
	svc_commit(s, a, idem, resend_effect, &ra, ERR_OK, r, out);
}

/* ---- dispatch ----------------------------------------------------------------- */

struct claim {
	const struct service *s;
	int64_t now;
	const char *owner;
	int limit, n, leased;
	struct svc_hook_job *jobs;
	int64_t next_due;
	struct store_hook_endpoint ep; /* the last endpoint read */
	enum store_status st;
};

static void claim_row(void *arg, const void *row)
{
	struct claim *c = arg;
	if (c->leased >= c->limit)
		return;
	struct svc_hook_job *j = &c->jobs[c->leased];
	j->d = *(const struct store_hook_delivery *)row;
	j->d.body = strdup(j->d.body ? j->d.body : "");
	if (j->d.body)
		c->leased++;
	else
		c->st = STORE_FAIL;
}

/* Read each job's endpoint; a delivery whose endpoint is gone or disabled
 * ends cancelled (its lease was taken in this transaction). */
static enum store_status claim_endpoints(struct store_tx *tx, struct claim *c)
{
	c->n = 0;
	for (int i = 0; i < c->leased; i++) {
		struct svc_hook_job *j = &c->jobs[i];
		enum store_status st = STORE_OK;
		if (strcmp(c->ep.id, j->d.endpoint_id) != 0) {
			st = ep_get(tx, c->s, j->d.tenant_id, j->d.endpoint_id, &c->ep);
			if (st == STORE_NOT_FOUND)
				c->ep.id[0] = '\0';
			else if (st != STORE_OK)
				return st;
		}
		if (st == STORE_NOT_FOUND || !c->ep.enabled) {
			snprintf(j->d.status, sizeof j->d.status, "cancelled");
			j->d.updated_at = svc_now();
			if ((st = STORE_CALL(tx, hook_delivery_finish, &j->d, c->owner)) != STORE_OK)
				return st == STORE_NOT_FOUND ? STORE_FAIL : st;
			svc_hook_job_clear(j);
			continue;
		}
		/* Keep it, moved down over the cancelled ones (each body has
		 * one owner slot, so a failure here frees each once). */
		struct svc_hook_job *k = &c->jobs[c->n++];
		if (k != j) {
			k->d = j->d;
			j->d.body = NULL;
		}
		k->ep = c->ep;
		if (k->ep.previous_until <= svc_now())
			k->ep.previous_secret[0] = '\0';
	}
	c->leased = c->n;
	return STORE_OK;
}

static enum store_status claim_tx(struct store_tx *tx, void *arg)
{
	struct claim *c = arg;
	for (int i = 0; i < c->leased; i++)
		svc_hook_job_clear(&c->jobs[i]);
	c->n = c->leased = 0;
	c->next_due = 0;
	c->ep.id[0] = '\0';
	c->st = STORE_OK;
	enum store_status st = STORE_CALL(tx, hook_delivery_claim, c->now, c->owner,
					  c->now + LIMIT_WEBHOOK_LEASE_MS, c->limit,
					  LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT,
					  LIMIT_WEBHOOK_TENANT_IN_FLIGHT, claim_row, c);
	if (st == STORE_OK)
		st = c->st;
	if (st == STORE_OK)
		st = claim_endpoints(tx, c);
	if (st != STORE_OK)
		return st;
	st = STORE_CALL(tx, hook_delivery_next_due, &c->next_due);
	if (st == STORE_NOT_FOUND)
		c->next_due = 0;
	return st == STORE_NOT_FOUND ? STORE_OK : st;
}

static enum store_status next_due_tx(struct store_tx *tx, void *arg)
{
	return STORE_CALL(tx, hook_delivery_next_due, (int64_t *)arg);
}

int svc_hook_claim(struct service *s, const char *owner, int max, struct svc_hook_job *jobs,
		   int64_t *next_due_ms)
{
	*next_due_ms = 0;
	if (max < 1)
		return 0;
	if (max > LIMIT_WEBHOOK_IN_FLIGHT)
		max = LIMIT_WEBHOOK_IN_FLIGHT;
	struct claim *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	*c = (struct claim){.s = s, .now = svc_now_ms(), .owner = owner, .limit = max, .jobs = jobs};
	/* A read first: when nothing is due the write lock is not taken. */
	enum store_status st = store_run(s->store, false, next_due_tx, &c->next_due);
	if (st == STORE_NOT_FOUND || (st == STORE_OK && c->next_due > c->now)) {
		*next_due_ms = st == STORE_OK ? c->next_due : 0;
		free(c);
		return 0;
	}
	if (st == STORE_OK)
		st = store_run(s->store, true, claim_tx, c);
	int n = c->n;
	if (st != STORE_OK) {
		for (int i = 0; i < c->leased; i++)
			svc_hook_job_clear(&jobs[i]);
		n = -1;
	}
	*next_due_ms = st == STORE_OK ? c->next_due : 0;
	free(c);
	return n;
}

void svc_hook_job_clear(struct svc_hook_job *job)
{
	free(job->d.body);
	job->d.body = NULL;
}

struct finish {
	struct store_hook_delivery *d;
	struct store_hook_attempt at;
	bool gone; /* 410: disable the endpoint */
	bool lost; /* the lease is no longer this job's */
};

static enum store_status finish_tx(struct store_tx *tx, void *arg)
{
	struct finish *f = arg;
	f->lost = false;
	enum store_status st = STORE_CALL(tx, hook_delivery_finish, f->d, f->d->lease_owner);
	if (st == STORE_NOT_FOUND) {
		/* Another claim owns it now, or it was cancelled: its state is
		 * not ours to write, but the attempt happened. */
		f->lost = true;
		return STORE_CALL(tx, hook_attempt_insert, &f->at);
	}
	if (st != STORE_OK || (st = STORE_CALL(tx, hook_attempt_insert, &f->at)) != STORE_OK)
		return st;
	if (f->gone) {
		struct store_hook_endpoint ep;
		st = STORE_CALL(tx, hook_endpoint_get, f->d->tenant_id, f->d->endpoint_id, &ep);
		if (st == STORE_NOT_FOUND)
			return STORE_OK;
		if (st != STORE_OK)
			return st;
		ep.enabled = false;
		snprintf(ep.disabled_reason, sizeof ep.disabled_reason, "gone");
		ep.updated_at = svc_now();
		if ((st = STORE_CALL(tx, hook_endpoint_update, &ep)) != STORE_OK)
			return st;
		return STORE_CALL(tx, hook_delivery_cancel, ep.id);
	}
	return STORE_OK;
}

/* base * 2^(attempts-1), jittered by up to ±20%, at most 12 h. */
static int64_t hook_wait_ms(const struct service *s, int attempts)
{
	int64_t w = s->hook_retry_base_ms > 0 ? s->hook_retry_base_ms : 30000;
	for (int i = 1; i < attempts && w < HOOK_WAIT_CAP_MS; i++)
		w *= 2;
	if (w > HOOK_WAIT_CAP_MS)
		w = HOOK_WAIT_CAP_MS;
	unsigned char r = 0;
	crypto_random(&r, 1);
	return w + w * ((int)r - 128) / 640; /* ±20% */
}

enum svc_hook_outcome svc_hook_complete(struct service *s, struct svc_hook_job *job, int status,
					const char *error, int64_t duration_ms)
{
	struct store_hook_delivery *d = &job->d;
	struct finish f = {.d = d};
	d->attempts++;
	d->last_status = status;
	f.at = (struct store_hook_attempt){.attempt = d->attempts, .status_code = status,
					   .duration_ms = duration_ms, .created_at = svc_now()};
	if (!uuid_v7(f.at.id)) {
		svc_hook_job_clear(job);
		return SVC_HOOK_STORE_FAILED; /* the lease runs out; it is sent again */
	}
	memcpy(f.at.tenant_id, d->tenant_id, sizeof f.at.tenant_id);
	memcpy(f.at.endpoint_id, d->endpoint_id, sizeof f.at.endpoint_id);
	memcpy(f.at.delivery_id, d->id, sizeof f.at.delivery_id);
	memcpy(f.at.event_id, d->event_id, sizeof f.at.event_id);
	snprintf(f.at.error, sizeof f.at.error, "%s", error ? error : "");
	if (status >= 200 && status < 300) {
		snprintf(d->status, sizeof d->status, "delivered");
	} else if (status == 410) {
		snprintf(d->status, sizeof d->status, "cancelled");
		f.gone = true;
	} else if (d->attempts >= HOOK_ATTEMPTS_MAX) {
		snprintf(d->status, sizeof d->status, "failed");
	} else {
		d->next_attempt_ms = svc_now_ms() + hook_wait_ms(s, d->attempts);
	}
	d->updated_at = svc_now();
	enum store_status st = store_run(s->store, true, finish_tx, &f);
	svc_hook_job_clear(job);
	if (st != STORE_OK) {
		log_error("webhooks: delivery %s: cannot record the outcome: %s", d->id,
			  store_status_name(st));
		return SVC_HOOK_STORE_FAILED;
	}
	if (f.lost) {
		log_warn("webhooks: delivery %s: lease lost before its outcome was recorded", d->id);
		return SVC_HOOK_LEASE_LOST;
	}
	return SVC_HOOK_RECORDED;
}

static enum store_status hook_recover_tx(struct store_tx *tx, void *arg)
{
	return tx->store->ops->hook_delivery_release_leases(tx, arg);
}

enum err svc_hook_recover(struct service *s, const char *node)
{
	char prefix[LIMIT_NODE_ID_BYTES + 2];
	snprintf(prefix, sizeof prefix, "%s/", node);
	enum store_status st = store_run(s->store, true, hook_recover_tx, prefix);
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}
