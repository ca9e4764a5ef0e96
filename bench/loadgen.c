/*
 * loadgen.c - an open-loop HTTP load generator on libcurl's multi interface.
 *
 * Open loop: request i is due at start + i / rate, whether or not earlier
 * ones have been answered, and its latency is measured from that scheduled
 * time, not from when it was actually written to a socket. A server that
 * stalls therefore pays for every request that was due during the stall
 * (no coordinated omission, which closed-loop tools like wrk suffer: they
 * stop sending while the server is stuck and report only the few slow
 * requests they happened to have in flight). If the generator itself falls
 * behind its schedule, that too is counted against the server; its own
 * CPU time is printed (client_cpu_s) so a saturated client shows.
 *
 * HTTP is libcurl's: persistent connections from the multi handle's pool,
 * at most --connections of them, one transfer each. A request due while
 * every connection is busy waits here, in order, and is sent on the first
 * free one, still timed from its schedule (this queue costs nothing: it is
 * the range of indexes due but not sent; libcurl's own queue would be
 * walked on every call). Requests neither answered nor sent when the drain
 * time ends are counted as unfinished errors.
 *
 * Requests rotate round-robin over the lines of --paths (or one --path)
 * and, for POST, over the lines of --bodies; --idempotency PREFIX adds a
 * fresh Idempotency-Key to each. Easy handles and their header lists are
 * pooled and rewritten in place, so a request allocates nothing of ours.
 *
 * Output: one line of key=value pairs on stdout (the bench parses it);
 * --cdf FILE writes the latency distribution (percentile, ms, 1/(1-p)) for
 * gnuplot. Latencies are kept exactly (one uint32 of microseconds each) and
 * sorted at the end.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>

#include <curl/curl.h>

#define LG_MAX_HEADERS 16
#define LG_MAX_LINES 100000
#define LG_LINE_MAX 65536
#define LG_SNIP 240
#define LG_IDEM_MAX 96
#define LG_MAX_CONNECTIONS 900 /* below FD_SETSIZE, with room for the rest */

struct lg_req {
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *idem;      /* the node rewritten per request, or NULL */
	size_t idem_cap;              /* bytes its data can hold */
	int64_t due_ns;               /* scheduled send time */
	char snip[LG_SNIP + 1];       /* start of the answer, for error reports */
	size_t snip_len;
	struct lg_req *next_free;
};

struct lg_lines {
	char **v;
	size_t *len;
	size_t n;
};

struct lg_opts {
	const char *url, *path, *paths_file, *bodies_file, *method, *idem_prefix, *cdf_file, *label;
	const char *headers[LG_MAX_HEADERS];
	int n_headers;
	double rate, duration_s, drain_s;
	int connections, expect;
};

struct lg_state {
	struct lg_opts o;
	struct lg_lines paths, bodies;
	CURLM *multi;
	struct lg_req *free_list;
	int in_flight;
	uint64_t sent, ok, err_status, err_transport, unfinished;
	uint32_t *lat_us;
	size_t n_lat, cap_lat;
	int64_t send_lag_max_ns;
	int64_t last_done_ns;
	int first_bad_status;
	char first_bad[LG_SNIP + 1];
	char first_transport[CURL_ERROR_SIZE];
};

static int64_t lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* This process's user + system CPU time so far, in seconds. */
static double lg_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void lg_die(const char *what)
{
	fprintf(stderr, "loadgen: %s\n", what);
	exit(2);
}

/* Every non-empty line of path, kept in memory for the whole run. */
static void lg_read_lines(const char *path, struct lg_lines *out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	out->v = calloc(LG_MAX_LINES, sizeof *out->v);
	out->len = calloc(LG_MAX_LINES, sizeof *out->len);
	char *buf = malloc(LG_LINE_MAX);
	if (!out->v || !out->len || !buf)
		lg_die("out of memory");
	while (out->n < LG_MAX_LINES && fgets(buf, LG_LINE_MAX, f)) {
		size_t n = strcspn(buf, "\r\n");
		if (n == 0)
			continue;
		buf[n] = '\0';
		if (!(out->v[out->n] = strdup(buf)))
			lg_die("out of memory");
		out->len[out->n++] = n;
	}
	free(buf);
	fclose(f);
	if (out->n == 0) {
		fprintf(stderr, "loadgen: %s: no lines\n", path);
		exit(2);
	}
}

