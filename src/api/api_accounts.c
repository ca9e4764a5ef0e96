/*
 * api_accounts.c - clients, client accounts and sandbox deposits.
 */
#include "api/api_internal.h"

#include <string.h>

API_RENDERER(render_client, api_client_json, struct store_client, 201)

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
	svc_client_create(c->api->svc, &c->auth, api_idem(c), name, NULL, &r, &c->answer);
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

API_RENDERER(render_account, api_account_json, struct svc_account_view, 201)

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

API_RENDERER(render_deposit, api_deposit_json, struct store_transfer, 201)

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
