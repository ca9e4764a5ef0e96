"""bench/loadgen.c, the open-loop load generator `make bench` uses: against a
real server for about a second each way, its counts add up and agree with what
the server stored, and wrong answers are counted as errors. Figures only: no
latency or rate is asserted (the machine is shared; see README "Benchmarks")."""

import json
import os
import subprocess

import pytest

from offramp_e2e import REPO

LOADGEN = os.environ.get("OFFRAMP_LOADGEN", str(REPO / "build" / "bench" / "loadgen"))


def run(server, tenant, *args):
    if not os.path.exists(LOADGEN):
        if "OFFRAMP_LOADGEN" in os.environ:
            pytest.fail(f"{LOADGEN} does not exist")
        pytest.skip("build/bench/loadgen not built (make build/bench/loadgen)")
    cmd = [LOADGEN, "--url", f"http://127.0.0.1:{server.port}", "--drain", "20",
           "--header", f"Authorization: Bearer {tenant.key}", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = dict(f.split("=", 1) for f in p.stdout.split())
    nums = {k: float(v) for k, v in out.items() if k != "label"}
    assert nums["sent"] == nums["ok"] + nums["err_status"] + nums["err_transport"]
    assert nums["errors"] == nums["err_status"] + nums["err_transport"] + nums["unfinished"]
    if nums["ok"]:
        assert 0 <= nums["p50_ms"] <= nums["p99_ms"] <= nums["p999_ms"] <= nums["max_ms"]
    return nums, p.stderr


def test_loadgen_creates_and_gets(server, tenant, tmp_path):
    w = tenant.setup(deposit="100000.00")
    other = tenant.setup(deposit="100000.00", client_name="Second")
    bodies = tmp_path / "bodies"
    bodies.write_text(json.dumps(w.body("2.00")) + "\n" + json.dumps(other.body("3.00")) + "\n")
    made, _ = run(server, tenant, "--method", "POST", "--path", "/off-ramp-sessions",
                  "--bodies", str(bodies), "--expect", "201", "--rate", "100", "--duration", "1",
                  "--connections", "8", "--idempotency", "smoke",
                  "--header", "Content-Type: application/json")
    assert made["sent"] == 100 and made["ok"] == 100 and made["errors"] == 0
    # Each request had its own key and the bodies alternated between the accounts.
    ids = tenant.session_ids()
    assert len(ids) == 100
    assert len(tenant.session_ids(account_ref=w.account_ref)) == 50

    paths = tmp_path / "paths"
    paths.write_text("".join(f"/off-ramp-sessions/{i}\n" for i in ids[:10]))
    got, _ = run(server, tenant, "--paths", str(paths), "--expect", "200", "--rate", "200",
                 "--duration", "1", "--connections", "4")
    assert got["sent"] == 200 and got["ok"] == 200 and got["errors"] == 0


def test_loadgen_counts_wrong_answers(server, tenant):
    bad, err = run(server, tenant, "--path", "/off-ramp-sessions/nope", "--expect", "200",
                   "--rate", "50", "--duration", "1", "--connections", "2")
    assert bad["sent"] == 50 and bad["ok"] == 0 and bad["err_status"] == 50
    assert "first unexpected status 404" in err
