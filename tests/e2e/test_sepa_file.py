"""The ISO 20022 SEPA file rail end to end (CONTRACT §13, docs/RAILS.md).

`serve --rails sepa_file` pays `sepa_credit_transfer` and `sepa_instant`
sessions by pain.001.001.09 files in DIR/outbound/ and reads the bank's
pain.002.001.10 and camt.054.001.08 reports from DIR/inbound/ (or from
`admin import-bank-file`). Here the test plays the bank: it checks every
outbound file against the shipped XSD with `xmllint --schema` and field by
field, then writes reports that reject one payment (payment level) and a
whole file (group level), book the others, and return one, checking
statuses, balances, events, webhooks on both formats and verify-ledger
after each. Hostile and unmatched reports are refused into DIR/failed/
with a reason and change nothing. kill -9 while a file is being written and
while a report is being applied (the fault build's stall points,
OFFRAMP_TEST_STALL) loses nothing and duplicates nothing.
"""

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from offramp_e2e import BIN, REPO, Server, child_env, describe, poll_until, sepa_destination

SCHEMAS = REPO / "schemas" / "iso20022"
FAULT_BIN = os.environ.get("OFFRAMP_FAULT_BIN", str(REPO / "build" / "offramp-fault"))
NS001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
N = {"d": NS001}
DEBTOR = {"name": "Offramp Operator GmbH", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}
INSTANT_COORDS = {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "country": "DE"}
STEP_MS = 100
BATCH_MS = 400
WAIT = 20.0


def rail_args(rail_dir):
    return ["--rails", "sepa_file", "--rail-dir", str(rail_dir),
            "--sepa-debtor-name", DEBTOR["name"], "--sepa-debtor-iban", DEBTOR["iban"],
            "--sepa-debtor-bic", DEBTOR["bic"], "--sepa-batch-ms", str(BATCH_MS),
            "--webhook-allow-loopback", "--webhook-retry-base-ms", "100"]


