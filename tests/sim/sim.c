/*
 * sim.c - the deterministic simulator (tests/sim/README.md): the service
 * core (ledger, state machine, idempotency, committer, workers) driven by
 * a seed, with a fake clock, a fake rail (sim_rail.c), store faults and
 * restarts, and an auditor that checks every invariant after every step.
 *
 * Determinism. Everything a run does comes from the seed: the actions,
 * the amounts and keys, the rail's answers, the faults. The clock is the
 * test build's fake (clock_fake_set), moved only by the simulator; ids
 * draw their random bits from the seed (uuid_fake_seed). The committer
 * thread stays as in serve: this program is its only client and waits
 * for every write it submits, and a pass's steps are queued under one
 * lock (store_run_all), so what a batch holds does not depend on thread
 * timing. The workers are not threads here: the simulator calls
 * svc_worker_tick itself, as a worker thread would. So a failure replays
 * from its seed, step for step: `make sim SEED=n`.
 *
 * Usage: sim [--seeds N | --seed N] [--from A] [--steps S] [--twice] [-v]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/json_in.h"
#include "base/clock.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/uuid.h"
#include "domain/capability.h"
#include "domain/session.h"
#include "service/service.h"
#include "sim.h"

static struct sim_stats total;

/* ---- trace and failure ----------------------------------------------------- */

void sim_tracef(struct world *w, const char *fmt, ...)
{
	char *line = w->trace[w->ntrace++ % SIM_TRACE];
	int n = snprintf(line, 200, "step %d: ", w->step);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, 200 - (size_t)n, fmt, ap);
	va_end(ap);
	for (const char *p = line; *p; p++)
		w->digest = (w->digest ^ (unsigned char)*p) * 1099511628211ULL;
	if (w->verbose)
		printf("%s\n", line);
}

