/*
 * service.h - the use cases: authenticate, create clients, accounts,
 * deposits, destinations and sessions, read them back, audit the ledger.
 *
 * The service owns transactions and idempotency. It knows nothing of
 * HTTP or JSON: the api layer hands it decoded, typed requests and a
 * render callback that turns an outcome into the answer bytes. The
 * render callback runs inside the write transaction, so the answer a
 * client gets and the answer stored for replay are the same bytes,
 * committed with the effect (CONTRACT §7: session + hold + idempotency
 * record in one transaction).
 *
 * Outcomes are values: every function returns ERR_OK or the client's
 * error from base/errors.def; ERR_INTERNAL, ERR_UNAVAILABLE (contention)
 * and ERR_DATABASE_UNAVAILABLE (STORE_UNAVAILABLE: the database cannot be
 * reached; nothing was done) are the only infrastructure errors.
 */
#ifndef OFFRAMP_SERVICE_SERVICE_H
#define OFFRAMP_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "domain/destination.h"
#include "domain/fees.h"
#include "domain/fx.h"
#include "domain/money.h"
#include "domain/session.h"
#include "store/store.h"

struct store_session;
/* Renders a session as GET shows it (malloc'd JSON), for event snapshots.
 * Set by the api layer; pure. */
typedef char *(*svc_snapshot_fn)(const struct store_session *s);

/* One webhook payload of an event for one format. */
struct svc_hook_payload {
	char type[48];       /* "off_ramp_session.settled", "offramp.success", ... */
	char message_id[64]; /* the event id, suffixed for derived events */
	char *body;          /* malloc'd JSON */
};
#define SVC_HOOK_PAYLOADS_MAX 3
struct store_event;
/* Renders an event's payloads for an endpoint format ("standard" or
 * "lumx"): 0..SVC_HOOK_PAYLOADS_MAX of them. ext is the session's Lumx
 * document or NULL. -1 (none) when they could not be rendered whole: the
 * write fails. Set by the api layer; pure. */
typedef int (*svc_hook_payloads_fn)(const char *format, const struct store_session *s,
				    const struct store_event *ev, const char *ext,
				    struct svc_hook_payload out[SVC_HOOK_PAYLOADS_MAX]);

/* Reads a saved destination's body (the text the api gave
 * svc_destination_create) back into its validated, normalised form, so a
 * session's inline copy is compared as typed values (destination_equal).
 * false when it does not read as a valid destination. Set by the api
 * layer; pure. */
typedef bool (*svc_destination_read_fn)(const char *body, struct destination *out);

struct service {
	struct store *store;     /* borrowed; outlives the service */
	struct fee_schedule fees; /* default schedule for every tenant */
	bool sandbox;            /* sandbox rails: deposits allowed */
	int64_t step_ms;         /* sandbox: time each stage takes */
	int64_t session_lease_ms; /* a worker's claim on a session; 0: LIMIT_SESSION_LEASE_MS */
	svc_snapshot_fn session_snapshot; /* NULL: events carry "{}" */
	svc_hook_payloads_fn hook_payloads; /* NULL: no webhook outbox */
	svc_destination_read_fn destination_read; /* required to create sessions */
	int64_t hook_retry_base_ms;         /* first retry wait; doubles */
	struct svc_auth_cache *auth_cache;  /* owned; NULL: every request reads its key */
	struct svc_gauge_cache *gauge_cache; /* owned; NULL: every svc_gauges_read reads the store */
	struct svc_rate *rate;              /* owned; NULL: no per-key rate limit */
	/* The operator's keys for secrets at rest (secrets.c); borrowed.
	 * NULL: webhook secrets are stored as given (unit tests, admin). */
	const struct svc_secret_keys *secret_keys;
	/* Whether the lifecycle's worker threads run (set by serve once they
	 * are started; svc_ready reads it). NULL: none run. */
	bool (*workers_running)(void *arg);
	void *workers_arg;
};

/* A cache of authenticated keys (by the secret's SHA-256), so a request
 * need not read its key from the store: an entry is trusted for
 * LIMIT_AUTH_CACHE_MS, the bound within which a revoked key stops working.
 * Thread-safe. new returns NULL when out of memory. */
struct svc_auth_cache *svc_auth_cache_new(void);
void svc_auth_cache_free(struct svc_auth_cache *c);

