/*
 * sepa_file.c - the SEPA file rail (sepa_file.h).
 *
 * Paying (payout_submit). Under the rail's mutex: a payout already in a
 * batch (index/<EndToEndId>) waits for that batch's file; the others join
 * one queue in memory (RAIL_PENDING), shared by every worker's calls, and
 * once the batch window (--sepa-batch-ms) since the first of them has
 * passed, or the queue is full, the queue becomes one batch. A batch is
 * made durable in this order:
 *   1. state/batches/<MsgId>.json: its payments, as read from the store,
 *      and its creation time; MsgId is a hash of its sessions, so the same
 *      sessions make the same batch;
 *   2. state/index/<EndToEndId> for each payment, written once: a payment
 *      indexed to another batch is left out of this one (after a crash
 *      between 1 and 2 a payment can be found in two records; the index
 *      decides, and it never changes);
 *   3. outbound/<MsgId>.xml: built from the record alone (the same bytes
 *      on every try), written to a temporary name, fsynced, renamed, the
 *      directory fsynced; skipped if present;
 *   4. state/batches/<MsgId>.done; then the payouts answer RAIL_OK and
 *      the workers commit them `executed`.
 * A crash anywhere leaves no file or one complete file, and a rerun
 * resumes at the step it stopped at, so no payment is in two files and
 * no file is written twice with different content.
 *
 * Learning the outcome (payout_status): results/<EndToEndId>.json, which
 * the importer writes; none yet is RAIL_PENDING.
 *
 * Importing: validate (iso20022.c), match every payment the report names
 * against the index (one unknown payment, or a booking of another amount,
 * refuses the whole report), then write each result once (the first word
 * of the bank on a payment stands, but a return follows a booking), then
 * hand each return to the service (sepa_config.on_return). Importing
 * again writes nothing new and returns nothing twice.
 */
#include "rails/sepa_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/limits.h"
#include "base/log.h"
#include "domain/money.h"
#include "store/store.h"

#define INBOUND_POLL_MS 200

struct sepa {
	struct rail base;
	struct sepa_config cfg;
	char dir[2048];
	char schema_dir[2048];
	struct store *store;
	pthread_mutex_t mu;
	int64_t window_start_ms; /* when the first queued payout came; 0 for none */
	struct queued *queue;    /* payouts waiting for the window (mu) */
	int nq;
	pthread_t watcher;
	bool watching;
	_Atomic bool stop;
};

/* ---- files --------------------------------------------------------------- */

/* A test hook (the fault build, build/offramp-fault, only):
 * OFFRAMP_TEST_STALL=<point> stops the process at that point for a
 * kill -9 to find it there (tests/e2e/test_sepa_file.py). */
static void stall(const char *point)
{
#ifdef OFFRAMP_FAULTS
	const char *at = getenv("OFFRAMP_TEST_STALL");
	if (at && strcmp(at, point) == 0) {
		log_warn("sepa: test stall at %s", point);
		for (;;)
			sleep(60);
	}
#else
	(void)point;
#endif
}

static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

static void path_of(char *out, size_t cap, const char *dir, const char *sub, const char *name)
{
	snprintf(out, cap, "%s/%s/%s", dir, sub, name);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Write data to dir/sub/name atomically and durably: a temporary name,
 * fsync, rename, fsync of the directory. stall_point: the test hook
 * between the temporary file and the rename (NULL for none). */
static bool write_atomic(const char *dir, const char *sub, const char *name, const char *data,
			 size_t len, const char *stall_point)
{
	char d[4096], tmp[4096], final[4096];
	snprintf(d, sizeof d, "%s/%s", dir, sub);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", d, name);
	path_of(final, sizeof final, dir, sub, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			return false;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return false;
	}
	close(fd);
	if (stall_point)
		stall(stall_point);
	if (rename(tmp, final) != 0) {
		unlink(tmp);
		return false;
	}
	return fsync_dir(d);
}

/* The file at path, at most cap bytes (*len > cap means it is larger).
 * malloc'd and NUL-terminated; NULL when it cannot be read. */
static char *read_all(const char *path, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(cap + 2);
	size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
	bool err = ferror(f);
	fclose(f);
	if (!buf || err) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool make_dirs(const char *dir)
{
	static const char *const subs[] = {"",        "outbound",       "inbound",     "processed",
					   "failed",  "state",          "state/index", "state/results",
					   "state/batches"};
	char p[4096];
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			log_error("sepa: cannot create %s: %s", p, strerror(errno));
			return false;
		}
	}
	return true;
}

