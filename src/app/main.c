/*
 * main.c - the offramp binary: wires store, service, api and http
 * together and runs one command (CONTRACT §2).
 *
 *   offramp serve [--db PATH | --database-url URL] [--listen HOST:PORT]
 *                 [--rails sandbox] [--sandbox-step-ms N] [--http-threads N]
 *                 [--max-connections N] [--max-connections-per-ip N] [--header-timeout-ms N]
 *                 [--node-id ID] [--session-lease-ms N] [--metrics-listen HOST:PORT]
 *                 [--rate-limit RPS] [--rate-burst N]
 *                 [--secret-key-file FILE] [--old-secret-key-file FILE]
 *   offramp admin create-tenant --name NAME
 *   offramp admin create-api-key --tenant enterprises/<uuid> --capabilities a,b [--kind user|service]
 *   offramp admin verify-ledger
 *   offramp admin set-rate ASSET CURRENCY RATE
 *   offramp admin set-fees --tenant enterprises/<uuid> [--platform-bps N]
 *                          [--network-fee ASSET:NETWORK:AMOUNT]
 *   offramp admin bulk-load --tenant enterprises/<uuid> --sessions N [--accounts K]
 *   offramp admin query-plans
 *   offramp admin migrate-sqlite --db FILE --database-url URL
 *   offramp admin rotate-secret-key --secret-key-file NEW --old-secret-key-file OLD
 *
 * Admin commands print one JSON object on stdout. Exit status: 0 success,
 * 1 failure of the operation (or an unsound ledger), 2 bad usage.
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread before any is
 * started, and the main thread waits for them with sigwait(), so the
 * shutdown sequence runs in ordinary code, not in a signal handler.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "api/json_in.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/limits.h"
#include "base/fault.h"
#include "base/log.h"
#include "cli/cli.h"
#include "domain/bank.h"
#include "domain/capability.h"
#include "http/server.h"
#include "rails/evm.h"
#include "rails/rail.h"
#include "rails/registry.h"
#include "rails/sepa_file.h"
#include "webhooks/hooks.h"
#include "workers/dispatcher.h"
#include "workers/workers.h"
#include "service/service.h"
#include "store/store.h"

struct opts {
	const char *db;
	bool db_flag; /* --db was given */
	const char *database_url;
	const char *listen;
	const char *metrics_listen; /* NULL: GET /metrics on listen */
	const char *node_id; /* NULL: "<hostname>:<listen>" */
	const char *rails;
	long sandbox_step_ms;
	long session_lease_ms;
	long http_threads;
	long commit_batch_max;
	long pool_size; /* PostgreSQL read connections */
	long max_connections, max_per_ip, header_timeout_ms;
	long rate_limit, rate_burst; /* per API key; either 0: no limit */
	const char *secret_key_file;     /* NULL: "<db>.secret-key" (SQLite only) */
	const char *old_secret_key_file; /* NULL: none */
	const char *name;
	const char *tenant;
	const char *capabilities;
	const char *kind;
	long workers;
	bool webhook_allow_loopback;
	long webhook_retry_base_ms;
	long platform_bps; /* -1: unchanged */
	const char *network_fees[8]; /* repeated --network-fee */
	int nfees;
	const char *args[4]; /* positional arguments of set-rate */
	int nargs;
	long sessions, accounts; /* bulk-load */
	struct evm_config evm;   /* --rails evm (rails/evm.h) */
	/* --rails sepa_file (rails/sepa_file.h) */
	const char *rail_dir, *sepa_name, *sepa_iban, *sepa_bic, *schema_dir;
	long sepa_batch_ms;
};

#define STR_(x) #x
#define STR(x) STR_(x)

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  offramp serve [--db PATH | --database-url URL] [--listen HOST:PORT]\n"
	      "                [--rails sandbox] [--sandbox-step-ms N] [--http-threads N]\n"
	      "                [--rails evm --evm-rpc-url URL --evm-key-file FILE\n"
	      "                 --evm-token ASSET:NETWORK:CONTRACT... --evm-chain-id NETWORK:ID...\n"
	      "                 --evm-confirmations N [--evm-replace-after-ms N]\n"
	      "                 [--evm-tx-type auto|legacy|eip1559]]\n"
	      "                [--commit-batch-max N] [--database-pool-size N]\n"
	      "                [--workers N] [--webhook-allow-loopback] [--webhook-retry-base-ms N]\n"
	      "                [--max-connections N] [--max-connections-per-ip N]\n"
	      "                [--header-timeout-ms N] [--node-id ID] [--session-lease-ms N]\n"
	      "                [--metrics-listen HOST:PORT] [--rate-limit RPS] [--rate-burst N]\n"
	      "                [--secret-key-file FILE] [--old-secret-key-file FILE]\n"
	      "                [--rails sepa_file --rail-dir DIR --sepa-debtor-name NAME\n"
	      "                 --sepa-debtor-iban IBAN --sepa-debtor-bic BIC [--sepa-batch-ms N]]\n"
	      "  offramp admin create-tenant --name NAME [--db PATH]\n"
	      "  offramp admin create-api-key --tenant enterprises/<uuid> --capabilities a,b\n"
	      "                [--kind user|service] [--db PATH]\n"
	      "  offramp admin verify-ledger [--db PATH]\n"
	      "  offramp admin set-rate ASSET CURRENCY RATE [--db PATH]\n"
	      "  offramp admin set-fees --tenant enterprises/<uuid> [--platform-bps N]\n"
	      "                [--network-fee ASSET:NETWORK:AMOUNT] [--db PATH]\n"
	      "  offramp admin bulk-load --tenant enterprises/<uuid> --sessions N\n"
	      "                [--accounts K] [--db PATH]\n"
	      "  offramp admin query-plans [--db PATH]\n"
	      "  offramp admin migrate-sqlite --db FILE --database-url URL\n"
	      "  offramp admin import-bank-file FILE --rail-dir DIR\n"
	      "  offramp admin rotate-secret-key --secret-key-file NEW --old-secret-key-file OLD\n"
	      "                [--db PATH | --database-url URL]\n"
	      "  offramp sessions list|get, accounts get, approvals list|approve|reject,\n"
	      "          webhooks list|attempts [--url URL] [--json]  (a running server;\n"
	      "          OFFRAMP_API_KEY; `offramp sessions --help`, man offramp)\n"
	      "environment: OFFRAMP_DB, OFFRAMP_DATABASE_URL, OFFRAMP_DATABASE_POOL_SIZE, OFFRAMP_LISTEN, OFFRAMP_NODE_ID,\n"
	      "             OFFRAMP_METRICS_LISTEN,\n"
	      "             OFFRAMP_SANDBOX_STEP_MS, OFFRAMP_SESSION_LEASE_MS, OFFRAMP_MAX_CONNECTIONS,\n"
	      "             OFFRAMP_MAX_CONNECTIONS_PER_IP, OFFRAMP_HEADER_TIMEOUT_MS,\n"
	      "             OFFRAMP_RATE_LIMIT, OFFRAMP_RATE_BURST, OFFRAMP_SECRET_KEY_FILE,\n"
	      "             OFFRAMP_OLD_SECRET_KEY_FILE\n"
	      "             (flags win over the environment)\n"
	      "serve defaults: --max-connections " STR(LIMIT_CONNECTIONS_DEFAULT)
	      ", --max-connections-per-ip " STR(LIMIT_CONNECTIONS_PER_IP_DEFAULT)
	      ",\n  --header-timeout-ms " STR(LIMIT_HEADER_TIMEOUT_MS_DEFAULT)
	      " (headers, then the body, each within it),\n"
	      "  --rate-limit " STR(LIMIT_RATE_RPS_DEFAULT) " --rate-burst " STR(LIMIT_RATE_BURST_DEFAULT)
	      " (per API key; 0 turns the limit off),\n"
	      "  --secret-key-file <db>.secret-key (SQLite: made 0600 on first use;\n"
	      "  PostgreSQL: required)\n",
	      f);
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* The connection caps and deadline of serve (CONTRACT §12), each a flag
 * and an environment variable; defaults in base/limits.h. */
