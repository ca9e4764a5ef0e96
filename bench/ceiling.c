/*
 * ceiling.c - what raw SQLite does with one create's rows, in batches.
 *
 * The bench's ceiling: the row writes one POST /off-ramp-sessions makes,
 * with nothing around them (no HTTP, no JSON, no validation, no reads that
 * decide), on the service's own schema and indexes, with the service's
 * pragmas (WAL, synchronous=FULL, foreign_keys=ON), from one connection with
 * prepared statements, --batch sessions per transaction. Per session:
 *   - the idempotency record, with the answer bytes (--answer FILE);
 *   - the hold: one pending transfer, and both balances updated;
 *   - the session row;
 *   - its first event, with the snapshot bytes (--event FILE).
 * The service writes each of these once too, but also reads what decides
 * (the account, destination, limits, fees, balances) and checks what the
 * ceiling does not, so it is an upper bound, not a replica.
 *
 * --db is a database the bench set up through the service (a tenant, a
 * funded client account, its destination); the ids are read from it so
 * the foreign keys hold. It runs for --seconds and prints one line of
 * key=value pairs: sessions/s, rows/s, commits/s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define CE_ID_MAX 64
#define CE_BLOB_MAX (1 << 20)
#define CE_BATCH_MAX 10000

struct ce_ids {
	char tenant[CE_ID_MAX], client[CE_ID_MAX], account[CE_ID_MAX], holds[CE_ID_MAX];
	char destination[CE_ID_MAX], principal[CE_ID_MAX];
};

static void ce_die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "ceiling: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
	exit(2);
}

static int64_t ce_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *ce_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "ceiling: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	char *buf = malloc(CE_BLOB_MAX);
	if (!buf)
		ce_die(NULL, "out of memory");
	*len = fread(buf, 1, CE_BLOB_MAX, f);
	fclose(f);
	return buf;
}

/* One text column of the first row of sql into out. */
static void ce_one(sqlite3 *db, const char *sql, char out[CE_ID_MAX])
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		ce_die(db, sql);
	if (sqlite3_step(st) != SQLITE_ROW)
		ce_die(db, sql);
	snprintf(out, CE_ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void ce_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		ce_die(db, sql);
}

static sqlite3_stmt *ce_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		ce_die(db, sql);
	return st;
}

static void ce_step(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		ce_die(db, sqlite3_sql(st));
	sqlite3_reset(st);
}