/* A session id's EndToEndId: its 32 hex digits (CONTRACT §13). */
static void e2e_of(const char *session_id, char out[ISO_ID_MAX + 1])
{
	size_t k = 0;
	for (const char *c = session_id; *c && k < 32; c++)
		if (*c != '-')
			out[k++] = *c;
	out[k] = '\0';
}

/* ---- the book: batches, index, results ----------------------------------- */

static bool index_get(const char *dir, const char *e2e, char batch[ISO_ID_MAX + 1])
{
	char p[4096];
	path_of(p, sizeof p, dir, "state/index", e2e);
	size_t len;
	char *b = read_all(p, ISO_ID_MAX, &len);
	if (!b)
		return false;
	snprintf(batch, ISO_ID_MAX + 1, "%s", b);
	free(b);
	return len > 0 && len <= ISO_ID_MAX;
}

static json_t *payment_json(const struct iso_payment *p, const char *tenant_id,
			    const char *session_id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:s, s:b}", "tenant_id",
			 tenant_id, "session_id", session_id, "end_to_end_id", p->end_to_end_id, "name", p->creditor.name,
			 "iban", p->creditor.iban, "bic", p->creditor.bic, "currency", p->currency,
			 "amount_minor", (json_int_t)p->amount_minor, "scale", p->scale, "reference",
			 p->reference, "instant", p->instant);
}

static bool payment_from_json(json_t *j, struct iso_payment *p)
{
	const char *e2e, *name, *iban, *bic, *ccy, *ref;
	json_int_t amt;
	int scale, inst;
	if (json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:s, s:b}", "end_to_end_id", &e2e,
			"name", &name, "iban", &iban, "bic", &bic, "currency", &ccy, "amount_minor",
			&amt, "scale", &scale, "reference", &ref, "instant", &inst) != 0)
		return false;
	memset(p, 0, sizeof *p);
	snprintf(p->end_to_end_id, sizeof p->end_to_end_id, "%s", e2e);
	snprintf(p->creditor.name, sizeof p->creditor.name, "%s", name);
	snprintf(p->creditor.iban, sizeof p->creditor.iban, "%s", iban);
	snprintf(p->creditor.bic, sizeof p->creditor.bic, "%s", bic);
	snprintf(p->currency, sizeof p->currency, "%s", ccy);
	snprintf(p->reference, sizeof p->reference, "%s", ref);
	p->amount_minor = amt;
	p->scale = scale;
	p->instant = inst;
	return amt > 0;
}

/* A batch's record: its payments (malloc'd, *n of them) and created time. */
static bool batch_load(const char *dir, const char *msg_id, struct iso_payment **out, int *n,
		       int64_t *created)
{
	char name[64], p[4096];
	snprintf(name, sizeof name, "%s.json", msg_id);
	path_of(p, sizeof p, dir, "state/batches", name);
	json_t *j = json_load_file(p, 0, NULL);
	json_t *arr = j ? json_object_get(j, "payments") : NULL;
	json_t *cr = j ? json_object_get(j, "created") : NULL;
	size_t k = json_array_size(arr);
	*out = NULL;
	*n = 0;
	if (!arr || !json_is_integer(cr) || k == 0 || k > LIMIT_SEPA_FILE_TXS) {
		json_decref(j);
		return false;
	}
	*out = calloc(k, sizeof **out);
	bool ok = *out != NULL;
	for (size_t i = 0; ok && i < k; i++)
		ok = payment_from_json(json_array_get(arr, i), &(*out)[i]);
	*created = json_integer_value(cr);
	json_decref(j);
	if (!ok) {
		free(*out);
		*out = NULL;
		return false;
	}
	*n = (int)k;
	return true;
}