static const struct conn_limit {
	const char *flag, *env;
	long dflt, lo, hi;
} conn_limits[] = {
	{"max-connections", "OFFRAMP_MAX_CONNECTIONS", LIMIT_CONNECTIONS_DEFAULT, 1,
	 LIMIT_CONNECTIONS_MAX},
	{"max-connections-per-ip", "OFFRAMP_MAX_CONNECTIONS_PER_IP", LIMIT_CONNECTIONS_PER_IP_DEFAULT,
	 1, LIMIT_CONNECTIONS_MAX},
	{"header-timeout-ms", "OFFRAMP_HEADER_TIMEOUT_MS", LIMIT_HEADER_TIMEOUT_MS_DEFAULT,
	 LIMIT_HEADER_TIMEOUT_MS_MIN, LIMIT_HEADER_TIMEOUT_MS_MAX},
	{"rate-limit", "OFFRAMP_RATE_LIMIT", LIMIT_RATE_RPS_DEFAULT, 0, LIMIT_RATE_RPS_MAX},
	{"rate-burst", "OFFRAMP_RATE_BURST", LIMIT_RATE_BURST_DEFAULT, 0, LIMIT_RATE_BURST_MAX},
};

static long *conn_limit_field(struct opts *o, size_t i)
{
	long *fields[] = {&o->max_connections, &o->max_per_ip, &o->header_timeout_ms,
			  &o->rate_limit, &o->rate_burst};
	return fields[i];
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},
		{"database-url", required_argument, NULL, 'u'},
		{"listen", required_argument, NULL, 'l'},
		{"metrics-listen", required_argument, NULL, 'M'},
		{"node-id", required_argument, NULL, 'N'},
		{"rails", required_argument, NULL, 'r'},
		{"sandbox-step-ms", required_argument, NULL, 's'},
		{"session-lease-ms", required_argument, NULL, 'e'},
		{"http-threads", required_argument, NULL, 't'},
		{"commit-batch-max", required_argument, NULL, 'B'},
		{"database-pool-size", required_argument, NULL, 'Q'},
		{"name", required_argument, NULL, 'n'},
		{"tenant", required_argument, NULL, 'T'},
		{"capabilities", required_argument, NULL, 'c'},
		{"kind", required_argument, NULL, 'k'},
		{"workers", required_argument, NULL, 'w'},
		{"webhook-allow-loopback", no_argument, NULL, 'L'},
		{"webhook-retry-base-ms", required_argument, NULL, 'R'},
		{"platform-bps", required_argument, NULL, 'b'},
		{"network-fee", required_argument, NULL, 'f'},
		{"max-connections", required_argument, NULL, 'C'},
		{"max-connections-per-ip", required_argument, NULL, 'P'},
		{"header-timeout-ms", required_argument, NULL, 'H'},
		{"rate-limit", required_argument, NULL, 'X'},
		{"rate-burst", required_argument, NULL, 'Y'},
		{"secret-key-file", required_argument, NULL, 'K'},
		{"old-secret-key-file", required_argument, NULL, 'O'},
		{"sessions", required_argument, NULL, 'S'},
		{"accounts", required_argument, NULL, 'A'},
		{"evm-rpc-url", required_argument, NULL, 0x200},
		{"evm-key-file", required_argument, NULL, 0x201},
		{"evm-token", required_argument, NULL, 0x202},
		{"evm-chain-id", required_argument, NULL, 0x203},
		{"evm-confirmations", required_argument, NULL, 0x204},
		{"evm-replace-after-ms", required_argument, NULL, 0x205},
		{"evm-tx-type", required_argument, NULL, 0x206},
		{"rail-dir", required_argument, NULL, 0x100},
		{"bank-dir", required_argument, NULL, 0x100},
		{"sepa-debtor-name", required_argument, NULL, 0x101},
		{"sepa-debtor-iban", required_argument, NULL, 0x102},
		{"sepa-debtor-bic", required_argument, NULL, 0x103},
		{"sepa-batch-ms", required_argument, NULL, 0x104},
		{"sepa-schema-dir", required_argument, NULL, 0x105},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	o->db = env_or("OFFRAMP_DB", "./offramp.db");
	o->database_url = env_or("OFFRAMP_DATABASE_URL", NULL);
	o->listen = env_or("OFFRAMP_LISTEN", "127.0.0.1:8080");
	o->metrics_listen = env_or("OFFRAMP_METRICS_LISTEN", NULL);
	o->node_id = env_or("OFFRAMP_NODE_ID", NULL);
	o->secret_key_file = env_or("OFFRAMP_SECRET_KEY_FILE", NULL);
	o->old_secret_key_file = env_or("OFFRAMP_OLD_SECRET_KEY_FILE", NULL);
	o->rails = env_or("OFFRAMP_RAILS", "sandbox");
	o->evm.confirmations = 1;
	o->evm.replace_after_ms = LIMIT_EVM_REPLACE_AFTER_MS_DEFAULT;
	o->rail_dir = env_or("OFFRAMP_RAIL_DIR", NULL);
	o->sepa_name = env_or("OFFRAMP_SEPA_DEBTOR_NAME", NULL);
	o->sepa_iban = env_or("OFFRAMP_SEPA_DEBTOR_IBAN", NULL);
	o->sepa_bic = env_or("OFFRAMP_SEPA_DEBTOR_BIC", NULL);
	o->schema_dir = env_or("OFFRAMP_SEPA_SCHEMA_DIR", NULL);
	if (!parse_long(env_or("OFFRAMP_SEPA_BATCH_MS", STR(LIMIT_SEPA_BATCH_MS_DEFAULT)), 0,
			3600000, &o->sepa_batch_ms)) {
		fprintf(stderr, "offramp: OFFRAMP_SEPA_BATCH_MS must be 0..3600000\n");
		return 2;
	}
	o->kind = "user";
	o->http_threads = 16;
	o->commit_batch_max = LIMIT_COMMIT_BATCH_DEFAULT;
	const char *batch = env_or("OFFRAMP_COMMIT_BATCH_MAX", NULL);
	if (batch && !parse_long(batch, 1, LIMIT_COMMIT_BATCH_MAX, &o->commit_batch_max)) {
		fprintf(stderr, "offramp: OFFRAMP_COMMIT_BATCH_MAX must be 1..%d\n",
			LIMIT_COMMIT_BATCH_MAX);
		return 2;
	}
	o->pool_size = LIMIT_DATABASE_POOL_DEFAULT;
	const char *pool = env_or("OFFRAMP_DATABASE_POOL_SIZE", NULL);
	if (pool && !parse_long(pool, 1, LIMIT_DATABASE_POOL_MAX, &o->pool_size)) {
		fprintf(stderr, "offramp: OFFRAMP_DATABASE_POOL_SIZE must be 1..%d\n",
			LIMIT_DATABASE_POOL_MAX);
		return 2;
	}
	o->workers = LIMIT_WORKERS_DEFAULT;
	o->webhook_allow_loopback = strcmp(env_or("OFFRAMP_WEBHOOK_ALLOW_LOOPBACK", "0"), "1") == 0;
	if (!parse_long(env_or("OFFRAMP_WEBHOOK_RETRY_BASE_MS", "30000"), 1, 86400000,
			&o->webhook_retry_base_ms)) {
		fprintf(stderr, "offramp: OFFRAMP_WEBHOOK_RETRY_BASE_MS must be 1..86400000\n");
		return 2;
	}
	o->platform_bps = -1;
	o->accounts = 1;
	for (size_t i = 0; i < sizeof conn_limits / sizeof *conn_limits; i++) {
		const struct conn_limit *cl = &conn_limits[i];
		char dflt[16];
		snprintf(dflt, sizeof dflt, "%ld", cl->dflt);
		if (!parse_long(env_or(cl->env, dflt), cl->lo, cl->hi, conn_limit_field(o, i))) {
			fprintf(stderr, "offramp: %s must be %ld..%ld\n", cl->env, cl->lo, cl->hi);
			return 2;
		}
	}
	if (!parse_long(env_or("OFFRAMP_SANDBOX_STEP_MS", "1000"), 0, 3600000, &o->sandbox_step_ms)) {
		fprintf(stderr, "offramp: OFFRAMP_SANDBOX_STEP_MS must be 0..3600000\n");
		return 2;
	}
	if (!parse_long(env_or("OFFRAMP_SESSION_LEASE_MS", STR(LIMIT_SESSION_LEASE_MS)),
			LIMIT_SESSION_LEASE_MS_MIN, LIMIT_SESSION_LEASE_MS_MAX, &o->session_lease_ms)) {
		fprintf(stderr, "offramp: OFFRAMP_SESSION_LEASE_MS must be %d..%d\n",
			LIMIT_SESSION_LEASE_MS_MIN, LIMIT_SESSION_LEASE_MS_MAX);
		return 2;
	}
	bool db_flag = false, url_flag = false;
	bool per_ip_set = *env_or("OFFRAMP_MAX_CONNECTIONS_PER_IP", "") != '\0';
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->db = optarg; db_flag = true; break;
		case 'u': o->database_url = optarg; url_flag = true; break;
		case 'l': o->listen = optarg; break;
		case 'M': o->metrics_listen = optarg; break;
		case 'N': o->node_id = optarg; break;
		case 'K': o->secret_key_file = optarg; break;
		case 'O': o->old_secret_key_file = optarg; break;
		case 'r': o->rails = optarg; break;
		case 0x100: o->rail_dir = optarg; break;
		case 0x101: o->sepa_name = optarg; break;
		case 0x102: o->sepa_iban = optarg; break;
		case 0x103: o->sepa_bic = optarg; break;
		case 0x105: o->schema_dir = optarg; break;
		case 0x104:
			if (!parse_long(optarg, 0, 3600000, &o->sepa_batch_ms)) {
				fprintf(stderr, "offramp: --sepa-batch-ms must be 0..3600000\n");
				return 2;
			}
			break;
		case 's':
			if (!parse_long(optarg, 0, 3600000, &o->sandbox_step_ms)) {
				fprintf(stderr, "offramp: --sandbox-step-ms must be 0..3600000\n");
				return 2;
			}
			break;
		case 'e':
			if (!parse_long(optarg, LIMIT_SESSION_LEASE_MS_MIN, LIMIT_SESSION_LEASE_MS_MAX,
					&o->session_lease_ms)) {
				fprintf(stderr, "offramp: --session-lease-ms must be %d..%d\n",
					LIMIT_SESSION_LEASE_MS_MIN, LIMIT_SESSION_LEASE_MS_MAX);
				return 2;
			}
			break;
		case 't':
			if (!parse_long(optarg, 1, LIMIT_HTTP_THREADS_MAX, &o->http_threads)) {
				fprintf(stderr, "offramp: --http-threads must be 1..%d\n",
					LIMIT_HTTP_THREADS_MAX);
				return 2;
			}
			break;
		case 'B':
			if (!parse_long(optarg, 1, LIMIT_COMMIT_BATCH_MAX, &o->commit_batch_max)) {
				fprintf(stderr, "offramp: --commit-batch-max must be 1..%d\n",
					LIMIT_COMMIT_BATCH_MAX);
				return 2;
			}
			break;
		case 'Q':
			if (!parse_long(optarg, 1, LIMIT_DATABASE_POOL_MAX, &o->pool_size)) {
				fprintf(stderr, "offramp: --database-pool-size must be 1..%d\n",
					LIMIT_DATABASE_POOL_MAX);
				return 2;
			}
			break;
		case 'n': o->name = optarg; break;
		case 'T': o->tenant = optarg; break;
		case 'c': o->capabilities = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'w':
			if (!parse_long(optarg, 1, LIMIT_WORKERS_MAX, &o->workers)) {
				fprintf(stderr, "offramp: --workers must be 1..%d\n", LIMIT_WORKERS_MAX);
				return 2;
			}
			break;
		case 'L': o->webhook_allow_loopback = true; break;
		case 'R':
			if (!parse_long(optarg, 1, 86400000, &o->webhook_retry_base_ms)) {
				fprintf(stderr, "offramp: --webhook-retry-base-ms must be 1..86400000\n");
				return 2;
			}
			break;
		case 'b':
			if (!parse_long(optarg, 0, 10000, &o->platform_bps)) {
				fprintf(stderr, "offramp: --platform-bps must be 0..10000\n");
				return 2;
			}
			break;
		case 'f':
			if (o->nfees >= 8) {
				fprintf(stderr, "offramp: at most 8 --network-fee\n");
				return 2;
			}
			o->network_fees[o->nfees++] = optarg;
			break;
		case 'C':
		case 'P':
		case 'H':
		case 'X':
		case 'Y': {
			size_t i = c == 'C' ? 0 : c == 'P' ? 1 : c == 'H' ? 2 : c == 'X' ? 3 : 4;
			per_ip_set |= c == 'P';
			const struct conn_limit *cl = &conn_limits[i];
			if (!parse_long(optarg, cl->lo, cl->hi, conn_limit_field(o, i))) {
				fprintf(stderr, "offramp: --%s must be %ld..%ld\n", cl->flag, cl->lo,
					cl->hi);
				return 2;
			}
			break;
		}
		case 'S':
			if (!parse_long(optarg, 1, LIMIT_BULK_SESSIONS_MAX, &o->sessions)) {
				fprintf(stderr, "offramp: --sessions must be 1..%d\n", LIMIT_BULK_SESSIONS_MAX);
				return 2;
			}
			break;
		case 'A':
			if (!parse_long(optarg, 1, LIMIT_BULK_ACCOUNTS_MAX, &o->accounts)) {
				fprintf(stderr, "offramp: --accounts must be 1..%d\n", LIMIT_BULK_ACCOUNTS_MAX);
				return 2;
			}
			break;
		case 0x200: o->evm.rpc_url = optarg; break;
		case 0x206:
			if (!evm_config_tx_type(&o->evm, optarg)) {
				fprintf(stderr, "offramp: --evm-tx-type: auto, legacy or eip1559\n");
				return 2;
			}
			break;
		case 0x201: o->evm.key_file = optarg; break;
		case 0x202:
		case 0x203: {
			char why[160];
			if (!(c == 0x202 ? evm_config_token : evm_config_chain)(&o->evm, optarg, why,
										 sizeof why)) {
				fprintf(stderr, "offramp: %s\n", why);
				return 2;
			}
			break;
		}
		case 0x204:
		case 0x205: {
			long v;
			bool conf = c == 0x204;
			if (!parse_long(optarg, conf ? 1 : 0, conf ? LIMIT_EVM_CONFIRMATIONS_MAX : 86400000, &v)) {
				fprintf(stderr, "offramp: --evm-%s out of range\n",
					conf ? "confirmations" : "replace-after-ms");
				return 2;
			}
			if (conf)
				o->evm.confirmations = (int)v;
			else
				o->evm.replace_after_ms = v;
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	while (optind < argc) {
		if (o->nargs >= 4) {
			fprintf(stderr, "offramp: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		o->args[o->nargs++] = argv[optind++];
	}
	/* Unset, the per-address cap leaves at least half the total to the
	 * other addresses. */
	if (!per_ip_set && o->max_per_ip > o->max_connections / 2)
		o->max_per_ip = o->max_connections > 1 ? o->max_connections / 2 : 1;
	if (o->max_per_ip > o->max_connections) {
		fprintf(stderr, "offramp: --max-connections-per-ip (%ld) must not exceed "
				"--max-connections (%ld)\n",
			o->max_per_ip, o->max_connections);
		return 2;
	}
	/* An explicit --db beats a database URL from the environment (not
	 * one given as a flag too: migrate-sqlite takes both). */
	o->db_flag = db_flag;
	if (db_flag && !url_flag)
		o->database_url = NULL;
	return 0;
}

static struct store *open_store(const struct opts *o)
{
	/* A URL names PostgreSQL; else the SQLite file. The URL (it may
	 * hold a password) is never printed. */
	if (o->database_url && !store_spec_is_pg(o->database_url)) {
		fprintf(stderr, "offramp: --database-url must start with postgres:// or postgresql://\n");
		return NULL;
	}
	const char *spec = o->database_url ? o->database_url : o->db;
	const char *err = NULL;
	struct store *st = store_open(spec, &err);
	if (!st)
		fprintf(stderr, "offramp: %s: %s\n", o->database_url ? "database" : o->db,
			err ? err : "cannot open");
	else {
		st->commit_batch_max = (int)o->commit_batch_max;
		st->pool_size = (int)o->pool_size;
	}
	return st;
}

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (s) {
		puts(s);
		free(s);
	}
	json_decref(o);
	fflush(stdout);
}

static json_t *key_json(const struct svc_new_key *k)
{
	char ref[64];
	snprintf(ref, sizeof ref, "enterprises/%s", k->tenant_id);
	json_t *caps = json_array();
	for (int i = 0; i < CAP__COUNT; i++)
		if (k->caps & (1u << i))
			json_array_append_new(caps, json_string(capability_name(i)));
	return json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:o}", "tenant_ref", ref, "principal",
			 "id", k->principal_id, "kind", k->principal_kind, "tenant_ref", ref,
			 "api_key", k->secret, "capabilities", caps);
}