/* The per-key rate limit (ratelimit.c; CONTRACT §12): a token bucket of
 * burst requests refilled at rps a second, per API key, in bounded memory
 * (LIMIT_RATE_BUCKETS). new returns NULL when either is 0 (no limit), out
 * of range or out of memory. Thread-safe. */
struct svc_rate *svc_rate_new(uint64_t rps, uint64_t burst);
void svc_rate_free(struct svc_rate *r);
/* Take one token from key's bucket at now_ns (a monotonic clock): 0 when
 * admitted; else the whole seconds (>= 1, rounded up) until the next
 * token, and the bucket is left as it was. r NULL admits everything. */
int svc_rate_take(struct svc_rate *r, const char *key, uint64_t now_ns);

/*
 * Webhook secrets at rest (secrets.c; docs/OPERATIONS.md): sealed with
 * AES-256-GCM under key, each value naming its key by kid. old (from
 * --old-secret-key-file, may be NULL) only opens; init copies both.
 */
#define SVC_SECRET_KID_LEN 8
struct svc_secret_keys {
	uint8_t key[32];
	char kid[SVC_SECRET_KID_LEN + 1];
	bool has_old;
	uint8_t old[32];
	char old_kid[SVC_SECRET_KID_LEN + 1];
};
void svc_secret_keys_init(struct svc_secret_keys *k, const uint8_t key[32], const uint8_t *old);
void svc_secret_keys_clear(struct svc_secret_keys *k); /* wipes the key bytes */
/* What svc_secrets_reseal found: endpoints read, rows rewritten, values
 * found in plaintext or under the old key; on failure the endpoint whose
 * secret did not open (bad_no_key: sealed with a key not in the ring). */
struct svc_reseal_report {
	int endpoints, resealed, plaintext, old_key;
	store_id bad_endpoint;
	bool bad_no_key;
};
/* Seal every endpoint's secrets under s->secret_keys->key, in one write
 * transaction: values in plaintext (stored before encryption) or under the
 * old key are rewritten, the others checked. ERR_OK; ERR_INVALID_VALUE
 * when a value does not open (nothing is written; r says which); else an
 * infrastructure error. serve runs it at start; admin rotate-secret-key
 * runs it alone. */
enum err svc_secrets_reseal(struct service *s, struct svc_reseal_report *r);

/* Who is calling: the authenticated principal and its tenant. */
struct auth {
	store_id tenant_id;
	store_id principal_id;
	store_id key_id; /* the API key's id: what the rate limit counts by */
	char principal_kind[8];
	uint32_t caps;
};

/* An answer: HTTP status and body bytes (owned, malloc'd). */
struct svc_answer {
	int status;
	char *body;
	size_t len;
	bool cached; /* a replay of a stored answer */
};
void svc_answer_clear(struct svc_answer *a);

/*
 * An If-Match precondition (RFC 9110 §13.1.1) on a resource's version.
 * any: no header, or "*" (the resource need only exist). Otherwise the
 * request proceeds only if the version is one of versions[0..n): n may be
 * 0 when the header named no tag of ours, which matches nothing.
 */
struct svc_match {
	bool any;
	int n;
	int64_t versions[LIMIT_IF_MATCH_TAGS];
};
bool svc_match_ok(const struct svc_match *m, int64_t version);

/* Idempotency of one request; key NULL when the client sent none. */
struct svc_idem {
	const char *key;
	char endpoint[STORE_ENDPOINT_MAX]; /* "POST /off-ramp-sessions" */
	char request_hash[65];             /* SHA-256 hex of the canonical request */
};

/*
 * A refusal names what it blames by what it is, never by where a body puts
 * it: each API surface maps these to its own JSON pointers (the account
 * the sessions API calls account_ref is Lumx's bankAccountId).
 * X(enum, name); the name is for logs and tests, not for answers.
 */
#define SVC_FIELDS(X)                                                                     \
	X(SVC_FIELD_CLIENT, "client")                   /* the client an account is made for */ \
	X(SVC_FIELD_ACCOUNT, "account")                 /* the client account that pays */      \
	X(SVC_FIELD_AMOUNT, "amount")                   /* the amount to move */                \
	X(SVC_FIELD_TARGET_CURRENCY, "target_currency") /* the currency paid out */             \
	X(SVC_FIELD_DESTINATION_ID, "destination_id")   /* the saved destination named */       \
	X(SVC_FIELD_ROUTE_OWNER, "route_owner")         /* the client said to own it */         \
	X(SVC_FIELD_DESTINATION, "destination")         /* the destination itself */            \
	X(SVC_FIELD_DESTINATION_COUNTRY, "destination_country") /* where it pays to */          \
	X(SVC_FIELD_EXCHANGE_RATE, "exchange_rate")     /* a locked exchange rate named */      \
	X(SVC_FIELD_PARTNER_FEE, "partner_fee")         /* a partner fee named */               \
	X(SVC_FIELD_EVENT, "event")                     /* an event named (webhook resend) */
