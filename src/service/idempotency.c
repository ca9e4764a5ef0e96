/*
 * idempotency.c - CONTRACT §7, and the one write path every use case
 * takes (svc_commit).
 *
 * Concurrency: the idempotency record is inserted last in the write
 * transaction, with its answer, under the (tenant, endpoint, key) unique
 * key: one statement, where inserting it first and filling in the answer
 * afterwards took three on the single writer. Of two concurrent requests
 * with one key, exactly one insert succeeds; the other gets STORE_EXISTS
 * (SQLite serialises writers, so it sees the first's record; PostgreSQL
 * blocks on the unique index until the first commits), rolls back
 * whatever its effect did, and replays the stored answer, whatever that
 * effect decided. So there is never a second effect, and never a
 * check-then-insert race. The record is inserted before a refusal that
 * is not kept rolls everything back, so a racing duplicate still
 * replays rather than answer that refusal.
 *
 * Kept answers: success and the client's own repeatable faults
 * (err_kept: malformed input, absent resources, valid but not
 * executable). Others (auth, conflicts, preconditions, rate limits,
 * infrastructure) are not kept, so the client may retry them with the
 * same key.
 *
 * Answers that carry a secret (svc_commit_sealed: a webhook endpoint's
 * creation and rotation) are kept sealed (secrets.c), bound to their
 * tenant, endpoint and key; a replay opens them, so the bytes are the same.
 *
 * Outcomes are typed (struct svc_outcome): the render callback alone turns
 * them into a surface's status, JSON pointer and details; what it renders
 * is stored as it is, so a replay is the same bytes.
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

int64_t svc_now(void) { return (int64_t)(clock_now_ms() / 1000); }

static const char *const svc_field_names[SVC_FIELD__COUNT] = {
	[SVC_FIELD_NONE] = "",
#define X(e, name) [e] = name,
	SVC_FIELDS(X)
#undef X
};

const char *svc_field_name(enum svc_field f)
{
	return (unsigned)f < SVC_FIELD__COUNT ? svc_field_names[f] : "";
}

void svc_answer_clear(struct svc_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof *a);
}

enum err svc_store_err(enum store_status st)
{
	switch (st) {
	case STORE_RETRY: return ERR_UNAVAILABLE; /* contended past the retries */
	case STORE_UNAVAILABLE: return ERR_DATABASE_UNAVAILABLE;
	default: return ERR_INTERNAL;
	}
}


struct replay_arg {
	const struct auth *a;
	const struct svc_idem *idem;
	struct store_idem rec;
};

static enum store_status replay_tx(struct store_tx *tx, void *arg)
{
	struct replay_arg *r = arg;
	return STORE_CALL(tx, idem_get, r->a->tenant_id, r->idem->endpoint, r->idem->key,
			  svc_now(), &r->rec);
}

enum err svc_idem_replay(struct service *s, const struct auth *a, const struct svc_idem *idem,
			 struct svc_answer *out)
{
	struct replay_arg r = {.a = a, .idem = idem};
	enum store_status st = store_run(s->store, false, replay_tx, &r);
	if (st == STORE_NOT_FOUND)
		return ERR_NOT_FOUND;
	if (st != STORE_OK) {
		store_idem_clear(&r.rec);
		return svc_store_err(st);
	}
	enum err e = ERR_OK;
	if (strcmp(r.rec.request_hash, idem->request_hash) != 0) {
		e = ERR_IDEMPOTENCY_KEY_REUSED;
	} else if (r.rec.status == 0) {
		/* Only reachable by a backend that shows uncommitted rows. */
		e = ERR_IDEMPOTENCY_KEY_IN_FLIGHT;
	} else if (svc_sealed_bytes(r.rec.body, r.rec.body_len)) {
		/* A kept answer is JSON: this prefix is one sealed by
		 * svc_commit_sealed. */
		char *plain = NULL;
		size_t n = 0;
		enum svc_unseal u = svc_answer_open(s, a, idem, r.rec.body, r.rec.body_len, &plain, &n);
		if (u == SVC_UNSEAL_CURRENT || u == SVC_UNSEAL_OLD) {
			svc_answer_clear(out);
			out->status = r.rec.status;
			out->body = plain;
			out->len = n;
			out->cached = true;
		} else {
			log_error("service: a kept answer (%s) does not open: its key is not in the "
				  "ring (--old-secret-key-file)",
				  idem->endpoint);
			e = ERR_INTERNAL;
		}
	} else {
		svc_answer_clear(out);
		out->status = r.rec.status;
		out->body = r.rec.body;
		out->len = r.rec.body_len;
		out->cached = true;
		r.rec.body = NULL;
	}
	store_idem_clear(&r.rec);
	return e;
}