/* Steps 2 to 4 of a recorded batch (the top comment). */
static bool batch_complete(struct sepa *sp, const char *msg_id)
{
	char name[64], p[4096];
	snprintf(name, sizeof name, "%s.done", msg_id);
	path_of(p, sizeof p, sp->dir, "state/batches", name);
	if (exists(p))
		return true;
	struct iso_payment *pay;
	int n;
	int64_t created;
	if (!batch_load(sp->dir, msg_id, &pay, &n, &created)) {
		log_error("sepa: batch %s: its record cannot be read", msg_id);
		return false;
	}
	int m = 0;
	bool ok = true;
	for (int i = 0; ok && i < n; i++) {
		char owner[ISO_ID_MAX + 1];
		if (!index_get(sp->dir, pay[i].end_to_end_id, owner)) {
			ok = write_atomic(sp->dir, "state/index", pay[i].end_to_end_id, msg_id,
					  strlen(msg_id), NULL);
			snprintf(owner, sizeof owner, "%s", msg_id);
		}
		if (ok && strcmp(owner, msg_id) == 0)
			pay[m++] = pay[i];
	}
	char xml[64], xp[4096];
	snprintf(xml, sizeof xml, "%s.xml", msg_id);
	path_of(xp, sizeof xp, sp->dir, "outbound", xml);
	if (ok && m > 0 && !exists(xp)) {
		char *doc;
		size_t len;
		ok = iso_pain001_build(&sp->cfg.debtor, msg_id, created, pay, m, &doc, &len);
		if (ok)
			ok = write_atomic(sp->dir, "outbound", xml, doc, len, "sepa_file_write");
		free(doc);
		if (ok)
			log_info("sepa: wrote outbound/%s (%d payments)", xml, m);
	}
	if (ok)
		ok = write_atomic(sp->dir, "state/batches", name, "", 0, NULL);
	free(pay);
	return ok;
}

/* The payment a session's payout makes, from its session and its saved
 * destination (read in one read transaction). */
struct load_arg {
	const struct rail_call *calls;
	const int *which;
	int n;
	struct iso_payment *out;
};

static bool payment_of(const struct store_session *s, const struct store_destination *d,
		       const struct rail_call *c, struct iso_payment *p)
{
	json_t *j = json_loads(d->body, 0, NULL);
	const char *name = json_string_value(json_object_get(j, "beneficiary_name"));
	json_t *bc = json_object_get(j, "bank_coordinates");
	const char *iban = json_string_value(json_object_get(bc, "iban"));
	const char *bic = json_string_value(json_object_get(bc, "bic"));
	bool ok = name && iban && bic;
	if (ok) {
		memset(p, 0, sizeof *p);
		e2e_of(s->id, p->end_to_end_id);
		snprintf(p->creditor.name, sizeof p->creditor.name, "%s", name);
		snprintf(p->creditor.iban, sizeof p->creditor.iban, "%s", iban);
		snprintf(p->creditor.bic, sizeof p->creditor.bic, "%s", bic);
		snprintf(p->currency, sizeof p->currency, "%s", money_currency_code(c->currency));
		p->scale = money_scale(c->currency);
		p->amount_minor = c->amount_minor;
		snprintf(p->reference, sizeof p->reference, "%s", s->payment_reference);
		p->instant = strcmp(s->fiat_rail, "sepa_instant") == 0;
	}
	json_decref(j);
	return ok;
}

static enum store_status load_tx(struct store_tx *tx, void *arg)
{
	struct load_arg *a = arg;
	for (int i = 0; i < a->n; i++) {
		const struct rail_call *c = &a->calls[a->which[i]];
		struct store_session s;
		struct store_destination d = {0};
		enum store_status st = STORE_CALL(tx, session_get, c->tenant_id, c->session_id, &s);
		if (st == STORE_OK)
			st = STORE_CALL(tx, destination_get, c->tenant_id, s.destination_id, &d);
		if (st == STORE_OK && !payment_of(&s, &d, c, &a->out[i]))
			st = STORE_FAIL;
		free(d.body);
		if (st != STORE_OK)
			return st;
	}
	return STORE_OK;
}

static int by_e2e(const void *a, const void *b)
{
	return strcmp(((const struct iso_payment *)a)->end_to_end_id,
		      ((const struct iso_payment *)b)->end_to_end_id);
}

/* Step 1: record the new payouts which[0, n) as one batch; its MsgId in
 * msg_id. The record names the payments sorted, so the same payouts make
 * the same MsgId and the same record. */
