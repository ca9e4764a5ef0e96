/*
 * limits.h - every cap in the service, in one place (SQLite's sqliteLimit.h).
 *
 * A loop, queue, buffer or input without a cap here is a bug. Relations
 * between caps are checked at compile time.
 */
#ifndef OFFRAMP_BASE_LIMITS_H
#define OFFRAMP_BASE_LIMITS_H

/* HTTP */
#define LIMIT_BODY_BYTES (64 * 1024)        /* larger bodies get 413 */
#define LIMIT_URL_BYTES 2048                /* path plus query */
#define LIMIT_HEADER_BYTES (16 * 1024)      /* header fields of one request; 431 past it */
#define LIMIT_HEADER_POOL_BYTES (32 * 1024) /* per-connection header memory; past it libmicrohttpd
					       itself answers 414 (request line) or 431 (headers) */
#define LIMIT_CONNECTIONS_DEFAULT 4096      /* --max-connections: concurrent, in all */
#define LIMIT_CONNECTIONS_PER_IP_DEFAULT 512 /* --max-connections-per-ip: a platform's backend fits */
#define LIMIT_CONNECTIONS_MAX 65536         /* highest --max-connections */
#define LIMIT_HEADER_TIMEOUT_MS_DEFAULT 10000 /* --header-timeout-ms: headers, then body, each within */
#define LIMIT_HEADER_TIMEOUT_MS_MIN 500
#define LIMIT_HEADER_TIMEOUT_MS_MAX 600000
#define LIMIT_DEADLINE_TICK_MS 100          /* how often the header and body deadlines are checked */
#define LIMIT_FD_RESERVE 1024               /* descriptors besides connections: store, epoll, webhooks */
#define LIMIT_HTTP_LOG_LINES_PER_S 10      /* libmicrohttpd messages; the rest are counted */
#define LIMIT_CONNECTION_TIMEOUT_S 30       /* idle connection closed after (an answer nobody reads) */
#define LIMIT_HTTP_THREADS_MAX 64
#define LIMIT_SHUTDOWN_DRAIN_MS 10000       /* handled requests get this long at SIGTERM */
#define LIMIT_SHUTDOWN_UPLOAD_MS 3000       /* bodies still arriving get this long */
#define LIMIT_FIBER_STACK_BYTES (256 * 1024) /* a writing request's own stack (x4 under ASan) */
#define LIMIT_FIBER_STACKS_IDLE 64          /* stacks kept for reuse, per HTTP thread */

/* JSON */
#define LIMIT_JSON_DEPTH 16                 /* objects/arrays nested deeper get 400 */
/* A bank account identifier masked in an answer (api_mask_bank_numbers);
 * every one a request may carry is shorter. */
#define LIMIT_BANK_ID_MASKED_BYTES 128
#define LIMIT_IF_MATCH_TAGS 8               /* entity tags read from one If-Match */
#define LIMIT_JSON_BAD_STRINGS 16           /* bad bytes patched to name an invalid_string field */
#define LIMIT_JSON_EXACT_DEPTH 64           /* documents read keeping number text (json_exact.h) */
#define LIMIT_STRING_BYTES 1024             /* default cap on any string field */
#define LIMIT_NAME_BYTES 200                /* display names, beneficiary names */

/* API */
#define LIMIT_IDEMPOTENCY_KEY_BYTES 255
#define LIMIT_IDEMPOTENCY_TTL_S (24 * 3600)
#define LIMIT_PAGE_SIZE_DEFAULT 20
#define LIMIT_PAGE_SIZE_MAX 100
#define LIMIT_SESSION_TRANSFERS_MAX 16 /* a session's ledger transfers (hold, post or void, return): GET .../ledger */
#define LIMIT_API_KEY_BYTES 128             /* longer bearer tokens are refused unhashed */
#define LIMIT_AUTH_CACHE_ENTRIES 1024       /* authenticated keys kept in memory */
#define LIMIT_AUTH_CACHE_MS 1000            /* ... each trusted this long (revocation bound) */
#define LIMIT_CAPABILITIES 16
/* Per-key rate limit (CONTRACT §12, service/ratelimit.c): a token bucket of
 * --rate-burst tokens refilled at --rate-limit a second. The defaults sit far
 * above what one key of `make bench` sends on this kind of machine (~60,000
 * GETs/s, ~8,000 creates/s), so only a runaway client meets them. */
