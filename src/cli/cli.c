/*
 * cli.c - `offramp sessions|accounts|approvals|webhooks ...`: an operator's
 * view of a running server.
 *
 * Each command is one request (libcurl) to --url (OFFRAMP_URL, default the
 * service's own default listener) with the key of OFFRAMP_API_KEY; the
 * answer is parsed with jansson and printed as a table for people, or, with
 * --json, as the server's JSON for scripts (one document on stdout). An
 * error answer prints its code and message on stderr and exits 1, so a
 * script can tell "refused" (1) from "bad usage" (2).
 *
 * The commands are one table (cli_cmds): group, verb, method, path and the
 * columns of its table, so adding a command is a row, and `--help` is
 * generated from the same rows.
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/limits.h"

#define CLI_DEFAULT_URL "http://127.0.0.1:8080"
#define CLI_URL_MAX 2048
#define CLI_CELL_MAX 96

/* One column: a header and a JSON pointer-ish path ("a/b") into a row. */
struct cli_col {
	const char *head;
	const char *path;
};

enum cli_shape { CLI_LIST, CLI_ONE };

struct cli_cmd {
	const char *group, *verb, *args, *help;
	const char *method;
	const char *path; /* "%s" takes the id */
	enum cli_shape shape;
	const char *items; /* list: the array's key */
	struct cli_col cols[8];
};

#define SESSION_COLS                                                                  \
	{{"ID", "id"}, {"STATUS", "status"}, {"STAGE", "stage"}, {"AMOUNT", "principal_amount"}, \
	 {"TARGET", "target_currency"}, {"DELIVERED", "delivered_amount"}, {"CREATED", "created_at"}}
#define APPROVAL_COLS                                                                 \
	{{"ID", "id"}, {"STATUS", "status"}, {"SESSION", "session_ref"}, {"AMOUNT", "amount"}, \
	 {"CREATED", "created_at"}}

static const struct cli_cmd cli_cmds[] = {
	{"sessions", "list", "[--status S] [--account REF] [--page-size N] [--page-token T]",
	 "list off-ramp sessions, newest first", "GET", "/off-ramp-sessions", CLI_LIST, "items",
	 SESSION_COLS},
	{"sessions", "get", "ID", "show one session", "GET", "/off-ramp-sessions/%s", CLI_ONE, NULL,
	 SESSION_COLS},
	{"accounts", "get", "ID", "show a client account and its balances", "GET",
	 "/client-accounts/%s", CLI_ONE, NULL,
	 {{"ID", "id"}, {"CLIENT", "client_ref"}, {"CREATED", "created_at"}}},
	{"approvals", "list", "[--page-size N] [--page-token T]", "list approvals", "GET",
	 "/approvals", CLI_LIST, "items", APPROVAL_COLS},
	{"approvals", "approve", "ID", "approve a pending session (not as its initiator)", "POST",
	 "/approvals/%s/approve", CLI_ONE, NULL, APPROVAL_COLS},
	{"approvals", "reject", "ID", "reject a pending session", "POST", "/approvals/%s/reject",
	 CLI_ONE, NULL, APPROVAL_COLS},
	{"webhooks", "list", "[--page-size N] [--page-token T]", "list webhook endpoints", "GET",
	 "/webhook-endpoints", CLI_LIST, "items",
	 {{"ID", "id"}, {"URL", "url"}, {"ENABLED", "enabled"}, {"EVENTS", "event_types"},
	  {"DISABLED", "disabled_reason"}, {"CREATED", "created_at"}}},
	{"webhooks", "attempts", "ID [--page-size N] [--page-token T]",
	 "list an endpoint's delivery attempts", "GET", "/webhook-endpoints/%s/attempts", CLI_LIST,
	 "items",
	 {{"ID", "id"}, {"EVENT", "event_id"}, {"ATTEMPT", "attempt"}, {"STATUS", "status_code"},
	  {"ERROR", "error"}, {"MS", "duration_ms"}, {"CREATED", "created_at"}}},
};
#define CLI_NCMDS (sizeof cli_cmds / sizeof *cli_cmds)

