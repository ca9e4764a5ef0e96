/*
 * hooks.h - the webhook adapter: outbound HTTP to clients' endpoints
 * (libcurl), their signatures (OpenSSL HMAC-SHA256) and the rules for
 * which addresses may be called (docs/WEBHOOKS.md).
 *
 * Like rails, this is an adapter to the outside world: it knows HTTP and
 * sockets, nothing of sessions or the store.
 */
#ifndef OFFRAMP_WEBHOOKS_HOOKS_H
#define OFFRAMP_WEBHOOKS_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

#define HOOK_SECRET_MAX 96
/* Timeouts and the answer cap: LIMIT_WEBHOOK_* in base/limits.h. */

/* Call once at start (curl_global_init) and at exit. */
bool hook_global_init(void);
void hook_global_fini(void);

/*
 * Check an endpoint URL at registration: http(s) only (http only when
 * allow_loopback), a host that resolves, and every address public (or
 * loopback when allowed). ERR_OK, ERR_INVALID_VALUE (not a URL we take)
 * or ERR_UNSAFE_WEBHOOK_URL.
 */
enum err hook_url_check(const char *url, bool allow_loopback);

/* A new standard secret: "whsec_" + base64 of 32 random bytes. */
bool hook_secret_new(char out[HOOK_SECRET_MAX]);

/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" where key is the base64 after
 * "whsec_". false if the secret is malformed. */
bool hook_sign_standard(const char *secret, const char *msg_id, int64_t ts, const char *body,
			size_t len, char out[HOOK_SECRET_MAX]);
/* Lower-case hex HMAC-SHA256(secret string, body). */
void hook_sign_lumx(const char *secret, const char *body, size_t len, char out[65]);

struct hook_message {
	const char *url;
	const char *format;          /* "standard" | "lumx" */
	const char *message_id;      /* webhook-id */
	const char *body;
	size_t len;
	const char *secret;
	const char *previous_secret; /* NULL or "": none */
	bool allow_loopback;
};

struct hook_outcome {
	int status; /* HTTP status; 0 when there was no answer */
	char error[128];
	int64_t duration_ms;
};

/*
 * A sender: many POSTs in flight at once on one libcurl multi handle, each
 * bounded by the connect and total timeouts, driven by one thread (a
 * sender is not shared between threads).
 */
struct hook_sender;
typedef void (*hook_done_fn)(void *arg, void *tag, const struct hook_outcome *o);

struct hook_sender *hook_sender_new(void);
/* Sign m and start POSTing it; m is copied (it may go once this returns).
 * tag comes back with the outcome. false: could not start (no memory). */
bool hook_sender_add(struct hook_sender *s, const struct hook_message *m, void *tag);
/* Transfers started and not yet reported. */
int hook_sender_running(const struct hook_sender *s);
/* Move every transfer on, waiting up to wait_ms for something to happen
 * when none has finished; report each finished one to done. */
void hook_sender_run(struct hook_sender *s, int wait_ms, hook_done_fn done, void *arg);
/* Make a hook_sender_run waiting in another thread return at once. */
void hook_sender_wakeup(struct hook_sender *s);
/* Abandon every transfer now (shutdown), reporting each to done with
 * status 0 and error why. */
void hook_sender_abort(struct hook_sender *s, const char *why, hook_done_fn done, void *arg);
/* Free; transfers still running are dropped unreported. */
void hook_sender_free(struct hook_sender *s);

#endif