enum svc_field {
	SVC_FIELD_NONE = 0,
#define X(e, name) e,
	SVC_FIELDS(X)
#undef X
	SVC_FIELD__COUNT
};
/* "account", ...; "" for SVC_FIELD_NONE or out of range. */
const char *svc_field_name(enum svc_field f);

/*
 * A customer's identity verification, in Lumx's terms. Only APPROVED
 * transacts; a client made with POST /clients has none recorded and is
 * treated as APPROVED. The values are stored: append only.
 */
#define SVC_VERIFICATIONS                                        \
	X(SVC_VERIFICATION_APPROVED, 0, "APPROVED")              \
	X(SVC_VERIFICATION_NOT_STARTED, 1, "NOT_STARTED")        \
	X(SVC_VERIFICATION_RFI, 2, "RFI")                        \
	X(SVC_VERIFICATION_FINAL_REJECTION, 3, "FINAL_REJECTION")
enum svc_verification {
#define X(e, value, name) e = value,
	SVC_VERIFICATIONS
#undef X
};
const char *svc_verification_name(enum svc_verification v);

/* A client's limits, checked in this order (svc_limits). */
enum svc_limit_kind {
	SVC_LIMIT_KIND_PER_TRANSACTION,
	SVC_LIMIT_KIND_DAILY,   /* per UTC day */
	SVC_LIMIT_KIND_MONTHLY, /* per UTC calendar month */
};

/* Facts a refusal adds beyond its code and field, typed; each surface
 * writes them in its own words (money as exact decimal strings). */
enum svc_details_kind {
	SVC_DETAILS_NONE = 0,
	SVC_DETAILS_LIMIT,        /* ERR_LIMIT_EXCEEDED by a client limit */
	SVC_DETAILS_VERIFICATION, /* ERR_CUSTOMER_NOT_VERIFIED */
};
struct svc_details {
	enum svc_details_kind kind;
	union {
		struct {
			enum svc_limit_kind kind; /* the first limit the amount passes */
			enum currency currency;   /* the units of the three amounts */
			int64_t max_minor, used_minor;
			int64_t remaining_minor; /* max - used, never below 0 */
		} limit;
		struct {
			enum svc_verification state;
		} verification;
	};
};

/* What a use case came to: ERR_OK, or the client's error with what it
 * blames (SVC_FIELD_NONE: nothing in particular) and its details. */
struct svc_outcome {
	enum err err;
	enum svc_field field;
	struct svc_details details;
};

/*
 * Renders an outcome: o->err is ERR_OK with result pointing at the op's
 * result record, or the client's error (result then NULL). Must be pure:
 * it may run more than once (a retried transaction). Fills
 * out->status/body/len: the status is the surface's, kept with the body
 * for replay.
 */
typedef void (*svc_render_fn)(void *ctx, const struct svc_outcome *o, const void *result,
			      struct svc_answer *out);

struct svc_render {
	svc_render_fn fn;
	void *ctx;
};

/* ---- readiness ------------------------------------------------------------ */

/* What a node needs to serve: each check true when it holds. */
struct svc_readiness {
	bool database; /* answered a cheap read within LIMIT_READY_DB_TIMEOUT_MS */
	bool workers;  /* the lifecycle's threads run (struct service.workers_running) */
};
/* Run every check into out; true when all hold. Bounded by about
 * LIMIT_READY_DB_TIMEOUT_MS. Thread-safe. */
bool svc_ready(struct service *s, struct svc_readiness *out);

/* ---- auth and admin ---------------------------------------------------- */

/* Resolve a bearer secret. ERR_UNAUTHENTICATED for unknown, revoked or
 * malformed keys; an infrastructure error (svc_store_err) if the store failed. */