static int cmd_create_tenant(struct service *svc, const struct opts *o)
{
	if (!o->name) {
		fprintf(stderr, "offramp: create-tenant needs --name NAME\n");
		return 2;
	}
	struct svc_new_key k;
	enum err e = svc_tenant_create(svc, o->name, &k);
	if (e) {
		fprintf(stderr, "offramp: create-tenant: %s\n", err_message(e));
		return e == ERR_INVALID_VALUE ? 2 : 1;
	}
	print_json(key_json(&k));
	return 0;
}

static int cmd_create_api_key(struct service *svc, const struct opts *o)
{
	const char *pre = "enterprises/";
	if (!o->tenant || strncmp(o->tenant, pre, strlen(pre)) != 0 || !o->capabilities) {
		fprintf(stderr, "offramp: create-api-key needs --tenant enterprises/<uuid> "
				"--capabilities a,b\n");
		return 2;
	}
	uint32_t caps;
	const char *bad = NULL;
	if (!capability_parse_list(o->capabilities, &caps, &bad)) {
		fprintf(stderr, "offramp: unknown capability at '%s'\n", bad ? bad : "");
		return 2;
	}
	struct svc_new_key k;
	enum err e = svc_api_key_create(svc, o->tenant + strlen(pre), caps, o->kind, &k);
	if (e) {
		fprintf(stderr, "offramp: create-api-key: %s\n",
			e == ERR_NOT_FOUND ? "no such tenant" : err_message(e));
		return e == ERR_INTERNAL || e == ERR_UNAVAILABLE ? 1 : 2;
	}
	json_t *out = key_json(&k);
	json_object_del(out, "tenant_ref");
	print_json(out);
	return 0;
}