#define LIMIT_RATE_RPS_DEFAULT 200000       /* --rate-limit: requests a second per key; 0: off */
#define LIMIT_RATE_BURST_DEFAULT 400000     /* --rate-burst: requests at once past the rate */
#define LIMIT_RATE_RPS_MAX 100000000        /* one token per 10 ns at most */
#define LIMIT_RATE_BURST_MAX 100000000
#define LIMIT_RATE_BUCKETS 4096             /* keys tracked at once; then the fullest bucket goes */
#define LIMIT_RATE_WAYS 8                   /* ... looked at per key (one lock each) */
#define LIMIT_RATE_RETRY_AFTER_MAX_S 3600   /* the longest Retry-After a refusal names */
#define LIMIT_SECRET_RESEAL_PAGE 100        /* webhook endpoints read at once by the reseal pass */

/* Store */
#define LIMIT_STORE_BUSY_TIMEOUT_MS 5000    /* SQLite busy handler */
#define LIMIT_STORE_RETRIES 8               /* bounded retry of a transaction on RETRY */
#define LIMIT_STORE_CONNECTIONS 128         /* pooled connections, one per thread */
#define LIMIT_DATABASE_POOL_DEFAULT 16      /* PostgreSQL read connections (--database-pool-size) */
#define LIMIT_DATABASE_POOL_MAX LIMIT_STORE_CONNECTIONS
#define LIMIT_PG_RECONNECT_TRIES 4          /* a lost connection: tries before failing the use */
#define LIMIT_PG_RECONNECT_BASE_MS 25       /* ... pausing 25, 50, 100 ms between them */
#define LIMIT_PG_BATCH_LOCK_WAIT_MS 50      /* a batch's later jobs wait this long for a row lock */
#define LIMIT_PG_CONNECT_TIMEOUT_MS 5000    /* one connection attempt, at most (a silent host) */
/* GET /readyz: the database must answer a cheap read within this bound,
 * and no worker may have been inside one pass longer than the other. */
#define LIMIT_READY_DB_TIMEOUT_MS 1000
#define LIMIT_READY_WORKER_STALL_MS 60000
/* admin migrate-sqlite: tables and columns of one row a copy handles. */
#define LIMIT_COPY_TABLES 64
#define LIMIT_COPY_COLUMNS 64
/* A long admin operation (migrate-sqlite, verify-ledger) reports its progress
 * every this many rows (shown only on a terminal). */
#define LIMIT_PROGRESS_ROWS 10000
#define LIMIT_PROGRESS_REDRAW_MS 200
/* Retry-After of a 503 (the database is unavailable, or the service busy). */
#define LIMIT_RETRY_AFTER_UNAVAILABLE_S 1

/* The operator CLI (src/cli/): one answer read from the server, one request. */
#define LIMIT_CLI_RESPONSE_BYTES (8 * 1024 * 1024)
#define LIMIT_CLI_TIMEOUT_MS 30000
#define LIMIT_CLI_ROWS 1000 /* rows one table prints (a page is at most LIMIT_PAGE_SIZE_MAX) */
/* Session workers. A pass waits for a few commits (its leases, the rail's
 * book, its steps), each queued behind whatever the API is writing, so
 * under load the lifecycle's pace is the sessions in flight per wait:
 * workers times the sessions a pass leases. */
