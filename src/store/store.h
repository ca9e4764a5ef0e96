/*
 * store.h - the storage interface. One table of function pointers
 * (struct store_ops) that each backend fills: store/sqlite now,
 * store/pg later. Nothing above this header knows SQL.
 *
 * Transactions. All access goes through store_run(): it opens a
 * transaction, calls fn(tx, arg), commits when fn returns STORE_OK and
 * rolls back otherwise. A write transaction that meets contention
 * (SQLite BUSY, PostgreSQL serialization failure or deadlock) is retried
 * from the start by store_run, a bounded number of times; so fn must be
 * re-runnable: no effect outside the transaction, outputs rewritten on
 * each run. That rule is also what lets a backend group-commit: run many
 * callers' write fns in one transaction (one savepoint each) and
 * acknowledge them all at one fsync (the SQLite backend does). So a write
 * fn must not call store_run(write) itself, and must not assume it is the
 * only writer of its transaction: it sees the effects of the writes queued
 * before it, as a serial order would.
 *
 * Status values separate "retry" (contention, nothing happened) from
 * "fail" (infrastructure broken) from outcomes (not found, exists).
 *
 * Ownership. Record structs are filled by the store; their char * fields
 * are malloc'd and owned by the caller, released with the matching
 * store_*_clear(). Input structs are borrowed for the call only.
 *
 * Tenancy. Every lookup of a tenant resource takes the tenant id and
 * answers STORE_NOT_FOUND for another tenant's row, exactly as for an
 * absent one.
 *
 * Thread safety. A struct store may be used from any number of threads;
 * a struct store_tx only by the thread inside store_run.
 */
#ifndef OFFRAMP_STORE_STORE_H
#define OFFRAMP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/fault.h"
#include "base/limits.h"
#include "base/uuid.h"
#include "domain/ledger.h"

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND, /* no such row (or another tenant's) */
	STORE_EXISTS,    /* a unique key already holds a row */
	STORE_ABORT,     /* fn chose to roll back (an outcome, not a failure) */
	STORE_RETRY,     /* contention; run the transaction again */
	STORE_FAIL,      /* infrastructure failure; give up, answer 5xx */
	/* The database cannot be reached (connection lost or refused, server
	 * shutting down): nothing of fn was committed, except that a
	 * connection lost during COMMIT itself leaves the outcome unknown
	 * (the client's retry under its idempotency key resolves it). Not
	 * retried by store_run: the backend already tried to reconnect, and
	 * a caller answers 503 at once rather than hold a request. */
	STORE_UNAVAILABLE,
};

typedef char store_id[UUID_STR_LEN + 1];

struct store_tenant {
	store_id id;
	char name[LIMIT_NAME_BYTES + 1];
	int64_t created_at;
};

struct store_principal {
	store_id id;
	store_id tenant_id;
	char kind[8]; /* "user" | "service" */
	int64_t created_at;
};

struct store_api_key {
	store_id id;
	store_id principal_id;
	store_id tenant_id;
	char principal_kind[8];
	uint8_t hash[32]; /* SHA-256 of the secret; the secret is never kept */
	uint32_t capabilities;
	bool revoked;
	int64_t created_at;
};

struct store_client {
	store_id id;
	store_id tenant_id;
	char display_name[LIMIT_NAME_BYTES + 1];
	store_id default_account_id;
	int64_t created_at;
};

#define STORE_ACCOUNT_CODE_MAX 32
struct store_account {
	store_id id;
	store_id tenant_id;
	store_id client_id; /* "" for system accounts */
	char kind[8];       /* "client" | "system" */
	char code[STORE_ACCOUNT_CODE_MAX]; /* system accounts: "sandbox_funding", "holds" */
	unsigned flags;     /* enum ledger_flags */
	int64_t created_at;
};

struct store_balance {
	store_id account_id;
	char currency[8];
	struct ledger_balance b;
};

struct store_transfer {
	store_id id;
	char op[16]; /* ledger_op_name() */
	store_id pending_id; /* for post/void: the hold; else "" */
	store_id debit_account_id;
	store_id credit_account_id;
	char currency[8];
	int64_t amount_minor;
	store_id session_id; /* "" when not a session's */
	char kind[24];       /* "deposit", "session_hold", "session_post", "session_void" */
	int64_t created_at;
};

