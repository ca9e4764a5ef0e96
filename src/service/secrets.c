/*
 * secrets.c - webhook secrets at rest (docs/OPERATIONS.md "Webhook secrets
 * at rest").
 *
 * The service signs deliveries with each endpoint's secret, so it must be
 * able to read it back: it is stored sealed with the operator's key
 * (AES-256-GCM, base/crypto.h), never as given. A sealed value is text:
 *
 *     ofrk1.<kid>.<base64url(nonce || ciphertext || tag)>
 *
 * kid is 8 hex digits of SHA-256 over a label and the key: it names the
 * key that sealed the value, so a key ring (--secret-key-file and
 * --old-secret-key-file) opens values of either key while the start-up
 * pass (svc_secrets_reseal) moves every row to the current one. The
 * associated data binds a value to where it lives: the tenant, the
 * endpoint and the column ("secret" or "previous_secret"), so a value
 * copied into another row, or swapped between the two columns, does not
 * open. A kept idempotent answer that carries a secret (a create, a
 * rotation) is sealed the same way, bound to its tenant, endpoint and key.
 *
 * A value without the prefix is a secret stored before encryption: it is
 * read as it is, and the start-up pass seals it. A service without keys
 * (unit tests, admin commands that never touch secrets) keeps secrets as
 * given and cannot open sealed ones.
 */
#include "service/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/crypto.h"
#include "base/log.h"

#define SEAL_PREFIX "ofrk1."
#define SEAL_PREFIX_LEN (sizeof SEAL_PREFIX - 1)
#define SEAL_HEAD_LEN (SEAL_PREFIX_LEN + SVC_SECRET_KID_LEN + 1) /* "ofrk1.<kid>." */
#define AAD_MAX 512

static void kid_of(const uint8_t key[CRYPTO_AEAD_KEY_LEN], char kid[SVC_SECRET_KID_LEN + 1])
{
	static const char label[] = "offramp secret key id\n";
	uint8_t buf[sizeof label - 1 + CRYPTO_AEAD_KEY_LEN];
	uint8_t h[CRYPTO_SHA256_LEN];
	memcpy(buf, label, sizeof label - 1);
	memcpy(buf + sizeof label - 1, key, CRYPTO_AEAD_KEY_LEN);
	crypto_sha256(buf, sizeof buf, h);
	OPENSSL_cleanse(buf, sizeof buf);
	crypto_hex(h, SVC_SECRET_KID_LEN / 2, kid);
}

void svc_secret_keys_init(struct svc_secret_keys *k, const uint8_t key[32], const uint8_t *old)
{
	memset(k, 0, sizeof *k);
	memcpy(k->key, key, sizeof k->key);
	kid_of(k->key, k->kid);
	if (old && CRYPTO_memcmp(old, key, sizeof k->key) != 0) {
		k->has_old = true;
		memcpy(k->old, old, sizeof k->old);
		kid_of(k->old, k->old_kid);
	}
}

void svc_secret_keys_clear(struct svc_secret_keys *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}

bool svc_sealed(const char *text)
{
	return strncmp(text, SEAL_PREFIX, SEAL_PREFIX_LEN) == 0;
}

bool svc_sealed_bytes(const char *p, size_t n)
{
	return p && n > SEAL_PREFIX_LEN && memcmp(p, SEAL_PREFIX, SEAL_PREFIX_LEN) == 0;
}

/* parts joined with NULs (none holds one): one byte string, unambiguous. */
static size_t aad_join(char out[AAD_MAX], const char *const *parts, int n)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(parts[i]) + 1;
		if (len + l > AAD_MAX)
			return 0;
		memcpy(out + len, parts[i], l);
		len += l;
	}
	return len;
}

static char *seal(const struct svc_secret_keys *k, const char *aad, size_t aad_len,
		  const void *in, size_t len, size_t *out_len)
{
	size_t n = len + CRYPTO_AEAD_OVERHEAD;
	uint8_t *raw = malloc(n);
	char *text = malloc(SEAL_HEAD_LEN + (n + 2) / 3 * 4 + 1);
	if (!raw || !text || !crypto_aead_seal(k->key, aad, aad_len, in, len, raw)) {
		free(raw);
		free(text);
		return NULL;
	}
	memcpy(text, SEAL_PREFIX, SEAL_PREFIX_LEN);
	memcpy(text + SEAL_PREFIX_LEN, k->kid, SVC_SECRET_KID_LEN);
	text[SEAL_HEAD_LEN - 1] = '.';
	size_t b = crypto_base64url(raw, n, text + SEAL_HEAD_LEN);
	free(raw);
	if (out_len)
		*out_len = SEAL_HEAD_LEN + b;
	return text;
}

/* Open text (n characters) into a malloc'd buffer of *out_len bytes (and a
 * NUL after them). */
