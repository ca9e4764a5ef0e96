/*
 * audit.c - verify-ledger: re-derive every balance from the transfers and
 * check CONTRACT §8 in one read transaction (one consistent snapshot, so
 * it may run while `serve` writes):
 *
 *  1. in each currency, net posted and net pending positions of all
 *     accounts (system accounts included) sum to zero;
 *  2. each stored balance equals the sum of its account's transfers;
 *  3. no account flagged debits-must-not-exceed-credits has a negative
 *     available balance;
 *  4. each session has exactly one hold of principal + fees, and the
 *     hold is pending, posted or voided as the session's status demands,
 *     exactly once;
 *  5. a returned session has exactly one session_reversal transfer, of
 *     its principal, from the tenant's payouts account back to its client
 *     account (service/returns.c); any other session has none.
 *
 * Sizes: balances and holds are kept in memory (about 100 bytes a
 * session), each found through a hash index on its id, so the audit is
 * linear in the transfers: tens of millions of sessions fit in a few GB.
 * A streaming audit (ORDER BY and merge) is the plan past that.
 */
#include "service/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/session.h"

struct derived {
	store_id account_id;
	char currency[8];
	struct ledger_balance b;
	bool stored; /* a balance row exists */
	struct ledger_balance stored_b;
};

struct hold {
	store_id transfer_id;
	store_id session_id;
	int64_t amount;
	int posts, voids;
};

/* A session's session_reversal transfers (returns.c), by session id. */
struct reversal {
	store_id session_id;
	store_id credit_account_id;
	int64_t amount;
	int n;
};

/* Open addressing over indexes into an array (slot value 0: empty, else
 * index + 1); a power-of-two size kept at most half full. */
struct index {
	uint32_t *slot;
	size_t cap;
};

struct audit {
	struct svc_ledger_report *rep;
	struct derived *d;
	size_t nd, capd;
	struct index di; /* derived, by account and currency */
	struct hold *h;
	size_t nh, caph;
	struct index hi; /* holds, by transfer id */
	struct reversal *r;
	size_t nr, capr;
	struct index ri; /* reversals, by session id */
	unsigned *flags; /* per account index in accts */
	store_id *accts;
	size_t na, capa;
	bool oom;
	const struct store_progress *progress; /* may be NULL */
	const char *phase;                     /* what is being read */
	int64_t rows;                          /* of it so far */
};

/* One more row of the phase read; the progress sees every
 * LIMIT_PROGRESS_ROWS-th, and audit_phase the phase's last. */
static void audit_row(struct audit *au)
{
	if (++au->rows % LIMIT_PROGRESS_ROWS == 0 && au->progress && au->progress->fn)
		au->progress->fn(au->progress->arg, au->phase, au->rows, false);
}

static void audit_phase(struct audit *au, const char *next)
{
	if (au->phase && au->progress && au->progress->fn)
		au->progress->fn(au->progress->arg, au->phase, au->rows, true);
	au->phase = next;
	au->rows = 0;
}

static void problem(struct audit *au, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct audit *au, const char *fmt, ...)
{
	if (au->rep->problems++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(au->rep->first_problem, sizeof au->rep->first_problem, fmt, ap);
		va_end(ap);
	}
}

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, nc * size);
	if (!q)
		return false;
	*p = q;
	*cap = nc;
	return true;
}

/* FNV-1a over a and b. */
static uint64_t hash2(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

/* The slot where key (a, b) is or would go; same(i) says whether entry i
 * has that key. */
typedef bool (*index_same_fn)(const void *arr, size_t i, const char *a, const char *b);

static uint32_t *index_slot(const struct index *x, uint64_t h, index_same_fn same,
			    const void *arr, const char *a, const char *b)
{
	size_t mask = x->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask)
		if (!x->slot[i] || same(arr, x->slot[i] - 1, a, b))
			return &x->slot[i];
}

/* Room for n + 1 entries; rehashes with key(i) hashing entry i. */
static bool index_reserve(struct index *x, size_t n, uint64_t (*key)(const void *, size_t),
			  const void *arr)
{
	if (n + 1 <= x->cap / 2)
		return true;
	if (n >= UINT32_MAX - 1)
		return false;
	size_t cap = x->cap ? x->cap * 2 : 256;
	uint32_t *slot = calloc(cap, sizeof *slot);
	if (!slot)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t j = key(arr, i) & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = (uint32_t)(i + 1);
	}
	free(x->slot);
	x->slot = slot;
	x->cap = cap;
	return true;
}

