"""The lifecycle survives crashes (CONTRACT 8, docs/LIFECYCLE.md "Workers and
rails"): SIGKILL `serve` while sessions are being created from several
threads and moved by the workers, twice; restart on the same database;
every acknowledged session is there and ends as its cents say; no rail is
asked twice to pay (one sandbox payout per settled session); the money is
exactly the deposits minus what settled sessions cost; the ledger verifies.
"""

import concurrent.futures
import random
import threading
import time
from collections import Counter
from decimal import Decimal

from offramp_e2e import (
    TERMINAL, describe, expected_outcome, fmt_money, http_request, payout_session_id, poll_until,
)

STEP_MS = 50
THREADS = 6
AMOUNTS = ["1.00", "1.05", "1.06", "2.00", "1.05", "3.50", "1.06", "1.07", "4.25", "1.00"]
FEE = Decimal("1.00")
TERMINAL_TIMEOUT = 90.0

EVENTS_FOR = {
    ("settled", None): ["executing", "stage_changed", "executed", "settled"],
    ("failed", "chain_transfer_failed"): ["executing", "failed"],
    ("failed", "beneficiary_account_closed"): ["executing", "stage_changed", "executed", "failed"],
}


def _load_then_kill(srv, t, w, rnd, round_no, acked, cut_off, unexpected):
    """THREADS threads create sessions against srv; SIGKILL it after a random
    0.8-1.4 s (and at least 10 acknowledgements in), while they are still
    sending. Acknowledged (201) sessions go
    to `acked` {id: amount}; requests the kill cut off to `cut_off`
    [(idempotency key, amount)]."""
    stop = threading.Event()
    lock = threading.Lock()
    n_before = len(acked)

    def hammer(n):
        i = 0
        while not stop.is_set():
            i += 1
            amount = AMOUNTS[(n + i) % len(AMOUNTS)]
            key = f"crash-{round_no}-{n}-{i}"
            try:
                r = http_request(srv.port, "POST", "/off-ramp-sessions", body=w.body(amount), key=t.key,
                                 headers={"Idempotency-Key": key}, timeout=15)
            except Exception:  # noqa: BLE001 - reset, refused, incomplete read: the kill cut it off
                with lock:
                    cut_off.append((key, amount))
                continue
            with lock:
                if r.status == 201 and r.json and r.json.get("principal_amount", {}).get("value") == fmt_money(amount):
                    acked[r.json["id"]] = amount
                else:
                    unexpected.append(f"{amount}: {describe(r)}")

    with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
        futs = [ex.submit(hammer, n) for n in range(THREADS)]
        time.sleep(rnd.uniform(0.8, 1.4))
        # A loaded machine may not have answered enough yet: the kill waits
        # for the round's 10th acknowledgement (the point is killing under
        # load, not at a given second).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(acked) - n_before >= 10:
                    break
            time.sleep(0.02)
        srv.kill()
        stop.set()
        for f in futs:
            f.result()


