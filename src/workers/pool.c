/*
 * pool.c - loop threads with a prompt stop; see pool.h.
 */
#include "workers/pool.h"

#include "base/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct pool {
	pool_pass_fn pass;
	void *arg;
	int n;
	pthread_t threads[POOL_MAX];
	char owners[POOL_MAX][64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic bool stop;
	struct slot {
		struct pool *p;
		int i;
		_Atomic uint64_t pass_since_ms; /* clock_mono_ms at the pass's start; 0 between passes */
	} slots[POOL_MAX];
};

int64_t pool_wait_ms(int n, int64_t next_ms, int64_t now_ms, int64_t max_ms)
{
	if (n > 0)
		return 0; /* more may be due right away */
	if (n < 0)
		return 1000; /* the store failed: do not spin */
	if (next_ms > now_ms && next_ms - now_ms < max_ms)
		return next_ms - now_ms;
	return max_ms;
}

static void *pool_main(void *v)
{
	struct slot *s = v;
	struct pool *p = s->p;
	while (!atomic_load(&p->stop)) {
		/* 0 means "between passes": a clock that reads 0 still counts. */
		uint64_t now = clock_mono_ms();
		atomic_store(&s->pass_since_ms, now ? now : 1);
		int64_t wait_ms = p->pass(p->arg, p->owners[s->i]);
		atomic_store(&s->pass_since_ms, 0);
		if (wait_ms <= 0)
			continue;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&p->mu);
		if (!atomic_load(&p->stop))
			pthread_cond_timedwait(&p->cv, &p->mu, &until);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

struct pool *pool_start(const char *node, const char *kind, int n, pool_pass_fn pass, void *arg)
{
	if (n < 1)
		n = 1;
	if (n > POOL_MAX)
		n = POOL_MAX;
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->pass = pass;
	p->arg = arg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(p->owners[i], sizeof p->owners[i], "%s/%s/%d", node, kind, i);
		p->slots[i].p = p;
		p->slots[i].i = i;
		if (pthread_create(&p->threads[i], NULL, pool_main, &p->slots[i]) != 0) {
			pool_stop(p);
			return NULL;
		}
		p->n = i + 1;
	}
	return p;
}

bool pool_running(struct pool *p, int64_t stall_ms)
{
	if (!p || atomic_load(&p->stop) || p->n < 1)
		return false;
	uint64_t now = clock_mono_ms();
	for (int i = 0; i < p->n; i++) {
		uint64_t since = atomic_load(&p->slots[i].pass_since_ms);
		if (since && now > since && now - since > (uint64_t)stall_ms)
			return false;
	}
	return true;
}

void pool_stop(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
