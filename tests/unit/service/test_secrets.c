/*
 * test_secrets.c - webhook secrets at rest (service/secrets.c): a sealed
 * value opens with its key and only there (another key, a changed byte, a
 * copy into another row or column all fail); the key ring opens the old
 * key's values; the reseal pass seals plaintext rows, moves old-key rows
 * to the current key and refuses (changing nothing) a row no key opens;
 * the key file's format and mode are checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "base/crypto.h"
#include "fixture.h"
#include "service/internal.h"

#define PLAIN "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct svc_secret_keys ring(uint8_t fill, const uint8_t *old_fill)
{
	uint8_t key[32], old[32];
	memset(key, fill, sizeof key);
	if (old_fill)
		memset(old, *old_fill, sizeof old);
	struct svc_secret_keys k;
	svc_secret_keys_init(&k, key, old_fill ? old : NULL);
	return k;
}

static struct store_hook_endpoint endpoint(const char *tenant)
{
	struct store_hook_endpoint ep = {.enabled = true, .created_at = 1, .updated_at = 1};
	assert_true(uuid_v7(ep.id));
	snprintf(ep.tenant_id, sizeof ep.tenant_id, "%s", tenant);
	snprintf(ep.url, sizeof ep.url, "https://hooks.example/x");
	snprintf(ep.format, sizeof ep.format, "standard");
	snprintf(ep.event_types, sizeof ep.event_types, "[\"*\"]");
	snprintf(ep.secret, sizeof ep.secret, "%s", PLAIN);
	snprintf(ep.previous_secret, sizeof ep.previous_secret, "whsec_previous");
	return ep;
}

static void test_round_trip(void **state)
{
	struct svc_secret_keys k = ring(1, NULL);
	struct service s = {.secret_keys = &k};
	struct store_hook_endpoint ep = endpoint("t1");
	assert_true(svc_hook_secrets_seal(&s, &ep));
	assert_true(svc_sealed(ep.secret) && svc_sealed(ep.previous_secret));
	assert_null(strstr(ep.secret, "MfKQ9r8GKYqr"));
	assert_non_null(strstr(ep.secret, k.kid));
	/* A fresh nonce each time: the same secret seals differently. */
	struct store_hook_endpoint again = endpoint("t1");
	memcpy(again.id, ep.id, sizeof again.id);
	assert_true(svc_hook_secrets_seal(&s, &again));
	assert_string_not_equal(again.secret, ep.secret);
	/* Sealing a sealed value keeps it. */
	char before[STORE_HOOK_SECRET_MAX];
	memcpy(before, ep.secret, sizeof before);
	assert_true(svc_hook_secrets_seal(&s, &ep));
	assert_string_equal(ep.secret, before);
	assert_true(svc_hook_secrets_open(&s, &ep));
	assert_string_equal(ep.secret, PLAIN);
	assert_string_equal(ep.previous_secret, "whsec_previous");
	/* A row stored before encryption reads as it is. */
	struct store_hook_endpoint legacy = endpoint("t1");
	assert_true(svc_hook_secrets_open(&s, &legacy));
	assert_string_equal(legacy.secret, PLAIN);
}

static void test_wrong_key_fails(void **state)
{
	struct svc_secret_keys k1 = ring(1, NULL), k2 = ring(2, NULL);
	struct service s1 = {.secret_keys = &k1}, s2 = {.secret_keys = &k2}, none = {0};
	struct store_hook_endpoint ep = endpoint("t1");
	assert_true(svc_hook_secrets_seal(&s1, &ep));
	struct store_hook_endpoint copy = ep;
	assert_false(svc_hook_secrets_open(&s2, &copy));
	copy = ep;
	assert_false(svc_hook_secrets_open(&none, &copy));
	/* The ring opens the old key's values. */
	uint8_t one = 1;
	struct svc_secret_keys k21 = ring(2, &one);
	struct service s21 = {.secret_keys = &k21};
	copy = ep;
	assert_true(svc_hook_secrets_open(&s21, &copy));
	assert_string_equal(copy.secret, PLAIN);
}

