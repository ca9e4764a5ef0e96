/*
 * iso20022.c - pain.001 written with libxml2's tree API; pain.002 and
 * camt.054 read with its parser and XPath (iso20022.h).
 *
 * Writing: every value goes in through xmlNewTextChild, which escapes it,
 * so a beneficiary name or reference cannot change the document's shape.
 * The output is a function of the inputs alone (no clock read here), which
 * is what lets the file rail rewrite a file after a crash byte for byte.
 *
 * Reading, in the order of the checks (each refusal is cheap before the
 * next): the byte cap; no "<!DOCTYPE"/"<!ENTITY" anywhere (entities are
 * how XXE and billion-laughs reports work, and no bank report needs one);
 * parse with XML_PARSE_NONET and without NOENT/DTDLOAD; the depth cap;
 * the root's namespace picks the message and its XSD; schema validation;
 * then the payments, read by XPath.
 */
#include "rails/iso20022.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "base/limits.h"
#include "domain/money.h"

#define NS_PAIN001 "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
#define NS_PAIN002 "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
#define NS_CAMT054 "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"

/* libxml2's generic error handler prints to stderr: our logs are JSON
 * lines, and a hostile report's errors are the refusal's reason anyway. */
static void quiet(void *ctx, const char *msg, ...) {}

void iso_init(void)
{
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet);
}

/* ---- pain.001 ------------------------------------------------------------ */

