/*
 * api_dashboard.c - the operator dashboard's files (CONTRACT §15).
 *
 * The page is plain HTML, CSS and JavaScript under web/dashboard/, embedded
 * into the binary at build time (scripts/embed.sh → dashboard_assets.c), so
 * the dashboard needs no other server and no network. Its script talks to
 * the JSON API like any client, with the key the operator typed: nothing
 * here authenticates, because these files hold no data. GET /dashboard is
 * index.html; GET /dashboard/<name> is that file; nothing else (no
 * directories, no "..": a name is looked up in the table, never opened).
 *
 * Every answer, errors included, carries the strict Content-Security-Policy
 * and nosniff (the adapter adds them when res->dashboard is set). The
 * files revalidate on each load (no-cache with an ETag from their bytes,
 * 304 when it matches), so an upgraded binary never runs a stale script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/dashboard_assets.h"

#define DASH_PREFIX "/dashboard"

static const struct {
	const char *ext, *type;
} dash_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
};

/* The Content-Type for a file name; NULL for a kind we do not serve. */
static const char *dash_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof dash_types / sizeof *dash_types; i++)
		if (strcmp(dot, dash_types[i].ext) == 0)
			return dash_types[i].type;
	return NULL;
}

static const struct dash_asset *dash_find(const char *name)
{
	for (size_t i = 0; i < dash_nassets; i++)
		if (strcmp(dash_assets[i].name, name) == 0)
			return &dash_assets[i];
	return NULL;
}

/* If-None-Match holds our tag (alone, in a list, or "*"). */
static bool dash_not_modified(const char *inm, const char *etag)
{
	return inm && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

bool api_dashboard(const struct api_request *req, struct api_response *res)
{
	const char *p = req->path;
	size_t n = strlen(DASH_PREFIX);
	if (strncmp(p, DASH_PREFIX, n) != 0 || (p[n] != '\0' && p[n] != '/'))
		return false;
	const char *name = p[n] == '\0' || p[n + 1] == '\0' ? "index.html" : p + n + 1;
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	const struct dash_asset *a = strchr(name, '/') ? NULL : dash_find(name);
	const char *type = a ? dash_type(a->name) : NULL;
	if (!a || !type || !get) {
		api_error_response(a && type ? ERR_METHOD_NOT_ALLOWED : ERR_ROUTE_NOT_FOUND,
				   req->request_id, res);
		if (res->status == 405)
			snprintf(res->allow, sizeof res->allow, "GET, HEAD");
		res->dashboard = true;
		return true;
	}
	memset(res, 0, sizeof *res);
	res->dashboard = true;
	res->content_type = type;
	res->cache_control = "no-cache";
	snprintf(res->etag, sizeof res->etag, "%s", a->etag);
	if (dash_not_modified(req->if_none_match, a->etag)) {
		res->status = 304;
		res->body = malloc(1); /* the adapter wants a buffer; none is sent */
		res->len = 0;
		return true;
	}
	res->status = 200;
	res->body = malloc(a->len ? a->len : 1);
	if (!res->body) {
		api_error_response(ERR_INTERNAL, req->request_id, res);
		return true;
	}
	memcpy(res->body, a->data, a->len);
	res->len = a->len;
	return true;
}
