"""Approval policy, approvals and cancel (docs/LIFECYCLE.md "API", CONTRACT 5):
PUT/GET /policies/off-ramp-approval; sessions at or above the threshold start
pending_approval holding their funds; GET /approvals; approve/reject with the
four-eyes rule (403 initiator_cannot_approve); a decided approval is 409;
POST /off-ramp-sessions/{id}/cancel with If-Match/412."""

import concurrent.futures
import time
import uuid

import pytest

from offramp_e2e import (
    LIFECYCLE_STEP_MS, TERMINAL, TS_RE, UUID_RE, assert_error, check_error_shape, describe,
    principal_json,
)

STEP_S = LIFECYCLE_STEP_MS / 1000.0
SETTLE_TIMEOUT = 30.0
USDC = lambda v: {"currency": "USDC", "value": v}  # noqa: E731


def _approval_id(session):
    ref = session["approval_ref"]
    assert isinstance(ref, str) and ref.startswith("approvals/"), f"approval_ref: {ref!r}"
    aid = ref.split("/", 1)[1]
    assert UUID_RE.match(aid), ref
    return aid


def _check_approval(a, aid, sid, amount, initiator, status, decider=None):
    for k in ("id", "status", "session_ref", "amount", "initiated_by", "decided_by", "created_at", "decided_at"):
        assert k in a, f"approval lacks {k!r}: {a}"
    assert a["id"] == aid, a
    assert a["status"] == status, f"approval status {a['status']!r}, expected {status!r}: {a}"
    assert a["session_ref"] == f"off-ramp-sessions/{sid}", a
    assert a["amount"] == amount, a
    assert a["initiated_by"] == initiator, a
    assert TS_RE.match(a["created_at"]), a
    if status == "pending":
        assert a["decided_by"] is None and a["decided_at"] is None, a
    else:
        assert TS_RE.match(a["decided_at"] or ""), a
        if decider is not None:
            assert a["decided_by"] == decider, a


def _approvals(t, status=None, key=None):
    return t.paged("/approvals", {"status": status} if status else {}, key=key)


@pytest.fixture(scope="module")
def policy_tenant(fast_server):
    """A tenant with a 1000.00 USDC threshold and a second principal allowed
    to approve. Tests make their own accounts (t.setup), so their balances are
    their own."""
    t = fast_server.new_tenant()
    out = t.set_threshold("1000.00")
    assert out["threshold"] == USDC("1000.00"), out
    assert TS_RE.match(out["updated_at"]), out
    k = t.make_key(["ramps.approve", "ramps.read"])
    approver = {"key": k["api_key"], "principal": principal_json(k["principal"], t.ref)}
    return t, approver


@pytest.fixture
def world(policy_tenant):
    """(tenant, a fresh account funded with 5000.00 USDC and 5000.00 USDT, approver)"""
    t, approver = policy_tenant
    w = t.setup("5000.00")
    t.deposit(w.account_ref, "5000.00", "USDT")
    return t, w, approver


def _pending(t, w, amount="1000.00", currency="USDC"):
    s = t.create_session(w, amount, currency)
    assert s["status"] == "pending_approval", f"{amount} {currency} at a 1000.00 threshold: {s['status']}"
    assert s["stage"] == "awaiting_approval", s
    return s, _approval_id(s)


# ---------------------------------------------------------------------------
# policy
# ---------------------------------------------------------------------------