enum err svc_authenticate(struct service *s, const char *secret, struct auth *out);
/* Take a request of a's key from s->rate: ERR_OK, or ERR_RATE_LIMITED with
 * *retry_after_s the seconds until the key's next token. Call it before
 * anything the request could change or keep (its idempotency key
 * included): a refused request has no effect at all. */
enum err svc_rate_check(struct service *s, const struct auth *a, int *retry_after_s);

struct svc_new_key {
	store_id tenant_id;
	store_id principal_id;
	char principal_kind[8];
	uint32_t caps;
	char secret[64]; /* "ofr_sk_" + base64url(32 random bytes); shown once */
};
/* Create a tenant with a first principal (kind user) holding every
 * capability. name: 1..LIMIT_NAME_BYTES bytes. */
enum err svc_tenant_create(struct service *s, const char *name, struct svc_new_key *out);
/* Create a principal and its key in tenant_id (a bare uuid). */
enum err svc_api_key_create(struct service *s, const char *tenant_id, uint32_t caps,
			    const char *kind, struct svc_new_key *out);

/* ---- idempotency ------------------------------------------------------- */

/*
 * Look up a stored answer for idem (key must be set). Returns ERR_OK with
 * out filled (cached = true) for a replay, ERR_IDEMPOTENCY_KEY_REUSED when
 * the key was used with another request, ERR_NOT_FOUND when there is none.
 */
enum err svc_idem_replay(struct service *s, const struct auth *a, const struct svc_idem *idem,
			 struct svc_answer *out);

/*
 * Answer a request that failed before reaching a use case (e.g. a decoding
 * error): keep the rendered error under the key if it is a kept one
 * (err_kept, CONTRACT §7), or replay / refuse if the key was taken
 * meanwhile. r renders e with SVC_FIELD_NONE: whatever the api found at
 * fault is its own to name (in r's ctx). idem may be NULL. Always leaves
 * an answer in out.
 */
void svc_reject(struct service *s, const struct auth *a, const struct svc_idem *idem,
		enum err e, const struct svc_render *r, struct svc_answer *out);

/* ---- clients, accounts, deposits --------------------------------------- */

struct svc_account_view {
	struct store_account account;
	int n;
	struct {
		enum currency currency;
		struct ledger_balance b;
	} balances[2]; /* USDC, USDT */
};

/* Results rendered for POST /clients. */
struct svc_client_result {
	struct store_client client;
};

/* Lumx's sandbox rule, the only verification there is without a KYC
 * provider: the tax id's last digit 1 is NOT_STARTED, 2 RFI, 3
 * FINAL_REJECTION; any other digit, or none, APPROVED. */
enum svc_verification svc_verification_sandbox(const char *tax_id);
enum err svc_verification_get(struct service *s, const struct auth *a, const char *client_id,
			      enum svc_verification *out);

/* A Lumx customer: its extension document (the customer's fields, as
 * JSON text) and its verification. */
struct svc_customer {
	const char *ext;
	enum svc_verification verification;
};

/* customer: NULL for a plain client. A customer's document, verification
 * and the default limits are written in the same transaction. */
void svc_client_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
		       const char *display_name, const struct svc_customer *customer,
		       const struct svc_render *r, struct svc_answer *out);
enum err svc_client_get(struct service *s, const struct auth *a, const char *id,
			struct store_client *out);

/* client_id: a bare uuid. Renders struct svc_account_view. */
void svc_account_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const char *client_id, const struct svc_render *r, struct svc_answer *out);
enum err svc_account_get(struct service *s, const struct auth *a, const char *id,
			 struct svc_account_view *out);

/* Renders struct store_transfer. */
void svc_deposit_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const char *account_id, enum currency cur, int64_t amount_minor,
			const struct svc_render *r, struct svc_answer *out);

/* ---- destinations ------------------------------------------------------ */

/*
 * d must have passed destination_validate(); canonical is the api's text of
 * it, saved as is (what GET shows, read back with service.destination_read
 * when a session names it). Renders struct store_destination.
 */
void svc_destination_create(struct service *s, const struct auth *a,
			    const struct svc_idem *idem, const char *account_id,
			    const struct destination *d, const char *canonical, const char *ext,
			    const struct svc_render *r, struct svc_answer *out);
/* A client's destinations, newest first (body borrowed for each call). */
enum err svc_destination_list(struct service *s, const struct auth *a, const char *client_id,
			      int limit, void (*each)(void *arg, const struct store_destination *),
			      void *arg);
