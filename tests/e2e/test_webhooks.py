"""Webhooks (docs/WEBHOOKS.md, CONTRACT 10), black box.

An in-test receiver (a ThreadingHTTPServer on 127.0.0.1, random port) records
every request it gets (path, headers, raw body, arrival time) and answers as a
per-path script says (500 three times then 200, 410, 302, a 15 s stall). Each
receiver serves its paths under a random prefix and answers 410 to anything
else, so an endpoint left behind by an earlier test (whose receiver port the OS
may hand out again) cannot feed this test's records.

Signatures are checked with this file's own verifiers (Standard Webhooks and
Lumx's X-Hub-Signature), which are first checked against the reference vector
quoted in WEBHOOKS.md.

Servers: the module's `server` runs with --webhook-allow-loopback, a 100 ms
retry base and a 100 ms sandbox step (sessions settle on their own in well
under a second); every test makes its own tenant. The URL rules without the
flag and the crash test start their own servers. Every wait is a poll with a
deadline. The 10 s delivery timeout is exercised by a case that is started by
the first test of the module and checked by one of the last, so the wait runs
while the other tests do.
"""

import base64
import binascii
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from offramp_e2e import (
    LIFECYCLE_STEP_MS, TS_RE, UUID_RE, Server, assert_error, assert_exact_metadata, check_error_shape, describe,
    exact_tx_text, list_items, poll_until,
)

RETRY_BASE_MS = 100
WH_ARGS = ["--webhook-allow-loopback", "--webhook-retry-base-ms", str(RETRY_BASE_MS)]
WAIT = 30.0                 # deadline of every wait for a delivery or a status
P = "off_ramp_session."
STATUS_TYPES = {P + s for s in ("executing", "pending_approval", "executed", "settled", "failed", "cancelled")}
LUMX_TYPES = {"offramp." + s for s in ("transferring_stablecoin", "trading", "transferring_fiat", "success",
                                       "failed", "refunding", "refunded")}
ENDPOINT_KEYS = {"id", "url", "format", "event_types", "enabled", "disabled_reason", "created_at", "updated_at"}
ATTEMPT_KEYS = {"id", "delivery_id", "event_id", "attempt", "status_code", "error", "duration_ms", "created_at"}

# ---------------------------------------------------------------------------
# Verifiers (our own implementation of each scheme)
# ---------------------------------------------------------------------------


