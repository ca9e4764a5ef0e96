/*
 * registry.c - the table of rails (registry.h): a session's rail name to
 * the rail object that pays it, and the router that splits a worker's
 * batch of calls among them.
 *
 * The table is a fixed array filled at start-up and read-only after, so
 * the routing path takes no lock. Each routed rail keeps its own order of
 * calls: a batch's calls for one rail reach it in the order the worker
 * gave them, as one *_many batch (or one by one, via rail_ask).
 */
#include "rails/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

struct route {
	char name[40];
	struct rail *rail;
};

struct registry {
	struct rail base;
	struct rail *fallback;
	struct route routes[LIMIT_RAIL_ROUTES];
	int n;
};

static const struct rail_ops registry_ops;

static struct registry *as_registry(struct rail *r)
{
	return r && r->ops == &registry_ops ? (struct registry *)r : NULL;
}

struct rail *rail_registry_for(struct rail *registry, const char *name)
{
	struct registry *g = as_registry(registry);
	if (!g)
		return registry;
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->routes[i].name, name) == 0)
			return g->routes[i].rail;
	return g->fallback;
}

/* Split n calls of one kind by rail: each rail gets its calls as one
 * batch, in their order; results land where the calls were. */
static void route_many(struct rail *rail, enum rail_kind kind, const struct rail_call *calls,
		       struct rail_result *results, int n)
{
	struct rail_call *sub = malloc((size_t)n * sizeof *sub);
	struct rail_result *out = malloc((size_t)n * sizeof *out);
	int *idx = malloc((size_t)n * sizeof *idx);
	char *done = calloc((size_t)n, 1);
	if (!sub || !out || !idx || !done) {
		for (int i = 0; i < n; i++)
			results[i] = (struct rail_result){.outcome = RAIL_TRANSIENT,
							  .reason = "rail_unavailable"};
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (done[i])
			continue;
		struct rail *target = rail_registry_for(rail, calls[i].rail_name);
		int k = 0;
		for (int j = i; j < n; j++)
			if (!done[j] && rail_registry_for(rail, calls[j].rail_name) == target) {
				sub[k] = calls[j];
				idx[k++] = j;
				done[j] = 1;
			}
		rail_ask(target, kind, sub, out, k, 0);
		for (int j = 0; j < k; j++)
			results[idx[j]] = out[j];
	}
out:
	free(sub);
	free(out);
	free(idx);
	free(done);
}

static void reg_chain_many(struct rail *r, const struct rail_call *c, struct rail_result *o, int n)
{
	route_many(r, RAIL_CHAIN_TRANSFER, c, o, n);
}

static void reg_submit_many(struct rail *r, const struct rail_call *c, struct rail_result *o, int n)
{
	route_many(r, RAIL_PAYOUT_SUBMIT, c, o, n);
}

static void reg_status_many(struct rail *r, const struct rail_call *c, struct rail_result *o, int n)
{
	route_many(r, RAIL_PAYOUT_STATUS, c, o, n);
}

static void reg_chain(struct rail *r, const struct rail_call *c, struct rail_result *o)
{
	route_many(r, RAIL_CHAIN_TRANSFER, c, o, 1);
}

static void reg_submit(struct rail *r, const struct rail_call *c, struct rail_result *o)
{
	route_many(r, RAIL_PAYOUT_SUBMIT, c, o, 1);
}

static void reg_status(struct rail *r, const struct rail_call *c, struct rail_result *o)
{
	route_many(r, RAIL_PAYOUT_STATUS, c, o, 1);
}

/* Close every distinct rail once: one routed under several names, or also
 * the fallback, is closed at its first appearance. */
static void reg_close(struct rail *rail)
{
	struct registry *g = as_registry(rail);
	for (int i = 0; i < g->n; i++) {
		struct rail *r = g->routes[i].rail;
		bool seen = r == g->fallback;
		for (int j = 0; j < i && !seen; j++)
			seen = g->routes[j].rail == r;
		if (!seen)
			rail_close(r);
	}
	rail_close(g->fallback);
	free(g);
}

static const struct rail_ops registry_ops = {
	.name = "registry",
	.chain_transfer = reg_chain,
	.payout_submit = reg_submit,
	.payout_status = reg_status,
	.close = reg_close,
	.chain_transfer_many = reg_chain_many,
	.payout_submit_many = reg_submit_many,
	.payout_status_many = reg_status_many,
};

struct rail *rail_registry_new(struct rail *fallback)
{
	struct registry *g = calloc(1, sizeof *g);
	if (!g) {
		rail_close(fallback);
		return NULL;
	}
	g->base.ops = &registry_ops;
	g->fallback = fallback;
	return &g->base;
}

bool rail_registry_route(struct rail *registry, const char *name, struct rail *r)
{
	struct registry *g = as_registry(registry);
	if (!g || !r)
		return false;
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->routes[i].name, name) == 0)
			return false; /* routes are set once: no rail is dropped unclosed */
	if (g->n >= LIMIT_RAIL_ROUTES)
		return false;
	snprintf(g->routes[g->n].name, sizeof g->routes[g->n].name, "%s", name);
	g->routes[g->n++].rail = r;
	return true;
}
