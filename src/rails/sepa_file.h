/*
 * sepa_file.h - the ISO 20022 SEPA file rail (CONTRACT §13,
 * docs/RAILS.md): payouts on sepa_credit_transfer and sepa_instant paid
 * by pain.001 files, their fate read from pain.002 and camt.054 reports.
 *
 * Its directory (--rail-dir):
 *   outbound/   pain.001 files for the bank, one per batch, never rewritten
 *   inbound/    reports from the bank, read by a thread of the rail
 *   processed/  reports read and applied
 *   failed/     reports refused (invalid, hostile, unmatched), each with
 *               <name>.reason beside it; they changed nothing
 *   state/      the rail's own durable book: batches/<MsgId>.json (the
 *               batch, recorded before its file is written),
 *               batches/<MsgId>.done, index/<EndToEndId> (the batch a
 *               payment is in, written once), results/<EndToEndId>.json
 *               (what the bank said of it)
 *
 * One `serve` process per directory: the rail serialises its own writes
 * with a mutex, not across processes. `admin import-bank-file` may run
 * beside it (its writes are atomic renames of idempotent results).
 */
#ifndef OFFRAMP_RAILS_SEPA_FILE_H
#define OFFRAMP_RAILS_SEPA_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rails/iso20022.h"
#include "rails/rail.h"

enum sepa_return {
	SEPA_RETURN_DONE,  /* returned now, or before */
	SEPA_RETURN_LATER, /* not settled yet: read the report again later */
	SEPA_RETURN_NONE,  /* nothing to return (never paid): logged, the report stands */
	SEPA_RETURN_ERROR, /* could not record it now: read the report again later */
};

struct sepa_config {
	const char *dir;        /* the rail directory (copied) */
	const char *schema_dir; /* the XSDs (schemas/iso20022; copied) */
	struct iso_party debtor;
	int64_t batch_ms;       /* a batch collects payouts this long */
	/* A report returned session_id's payment (ISO reason code reason),
	 * called after that result is durable in the rail's book, so a crash
	 * before the call is made good by reading the report again. The rail
	 * cannot move a settled session itself (rails sit below the service):
	 * serve and import-bank-file wire this to svc_session_return. NULL:
	 * returns are recorded only. Called from the importing thread. */
	enum sepa_return (*on_return)(void *arg, const char *tenant_id, const char *session_id,
				      const char *reason);
	void *on_return_arg;
};

struct store;
/* The file rail; store borrowed (sessions and destinations are read to
 * build the files). Creates the directories; starts the inbound thread
 * when watch. NULL (and a log line) on failure. */
struct rail *rail_sepa_file_new(const struct sepa_config *cfg, struct store *store, bool watch);

enum sepa_import {
	SEPA_IMPORTED, /* applied (or applied before: nothing changed) */
	SEPA_REFUSED,  /* invalid or unmatched: nothing changed; why says why */
	SEPA_ERROR,    /* could not read or write the directory; retry */
	SEPA_LATER,    /* recorded, but a returned payment is not settled yet: read again later */
};

/* Read the report at path and apply it to the rail directory cfg->dir.
 * Does not move the file. counts: the payments it named. */
enum sepa_import sepa_import_file(const struct sepa_config *cfg, const char *path, int *count,
				  char *why, size_t why_cap);

#endif