static json_t *ledger_json(const struct svc_ledger_report *rp)
{
	const struct svc_ledger_report r = *rp;
	json_t *net = json_object();
	for (int c = 1; c < CUR__COUNT; c++) {
		char a[MONEY_STR_MAX], b[MONEY_STR_MAX];
		json_object_set_new(net, money_currency_code((enum currency)c),
				    json_pack("{s:s, s:s}", "posted",
					      money_format(r.net_posted[c], (enum currency)c, a),
					      "pending",
					      money_format(r.net_pending[c], (enum currency)c, b)));
	}
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:s?, s:o}", "ok", r.ok, "accounts",
			 (json_int_t)r.accounts, "balances", (json_int_t)r.balances, "transfers",
			 (json_int_t)r.transfers, "sessions", (json_int_t)r.sessions, "problems",
			 (json_int_t)r.problems, "first_problem", r.ok ? NULL : r.first_problem, "net",
			 net);
}

/* Progress of a long admin operation, shown only when stderr is a
 * terminal (scripts and logs get the JSON answer alone): one line redrawn
 * at most every LIMIT_PROGRESS_REDRAW_MS and at each phase's end. */
struct tty_progress {
	const char *op;
	uint64_t start_ms, last_ms;
	bool shown;
};

static void tty_progress_fn(void *arg, const char *phase, int64_t rows, bool done)
{
	struct tty_progress *p = arg;
	uint64_t now = clock_mono_ms();
	if (p->shown && now - p->last_ms < LIMIT_PROGRESS_REDRAW_MS && !done)
		return; /* a phase's end is always drawn */
	p->last_ms = now;
	p->shown = true;
	uint64_t ms = now - p->start_ms;
	fprintf(stderr, "\r\033[K%s: %s: %lld rows, %llu.%01llu s", p->op, phase, (long long)rows,
		(unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
}

/* A progress for op on a terminal, else none (NULL fn). */
static struct store_progress tty_progress(struct tty_progress *p, const char *op)
{
	*p = (struct tty_progress){.op = op, .start_ms = clock_mono_ms()};
	return (struct store_progress){.fn = isatty(STDERR_FILENO) ? tty_progress_fn : NULL, .arg = p};
}

static void tty_progress_end(const struct tty_progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
}

static int cmd_verify_ledger(struct service *svc)
{
	struct svc_ledger_report r;
	struct tty_progress tp;
	struct store_progress prog = tty_progress(&tp, "verify-ledger");
	enum err e = svc_verify_ledger_progress(svc, &prog, &r);
	tty_progress_end(&tp);
	if (e) {
		fprintf(stderr, "offramp: verify-ledger: %s\n", err_message(e));
		return 1;
	}
	print_json(ledger_json(&r));
	return r.ok ? 0 : 1;
}

/* admin migrate-sqlite: the SQLite file --db into the empty PostgreSQL
 * database --database-url (svc is on it), then verify-ledger there. The
 * file must exist: opening it would otherwise make an empty one. */
static int cmd_migrate_sqlite(struct service *svc, const struct opts *o)
{
	if (!o->db_flag || !o->database_url) {
		fprintf(stderr, "offramp: migrate-sqlite needs --db FILE and --database-url URL\n");
		return 2;
	}
	if (access(o->db, R_OK | W_OK) != 0) {
		fprintf(stderr, "offramp: migrate-sqlite: %s: %s\n", o->db, strerror(errno));
		return 1;
	}
	const char *err = NULL;
	struct store *from = store_open_sqlite(o->db, &err);
	if (!from) {
		fprintf(stderr, "offramp: migrate-sqlite: %s: %s\n", o->db, err ? err : "cannot open");
		return 1;
	}
	static struct store_copy_report r; /* 4 KiB of table names: off the stack */
	struct tty_progress tp;
	struct store_progress prog = tty_progress(&tp, "migrate-sqlite");
	enum store_status st = store_copy(from, svc->store, &prog, &r);
	tty_progress_end(&tp);
	store_close(from);
	if (st != STORE_OK) {
		fprintf(stderr, "offramp: migrate-sqlite: %s\n", r.problem);
		return 1;
	}
	struct svc_ledger_report lr;
	prog = tty_progress(&tp, "migrate-sqlite: verify-ledger");
	enum err e = svc_verify_ledger_progress(svc, &prog, &lr);
	tty_progress_end(&tp);
	if (e) {
		fprintf(stderr, "offramp: migrate-sqlite: copied, but verify-ledger failed: %s\n",
			err_message(e));
		return 1;
	}
	json_t *tables = json_object();
	for (int i = 0; i < r.ntables; i++)
		json_object_set_new(tables, r.tables[i].name, json_integer(r.tables[i].rows));
	print_json(json_pack("{s:b, s:I, s:o, s:o}", "ok", lr.ok, "rows", (json_int_t)r.rows,
			     "tables", tables, "ledger", ledger_json(&lr)));
	if (!lr.ok)
		fprintf(stderr, "offramp: migrate-sqlite: copied, but the ledger does not verify: %s\n",
			lr.first_problem);
	return lr.ok ? 0 : 1;
}

static int cmd_set_rate(struct service *svc, const struct opts *o)
{
	if (o->nargs != 3) {
		fprintf(stderr, "offramp: set-rate needs ASSET CURRENCY RATE, e.g. USDC EUR 0.9234\n");
		return 2;
	}
	enum currency from = money_currency(o->args[0]), to = money_currency(o->args[1]);
	struct fx_rate rate;
	if (fx_rate_parse(o->args[2], &rate) != ERR_OK) {
		fprintf(stderr, "offramp: set-rate: '%s' is not a positive decimal rate\n", o->args[2]);
		return 2;
	}
	enum err e = svc_fx_set(svc, from, to, &rate);
	if (e) {
		fprintf(stderr, "offramp: set-rate: %s\n", err_message(e));
		return e == ERR_INTERNAL || e == ERR_UNAVAILABLE ? 1 : 2;
	}
	char text[FX_STR_MAX];
	print_json(json_pack("{s:s, s:s, s:s}", "source", money_currency_code(from), "target",
			     money_currency_code(to), "rate", fx_rate_format(&rate, text)));
	return 0;
}

/* Parse ASSET:NETWORK:AMOUNT (e.g. USDC:ethereum:1.00; AMOUNT may be 0). */
static bool parse_network_fee(const char *spec, enum currency *asset, char network[32],
			      int64_t *fee)
{
	const char *b = strchr(spec, ':'), *c = b ? strchr(b + 1, ':') : NULL;
	char code[8] = "";
	if (!c || (size_t)(b - spec) >= sizeof code || (size_t)(c - b - 1) >= 32 || c == b + 1)
		return false;
	memcpy(code, spec, (size_t)(b - spec));
	memcpy(network, b + 1, (size_t)(c - b - 1));
	network[c - b - 1] = '\0';
	*asset = money_currency(code);
	if (!money_is_stablecoin(*asset))
		return false;
	*fee = 0;
	return strcmp(c + 1, "0") == 0 || money_parse(c + 1, strlen(c + 1), *asset, fee) == ERR_OK;
}

static int cmd_set_fees(struct service *svc, const struct opts *o)
{
	const char *pre = "enterprises/";
	if (!o->tenant || strncmp(o->tenant, pre, strlen(pre)) != 0 ||
	    (o->platform_bps < 0 && o->nfees == 0)) {
		fprintf(stderr, "offramp: set-fees needs --tenant enterprises/<uuid> and "
				"--platform-bps N and/or --network-fee ASSET:NETWORK:AMOUNT\n");
		return 2;
	}
	struct {
		enum currency asset;
		char network[32];
		int64_t fee;
	} fees[8];
	for (int i = 0; i < o->nfees; i++)
		if (!parse_network_fee(o->network_fees[i], &fees[i].asset, fees[i].network,
				       &fees[i].fee)) {
			fprintf(stderr, "offramp: --network-fee wants ASSET:NETWORK:AMOUNT, e.g. "
					"USDC:ethereum:1.00, not '%s'\n", o->network_fees[i]);
			return 2;
		}
	/* Everything was checked above; each setting is then one write. */
	int n = o->nfees ? o->nfees : 1;
	for (int i = 0; i < n; i++) {
		enum err e = svc_fees_set(svc, o->tenant + strlen(pre),
					  i == 0 ? (int32_t)o->platform_bps : -1,
					  o->nfees ? fees[i].asset : CUR_NONE,
					  o->nfees ? fees[i].network : "", o->nfees ? fees[i].fee : 0);
		if (e) {
			fprintf(stderr, "offramp: set-fees: %s\n",
				e == ERR_NOT_FOUND ? "no such tenant" : err_message(e));
			return e == ERR_INTERNAL || e == ERR_UNAVAILABLE ? 1 : 2;
		}
	}
	print_json(json_pack("{s:s, s:b}", "tenant_ref", o->tenant, "ok", 1));
	return 0;
}

/* The seed's SEPA destination (the one `make bench` saves), for every
 * loaded client. */
static bool bulk_destination(struct destination *d)
{
	memset(d, 0, sizeof *d);
	d->method = DEST_BANK_TRANSFER;
	d->rail = RAIL_SEPA_CREDIT_TRANSFER;
	d->currency = CUR_EUR;
	snprintf(d->bank.beneficiary_name, sizeof d->bank.beneficiary_name, "Acme Treasury");
	snprintf(d->bank.account_holder_name, sizeof d->bank.account_holder_name, "Acme Treasury");
	snprintf(d->bank.bank_name, sizeof d->bank.bank_name, "Demo Bank");
	snprintf(d->bank.scheme, sizeof d->bank.scheme, "iban");
	snprintf(d->bank.country, sizeof d->bank.country, "GB");
	snprintf(d->bank.iban, sizeof d->bank.iban, "GB29NWBK60161331926819");
	snprintf(d->bank.bic, sizeof d->bank.bic, "NWBKGB2L");
	const char *field = NULL;
	return destination_validate(d, &field) == ERR_OK;
}

struct bulk_progress {
	uint64_t start_ms, last_ms;
};

static void bulk_progress(void *arg, int64_t done, int64_t total)
{
	struct bulk_progress *p = arg;
	uint64_t now = clock_mono_ms();
	if (done < total && now - p->last_ms < 5000)
		return;
	p->last_ms = now;
	double s = (double)(now - p->start_ms) / 1000.0;
	fprintf(stderr, "bulk-load: %lld of %lld sessions, %.0f s, %.0f sessions/s\n",
		(long long)done, (long long)total, s, s > 0 ? (double)done / s : 0.0);
}

static int cmd_bulk_load(struct service *svc, const struct opts *o)
{
	const char *pre = "enterprises/";
	if (!o->tenant || strncmp(o->tenant, pre, strlen(pre)) != 0 || o->sessions < 1) {
		fprintf(stderr, "offramp: bulk-load needs --tenant enterprises/<uuid> --sessions N\n");
		return 2;
	}
	struct destination dest;
	char *canon = bulk_destination(&dest) ? api_destination_canonical(&dest) : NULL;
	if (!canon) {
		fprintf(stderr, "offramp: bulk-load: cannot build the destination\n");
		return 1;
	}
	struct bulk_progress prog = {.start_ms = clock_mono_ms()};
	prog.last_ms = prog.start_ms;
	struct svc_bulk_request q = {.tenant_id = o->tenant + strlen(pre), .sessions = o->sessions,
				     .accounts = (int)o->accounts, .dest = &dest,
				     .dest_canonical = canon,
				     .created_status = API_SESSION_CREATED_STATUS,
				     .payment_reference = "RF18539007547034",
				     .progress = bulk_progress, .progress_arg = &prog};
	struct svc_bulk_report r;
	enum err e = svc_bulk_load(svc, &q, &r);
	free(canon);
	double secs = (double)(clock_mono_ms() - prog.start_ms) / 1000.0;
	if (e) {
		fprintf(stderr, "offramp: bulk-load: %s (%lld sessions committed)\n", r.problem,
			(long long)r.sessions);
		svc_bulk_report_clear(&r);
		bool failed = e == ERR_INTERNAL || e == ERR_UNAVAILABLE || e == ERR_INSUFFICIENT_FUNDS;
		return failed ? 1 : 2;
	}
	json_t *accts = json_array();
	for (int k = 0; k < r.naccounts; k++) {
		char a[64], c[64];
		snprintf(a, sizeof a, "client-accounts/%s", r.accounts[k].account_id);
		snprintf(c, sizeof c, "clients/%s", r.accounts[k].client_id);
		json_array_append_new(accts, json_pack("{s:s, s:s, s:s}", "account_ref", a,
						       "route_owner_ref", c,
						       "withdrawal_destination_id",
						       r.accounts[k].destination_id));
	}
	char first[CLOCK_RFC3339_LEN + 1], last[CLOCK_RFC3339_LEN + 1];
	clock_rfc3339(r.first_created_at, first);
	clock_rfc3339(r.last_created_at, last);
	print_json(json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:s, s:s, s:s, s:o}", "tenant_ref",
			     o->tenant, "sessions", (json_int_t)r.sessions, "rows", (json_int_t)r.rows,
			     "commits", (json_int_t)r.commits, "seconds", secs, "sessions_per_s",
			     secs > 0 ? (double)r.sessions / secs : 0.0, "first_created_at", first,
			     "last_created_at", last, "principal_id", r.principal_id, "accounts",
			     accts));
	svc_bulk_report_clear(&r);
	return 0;
}