#define LIMIT_WORKERS_DEFAULT 8
#define LIMIT_SETTINGS_MANY 8              /* tenant settings read by one statement (a create reads 6) */
#define LIMIT_WORKER_BATCH 256              /* sessions a pass leases; steps share a commit */
#define LIMIT_WORKERS_MAX 32
/* Rails (rails/registry.h, rails/sepa_file.c). */
#define LIMIT_RAIL_ROUTES 16                 /* rail names the registry routes */
#define LIMIT_SEPA_BATCH_MS_DEFAULT 1000     /* --sepa-batch-ms: a file's collection window */
#define LIMIT_SEPA_FILE_TXS LIMIT_WORKER_BATCH /* payments in one pain.001 file */
#define LIMIT_BANK_REPORT_BYTES (4 * 1024 * 1024) /* an inbound report larger is refused unread */
#define LIMIT_BANK_REPORT_DEPTH 32           /* element nesting of an inbound report */
#define LIMIT_BANK_REPORT_ENTRIES 4096       /* payments one inbound report may name */
/* serve --node-id: names this process's leases ("<node>/<kind>/<i>"), so a
 * restart drops its own and never another node's. */
#define LIMIT_NODE_ID_BYTES 40
/* A worker's claim on a session. A node that dies holding leases leaves
 * those sessions to wait this long for another node (its own restart
 * takes them back at once). */
#define LIMIT_SESSION_LEASE_MS 30000
/* serve --session-lease-ms: a shorter lease for tests that kill a node (a
 * pass asks the rail for a third of it, so it must outlast a slow rail
 * call; a deployment keeps the default). */
#define LIMIT_SESSION_LEASE_MS_MIN 500
#define LIMIT_SESSION_LEASE_MS_MAX 3600000
#define LIMIT_COMMIT_BATCH_MAX 1024         /* writes sharing one commit, at most */
#define LIMIT_COMMIT_BATCH_DEFAULT 256      /* --commit-batch-max default */
#define LIMIT_COMMIT_BULK_SHARE 64          /* bulk writes (a worker pass's steps) taken first per batch */
#define LIMIT_RESPONSE_BYTES (256 * 1024)   /* a stored idempotent answer */

/* GET /metrics (base/metrics.h, docs/OPERATIONS.md). */
#define LIMIT_METRICS_ROUTES 64             /* route slots: every route of the table, and "unmatched" */
#define LIMIT_METRICS_GAUGE_CACHE_MS 1000   /* sessions by status and held totals read at most this often */
#define LIMIT_METRICS_GAUGE_COST_FACTOR 10  /* ... and at most a tenth of the time: a read that took
					       t ms is kept 10 t ms, so a large table is not scanned
					       back to back */
#define LIMIT_METRICS_CONNECTIONS 16        /* --metrics-listen: connections at once */
#define LIMIT_METRICS_TIMEOUT_S 10          /* ... each closed when idle this long */

/* Logs (base/log.h, docs/OPERATIONS.md). */
#define LIMIT_LOG_MSG_BYTES 1024            /* a line's msg; longer is cut */
#define LIMIT_LOG_LINE_BYTES 2048           /* a line dumped on the stack; longer goes to the heap */
#define LIMIT_REQUEST_ID_BYTES 64           /* an incoming X-Request-Id kept; longer is replaced */
_Static_assert(LIMIT_LOG_LINE_BYTES > LIMIT_LOG_MSG_BYTES + 256, "a request line fits on the stack");

/* admin bulk-load (docs/SCALE.md). */
#define LIMIT_BULK_SESSIONS_MAX 100000000   /* sessions in one load */
#define LIMIT_BULK_ACCOUNTS_MAX 10000       /* client accounts they are spread over */
#define LIMIT_BULK_BATCH 4000               /* sessions per commit: ~44,000 rows */
#define LIMIT_BULK_SPAN_S (30 * 24 * 3600)  /* the history spans at most this */

/* The EVM rail (docs/RAILS.md, "EVM rail"): a JSON-RPC node's answers are
 * hostile input, read within these bounds. */
