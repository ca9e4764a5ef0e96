"""Fault injection (issue 11 item 5) on build/offramp-fault.

The fault build (make build/offramp-fault: the sanitised build with
-DOFFRAMP_FAULTS, src/base/fault.h) counts four kinds of point: store calls,
allocations (jansson's and the store's row copies), commits, rail calls.
POST /_test/faults?kind=K&n=N answers each kind's count since the last arm
and makes the N-th point of K after it fail once. Each walk first counts
the points a request passes, then for every N re-arms the running server,
sends the request, and checks: a clean answer (2xx, or 4xx/5xx with our
JSON error envelope), a retry under the same Idempotency-Key that
converges (one session, one hold), verify-ledger exit 0, a live server,
and, at the end, no sanitizer report and no assertion in its stderr.

The disk-full test puts the SQLite database on a 2 MiB tmpfs (we run as
root), fills it, and checks 503 database_unavailable, PRAGMA
integrity_check, verify-ledger, and recovery without a restart.

SQLite only: the hooks are backend-independent except the commit fault,
which is the SQLite committer's, and the disk-full test is SQLite's.
"""
import json
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import offramp_e2e
from offramp_e2e import REPO, Server, describe, poll_until, principal_json

pytestmark = pytest.mark.sqlite_only

FAULT_BIN = os.environ.get("OFFRAMP_FAULT_BIN", str(REPO / "build" / "offramp-fault"))
KINDS = ("store", "alloc", "commit", "rail")
WALKED = {}  # path -> {kind: points}; printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def fault_binary():
    assert os.path.exists(FAULT_BIN), f"{FAULT_BIN} missing: make build/offramp-fault"
    saved = offramp_e2e.BIN
    offramp_e2e.BIN = FAULT_BIN
    yield
    offramp_e2e.BIN = saved
    print("\nfault points walked: " + json.dumps(WALKED, sort_keys=True))


def arm(t, kind, n):
    """Counts since the last arm. The points counted include this call's
    own (its authentication, its empty body's parse), so the last few n of
    a walk land here: then it answers a clean 5xx, and is sent again."""
    for _ in range(2):
        r = t.req("POST", f"/_test/faults?kind={kind}&n={n}")
        if r.status == 200:
            return r.json
        clean(r, f"arm {kind}:{n}")
    raise AssertionError(f"arm {kind}:{n}: {describe(r)}")


def clean(r, what):
    """A success, or a 4xx/5xx with our envelope."""
    if 200 <= r.status < 300:
        return True
    assert 400 <= r.status < 600, f"{what}: {describe(r)}"
    assert isinstance(r.json, dict) and isinstance(r.json.get("code"), str) \
        and isinstance(r.json.get("message"), str), f"{what}: not our error body: {describe(r)}"
    return False


def healthy(s):
    assert s.alive(), f"server died\n{s.stderr()}"


def check_stderr(s):
    err = s.stderr()
    for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer", "Assertion", "assert"):
        assert bad not in err, f"{bad} in the fault server's stderr:\n{err[-4000:]}"


def held(w, currency="USDC"):
    return Decimal(w.balances()[currency]["held"])


def count_points(t, kind, fn):
    arm(t, kind, 0)
    fn()
    return arm(t, kind, 0)[kind]


# ---------------------------------------------------------------------------
# create and approve: synchronous paths, sessions parked (step of an hour)
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def parked(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("faults"))
    s.start()
    yield s
    healthy(s)
    check_stderr(s)
    s.stop_checked()