struct plans_out {
	json_t *list;
	json_t *cur; /* the plan array of the statement being filled */
	char name[96];
	long scans, temp_sorts;
};

static void plan_step(void *arg, const struct store_plan_step *step)
{
	struct plans_out *p = arg;
	if (!p->cur || strcmp(p->name, step->statement) != 0) {
		snprintf(p->name, sizeof p->name, "%s", step->statement);
		p->cur = json_array();
		json_array_append_new(p->list, json_pack("{s:s, s:o}", "statement", step->statement,
							 "plan", p->cur));
	}
	json_array_append_new(p->cur, json_string(step->detail));
	/* A scan that uses no index reads the whole table. */
	p->scans += strncmp(step->detail, "SCAN ", 5) == 0 && !strstr(step->detail, " USING ");
	p->temp_sorts += strstr(step->detail, "TEMP B-TREE") != NULL;
}

static int cmd_query_plans(struct service *svc)
{
	struct plans_out p = {.list = json_array()};
	enum err e = svc_query_plans(svc, plan_step, &p);
	if (e) {
		json_decref(p.list);
		fprintf(stderr, "offramp: query-plans: %s\n", err_message(e));
		return 1;
	}
	print_json(json_pack("{s:I, s:I, s:o}", "full_scans", (json_int_t)p.scans, "temp_sorts",
			     (json_int_t)p.temp_sorts, "statements", p.list));
	return 0;
}