static size_t lg_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct lg_req *r = arg;
	size_t n = size * nmemb, room = LG_SNIP - r->snip_len;
	size_t take = n < room ? n : room;
	memcpy(r->snip + r->snip_len, data, take);
	r->snip_len += take;
	r->snip[r->snip_len] = '\0';
	return n;
}

static struct lg_req *lg_req_new(struct lg_state *s)
{
	struct lg_req *r = calloc(1, sizeof *r);
	if (!r || !(r->easy = curl_easy_init()))
		lg_die("out of memory");
	/* libcurl adds "Expect: 100-continue" to larger bodies: a round trip
	 * no client of ours makes. */
	r->headers = curl_slist_append(NULL, "Expect:");
	for (int i = 0; r->headers && i < s->o.n_headers; i++)
		r->headers = curl_slist_append(r->headers, s->o.headers[i]);
	if (r->headers && s->o.idem_prefix) {
		char tmpl[LG_IDEM_MAX];
		int n = snprintf(tmpl, sizeof tmpl, "Idempotency-Key: %s-%020llu", s->o.idem_prefix,
				 0ULL);
		if (n < 0 || (size_t)n >= sizeof tmpl)
			lg_die("idempotency prefix too long");
		r->headers = curl_slist_append(r->headers, tmpl);
		if (r->headers) {
			for (r->idem = r->headers; r->idem->next; r->idem = r->idem->next)
				;
			r->idem_cap = (size_t)n + 1;
		}
	}
	if (!r->headers)
		lg_die("out of memory");
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, lg_on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
			 (long)((s->o.duration_s + s->o.drain_s) * 1000.0) + 1000);
	return r;
}

static void lg_req_free(struct lg_req *r)
{
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r);
}

/* Start request number i, due at due_ns. */
static void lg_launch(struct lg_state *s, uint64_t i, int64_t due_ns, char *url, size_t url_base)
{
	struct lg_req *r = s->free_list;
	if (r)
		s->free_list = r->next_free;
	else
		r = lg_req_new(s);
	r->due_ns = due_ns;
	r->snip_len = 0;
	r->snip[0] = '\0';
	const char *path = s->o.path;
	if (s->paths.n)
		path = s->paths.v[i % s->paths.n];
	snprintf(url + url_base, LG_LINE_MAX, "%s", path);
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	if (r->idem)
		snprintf(r->idem->data, r->idem_cap, "Idempotency-Key: %s-%020llu", s->o.idem_prefix,
			 (unsigned long long)i);
	if (strcmp(s->o.method, "POST") == 0) {
		size_t b = s->bodies.n ? i % s->bodies.n : 0;
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, s->bodies.n ? s->bodies.v[b] : "");
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE,
				 (long)(s->bodies.n ? s->bodies.len[b] : 0));
	} else {
		curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
	}
	if (curl_multi_add_handle(s->multi, r->easy) != CURLM_OK)
		lg_die("curl_multi_add_handle failed");
	s->in_flight++;
	s->sent++;
}

static void lg_record(struct lg_state *s, uint32_t us)
{
	if (s->n_lat == s->cap_lat) {
		s->cap_lat = s->cap_lat ? s->cap_lat * 2 : 65536;
		s->lat_us = realloc(s->lat_us, s->cap_lat * sizeof *s->lat_us);
		if (!s->lat_us)
			lg_die("out of memory");
	}
	s->lat_us[s->n_lat++] = us;
}

static void lg_reap(struct lg_state *s)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct lg_req *r;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		int64_t now = lg_now_ns();
		s->last_done_ns = now;
		long status = 0;
		if (m->data.result != CURLE_OK) {
			s->err_transport++;
			if (!s->first_transport[0])
				snprintf(s->first_transport, sizeof s->first_transport, "%s",
					 curl_easy_strerror(m->data.result));
		} else {
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			bool good = s->o.expect ? status == s->o.expect : status >= 200 && status < 300;
			if (good) {
				s->ok++;
				int64_t us = (now - r->due_ns) / 1000;
				lg_record(s, us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us);
			} else {
				s->err_status++;
				if (!s->first_bad_status) {
					s->first_bad_status = (int)status;
					snprintf(s->first_bad, sizeof s->first_bad, "%s", r->snip);
				}
			}
		}
		curl_multi_remove_handle(s->multi, m->easy_handle);
		s->in_flight--;
		r->next_free = s->free_list;
		s->free_list = r;
	}
}

