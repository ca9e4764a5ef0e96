/*
 * fiber.h - run a function on a stack of its own, so that while it waits
 * (for its commit, say) its thread can serve others.
 *
 * Why: a request waiting for the group commit used to hold an HTTP thread,
 * so at most as many requests as threads could share a commit. A request
 * run on a fiber parks instead: the thread switches back to the event loop
 * (which suspends the connection) and runs other requests; the committer
 * wakes the fiber when its batch is durable, the loop resumes the
 * connection, and the same thread switches back into the fiber, which
 * carries on where it stopped. The code a fiber runs is ordinary blocking
 * code: only the waits below know about fibers.
 *
 * A fiber always runs on the thread that made it (libmicrohttpd handles a
 * connection on one pool thread), so thread-local state stays valid. A
 * fiber must not park while it holds a lock other than the one it waits
 * with, nor from inside a store transaction.
 *
 * Ownership: fiber_new returns a fiber owned by the caller, released with
 * fiber_free once fiber_run has answered FIBER_DONE.
 */
#ifndef OFFRAMP_BASE_FIBER_H
#define OFFRAMP_BASE_FIBER_H

#include <pthread.h>
#include <stdbool.h>

struct fiber;

enum fiber_state {
	FIBER_READY,  /* made, or woken: fiber_run continues it */
	FIBER_PARKED, /* waiting; its on_wake hook will say when to run it */
	FIBER_DONE,   /* its function returned */
};

/*
 * What the fiber's owner does around a park. Both run with the waiter's
 * lock held: on_park on the owner's stack, right after the fiber parked
 * (so no wake can come before the owner is ready for it); on_wake on the
 * waking thread, once per wake. ctx is borrowed.
 */
struct fiber_hooks {
	void (*on_park)(void *ctx);
	void (*on_wake)(void *ctx);
	void *ctx;
};

/* A fiber that will run fn(arg); NULL when out of memory. hooks and arg
 * are borrowed for the fiber's life. */
struct fiber *fiber_new(void (*fn)(void *arg), void *arg, const struct fiber_hooks *hooks);

/* Runs f on the calling thread until it parks or finishes. */
enum fiber_state fiber_run(struct fiber *f);

/* Releases a finished (or never run) fiber; NULL is allowed. */
void fiber_free(struct fiber *f);

/* The fiber the calling code runs on, or NULL on a thread's own stack. */
struct fiber *fiber_self(void);

/*
 * One waiter for one event, thread or fiber alike (a condition variable
 * that parks a fiber instead of blocking its thread). Used as
 * pthread_cond_wait is: mu held around fiber_wait and fiber_wake, and the
 * waiter re-checks its condition in a loop (a wake may be early).
 */
struct fiber_wait {
	pthread_cond_t cv;    /* a thread's wait */
	struct fiber *fiber;  /* or the fiber that waits, set by init */
};
void fiber_wait_init(struct fiber_wait *w);
void fiber_wait_destroy(struct fiber_wait *w);
void fiber_wait(struct fiber_wait *w, pthread_mutex_t *mu);
void fiber_wake(struct fiber_wait *w);

#endif
