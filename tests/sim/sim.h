/*
 * sim.h - what the simulator's files share (tests/sim/README.md).
 *
 * One seed decides everything a run does: the actions, the amounts, the
 * keys, what the fake rail answers, when a store call fails, when the
 * service restarts. The clock and the ids are the test build's fakes
 * (clock_fake_set, uuid_fake_seed), so a run replays exactly.
 */
#ifndef OFFRAMP_TESTS_SIM_SIM_H
#define OFFRAMP_TESTS_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/money.h"
#include "rails/rail.h"
#include "store/store.h"

/* ---- the seeded generator (splitmix64) ------------------------------------ */

struct sim_rng {
	uint64_t s;
};
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [lo, hi] (hi >= lo). */
int64_t sim_rng_range(struct sim_rng *r, int64_t lo, int64_t hi);
/* True with probability permille / 1000. */
bool sim_rng_chance(struct sim_rng *r, int permille);

/* ---- the fake rail (sim_rail.c) -------------------------------------------- */

enum sim_pay_state {
	SIM_PAY_SENT,      /* paid out, not yet confirmed by the bank */
	SIM_PAY_CONFIRMED, /* the bank confirmed: the money is with the beneficiary */
	SIM_PAY_RETURNED,  /* the bank sent it back: nothing paid in the end */
};

/* A payout the rail made, by idempotency key: the outside world's book,
 * kept across restarts of the service (it is not the service's). */
struct sim_payout {
	char key[96];
	store_id session_id;
	enum currency currency;
	int64_t amount_minor;
	enum sim_pay_state state;
	int calls; /* submits of this key, the first included */
};

struct sim_chain {
	char key[96];
	bool refused; /* answered REJECTED for good */
	bool done;    /* the stablecoin moved */
	int calls;
};

/* How the rail misbehaves, in permille per call (chosen per seed). */
struct sim_rail_odds {
	int refuse;     /* final refusal (chain; payout submit) */
	int timeout;    /* no answer, nothing done */
	int lost;       /* done, but the answer is lost (TRANSIENT) */
	int crash;      /* payout made, then the service dies before its commit */
	int late;       /* another worker moves the session while this call waits */
	int decide;     /* a status question finds the bank's answer come */
	int returned;   /* a decided payout comes back */
};

#define SIM_PAYOUTS_MAX 2048
struct sim_rail {
	struct rail base;
	struct sim_rng rng;
	struct sim_rail_odds odds;
	struct sim_payout pay[SIM_PAYOUTS_MAX];
	int npay;
	struct sim_chain chain[SIM_PAYOUTS_MAX];
	int nchain;
	char violation[256]; /* the first contract breach a caller made; "" */
	int64_t calls, lost, timeouts, late_answers, crashes, duplicates;
	/* Called at a seed-chosen call, with no transaction open: the world
	 * moves (a second worker, the clock, a crash). kind is the call's. */
	void (*during)(void *arg, enum rail_kind kind, bool crash);
	void *during_arg;
	int depth; /* nested calls from during(): they do not nest again */
};

void sim_rail_init(struct sim_rail *r, uint64_t seed, const struct sim_rail_odds *odds);
/* The bank decides one sent payout (a seed-chosen one): confirmed, or
 * returned with probability odds.returned. False when none is waiting. */
bool sim_rail_deliver(struct sim_rail *r);
const struct sim_payout *sim_rail_payout_of(const struct sim_rail *r, const char *session_id,
					    int *count);
const struct sim_chain *sim_rail_chain_of(const struct sim_rail *r, const char *session_id);

/* ---- the world of one seed (sim.c) ------------------------------------------ */

#include "domain/destination.h"
#include "domain/session.h"
#include "service/service.h"

#define SIM_SESSIONS_MAX 1024
#define SIM_KEYS_MAX 1024
#define SIM_ACCOUNTS 2
#define SIM_TRACE 32      /* last steps printed with a failure */
#define SIM_LEASE_MS 3000 /* a worker's claim on a session */
#define SIM_STEP_MS 1000  /* the time each stage takes */
#define SIM_DRAIN_ROUNDS 200
#define SIM_RATES_MAX 64
#define SIM_HOOKS_MAX 4096
#define SIM_T0_MS 1780000000000ULL /* 2026-05-28: the fake clock's start */

