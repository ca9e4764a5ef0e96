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