struct store_destination {
	store_id id;
	store_id tenant_id;
	store_id client_id;
	store_id account_id;
	char method[24];
	char fiat_rail[40]; /* "" for crypto */
	char currency[8];
	char *body; /* canonical JSON of the typed destination (owned) */
	int64_t created_at;
};

#define STORE_REFERENCE_MAX 560 /* 140 UTF-8 characters of up to 4 bytes */
struct store_session {
	store_id id;
	store_id tenant_id;
	store_id account_id;
	store_id client_id;
	store_id destination_id;
	store_id principal_id; /* the initiator */
	char principal_kind[8];
	char status[20];
	char stage[24];
	char currency[8]; /* source asset */
	int64_t principal_minor;
	int64_t fee_network_minor;
	int64_t fee_platform_minor;
	int64_t fee_total_minor;
	char target_currency[8];
	char target_rail[8];  /* "fiat" | "crypto" */
	char method[24];
	char fiat_rail[40];
	char payment_reference[STORE_REFERENCE_MAX + 1];
	char failure_reason[48]; /* "" for null */
	store_id hold_transfer_id;
	int64_t version; /* etag source; bumps on every change */
	int64_t created_at;
	int64_t updated_at;
	int64_t settled_at; /* 0 for null */
	/* Lifecycle (schema 2). */
	int64_t next_run_ms;    /* when a worker should next look at it */
	char lease_owner[64];   /* "" when not leased */
	int64_t lease_until_ms;
	int attempts;           /* transient failures of the current step */
	int64_t fill_rate_value; /* 0 until conversion */
	int fill_rate_scale;
	int64_t delivered_minor; /* in target_currency; 0 until conversion */
	store_id approval_id;    /* "" when none */
	store_id approved_by_id; /* "" when none */
	char approved_by_kind[8];
	char network[16];
	int64_t event_seq;       /* resource_seq of the session's last event */
	/* Schema 4. */
	int64_t fee_partner_minor; /* part of fee_total_minor owed to the partner */
	int64_t locked_rate_value; /* 0 unless a LOCKED rate fixed the conversion */
	int locked_rate_scale;
	/* Schema 9 (pg 2): what the rail calls the payout (an EVM rail's
	 * transaction hash), and why a session waits rather than moves
	 * ("hot_wallet_underfunded"); "" for null. */
	char payout_reference[80];
	char waiting_reason[48];
	/* Schema 10 (SQLite) / 3 (PostgreSQL). */
	char failure_detail[16]; /* the rail's own code (ISO reason "AC04"); "" for none */
};

struct store_exchange_rate {
	store_id id;
	store_id tenant_id;
	char type[12];      /* FLOATING | LOCKED */
	char source[8], target[8];
	int64_t value;
	int scale;
	char time_lock[8];  /* "30s", "1m", "5m"; "" for FLOATING */
	int64_t expires_at; /* 0 for FLOATING */
	store_id used_by;   /* the session that used a LOCKED rate, or "" */
	int64_t created_at;
};

#define STORE_URL_MAX 2048
#define STORE_HOOK_SECRET_MAX 256
struct store_hook_endpoint {
	store_id id;
	store_id tenant_id;
	char url[STORE_URL_MAX + 1];
	char format[12];          /* standard | lumx */
	char event_types[1024];   /* canonical JSON array of types, or ["*"] */
	bool enabled;
	char disabled_reason[24]; /* "" | "gone" | "disabled" */
	/* Kept to sign, never shown after creation; as the service gives
	 * them: sealed (service/secrets.c) in serve, so up to
	 * STORE_HOOK_SECRET_MAX - 1 characters of text. */
	char secret[STORE_HOOK_SECRET_MAX];
	char previous_secret[STORE_HOOK_SECRET_MAX]; /* signs too until previous_until */
	int64_t previous_until;
	int64_t created_at, updated_at;
};

struct store_hook_delivery {
	store_id id;
	store_id tenant_id;
	store_id endpoint_id;
	store_id event_id;
	char message_id[64]; /* webhook-id / eventId: the event id, suffixed for derived events */
	char type[48];
	char *body;          /* the payload, fixed at enqueue time (owned) */
	char status[12];     /* pending | delivered | failed | cancelled */
	int attempts;
	int64_t next_attempt_ms;
	char lease_owner[64];
	int64_t lease_until_ms;
	int last_status;
	int64_t created_at, updated_at;
};

