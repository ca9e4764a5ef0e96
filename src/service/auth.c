/*
 * auth.c - tenants, principals and API keys.
 *
 * A key is "ofr_sk_" + base64url of 32 bytes from OpenSSL's CSPRNG. Only
 * its SHA-256 is stored. Lookup is by that hash (an index seek, so the
 * time taken does not depend on how much of a guess matched), and the
 * stored hash is compared again with CRYPTO_memcmp before the key is
 * trusted. The secret exists in memory only to be printed once.
 *
 * The auth cache keeps what a successful lookup found, under the secret's
 * SHA-256 (never the secret), for LIMIT_AUTH_CACHE_MS: the hot path then
 * costs one hash and a memory lookup, and a key revoked in the store stops
 * working within that bound. Unknown keys are not cached (nothing an
 * attacker sends can push a real key out faster than real use refills it,
 * and a key just created works at once). Direct-mapped by the hash's first
 * bytes, which are uniform; a hit is confirmed with CRYPTO_memcmp.
 */
#include "service/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/log.h"
#include "domain/capability.h"

#define KEY_PREFIX "ofr_sk_"

struct auth_arg {
	uint8_t hash[32];
	struct store_api_key key;
};

static enum store_status auth_tx(struct store_tx *tx, void *arg)
{
	struct auth_arg *x = arg;
	return STORE_CALL(tx, api_key_find, x->hash, &x->key);
}

struct auth_entry {
	uint8_t hash[32];
	struct auth a;
	int64_t until_ms; /* 0: empty */
};

struct svc_auth_cache {
	pthread_mutex_t mu;
	struct auth_entry e[LIMIT_AUTH_CACHE_ENTRIES];
};

