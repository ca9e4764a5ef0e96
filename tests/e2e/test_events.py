"""GET /events (docs/LIFECYCLE.md "API"): the pull event log, oldest first,
one event per transition; `type` off_ramp_session.<status> when a status is
entered (creation included), off_ramp_session.stage_changed within a status;
`sequence` rises across the tenant's log, `session_sequence` within a
session; `data` is the session as GET showed it after the transition;
tenants see only their own; paging."""

import time
import uuid

from offramp_e2e import (
    LIFECYCLE_STEP_MS, TS_RE, UUID_RE, assert_error, describe, principal_json,
)

SETTLE_TIMEOUT = 30.0
P = "off_ramp_session."


def _check_log(t, sid, expect):
    """The session's events: shape, order, data; then their types are
    exactly `expect` (suffixes after off_ramp_session.)."""
    evs = t.events(sid)
    assert evs, f"no events for {sid}"
    for e in evs:
        for k in ("id", "sequence", "type", "resource_ref", "session_sequence", "created_at", "data"):
            assert k in e, f"event lacks {k!r}: {e}"
        assert UUID_RE.match(e["id"]), e["id"]
        assert e["resource_ref"] == f"off-ramp-sessions/{sid}", e
        assert TS_RE.match(e["created_at"]), e
        assert isinstance(e["sequence"], int) and isinstance(e["session_sequence"], int), e
        d = e["data"]
        assert isinstance(d, dict) and d.get("id") == sid, e
        assert isinstance(e["type"], str) and e["type"].startswith(P), e
        kind = e["type"][len(P):]
        if kind == "stage_changed":
            assert d["status"] == "executing", f"a stage change within a status other than executing: {e}"
        else:
            assert d["status"] == kind, f"type {e['type']} carries data.status {d['status']!r}"
    seqs = [e["sequence"] for e in evs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"sequence must rise: {seqs}"
    times = [e["created_at"] for e in evs]
    assert times == sorted(times), f"events' created_at go backwards: {times}"
    ss = [e["session_sequence"] for e in evs]
    assert ss == list(range(ss[0], ss[0] + len(ss))), f"session_sequence must rise by one per event: {ss}"
    assert len({e["id"] for e in evs}) == len(evs), "event ids repeat"
    etags = [e["data"].get("etag") for e in evs]
    assert len(set(etags)) == len(etags), f"every event is a new version of the session: {etags}"
    states = [(e["data"]["status"], e["data"].get("stage")) for e in evs]
    assert len(set(states)) == len(states), f"a (status, stage) entered twice: {states}"
    types = [e["type"][len(P):] for e in evs]
    assert types == expect, f"events of {sid}: {types} (data status/stage {states}), expected {expect}"
    for e in evs:
        if e["type"] == P + "stage_changed":
            assert e["data"]["stage"] == "conversion", \
                f"the one stage change within a status is executing -> conversion: {states}"
    return evs


def test_events_of_a_settled_session(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("1000.00")
    created = t.create_session(w)
    final, _ = t.watch(created["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final
    evs = _check_log(t, created["id"], ["executing", "stage_changed", "executed", "settled"])
    # data is the session as GET showed it after each transition
    assert evs[0]["data"] == created, f"creation event data differs from the 201 body:\n{evs[0]['data']}\n{created}"
    assert evs[-1]["data"] == final, f"last event data differs from GET:\n{evs[-1]['data']}\n{final}"
    assert evs[1]["data"]["fill_rate"] is None
    assert evs[2]["data"]["stage"] == "payout" and evs[2]["data"]["fill_rate"] == "0.92"
    assert evs[2]["data"]["delivered_amount"] == {"currency": "EUR", "value": "230.00"}
    assert evs[2]["data"]["settled_at"] is None and TS_RE.match(evs[3]["data"]["settled_at"])


def test_events_of_failed_sessions(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("1000.00")
    chain = t.create_session(w, "10.05")
    closed = t.create_session(w, "10.06")
    fc, _ = t.watch(chain["id"], timeout=SETTLE_TIMEOUT)
    fr, _ = t.watch(closed["id"], timeout=SETTLE_TIMEOUT)
    evs = _check_log(t, chain["id"], ["executing", "failed"])
    assert evs[-1]["data"]["failure_reason"] == "chain_transfer_failed" and evs[-1]["data"] == fc
    evs = _check_log(t, closed["id"], ["executing", "stage_changed", "executed", "failed"])
    assert evs[-1]["data"]["failure_reason"] == "beneficiary_account_closed" and evs[-1]["data"] == fr
    dust = t.create_session(w, "0.001")
    fd, _ = t.watch(dust["id"], timeout=SETTLE_TIMEOUT)
    evs = _check_log(t, dust["id"], ["executing", "stage_changed", "failed"])
    assert evs[-1]["data"]["failure_reason"] == "amount_too_small" and evs[-1]["data"] == fd


def test_events_of_approved_rejected_cancelled(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("10000.00")
    t.set_threshold("1000.00")
    k = t.make_key(["ramps.approve", "ramps.read"])
    ok = t.create_session(w, "1000.00")
    no = t.create_session(w, "1000.00")
    cx = t.create_session(w, "1000.00")
    for s in (ok, no, cx):
        assert s["status"] == "pending_approval", s
    r = t.req("POST", f"/approvals/{ok['approval_ref'].split('/')[1]}/approve", key=k["api_key"])
    assert r.status == 200, describe(r)
    r = t.req("POST", f"/approvals/{no['approval_ref'].split('/')[1]}/reject", key=k["api_key"])
    assert r.status == 200, describe(r)
    r = t.req("POST", f"/off-ramp-sessions/{cx['id']}/cancel")
    assert r.status == 200, describe(r)
    fo, _ = t.watch(ok["id"], timeout=SETTLE_TIMEOUT)
    assert fo["status"] == "settled", fo
    evs = _check_log(t, ok["id"], ["pending_approval", "executing", "stage_changed", "executed", "settled"])
    assert evs[0]["data"] == ok
    assert evs[1]["data"]["subject_attribution"]["approved_by"] == principal_json(k["principal"], t.ref)
    assert evs[-1]["data"] == fo
    evs = _check_log(t, no["id"], ["pending_approval", "cancelled"])
    assert evs[-1]["data"]["failure_reason"] == "approval_rejected"
    assert evs[-1]["data"] == t.session(no["id"])
    evs = _check_log(t, cx["id"], ["pending_approval", "cancelled"])
    assert evs[-1]["data"] == t.session(cx["id"])


def test_sequence_across_the_tenant_and_paging(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("1000.00")
    a = t.create_session(w, "10.00")
    b = t.create_session(w, "20.00")
    for s in (a, b):
        f, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
        assert f["status"] == "settled", f
    ea, eb = t.events(a["id"]), t.events(b["id"])
    assert len(ea) >= 4 and len(eb) >= 4, (ea, eb)
    seqs = [e["sequence"] for e in ea + eb]
    assert len(set(seqs)) == len(seqs), f"sequence is one counter across the tenant's log: {seqs}"
    # b was created after a: its creation comes later in the log
    assert eb[0]["sequence"] > ea[0]["sequence"]

    # paging returns the same list, in the same order, whatever the page size
    for size in (1, 2, 3, 100):
        got = t.events(a["id"], page_size=size)
        assert [e["id"] for e in got] == [e["id"] for e in ea], f"page_size={size}"
    r = t.req("GET", f"/events?resource=off-ramp-sessions/{a['id']}&page_size=1")
    assert r.status == 200 and len(r.json["items"]) == 1 and r.json["next_page_token"], describe(r)
    r = t.req("GET", f"/events?resource=off-ramp-sessions/{a['id']}&page_size=100")
    assert r.status == 200 and r.json["next_page_token"] is None, describe(r)

    # the tenant's whole log (no resource): both sessions, oldest first
    r = t.req("GET", "/events?page_size=100")
    assert r.status == 200, f"GET /events without resource: {describe(r)}"
    log = t.events()
    ids = [e["id"] for e in log]
    assert set(ids) >= {e["id"] for e in ea + eb}, "the tenant's log lacks some of its events"
    s = [e["sequence"] for e in log]
    assert s == sorted(s) and len(set(s)) == len(s), f"the tenant's log is not oldest first: {s}"
    assert [e for e in log if e["resource_ref"] in (f"off-ramp-sessions/{a['id']}",)] == ea


def test_events_are_the_tenants_own(fast_server):
    t = fast_server.new_tenant()
    other = fast_server.new_tenant()
    w = t.setup("1000.00")
    s = t.create_session(w, "10.00")
    f, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert len(t.events(s["id"])) >= 4
    r = other.req("GET", f"/events?resource=off-ramp-sessions/{s['id']}")
    if r.status == 200:
        assert r.json["items"] == [], f"another tenant sees the events: {describe(r)}"
    else:
        assert_error(r, 404, "not_found")
    r = other.req("GET", "/events")
    assert r.status == 200, describe(r)
    mine = [e for e in other.events() if e.get("resource_ref") == f"off-ramp-sessions/{s['id']}"]
    assert not mine, "another tenant's events are in this tenant's log"


def test_events_bad_requests(fast_server):
    t = fast_server.new_tenant()
    w = t.setup("100.00")
    s = t.create_session(w, "10.00")
    base = f"/events?resource=off-ramp-sessions/{s['id']}"
    for q in ("&page_size=0", "&page_size=101", "&page_size=x", "&bogus=1"):
        r = t.req("GET", base + q)
        assert_error(r, 400, "invalid_query_parameter")
    r = t.req("GET", base + "&page_token=notatoken")
    assert_error(r, 400, {"invalid_page_token", "invalid_query_parameter"})
    r = t.req("GET", "/events?resource=bogus")
    assert_error(r, 400, {"invalid_query_parameter", "invalid_reference"})
    r = t.req("GET", f"/events?resource=off-ramp-sessions/{uuid.uuid4()}")
    assert r.status in (200, 404), describe(r)
    if r.status == 200:
        assert r.json["items"] == [], describe(r)
    r = t.req("GET", base, key=t.key_without("ramps.read"))
    assert_error(r, 403, "missing_capability")
    r = t.req("GET", base, key=None, headers={"Authorization": None})
    assert r.status == 401, describe(r)


def test_event_log_only_grows_while_the_session_moves(server_factory):
    """Read the log page by page while the session is still moving: every
    read is a prefix of the final log (nothing reordered, nothing lost)."""
    srv = server_factory(step_ms=3 * LIFECYCLE_STEP_MS)
    t = srv.new_tenant()
    w = t.setup("100.00")
    s = t.create_session(w, "10.00")
    reads = []
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        got = t.events(s["id"], page_size=1)
        reads.append([e["id"] for e in got])
        if got and got[-1]["type"] == P + "settled":
            break
        time.sleep(0.03)
    ids = [e["id"] for e in t.events(s["id"])]
    for r in reads:
        assert r == ids[:len(r)], f"a read of the log while it grew is not a prefix of the final log: {r} vs {ids}"
    assert len({len(r) for r in reads}) >= 2, "the log was never seen growing (reads too slow?)"
    _check_log(t, s["id"], ["executing", "stage_changed", "executed", "settled"])