bool cli_is_command(const char *cmd)
{
	for (size_t i = 0; i < CLI_NCMDS; i++)
		if (strcmp(cli_cmds[i].group, cmd) == 0)
			return true;
	return false;
}

static void cli_usage(FILE *f, const char *group)
{
	fputs("usage (talks to a running server; key in OFFRAMP_API_KEY):\n", f);
	for (size_t i = 0; i < CLI_NCMDS; i++)
		if (!group || strcmp(group, cli_cmds[i].group) == 0)
			fprintf(f, "  offramp %s %s %s\n      %s\n", cli_cmds[i].group, cli_cmds[i].verb,
				cli_cmds[i].args, cli_cmds[i].help);
	fputs("options:\n"
	      "  --url URL   the server (OFFRAMP_URL; default " CLI_DEFAULT_URL ")\n"
	      "  --json      print the server's JSON answer instead of a table\n"
	      "  --help      this text\n"
	      "exit status: 0 done, 1 refused by the server or unreachable, 2 bad usage\n",
	      f);
}

/* ---- HTTP -------------------------------------------------------------- */

struct cli_buf {
	char *data;
	size_t len;
	bool too_big;
};

static size_t cli_write(char *p, size_t size, size_t n, void *arg)
{
	struct cli_buf *b = arg;
	size_t add = size * n;
	if (b->len + add > LIMIT_CLI_RESPONSE_BYTES) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	char *d = realloc(b->data, b->len + add + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, add);
	b->data = d;
	b->len += add;
	d[b->len] = '\0';
	return add;
}

/* One request; the body (caller frees) in *out. Returns the HTTP status, or
 * 0 when no answer came (message printed). */
static long cli_http(const char *method, const char *url, const char *key, char **out)
{
	struct cli_buf b = {0};
	CURL *h = curl_easy_init();
	if (!h) {
		fputs("offramp: cannot start libcurl\n", stderr);
		return 0;
	}
	char auth[LIMIT_API_KEY_BYTES + 32];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (strcmp(method, "POST") == 0) {
		/* Actions take an empty object (CONTRACT: no body means {}). */
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cli_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)LIMIT_CLI_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else if (b.too_big)
		fprintf(stderr, "offramp: the answer is larger than %d bytes\n", LIMIT_CLI_RESPONSE_BYTES);
	else
		fprintf(stderr, "offramp: %s: %s\n", url, curl_easy_strerror(rc));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (status == 0) {
		free(b.data);
		return 0;
	}
	*out = b.data ? b.data : strdup("");
	return status;
}

/* ---- tables ------------------------------------------------------------ */

/* The text of one cell: strings as they are, money as "value CUR", null as
 * "-", arrays joined by commas. */
