"""Losing PostgreSQL (CONTRACT §3 "a 5xx leaves no effect", §12 health checks;
docs/API.md "Health", "Errors"):

- while the database cannot be reached, every request that needs it answers
  503 `database_unavailable` with `Retry-After: 1` (never 500), `/readyz`
  answers 503 naming the database, `/livez` still 200;
- nothing of a refused request happened: balances and sessions are what the
  2xx answers say, and an idempotency key refused with 503 creates its
  session once, on the retry;
- when the database is back the service recovers by itself (no restart):
  `/readyz` 200, creates succeed, `verify-ledger` exits 0.

The outage is made per database, so other tests on the cluster go on:
`ALTER DATABASE ... ALLOW_CONNECTIONS false` (new connections are refused)
and `pg_terminate_backend` of every session on it (the open ones die).
"""

import threading
import time
import urllib.parse
import uuid
from decimal import Decimal

import pytest

from offramp_e2e import _psql, assert_error, describe, poll_until

pytestmark = pytest.mark.pg_only

RECOVER_TIMEOUT_S = 20.0


def _dbname(server):
    return urllib.parse.urlsplit(server.database_url).path.lstrip("/")


def cut(server):
    name = _dbname(server)
    _psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    _psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")


def restore(server):
    _psql(f'ALTER DATABASE "{_dbname(server)}" ALLOW_CONNECTIONS true')


def _ready(server):
    r = server.request("GET", "/readyz", timeout=10)
    return r.status == 200, describe(r)


def _create(t, w, amount, idem):
    return t.req("POST", "/off-ramp-sessions", w.body(amount), headers={"Idempotency-Key": idem})


def test_outage_answers_503_and_recovers(server_factory):
    s = server_factory()
    t = s.new_tenant("outage")
    w = t.setup("100.00")
    first = t.create_session(w, "10.00")
    hold_one = Decimal(w.balances()["USDC"]["held"])  # one session's principal and fees
    assert hold_one >= Decimal("10.00")
    assert s.request("GET", "/readyz").status == 200

    cut(s)
    try:
        # The auth cache may still know the key for a moment; either way
        # the write needs the database. Every try answers 503, fast.
        refused_key = f"outage-{uuid.uuid4()}"
        for i in range(3):
            t0 = time.monotonic()
            r = _create(t, w, "10.00", refused_key)
            assert_error(r, 503, "database_unavailable")
            assert r.headers.get("retry-after") == "1", r.headers
            assert time.monotonic() - t0 < 10, f"try {i} took {time.monotonic() - t0:.1f}s"
        time.sleep(1.2)  # past the auth cache (LIMIT_AUTH_CACHE_MS): the key read fails too
        assert_error(t.req("GET", f"/off-ramp-sessions/{first['id']}"), 503, "database_unavailable")
        assert_error(t.req("POST", "/clients", {"display_name": "x"}), 503, "database_unavailable")
        assert_error(_create(t, w, "10.00", refused_key), 503, "database_unavailable")

        r = s.request("GET", "/readyz")
        assert r.status == 503, describe(r)
        assert r.json == {"status": "unavailable", "checks": {"database": "down", "workers": "ok"}}, describe(r)
        assert r.headers.get("retry-after") == "1", r.headers
        assert s.request("HEAD", "/readyz").status == 503
        r = s.request("GET", "/livez")
        assert r.status == 200 and r.json == {"status": "ok"}, describe(r)
        assert s.request("GET", "/healthz").status == 200
        assert not s.requests_logged(status=500), "a request answered 500 during the outage"
    finally:
        restore(s)

    poll_until(lambda: _ready(s), RECOVER_TIMEOUT_S, "/readyz to answer 200 after the outage", interval=0.2)
    # The refused key was never kept: its retry creates the session now, once.
    r = _create(t, w, "10.00", refused_key)
    assert r.status == 201, describe(r)
    again = _create(t, w, "10.00", refused_key)
    assert again.status == 201 and again.headers.get("x-idempotency-cached") == "true", describe(again)
    assert again.json["id"] == r.json["id"]
    t.create_session(w, "10.00")
    ids = t.session_ids()
    assert sorted(ids) == sorted([first["id"], r.json["id"], ids[0]]) and len(set(ids)) == 3, ids
    # Three sessions held, nothing of the refused tries.
    bal = w.balances()["USDC"]
    assert Decimal(bal["held"]) == 3 * hold_one, (bal, hold_one)
    assert Decimal(bal["available"]) + Decimal(bal["held"]) == Decimal("100.00"), bal
    s.verify_ledger()
    assert "internal_error" not in s.stderr()


def test_terminated_mid_load_answers_201_or_503_and_nothing_half_done(server_factory):
    """Creates race a cut: each answers 201 or 503, never 500; after the
    cut is lifted every refused key is retried once; then there is exactly
    one session per key and the held money is theirs."""
    s = server_factory()
    t = s.new_tenant("outage-load")
    w = t.setup("50000.00")
    results = {}  # key -> list of statuses
    stop = threading.Event()
    lock = threading.Lock()

    def client(n):
        i = 0
        while not stop.is_set() and i < 400:
            key = f"load-{n}-{i}"
            i += 1
            r = _create(t, w, "1.00", key)
            with lock:
                results[key] = [r.status, r.json.get("code") if isinstance(r.json, dict) else None]
            if r.status not in (201, 503):
                stop.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    time.sleep(0.5)
    cut(s)
    time.sleep(1.5)
    restore(s)
    time.sleep(0.5)
    stop.set()
    for th in threads:
        th.join(60)
    bad = {k: v for k, v in results.items() if v[0] not in (201, 503)}
    assert not bad, f"answers other than 201/503 during the cut: {bad}"
    refused = [k for k, v in results.items() if v[0] == 503]
    assert refused, "the cut refused nothing: it did not happen under load"
    assert all(v[1] in ("database_unavailable", "service_unavailable") for v in results.values() if v[0] == 503)
    poll_until(lambda: _ready(s), RECOVER_TIMEOUT_S, "/readyz to answer 200 after the cut", interval=0.2)
    for k in refused:
        r = _create(t, w, "1.00", k)
        assert r.status == 201, f"retry of {k}: {describe(r)}"
    ids = t.session_ids()
    assert len(ids) == len(set(ids)) == len(results), (len(ids), len(results))
    bal = w.balances()["USDC"]
    held_each = Decimal(bal["held"]) / len(ids)
    assert held_each >= Decimal("1.00") and held_each * len(ids) == Decimal(bal["held"]), bal
    assert Decimal(bal["available"]) + Decimal(bal["held"]) == Decimal("50000.00"), bal
    s.verify_ledger()