#define LIMIT_EVM_RPC_BYTES (256 * 1024)   /* read at most this much of an answer */
#define LIMIT_EVM_RPC_CONNECT_MS 2000
#define LIMIT_EVM_RPC_TIMEOUT_MS 5000      /* one call, connect included */
#define LIMIT_EVM_TOKENS 16                /* --evm-token options */
#define LIMIT_EVM_CHAINS 8                 /* --evm-chain-id options */
#define LIMIT_EVM_REPLACEMENTS 4           /* fee bumps of one stuck transaction */
#define LIMIT_EVM_GAS_MAX 500000           /* an ERC-20 transfer takes ~52,000 */
#define LIMIT_EVM_GAS_PRICE_MAX_WEI 1000000000000LL /* 1,000 gwei: above it, wait */
#define LIMIT_EVM_REPLACE_AFTER_MS_DEFAULT 120000   /* a transaction unmined this long is stuck */
#define LIMIT_EVM_CONFIRMATIONS_MAX 1000
_Static_assert(LIMIT_EVM_RPC_CONNECT_MS < LIMIT_EVM_RPC_TIMEOUT_MS, "connect is part of the call");
_Static_assert(LIMIT_EVM_REPLACEMENTS * 67 < 280, "STORE_CHAIN_HASHES_MAX (280) holds the replaced hashes");

/* Webhook delivery (docs/WEBHOOKS.md, "Fairness and caps") */
#define LIMIT_WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define LIMIT_WEBHOOK_SEND_TIMEOUT_MS 10000      /* one attempt, connect included (libcurl's total) */
#define LIMIT_WEBHOOK_RESPONSE_BYTES (64 * 1024) /* read at most this much of an answer */
#define LIMIT_WEBHOOK_IN_FLIGHT 64               /* sends in flight at once, in total */
#define LIMIT_WEBHOOK_TENANT_IN_FLIGHT 16        /* ... for one tenant's endpoints */
#define LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT 4       /* ... to one endpoint: a dead one holds no more */
#define LIMIT_WEBHOOK_LEASE_MS 120000            /* a claimed delivery is its sender's this long */
_Static_assert(LIMIT_WEBHOOK_CONNECT_TIMEOUT_MS < LIMIT_WEBHOOK_SEND_TIMEOUT_MS, "connect is part of the send");
_Static_assert(LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT < LIMIT_WEBHOOK_TENANT_IN_FLIGHT &&
		       LIMIT_WEBHOOK_TENANT_IN_FLIGHT < LIMIT_WEBHOOK_IN_FLIGHT,
	       "no endpoint takes all its tenant's slots, no tenant takes them all");
/* A send starts when its delivery is claimed and ends within the send
 * timeout; its result is then committed within the store's bounded tries
 * (store_run: one plus LIMIT_STORE_RETRIES). With group commit a try waits
 * first for the batch ahead of it, which may itself wait out the busy
 * timeout behind another process's writer, then for its own: two busy
 * timeouts a try. The lease must outlast all that, or another claim would
 * send it again. */
_Static_assert(LIMIT_WEBHOOK_LEASE_MS > LIMIT_WEBHOOK_SEND_TIMEOUT_MS +
					(LIMIT_STORE_RETRIES + 1) * 2 * LIMIT_STORE_BUSY_TIMEOUT_MS,
	       "a lease outlives the longest send and the commit of its result");

_Static_assert(LIMIT_URL_BYTES < LIMIT_HEADER_BYTES && LIMIT_HEADER_BYTES < LIMIT_HEADER_POOL_BYTES,
	       "our 414 and 431 (JSON) come before libmicrohttpd's own (its pool is full)");
_Static_assert(LIMIT_CONNECTIONS_PER_IP_DEFAULT >= 512, "CONTRACT 12: the per-address default");
_Static_assert(LIMIT_CONNECTIONS_PER_IP_DEFAULT < LIMIT_CONNECTIONS_DEFAULT,
	       "one address at its cap leaves room for every other");