struct store_hook_attempt {
	store_id id;
	store_id tenant_id;
	store_id endpoint_id;
	store_id delivery_id;
	store_id event_id;
	int attempt;
	int status_code; /* 0: no answer */
	char error[128];
	int64_t duration_ms;
	int64_t created_at;
};

struct store_partner_fee {
	store_id id;
	store_id tenant_id;
	char name[LIMIT_NAME_BYTES + 1];
	int32_t bps;
	int64_t flat_minor; /* in stablecoin minor units (scale 6) */
	bool is_default;
	int64_t created_at;
};

struct store_approval {
	store_id id;
	store_id tenant_id;
	store_id session_id;
	char status[12]; /* pending | approved | rejected | cancelled */
	store_id initiator_id;
	char initiator_kind[8];
	store_id decided_by_id; /* "" while pending */
	char decided_by_kind[8];
	char currency[8];
	int64_t amount_minor;
	int64_t created_at;
	int64_t decided_at; /* 0 while pending */
};

struct store_policy {
	store_id tenant_id;
	char threshold_currency[8];
	int64_t threshold_minor; /* 0: no approval needed */
	int64_t updated_at;
};

struct store_event {
	int64_t seq; /* assigned by the store on insert */
	store_id id;
	store_id tenant_id;
	store_id resource_id;
	int64_t resource_seq;
	char type[48];
	char *data; /* JSON snapshot (owned by whoever filled it) */
	int64_t created_at;
};

struct store_payout {
	char idempotency_key[80];
	store_id id;
	store_id tenant_id;
	store_id session_id;
	char rail[40];
	char currency[8];
	int64_t amount_minor;
	char outcome[16]; /* paid | rejected */
	int calls;        /* how many times the rail was asked */
	int64_t created_at;
};

/* The EVM rail's book (rails/evm.c): one row per payout, written with its
 * nonce and signed transaction BEFORE the transaction is broadcast, so a
 * crash or a lost answer re-sends these bytes (or finds them by hash) and
 * never signs a second transfer. A replacement (same nonce, higher fee)
 * rewrites the row, keeping the hashes it replaced. */
#define STORE_CHAIN_RAW_MAX 1030    /* "0x" + hex of EVM_TX_MAX (512) bytes + NUL */
#define STORE_CHAIN_HASHES_MAX 280  /* LIMIT_EVM_REPLACEMENTS (4) hashes, comma-separated */
struct store_chain_tx {
	char idempotency_key[80];
	store_id tenant_id;
	store_id session_id;
	char network[16];
	int64_t chain_id;
	char sender[43];        /* "0x" + 40 hex digits */
	int64_t nonce;
	char contract[43];      /* the token: the transaction's to */
	char calldata[140];     /* "0x" + hex of transfer(address,uint256) */
	int64_t gas_limit;
	int tx_type;            /* 0 legacy (EIP-155), 2 EIP-1559 */
	int64_t gas_price_wei;  /* legacy: gasPrice; type 2: maxFeePerGas */
	int64_t tip_wei;        /* type 2: maxPriorityFeePerGas; 0 for legacy */
	char raw[STORE_CHAIN_RAW_MAX];
	char hash[67];          /* keccak of raw: what nodes call it */
	char prior_hashes[STORE_CHAIN_HASHES_MAX]; /* replaced ones, oldest first */
	int replacements;
	int64_t amount_units;   /* the transfer's token units (what it will take from the wallet) */
	char state[12];         /* signed (never broadcast) | sent | mined (a receipt, either status) */
	int64_t sent_at_ms;     /* last broadcast; 0 never */
	int64_t created_at;
};

#define STORE_ENDPOINT_MAX 64
struct store_idem {
	store_id tenant_id;
	char endpoint[STORE_ENDPOINT_MAX];
	char key[LIMIT_IDEMPOTENCY_KEY_BYTES + 1];
	char request_hash[65];
	int status;
	char *body; /* the answer, byte for byte (owned); may be NULL */
	size_t body_len;
	int64_t created_at;
	int64_t expires_at;
};

struct store_session_filter {
	store_id tenant_id;
	const char *status;     /* NULL: any */
	const char *account_id; /* NULL: any */
	const char *client_id;  /* NULL: any */
	const char *before_id;  /* keyset cursor: ids < this, newest first */
	const char *after_id;   /* keyset cursor: ids > this, oldest first (wins over before_id) */
	int limit;
};

