/*
 * pool.h - a small pool of identical loop threads that sleep between
 * passes and stop promptly: what the session workers and the webhook
 * dispatchers share.
 *
 * Each thread calls pass(arg, index, owner) until the pool stops; pass
 * returns how long to sleep before the next pass in ms (0: go again at
 * once). pool_stop() wakes sleeping threads at once and joins them after
 * their current pass.
 */
#ifndef OFFRAMP_WORKERS_POOL_H
#define OFFRAMP_WORKERS_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define POOL_MAX 8

struct pool;
typedef int64_t (*pool_pass_fn)(void *arg, const char *owner);

/* n threads (1..POOL_MAX) named "<node>/<kind>/<i>" as lease owners (node:
 * serve --node-id, borrowed for the call). NULL on failure (no thread left
 * running). */
struct pool *pool_start(const char *node, const char *kind, int n, pool_pass_fn pass, void *arg);
void pool_stop(struct pool *p);

/* Whether the pool runs: started, not stopping, and no thread inside one
 * pass for longer than stall_ms (a pass stuck on a hung call is a pool
 * that does no work). Thread-safe; p may be NULL (false). */
bool pool_running(struct pool *p, int64_t stall_ms);

/* Sleep to choose for a pass that did n items with the next due at next_ms
 * (0: none waiting), polling at least every max_ms. */
int64_t pool_wait_ms(int n, int64_t next_ms, int64_t now_ms, int64_t max_ms);

#endif