static int lg_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The latency at percentile p (0..100) of the sorted samples, in ms. */
static double lg_pct(const struct lg_state *s, double p)
{
	if (!s->n_lat)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)s->n_lat);
	if (i >= s->n_lat)
		i = s->n_lat - 1;
	return s->lat_us[i] / 1000.0;
}

static void lg_write_cdf(const struct lg_state *s, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "# percentile latency_ms 1/(1-p)  (%zu samples)\n", s->n_lat);
	/* Points dense in the tail: p = 1 - 10^(-k/20) for k = 0.. up to the
	 * resolution the sample count gives. */
	for (int k = 0; k <= 120; k++) {
		double q = 1.0 - pow(10.0, -k / 20.0);
		if (k && (1.0 - q) * (double)s->n_lat < 1.0)
			break;
		fprintf(f, "%.5f %.3f %.2f\n", q * 100, lg_pct(s, q * 100), 1.0 / (1.0 - q));
	}
	fprintf(f, "%.5f %.3f %.2f\n", 100.0, s->n_lat ? s->lat_us[s->n_lat - 1] / 1000.0 : 0,
		(double)s->n_lat);
	fclose(f);
}

static void lg_usage(void)
{
	fputs("usage: loadgen --url BASE --rate PER_S --duration S [--connections N]\n"
	      "               [--method GET|POST] [--path P | --paths FILE] [--bodies FILE]\n"
	      "               [--header 'K: V']... [--idempotency PREFIX] [--expect STATUS]\n"
	      "               [--drain S] [--cdf FILE] [--label NAME]\n",
	      stderr);
	exit(2);
}

static void lg_parse(int argc, char **argv, struct lg_opts *o)
{
	*o = (struct lg_opts){.method = "GET", .path = "/", .connections = 64,
			      .drain_s = 10, .label = "load"};
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		if (i + 1 >= argc)
			lg_usage();
		const char *v = argv[++i];
		if (!strcmp(k, "--url"))
			o->url = v;
		else if (!strcmp(k, "--rate"))
			o->rate = atof(v);
		else if (!strcmp(k, "--duration"))
			o->duration_s = atof(v);
		else if (!strcmp(k, "--drain"))
			o->drain_s = atof(v);
		else if (!strcmp(k, "--connections"))
			o->connections = atoi(v);
		else if (!strcmp(k, "--method"))
			o->method = v;
		else if (!strcmp(k, "--path"))
			o->path = v;
		else if (!strcmp(k, "--paths"))
			o->paths_file = v;
		else if (!strcmp(k, "--bodies"))
			o->bodies_file = v;
		else if (!strcmp(k, "--idempotency"))
			o->idem_prefix = v;
		else if (!strcmp(k, "--expect"))
			o->expect = atoi(v);
		else if (!strcmp(k, "--cdf"))
			o->cdf_file = v;
		else if (!strcmp(k, "--label"))
			o->label = v;
		else if (!strcmp(k, "--header") && o->n_headers < LG_MAX_HEADERS)
			o->headers[o->n_headers++] = v;
		else
			lg_usage();
	}
	if (!o->url || o->rate <= 0 || o->duration_s <= 0 || o->connections < 1 ||
	    o->connections > LG_MAX_CONNECTIONS ||
	    (strcmp(o->method, "GET") && strcmp(o->method, "POST")))
		lg_usage();
}

