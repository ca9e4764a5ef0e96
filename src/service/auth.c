/*
 * auth.c - tenants, principals and API keys.
 *
 * A key is "ofr_sk_" + base64url of 32 bytes from OpenSSL's CSPRNG. Only
 * its SHA-256 is stored. Lookup is by that hash (an index seek, so the
 * time taken does not depend on how much of a guess matched), and the
 * stored hash is compared again with CRYPTO_memcmp before the key is
 * trusted. The secret exists in memory only to be printed once.
 */
#include "service/internal.h"

#include <stdio.h>
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

enum err svc_authenticate(struct service *s, const char *secret, struct auth *out)
{
	size_t n = secret ? strlen(secret) : 0;
	if (n == 0 || n > LIMIT_API_KEY_BYTES)
		return ERR_UNAUTHENTICATED;
	struct auth_arg x = {0};
	crypto_sha256(secret, n, x.hash);
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
	memcpy(out->principal_kind, x.key.principal_kind, sizeof out->principal_kind);
	out->caps = x.key.capabilities;
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
