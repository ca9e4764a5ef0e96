"""`offramp admin bulk-load` (docs/SCALE.md): loaded sessions are what real
settled sessions are, seen from outside: the ledger verifies, GET, the
event log, the sandbox book and every list page show them as they show a
session that went through the lifecycle, paging walks all of them once,
creates work on the loaded accounts and destinations, and another tenant
sees none of it."""

import json
import os
import pty
import re
import subprocess

from offramp_e2e import BIN, LIFECYCLE_STEP_MS, TERMINAL, World, child_env, describe, sepa_destination

N = 2000
K = 3


def _load(server, tenant, n=N, k=K):
    out = server.admin("bulk-load", "--tenant", tenant.ref, "--sessions", str(n), "--accounts", str(k))
    assert out["sessions"] == n, out
    assert len(out["accounts"]) == k, out
    return out


def _world(tenant, acct):
    client = {"id": acct["route_owner_ref"].split("/", 1)[1]}
    return World(tenant, client, acct["account_ref"], {"id": acct["withdrawal_destination_id"]},
                 sepa_destination())


def _ledger_ok(server):
    r = json.loads(server.verify_ledger().strip().splitlines()[-1])
    assert r["ok"], r
    return r


def _shape(v):
    """The shape of a JSON value: keys and types, not values."""
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_shape(x) for x in v]
    return type(v).__name__


