/*
 * sim_rail.c - the simulator's rail: the outside world, answering as the
 * seed decides, and keeping the book the auditor reads.
 *
 * Each idempotency key is one request to the world. Its first call
 * decides what happens (refused, no answer, done but the answer lost,
 * done); later calls with the key answer what was decided (a duplicate
 * answer) or are lost again, and never do anything twice: that is the
 * contract of rail.h, which the service relies on. What the service owes
 * the rail in return (keys of the session's own, the same amount under a
 * key, no status question for a payout never submitted) is checked here
 * and reported in violation.
 *
 * A payout is SENT when made, and the bank decides it later: at a status
 * question (odds.decide) or when the simulator delivers the answer
 * (sim_rail_deliver). Until then a status question answers PENDING.
 */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int64_t sim_rng_range(struct sim_rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
	return span == 0 ? (int64_t)sim_rng_next(r) : lo + (int64_t)(sim_rng_next(r) % span);
}

bool sim_rng_chance(struct sim_rng *r, int permille)
{
	return (int)(sim_rng_next(r) % 1000) < permille;
}

static void violation(struct sim_rail *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct sim_rail *r, const char *fmt, ...)
{
	if (r->violation[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->violation, sizeof r->violation, fmt, ap);
	va_end(ap);
}

/* The key a step of session_id must use. */
static bool key_is(const struct rail_call *c, const char *suffix)
{
	char want[96];
	snprintf(want, sizeof want, "%s:%s", c->session_id, suffix);
	return strcmp(c->idempotency_key, want) == 0;
}

static struct sim_chain *chain_entry(struct sim_rail *r, const char *key)
{
	for (int i = 0; i < r->nchain; i++)
		if (strcmp(r->chain[i].key, key) == 0)
			return &r->chain[i];
	if (r->nchain == SIM_PAYOUTS_MAX)
		return NULL;
	struct sim_chain *e = &r->chain[r->nchain++];
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	return e;
}

static struct sim_payout *payout_entry(struct sim_rail *r, const char *key)
{
	for (int i = 0; i < r->npay; i++)
		if (strcmp(r->pay[i].key, key) == 0)
			return &r->pay[i];
	return NULL;
}

static void answer(struct rail_result *out, enum rail_outcome o, const char *reason)
{
	memset(out, 0, sizeof *out);
	out->outcome = o;
	snprintf(out->reason, sizeof out->reason, "%s", reason);
}

/* Maybe let the world move while this call waits (never from a call the
 * world itself made). */
static void maybe_late(struct sim_rail *r, enum rail_kind kind)
{
	if (r->depth > 0 || !r->during || !sim_rng_chance(&r->rng, r->odds.late))
		return;
	r->late_answers++;
	r->depth++;
	r->during(r->during_arg, kind, false);
	r->depth--;
}

static void sim_chain_transfer(struct rail *rail, const struct rail_call *c,
			       struct rail_result *out)
{
	struct sim_rail *r = (struct sim_rail *)rail;
	r->calls++;
	if (!key_is(c, "chain"))
		violation(r, "chain transfer under key %s for session %s", c->idempotency_key,
			  c->session_id);
	struct sim_chain *e = chain_entry(r, c->idempotency_key);
	maybe_late(r, RAIL_CHAIN_TRANSFER);
	if (!e) {
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
		return;
	}
	e->calls++;
	if (e->refused) {
		answer(out, RAIL_REJECTED, "chain_transfer_failed");
	} else if (e->done) {
		r->duplicates++;
		answer(out, RAIL_OK, "");
	} else if (sim_rng_chance(&r->rng, r->odds.refuse)) {
		e->refused = true;
		answer(out, RAIL_REJECTED, "chain_transfer_failed");
	} else if (sim_rng_chance(&r->rng, r->odds.timeout)) {
		r->timeouts++;
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
	} else {
		e->done = true;
		answer(out, RAIL_OK, "");
	}
	if (out->outcome != RAIL_TRANSIENT && sim_rng_chance(&r->rng, r->odds.lost)) {
		r->lost++;
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
	}
}

static void sim_payout_submit(struct rail *rail, const struct rail_call *c,
			      struct rail_result *out)
{
	struct sim_rail *r = (struct sim_rail *)rail;
	r->calls++;
	if (!key_is(c, "payout"))
		violation(r, "payout under key %s for session %s", c->idempotency_key, c->session_id);
	if (c->amount_minor <= 0)
		violation(r, "payout of nothing under key %s", c->idempotency_key);
	struct sim_payout *p = payout_entry(r, c->idempotency_key);
	/* A refused key stays refused: kept in the chain list by its key. */
	struct sim_chain *refused = NULL;
	for (int i = 0; i < r->nchain; i++)
		if (strcmp(r->chain[i].key, c->idempotency_key) == 0)
			refused = &r->chain[i];
	bool crash = false;
	if (p) {
		p->calls++;
		r->duplicates++;
		if (p->amount_minor != c->amount_minor || p->currency != c->currency)
			violation(r, "payout key %s asked again with another amount",
				  c->idempotency_key);
		answer(out, RAIL_OK, "");
	} else if (refused) {
		answer(out, RAIL_REJECTED, "beneficiary_invalid");
	} else if (sim_rng_chance(&r->rng, r->odds.refuse)) {
		if ((refused = chain_entry(r, c->idempotency_key)))
			refused->refused = true;
		answer(out, RAIL_REJECTED, "beneficiary_invalid");
	} else if (sim_rng_chance(&r->rng, r->odds.timeout) || r->npay == SIM_PAYOUTS_MAX) {
		r->timeouts++;
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
	} else {
		p = &r->pay[r->npay++];
		memset(p, 0, sizeof *p);
		snprintf(p->key, sizeof p->key, "%s", c->idempotency_key);
		snprintf(p->session_id, sizeof p->session_id, "%s", c->session_id);
		p->currency = c->currency;
		p->amount_minor = c->amount_minor;
		p->state = SIM_PAY_SENT;
		p->calls = 1;
		answer(out, RAIL_OK, "");
		crash = r->depth == 0 && r->during && sim_rng_chance(&r->rng, r->odds.crash);
	}
	if (crash) {
		/* The payout is made; the service dies before it writes so. */
		r->crashes++;
		r->depth++;
		r->during(r->during_arg, RAIL_PAYOUT_SUBMIT, true);
		r->depth--;
		return;
	}
	maybe_late(r, RAIL_PAYOUT_SUBMIT);
	if (out->outcome == RAIL_OK && sim_rng_chance(&r->rng, r->odds.lost)) {
		r->lost++;
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
	}
}

static void decide(struct sim_rail *r, struct sim_payout *p)
{
	p->state = sim_rng_chance(&r->rng, r->odds.returned) ? SIM_PAY_RETURNED : SIM_PAY_CONFIRMED;
}

static void sim_payout_status(struct rail *rail, const struct rail_call *c,
			      struct rail_result *out)
{
	struct sim_rail *r = (struct sim_rail *)rail;
	r->calls++;
	struct sim_payout *p = payout_entry(r, c->idempotency_key);
	if (!p) {
		violation(r, "status of payout %s never made", c->idempotency_key);
		answer(out, RAIL_REJECTED, "payout_unknown");
		return;
	}
	maybe_late(r, RAIL_PAYOUT_STATUS);
	if (sim_rng_chance(&r->rng, r->odds.timeout)) {
		r->timeouts++;
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
		return;
	}
	if (p->state == SIM_PAY_SENT && sim_rng_chance(&r->rng, r->odds.decide))
		decide(r, p);
	if (p->state == SIM_PAY_SENT)
		answer(out, RAIL_PENDING, "");
	else if (p->state == SIM_PAY_CONFIRMED)
		answer(out, RAIL_OK, "");
	else
		answer(out, RAIL_REJECTED, "beneficiary_account_closed");
	if (out->outcome != RAIL_PENDING && sim_rng_chance(&r->rng, r->odds.lost)) {
		r->lost++;
		answer(out, RAIL_TRANSIENT, "rail_unavailable");
	}
}

static void sim_close(struct rail *rail) { (void)rail; /* the world owns it */ }

static const struct rail_ops sim_ops = {
	.name = "sim",
	.chain_transfer = sim_chain_transfer,
	.payout_submit = sim_payout_submit,
	.payout_status = sim_payout_status,
	.close = sim_close,
};

void sim_rail_init(struct sim_rail *r, uint64_t seed, const struct sim_rail_odds *odds)
{
	memset(r, 0, sizeof *r);
	r->base.ops = &sim_ops;
	r->rng.s = seed ^ 0x5851f42d4c957f2dULL;
	r->odds = *odds;
}

bool sim_rail_deliver(struct sim_rail *r)
{
	int waiting = 0;
	for (int i = 0; i < r->npay; i++)
		waiting += r->pay[i].state == SIM_PAY_SENT;
	if (waiting == 0)
		return false;
	int k = (int)sim_rng_range(&r->rng, 0, waiting - 1);
	for (int i = 0; i < r->npay; i++)
		if (r->pay[i].state == SIM_PAY_SENT && k-- == 0) {
			decide(r, &r->pay[i]);
			return true;
		}
	return false;
}

const struct sim_payout *sim_rail_payout_of(const struct sim_rail *r, const char *session_id,
					    int *count)
{
	const struct sim_payout *found = NULL;
	*count = 0;
	for (int i = 0; i < r->npay; i++)
		if (strcmp(r->pay[i].session_id, session_id) == 0) {
			found = &r->pay[i];
			++*count;
		}
	return found;
}

const struct sim_chain *sim_rail_chain_of(const struct sim_rail *r, const char *session_id)
{
	char key[96];
	snprintf(key, sizeof key, "%s:chain", session_id);
	for (int i = 0; i < r->nchain; i++)
		if (strcmp(r->chain[i].key, key) == 0)
			return &r->chain[i];
	return NULL;
}