_Static_assert(LIMIT_CONNECTIONS_DEFAULT <= LIMIT_CONNECTIONS_MAX, "default within max");
_Static_assert(LIMIT_HEADER_TIMEOUT_MS_MIN <= LIMIT_HEADER_TIMEOUT_MS_DEFAULT &&
		       LIMIT_HEADER_TIMEOUT_MS_DEFAULT <= LIMIT_HEADER_TIMEOUT_MS_MAX,
	       "header timeout default within its range");
_Static_assert(5 * LIMIT_DEADLINE_TICK_MS <= LIMIT_HEADER_TIMEOUT_MS_MIN, "a cut-off comes at most a fifth late");
_Static_assert(LIMIT_FD_RESERVE >= 3 * LIMIT_STORE_CONNECTIONS + 2 * LIMIT_HTTP_THREADS_MAX + 64,
	       "room for SQLite (db, wal, shm per connection), an epoll and a wake-up fd per thread");
_Static_assert(LIMIT_SHUTDOWN_UPLOAD_MS <= LIMIT_SHUTDOWN_DRAIN_MS, "uploads drain within the drain");
_Static_assert(LIMIT_RATE_RPS_DEFAULT <= LIMIT_RATE_RPS_MAX && LIMIT_RATE_BURST_DEFAULT <= LIMIT_RATE_BURST_MAX,
	       "rate defaults within their caps");
_Static_assert((long long)LIMIT_RATE_BURST_MAX * 1000000000LL < 9000000000000000000LL,
	       "a full bucket's nanoseconds (burst x one token's) fit an int64 even at 1 rps");
_Static_assert(LIMIT_RATE_BUCKETS % LIMIT_RATE_WAYS == 0, "buckets come in whole sets");
_Static_assert(LIMIT_PAGE_SIZE_DEFAULT <= LIMIT_PAGE_SIZE_MAX, "default page within max");
_Static_assert(LIMIT_PAGE_SIZE_MAX <= LIMIT_CLI_ROWS, "the CLI prints a whole page");
_Static_assert(LIMIT_JSON_DEPTH >= 4, "the session body nests 4 deep");
_Static_assert(LIMIT_JSON_EXACT_DEPTH >= LIMIT_JSON_DEPTH + 4, "a stored body inside its answer and webhook");
_Static_assert(LIMIT_BODY_BYTES < LIMIT_RESPONSE_BYTES, "a stored answer may echo a body");
_Static_assert(LIMIT_HTTP_THREADS_MAX + LIMIT_WORKERS_MAX + 8 <= LIMIT_STORE_CONNECTIONS,
	       "every thread gets a connection");
_Static_assert(LIMIT_WORKER_BATCH <= LIMIT_COMMIT_BATCH_MAX, "a pass's steps go to store_run_all at once");
_Static_assert(LIMIT_SEPA_FILE_TXS >= LIMIT_WORKER_BATCH, "one pass's payouts fit one file's queue");
_Static_assert(LIMIT_BANK_REPORT_BYTES < 0x7fffffff, "xmlReadMemory takes the length as an int");
_Static_assert(LIMIT_BANK_REPORT_DEPTH >= 12, "a camt.054 return nests 11 deep");
_Static_assert(LIMIT_BANK_REPORT_ENTRIES >= LIMIT_SEPA_FILE_TXS, "a report may name a whole file");
_Static_assert(LIMIT_READY_DB_TIMEOUT_MS < LIMIT_PG_CONNECT_TIMEOUT_MS,
	       "a readiness probe answers before a connection attempt to a silent host would end");
_Static_assert(LIMIT_READY_WORKER_STALL_MS > LIMIT_STORE_RETRIES * LIMIT_PG_CONNECT_TIMEOUT_MS,
	       "a pass slowed by reconnects to a lost database is not taken for a stall");
_Static_assert(LIMIT_COMMIT_BATCH_DEFAULT > 1 && LIMIT_COMMIT_BATCH_DEFAULT <= LIMIT_COMMIT_BATCH_MAX,
	       "the default batches (CONTRACT §11) within the cap");

#endif