struct commit_arg {
	const struct service *s;
	bool seal; /* keep the answer sealed (it carries a secret) */
	const struct auth *a;
	const struct svc_idem *idem;
	svc_effect_fn effect;
	void *effect_arg;
	enum err preset;
	const struct svc_render *r;
	struct svc_answer *out;
};

static enum store_status commit_tx(struct store_tx *tx, void *arg)
{
	struct commit_arg *c = arg;
	bool keyed = c->idem && c->idem->key;
	enum store_status st;

	svc_answer_clear(c->out); /* a retried run starts afresh */
	struct svc_outcome o = {.err = c->preset};
	const void *result = NULL;
	if (c->effect) {
		o.err = ERR_OK;
		st = c->effect(tx, c->effect_arg, &o, &result);
		/* A unique key taken inside the effect (two first uses racing)
		 * is contention, not this request's idempotency conflict. */
		if (st == STORE_EXISTS)
			return STORE_RETRY;
		if (st != STORE_OK)
			return st;
	}
	enum err e = o.err;
	c->r->fn(c->r->ctx, &o, e == ERR_OK ? result : NULL, c->out);
	if (!c->out->body)
		return STORE_FAIL;
	if (keyed) {
		int64_t now = svc_now();
		struct store_idem rec = {.status = c->out->status, .body = c->out->body,
					 .body_len = c->out->len, .created_at = now,
					 .expires_at = now + LIMIT_IDEMPOTENCY_TTL_S};
		memcpy(rec.tenant_id, c->a->tenant_id, sizeof rec.tenant_id);
		snprintf(rec.endpoint, sizeof rec.endpoint, "%s", c->idem->endpoint);
		snprintf(rec.key, sizeof rec.key, "%s", c->idem->key);
		memcpy(rec.request_hash, c->idem->request_hash, sizeof rec.request_hash);
		char *sealed = NULL;
		if (c->seal && c->s->secret_keys) {
			if (!(sealed = svc_answer_seal(c->s, c->a, c->idem, c->out->body, c->out->len,
						       &rec.body_len)))
				return STORE_FAIL;
			rec.body = sealed;
		}
		/* rec.body is borrowed from out (or sealed). STORE_EXISTS: the
		 * key is taken; replay after rollback. */
		st = STORE_CALL(tx, idem_insert, &rec);
		free(sealed);
		if (st != STORE_OK)
			return st;
		if (!err_kept(e))
			return STORE_ABORT;
		return STORE_OK;
	}
	return e == ERR_OK ? STORE_OK : STORE_ABORT;
}

static void commit(struct service *s, bool seal, const struct auth *a,
		   const struct svc_idem *idem, svc_effect_fn effect, void *effect_arg,
		   enum err preset, const struct svc_render *r, struct svc_answer *out)
{
	struct commit_arg c = {s, seal, a, idem, effect, effect_arg, preset, r, out};
	enum store_status st = store_run(s->store, true, commit_tx, &c);
	if (st == STORE_OK || st == STORE_ABORT)
		return;
	svc_answer_clear(out);
	enum err e = svc_store_err(st);
	if (st == STORE_EXISTS && idem && idem->key) {
		e = svc_idem_replay(s, a, idem, out);
		if (e == ERR_OK)
			return;
		if (e == ERR_NOT_FOUND) /* expired between the two reads */
			e = ERR_IDEMPOTENCY_KEY_IN_FLIGHT;
	} else {
		log_error("service: write transaction failed: %s", store_status_name(st));
	}
	r->fn(r->ctx, &(struct svc_outcome){.err = e}, NULL, out);
}

void svc_commit(struct service *s, const struct auth *a, const struct svc_idem *idem,
		svc_effect_fn effect, void *effect_arg, enum err preset,
		const struct svc_render *r, struct svc_answer *out)
{
	commit(s, false, a, idem, effect, effect_arg, preset, r, out);
}

void svc_commit_sealed(struct service *s, const struct auth *a, const struct svc_idem *idem,
		       svc_effect_fn effect, void *effect_arg, const struct svc_render *r,
		       struct svc_answer *out)
{
	commit(s, true, a, idem, effect, effect_arg, ERR_OK, r, out);
}

void svc_reject(struct service *s, const struct auth *a, const struct svc_idem *idem,
		enum err e, const struct svc_render *r, struct svc_answer *out)
{
	bool keyed = idem && idem->key;
	if (keyed && err_kept(e)) {
		svc_commit(s, a, idem, NULL, NULL, e, r, out);
		return;
	}
	svc_answer_clear(out);
	r->fn(r->ctx, &(struct svc_outcome){.err = e}, NULL, out);
}