/* The name of this node's leases. Unset, "<hostname>:<listen>": the same
 * across restarts of one node (so a restart drops its own stale leases at
 * once) and different for two nodes, even on one host, since no two can
 * listen on one address. Two nodes given one id would drop each other's
 * leases at start: docs/DEPLOY.md. */
static bool node_id(const struct opts *o, char out[LIMIT_NODE_ID_BYTES + 1])
{
	char host[256] = "localhost";
	if (!o->node_id && gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	char want[512];
	snprintf(want, sizeof want, "%s", o->node_id ? o->node_id : host);
	if (!o->node_id)
		snprintf(want + strlen(want), sizeof want - strlen(want), ":%s", o->listen);
	size_t n = strlen(want);
	bool ok = n > 0 && n <= LIMIT_NODE_ID_BYTES;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)want[i]) || strchr("._:-[]", want[i]);
	if (!ok) {
		fprintf(stderr, "offramp: --node-id must be 1..%d characters of A-Z a-z 0-9 . _ : - [ ]"
				" (unset, it is <hostname>:<listen>: set it when that is not so)\n",
			LIMIT_NODE_ID_BYTES);
		return false;
	}
	memcpy(out, want, n + 1);
	return true;
}

/* The schemas shipped with the binary: <exe>/../schemas/iso20022
 * (build/offramp in a checkout), else <exe>/../share/offramp/schemas/iso20022
 * (make install), unless --sepa-schema-dir says. */
static void schema_dir_default(char *out, size_t cap)
{
	char exe[2048];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	snprintf(out, cap, "schemas/iso20022");
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash) {
		*slash = '\0';
		snprintf(out, cap, "%s/../schemas/iso20022", exe);
		if (access(out, R_OK) != 0)
			snprintf(out, cap, "%s/../share/offramp/schemas/iso20022", exe);
	}
}

/* --rail-dir and, for serve, the debtor: the file rail's configuration. */
static bool sepa_options(const struct opts *o, struct sepa_config *c, bool serve)
{
	static char schemas[2300];
	if (o->schema_dir)
		snprintf(schemas, sizeof schemas, "%s", o->schema_dir);
	else
		schema_dir_default(schemas, sizeof schemas);
	*c = (struct sepa_config){.dir = o->rail_dir, .schema_dir = schemas,
				  .batch_ms = o->sepa_batch_ms};
	if (!o->rail_dir) {
		fprintf(stderr, "offramp: the sepa_file rail needs --rail-dir DIR\n");
		return false;
	}
	if (!serve)
		return true;
	if (!o->sepa_name || !o->sepa_iban || !o->sepa_bic) {
		fprintf(stderr, "offramp: --rails sepa_file needs --sepa-debtor-name, "
				"--sepa-debtor-iban and --sepa-debtor-bic\n");
		return false;
	}
	/* The debtor is in every file: a bad IBAN or BIC would have the bank
	 * refuse every one of them, so refuse to start instead. */
	if (bank_iban_check(o->sepa_iban) != ERR_OK || bank_bic_check(o->sepa_bic) != ERR_OK ||
	    !o->sepa_name[0] || strlen(o->sepa_name) > ISO_NAME_MAX) {
		fprintf(stderr, "offramp: --sepa-debtor-iban, --sepa-debtor-bic or --sepa-debtor-name "
				"is not valid\n");
		return false;
	}
	snprintf(c->debtor.name, sizeof c->debtor.name, "%s", o->sepa_name);
	snprintf(c->debtor.iban, sizeof c->debtor.iban, "%s", o->sepa_iban);
	snprintf(c->debtor.bic, sizeof c->debtor.bic, "%s", o->sepa_bic);
	return true;
}

/* sepa_config.on_return: a bank return, recorded by the service. */
static enum sepa_return sepa_on_return(void *arg, const char *tenant_id, const char *session_id,
				       const char *reason)
{
	enum svc_return_outcome out;
	if (svc_session_return(arg, tenant_id, session_id, reason, &out) != ERR_OK)
		return SEPA_RETURN_ERROR;
	return out == SVC_RETURNED || out == SVC_RETURN_ALREADY ? SEPA_RETURN_DONE
	       : out == SVC_RETURN_NOT_YET			 ? SEPA_RETURN_LATER
								 : SEPA_RETURN_NONE;
}

