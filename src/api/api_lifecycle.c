/*
 * api_lifecycle.c - cancel, approvals, the approval policy, the event log
 * and the sandbox's book of payouts (docs/LIFECYCLE.md).
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* A transition answers the resource with its new ETag. */
API_RENDERER_ETAG(render_session_200, api_session_json, api_session_etag, struct store_session, 200)
API_RENDERER_ETAG(render_approval, api_approval_json, api_approval_etag, struct store_approval, 200)
API_RENDERER(render_policy, api_policy_json, struct store_policy, 200)

/* Actions take an empty object (or no body at all). */
static bool no_fields(struct api_call *c)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	jd_done(&d, &root);
	if (d.e)
		api_reject(c, d.e, d.field);
	return !d.e;
}

API_HANDLER(api_h_session_cancel)
{
	if (!no_fields(c))
		return;
	struct svc_match m;
	api_if_match(c, &m);
	struct svc_render r = {render_session_200, c};
	svc_session_cancel(c->api->svc, &c->auth, api_idem(c), c->id, &m, &r, &c->answer);
}

static void decide(struct api_call *c, bool approve)
{
	if (!no_fields(c))
		return;
	struct svc_match m;
	api_if_match(c, &m);
	struct svc_render r = {render_approval, c};
	svc_approval_decide(c->api->svc, &c->auth, api_idem(c), c->id, approve, &m, &r,
			    &c->answer);
}

API_HANDLER(api_h_approval_approve) { decide(c, true); }
API_HANDLER(api_h_approval_reject) { decide(c, false); }

API_HANDLER(api_h_approval_get)
{
	struct store_approval a;
	enum err e = svc_approval_get(c->api->svc, &c->auth, c->id, &a);
	if (e) {
		api_fail(c, e, NULL);
		return;
	}
	api_approval_etag(&a, c->etag);
	api_answer_json(api_approval_json(&a), 200, &c->answer);
}

/* ---- approvals list ------------------------------------------------------ */

static void approval_each(void *arg, const struct store_approval *a)
{
	json_array_append_new(arg, api_approval_json(a));
}

API_HANDLER(api_h_approval_list)
{
	static const char *const allowed[] = {"status", "page_size", "page_token", NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *status = api_query(c, "status"), *ps = api_query(c, "page_size"),
		   *tok = api_query(c, "page_token");
	static const char *const statuses[] = {"pending", "approved", "rejected", "cancelled", NULL};
	bool status_ok = !status;
	for (const char *const *s = statuses; *s && !status_ok; s++)
		status_ok = strcmp(*s, status) == 0;
	int limit = ps ? api_page_size(ps) : LIMIT_PAGE_SIZE_DEFAULT;
	char before[UUID_STR_LEN + 1] = "";
	if (!status_ok || !limit) {
		api_fail(c, ERR_INVALID_QUERY, !status_ok ? "?status" : "?page_size");
		return;
	}
	if (tok && (!api_token_read(tok, "a1", before, sizeof before) || !uuid_valid(before))) {
		api_fail(c, ERR_INVALID_PAGE_TOKEN, "?page_token");
		return;
	}
	json_t *items = json_array();
	bool more = false;
	enum err e = svc_approval_list(c->api->svc, &c->auth, status, tok ? before : NULL, limit,
				       approval_each, items, &more);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_page(c, items, more, "a1", "id");
}

/* ---- policy -------------------------------------------------------------- */

API_HANDLER(api_h_policy_put)
{
	struct jd d = {0};
	struct jd_obj root;
	jd_init(&root, c->body, "");
	enum currency cur = CUR_USDC;
	int64_t minor = 0;
	json_t *t = json_object_get(c->body, "threshold");
	if (!t) {
		jd_fail(&d, &root, "threshold", ERR_MISSING_FIELD);
	} else if (json_is_null(t)) {
		struct jd_obj dummy;
		jd_sub(&d, &root, "threshold", false, true, &dummy); /* marks it read */
	} else {
		jd_money(&d, &root, "threshold", true, &cur, &minor);
	}
	jd_done(&d, &root);
	if (d.e) {
		api_reject(c, d.e, d.field);
		return;
	}
	struct svc_render r = {render_policy, c};
	svc_policy_put(c->api->svc, &c->auth, NULL, cur, minor, &r, &c->answer);
}

API_HANDLER(api_h_policy_get)
{
	struct store_policy p = {0};
	enum err e = svc_policy_get(c->api->svc, &c->auth, &p);
	if (e && e != ERR_NOT_FOUND) {
		api_fail(c, e, NULL);
		return;
	}
	api_answer_json(api_policy_json(&p), 200, &c->answer);
}

/* ---- events -------------------------------------------------------------- */

static void event_each(void *arg, const struct store_event *e)
{
	json_array_append_new(arg, api_event_json(e));
}

API_HANDLER(api_h_event_list)
{
	static const char *const allowed[] = {"resource", "page_size", "page_token", NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *res = api_query(c, "resource"), *ps = api_query(c, "page_size"),
		   *tok = api_query(c, "page_token");
	char id[UUID_STR_LEN + 1] = "";
	const char *pre = "off-ramp-sessions/";
	if (res) {
		if (strncmp(res, pre, strlen(pre)) != 0 || !uuid_valid(res + strlen(pre))) {
			api_fail(c, ERR_INVALID_QUERY, "?resource");
			return;
		}
		memcpy(id, res + strlen(pre), UUID_STR_LEN + 1);
		uuid_lower(id);
	}
	int limit = ps ? api_page_size(ps) : LIMIT_PAGE_SIZE_DEFAULT;
	if (!limit) {
		api_fail(c, ERR_INVALID_QUERY, "?page_size");
		return;
	}
	int64_t after = 0;
	if (tok) {
		char v[24];
		if (!api_token_read(tok, "e1", v, sizeof v) || strspn(v, "0123456789") != strlen(v) ||
		    strlen(v) == 0 || strlen(v) > 18) {
			api_fail(c, ERR_INVALID_PAGE_TOKEN, "?page_token");
			return;
		}
		after = strtoll(v, NULL, 10);
	}
	json_t *items = json_array();
	bool more = false;
	enum err e = svc_event_list(c->api->svc, &c->auth, res ? id : NULL, after, limit,
				    event_each, items, &more);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_page(c, items, more, "e1", "sequence");
}

/* ---- sandbox payouts ---------------------------------------------------- */

static void payout_each(void *arg, const struct store_payout *p)
{
	json_array_append_new(arg, api_payout_json(p));
}

API_HANDLER(api_h_payout_list)
{
	static const char *const allowed[] = {"session_id", NULL};
	if (!api_query_ok(c, allowed))
		return;
	const char *sid = api_query(c, "session_id");
	char id[UUID_STR_LEN + 1];
	if (sid) {
		if (!uuid_valid(sid)) {
			api_fail(c, ERR_INVALID_QUERY, "?session_id");
			return;
		}
		memcpy(id, sid, UUID_STR_LEN + 1);
		uuid_lower(id);
	}
	json_t *items = json_array();
	enum err e = svc_payout_list(c->api->svc, &c->auth, sid ? id : NULL, payout_each, items);
	if (e) {
		json_decref(items);
		api_fail(c, e, NULL);
		return;
	}
	api_answer_json(json_pack("{s:o}", "items", items), 200, &c->answer);
}
