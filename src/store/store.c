/*
 * store.c - what every backend shares: the bounded retry loop and the
 * record helpers. The retry loop lives here, once, so no caller writes its
 * own (STYLE §4).
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

enum store_status store_run(struct store *s, bool write, store_tx_fn fn, void *arg)
{
	enum store_status st = STORE_FAIL;
	for (int attempt = 0; attempt <= LIMIT_STORE_RETRIES; attempt++) {
		st = s->ops->run(s, write, fn, arg);
		if (st != STORE_RETRY)
			return st;
		/* 1, 2, 4 ... ms: contention in SQLite is a writer holding the
		 * lock past the busy timeout, so this rarely runs at all. */
		struct timespec ts = {0, (long)(1000000L << (attempt < 6 ? attempt : 6))};
		nanosleep(&ts, NULL);
	}
	log_warn("store: transaction still contended after %d retries", LIMIT_STORE_RETRIES);
	return st;
}

void store_run_all(struct store *s, store_tx_fn fn, void *const *args, int n,
		   enum store_status *out)
{
	if (s->ops->run_all)
		s->ops->run_all(s, fn, args, n, out);
	else
		for (int i = 0; i < n; i++)
			out[i] = s->ops->run(s, true, fn, args[i]);
	/* Contended ones go round store_run's own loop, one by one. */
	for (int i = 0; i < n; i++)
		if (out[i] == STORE_RETRY)
			out[i] = store_run(s, true, fn, args[i]);
}

bool store_spec_is_pg(const char *spec)
{
	return spec && (!strncmp(spec, "postgres://", 11) || !strncmp(spec, "postgresql://", 13));
}

struct store *store_open(const char *spec, const char **err)
{
	return store_spec_is_pg(spec) ? store_open_pg(spec, err) : store_open_sqlite(spec, err);
}

/* A lookup by primary key of an id no row has: one index probe. */
static enum store_status ping_tx(struct store_tx *tx, void *arg)
{
	struct store_tenant t;
	enum store_status st = STORE_CALL(tx, tenant_get, "00000000-0000-0000-0000-000000000000", &t);
	return st == STORE_NOT_FOUND ? STORE_OK : st;
}

enum store_status store_ping(struct store *s, int timeout_ms)
{
	if (s->ops->ping)
		return s->ops->ping(s, timeout_ms);
	/* A local file: a read on a WAL snapshot never waits for the writer. */
	enum store_status st = s->ops->run(s, false, ping_tx, NULL);
	return st == STORE_OK ? STORE_OK : STORE_UNAVAILABLE;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_status_name(enum store_status st)
{
	switch (st) {
	case STORE_OK: return "ok";
	case STORE_NOT_FOUND: return "not_found";
	case STORE_EXISTS: return "exists";
	case STORE_ABORT: return "abort";
	case STORE_RETRY: return "retry";
	case STORE_FAIL: return "fail";
	case STORE_UNAVAILABLE: return "unavailable";
	}
	return "unknown";
}

void store_destination_clear(struct store_destination *d)
{
	free(d->body);
	d->body = NULL;
}

void store_idem_clear(struct store_idem *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}