static bool batch_record(struct sepa *sp, const struct rail_call *calls, const int *which, int n,
			 char msg_id[ISO_ID_MAX + 1])
{
	struct iso_payment *pay = calloc((size_t)n, sizeof *pay);
	if (!pay)
		return false;
	struct load_arg la = {.calls = calls, .which = which, .n = n, .out = pay};
	if (store_run(sp->store, false, load_tx, &la) != STORE_OK) {
		free(pay);
		return false;
	}
	qsort(pay, (size_t)n, sizeof *pay, by_e2e);
	char *ids = malloc((size_t)n * 33 + 1);
	bool ok = ids != NULL;
	if (ok) {
		size_t len = 0;
		for (int i = 0; i < n; i++) {
			size_t l = strlen(pay[i].end_to_end_id);
			memcpy(ids + len, pay[i].end_to_end_id, l);
			len += l;
		}
		char hex[CRYPTO_SHA256_HEX_LEN + 1];
		crypto_sha256_hex(ids, len, hex);
		snprintf(msg_id, ISO_ID_MAX + 1, "OFR%.32s", hex);
	}
	free(ids);
	char name[64], p[4096];
	snprintf(name, sizeof name, "%s.json", ok ? msg_id : "x");
	path_of(p, sizeof p, sp->dir, "state/batches", name);
	if (ok && !exists(p)) {
		json_t *arr = json_array();
		for (int i = 0; arr && i < n; i++) {
			const char *sid = "", *tid = "";
			for (int k = 0; k < n; k++) {
				char e[ISO_ID_MAX + 1];
				e2e_of(calls[which[k]].session_id, e);
				if (strcmp(e, pay[i].end_to_end_id) == 0) {
					sid = calls[which[k]].session_id;
					tid = calls[which[k]].tenant_id;
				}
			}
			json_array_append_new(arr, payment_json(&pay[i], tid, sid));
		}
		json_t *j = json_pack("{s:s, s:I, s:o}", "msg_id", msg_id, "created",
				      (json_int_t)(clock_now_ms() / 1000), "payments", arr);
		char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
		ok = text && write_atomic(sp->dir, "state/batches", name, text, strlen(text), NULL);
		free(text);
		json_decref(j);
	}
	free(pay);
	return ok;
}

/* ---- the rail ops -------------------------------------------------------- */

static void answer(struct rail_result *r, enum rail_outcome o, const char *reason)
{
	memset(r, 0, sizeof *r);
	r->outcome = o;
	if (reason)
		snprintf(r->reason, sizeof r->reason, "%s", reason);
}

/* The stablecoin leg settles against the operator's own treasury. */
static void sf_chain_transfer(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	answer(r, RAIL_OK, NULL);
}

/* A payout waiting for the batch window: a copy of its call (the
 * worker's strings do not outlive the call). Memory only: a crash loses
 * the queue, never a file; the sessions are asked again after it. */
struct queued {
	char tenant_id[64], session_id[64], rail_name[40];
	enum currency source, currency;
	int64_t principal_minor, amount_minor;
};

static bool is_queued(const struct sepa *sp, const char *session_id)
{
	for (int i = 0; i < sp->nq; i++)
		if (strcmp(sp->queue[i].session_id, session_id) == 0)
			return true;
	return false;
}

static void enqueue(struct sepa *sp, const struct rail_call *c)
{
	if (sp->nq >= LIMIT_SEPA_FILE_TXS || is_queued(sp, c->session_id))
		return;
	struct queued *q = &sp->queue[sp->nq++];
	snprintf(q->tenant_id, sizeof q->tenant_id, "%s", c->tenant_id);
	snprintf(q->session_id, sizeof q->session_id, "%s", c->session_id);
	snprintf(q->rail_name, sizeof q->rail_name, "%s", c->rail_name);
	q->source = c->source;
	q->currency = c->currency;
	q->principal_minor = c->principal_minor;
	q->amount_minor = c->amount_minor;
	if (sp->nq == 1)
		sp->window_start_ms = (int64_t)clock_now_ms();
}

/* Write the queue as one batch (steps 1-4) once its window has passed
 * or it is full; the queue empties when its file is written. */
static void flush_queue(struct sepa *sp)
{
	int64_t now = (int64_t)clock_now_ms();
	if (sp->nq == 0 ||
	    (sp->nq < LIMIT_SEPA_FILE_TXS && now - sp->window_start_ms < sp->cfg.batch_ms))
		return;
	struct rail_call calls[LIMIT_SEPA_FILE_TXS];
	int which[LIMIT_SEPA_FILE_TXS];
	for (int i = 0; i < sp->nq; i++) {
		const struct queued *q = &sp->queue[i];
		calls[i] = (struct rail_call){.tenant_id = q->tenant_id,
					      .session_id = q->session_id,
					      .rail_name = q->rail_name,
					      .source = q->source,
					      .principal_minor = q->principal_minor,
					      .currency = q->currency,
					      .amount_minor = q->amount_minor};
		which[i] = i;
	}
	char msg_id[ISO_ID_MAX + 1];
	if (batch_record(sp, calls, which, sp->nq, msg_id) && batch_complete(sp, msg_id)) {
		sp->nq = 0;
		sp->window_start_ms = 0;
	} else {
		log_error("sepa: cannot write the batch of %d payouts now; trying again", sp->nq);
	}
}