static enum svc_unseal unseal(const struct svc_secret_keys *k, const char *aad, size_t aad_len,
			      const char *text, size_t n, char **out, size_t *out_len)
{
	*out = NULL;
	if (n < SEAL_HEAD_LEN || text[SEAL_HEAD_LEN - 1] != '.')
		return SVC_UNSEAL_BAD;
	const char *kid = text + SEAL_PREFIX_LEN;
	const uint8_t *key = NULL;
	enum svc_unseal which = SVC_UNSEAL_CURRENT;
	if (k && memcmp(kid, k->kid, SVC_SECRET_KID_LEN) == 0) {
		key = k->key;
	} else if (k && k->has_old && memcmp(kid, k->old_kid, SVC_SECRET_KID_LEN) == 0) {
		key = k->old;
		which = SVC_UNSEAL_OLD;
	} else {
		return SVC_UNSEAL_NO_KEY;
	}
	size_t b64 = n - SEAL_HEAD_LEN;
	uint8_t *raw = malloc(b64 / 4 * 3 + 3);
	long rn = raw ? crypto_base64url_decode(text + SEAL_HEAD_LEN, b64, raw) : -1;
	if (rn < (long)CRYPTO_AEAD_OVERHEAD) {
		free(raw);
		return raw ? SVC_UNSEAL_BAD : SVC_UNSEAL_NOMEM;
	}
	size_t len = (size_t)rn - CRYPTO_AEAD_OVERHEAD;
	char *plain = malloc(len + 1);
	if (!plain) {
		free(raw);
		return SVC_UNSEAL_NOMEM;
	}
	bool ok = crypto_aead_open(key, aad, aad_len, raw, (size_t)rn, (uint8_t *)plain);
	free(raw);
	if (!ok) {
		free(plain);
		return SVC_UNSEAL_BAD;
	}
	plain[len] = '\0';
	*out = plain;
	*out_len = len;
	return which;
}

/* ---- webhook endpoint secrets ------------------------------------------------ */

static size_t field_aad(char aad[AAD_MAX], const struct store_hook_endpoint *ep, const char *field)
{
	const char *parts[] = {"offramp webhook secret v1", ep->tenant_id, ep->id, field};
	return aad_join(aad, parts, 4);
}

/* Seal one column in place; "" stays "". */
static bool field_seal(const struct svc_secret_keys *k, const struct store_hook_endpoint *ep,
		       const char *field, char value[STORE_HOOK_SECRET_MAX])
{
	if (!value[0] || svc_sealed(value))
		return true;
	char aad[AAD_MAX];
	size_t aad_len = field_aad(aad, ep, field), n = 0;
	char *text = aad_len ? seal(k, aad, aad_len, value, strlen(value), &n) : NULL;
	bool ok = text && n < STORE_HOOK_SECRET_MAX;
	if (ok)
		memcpy(value, text, n + 1);
	free(text);
	return ok;
}

static enum svc_unseal field_open(const struct svc_secret_keys *k,
				  const struct store_hook_endpoint *ep, const char *field,
				  char value[STORE_HOOK_SECRET_MAX])
{
	if (!svc_sealed(value))
		return SVC_UNSEAL_PLAIN;
	char aad[AAD_MAX], *plain = NULL;
	size_t aad_len = field_aad(aad, ep, field), n = 0;
	enum svc_unseal r = unseal(k, aad, aad_len, value, strlen(value), &plain, &n);
	if (r == SVC_UNSEAL_CURRENT || r == SVC_UNSEAL_OLD) {
		if (n >= STORE_HOOK_SECRET_MAX || strlen(plain) != n) {
			r = SVC_UNSEAL_BAD;
		} else {
			memcpy(value, plain, n + 1);
		}
		OPENSSL_cleanse(plain, n);
		free(plain);
	}
	return r;
}

bool svc_hook_secrets_seal(const struct service *s, struct store_hook_endpoint *ep)
{
	if (!s->secret_keys)
		return true;
	return field_seal(s->secret_keys, ep, "secret", ep->secret) &&
	       field_seal(s->secret_keys, ep, "previous_secret", ep->previous_secret);
}

static bool open_ok(enum svc_unseal r)
{
	return r == SVC_UNSEAL_PLAIN || r == SVC_UNSEAL_CURRENT || r == SVC_UNSEAL_OLD;
}

bool svc_hook_secrets_open(const struct service *s, struct store_hook_endpoint *ep)
{
	enum svc_unseal a = field_open(s->secret_keys, ep, "secret", ep->secret);
	enum svc_unseal b = field_open(s->secret_keys, ep, "previous_secret", ep->previous_secret);
	if (open_ok(a) && open_ok(b))
		return true;
	/* The id of the key is no secret; the value is not logged. */
	log_error("webhooks: the secret of endpoint %s does not open (%s): serve needs the key "
		  "that sealed it (--secret-key-file, --old-secret-key-file)",
		  ep->id, a == SVC_UNSEAL_NO_KEY || b == SVC_UNSEAL_NO_KEY ? "sealed with another key"
										: "damaged or moved");
	return false;
}

/* ---- kept answers --------------------------------------------------------------- */