static xmlNodePtr add(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static void amount_text(int64_t minor, int scale, char out[32])
{
	money_decimal(minor, scale, scale, out, 32);
}

static void fin_inst(xmlNodePtr parent, const char *name, const char *bic)
{
	add(add(add(parent, name, NULL), "FinInstnId", NULL), "BICFI", bic);
}

static void account(xmlNodePtr parent, const char *name, const char *iban)
{
	add(add(add(parent, name, NULL), "Id", NULL), "IBAN", iban);
}

/* Structured creditor reference for an RF reference (ISO 11649, checked
 * at the session's creation), unstructured text for any other. */
static void remittance(xmlNodePtr tx, const char *ref)
{
	if (!ref[0])
		return;
	xmlNodePtr rmt = add(tx, "RmtInf", NULL);
	if (strncmp(ref, "RF", 2) != 0 || strlen(ref) > 25) {
		add(rmt, "Ustrd", ref);
		return;
	}
	xmlNodePtr cri = add(add(rmt, "Strd", NULL), "CdtrRefInf", NULL);
	xmlNodePtr tp = add(cri, "Tp", NULL);
	add(add(tp, "CdOrPrtry", NULL), "Cd", "SCOR");
	add(tp, "Issr", "ISO");
	add(cri, "Ref", ref);
}

static void transaction(xmlNodePtr pmtinf, const struct iso_payment *p)
{
	xmlNodePtr tx = add(pmtinf, "CdtTrfTxInf", NULL);
	xmlNodePtr id = add(tx, "PmtId", NULL);
	add(id, "InstrId", p->end_to_end_id);
	add(id, "EndToEndId", p->end_to_end_id);
	char amt[32];
	amount_text(p->amount_minor, p->scale, amt);
	xmlNodePtr ia = add(add(tx, "Amt", NULL), "InstdAmt", amt);
	xmlNewProp(ia, BAD_CAST "Ccy", BAD_CAST p->currency);
	fin_inst(tx, "CdtrAgt", p->creditor.bic);
	add(add(tx, "Cdtr", NULL), "Nm", p->creditor.name);
	account(tx, "CdtrAcct", p->creditor.iban);
	remittance(tx, p->reference);
}

void iso_pmtinf_id(const char *msg_id, bool instant, char out[ISO_ID_MAX + 1])
{
	/* msg_id is at most 35: keep its head so the suffix always fits. */
	snprintf(out, ISO_ID_MAX + 1, "%.30s-%s", msg_id, instant ? "INST" : "SCT");
}

static void sums(const struct iso_payment *p, int n, int kind, int *count, int64_t *total)
{
	*count = 0;
	*total = 0;
	for (int i = 0; i < n; i++)
		if (kind < 0 || p[i].instant == (kind == 1)) {
			(*count)++;
			*total += p[i].amount_minor;
		}
}

static void group_totals(xmlNodePtr parent, const struct iso_payment *p, int n, int kind)
{
	int count;
	int64_t total;
	char buf[32];
	sums(p, n, kind, &count, &total);
	snprintf(buf, sizeof buf, "%d", count);
	add(parent, "NbOfTxs", buf);
	amount_text(total, p[0].scale, buf);
	add(parent, "CtrlSum", buf);
}

static void payment_info(xmlNodePtr root, const struct iso_party *debtor, const char *msg_id,
			 const char *date, const struct iso_payment *p, int n, bool instant)
{
	int count;
	int64_t total;
	sums(p, n, instant, &count, &total);
	if (count == 0)
		return;
	xmlNodePtr pi = add(root, "PmtInf", NULL);
	char id[ISO_ID_MAX + 1];
	iso_pmtinf_id(msg_id, instant, id);
	add(pi, "PmtInfId", id);
	add(pi, "PmtMtd", "TRF");
	group_totals(pi, p, n, instant);
	xmlNodePtr tp = add(pi, "PmtTpInf", NULL);
	add(add(tp, "SvcLvl", NULL), "Cd", "SEPA");
	if (instant)
		add(add(tp, "LclInstrm", NULL), "Cd", "INST");
	add(add(pi, "ReqdExctnDt", NULL), "Dt", date);
	add(add(pi, "Dbtr", NULL), "Nm", debtor->name);
	account(pi, "DbtrAcct", debtor->iban);
	fin_inst(pi, "DbtrAgt", debtor->bic);
	add(pi, "ChrgBr", "SLEV");
	for (int i = 0; i < n; i++)
		if (p[i].instant == instant)
			transaction(pi, &p[i]);
}

bool iso_pain001_build(const struct iso_party *debtor, const char *msg_id, int64_t created_utc,
		       const struct iso_payment *p, int n, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (n < 1 || n > LIMIT_SEPA_FILE_TXS)
		return false;
	time_t t = (time_t)created_utc;
	struct tm tm;
	gmtime_r(&t, &tm);
	char when[32], date[16];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(date, sizeof date, "%Y-%m-%d", &tm);

	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr docel = xmlNewNode(NULL, BAD_CAST "Document");
	if (!doc || !docel) {
		xmlFreeNode(docel);
		xmlFreeDoc(doc);
		return false;
	}
	xmlDocSetRootElement(doc, docel);
	xmlSetNs(docel, xmlNewNs(docel, BAD_CAST NS_PAIN001, NULL));
	xmlNodePtr root = add(docel, "CstmrCdtTrfInitn", NULL);
	xmlNodePtr gh = add(root, "GrpHdr", NULL);
	add(gh, "MsgId", msg_id);
	add(gh, "CreDtTm", when);
	group_totals(gh, p, n, -1);
	add(add(gh, "InitgPty", NULL), "Nm", debtor->name);
	payment_info(root, debtor, msg_id, date, p, n, false);
	payment_info(root, debtor, msg_id, date, p, n, true);
	xmlChar *buf = NULL;
	int size = 0;
	xmlDocDumpFormatMemoryEnc(doc, &buf, &size, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (!buf || size <= 0)
		return false;
	*out = malloc((size_t)size + 1);
	if (*out) {
		memcpy(*out, buf, (size_t)size);
		(*out)[size] = '\0';
		*len = (size_t)size;
	}
	xmlFree(buf);
	return *out != NULL;
}

/* ---- reading reports ----------------------------------------------------- */

static bool refuse(char *why, size_t cap, const char *msg)
{
	snprintf(why, cap, "%s", msg);
	return false;
}

static bool too_deep(xmlNodePtr n, int depth)
{
	if (depth > LIMIT_BANK_REPORT_DEPTH)
		return true;
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && too_deep(c, depth + 1))
			return true;
	return false;
}

/* Validate doc against schema_dir/<kind>.xsd. */
static bool valid(xmlDocPtr doc, const char *schema_dir, const char *kind, char *why, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.xsd", schema_dir, kind);
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
	xmlSchemaPtr schema = pc ? xmlSchemaParse(pc) : NULL;
	xmlSchemaValidCtxtPtr vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
	int rc = vc ? xmlSchemaValidateDoc(vc, doc) : -1;
	if (vc)
		xmlSchemaFreeValidCtxt(vc);
	if (schema)
		xmlSchemaFree(schema);
	if (pc)
		xmlSchemaFreeParserCtxt(pc);
	if (rc < 0)
		return refuse(why, cap, "schema not available");
	if (rc > 0) {
		const xmlError *e = xmlGetLastError();
		snprintf(why, cap, "not valid against %s.xsd%s%s", kind, e && e->message ? ": " : "",
			 e && e->message ? e->message : "");
		size_t l = strlen(why);
		if (l && why[l - 1] == '\n')
			why[l - 1] = '\0';
		return false;
	}
	return true;
}

/* The text of the first node expr finds under ctx (relative), into out. */
static void text_at(xmlXPathContextPtr xp, xmlNodePtr ctx, const char *expr, char *out, size_t cap)
{
	out[0] = '\0';
	xp->node = ctx;
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, xp);
	if (o && o->nodesetval && o->nodesetval->nodeNr > 0) {
		xmlChar *t = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
		if (t)
			snprintf(out, cap, "%s", (const char *)t);
		xmlFree(t);
	}
	xmlXPathFreeObject(o);
}

