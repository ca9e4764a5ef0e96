/*
 * dashboard_assets.h - the dashboard's files (web/dashboard/), embedded at
 * build time: scripts/embed.sh writes build/gen/dashboard_assets.c with one
 * entry per file. Static data, read-only, shared by every thread.
 */
#ifndef OFFRAMP_API_DASHBOARD_ASSETS_H
#define OFFRAMP_API_DASHBOARD_ASSETS_H

#include <stddef.h>

struct dash_asset {
	const char *name;          /* file name under web/dashboard/, "app.js" */
	const unsigned char *data; /* its bytes */
	size_t len;
	const char *etag;          /* "\"<sha256 prefix>\"": changes with the bytes */
};

extern const struct dash_asset dash_assets[];
extern const size_t dash_nassets;

#endif