/* One row of a count (store_ops.session_count_by_status,
 * held_by_currency): what was counted (a status, a currency code) and the
 * total. Borrowed for the callback. */
struct store_count {
	const char *name;
	int64_t n;
};

/* One step of a statement's plan (store_ops.query_plans): the statement's
 * name (its store op and variant, e.g. "session_list status+account
 * before") and the backend's text for the step. Both borrowed for the
 * callback. */
struct store_plan_step {
	const char *statement;
	const char *detail;
};

/* A row in transit between two backends (admin migrate-sqlite), in the
 * shared schema's terms: column names and values as the source holds
 * them. All borrowed for the callback. */
enum store_copy_kind {
	STORE_COPY_NULL,
	STORE_COPY_INT,  /* p: the integer in decimal */
	STORE_COPY_TEXT, /* p: UTF-8 text, len bytes */
	STORE_COPY_BLOB, /* p: len bytes, exact */
};
struct store_copy_value {
	enum store_copy_kind kind;
	const char *p;
	size_t len;
};
struct store_copy_row {
	const char *table;
	int n; /* 1..LIMIT_COPY_COLUMNS */
	const char *const *columns;
	const struct store_copy_value *values;
};
typedef enum store_status (*store_copy_fn)(void *arg, const struct store_copy_row *row);
typedef void (*store_name_fn)(void *arg, const char *name);

struct store;
struct store_tx;
typedef enum store_status (*store_tx_fn)(struct store_tx *tx, void *arg);
typedef void (*store_each_fn)(void *arg, const void *row);

struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	/* One transaction; see store_run for the retry rule. */
	enum store_status (*run)(struct store *s, bool write, store_tx_fn fn, void *arg);
	/* n independent write transactions fn(args[i]) at once, each with its
	 * own outcome in out[i] (a group-committing backend queues them
	 * together, so they share a commit). NULL: run one by one. */
	void (*run_all)(struct store *s, store_tx_fn fn, void *const *args, int n,
			enum store_status *out);

	enum store_status (*tenant_insert)(struct store_tx *, const struct store_tenant *);
	enum store_status (*tenant_get)(struct store_tx *, const char *id, struct store_tenant *);
	enum store_status (*principal_insert)(struct store_tx *, const struct store_principal *);
	enum store_status (*api_key_insert)(struct store_tx *, const struct store_api_key *);
	enum store_status (*api_key_find)(struct store_tx *, const uint8_t hash[32], struct store_api_key *);

	enum store_status (*client_insert)(struct store_tx *, const struct store_client *);
	enum store_status (*client_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_client *);
	/* Write transactions: lock the client's row until commit, so checks
	 * that read many rows and then write one (the daily and monthly
	 * limits) are serial per client across every writer of the database,
	 * not only this process's committer. NOT_FOUND if there is no such
	 * client of the tenant. */
	enum store_status (*client_lock)(struct store_tx *, const char *tenant_id, const char *id);
	enum store_status (*account_insert)(struct store_tx *, const struct store_account *);
	/* A tenant's client account (system accounts are never named by a
	 * request: they answer STORE_NOT_FOUND here; see account_get_system). */
	enum store_status (*account_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_account *);
	/* A tenant's system account by code (unique per tenant). */
	enum store_status (*account_get_system)(struct store_tx *, const char *tenant_id, const char *code, struct store_account *);
	enum store_status (*account_each)(struct store_tx *, store_each_fn, void *);

	/* A missing balance row reads as STORE_NOT_FOUND; callers treat it as zero. */
	enum store_status (*balance_get)(struct store_tx *, const char *account_id, const char *currency, struct ledger_balance *);
	/* Write transactions: the balance, its row locked until commit, so the
	 * read, change in C and balance_put of a move cannot lose an update to
	 * another writer (another node's committer). A missing row reads as
	 * zero: STORE_NOT_FOUND, or STORE_OK with zeros from a backend that
	 * makes the row to lock it. Lock in a fixed order (account id) to
	 * keep two moves from deadlocking. */
	enum store_status (*balance_lock)(struct store_tx *, const char *account_id, const char *currency, struct ledger_balance *);
	enum store_status (*balance_put)(struct store_tx *, const char *account_id, const char *currency, const struct ledger_balance *);
	enum store_status (*balance_each)(struct store_tx *, store_each_fn, void *); /* rows: struct store_balance */
	enum store_status (*transfer_insert)(struct store_tx *, const struct store_transfer *);
	enum store_status (*transfer_each)(struct store_tx *, store_each_fn, void *); /* rows: struct store_transfer */
	/* One session's transfers, oldest first (index transfers_session); the
	 * caller has checked the session is the tenant's. */
	enum store_status (*transfer_each_session)(struct store_tx *, const char *session_id, store_each_fn, void *);

	enum store_status (*destination_insert)(struct store_tx *, const struct store_destination *);
	enum store_status (*destination_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_destination *);

	enum store_status (*session_insert)(struct store_tx *, const struct store_session *);
	enum store_status (*session_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_session *);
	enum store_status (*session_list)(struct store_tx *, const struct store_session_filter *, store_each_fn, void *);
	enum store_status (*session_each)(struct store_tx *, store_each_fn, void *); /* every tenant: audits */

	/* Write every mutable column of s, bumping nothing itself: the caller
	 * sets s->version. Applies only if the stored version is
	 * expect_version (else STORE_NOT_FOUND: the session moved). */
	enum store_status (*session_update)(struct store_tx *, const struct store_session *, int64_t expect_version);
	/* Lease up to limit sessions due at now_ms (executing/executed, not
	 * leased or lease expired) to owner until lease_until_ms; each leased
	 * session is handed to fn as a struct store_session. A leased
	 * session's next_run_ms moves to at least lease_until_ms (its step's
	 * commit sets the real one), so the next due time is one index seek
	 * rather than a scan of every active session. */
	enum store_status (*session_claim)(struct store_tx *, int64_t now_ms, const char *owner, int64_t lease_until_ms, int limit, store_each_fn fn, void *arg);
	/* Earliest next_run_ms of an active session (a leased one counts from
	 * its lease's end); NOT_FOUND if none. O(log n). */
	enum store_status (*session_next_due)(struct store_tx *, int64_t *next_ms);
	/* Drop the leases whose owner starts with owner_prefix, making those
	 * sessions due at once: a node, at start, drops those its earlier run
	 * left; another node's leases are never taken, they run out (a live
	 * node may still be using them). */
	enum store_status (*session_release_leases)(struct store_tx *, const char *owner_prefix);

	enum store_status (*approval_insert)(struct store_tx *, const struct store_approval *);
	enum store_status (*approval_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_approval *);
	enum store_status (*approval_update)(struct store_tx *, const struct store_approval *);
	/* Newest first, keyset on id; status NULL for any. */
	enum store_status (*approval_list)(struct store_tx *, const char *tenant_id, const char *status, const char *before_id, int limit, store_each_fn, void *);

	enum store_status (*policy_get)(struct store_tx *, const char *tenant_id, struct store_policy *);
	enum store_status (*policy_put)(struct store_tx *, const struct store_policy *);
	/* Operator-set FX rate; NOT_FOUND when none was set. */
	enum store_status (*fx_get)(struct store_tx *, const char *source, const char *target, int64_t *value, int *scale);
	enum store_status (*fx_put)(struct store_tx *, const char *source, const char *target, int64_t value, int scale, int64_t now);
	/* Integer settings per tenant (fee schedule); NOT_FOUND when unset. */
	enum store_status (*setting_get)(struct store_tx *, const char *tenant_id, const char *key, int64_t *value);
	enum store_status (*setting_put)(struct store_tx *, const char *tenant_id, const char *key, int64_t value);
	/* Several settings of one tenant in one statement: for i < n
	 * (n <= LIMIT_SETTINGS_MANY), found[i] says whether keys[i] is set
	 * and values[i] is its value then. Keys are the caller's. */
	enum store_status (*setting_get_many)(struct store_tx *, const char *tenant_id, const char *const *keys, int n, int64_t *values, bool *found);

	/* Assigns ev->seq, in commit order: an event that commits after
	 * another has a greater seq, whichever node wrote it, so a reader
	 * paging after_seq never skips one that commits late. */
	enum store_status (*event_insert)(struct store_tx *, struct store_event *ev);
	/* Oldest first after after_seq; resource_id NULL for all. Rows are
	 * struct store_event with data borrowed for the callback only. */
	enum store_status (*event_list)(struct store_tx *, const char *tenant_id, const char *resource_id, int64_t after_seq, int limit, store_each_fn, void *);

	enum store_status (*payout_get)(struct store_tx *, const char *idempotency_key, struct store_payout *);
	enum store_status (*payout_insert)(struct store_tx *, const struct store_payout *);
	enum store_status (*payout_touch)(struct store_tx *, const char *idempotency_key); /* calls + 1 */
	enum store_status (*payout_list)(struct store_tx *, const char *tenant_id, const char *session_id, store_each_fn, void *);

	/* The EVM rail's nonces and transactions (struct store_chain_tx).
	 * chain_nonce_take: the next nonce of account ("<chain id>:<address>")
	 * into *nonce, at least floor (what the node counts), and the one after
	 * it reserved for the next call: atomic across nodes. */
	enum store_status (*chain_nonce_take)(struct store_tx *, const char *account, int64_t floor, int64_t *nonce);
	enum store_status (*chain_tx_get)(struct store_tx *, const char *idempotency_key, struct store_chain_tx *);
	/* STORE_EXISTS for a taken key, or a (chain, sender, nonce) taken. */
	enum store_status (*chain_tx_insert)(struct store_tx *, const struct store_chain_tx *);
	/* Every field but the key's, tenant, session, chain, sender, nonce,
	 * type, amount and created_at; NOT_FOUND when no row has the key. */
	enum store_status (*chain_tx_update)(struct store_tx *, const struct store_chain_tx *);
	/* The token units the sender's transactions of contract that are not
	 * mined yet will take (0 when none): what the wallet's balance on
	 * chain does not show yet. */
	enum store_status (*chain_pending_units)(struct store_tx *, int64_t chain_id, const char *sender, const char *contract, int64_t *units);

	/* A resource's extension document of a kind ("lumx"); owned text in
	 * *body (free()); NOT_FOUND when none. */
	enum store_status (*ext_get)(struct store_tx *, const char *tenant_id, const char *resource_id, const char *kind, char **body);
	enum store_status (*ext_put)(struct store_tx *, const char *tenant_id, const char *resource_id, const char *kind, const char *body);
	/* A client's destinations, newest first (rows: struct store_destination,
	 * body borrowed for the callback). */
	enum store_status (*destination_list)(struct store_tx *, const char *tenant_id, const char *client_id, int limit, store_each_fn, void *);

	enum store_status (*exchange_rate_insert)(struct store_tx *, const struct store_exchange_rate *);
	enum store_status (*exchange_rate_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_exchange_rate *);
	/* Mark a LOCKED rate used by session_id: STORE_EXISTS if already used. */
	enum store_status (*exchange_rate_use)(struct store_tx *, const char *tenant_id, const char *id, const char *session_id);
	enum store_status (*partner_fee_insert)(struct store_tx *, const struct store_partner_fee *);
	enum store_status (*partner_fee_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_partner_fee *);
	/* Principal of a client's sessions created at or after since, not
	 * failed or cancelled (daily limits). */
	enum store_status (*session_sum)(struct store_tx *, const char *tenant_id, const char *client_id, int64_t since, int64_t *sum_minor);
	/* GET /metrics, across every tenant (rows: struct store_count, for
	 * the callback only). Sessions counted by status: one pass over the
	 * status index, so O(sessions); the service reads it at most once a
	 * second (LIMIT_METRICS_GAUGE_CACHE_MS, longer when it is slow). */
	enum store_status (*session_count_by_status)(struct store_tx *, store_each_fn, void *);
	/* What the holds system accounts hold pending (credits_pending),
	 * summed per currency: every hold not yet posted or voided. O(tenants). */
	enum store_status (*held_by_currency)(struct store_tx *, store_each_fn, void *);

	enum store_status (*hook_endpoint_insert)(struct store_tx *, const struct store_hook_endpoint *);
	enum store_status (*hook_endpoint_get)(struct store_tx *, const char *tenant_id, const char *id, struct store_hook_endpoint *);
	enum store_status (*hook_endpoint_update)(struct store_tx *, const struct store_hook_endpoint *);
	enum store_status (*hook_endpoint_delete)(struct store_tx *, const char *tenant_id, const char *id);
	/* A tenant's endpoints, oldest first (rows: struct store_hook_endpoint). */
	enum store_status (*hook_endpoint_list)(struct store_tx *, const char *tenant_id, store_each_fn, void *);
	/* Every tenant's endpoints with an id after after_id ("": from the
	 * first), by id, at most limit (rows: struct store_hook_endpoint): the
	 * passes over every secret (service/secrets.c). */
	enum store_status (*hook_endpoint_page)(struct store_tx *, const char *after_id, int limit, store_each_fn, void *);
	enum store_status (*hook_delivery_insert)(struct store_tx *, const struct store_hook_delivery *);
	/* Lease up to limit due pending deliveries, fairly: round-robin over
	 * tenants and, within a tenant, over endpoints (each one's oldest
	 * first), never past per_endpoint leased deliveries of one endpoint or
	 * per_tenant of one tenant, counting those leased already. Rows:
	 * struct store_hook_delivery with its new lease, body borrowed for the
	 * callback. */
	enum store_status (*hook_delivery_claim)(struct store_tx *, int64_t now_ms, const char *owner, int64_t lease_until_ms, int limit, int per_endpoint, int per_tenant, store_each_fn, void *);
	/* Write status, attempts, next_attempt_ms, last_status; clear the lease.
	 * Only while the delivery is pending under the lease its claim took
	 * (owner and lease_until_ms as claimed), else STORE_NOT_FOUND. */
	enum store_status (*hook_delivery_finish)(struct store_tx *, const struct store_hook_delivery *, const char *owner);
	/* End an endpoint's pending deliveries (410, delete). */
	enum store_status (*hook_delivery_cancel)(struct store_tx *, const char *endpoint_id);
	/* The earliest next_attempt_ms of a pending delivery, leased or not
	 * (STORE_NOT_FOUND: none pending). */
	enum store_status (*hook_delivery_next_due)(struct store_tx *, int64_t *next_ms);
	/* As session_release_leases, for pending deliveries. */
	enum store_status (*hook_delivery_release_leases)(struct store_tx *, const char *owner_prefix);
	/* Every delivery of an event to an endpoint, newest first (for
	 * resend; rows: struct store_hook_delivery, body borrowed for the
	 * callback). Rows are buffered first, so fn may write in tx. */
	enum store_status (*hook_delivery_of_event)(struct store_tx *, const char *endpoint_id, const char *event_id, store_each_fn, void *);
	enum store_status (*hook_attempt_insert)(struct store_tx *, const struct store_hook_attempt *);
	enum store_status (*hook_attempt_list)(struct store_tx *, const char *tenant_id, const char *endpoint_id, const char *before_id, int limit, store_each_fn, void *);

	/* The record with its answer; an expired one under the same key is
	 * replaced. STORE_EXISTS when (tenant, endpoint, key) holds an
	 * unexpired record (nothing is written). */
	enum store_status (*idem_insert)(struct store_tx *, const struct store_idem *);
	enum store_status (*idem_get)(struct store_tx *, const char *tenant_id, const char *endpoint, const char *key, int64_t now, struct store_idem *);

	/* Copying a whole database (store_copy). NULL where a backend cannot
	 * be that end of a copy. */
	/* The schema's tables, parents before children (foreign keys), the
	 * backend's own bookkeeping (schema version) left out. */
	enum store_status (*copy_tables)(struct store_tx *, store_name_fn fn, void *arg);
	/* How many rows table holds. */
	enum store_status (*copy_count)(struct store_tx *, const char *table, int64_t *rows);
	/* Source: every row of table, in insertion order where the backend
	 * keeps one (a row may reference an earlier one of its table), to fn;
	 * stops at fn's first status other than STORE_OK and returns it. */
	enum store_status (*copy_rows)(struct store_tx *, const char *table, store_copy_fn fn, void *arg);
	/* Target, in a write transaction: insert row as given, keys and all.
	 * STORE_FAIL (logged) for a table or column the schema lacks, or a
	 * row its constraints refuse. */
	enum store_status (*copy_insert)(struct store_tx *, const struct store_copy_row *row);
	/* Target, after the inserts: generated keys continue past the largest
	 * copied one (PostgreSQL identity sequences). */
	enum store_status (*copy_finish)(struct store_tx *);

	/* Whether the database answers a cheap read on a read connection
	 * within timeout_ms: STORE_OK, or STORE_UNAVAILABLE (for /readyz).
	 * NULL: store_ping runs an ordinary read transaction. */
	enum store_status (*ping)(struct store *s, int timeout_ms);

	/* The plan of every statement whose cost must not grow with the
	 * tables (lookups, list pages, the workers' claims), one row per
	 * step (rows: struct store_plan_step), for `admin query-plans` and
	 * the test that keeps them O(page size). */
	enum store_status (*query_plans)(struct store_tx *, store_each_fn, void *);
};

