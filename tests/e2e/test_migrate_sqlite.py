"""`offramp admin migrate-sqlite --db FILE --database-url URL` (CONTRACT §11,
docs/DEPLOY.md "Moving from SQLite"):

A SQLite deployment with two tenants, several keys, sessions in every kind of
state (settled, failed, cancelled, executing, pending approval), events,
payouts, stored idempotent answers and a webhook endpoint is stopped, copied
into an empty PostgreSQL database and served from there:

- the same keys work, with the same capabilities;
- every session's GET, each tenant's event log, session list, balances,
  payouts and webhook endpoints are what SQLite answered, byte for byte as JSON;
- a stored idempotent answer replays; new writes continue the sequences (a
  new session's events come after the copied ones); the endpoint's secret
  still signs deliveries;
- verify-ledger exits 0 on PostgreSQL;
- a second migrate into the now non-empty database refuses (non-zero, nothing
  changed); a missing file or flag is refused too.
"""

import json
import subprocess
import uuid

import pytest

from offramp_e2e import (BIN, DEFAULT_STEP_MS, LIFECYCLE_STEP_MS, Server, child_env, describe,
                         pg_database_for)
from test_webhooks import Receiver, verify_standard

pytestmark = pytest.mark.pg_only

WH_ARGS = ["--webhook-allow-loopback", "--webhook-retry-base-ms", "100"]


def sqlite_server(workdir, **kw):
    """A Server on a SQLite file although the suite runs on PostgreSQL."""
    s = Server(workdir, **kw)
    s.database_url = None
    return s


def migrate(sqlite_file, url):
    return subprocess.run([BIN, "admin", "migrate-sqlite", "--db", str(sqlite_file), "--database-url", url],
                          capture_output=True, env=child_env(), timeout=120)