/* The extension document of a resource (malloc'd into *out; free());
 * ERR_NOT_FOUND when it has none. */
enum err svc_ext_get(struct service *s, const struct auth *a, const char *resource_id,
		     char **out);
/* out->body is owned by the caller (store_destination_clear). */
enum err svc_destination_get(struct service *s, const struct auth *a, const char *id,
			     struct store_destination *out);

/* ---- sessions ---------------------------------------------------------- */

struct svc_session_request {
	const char *account_id;            /* bare uuid */
	enum currency source;              /* USDC | USDT */
	int64_t amount_minor;
	enum currency target_currency;
	const char *target_rail;           /* "fiat" | "crypto" */
	const char *route_owner_client_id; /* bare uuid */
	const char *destination_id;        /* bare uuid */
	const struct destination *inline_dest; /* validated; must equal the saved one */
	const char *payment_reference;     /* validated; "" for none */
	const char *network;               /* chain the stablecoin moves on; NULL: ethereum */
	const char *ext;                   /* extension document (Lumx request), or NULL */
	const char *partner_fee_id;        /* NULL: no partner fee (Lumx: "zero") */
	const char *exchange_rate_id;      /* a LOCKED rate to convert at, or NULL */
};

/* Renders struct store_session. */
void svc_session_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const struct svc_session_request *req, const struct svc_render *r,
			struct svc_answer *out);
enum err svc_session_get(struct service *s, const struct auth *a, const char *id,
			 struct store_session *out);
/* The ledger transfers of the tenant's session id, oldest first: each(arg,
 * transfer) after the read, outside any transaction. ERR_NOT_FOUND when the
 * session is absent or another tenant's. */
enum err svc_session_transfers(struct service *s, const struct auth *a, const char *id,
			       void (*each)(void *arg, const struct store_transfer *), void *arg);

struct svc_session_query {
	const char *status;     /* NULL: any */
	const char *account_id; /* NULL: any */
	const char *client_id;  /* NULL: any */
	const char *before_id;  /* newest first, ids below this */
	const char *after_id;   /* oldest first, ids above this (wins) */
	int limit;
};
/* Calls each(arg, session) for up to q->limit sessions, in the query's
 * order. *more is set when another page exists in that direction. */
enum err svc_session_list(struct service *s, const struct auth *a,
			  const struct svc_session_query *q,
			  void (*each)(void *arg, const struct store_session *), void *arg,
			  bool *more);

/* ---- lifecycle (workers) ----------------------------------------------- */

struct rail;
/*
 * One worker pass: lease up to batch due sessions to owner and move each
 * one step through rail (CONTRACT §5, docs/LIFECYCLE.md). Returns how many
 * sessions it worked on (0 when none was due), or -1 if the store failed.
 * *next_due_ms gets the earliest time another session will be due (or 0
 * when none is waiting). Thread-safe: any number of workers may call it.
 */
int svc_worker_tick(struct service *s, struct rail *rail, const char *owner, int batch,
		    int64_t *next_due_ms);
/* Release the session leases this node's earlier run left (owners
 * starting "<node>/"; at start, before any worker runs). Other nodes'
 * leases are left to run out. */
enum err svc_worker_recover(struct service *s, const char *node);

/* ---- returns (bank file rail, service/returns.c) ------------------------- */

enum svc_return_outcome {
	SVC_RETURNED,        /* settled -> returned now, principal credited back */
	SVC_RETURN_ALREADY,  /* returned before: nothing written */
	SVC_RETURN_NOT_YET,  /* still executing/executed: ask again once it settles */
	SVC_RETURN_REFUSED,  /* unknown, failed or cancelled: nothing to return */
};
/* A bank returned session_id's paid-out transfer with ISO reason code
 * reason ("AC04"; borrowed): in one write transaction the session moves
 * settled -> returned (failure_reason bank_returned, failure_detail
 * reason), a posted session_reversal credits its principal back to the
 * client account, and off_ramp_session.returned is emitted. Fees are
 * kept (docs/RAILS.md). ERR_OK when *out says what happened; an error
 * only when the store failed (nothing written). Thread-safe. */
enum err svc_session_return(struct service *s, const char *tenant_id, const char *session_id,
			    const char *reason, enum svc_return_outcome *out);

/* ---- approvals, cancel, policies ---------------------------------------- */