def test_policy_put_get_remove(fast_server):
    t = fast_server.new_tenant()
    g = t.get("/policies/off-ramp-approval")
    assert g.get("threshold") is None, f"a new tenant has no threshold: {g}"
    out = t.set_threshold("250.50")
    assert out["threshold"] == USDC("250.50"), out
    assert t.get("/policies/off-ramp-approval")["threshold"] == USDC("250.50")
    w = t.setup("1000.00")
    s = t.create_session(w, "250.50")
    assert s["status"] == "pending_approval", s
    s = t.create_session(w, "250.49")
    assert s["status"] == "executing", s
    out = t.set_threshold(None)
    assert out["threshold"] is None, out
    assert t.get("/policies/off-ramp-approval")["threshold"] is None
    s = t.create_session(w, "300.00")
    assert s["status"] == "executing" and s["approval_ref"] is None, s
    # refused bodies change nothing
    t.set_threshold("100.00")
    for body in ({}, {"threshold": "100.00"}, {"threshold": {"currency": "EUR", "value": "1.00"}},
                 {"threshold": {"currency": "USDC", "value": "-1"}}, {"threshold": USDC("1.00"), "x": 1}):
        r = t.req("PUT", "/policies/off-ramp-approval", body)
        assert r.status == 400, f"PUT policy {body}: {describe(r)}"
        check_error_shape(r)
    assert t.get("/policies/off-ramp-approval")["threshold"] == USDC("100.00")
    # capability
    r = t.req("PUT", "/policies/off-ramp-approval", {"threshold": None}, key=t.key_without("policies.manage"))
    assert_error(r, 403, "missing_capability")
    assert t.get("/policies/off-ramp-approval")["threshold"] == USDC("100.00")


def test_policy_is_per_tenant(fast_server, policy_tenant):
    other = fast_server.new_tenant()
    ow = other.setup("5000.00")
    s = other.create_session(ow, "2000.00")
    assert s["status"] == "executing", f"another tenant's threshold applied: {s['status']}"
    assert other.get("/policies/off-ramp-approval").get("threshold") is None


def test_threshold_boundaries(world):
    t, w, _ = world
    s = t.create_session(w, "999.99")
    assert s["status"] == "executing" and s["approval_ref"] is None, s
    s = t.create_session(w, "999.999999")
    assert s["status"] == "executing", s
    _pending(t, w, "1000.00")
    _pending(t, w, "1000.000001")
    # USDT is compared at par with a USDC threshold
    _pending(t, w, "1000.00", "USDT")
    s = t.create_session(w, "999.99", "USDT")
    assert s["status"] == "executing", s


# ---------------------------------------------------------------------------
# approve
# ---------------------------------------------------------------------------

