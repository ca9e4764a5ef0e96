"""Issue 9 item 2: a write waiting for its commit holds no HTTP thread
(CONTRACT §11). The server runs with one HTTP thread; hundreds of creates are
sent at once while an outside connection holds SQLite's write lock, so none
of them can commit. With a thread per waiting request, that one thread would
be stuck in the first create and /healthz could not answer; instead every
create waits parked, /healthz answers at once, and when the lock goes they
all commit, sharing commits. Figures here are counts, not times (the one
bound on /healthz is generous: the lock is held for seconds)."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from offramp_e2e import REPO, DbWriteLock, db_scalar, http_request

LOADGEN = os.environ.get("OFFRAMP_LOADGEN", str(REPO / "build" / "bench" / "loadgen"))
WAITING = 400  # concurrent creates, all waiting at once on one HTTP thread


def loadgen(server, tenant, bodies, n, conns, prefix):
    if not os.path.exists(LOADGEN):
        if "OFFRAMP_LOADGEN" in os.environ:
            pytest.fail(f"{LOADGEN} does not exist")
        pytest.skip("build/bench/loadgen not built (make build/bench/loadgen)")
    # n requests offered within 0.1 s: all in flight together.
    cmd = [LOADGEN, "--url", f"http://127.0.0.1:{server.port}", "--drain", "60",
           "--header", f"Authorization: Bearer {tenant.key}", "--method", "POST",
           "--path", "/off-ramp-sessions", "--bodies", str(bodies), "--expect", "201",
           "--rate", str(n * 10), "--duration", "0.1", "--connections", str(conns),
           "--idempotency", prefix, "--header", "Content-Type: application/json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def counts(p):
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return {k: float(v) for k, v in (f.split("=", 1) for f in out.split()) if k != "label"}


def stored(srv):
    return db_scalar(srv, "SELECT count(*) FROM sessions")


def writes_per_commit(stderr):
    m = re.findall(r"(\d+) writes in (\d+) commits", stderr)
    assert m, "the committer reports its writes and commits at stop"
    return int(m[-1][0]), int(m[-1][1])


def test_waiting_writes_hold_no_thread(server_factory, tmp_path):
    srv = server_factory(extra_args=["--http-threads", "1", "--max-connections-per-ip", "1024"])
    tenant = srv.new_tenant()
    w = tenant.setup(deposit="100000.00")
    bodies = tmp_path / "bodies"
    bodies.write_text(json.dumps(w.body("1.00")) + "\n")
    before = stored(srv)

    lock = DbWriteLock(srv)  # the committer cannot commit a create until this goes
    gen = loadgen(srv, tenant, bodies, WAITING, WAITING, "parked")
    try:
        time.sleep(1.0)  # every create is in, waiting for the committer
        probes = []
        for _ in range(5):
            t0 = time.monotonic()
            r = http_request(srv.port, "GET", "/healthz", timeout=5)
            probes.append((r.status, time.monotonic() - t0))
        # Nothing committed while the lock is held.
        assert lock.sessions() == before
    finally:
        lock.release()
    assert all(st == 200 for st, _ in probes), probes
    assert max(t for _, t in probes) < 2.0, probes
    made = counts(gen)
    assert made["sent"] == WAITING and made["ok"] == WAITING and made["errors"] == 0
    assert stored(srv) == before + WAITING
    srv.verify_ledger()


def test_one_thread_shares_commits(server_factory, tmp_path):
    """With one HTTP thread and a thread per waiting write, every create
    would commit alone: one write per commit. Parked, they share."""
    srv = server_factory(extra_args=["--http-threads", "1"])
    tenant = srv.new_tenant()
    w = tenant.setup(deposit="100000.00")
    bodies = tmp_path / "bodies"
    bodies.write_text(json.dumps(w.body("1.00")) + "\n")
    made = counts(loadgen(srv, tenant, bodies, 300, 100, "shared"))
    assert made["ok"] == 300 and made["errors"] == 0
    rc, stderr = srv.stop()
    assert rc == 0, stderr
    writes, commits = writes_per_commit(stderr)
    assert writes >= 300
    # The setup's few writes commit alone; the 300 creates share commits.
    assert commits * 3 <= writes, (writes, commits)


def test_stop_waits_for_parked_writes(server_factory, tmp_path):
    """SIGTERM while writes are parked: the drain waits for their commits,
    each gets its 201, and the server exits cleanly (libmicrohttpd must find
    no connection suspended when it stops)."""
    srv = server_factory(extra_args=["--http-threads", "1"])
    tenant = srv.new_tenant()
    w = tenant.setup(deposit="100000.00")
    bodies = tmp_path / "bodies"
    bodies.write_text(json.dumps(w.body("1.00")) + "\n")
    before = stored(srv)
    lock = DbWriteLock(srv)
    gen = loadgen(srv, tenant, bodies, 100, 100, "stopping")
    try:
        time.sleep(1.0)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.proc.poll() is None, "the drain waits for the parked writes"
    finally:
        lock.release()
    made = counts(gen)
    rc, stderr = srv.stop()
    assert rc == 0, stderr
    assert made["ok"] == 100 and made["errors"] == 0, made
    assert stored(srv) == before + 100
    assert "still waiting for a commit" not in stderr