/* match: the If-Match on the session's version (ERR_PRECONDITION_FAILED
 * when it fails).
 * Renders struct store_session. */
void svc_session_cancel(struct service *s, const struct auth *a, const struct svc_idem *idem,
			const char *session_id, const struct svc_match *match,
			const struct svc_render *r, struct svc_answer *out);
/* An approval's version: 1 while pending, 2 once decided (it changes
 * once). The etag of approvals and what If-Match on approve/reject is
 * checked against. */
int64_t svc_approval_version(const struct store_approval *ap);
/* match: the If-Match on the approval's version (ERR_PRECONDITION_FAILED
 * when it fails).
 * Renders struct store_approval. */
void svc_approval_decide(struct service *s, const struct auth *a, const struct svc_idem *idem,
			 const char *approval_id, bool approve, const struct svc_match *match,
			 const struct svc_render *r, struct svc_answer *out);
enum err svc_approval_get(struct service *s, const struct auth *a, const char *id,
			  struct store_approval *out);
enum err svc_approval_list(struct service *s, const struct auth *a, const char *status,
			   const char *before_id, int limit,
			   void (*each)(void *arg, const struct store_approval *), void *arg,
			   bool *more);
/* threshold_minor 0 removes the policy. Renders struct store_policy. */
void svc_policy_put(struct service *s, const struct auth *a, const struct svc_idem *idem,
		    enum currency cur, int64_t threshold_minor, const struct svc_render *r,
		    struct svc_answer *out);
/* ERR_NOT_FOUND when the tenant has none. */
enum err svc_policy_get(struct service *s, const struct auth *a, struct store_policy *out);

/* ---- events, sandbox book, operator settings ------------------------------ */

/* Oldest first after after_seq; resource_id NULL for all. */
enum err svc_event_list(struct service *s, const struct auth *a, const char *resource_id,
			int64_t after_seq, int limit,
			void (*each)(void *arg, const struct store_event *), void *arg,
			bool *more);
enum err svc_payout_list(struct service *s, const struct auth *a, const char *session_id,
			 void (*each)(void *arg, const struct store_payout *), void *arg);
/* Operator: set the rate source -> target. */
enum err svc_fx_set(struct service *s, enum currency source, enum currency target,
		    const struct fx_rate *rate);
/* Operator: a tenant's fee schedule. platform_bps < 0 leaves it; asset
 * CUR_NONE leaves the network fees. */
enum err svc_fees_set(struct service *s, const char *tenant_id, int32_t platform_bps,
		      enum currency asset, const char *network, int64_t network_fee_minor);

/* ---- Lumx resources: exchange rates, partner fees, limits ---------------- */

/* time_lock_s 0 for FLOATING. Renders struct store_exchange_rate. */
void svc_exchange_rate_create(struct service *s, const struct auth *a,
			      const struct svc_idem *idem, enum currency source,
			      enum currency target, bool locked, const char *time_lock,
			      int64_t time_lock_s, const struct svc_render *r,
			      struct svc_answer *out);
/* Renders struct store_partner_fee. */
void svc_partner_fee_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
			    const char *name, int32_t bps, int64_t flat_minor, bool is_default,
			    const struct svc_render *r, struct svc_answer *out);

struct svc_limits {
	int64_t per_transaction_minor; /* stablecoin minor units (10^-6) */
	int64_t daily_minor;           /* per UTC day */
	int64_t monthly_minor;         /* per UTC calendar month */
	int64_t used_today_minor;
	int64_t used_month_minor;
};
/* Defaults given to every customer made on the Lumx surface: 100,000.00
 * per transaction, 250,000.00 per UTC day, 1,000,000.00 per UTC month. A
 * client made through the sessions API has no limit until one is set
 * (SVC_LIMIT_NONE). */
#define SVC_LIMIT_NONE INT64_MAX
#define SVC_LIMIT_PER_TX_DEFAULT 100000000000LL
#define SVC_LIMIT_DAILY_DEFAULT 250000000000LL
#define SVC_LIMIT_MONTHLY_DEFAULT 1000000000000LL
enum err svc_limits_get(struct service *s, const struct auth *a, const char *client_id,
			struct svc_limits *out);
/* A value < 0 leaves that limit as it is. ERR_NOT_FOUND for another
 * tenant's or an absent client. */
