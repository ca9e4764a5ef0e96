/*
 * fuzz_request.c - the whole request pipeline without a socket: each
 * input is the body of an authenticated POST /off-ramp-sessions (and of
 * POST /withdrawal-destinations) against a funded SQLite database. No
 * input may crash the service or produce a 5xx, and the ledger must stay
 * sound whatever was accepted.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "base/log.h"

static struct store *st;
static struct service svc;
static struct api api;
static char key[128];
static long runs;

static char db_path[64];

/* The database is scratch: it goes with the run (WAL files too). */
static void cleanup(void)
{
	char p[80];
	store_close(st);
	unlink(db_path);
	snprintf(p, sizeof p, "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", db_path);
	unlink(p);
}

static void init(void)
{
	snprintf(db_path, sizeof db_path, "/tmp/offramp-fuzz-%d.db", getpid());
	unlink(db_path);
	log_set_level(LOG_ERROR);
	const char *err;
	st = store_open_sqlite(db_path, &err);
	assert(st);
	svc = (struct service){.store = st, .fees = fees_default(), .sandbox = true,
			       .destination_read = api_destination_read};
	api.svc = &svc;
	struct svc_new_key k;
	assert(svc_tenant_create(&svc, "fuzz", &k) == ERR_OK);
	snprintf(key, sizeof key, "Bearer %s", k.secret);
	atexit(cleanup);
}

static int post(const char *path, const uint8_t *data, size_t size, const char *idem)
{
	struct api_request r = {.method = "POST", .path = path, .authorization = key,
				.content_type = "application/json", .idempotency_key = idem,
				.body = (const char *)data, .body_len = size};
	snprintf(r.request_id, sizeof r.request_id, "fuzz");
	struct api_response res;
	api_handle(&api, &r, &res);
	int status = res.status;
	api_response_clear(&res);
	return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!st)
		init();
	char idem[32];
	snprintf(idem, sizeof idem, "k%ld", runs++);
	assert(post("/off-ramp-sessions", data, size, NULL) < 500);
	assert(post("/withdrawal-destinations", data, size, idem) < 500);
	assert(post("/clients", data, size, NULL) < 500);
	if (runs % 256 == 0) {
		struct svc_ledger_report rep;
		assert(svc_verify_ledger(&svc, &rep) == ERR_OK && rep.ok);
	}
	return 0;
}
