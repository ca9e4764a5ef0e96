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

#endif
