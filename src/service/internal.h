/*
 * internal.h - what the service's files share and nobody else sees.
 */
#ifndef OFFRAMP_SERVICE_INTERNAL_H
#define OFFRAMP_SERVICE_INTERNAL_H

#include "service/service.h"

/*
 * An effect: the body of a write use case, run inside the transaction
 * that also writes the idempotency record. It refuses by setting o (the
 * client's error, what it blames, its details; svc_refuse) and succeeds
 * by setting *result to the record to render. o starts as ERR_OK with
 * nothing blamed on every run. Rule: an effect checks everything before
 * its first write, so a client error never leaves a partial effect behind
 * (the transaction still commits the idempotency record of a kept error).
 * Returns a store status for infrastructure outcomes only.
 */
typedef enum store_status (*svc_effect_fn)(struct store_tx *tx, void *arg,
					   struct svc_outcome *o, const void **result);

/* Refuse with e, blaming field: sets o and returns STORE_OK (the
 * transaction stands; only the client's answer is an error). */
static inline enum store_status svc_refuse(struct svc_outcome *o, enum err e,
					   enum svc_field field)
{
	o->err = e;
	o->field = field;
	return STORE_OK;
}

/* ---- secrets at rest (secrets.c) ---- */
enum svc_unseal {
	SVC_UNSEAL_PLAIN,   /* not sealed: a value stored before encryption */
	SVC_UNSEAL_CURRENT, /* opened with the current key */
	SVC_UNSEAL_OLD,     /* opened with the old key */
	SVC_UNSEAL_NO_KEY,  /* sealed with a key not in the ring */
	SVC_UNSEAL_BAD,     /* does not open: damaged, or bound to another row */
	SVC_UNSEAL_NOMEM,
};
/* Whether text is a sealed value ("ofrk1." ...). */
bool svc_sealed(const char *text);
bool svc_sealed_bytes(const char *p, size_t n); /* the same for n bytes, not NUL-ended */
/* ep's secret and previous_secret sealed in place (those already sealed
 * are kept); no keys: left as they are. False when out of memory. */
bool svc_hook_secrets_seal(const struct service *s, struct store_hook_endpoint *ep);
/* Both opened in place; false (logged, no secret in it) when one does not. */
bool svc_hook_secrets_open(const struct service *s, struct store_hook_endpoint *ep);
/* A kept answer that carries a secret, sealed to its tenant, endpoint and
 * key (malloc'd text, *out_len its length; NULL out of memory). */
char *svc_answer_seal(const struct service *s, const struct auth *a, const struct svc_idem *idem,
		      const char *body, size_t len, size_t *out_len);
/* Open it: SVC_UNSEAL_CURRENT or _OLD with *out malloc'd (NUL-ended). */
enum svc_unseal svc_answer_open(const struct service *s, const struct auth *a,
				const struct svc_idem *idem, const char *text, size_t n,
				char **out, size_t *out_len);

/*
 * Run effect (or, with effect NULL, just the error preset) under idem in
 * one write transaction, render the outcome with r into out, and keep it
 * for replay when the client sent a key and the outcome is a kept one.
 */
void svc_commit(struct service *s, const struct auth *a, const struct svc_idem *idem,
		svc_effect_fn effect, void *effect_arg, enum err preset,
		const struct svc_render *r, struct svc_answer *out);

/* Now, in Unix seconds. */
int64_t svc_now(void);

/*
 * Move amount of cur from dr to cr as op (posted, pending, post, void) in
 * tx: read both balances, apply the domain rules, write both back and
 * record the transfer. *lr gets the ledger's verdict; nothing is written
 * unless it is LEDGER_OK. out_id receives the new transfer's id.
 */
enum store_status svc_ledger_move(struct store_tx *tx, enum ledger_op op,
				  const struct store_account *dr, const struct store_account *cr,
				  enum currency cur, int64_t amount, const char *pending_id,
				  const char *session_id, const char *kind, int64_t now,
				  char out_id[UUID_STR_LEN + 1], enum ledger_result *lr);

/* The tenant's system account `code` ("sandbox_funding", "holds"),
 * created on first use inside tx. Each tenant's books balance on their
 * own, and no row is shared by every tenant's writes. */
enum store_status svc_system_account(struct store_tx *tx, const char *tenant_id,
				     const char *code, struct store_account *out);

/* Tenant settings read ahead in one statement (setting_get_many), so a
 * use case that needs several pays one store round trip, not one each:
 * svc_settings_want each key, svc_settings_fetch once, then hand the
 * struct to the readers below. A reader given NULL, or a key not wanted,
 * reads the store itself. Lives on the caller's stack. */
