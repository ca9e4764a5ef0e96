/*
 * ratelimit.c - the per-API-key request rate limit (CONTRACT §12).
 *
 * A token bucket per key, written as GCRA (the generic cell rate
 * algorithm): a bucket is one number, its theoretical arrival time (tat),
 * the moment at which it would be full again. A request at now costs one
 * interval (1 s / rate, in nanoseconds, rounded down: the rate kept is at
 * least the one asked); it is admitted while max(tat, now) + interval -
 * now stays within the tolerance, burst x interval, so a full bucket
 * admits burst requests at once and then one per interval. A refusal
 * leaves the bucket as it was and names the wait until the next admission,
 * rounded up to whole seconds (Retry-After). Integer nanoseconds only: no
 * floating point, no drift.
 *
 * Memory is bounded: LIMIT_RATE_BUCKETS buckets in sets of
 * LIMIT_RATE_WAYS, a key hashed (FNV-1a of its id) to one set, each set
 * under its own mutex, so two keys contend only when they share a set and
 * the hot path is one hash, one lock and at most eight compares. A key not
 * in its set takes the way whose tat is lowest: an empty one, else a full
 * bucket (tat <= now: forgetting it loses nothing), else the one nearest
 * to full. Only with more active keys than ways in one set does a key lose
 * its debt; keys are made by an operator, not by clients, so a client
 * cannot manufacture keys to push another's bucket out.
 *
 * Thread-safe. The clock is a parameter, so tests drive it.
 */
#include "service/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/limits.h"

#define RATE_SETS (LIMIT_RATE_BUCKETS / LIMIT_RATE_WAYS)
#define NS_PER_S 1000000000ull

struct rate_bucket {
	uint64_t hash;
	uint64_t tat_ns; /* 0: empty */
	store_id key;
};

struct rate_set {
	pthread_mutex_t mu;
	struct rate_bucket way[LIMIT_RATE_WAYS];
};

struct svc_rate {
	uint64_t interval_ns;  /* one request's cost */
	uint64_t tolerance_ns; /* burst x interval: how far ahead of now tat may run */
	struct rate_set set[RATE_SETS];
};

struct svc_rate *svc_rate_new(uint64_t rps, uint64_t burst)
{
	if (rps == 0 || burst == 0 || rps > LIMIT_RATE_RPS_MAX || burst > LIMIT_RATE_BURST_MAX)
		return NULL;
	struct svc_rate *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->interval_ns = NS_PER_S / rps;
	r->tolerance_ns = burst * r->interval_ns;
	for (int i = 0; i < RATE_SETS; i++)
		pthread_mutex_init(&r->set[i].mu, NULL);
	return r;
}

void svc_rate_free(struct svc_rate *r)
{
	if (!r)
		return;
	for (int i = 0; i < RATE_SETS; i++)
		pthread_mutex_destroy(&r->set[i].mu);
	free(r);
}

static uint64_t rate_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

/* The key's bucket in its set, made (from the lowest tat) if absent. */
static struct rate_bucket *rate_find(struct rate_set *set, uint64_t h, const char *key,
				     uint64_t now_ns)
{
	struct rate_bucket *victim = &set->way[0];
	for (int i = 0; i < LIMIT_RATE_WAYS; i++) {
		struct rate_bucket *b = &set->way[i];
		if (b->tat_ns && b->hash == h && strcmp(b->key, key) == 0)
			return b;
		if (b->tat_ns < victim->tat_ns)
			victim = b;
	}
	victim->hash = h;
	victim->tat_ns = now_ns;
	snprintf(victim->key, sizeof victim->key, "%s", key);
	return victim;
}

int svc_rate_take(struct svc_rate *r, const char *key, uint64_t now_ns)
{
	if (!r)
		return 0;
	if (now_ns == 0)
		now_ns = 1; /* 0 marks an empty way */
	uint64_t h = rate_hash(key);
	struct rate_set *set = &r->set[h % RATE_SETS];
	pthread_mutex_lock(&set->mu);
	struct rate_bucket *b = rate_find(set, h, key, now_ns);
	uint64_t next = (b->tat_ns > now_ns ? b->tat_ns : now_ns) + r->interval_ns;
	uint64_t ahead = next - now_ns;
	if (ahead <= r->tolerance_ns) {
		b->tat_ns = next;
		pthread_mutex_unlock(&set->mu);
		return 0;
	}
	pthread_mutex_unlock(&set->mu);
	uint64_t wait_s = (ahead - r->tolerance_ns + NS_PER_S - 1) / NS_PER_S;
	if (wait_s > LIMIT_RATE_RETRY_AFTER_MAX_S)
		wait_s = LIMIT_RATE_RETRY_AFTER_MAX_S;
	return wait_s ? (int)wait_s : 1;
}

enum err svc_rate_check(struct service *s, const struct auth *a, int *retry_after_s)
{
	*retry_after_s = s->rate ? svc_rate_take(s->rate, a->key_id, clock_mono_ns()) : 0;
	return *retry_after_s ? ERR_RATE_LIMITED : ERR_OK;
}