def snapshot(t, sids, endpoint_ids, account_refs):
    """Everything a client can read back, as JSON values."""
    return {
        "sessions": {sid: t.session(sid) for sid in sids},
        "list": t.list_sessions(),
        "events": t.events(),
        "payouts": t.payouts(),
        "balances": {a: t.balances(a) for a in account_refs},
        "endpoints": {e: t.get(f"/webhook-endpoints/{e}") for e in endpoint_ids},
        "endpoint_list": t.get("/webhook-endpoints"),
    }


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_migrate_a_sqlite_deployment(tmp_path, receiver):
    # -- a SQLite deployment, sessions moving on a short step -----------------
    sq = sqlite_server(tmp_path / "sqlite", step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
    sq.start()
    a, b = sq.new_tenant("migrate-a"), sq.new_tenant("migrate-b")
    reader = a.make_key(["ramps.read"])["api_key"]
    ep = a.req("POST", "/webhook-endpoints", {"url": receiver.url("a"), "event_types": ["*"],
                                               "format": "standard"})
    assert ep.status == 201, describe(ep)
    ep = ep.json
    wa, wb = a.setup("5000.00"), b.setup("300.00")
    sids_a = [a.create_session(wa, v)["id"] for v in ("10.00", "10.05", "10.06")]
    sids_b = [b.create_session(wb, "20.00")["id"]]
    for t, sids in ((a, sids_a), (b, sids_b)):
        for sid in sids:
            t.watch(sid, timeout=60)
    receiver.wait("a", lambda rs: len(rs) >= 3, "deliveries before the migration")
    rc, err = sq.stop()
    assert rc == 0, err

    # -- the same file again, on an hour's step: these stay as they are -------
    sq = sqlite_server(tmp_path / "sqlite", db=sq.db, step_ms=DEFAULT_STEP_MS, extra_args=WH_ARGS)
    sq.start()
    for t in (a, b):
        t.server = sq
    sids_a.append(a.create_session(wa, "30.00")["id"])            # executing
    a.set_threshold("500.00")
    pending = a.create_session(wa, "600.00")
    assert pending["status"] == "pending_approval", pending
    sids_a.append(pending["id"])
    cancelled = a.create_session(wa, "601.00")["id"]
    r = a.req("POST", f"/off-ramp-sessions/{cancelled}/cancel")
    assert r.status == 200 and r.json["status"] == "cancelled", describe(r)
    sids_a.append(cancelled)
    idem = f"migrate-{uuid.uuid4()}"
    kept = a.req("POST", "/off-ramp-sessions", wa.body("40.00"), headers={"Idempotency-Key": idem})
    assert kept.status == 201, describe(kept)
    sids_a.append(kept.json["id"])
    statuses = {a.session(s)["status"] for s in sids_a}
    assert {"settled", "failed", "cancelled", "executing", "pending_approval"} <= statuses, statuses
    before_a = snapshot(a, sids_a, [ep["id"]], [wa.account_ref])
    before_b = snapshot(b, sids_b, [], [wb.account_ref])
    assert sq.stop()[0] == 0

    # -- into an empty PostgreSQL database ----------------------------------
    pg_key = tmp_path / "pg-target"
    url = pg_database_for(pg_key)
    p = migrate(sq.db, url)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, f"migrate-sqlite exited {p.returncode}\nstdout: {out}\nstderr: {err}"
    report = json.loads(out.strip().splitlines()[-1])
    assert report["ok"] is True and report["ledger"]["ok"] is True, report
    assert report["tables"]["sessions"] == len(sids_a) + len(sids_b), report
    assert report["tables"]["tenants"] == 2 and report["tables"]["api_keys"] == 3, report
    assert report["tables"]["events"] == len(before_a["events"]) + len(before_b["events"]), report
    assert report["rows"] == sum(report["tables"].values()), report

    # -- served from PostgreSQL ----------------------------------------------
    # The webhook secrets came sealed with the SQLite deployment's key file.
    pg = Server(tmp_path / "pg", db=pg_key, step_ms=DEFAULT_STEP_MS,
                extra_args=[*WH_ARGS, "--secret-key-file", str(sq.db) + ".secret-key"])
    assert pg.database_url == url
    pg.start()
    try:
        for t in (a, b):
            t.server = pg
        assert snapshot(a, sids_a, [ep["id"]], [wa.account_ref]) == before_a
        assert snapshot(b, sids_b, [], [wb.account_ref]) == before_b
        # Keys and their capabilities came along.
        r = pg.request("GET", f"/off-ramp-sessions/{sids_a[0]}", key=reader)
        assert r.status == 200 and r.json == before_a["sessions"][sids_a[0]], describe(r)
        r = pg.request("POST", "/off-ramp-sessions", wa.body("1.00"), key=reader)
        assert r.status == 403 and r.json["code"] == "missing_capability", describe(r)
        assert pg.request("GET", f"/off-ramp-sessions/{sids_a[0]}", key=b.key).status == 404
        # The stored answer replays, byte for byte.
        again = a.req("POST", "/off-ramp-sessions", wa.body("40.00"), headers={"Idempotency-Key": idem})
        assert again.status == 201 and again.headers.get("x-idempotency-cached") == "true", describe(again)
        assert again.raw == kept.raw
        # New writes continue after the copied rows.
        fresh = a.create_session(wa, "2.00")
        events = a.events()
        assert events[:len(before_a["events"])] == before_a["events"]
        new = events[len(before_a["events"]):]
        assert new and all(e["sequence"] > before_a["events"][-1]["sequence"] for e in new), new
        assert any(e["resource_ref"].endswith(fresh["id"]) for e in new), new
        # The endpoint's secret still signs.
        recs = receiver.wait("a", lambda rs: any(fresh["id"] in r.body.decode() for r in rs),
                             "a delivery of the new session's event from PostgreSQL")
        rec = [r for r in recs if fresh["id"] in r.body.decode()][0]
        assert verify_standard(ep["secret"], rec.headers, rec.body), rec
        pg.verify_ledger()
    finally:
        pg.stop_checked()

    # -- a second migrate refuses: the database holds data ---------------------
    p = migrate(sq.db, url)
    assert p.returncode != 0, p.stdout
    assert b"not empty" in p.stderr, p.stderr
    pg2 = Server(tmp_path / "pg2", db=pg_key, step_ms=DEFAULT_STEP_MS,
                 extra_args=["--secret-key-file", str(sq.db) + ".secret-key"])
    pg2.start()
    try:
        a.server = pg2
        assert len(a.list_sessions()) == len(sids_a) + 1
        pg2.verify_ledger()
    finally:
        pg2.stop_checked()


def test_migrate_refuses_bad_usage(tmp_path):
    url = pg_database_for(tmp_path / "pg-empty")
    p = migrate(tmp_path / "no-such.db", url)
    assert p.returncode == 1 and b"no-such.db" in p.stderr, p.stderr
    assert not (tmp_path / "no-such.db").exists(), "a missing file was created"
    p = subprocess.run([BIN, "admin", "migrate-sqlite", "--database-url", url], capture_output=True,
                       env=child_env(), timeout=60)
    assert p.returncode == 2 and b"--db FILE" in p.stderr, p.stderr
    sq = sqlite_server(tmp_path / "sq")
    sq.start()
    sq.stop_checked()
    p = subprocess.run([BIN, "admin", "migrate-sqlite", "--db", str(sq.db)], capture_output=True,
                       env=child_env(), timeout=60)
    assert p.returncode == 2 and b"--database-url" in p.stderr, p.stderr
    # An empty deployment copies (nothing) and verifies.
    p = migrate(sq.db, url)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"] == 0