def test_sigkill_twice_during_lifecycle(server_factory):
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    ctx = f"(random seed {seed})"
    s1 = server_factory(step_ms=STEP_MS)
    t = s1.new_tenant()
    deposit = Decimal("100000.00")
    w = t.setup(fmt_money(deposit))
    acked, cut_off, unexpected = {}, [], []

    srv = s1
    for round_no in range(2):
        n_before = len(acked)
        _load_then_kill(srv, t, w, rnd, round_no, acked, cut_off, unexpected)
        assert len(acked) - n_before >= 10, f"round {round_no}: only {len(acked) - n_before} sessions acknowledged {ctx}"
        srv = server_factory(db=s1.db, step_ms=STEP_MS)
        t.server = srv
        # at the crash point the ledger is sound
        srv.verify_ledger()
    assert not unexpected, f"answers other than 201: {unexpected[:3]} {ctx}"

    # every acknowledged session survived both kills
    stored = {s["id"]: s for s in t.list_sessions(page_size=100)}
    lost = [sid for sid in acked if sid not in stored]
    assert not lost, f"{len(lost)} acknowledged sessions lost, e.g. {lost[:3]} {ctx}"

    # retrying a cut-off request with its key never makes a second session:
    # either the kept answer is replayed or the request runs for the first time
    replayed = {}
    for key, amount in cut_off:
        r = t.req("POST", "/off-ramp-sessions", w.body(amount), headers={"Idempotency-Key": key})
        assert r.status == 201, f"retry of cut-off {key}: {describe(r)} {ctx}"
        sid = r.json["id"]
        if r.headers.get("x-idempotency-cached") == "true":
            assert sid in stored, f"replayed {key} names {sid}, which was not stored {ctx}"
        else:
            assert sid not in stored, f"{key} ran again and answered an existing id {ctx}"
        assert sid not in acked, f"{key} answered the id of another acknowledged request {ctx}"
        replayed[sid] = amount
    expected_ids = set(acked) | set(replayed)
    stored_ids = {s["id"] for s in t.list_sessions(page_size=100)}
    assert stored_ids == expected_ids, \
        f"stored sessions are not exactly the acknowledged ones: {len(stored_ids - expected_ids)} extra, " \
        f"{len(expected_ids - stored_ids)} missing {ctx}"
    amount_of = dict(acked)
    amount_of.update(replayed)

    # every session reaches the terminal status its cents imply
    def all_terminal():
        cur = {s["id"]: s for s in t.list_sessions(page_size=100)}
        waiting = [i for i in expected_ids if cur[i]["status"] not in TERMINAL]
        return not waiting, (cur if not waiting else f"{len(waiting)} not terminal, e.g. {cur[waiting[0]]}")
    final = poll_until(all_terminal, TERMINAL_TIMEOUT, f"every session to be terminal {ctx}", 0.5)
    wrong = []
    spent = Decimal(0)
    settled = set()
    for sid in expected_ids:
        s = final[sid]
        want = expected_outcome(amount_of[sid])
        if (s["status"], s["failure_reason"]) != want:
            wrong.append((amount_of[sid], s["status"], s["failure_reason"]))
        if s["status"] == "settled":
            settled.add(sid)
            spent += Decimal(s["principal_amount"]["value"]) + Decimal(s["fee_summary"]["total"]["value"])
    assert not wrong, f"{len(wrong)} sessions ended other than their cents say, e.g. {wrong[:5]} {ctx}"
    assert settled, "no session settled"

    # the rail paid each settled session exactly once, and nothing else
    book = t.payouts()
    per_session = Counter(payout_session_id(p) for p in book)
    keys = Counter(p["idempotency_key"] for p in book if "idempotency_key" in p)
    twice = [k for k, n in keys.items() if n > 1]
    assert not twice, f"idempotency keys paid more than once: {twice[:3]} {ctx}"
    problems = []
    for sid in expected_ids:
        n = per_session.get(sid, 0)
        status, reason = expected_outcome(amount_of[sid])
        if status == "settled" and n != 1:
            problems.append(f"settled {sid} has {n} payouts")
        if reason == "chain_transfer_failed" and n != 0:
            problems.append(f"chain-failed {sid} has {n} payouts")
        if reason == "beneficiary_account_closed" and n > 1:
            problems.append(f"rejected {sid} has {n} payouts")
    strays = [sid for sid in per_session if sid not in expected_ids]
    assert not problems, f"{len(problems)} payout problems, e.g. {problems[:5]} {ctx}"
    assert not strays, f"payouts for unknown sessions: {strays[:3]} {ctx}"
    for p in book:
        sid = payout_session_id(p)
        if "idempotency_key" in p:
            assert p["idempotency_key"] == f"{sid}:payout", p
        if sid in settled and isinstance(p.get("amount"), dict):
            assert p["amount"] == final[sid]["delivered_amount"], (p, final[sid])

    # money: the deposit minus what settled sessions cost; nothing held
    left = fmt_money(deposit - spent)
    assert w.balances()["USDC"] == {"available": left, "held": "0.00", "total": left}, ctx

    # one event per transition, even across the kills: the statuses entered
    # are exactly those of the outcome, no (status, stage) is entered twice,
    # session_sequence has no gap or repeat. (test_events checks the exact
    # list, stage changes included.)
    bad = []
    for sid in sorted(expected_ids):
        evs = t.events(sid)
        entered = [e["type"].split(".", 1)[1] for e in evs if e["type"] != "off_ramp_session.stage_changed"]
        want = [x for x in EVENTS_FOR[expected_outcome(amount_of[sid])] if x != "stage_changed"]
        states = [(e["data"]["status"], e["data"].get("stage")) for e in evs]
        ss = [e["session_sequence"] for e in evs]
        if entered != want or len(set(states)) != len(states) or ss != list(range(ss[0], ss[0] + len(ss))):
            bad.append((amount_of[sid], [e["type"] for e in evs], states, ss))
        elif evs[-1]["data"] != final[sid]:
            bad.append((amount_of[sid], "last event data is not the session as GET shows it"))
    assert not bad, f"{len(bad)} sessions have the wrong events, e.g. {bad[:3]} {ctx}"
    srv.verify_ledger()
    outcomes = Counter(final[i]["status"] for i in expected_ids)
    print(f"crash test {ctx}: {len(acked)} acknowledged, {len(cut_off)} cut off "
          f"({sum(1 for i in replayed if i in stored)} had been stored), outcomes {dict(outcomes)}, "
          f"{len(book)} payouts")