/* The rails of serve: the sandbox for every rail name, and with sepa the
 * file rail for the two SEPA rails (rails/registry.h). */
/* --rails: a comma-separated list of sandbox (always there: it answers
 * what no other rail takes), sepa_file and evm. */
static bool rails_parse(const char *spec, bool *sepa, bool *evm)
{
	*sepa = *evm = false;
	char buf[64];
	if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
		return false;
	char *save = NULL;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "sepa_file"))
			*sepa = true;
		else if (!strcmp(w, "evm"))
			*evm = true;
		else if (strcmp(w, "sandbox") != 0)
			return false;
	}
	return true;
}

static struct rail *rails_new(struct service *svc, struct sepa_config *sepa)
{
	struct rail *reg = rail_registry_new(rail_sandbox_new(svc->store));
	if (!reg || !sepa)
		return reg;
	iso_init();
	sepa->on_return = sepa_on_return;
	sepa->on_return_arg = svc;
	struct rail *file = rail_sepa_file_new(sepa, svc->store, true);
	if (!file || !rail_registry_route(reg, "sepa_credit_transfer", file)) {
		rail_close(file);
		rail_close(reg);
		return NULL;
	}
	rail_registry_route(reg, "sepa_instant", file);
	return reg;
}

/* admin import-bank-file FILE --rail-dir DIR: one report applied as the
 * inbound watcher would, the file left where it is. */
static int cmd_import_bank_file(struct service *svc, const struct opts *o)
{
	struct sepa_config c;
	if (o->nargs != 1) {
		fprintf(stderr, "offramp: import-bank-file takes one FILE\n");
		return 2;
	}
	if (!sepa_options(o, &c, false))
		return 2;
	c.on_return = sepa_on_return;
	c.on_return_arg = svc;
	iso_init();
	char why[512] = "";
	int count = 0;
	enum sepa_import r = sepa_import_file(&c, o->args[0], &count, why, sizeof why);
	json_t *j = r == SEPA_IMPORTED ? json_pack("{s:s, s:i}", "status", "imported", "payments", count)
			: json_pack("{s:s, s:s}", "status",
				    r == SEPA_REFUSED ? "refused" : r == SEPA_LATER ? "later" : "error",
				    "reason", why);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(j);
	return r == SEPA_IMPORTED ? 0 : 1;
}

/*
 * The operator's keys for webhook secrets at rest (docs/OPERATIONS.md):
 * --secret-key-file, else on SQLite "<db>.secret-key", made (0600) on
 * first use, so that the database file alone yields no secret; on
 * PostgreSQL every node must be given the same file, so there is no
 * default. Returns 0, or the exit status.
 */
static int secret_keys_load(const struct opts *o, struct svc_secret_keys *keys)
{
	static char dflt[4096];
	const char *path = o->secret_key_file;
	char err[512];
	uint8_t key[CRYPTO_AEAD_KEY_LEN], old[CRYPTO_AEAD_KEY_LEN];
	bool ok;
	if (!path && o->database_url) {
		fprintf(stderr, "offramp: on PostgreSQL, give --secret-key-file (the same file to "
				"every node): the key that seals webhook secrets at rest\n");
		return 2;
	}
	if (path) {
		ok = crypto_key_file_read(path, key, err, sizeof err);
	} else if (snprintf(dflt, sizeof dflt, "%s.secret-key", o->db) >= (int)sizeof dflt) {
		fprintf(stderr, "offramp: --db path too long\n");
		return 2;
	} else if (access(dflt, F_OK) == 0) {
		ok = crypto_key_file_read(path = dflt, key, err, sizeof err);
	} else {
		ok = crypto_key_file_create(path = dflt, key, err, sizeof err);
		if (ok)
			log_info("secrets: made the key file %s (mode 0600); keep it with, but apart "
				 "from, the database's backups",
				 dflt);
	}
	if (!ok) {
		fprintf(stderr, "offramp: secret key: %s\n", err);
		return 1;
	}
	if (o->old_secret_key_file &&
	    !crypto_key_file_read(o->old_secret_key_file, old, err, sizeof err)) {
		fprintf(stderr, "offramp: old secret key: %s\n", err);
		memset(key, 0, sizeof key);
		return 1;
	}
	svc_secret_keys_init(keys, key, o->old_secret_key_file ? old : NULL);
	memset(key, 0, sizeof key);
	memset(old, 0, sizeof old);
	return 0;
}

/* Every endpoint's secrets under the current key (serve at start, admin
 * rotate-secret-key); 0, or the exit status. */
static int secrets_reseal(struct service *svc, struct svc_reseal_report *r)
{
	enum err e = svc_secrets_reseal(svc, r);
	if (e == ERR_INVALID_VALUE) {
		fprintf(stderr,
			"offramp: the webhook secret of endpoint %s does not open: %s; nothing was "
			"changed\n",
			r->bad_endpoint,
			r->bad_no_key ? "it was sealed with a key that is neither --secret-key-file nor "
					"--old-secret-key-file"
				      : "it is damaged, or was moved from another row");
		return 1;
	}
	if (e != ERR_OK) {
		fprintf(stderr, "offramp: cannot seal webhook secrets: %s\n", err_code(e));
		return 1;
	}
	log_info("secrets: %d webhook endpoints, %d rewritten (%d in plaintext, %d under the old "
		 "key), key id %s",
		 r->endpoints, r->resealed, r->plaintext, r->old_key, svc->secret_keys->kid);
	return 0;
}

static int cmd_rotate_secret_key(struct service *svc)
{
	struct svc_reseal_report r;
	int rc = secrets_reseal(svc, &r);
	if (rc)
		return rc;
	print_json(json_pack("{s:b, s:i, s:i, s:i, s:i, s:s}", "ok", 1, "endpoints", r.endpoints,
			     "resealed", r.resealed, "plaintext", r.plaintext, "old_key", r.old_key,
			     "key_id", svc->secret_keys->kid));
	return 0;
}

/* struct service.workers_running (GET /readyz). */
static bool workers_alive(void *arg) { return workers_running(arg); }