/* A UUID-shaped id, unique in this run (the schema's ids are text). */
static void ce_id(char out[CE_ID_MAX], uint64_t run, uint64_t n, int kind)
{
	snprintf(out, CE_ID_MAX, "%08llx-%04x-7000-8000-%012llx", (unsigned long long)(run & 0xffffffff),
		 kind, (unsigned long long)n);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *answer_file = NULL, *event_file = NULL, *label = "ceiling";
	double seconds = 5;
	int batch = 100;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--db"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--batch"))
			batch = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--answer"))
			answer_file = argv[i + 1];
		else if (!strcmp(argv[i], "--event"))
			event_file = argv[i + 1];
		else if (!strcmp(argv[i], "--label"))
			label = argv[i + 1];
	}
	if (!path || !answer_file || !event_file || batch < 1 || batch > CE_BATCH_MAX ||
	    seconds <= 0) {
		fputs("usage: ceiling --db FILE --answer FILE --event FILE [--batch N] "
		      "[--seconds S] [--label NAME]\n",
		      stderr);
		return 2;
	}
	size_t answer_len, event_len;
	char *answer = ce_slurp(answer_file, &answer_len);
	char *event = ce_slurp(event_file, &event_len);

	sqlite3 *db;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		ce_die(db, "open");
	sqlite3_busy_timeout(db, 5000);
	ce_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");

	struct ce_ids ids;
	ce_one(db, "SELECT tenant_id FROM destinations ORDER BY created_at LIMIT 1", ids.tenant);
	ce_one(db, "SELECT client_id FROM destinations ORDER BY created_at LIMIT 1", ids.client);
	ce_one(db, "SELECT account_id FROM destinations ORDER BY created_at LIMIT 1", ids.account);
	ce_one(db, "SELECT id FROM destinations ORDER BY created_at LIMIT 1", ids.destination);
	ce_one(db, "SELECT id FROM principals LIMIT 1", ids.principal);
	ce_one(db, "SELECT id FROM accounts WHERE kind = 'system' AND code = 'holds' LIMIT 1",
	       ids.holds);

	sqlite3_stmt *idem = ce_prepare(
		db, "INSERT INTO idempotency(tenant_id, endpoint, key, request_hash, status, body,"
		    " created_at, expires_at) VALUES (?1, 'POST /off-ramp-sessions', ?2,"
		    " ?3, 201, ?4, ?5, ?5 + 86400)");
	sqlite3_stmt *xfer = ce_prepare(
		db, "INSERT INTO transfers(id, op, pending_id, debit_account_id, credit_account_id,"
		    " currency, amount, session_id, kind, created_at)"
		    " VALUES (?1, 'pending', NULL, ?2, ?3, 'USDC', 25100, ?4, 'session_hold', ?5)");
	sqlite3_stmt *bal_dr = ce_prepare(
		db, "UPDATE balances SET debits_pending = debits_pending + 25100"
		    " WHERE account_id = ?1 AND currency = 'USDC'");
	sqlite3_stmt *bal_cr = ce_prepare(
		db, "INSERT INTO balances(account_id, currency, debits_posted, credits_posted,"
		    " debits_pending, credits_pending) VALUES (?1, 'USDC', 0, 0, 0, 25100)"
		    " ON CONFLICT(account_id, currency) DO UPDATE SET"
		    " credits_pending = credits_pending + 25100");
	sqlite3_stmt *sess = ce_prepare(
		db, "INSERT INTO sessions(id, tenant_id, account_id, client_id, destination_id,"
		    " principal_id, principal_kind, status, stage, currency, principal_minor,"
		    " fee_network_minor, fee_platform_minor, fee_total_minor, target_currency,"
		    " target_rail, method, fiat_rail, payment_reference, failure_reason,"
		    " hold_transfer_id, version, created_at, updated_at, settled_at, next_run_ms,"
		    " network, event_seq)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'user', 'executing', 'stablecoin_transfer',"
		    " 'USDC', 25000, 100, 0, 100, 'EUR', 'fiat', 'bank_transfer',"
		    " 'sepa_credit_transfer', 'RF18539007547034', '', ?7, 1, ?8, ?8, 0,"
		    " ?9, 'ethereum', 1)");
	sqlite3_stmt *ev = ce_prepare(
		db, "INSERT INTO events(id, tenant_id, resource_id, resource_seq, type, data,"
		    " created_at) VALUES (?1, ?2, ?3, 1, 'off_ramp_session.executing', ?4, ?5)");

	uint64_t run = (uint64_t)time(NULL), n = 0, commits = 0;
	int64_t t0 = ce_now_ns(), stop = t0 + (int64_t)(seconds * 1e9), now = t0;
	char sid[CE_ID_MAX], tid[CE_ID_MAX], eid[CE_ID_MAX], key[CE_ID_MAX];
	static const char hash[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	while (now < stop) {
		ce_exec(db, "BEGIN IMMEDIATE");
		int64_t wall = (int64_t)time(NULL);
		for (int b = 0; b < batch; b++, n++) {
			ce_id(sid, run, n, 1);
			ce_id(tid, run, n, 2);
			ce_id(eid, run, n, 3);
			snprintf(key, sizeof key, "ceiling-%llu-%llu", (unsigned long long)run,
				 (unsigned long long)n);
			sqlite3_bind_text(idem, 1, ids.tenant, -1, SQLITE_STATIC);
			sqlite3_bind_text(idem, 2, key, -1, SQLITE_STATIC);
			sqlite3_bind_text(idem, 3, hash, -1, SQLITE_STATIC);
			sqlite3_bind_blob(idem, 4, answer, (int)answer_len, SQLITE_STATIC);
			sqlite3_bind_int64(idem, 5, wall);
			ce_step(db, idem);
			sqlite3_bind_text(xfer, 1, tid, -1, SQLITE_STATIC);
			sqlite3_bind_text(xfer, 2, ids.account, -1, SQLITE_STATIC);
			sqlite3_bind_text(xfer, 3, ids.holds, -1, SQLITE_STATIC);
			sqlite3_bind_text(xfer, 4, sid, -1, SQLITE_STATIC);
			sqlite3_bind_int64(xfer, 5, wall);
			ce_step(db, xfer);
			sqlite3_bind_text(bal_dr, 1, ids.account, -1, SQLITE_STATIC);
			ce_step(db, bal_dr);
			sqlite3_bind_text(bal_cr, 1, ids.holds, -1, SQLITE_STATIC);
			ce_step(db, bal_cr);
			sqlite3_bind_text(sess, 1, sid, -1, SQLITE_STATIC);
			sqlite3_bind_text(sess, 2, ids.tenant, -1, SQLITE_STATIC);
			sqlite3_bind_text(sess, 3, ids.account, -1, SQLITE_STATIC);
			sqlite3_bind_text(sess, 4, ids.client, -1, SQLITE_STATIC);
			sqlite3_bind_text(sess, 5, ids.destination, -1, SQLITE_STATIC);
			sqlite3_bind_text(sess, 6, ids.principal, -1, SQLITE_STATIC);
			sqlite3_bind_text(sess, 7, tid, -1, SQLITE_STATIC);
			sqlite3_bind_int64(sess, 8, wall);
			/* Far in the future: nobody serves this file, but keep its
			 * rows out of any due-session query all the same. */
			sqlite3_bind_int64(sess, 9, INT64_MAX / 2);
			ce_step(db, sess);
			sqlite3_bind_text(ev, 1, eid, -1, SQLITE_STATIC);
			sqlite3_bind_text(ev, 2, ids.tenant, -1, SQLITE_STATIC);
			sqlite3_bind_text(ev, 3, sid, -1, SQLITE_STATIC);
			sqlite3_bind_text(ev, 4, event, (int)event_len, SQLITE_STATIC);
			sqlite3_bind_int64(ev, 5, wall);
			ce_step(db, ev);
		}
		ce_exec(db, "COMMIT");
		commits++;
		now = ce_now_ns();
	}
	double secs = (double)(now - t0) / 1e9;
	printf("label=%s batch=%d sessions=%llu commits=%llu seconds=%.3f sessions_per_s=%.1f "
	       "rows_per_s=%.1f commits_per_s=%.1f answer_bytes=%zu event_bytes=%zu\n",
	       label, batch, (unsigned long long)n, (unsigned long long)commits, secs,
	       (double)n / secs, 6.0 * (double)n / secs, (double)commits / secs, answer_len,
	       event_len);
	sqlite3_finalize(idem);
	sqlite3_finalize(xfer);
	sqlite3_finalize(bal_dr);
	sqlite3_finalize(bal_cr);
	sqlite3_finalize(sess);
	sqlite3_finalize(ev);
	sqlite3_close(db);
	free(answer);
	free(event);
	return 0;
}