struct svc_settings {
	int n;
	bool fetched;
	char keys[LIMIT_SETTINGS_MANY][64];
	int64_t values[LIMIT_SETTINGS_MANY];
	bool found[LIMIT_SETTINGS_MANY];
};
void svc_settings_want(struct svc_settings *c, const char *key);
enum store_status svc_settings_fetch(struct store_tx *tx, const char *tenant_id,
				     struct svc_settings *c);
/* One setting: from c when fetched there, else from the store. */
enum store_status svc_setting(struct store_tx *tx, const struct svc_settings *c,
			      const char *tenant_id, const char *key, int64_t *out);
/* The keys of a client's verification, of a fee schedule's overrides. */
void svc_verification_key(const char *client_id, char key[64]);
void svc_network_fee_key(enum currency asset, const char *network, char key[64]);

/* The fee schedule of a tenant for an asset paid from a network:
 * defaults overridden by the tenant's settings. */
enum store_status svc_fee_schedule(struct store_tx *tx, const struct service *s,
				   const struct svc_settings *pre, const char *tenant_id,
				   enum currency asset, const char *network,
				   struct fee_schedule *out);
/* The rate source -> target: the operator's, else the documented default.
 * STORE_NOT_FOUND when there is none. */
enum store_status svc_fx_rate(struct store_tx *tx, enum currency source, enum currency target,
			      struct fx_rate *out);
/*
 * Write a changed session (s->version must still be expect_version in the
 * store; it is bumped here) and, when event_type is not NULL, its event
 * with a snapshot. Returns STORE_NOT_FOUND if the session moved meanwhile.
 */
enum store_status svc_session_save(struct store_tx *tx, const struct service *svc,
				   struct store_session *s, int64_t expect_version,
				   const char *event_type);
/* svc_session_save in two halves, so a caller can make the row and its
 * event's snapshot outside the transaction: stamp s as the version after
 * expect_version (version, updated_at, event_seq when event_type is not
 * NULL); then write it, with data as the event's snapshot (borrowed; NULL:
 * rendered here from s). */
void svc_session_stamp(struct store_session *s, int64_t expect_version, const char *event_type);
enum store_status svc_session_write(struct store_tx *tx, const struct service *svc,
				    const struct store_session *s, int64_t expect_version,
				    const char *event_type, const char *data);
/* s's event event_type (s->event_seq is its number; its time is
 * s->updated_at) with data as its snapshot (borrowed; NULL: rendered here
 * from s), and its webhook deliveries, in tx. */
enum store_status svc_session_event(struct store_tx *tx, const struct service *svc,
				    const struct store_session *s, const char *event_type,
				    const char *data);
/* Post the hold of a settled session and pay principal and fees out of
 * holds; or void it for a failed/cancelled one. */
enum store_status svc_hold_settle(struct store_tx *tx, const struct store_session *s);
enum store_status svc_hold_release(struct store_tx *tx, const struct store_session *s);
int64_t svc_now_ms(void);
/* The tenant_settings keys of a client's limits. */
void svc_limit_keys(const char *client_id, char tx_key[64], char day_key[64],
		    char month_key[64]);
/* A client's verification (APPROVED when none is recorded). */
enum store_status svc_verification_read(struct store_tx *tx, const struct svc_settings *pre,
					const char *tenant_id, const char *client_id,
					enum svc_verification *out);
/* A client's limits and what it used today and this month (UTC), inside
 * tx. for_check: reading to check a creation, so a total is skipped when
 * there is no limit to check it against. */
enum store_status svc_limits_read(struct store_tx *tx, const struct svc_settings *pre,
				  const char *tenant_id, const char *client_id, bool for_check,
				  struct svc_limits *out);

/* The webhook outbox: queue the event's payloads for every enabled
 * endpoint of the session's tenant that wants them, in tx. */
enum store_status svc_outbox_event(struct store_tx *tx, const struct service *svc,
				   const struct store_session *s, const struct store_event *ev);

/* svc_commit for an answer that carries a secret: kept sealed (secrets.c). */
void svc_commit_sealed(struct service *s, const struct auth *a, const struct svc_idem *idem,
		       svc_effect_fn effect, void *effect_arg, const struct svc_render *r,
		       struct svc_answer *out);

/* Map a store status met outside svc_commit to an infrastructure error. */
enum err svc_store_err(enum store_status st);

#endif
