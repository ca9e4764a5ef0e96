"""Logs and secrets (CONTRACT §12, docs/OPERATIONS.md "Logs"), black box.

One whole scenario (two API keys, a client, a funded account, a SEPA
destination with a fresh IBAN, an ACH one with a fresh account number,
webhook endpoints of both formats and a rotated secret, sessions that settle
and deliver their webhooks, refused requests with a key lacking a capability,
a wrong key, and a client sending a key as its X-Request-Id) in which every
answer, every webhook delivered and every log line is kept. Then:

- every line the server and the admin commands wrote to stderr is one JSON
  object with ts, level and msg;
- each request has one line with request_id (the X-Request-Id answered; a
  sane incoming one kept, anything else replaced), method, the route
  template, status, latency_ms and, when authenticated, the principal;
- an API key or a webhook secret appears in exactly one answer, the one that
  made it, and in no log line or webhook; the full IBAN and account number
  never reach a log line, nor does any long run of their digits, and appear
  whole only in the answer that saved them (GETs show them masked).

Backend-independent: SQLite only.
"""

import copy
import json
import random
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from offramp_e2e import LIFECYCLE_STEP_MS, SANITIZER_LINE, SEED_REQUEST, Server, describe, sepa_destination

pytestmark = pytest.mark.sqlite_only

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("srv"), step_ms=LIFECYCLE_STEP_MS,
               extra_args=["--webhook-allow-loopback", "--webhook-retry-base-ms", "100"])
    s.start()
    yield s
    s.stop_checked()


def fresh_de_iban():
    """A DE IBAN no other test uses: 18 random digits, check digits by ISO 7064 mod 97-10."""
    bban = "".join(random.choice("0123456789") for _ in range(18))
    n = int(bban + "1314" + "00")  # D=13, E=14
    return f"DE{98 - n % 97:02d}{bban}"