def test_create_walk(parked):
    s = parked
    t = s.new_tenant()
    w = t.setup("100000.00")
    before = held(w)
    t.create_session(w, "1.00", idem="count-hold")
    per_hold = held(w) - before
    assert per_hold > 0, "a session holds its funds"
    walked = {}
    for kind in ("store", "alloc", "commit"):
        points = count_points(t, kind, lambda: t.create_session(w, "1.00", idem=str(uuid.uuid4())))
        assert points > 0, f"the create path passes no {kind} point"
        walked[kind] = points
        for n in range(1, points + 1):
            key = f"walk-{kind}-{n}-{uuid.uuid4()}"
            h0 = held(w)
            arm(t, kind, n)
            r = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
            arm(t, kind, 0)
            ok = clean(r, f"create under {kind}:{n}")
            if kind == "commit" and not ok:  # the commit fault is a full disk
                assert r.status == 503 and r.json["code"] == "database_unavailable", describe(r)
            again = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
            assert again.status == 201, f"retry after {kind}:{n} ({describe(r)}): {describe(again)}"
            if ok:
                assert r.status == 201 and again.json["id"] == r.json["id"], (describe(r), describe(again))
            assert held(w) - h0 == per_hold, f"{kind}:{n}: not exactly one hold"
            if n % 4 == 0 or n == points or not ok:
                s.verify_ledger()
        healthy(s)
    WALKED["create"] = walked


def test_approve_walk(parked):
    s = parked
    t = s.new_tenant()
    w = t.setup("100000.00")
    t.set_threshold("1.00")
    k = t.make_key(["ramps.approve", "ramps.read"])["api_key"]

    def pending():
        sess = t.create_session(w, "5.00")
        assert sess["status"] == "pending_approval", sess
        return sess

    def approval_of(sess):
        aid = (sess.get("approval") or {}).get("id") or sess.get("approval_id")
        if not aid:
            items = t.paged("/approvals", {"status": "pending"})
            aid = [a for a in items if a.get("session_id") == sess["id"]
                   or a.get("session_ref", "").endswith(sess["id"])][0]["id"]
        return aid

    walked = {}
    for kind in ("store", "alloc", "commit"):
        sess = pending()
        aid = approval_of(sess)
        points = count_points(t, kind, lambda: t.req("POST", f"/approvals/{aid}/approve", key=k,
                                                      headers={"Idempotency-Key": str(uuid.uuid4())}))
        assert t.session(sess["id"])["status"] != "pending_approval"
        assert points > 0
        walked[kind] = points
        for n in range(1, points + 1):
            sess = pending()
            aid = approval_of(sess)
            key = str(uuid.uuid4())
            arm(t, kind, n)
            r = t.req("POST", f"/approvals/{aid}/approve", key=k, headers={"Idempotency-Key": key})
            arm(t, kind, 0)
            clean(r, f"approve under {kind}:{n}")
            again = t.req("POST", f"/approvals/{aid}/approve", key=k, headers={"Idempotency-Key": key})
            assert again.status == 200, f"retry after {kind}:{n} ({describe(r)}): {describe(again)}"
            after = t.session(sess["id"])
            assert after["status"] not in ("pending_approval", "failed", "cancelled"), after
            if n % 4 == 0 or n == points or r.status >= 300:
                s.verify_ledger()
        healthy(s)
    WALKED["approve"] = walked


# ---------------------------------------------------------------------------
# execute (the workers' steps) and webhook delivery: asynchronous paths
# ---------------------------------------------------------------------------

STEP_MS = 10


class Receiver:
    """Records the webhook-id of every delivery; answers 200."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids = []
        rcv = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                with rcv.lock:
                    rcv.ids.append(self.headers.get("webhook-id"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.ids)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("faults-moving"), step_ms=STEP_MS,
               extra_args=["--webhook-allow-loopback", "--webhook-retry-base-ms", "50",
                           # A step whose commit fails is taken up again when
                           # its lease ends (the crash rule): the shortest one.
                           "--session-lease-ms", "500"])
    s.start()
    yield s
    healthy(s)
    check_stderr(s)
    s.stop_checked()


def settle(t, sid, what, timeout=20.0):
    """Poll the session (a poll may meet the armed fault: a clean 5xx, then
    poll again) until it is terminal."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = t.req("GET", f"/off-ramp-sessions/{sid}")
        if clean(r, f"GET session under {what}") and r.json["status"] in ("settled", "failed", "cancelled"):
            return r.json
        time.sleep(0.05)
    raise AssertionError(f"{what}: session {sid} not terminal after {timeout}s: {describe(r)}")