static void cli_cell(json_t *row, const char *path, char out[CLI_CELL_MAX])
{
	json_t *v = json_object_get(row, path);
	out[0] = '\0';
	if (!v || json_is_null(v)) {
		snprintf(out, CLI_CELL_MAX, "-");
	} else if (json_is_string(v)) {
		snprintf(out, CLI_CELL_MAX, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(out, CLI_CELL_MAX, "%lld", (long long)json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(out, CLI_CELL_MAX, "%s", json_is_true(v) ? "yes" : "no");
	} else if (json_is_object(v) && json_object_get(v, "value")) {
		snprintf(out, CLI_CELL_MAX, "%s %s", json_string_value(json_object_get(v, "value")),
			 json_string_value(json_object_get(v, "currency")));
	} else if (json_is_array(v)) {
		size_t i, n = 0;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			const char *s = json_is_string(e) ? json_string_value(e) : "?";
			int w = snprintf(out + n, CLI_CELL_MAX - n, "%s%s", i ? "," : "", s);
			if (w < 0 || (size_t)w >= CLI_CELL_MAX - n)
				break;
			n += (size_t)w;
		}
		if (n == 0)
			snprintf(out, CLI_CELL_MAX, "-");
	} else {
		char *s = json_dumps(v, JSON_COMPACT);
		snprintf(out, CLI_CELL_MAX, "%s", s ? s : "?");
		free(s);
	}
}

static void cli_table(const struct cli_col *cols, json_t *rows)
{
	size_t ncol = 0, nrow = json_array_size(rows);
	while (ncol < 8 && cols[ncol].head)
		ncol++;
	if (nrow > LIMIT_CLI_ROWS)
		nrow = LIMIT_CLI_ROWS;
	size_t width[8];
	for (size_t c = 0; c < ncol; c++)
		width[c] = strlen(cols[c].head);
	char cell[CLI_CELL_MAX];
	for (size_t r = 0; r < nrow; r++)
		for (size_t c = 0; c < ncol; c++) {
			cli_cell(json_array_get(rows, r), cols[c].path, cell);
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	/* The last column is not padded: no trailing blanks. */
	for (size_t c = 0; c < ncol; c++)
		printf("%-*s%s", c + 1 < ncol ? (int)width[c] : 0, cols[c].head, c + 1 < ncol ? "  " : "\n");
	for (size_t r = 0; r < nrow; r++)
		for (size_t c = 0; c < ncol; c++) {
			cli_cell(json_array_get(rows, r), cols[c].path, cell);
			printf("%-*s%s", c + 1 < ncol ? (int)width[c] : 0, cell, c + 1 < ncol ? "  " : "\n");
		}
}

/* An account: its fields, then one row per currency. */
static void cli_account(json_t *o)
{
	static const struct cli_col cols[] = {
		{"CURRENCY", "currency"}, {"AVAILABLE", "available"}, {"HELD", "held"},
		{"TOTAL", "total"}, {NULL, NULL}};
	char cell[CLI_CELL_MAX];
	cli_cell(o, "id", cell);
	printf("account  %s\n", cell);
	cli_cell(o, "client_ref", cell);
	printf("client   %s\n\n", cell);
	cli_table(cols, json_object_get(o, "balances"));
}

/* ---- commands ---------------------------------------------------------- */

struct cli_opts {
	const char *url, *status, *account, *page_size, *page_token;
	bool json;
};

/* The query string of a list: the options given, percent-encoded. */
static void cli_query(CURL *esc, const struct cli_opts *o, char *out, size_t cap)
{
	const char *names[] = {"status", "account_ref", "page_size", "page_token"};
	const char *vals[] = {o->status, o->account, o->page_size, o->page_token};
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		char *e = curl_easy_escape(esc, vals[i], 0);
		int w = snprintf(out + n, cap - n, "%c%s=%s", n ? '&' : '?', names[i], e ? e : "");
		curl_free(e);
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
}

static int cli_print_error(long status, json_t *j, const char *body)
{
	const char *code = json_string_value(json_object_get(j, "code"));
	const char *msg = json_string_value(json_object_get(j, "message"));
	if (code)
		fprintf(stderr, "offramp: HTTP %ld %s: %s\n", status, code, msg ? msg : "");
	else
		fprintf(stderr, "offramp: HTTP %ld: %.200s\n", status, body);
	return 1;
}

static int cli_run(const struct cli_cmd *cmd, const char *id, const struct cli_opts *o,
		   const char *key)
{
	char url[CLI_URL_MAX], query[CLI_URL_MAX / 2] = "";
	CURL *esc = curl_easy_init();
	if (!esc)
		return 1;
	char *eid = id ? curl_easy_escape(esc, id, 0) : NULL;
	if (cmd->shape == CLI_LIST)
		cli_query(esc, o, query, sizeof query);
	size_t base = strlen(o->url);
	while (base && o->url[base - 1] == '/')
		base--;
	/* cmd->path is ours; its one "%s" takes the escaped id. */
	const char *hole = strstr(cmd->path, "%s");
	int pre = hole ? (int)(hole - cmd->path) : (int)strlen(cmd->path);
	snprintf(url, sizeof url, "%.*s%.*s%s%s%s", (int)base, o->url, pre, cmd->path,
		 hole && eid ? eid : "", hole ? hole + 2 : "", query);
	curl_free(eid);
	curl_easy_cleanup(esc);

	char *body = NULL;
	long status = cli_http(cmd->method, url, key, &body);
	if (!status)
		return 1;
	json_error_t jerr;
	json_t *j = json_loads(body, 0, &jerr);
	int rc = 0;
	if (status < 200 || status > 299) {
		rc = cli_print_error(status, j, body);
	} else if (!j) {
		fprintf(stderr, "offramp: the answer is not JSON: %s\n", jerr.text);
		rc = 1;
	} else if (o->json) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			puts(s);
		free(s);
	} else if (cmd->shape == CLI_LIST) {
		cli_table(cmd->cols, json_object_get(j, cmd->items));
		const char *next = json_string_value(json_object_get(j, "next_page_token"));
		if (next)
			printf("(more: --page-token %s)\n", next);
	} else if (strcmp(cmd->group, "accounts") == 0) {
		cli_account(j);
	} else {
		json_t *rows = json_pack("[O]", j);
		cli_table(cmd->cols, rows);
		json_decref(rows);
	}
	json_decref(j);
	free(body);
	return rc;
}

int cli_main(int argc, char **argv)
{
	const char *group = argv[0];
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_usage(argc < 2 ? stderr : stdout, group);
		return argc < 2 ? 2 : 0;
	}
	const struct cli_cmd *cmd = NULL;
	for (size_t i = 0; i < CLI_NCMDS; i++)
		if (strcmp(cli_cmds[i].group, group) == 0 && strcmp(cli_cmds[i].verb, argv[1]) == 0)
			cmd = &cli_cmds[i];
	if (!cmd) {
		fprintf(stderr, "offramp: unknown command '%s %s'\n", group, argv[1]);
		cli_usage(stderr, group);
		return 2;
	}
	const char *env_url = getenv("OFFRAMP_URL");
	struct cli_opts o = {.url = env_url && *env_url ? env_url : CLI_DEFAULT_URL};
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},       {"json", no_argument, NULL, 'j'},
		{"status", required_argument, NULL, 's'},    {"account", required_argument, NULL, 'a'},
		{"page-size", required_argument, NULL, 'n'}, {"page-token", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': o.url = optarg; break;
		case 'j': o.json = true; break;
		case 's': o.status = optarg; break;
		case 'a': o.account = optarg; break;
		case 'n': o.page_size = optarg; break;
		case 't': o.page_token = optarg; break;
		case 'h': cli_usage(stdout, group); return 0;
		default: cli_usage(stderr, group); return 2;
		}
	}
	bool wants_id = strcmp(cmd->args, "ID") == 0 || strncmp(cmd->args, "ID ", 3) == 0;
	int extra = argc - 1 - optind;
	const char *id = extra > 0 ? argv[1 + optind] : NULL;
	if (extra != (wants_id ? 1 : 0) ||
	    (cmd->shape == CLI_ONE && (o.status || o.account || o.page_size || o.page_token)) ||
	    (strcmp(group, "sessions") != 0 && (o.status || o.account))) {
		fprintf(stderr, "offramp: usage: offramp %s %s %s\n", group, cmd->verb, cmd->args);
		return 2;
	}
	const char *key = getenv("OFFRAMP_API_KEY");
	if (!key || !*key || strlen(key) > LIMIT_API_KEY_BYTES) {
		fputs("offramp: set OFFRAMP_API_KEY to an API key of the server\n", stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("offramp: cannot start libcurl\n", stderr);
		return 1;
	}
	int rc = cli_run(cmd, id, &o, key);
	curl_global_cleanup();
	return rc;
}

/* ---- progress ---------------------------------------------------------- */

static struct {
	bool shown;
	struct timespec last;
} cli_progress_state;

void cli_progress(const char *label, unsigned long long done, unsigned long long total)
{
	if (!isatty(STDERR_FILENO))
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (now.tv_sec - cli_progress_state.last.tv_sec) * 1000LL +
		       (now.tv_nsec - cli_progress_state.last.tv_nsec) / 1000000;
	if (cli_progress_state.shown && ms < 200 && done != total)
		return;
	cli_progress_state.last = now;
	cli_progress_state.shown = true;
	if (total)
		fprintf(stderr, "\r%s: %llu/%llu (%llu%%)\033[K", label, done, total,
			done * 100 / total);
	else
		fprintf(stderr, "\r%s: %llu\033[K", label, done);
}

void cli_progress_end(void)
{
	if (cli_progress_state.shown)
		fputc('\n', stderr);
	cli_progress_state.shown = false;
}
