/*
 * fiber.c - fibers on ucontext (see fiber.h).
 *
 * Stacks are mmap'd with a guard page below them (an overflow faults
 * rather than corrupting a neighbour) and kept for reuse per thread, up to
 * LIMIT_FIBER_STACKS_IDLE: a request must not cost an mmap and a munmap.
 * Only the pages a fiber touches count against the process's memory.
 *
 * Under AddressSanitizer every switch is announced to it
 * (__sanitizer_start/finish_switch_fiber), or it would take the fiber's
 * stack for a buffer overflow of the thread's.
 */
#include "base/fiber.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/limits.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FIBER_ASAN 1
/* Instrumented frames are several times larger. */
#define FIBER_STACK_BYTES (4 * LIMIT_FIBER_STACK_BYTES)
#else
#define FIBER_ASAN 0
#define FIBER_STACK_BYTES LIMIT_FIBER_STACK_BYTES
#endif

struct fiber {
	ucontext_t ctx;    /* the fiber's own registers while it is off */
	ucontext_t caller; /* fiber_run's, while the fiber is on */
	char *map;         /* guard page, then the stack */
	void (*fn)(void *);
	void *arg;
	const struct fiber_hooks *hooks;
	enum fiber_state state;
	pthread_mutex_t *parked_mu; /* released by fiber_run after on_park */
	/* AddressSanitizer's bookkeeping of the two stacks: each side's
	 * fake stack, saved while it is switched away from. */
	void *caller_fake, *fiber_fake;
	const void *caller_bottom;
	size_t caller_size;
};

struct fiber_stack {
	struct fiber_stack *next;
};

static _Thread_local struct fiber *fb_current;
static _Thread_local struct fiber_stack *fb_idle;
static _Thread_local int fb_nidle;

static size_t fb_page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static char *fb_stack_take(void)
{
	if (fb_idle) {
		struct fiber_stack *st = fb_idle;
		fb_idle = st->next;
		fb_nidle--;
		return (char *)st - fb_page();
	}
	size_t page = fb_page();
	char *map = mmap(NULL, page + FIBER_STACK_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, page, PROT_NONE) != 0) {
		munmap(map, page + FIBER_STACK_BYTES);
		return NULL;
	}
	return map;
}

/* Kept stacks hold on to the pages their fibers touched: a burst of
 * thousands of waiting requests leaves at most LIMIT_FIBER_STACKS_IDLE. */
static void fb_stack_give(char *map)
{
	if (fb_nidle >= LIMIT_FIBER_STACKS_IDLE) {
		munmap(map, fb_page() + FIBER_STACK_BYTES);
		return;
	}
	struct fiber_stack *st = (struct fiber_stack *)(map + fb_page());
	st->next = fb_idle;
	fb_idle = st;
	fb_nidle++;
}

static void fb_switch_in_begin(struct fiber *f)
{
#if FIBER_ASAN
	__sanitizer_start_switch_fiber(&f->caller_fake, f->map + fb_page(), FIBER_STACK_BYTES);
#else
	(void)f;
#endif
}

static void fb_switch_in_end(struct fiber *f)
{
#if FIBER_ASAN
	__sanitizer_finish_switch_fiber(f->fiber_fake, &f->caller_bottom, &f->caller_size);
#else
	(void)f;
#endif
}

/* Leaving the fiber; done: it never comes back (its fake stack goes). */
static void fb_switch_out_begin(struct fiber *f, bool done)
{
#if FIBER_ASAN
	__sanitizer_start_switch_fiber(done ? NULL : &f->fiber_fake, f->caller_bottom,
				       f->caller_size);
#else
	(void)f;
	(void)done;
#endif
}

static void fb_switch_out_end(struct fiber *f)
{
#if FIBER_ASAN
	__sanitizer_finish_switch_fiber(f->caller_fake, NULL, NULL);
#else
	(void)f;
#endif
}

static void fb_main(void)
{
	struct fiber *f = fb_current;
	fb_switch_in_end(f);
	f->fn(f->arg);
	f->state = FIBER_DONE;
	fb_switch_out_begin(f, true);
	swapcontext(&f->ctx, &f->caller);
	abort(); /* a finished fiber is never run again */
}

/* getcontext returns twice (as setjmp): kept apart so that no local of
 * fiber_new's can be clobbered. It only fills in the signal mask and
 * registers that makecontext starts from. */
__attribute__((noinline)) static bool fb_context_init(ucontext_t *c) { return getcontext(c) == 0; }

struct fiber *fiber_new(void (*fn)(void *arg), void *arg, const struct fiber_hooks *hooks)
{
	struct fiber *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->map = fb_stack_take();
	if (!f->map || !fb_context_init(&f->ctx)) {
		if (f->map)
			fb_stack_give(f->map);
		free(f);
		return NULL;
	}
	f->ctx.uc_stack.ss_sp = f->map + fb_page();
	f->ctx.uc_stack.ss_size = FIBER_STACK_BYTES;
	f->ctx.uc_link = NULL;
	makecontext(&f->ctx, fb_main, 0);
	f->fn = fn;
	f->arg = arg;
	f->hooks = hooks;
	f->state = FIBER_READY;
	return f;
}

enum fiber_state fiber_run(struct fiber *f)
{
	/* Running a fiber from a fiber, or one not ready: our bug. */
	assert(fb_current == NULL);
	assert(f->state == FIBER_READY);
	fb_current = f;
	fb_switch_in_begin(f);
	swapcontext(&f->caller, &f->ctx);
	fb_switch_out_end(f);
	fb_current = NULL;
	/* Read before the lock goes: from then on a wake may change it. */
	enum fiber_state st = f->state;
	if (st == FIBER_PARKED) {
		pthread_mutex_t *mu = f->parked_mu;
		f->parked_mu = NULL;
		f->hooks->on_park(f->hooks->ctx);
		pthread_mutex_unlock(mu);
	}
	return st;
}

void fiber_free(struct fiber *f)
{
	if (!f)
		return;
	assert(f->state != FIBER_PARKED);
	fb_stack_give(f->map);
	free(f);
}

struct fiber *fiber_self(void) { return fb_current; }

void fiber_wait_init(struct fiber_wait *w)
{
	w->fiber = fb_current;
	if (!w->fiber)
		pthread_cond_init(&w->cv, NULL);
}

void fiber_wait_destroy(struct fiber_wait *w)
{
	if (!w->fiber)
		pthread_cond_destroy(&w->cv);
}

void fiber_wait(struct fiber_wait *w, pthread_mutex_t *mu)
{
	struct fiber *f = w->fiber;
	if (!f) {
		pthread_cond_wait(&w->cv, mu);
		return;
	}
	/* Waiting on another fiber's waiter: our bug. */
	assert(f == fb_current);
	f->state = FIBER_PARKED;
	f->parked_mu = mu; /* still held: fiber_run releases it */
	fb_switch_out_begin(f, false);
	swapcontext(&f->ctx, &f->caller);
	fb_switch_in_end(f);
	pthread_mutex_lock(mu);
}

void fiber_wake(struct fiber_wait *w)
{
	struct fiber *f = w->fiber;
	if (!f) {
		pthread_cond_signal(&w->cv);
		return;
	}
	/* A fiber already woken (by another of its waits) is left be: it
	 * re-checks every condition once it holds the lock again. */
	if (f->state != FIBER_PARKED)
		return;
	f->state = FIBER_READY;
	f->hooks->on_wake(f->hooks->ctx);
}