def test_execute_walk(moving):
    s = moving
    t = s.new_tenant()
    w = t.setup("100000.00")
    walked = {}
    for kind in KINDS:
        sess = t.create_session(w, "1.00")
        arm(t, kind, 0)
        assert settle(t, sess["id"], f"count {kind}")["status"] == "settled"
        points = arm(t, kind, 0)[kind]
        assert points > 0, f"the execute path passes no {kind} point"
        walked[kind] = points
        for n in range(1, points + 1):
            sess = t.create_session(w, "1.00")
            arm(t, kind, n)
            done = settle(t, sess["id"], f"{kind}:{n}")
            arm(t, kind, 0)
            # A worker's failed step is retried: the session still settles,
            # and the rail paid it once.
            assert done["status"] == "settled", f"{kind}:{n}: {done}"
            paid = [p for p in t.payouts(sess["id"])]
            assert len(paid) == 1, f"{kind}:{n}: payouts {paid}"
            if n % 4 == 0 or n == points:
                s.verify_ledger()
        healthy(s)
    assert Decimal(w.balances()["USDC"]["held"]) == 0
    s.verify_ledger()
    WALKED["execute"] = walked


def test_deliver_walk(moving):
    s = moving
    t = s.new_tenant()
    rcv = Receiver()
    try:
        ep = t.req("POST", "/webhook-endpoints", {"url": rcv.url, "event_types": ["*"], "format": "standard"})
        assert ep.status == 201, describe(ep)
        eid = ep.json["id"]
        w = t.setup("1000.00")
        sess = t.create_session(w, "1.00")
        settle(t, sess["id"], "setup")
        event_id = t.events(sess["id"])[-1]["id"]
        poll_until(lambda: (rcv.count() > 0, None), 10, "the first deliveries")
        time.sleep(0.5)  # the session's own deliveries done

        def resend(key):
            return t.req("POST", f"/webhook-endpoints/{eid}/resend", {"event_id": event_id},
                         headers={"Idempotency-Key": key})

        def delivered(since, what):
            # A fault in the dispatcher's claim or completion leaves the
            # delivery to its retry (base 100 ms, doubling, jittered): on a
            # loaded machine that passed 15 s, so the wait is generous.
            poll_until(lambda: (rcv.count() > since, None), 45, f"a delivery under {what}")

        walked = {}
        for kind in ("store", "alloc", "commit"):
            before = rcv.count()
            arm(t, kind, 0)
            r = resend(str(uuid.uuid4()))
            assert r.status in (200, 201, 202), describe(r)
            delivered(before, f"count {kind}")
            time.sleep(0.1)
            points = arm(t, kind, 0)[kind]
            assert points > 0
            walked[kind] = points
            for n in range(1, points + 1):
                key = str(uuid.uuid4())
                before = rcv.count()
                arm(t, kind, n)
                r = resend(key)
                ok = clean(r, f"resend under {kind}:{n}")
                if not ok:
                    arm(t, kind, 0)
                    again = resend(key)
                    assert again.status in (200, 201, 202), f"retry after {kind}:{n}: {describe(again)}"
                delivered(before, f"{kind}:{n}")
                arm(t, kind, 0)
            healthy(s)
        s.verify_ledger()
        WALKED["deliver"] = walked
    finally:
        rcv.close()