struct svc_auth_cache *svc_auth_cache_new(void)
{
	struct svc_auth_cache *c = calloc(1, sizeof *c);
	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void svc_auth_cache_free(struct svc_auth_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static struct auth_entry *cache_slot(struct svc_auth_cache *c, const uint8_t hash[32])
{
	unsigned i = ((unsigned)hash[0] << 8 | hash[1]) % LIMIT_AUTH_CACHE_ENTRIES;
	return &c->e[i];
}

static bool cache_get(struct svc_auth_cache *c, const uint8_t hash[32], struct auth *out)
{
	if (!c)
		return false;
	int64_t now = svc_now_ms();
	pthread_mutex_lock(&c->mu);
	struct auth_entry *e = cache_slot(c, hash);
	bool hit = e->until_ms > now && crypto_equal(e->hash, hash, 32);
	if (hit)
		*out = e->a;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

static void cache_put(struct svc_auth_cache *c, const uint8_t hash[32], const struct auth *a)
{
	if (!c)
		return;
	int64_t until = svc_now_ms() + LIMIT_AUTH_CACHE_MS;
	pthread_mutex_lock(&c->mu);
	struct auth_entry *e = cache_slot(c, hash);
	memcpy(e->hash, hash, 32);
	e->a = *a;
	e->until_ms = until;
	pthread_mutex_unlock(&c->mu);
}

enum err svc_authenticate(struct service *s, const char *secret, struct auth *out)
{
	size_t n = secret ? strlen(secret) : 0;
	if (n == 0 || n > LIMIT_API_KEY_BYTES)
		return ERR_UNAUTHENTICATED;
	struct auth_arg x = {0};
	crypto_sha256(secret, n, x.hash);
	if (cache_get(s->auth_cache, x.hash, out))
		return ERR_OK;
	enum store_status st = store_run(s->store, false, auth_tx, &x);
	if (st == STORE_NOT_FOUND)
		return ERR_UNAUTHENTICATED;
	if (st != STORE_OK)
		return svc_store_err(st);
	if (!crypto_equal(x.key.hash, x.hash, sizeof x.hash) || x.key.revoked)
		return ERR_UNAUTHENTICATED;
	memset(out, 0, sizeof *out);
	memcpy(out->tenant_id, x.key.tenant_id, sizeof out->tenant_id);
	memcpy(out->principal_id, x.key.principal_id, sizeof out->principal_id);
	memcpy(out->key_id, x.key.id, sizeof out->key_id);
	memcpy(out->principal_kind, x.key.principal_kind, sizeof out->principal_kind);
	out->caps = x.key.capabilities;
	cache_put(s->auth_cache, x.hash, out);
	return ERR_OK;
}

struct key_arg {
	const char *tenant_name; /* non-NULL: create the tenant too */
	struct svc_new_key *out;
	uint8_t hash[32];
	bool tenant_missing;
};

static enum store_status key_tx(struct store_tx *tx, void *arg)
{
	struct key_arg *k = arg;
	int64_t now = svc_now();
	enum store_status st;
	k->tenant_missing = false; /* outputs are rewritten on every run */
	if (k->tenant_name) {
		struct store_tenant t = {.created_at = now};
		memcpy(t.id, k->out->tenant_id, sizeof t.id);
		snprintf(t.name, sizeof t.name, "%s", k->tenant_name);
		if ((st = STORE_CALL(tx, tenant_insert, &t)) != STORE_OK)
			return st;
	} else {
		struct store_tenant t;
		st = STORE_CALL(tx, tenant_get, k->out->tenant_id, &t);
		if (st == STORE_NOT_FOUND) {
			k->tenant_missing = true;
			return STORE_ABORT;
		}
		if (st != STORE_OK)
			return st;
	}
	struct store_principal p = {.created_at = now};
	memcpy(p.id, k->out->principal_id, sizeof p.id);
	memcpy(p.tenant_id, k->out->tenant_id, sizeof p.tenant_id);
	memcpy(p.kind, k->out->principal_kind, sizeof p.kind);
	if ((st = STORE_CALL(tx, principal_insert, &p)) != STORE_OK)
		return st;
	struct store_api_key key = {.capabilities = k->out->caps, .created_at = now};
	if (!uuid_v7(key.id))
		return STORE_FAIL;
	memcpy(key.principal_id, p.id, sizeof key.principal_id);
	memcpy(key.tenant_id, p.tenant_id, sizeof key.tenant_id);
	memcpy(key.hash, k->hash, sizeof key.hash);
	return STORE_CALL(tx, api_key_insert, &key);
}

static enum err make_key(struct service *s, const char *tenant_name, struct svc_new_key *out)
{
	uint8_t raw[32];
	if (!crypto_random(raw, sizeof raw) || !uuid_v7(out->principal_id))
		return ERR_INTERNAL;
	memcpy(out->secret, KEY_PREFIX, sizeof KEY_PREFIX - 1);
	crypto_base64url(raw, sizeof raw, out->secret + sizeof KEY_PREFIX - 1);
	struct key_arg k = {.tenant_name = tenant_name, .out = out};
	crypto_sha256(out->secret, strlen(out->secret), k.hash);
	enum store_status st = store_run(s->store, true, key_tx, &k);
	if (k.tenant_missing)
		return ERR_NOT_FOUND;
	if (st != STORE_OK) {
		memset(out->secret, 0, sizeof out->secret);
		return svc_store_err(st);
	}
	return ERR_OK;
}

enum err svc_tenant_create(struct service *s, const char *name, struct svc_new_key *out)
{
	memset(out, 0, sizeof *out);
	if (!name || !*name || strlen(name) > LIMIT_NAME_BYTES)
		return ERR_INVALID_VALUE;
	if (!uuid_v7(out->tenant_id))
		return ERR_INTERNAL;
	snprintf(out->principal_kind, sizeof out->principal_kind, "user");
	out->caps = CAP_ALL;
	return make_key(s, name, out);
}

enum err svc_api_key_create(struct service *s, const char *tenant_id, uint32_t caps,
			    const char *kind, struct svc_new_key *out)
{
	memset(out, 0, sizeof *out);
	if (!uuid_valid(tenant_id))
		return ERR_INVALID_REFERENCE;
	if (strcmp(kind, "user") != 0 && strcmp(kind, "service") != 0)
		return ERR_INVALID_VALUE;
	snprintf(out->tenant_id, sizeof out->tenant_id, "%s", tenant_id);
	uuid_lower(out->tenant_id);
	snprintf(out->principal_kind, sizeof out->principal_kind, "%s", kind);
	out->caps = caps;
	return make_key(s, NULL, out);
}
