/*
 * fixture.h - what the service tests share: a fresh SQLite file with a
 * tenant, a funded client (1000.00 USDC) and a saved SEPA destination
 * (saved as the api's text, read back by the api's reader, as in serve);
 * a render callback that answers "<id>" or "<error code>" so tests read
 * outcomes without JSON; and a teardown that audits the ledger before
 * removing the database. Included by one test program each.
 */
#ifndef OFFRAMP_TESTS_SERVICE_FIXTURE_H
#define OFFRAMP_TESTS_SERVICE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "scratch_db.h"
#include "service/service.h"

struct fx {
	char path[64];
	struct store *store;
	struct service svc;
	struct svc_new_key key;
	struct auth auth;
	char account_id[UUID_STR_LEN + 1];
	char client_id[UUID_STR_LEN + 1];
	char dest_id[UUID_STR_LEN + 1];
	struct destination dest;
	char *canon; /* the saved destination's text (api_destination_canonical) */
};

/* Renders "<id>" on success and "<code>" on error, so tests can read
 * outcomes without JSON. */
static void fx_render(void *ctx, const struct svc_outcome *o, const void *result,
		      struct svc_answer *out)
{
	char buf[128];
	const char *kind = ctx;
	enum err e = o->err;
	if (e) {
		snprintf(buf, sizeof buf, "%s", err_code(e));
		out->status = err_http_status(e);
	} else {
		const char *id = strcmp(kind, "client") == 0
					 ? ((const struct store_client *)result)->id
				 : strcmp(kind, "session") == 0
					 ? ((const struct store_session *)result)->id
				 : strcmp(kind, "dest") == 0
					 ? ((const struct store_destination *)result)->id
					 : ((const struct store_transfer *)result)->id;
		snprintf(buf, sizeof buf, "%s", id);
		out->status = 201;
	}
	out->body = strdup(buf);
	out->len = strlen(buf);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->path, sizeof f->path, "/tmp/offramp-test-%d-%p.db", getpid(), (void *)f);
	const char *err = NULL;
	f->store = store_open_sqlite(f->path, &err);
	assert_non_null(f->store);
	f->svc = (struct service){.store = f->store, .fees = fees_default(), .sandbox = true,
				  .destination_read = api_destination_read};
	assert_int_equal(svc_tenant_create(&f->svc, "Acme", &f->key), ERR_OK);
	assert_int_equal(svc_authenticate(&f->svc, f->key.secret, &f->auth), ERR_OK);

	struct svc_answer a = {0};
	struct svc_render rc = {fx_render, "client"};
	svc_client_create(&f->svc, &f->auth, NULL, "Acme Treasury", NULL, &rc, &a);
	assert_int_equal(a.status, 201);
	snprintf(f->client_id, sizeof f->client_id, "%s", a.body);
	svc_answer_clear(&a);
	struct store_client cl;
	assert_int_equal(svc_client_get(&f->svc, &f->auth, f->client_id, &cl), ERR_OK);
	memcpy(f->account_id, cl.default_account_id, sizeof f->account_id);

	struct svc_render rd = {fx_render, "deposit"};
	svc_deposit_create(&f->svc, &f->auth, NULL, f->account_id, CUR_USDC, 1000000000, &rd, &a);
	assert_int_equal(a.status, 201);
	svc_answer_clear(&a);

	f->dest.method = DEST_BANK_TRANSFER;
	f->dest.rail = RAIL_SEPA_CREDIT_TRANSFER;
	f->dest.currency = CUR_EUR;
	strcpy(f->dest.bank.beneficiary_name, "Acme Treasury");
	strcpy(f->dest.bank.scheme, "iban");
	strcpy(f->dest.bank.iban, "GB29NWBK60161331926819");
	strcpy(f->dest.bank.bic, "NWBKGB2L");
	strcpy(f->dest.bank.country, "GB");
	const char *field;
	assert_int_equal(destination_validate(&f->dest, &field), ERR_OK);
	f->canon = api_destination_canonical(&f->dest);
	assert_non_null(f->canon);
	struct svc_idem idem = {.key = "dest-1", .endpoint = "POST /withdrawal-destinations",
				.request_hash = "h"};
	struct svc_render rde = {fx_render, "dest"};
	svc_destination_create(&f->svc, &f->auth, &idem, f->account_id, &f->dest, f->canon, NULL,
			       &rde, &a);
	assert_int_equal(a.status, 201);
	snprintf(f->dest_id, sizeof f->dest_id, "%s", a.body);
	svc_answer_clear(&a);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	struct svc_ledger_report rep;
	assert_int_equal(svc_verify_ledger(&f->svc, &rep), ERR_OK);
	if (!rep.ok)
		fail_msg("ledger: %s", rep.first_problem);
	store_close(f->store);
	scratch_db_remove(f->path);
	free(f->canon);
	free(f);
	return 0;
}

#endif