/* Each call: in a written batch, RAIL_OK; queued for the next batch,
 * RAIL_PENDING; the book unreadable, RAIL_TRANSIENT. */
static void submit_locked(struct sepa *sp, const struct rail_call *c, struct rail_result *r, int n)
{
	for (int i = 0; i < n; i++) {
		char e2e[ISO_ID_MAX + 1], batch[ISO_ID_MAX + 1];
		e2e_of(c[i].session_id, e2e);
		if (!index_get(sp->dir, e2e, batch))
			enqueue(sp, &c[i]);
	}
	flush_queue(sp);
	for (int i = 0; i < n; i++) {
		char e2e[ISO_ID_MAX + 1], batch[ISO_ID_MAX + 1];
		e2e_of(c[i].session_id, e2e);
		answer(&r[i], RAIL_TRANSIENT, "rail_unavailable");
		if (index_get(sp->dir, e2e, batch)) {
			/* The index decides (a payment may have gone to an
			 * older record's file): OK once its batch is written. */
			if (batch_complete(sp, batch))
				answer(&r[i], RAIL_OK, NULL);
		} else if (is_queued(sp, c[i].session_id)) {
			answer(&r[i], RAIL_PENDING, NULL);
		}
	}
}

static void sf_submit_many(struct rail *rail, const struct rail_call *c, struct rail_result *r,
			   int n)
{
	struct sepa *sp = (struct sepa *)rail;
	if (n > LIMIT_SEPA_FILE_TXS)
		n = LIMIT_SEPA_FILE_TXS; /* never reached: a pass leases no more */
	pthread_mutex_lock(&sp->mu);
	submit_locked(sp, c, r, n);
	pthread_mutex_unlock(&sp->mu);
}

static void sf_submit(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	sf_submit_many(rail, c, r, 1);
}

static void result_of(const char *dir, const char *e2e, char outcome[16], char reason[8])
{
	char name[64], p[4096];
	snprintf(name, sizeof name, "%s.json", e2e);
	path_of(p, sizeof p, dir, "state/results", name);
	outcome[0] = reason[0] = '\0';
	json_t *j = json_load_file(p, 0, NULL);
	const char *o = json_string_value(json_object_get(j, "outcome"));
	const char *why = json_string_value(json_object_get(j, "reason"));
	if (o)
		snprintf(outcome, 16, "%s", o);
	if (why)
		snprintf(reason, 8, "%s", why);
	json_decref(j);
}

static void sf_status(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct sepa *sp = (struct sepa *)rail;
	char e2e[ISO_ID_MAX + 1], outcome[16], reason[8];
	e2e_of(c->session_id, e2e);
	result_of(sp->dir, e2e, outcome, reason);
	if (strcmp(outcome, "rejected") == 0) {
		answer(r, RAIL_REJECTED, "bank_rejected");
		snprintf(r->detail, sizeof r->detail, "%s", reason);
	} else if (outcome[0])
		answer(r, RAIL_OK, NULL); /* booked (a return comes after) */
	else
		answer(r, RAIL_PENDING, NULL);
}

/* ---- importing reports --------------------------------------------------- */

/* What a report does to one payment. */
struct effect {
	char e2e[ISO_ID_MAX + 1];
	enum iso_outcome outcome;
	char reason[8];
};

struct effects {
	struct effect *e;
	int n, cap;
};

static bool effect_add(struct effects *fx, const char *e2e, const struct iso_item *it)
{
	if (fx->n >= LIMIT_BANK_REPORT_ENTRIES)
		return false;
	if (fx->n == fx->cap) {
		int cap = fx->cap ? fx->cap * 2 : 16;
		struct effect *m = realloc(fx->e, (size_t)cap * sizeof *m);
		if (!m)
			return false;
		fx->e = m;
		fx->cap = cap;
	}
	struct effect *e = &fx->e[fx->n++];
	snprintf(e->e2e, sizeof e->e2e, "%s", e2e);
	e->outcome = it->outcome;
	snprintf(e->reason, sizeof e->reason, "%s", it->reason);
	return true;
}

