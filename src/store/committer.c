/*
 * committer.c - the group-commit queue and thread (committer.h).
 *
 * Fairness between the two queues: a worker pass hands over hundreds of
 * steps at once, and taken in arrival order they would fill whole commits
 * while requests that came a moment later wait behind them. So a batch
 * takes at most LIMIT_COMMIT_BULK_SHARE bulk writes first (the lifecycle
 * always moves), then the lone writes, then more bulk ones if room is
 * left. The committer never waits for a batch to fill: a lone write
 * commits at once, and writes arriving during a commit make the next batch.
 */
#include "store/committer.h"

#include <assert.h>
#include <signal.h>

#include "base/metrics.h"

static _Thread_local bool cm_on_thread;

bool committer_on_thread(void) { return cm_on_thread; }

static int cm_queue_take(struct committer_job **head, struct committer_job ***tail,
			 struct committer_job **jobs, int n, int upto)
{
	while (*head && n < upto) {
		jobs[n++] = *head;
		*head = (*head)->next;
	}
	if (!*head)
		*tail = head;
	return n;
}

static int cm_take_batch(struct committer *w, struct committer_job **jobs, int max)
{
	int share = max < LIMIT_COMMIT_BULK_SHARE ? max : LIMIT_COMMIT_BULK_SHARE;
	int n = cm_queue_take(&w->bulk_head, &w->bulk_tail, jobs, 0, share);
	n = cm_queue_take(&w->head, &w->tail, jobs, n, max);
	return cm_queue_take(&w->bulk_head, &w->bulk_tail, jobs, n, max);
}

static void *cm_main(void *arg)
{
	struct committer *w = arg;
	struct committer_job *jobs[LIMIT_COMMIT_BATCH_MAX];
	cm_on_thread = true;
	pthread_setname_np(pthread_self(), "committer");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->bulk_head && !w->stop)
			pthread_cond_wait(&w->work, &w->mu);
		if (!w->head && !w->bulk_head)
			break; /* stopping, and nothing left to write */
		int max = *w->batch_max;
		if (max < 1 || max > LIMIT_COMMIT_BATCH_MAX)
			max = LIMIT_COMMIT_BATCH_MAX;
		int n = cm_take_batch(w, jobs, max);
		w->queued -= n;
		pthread_mutex_unlock(&w->mu);
		w->run_batch(w->ctx, jobs, n);
		metrics_commit_batch_observe(n);
		pthread_mutex_lock(&w->mu);
		w->commits++;
		w->writes += (uint64_t)n;
		for (int i = 0; i < n; i++) {
			jobs[i]->done = true;
			fiber_wake(&jobs[i]->wait);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Queue n jobs at once (so they share a batch when it has room) and wait
 * until each one's batch is committed; a caller on a fiber parks. */
static void cm_write_jobs(struct committer *w, struct committer_job *jobs, int n, bool bulk)
{
	assert(!cm_on_thread);
	for (int i = 0; i < n; i++)
		fiber_wait_init(&jobs[i].wait);
	pthread_mutex_lock(&w->mu);
	for (int i = 0; i < n; i++) {
		if (w->stop) { /* stopping: later writes fail */
			jobs[i].done = true;
			continue;
		}
		struct committer_job ***tail = bulk ? &w->bulk_tail : &w->tail;
		**tail = &jobs[i];
		*tail = &jobs[i].next;
		w->queued++;
	}
	pthread_cond_signal(&w->work);
	for (int i = 0; i < n; i++)
		while (!jobs[i].done)
			fiber_wait(&jobs[i].wait, &w->mu);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < n; i++)
		fiber_wait_destroy(&jobs[i].wait);
}

enum store_status committer_write(struct committer *w, store_tx_fn fn, void *arg)
{
	struct committer_job job = {.fn = fn, .arg = arg, .st = STORE_FAIL};
	cm_write_jobs(w, &job, 1, false);
	return job.st;
}

void committer_write_all(struct committer *w, store_tx_fn fn, void *const *args, int n,
			 enum store_status *out)
{
	struct committer_job jobs[LIMIT_COMMIT_BATCH_MAX];
	assert(n >= 0 && n <= LIMIT_COMMIT_BATCH_MAX);
	for (int i = 0; i < n; i++)
		jobs[i] = (struct committer_job){.fn = fn, .arg = args[i], .st = STORE_FAIL};
	cm_write_jobs(w, jobs, n, true);
	for (int i = 0; i < n; i++)
		out[i] = jobs[i].st;
}

bool committer_start(struct committer *w, const int *batch_max, committer_batch_fn run_batch,
		     void *ctx)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	w->head = w->bulk_head = NULL;
	w->tail = &w->head;
	w->bulk_tail = &w->bulk_head;
	w->batch_max = batch_max;
	w->run_batch = run_batch;
	w->ctx = ctx;
	/* No signals here: the process's owner (serve's sigwait) takes them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, cm_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->mu);
		return false;
	}
	w->running = true;
	return true;
}

void committer_stop(struct committer *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->running = false;
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->mu);
}