class Hooks:
    """Records every webhook body; answers 200."""

    def __init__(self):
        self.bodies = []
        rec = self.bodies

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                rec.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, p):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{p}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sentinels_only_where_they_are_made(server):
    answers = []   # (label, raw bytes) of every answer and admin output
    admin_err = []

    def admin(*args):
        p = server.admin_raw(*args)
        assert p.returncode == 0, p.stderr
        answers.append((f"admin {args[0]}", p.stdout))
        admin_err.append(p.stderr.decode())
        return json.loads(p.stdout)

    sent = []      # (method, path, X-Request-Id sent or None, answer)

    def call(method, path, body=None, key=None, rid=None, headers=None):
        h = dict(headers or {})
        if rid is not None:
            h["X-Request-Id"] = rid
        r = server.request(method, path, body=body, key=key, headers=h)
        answers.append((f"{method} {path}", r.raw + json.dumps(r.headers).encode()))
        sent.append((method, path, rid, r))
        return r

    hooks = Hooks()
    try:
        out = admin("create-tenant", "--name", f"secrets-{uuid.uuid4().hex[:6]}")
        key, tenant, me = out["api_key"], out["tenant_ref"], out["principal"]["id"]
        key2 = admin("create-api-key", "--tenant", tenant, "--capabilities", "ramps.read")["api_key"]
        made = {key: 0, key2: 1}  # secret -> the index in answers of the one answer that made it

        r = call("POST", "/clients", {"display_name": "Sentinel Ltd"}, key, rid="trace-0001")
        assert r.status == 201, describe(r)
        acct, client_id = r.json["default_account_ref"], r.json["id"]
        assert call("POST", "/sandbox/deposits", {"account_ref": acct, "amount": {"currency": "USDC", "value": "500.00"}},
                    key).status == 201
        iban = fresh_de_iban()
        dest_sent = sepa_destination(bc_iban=iban, bc_country="DE", bc_bic="COBADEFFXXX")
        r = call("POST", "/withdrawal-destinations", {"account_ref": acct, "destination": dest_sent}, key,
                 headers={"Idempotency-Key": f"d-{uuid.uuid4()}"})
        assert r.status == 201, describe(r)
        dest = r.json
        bank_made = {iban: len(answers) - 1}  # bank identifier -> the one answer showing it whole
        acct_no = "".join(random.choice("0123456789") for _ in range(17))
        ach = {"method": "bank_transfer", "fiat_rail": "ach", "currency": "USD", "beneficiary_name": "Sentinel Ltd",
               "bank_coordinates": {"scheme": "aba", "routing_number": "011000015", "account_number": acct_no,
                                    "account_type": "checking", "country": "US"}}
        r = call("POST", "/withdrawal-destinations", {"account_ref": acct, "destination": ach}, key,
                 headers={"Idempotency-Key": f"d-{uuid.uuid4()}"})
        assert r.status == 201, describe(r)
        ach_id = r.json["id"]
        bank_made[acct_no] = len(answers) - 1

        eps = []
        for fmt in ("standard", "lumx"):
            r = call("POST", "/webhook-endpoints", {"url": hooks.url(f"/{fmt}"), "event_types": ["*"], "format": fmt},
                     key)
            assert r.status == 201, describe(r)
            made[r.json["secret"]] = len(answers) - 1
            eps.append(r.json["id"])
        r = call("POST", f"/webhook-endpoints/{eps[0]}/rotate-secret", None, key)
        assert r.status == 200, describe(r)
        made[r.json["secret"]] = len(answers) - 1

        # Sessions on the IBAN destination, to the end, webhooks and all.
        sids = []
        for amount in ("20.00", "30.00"):
            b = copy.deepcopy(SEED_REQUEST)
            b["account_ref"] = acct
            b["amount"] = {"currency": "USDC", "value": amount}
            b["destination"]["destination"] = copy.deepcopy(dest_sent)
            b["destination"]["route_owner_ref"] = f"clients/{client_id}"
            b["destination"]["withdrawal_destination_id"] = dest["id"]
            r = call("POST", "/off-ramp-sessions", b, key, rid=f"create.{amount}")
            assert r.status == 201, describe(r)
            sids.append(r.json["id"])
        deadline = time.monotonic() + 30
        for sid in sids:
            while True:
                r = call("GET", f"/off-ramp-sessions/{sid}", key=key)
                assert r.status == 200, describe(r)
                if r.json["status"] in ("settled", "failed"):
                    break
                assert time.monotonic() < deadline, r.json
                time.sleep(0.05)
        for eid in eps:
            call("GET", f"/webhook-endpoints/{eid}", key=key)
            call("GET", f"/webhook-endpoints/{eid}/attempts", key=key)
        call("GET", "/webhook-endpoints", key=key)
        call("GET", f"/withdrawal-destinations/{dest['id']}", key=key)
        call("GET", f"/withdrawal-destinations/{ach_id}", key=key)
        call("GET", "/events", key=key)
        # Refusals: a key without the capability, a wrong key, a key as request id.
        assert call("POST", "/clients", {"display_name": "x"}, key2).status == 403
        assert call("GET", "/off-ramp-sessions", key=key[:-4] + "AAAA").status == 401
        r = call("GET", "/livez", rid=key)
        assert r.headers.get("x-request-id") != key
        r = call("GET", "/livez", rid="x" * 65)
        assert UUID_RE.match(r.headers.get("x-request-id", "")), r.headers
        r = call("GET", "/livez", rid='bad"id <x>')
        assert UUID_RE.match(r.headers.get("x-request-id", "")), r.headers
        deadline = time.monotonic() + 10
        while len(hooks.bodies) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hooks.bodies) >= 4, "the webhooks were not delivered"
    finally:
        hooks.close()

    server.request("GET", "/livez")  # the last request line of the scenario is written by now
    lines = server.log_lines()
    for text in admin_err:
        for ln in text.splitlines():
            if SANITIZER_LINE.match(ln):
                continue
            o = json.loads(ln)
            assert {"ts", "level", "msg"} <= set(o), ln
    assert all({"ts", "level", "msg"} <= set(o) for o in lines), [o for o in lines if "msg" not in o][:3]
    raw_log = server.stderr_path.read_text(encoding="utf-8") + "".join(admin_err)

    # Each secret: in exactly the one answer that made it; never logged or sent.
    for s, made_at in made.items():
        lbl = answers[made_at][0]
        where = [i for i, (_, raw) in enumerate(answers) if s.encode() in raw]
        assert where == [made_at], f"secret made by {lbl} appears in {[answers[i][0] for i in where]}"
        assert s not in raw_log, f"secret made by {lbl} logged"
        assert not any(s.encode() in b for b in hooks.bodies), f"secret made by {lbl} sent in a webhook"
        if s.startswith("whsec_"):
            assert s[6:] not in raw_log
    # Bank identifiers: whole only in the answer that saved them (a GET
    # shows them masked), never in a webhook.
    for ident, made_at in bank_made.items():
        where = [answers[i][0] for i, (_, raw) in enumerate(answers) if ident.encode() in raw]
        assert where == [answers[made_at][0]], f"{ident[:4]}… shown whole in {where}"
        assert not any(ident.encode() in b for b in hooks.bodies), "a bank identifier sent in a webhook"
    # Bank identifiers: never whole in a log line, nor a run of 10 of their digits.
    for ident in (iban, iban[4:], acct_no):
        assert ident not in raw_log, "a full bank identifier was logged"
    for run in {iban[4 + i:14 + i] for i in range(9)} | {acct_no[i:i + 10] for i in range(8)}:
        assert run not in raw_log, f"digits {run} of a bank identifier were logged"

    # One request line per request, matching what the client saw.
    reqs = {o["request_id"]: o for o in lines if o.get("msg") == "request"}
    for method, path, rid, r in sent:
        got = r.headers.get("x-request-id")
        assert got, f"{method} {path}: no X-Request-Id"
        if rid is not None and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", rid) and not rid.startswith("ofr_sk_"):
            assert got == rid, f"a sane X-Request-Id {rid!r} was not kept: {got!r}"
        line = reqs.get(got)
        assert line, f"{method} {path} ({got}) has no request line"
        assert line["method"] == method and line["status"] == r.status, (line, r.status)
        assert isinstance(line["latency_ms"], (int, float)) and line["latency_ms"] >= 0, line
        assert line["route"].startswith("/") and "{" in line["route"] or line["route"] == path.split("?")[0], \
            (line["route"], path)
        authed = r.status not in (401,) and path not in ("/livez",)
        if authed:
            assert line.get("principal"), f"{method} {path}: no principal in {line}"
        else:
            assert "principal" not in line, line
    assert any(o.get("principal") == me for o in reqs.values())
    assert reqs["trace-0001"]["route"] == "/clients"
    routes = {o["route"] for o in reqs.values()}
    assert "/off-ramp-sessions/{id}" in routes, routes
    assert not any(re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", x) for x in routes), f"raw paths in the route field: {routes}"