/* The base every backend embeds first. */
struct store {
	const struct store_ops *ops;
	/* Group commit: at most this many write transactions share one
	 * commit (1: one commit per write). Set before the first write;
	 * 1..LIMIT_COMMIT_BATCH_MAX. */
	int commit_batch_max;
	/* PostgreSQL: pooled read connections, at most (writes have the
	 * committer's own); 1..LIMIT_DATABASE_POOL_MAX. SQLite ignores it. */
	int pool_size;
};
struct store_tx {
	struct store *store;
};

/* Open a backend by URL-ish spec: a file path for SQLite (the default),
 * "postgres://..." for PostgreSQL. Creates or migrates the schema.
 * *err gets a static message on failure. */
struct store *store_open(const char *spec, const char **err);
struct store *store_open_sqlite(const char *path, const char **err);
struct store *store_open_pg(const char *url, const char **err);
/* True for a spec store_open hands to PostgreSQL. */
bool store_spec_is_pg(const char *spec);

/* Run fn in a transaction, retrying STORE_RETRY up to LIMIT_STORE_RETRIES
 * times with a short growing pause. Returns fn's last status (STORE_RETRY
 * once the retries are spent). */
enum store_status store_run(struct store *s, bool write, store_tx_fn fn, void *arg);
/* n write transactions, fn(tx, args[i]) each, independent of one another
 * (one's failure or rollback never undoes another's), submitted together
 * so a group-committing backend can share one commit among them; returns
 * when all are done, out[i] being store_run's answer for args[i]. The same
 * retry rule as store_run. n <= LIMIT_COMMIT_BATCH_MAX. */