def test_sigkill_with_pending_approvals(server_factory):
    """Pending approvals, approvals and cancels survive a crash; sessions
    approved just before it settle after the restart."""
    s1 = server_factory(step_ms=STEP_MS)
    t = s1.new_tenant()
    w = t.setup("50000.00")
    t.set_threshold("100.00")
    k = t.make_key(["ramps.approve", "ramps.read"])["api_key"]
    sessions = [t.create_session(w, "100.00") for _ in range(12)]
    decided = {}
    for i, s in enumerate(sessions):
        aid = s["approval_ref"].split("/", 1)[1]
        if i % 3 == 0:
            r = t.req("POST", f"/approvals/{aid}/approve", key=k)
            assert r.status == 200, describe(r)
            decided[s["id"]] = "settled"
        elif i % 3 == 1:
            r = t.req("POST", f"/approvals/{aid}/reject", key=k)
            assert r.status == 200, describe(r)
            decided[s["id"]] = "cancelled"
        else:
            decided[s["id"]] = "pending_approval"
    s1.kill()
    s2 = server_factory(db=s1.db, step_ms=STEP_MS)
    t.server = s2

    def settled():
        cur = {s["id"]: s["status"] for s in t.list_sessions()}
        return all(cur[i] == want for i, want in decided.items()), cur
    poll_until(settled, 30, "approved sessions to settle after the restart", 0.1)
    n_settled = sum(1 for v in decided.values() if v == "settled")
    n_pending = sum(1 for v in decided.values() if v == "pending_approval")
    total = Decimal("50000.00") - Decimal("101.00") * n_settled
    held = Decimal("101.00") * n_pending
    assert w.balances()["USDC"] == {"available": fmt_money(total - held), "held": fmt_money(held),
                                    "total": fmt_money(total)}
    pend = t.paged("/approvals", {"status": "pending"})
    assert len(pend) == n_pending, pend
    s2.verify_ledger()


def test_sigterm_with_sessions_in_flight(server_factory):
    """A graceful stop while workers move many sessions: exit 0 (no leak,
    in time); the next server finishes every one as its cents say."""
    s1 = server_factory(step_ms=STEP_MS)
    t = s1.new_tenant()
    w = t.setup("1000.00")
    ids = {t.create_session(w, a)["id"]: a for a in AMOUNTS * 3}
    time.sleep(2 * STEP_MS / 1000)   # let the workers be busy with them
    s1.stop_checked()
    s2 = server_factory(db=s1.db, step_ms=STEP_MS)
    t.server = s2

    def done():
        cur = {s["id"]: s for s in t.list_sessions(page_size=100)}
        return all(cur[i]["status"] in TERMINAL for i in ids), cur
    cur = poll_until(done, TERMINAL_TIMEOUT, "every session to be terminal after a SIGTERM restart", 0.2)
    spent = Decimal(0)
    for sid, a in ids.items():
        assert (cur[sid]["status"], cur[sid]["failure_reason"]) == expected_outcome(a), (a, cur[sid])
        if cur[sid]["status"] == "settled":
            spent += Decimal(a) + FEE
    left = fmt_money(Decimal("1000.00") - spent)
    assert w.balances()["USDC"] == {"available": left, "held": "0.00", "total": left}
    per = Counter(payout_session_id(p) for p in t.payouts())
    assert all(per.get(sid, 0) == 1 for sid in ids if cur[sid]["status"] == "settled"), per
    assert all(n == 1 for n in per.values()), per
    s2.verify_ledger()
