/*
 * api_lifecycle.c - cancel, approvals, the approval policy, the event log
 * and the sandbox's book of payouts (docs/LIFECYCLE.md).
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"

/* A transition answers the session with its new ETag. */
static void render_session_200(void *ctx, enum err e, const char *field, const void *result,
			       struct svc_answer *out)
{
	struct api_call *c = ctx;
	if (e) {
		api_render_error(c, e, field, out);
		return;
	}
	api_session_etag(result, c->etag);
	api_answer_json(api_session_json(result), 200, out);
}
API_RENDERER(render_approval, api_approval_json, struct store_approval, 200)
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
	int64_t expect = api_if_match(c);
	struct svc_render r = {render_session_200, c};
	svc_session_cancel(c->api->svc, &c->auth, api_idem(c), c->id, expect == -2 ? 0 : expect,
			   &r, &c->answer);
}

static void decide(struct api_call *c, bool approve)
{
	if (!no_fields(c))
		return;
	struct svc_render r = {render_approval, c};
	svc_approval_decide(c->api->svc, &c->auth, api_idem(c), c->id, approve, &r, &c->answer);
}

API_HANDLER(api_h_approval_approve) { decide(c, true); }
API_HANDLER(api_h_approval_reject) { decide(c, false); }

API_HANDLER(api_h_approval_get)
{
	struct store_approval a;
	enum err e = svc_approval_get(c->api->svc, &c->auth, c->id, &a);
	if (e)
		api_fail(c, e, NULL);
	else
		api_answer_json(api_approval_json(&a), 200, &c->answer);
}

/* ---- list helpers ------------------------------------------------------ */

/* Opaque page tokens: base64url of "<tag>:<value>". */
static void token_make(const char *tag, const char *value, char out[96])
{
	char raw[64];
	int n = snprintf(raw, sizeof raw, "%s:%s", tag, value);
	crypto_base64url((const uint8_t *)raw, (size_t)n, out);
}

static bool token_read(const char *tok, const char *tag, char *value, size_t size)
{
	uint8_t raw[72];
	size_t n = strlen(tok);
	if (n > 90)
		return false;
	long len = crypto_base64url_decode(tok, n, raw);
	size_t tl = strlen(tag);
	if (len <= (long)tl + 1 || (size_t)len - tl - 1 >= size || memcmp(raw, tag, tl) != 0 ||
	    raw[tl] != ':')
		return false;
	memcpy(value, raw + tl + 1, (size_t)len - tl - 1);
	value[len - tl - 1] = '\0';
	return true;
}

/* 1 to 3 digits in 1..LIMIT_PAGE_SIZE_MAX. */
static int page_size(const char *v)
{
	size_t len = strlen(v);
	if (len < 1 || len > 3 || strspn(v, "0123456789") != len)
		return 0;
	int n = atoi(v);
	return n <= LIMIT_PAGE_SIZE_MAX ? n : 0;
}

/* Reject repeated and unknown query parameters. allowed: NULL-ended. */
static bool query_ok(struct api_call *c, const char *const *allowed)
{
	const struct api_request *q = c->req;
	if (q->query_overflow) {
		api_fail(c, ERR_INVALID_QUERY, NULL);
		return false;
	}
	for (int i = 0; i < q->nquery; i++) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			known = known || strcmp(*a, q->query[i].key) == 0;
		for (int j = 0; j < i && known; j++)
			known = strcmp(q->query[j].key, q->query[i].key) != 0;
		if (!known) {
			char field[80];
			snprintf(field, sizeof field, "?%s", q->query[i].key);
			api_fail(c, ERR_INVALID_QUERY, field);
			return false;
		}
	}
	return true;
}

static const char *query(const struct api_call *c, const char *key)
{
	for (int i = 0; i < c->req->nquery; i++)
		if (strcmp(c->req->query[i].key, key) == 0)
			return c->req->query[i].value;
	return NULL;
}

/* ---- approvals list ------------------------------------------------------ */

static void approval_each(void *arg, const struct store_approval *a)
{
	json_array_append_new(arg, api_approval_json(a));
}

API_HANDLER(api_h_approval_list)
{
	static const char *const allowed[] = {"status", "page_size", "page_token", NULL};
	if (!query_ok(c, allowed))
		return;
	const char *status = query(c, "status"), *ps = query(c, "page_size"),
		   *tok = query(c, "page_token");
	static const char *const statuses[] = {"pending", "approved", "rejected", "cancelled", NULL};
	bool status_ok = !status;
	for (const char *const *s = statuses; *s && !status_ok; s++)
		status_ok = strcmp(*s, status) == 0;
	int limit = ps ? page_size(ps) : LIMIT_PAGE_SIZE_DEFAULT;
	char before[UUID_STR_LEN + 1] = "";
	if (!status_ok || !limit) {
		api_fail(c, ERR_INVALID_QUERY, !status_ok ? "?status" : "?page_size");
		return;
	}
	if (tok && (!token_read(tok, "a1", before, sizeof before) || !uuid_valid(before))) {
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
	json_t *next = json_null();
	size_t n = json_array_size(items);
	if (more && n) {
		char t[96];
		token_make("a1", json_string_value(json_object_get(json_array_get(items, n - 1), "id")), t);
		next = json_string(t);
	}
	api_answer_json(json_pack("{s:o, s:o}", "items", items, "next_page_token", next), 200,
			&c->answer);
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
	if (!query_ok(c, allowed))
		return;
	const char *res = query(c, "resource"), *ps = query(c, "page_size"),
		   *tok = query(c, "page_token");
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
	int limit = ps ? page_size(ps) : LIMIT_PAGE_SIZE_DEFAULT;
	if (!limit) {
		api_fail(c, ERR_INVALID_QUERY, "?page_size");
		return;
	}
	int64_t after = 0;
	if (tok) {
		char v[24];
		if (!token_read(tok, "e1", v, sizeof v) || strspn(v, "0123456789") != strlen(v) ||
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
	json_t *next = json_null();
	size_t n = json_array_size(items);
	if (more && n) {
		char v[24], t[96];
		snprintf(v, sizeof v, "%lld",
			 (long long)json_integer_value(
				 json_object_get(json_array_get(items, n - 1), "sequence")));
		token_make("e1", v, t);
		next = json_string(t);
	}
	api_answer_json(json_pack("{s:o, s:o}", "items", items, "next_page_token", next), 200,
			&c->answer);
}

/* ---- sandbox payouts ---------------------------------------------------- */

static void payout_each(void *arg, const struct store_payout *p)
{
	json_array_append_new(arg, api_payout_json(p));
}

API_HANDLER(api_h_payout_list)
{
	static const char *const allowed[] = {"session_id", NULL};
	if (!query_ok(c, allowed))
		return;
	const char *sid = query(c, "session_id");
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
