/*
 * api_internal.h - shared by the api's files: one call's context, the
 * answer helpers, the JSON shapes of resources.
 */
#ifndef OFFRAMP_API_INTERNAL_H
#define OFFRAMP_API_INTERNAL_H

#include <jansson.h>

#include "api/api.h"
#include "api/json_exact.h"
#include "api/json_in.h"

struct api_call {
	struct api *api;
	const struct api_request *req;
	struct auth auth;
	bool authenticated;
	struct svc_idem idem;
	bool has_idem;
	char id[UUID_STR_LEN + 1]; /* the {id} path segment, lower-cased */
	json_t *body;              /* parsed request body (POST), owned */
	struct svc_answer answer;  /* what goes back */
	char etag[40];
	const char *content_type;  /* static; NULL: application/json */
	unsigned alloc_failures;   /* json_in_alloc_failures() at the start */
	int retry_after_s;         /* > 0: the answer's Retry-After (a 429) */
};

/* The idempotency context of this call, or NULL when no key was sent. */
const struct svc_idem *api_idem(const struct api_call *c);

/* Render an error envelope into out. field: JSON pointer or NULL. */
void api_render_error(const struct api_call *c, enum err e, const char *field,
		      struct svc_answer *out);

/*
 * A surface's names for what the service blames (enum svc_field): the
 * JSON pointer of the field in the request body an endpoint takes, or
 * NULL to name none. Each body shape whose names differ has its own map.
 */
typedef const char *(*api_field_map)(enum svc_field f);
/* The sessions API (api.c): one name for each field across its bodies;
 * NULL only for what no body of it carries (a locked exchange rate, a
 * partner fee: Lumx's). */
const char *api_field_pointer(enum svc_field f);
/* POST /withdrawal-destinations (api_destinations.c): the destination is
 * the body's "destination"; the rest as api_field_pointer. */
const char *api_destination_field_pointer(enum svc_field f);
/* Lumx's POST /transactions/off-ramp (api_lumx.c): the account, the
 * destination and the currency paid out are all bankAccountId's. */
const char *api_lumx_tx_field_pointer(enum svc_field f);
/* Lumx's POST /exchange-rates (api_lumx.c). */
const char *api_lumx_rate_field_pointer(enum svc_field f);
/* A refusal's details as this service's JSON object (new reference):
 * {"limit", "max", "used", "remaining"} (amounts as exact decimal
 * strings) or {"verification"}; {} for none. Both surfaces write them so. */
json_t *api_details_json(const struct svc_details *d);
/* Render a refused outcome (o->err set) as the error envelope, naming
 * o->field through map and adding o->details. */
void api_render_outcome(const struct api_call *c, const struct svc_outcome *o,
			api_field_map map, struct svc_answer *out);
/* Dump obj (stolen) as the answer with status. */
void api_answer_json(json_t *obj, int status, struct svc_answer *out);
/* text (malloc'd, stolen; NULL leaves no answer) as the answer with status. */
void api_answer_text(char *text, int status, struct svc_answer *out);
/* Answer with an error now (no idempotency involvement). */
void api_fail(struct api_call *c, enum err e, const char *field);
/* Answer a decoding error of a POST: kept under the key (CONTRACT §7). */
void api_reject(struct api_call *c, enum err e, const char *field);

/*
 * Define a render callback (see svc_render_fn) named `name` that answers
 * an error envelope naming fields through `map`, or
 * `shape((const type *)result)` with `status`; ctx is the struct api_call.
 * API_RENDERER names them as the sessions API does.
 */
#define API_RENDERER_MAP(name, map, shape, type, status)                                 \
	static void name(void *ctx, const struct svc_outcome *o, const void *result,       \
			 struct svc_answer *out)                                           \
	{                                                                                  \
		if (o->err)                                                                \
			api_render_outcome(ctx, o, map, out);                              \
		else                                                                       \
			api_answer_json(shape((const type *)result), status, out);         \
	}
#define API_RENDERER(name, shape, type, status) \
	API_RENDERER_MAP(name, api_field_pointer, shape, type, status)

/* The same for a transition's answer: the resource with its new ETag
 * (etag_fn(result, c->etag)); ctx is the struct api_call. */
#define API_RENDERER_ETAG(name, shape, etag_fn, type, status)                            \
	static void name(void *ctx, const struct svc_outcome *o, const void *result,       \
			 struct svc_answer *out)                                           \
	{                                                                                  \
		struct api_call *c_ = ctx;                                                 \
		if (o->err) {                                                              \
			api_render_outcome(c_, o, api_field_pointer, out);                 \
			return;                                                            \
		}                                                                          \
		etag_fn((const type *)result, c_->etag);                                   \
		api_answer_json(shape((const type *)result), status, out);                 \
	}

/* {"currency": "USDC", "value": "250.00"} */
json_t *api_money_json(enum currency cur, int64_t minor);
json_t *api_money_json_code(const char *code, int64_t minor);
/* RFC 3339 string, or JSON null for 0 when nullable. */
json_t *api_time_json(int64_t unix_s, bool nullable);
/* "<collection>/<id>" */
json_t *api_ref_json(const char *collection, const char *id);

json_t *api_session_json(const struct store_session *s);
json_t *api_client_json(const struct store_client *c);
json_t *api_account_json(const struct svc_account_view *v);
json_t *api_destination_json(const struct store_destination *d);
/* Mask, in place, every bank account identifier in v (an IBAN, an account
 * number, a CLABE: on both surfaces' spellings) to its first and last 4
 * characters: only the answer that saved a destination shows it whole
 * (CONTRACT §12; docs/API.md "Bank identifiers in answers"). */