def test_loaded_sessions_are_settled_sessions(server_factory):
    server = server_factory(step_ms=LIFECYCLE_STEP_MS)
    t, other = server.new_tenant(), server.new_tenant()
    out = _load(server, t)
    r = _ledger_ok(server)
    assert r["sessions"] >= N

    # A real session on a loaded account and destination, through the
    # lifecycle, for comparison (the destination matches the API's own).
    w = _world(t, out["accounts"][0])
    real = t.create_session(w)
    real, _ = t.watch(real["id"], until=TERMINAL)
    assert real["status"] == "settled", real

    items = t.paged("/off-ramp-sessions", page_size=100)
    assert len(items) == N + 1, len(items)
    assert items[0]["id"] == real["id"], "the new session is the newest"
    loaded = items[1:]
    ids = [s["id"] for s in loaded]
    assert len(set(ids)) == N, "no session twice"
    assert ids == sorted(ids, reverse=True), "newest first"
    assert all(s["status"] == "settled" for s in loaded)

    for s in (loaded[0], loaded[N // 2], loaded[-1]):
        got = t.session(s["id"])
        assert got == s, "GET shows what the list shows"
        assert _shape(got) == _shape(real), "a loaded session has a real one's shape"
        assert got["etag"] == real["etag"] and got["stage"] == real["stage"]
        assert got["fill_rate"] == real["fill_rate"] and got["settled_at"] is not None
        ev = t.events(s["id"])
        real_ev = t.events(real["id"])
        assert [e["type"] for e in ev] == [e["type"] for e in real_ev], (ev, real_ev)
        assert [e["session_sequence"] for e in ev] == [1, 2, 3, 4]
        assert ev[-1]["data"] == got, "the last event's snapshot is the session as GET shows it"
        assert [e["data"]["etag"] for e in ev] == [e["data"]["etag"] for e in real_ev]
        pay = t.payouts(s["id"])
        assert len(pay) == 1 and pay[0]["outcome"] == "paid" and pay[0]["calls"] == 1, pay
        assert _shape(pay) == _shape(t.payouts(real["id"]))

    # Filters: by account (disjoint, all of them), by status, both.
    seen = set()
    for a in out["accounts"]:
        mine = t.paged("/off-ramp-sessions", {"account_ref": a["account_ref"]}, page_size=100)
        mine_ids = {s["id"] for s in mine} - {real["id"]}
        assert len(mine_ids) in (N // K, N // K + 1), len(mine_ids)
        assert not mine_ids & seen
        seen |= mine_ids
        both = t.paged("/off-ramp-sessions", {"account_ref": a["account_ref"], "status": "settled"},
                       page_size=100)
        assert [s["id"] for s in both] == [s["id"] for s in mine]
        none = t.paged("/off-ramp-sessions", {"account_ref": a["account_ref"], "status": "failed"})
        assert none == []
    assert seen == set(ids), "the account pages cover every loaded session"
    assert len(t.paged("/off-ramp-sessions", {"status": "settled"}, page_size=100)) == N + 1
    assert t.paged("/off-ramp-sessions", {"status": "executing"}) == []

    # Balances: each account was funded for its sessions and holds nothing.
    for a in out["accounts"]:
        b = t.balances(a["account_ref"])["USDC"]
        assert b["held"] in ("0", "0.00"), b

    # Another tenant sees none of it.
    for s in (loaded[0], loaded[-1]):
        r = other.req("GET", f"/off-ramp-sessions/{s['id']}")
        assert r.status == 404, describe(r)
    assert other.paged("/off-ramp-sessions") == []
    r = other.req("GET", "/off-ramp-sessions?" + f"account_ref={out['accounts'][0]['account_ref']}")
    assert r.status in (200, 404), describe(r)
    assert r.status == 404 or r.json["items"] == []
    acct_id = out["accounts"][0]["account_ref"].split("/", 1)[1]
    assert other.req("GET", f"/client-accounts/{acct_id}").status == 404
    assert other.events() == []
    _ledger_ok(server)


def test_a_second_load_appends(server):
    t = server.new_tenant()
    _load(server, t, n=300, k=2)
    _load(server, t, n=200, k=1)
    ids = [s["id"] for s in t.paged("/off-ramp-sessions", page_size=100)]
    assert len(ids) == 500 and len(set(ids)) == 500
    _ledger_ok(server)


def _verify_on_a_terminal(server):
    """verify-ledger with its stderr on a pseudo-terminal: (stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([BIN, "admin", "verify-ledger", *server.db_args()], stdout=subprocess.PIPE,
                           stderr=slave, env=child_env(), timeout=60, cwd=str(server.dir))
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0, p
    return p.stdout.decode(), shown.decode("utf-8", "replace")


def test_verify_ledger_shows_progress_on_a_terminal_only(server):
    """A long admin operation tells a person at a terminal where it is; a
    script reading its output gets the JSON answer alone."""
    t = server.new_tenant()
    _load(server, t, n=1500, k=2)
    out, shown = _verify_on_a_terminal(server)
    assert json.loads(out.strip().splitlines()[-1])["ok"], out
    phases = {m.group(1): int(m.group(2))
              for m in re.finditer(r"verify-ledger: (\w+): (\d+) rows, \d+\.\d s", shown)}
    assert set(phases) == {"accounts", "balances", "transfers", "sessions"}, shown
    assert phases["sessions"] >= 1500, phases
    assert phases["transfers"] >= 2 * 1500, phases  # a hold and its post per settled session
    assert shown.endswith("\n"), repr(shown[-40:])  # the progress line is closed
    piped = server.admin_raw("verify-ledger")
    assert piped.returncode == 0
    assert b"rows" not in piped.stderr, piped.stderr


def test_bulk_load_refusals(server):
    t = server.new_tenant()
    bad = [
        ("--tenant", t.ref, "--sessions", "0"),
        ("--tenant", t.ref, "--sessions", "10", "--accounts", "0"),
        ("--tenant", "enterprises/00000000-0000-7000-8000-000000000000", "--sessions", "10"),
        ("--sessions", "10"),
    ]
    for args in bad:
        p = server.admin_raw("bulk-load", *args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stdout.strip() == b""
    # A tenant with an approval policy would have had its sessions wait.
    t.set_threshold("100.00")
    p = server.admin_raw("bulk-load", "--tenant", t.ref, "--sessions", "10")
    assert p.returncode == 2 and b"approval policy" in p.stderr, p.stderr
    assert t.paged("/off-ramp-sessions") == []
    _ledger_ok(server)


def test_query_plans_stay_on_indexes(server):
    r = server.admin("query-plans")
    assert r["full_scans"] == 0, r
    names = {s["statement"] for s in r["statements"]}
    assert {"session_get", "session_claim", "session_list status+account before"} <= names
