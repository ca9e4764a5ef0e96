/*
 * fault.c - the counters of fault.h (test build only).
 *
 * Allocations: jansson's own hooks (json_in_init) route every JSON
 * allocation through fault_hit, so request decoding and answer rendering
 * meet failed allocations without interposing libc for the libraries
 * that cannot take one (libmicrohttpd, SQLite, OpenSSL).
 */
#include "base/fault.h"

#ifdef OFFRAMP_FAULTS

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

static _Atomic int64_t fault_count[FAULT_KINDS];
static _Atomic int64_t fault_target[FAULT_KINDS];
static _Atomic int64_t fault_fired;
static _Atomic bool fault_suspended;

static const char *const fault_names[FAULT_KINDS] = {"store", "alloc", "commit", "rail", "fsync"};

const char *fault_kind_name(enum fault_kind k)
{
	return k < FAULT_KINDS ? fault_names[k] : "?";
}

bool fault_kind_parse(const char *word, enum fault_kind *k)
{
	for (int i = 0; i < FAULT_KINDS; i++)
		if (word && !strcmp(word, fault_names[i])) {
			*k = (enum fault_kind)i;
			return true;
		}
	return false;
}

void fault_suspend(bool on) { atomic_store(&fault_suspended, on); }

bool fault_hit(enum fault_kind k)
{
	if (atomic_load(&fault_suspended))
		return false;
	int64_t n = atomic_fetch_add(&fault_count[k], 1) + 1;
	int64_t target = atomic_load(&fault_target[k]);
	if (target <= 0 || n != target)
		return false;
	atomic_fetch_add(&fault_fired, 1);
	/* No log line for alloc: logging may allocate through jansson. */
	if (k != FAULT_ALLOC)
		log_warn("fault: injected %s fault at point %lld", fault_names[k], (long long)n);
	return true;
}

void fault_arm(enum fault_kind k, int64_t n, int64_t counts_out[FAULT_KINDS],
	       int64_t *fired_out)
{
	for (int i = 0; i < FAULT_KINDS; i++)
		atomic_store(&fault_target[i], 0);
	for (int i = 0; i < FAULT_KINDS; i++) {
		int64_t c = atomic_exchange(&fault_count[i], 0);
		if (counts_out)
			counts_out[i] = c;
	}
	int64_t f = atomic_exchange(&fault_fired, 0);
	if (fired_out)
		*fired_out = f;
	atomic_store(&fault_target[k], n);
}

bool fault_init(void)
{
	const char *spec = getenv("OFFRAMP_FAULT");
	if (!spec || !*spec)
		return true;
	char word[16];
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : 0;
	enum fault_kind k;
	char *end = NULL;
	long long n = colon ? strtoll(colon + 1, &end, 10) : -1;
	if (!colon || len >= sizeof word || n < 0 || !end || *end) {
		log_error("fault: OFFRAMP_FAULT must be kind:n, not \"%s\"", spec);
		return false;
	}
	memcpy(word, spec, len);
	word[len] = '\0';
	if (!fault_kind_parse(word, &k)) {
		log_error("fault: unknown kind \"%s\" (store, alloc, commit, rail)", word);
		return false;
	}
	fault_arm(k, n, NULL, NULL);
	log_warn("fault: armed %s at point %lld", word, n);
	return true;
}

#else
/* ISO C wants a declaration in every translation unit. */
typedef int fault_compiled_out;
#endif