static size_t answer_aad(char aad[AAD_MAX], const struct auth *a, const struct svc_idem *idem)
{
	const char *parts[] = {"offramp kept answer v1", a->tenant_id, idem->endpoint, idem->key};
	return aad_join(aad, parts, 4);
}

char *svc_answer_seal(const struct service *s, const struct auth *a, const struct svc_idem *idem,
		      const char *body, size_t len, size_t *out_len)
{
	char aad[AAD_MAX];
	size_t aad_len = answer_aad(aad, a, idem);
	return aad_len ? seal(s->secret_keys, aad, aad_len, body, len, out_len) : NULL;
}

enum svc_unseal svc_answer_open(const struct service *s, const struct auth *a,
				const struct svc_idem *idem, const char *text, size_t n,
				char **out, size_t *out_len)
{
	char aad[AAD_MAX];
	size_t aad_len = answer_aad(aad, a, idem);
	if (!aad_len)
		return SVC_UNSEAL_BAD;
	return unseal(s->secret_keys, aad, aad_len, text, n, out, out_len);
}

/* ---- the pass over every row ------------------------------------------------------ */

struct reseal_page {
	struct store_hook_endpoint *rows;
	int n;
};

static void reseal_row(void *arg, const void *row)
{
	struct reseal_page *p = arg;
	if (p->n < LIMIT_SECRET_RESEAL_PAGE)
		p->rows[p->n++] = *(const struct store_hook_endpoint *)row;
}

struct reseal_arg {
	const struct service *s;
	struct reseal_page page;
	struct svc_reseal_report *r;
};

/* Move one row to the current key; counts what it found. */
static enum store_status reseal_one(struct store_tx *tx, struct reseal_arg *x,
				    struct store_hook_endpoint *ep)
{
	const struct svc_secret_keys *k = x->s->secret_keys;
	struct svc_reseal_report *r = x->r;
	enum svc_unseal a = field_open(k, ep, "secret", ep->secret);
	enum svc_unseal b = field_open(k, ep, "previous_secret", ep->previous_secret);
	r->endpoints++;
	if (!open_ok(a) || !open_ok(b)) {
		snprintf(r->bad_endpoint, sizeof r->bad_endpoint, "%s", ep->id);
		r->bad_no_key = a == SVC_UNSEAL_NO_KEY || b == SVC_UNSEAL_NO_KEY;
		return STORE_ABORT;
	}
	bool plain = (a == SVC_UNSEAL_PLAIN && ep->secret[0]) ||
		     (b == SVC_UNSEAL_PLAIN && ep->previous_secret[0]);
	bool old = a == SVC_UNSEAL_OLD || b == SVC_UNSEAL_OLD;
	if (!plain && !old)
		return STORE_OK;
	r->plaintext += plain;
	r->old_key += old;
	if (!field_seal(k, ep, "secret", ep->secret) ||
	    !field_seal(k, ep, "previous_secret", ep->previous_secret))
		return STORE_FAIL;
	r->resealed++;
	return STORE_CALL(tx, hook_endpoint_update, ep);
}

static enum store_status reseal_tx(struct store_tx *tx, void *arg)
{
	struct reseal_arg *x = arg;
	struct svc_reseal_report *r = x->r;
	memset(r, 0, sizeof *r); /* a re-run starts afresh */
	store_id after = "";
	for (;;) {
		x->page.n = 0;
		enum store_status st = STORE_CALL(tx, hook_endpoint_page, after,
						  LIMIT_SECRET_RESEAL_PAGE, reseal_row, &x->page);
		if (st != STORE_OK)
			return st;
		for (int i = 0; i < x->page.n; i++)
			if ((st = reseal_one(tx, x, &x->page.rows[i])) != STORE_OK)
				return st;
		if (x->page.n < LIMIT_SECRET_RESEAL_PAGE)
			return STORE_OK;
		memcpy(after, x->page.rows[x->page.n - 1].id, sizeof after);
	}
}

enum err svc_secrets_reseal(struct service *s, struct svc_reseal_report *r)
{
	memset(r, 0, sizeof *r);
	if (!s->secret_keys)
		return ERR_INTERNAL;
	struct reseal_arg x = {.s = s, .r = r};
	x.page.rows = calloc(LIMIT_SECRET_RESEAL_PAGE, sizeof *x.page.rows);
	if (!x.page.rows)
		return ERR_INTERNAL;
	enum store_status st = store_run(s->store, true, reseal_tx, &x);
	for (int i = 0; i < LIMIT_SECRET_RESEAL_PAGE; i++) {
		OPENSSL_cleanse(x.page.rows[i].secret, sizeof x.page.rows[i].secret);
		OPENSSL_cleanse(x.page.rows[i].previous_secret, sizeof x.page.rows[i].previous_secret);
	}
	free(x.page.rows);
	if (st == STORE_ABORT)
		return ERR_INVALID_VALUE; /* r->bad_endpoint names the row */
	return st == STORE_OK ? ERR_OK : svc_store_err(st);
}