static bool derived_same(const void *arr, size_t i, const char *account, const char *cur)
{
	const struct derived *d = arr;
	return strcmp(d[i].account_id, account) == 0 && strcmp(d[i].currency, cur) == 0;
}

static uint64_t derived_key(const void *arr, size_t i)
{
	const struct derived *d = arr;
	return hash2(d[i].account_id, d[i].currency);
}

static struct derived *derived_of(struct audit *au, const char *account, const char *cur)
{
	if (!index_reserve(&au->di, au->nd, derived_key, au->d)) {
		au->oom = true;
		return NULL;
	}
	uint32_t *slot =
		index_slot(&au->di, hash2(account, cur), derived_same, au->d, account, cur);
	if (*slot)
		return &au->d[*slot - 1];
	if (!grow((void **)&au->d, &au->capd, au->nd, sizeof *au->d)) {
		au->oom = true;
		return NULL;
	}
	struct derived *x = &au->d[au->nd];
	memset(x, 0, sizeof *x);
	snprintf(x->account_id, sizeof x->account_id, "%s", account);
	snprintf(x->currency, sizeof x->currency, "%s", cur);
	*slot = (uint32_t)++au->nd;
	return x;
}

static void on_account(void *arg, const void *row)
{
	struct audit *au = arg;
	const struct store_account *a = row;
	audit_row(au);
	au->rep->accounts++;
	if (!grow((void **)&au->accts, &au->capa, au->na, sizeof *au->accts) ||
	    !(au->flags = realloc(au->flags, au->capa * sizeof *au->flags))) {
		au->oom = true;
		return;
	}
	memcpy(au->accts[au->na], a->id, sizeof a->id);
	au->flags[au->na++] = a->flags;
}

static void on_balance(void *arg, const void *row)
{
	struct audit *au = arg;
	const struct store_balance *b = row;
	audit_row(au);
	au->rep->balances++;
	struct derived *x = derived_of(au, b->account_id, b->currency);
	if (x) {
		x->stored = true;
		x->stored_b = b->b;
	}
}

static bool hold_same(const void *arr, size_t i, const char *transfer_id, const char *unused)
{
	return strcmp(((const struct hold *)arr)[i].transfer_id, transfer_id) == 0;
}

static uint64_t hold_key(const void *arr, size_t i)
{
	return hash2(((const struct hold *)arr)[i].transfer_id, "");
}

static struct hold *hold_of(struct audit *au, const char *transfer_id)
{
	if (!au->hi.cap)
		return NULL;
	uint32_t *slot =
		index_slot(&au->hi, hash2(transfer_id, ""), hold_same, au->h, transfer_id, "");
	return *slot ? &au->h[*slot - 1] : NULL;
}

/* A new hold, indexed by its transfer id (ids are unique: the primary key). */
static struct hold *hold_add(struct audit *au, const char *transfer_id)
{
	if (!index_reserve(&au->hi, au->nh, hold_key, au->h) ||
	    !grow((void **)&au->h, &au->caph, au->nh, sizeof *au->h)) {
		au->oom = true;
		return NULL;
	}
	struct hold *h = &au->h[au->nh];
	memset(h, 0, sizeof *h);
	memcpy(h->transfer_id, transfer_id, sizeof h->transfer_id);
	*index_slot(&au->hi, hash2(transfer_id, ""), hold_same, au->h, transfer_id, "") =
		(uint32_t)++au->nh;
	return h;
}

static bool reversal_same(const void *arr, size_t i, const char *session_id, const char *unused)
{
	return strcmp(((const struct reversal *)arr)[i].session_id, session_id) == 0;
}

static uint64_t reversal_key(const void *arr, size_t i)
{
	return hash2(((const struct reversal *)arr)[i].session_id, "");
}