# ---------------------------------------------------------------------------
# disk full: the database on a 2 MiB tmpfs
# ---------------------------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"mount tmpfs (root required): {p.stderr}"
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def integrity(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return c.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        c.close()


def test_disk_full_answers_503_and_recovers(tmp_path, small_fs):
    db = small_fs / "offramp.db"
    s = Server(tmp_path / "srv", db=db)
    s.start()
    try:
        t = s.new_tenant()
        w = t.setup("100000.00")
        # Fill the filesystem but for a little, then write until it is full.
        filler = small_fs / "filler"
        st = os.statvfs(small_fs)
        free = st.f_bavail * st.f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 96 * 1024))
        full = None
        for i in range(400):
            key = f"fill-{i}"
            r = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
            if r.status != 201:
                full = (key, r)
                break
        assert full, "400 sessions fitted in 96 KiB: the filesystem is not small"
        key, r = full
        assert r.status == 503 and r.json["code"] == "database_unavailable", describe(r)
        healthy(s)
        # Still full: the same answer, reads still served, nothing corrupted.
        again = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
        assert again.status == 503 and again.json["code"] == "database_unavailable", describe(again)
        assert t.req("GET", f"/client-accounts/{w.account_id}").status == 200
        assert integrity(db) == "ok"
        s.verify_ledger()
        n_before = len(t.session_ids())
        held_before = held(w)
        # Space returns: the same request under the same key now succeeds,
        # once, without a restart.
        filler.unlink()
        r = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
        assert r.status == 201, describe(r)
        r2 = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
        assert r2.status == 201 and r2.json["id"] == r.json["id"], describe(r2)
        assert len(t.session_ids()) == n_before + 1
        assert held(w) - held_before == held_before / n_before  # one more hold, as each
        assert integrity(db) == "ok"
        s.verify_ledger()
        healthy(s)
        check_stderr(s)
    finally:
        if s.proc is not None and s.proc.poll() is None:
            s.stop_checked()


# ---------------------------------------------------------------------------
# fsync: a failed sync stops the process; the next start decides the outcome
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3])
def test_fsync_failure_stops_and_a_retry_converges(tmp_path, n):
    """The n-th sync after the arm fails (the VFS of store/sqlite/fault_vfs.c):
    no 2xx for what it carried, the process stops rather than guess, and
    after a restart every request retried under its key answers one session,
    the same one where a 201 had been given, with the ledger sound."""
    s = Server(tmp_path / "srv", step_ms=3_600_000)  # sessions stay parked
    s.start()
    t = s.new_tenant()
    w = t.setup("1000.00")
    before = held(w)
    t.create_session(w, "1.00", idem=f"fsync-{n}-count")
    per_hold = held(w) - before
    assert per_hold > 0
    before = held(w)
    counts = arm(t, "fsync", n)
    assert set(counts) >= {"fsync"}, counts
    answered, sent = {}, []
    for i in range(20):
        key = f"fsync-{n}-{i}"
        sent.append(key)
        try:
            r = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
        except OSError:
            break  # the process stopped under this request
        assert r.status == 201 or (r.status >= 500 and clean(r, key)), describe(r)
        if r.status == 201:
            answered[key] = r.json["id"]
        if s.proc.poll() is not None:
            break
    try:
        rc = s.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"fsync fault {n} armed: the server kept running\n{s.stderr()}")
    assert rc != 0, f"exit status {rc} after a failed fsync"
    assert "I/O error" in s.stderr(), s.stderr()[-3000:]
    print(f"fsync fault {n}: {len(answered)} of {len(sent)} answered 201 before the stop")
    s.stop()
    s.start()
    ids = {}
    for key in sent:
        r = t.req("POST", "/off-ramp-sessions", w.body("1.00"), headers={"Idempotency-Key": key})
        assert r.status == 201, f"{key} after the restart: {describe(r)}"
        ids[key] = r.json["id"]
        if key in answered:
            assert ids[key] == answered[key], f"{key}: a 201 was given for another session"
    assert len(set(ids.values())) == len(sent)
    assert len(t.session_ids()) == len(sent) + 1  # and the first, before the arm
    assert held(w) - before == per_hold * len(sent)  # one hold per key, none lost or doubled
    s.verify_ledger()
    healthy(s)
    s.stop_checked()