static void test_tampered_value_fails(void **state)
{
	struct svc_secret_keys k = ring(1, NULL);
	struct service s = {.secret_keys = &k};
	struct store_hook_endpoint ep = endpoint("t1");
	assert_true(svc_hook_secrets_seal(&s, &ep));
	size_t n = strlen(ep.secret);
	/* Every character after the key id, changed in turn. */
	for (size_t i = 15; i < n; i++) {
		struct store_hook_endpoint t = ep;
		t.secret[i] = t.secret[i] == 'A' ? 'B' : 'A';
		assert_false(svc_hook_secrets_open(&s, &t));
	}
	struct store_hook_endpoint cut = ep;
	cut.secret[n - 4] = '\0';
	assert_false(svc_hook_secrets_open(&s, &cut));
	cut = ep;
	cut.secret[20] = '\0';
	assert_false(svc_hook_secrets_open(&s, &cut));
}

static void test_moved_value_fails(void **state)
{
	struct svc_secret_keys k = ring(1, NULL);
	struct service s = {.secret_keys = &k};
	struct store_hook_endpoint a = endpoint("t1"), b = endpoint("t1"), c = endpoint("t2");
	assert_true(svc_hook_secrets_seal(&s, &a));
	assert_true(svc_hook_secrets_seal(&s, &b));
	/* Into another endpoint of the same tenant. */
	memcpy(b.secret, a.secret, sizeof b.secret);
	assert_false(svc_hook_secrets_open(&s, &b));
	/* Into another tenant's row with the same endpoint id. */
	memcpy(c.id, a.id, sizeof c.id);
	assert_true(svc_hook_secrets_seal(&s, &c));
	memcpy(c.secret, a.secret, sizeof c.secret);
	assert_false(svc_hook_secrets_open(&s, &c));
	/* Swapped between the two columns of its own row. */
	struct store_hook_endpoint sw = a;
	memcpy(sw.secret, a.previous_secret, sizeof sw.secret);
	memcpy(sw.previous_secret, a.secret, sizeof sw.previous_secret);
	assert_false(svc_hook_secrets_open(&s, &sw));
}

static void test_kept_answer(void **state)
{
	struct svc_secret_keys k = ring(1, NULL);
	struct service s = {.secret_keys = &k};
	struct auth a = {.tenant_id = "t1"}, other = {.tenant_id = "t2"};
	struct svc_idem idem = {.key = "k1", .endpoint = "POST /webhook-endpoints"};
	struct svc_idem idem2 = {.key = "k2", .endpoint = "POST /webhook-endpoints"};
	const char body[] = "{\"secret\":\"" PLAIN "\"}";
	size_t n = 0, m = 0;
	char *sealed = svc_answer_seal(&s, &a, &idem, body, sizeof body - 1, &n);
	assert_non_null(sealed);
	assert_int_equal(strlen(sealed), n);
	assert_null(strstr(sealed, "MfKQ9r8GKYqr"));
	char *plain = NULL;
	assert_int_equal(svc_answer_open(&s, &a, &idem, sealed, n, &plain, &m), SVC_UNSEAL_CURRENT);
	assert_int_equal(m, sizeof body - 1);
	assert_memory_equal(plain, body, m);
	free(plain);
	assert_int_equal(svc_answer_open(&s, &other, &idem, sealed, n, &plain, &m), SVC_UNSEAL_BAD);
	assert_int_equal(svc_answer_open(&s, &a, &idem2, sealed, n, &plain, &m), SVC_UNSEAL_BAD);
	free(sealed);
}

/* ---- the reseal pass, on a real store ---- */

struct rows {
	struct store_hook_endpoint ep[4];
	int n;
	const struct store_hook_endpoint *put;
};

static void rows_add(void *arg, const void *row)
{
	struct rows *r = arg;
	if (r->n < 4)
		r->ep[r->n++] = *(const struct store_hook_endpoint *)row;
}

static enum store_status put_tx(struct store_tx *tx, void *arg)
{
	return STORE_CALL(tx, hook_endpoint_insert, ((struct rows *)arg)->put);
}

static enum store_status all_tx(struct store_tx *tx, void *arg)
{
	struct rows *r = arg;
	r->n = 0;
	return STORE_CALL(tx, hook_endpoint_page, "", 4, rows_add, r);
}