/* The nodes expr finds under ctx; NULL when none. Free with xmlXPathFreeObject. */
static xmlXPathObjectPtr nodes_at(xmlXPathContextPtr xp, xmlNodePtr ctx, const char *expr)
{
	xp->node = ctx;
	return xmlXPathEvalExpression(BAD_CAST expr, xp);
}

static int count_of(xmlXPathObjectPtr o)
{
	return o && o->nodesetval ? o->nodesetval->nodeNr : 0;
}

struct reader {
	xmlXPathContextPtr xp;
	struct iso_report *r;
	int cap;
	bool full;
};

static struct iso_item *push(struct reader *rd)
{
	if (rd->r->n >= rd->cap) {
		if (rd->cap >= LIMIT_BANK_REPORT_ENTRIES) {
			rd->full = true;
			return NULL;
		}
		int cap = rd->cap ? rd->cap * 2 : 16;
		struct iso_item *m = realloc(rd->r->items, (size_t)cap * sizeof *m);
		if (!m) {
			rd->full = true;
			return NULL;
		}
		rd->r->items = m;
		rd->cap = cap;
	}
	struct iso_item *it = &rd->r->items[rd->r->n++];
	memset(it, 0, sizeof *it);
	it->amount_minor = -1;
	return it;
}

static void amount_of(struct reader *rd, xmlNodePtr n, const char *expr, struct iso_item *it)
{
	char v[64], ccy[8], e2[128];
	text_at(rd->xp, n, expr, v, sizeof v);
	snprintf(e2, sizeof e2, "%s/@Ccy", expr);
	text_at(rd->xp, n, e2, ccy, sizeof ccy);
	enum currency c = money_currency(ccy);
	snprintf(it->currency, sizeof it->currency, "%s", ccy);
	int64_t m;
	if (v[0] && c != CUR_NONE && money_parse(v, strlen(v), c, &m) == ERR_OK)
		it->amount_minor = m;
}

static enum iso_outcome status_outcome(const char *sts)
{
	return strcmp(sts, "RJCT") == 0 ? ISO_REJECTED : ISO_ACCEPTED;
}