def test_pending_holds_then_approved_by_another_principal_settles(fast_server, world):
    t, w, approver = world
    me = principal_json(t.principal, t.ref)
    s, aid = _pending(t, w, "1000.00")
    sid = s["id"]
    assert s["fill_rate"] is None and s["delivered_amount"] is None and s["settled_at"] is None, s
    assert s["subject_attribution"]["approved_by"] is None, s["subject_attribution"]
    # its funds are held (1000.00 + 1.00)
    assert w.balances()["USDC"] == {"available": "3999.00", "held": "1001.00", "total": "5000.00"}

    # the approval is listed as pending, and shown by id, by both keys
    for key in (None, approver["key"]):
        pend = _approvals(t, "pending", key=key)
        mine = [a for a in pend if a["id"] == aid]
        assert len(mine) == 1, f"GET /approvals?status=pending lacks {aid}: {pend}"
        _check_approval(mine[0], aid, sid, USDC("1000.00"), me, "pending")
        _check_approval(t.get(f"/approvals/{aid}", key=key), aid, sid, USDC("1000.00"), me, "pending")
    assert aid not in [a["id"] for a in _approvals(t, "approved")]

    # workers leave it alone: still pending after several steps
    time.sleep(5 * STEP_S)
    g = t.session(sid)
    assert g["status"] == "pending_approval" and g["etag"] == s["etag"], g

    # the initiator cannot approve its own session
    r = t.req("POST", f"/approvals/{aid}/approve")
    assert_error(r, 403, "initiator_cannot_approve")
    # a key without ramps.approve cannot either; another tenant sees nothing
    r = t.req("POST", f"/approvals/{aid}/approve", key=t.key_without("ramps.approve"))
    assert_error(r, 403, "missing_capability")
    stranger = fast_server.new_tenant()
    r = stranger.req("POST", f"/approvals/{aid}/approve")
    assert_error(r, 404, "not_found")
    r = stranger.req("GET", f"/approvals/{aid}")
    assert_error(r, 404, "not_found")
    assert aid not in [a["id"] for a in _approvals(stranger)]
    g = t.session(sid)
    assert g["status"] == "pending_approval" and g["etag"] == s["etag"], f"a refused approve changed it: {g}"
    _check_approval(t.get(f"/approvals/{aid}"), aid, sid, USDC("1000.00"), me, "pending")

    # a second principal approves
    r = t.req("POST", f"/approvals/{aid}/approve", key=approver["key"])
    assert r.status == 200, describe(r)
    _check_approval(r.json, aid, sid, USDC("1000.00"), me, "approved", approver["principal"])
    final, seen = t.watch(sid, timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", f"approved session: {final}; seen {[x['status'] for x in seen]}"
    for x in seen:
        assert x["status"] in ("pending_approval", "executing", "executed", "settled"), x
    sa = final["subject_attribution"]
    assert sa["approved_by"] == approver["principal"], sa
    assert sa["authenticated_principal"] == me and sa["subject"] == me, sa
    assert final["fill_rate"] == "0.92" and final["delivered_amount"] == {"currency": "EUR", "value": "920.00"}
    assert final["approval_ref"] == f"approvals/{aid}", final
    assert w.balances()["USDC"] == {"available": "3999.00", "held": "0.00", "total": "3999.00"}

    # decided: approve or reject again is 409; the lists moved it
    for action in ("approve", "reject"):
        r = t.req("POST", f"/approvals/{aid}/{action}", key=approver["key"])
        assert r.status == 409, f"{action} of a decided approval: {describe(r)}"
        check_error_shape(r)
    assert aid in [a["id"] for a in _approvals(t, "approved")]
    assert aid not in [a["id"] for a in _approvals(t, "pending")]
    _check_approval(t.get(f"/approvals/{aid}"), aid, sid, USDC("1000.00"), me, "approved", approver["principal"])
    fast_server.verify_ledger()


def test_reject_cancels_and_releases(fast_server, world):
    t, w, approver = world
    me = principal_json(t.principal, t.ref)
    before = w.balances()
    s, aid = _pending(t, w, "1500.00")
    sid = s["id"]
    r = t.req("POST", f"/approvals/{aid}/reject", key=approver["key"])
    assert r.status == 200, describe(r)
    _check_approval(r.json, aid, sid, USDC("1500.00"), me, "rejected", approver["principal"])
    final, _ = t.watch(sid, until=TERMINAL, timeout=10)
    assert final["status"] == "cancelled", final
    assert final["failure_reason"] == "approval_rejected", final
    assert final["stage"] == "awaiting_approval", final
    assert final["subject_attribution"]["approved_by"] is None, final["subject_attribution"]
    assert final["fill_rate"] is None and final["settled_at"] is None, final
    assert w.balances() == before, "a rejected session must release its hold in full"
    for action in ("approve", "reject"):
        r = t.req("POST", f"/approvals/{aid}/{action}", key=approver["key"])
        assert r.status == 409, f"{action} after reject: {describe(r)}"
        check_error_shape(r)
    assert aid in [a["id"] for a in _approvals(t, "rejected")]
    time.sleep(4 * STEP_S)
    assert t.session(sid) == final, "a cancelled session changed"
    assert w.balances() == before
    fast_server.verify_ledger()


def test_approve_unknown_or_malformed(policy_tenant):
    t, approver = policy_tenant
    r = t.req("POST", f"/approvals/{uuid.uuid4()}/approve", key=approver["key"])
    assert_error(r, 404, "not_found")
    r = t.req("GET", f"/approvals/{uuid.uuid4()}")
    assert_error(r, 404, "not_found")
    r = t.req("GET", "/approvals?status=bogus")
    assert_error(r, 400, "invalid_query_parameter")
    r = t.req("GET", "/approvals", key=t.make_key(["accounts.read"])["api_key"])
    assert_error(r, 403, "missing_capability")


def test_approvals_paging(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("10000.00")
    t.set_threshold("10.00")
    ids = [_approval_id(t.create_session(w, "10.00")) for _ in range(5)]
    one = _approvals(t, "pending")
    paged = t.paged("/approvals", {"status": "pending"}, page_size=2)
    assert [a["id"] for a in paged] == [a["id"] for a in one], "paging changes the list"
    assert sorted(a["id"] for a in one) == sorted(ids)
    assert len(set(a["id"] for a in paged)) == 5


# ---------------------------------------------------------------------------
# cancel, If-Match
# ---------------------------------------------------------------------------

def test_cancel_pending_with_if_match(fast_server, world):
    t, w, _ = world
    before = w.balances()
    s, aid = _pending(t, w, "1200.00")
    other, _ = _pending(t, w, "1300.00")
    sid = s["id"]
    g = t.req("GET", f"/off-ramp-sessions/{sid}")
    etag = g.headers.get("etag")
    assert etag and etag == g.json["etag"], describe(g)

    # If-Match with another etag: 412, nothing changes
    for stale in (other["etag"], '"v999999"', "bogus"):
        if stale == etag:
            continue
        r = t.req("POST", f"/off-ramp-sessions/{sid}/cancel", headers={"If-Match": stale})
        assert_error(r, 412, "precondition_failed")
        now = t.req("GET", f"/off-ramp-sessions/{sid}")
        assert now.json == g.json, f"a 412 cancel changed the session: {now.json}"
    _check = t.get(f"/approvals/{aid}")
    assert _check["status"] == "pending", _check

    # with the current etag: 200, cancelled, hold released
    r = t.req("POST", f"/off-ramp-sessions/{sid}/cancel", headers={"If-Match": etag})
    assert r.status == 200, describe(r)
    c = r.json
    assert c["id"] == sid and c["status"] == "cancelled", c
    assert c["stage"] == "awaiting_approval", c
    assert c["failure_reason"] is None, f"a cancelled (not rejected) session has no failure_reason: {c}"
    assert c["etag"] != etag, "cancel must change the etag"
    assert r.headers.get("etag") in (None, c["etag"]), r.headers
    assert t.session(sid)["status"] == "cancelled"
    # the approval is cancelled with it and can no longer be decided
    a = t.get(f"/approvals/{aid}")
    assert a["status"] == "cancelled", a
    assert aid in [x["id"] for x in _approvals(t, "cancelled")]
    r = t.req("POST", f"/approvals/{aid}/approve", key=world[2]["key"])
    assert r.status == 409, describe(r)
    # cancel again: it is terminal
    r = t.req("POST", f"/off-ramp-sessions/{sid}/cancel")
    assert_error(r, 409, "invalid_state_transition")
    # the other pending session, without If-Match
    r = t.req("POST", f"/off-ramp-sessions/{other['id']}/cancel")
    assert r.status == 200 and r.json["status"] == "cancelled", describe(r)
    assert w.balances() == before, "cancelled sessions must release their holds in full"
    fast_server.verify_ledger()


def test_cancel_refused_once_executing(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("1000.00")
    s = t.create_session(w, "100.00")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel")
    assert_error(r, 409, "invalid_state_transition")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel", headers={"If-Match": s["etag"]})
    assert r.status in (409, 412), describe(r)
    check_error_shape(r)
    final, seen = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", f"a refused cancel must not stop the session: {final}"
    assert "cancelled" not in [x["status"] for x in seen]
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel")
    assert_error(r, 409, "invalid_state_transition")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel", headers={"If-Match": final["etag"]})
    assert_error(r, 409, "invalid_state_transition")
    assert t.session(s["id"]) == final
    f = t.create_session(w, "100.05")
    ff, _ = t.watch(f["id"], timeout=SETTLE_TIMEOUT)
    assert ff["status"] == "failed", ff
    r = t.req("POST", f"/off-ramp-sessions/{f['id']}/cancel")
    assert_error(r, 409, "invalid_state_transition")
    assert w.balances()["USDC"] == {"available": "899.00", "held": "0.00", "total": "899.00"}


def test_cancel_of_executing_on_a_slow_server(server_factory):
    """With the default (hour-long) step a session is certainly executing:
    cancel is 409 and nothing changes."""
    srv = server_factory()
    t = srv.new_tenant()
    w = t.setup("1000.00")
    s = t.create_session(w, "100.00")
    g = t.req("GET", f"/off-ramp-sessions/{s['id']}")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel", headers={"If-Match": g.json["etag"]})
    assert_error(r, 409, "invalid_state_transition")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel")
    assert_error(r, 409, "invalid_state_transition")
    assert t.session(s["id"]) == g.json
    assert w.balances()["USDC"] == {"available": "899.00", "held": "101.00", "total": "1000.00"}


def test_cancel_auth_and_unknown(fast_server, world):
    t, w, _ = world
    s, _ = _pending(t, w, "1100.00")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel", key=t.key_without("ramps.cancel"))
    assert_error(r, 403, "missing_capability")
    stranger = fast_server.new_tenant()
    r = stranger.req("POST", f"/off-ramp-sessions/{s['id']}/cancel")
    assert_error(r, 404, "not_found")
    r = t.req("POST", f"/off-ramp-sessions/{uuid.uuid4()}/cancel")
    assert_error(r, 404, "not_found")
    assert t.session(s["id"])["status"] == "pending_approval"
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel")
    assert r.status == 200, describe(r)


def test_approved_session_cannot_be_cancelled(world):
    t, w, approver = world
    s, aid = _pending(t, w, "1000.00")
    r = t.req("POST", f"/approvals/{aid}/approve", key=approver["key"])
    assert r.status == 200, describe(r)
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel")
    assert_error(r, 409, "invalid_state_transition")
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final


def test_racing_approve_and_cancel(fast_server, world):
    """Approve and cancel at once: exactly one wins; the session ends as the
    winner says and the money agrees."""
    t, w, approver = world
    for _ in range(3):
        before = w.balances()["USDC"]
        s, aid = _pending(t, w, "1000.00")
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fa = ex.submit(t.req, "POST", f"/approvals/{aid}/approve", None, approver["key"])
            fc = ex.submit(t.req, "POST", f"/off-ramp-sessions/{s['id']}/cancel")
            ra, rc = fa.result(), fc.result()
        assert sorted([ra.status, rc.status]) == [200, 409], (describe(ra), describe(rc))
        final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
        if ra.status == 200:
            assert final["status"] == "settled", final
        else:
            assert final["status"] == "cancelled", final
            assert w.balances()["USDC"]["held"] == before["held"]
    fast_server.verify_ledger()


# ---------------------------------------------------------------------------
# concurrency, idempotency, odds and ends
# ---------------------------------------------------------------------------

def test_concurrent_approvals_one_wins(fast_server, world):
    """Several principals approve the same approval at once: one 200, the
    others 409; the session settles once."""
    t, w, _ = world
    keys = [t.make_key(["ramps.approve", "ramps.read"])["api_key"] for _ in range(5)]
    s, aid = _pending(t, w, "1000.00")
    with concurrent.futures.ThreadPoolExecutor(len(keys)) as ex:
        rs = list(ex.map(lambda k: t.req("POST", f"/approvals/{aid}/approve", key=k), keys))
    statuses = sorted(r.status for r in rs)
    assert statuses == [200] + [409] * (len(keys) - 1), [describe(r) for r in rs]
    winner = next(i for i, r in enumerate(rs) if r.status == 200)
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final
    assert final["subject_attribution"]["approved_by"]["id"] == rs[winner].json["decided_by"]["id"]
    assert w.balances()["USDC"] == {"available": "3999.00", "held": "0.00", "total": "3999.00"}
    assert len([p for p in t.payouts(s["id"])]) == 1
    fast_server.verify_ledger()


def test_concurrent_cancels_release_once(fast_server, world):
    t, w, _ = world
    s, aid = _pending(t, w, "2000.00")
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        rs = list(ex.map(lambda _: t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel"), range(6)))
    statuses = sorted(r.status for r in rs)
    assert statuses == [200] + [409] * 5, [describe(r) for r in rs]
    assert w.balances()["USDC"] == {"available": "5000.00", "held": "0.00", "total": "5000.00"}
    assert t.get(f"/approvals/{aid}")["status"] == "cancelled"
    fast_server.verify_ledger()


def test_decisions_and_cancel_honour_idempotency_keys(world):
    """CONTRACT 7: every POST honours Idempotency-Key: the same decision or
    cancel sent twice with one key replays the first answer (not a 409)."""
    t, w, approver = world
    s, aid = _pending(t, w, "1000.00")
    k = f"approve-{uuid.uuid4()}"
    r1 = t.req("POST", f"/approvals/{aid}/approve", key=approver["key"], headers={"Idempotency-Key": k})
    assert r1.status == 200, describe(r1)
    r2 = t.req("POST", f"/approvals/{aid}/approve", key=approver["key"], headers={"Idempotency-Key": k})
    assert r2.status == 200, f"replayed approve: {describe(r2)}"
    assert r2.headers.get("x-idempotency-cached") == "true", r2.headers
    assert r2.raw == r1.raw
    c, _ = _pending(t, w, "1000.00")
    k = f"cancel-{uuid.uuid4()}"
    r1 = t.req("POST", f"/off-ramp-sessions/{c['id']}/cancel", headers={"Idempotency-Key": k})
    assert r1.status == 200, describe(r1)
    r2 = t.req("POST", f"/off-ramp-sessions/{c['id']}/cancel", headers={"Idempotency-Key": k})
    assert r2.status == 200 and r2.headers.get("x-idempotency-cached") == "true", describe(r2)
    assert r2.raw == r1.raw
    # a new key on a terminal session: 409
    r3 = t.req("POST", f"/off-ramp-sessions/{c['id']}/cancel", headers={"Idempotency-Key": f"x-{uuid.uuid4()}"})
    assert_error(r3, 409, "invalid_state_transition")
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final


def test_action_bodies(world):
    """Cancel, approve and reject take no fields: an unknown one is 400 and
    changes nothing."""
    t, w, approver = world
    s, aid = _pending(t, w, "1000.00")
    r = t.req("POST", f"/off-ramp-sessions/{s['id']}/cancel", {"reason": "x"})
    assert_error(r, 400, "unknown_field")
    r = t.req("POST", f"/approvals/{aid}/reject", {"comment": "x"}, key=approver["key"])
    assert_error(r, 400, "unknown_field")
    assert t.session(s["id"])["status"] == "pending_approval"
    assert t.get(f"/approvals/{aid}")["status"] == "pending"
    r = t.req("POST", f"/approvals/{aid}/reject", {}, key=approver["key"])
    assert r.status == 200 and r.json["status"] == "rejected", describe(r)
    r = t.req("GET", "/approvals/not-a-uuid")
    assert r.status in (400, 404), describe(r)


def test_usdt_threshold_and_usdt_approval(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("5000.00")
    t.deposit(w.account_ref, "5000.00", "USDT")
    out = t.set_threshold("500.00", "USDT")
    assert out["threshold"] == {"currency": "USDT", "value": "500.00"}, out
    s = t.create_session(w, "500.00")          # USDC at par with a USDT threshold
    assert s["status"] == "pending_approval", s
    u = t.create_session(w, "600.00", "USDT")
    assert u["status"] == "pending_approval", u
    a = t.get(f"/approvals/{_approval_id(u)}")
    assert a["amount"] == {"currency": "USDT", "value": "600.00"}, a
    bal = w.balances()
    assert bal["USDT"]["held"] == "601.00" and bal["USDC"]["held"] == "501.00", bal
    assert t.create_session(w, "499.99", "USDT")["status"] == "executing"


def test_approvals_list_newest_first(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("10000.00")
    t.set_threshold("10.00")
    ids = [_approval_id(t.create_session(w, "10.00")) for _ in range(4)]
    got = [a["id"] for a in _approvals(t)]
    assert got == list(reversed(ids)), f"approvals are listed newest first: {got} vs created {ids}"
    assert len(t.session_ids(status="pending_approval")) == 4


def test_approve_needs_only_ramps_approve_and_service_principals_approve(world):
    t, w, _ = world
    k = t.make_key(["ramps.approve"], kind="service")
    s, aid = _pending(t, w, "1000.00")
    r = t.req("POST", f"/approvals/{aid}/approve", key=k["api_key"])
    assert r.status == 200, describe(r)
    want = {"id": k["principal"]["id"], "kind": "service", "tenant_ref": t.ref}
    assert r.json["decided_by"] == want, r.json
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["subject_attribution"]["approved_by"] == want, final["subject_attribution"]


# ---------------------------------------------------------------------------
# If-Match on approve and reject (issue 8 item 7), and If-Match: *
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["approve", "reject"])
def test_decide_honours_if_match(fast_server, world, action):
    t, w, approver = world
    s, aid = _pending(t, w, "1100.00")
    g = t.req("GET", f"/approvals/{aid}")
    etag = g.headers.get("etag")
    assert etag and etag == g.json["etag"], f"an approval carries its etag: {describe(g)}"
    for stale in ('"v999999"', 'W/' + etag, '"bogus"', "bogus", '"v2"'):
        r = t.req("POST", f"/approvals/{aid}/{action}", key=approver["key"], headers={"If-Match": stale})
        assert_error(r, 412, "precondition_failed")
        assert t.get(f"/approvals/{aid}") == g.json, f"a 412 {action} changed the approval"
        assert t.session(s["id"])["status"] == "pending_approval"
    # A list holding the current tag matches.
    r = t.req("POST", f"/approvals/{aid}/{action}", key=approver["key"],
              headers={"If-Match": f'"v999", {etag}'})
    assert r.status == 200, describe(r)
    assert r.json["status"] == ("approved" if action == "approve" else "rejected"), r.json
    assert r.json["etag"] != etag and r.headers.get("etag") == r.json["etag"], describe(r)
    # The old tag is stale now: 412 before the 409 of a decided approval.
    r = t.req("POST", f"/approvals/{aid}/{action}", key=approver["key"], headers={"If-Match": etag})
    assert_error(r, 412, "precondition_failed")


def test_if_match_star(fast_server, world):
    t, w, approver = world
    s, aid = _pending(t, w, "1100.00")
    r = t.req("POST", f"/approvals/{aid}/approve", key=approver["key"], headers={"If-Match": "*"})
    assert r.status == 200 and r.json["status"] == "approved", describe(r)
    s2, _ = _pending(t, w, "1100.00")
    r = t.req("POST", f"/off-ramp-sessions/{s2['id']}/cancel", headers={"If-Match": "*"})
    assert r.status == 200 and r.json["status"] == "cancelled", describe(r)
    # "*" on a resource that does not exist is still 404.
    r = t.req("POST", f"/approvals/{uuid.uuid4()}/approve", key=approver["key"], headers={"If-Match": "*"})
    assert_error(r, 404, "not_found")


def test_initiator_with_stale_etag_gets_412(fast_server, world):
    """The precondition is checked first: a stale view is reported as such,
    even to the initiator (who would otherwise get 403)."""
    t, w, _ = world
    s, aid = _pending(t, w, "1100.00")
    r = t.req("POST", f"/approvals/{aid}/approve", headers={"If-Match": '"v7"'})
    assert_error(r, 412, "precondition_failed")
    r = t.req("POST", f"/approvals/{aid}/approve", headers={"If-Match": '"v1"'})
    assert_error(r, 403, "initiator_cannot_approve")