static void test_reseal_pass(void **state)
{
	struct fx *f = *state;
	struct rows r = {0};
	struct store_hook_endpoint plain = endpoint(f->auth.tenant_id);
	plain.previous_secret[0] = '\0';
	r.put = &plain;
	assert_int_equal(store_run(f->store, true, put_tx, &r), STORE_OK);

	/* Plaintext rows (stored before encryption) are sealed. */
	struct svc_secret_keys k1 = ring(1, NULL);
	f->svc.secret_keys = &k1;
	struct svc_reseal_report rep;
	assert_int_equal(svc_secrets_reseal(&f->svc, &rep), ERR_OK);
	assert_int_equal(rep.endpoints, 1);
	assert_int_equal(rep.resealed, 1);
	assert_int_equal(rep.plaintext, 1);
	assert_int_equal(store_run(f->store, false, all_tx, &r), STORE_OK);
	assert_int_equal(r.n, 1);
	assert_true(svc_sealed(r.ep[0].secret));
	assert_string_equal(r.ep[0].previous_secret, "");
	char k1_value[STORE_HOOK_SECRET_MAX];
	memcpy(k1_value, r.ep[0].secret, sizeof k1_value);
	/* Run again: nothing to do. */
	assert_int_equal(svc_secrets_reseal(&f->svc, &rep), ERR_OK);
	assert_int_equal(rep.resealed, 0);

	/* A key not in the ring: refused, nothing written. */
	struct svc_secret_keys k3 = ring(3, NULL);
	f->svc.secret_keys = &k3;
	assert_int_equal(svc_secrets_reseal(&f->svc, &rep), ERR_INVALID_VALUE);
	assert_true(rep.bad_no_key);
	assert_string_equal(rep.bad_endpoint, plain.id);
	assert_int_equal(store_run(f->store, false, all_tx, &r), STORE_OK);
	assert_string_equal(r.ep[0].secret, k1_value);

	/* Rotation: the ring (k2, old k1) moves it to k2; then k2 alone opens it. */
	uint8_t one = 1;
	struct svc_secret_keys k21 = ring(2, &one), k2 = ring(2, NULL);
	f->svc.secret_keys = &k21;
	assert_int_equal(svc_secrets_reseal(&f->svc, &rep), ERR_OK);
	assert_int_equal(rep.old_key, 1);
	assert_int_equal(rep.resealed, 1);
	f->svc.secret_keys = &k2;
	assert_int_equal(svc_secrets_reseal(&f->svc, &rep), ERR_OK);
	assert_int_equal(rep.resealed, 0);
	struct store_hook_endpoint got;
	assert_int_equal(svc_hook_get(&f->svc, &f->auth, plain.id, &got), ERR_OK);
	assert_string_equal(got.secret, PLAIN);
	f->svc.secret_keys = &k1;
	assert_int_not_equal(svc_hook_get(&f->svc, &f->auth, plain.id, &got), ERR_OK);
	f->svc.secret_keys = NULL;
}

/* ---- the key file ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static void test_key_file(void **state)
{
	char path[64], err[256];
	uint8_t key[32], again[32];
	snprintf(path, sizeof path, "/tmp/offramp-key-%d", getpid());
	const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	write_file(path, hex, 0600);
	assert_true(crypto_key_file_read(path, key, err, sizeof err));
	for (int i = 0; i < 32; i++)
		assert_int_equal(key[i], i);
	write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0400);
	assert_true(crypto_key_file_read(path, key, err, sizeof err));
	write_file(path, hex, 0644); /* readable by others */
	assert_false(crypto_key_file_read(path, key, err, sizeof err));
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, "0a0b")); /* no key bytes in a message */
	write_file(path, "00010203", 0600);
	assert_false(crypto_key_file_read(path, key, err, sizeof err));
	write_file(path, "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600);
	assert_false(crypto_key_file_read(path, key, err, sizeof err));
	write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00\n", 0600);
	assert_false(crypto_key_file_read(path, key, err, sizeof err));
	unlink(path);
	assert_false(crypto_key_file_read(path, key, err, sizeof err));

	/* Made 0600; a second create reads the first's key. */
	assert_true(crypto_key_file_create(path, key, err, sizeof err));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(crypto_key_file_create(path, again, err, sizeof err));
	assert_memory_equal(key, again, sizeof key);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_key_fails),
		cmocka_unit_test(test_tampered_value_fails),
		cmocka_unit_test(test_moved_value_fails),
		cmocka_unit_test(test_kept_answer),
		cmocka_unit_test_setup_teardown(test_reseal_pass, fx_setup, fx_teardown),
		cmocka_unit_test(test_key_file),
	};
	return cmocka_run_group_tests_name("secrets", tests, NULL, NULL);
}
