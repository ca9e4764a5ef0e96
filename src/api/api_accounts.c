/*
 * api_accounts.c - clients, client accounts and sandbox deposits.
 */
#include "api/api_internal.h"

#include <string.h>

static void render_client(void *ctx, enum err e, const char *field, const void *result,
			  struct svc_answer *out)
{
	if (e)
		api_render_error(ctx, e, field, out);
	else
		api_answer_json(api_client_json(result), 201, out);
}

API_HANDLER(api_h_client_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	const char *name = jd_str(&d, &root, "display_name", true, false, LIMIT_NAME_BYTES);
	jd_done(&d, &root);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct svc_render r = {render_client, c};
	svc_client_create(c->api->svc, &c->auth, api_idem(c), name, &r, &c->answer);
}

API_HANDLER(api_h_client_get)
{
	struct store_client cl;
	enum err e = svc_client_get(c->api->svc, &c->auth, c->id, &cl);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(api_client_json(&cl), 200, &c->answer);
}

static void render_account(void *ctx, enum err e, const char *field, const void *result,
			   struct svc_answer *out)
{
	if (e)
		api_render_error(ctx, e, field, out);
	else
		api_answer_json(api_account_json(result), 201, out);
}

API_HANDLER(api_h_account_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	char client_id[UUID_STR_LEN + 1] = "";
	jd_ref(&d, &root, "client_ref", "clients", client_id);
	jd_done(&d, &root);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct svc_render r = {render_account, c};
	svc_account_create(c->api->svc, &c->auth, api_idem(c), client_id, &r, &c->answer);
}

API_HANDLER(api_h_account_get)
{
	struct svc_account_view v;
	enum err e = svc_account_get(c->api->svc, &c->auth, c->id, &v);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(api_account_json(&v), 200, &c->answer);
}

static void render_deposit(void *ctx, enum err e, const char *field, const void *result,
			   struct svc_answer *out)
{
	if (e)
		api_render_error(ctx, e, field, out);
	else
		api_answer_json(api_deposit_json(result), 201, out);
}

API_HANDLER(api_h_deposit_create)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	char account_id[UUID_STR_LEN + 1] = "";
	enum currency cur = CUR_NONE;
	int64_t amount = 0;
	jd_ref(&d, &root, "account_ref", "client-accounts", account_id);
	jd_money(&d, &root, "amount", true, &cur, &amount);
	jd_done(&d, &root);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct svc_render r = {render_deposit, c};
	svc_deposit_create(c->api->svc, &c->auth, api_idem(c), account_id, cur, amount, &r,
			   &c->answer);
}
