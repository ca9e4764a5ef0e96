/*
 * test_iso20022.c - the ISO 20022 messages (rails/iso20022.h): pain.001
 * is a function of its inputs (same bytes twice), valid against the
 * shipped XSD, with control sums that add up per PmtInf and in total and
 * INST only on the instant block; reports are read into the items they
 * name; hostile reports are refused with a reason and nothing to free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "base/limits.h"
#include "rails/iso20022.h"

#define SCHEMAS "schemas/iso20022"

static const struct iso_party debtor = {"Offramp Operator GmbH", "DE89370400440532013000",
					"COBADEFFXXX"};

static struct iso_payment pay(const char *e2e, int64_t minor, bool instant, const char *ref)
{
	struct iso_payment p = {.amount_minor = minor, .scale = 2, .instant = instant};
	snprintf(p.end_to_end_id, sizeof p.end_to_end_id, "%s", e2e);
	snprintf(p.creditor.name, sizeof p.creditor.name, "Payee <&> \"é\"");
	snprintf(p.creditor.iban, sizeof p.creditor.iban, "GB29NWBK60161331926819");
	snprintf(p.creditor.bic, sizeof p.creditor.bic, "NWBKGB2L");
	snprintf(p.currency, sizeof p.currency, "EUR");
	snprintf(p.reference, sizeof p.reference, "%s", ref);
	return p;
}

static int schema_check(const char *doc, size_t len, const char *xsd)
{
	char path[256];
	snprintf(path, sizeof path, SCHEMAS "/%s", xsd);
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
	xmlSchemaPtr s = xmlSchemaParse(pc);
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(s);
	xmlDocPtr d = xmlReadMemory(doc, (int)len, "x.xml", NULL, XML_PARSE_NONET);
	int rc = d && vc ? xmlSchemaValidateDoc(vc, d) : -1;
	xmlFreeDoc(d);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(s);
	xmlSchemaFreeParserCtxt(pc);
	return rc;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_pain001(void **state)
{
	struct iso_payment p[] = {
		pay("aaaa", 1000, false, "RF18539007547034"),
		pay("bbbb", 2050, true, "Invoice 4711"),
		pay("cccc", 3025, false, ""),
		pay("dddd", 1, true, "RF18539007547034"),
	};
	char *a, *b;
	size_t la, lb;
	assert_true(iso_pain001_build(&debtor, "OFRMSG", 1780000000, p, 4, &a, &la));
	assert_true(iso_pain001_build(&debtor, "OFRMSG", 1780000000, p, 4, &b, &lb));
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(b);
	assert_int_equal(schema_check(a, la, "pain.001.001.09.xsd"), 0);
	assert_non_null(strstr(a, "<NbOfTxs>4</NbOfTxs>\n      <CtrlSum>60.76</CtrlSum>"));
	assert_non_null(strstr(a, "<PmtInfId>OFRMSG-SCT</PmtInfId>"));
	assert_non_null(strstr(a, "<NbOfTxs>2</NbOfTxs>\n      <CtrlSum>40.25</CtrlSum>"));
	assert_non_null(strstr(a, "<NbOfTxs>2</NbOfTxs>\n      <CtrlSum>20.51</CtrlSum>"));
	assert_int_equal(count(a, "<Cd>INST</Cd>"), 1);
	assert_int_equal(count(a, "<Cd>SEPA</Cd>"), 2);
	assert_int_equal(count(a, "<Ref>RF18539007547034</Ref>"), 2);
	assert_int_equal(count(a, "<Ustrd>Invoice 4711</Ustrd>"), 1);
	assert_int_equal(count(a, "<RmtInf>"), 3); /* none for an empty reference */
	assert_non_null(strstr(a, "<InstdAmt Ccy=\"EUR\">0.01</InstdAmt>"));
	assert_non_null(strstr(a, "<Nm>Payee &lt;&amp;&gt; \"é\"</Nm>"));
	assert_non_null(strstr(a, "<CreDtTm>2026-05-28T20:26:40</CreDtTm>"));
	free(a);
	assert_false(iso_pain001_build(&debtor, "OFRMSG", 0, p, 0, &a, &la));
	assert_null(a);
}