/* The reversals of session_id; with add, a new empty entry when none. */
static struct reversal *reversal_of(struct audit *au, const char *session_id, bool add)
{
	if (!add && !au->ri.cap)
		return NULL;
	if (add && (!index_reserve(&au->ri, au->nr, reversal_key, au->r) ||
		    !grow((void **)&au->r, &au->capr, au->nr, sizeof *au->r))) {
		au->oom = true;
		return NULL;
	}
	uint32_t *slot = index_slot(&au->ri, hash2(session_id, ""), reversal_same, au->r,
				    session_id, "");
	if (*slot || !add)
		return *slot ? &au->r[*slot - 1] : NULL;
	struct reversal *x = &au->r[au->nr];
	memset(x, 0, sizeof *x);
	snprintf(x->session_id, sizeof x->session_id, "%s", session_id);
	*slot = (uint32_t)++au->nr;
	return x;
}

static void on_reversal(struct audit *au, const struct store_transfer *t)
{
	struct reversal *x = reversal_of(au, t->session_id, true);
	if (!x)
		return;
	x->n++;
	x->amount += t->amount_minor;
	memcpy(x->credit_account_id, t->credit_account_id, sizeof x->credit_account_id);
}

/* (5): a returned session is reversed once, in full, to its account. */
static void check_reversal(struct audit *au, const struct store_session *s, enum session_status st)
{
	const struct reversal *x = reversal_of(au, s->id, false);
	int n = x ? x->n : 0;
	if (st != SESSION_RETURNED) {
		if (n)
			problem(au, "session %s is %s but has %d reversals", s->id, s->status, n);
		return;
	}
	if (n != 1 || x->amount != s->principal_minor ||
	    strcmp(x->credit_account_id, s->account_id) != 0)
		problem(au, "session %s is returned but its reversal is wrong (%d transfers, %lld)",
			s->id, n, (long long)(x ? x->amount : 0));
}

static void on_transfer(void *arg, const void *row)
{
	struct audit *au = arg;
	const struct store_transfer *t = row;
	audit_row(au);
	au->rep->transfers++;
	enum ledger_op op;
	if (!ledger_op_parse(t->op, &op)) {
		problem(au, "transfer %s has unknown op %s", t->id, t->op);
		return;
	}
	struct derived *dr = derived_of(au, t->debit_account_id, t->currency);
	struct derived *cr = derived_of(au, t->credit_account_id, t->currency);
	if (!dr || !cr)
		return;
	/* Re-apply without flags: this re-derives, the flag check is (3). */
	enum ledger_result lr = ledger_apply(op, t->amount_minor, &dr->b, 0, &cr->b);
	if (lr != LEDGER_OK)
		problem(au, "transfer %s cannot be replayed (ledger result %d)", t->id, (int)lr);
	if (op == LEDGER_OP_POSTED && t->session_id[0] && strcmp(t->kind, "session_reversal") == 0)
		on_reversal(au, t);
	if (op == LEDGER_OP_PENDING && t->session_id[0]) {
		struct hold *h = hold_add(au, t->id);
		if (!h)
			return;
		memcpy(h->session_id, t->session_id, sizeof h->session_id);
		h->amount = t->amount_minor;
	} else if (op == LEDGER_OP_POST || op == LEDGER_OP_VOID) {
		struct hold *h = hold_of(au, t->pending_id);
		if (!h) {
			problem(au, "transfer %s settles unknown hold %s", t->id, t->pending_id);
			return;
		}
		if (t->amount_minor != h->amount)
			problem(au, "transfer %s settles hold %s partially", t->id, t->pending_id);
		if (op == LEDGER_OP_POST)
			h->posts++;
		else
			h->voids++;
	}
}

static void on_session(void *arg, const void *row)
{
	struct audit *au = arg;
	const struct store_session *s = row;
	audit_row(au);
	au->rep->sessions++;
	struct hold *h = hold_of(au, s->hold_transfer_id);
	if (!h || strcmp(h->session_id, s->id) != 0) {
		problem(au, "session %s has no hold", s->id);
		return;
	}
	int64_t want;
	if (!money_add(s->principal_minor, s->fee_total_minor, &want) || h->amount != want) {
		problem(au, "session %s hold %lld != principal + fees", s->id, (long long)h->amount);
		return;
	}
	enum session_status st;
	if (!session_status_parse(s->status, &st)) {
		problem(au, "session %s has unknown status %s", s->id, s->status);
		return;
	}
	enum session_hold need = session_status_hold(st);
	int posts = h->posts, voids = h->voids;
	bool ok = need == HOLD_PENDING ? posts == 0 && voids == 0
		: need == HOLD_POSTED  ? posts == 1 && voids == 0
				       : posts == 0 && voids == 1;
	if (!ok)
		problem(au, "session %s is %s but its hold was posted %d and voided %d times",
			s->id, s->status, posts, voids);
	check_reversal(au, s, st);
}

