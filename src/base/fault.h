/*
 * fault.h - fault injection for the test build (build/offramp-fault,
 * compiled with -DOFFRAMP_FAULTS). Without that macro every hook is a
 * constant false the compiler removes: the production binary has none.
 *
 * Each kind of point (a store call, a JSON allocation, a commit, a rail
 * call, a SQLite fsync) has its own counter. Arming a kind at n makes its n-th point
 * after the arm fail, once; n = 0 only counts. So a test first arms at 0
 * and reads how many points a request passed, then walks n over them.
 * Armed at start-up by OFFRAMP_FAULT="kind:n", re-armed while running by
 * the test build's POST /_test/faults (api_faults.c).
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef OFFRAMP_BASE_FAULT_H
#define OFFRAMP_BASE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum fault_kind {
	FAULT_STORE,  /* a store op (STORE_CALL) answers STORE_FAIL */
	FAULT_ALLOC,  /* an allocation of ours or jansson's answers NULL */
	FAULT_COMMIT, /* a write batch's COMMIT fails as on a full disk */
	FAULT_RAIL,   /* a rail call's answer is lost: RAIL_TRANSIENT */
	FAULT_FSYNC,  /* a SQLite file's sync fails (store/sqlite/fault_vfs.c) */
	FAULT_KINDS
};

#ifdef OFFRAMP_FAULTS
/* Count one point of kind k; true when it is the armed one (fail it). */
bool fault_hit(enum fault_kind k);
/* Zero every counter and arm kind k at n (0: count only; every other
 * kind is disarmed). counts_out (may be NULL) gets each kind's count
 * and fired_out (may be NULL) how many faults fired, both since the
 * previous arm. */
void fault_arm(enum fault_kind k, int64_t n, int64_t counts_out[FAULT_KINDS],
	       int64_t *fired_out);
/* While suspended (tests/sim's auditor reading between steps), no point
 * is counted and none fails; the arm stands for after. */
void fault_suspend(bool on);
/* "store" | "alloc" | "commit" | "rail" | "fsync" -> kind; false for another word. */
bool fault_kind_parse(const char *word, enum fault_kind *k);
const char *fault_kind_name(enum fault_kind k);
/* Read OFFRAMP_FAULT; call once at start. False (logged) for a malformed OFFRAMP_FAULT. */
bool fault_init(void);
#else
static inline bool fault_hit(enum fault_kind k)
{
	(void)k;
	return false;
}
static inline bool fault_init(void) { return true; }
#endif

#endif