static bool read(const char *doc, struct iso_report *r, char *why)
{
	return iso_report_read(doc, strlen(doc), SCHEMAS, r, why, 256);
}

static void test_reports(void **state)
{
	static const char p002[] =
		"<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">"
		"<CstmrPmtStsRpt><GrpHdr><MsgId>STS</MsgId><CreDtTm>2026-05-03T10:15:00</CreDtTm></GrpHdr>"
		"<OrgnlGrpInfAndSts><OrgnlMsgId>OFRMSG</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09"
		"</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts>"
		"<OrgnlPmtInfId>OFRMSG-SCT</OrgnlPmtInfId><TxInfAndSts><OrgnlEndToEndId>aaaa"
		"</OrgnlEndToEndId><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>"
		"</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>";
	struct iso_report r;
	char why[256] = "";
	assert_true(read(p002, &r, why));
	assert_string_equal(r.kind, "pain.002.001.10");
	assert_int_equal(r.n, 2); /* the group's PART, the payment's RJCT */
	assert_int_equal(r.items[0].outcome, ISO_ACCEPTED);
	assert_string_equal(r.items[0].msg_id, "OFRMSG");
	assert_int_equal(r.items[1].outcome, ISO_REJECTED);
	assert_string_equal(r.items[1].end_to_end_id, "aaaa");
	assert_string_equal(r.items[1].pmtinf_id, "OFRMSG-SCT");
	assert_string_equal(r.items[1].reason, "AC04");
	iso_report_free(&r);

	static const char c054[] =
		"<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">"
		"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>NTF</MsgId><CreDtTm>2026-05-03T18:00:00</CreDtTm>"
		"</GrpHdr><Ntfctn><Id>N</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>"
		"<Ntry><Amt Ccy=\"EUR\">10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
		"<BkTxCd/><NtryDtls><TxDtls><Refs><EndToEndId>aaaa</EndToEndId></Refs><Amt Ccy=\"EUR\">"
		"10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd></TxDtls></NtryDtls></Ntry>"
		"<Ntry><Amt Ccy=\"EUR\">9.99</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
		"<BkTxCd/><NtryDtls><TxDtls><Refs><EndToEndId>bbbb</EndToEndId></Refs>"
		"<CdtDbtInd>CRDT</CdtDbtInd><RtrInf><Rsn><Cd>MD07</Cd></Rsn></RtrInf></TxDtls>"
		"</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>";
	assert_true(read(c054, &r, why));
	assert_int_equal(r.n, 2);
	assert_int_equal(r.items[0].outcome, ISO_BOOKED);
	assert_int_equal(r.items[0].amount_minor, 1000);
	assert_int_equal(r.items[1].outcome, ISO_RETURNED);
	assert_string_equal(r.items[1].reason, "MD07");
	assert_int_equal(r.items[1].amount_minor, 999); /* the entry's, the detail has none */
	iso_report_free(&r);

	/* Refused, each with its reason, nothing to free. */
	static const struct {
		const char *doc, *why;
	} bad[] = {
		{"<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		 "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">&x;</Document>",
		 "declaration"},
		{"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\"><a>", "well-formed"},
		{"<Document xmlns=\"urn:x\"/>", "not a pain.002"},
		{"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\"><X/></Document>",
		 "not valid"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why[0] = '\0';
		assert_false(read(bad[i].doc, &r, why));
		assert_non_null(strstr(why, bad[i].why));
		assert_null(r.items);
	}
	/* Too deep, before the schema is consulted. */
	char deep[4096] = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">";
	for (int i = 0; i < LIMIT_BANK_REPORT_DEPTH + 1; i++)
		strcat(deep, "<a>");
	for (int i = 0; i < LIMIT_BANK_REPORT_DEPTH + 1; i++)
		strcat(deep, "</a>");
	strcat(deep, "</Document>");
	assert_false(read(deep, &r, why));
	assert_non_null(strstr(why, "deep"));
	/* Too large, unread. */
	assert_false(iso_report_read(p002, LIMIT_BANK_REPORT_BYTES + 1, SCHEMAS, &r, why, 256));
	assert_non_null(strstr(why, "too large"));
}

int main(void)
{
	iso_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pain001),
		cmocka_unit_test(test_reports),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	xmlCleanupParser();
	return rc;
}