static void read_pain002(struct reader *rd, xmlNodePtr root)
{
	xmlXPathContextPtr xp = rd->xp;
	text_at(xp, root, "d:CstmrPmtStsRpt/d:GrpHdr/d:MsgId", rd->r->msg_id, sizeof rd->r->msg_id);
	char orig[ISO_ID_MAX + 1], sts[8];
	text_at(xp, root, "d:CstmrPmtStsRpt/d:OrgnlGrpInfAndSts/d:OrgnlMsgId", orig, sizeof orig);
	text_at(xp, root, "d:CstmrPmtStsRpt/d:OrgnlGrpInfAndSts/d:GrpSts", sts, sizeof sts);
	struct iso_item *it;
	if (sts[0] && (it = push(rd))) {
		it->outcome = status_outcome(sts);
		snprintf(it->msg_id, sizeof it->msg_id, "%s", orig);
		text_at(xp, root, "d:CstmrPmtStsRpt/d:OrgnlGrpInfAndSts/d:StsRsnInf/d:Rsn/d:Cd",
			it->reason, sizeof it->reason);
	}
	xmlXPathObjectPtr pis = nodes_at(xp, root, "d:CstmrPmtStsRpt/d:OrgnlPmtInfAndSts");
	for (int i = 0; i < count_of(pis) && !rd->full; i++) {
		xmlNodePtr pi = pis->nodesetval->nodeTab[i];
		char pid[ISO_ID_MAX + 1];
		text_at(xp, pi, "d:OrgnlPmtInfId", pid, sizeof pid);
		text_at(xp, pi, "d:PmtInfSts", sts, sizeof sts);
		if (sts[0] && (it = push(rd))) {
			it->outcome = status_outcome(sts);
			snprintf(it->msg_id, sizeof it->msg_id, "%s", orig);
			snprintf(it->pmtinf_id, sizeof it->pmtinf_id, "%s", pid);
			text_at(xp, pi, "d:StsRsnInf/d:Rsn/d:Cd", it->reason, sizeof it->reason);
		}
		xmlXPathObjectPtr txs = nodes_at(xp, pi, "d:TxInfAndSts");
		for (int j = 0; j < count_of(txs) && !rd->full; j++) {
			xmlNodePtr tx = txs->nodesetval->nodeTab[j];
			if (!(it = push(rd)))
				break;
			text_at(xp, tx, "d:TxSts", sts, sizeof sts);
			it->outcome = status_outcome(sts);
			snprintf(it->msg_id, sizeof it->msg_id, "%s", orig);
			snprintf(it->pmtinf_id, sizeof it->pmtinf_id, "%s", pid);
			text_at(xp, tx, "d:OrgnlEndToEndId", it->end_to_end_id, sizeof it->end_to_end_id);
			text_at(xp, tx, "d:StsRsnInf/d:Rsn/d:Cd", it->reason, sizeof it->reason);
			amount_of(rd, tx, "d:OrgnlTxRef/d:Amt/d:InstdAmt", it);
		}
		xmlXPathFreeObject(txs);
	}
	xmlXPathFreeObject(pis);
}

/* One TxDtls of a camt.054 entry: a booked debit pays a payment; a credit
 * carrying return information returns one. */
static void read_tx_details(struct reader *rd, xmlNodePtr ntry, xmlNodePtr tx, bool booked,
			    const char *entry_cd)
{
	xmlXPathContextPtr xp = rd->xp;
	char cd[8], e2e[ISO_ID_MAX + 1];
	text_at(xp, tx, "d:CdtDbtInd", cd, sizeof cd);
	if (!cd[0])
		snprintf(cd, sizeof cd, "%s", entry_cd);
	text_at(xp, tx, "d:Refs/d:EndToEndId", e2e, sizeof e2e);
	struct iso_item *it = push(rd);
	if (!it)
		return;
	snprintf(it->end_to_end_id, sizeof it->end_to_end_id, "%s", e2e);
	text_at(xp, tx, "d:Refs/d:MsgId", it->msg_id, sizeof it->msg_id);
	text_at(xp, tx, "d:Refs/d:PmtInfId", it->pmtinf_id, sizeof it->pmtinf_id);
	xmlXPathObjectPtr rtr = nodes_at(xp, tx, "d:RtrInf");
	bool returned = count_of(rtr) > 0;
	xmlXPathFreeObject(rtr);
	if (returned && strcmp(cd, "CRDT") == 0 && booked) {
		it->outcome = ISO_RETURNED;
		text_at(xp, tx, "d:RtrInf/d:Rsn/d:Cd", it->reason, sizeof it->reason);
	} else if (!returned && strcmp(cd, "DBIT") == 0 && booked) {
		it->outcome = ISO_BOOKED;
	} else {
		it->outcome = ISO_ACCEPTED;
	}
	amount_of(rd, tx, "d:Amt", it);
	if (it->amount_minor < 0)
		amount_of(rd, ntry, "d:Amt", it);
}