/* A group or PmtInf rejection: every payment of that batch (and
 * instrument) whose index names the batch. */
static bool expand(const char *dir, const struct iso_item *it, struct effects *fx, char *why,
		   size_t cap)
{
	struct iso_payment *pay;
	int n;
	int64_t created;
	if (!it->msg_id[0] || !batch_load(dir, it->msg_id, &pay, &n, &created)) {
		snprintf(why, cap, "names no known payment file (OrgnlMsgId %.35s)", it->msg_id);
		return false;
	}
	bool ok = true, any = false;
	for (int i = 0; ok && i < n; i++) {
		char owner[ISO_ID_MAX + 1], pid[ISO_ID_MAX + 1];
		iso_pmtinf_id(it->msg_id, pay[i].instant, pid);
		if (it->pmtinf_id[0] && strcmp(pid, it->pmtinf_id) != 0)
			continue;
		if (!index_get(dir, pay[i].end_to_end_id, owner) || strcmp(owner, it->msg_id) != 0)
			continue;
		any = true;
		ok = effect_add(fx, pay[i].end_to_end_id, it);
	}
	free(pay);
	if (!any)
		snprintf(why, cap, "names no known payment (PmtInfId %.35s)", it->pmtinf_id);
	else if (!ok)
		snprintf(why, cap, "too many payments");
	return ok && any;
}

/* What the book says of payment e2e: its tenant, session, amount and
 * currency, from its batch's record (the one its index names). */
struct book_entry {
	char tenant[64], session[64], currency[4];
	int64_t amount_minor;
};

static bool book_entry_of(const char *dir, const char *e2e, struct book_entry *out)
{
	char batch[ISO_ID_MAX + 1], name[64], p[4096];
	if (!index_get(dir, e2e, batch))
		return false;
	snprintf(name, sizeof name, "%s.json", batch);
	path_of(p, sizeof p, dir, "state/batches", name);
	json_t *j = json_load_file(p, 0, NULL);
	json_t *arr = json_object_get(j, "payments");
	bool found = false;
	for (size_t i = 0; !found && i < json_array_size(arr); i++) {
		json_t *x = json_array_get(arr, i);
		const char *e = json_string_value(json_object_get(x, "end_to_end_id"));
		const char *t = json_string_value(json_object_get(x, "tenant_id"));
		const char *s = json_string_value(json_object_get(x, "session_id"));
		const char *c = json_string_value(json_object_get(x, "currency"));
		json_t *amt = json_object_get(x, "amount_minor");
		if (e && t && s && c && json_is_integer(amt) && strcmp(e, e2e) == 0) {
			snprintf(out->tenant, sizeof out->tenant, "%s", t);
			snprintf(out->session, sizeof out->session, "%s", s);
			snprintf(out->currency, sizeof out->currency, "%s", c);
			out->amount_minor = json_integer_value(amt);
			found = true;
		}
	}
	json_decref(j);
	return found;
}

/* A booking must book what was paid: a debit of another amount or
 * currency is not this payment, and the report is refused. (A return may
 * be less, by the banks' charges: not checked.) */
static bool amount_matches(const char *dir, const struct iso_item *it, char *why, size_t cap)
{
	struct book_entry b;
	if (it->outcome != ISO_BOOKED || it->amount_minor < 0)
		return true;
	if (!book_entry_of(dir, it->end_to_end_id, &b)) {
		snprintf(why, cap, "the book has no record of EndToEndId %.35s", it->end_to_end_id);
		return false;
	}
	if (b.amount_minor == it->amount_minor && strcmp(b.currency, it->currency) == 0)
		return true;
	snprintf(why, cap, "books EndToEndId %.35s for another amount than was paid",
		 it->end_to_end_id);
	return false;
}

static bool match(const char *dir, const struct iso_report *rep, struct effects *fx, char *why,
		  size_t cap)
{
	if (rep->n == 0) {
		snprintf(why, cap, "names no payment");
		return false;
	}
	for (int i = 0; i < rep->n; i++) {
		const struct iso_item *it = &rep->items[i];
		char owner[ISO_ID_MAX + 1];
		if (!it->end_to_end_id[0]) {
			if (!expand(dir, it, fx, why, cap))
				return false;
			continue;
		}
		if (!index_get(dir, it->end_to_end_id, owner)) {
			snprintf(why, cap, "names an unknown payment (EndToEndId %.35s)",
				 it->end_to_end_id);
			return false;
		}
		if (!amount_matches(dir, it, why, cap))
			return false;
		if (!effect_add(fx, it->end_to_end_id, it)) {
			snprintf(why, cap, "too many payments");
			return false;
		}
	}
	return true;
}