void api_mask_bank_numbers(json_t *v);
json_t *api_deposit_json(const struct store_transfer *t);
json_t *api_approval_json(const struct store_approval *a);
json_t *api_policy_json(const struct store_policy *p);
json_t *api_event_json(const struct store_event *e);
json_t *api_payout_json(const struct store_payout *p);
/* The If-Match header as a session version: -1 when absent, -2 when it
 * names no version this service issues (never matches). */
/* The request's If-Match as a precondition on a resource version. */
void api_if_match(const struct api_call *c, struct svc_match *m);
void api_approval_etag(const struct store_approval *a, char out[40]);
void api_session_etag(const struct store_session *s, char out[40]);
/* The session as GET shows it, as text (malloc'd; NULL when out of
 * memory): the same bytes as json_dumps(api_session_json(s), JSON_COMPACT
 * | JSON_SORT_KEYS), written without building the tree. *len (if not
 * NULL) gets its length. */
char *api_session_render(const struct store_session *s, size_t *len);
/* The same text, reusing this thread's last api_session_snapshot of the
 * very same session. */
char *api_session_text(const struct store_session *s);


/* Handlers, one per route (see the route table in api.c). */
#define API_HANDLER(name) void name(struct api_call *c)
API_HANDLER(api_h_client_create);
API_HANDLER(api_h_client_get);
API_HANDLER(api_h_account_create);
API_HANDLER(api_h_account_get);
API_HANDLER(api_h_deposit_create);
API_HANDLER(api_h_destination_create);
API_HANDLER(api_h_destination_get);
API_HANDLER(api_h_session_create);
API_HANDLER(api_h_session_get);
API_HANDLER(api_h_session_ledger);
API_HANDLER(api_h_session_list);
API_HANDLER(api_h_session_cancel);
API_HANDLER(api_h_approval_list);
API_HANDLER(api_h_approval_get);
API_HANDLER(api_h_approval_approve);
API_HANDLER(api_h_approval_reject);
API_HANDLER(api_h_policy_put);
API_HANDLER(api_h_policy_get);
API_HANDLER(api_h_event_list);
API_HANDLER(api_h_payout_list);
API_HANDLER(api_h_lumx_customer_create);
API_HANDLER(api_h_lumx_customer_get);
API_HANDLER(api_h_lumx_destination_create);
API_HANDLER(api_h_lumx_destination_get);
API_HANDLER(api_h_lumx_destination_list);
API_HANDLER(api_h_lumx_offramp_create);
API_HANDLER(api_h_lumx_transaction_get);
API_HANDLER(api_h_lumx_transaction_list);
API_HANDLER(api_h_lumx_customer_limits);
API_HANDLER(api_h_hook_create);
API_HANDLER(api_h_hook_list);
API_HANDLER(api_h_hook_get);
API_HANDLER(api_h_hook_update);
API_HANDLER(api_h_hook_delete);
API_HANDLER(api_h_hook_rotate);
API_HANDLER(api_h_hook_attempts);
API_HANDLER(api_h_hook_resend);
void api_h_metrics(struct api_call *c); /* api_metrics.c */
/* The route table's labels for the metrics (slot i + 1 is routes[i]). */
struct metrics_route;
const struct metrics_route *api_metric_routes(int *n);
API_HANDLER(api_h_openapi); /* api_openapi.c */
/* The Lumx view of a session (ext: its Lumx document or NULL). state: the
 * Lumx state to show (a failure's webhooks show FAILED, REFUNDING and
 * REFUNDED in turn), or NULL for the session's own. */
json_t *api_lumx_transaction_json(const struct store_session *s, json_t *ext, const char *state);
API_HANDLER(api_h_lumx_exchange_rate_create);
API_HANDLER(api_h_lumx_partner_fee_create);



/* ---- lists (query.c) ---- */
/* Refuse unknown and repeated query parameters (allowed: NULL-ended). */
bool api_query_ok(struct api_call *c, const char *const *allowed);
/* A query parameter's value, or NULL. */
const char *api_query(const struct api_call *c, const char *key);
/* "1".."100" as a page size, 0 for anything else. */
int api_page_size(const char *v);
/* Opaque page tokens: base64url of "<tag>:<value>" (cut to 63 bytes). */
void api_token_make(const char *tag, const char *value, char out[96]);
bool api_token_read(const char *tok, const char *tag, char *value, size_t size);
/* Answer {"items", "next_page_token"}; the token carries cursor_key of
 * the last item. Steals items. */
void api_answer_page(struct api_call *c, json_t *items, bool more, const char *tag,
		     const char *cursor_key);

/* Decode a typed destination object o into out (fields only; call
 * api_validate_destination next). */
void api_decode_destination(struct jd *d, struct jd_obj *o, struct destination *out);
/* Validate and normalise; on error records it at o's path + field. */
void api_validate_destination(struct jd *d, const struct jd_obj *o, struct destination *dst);
/* Canonical JSON of a normalised destination (malloc'd). */
char *api_destination_canonical(const struct destination *dst);

/* The route table's test-build tail (api.c API_ROUTES): the fault switch
 * of api_faults.c. Kept out of api.c's table text, which tests read as
 * the production route list; the production binary has no such route. */
#ifdef OFFRAMP_FAULTS
#define API_FAULT_ROUTES(X) X("POST", "/_test/faults", api_h_faults, CAP_POLICIES_MANAGE, true, false)
API_HANDLER(api_h_faults);
#else
#define API_FAULT_ROUTES(X)
#endif

#endif
