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
#define HOOK_RESPONSE_MAX (64 * 1024) /* read at most this much of an answer */
#define HOOK_CONNECT_TIMEOUT_MS 5000
#define HOOK_TOTAL_TIMEOUT_MS 10000

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
	/* When it becomes true the transfer is abandoned at once (shutdown);
	 * NULL: never. */
	const _Atomic bool *cancel;
};

struct hook_outcome {
	int status; /* HTTP status; 0 when there was no answer */
	char error[128];
	int64_t duration_ms;
};

/* Sign and POST one message; blocking, bounded by the timeouts. */
void hook_send(const struct hook_message *m, struct hook_outcome *out);

#endif
