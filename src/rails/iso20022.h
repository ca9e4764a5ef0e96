/*
 * iso20022.h - the ISO 20022 messages of the SEPA file rail, written and
 * read with libxml2 (never by string concatenation or a parser of ours):
 *   pain.001.001.09  credit transfer initiation (out),
 *   pain.002.001.10  payment status report (in: rejections),
 *   camt.054.001.08  debit/credit notification (in: bookings, returns).
 *
 * Reports are hostile input. iso_report_read() refuses, before reading a
 * single payment, a report over LIMIT_BANK_REPORT_BYTES, one with a DTD
 * or an entity declaration, one nested deeper than LIMIT_BANK_REPORT_DEPTH,
 * and (given a schema directory) one not valid against its XSD. The
 * parser never touches the network (XML_PARSE_NONET), substitutes no
 * entity and loads no DTD.
 *
 * Thread-safety: every function is reentrant once iso_init() has run
 * (libxml2's own one-time initialisation).
 */
#ifndef OFFRAMP_RAILS_ISO20022_H
#define OFFRAMP_RAILS_ISO20022_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISO_ID_MAX 35    /* Max35Text: MsgId, PmtInfId, EndToEndId */
#define ISO_NAME_MAX 140 /* Max140Text: names, unstructured remittance */

struct iso_party {
	char name[ISO_NAME_MAX * 4 + 1]; /* UTF-8 */
	char iban[35];
	char bic[12];
};

/* One CdtTrfTxInf. */
struct iso_payment {
	char end_to_end_id[ISO_ID_MAX + 1];
	struct iso_party creditor;
	char currency[4];
	int64_t amount_minor; /* > 0, in currency's minor unit */
	int scale;            /* currency's digits after the point */
	char reference[ISO_NAME_MAX * 4 + 1]; /* "" for none */
	bool instant;         /* sepa_instant: LclInstrm INST */
};

/* Build a pain.001.001.09 document: one PmtInf per instrument present
 * (plain SEPA, then INST), payments in their given order. created_utc is
 * Unix seconds (the file's CreDtTm and ReqdExctnDt), so the same inputs
 * give the same bytes. *out is malloc'd and NUL-terminated (free() it),
 * *len its length without the NUL.
 * False when out of memory or n is not 1..LIMIT_SEPA_FILE_TXS. */
bool iso_pain001_build(const struct iso_party *debtor, const char *msg_id, int64_t created_utc,
		       const struct iso_payment *p, int n, char **out, size_t *len);

/* The PmtInfId of a file's plain or instant block. */
void iso_pmtinf_id(const char *msg_id, bool instant, char out[ISO_ID_MAX + 1]);

enum iso_outcome {
	ISO_ACCEPTED, /* any other status: names a payment, changes nothing */
	ISO_REJECTED, /* pain.002 RJCT */
	ISO_BOOKED,   /* camt.054 DBIT entry, BOOK */
	ISO_RETURNED, /* camt.054 CRDT entry with return information */
};

/* One thing a report says. A pain.002 rejection at group or payment-info
 * level names no end_to_end_id but the original msg_id (and pmtinf_id);
 * the reader of the report expands it to the payments it covered. */
struct iso_item {
	enum iso_outcome outcome;
	char end_to_end_id[ISO_ID_MAX + 1]; /* "" for a group/PmtInf rejection */
	char msg_id[ISO_ID_MAX + 1];        /* original MsgId ("" when not given) */
	char pmtinf_id[ISO_ID_MAX + 1];     /* original PmtInfId ("" for group level) */
	char reason[8];                     /* ISO reason code ("AC04"), "" when none */
	char currency[4];
	int64_t amount_minor; /* -1 when not given */
};

struct iso_report {
	char kind[20];                 /* "pain.002.001.10" | "camt.054.001.08" */
	char msg_id[ISO_ID_MAX + 1];   /* the report's own MsgId */
	struct iso_item *items;        /* owned: iso_report_free */
	int n;
};

/* One-time libxml2 set-up; call before threads start. */
void iso_init(void);

/* Read a report from buf[0, len). schema_dir: where the XSDs are
 * (schemas/iso20022), NULL to skip validation (the fuzz target). On
 * failure returns false, *out is empty and why (a short reason for the
 * operator, written beside the refused file) says what was wrong. */
bool iso_report_read(const char *buf, size_t len, const char *schema_dir, struct iso_report *out,
		     char *why, size_t why_cap);
void iso_report_free(struct iso_report *r);

#endif
