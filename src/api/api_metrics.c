/*
 * api_metrics.c - GET /metrics: the Prometheus text of every series
 * (docs/OPERATIONS.md). The gauges that come from the database (sessions
 * by status, what the holds hold) are the service's (svc_gauges_read,
 * cached there); the counters and histograms are base/metrics'. This file
 * only prints: one status and one currency per line, each from the
 * domain's own table, amounts as integers of minor units.
 *
 * No key: the numbers name no tenant, account or amount of anyone's in
 * particular. An operator who wants them off the public address moves
 * them with --metrics-listen.
 */
#include "api/api_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/metrics.h"
#include "domain/money.h"
#include "domain/session.h"

static void put_head(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* The database's gauges; none of them when it could not be read (a
 * number would be a guess), offramp_store_up says which. */
static void put_gauges(FILE *f, struct service *svc)
{
	struct svc_gauges g;
	bool ok = svc_gauges_read(svc, &g) == ERR_OK;
	put_head(f, "offramp_store_up",
		 "1 when the database answered the read behind offramp_sessions and "
		 "offramp_held_minor, else 0 (and those are absent).");
	fprintf(f, "offramp_store_up %d\n", ok ? 1 : 0);
	/* /readyz's two checks, the database's taken from the read above
	 * rather than a second query: what an alert on "not ready" needs
	 * without scraping /readyz as well. */
	bool workers = svc->workers_running && svc->workers_running(svc->workers_arg);
	put_head(f, "offramp_ready",
		 "1 when this node can serve (the database answered and the workers run), else 0.");
	fprintf(f, "offramp_ready %d\n", ok && workers ? 1 : 0);
	if (!ok)
		return;
	put_head(f, "offramp_sessions", "Off-ramp sessions by status, every tenant.");
	for (int s = 0; s < SESSION__COUNT; s++)
		fprintf(f, "offramp_sessions{status=\"%s\"} %" PRId64 "\n",
			session_status_name((enum session_status)s), g.sessions[s]);
	put_head(f, "offramp_held_minor",
		 "Funds held for sessions not yet settled or released, in minor units of the currency.");
	for (int c = 1; c < CUR__COUNT; c++) {
		/* Holds are of the assets clients pay with; another currency
		 * shows only if one ever holds something. */
		if (!money_is_stablecoin((enum currency)c) && g.held_minor[c] == 0)
			continue;
		fprintf(f, "offramp_held_minor{currency=\"%s\"} %" PRId64 "\n",
			money_currency_code((enum currency)c), g.held_minor[c]);
	}
}

char *api_metrics_text(struct api *api, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return NULL;
	put_gauges(f, api->svc);
	int nroutes;
	const struct metrics_route *routes = api_metric_routes(&nroutes);
	bool ok = metrics_render(f, routes, nroutes);
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

void api_h_metrics(struct api_call *c)
{
	size_t len = 0;
	char *text = api_metrics_text(c->api, &len);
	svc_answer_clear(&c->answer);
	if (!text)
		return; /* answered 500 by api_handle */
	c->answer.body = text;
	c->answer.len = len;
	c->answer.status = 200;
	c->content_type = API_METRICS_CONTENT_TYPE;
}