static enum store_status audit_tx(struct store_tx *tx, void *arg)
{
	struct audit *au = arg;
	struct svc_ledger_report *rep = au->rep;
	/* A retried read starts from nothing. */
	au->nd = au->nh = au->na = 0;
	if (au->di.slot)
		memset(au->di.slot, 0, au->di.cap * sizeof *au->di.slot);
	if (au->hi.slot)
		memset(au->hi.slot, 0, au->hi.cap * sizeof *au->hi.slot);
	au->nr = 0;
	if (au->ri.slot)
		memset(au->ri.slot, 0, au->ri.cap * sizeof *au->ri.slot);
	memset(rep, 0, sizeof *rep);
	au->phase = NULL;
	enum store_status st;
	audit_phase(au, "accounts");
	if ((st = STORE_CALL(tx, account_each, on_account, au)) != STORE_OK)
		return st;
	audit_phase(au, "balances");
	if ((st = STORE_CALL(tx, balance_each, on_balance, au)) != STORE_OK)
		return st;
	audit_phase(au, "transfers");
	if ((st = STORE_CALL(tx, transfer_each, on_transfer, au)) != STORE_OK)
		return st;
	audit_phase(au, "sessions");
	if ((st = STORE_CALL(tx, session_each, on_session, au)) != STORE_OK)
		return st;
	audit_phase(au, NULL);
	return au->oom ? STORE_FAIL : STORE_OK;
}

enum err svc_verify_ledger(struct service *s, struct svc_ledger_report *rep)
{
	return svc_verify_ledger_progress(s, NULL, rep);
}

enum err svc_verify_ledger_progress(struct service *s, const struct store_progress *progress,
				    struct svc_ledger_report *rep)
{
	struct audit au = {.rep = rep, .progress = progress};
	enum store_status st = store_run(s->store, false, audit_tx, &au);
	if (st != STORE_OK) {
		free(au.d);
		free(au.h);
		free(au.di.slot);
		free(au.hi.slot);
		free(au.r);
		free(au.ri.slot);
		free(au.accts);
		free(au.flags);
		return svc_store_err(st);
	}
	for (size_t i = 0; i < au.nd; i++) {
		struct derived *x = &au.d[i];
		enum currency c = money_currency(x->currency);
		if (c == CUR_NONE) {
			problem(&au, "account %s holds unknown currency %s", x->account_id, x->currency);
			continue;
		}
		if (!x->stored || memcmp(&x->b, &x->stored_b, sizeof x->b) != 0)
			problem(&au, "account %s %s balance differs from its transfers",
				x->account_id, x->currency);
		if (!money_add(rep->net_posted[c], ledger_net_posted(&x->b), &rep->net_posted[c]) ||
		    !money_add(rep->net_pending[c], ledger_net_pending(&x->b), &rep->net_pending[c]))
			problem(&au, "net position of %s overflows", x->currency);
		for (size_t k = 0; k < au.na; k++)
			if (strcmp(au.accts[k], x->account_id) == 0 &&
			    (au.flags[k] & LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
			    ledger_available(&x->stored_b) < 0)
				problem(&au, "account %s %s available balance is negative",
					x->account_id, x->currency);
	}
	for (int c = 1; c < CUR__COUNT; c++)
		if (rep->net_posted[c] != 0 || rep->net_pending[c] != 0)
			problem(&au, "%s does not sum to zero (posted %lld, pending %lld)",
				money_currency_code((enum currency)c), (long long)rep->net_posted[c],
				(long long)rep->net_pending[c]);
	rep->ok = rep->problems == 0;
	free(au.d);
	free(au.h);
	free(au.di.slot);
	free(au.hi.slot);
	free(au.r);
	free(au.ri.slot);
	free(au.accts);
	free(au.flags);
	return ERR_OK;
}