# ---------------------------------------------------------------------------
# A webhook receiver: records every body, answers 200.
# ---------------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        with self.server.lock:
            self.server.got.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def hooks():
    h = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    h.daemon_threads = True
    h.lock = threading.Lock()
    h.got = []
    t = threading.Thread(target=h.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield h
    h.shutdown()
    h.server_close()


def hook_types(hooks, path, sid):
    with hooks.lock:
        got = list(hooks.got)
    out = []
    for p, b in got:
        if p != path:
            continue
        if "type" in b and b["data"].get("id") == sid:
            out.append(b["type"])
        if "eventType" in b and b["data"].get("id") == sid:
            out.append(b["eventType"])
    return out


# ---------------------------------------------------------------------------
# The bank's side: reading pain.001, writing reports.
# ---------------------------------------------------------------------------

def xmllint_ok(path, xsd):
    p = subprocess.run(["xmllint", "--noout", "--schema", str(SCHEMAS / xsd), str(path)],
                       capture_output=True, timeout=30)
    return p.returncode == 0, p.stderr.decode("utf-8", "replace")


def read_pain001(path):
    """{msg_id, nb, ctrl, pmtinfs: [{id, instant, nb, ctrl, txs: [...]}]} with
    every amount as a Decimal."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{{{NS001}}}Document"
    gh = root.find("d:CstmrCdtTrfInitn/d:GrpHdr", N)
    out = {"msg_id": gh.findtext("d:MsgId", namespaces=N), "nb": int(gh.findtext("d:NbOfTxs", namespaces=N)),
           "ctrl": Decimal(gh.findtext("d:CtrlSum", namespaces=N)),
           "initiator": gh.findtext("d:InitgPty/d:Nm", namespaces=N), "pmtinfs": []}
    for pi in root.findall("d:CstmrCdtTrfInitn/d:PmtInf", N):
        info = {
            "id": pi.findtext("d:PmtInfId", namespaces=N),
            "method": pi.findtext("d:PmtMtd", namespaces=N),
            "svclvl": pi.findtext("d:PmtTpInf/d:SvcLvl/d:Cd", namespaces=N),
            "lclinstrm": pi.findtext("d:PmtTpInf/d:LclInstrm/d:Cd", namespaces=N),
            "nb": int(pi.findtext("d:NbOfTxs", namespaces=N)),
            "ctrl": Decimal(pi.findtext("d:CtrlSum", namespaces=N)),
            "debtor": (pi.findtext("d:Dbtr/d:Nm", namespaces=N), pi.findtext("d:DbtrAcct/d:Id/d:IBAN", namespaces=N),
                       pi.findtext("d:DbtrAgt/d:FinInstnId/d:BICFI", namespaces=N)),
            "txs": [],
        }
        for tx in pi.findall("d:CdtTrfTxInf", N):
            amt = tx.find("d:Amt/d:InstdAmt", N)
            info["txs"].append({
                "e2e": tx.findtext("d:PmtId/d:EndToEndId", namespaces=N),
                "amount": Decimal(amt.text), "ccy": amt.get("Ccy"),
                "bic": tx.findtext("d:CdtrAgt/d:FinInstnId/d:BICFI", namespaces=N),
                "name": tx.findtext("d:Cdtr/d:Nm", namespaces=N),
                "iban": tx.findtext("d:CdtrAcct/d:Id/d:IBAN", namespaces=N),
                "rf": tx.findtext("d:RmtInf/d:Strd/d:CdtrRefInf/d:Ref", namespaces=N),
                "rf_type": tx.findtext("d:RmtInf/d:Strd/d:CdtrRefInf/d:Tp/d:CdOrPrtry/d:Cd", namespaces=N),
                "ustrd": tx.findtext("d:RmtInf/d:Ustrd", namespaces=N),
                "pmtinf": info["id"],
            })
        out["pmtinfs"].append(info)
    return out


def pain002(orig_msg_id, group_status, pmtinf=None, txs=(), group_reason=None):
    """txs: [(e2e, "RJCT", "AC04")] under pmtinf (id, status)."""
    rsn = f"<StsRsnInf><Rsn><Cd>{group_reason}</Cd></Rsn></StsRsnInf>" if group_reason else ""
    body = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e}</OrgnlEndToEndId><TxSts>{st}</TxSts>"
        f"<StsRsnInf><Rsn><Cd>{why}</Cd></Rsn></StsRsnInf></TxInfAndSts>" for e, st, why in txs)
    pi = (f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{pmtinf[0]}</OrgnlPmtInfId><PmtInfSts>{pmtinf[1]}</PmtInfSts>"
          f"{body}</OrgnlPmtInfAndSts>") if pmtinf else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
            f"<GrpHdr><MsgId>STS-{uuid.uuid4().hex[:20]}</MsgId><CreDtTm>2026-05-03T10:15:00</CreDtTm></GrpHdr>"
            f"<OrgnlGrpInfAndSts><OrgnlMsgId>{orig_msg_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
            f"<GrpSts>{group_status}</GrpSts>{rsn}</OrgnlGrpInfAndSts>{pi}</CstmrPmtStsRpt></Document>\n")


def camt054(entries, msg_id=None):
    """entries: [(e2e, amount text, "DBIT"|"CRDT", return reason or None)]."""
    ntries = []
    for e2e, amount, cd, rtr in entries:
        ri = f"<RtrInf><Rsn><Cd>{rtr}</Cd></Rsn></RtrInf>" if rtr else ""
        ntries.append(
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{cd}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BkTxCd/>'
            f"<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>"
            f'<Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{cd}</CdtDbtInd>{ri}</TxDtls></NtryDtls></Ntry>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>'
            f"<GrpHdr><MsgId>{msg_id or 'NTF-' + uuid.uuid4().hex[:20]}</MsgId><CreDtTm>2026-05-03T18:00:00</CreDtTm></GrpHdr>"
            f"<Ntfctn><Id>N1</Id><Acct><Id><IBAN>{DEBTOR['iban']}</IBAN></Id></Acct>{''.join(ntries)}"
            f"</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")


class Bank:
    """The rail directory, seen from the bank's side."""

    def __init__(self, rail_dir):
        self.dir = Path(rail_dir)

    def files(self, sub):
        d = self.dir / sub
        return sorted(p for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []

    def outbound(self):
        return {p.name: read_pain001(p) for p in self.files("outbound") if p.suffix == ".xml"}

    def drop(self, name, text, schema=None):
        """Write a report into inbound/ as a bank would: a hidden temporary
        name, then a rename. schema: check the test's own report first."""
        tmp = self.dir / "inbound" / f".{name}.tmp"
        tmp.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        if schema:
            ok, err = xmllint_ok(tmp, schema)
            assert ok, f"the test's own report is not valid: {err}"
        os.rename(tmp, self.dir / "inbound" / name)

    def wait_gone(self, name, where):
        """Until inbound/name has moved to where/ (processed or failed)."""
        def step():
            return (not (self.dir / "inbound" / name).exists() and (self.dir / where / name).exists()), None
        poll_until(step, WAIT, f"{name} to move to {where}/")


def e2e_of(sid):
    return sid.replace("-", "")


# ---------------------------------------------------------------------------
# The world: one tenant, SEPA and SEPA Instant destinations, webhooks.
# ---------------------------------------------------------------------------

class World:
    def __init__(self, server, hooks):
        self.server = server
        self.t = server.new_tenant()
        client = self.t.create_client("Acme Treasury")
        self.client_id = client["id"]
        self.account_ref = client["default_account_ref"]
        self.t.deposit(self.account_ref, "1000.00")
        self.sct_sent = sepa_destination()
        self.sct = self.t.create_destination(self.account_ref, self.sct_sent)
        self.inst_sent = sepa_destination(fiat_rail="sepa_instant", beneficiary_name="Instant Payee AG",
                                          **{"bc_" + k: v for k, v in INSTANT_COORDS.items()})
        self.inst = self.t.create_destination(self.account_ref, self.inst_sent)
        self.hook_paths = {}
        for fmt in ("standard", "lumx"):
            path = f"/{fmt}-{uuid.uuid4().hex[:8]}"
            r = self.t.req("POST", "/webhook-endpoints",
                           {"url": f"http://127.0.0.1:{hooks.server_address[1]}{path}", "event_types": ["*"],
                            "format": fmt})
            assert r.status == 201, describe(r)
            self.hook_paths[fmt] = path

    def create(self, amount, instant=False, reference="RF18539007547034"):
        from offramp_e2e import SEED_REQUEST
        import copy
        b = copy.deepcopy(SEED_REQUEST)
        b["account_ref"] = self.account_ref
        b["amount"] = {"currency": "USDC", "value": amount}
        b["destination"]["destination"] = copy.deepcopy(self.inst_sent if instant else self.sct_sent)
        b["destination"]["fiat_rail"] = "sepa_instant" if instant else "sepa_credit_transfer"
        b["destination"]["route_owner_ref"] = f"clients/{self.client_id}"
        b["destination"]["withdrawal_destination_id"] = (self.inst if instant else self.sct)["id"]
        b["destination"]["payment_reference"] = reference
        r = self.t.req("POST", "/off-ramp-sessions", b)
        assert r.status == 201, describe(r)
        return r.json

    def usdc(self):
        return {k: Decimal(v) for k, v in self.t.balances(self.account_ref)["USDC"].items()}

    def wait_status(self, sid, status):
        def step():
            s = self.t.session(sid)
            return s["status"] == status, s
        return poll_until(step, WAIT, f"session {sid} to be {status}")

    def event_types(self, sid):
        return [e["type"] for e in self.t.events(sid)]

    def ledger_ok(self):
        out = json.loads(self.server.verify_ledger().strip().splitlines()[-1])
        assert out.get("ok") is True, out
        return out


def check_file(f, sessions, world):
    """Every field of one pain.001 against the sessions it pays."""
    assert len(f["msg_id"]) <= 35
    assert f["initiator"] == DEBTOR["name"]
    txs = [tx for pi in f["pmtinfs"] for tx in pi["txs"]]
    assert f["nb"] == len(txs)
    assert f["ctrl"] == sum(tx["amount"] for tx in txs)
    for pi in f["pmtinfs"]:
        assert pi["method"] == "TRF"
        assert pi["svclvl"] == "SEPA"
        assert pi["nb"] == len(pi["txs"]) and pi["ctrl"] == sum(tx["amount"] for tx in pi["txs"])
        assert pi["debtor"] == (DEBTOR["name"], DEBTOR["iban"], DEBTOR["bic"])
        assert len(pi["id"]) <= 35
        for tx in pi["txs"]:
            s = sessions[tx["e2e"]]
            instant = s["destination"]["fiat_rail"] == "sepa_instant"
            assert pi["lclinstrm"] == ("INST" if instant else None), (pi, s["id"])
            sent = world.inst_sent if instant else world.sct_sent
            assert tx["ccy"] == "EUR" and s["delivered_amount"]["currency"] == "EUR"
            assert tx["amount"] == Decimal(s["delivered_amount"]["value"])
            assert tx["iban"] == sent["bank_coordinates"]["iban"]
            assert tx["bic"] == sent["bank_coordinates"]["bic"]
            assert tx["name"] == sent["beneficiary_name"]
            ref = s["destination"]["payment_reference"]
            if ref.startswith("RF"):
                assert (tx["rf"], tx["rf_type"], tx["ustrd"]) == (ref, "SCOR", None)
            else:
                assert (tx["rf"], tx["ustrd"]) == (None, ref)


def paid_sessions(bank):
    """EndToEndId -> [file names it appears in], over every outbound file."""
    seen = {}
    for name, f in bank.outbound().items():
        for pi in f["pmtinfs"]:
            for tx in pi["txs"]:
                seen.setdefault(tx["e2e"], []).append(name)
    return seen


@pytest.fixture(scope="module")
def rail(tmp_path_factory, hooks):
    d = tmp_path_factory.mktemp("rail")
    s = Server(tmp_path_factory.mktemp("srv"), extra_args=rail_args(d), step_ms=STEP_MS)
    s.start()
    w = World(s, hooks)
    yield s, Bank(d), w
    s.stop_checked()


# ---------------------------------------------------------------------------
# The path: files, rejection, booking, return.
# ---------------------------------------------------------------------------

def test_files_reject_book_return(rail, hooks):
    server, bank, w = rail
    before = w.usdc()
    specs = [("10.00", False, "RF18539007547034"), ("20.50", False, "Invoice 4711 <&> é"),
             ("30.25", True, "RF18539007547034"), ("40.00", True, "Payroll May")]
    made = [w.create(a, instant=i, reference=r) for a, i, r in specs]
    ids = [m["id"] for m in made]
    sessions = {e2e_of(sid): w.wait_status(sid, "executed") for sid in ids}
    # Every fee is 1.00: each hold is principal + 1.00 while in flight.
    held = sum(Decimal(a) + 1 for a, _, _ in specs)
    assert w.usdc()["held"] == before["held"] + held

    files = bank.outbound()
    assert files, "no outbound file"
    seen = paid_sessions(bank)
    assert sorted(seen) == sorted(sessions), seen
    assert all(len(v) == 1 for v in seen.values()), f"a payment in two files: {seen}"
    # Sessions created together share a batch.
    assert len(files) == 1, list(files)
    for name, f in files.items():
        ok, err = xmllint_ok(bank.dir / "outbound" / name, "pain.001.001.09.xsd")
        assert ok, err
        check_file(f, sessions, w)
    (name, f), = files.items()
    assert {pi["lclinstrm"] for pi in f["pmtinfs"]} == {None, "INST"}
    w.ledger_ok()

    # pain.002: the bank rejects the second payment (payment level, AC04).
    rejected = ids[1]
    tx = next(t for pi in f["pmtinfs"] for t in pi["txs"] if t["e2e"] == e2e_of(rejected))
    bank.drop("sts-1.xml", pain002(f["msg_id"], "PART", (tx["pmtinf"], "PART"), [(tx["e2e"], "RJCT", "AC04")]),
              "pain.002.001.10.xsd")
    bank.wait_gone("sts-1.xml", "processed")
    s = w.wait_status(rejected, "failed")
    assert (s["failure_reason"], s["failure_detail"]) == ("bank_rejected", "AC04")
    assert w.usdc()["held"] == before["held"] + held - Decimal("21.50")
    assert w.usdc()["available"] == before["available"] - held + Decimal("21.50")
    for other in ids[:1] + ids[2:]:
        assert w.t.session(other)["status"] == "executed"
    assert w.event_types(rejected)[-1] == "off_ramp_session.failed"
    w.ledger_ok()

    # camt.054: the bank books the other three.
    booked = [m for m in made if m["id"] != rejected]
    entries = [(e2e_of(m["id"]), sessions[e2e_of(m["id"])]["delivered_amount"]["value"], "DBIT", None) for m in booked]
    bank.drop("ntf-1.xml", camt054(entries), "camt.054.001.08.xsd")
    bank.wait_gone("ntf-1.xml", "processed")
    for m in booked:
        s = w.wait_status(m["id"], "settled")
        assert s["settled_at"] and s["failure_reason"] is None
    b = w.usdc()
    spent = sum(Decimal(m["principal_amount"]["value"]) + 1 for m in booked)
    assert b["held"] == before["held"] and b["total"] == before["total"] - spent
    w.ledger_ok()
    events = {m["id"]: w.event_types(m["id"]) for m in made}

    # The same booking again (another file name, via admin import-bank-file
    # too): processed, nothing changes.
    again = camt054(entries)
    bank.drop("ntf-1-again.xml", again)
    bank.wait_gone("ntf-1-again.xml", "processed")
    p = bank.dir / "again.xml"
    p.write_text(again)
    out = server.admin("import-bank-file", str(p), "--rail-dir", str(bank.dir))
    assert out == {"status": "imported", "payments": 3}
    time.sleep(3 * STEP_MS / 1000)
    assert {m["id"]: w.event_types(m["id"]) for m in made} == events
    assert w.usdc() == b

    # camt.054 return of the first (settled) payment: returned, principal back.
    back = made[0]
    principal = Decimal(back["principal_amount"]["value"])
    ret = camt054([(e2e_of(back["id"]), sessions[e2e_of(back["id"])]["delivered_amount"]["value"], "CRDT", "AC04")])
    bank.drop("ret-1.xml", ret, "camt.054.001.08.xsd")
    bank.wait_gone("ret-1.xml", "processed")
    s = w.wait_status(back["id"], "returned")
    assert (s["failure_reason"], s["failure_detail"]) == ("bank_returned", "AC04")
    after = w.usdc()
    # The principal comes back; the 1.00 fee is kept (docs/RAILS.md).
    assert after["available"] == b["available"] + principal and after["held"] == b["held"]
    assert w.event_types(back["id"])[-1] == "off_ramp_session.returned"
    assert w.event_types(back["id"]).count("off_ramp_session.returned") == 1
    assert [x["id"] for x in w.t.list_sessions(status="returned")] == [back["id"]]
    lumx = w.t.get(f"/transactions/{back['id']}")
    assert lumx["state"]["status"] == "REFUNDED" and lumx["state"]["error"]["code"] == "bank_returned"
    assert lumx["state"]["error"]["detail"] == "AC04"
    out = w.ledger_ok()
    assert out["sessions"] >= 4
    # A second copy of the return changes nothing.
    bank.drop("ret-1-again.xml", ret)
    bank.wait_gone("ret-1-again.xml", "processed")
    assert w.usdc() == after
    assert w.event_types(back["id"]).count("off_ramp_session.returned") == 1

    # Webhooks, both formats, for every status the sessions entered.
    def delivered():
        std = hook_types(hooks, w.hook_paths["standard"], back["id"])
        lx = hook_types(hooks, w.hook_paths["lumx"], back["id"])
        rj = hook_types(hooks, w.hook_paths["standard"], rejected)
        return ("off_ramp_session.returned" in std and "offramp.refunded" in lx
                and "off_ramp_session.failed" in rj), (std, lx, rj)
    std, lx, rj = poll_until(delivered, WAIT, "the webhooks of the return and the rejection")
    assert {"off_ramp_session.executed", "off_ramp_session.settled", "off_ramp_session.returned"} <= set(std)
    assert {"offramp.transferring_fiat", "offramp.success", "offramp.refunded"} <= set(lx)
    w.ledger_ok()


def test_group_rejection_fails_the_whole_file(rail):
    server, bank, w = rail
    before = w.usdc()
    made = [w.create("11.00"), w.create("12.00", instant=True)]
    for m in made:
        w.wait_status(m["id"], "executed")
    seen = paid_sessions(bank)
    names = {seen[e2e_of(m["id"])][0] for m in made}
    assert len(names) == 1 and all(len(seen[e2e_of(m["id"])]) == 1 for m in made)
    f = bank.outbound()[names.pop()]
    bank.drop("sts-grp.xml", pain002(f["msg_id"], "RJCT", group_reason="AM04"), "pain.002.001.10.xsd")
    bank.wait_gone("sts-grp.xml", "processed")
    for m in made:
        s = w.wait_status(m["id"], "failed")
        assert (s["failure_reason"], s["failure_detail"]) == ("bank_rejected", "AM04")
    assert w.usdc() == before
    w.ledger_ok()


HOSTILE = {
    "malformed.xml": b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.054.001.08'><BkToCstmr",
    "xxe.xml": (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">&x;</Document>\n'),
    "laughs.xml": (b'<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                   b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>\n'
                   b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">&d;</Document>\n'),
    "wrong-schema.xml": (b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
                         b"<BkToCstmrDbtCdtNtfctn><Nonsense/></BkToCstmrDbtCdtNtfctn></Document>\n"),
    "other-message.xml": (b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">'
                          b"<CstmrCdtTrfInitn/></Document>\n"),
    "deep.xml": (b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
                 + b"<a>" * 200 + b"</a>" * 200 + b"</Document>\n"),
}


def test_hostile_and_unmatched_reports_change_nothing(rail):
    server, bank, w = rail
    m = w.create("13.00")
    sess = w.wait_status(m["id"], "executed")
    state = (w.usdc(), w.event_types(m["id"]))
    reports = dict(HOSTILE)
    reports["unmatched.xml"] = camt054([(uuid.uuid4().hex, "9.20", "DBIT", None)]).encode()
    # One known payment and one unknown: the whole report is refused.
    reports["half-known.xml"] = camt054([(e2e_of(m["id"]), sess["delivered_amount"]["value"], "DBIT", None),
                                         (uuid.uuid4().hex, "1.00", "DBIT", None)]).encode()
    reports["wrong-amount.xml"] = camt054([(e2e_of(m["id"]), "999.99", "DBIT", None)]).encode()
    reports["unknown-file.xml"] = pain002("OFR" + "0" * 32, "RJCT", group_reason="AM04").encode()
    reports["oversized.xml"] = (b'<?xml version="1.0"?>\n<!--' + b"x" * (4 * 1024 * 1024 + 16) + b"-->\n"
                                + camt054([(e2e_of(m["id"]), "1.00", "DBIT", None)]).split("\n", 1)[1].encode())
    for name, body in reports.items():
        bank.drop(name, body)
    for name in reports:
        bank.wait_gone(name, "failed")
        reason = (bank.dir / "failed" / f"{name}.reason").read_text()
        assert reason.strip(), name
    why = {n: (bank.dir / "failed" / f"{n}.reason").read_text() for n in reports}
    assert "declaration" in why["xxe.xml"] and "declaration" in why["laughs.xml"]
    assert "too large" in why["oversized.xml"]
    assert "unknown payment" in why["unmatched.xml"] and "unknown payment" in why["half-known.xml"]
    assert "not valid" in why["wrong-schema.xml"]
    assert "another amount" in why["wrong-amount.xml"]
    # The admin command refuses the same way, exit 1, and moves nothing.
    p = bank.dir / "xxe-admin.xml"
    p.write_bytes(HOSTILE["xxe.xml"])
    r = server.admin_raw("import-bank-file", str(p), "--rail-dir", str(bank.dir))
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == "refused"
    time.sleep(3 * STEP_MS / 1000)
    assert (w.usdc(), w.event_types(m["id"])) == state
    assert w.t.session(m["id"])["status"] == "executed"
    assert not (bank.dir / "state" / "results" / f"{e2e_of(m['id'])}.json").exists()
    w.ledger_ok()
    # Booked at last by a good report: it was waiting all along.
    bank.drop("ntf-late.xml", camt054([(e2e_of(m["id"]), sess["delivered_amount"]["value"], "DBIT", None)]))
    w.wait_status(m["id"], "settled")


# ---------------------------------------------------------------------------
# kill -9 while writing a file and while applying a report.
# ---------------------------------------------------------------------------

def fault_server(tmp_path, rail_dir, db=None, stall=None):
    env = {"OFFRAMP_TEST_STALL": stall} if stall else {}
    from offramp_e2e import Server as S
    import offramp_e2e
    old = offramp_e2e.BIN
    offramp_e2e.BIN = FAULT_BIN
    try:
        s = S(tmp_path, db=db, extra_args=rail_args(rail_dir), step_ms=STEP_MS, env=env)
        s.start()
    finally:
        offramp_e2e.BIN = old
    return s


def wait_log(server, text):
    poll_until(lambda: (text in server.stderr(), None), WAIT, f"'{text}' in the server's log")


@pytest.mark.sqlite_only
def test_kill_during_file_write_and_import(tmp_path, hooks):
    assert os.path.exists(FAULT_BIN), f"{FAULT_BIN} missing (make build/offramp-fault)"
    rail_dir = tmp_path / "rail"
    srv_dir = tmp_path / "srv"
    s = fault_server(srv_dir, rail_dir, stall="sepa_file_write")
    w = World(s, hooks)
    made = [w.create("14.00"), w.create("15.00", instant=True), w.create("16.00")]
    wait_log(s, "test stall at sepa_file_write")
    bank = Bank(rail_dir)
    assert bank.outbound() == {}, "a file appeared before its rename"
    recorded = sorted(p.name for p in (rail_dir / "state" / "batches").glob("*.json"))
    assert len(recorded) == 1
    s.kill()
    # Restarted (no stall): the same batch, the same file name, complete.
    s = fault_server(srv_dir, rail_dir, db=s.db)
    w.server = s
    w.t.server = s
    for m in made:
        w.wait_status(m["id"], "executed")
    files = bank.outbound()
    assert list(files) == [recorded[0].replace(".json", ".xml")]
    seen = paid_sessions(bank)
    assert sorted(seen) == sorted(e2e_of(m["id"]) for m in made) and all(len(v) == 1 for v in seen.values())
    ok, err = xmllint_ok(rail_dir / "outbound" / list(files)[0], "pain.001.001.09.xsd")
    assert ok, err
    w.ledger_ok()
    s.stop_checked()

    # Import stalled half way through its payments, then killed.
    s = fault_server(srv_dir, rail_dir, db=s.db, stall="sepa_import_apply")
    w.server = s
    w.t.server = s
    sessions = {m["id"]: w.t.session(m["id"]) for m in made}
    entries = [(e2e_of(i), x["delivered_amount"]["value"], "DBIT", None) for i, x in sessions.items()]
    bank.drop("ntf-crash.xml", camt054(entries))
    wait_log(s, "test stall at sepa_import_apply")
    s.kill()
    assert (rail_dir / "inbound" / "ntf-crash.xml").exists()
    s = fault_server(srv_dir, rail_dir, db=s.db)
    w.server = s
    w.t.server = s
    bank.wait_gone("ntf-crash.xml", "processed")
    for m in made:
        w.wait_status(m["id"], "settled")
        assert w.event_types(m["id"]).count("off_ramp_session.settled") == 1
    assert len(bank.outbound()) == 1
    w.ledger_ok()
    s.stop_checked()


def test_worked_example_runs(rail):
    """docs/RAILS.md's worked example (examples/sepa-file.sh) against this
    module's server: file, booking, return, verify-ledger."""
    server, bank, w = rail
    env = dict(os.environ, OFFRAMP_URL=f"http://127.0.0.1:{server.port}", OFFRAMP_BIN=BIN,
               OFFRAMP_DB=str(server.db), OFFRAMP_RAIL_DIR=str(bank.dir), OFFRAMP_SCHEMAS=str(SCHEMAS))
    if server.database_url:
        env["OFFRAMP_DATABASE_URL"] = server.database_url
    p = subprocess.run(["sh", str(REPO / "examples" / "sepa-file.sh")], cwd=str(REPO), env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"sepa-file.sh failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    out = p.stdout
    assert "validates" in p.stderr, p.stderr
    assert "230.00 EUR to GB29NWBK60161331926819" in out, out
    assert '"available":"749.00","currency":"USDC","held":"0.00","total":"749.00"' in out, out
    assert '{"status":"returned","failure_reason":"bank_returned","failure_detail":"AC04"}' in out, out
    assert '"available":"999.00","currency":"USDC","held":"0.00","total":"999.00"' in out, out
    assert "off_ramp_session.returned" in out and '"ok":true' in out, out


def test_serve_refuses_a_bad_debtor(tmp_path):
    """The debtor is in every file: serve refuses to start without a valid
    one, or without a rail directory, rather than write files the bank refuses."""
    base = [BIN, "serve", "--db", str(tmp_path / "x.db"), "--listen", "127.0.0.1:1"]
    bad = [
        rail_args(tmp_path / "r")[:6] + ["--sepa-debtor-iban", "DE00370400440532013000",
                                         "--sepa-debtor-bic", DEBTOR["bic"]],
        rail_args(tmp_path / "r")[:6] + ["--sepa-debtor-iban", DEBTOR["iban"], "--sepa-debtor-bic", "cobadeff"],
        ["--rails", "sepa_file", "--sepa-debtor-name", "X", "--sepa-debtor-iban", DEBTOR["iban"],
         "--sepa-debtor-bic", DEBTOR["bic"]],
        ["--rails", "sepa_file", "--rail-dir", str(tmp_path / "r")],
    ]
    for args in bad:
        p = subprocess.run(base + args, capture_output=True, timeout=30, env=child_env())
        assert p.returncode == 2, (args, p.returncode, p.stderr[-500:])
        assert b"sepa" in p.stderr or b"rail-dir" in p.stderr, p.stderr[-500:]