void sim_failf(struct world *w, const char *fmt, ...)
{
	if (w->fail[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->fail, sizeof w->fail, fmt, ap);
	va_end(ap);
}

/* ---- the clock ------------------------------------------------------------- */

static void advance(struct world *w, int64_t ms)
{
	w->now_ms += (uint64_t)ms;
	clock_fake_set(w->now_ms);
}

/* ---- answers ------------------------------------------------------------------ */

enum render_kind { R_SESSION, R_APPROVAL, R_TRANSFER, R_CLIENT, R_DEST, R_POLICY, R_RATE, R_PFEE, R_HOOK };

struct render_ctx {
	enum render_kind kind;
	enum err last; /* what the last render rendered (a replay renders nothing) */
	enum svc_details_kind details;
};

/* "ok <id> <more>" or "err <code>": pure, as svc_render_fn must be. */
static void sim_render(void *ctx, const struct svc_outcome *o, const void *result,
		       struct svc_answer *out)
{
	struct render_ctx *c = ctx;
	char buf[192];
	c->last = o->err;
	c->details = o->details.kind;
	out->status = 201;
	if (o->err) {
		snprintf(buf, sizeof buf, "err %s", err_code(o->err));
		out->status = err_http_status(o->err);
	} else if (c->kind == R_SESSION) {
		const struct store_session *s = result;
		snprintf(buf, sizeof buf, "ok %s %s v%lld", s->id, s->status, (long long)s->version);
	} else if (c->kind == R_APPROVAL) {
		const struct store_approval *ap = result;
		snprintf(buf, sizeof buf, "ok %s %s", ap->id, ap->status);
		out->status = 200;
	} else if (c->kind == R_TRANSFER) {
		const struct store_transfer *t = result;
		snprintf(buf, sizeof buf, "ok %s %lld", t->id, (long long)t->amount_minor);
	} else if (c->kind == R_CLIENT) {
		const struct svc_client_result *cr = result;
		snprintf(buf, sizeof buf, "ok %s %s", cr->client.id, cr->client.default_account_id);
	} else if (c->kind == R_DEST) {
		const struct store_destination *d = result;
		snprintf(buf, sizeof buf, "ok %s", d->id);
	} else if (c->kind == R_RATE) {
		const struct store_exchange_rate *x = result;
		snprintf(buf, sizeof buf, "ok %s %lld %d %lld", x->id, (long long)x->value, x->scale,
			 (long long)x->expires_at);
	} else if (c->kind == R_PFEE) {
		const struct store_partner_fee *f = result;
		snprintf(buf, sizeof buf, "ok %s", f->id);
	} else if (c->kind == R_HOOK) {
		const struct store_hook_endpoint *ep = result;
		snprintf(buf, sizeof buf, "ok %s", ep->id);
	} else {
		snprintf(buf, sizeof buf, "ok policy");
	}
	out->body = strdup(buf);
	out->len = out->body ? strlen(buf) : 0;
}

static bool infra(enum err e)
{
	return e == ERR_INTERNAL || e == ERR_UNAVAILABLE || e == ERR_DATABASE_UNAVAILABLE;
}

/* An infrastructure error is an answer only while a fault is armed. */
static void infra_ok(struct world *w, const char *what, enum err e)
{
	if (!w->fault_armed)
		sim_failf(w, "%s answered %s with no fault armed", what, err_code(e));
}

/* The id after "ok " in an answer body. */
static bool answer_id(const char *body, char out[UUID_STR_LEN + 1])
{
	if (!body || strncmp(body, "ok ", 3) != 0 || strlen(body) < 3 + UUID_STR_LEN)
		return false;
	memcpy(out, body + 3, UUID_STR_LEN);
	out[UUID_STR_LEN] = '\0';
	return uuid_valid(out);
}

static void disarm(struct world *w)
{
	fault_arm(FAULT_STORE, 0, NULL, NULL);
	w->fault_armed = false;
}

/* ---- setup ----------------------------------------------------------------- */

static bool deposit(struct world *w, int ai, enum currency cur, int64_t amount)
{
	struct svc_answer a = {0};
	struct render_ctx rc = {.kind = R_TRANSFER};
	struct svc_render r = {sim_render, &rc};
	svc_deposit_create(&w->svc, &w->a1, NULL, w->acct[ai].account_id, cur, amount, &r, &a);
	bool ok = a.status == 201;
	if (ok)
		w->acct[ai].deposits[cur] += amount;
	else if (infra(rc.last))
		infra_ok(w, "deposit", rc.last);
	else
		sim_failf(w, "deposit of %lld refused: %s", (long long)amount, a.body ? a.body : "");
	sim_tracef(w, "deposit acct%d %s %lld: %s", ai, money_currency_code(cur), (long long)amount,
	       a.body ? a.body : "");
	svc_answer_clear(&a);
	return ok;
}

static bool setup(struct world *w)
{
	const char *err = NULL;
	w->store = store_open_sqlite(w->path, &err);
	if (!w->store) {
		sim_failf(w, "open %s: %s", w->path, err ? err : "?");
		return false;
	}
	w->store->commit_batch_max = w->batch_max;
	w->svc = (struct service){.store = w->store, .fees = fees_default(), .sandbox = true,
				  .step_ms = w->step_ms, .session_lease_ms = SIM_LEASE_MS,
				  .destination_read = api_destination_read};
	if (svc_tenant_create(&w->svc, "Sim", &w->k1) != ERR_OK ||
	    svc_authenticate(&w->svc, w->k1.secret, &w->a1) != ERR_OK ||
	    svc_api_key_create(&w->svc, w->k1.tenant_id, CAP_ALL, "user", &w->k2) != ERR_OK ||
	    svc_authenticate(&w->svc, w->k2.secret, &w->a2) != ERR_OK) {
		sim_failf(w, "setup: tenant and keys");
		return false;
	}
	w->dest.method = DEST_BANK_TRANSFER;
	w->dest.rail = RAIL_SEPA_CREDIT_TRANSFER;
	w->dest.currency = CUR_EUR;
	strcpy(w->dest.bank.beneficiary_name, "Sim Treasury");
	strcpy(w->dest.bank.scheme, "iban");
	strcpy(w->dest.bank.iban, "GB29NWBK60161331926819");
	strcpy(w->dest.bank.bic, "NWBKGB2L");
	strcpy(w->dest.bank.country, "GB");
	const char *field;
	if (destination_validate(&w->dest, &field) != ERR_OK ||
	    !(w->canon = api_destination_canonical(&w->dest))) {
		sim_failf(w, "setup: destination");
		return false;
	}
	for (int i = 0; i < SIM_ACCOUNTS; i++) {
		struct sim_account *ac = &w->acct[i];
		struct svc_answer a = {0};
		struct render_ctx rc = {.kind = R_CLIENT};
		struct svc_render r = {sim_render, &rc};
		svc_client_create(&w->svc, &w->a1, NULL, "Sim Client", NULL, &r, &a);
		/* "ok <client id> <account id>" */
		bool ok = answer_id(a.body, ac->client_id) && strlen(a.body) == 4 + 2 * UUID_STR_LEN;
		if (ok) {
			memcpy(ac->account_id, a.body + 4 + UUID_STR_LEN, UUID_STR_LEN);
			ac->account_id[UUID_STR_LEN] = '\0';
			ok = uuid_valid(ac->account_id);
		}
		svc_answer_clear(&a);
		rc.kind = R_DEST;
		if (ok)
			svc_destination_create(&w->svc, &w->a1, NULL, ac->account_id, &w->dest,
					       w->canon, NULL, &r, &a);
		ok = ok && answer_id(a.body, ac->dest_id);
		svc_answer_clear(&a);
		if (!ok) {
			sim_failf(w, "setup: client %d", i);
			return false;
		}
		if (!deposit(w, i, CUR_USDC, 1000000000) || !deposit(w, i, CUR_USDT, 300000000))
			return false;
	}
	for (int i = 0; i < SIM_ACCOUNTS; i++) {
		struct sim_account *ac = &w->acct[i];
		ac->per_tx = ac->daily = ac->monthly = SVC_LIMIT_NONE;
		if (!sim_rng_chance(&w->rng, 400))
			continue;
		ac->per_tx = sim_rng_range(&w->rng, 50000000, 300000000);
		ac->daily = sim_rng_range(&w->rng, 100000000, 600000000);
		ac->monthly = sim_rng_range(&w->rng, ac->daily, 1500000000);
		if (svc_limits_set(&w->svc, &w->a1, ac->client_id, ac->per_tx, ac->daily,
				   ac->monthly) != ERR_OK) {
			sim_failf(w, "setup: limits");
			return false;
		}
	}
	if (sim_rng_chance(&w->rng, 500)) {
		w->threshold = sim_rng_range(&w->rng, 10000000, 200000000);
		struct svc_answer a = {0};
		struct render_ctx rc = {.kind = R_POLICY};
		struct svc_render r = {sim_render, &rc};
		svc_policy_put(&w->svc, &w->a1, NULL, CUR_USDC, w->threshold, &r, &a);
		bool ok = a.body && rc.last == ERR_OK;
		svc_answer_clear(&a);
		if (!ok) {
			sim_failf(w, "setup: policy");
			return false;
		}
	}
	if (sim_rng_chance(&w->rng, 500)) {
		w->svc.session_snapshot = api_session_snapshot;
		w->svc.hook_payloads = api_hook_payloads;
		w->svc.hook_retry_base_ms = 1000;
		struct svc_answer a = {0};
		struct render_ctx rc = {.kind = R_HOOK};
		struct svc_render r = {sim_render, &rc};
		svc_hook_create(&w->svc, &w->a1, NULL, "https://hooks.example.com/sim", "standard",
				"[\"*\"]", "whsec_c2ltdWxhdG9yLXNlY3JldC1mb3ItdGVzdHM", &r, &a);
		bool ok = answer_id(a.body, w->hook_id);
		svc_answer_clear(&a);
		if (!ok) {
			sim_failf(w, "setup: webhook endpoint");
			return false;
		}
	}
	if (sim_rng_chance(&w->rng, 600)) {
		struct svc_answer a = {0};
		struct render_ctx rc = {.kind = R_PFEE};
		struct svc_render r = {sim_render, &rc};
		svc_partner_fee_create(&w->svc, &w->a1, NULL, "partner",
				       (int32_t)sim_rng_range(&w->rng, 0, 300),
				       sim_rng_range(&w->rng, 0, 2000000), sim_rng_chance(&w->rng, 500),
				       &r, &a);
		bool ok = answer_id(a.body, w->partner_fee_id);
		svc_answer_clear(&a);
		if (!ok) {
			sim_failf(w, "setup: partner fee");
			return false;
		}
	}
	sim_tracef(w, "setup: threshold %lld, commits of at most %d, stages of %lld ms",
	       (long long)w->threshold, w->batch_max, (long long)w->step_ms);
	return true;
}

/* ---- actions ----------------------------------------------------------------- */

static void restart(struct world *w, const char *why);

static int64_t available(struct world *w, int ai, enum currency cur)
{
	struct svc_account_view v;
	if (svc_account_get(&w->svc, &w->a1, w->acct[ai].account_id, &v) != ERR_OK)
		return -1;
	for (int i = 0; i < v.n; i++)
		if (v.balances[i].currency == cur)
			return ledger_available(&v.balances[i].b);
	return 0;
}

/* Amounts with the edges in: the smallest, too small to convert, past
 * int64 with fees, the whole balance, one more than it, the policy's
 * threshold and one below it, and ordinary ones. */
static int64_t pick_amount(struct world *w, int ai, enum currency cur)
{
	struct sim_rng *r = &w->rng;
	int64_t avail;
	switch (sim_rng_range(r, 0, 11)) {
	case 0: return 1;
	case 1: return sim_rng_range(r, 2, 1100);
	case 2: return INT64_MAX - sim_rng_range(r, 0, 3);
	case 3:
		avail = available(w, ai, cur);
		return avail > 3000000 ? avail - sim_rng_range(r, 0, 3000000) : 1000000;
	case 4:
		avail = available(w, ai, cur);
		return avail > 0 ? avail + sim_rng_range(r, 0, 2) : 1000000;
	case 5:
		return w->threshold ? w->threshold - sim_rng_range(r, 0, 1) : 5000000;
	default: return sim_rng_range(r, 1000000, 150000000);
	}
}

static void request_hash(int ai, enum currency cur, int64_t amount, bool wrong_dest, int rate,
			 bool partner, char out[65])
{
	uint64_t h = 1469598103934665603ULL;
	char buf[96];
	snprintf(buf, sizeof buf, "%d/%d/%lld/%d/%d/%d", ai, (int)cur, (long long)amount, wrong_dest,
		 rate, partner);
	for (const char *p = buf; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, 65, "%016llx%016llx%016llx%016llx", (unsigned long long)h,
		 (unsigned long long)(h * 3), (unsigned long long)(h * 5), (unsigned long long)(h * 7));
}

static struct sim_key *key_find(struct world *w, const char *key)
{
	for (int i = 0; i < w->nkeys; i++)
		if (strcmp(w->keys[i].key, key) == 0)
			return &w->keys[i];
	return NULL;
}

struct sim_session *sim_sess_find(struct world *w, const char *id)
{
	for (int i = 0; i < w->nsess; i++)
		if (strcmp(w->sess[i].id, id) == 0)
			return &w->sess[i];
	return NULL;
}

/* Whether a create of amount on account ai passes one of its client's
 * limits: principal of the client's sessions created since the UTC day
 * (month) began, whose hold is not voided, USDC and USDT at par. */
static bool over_limit(const struct world *w, int ai, int64_t amount)
{
	const struct sim_account *ac = &w->acct[ai];
	int64_t now = (int64_t)(w->now_ms / 1000);
	int64_t day = now - now % 86400, month = clock_month_start(now);
	int64_t today = 0, this_month = 0;
	for (int i = 0; i < w->nsess; i++) {
		const struct sim_session *s = &w->sess[i];
		if (s->acct != ai || !session_status_counts(s->last))
			continue;
		if (s->created_s >= day)
			today += s->amount;
		if (s->created_s >= month)
			this_month += s->amount;
	}
	return (ac->per_tx != SVC_LIMIT_NONE && amount > ac->per_tx) ||
	       (ac->daily != SVC_LIMIT_NONE && amount > ac->daily - today) ||
	       (ac->monthly != SVC_LIMIT_NONE && amount > ac->monthly - this_month);
}

/* Judge a create's answer against what its key kept. */
static void create_judge(struct world *w, const char *key, const char *hash, int ai,
			 enum currency cur, int64_t amount, bool wrong_dest,
			 const struct svc_answer *a, enum err rendered, bool replay_refused,
			 bool limited, enum svc_details_kind details, int rate, bool partner,
			 enum err rate_err)
{
	struct sim_key *k = key ? key_find(w, key) : NULL;
	const char *body = a->body ? a->body : "";
	int64_t now_s = (int64_t)(w->now_ms / 1000);
	if (k && k->kept && now_s >= k->kept_s + LIMIT_IDEMPOTENCY_TTL_S)
		k->kept = false; /* expired: the key is free again */
	if (a->cached) {
		w->st.replays++;
		if (!k || !k->kept)
			sim_failf(w, "create replayed \"%s\" under key %s, which kept nothing", body,
			      key ? key : "(none)");
		else if (strcmp(k->hash, hash) != 0)
			sim_failf(w, "create under key %s replayed for another request", key);
		else if (k->status != a->status || strcmp(k->body, body) != 0)
			sim_failf(w, "replay under key %s: %d \"%s\", first answer %d \"%s\"", key,
			      a->status, body, k->status, k->body);
		return;
	}
	if (rendered == ERR_IDEMPOTENCY_KEY_REUSED || replay_refused) {
		if (!k || !k->kept || strcmp(k->hash, hash) == 0)
			sim_failf(w, "key %s called reused, kept %s", key ? key : "(none)",
			      k && k->kept ? "this request" : "nothing");
		return;
	}
	if (infra(rendered)) {
		infra_ok(w, "create", rendered);
		return;
	}
	if (k && k->kept)
		sim_failf(w, "key %s kept \"%s\" but the create ran again: \"%s\"", key, k->body, body);
	if (!wrong_dest && rate_err != ERR_OK && rendered != rate_err)
		sim_failf(w, "create with rate r%d answered \"%s\", want %s", rate, body,
		      err_code(rate_err));
	bool refused_by_limit = rendered == ERR_LIMIT_EXCEEDED && details == SVC_DETAILS_LIMIT;
	if (!wrong_dest && rate_err == ERR_OK && limited != refused_by_limit)
		sim_failf(w, "create of %lld on acct%d answered \"%s\"; its client's limits %s it",
		      (long long)amount, ai, body, limited ? "refuse" : "allow");
	if (a->status == 201) {
		if (wrong_dest)
			sim_failf(w, "create with another client's destination succeeded");
		if (w->nsess == SIM_SESSIONS_MAX) {
			sim_failf(w, "more than %d sessions", SIM_SESSIONS_MAX);
			return;
		}
		struct sim_session *s = &w->sess[w->nsess++];
		memset(s, 0, sizeof *s);
		if (!answer_id(body, s->id))
			sim_failf(w, "create answered 201 \"%s\"", body);
		s->acct = ai;
		s->cur = cur;
		s->amount = amount;
		s->created_s = (int64_t)(w->now_ms / 1000);
		s->rate = rate;
		if (rate >= 0 && rate_err == ERR_OK && !wrong_dest)
			w->rates[rate].used_by = (int)(s - w->sess);
		else if (rate >= 0)
			sim_failf(w, "create with rate r%d succeeded, want %s", rate,
			      wrong_dest ? "destination_mismatch" : err_code(rate_err));
		bool approval = w->threshold > 0 && amount >= w->threshold;
		s->last = approval ? SESSION_PENDING_APPROVAL : SESSION_EXECUTING;
		s->version = 1;
		if (!strstr(body, session_status_name(s->last)))
			sim_failf(w, "create of %lld answered \"%s\", want %s", (long long)amount, body,
			      session_status_name(s->last));
		w->st.sessions++;
	} else if (!err_kept(rendered)) {
		sim_failf(w, "create answered \"%s\", neither kept nor infrastructure", body);
	} else if (wrong_dest && rendered != ERR_DESTINATION_MISMATCH) {
		sim_failf(w, "create with another client's destination answered \"%s\"", body);
	}
	if (!key || !err_kept(rendered))
		return;
	if (!k) {
		if (w->nkeys == SIM_KEYS_MAX)
			return;
		k = &w->keys[w->nkeys++];
		memset(k, 0, sizeof *k);
		snprintf(k->key, sizeof k->key, "%s", key);
	}
	snprintf(k->hash, sizeof k->hash, "%s", hash);
	k->acct = ai;
	k->cur = cur;
	k->amount = amount;
	k->rate = rate;
	k->partner = partner;
	k->kept = true;
	k->kept_s = now_s;
	k->status = a->status;
	snprintf(k->body, sizeof k->body, "%s", body);
}

static void act_create(struct world *w)
{
	struct sim_rng *r = &w->rng;
	w->st.creates++;
	int ai = (int)sim_rng_range(r, 0, SIM_ACCOUNTS - 1);
	enum currency cur = sim_rng_chance(r, 700) ? CUR_USDC : CUR_USDT;
	int64_t amount = pick_amount(w, ai, cur);
	bool wrong_dest = sim_rng_chance(r, 40);
	int rate = w->nrates > 0 && sim_rng_chance(r, 250) ? (int)sim_rng_range(r, 0, w->nrates - 1)
							     : -1;
	bool partner = w->partner_fee_id[0] && sim_rng_chance(r, 300);
	char key[40] = "";
	int mode = (int)sim_rng_range(r, 0, 99);
	if (mode >= 75 && w->nkeys > 0) {
		/* A key used before: the same request again, or another one. */
		const struct sim_key *k = &w->keys[sim_rng_range(r, 0, w->nkeys - 1)];
		snprintf(key, sizeof key, "%s", k->key);
		if (sim_rng_chance(r, 650)) {
			ai = k->acct;
			cur = k->cur;
			amount = k->amount;
			wrong_dest = strstr(k->body, "destination_mismatch") != NULL;
			rate = k->rate;
			partner = k->partner;
		}
	} else if (mode >= 20) {
		snprintf(key, sizeof key, "k-%d-%d", w->step, (int)sim_rng_range(r, 0, 9999));
	}
	char hash[65];
	request_hash(ai, cur, amount, wrong_dest, rate, partner, hash);
	struct svc_idem idem = {.key = key[0] ? key : NULL, .endpoint = "POST /off-ramp-sessions"};
	memcpy(idem.request_hash, hash, sizeof hash);
	const struct sim_account *ac = &w->acct[ai];
	struct svc_session_request q = {
		.account_id = ac->account_id, .source = cur, .amount_minor = amount,
		.target_currency = CUR_EUR, .target_rail = "fiat",
		.route_owner_client_id = ac->client_id,
		.destination_id = w->acct[wrong_dest ? (ai + 1) % SIM_ACCOUNTS : ai].dest_id,
		.inline_dest = &w->dest, .payment_reference = "",
		.exchange_rate_id = rate >= 0 ? w->rates[rate].id : NULL,
		.partner_fee_id = partner ? w->partner_fee_id : NULL};
	enum err rate_err = ERR_OK;
	if (rate >= 0) {
		const struct sim_rate *x = &w->rates[rate];
		rate_err = x->used_by >= 0 ? ERR_EXCHANGE_RATE_USED
			   : x->expires_s <= (int64_t)(w->now_ms / 1000) ? ERR_EXCHANGE_RATE_EXPIRED
			   : x->source != cur ? ERR_EXCHANGE_RATE_MISMATCH
					      : ERR_OK;
	}
	struct svc_answer a = {0};
	struct render_ctx rc = {.kind = R_SESSION};
	struct svc_render rd = {sim_render, &rc};
	bool replay_refused = false;
	enum err e = ERR_NOT_FOUND;
	/* As the api does: look for a kept answer first (half the time; the
	 * other half takes the race path, the record's unique key). */
	if (idem.key && sim_rng_chance(r, 500)) {
		e = svc_idem_replay(&w->svc, &w->a1, &idem, &a);
		if (e == ERR_IDEMPOTENCY_KEY_REUSED) {
			replay_refused = true;
			sim_render(&rc, &(struct svc_outcome){.err = e}, NULL, &a);
		} else if (e != ERR_OK && e != ERR_NOT_FOUND) {
			sim_render(&rc, &(struct svc_outcome){.err = e}, NULL, &a);
		}
	}
	bool limited = over_limit(w, ai, amount);
	if (e == ERR_NOT_FOUND)
		svc_session_create(&w->svc, &w->a1, &idem, &q, &rd, &a);
	sim_tracef(w, "create acct%d %s %lld key=%s%s rate=%d%s: %d %s%s", ai, money_currency_code(cur),
	       (long long)amount, key[0] ? key : "-", wrong_dest ? " wrong-dest" : "", rate,
	       partner ? " partner" : "", a.status,
	       a.body ? a.body : "", a.cached ? " (cached)" : "");
	create_judge(w, idem.key, hash, ai, cur, amount, wrong_dest, &a,
		     a.cached ? ERR_OK : rc.last, replay_refused, limited, rc.details, rate, partner,
		     rate_err);
	const struct sim_key *k = idem.key ? key_find(w, idem.key) : NULL;
	if (!w->fail[0] && k && k->kept && !a.cached && !replay_refused && err_kept(rc.last) &&
	    rc.last != ERR_IDEMPOTENCY_KEY_REUSED && strcmp(k->hash, hash) == 0 &&
	    sim_rng_chance(r, 60)) {
		/* The answer is lost with the process; the client asks again. */
		restart(w, "the create's answer lost");
		struct svc_answer b = {0};
		svc_session_create(&w->svc, &w->a1, &idem, &q, &rd, &b);
		sim_tracef(w, "  again: %d %s%s", b.status, b.body ? b.body : "",
		       b.cached ? " (cached)" : "");
		if (!b.cached || b.status != a.status || strcmp(b.body ? b.body : "", a.body) != 0)
			sim_failf(w, "create under key %s after a restart answered %d \"%s\", first %d \"%s\"",
			      idem.key, b.status, b.body ? b.body : "", a.status, a.body);
		svc_answer_clear(&b);
	}
	svc_answer_clear(&a);
}

/* A session to act on: one resting at want (if any does) most times. */
static struct sim_session *pick_session(struct world *w, enum session_status want)
{
	if (w->nsess == 0)
		return NULL;
	int n = 0;
	for (int i = 0; i < w->nsess; i++)
		n += w->sess[i].last == want;
	if (n > 0 && sim_rng_chance(&w->rng, 800)) {
		int k = (int)sim_rng_range(&w->rng, 0, n - 1);
		for (int i = 0; i < w->nsess; i++)
			if (w->sess[i].last == want && k-- == 0)
				return &w->sess[i];
	}
	return &w->sess[sim_rng_range(&w->rng, 0, w->nsess - 1)];
}

/* Send a keyed request twice when the seed says so: the second answer
 * must be the first's bytes, replayed, when the first was kept. */
struct resend {
	bool twice;
	char key[40];
	struct svc_idem idem;
};

static void resend_check(struct world *w, const char *what, const struct svc_answer *first,
			 enum err first_err, const struct svc_answer *second, enum err second_err)
{
	if (infra(first_err))
		return; /* not kept: the second ran afresh */
	if (!err_kept(first_err)) {
		if (second->cached)
			sim_failf(w, "%s: \"%s\" was not kept but replayed", what, first->body);
		return;
	}
	if (infra(second_err) && !second->cached) {
		infra_ok(w, what, second_err);
		return;
	}
	if (!second->cached || second->status != first->status ||
	    strcmp(second->body ? second->body : "", first->body ? first->body : "") != 0)
		sim_failf(w, "%s: the same request again answered %d \"%s\"%s, first %d \"%s\"", what,
		      second->status, second->body ? second->body : "",
		      second->cached ? " (cached)" : "", first->status, first->body);
}

/* What a request on a pending_approval session wants once one like it
 * has moved the session: it is pending no more. */
static enum err want2(enum err want)
{
	return want == ERR_OK ? ERR_INVALID_STATE_TRANSITION : want;
}

/* A decision's or cancel's answer e against want; a success moves s to
 * `to` (the auditor checks it did, and that nothing else moved it). */
static void judge_move(struct world *w, struct sim_session *s, const char *what, enum err e,
		       const struct svc_answer *a, enum err want, enum session_status to)
{
	if (infra(e)) {
		infra_ok(w, what, e);
	} else if (e != want) {
		sim_failf(w, "%s on s%d (%s) answered \"%s\", want %s", what, (int)(s - w->sess),
		      session_status_name(s->moved ? s->want : s->last), a->body ? a->body : "",
		      err_code(want));
	} else if (want == ERR_OK) {
		s->moved = true;
		s->want = to;
	}
}

static void act_decide(struct world *w)
{
	struct sim_session *s = pick_session(w, SESSION_PENDING_APPROVAL);
	if (!s)
		return;
	struct store_session row;
	enum err e = svc_session_get(&w->svc, &w->a1, s->id, &row);
	if (e != ERR_OK) {
		sim_tracef(w, "decide: get %s: %s", s->id, err_code(e));
		if (!infra(e))
			sim_failf(w, "acknowledged session %s: %s", s->id, err_code(e));
		else
			infra_ok(w, "session get", e);
		return;
	}
	if (!row.approval_id[0]) {
		sim_tracef(w, "decide: s%d has no approval", (int)(s - w->sess));
		return;
	}
	bool approve = sim_rng_chance(&w->rng, 650);
	bool initiator = sim_rng_chance(&w->rng, 120);
	const struct auth *by = initiator ? &w->a1 : &w->a2;
	struct resend rs = {.twice = sim_rng_chance(&w->rng, 300)};
	snprintf(rs.key, sizeof rs.key, "d-%d", w->step);
	rs.idem = (struct svc_idem){.key = rs.twice ? rs.key : NULL,
				    .endpoint = "POST /approvals/{id}/decision"};
	snprintf(rs.idem.request_hash, sizeof rs.idem.request_hash, "%s/%d", row.approval_id,
		 approve);
	struct svc_match any = {.any = true};
	struct svc_answer a = {0}, b = {0};
	struct render_ctx rc = {.kind = R_APPROVAL}, rc2 = {.kind = R_APPROVAL};
	struct svc_render r = {sim_render, &rc}, r2 = {sim_render, &rc2};
	svc_approval_decide(&w->svc, by, &rs.idem, row.approval_id, approve, &any, &r, &a);
	sim_tracef(w, "%s s%d by %s: %d %s", approve ? "approve" : "reject", (int)(s - w->sess),
	       initiator ? "initiator" : "second", a.status, a.body ? a.body : "");
	enum err want = initiator ? ERR_INITIATOR_CANNOT_APPROVE
			: s->last == SESSION_PENDING_APPROVAL ? ERR_OK
							     : ERR_INVALID_STATE_TRANSITION;
	enum session_status to = approve ? SESSION_EXECUTING : SESSION_CANCELLED;
	judge_move(w, s, "decide", rc.last, &a, want, to);
	if (rs.twice) {
		rc2.last = ERR_OK;
		svc_approval_decide(&w->svc, by, &rs.idem, row.approval_id, approve, &any, &r2, &b);
		sim_tracef(w, "  again: %d %s%s", b.status, b.body ? b.body : "", b.cached ? " (cached)" : "");
		if (!b.cached)
			judge_move(w, s, "decide again", rc2.last, &b, s->moved ? want2(want) : want, to);
		resend_check(w, "decide", &a, rc.last, &b, b.cached ? ERR_OK : rc2.last);
	}
	svc_answer_clear(&a);
	svc_answer_clear(&b);
}

static void act_cancel(struct world *w)
{
	struct sim_session *s = pick_session(w, SESSION_PENDING_APPROVAL);
	if (!s)
		return;
	const struct auth *by = sim_rng_chance(&w->rng, 500) ? &w->a1 : &w->a2;
	struct resend rs = {.twice = sim_rng_chance(&w->rng, 300)};
	snprintf(rs.key, sizeof rs.key, "c-%d", w->step);
	rs.idem = (struct svc_idem){.key = rs.twice ? rs.key : NULL,
				    .endpoint = "POST /off-ramp-sessions/{id}/cancel"};
	snprintf(rs.idem.request_hash, sizeof rs.idem.request_hash, "%s", s->id);
	struct svc_match any = {.any = true};
	struct svc_answer a = {0}, b = {0};
	struct render_ctx rc = {.kind = R_SESSION}, rc2 = {.kind = R_SESSION};
	struct svc_render r = {sim_render, &rc}, r2 = {sim_render, &rc2};
	svc_session_cancel(&w->svc, by, &rs.idem, s->id, &any, &r, &a);
	sim_tracef(w, "cancel s%d (%s): %d %s", (int)(s - w->sess), session_status_name(s->last),
	       a.status, a.body ? a.body : "");
	enum err want =
		s->last == SESSION_PENDING_APPROVAL ? ERR_OK : ERR_INVALID_STATE_TRANSITION;
	judge_move(w, s, "cancel", rc.last, &a, want, SESSION_CANCELLED);
	if (rs.twice) {
		svc_session_cancel(&w->svc, by, &rs.idem, s->id, &any, &r2, &b);
		sim_tracef(w, "  again: %d %s%s", b.status, b.body ? b.body : "", b.cached ? " (cached)" : "");
		if (!b.cached)
			judge_move(w, s, "cancel again", rc2.last, &b, s->moved ? want2(want) : want,
				   SESSION_CANCELLED);
		resend_check(w, "cancel", &a, rc.last, &b, b.cached ? ERR_OK : rc2.last);
	}
	svc_answer_clear(&a);
	svc_answer_clear(&b);
}

static void tick(struct world *w, const char *owner, int batch)
{
	int64_t next = 0;
	int n = svc_worker_tick(&w->svc, &w->rail.base, owner, batch, &next);
	w->st.ticks++;
	sim_tracef(w, "tick %s batch %d: %d (next due %+lld ms)%s", owner, batch, n,
	       next ? (long long)(next - (int64_t)w->now_ms) : 0LL, w->crash ? " crash" : "");
	if (n < 0)
		infra_ok(w, "worker pass", ERR_INTERNAL);
}

static void restart(struct world *w, const char *why)
{
	disarm(w);
	w->crash = false;
	w->st.restarts++;
	store_close(w->store);
	const char *err = NULL;
	w->store = store_open_sqlite(w->path, &err);
	sim_tracef(w, "restart (%s)", why);
	if (!w->store) {
		sim_failf(w, "reopen after %s: %s", why, err ? err : "?");
		return;
	}
	w->store->commit_batch_max = w->batch_max;
	w->svc.store = w->store;
	enum err e = svc_worker_recover(&w->svc, "sim");
	if (e == ERR_OK)
		e = svc_hook_recover(&w->svc, "sim");
	if (e != ERR_OK)
		sim_failf(w, "recover after restart: %s", err_code(e));
}

/* The rail's hook: the world moves while a call waits. A crash arms the
 * next commit to fail (the pass's steps are lost as if the process died
 * between the rail's answer and the commit), and the pass's end
 * restarts the service. Otherwise the clock passes the lease and a
 * worker of another node takes the sessions over: this call's answer
 * arrives late, after they moved. */
static void during(void *arg, enum rail_kind kind, bool crash)
{
	struct world *w = arg;
	if (crash) {
		fault_arm(FAULT_COMMIT, 1, NULL, NULL);
		w->fault_armed = true;
		w->crash = true;
		sim_tracef(w, "rail: crash after a payout, before its commit");
		return;
	}
	advance(w, SIM_LEASE_MS + sim_rng_range(&w->rng, 1, 2000));
	sim_tracef(w, "rail: kind %d waits; the clock passes the lease", (int)kind);
	tick(w, "peer/w0", (int)sim_rng_range(&w->rng, 1, 8));
}

static void act_worker(struct world *w)
{
	char owner[16];
	snprintf(owner, sizeof owner, "sim/w%d", (int)sim_rng_range(&w->rng, 0, 1));
	int batch = sim_rng_chance(&w->rng, 200) ? LIMIT_WORKER_BATCH
						   : (int)sim_rng_range(&w->rng, 1, 8);
	tick(w, owner, batch);
	if (w->crash)
		restart(w, "crash");
}

static void act_clock(struct world *w)
{
	int r = (int)sim_rng_range(&w->rng, 0, 99);
	int64_t ms = r < 60   ? sim_rng_range(&w->rng, 0, 1500)
		     : r < 95 ? sim_rng_range(&w->rng, 1500, 2 * SIM_LEASE_MS)
			      : sim_rng_range(&w->rng, SIM_LEASE_MS, 86400000);
	advance(w, ms);
	sim_tracef(w, "clock +%lld ms", (long long)ms);
}

static void act_fault(struct world *w)
{
	if (sim_rng_chance(&w->rng, 300)) {
		disarm(w);
		sim_tracef(w, "faults disarmed");
		return;
	}
	static const enum fault_kind kinds[] = {FAULT_STORE, FAULT_STORE, FAULT_COMMIT,
						 FAULT_COMMIT, FAULT_RAIL, FAULT_ALLOC};
	enum fault_kind k = kinds[sim_rng_range(&w->rng, 0, 5)];
	int64_t n = sim_rng_range(&w->rng, 1, k == FAULT_STORE ? 40 : 6);
	fault_arm(k, n, NULL, NULL);
	w->fault_armed = true;
	w->st.faults++;
	sim_tracef(w, "fault %s armed at %lld", fault_kind_name(k), (long long)n);
}

static void act_deliver(struct world *w)
{
	bool any = sim_rail_deliver(&w->rail);
	sim_tracef(w, "bank decides a payout: %s", any ? "yes" : "none waiting");
}

static void act_rate(struct world *w)
{
	if (w->nrates == SIM_RATES_MAX)
		return;
	static const struct {
		const char *name;
		int64_t s;
	} locks[] = {{"30s", 30}, {"1m", 60}, {"5m", 300}};
	int li = (int)sim_rng_range(&w->rng, 0, 2);
	enum currency src = sim_rng_chance(&w->rng, 700) ? CUR_USDC : CUR_USDT;
	struct svc_answer a = {0};
	struct render_ctx rc = {.kind = R_RATE};
	struct svc_render r = {sim_render, &rc};
	svc_exchange_rate_create(&w->svc, &w->a1, NULL, src, CUR_EUR, true, locks[li].name,
				 locks[li].s, &r, &a);
	sim_tracef(w, "locked rate %s/EUR %s: %s", money_currency_code(src), locks[li].name,
	       a.body ? a.body : "");
	struct sim_rate *x = &w->rates[w->nrates];
	long long value = 0, expires = 0;
	int scale = 0;
	if (rc.last == ERR_OK && answer_id(a.body, x->id) &&
	    sscanf(a.body + 4 + UUID_STR_LEN, "%lld %d %lld", &value, &scale, &expires) == 3) {
		x->source = src;
		x->value = value;
		x->scale = scale;
		x->expires_s = expires;
		x->used_by = -1;
		if (expires != (long long)(w->now_ms / 1000) + locks[li].s)
			sim_failf(w, "rate locked for %s expires at %lld", locks[li].name, expires);
		w->nrates++;
	} else if (infra(rc.last)) {
		infra_ok(w, "rate", rc.last);
	} else {
		sim_failf(w, "locked rate refused: %s", a.body ? a.body : "");
	}
	svc_answer_clear(&a);
}

bool sim_received(const struct world *w, const char *message_id)
{
	for (int i = 0; i < w->nreceived; i++)
		if (strcmp(w->received[i], message_id) == 0)
			return true;
	return false;
}

static bool was_delivered(const struct world *w, const char *id)
{
	for (int i = 0; i < w->ndelivered; i++)
		if (strcmp(w->delivered[i], id) == 0)
			return true;
	return false;
}

/* One dispatcher pass: claim due deliveries, and answer each as the
 * receiver the seed plays does (2xx, 500, no answer, or the sender dies
 * before it records anything: the lease lapses). calm: 2xx always. */
static int dispatch(struct world *w, bool calm, int64_t *next_out)
{
	struct svc_hook_job jobs[8];
	int64_t next = 0;
	int max = calm ? 8 : (int)sim_rng_range(&w->rng, 1, 8);
	int n = svc_hook_claim(&w->svc, "sim/d0", max, jobs, &next);
	*next_out = next;
	if (n < 0) {
		sim_tracef(w, "dispatch: store failed");
		infra_ok(w, "webhook claim", ERR_INTERNAL);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct store_hook_delivery *d = &jobs[i].d;
		store_id id;
		memcpy(id, d->id, sizeof id);
		if (was_delivered(w, id))
			sim_failf(w, "delivery %s was recorded delivered, and is sent again", id);
		int r = calm ? 0 : (int)sim_rng_range(&w->rng, 0, 99);
		int status = r < 65 ? 200 : r < 80 ? 500 : 0;
		w->st.sends++;
		if (r >= 90) {
			sim_tracef(w, "dispatch %s: the sender dies", d->message_id);
			svc_hook_job_clear(&jobs[i]);
			continue;
		}
		if (status == 200 && !sim_received(w, d->message_id) && w->nreceived < SIM_HOOKS_MAX)
			snprintf(w->received[w->nreceived++], 64, "%s", d->message_id);
		char msg[64];
		snprintf(msg, sizeof msg, "%s", d->message_id);
		enum svc_hook_outcome o =
			svc_hook_complete(&w->svc, &jobs[i], status, status ? "" : "timeout", 5);
		sim_tracef(w, "dispatch %s: %d: %s", msg, status,
			   o == SVC_HOOK_RECORDED ? "recorded" : o == SVC_HOOK_LEASE_LOST ? "lease lost"
											  : "store failed");
		if (o == SVC_HOOK_STORE_FAILED)
			infra_ok(w, "webhook complete", ERR_INTERNAL);
		else if (o == SVC_HOOK_RECORDED && status == 200 && w->ndelivered < SIM_HOOKS_MAX)
			memcpy(w->delivered[w->ndelivered++], id, sizeof id);
	}
	return n;
}

static void act_dispatch(struct world *w)
{
	int64_t next;
	if (w->hook_id[0])
		sim_tracef(w, "dispatch: %d claimed", dispatch(w, false, &next));
}

/* The receiver answers everything now: every delivery must end. */
static void drain_hooks(struct world *w)
{
	for (int round = 0; round < 4 * SIM_DRAIN_ROUNDS && w->hook_id[0] && !w->fail[0]; round++) {
		int64_t next = 0;
		if (dispatch(w, true, &next) > 0)
			continue;
		if (next == 0)
			return; /* nothing pending */
		/* Nothing due now: to the next one due, or past a lapsed sender's lease. */
		int64_t now = (int64_t)w->now_ms;
		advance(w, next > now ? next - now : LIMIT_WEBHOOK_LEASE_MS + 1);
	}
	if (w->hook_id[0])
		sim_failf(w, "webhook deliveries still pending after %d calm rounds",
			  4 * SIM_DRAIN_ROUNDS);
}

static void act_deposit(struct world *w)
{
	int ai = (int)sim_rng_range(&w->rng, 0, SIM_ACCOUNTS - 1);
	enum currency cur = sim_rng_chance(&w->rng, 700) ? CUR_USDC : CUR_USDT;
	deposit(w, ai, cur, sim_rng_range(&w->rng, 1, 500000000));
}

/* ---- one seed ------------------------------------------------------------- */

static void act(struct world *w)
{
	int r = (int)sim_rng_range(&w->rng, 0, 999);
	if (r < 240)
		act_create(w);
	else if (r < 300)
		act_decide(w);
	else if (r < 350)
		act_cancel(w);
	else if (r < 600)
		act_worker(w);
	else if (r < 700)
		act_deliver(w);
	else if (r < 870)
		act_clock(w);
	else if (r < 930)
		act_fault(w);
	else if (r < 955)
		restart(w, "chosen");
	else if (r < 975)
		act_rate(w);
	else if (r < 990)
		act_dispatch(w);
	else
		act_deposit(w);
}

/* The calm after: no faults, a rail that answers, every approval decided;
 * every session must come to rest, paid exactly when settled. */
static void drain(struct world *w)
{
	w->phase = "drain";
	disarm(w);
	w->rail.odds = (struct sim_rail_odds){.decide = 1000, .returned = w->rail.odds.returned};
	for (int round = 0; round < SIM_DRAIN_ROUNDS && !w->fail[0]; round++, w->step++) {
		bool moving = false;
		for (int i = 0; i < w->nsess && !w->fail[0]; i++) {
			if (w->sess[i].last == SESSION_PENDING_APPROVAL) {
				moving = true;
				struct store_session row;
				if (svc_session_get(&w->svc, &w->a1, w->sess[i].id, &row) != ERR_OK)
					continue;
				struct svc_match any = {.any = true};
				struct svc_answer a = {0};
				struct render_ctx rc = {.kind = R_APPROVAL};
				struct svc_render r = {sim_render, &rc};
				bool approve = sim_rng_chance(&w->rng, 800);
				svc_approval_decide(&w->svc, &w->a2, NULL, row.approval_id, approve, &any,
						    &r, &a);
				sim_tracef(w, "drain: %s s%d: %s", approve ? "approve" : "reject", i,
				       a.body ? a.body : "");
				if (rc.last == ERR_OK) {
					w->sess[i].moved = true;
					w->sess[i].want = approve ? SESSION_EXECUTING : SESSION_CANCELLED;
				} else {
					sim_failf(w, "drain: decide s%d: %s", i, a.body ? a.body : "");
				}
				svc_answer_clear(&a);
			} else if (!sim_final(w->sess[i].last)) {
				moving = true;
			}
		}
		if (!moving)
			break;
		while (sim_rail_deliver(&w->rail))
			;
		advance(w, 61000 + SIM_LEASE_MS); /* past any backoff and lease */
		tick(w, "sim/w0", LIMIT_WORKER_BATCH);
		sim_audit(w);
	}
	for (int i = 0; i < w->nsess && !w->fail[0]; i++)
		if (!sim_final(w->sess[i].last))
			sim_failf(w, "s%d still %s after %d calm rounds", i,
			      session_status_name(w->sess[i].last), SIM_DRAIN_ROUNDS);
	if (!w->fail[0])
		drain_hooks(w);
	sim_audit_events(w);
}

static void odds_for(struct world *w, struct sim_rail_odds *o)
{
	int harsh = (int)sim_rng_range(&w->rng, 0, 3); /* 0 calm .. 3 hostile */
	*o = (struct sim_rail_odds){
		.refuse = 15 + 10 * harsh,
		.timeout = 30 + 50 * harsh,
		.lost = 30 + 50 * harsh,
		.crash = 10 * harsh,
		.late = 10 + 20 * harsh,
		.decide = 300,
		.returned = 60,
	};
}

static void report_failure(struct world *w)
{
	fprintf(stderr, "sim: FAIL seed %llu step %d (%s): %s\n", (unsigned long long)w->seed,
		w->step, w->phase, w->fail);
	int from = w->ntrace > SIM_TRACE ? w->ntrace - SIM_TRACE : 0;
	fprintf(stderr, "sim: the last %d steps:\n", w->ntrace - from);
	for (int i = from; i < w->ntrace; i++)
		fprintf(stderr, "  %s\n", w->trace[i % SIM_TRACE]);
	fprintf(stderr, "sim: replay with: make sim SEED=%llu SIM_STEPS=... (same steps) "
			"[SIM_ARGS=-v for every step]\n",
		(unsigned long long)w->seed);
}

static const char *db_dir(void)
{
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void remove_db(const char *path)
{
	char p[200];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

/* One seed, start to rest; false on a failure (reported). *digest gets
 * the run's trace digest, equal for equal runs. */
static bool run_seed(uint64_t seed, int steps, bool verbose, uint64_t *digest)
{
	struct world *w = calloc(1, sizeof *w);
	if (!w) {
		fprintf(stderr, "sim: out of memory\n");
		return false;
	}
	w->seed = seed;
	w->verbose = verbose;
	w->rng.s = seed * 0x2545f4914f6cdd1dULL + 1;
	w->digest = 1469598103934665603ULL;
	w->phase = "setup";
	snprintf(w->path, sizeof w->path, "%s/offramp-sim-%d-%llu.db", db_dir(), (int)getpid(),
		 (unsigned long long)seed);
	remove_db(w->path);
	fault_arm(FAULT_STORE, 0, NULL, NULL);
	fault_suspend(false);
	uuid_fake_seed(seed);
	w->now_ms = SIM_T0_MS + (uint64_t)sim_rng_range(&w->rng, 0, 86400000);
	clock_fake_set(w->now_ms);
	static const int batches[] = {1, 2, 4, LIMIT_COMMIT_BATCH_DEFAULT};
	w->batch_max = batches[sim_rng_range(&w->rng, 0, 3)];
	w->step_ms = sim_rng_chance(&w->rng, 250) ? 0 : SIM_STEP_MS;
	struct sim_rail_odds odds;
	odds_for(w, &odds);
	sim_rail_init(&w->rail, seed, &odds);
	w->rail.during = during;
	w->rail.during_arg = w;
	if (setup(w)) {
		sim_audit(w);
		w->phase = "steps";
		for (w->step = 1; w->step <= steps && !w->fail[0]; w->step++) {
			act(w);
			if (!w->fail[0] && w->store)
				sim_audit(w);
		}
		if (!w->fail[0] && w->store)
			drain(w);
	}
	bool ok = !w->fail[0];
	if (!ok)
		report_failure(w);
	*digest = w->digest;
	w->st.seeds = 1;
	w->st.steps = w->step - 1;
	for (int i = 0; i < w->nsess; i++) {
		w->st.settled += w->sess[i].last == SESSION_SETTLED;
		w->st.failed += w->sess[i].last == SESSION_FAILED;
		w->st.cancelled += w->sess[i].last == SESSION_CANCELLED;
	}
	w->st.crashes = w->rail.crashes;
	w->st.lost = w->rail.lost;
	w->st.timeouts = w->rail.timeouts;
	w->st.duplicates = w->rail.duplicates;
	w->st.late = w->rail.late_answers;
	long *t = (long *)&total, *s = (long *)&w->st;
	for (size_t i = 0; i < sizeof total / sizeof(long); i++)
		t[i] += s[i];
	if (verbose)
		printf("sim: seed %llu: %d steps, %d sessions, digest %016llx\n",
		       (unsigned long long)seed, w->step - 1, w->nsess, (unsigned long long)w->digest);
	if (w->store)
		store_close(w->store);
	disarm(w);
	clock_fake_set(0);
	uuid_fake_seed(0);
	remove_db(w->path);
	free(w->canon);
	free(w);
	return ok;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: sim [--seeds N | --seed N] [--from A] [--steps S] [--twice] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t from = 1, count = 100;
	int steps = 150;
	bool verbose = false, twice = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--seeds") && v) {
			count = strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--seed") && v) {
			from = strtoull(v, NULL, 10);
			count = 1;
			i++;
		} else if (!strcmp(a, "--from") && v) {
			from = strtoull(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--steps") && v) {
			steps = atoi(v);
			i++;
		} else if (!strcmp(a, "--twice")) {
			twice = true;
		} else if (!strcmp(a, "-v")) {
			verbose = true;
		} else {
			usage();
		}
	}
	if (from == 0 || steps < 0)
		usage();
	/* As serve does: jansson allocates through the fault build's hook, so
	 * alloc faults reach event snapshots and webhook payloads. */
	json_in_init();
	/* The service's own log lines would drown the trace. */
	log_set_level(verbose ? LOG_ERROR : (enum log_level)(LOG_ERROR + 1));
	double t0 = wall_s();
	long failures = 0, nondet = 0;
	for (uint64_t seed = from; seed < from + count; seed++) {
		uint64_t d1 = 0, d2 = 0;
		if (!run_seed(seed, steps, verbose, &d1)) {
			failures++;
			break; /* one failure is enough to replay; the rest waits */
		}
		if (twice) {
			struct sim_stats keep = total;
			if (!run_seed(seed, steps, false, &d2))
				failures++;
			total = keep;
			if (d1 != d2) {
				fprintf(stderr, "sim: FAIL seed %llu is not deterministic (%016llx, %016llx)\n",
					(unsigned long long)seed, (unsigned long long)d1,
					(unsigned long long)d2);
				nondet++;
				break;
			}
		}
	}
	printf("sim: %ld seeds (from %llu), %ld steps, %ld creates (%ld replays), %ld sessions "
	       "(%ld settled, %ld failed, %ld cancelled), %ld worker passes, %ld restarts "
	       "(%ld crashes mid-pass), %ld faults armed, rail: %ld lost answers, %ld timeouts, "
	       "%ld duplicate calls, %ld late answers; %ld webhook sends%s; %ld failures in %.1fs\n",
	       total.seeds, (unsigned long long)from, total.steps, total.creates, total.replays,
	       total.sessions, total.settled, total.failed, total.cancelled, total.ticks,
	       total.restarts, total.crashes, total.faults, total.lost, total.timeouts,
	       total.duplicates, total.late, total.sends, twice ? ", each run twice: same trace" : "",
	       failures + nondet, wall_s() - t0);
	return failures + nondet ? 1 : 0;
}