static int cmd_serve(struct service *svc, const struct opts *o)
{
	struct sepa_config sepa;
	bool use_sepa, use_evm;
	if (!rails_parse(o->rails, &use_sepa, &use_evm)) {
		fprintf(stderr, "offramp: --rails: a comma-separated list of sandbox, sepa_file, evm\n");
		return 2;
	}
	if (use_sepa && !sepa_options(o, &sepa, true))
		return 2;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct rail *rail = rails_new(svc, use_sepa ? &sepa : NULL);
	if (rail && use_evm) {
		/* Crypto payouts on the configured networks go on chain; the
		 * sandbox answers every other crypto call. */
		char why[256];
		struct rail *evm = evm_rail_new(&o->evm, svc->store, rail_sandbox_new(svc->store), why,
						 sizeof why);
		if (!evm || !rail_registry_route(rail, "crypto", evm)) {
			if (!evm)
				fprintf(stderr, "offramp: %s\n", why);
			rail_close(evm);
			rail_close(rail);
			return 2;
		}
	}
	if (!rail)
		return 1;
	/* Workers first: every unfinished session resumes at once. */
	char node[LIMIT_NODE_ID_BYTES + 1];
	if (!node_id(o, node)) {
		rail_close(rail);
		return 2;
	}
	log_info("serve: node id %s", node);
	/* Before any thread reads an endpoint: every secret under this key. */
	struct svc_reseal_report rr;
	if (secrets_reseal(svc, &rr) != 0) {
		rail_close(rail);
		return 1;
	}
	struct workers *workers = workers_start(svc, rail, (int)o->workers, node);
	if (!workers) {
		rail_close(rail);
		return 1;
	}
	svc->workers_running = workers_alive;
	svc->workers_arg = workers;
	struct dispatcher *hooks = dispatcher_start(svc, o->webhook_allow_loopback, node);
	if (!hooks) {
		svc->workers_running = NULL;
		workers_stop(workers);
		rail_close(rail);
		return 1;
	}
	api_webhook_allow_loopback = o->webhook_allow_loopback;
	struct api api = {.svc = svc};
	struct http_config hc = {.listen = o->listen, .threads = (unsigned)o->http_threads,
				 .max_connections = (unsigned)o->max_connections,
				 .max_per_ip = (unsigned)o->max_per_ip,
				 .header_timeout_ms = (unsigned)o->header_timeout_ms};
	/* --metrics-listen: /metrics on its own listener, and not on this one. */
	struct api metrics_api = {.svc = svc, .metrics = API_METRICS_ONLY};
	struct http_metrics *metrics = NULL;
	if (o->metrics_listen) {
		api.metrics = API_METRICS_ELSEWHERE;
		if (!(metrics = http_metrics_start(o->metrics_listen, &metrics_api))) {
			dispatcher_stop(hooks);
			workers_stop(workers);
			rail_close(rail);
			return 1;
		}
	}
	struct http_server *http = http_start(&hc, &api);
	if (!http) {
		http_metrics_stop(metrics);
		dispatcher_stop(hooks);
		workers_stop(workers);
		rail_close(rail);
		return 1;
	}
	log_info("serve: ready (%s rails, step %ld ms)", o->rails, o->sandbox_step_ms);
	if (svc->rate)
		log_info("serve: at most %ld requests a second per API key, %ld at once", o->rate_limit,
			 o->rate_burst);
	else
		log_info("serve: no per-key rate limit");
	int sig = 0;
	sigwait(&set, &sig);
	log_info("serve: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_stop(http);
	http_metrics_stop(metrics);
	svc->workers_running = NULL;
	workers_stop(workers);
	dispatcher_stop(hooks);
	rail_close(rail);
	log_info("serve: stopped");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	const char *sub = NULL;
	if (cli_is_command(cmd))
		return cli_main(argc - 1, argv + 1); /* src/cli: a client of a running server */
	int shift = 1;
	if (strcmp(cmd, "admin") == 0) {
		if (argc < 3) {
			usage(stderr);
			return 2;
		}
		sub = argv[2];
		shift = 2;
	} else if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	} else if (strcmp(cmd, "serve") != 0) {
		usage(stderr);
		return 2;
	}
	if (sub && strcmp(sub, "create-tenant") != 0 && strcmp(sub, "create-api-key") != 0 &&
	    strcmp(sub, "verify-ledger") != 0 && strcmp(sub, "set-rate") != 0 &&
	    strcmp(sub, "set-fees") != 0 && strcmp(sub, "bulk-load") != 0 &&
	    strcmp(sub, "query-plans") != 0 && strcmp(sub, "migrate-sqlite") != 0 &&
	    strcmp(sub, "import-bank-file") != 0 &&
	    strcmp(sub, "rotate-secret-key") != 0) {
		fprintf(stderr, "offramp: unknown admin command '%s'\n", sub);
		usage(stderr);
		return 2;
	}
	struct opts o = {0};
	int rc = parse_opts(argc - shift, argv + shift, &o);
	if (rc)
		return rc;
	if (sub)
		log_set_level(LOG_WARN); /* admin output is the JSON line */
	json_in_init();
	if (!sub && !fault_init())
		return 2; /* a malformed OFFRAMP_FAULT (test build only) */

	struct store *st = open_store(&o);
	if (!st)
		return 1;
	struct service svc = {.store = st, .fees = fees_default(), .sandbox = true,
			      .step_ms = o.sandbox_step_ms,
			      .session_lease_ms = o.session_lease_ms,
			      .session_snapshot = api_session_snapshot,
			      .hook_payloads = api_hook_payloads,
			      .destination_read = api_destination_read,
			      .hook_retry_base_ms = o.webhook_retry_base_ms};
	/* serve caches authenticated keys and the metrics' database gauges;
	 * admin commands need neither. */
	if (!sub && (!(svc.auth_cache = svc_auth_cache_new()) ||
		     !(svc.gauge_cache = svc_gauge_cache_new()))) {
		svc_auth_cache_free(svc.auth_cache);
		fprintf(stderr, "offramp: out of memory\n");
		store_close(st);
		return 1;
	}
	/* serve's per-key rate limit; --rate-limit 0 or --rate-burst 0: none. */
	if (!sub && o.rate_limit > 0 && o.rate_burst > 0 &&
	    !(svc.rate = svc_rate_new((uint64_t)o.rate_limit, (uint64_t)o.rate_burst))) {
		fprintf(stderr, "offramp: out of memory\n");
		svc_auth_cache_free(svc.auth_cache);
		svc_gauge_cache_free(svc.gauge_cache);
		store_close(st);
		return 1;
	}
	/* serve and rotate-secret-key seal webhook secrets; the other admin
	 * commands never read one. */
	struct svc_secret_keys keys;
	if (!sub || strcmp(sub, "rotate-secret-key") == 0) {
		if (sub && !o.old_secret_key_file)
			log_info("rotate-secret-key: no --old-secret-key-file: only secrets in "
				 "plaintext are sealed");
		if ((rc = secret_keys_load(&o, &keys)) != 0) {
			svc_auth_cache_free(svc.auth_cache);
			svc_gauge_cache_free(svc.gauge_cache);
			svc_rate_free(svc.rate);
			store_close(st);
			return rc;
		}
		svc.secret_keys = &keys;
	}
	if (!hook_global_init()) {
		fprintf(stderr, "offramp: cannot start libcurl\n");
		store_close(st);
		return 1;
	}
	if (!sub && o.nargs) {
		fprintf(stderr, "offramp: unexpected argument '%s'\n", o.args[0]);
		rc = 2;
	} else if (!sub)
		rc = cmd_serve(&svc, &o);
	else if (strcmp(sub, "set-rate") == 0)
		rc = cmd_set_rate(&svc, &o);
	else if (strcmp(sub, "set-fees") == 0)
		rc = cmd_set_fees(&svc, &o);
	else if (strcmp(sub, "create-tenant") == 0)
		rc = cmd_create_tenant(&svc, &o);
	else if (strcmp(sub, "create-api-key") == 0)
		rc = cmd_create_api_key(&svc, &o);
	else if (strcmp(sub, "bulk-load") == 0)
		rc = cmd_bulk_load(&svc, &o);
	else if (strcmp(sub, "query-plans") == 0)
		rc = cmd_query_plans(&svc);
	else if (strcmp(sub, "migrate-sqlite") == 0)
		rc = cmd_migrate_sqlite(&svc, &o);
	else if (strcmp(sub, "import-bank-file") == 0)
		rc = cmd_import_bank_file(&svc, &o);
	else if (strcmp(sub, "rotate-secret-key") == 0)
		rc = cmd_rotate_secret_key(&svc);
	else if (o.nargs) {
		fprintf(stderr, "offramp: unexpected argument '%s'\n", o.args[0]);
		rc = 2;
	} else
		rc = cmd_verify_ledger(&svc);
	store_close(st);
	svc_auth_cache_free(svc.auth_cache);
	svc_gauge_cache_free(svc.gauge_cache);
	svc_rate_free(svc.rate);
	if (svc.secret_keys)
		svc_secret_keys_clear(&keys);
	hook_global_fini();
	return rc;
}