static const char *outcome_word(enum iso_outcome o)
{
	return o == ISO_REJECTED ? "rejected" : o == ISO_BOOKED ? "booked" : "returned";
}

/* Write one payment's result unless the bank's earlier word stands. */
static bool apply(const char *dir, const struct effect *e, const char *report_id)
{
	if (e->outcome == ISO_ACCEPTED)
		return true;
	char have[16], reason[8];
	result_of(dir, e->e2e, have, reason);
	const char *want = outcome_word(e->outcome);
	bool write = !have[0] || (e->outcome == ISO_RETURNED && strcmp(have, "booked") == 0);
	if (!write) {
		if (strcmp(have, want) != 0)
			log_warn("sepa: report %s says %s of %s, already %s: kept", report_id, want,
				 e->e2e, have);
		return true;
	}
	json_t *j = json_pack("{s:s, s:s, s:s}", "outcome", want, "reason", e->reason, "report",
			      report_id);
	char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
	char name[64];
	snprintf(name, sizeof name, "%s.json", e->e2e);
	bool ok = text && write_atomic(dir, "state/results", name, text, strlen(text), NULL);
	free(text);
	json_decref(j);
	return ok;
}

/* Hand every payment the book now records as returned to on_return.
 * SEPA_IMPORTED when all are done, SEPA_LATER when one is not settled
 * yet, SEPA_ERROR when one could not be recorded. */
static enum sepa_import returns_apply(const struct sepa_config *cfg, const struct effects *fx,
				      char *why, size_t why_cap)
{
	enum sepa_import res = SEPA_IMPORTED;
	for (int i = 0; i < fx->n && cfg->on_return; i++) {
		const struct effect *e = &fx->e[i];
		char have[16], reason[8];
		struct book_entry b;
		if (e->outcome != ISO_RETURNED)
			continue;
		result_of(cfg->dir, e->e2e, have, reason);
		if (strcmp(have, "returned") != 0)
			continue; /* the bank's earlier word (a rejection) stands */
		if (!book_entry_of(cfg->dir, e->e2e, &b)) {
			snprintf(why, why_cap, "the book has no session for EndToEndId %s", e->e2e);
			return SEPA_ERROR;
		}
		enum sepa_return r = cfg->on_return(cfg->on_return_arg, b.tenant, b.session, reason);
		if (r == SEPA_RETURN_NONE)
			log_warn("sepa: %s returned, but session %s was never paid: ignored", e->e2e,
				 b.session);
		if (r == SEPA_RETURN_LATER && res == SEPA_IMPORTED) {
			snprintf(why, why_cap, "session %s is not settled yet", b.session);
			res = SEPA_LATER;
		}
		if (r == SEPA_RETURN_ERROR) {
			snprintf(why, why_cap, "cannot record the return of session %s", b.session);
			return SEPA_ERROR;
		}
	}
	return res;
}

enum sepa_import sepa_import_file(const struct sepa_config *cfg, const char *path, int *count,
				  char *why, size_t why_cap)
{
	*count = 0;
	size_t len;
	char *buf = read_all(path, LIMIT_BANK_REPORT_BYTES, &len);
	if (!buf) {
		snprintf(why, why_cap, "cannot read the file: %s", strerror(errno));
		return SEPA_ERROR;
	}
	struct iso_report rep;
	bool ok = iso_report_read(buf, len, cfg->schema_dir, &rep, why, why_cap);
	free(buf);
	if (!ok)
		return SEPA_REFUSED;
	struct effects fx = {0};
	enum sepa_import res = SEPA_REFUSED;
	if (match(cfg->dir, &rep, &fx, why, why_cap)) {
		res = SEPA_IMPORTED;
		for (int i = 0; i < fx.n && res == SEPA_IMPORTED; i++) {
			if (i == fx.n / 2)
				stall("sepa_import_apply");
			if (!apply(cfg->dir, &fx.e[i], rep.msg_id)) {
				snprintf(why, why_cap, "cannot write results");
				res = SEPA_ERROR;
			}
		}
		if (res == SEPA_IMPORTED)
			res = returns_apply(cfg, &fx, why, why_cap);
		*count = fx.n;
	}
	free(fx.e);
	iso_report_free(&rep);
	return res;
}