enum err svc_limits_set(struct service *s, const struct auth *a, const char *client_id,
			int64_t per_transaction_minor, int64_t daily_minor,
			int64_t monthly_minor);

/* ---- webhooks ------------------------------------------------------------ */

/* url must have passed hook_url_check; event_types is a canonical JSON
 * array. Renders struct store_hook_endpoint (with its secret: only here). */
void svc_hook_create(struct service *s, const struct auth *a, const struct svc_idem *idem,
		     const char *url, const char *format, const char *event_types,
		     const char *secret, const struct svc_render *r, struct svc_answer *out);
enum err svc_hook_get(struct service *s, const struct auth *a, const char *id,
		      struct store_hook_endpoint *out);
enum err svc_hook_list(struct service *s, const struct auth *a,
		       void (*each)(void *arg, const struct store_hook_endpoint *), void *arg);
/* enabled < 0 and event_types NULL leave those as they are. */
enum err svc_hook_update(struct service *s, const struct auth *a, const char *id, int enabled,
			 const char *event_types, struct store_hook_endpoint *out);
enum err svc_hook_delete(struct service *s, const struct auth *a, const char *id);
/* New secret; the old one signs too for grace_s seconds. Idempotent under
 * idem (a replay returns the first rotation's answer, secret included).
 * Renders struct store_hook_endpoint. */
void svc_hook_rotate(struct service *s, const struct auth *a, const struct svc_idem *idem,
		     const char *id, const char *new_secret, int64_t grace_s,
		     const struct svc_render *r, struct svc_answer *out);
enum err svc_hook_attempts(struct service *s, const struct auth *a, const char *endpoint_id,
			   const char *before_id, int limit,
			   void (*each)(void *arg, const struct store_hook_attempt *), void *arg,
			   bool *more);
/* Deliver an event to an endpoint again (same message id and body).
 * Idempotent under idem. Renders the new delivery's id (const char *);
 * an unknown event is ERR_NOT_FOUND blaming SVC_FIELD_EVENT. */
void svc_hook_resend(struct service *s, const struct auth *a, const struct svc_idem *idem,
		     const char *endpoint_id, const char *event_id, const struct svc_render *r,
		     struct svc_answer *out);

/*
 * Dispatch (docs/WEBHOOKS.md, "Delivery"): the dispatcher claims due
 * deliveries, sends them with no transaction open, many at once, and
 * completes each one as its answer comes. This side knows no HTTP.
 */

/* A delivery leased for sending, with its endpoint as the claim saw it. */
struct svc_hook_job {
	struct store_hook_delivery d;  /* with its lease; body owned (svc_hook_job_clear) */
	struct store_hook_endpoint ep; /* previous_secret is "" once its grace is over */
};

/*
 * Lease up to max due deliveries to owner for LIMIT_WEBHOOK_LEASE_MS,
 * fairly: round-robin over tenants and their endpoints, at most
 * LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT leased per endpoint and
 * LIMIT_WEBHOOK_TENANT_IN_FLIGHT per tenant (max is at most
 * LIMIT_WEBHOOK_IN_FLIGHT). The caller starts every send at once: the
 * lease is sized for one send from the claim on. Deliveries whose endpoint
 * was deleted or disabled end cancelled here and are not returned.
 * Returns how many jobs it filled, -1 if the store failed; *next_due_ms
 * gets the earliest next attempt time of a pending delivery, leased or
 * not (0: none pending). Takes the write lock only when one is due.
 * Thread-safe.
 */
int svc_hook_claim(struct service *s, const char *owner, int max, struct svc_hook_job *jobs,
		   int64_t *next_due_ms);

enum svc_hook_outcome {
	SVC_HOOK_RECORDED,   /* attempt and outcome written */
	SVC_HOOK_LEASE_LOST, /* no longer this job's (lease taken over, or cancelled):
				only the attempt was written */
	SVC_HOOK_STORE_FAILED,
};
/*
 * Record one attempt of job (status: the HTTP status, 0 when there was no
 * answer; error: "" or why) and its outcome: a 2xx delivers, a 410 disables
 * the endpoint and ends its pending deliveries, anything else is retried
 * with backoff until the last attempt fails it. The outcome is written
 * only while the claim's own lease is still in place. Clears the job.
 */
enum svc_hook_outcome svc_hook_complete(struct service *s, struct svc_hook_job *job, int status,
					const char *error, int64_t duration_ms);
