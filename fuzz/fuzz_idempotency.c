/*
 * fuzz_idempotency.c - Idempotency-Key handling on every POST route of
 * both surfaces (input format: api_harness.h; byte 1's flags are ignored:
 * the full key, a JSON content type, a key always; the key line "~" sends
 * an empty key).
 *
 * The key's syntax: a request is refused as invalid_idempotency_key
 * exactly when the key is empty, longer than LIMIT_IDEMPOTENCY_KEY_BYTES,
 * holds a byte outside printable ASCII, or (a Lumx route) is not a UUID.
 * The request hash (api.c): the canonical text of a body and of the same
 * body with whitespace added are equal, or both absent (not JSON); a JSON
 * body without numbers written again with every object's members in
 * reverse order (and strings escaped to ASCII) replays the same bytes as
 * the body itself; and
 * through the API (api_harness.h) a replay is the same bytes, the
 * whitespace variant of a JSON body replays, any other body under the key
 * is idempotency_key_reused.
 */
#include "api_harness.h"

#include "api/json_exact.h"

static bool has_number(const json_t *v)
{
	if (json_is_number(v))
		return true;
	size_t i;
	const char *k;
	json_t *x;
	if (json_is_array(v))
		json_array_foreach(v, i, x) if (has_number(x)) return true;
	if (json_is_object(v))
		json_object_foreach((json_t *)v, k, x) if (has_number(x)) return true;
	return false;
}

/* The same value with each object's members in reverse order (new ref). */
static json_t *reversed(json_t *v)
{
	if (json_is_array(v)) {
		json_t *a = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) json_array_append_new(a, reversed(x));
		return a;
	}
	if (!json_is_object(v))
		return json_incref(v);
	size_t n = json_object_size(v), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof *keys);
	assert(keys);
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) keys[i++] = k;
	json_t *o = json_object();
	while (i-- > 0)
		json_object_set_new(o, keys[i], reversed(json_object_get(v, keys[i])));
	free(keys);
	return o;
}

static void check_reordered(struct h_req *q)
{
	enum err pe;
	json_t *v = json_in_parse(q->body, q->body_len, &pe);
	if (!v || has_number(v) || json_object_size(v) < 2) {
		json_decref(v);
		return;
	}
	json_t *r = reversed(v);
	char *text = json_dumps(r, JSON_COMPACT | JSON_ENSURE_ASCII);
	assert(text);
	struct api_response a, b;
	h_send(&q->r, &a); /* the original again: a replay */
	struct api_request w = q->r;
	w.body = text;
	w.body_len = strlen(text);
	h_send(&w, &b);
	if (!(a.cached && b.cached && h_same(&a, &b))) {
		fprintf(stderr, "reordered %s on %s: %d %.*s vs %d %.*s\n", text, q->path,
			a.status, (int)a.len, a.body, b.status, (int)b.len, b.body);
		abort();
	}
	api_response_clear(&a);
	api_response_clear(&b);
	free(text);
	json_decref(r);
	json_decref(v);
}

static bool key_ok(const char *k, bool lumx)
{
	size_t n = strlen(k);
	if (n == 0 || n > LIMIT_IDEMPOTENCY_KEY_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
			return false;
	return !lumx || uuid_valid(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h_req q;
	if (!h_st)
		h_init();
	if (size < 2)
		return 0;
	uint8_t *copy = malloc(size);
	assert(copy);
	memcpy(copy, data, size);
	copy[1] = H_IDEM;
	if (!h_build(copy, size, -1, true, &q)) {
		free(copy);
		return 0;
	}
	free(copy);
	if (strcmp(q.r.idempotency_key, "~") == 0)
		((char *)q.r.idempotency_key)[0] = '\0';

	/* Replays and variants under a key the request took (api_harness.h);
	 * then the key's syntax decided whether it was taken. */
	enum err e = harness_check(&q);
	bool ok = key_ok(q.r.idempotency_key, q.lumx);
	/* (An id with a "/" in it leaves the route: no key is read.) */
	bool routed = e != ERR_ROUTE_NOT_FOUND && e != ERR_METHOD_NOT_ALLOWED;
	if (routed && ok == (e == ERR_INVALID_IDEMPOTENCY_KEY)) {
		fprintf(stderr, "key \"%s\" on %s: %s\n", q.r.idempotency_key, q.path,
			e ? err_code(e) : "ok");
		abort();
	}

	if (routed && ok && (e == ERR_OK || err_kept(e)) && q.body_len > 0)
		check_reordered(&q);

	/* The hash's input: whitespace does not change the canonical text. */
	size_t n;
	char *sp = h_spaced(q.body, q.body_len, &n);
	char *c1 = json_exact_canonical(q.body, q.body_len);
	char *c2 = json_exact_canonical(sp, n);
	assert(!c1 == !c2 && (!c1 || strcmp(c1, c2) == 0));
	free(c1);
	free(c2);
	free(sp);

	h_req_free(&q);
	return 0;
}