int main(int argc, char **argv)
{
	static struct lg_state s;
	lg_parse(argc, argv, &s.o);
	if (s.o.paths_file)
		lg_read_lines(s.o.paths_file, &s.paths);
	if (s.o.bodies_file)
		lg_read_lines(s.o.bodies_file, &s.bodies);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(s.multi = curl_multi_init()))
		lg_die("curl init failed");
	curl_multi_setopt(s.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)s.o.connections);
	curl_multi_setopt(s.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s.o.connections);
	curl_multi_setopt(s.multi, CURLMOPT_MAXCONNECTS, (long)s.o.connections);

	char *url = malloc(strlen(s.o.url) + LG_LINE_MAX + 1);
	if (!url)
		lg_die("out of memory");
	size_t url_base = (size_t)sprintf(url, "%s", s.o.url);

	uint64_t total = (uint64_t)(s.o.rate * s.o.duration_s + 0.5);
	double period_ns = 1e9 / s.o.rate;
	int64_t start = lg_now_ns() + 1000000;
	int64_t end = start + (int64_t)(s.o.duration_s * 1e9);
	int64_t deadline = end + (int64_t)(s.o.drain_s * 1e9);
	uint64_t i = 0;
	for (;;) {
		int64_t now = lg_now_ns();
		while (i < total && s.in_flight < s.o.connections) {
			int64_t due = start + (int64_t)((double)i * period_ns);
			if (due > now)
				break;
			if (now - due > s.send_lag_max_ns)
				s.send_lag_max_ns = now - due;
			lg_launch(&s, i, due, url, url_base);
			i++;
		}
		int running;
		curl_multi_perform(s.multi, &running);
		lg_reap(&s);
		now = lg_now_ns();
		if (i >= total && s.in_flight == 0)
			break;
		if (now >= deadline) {
			s.unfinished = (uint64_t)s.in_flight + (total - i);
			break;
		}
		/* Sleep until the next send, a socket's readiness or libcurl's
		 * own timer, whichever is first: pselect keeps the next send's
		 * time to the microsecond where curl_multi_poll has only ms. */
		int64_t wait_ns = 100000000;
		if (i < total && s.in_flight < s.o.connections) {
			int64_t due = start + (int64_t)((double)i * period_ns);
			wait_ns = due - now < wait_ns ? due - now : wait_ns;
		}
		long curl_ms = -1;
		curl_multi_timeout(s.multi, &curl_ms);
		if (curl_ms >= 0 && curl_ms * 1000000 < wait_ns)
			wait_ns = curl_ms * 1000000;
		if (wait_ns <= 0)
			continue;
		fd_set rd, wr, ex;
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_ZERO(&ex);
		int maxfd = -1;
		curl_multi_fdset(s.multi, &rd, &wr, &ex, &maxfd);
		struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
		if (maxfd < 0)
			nanosleep(&ts, NULL);
		else if (maxfd >= FD_SETSIZE)
			lg_die("too many descriptors");
		else
			pselect(maxfd + 1, &rd, &wr, &ex, &ts, NULL);
	}

	int64_t first = start;
	int64_t last = s.last_done_ns > end ? s.last_done_ns : end;
	double secs = (double)(last - first) / 1e9;
	if (s.n_lat)
		qsort(s.lat_us, s.n_lat, sizeof *s.lat_us, lg_cmp_u32);
	double sum = 0;
	for (size_t k = 0; k < s.n_lat; k++)
		sum += s.lat_us[k];
	uint64_t errors = s.err_status + s.err_transport + s.unfinished;
	printf("label=%s offered=%.1f sent=%llu ok=%llu errors=%llu err_status=%llu "
	       "err_transport=%llu unfinished=%llu seconds=%.3f throughput=%.1f "
	       "mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
	       "send_lag_max_ms=%.3f client_cpu_s=%.2f\n",
	       s.o.label, s.o.rate, (unsigned long long)s.sent, (unsigned long long)s.ok,
	       (unsigned long long)errors, (unsigned long long)s.err_status,
	       (unsigned long long)s.err_transport,
	       (unsigned long long)s.unfinished, secs, secs > 0 ? (double)s.ok / secs : 0,
	       s.n_lat ? sum / (double)s.n_lat / 1000.0 : 0, lg_pct(&s, 50), lg_pct(&s, 90),
	       lg_pct(&s, 99), lg_pct(&s, 99.9), s.n_lat ? s.lat_us[s.n_lat - 1] / 1000.0 : 0,
	       (double)s.send_lag_max_ns / 1e6, lg_cpu_s());
	if (s.first_bad_status)
		fprintf(stderr, "loadgen %s: first unexpected status %d: %s\n", s.o.label,
			s.first_bad_status, s.first_bad);
	if (s.first_transport[0])
		fprintf(stderr, "loadgen %s: first transport error: %s\n", s.o.label,
			s.first_transport);
	if (s.o.cdf_file)
		lg_write_cdf(&s, s.o.cdf_file);

	while (s.free_list) {
		struct lg_req *r = s.free_list;
		s.free_list = r->next_free;
		lg_req_free(r);
	}
	curl_multi_cleanup(s.multi); /* unfinished transfers are abandoned with the process */
	curl_global_cleanup();
	free(url);
	free(s.lat_us);
	return 0;
}