void svc_hook_job_clear(struct svc_hook_job *job);
/* As svc_worker_recover, for webhook delivery leases. */
enum err svc_hook_recover(struct service *s, const char *node);

/* ---- bulk load (admin; docs/SCALE.md) ------------------------------------ */

struct svc_bulk_request {
	const char *tenant_id;         /* bare uuid */
	int64_t sessions;              /* 1..LIMIT_BULK_SESSIONS_MAX */
	int accounts;                  /* 1..LIMIT_BULK_ACCOUNTS_MAX client accounts */
	const struct destination *dest; /* validated bank transfer, saved for every client */
	const char *dest_canonical;    /* the api's text of it, saved as is */
	int created_status;            /* the status the api answers a create with,
					  kept with each session's idempotency record */
	const char *payment_reference; /* validated; "" for none */
	/* Called after each commit; may be NULL. */
	void (*progress)(void *arg, int64_t done, int64_t total);
	void *progress_arg;
};

struct svc_bulk_account {
	store_id client_id;
	store_id account_id;
	store_id destination_id;
};

struct svc_bulk_report {
	store_id principal_id;          /* the sessions' initiator (kind service) */
	int naccounts;
	struct svc_bulk_account *accounts; /* malloc'd; svc_bulk_report_clear */
	int64_t sessions, rows, commits;
	int64_t first_created_at, last_created_at; /* Unix seconds */
	char problem[160];              /* why a refused load was refused */
};

/*
 * Write req->sessions settled sessions into a tenant, with everything a
 * real settled session leaves behind (its transfers and balances, events,
 * idempotency record, rail book entry), spread over req->accounts new
 * funded client accounts with a saved destination each; many sessions per
 * commit. ERR_NOT_FOUND: no such tenant; ERR_INVALID_STATE_TRANSITION: the
 * tenant has webhook endpoints or an approval policy (report->problem
 * says which); ERR_INVALID_VALUE: counts out of range, no created_status,
 * or the destination is not a bank transfer. A load that fails midway keeps the batches it
 * committed (each is whole and the ledger balances after each).
 */
enum err svc_bulk_load(struct service *s, const struct svc_bulk_request *req,
		       struct svc_bulk_report *report);
void svc_bulk_report_clear(struct svc_bulk_report *r);

/* Every plan step of the store's statements that must stay O(page size)
 * (store_ops.query_plans), in one read transaction. */
enum err svc_query_plans(struct service *s,
			 void (*each)(void *arg, const struct store_plan_step *step), void *arg);

/* ---- operations gauges (GET /metrics; docs/OPERATIONS.md) ---------------- */

/* What the database holds at one instant, across every tenant. */
struct svc_gauges {
	int64_t sessions[SESSION__COUNT]; /* by status */
	int64_t held_minor[CUR__COUNT];   /* by currency: holds not yet posted or voided */
};
/* The last read kept, so a storm of scrapes reads the database at most
 * once every LIMIT_METRICS_GAUGE_CACHE_MS, and a slow read (a large
 * table) at most a tenth of the time. new returns NULL when out of memory. */
struct svc_gauge_cache *svc_gauge_cache_new(void);
void svc_gauge_cache_free(struct svc_gauge_cache *c);
/* The gauges: the cached read while it is fresh (a failed read is kept as
 * long, so a lost database is not asked again by every scrape), else one
 * read transaction; callers arriving meanwhile wait for that read rather
 * than make their own. ERR_OK or an infrastructure error (out untouched).
 * Thread-safe. */
enum err svc_gauges_read(struct service *s, struct svc_gauges *out);

/* ---- audit ------------------------------------------------------------- */

struct svc_ledger_report {
	bool ok;
	long accounts, balances, transfers, sessions;
	long problems;
	char first_problem[256];
	/* Net positions per currency, indexed by enum currency. */
	int64_t net_posted[CUR__COUNT];
	int64_t net_pending[CUR__COUNT];
};
/* Check every invariant of CONTRACT §8. ERR_OK when the audit ran
 * (report->ok says whether the ledger is sound). */
enum err svc_verify_ledger(struct service *s, struct svc_ledger_report *report);
/* The same, telling progress (borrowed, may be NULL) the rows read per
 * phase (accounts, balances, transfers, sessions). */
enum err svc_verify_ledger_progress(struct service *s, const struct store_progress *progress,
				    struct svc_ledger_report *report);

#endif