struct sim_session {
	store_id id;
	int acct;
	enum currency cur;
	int64_t amount;
	int64_t created_s;        /* svc_now at its create: limits count by it */
	enum session_status last; /* at the last audit */
	int64_t version;
	int rate;                 /* the locked rate it converts at, or -1 */
	bool moved;               /* a decision or cancel succeeded this step */
	enum session_status want; /* what it moved to */
};

/* A create's idempotency key and what it keeps. */
struct sim_key {
	char key[40];
	char hash[65];
	int acct;
	enum currency cur;
	int64_t amount;
	int rate;     /* index of the locked rate named, or -1 */
	bool partner; /* the partner fee named */
	bool kept; /* an answer is kept under it */
	int64_t kept_s; /* since (svc_now): it expires LIMIT_IDEMPOTENCY_TTL_S later */
	int status;
	char body[192];
};

struct sim_account {
	store_id client_id, account_id, dest_id;
	int64_t deposits[CUR__COUNT];
	/* The client's limits (SVC_LIMIT_NONE: none), in stablecoin units. */
	int64_t per_tx, daily, monthly;
};

/* A LOCKED exchange rate: usable once, until it expires. */
struct sim_rate {
	store_id id;
	enum currency source;
	int64_t value;
	int scale;
	int64_t expires_s;
	int used_by; /* the session that used it, or -1 */
};

struct sim_stats {
	long seeds, steps, creates, replays, sessions, settled, failed, cancelled, restarts,
		crashes, faults, lost, timeouts, duplicates, late, ticks, sends;
};

struct world {
	uint64_t seed;
	bool verbose;
	struct sim_rng rng;
	char path[160];
	struct store *store;
	struct service svc;
	struct svc_new_key k1, k2;
	struct auth a1, a2; /* a1 creates every session; a2 is the second pair of eyes */
	struct destination dest;
	char *canon;
	struct sim_account acct[SIM_ACCOUNTS];
	struct sim_session sess[SIM_SESSIONS_MAX];
	int nsess;
	struct sim_key keys[SIM_KEYS_MAX];
	int nkeys;
	struct sim_rail rail;
	int64_t threshold; /* approval policy; 0: none */
	struct sim_rate rates[SIM_RATES_MAX];
	int nrates;
	store_id partner_fee_id; /* "" until made */
	/* Webhooks (some seeds): one endpoint taking every event. */
	store_id hook_id; /* "" for none */
	store_id delivered[SIM_HOOKS_MAX]; /* recorded delivered: never to be sent again */
	int ndelivered;
	char received[SIM_HOOKS_MAX][64]; /* message ids the receiver answered 2xx */
	int nreceived;
	uint64_t now_ms;
	int batch_max;   /* the store's commit_batch_max: 1 (a commit per write) .. 256 */
	int64_t step_ms; /* the time each stage takes: 0 or SIM_STEP_MS */
	bool fault_armed;
	bool crash; /* the rail killed the service mid-pass */
	int step;
	const char *phase;
	char fail[768];
	char trace[SIM_TRACE][200];
	int ntrace;
	uint64_t digest;
	struct sim_stats st;
};


/* One line of the step trace (kept for a failure's report, digested). */
void sim_tracef(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The run's first failure; later ones are dropped. */
void sim_failf(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct sim_session *sim_sess_find(struct world *w, const char *id);

/* ---- the auditor (sim_audit.c) ---------------------------------------------- */

/* to is from, or reached from it along the table's edges. */
bool sim_reachable(enum session_status from, enum session_status to);
/* Final in the sim: terminal, or settled (its one way out is a bank
 * return, docs/RAILS.md, which the sim's rail never makes). */
static inline bool sim_final(enum session_status s)
{
	return session_status_terminal(s) || s == SESSION_SETTLED;
}
/* Every invariant, after a step; failures through sim_failf. Updates what
 * the world knows of each session (its last status and version). */
void sim_audit(struct world *w);
/* Each session's event log, at rest, and with an endpoint, each status
 * event's one delivery, delivered and received. */
void sim_audit_events(struct world *w);
bool sim_received(const struct world *w, const char *message_id);

#endif
