/*
 * gauges.c - the database's side of GET /metrics: sessions by status and
 * what the holds hold, per currency, read through two store ops in one
 * read transaction (one snapshot on SQLite; on PostgreSQL each statement
 * its own), mapped onto the domain's tables (SESSION_STATUSES,
 * MONEY_CURRENCIES) so every status and currency has a number, zeros
 * included.
 *
 * Cost: counting sessions is a pass over an index, O(sessions), so the
 * result is kept (struct svc_gauge_cache) for LIMIT_METRICS_GAUGE_CACHE_MS,
 * or LIMIT_METRICS_GAUGE_COST_FACTOR times as long as the read took when
 * that is longer, and the cache's lock is held across the read: a hundred
 * scrapes at once make one read, not a hundred.
 */
#include "service/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"

struct svc_gauge_cache {
	pthread_mutex_t mu;
	bool valid;           /* a read was made */
	uint64_t until_ms;    /* clock_mono_ms(): kept until then */
	enum err err;         /* that read's outcome */
	struct svc_gauges g;  /* ... and, when ERR_OK, its numbers */
};

struct svc_gauge_cache *svc_gauge_cache_new(void)
{
	struct svc_gauge_cache *c = calloc(1, sizeof *c);
	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void svc_gauge_cache_free(struct svc_gauge_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void count_status(void *arg, const void *row)
{
	const struct store_count *r = row;
	struct svc_gauges *g = arg;
	enum session_status st;
	/* A status the table does not know would be a schema we did not
	 * write; it is left out rather than guessed at. */
	if (r->name && session_status_parse(r->name, &st))
		g->sessions[st] += r->n;
}

static void count_held(void *arg, const void *row)
{
	const struct store_count *r = row;
	struct svc_gauges *g = arg;
	enum currency c = r->name ? money_currency(r->name) : CUR_NONE;
	if (c != CUR_NONE)
		g->held_minor[c] += r->n;
}

/* Rewrites its output on every run (store_run may run it again). */
static enum store_status gauges_tx(struct store_tx *tx, void *arg)
{
	struct svc_gauges *g = arg;
	memset(g, 0, sizeof *g);
	enum store_status st = tx->store->ops->session_count_by_status(tx, count_status, g);
	if (st == STORE_OK)
		st = tx->store->ops->held_by_currency(tx, count_held, g);
	return st;
}

static enum err gauges_load(struct service *s, struct svc_gauges *out)
{
	enum store_status st = store_run(s->store, false, gauges_tx, out);
	if (st != STORE_OK)
		log_error("metrics: cannot read the session gauges: %s", store_status_name(st));
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}

enum err svc_gauges_read(struct service *s, struct svc_gauges *out)
{
	struct svc_gauge_cache *c = s->gauge_cache;
	if (!c)
		return gauges_load(s, out);
	pthread_mutex_lock(&c->mu);
	uint64_t now = clock_mono_ms();
	if (!c->valid || now >= c->until_ms) {
		struct svc_gauges g;
		c->err = gauges_load(s, &g);
		if (c->err == ERR_OK)
			c->g = g;
		uint64_t took = clock_mono_ms() - now;
		uint64_t keep = took * LIMIT_METRICS_GAUGE_COST_FACTOR;
		if (keep < LIMIT_METRICS_GAUGE_CACHE_MS)
			keep = LIMIT_METRICS_GAUGE_CACHE_MS;
		c->until_ms = now + took + keep;
		c->valid = true;
	}
	enum err e = c->err;
	if (e == ERR_OK)
		*out = c->g;
	pthread_mutex_unlock(&c->mu);
	return e;
}