def standard_key(secret):
    assert isinstance(secret, str) and secret.startswith("whsec_"), f"not a whsec_ secret: {secret!r}"
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def sign_standard(secret, msg_id, timestamp, body):
    """The v1 signature (base64, without the "v1," prefix)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(standard_key(secret), signed, hashlib.sha256).digest()).decode()


def standard_signatures(header):
    """The base64 parts of the v1 entries of a webhook-signature header
    (space-separated "v1,<b64>" entries; other versions are ignored)."""
    out = []
    for entry in (header or "").split():
        version, _, sig = entry.partition(",")
        if version == "v1" and sig:
            out.append(sig)
    return out


def verify_standard(secret, headers, body):
    """headers: lower-cased names. True when one v1 entry matches."""
    try:
        want = sign_standard(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    except (KeyError, binascii.Error, AssertionError):
        return False
    return any(hmac.compare_digest(want, s) for s in standard_signatures(headers.get("webhook-signature")))


def sign_lumx(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_lumx(secret, headers, body, header="x-hub-signature"):
    got = headers.get(header)
    return isinstance(got, str) and hmac.compare_digest(sign_lumx(secret, body), got)


def check_standard_secret(secret):
    key = standard_key(secret)
    assert len(key) == 32, f"a standard secret is whsec_ + base64 of 32 bytes; got {len(key)} bytes"


# ---------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------


class Rec:
    """One request the receiver got."""

    def __init__(self, name, method, path, headers, header_list, body, t, wall):
        self.name = name              # the script name (path under the prefix), or None
        self.method = method
        self.path = path
        self.headers = headers        # lower-cased name -> last value
        self.header_list = header_list
        self.body = body              # raw bytes
        self.t = t                    # time.monotonic() at arrival (body read)
        self.wall = wall              # time.time() at arrival
        self.answered = None          # the status the script chose (int), or "timeout"

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return (f"<{self.method} {self.path} answered={self.answered} id={self.headers.get('webhook-id')} "
                f"body={self.body[:200]!r}>")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _any(self):
        self.server.receiver._handle(self)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _any


class Receiver:
    """Records every request; answers by script. Script actions, consumed in
    order per name, then `then` (default: the receiver's `default`):
      200, 500, 410, ...          answer that status
      ("slow", seconds, status)   stall (abortable at close), then answer
      ("redirect", name)          302 to this receiver's <name>
      ("big", nbytes, status)     answer status with an nbytes body
    """

    def __init__(self, default=200):
        self.prefix = "/" + uuid.uuid4().hex[:10]
        self.default = default
        self.cond = threading.Condition()
        self.records = []
        self.scripts = {}
        self.thens = {}
        self.abort = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.receiver = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}{self.prefix}/{name}"

    def script(self, name, actions=(), then=None):
        with self.cond:
            self.scripts[name] = list(actions)
            if then is not None:
                self.thens[name] = then
            else:
                self.thens.pop(name, None)

    def set_default(self, status):
        with self.cond:
            self.default = status
            self.thens.clear()
            self.scripts.clear()

    def close(self):
        self.abort.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- handling ------------------------------------------------------------

    def _handle(self, h):
        body = h._read_body()
        t, wall = time.monotonic(), time.time()
        path = urllib.parse.urlsplit(h.path).path
        name = path[len(self.prefix) + 1:] if path.startswith(self.prefix + "/") else None
        headers = {k.lower(): v for k, v in h.headers.items()}
        rec = Rec(name, h.command, h.path, headers, list(h.headers.items()), body, t, wall)
        with self.cond:
            if name is None:
                action = 410                     # a stranger (an old test's endpoint): go away
            elif self.scripts.get(name):
                action = self.scripts[name].pop(0)
            else:
                action = self.thens.get(name, self.default)
            rec.answered = action if isinstance(action, int) else {
                "slow": "timeout", "redirect": 302, "big": action[-1]}[action[0]]
            self.records.append(rec)
            self.cond.notify_all()
        try:
            if isinstance(action, int):
                self._send(h, action)
            elif action[0] == "slow":
                self.abort.wait(action[1])
                self._send(h, action[2])
            elif action[0] == "redirect":
                self._send(h, 302, {"Location": self.url(action[1])})
            elif action[0] == "big":
                self._send(h, action[2], payload=b"x" * action[1])
        except OSError:
            pass

    @staticmethod
    def _send(h, status, extra=None, payload=None):
        if payload is None:
            payload = b'{"ok":true}' if 200 <= status < 300 else b'{"error":"scripted"}'
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)
        h.wfile.flush()

    # -- reading -------------------------------------------------------------

    def got(self, name):
        with self.cond:
            return [r for r in self.records if r.name == name]

    def wait(self, name, pred, what, timeout=WAIT):
        """Poll until pred(list of the name's records) is truthy; returns the records."""
        def step():
            rs = self.got(name)
            return bool(pred(rs)), rs
        return poll_until(step, timeout, f"{what} at receiver path {name!r}", interval=0.05)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# ---------------------------------------------------------------------------
# Servers and helpers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's `server` (overrides conftest's): loopback allowed, a 100 ms
    retry base, a 100 ms sandbox step. conftest's autouse check still fails a
    test during which it died."""
    s = Server(tmp_path_factory.mktemp("srv"), step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
    s.start()
    yield s
    s.stop_checked()


def create_endpoint(t, url, fmt="standard", types=("*",), key=None):
    body = {"url": url, "event_types": list(types), "format": fmt}
    r = t.req("POST", "/webhook-endpoints", body, key=key)
    assert r.status == 201, f"POST /webhook-endpoints {body}: {describe(r)}"
    ep = r.json
    assert isinstance(ep, dict) and ENDPOINT_KEYS <= set(ep), f"endpoint lacks {ENDPOINT_KEYS - set(ep)}: {ep}"
    assert "secret" in ep and isinstance(ep["secret"], str) and ep["secret"], f"no secret at creation: {ep}"
    assert ep["url"] == url and ep["format"] == fmt and ep["event_types"] == list(types), ep
    assert ep["enabled"] is True and ep["disabled_reason"] is None, ep
    assert UUID_RE.match(ep["id"]), ep
    assert TS_RE.match(ep["created_at"]) and TS_RE.match(ep["updated_at"]), ep
    if fmt == "standard":
        check_standard_secret(ep["secret"])
    return ep


def get_endpoint(t, eid):
    r = t.req("GET", f"/webhook-endpoints/{eid}")
    assert r.status == 200, f"GET /webhook-endpoints/{eid}: {describe(r)}"
    return r.json


def attempts(t, eid, page_size=None):
    return t.paged(f"/webhook-endpoints/{eid}/attempts", page_size=page_size)


def wait_attempts(t, eid, pred, what, timeout=WAIT):
    def step():
        items = attempts(t, eid)
        return bool(pred(items)), items
    return poll_until(step, timeout, what, interval=0.1)


def settle_all(t, sids):
    """Wait for every session to be terminal; returns {sid: final session}."""
    return {sid: t.watch(sid, timeout=WAIT)[0] for sid in sids}


def standard_expected(t, sids):
    """{event id: event} of the status events (what a standard endpoint gets)."""
    out = {}
    for sid in sids:
        for e in t.events(sid):
            if e["type"] in STATUS_TYPES:
                out[e["id"]] = e
    return out


LUMX_OF = {"executing": ["transferring_stablecoin"], "stage_changed": ["trading"],
           "executed": ["transferring_fiat"], "settled": ["success"],
           "failed": ["failed", "refunding", "refunded"]}


def lumx_expected(t, sids):
    """{eventId: (eventType, the GET /events event)} in WEBHOOKS.md's mapping;
    the refund events carry the failure's id suffixed :refunding / :refunded."""
    out = {}
    for sid in sids:
        for e in t.events(sid):
            kind = e["type"][len(P):]
            for i, lt in enumerate(LUMX_OF.get(kind, [])):
                eid = e["id"] if i == 0 else f"{e['id']}:{lt}"
                out[eid] = ("offramp." + lt, e)
    return out


def ids_of(recs, lumx=False):
    out = set()
    for r in recs:
        try:
            out.add(r.json()["eventId"] if lumx else r.headers.get("webhook-id"))
        except (ValueError, KeyError, TypeError):
            pass
    return out


def wait_ids(rcv, name, want, what, lumx=False, timeout=WAIT, answered=None):
    """Wait until every id in `want` arrived at `name` (answered `answered`, if given)."""
    def ok(rs):
        if answered is not None:
            rs = [r for r in rs if r.answered == answered]
        return set(want) <= ids_of(rs, lumx)

    def step():
        rs = rcv.got(name)
        got = ids_of([r for r in rs if answered is None or r.answered == answered], lumx)
        return ok(rs), f"missing {sorted(set(want) - got)}; got {len(rs)} requests: {rs[-6:]}"
    poll_until(step, timeout, what, interval=0.05)
    return rcv.got(name)


def check_standard_rec(rec, secret, other_secrets=()):
    """One standard delivery: method, headers, signature, body shape. Returns the body."""
    h = rec.headers
    assert rec.method == "POST", rec
    ct = h.get("content-type", "")
    assert ct.split(";")[0].strip().lower() == "application/json", f"Content-Type {ct!r}: {rec}"
    for k in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert k in h, f"delivery lacks header {k}: {rec.header_list}"
    ts = h["webhook-timestamp"]
    assert ts.isdigit(), f"webhook-timestamp {ts!r} is not Unix seconds"
    assert abs(int(ts) - rec.wall) <= 5, f"webhook-timestamp {ts} is not this attempt's time ({rec.wall:.0f})"
    assert standard_signatures(h["webhook-signature"]), f"no v1 signature in {h['webhook-signature']!r}"
    assert verify_standard(secret, h, rec.body), \
        f"standard signature does not verify: id={h['webhook-id']} ts={ts} " \
        f"sig={h['webhook-signature']!r} body={rec.body[:300]!r}"
    for s in other_secrets:
        assert not verify_standard(s, h, rec.body), "the delivery also verifies with an unrelated secret"
    body = rec.json()
    assert isinstance(body, dict) and set(body) == {"id", "type", "created_at", "sequence", "data"}, \
        f"standard body keys {sorted(body) if isinstance(body, dict) else body}"
    assert body["id"] == h["webhook-id"], f"body id {body['id']} != webhook-id {h['webhook-id']}"
    assert isinstance(body["sequence"], int), body
    assert isinstance(body["created_at"], str) and TS_RE.match(body["created_at"]), body["created_at"]
    assert body["type"] in STATUS_TYPES, f"unexpected standard type {body['type']!r}"
    assert isinstance(body["data"], dict) and body["data"].get("status") == body["type"][len(P):], \
        f"type {body['type']} carries data.status {body['data'].get('status')!r}"
    return body


def check_lumx_rec(rec, secret):
    h = rec.headers
    assert rec.method == "POST", rec
    ct = h.get("content-type", "")
    assert ct.split(";")[0].strip().lower() == "application/json", f"Content-Type {ct!r}: {rec}"
    sig = h.get("x-hub-signature")
    assert sig is not None, f"lumx delivery without X-Hub-Signature: {rec.header_list}"
    assert sig == sig.lower() and len(sig) == 64 and all(c in "0123456789abcdef" for c in sig), \
        f"X-Hub-Signature is not bare lower-case hex: {sig!r}"
    assert verify_lumx(secret, h, rec.body), f"X-Hub-Signature does not verify: {sig} body={rec.body[:300]!r}"
    body = rec.json()
    assert isinstance(body, dict) and set(body) == {"eventId", "eventType", "data"}, \
        f"lumx body keys {sorted(body) if isinstance(body, dict) else body}"
    assert body["eventType"] in LUMX_TYPES, body["eventType"]
    return body


def first_by_id(recs, key):
    out = {}
    for r in recs:
        out.setdefault(key(r), r)
    return out


# ---------------------------------------------------------------------------
# The verifier itself
# ---------------------------------------------------------------------------


def test_verifiers_against_reference_vectors():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    body = b'{"test": 2432232314}'
    assert sign_standard(secret, headers["webhook-id"], headers["webhook-timestamp"], body) == \
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert verify_standard(secret, headers, body)
    # several space-separated signatures: one matching is enough; other versions are ignored
    two = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + headers["webhook-signature"]
    assert verify_standard(secret, {**headers, "webhook-signature": two}, body)
    assert not verify_standard(secret, {**headers, "webhook-signature":
                                        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, body)
    # anything changed fails
    assert not verify_standard(secret, headers, b'{"test": 2432232315}')
    assert not verify_standard(secret, {**headers, "webhook-timestamp": "1614265331"}, body)
    assert not verify_standard(secret, {**headers, "webhook-id": "msg_x"}, body)
    assert not verify_standard("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
    # Lumx / X-Hub-Signature: bare hex HMAC-SHA256 keyed with the secret string
    # (GitHub's published example: secret "It's a Secret to Everybody", "Hello, World!")
    gh = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign_lumx("It's a Secret to Everybody", b"Hello, World!") == gh
    assert verify_lumx("It's a Secret to Everybody", {"x-hub-signature": gh}, b"Hello, World!")
    assert not verify_lumx("It's a Secret to Everybody", {"x-hub-signature": gh.upper()}, b"Hello, World!")
    assert not verify_lumx("It's a Secret to Everybody", {"x-hub-signature": gh}, b"Hello, World?")


# ---------------------------------------------------------------------------
# A timeout, started now and checked near the end (it takes >= 10 s)
# ---------------------------------------------------------------------------


class TimeoutCase:
    pass


@pytest.fixture(scope="module")
def timeout_case(server):
    """A standard endpoint (settled events only) whose first attempt stalls 15 s
    (past libcurl's 10 s total timeout) and then answers 200."""
    c = TimeoutCase()
    c.rcv = Receiver()
    c.t = server.new_tenant()
    c.rcv.script("slow", [("slow", 15, 200)], then=200)
    c.ep = create_endpoint(c.t, c.rcv.url("slow"), types=[P + "settled"])
    w = c.t.setup("1000.00")
    c.sid = c.t.create_session(w, "25.00")["id"]
    c.started = time.monotonic()
    yield c
    c.rcv.close()


def test_timeout_case_first_attempt_arrives(timeout_case):
    c = timeout_case
    recs = c.rcv.wait("slow", lambda rs: rs, "the first (stalled) attempt")
    check_standard_rec(recs[0], c.ep["secret"])
    assert recs[0].json()["type"] == P + "settled", recs[0].json()


# ---------------------------------------------------------------------------
# Endpoints: CRUD, secret, capability, URL rules
# ---------------------------------------------------------------------------


def test_endpoint_crud_and_secret_shown_once(server, receiver):
    t = server.new_tenant()
    url = receiver.url("crud")
    ep = create_endpoint(t, url, "standard", ["*"])
    secret = ep["secret"]
    eid = ep["id"]
    lx = create_endpoint(t, receiver.url("crud-lx"), "lumx", ["offramp.success"])
    lx_secret = lx["secret"]
    assert lx_secret != secret
    later = []   # every answer after the creation: none may hold a secret

    def call(method, path, body=None, key=None):
        r = t.req(method, path, body, key=key)
        later.append((method, path, r))
        return r

    r = call("GET", f"/webhook-endpoints/{eid}")
    assert r.status == 200, describe(r)
    assert "secret" not in r.json, f"GET shows the secret: {r.json}"
    assert set(r.json) == ENDPOINT_KEYS, f"GET endpoint keys {sorted(r.json)}"
    want = {k: v for k, v in ep.items() if k != "secret"}
    assert r.json == want, f"GET differs from the creation answer:\n{r.json}\n{want}"

    r = call("GET", "/webhook-endpoints")
    assert r.status == 200, describe(r)
    items = list_items(r)
    assert {i["id"] for i in items} == {eid, lx["id"]}, items
    for i in items:
        assert "secret" not in i, f"list shows a secret: {i}"

    # another tenant sees none of it
    other = server.new_tenant()
    r = other.req("GET", "/webhook-endpoints")
    assert r.status == 200 and list_items(r) == [], describe(r)
    for m, p, b in (("GET", f"/webhook-endpoints/{eid}", None),
                    ("PATCH", f"/webhook-endpoints/{eid}", {"enabled": False}),
                    ("DELETE", f"/webhook-endpoints/{eid}", None),
                    ("POST", f"/webhook-endpoints/{eid}/rotate-secret", None),
                    ("GET", f"/webhook-endpoints/{eid}/attempts", None),
                    ("POST", f"/webhook-endpoints/{eid}/resend", {"event_id": str(uuid.uuid4())})):
        assert_error(other.req(m, p, b), 404, "not_found")
    # unknown / malformed ids
    assert_error(t.req("GET", f"/webhook-endpoints/{uuid.uuid4()}"), 404, "not_found")
    r = t.req("GET", "/webhook-endpoints/not-a-uuid")
    assert r.status == 404, describe(r)

    # PATCH enabled and event_types
    r = call("PATCH", f"/webhook-endpoints/{eid}", {"enabled": False})
    assert r.status == 200, describe(r)
    assert r.json["enabled"] is False and r.json["id"] == eid and "secret" not in r.json, r.json
    assert r.json["event_types"] == ["*"] and r.json["url"] == url, r.json
    assert call("GET", f"/webhook-endpoints/{eid}").json["enabled"] is False
    r = call("PATCH", f"/webhook-endpoints/{eid}", {"event_types": [P + "settled", P + "failed"]})
    assert r.status == 200, describe(r)
    assert r.json["event_types"] == [P + "settled", P + "failed"] and r.json["enabled"] is False, r.json
    r = call("PATCH", f"/webhook-endpoints/{eid}", {"enabled": True, "event_types": ["*"]})
    assert r.status == 200 and r.json["enabled"] is True and r.json["event_types"] == ["*"], describe(r)
    assert r.json["disabled_reason"] is None, r.json
    g = call("GET", f"/webhook-endpoints/{eid}").json
    assert g["enabled"] is True and g["event_types"] == ["*"] and "secret" not in g, g

    # bad PATCH / POST bodies
    for body in ({"enabled": "yes"}, {"event_types": "*"}, {"event_types": ["offramp.success"]},
                 {"event_types": [P + "no_such_status"]}, {"bogus": 1}):
        r = call("PATCH", f"/webhook-endpoints/{eid}", body)
        assert r.status == 400, f"PATCH {body}: expected 400, got {describe(r)}"
        check_error_shape(r)
    for body in ({"url": url, "event_types": ["*"], "format": "xml"},
                 {"url": url, "event_types": ["offramp.success"], "format": "standard"},
                 {"url": url, "event_types": [P + "settled"], "format": "lumx"},
                 {"url": url, "event_types": [P + "bogus"], "format": "standard"},
                 {"event_types": ["*"], "format": "standard"},
                 {"url": "", "event_types": ["*"], "format": "standard"},
                 {"url": 5, "event_types": ["*"], "format": "standard"},
                 {"url": url, "event_types": ["*"], "format": "standard", "secret": "whsec_x"}):
        r = call("POST", "/webhook-endpoints", body)
        assert r.status == 400, f"POST {body}: expected 400, got {describe(r)}"
        check_error_shape(r)

    # attempts of a fresh endpoint: an empty list
    r = call("GET", f"/webhook-endpoints/{eid}/attempts")
    assert r.status == 200 and list_items(r) == [], describe(r)
    assert_error(call("GET", f"/webhook-endpoints/{eid}/attempts?page_token=nonsense"), 400, "invalid_page_token")

    # DELETE
    r = call("DELETE", f"/webhook-endpoints/{eid}")
    assert r.status == 200, describe(r)
    assert r.json == {"id": eid, "deleted": True}, r.json
    assert_error(call("GET", f"/webhook-endpoints/{eid}"), 404, "not_found")
    assert_error(call("DELETE", f"/webhook-endpoints/{eid}"), 404, "not_found")
    assert_error(call("PATCH", f"/webhook-endpoints/{eid}", {"enabled": True}), 404, "not_found")
    r = call("GET", "/webhook-endpoints")
    assert [i["id"] for i in list_items(r)] == [lx["id"]], describe(r)

    log = server.stderr()
    for s in (secret, lx_secret):
        assert s not in log, "the server logged a webhook secret"
    for m, p, r in later:
        for s in (secret, lx_secret):
            assert s.encode() not in r.raw, f"{m} {p} answered with a secret: {describe(r)}"
            assert s[len("whsec_"):].encode() not in r.raw if s.startswith("whsec_") else True, \
                f"{m} {p} answered with a secret's key: {describe(r)}"


def test_webhooks_manage_capability(server, receiver):
    t = server.new_tenant()
    ep = create_endpoint(t, receiver.url("cap"))
    eid = ep["id"]
    k = t.key_without("webhooks.manage")
    for m, p, b in (("POST", "/webhook-endpoints", {"url": receiver.url("cap2"), "event_types": ["*"],
                                                    "format": "standard"}),
                    ("GET", "/webhook-endpoints", None),
                    ("GET", f"/webhook-endpoints/{eid}", None),
                    ("PATCH", f"/webhook-endpoints/{eid}", {"enabled": False}),
                    ("DELETE", f"/webhook-endpoints/{eid}", None),
                    ("POST", f"/webhook-endpoints/{eid}/rotate-secret", None),
                    ("GET", f"/webhook-endpoints/{eid}/attempts", None),
                    ("POST", f"/webhook-endpoints/{eid}/resend", {"event_id": str(uuid.uuid4())})):
        r = t.req(m, p, b, key=k)
        assert_error(r, 403, "missing_capability")
        assert ep["secret"].encode() not in r.raw
    # nothing changed
    g = get_endpoint(t, eid)
    assert g["enabled"] is True, g
    r = t.req("GET", "/webhook-endpoints")
    assert [i["id"] for i in list_items(r)] == [eid], describe(r)
    # webhooks.manage alone is enough
    only = t.make_key(["webhooks.manage"])["api_key"]
    ep2 = create_endpoint(t, receiver.url("cap3"), key=only)
    r = t.req("GET", f"/webhook-endpoints/{ep2['id']}", key=only)
    assert r.status == 200, describe(r)
    r = t.req("DELETE", f"/webhook-endpoints/{ep2['id']}", key=only)
    assert r.status == 200, describe(r)
    r = t.req("POST", f"/webhook-endpoints/{eid}/resend", {"event_id": str(uuid.uuid4())}, key=only)
    assert_error(r, 404, "not_found")


def assert_unsafe(r, url):
    assert r.status in (400, 422), f"POST url {url}: expected 400/422 unsafe_webhook_url, got {describe(r)}"
    check_error_shape(r)
    assert r.json["code"] == "unsafe_webhook_url", f"POST url {url}: expected unsafe_webhook_url, got {describe(r)}"


def assert_refused(r, url):
    assert r.status in (400, 422), f"POST url {url}: expected a 400/422 refusal, got {describe(r)}"
    check_error_shape(r)


UNSAFE_HOSTS = ["10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.255.1", "192.168.1.1", "169.254.169.254",
                "169.254.0.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "224.0.0.1", "239.255.255.250",
                "255.255.255.255", "[fc00::1]", "[fd12:3456::1]", "[fe80::1]", "[::]", "[ff02::1]",
                "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]"]
BAD_SCHEMES = ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/x", "dict://127.0.0.1:11211/",
               "javascript:alert(1)", "127.0.0.1:8080/x", "//127.0.0.1/x", "ws://127.0.0.1/x", "not a url"]


def test_url_rules_with_loopback_flag(server, receiver):
    t = server.new_tenant()

    def post(url):
        return t.req("POST", "/webhook-endpoints", {"url": url, "event_types": ["*"], "format": "standard"})

    for url in ["http://10.0.0.1/x", "http://192.168.1.1/x", "http://169.254.169.254/latest",
                "https://10.0.0.1/x", "https://169.254.169.254/latest/meta-data/"] + \
               [f"http://{h}/x" for h in UNSAFE_HOSTS] + [f"https://{h}/x" for h in UNSAFE_HOSTS]:
        assert_unsafe(post(url), url)
    # decimal / octal / hex / short spellings of private addresses resolve to them
    for url in ["http://2852039166/latest", "http://0251.0376.0251.0376/latest", "http://169.254.169.254.:80/x",
                "http://0x0a000001/", "http://10.1/", "http://[0:0:0:0:0:ffff:a00:1]/", "http://[fe80::1%25eth0]/"]:
        assert_refused(post(url), url)
    # URL-parser confusion: by RFC 3986 (and libcurl) the host of each is a private address
    for url in ["http://127.0.0.1:80@10.0.0.1/", "http://10.0.0.1#@127.0.0.1/", "http://10.0.0.1?@127.0.0.1/",
                "http://user@169.254.169.254/latest"]:
        assert_refused(post(url), url)
    for url in BAD_SCHEMES:
        assert_refused(post(url), url)
    # loopback is admitted with the flag
    ep = create_endpoint(t, f"http://127.0.0.1:{receiver.port}/")
    ep2 = create_endpoint(t, f"http://[::1]:{receiver.port}/hook")
    ep3 = create_endpoint(t, "http://127.0.0.2:9/x")
    r = t.req("GET", "/webhook-endpoints")
    assert {i["id"] for i in list_items(r)} == {ep["id"], ep2["id"], ep3["id"]}, \
        f"refused URLs must not be stored: {describe(r)}"


def test_url_rules_without_loopback_flag(server_factory, receiver):
    srv = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=["--webhook-retry-base-ms", str(RETRY_BASE_MS)])
    t = srv.new_tenant()

    def post(url):
        return t.req("POST", "/webhook-endpoints", {"url": url, "event_types": ["*"], "format": "standard"})

    # http:// is refused outright without the flag (WEBHOOKS.md "https:// only"): the scheme
    # refusal may come first (400 invalid_value on /url) or the address one
    for url in ["http://10.0.0.1/x", "http://192.168.1.1/x", "http://169.254.169.254/latest",
                f"http://[::1]:{receiver.port}/", f"http://127.0.0.1:{receiver.port}/",
                f"http://localhost:{receiver.port}/"]:
        r = post(url)
        if not (r.status == 400 and r.json and r.json.get("code") == "invalid_value"):
            assert_unsafe(r, url)
    # https:// to a non-public address: the address rule, loopback included
    for url in [f"https://127.0.0.1:{receiver.port}/", f"https://[::1]:{receiver.port}/", "https://127.1.2.3/x",
                "https://[::ffff:127.0.0.1]/x"] + [f"https://{h}/x" for h in UNSAFE_HOSTS]:
        assert_unsafe(post(url), url)
    for url in BAD_SCHEMES:
        assert_refused(post(url), url)
    r = t.req("GET", "/webhook-endpoints")
    assert r.status == 200 and list_items(r) == [], describe(r)
    srv.verify_ledger()


# ---------------------------------------------------------------------------
# Deliveries: standard and lumx
# ---------------------------------------------------------------------------


def test_standard_deliveries_success_and_failures(server, receiver):
    t = server.new_tenant()
    ep = create_endpoint(t, receiver.url("std"))
    w = t.setup("1000.00")
    amounts = {"250.00": ["executing", "executed", "settled"], "10.06": ["executing", "executed", "failed"],
               "10.05": ["executing", "failed"]}
    sids = {t.create_session(w, a)["id"]: path for a, path in amounts.items()}
    finals = settle_all(t, sids)
    want = standard_expected(t, sids)
    assert len(want) == 8, f"GET /events status events: {[e['type'] for e in want.values()]}"
    recs = wait_ids(receiver, "std", want, "every status event of the three sessions")
    unrelated = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
    seen = {}
    for rec in recs:
        body = check_standard_rec(rec, ep["secret"], [unrelated])
        assert len(standard_signatures(rec.headers["webhook-signature"])) == 1, \
            f"one signature outside a rotation: {rec.headers['webhook-signature']!r}"
        wid = rec.headers["webhook-id"]
        assert wid in want, f"delivery of an event that is not a status event in GET /events: {body}"
        ev = want[wid]
        assert body["type"] == ev["type"], (body["type"], ev["type"])
        assert body["created_at"] == ev["created_at"], (body["created_at"], ev["created_at"])
        assert body["sequence"] in (ev["session_sequence"], ev["sequence"]), \
            f"sequence {body['sequence']} is neither the event's session_sequence nor its sequence: {ev}"
        assert body["data"] == ev["data"], f"data differs from GET /events data:\n{body['data']}\n{ev['data']}"
        if wid in seen:
            assert seen[wid] == body, f"two deliveries of {wid} differ"
        seen[wid] = body
    # per session: order by sequence gives the state path; sequences rise
    for sid, path in sids.items():
        mine = sorted((b for b in seen.values() if b["data"]["id"] == sid), key=lambda b: b["sequence"])
        seqs = [b["sequence"] for b in mine]
        assert len(set(seqs)) == len(seqs), f"sequences repeat for {sid}: {seqs}"
        assert [b["type"][len(P):] for b in mine] == path, \
            f"session {sid}: types by sequence {[b['type'] for b in mine]}, expected {path}"
        assert mine[-1]["data"] == finals[sid], f"last delivery's data is not the final session:\n{mine[-1]['data']}"
    assert {s: f["status"] for s, f in finals.items()} == {s: p[-1] for s, p in sids.items()}
    # the attempts list: one 200 attempt per delivered event
    items = wait_attempts(t, ep["id"], lambda it: {i["event_id"] for i in it} >= set(want), "attempts of std")
    for i in items:
        assert ATTEMPT_KEYS <= set(i), f"attempt lacks {ATTEMPT_KEYS - set(i)}: {i}"
    assert {i["event_id"] for i in items} == set(want), items
    assert all(i["status_code"] == 200 for i in items), items


def test_lumx_deliveries(server, receiver):
    t = server.new_tenant()
    ep = create_endpoint(t, receiver.url("lx"), "lumx", ["*"])
    secret = ep["secret"]
    w = t.setup("1000.00")
    paths = {"250.00": ["transferring_stablecoin", "trading", "transferring_fiat", "success"],
             "10.06": ["transferring_stablecoin", "trading", "transferring_fiat", "failed", "refunding", "refunded"],
             "10.05": ["transferring_stablecoin", "failed", "refunding", "refunded"]}
    sids = {t.create_session(w, a)["id"]: p for a, p in paths.items()}
    settle_all(t, sids)
    want = lumx_expected(t, sids)
    assert len(want) == 14, sorted(v[0] for v in want.values())
    recs = wait_ids(receiver, "lx", want, "every lumx event of the three sessions", lumx=True)
    bodies = {}
    for rec in recs:
        body = check_lumx_rec(rec, secret)
        assert "webhook-signature" not in rec.headers, "a lumx endpoint got a standard signature header"
        assert "x-hub-signature-previous" not in rec.headers, "X-Hub-Signature-Previous outside a rotation"
        assert body["eventId"] in want, f"unexpected lumx eventId {body['eventId']}: {body}"
        etype, ev = want[body["eventId"]]
        assert body["eventType"] == etype, f"eventId {body['eventId']}: {body['eventType']}, expected {etype}"
        d = body["data"]
        assert isinstance(d, dict) and d.get("id") == ev["data"]["id"], f"data.id: {d}"
        assert d.get("type") == "OFF_RAMP" and isinstance(d.get("state"), dict), d
        assert isinstance(d.get("sequence"), int), f"lumx data lacks an integer sequence: {d}"
        if body["eventId"] in bodies:
            assert bodies[body["eventId"]] == body, f"two deliveries of {body['eventId']} differ"
        bodies[body["eventId"]] = body
    # each event's data is the transaction as it stood at that event, and
    # data.sequence orders a session's events: the GET /events
    # session_sequence of the transition, and for the two refund events
    # that follow a failure (terminal: nothing can come after it) the
    # failure's + 1 and + 2.
    status_of = {"offramp.transferring_stablecoin": "TRANSFERRING_STABLECOIN", "offramp.trading": "TRADING",
                 "offramp.transferring_fiat": "TRANSFERRING_FIAT", "offramp.success": "SUCCESS",
                 "offramp.failed": "FAILED", "offramp.refunding": "REFUNDING", "offramp.refunded": "REFUNDED"}
    for sid, path in sids.items():
        mine = sorted((b for b in bodies.values() if b["data"]["id"] == sid), key=lambda b: b["data"]["sequence"])
        assert [b["eventType"] for b in mine] == ["offramp." + p for p in path], \
            f"{sid}: event types by data.sequence {[(b['eventType'], b['data']['sequence']) for b in mine]}"
        seqs = [b["data"]["sequence"] for b in mine]
        assert len(set(seqs)) == len(seqs), f"{sid}: events share a sequence: {seqs}"
        for b in mine:
            st = b["data"]["state"]
            assert st.get("status") == status_of[b["eventType"]], f"{b['eventType']} carries state {st}"
            ev = want[b["eventId"]][1]
            if b["eventId"] == ev["id"]:
                assert b["data"]["sequence"] == ev["session_sequence"], (b, ev)
            if b["eventType"] in ("offramp.failed", "offramp.refunding", "offramp.refunded"):
                assert st.get("error", {}).get("code") == ev["data"]["failure_reason"], \
                    f"{b['eventType']} without the failure's state.error: {st}"
        if path[-1] == "refunded":
            failed, refunding, refunded = mine[-3:]
            base = failed["data"]["sequence"]
            assert failed["eventId"] == want[failed["eventId"]][1]["id"], "offramp.failed has the failure's event id"
            assert [refunding["data"]["sequence"], refunded["data"]["sequence"]] == [base + 1, base + 2], seqs
            assert t.events(sid)[-1]["session_sequence"] == base, "the failure is the session's last event"
        tx = t.get(f"/transactions/{sid}")
        last = dict(mine[-1]["data"])
        last.pop("sequence")
        assert last == tx, f"{sid}: last lumx event's data is not GET /transactions:\n{last}\n{tx}"
        if path[-1] == "success":
            assert "receipt" in mine[-1]["data"]["state"], mine[-1]
        else:
            assert mine[-1]["data"]["state"].get("error"), f"refunded event without state.error: {mine[-1]}"


def test_lumx_metadata_numbers_exact(server, receiver):
    """A Lumx transaction's metadata reaches a lumx endpoint with every
    number's text as sent, in each event (the body is what is signed)."""
    t = server.new_tenant()
    ep = create_endpoint(t, receiver.url("lxm"), "lumx", ["*"])
    cust = t.req("POST", "/customers", {"type": "BUSINESS", "legalName": "Acme", "country": "DEU",
                                        "email": "ops@acme.example", "taxId": "DE123456789"})
    assert cust.status == 201, describe(cust)
    t.deposit(cust.json["accountRef"], "100.00")
    dest = t.req("POST", "/destinations", {
        "customerId": cust.json["id"], "name": "EUR", "rail": "SEPA", "currency": "EUR",
        "identifier": {"iban": "DE89370400440532013000"},
        "holder": {"type": "BUSINESS", "relationship": "SELF", "legalName": "Acme"}})
    assert dest.status == 201, describe(dest)
    # .05 fails the stablecoin transfer: the three failure events carry it too
    tx = t.req("POST", "/transactions/off-ramp", exact_tx_text(dest.json["id"], "10.05"))
    assert tx.status == 202, describe(tx)
    want = {"offramp.transferring_stablecoin", "offramp.failed", "offramp.refunding", "offramp.refunded"}

    def mine(rs):
        return {r.json()["eventType"]: r for r in rs if r.json()["data"]["id"] == tx.json["id"]}
    recs = receiver.wait("lxm", lambda rs: set(mine(rs)) >= want, "the lumx events of the transaction")
    for etype, rec in mine(recs).items():
        check_lumx_rec(rec, ep["secret"])
        assert_exact_metadata(rec.body, etype, paths=(("data", "metadata"), ("data", "request", "metadata")))


def test_event_types_filtering_and_patch(server, receiver):
    t = server.new_tenant()
    create_endpoint(t, receiver.url("ctl"))           # control: gets everything
    only = create_endpoint(t, receiver.url("only"), types=[P + "settled"])
    lxf = create_endpoint(t, receiver.url("lxf"), "lumx", ["offramp.success", "offramp.refunded"])
    w = t.setup("1000.00")
    s1 = [t.create_session(w, "30.00")["id"], t.create_session(w, "10.06")["id"]]
    settle_all(t, s1)
    want = standard_expected(t, s1)
    wait_ids(receiver, "ctl", want, "control endpoint: everything")
    settled = {i for i, e in want.items() if e["type"] == P + "settled"}
    assert len(settled) == 1
    wait_ids(receiver, "only", settled, "the settled event at the filtered endpoint")
    lx_want = {i for i, (ty, _) in lumx_expected(t, s1).items() if ty in ("offramp.success", "offramp.refunded")}
    assert len(lx_want) == 2
    wait_ids(receiver, "lxf", lx_want, "the filtered lumx endpoint's events", lumx=True)
    time.sleep(0.3)
    got = receiver.got("only")
    for r in got:
        check_standard_rec(r, only["secret"])
    assert ids_of(got) == settled, f"filtered endpoint got {[r.json()['type'] for r in got]}"
    got = receiver.got("lxf")
    for r in got:
        check_lumx_rec(r, lxf["secret"])
    assert ids_of(got, lumx=True) == lx_want, f"filtered lumx endpoint got {[r.json()['eventType'] for r in got]}"

    # PATCH the filter: now failures only
    r = t.req("PATCH", f"/webhook-endpoints/{only['id']}", {"event_types": [P + "failed"]})
    assert r.status == 200 and r.json["event_types"] == [P + "failed"], describe(r)
    before = len(receiver.got("only"))
    s2 = [t.create_session(w, "31.00")["id"], t.create_session(w, "10.05")["id"]]
    settle_all(t, s2)
    want2 = standard_expected(t, s2)
    wait_ids(receiver, "ctl", want2, "control endpoint: the second pair")
    failed = {i for i, e in want2.items() if e["type"] == P + "failed"}
    wait_ids(receiver, "only", failed, "the failed event after PATCH event_types")
    time.sleep(0.3)
    new = receiver.got("only")[before:]
    assert ids_of(new) == failed, f"after PATCH to failed only, got {[r.json()['type'] for r in new]}"


def test_disabled_and_deleted_endpoints_get_nothing(server, receiver):
    t = server.new_tenant()
    create_endpoint(t, receiver.url("ctl"))           # control: gets everything
    off = create_endpoint(t, receiver.url("off"))
    gone = create_endpoint(t, receiver.url("deleted"))
    r = t.req("PATCH", f"/webhook-endpoints/{off['id']}", {"enabled": False})
    assert r.status == 200 and r.json["enabled"] is False, describe(r)
    r = t.req("DELETE", f"/webhook-endpoints/{gone['id']}")
    assert r.status == 200, describe(r)
    w = t.setup("1000.00")
    sids = [t.create_session(w, "40.00")["id"]]
    settle_all(t, sids)
    want = standard_expected(t, sids)
    wait_ids(receiver, "ctl", want, "control endpoint")
    time.sleep(0.3)
    assert receiver.got("off") == [], f"a disabled endpoint got deliveries: {receiver.got('off')}"
    assert receiver.got("deleted") == [], f"a deleted endpoint got deliveries: {receiver.got('deleted')}"
    # enabled again: later events arrive
    r = t.req("PATCH", f"/webhook-endpoints/{off['id']}", {"enabled": True})
    assert r.status == 200 and r.json["enabled"] is True, describe(r)
    s2 = [t.create_session(w, "41.00")["id"]]
    settle_all(t, s2)
    want2 = standard_expected(t, s2)
    recs = wait_ids(receiver, "off", want2, "the re-enabled endpoint")
    for rec in recs:
        check_standard_rec(rec, off["secret"])
    assert receiver.got("deleted") == []


# ---------------------------------------------------------------------------
# Retries, 410, 3xx, timeouts
# ---------------------------------------------------------------------------


def test_retries_500_three_times_then_200(server, receiver):
    t = server.new_tenant()
    receiver.script("flaky", [500, 500, 500], then=200)
    ep = create_endpoint(t, receiver.url("flaky"), types=[P + "settled"])
    w = t.setup("1000.00")
    sid = t.create_session(w, "50.00")["id"]
    settle_all(t, [sid])
    recs = receiver.wait("flaky", lambda rs: len(rs) >= 4, "four attempts")
    assert [r.answered for r in recs[:4]] == [500, 500, 500, 200], recs
    ids = {r.headers.get("webhook-id") for r in recs}
    assert len(ids) == 1, f"the webhook-id changed across retries: {ids}"
    ev = standard_expected(t, [sid])
    settled_id = [i for i, e in ev.items() if e["type"] == P + "settled"]
    assert ids == set(settled_id), (ids, settled_id)
    bodies = [check_standard_rec(r, ep["secret"]) for r in recs]
    assert all(b == bodies[0] for b in bodies), "retries carry a different body"
    gaps = [recs[i + 1].t - recs[i].t for i in range(3)]
    for i, g in enumerate(gaps):
        floor = 0.8 * RETRY_BASE_MS * 2 ** i / 1000 * 0.9
        assert g >= floor, f"retry {i + 1} came {g:.3f}s after the previous attempt (base {RETRY_BASE_MS} ms, " \
                           f"doubling, -20% jitter: at least {floor:.3f}s); gaps {gaps}"
    # the attempts: newest first, with their status codes
    items = wait_attempts(t, ep["id"], lambda it: len(it) >= 4, "4 attempts listed")
    assert len(items) == 4, items
    for i in items:
        assert ATTEMPT_KEYS <= set(i), f"attempt lacks {ATTEMPT_KEYS - set(i)}: {i}"
        assert UUID_RE.match(i["id"]) and TS_RE.match(i["created_at"]), i
        assert isinstance(i["duration_ms"], int) and i["duration_ms"] >= 0, i
    assert [i["status_code"] for i in items] == [200, 500, 500, 500], items
    assert [i["attempt"] for i in items] == [4, 3, 2, 1], items
    assert {i["event_id"] for i in items} == ids, items
    assert len({i["delivery_id"] for i in items}) == 1, items
    assert len({i["id"] for i in items}) == 4, items
    assert items[0]["error"] in (None, ""), f"a 200 attempt with an error: {items[0]}"
    # paging
    r = t.req("GET", f"/webhook-endpoints/{ep['id']}/attempts?page_size=3")
    assert r.status == 200, describe(r)
    assert [i["id"] for i in list_items(r)] == [i["id"] for i in items[:3]], describe(r)
    assert r.json.get("next_page_token"), describe(r)
    r2 = t.req("GET", f"/webhook-endpoints/{ep['id']}/attempts?page_size=3&page_token="
               + urllib.parse.quote(r.json["next_page_token"]))
    assert r2.status == 200 and [i["id"] for i in list_items(r2)] == [items[3]["id"]], describe(r2)
    assert not r2.json.get("next_page_token"), describe(r2)
    # done: no more attempts
    time.sleep(0.5)
    assert len(receiver.got("flaky")) == 4, receiver.got("flaky")


def test_410_disables_the_endpoint(server, receiver):
    t = server.new_tenant()
    receiver.script("gone", [], then=410)
    ep = create_endpoint(t, receiver.url("gone"))
    create_endpoint(t, receiver.url("ctl"))           # control: gets everything
    w = t.setup("1000.00")
    s1 = t.create_session(w, "60.00")["id"]
    receiver.wait("gone", lambda rs: rs, "the first attempt at the 410 endpoint")

    def disabled():
        e = get_endpoint(t, ep["id"])
        return e["enabled"] is False, e
    e = poll_until(disabled, WAIT, "the endpoint to be disabled after a 410")
    t_disabled = time.monotonic()
    assert e["disabled_reason"] == "gone", e
    assert "secret" not in e, e
    settle_all(t, [s1])
    wait_ids(receiver, "ctl", standard_expected(t, [s1]), "control endpoint, first session")
    s2 = t.create_session(w, "61.00")["id"]
    settle_all(t, [s2])
    wait_ids(receiver, "ctl", standard_expected(t, [s2]), "control endpoint, second session")
    time.sleep(0.3)
    recs = receiver.got("gone")
    late = [r for r in recs if r.t > t_disabled + 0.2]
    assert not late, f"the endpoint disabled by a 410 still received: {late}"
    ids = [r.headers.get("webhook-id") for r in recs]
    assert len(ids) == len(set(ids)), f"a delivery answered 410 was retried: {ids}"
    for r in recs:
        check_standard_rec(r, ep["secret"])
    items = wait_attempts(t, ep["id"], lambda it: it, "the 410 attempt listed")
    assert items[-1]["status_code"] == 410, items
    assert {i["status_code"] for i in items} == {410}, items
    # the reason stays until the endpoint is enabled again
    g = get_endpoint(t, ep["id"])
    assert g["enabled"] is False and g["disabled_reason"] == "gone", g
    receiver.script("gone", [], then=200)
    r = t.req("PATCH", f"/webhook-endpoints/{ep['id']}", {"enabled": True})
    assert r.status == 200 and r.json["enabled"] is True and r.json["disabled_reason"] is None, describe(r)
    s3 = t.create_session(w, "62.00")["id"]
    settle_all(t, [s3])
    wait_ids(receiver, "gone", standard_expected(t, [s3]), "the endpoint enabled again after a 410")


def test_302_is_not_followed_and_delete_drops_pending(server, receiver):
    t = server.new_tenant()
    receiver.script("redir", [], then=("redirect", "target"))
    ep = create_endpoint(t, receiver.url("redir"), types=[P + "settled"])
    w = t.setup("1000.00")
    sid = t.create_session(w, "70.00")["id"]
    settle_all(t, [sid])
    recs = receiver.wait("redir", lambda rs: len(rs) >= 3, "the 302 to be retried twice")
    assert receiver.got("target") == [], f"the redirect was followed: {receiver.got('target')}"
    assert len({r.headers.get("webhook-id") for r in recs}) == 1, recs
    for r in recs:
        check_standard_rec(r, ep["secret"])
    items = wait_attempts(t, ep["id"], lambda it: len(it) >= 3, "3 attempts listed")
    assert all(i["status_code"] == 302 for i in items), f"3xx attempts should be recorded as 302: {items}"
    assert get_endpoint(t, ep["id"])["enabled"] is True, "a 302 must not disable the endpoint"
    # DELETE drops the pending delivery
    r = t.req("DELETE", f"/webhook-endpoints/{ep['id']}")
    assert r.status == 200 and r.json == {"id": ep["id"], "deleted": True}, describe(r)
    t_deleted = time.monotonic()
    n = len(receiver.got("redir"))
    time.sleep(1.6)     # the next retries were due 0.4 s and 0.8 s after the last
    late = [r for r in receiver.got("redir") if r.t > t_deleted + 0.2]
    assert not late, f"deliveries of a deleted endpoint continued ({n} before DELETE): {late}"
    assert receiver.got("target") == []


def test_connection_refused_is_retried(server):
    """No listener at the URL: every attempt is recorded (no status code, an
    error) and retried; the endpoint stays enabled."""
    t = server.new_tenant()
    with socket.socket() as sk:          # a port nobody listens on
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    ep = create_endpoint(t, f"http://127.0.0.1:{port}/nobody", types=[P + "settled"])
    w = t.setup("1000.00")
    sid = t.create_session(w, "71.00")["id"]
    settle_all(t, [sid])
    items = wait_attempts(t, ep["id"], lambda it: len(it) >= 3, "3 refused attempts listed")
    assert len({i["delivery_id"] for i in items}) == 1 and len({i["event_id"] for i in items}) == 1, items
    for i in items:
        assert i["status_code"] is None and isinstance(i["error"], str) and i["error"], \
            f"a refused connection is recorded without a status code and with an error: {i}"
    assert sorted(i["attempt"] for i in items) == list(range(1, len(items) + 1)), items
    assert get_endpoint(t, ep["id"])["enabled"] is True
    r = t.req("DELETE", f"/webhook-endpoints/{ep['id']}")
    assert r.status == 200, describe(r)


def test_resend(server, receiver):
    t = server.new_tenant()
    ep = create_endpoint(t, receiver.url("rs"))
    w = t.setup("1000.00")
    sid = t.create_session(w, "80.00")["id"]
    settle_all(t, [sid])
    want = standard_expected(t, [sid])
    wait_ids(receiver, "rs", want, "all events before resend")
    settled = [i for i, e in want.items() if e["type"] == P + "settled"][0]
    first = [r for r in receiver.got("rs") if r.headers.get("webhook-id") == settled][0]
    n = len([r for r in receiver.got("rs") if r.headers.get("webhook-id") == settled])
    r = t.req("POST", f"/webhook-endpoints/{ep['id']}/resend", {"event_id": settled})
    assert r.status == 202, describe(r)
    assert isinstance(r.json, dict) and isinstance(r.json.get("delivery_id"), str), describe(r)
    did = r.json["delivery_id"]
    recs = receiver.wait("rs", lambda rs: len([x for x in rs if x.headers.get("webhook-id") == settled]) > n,
                         "the resent event")
    again = [x for x in recs if x.headers.get("webhook-id") == settled][-1]
    assert check_standard_rec(again, ep["secret"]) == first.json(), "the resent event's body differs"
    items = wait_attempts(t, ep["id"], lambda it: any(i["delivery_id"] == did for i in it), "the resend's attempt")
    mine = [i for i in items if i["delivery_id"] == did]
    assert mine and mine[0]["event_id"] == settled and mine[0]["status_code"] == 200, mine
    # refusals
    assert_error(t.req("POST", f"/webhook-endpoints/{ep['id']}/resend", {"event_id": str(uuid.uuid4())}),
                 404, "not_found")
    r = t.req("POST", f"/webhook-endpoints/{ep['id']}/resend", {})
    assert_error(r, 400, "missing_field")
    r = t.req("POST", f"/webhook-endpoints/{ep['id']}/resend", {"event_id": 5})
    assert r.status == 400, describe(r)
    other = server.new_tenant()
    ow = other.setup("100.00")
    osid = other.create_session(ow, "10.00")["id"]
    oev = other.events(osid)[0]["id"]
    assert_error(t.req("POST", f"/webhook-endpoints/{ep['id']}/resend", {"event_id": oev}), 404, "not_found")
    assert_error(t.req("POST", f"/webhook-endpoints/{uuid.uuid4()}/resend", {"event_id": settled}), 404, "not_found")


def test_rotate_secret(server, receiver):
    t = server.new_tenant()
    std = create_endpoint(t, receiver.url("std"))
    lx = create_endpoint(t, receiver.url("lx"), "lumx")
    olds = {std["id"]: std["secret"], lx["id"]: lx["secret"]}
    news = {}
    for ep in (std, lx):
        r = t.req("POST", f"/webhook-endpoints/{ep['id']}/rotate-secret")
        assert r.status == 200, describe(r)
        assert r.json["id"] == ep["id"] and ENDPOINT_KEYS <= set(r.json), r.json
        new = r.json.get("secret")
        assert isinstance(new, str) and new and new != ep["secret"], f"rotate-secret gave {new!r}"
        assert ep["secret"].encode() not in r.raw, "rotate-secret's answer shows the old secret"
        news[ep["id"]] = new
    check_standard_secret(news[std["id"]])
    for ep in (std, lx):
        r = t.req("GET", f"/webhook-endpoints/{ep['id']}")
        assert r.status == 200 and "secret" not in r.json, describe(r)
        assert news[ep["id"]].encode() not in r.raw and olds[ep["id"]].encode() not in r.raw, describe(r)
    r = t.req("GET", "/webhook-endpoints")
    for s in list(olds.values()) + list(news.values()):
        assert s.encode() not in r.raw, describe(r)
    w = t.setup("1000.00")
    sid = t.create_session(w, "90.00")["id"]
    settle_all(t, [sid])
    recs = wait_ids(receiver, "std", standard_expected(t, [sid]), "standard deliveries after rotation")
    old, new = olds[std["id"]], news[std["id"]]
    for rec in recs:
        check_standard_rec(rec, new)
        sigs = standard_signatures(rec.headers["webhook-signature"])
        assert len(sigs) == 2, f"during the grace period two signatures are sent: {rec.headers['webhook-signature']!r}"
        h = rec.headers
        by_old = [s for s in sigs if s == sign_standard(old, h["webhook-id"], h["webhook-timestamp"], rec.body)]
        by_new = [s for s in sigs if s == sign_standard(new, h["webhook-id"], h["webhook-timestamp"], rec.body)]
        assert len(by_old) == 1 and len(by_new) == 1, \
            f"one signature must verify with the old secret and one with the new: {h['webhook-signature']!r}"
    recs = wait_ids(receiver, "lx", {i for i in lumx_expected(t, [sid])}, "lumx deliveries after rotation", lumx=True)
    for rec in recs:
        check_lumx_rec(rec, news[lx["id"]])
        assert verify_lumx(olds[lx["id"]], rec.headers, rec.body, "x-hub-signature-previous"), \
            f"X-Hub-Signature-Previous does not verify with the old secret: {rec.header_list}"
    # attempts do not leak either secret
    r = t.req("GET", f"/webhook-endpoints/{std['id']}/attempts")
    for s in list(olds.values()) + list(news.values()):
        assert s.encode() not in r.raw, describe(r)


def test_any_2xx_ends_a_delivery_and_large_answers_are_fine(server, receiver):
    """204 and 299 are 2xx; a 200 with a 1 MiB body (only 64 KiB of it read)
    still ends the delivery: one attempt each."""
    t = server.new_tenant()
    receiver.script("n204", [], then=204)
    receiver.script("n299", [], then=299)
    receiver.script("big", [], then=("big", 1 << 20, 200))
    eps = {n: create_endpoint(t, receiver.url(n), types=[P + "settled"]) for n in ("n204", "n299", "big")}
    w = t.setup("1000.00")
    sid = t.create_session(w, "75.00")["id"]
    settle_all(t, [sid])
    want = {i for i, e in standard_expected(t, [sid]).items() if e["type"] == P + "settled"}
    for n, ep in eps.items():
        wait_ids(receiver, n, want, f"the settled event at {n}")
        items = wait_attempts(t, ep["id"], lambda it: it, f"the attempt of {n}")
        assert [i["status_code"] for i in items] == [{"n204": 204, "n299": 299, "big": 200}[n]], \
            f"{n}: one successful attempt expected, got {items}"
    time.sleep(0.5)
    for n, ep in eps.items():
        recs = receiver.got(n)
        assert len(recs) == 1, f"{n}: a 2xx must end the delivery, got {len(recs)} attempts: {recs}"
        check_standard_rec(recs[0], ep["secret"])


def test_approval_and_cancel_deliveries(server, receiver):
    """pending_approval and cancelled are statuses too; Lumx's
    transferring_stablecoin comes with the approval."""
    t = server.new_tenant()
    std = create_endpoint(t, receiver.url("std"))
    lx = create_endpoint(t, receiver.url("lx") + "?token=abc&n=1", "lumx")
    w = t.setup("10000.00")
    t.set_threshold("1000.00")
    approver = t.make_key(["ramps.approve", "ramps.read"])["api_key"]
    ok = t.create_session(w, "1000.00")
    cx = t.create_session(w, "1000.00")
    assert ok["status"] == "pending_approval" and cx["status"] == "pending_approval", (ok, cx)
    r = t.req("POST", f"/approvals/{ok['approval_ref'].split('/')[1]}/approve", key=approver)
    assert r.status == 200, describe(r)
    r = t.req("POST", f"/off-ramp-sessions/{cx['id']}/cancel")
    assert r.status == 200, describe(r)
    settle_all(t, [ok["id"], cx["id"]])
    want = standard_expected(t, [ok["id"], cx["id"]])
    recs = wait_ids(receiver, "std", want, "standard events of approved and cancelled sessions")
    bodies = {}
    for rec in recs:
        b = check_standard_rec(rec, std["secret"])
        assert b["id"] in want and b["data"] == want[b["id"]]["data"], b
        bodies[b["id"]] = b
    for sid, path in ((ok["id"], ["pending_approval", "executing", "executed", "settled"]),
                      (cx["id"], ["pending_approval", "cancelled"])):
        mine = sorted((b for b in bodies.values() if b["data"]["id"] == sid), key=lambda b: b["sequence"])
        assert [b["type"][len(P):] for b in mine] == path, f"{sid}: {[b['type'] for b in mine]}"
    lx_want = {i: v for i, v in lumx_expected(t, [ok["id"]]).items()}
    assert [v[0] for v in lx_want.values()] == ["offramp." + x for x in
                                                ("transferring_stablecoin", "trading", "transferring_fiat", "success")]
    recs = wait_ids(receiver, "lx", lx_want, "lumx events of the approved session", lumx=True)
    for rec in recs:
        assert rec.path.endswith("/lx?token=abc&n=1"), f"delivered to {rec.path}, not the endpoint's URL"
        b = check_lumx_rec(rec, lx["secret"])
        if b["eventId"] in lx_want:
            assert b["eventType"] == lx_want[b["eventId"]][0], b
            assert b["data"]["id"] == ok["id"], b


def test_many_sessions_each_event_once(server, receiver):
    """Concurrent sessions: every event arrives, and (no crash) exactly once:
    a delivery is leased by one dispatcher at a time."""
    t = server.new_tenant()
    receiver.script("std", [], then=("slow", 0.05, 200))
    std = create_endpoint(t, receiver.url("std"))
    lx = create_endpoint(t, receiver.url("lx"), "lumx")
    w = t.setup("10000.00")
    amounts = ["%d.%s" % (20 + i, ("00", "06", "05")[i % 3]) for i in range(15)]
    sids = [t.create_session(w, a)["id"] for a in amounts]
    settle_all(t, sids)
    want = standard_expected(t, sids)
    lx_want = lumx_expected(t, sids)
    recs = wait_ids(receiver, "std", want, "every standard event of 15 sessions")
    lrecs = wait_ids(receiver, "lx", lx_want, "every lumx event of 15 sessions", lumx=True)
    time.sleep(0.3)
    recs, lrecs = receiver.got("std"), receiver.got("lx")
    ids = [r.headers.get("webhook-id") for r in recs]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    assert not dups, f"events delivered more than once without a crash: {dups}"
    lids = [r.json()["eventId"] for r in lrecs]
    ldups = sorted({i for i in lids if lids.count(i) > 1})
    assert not ldups, f"lumx events delivered more than once without a crash: {ldups}"
    assert set(ids) == set(want) and set(lids) == set(lx_want)
    for r in recs:
        check_standard_rec(r, std["secret"])
    for r in lrecs:
        check_lumx_rec(r, lx["secret"])


def test_timeout_is_retried(server, timeout_case):
    c = timeout_case
    recs = c.rcv.wait("slow", lambda rs: len(rs) >= 2, "the retry after the 10 s timeout",
                      timeout=max(5.0, 30.0 - (time.monotonic() - c.started)))
    assert recs[0].answered == "timeout" and recs[1].answered == 200, recs
    assert recs[0].headers["webhook-id"] == recs[1].headers["webhook-id"], recs
    gap = recs[1].t - recs[0].t
    assert 9.0 <= gap <= 16.0, f"the retry came {gap:.1f}s after a stalled attempt (10 s total timeout + backoff)"
    check_standard_rec(recs[1], c.ep["secret"])
    items = wait_attempts(c.t, c.ep["id"], lambda it: len(it) >= 2, "2 attempts listed")
    assert items[0]["status_code"] == 200, items
    assert items[1]["status_code"] is None and items[1]["error"], f"a timed-out attempt: {items[1]}"
    assert 9000 <= items[1]["duration_ms"] <= 12000, f"timed-out attempt duration {items[1]['duration_ms']} ms"
    time.sleep(0.3)
    assert len(c.rcv.got("slow")) == 2, c.rcv.got("slow")


def test_verify_ledger_after_webhook_tests(server):
    server.verify_ledger()


# ---------------------------------------------------------------------------
# Crash: pending deliveries survive kill -9
# ---------------------------------------------------------------------------


def test_sigkill_loses_no_delivery(server_factory):
    rcv = Receiver(default=500)
    try:
        srv = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
        t = srv.new_tenant()
        std = create_endpoint(t, rcv.url("std"))
        lx = create_endpoint(t, rcv.url("lx"), "lumx")
        w = t.setup("1000.00")
        sids = [t.create_session(w, a)["id"] for a in ("100.00", "101.00", "10.06", "10.05")]
        settle_all(t, sids)
        rcv.wait("std", lambda rs: len(rs) >= 2, "standard attempts before the crash")
        rcv.wait("lx", lambda rs: len(rs) >= 2, "lumx attempts before the crash")
        late = t.create_session(w, "102.00")["id"]     # in flight at the crash
        sids.append(late)
        srv.kill()
        rcv.set_default(200)
        srv2 = server_factory(db=srv.db, step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
        t.server = srv2
        settle_all(t, sids)
        std_want = standard_expected(t, sids)
        lx_want = lumx_expected(t, sids)
        wait_ids(rcv, "std", std_want, "every standard event delivered (200) after the restart", answered=200)
        wait_ids(rcv, "lx", lx_want, "every lumx event delivered (200) after the restart", lumx=True, answered=200)
        for rec in rcv.got("std"):
            body = check_standard_rec(rec, std["secret"])
            assert body["id"] in std_want and body["data"] == std_want[body["id"]]["data"], body
        for rec in rcv.got("lx"):
            body = check_lumx_rec(rec, lx["secret"])
            assert body["eventId"] in lx_want and body["eventType"] == lx_want[body["eventId"]][0], body
        ok = [r for r in rcv.got("std") if r.answered == 200]
        ids = [r.headers["webhook-id"] for r in ok]
        dup = len(ids) - len(set(ids))
        assert dup <= 2, f"{dup} events delivered twice with 200 after one crash: {sorted(ids)}"
        srv2.verify_ledger()
    finally:
        rcv.close()


def test_sigterm_during_a_stalled_delivery_loses_nothing(server_factory):
    """SIGTERM while a delivery waits on a receiver that does not answer: serve
    exits 0 within the harness's 10 s, and after a restart the event arrives."""
    rcv = Receiver()
    try:
        rcv.script("slow", [("slow", 15, 200)], then=200)
        srv = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
        t = srv.new_tenant()
        ep = create_endpoint(t, rcv.url("slow"), types=[P + "settled"])
        w = t.setup("1000.00")
        sid = t.create_session(w, "33.00")["id"]
        settle_all(t, [sid])
        first = rcv.wait("slow", lambda rs: rs, "the stalled attempt")[0]
        t0 = time.monotonic()
        rc, err = srv.stop()          # SIGTERM; SIGKILL after the harness's 10 s (rc None)
        took = time.monotonic() - t0
        srv2 = server_factory(db=srv.db, step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
        t.server = srv2
        recs = rcv.wait("slow", lambda rs: any(r.answered == 200 for r in rs), "the event after the restart")
        ok = [r for r in recs if r.answered == 200]
        assert ok[0].headers.get("webhook-id") == first.headers.get("webhook-id"), recs
        check_standard_rec(ok[0], ep["secret"])
        srv2.verify_ledger()
        tail = "\n".join(err.splitlines()[-4:])
        assert rc == 0, (f"SIGTERM while a delivery waited on a silent receiver: serve did not exit 0 within 10 s "
                         f"(exit status {rc}, {took:.1f}s; None = still running, killed). The event did arrive after "
                         f"the restart. Last log lines:\n{tail}")
    finally:
        rcv.close()
