/*
 * committer.h - group commit, backend-neutral: one thread per store that
 * takes every write transaction of the process from two queues (lone
 * writes; bulk ones from store_run_all), hands a batch of them to the
 * backend's run_batch (one transaction, one savepoint per job) and only
 * then wakes the callers, threads or parked fibers. The backend decides
 * each job's status; the committer decides who shares a commit.
 *
 * Used by both backends, store/sqlite and store/pg: each gives it a
 * run_batch that opens its transaction on its own writer connection.
 */
#ifndef OFFRAMP_STORE_COMMITTER_H
#define OFFRAMP_STORE_COMMITTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/fiber.h"
#include "store/store.h"

/* One write waiting for the committer; lives on its caller's stack. */
struct committer_job {
	store_tx_fn fn;
	void *arg;
	enum store_status st;
	bool done;
	struct fiber_wait wait;
	struct committer_job *next;
};

/* Run jobs[0..n) in one transaction and set each one's st. */
typedef void (*committer_batch_fn)(void *ctx, struct committer_job **jobs, int n);

struct committer {
	pthread_t thread;
	bool running, stop;
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct committer_job *head, **tail;
	struct committer_job *bulk_head, **bulk_tail;
	int queued;
	const int *batch_max; /* the store's commit_batch_max, read per batch */
	committer_batch_fn run_batch;
	void *ctx;
	uint64_t commits, writes; /* batches run, jobs in them */
};

/* Starts the thread (signals blocked in it). false if it cannot. */
bool committer_start(struct committer *w, const int *batch_max, committer_batch_fn run_batch,
		     void *ctx);
/* Drains what is queued, then stops the thread. */
void committer_stop(struct committer *w);
/* One write; st is its outcome (STORE_FAIL once the committer stops). */
enum store_status committer_write(struct committer *w, store_tx_fn fn, void *arg);
/* n independent writes queued together as bulk (store_run_all). */
void committer_write_all(struct committer *w, store_tx_fn fn, void *const *args, int n,
			 enum store_status *out);
/* True on the committer's own thread (a write from a write is a bug). */
bool committer_on_thread(void);

#endif