/* Move inbound/name to sub/ (a name taken there gets a numbered suffix). */
static void move_to(const char *dir, const char *name, const char *sub, const char *reason)
{
	char from[4096], to[4096], d[4096], base[1024];
	path_of(from, sizeof from, dir, "inbound", name);
	snprintf(base, sizeof base, "%s", name);
	path_of(to, sizeof to, dir, sub, base);
	for (int k = 1; exists(to) && k < 1000; k++) {
		snprintf(base, sizeof base, "%s.%d", name, k);
		path_of(to, sizeof to, dir, sub, base);
	}
	if (reason) {
		char rname[1100];
		snprintf(rname, sizeof rname, "%s.reason", base);
		char line[600];
		int l = snprintf(line, sizeof line, "%s\n", reason);
		write_atomic(dir, sub, rname, line, (size_t)l, NULL);
	}
	if (rename(from, to) != 0)
		log_error("sepa: cannot move inbound/%s to %s/: %s", name, sub, strerror(errno));
	snprintf(d, sizeof d, "%s/%s", dir, sub);
	fsync_dir(d);
	snprintf(d, sizeof d, "%s/inbound", dir);
	fsync_dir(d);
}

static void scan_inbound(struct sepa *sp)
{
	char in[4096];
	snprintf(in, sizeof in, "%s/inbound", sp->dir);
	DIR *d = opendir(in);
	if (!d)
		return;
	struct dirent *de;
	while (!sp->stop && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., and files still being written (".name") */
		char p[4096];
		path_of(p, sizeof p, sp->dir, "inbound", de->d_name);
		struct stat st;
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		char why[512] = "";
		int count;
		enum sepa_import r = sepa_import_file(&sp->cfg, p, &count, why, sizeof why);
		if (r == SEPA_IMPORTED) {
			log_info("sepa: imported %s (%d payments)", de->d_name, count);
			move_to(sp->dir, de->d_name, "processed", NULL);
		} else if (r == SEPA_REFUSED) {
			log_warn("sepa: refused %s: %s", de->d_name, why);
			move_to(sp->dir, de->d_name, "failed", why);
		} else if (r == SEPA_LATER) {
			/* Stays in inbound/; the next scan reads it again. */
		} else {
			log_error("sepa: cannot import %s now: %s", de->d_name, why);
		}
	}
	closedir(d);
}

static void *watch_main(void *arg)
{
	struct sepa *sp = arg;
	while (!sp->stop) {
		scan_inbound(sp);
		for (int i = 0; i < INBOUND_POLL_MS / 10 && !sp->stop; i++)
			usleep(10000);
	}
	return NULL;
}

static void sf_close(struct rail *rail)
{
	struct sepa *sp = (struct sepa *)rail;
	sp->stop = true;
	if (sp->watching)
		pthread_join(sp->watcher, NULL);
	pthread_mutex_destroy(&sp->mu);
	free(sp->queue);
	free(sp);
}

static const struct rail_ops sepa_ops = {
	.name = "sepa_file",
	.chain_transfer = sf_chain_transfer,
	.payout_submit = sf_submit,
	.payout_status = sf_status,
	.close = sf_close,
	.payout_submit_many = sf_submit_many,
};

struct rail *rail_sepa_file_new(const struct sepa_config *cfg, struct store *store, bool watch)
{
	if (!cfg->dir || !make_dirs(cfg->dir))
		return NULL;
	struct sepa *sp = calloc(1, sizeof *sp);
	if (!sp)
		return NULL;
	sp->base.ops = &sepa_ops;
	sp->cfg = *cfg;
	snprintf(sp->dir, sizeof sp->dir, "%s", cfg->dir);
	snprintf(sp->schema_dir, sizeof sp->schema_dir, "%s", cfg->schema_dir);
	sp->cfg.dir = sp->dir;
	sp->cfg.schema_dir = sp->schema_dir;
	sp->store = store;
	sp->queue = calloc(LIMIT_SEPA_FILE_TXS, sizeof *sp->queue);
	if (!sp->queue) {
		free(sp);
		return NULL;
	}
	pthread_mutex_init(&sp->mu, NULL);
	if (watch) {
		if (pthread_create(&sp->watcher, NULL, watch_main, sp) != 0) {
			sf_close(&sp->base);
			return NULL;
		}
		sp->watching = true;
	}
	return &sp->base;
}