static void read_camt054(struct reader *rd, xmlNodePtr root)
{
	xmlXPathContextPtr xp = rd->xp;
	text_at(xp, root, "d:BkToCstmrDbtCdtNtfctn/d:GrpHdr/d:MsgId", rd->r->msg_id,
		sizeof rd->r->msg_id);
	xmlXPathObjectPtr ntries = nodes_at(xp, root, "d:BkToCstmrDbtCdtNtfctn/d:Ntfctn/d:Ntry");
	for (int i = 0; i < count_of(ntries) && !rd->full; i++) {
		xmlNodePtr ntry = ntries->nodesetval->nodeTab[i];
		char sts[8], cd[8];
		text_at(xp, ntry, "d:Sts/d:Cd", sts, sizeof sts);
		text_at(xp, ntry, "d:CdtDbtInd", cd, sizeof cd);
		xmlXPathObjectPtr txs = nodes_at(xp, ntry, "d:NtryDtls/d:TxDtls");
		for (int j = 0; j < count_of(txs) && !rd->full; j++)
			read_tx_details(rd, ntry, txs->nodesetval->nodeTab[j],
					strcmp(sts, "BOOK") == 0, cd);
		xmlXPathFreeObject(txs);
	}
	xmlXPathFreeObject(ntries);
}

static bool read_doc(xmlDocPtr doc, const char *schema_dir, struct iso_report *out, char *why,
		     size_t cap)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	if (doc->intSubset || doc->extSubset)
		return refuse(why, cap, "a document type declaration is not allowed");
	if (!root || !root->ns || strcmp((const char *)root->name, "Document") != 0)
		return refuse(why, cap, "not an ISO 20022 Document");
	if (too_deep(root, 1))
		return refuse(why, cap, "nested too deeply");
	const char *ns = (const char *)root->ns->href;
	bool p002 = strcmp(ns, NS_PAIN002) == 0;
	if (!p002 && strcmp(ns, NS_CAMT054) != 0)
		return refuse(why, cap, "not a pain.002.001.10 or camt.054.001.08 report");
	snprintf(out->kind, sizeof out->kind, "%s", p002 ? "pain.002.001.10" : "camt.054.001.08");
	if (schema_dir && !valid(doc, schema_dir, out->kind, why, cap))
		return false;
	xmlXPathContextPtr xp = xmlXPathNewContext(doc);
	if (!xp || xmlXPathRegisterNs(xp, BAD_CAST "d", BAD_CAST ns) != 0) {
		xmlXPathFreeContext(xp);
		return refuse(why, cap, "out of memory");
	}
	struct reader rd = {.xp = xp, .r = out};
	if (p002)
		read_pain002(&rd, root);
	else
		read_camt054(&rd, root);
	xmlXPathFreeContext(xp);
	if (rd.full)
		return refuse(why, cap, "too many payments in one report");
	return true;
}

/* memmem for a marker, without a parser: a report with either is refused
 * before libxml2 sees it. */
static bool contains(const char *buf, size_t len, const char *needle)
{
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

bool iso_report_read(const char *buf, size_t len, const char *schema_dir, struct iso_report *out,
		     char *why, size_t why_cap)
{
	memset(out, 0, sizeof *out);
	if (len > LIMIT_BANK_REPORT_BYTES)
		return refuse(why, why_cap, "report too large");
	if (contains(buf, len, "<!DOCTYPE") || contains(buf, len, "<!ENTITY"))
		return refuse(why, why_cap, "a document type or entity declaration is not allowed");
	xmlDocPtr doc = xmlReadMemory(buf, (int)len, "report.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
					      XML_PARSE_NOWARNING);
	if (!doc)
		return refuse(why, why_cap, "not well-formed XML");
	bool ok = read_doc(doc, schema_dir, out, why, why_cap);
	xmlFreeDoc(doc);
	if (!ok)
		iso_report_free(out);
	return ok;
}

void iso_report_free(struct iso_report *r)
{
	free(r->items);
	r->items = NULL;
	r->n = 0;
}
