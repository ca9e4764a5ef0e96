/*
 * cli.h - the operator CLI: `offramp sessions|accounts|approvals|webhooks`,
 * talking to a running server over HTTP (libcurl) with OFFRAMP_API_KEY.
 *
 * It shares nothing with the service but the limits: it is a client, as an
 * integrator's would be, so what it shows is what the API answers.
 */
#ifndef OFFRAMP_CLI_H
#define OFFRAMP_CLI_H

#include <stdbool.h>

/* True when cmd names a CLI command group (main.c dispatches on it). */
bool cli_is_command(const char *cmd);

/* Runs one CLI command; argv[0] is the group ("sessions", ...). Returns the
 * exit status: 0 done, 1 the server refused or could not be reached, 2 bad
 * usage. Not thread-safe (calls curl_global_init). */
int cli_main(int argc, char **argv);

/* Progress of a long admin operation on stderr, only when stderr is a
 * terminal (scripts and logs see nothing): "label: done/total (p%)",
 * redrawn in place at most every 200 ms; total 0 means unknown. Call
 * cli_progress_end once after the last update. Not thread-safe. */
void cli_progress(const char *label, unsigned long long done, unsigned long long total);
void cli_progress_end(void);

#endif