void store_run_all(struct store *s, store_tx_fn fn, void *const *args, int n,
		   enum store_status *out);

/* Progress of a long admin operation (migrate-sqlite, verify-ledger):
 * fn(arg, phase, rows, phase_done) with the rows read so far in phase (a
 * table's name), called every LIMIT_PROGRESS_ROWS rows and once at the end
 * of a phase (phase_done).
 * Borrowed by the call it is passed to; a NULL pointer or fn: none. */
struct store_progress {
	void (*fn)(void *arg, const char *phase, int64_t rows, bool phase_done);
	void *arg;
};

/* What store_copy did: each table of the target with the rows copied
 * into it (names borrowed from a static buffer of the report). */
struct store_copy_report {
	int ntables;
	struct {
		char name[64];
		int64_t rows;
	} tables[LIMIT_COPY_TABLES];
	int64_t rows;       /* in all */
	char problem[160];  /* why it failed or refused; "" on success */
};
/*
 * Copy every row of every table of from into to, which must hold none:
 * one read transaction on from (one snapshot) and one write transaction
 * on to (all or nothing), ids kept, generated keys moved past the copied
 * ones, then each table's count compared. Returns STORE_OK; STORE_EXISTS
 * when to already holds rows (nothing written); STORE_NOT_FOUND when from
 * has a table to lacks; else the failure. r->problem says which in words.
 * progress (may be NULL) sees each table's rows as they are copied.
 * Admin use: neither store should be serving meanwhile.
 */
enum store_status store_copy(struct store *from, struct store *to, const struct store_progress *progress,
			     struct store_copy_report *r);

/* Whether the database answers now (store_ops.ping): STORE_OK or
 * STORE_UNAVAILABLE, within about timeout_ms. Thread-safe. */
enum store_status store_ping(struct store *s, int timeout_ms);

void store_close(struct store *s);
const char *store_status_name(enum store_status st);

void store_destination_clear(struct store_destination *d);
void store_idem_clear(struct store_idem *r);

/* Call-through helpers, so callers write store_client_get(tx, ...). */
/* In the test build (base/fault.h) the armed call fails as the
 * infrastructure would; elsewhere fault_hit is a constant false. */
#define STORE_CALL(tx, fn, ...) \
	(fault_hit(FAULT_STORE) ? STORE_FAIL : (tx)->store->ops->fn((tx), __VA_ARGS__))

#endif
