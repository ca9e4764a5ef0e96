"""The session lifecycle in sandbox (docs/LIFECYCLE.md, CONTRACT 5, 8, 9):
sessions move on their own through executing -> executed -> settled, or fail
as their cents say; FX rates and rounding; fees; money after settlement or
failure; terminal states never change; the sandbox rail's book of payouts.

The module's server (`fast_server`) runs with --sandbox-step-ms
LIFECYCLE_STEP_MS; every wait is a poll with a deadline."""

import concurrent.futures
import datetime
import time
from decimal import ROUND_DOWN, Decimal

from offramp_e2e import (
    HAPPY_PATH, LIFECYCLE_STEP_MS, TERMINAL, TS_RE, assert_error, describe, expected_outcome, fmt_money,
    payout_session_id, poll_until,
)

STEP_S = LIFECYCLE_STEP_MS / 1000.0
SETTLE_TIMEOUT = 30.0     # generous: the sanitised build under a loaded machine
LATE_TIMEOUT = 60.0       # .07: two transient failures per rail call, with backoff


def _ts(s):
    assert isinstance(s, str) and TS_RE.match(s), f"not an RFC 3339 UTC timestamp: {s!r}"
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _eur(value):
    return {"currency": "EUR", "value": value}


def _delivered(amount, rate):
    """principal x rate, rounded down to the cent, as the service prints it."""
    return fmt_money((Decimal(amount) * Decimal(rate)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def assert_path(seen, path):
    """Every (status, stage) observed is on `path`, met in its order."""
    states = [(s["status"], s.get("stage")) for s in seen]
    pos = 0
    for st in states:
        assert st in path, f"state {st} is not on the path {path}; observed {states}"
        i = path.index(st)
        assert i >= pos, f"state {st} observed after a later one; observed {states}"
        pos = i
    return states


def assert_versions_consistent(seen, created, final=None):
    """What must hold of every version of one session seen while it moved:
    fixed fields stay, every change has a new etag, updated_at never goes
    back, fill_rate/delivered_amount are null before conversion and, once
    set, never change; settled_at only when settled."""
    fixed = ("id", "account_ref", "principal_amount", "fee_summary", "created_at", "family", "family_params",
             "subject_attribution", "approval_ref")
    final = final or seen[-1]
    prev_updated = None
    for i, s in enumerate(seen):
        for k in fixed:
            assert s.get(k) == created.get(k), f"{k} changed while the session moved: {created.get(k)!r} -> {s.get(k)!r}"
        if i:
            assert s["etag"] != seen[i - 1]["etag"], \
                f"the session changed but its etag did not: {seen[i - 1]} -> {s}"
        up = _ts(s["updated_at"])
        assert prev_updated is None or up >= prev_updated, "updated_at went backwards"
        prev_updated = up
        if s["status"] == "pending_approval" or s.get("stage") == "stablecoin_transfer":
            assert s["fill_rate"] is None and s["delivered_amount"] is None, \
                f"fill_rate/delivered_amount set before conversion: {s}"
        if s["status"] in ("executed", "settled"):
            assert s["fill_rate"] is not None and s["delivered_amount"] is not None, \
                f"fill_rate/delivered_amount null after conversion: {s}"
        if s["fill_rate"] is not None or s["delivered_amount"] is not None:
            assert (s["fill_rate"], s["delivered_amount"]) == (final["fill_rate"], final["delivered_amount"]), \
                f"fill_rate/delivered_amount changed once set: {s} vs final {final}"
        if s["status"] != "settled":
            assert s["settled_at"] is None, f"settled_at set while {s['status']}: {s}"


def _get_checked(t, sid):
    """GET with its ETag header: the header is the body's etag."""
    r = t.req("GET", f"/off-ramp-sessions/{sid}")
    assert r.status == 200, describe(r)
    assert r.headers.get("etag") == r.json["etag"], (r.headers.get("etag"), r.json["etag"])
    return r.json


def assert_stays(t, sids, seconds=8 * STEP_S):
    """Terminal sessions never change: poll them a while (8 steps)."""
    first = {sid: t.session(sid) for sid in sids}
    for sid, s in first.items():
        assert s["status"] in TERMINAL, s
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for sid in sids:
            now = t.session(sid)
            assert now == first[sid], f"terminal session {sid} changed:\n{first[sid]}\n->\n{now}"
        time.sleep(STEP_S / 2)


# ---------------------------------------------------------------------------
# the seed settles
# ---------------------------------------------------------------------------

def test_seed_session_settles_on_its_own(fast_server):
    srv = fast_server
    t = srv.new_tenant()
    w = t.setup("1000.00")
    t0 = time.monotonic()
    created = t.create_session(w)
    sid = created["id"]
    assert created["status"] == "executing" and created["stage"] == "stablecoin_transfer", created
    assert created["fill_rate"] is None and created["delivered_amount"] is None, created
    assert created["settled_at"] is None and created["failure_reason"] is None, created

    # while it has not settled, the hold is pending (read the balance first,
    # then the session: if the session has not settled yet, neither had it then)
    bal = w.balances()["USDC"]
    if t.session(sid)["status"] != "settled":
        assert bal == {"available": "749.00", "held": "251.00", "total": "1000.00"}, bal

    final, seen = t.watch(sid, timeout=SETTLE_TIMEOUT)
    elapsed = time.monotonic() - t0
    assert final["status"] == "settled", f"expected settled, got {final}"
    assert final["stage"] == "payout", final
    assert final["failure_reason"] is None, final
    assert final["fill_rate"] == "0.92", f"default USDC->EUR rate is 0.92: {final['fill_rate']!r}"
    assert final["delivered_amount"] == _eur("230.00"), final["delivered_amount"]
    assert _ts(final["settled_at"]) >= _ts(final["created_at"]), final
    assert elapsed >= 3 * STEP_S * 0.9, f"settled {elapsed:.3f}s after creation; the timeline says 3 steps ({3 * STEP_S}s)"
    assert_versions_consistent(seen, created)
    for s in seen:
        if s["status"] in ("executed", "settled"):
            assert s["fill_rate"] == "0.92" and s["delivered_amount"] == _eur("230.00"), s
    assert _get_checked(t, sid) == final

    # money: the hold (250.00 + 1.00) is posted: gone from the account
    assert w.balances()["USDC"] == {"available": "749.00", "held": "0.00", "total": "749.00"}
    # the list filters see it as settled
    assert t.session_ids(status="settled") == [sid]
    assert t.session_ids(status="executing") == []
    out = srv.verify_ledger()
    assert '"ok":true' in out.replace(" ", ""), out
    # the (status, stage) pairs observed follow the documented timeline
    assert_path([created] + seen, HAPPY_PATH)


# ---------------------------------------------------------------------------
# outcomes chosen by the cents
# ---------------------------------------------------------------------------

def test_outcomes_by_cents(fast_server):
    """.05 fails the chain transfer, .06 the payout (after executed), .07
    settles late, anything else settles; failed ones leave the account
    exactly as before; terminal states never change afterwards."""
    srv = fast_server
    t = srv.new_tenant()
    amounts = ["10.00", "10.05", "10.06", "10.07"]
    worlds = {a: t.setup("100.00", client_name=f"Client {a}") for a in amounts}
    before = {a: worlds[a].balances() for a in amounts}
    created = {a: t.create_session(worlds[a], a) for a in amounts}
    for a, s in created.items():
        assert s["status"] == "executing", (a, s)

    with concurrent.futures.ThreadPoolExecutor(len(amounts)) as ex:
        futs = {a: ex.submit(t.watch, created[a]["id"], TERMINAL,
                             LATE_TIMEOUT if a.endswith("07") else SETTLE_TIMEOUT) for a in amounts}
        res = {a: f.result() for a, f in futs.items()}

    # anything else settles
    final, seen = res["10.00"]
    assert final["status"] == "settled" and final["delivered_amount"] == _eur("9.20"), final
    assert worlds["10.00"].balances()["USDC"] == {"available": "89.00", "held": "0.00", "total": "89.00"}

    # .05: failed at the stablecoin transfer, never executed, nothing converted
    final, seen = res["10.05"]
    assert final["status"] == "failed", f".05 must fail: {final}"
    assert final["failure_reason"] == "chain_transfer_failed", final
    assert final["stage"] == "stablecoin_transfer", final
    assert final["fill_rate"] is None and final["delivered_amount"] is None, final
    assert final["settled_at"] is None, final
    assert worlds["10.05"].balances() == before["10.05"], "a failed session must leave the account as before"

    # .06: the rail rejects the payout: failed from executed, after conversion
    final, seen = res["10.06"]
    assert final["status"] == "failed", f".06 must fail: {final}"
    assert final["failure_reason"] == "beneficiary_account_closed", final
    assert final["stage"] == "payout", final
    assert final["fill_rate"] == "0.92" and final["delivered_amount"] == _eur(_delivered("10.06", "0.92")), final
    assert final["settled_at"] is None, final
    assert worlds["10.06"].balances() == before["10.06"], "a failed session must leave the account as before"

    # .07: transient rail errors, retried: settles late
    final, seen = res["10.07"]
    assert final["status"] == "settled" and final["failure_reason"] is None, final
    assert final["delivered_amount"] == _eur(_delivered("10.07", "0.92")), final
    assert worlds["10.07"].balances()["USDC"] == {"available": "88.93", "held": "0.00", "total": "88.93"}

    for a in amounts:
        assert_versions_consistent(res[a][1], created[a])
    # terminal states never change
    assert_stays(t, [created[a]["id"] for a in amounts])
    assert sorted(t.session_ids(status="failed")) == sorted([created["10.05"]["id"], created["10.06"]["id"]])
    assert sorted(t.session_ids(status="settled")) == sorted([created["10.00"]["id"], created["10.07"]["id"]])
    srv.verify_ledger()

    # the (status, stage) pairs observed follow the documented timeline
    assert_path([created["10.00"]] + res["10.00"][1], HAPPY_PATH)
    assert_path([created["10.07"]] + res["10.07"][1], HAPPY_PATH)
    assert_path([created["10.05"]] + res["10.05"][1], [("executing", "stablecoin_transfer"),
                                                        ("failed", "stablecoin_transfer")])
    assert_path([created["10.06"]] + res["10.06"][1], HAPPY_PATH[:3] + [("failed", "payout")])


def test_usdt_session_settles(fast_server):
    t = fast_server.new_tenant()
    w = t.setup(None)
    t.deposit(w.account_ref, "300.00", "USDT")
    s = t.create_session(w, "100.00", "USDT")
    assert s["fee_summary"]["total"] == {"currency": "USDT", "value": "1.00"}, s["fee_summary"]
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final
    assert final["fill_rate"] == "0.92" and final["delivered_amount"] == _eur("92.00"), final
    bal = w.balances()
    assert bal["USDT"] == {"available": "199.00", "held": "0.00", "total": "199.00"}, bal
    assert bal["USDC"] == {"available": "0.00", "held": "0.00", "total": "0.00"}, bal
    fast_server.verify_ledger()


def test_many_sessions_in_one_account_settle_and_fail_exactly(fast_server):
    """Several sessions of mixed outcomes on one account: the account ends
    with the deposit minus what the settled ones cost, nothing held."""
    t = fast_server.new_tenant()
    w = t.setup("1000.00")
    # the cents are the first two fractional digits, whatever follows them
    amounts = ["1.00", "2.05", "3.06", "4.50", "5.000001", "6.05", "7.06", "8.99",
               "3.051", "3.069999", "3.5", "5", "2.0500", "4.007", "4.605"]
    ids = {t.create_session(w, a)["id"]: a for a in amounts}

    def all_terminal():
        got = {s["id"]: s for s in t.list_sessions()}
        return all(got[i]["status"] in TERMINAL for i in ids), got
    got = poll_until(all_terminal, SETTLE_TIMEOUT, "every session to be terminal", 0.05)
    spent = Decimal(0)
    for sid, a in ids.items():
        status, reason = expected_outcome(a)
        assert got[sid]["status"] == status and got[sid]["failure_reason"] == reason, (a, got[sid])
        if status == "settled":
            spent += Decimal(a) + Decimal("1.00")
    left = fmt_money(Decimal("1000.00") - spent)
    assert w.balances()["USDC"] == {"available": left, "held": "0.00", "total": left}
    fast_server.verify_ledger()


# ---------------------------------------------------------------------------
# FX: operator rates, rounding down
# ---------------------------------------------------------------------------

def test_operator_rate_and_rounding_down(server_factory):
    """`admin set-rate USDC EUR 0.9234`: new sessions convert at it; the
    delivered amount is rounded down to the cent; USDT keeps its default."""
    srv = server_factory(step_ms=LIFECYCLE_STEP_MS)  # the FX table is global: a server of its own
    t = srv.new_tenant()
    w = t.setup("1000.00")
    t.deposit(w.account_ref, "300.00", "USDT")
    srv.set_rate("USDC", "EUR", "0.9234")
    a = t.create_session(w, "250.00")
    b = t.create_session(w, "10.99")          # 10.148166 -> 10.14 (half up would say 10.15)
    c = t.create_session(w, "1.000001")       # 0.9234009234 -> 0.92
    d = t.create_session(w, "250.00", "USDT")  # USDT was not set: 0.92
    fa, _ = t.watch(a["id"], timeout=SETTLE_TIMEOUT)
    fb, _ = t.watch(b["id"], timeout=SETTLE_TIMEOUT)
    fc, _ = t.watch(c["id"], timeout=SETTLE_TIMEOUT)
    fd, _ = t.watch(d["id"], timeout=SETTLE_TIMEOUT)
    assert fa["status"] == "settled" and fa["fill_rate"] == "0.9234", fa
    assert fa["delivered_amount"] == _eur("230.85"), fa["delivered_amount"]
    assert fb["fill_rate"] == "0.9234" and fb["delivered_amount"] == _eur("10.14"), \
        f"10.99 x 0.9234 = 10.148166 must round down to 10.14: {fb['delivered_amount']}"
    assert fc["delivered_amount"] == _eur("0.92"), fc["delivered_amount"]
    assert fd["fill_rate"] == "0.92" and fd["delivered_amount"] == _eur("230.00"), \
        f"set-rate USDC EUR must not change USDT's rate: {fd}"
    # the account pays the principal and the fee, whatever the rate
    # 1000.00 - (251.00 + 11.99 + 2.000001); USDT 300.00 - 251.00
    assert w.balances()["USDC"] == {"available": "735.009999", "held": "0.00", "total": "735.009999"}
    assert w.balances()["USDT"] == {"available": "49.00", "held": "0.00", "total": "49.00"}
    # USDT has its own entry in the table
    srv.set_rate("USDT", "EUR", "0.95")
    e = t.create_session(w, "40.00", "USDT")
    fe, _ = t.watch(e["id"], timeout=SETTLE_TIMEOUT)
    assert fe["fill_rate"] == "0.95" and fe["delivered_amount"] == _eur("38.00"), fe
    f = t.create_session(w, "10.00")
    ff, _ = t.watch(f["id"], timeout=SETTLE_TIMEOUT)
    assert ff["fill_rate"] == "0.9234", f"set-rate USDT EUR changed USDC's rate: {ff}"
    srv.verify_ledger()


def test_dust_session_fails_amount_too_small(fast_server):
    """LIFECYCLE "Money": a principal converting to less than one cent (0.001
    USDC is 0.00092 EUR) fails at conversion with amount_too_small; its hold
    is released; nothing is paid."""
    t = fast_server.new_tenant()
    w = t.setup("10.00")
    ids = [t.create_session(w, a)["id"] for a in ("0.001", "0.000001", "0.010869")]
    ok = t.create_session(w, "0.010870")["id"]   # 0.0100004 EUR: one cent
    for sid in ids:
        final, _ = t.watch(sid, timeout=SETTLE_TIMEOUT)
        assert final["status"] == "failed" and final["failure_reason"] == "amount_too_small", final
        assert final["stage"] == "conversion", final
        assert final["settled_at"] is None, final
        assert t.payouts(sid) == [], "a dust session paid something"
    final, _ = t.watch(ok, timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled" and final["delivered_amount"] == _eur("0.01"), final
    assert w.balances()["USDC"] == {"available": "8.98913", "held": "0.00", "total": "8.98913"}
    fast_server.verify_ledger()


def test_conversion_too_large_for_the_target(server_factory):
    """A principal whose conversion does not fit the target's minor units
    (9e12 USDC x 100000 = 9e17 EUR): the session ends, its hold is released,
    the server survives and the ledger verifies; failure_reason
    `amount_too_large` (LIFECYCLE "Failure reasons")."""
    srv = server_factory(step_ms=LIFECYCLE_STEP_MS)  # set-rate is global
    t = srv.new_tenant()
    w = t.setup(None)
    srv.set_rate("USDC", "EUR", "100000")
    t.deposit(w.account_ref, "9000000000000.00")
    r = t.req("POST", "/off-ramp-sessions", w.body("8999999999999.00"))
    if r.status != 201:   # refusing it up front is fine too
        assert r.status in (400, 422), describe(r)
        return
    final, _ = t.watch(r.json["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "failed", final
    assert w.balances()["USDC"] == {"available": "9000000000000.00", "held": "0.00", "total": "9000000000000.00"}
    assert srv.alive()
    srv.verify_ledger()
    assert final["failure_reason"] == "amount_too_large", \
        f"8999999999999.00 USDC at 100000 EUR/USDC does not fit EUR cents: {final['failure_reason']}"
    assert final["stage"] == "conversion", final
    assert t.payouts(final["id"]) == []


def test_set_rate_refuses_bad_input(server_factory):
    srv = server_factory(step_ms=LIFECYCLE_STEP_MS)
    for args in (["USDC", "EUR", "0"], ["USDC", "EUR", "-1"], ["USDC", "EUR", "abc"], ["USDC", "EUR", ""],
                 ["USDC", "XYZ", "1.00"], ["DOGE", "EUR", "1.00"], ["USDC", "EUR"]):
        p = srv.admin_raw("set-rate", *args)
        assert p.returncode != 0, f"set-rate {args} should fail; stdout {p.stdout!r}"
    t = srv.new_tenant()
    w = t.setup("100.00")
    s = t.create_session(w, "10.00")
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["fill_rate"] == "0.92", f"a refused set-rate changed the rate: {final}"


# ---------------------------------------------------------------------------
# fees
# ---------------------------------------------------------------------------

def _components(s):
    return {c["kind"]: c["amount"] for c in s["fee_summary"]["components"]}


def test_platform_fee_and_hold(fast_server):
    srv = fast_server
    t = srv.new_tenant()
    other = srv.new_tenant()
    w = t.setup("1000.00")
    ow = other.setup("1000.00")
    srv.set_fees(t.ref, platform_bps=25)
    s = t.create_session(w, "250.00")
    usdc = lambda v: {"currency": "USDC", "value": v}  # noqa: E731
    assert _components(s) == {"network_fee": usdc("1.00"), "platform_fee": usdc("0.625")}, s["fee_summary"]
    assert s["fee_summary"]["total"] == usdc("1.625"), s["fee_summary"]
    # the hold is principal + fees
    bal = w.balances()["USDC"]
    if t.session(s["id"])["status"] != "settled":
        assert bal == {"available": "748.375", "held": "251.625", "total": "1000.00"}, bal
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final
    assert final["fee_summary"] == s["fee_summary"], "fees changed while the session moved"
    assert w.balances()["USDC"] == {"available": "748.375", "held": "0.00", "total": "748.375"}

    # another tenant keeps the default schedule
    o = other.create_session(ow, "250.00")
    assert o["fee_summary"]["components"] == [{"amount": usdc("1.00"), "kind": "network_fee"}], o["fee_summary"]

    # rounded half up to the asset's minor unit: 0.0002 x 25 bps = 0.0000005
    for principal, fee in (("0.0002", "0.000001"), ("0.000599", "0.000001"), ("0.0006", "0.000002"),
                           ("400.00", "1.00")):
        x = t.create_session(w, principal)
        assert _components(x).get("platform_fee") == usdc(fee), (principal, x["fee_summary"])
        total = fmt_money(Decimal("1.00") + Decimal(fee))
        assert x["fee_summary"]["total"] == usdc(total), (principal, x["fee_summary"])

    # a network fee per asset and network; the sessions API pays from ethereum
    srv.set_fees(t.ref, platform_bps=0, network_fees=["USDC:ethereum:2.50", "USDC:base:0.10"])
    y = t.create_session(w, "100.00")
    assert _components(y).get("network_fee") == usdc("2.50"), y["fee_summary"]
    assert "platform_fee" not in _components(y) or _components(y)["platform_fee"]["value"] in ("0.00", "0"), \
        y["fee_summary"]
    assert y["fee_summary"]["total"] == usdc("2.50"), y["fee_summary"]
    srv.verify_ledger()


def test_fees_count_toward_insufficient_funds(fast_server):
    srv = fast_server
    t = srv.new_tenant()
    w = t.setup("251.00")
    srv.set_fees(t.ref, platform_bps=25)
    r = t.req("POST", "/off-ramp-sessions", w.body("250.00"))
    assert_error(r, 422, "insufficient_funds")
    assert w.balances()["USDC"] == {"available": "251.00", "held": "0.00", "total": "251.00"}
    t.deposit(w.account_ref, "0.625")
    s = t.create_session(w, "250.00")
    final, _ = t.watch(s["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", final
    assert w.balances()["USDC"] == {"available": "0.00", "held": "0.00", "total": "0.00"}
    srv.verify_ledger()


def test_set_fees_refuses_bad_input(fast_server):
    srv = fast_server
    t = srv.new_tenant()
    from uuid import uuid4
    for args in (["--tenant", f"enterprises/{uuid4()}", "--platform-bps", "25"],
                 ["--tenant", "nope", "--platform-bps", "25"],
                 ["--tenant", t.ref, "--platform-bps", "-1"],
                 ["--tenant", t.ref, "--platform-bps", "abc"],
                 ["--tenant", t.ref, "--network-fee", "USDC:ethereum"],
                 ["--tenant", t.ref, "--network-fee", "USDC:ethereum:-1.00"],
                 ["--tenant", t.ref, "--network-fee", "EUR:ethereum:1.00"],
                 ["--tenant", t.ref, "--network-fee", "USDC:ethereum:1.0000001"]):
        p = srv.admin_raw("set-fees", *args)
        assert p.returncode != 0, f"set-fees {args} should fail; stdout {p.stdout!r}"
    w = t.setup("100.00")
    s = t.create_session(w, "10.00")
    assert s["fee_summary"]["components"] == [{"amount": {"currency": "USDC", "value": "1.00"},
                                               "kind": "network_fee"}], \
        f"a refused set-fees changed the schedule: {s['fee_summary']}"


# ---------------------------------------------------------------------------
# the sandbox rail's book
# ---------------------------------------------------------------------------

def test_sandbox_payouts(fast_server):
    """GET /sandbox/payouts: one payout per settled session, keyed by the
    session's idempotency key, none for a chain failure; another tenant's
    are invisible."""
    srv = fast_server
    t = srv.new_tenant()
    other = srv.new_tenant()
    w = t.setup("1000.00")
    ok = t.create_session(w, "20.00")
    late = t.create_session(w, "20.07")
    chain = t.create_session(w, "20.05")
    closed = t.create_session(w, "20.06")
    finals = {}
    for s in (ok, chain, closed, late):
        finals[s["id"]], _ = t.watch(s["id"], timeout=LATE_TIMEOUT)

    def one(sid):
        items = t.payouts(sid)
        for p in items:
            assert payout_session_id(p) == sid, f"payouts?session_id={sid} listed {p}"
        return items

    paid = []
    for s in (ok, late):
        items = one(s["id"])
        assert len(items) == 1, f"a settled session has exactly one payout: {items}"
        p = items[0]
        # LIFECYCLE: the sandbox keeps its payouts keyed by <session id>:payout
        assert p.get("idempotency_key") == f"{s['id']}:payout", p
        assert p.get("amount") == finals[s["id"]]["delivered_amount"], (p, finals[s["id"]])
        paid.append(p)
    assert one(chain["id"]) == [], "a session whose chain transfer failed never reaches the payout rail"
    rejected = one(closed["id"])
    assert len(rejected) <= 1, rejected
    for field in ("outcome", "status"):
        if rejected and field in rejected[0] and field in paid[0]:
            assert rejected[0][field] != paid[0][field], f"a rejected payout looks paid: {rejected[0]} vs {paid[0]}"

    # the unfiltered book: this tenant's, no duplicates
    book = t.payouts()
    sids = [payout_session_id(p) for p in book]
    assert sorted(sids) == sorted([ok["id"], late["id"]] + [closed["id"]] * len(rejected)), book
    keys = [p["idempotency_key"] for p in book if "idempotency_key" in p]
    assert len(keys) == len(set(keys)), f"an idempotency key paid twice: {keys}"
    # another tenant sees none of it
    assert not [p for p in other.payouts() if payout_session_id(p) in finals], "another tenant's payouts are visible"
    r = other.req("GET", f"/sandbox/payouts?session_id={ok['id']}")
    assert r.status in (200, 404), describe(r)
    if r.status == 200:
        assert not [p for p in (r.json.get("items") or []) if payout_session_id(p) == ok["id"]], describe(r)
    # capability sandbox.fund
    r = t.req("GET", "/sandbox/payouts", key=t.key_without("sandbox.fund"))
    assert_error(r, 403, "missing_capability")


# ---------------------------------------------------------------------------
# restart: unfinished sessions are taken over
# ---------------------------------------------------------------------------

def test_restart_takes_over_unfinished_sessions(server_factory):
    """Sessions left executing by a stopped (SIGTERM) server are resumed by
    the next one on the same database. (The first server's step is long
    enough for it to stop before the first step is due.)"""
    s1 = server_factory(step_ms=2000)
    t = s1.new_tenant()
    w = t.setup("1000.00")
    a = t.create_session(w, "100.00")
    b = t.create_session(w, "100.06")
    s1.stop_checked()
    s2 = server_factory(db=s1.db, step_ms=LIFECYCLE_STEP_MS)
    t.server = s2
    fa, _ = t.watch(a["id"], timeout=SETTLE_TIMEOUT)
    fb, _ = t.watch(b["id"], timeout=SETTLE_TIMEOUT)
    assert fa["status"] == "settled", fa
    assert fb["status"] == "failed" and fb["failure_reason"] == "beneficiary_account_closed", fb
    assert w.balances()["USDC"] == {"available": "899.00", "held": "0.00", "total": "899.00"}
    s2.verify_ledger()


def test_worker_lag_is_logged(server_factory):
    """When the lifecycle falls behind (here: the process is stopped for
    2.5 s while 200 sessions fall due, more than one worker pass takes),
    serve says by how much, and then catches up."""
    import signal
    s = server_factory(step_ms=300, extra_args=["--workers", "1"])
    t = s.new_tenant()
    w = t.setup("10000.00")
    sids = [t.create_session(w, "10.00")["id"] for _ in range(200)]
    s.proc.send_signal(signal.SIGSTOP)
    time.sleep(2.5)
    s.proc.send_signal(signal.SIGCONT)
    for sid in (sids[0], sids[-1]):
        last, _ = t.watch(sid, timeout=60, interval=0.2)
        assert last["status"] == "settled", last
    log = s.stderr_path.read_text(encoding="utf-8", errors="replace")
    lines = [ln for ln in log.splitlines() if "workers: behind by" in ln]
    assert lines, f"no lag line after a 2.5 s stall:\n{s.stderr()[-3000:]}"
    lag_ms = int(lines[0].split("behind by ")[1].split(" ")[0])
    assert lag_ms >= 1000, lines[0]
