"""The binary's commands (contract section 2): admin output shapes,
verify-ledger, graceful stop (SIGTERM/SIGINT exit 0), restart and crash
recovery on the same database and address, keys stored hashed."""

import concurrent.futures
import http.client
import json
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from decimal import Decimal

from offramp_e2e import BIN, UUID_RE, child_env, db_bytes, describe, fmt_money, free_port, http_request

TENANT_RE = re.compile(r"^enterprises/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _one_json_line(p):
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, f"exit {p.returncode}\nstdout: {out}\nstderr: {p.stderr.decode('utf-8', 'replace')}"
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one JSON line, got {out!r}"
    return json.loads(lines[0])


def test_create_tenant_output_shape(server):
    a = _one_json_line(server.admin_raw("create-tenant", "--name", "Shape Co"))
    assert set(a) >= {"tenant_ref", "principal", "api_key"}, a
    assert TENANT_RE.match(a["tenant_ref"]), a["tenant_ref"]
    assert UUID_RE.match(a["principal"]["id"]), a["principal"]
    assert a["principal"]["kind"] == "user"
    assert isinstance(a["api_key"], str) and len(a["api_key"]) >= 20, "api key looks too short to be a secret"
    b = _one_json_line(server.admin_raw("create-tenant", "--name", "Shape Co"))
    assert b["tenant_ref"] != a["tenant_ref"] and b["api_key"] != a["api_key"]
    assert b["principal"]["id"] != a["principal"]["id"]
    # the key works at once against the running server and holds every capability
    r = server.request("POST", "/clients", {"display_name": "x"}, key=a["api_key"])
    assert r.status == 201, describe(r)
    r = server.request("POST", "/sandbox/deposits", {"account_ref": r.json["default_account_ref"],
                                                     "amount": {"currency": "USDC", "value": "1.00"}},
                       key=a["api_key"])
    assert r.status == 201, describe(r)
    r = server.request("GET", "/off-ramp-sessions", key=a["api_key"])
    assert r.status == 200, describe(r)


def test_create_api_key_output_shape(server, tenant):
    k = _one_json_line(server.admin_raw("create-api-key", "--tenant", tenant.ref,
                                        "--capabilities", "ramps.read,accounts.read"))
    assert set(k) >= {"principal", "api_key", "capabilities"}, k
    assert UUID_RE.match(k["principal"]["id"])
    assert k["principal"]["kind"] == "user"
    assert k["principal"]["id"] != tenant.principal["id"], "a new key is a new principal"
    assert sorted(k["capabilities"]) == ["accounts.read", "ramps.read"]
    assert k["api_key"] != tenant.key
    s = _one_json_line(server.admin_raw("create-api-key", "--tenant", tenant.ref,
                                        "--capabilities", "ramps.create", "--kind", "service"))
    assert s["principal"]["kind"] == "service"
    assert s["capabilities"] == ["ramps.create"]
    r = server.request("GET", "/off-ramp-sessions", key=k["api_key"])
    assert r.status == 200, describe(r)


def test_create_api_key_refuses_bad_input(server, tenant):
    for args in (["--tenant", tenant.ref, "--capabilities", "ramps.read,root.everything"],
                 ["--tenant", f"enterprises/{uuid.uuid4()}", "--capabilities", "ramps.read"],
                 ["--tenant", "not-a-ref", "--capabilities", "ramps.read"],
                 ["--tenant", tenant.ref, "--capabilities", "ramps.read", "--kind", "robot"]):
        p = server.admin_raw("create-api-key", *args)
        assert p.returncode != 0, f"create-api-key {args} should fail; printed {p.stdout!r}"
        assert b"api_key" not in p.stdout, f"create-api-key {args} printed a key: {p.stdout!r}"


def test_keys_are_not_stored_in_clear(server):
    t = server.new_tenant()
    k = t.make_key(["ramps.read"])["api_key"]
    blob = db_bytes(server)
    assert blob, "database file not found"
    for secret in (t.key, k):
        assert secret.encode() not in blob, "an api key is stored in clear in the database"


def test_verify_ledger_on_fresh_database(server_factory):
    s = server_factory()
    out = s.verify_ledger()
    assert out.strip(), "verify-ledger printed nothing"
    try:
        json.loads(out)
    except ValueError:
        json.loads(out.strip().splitlines()[-1])


def test_sigterm_exits_zero(server_factory):
    s = server_factory()
    t = s.new_tenant()
    w = t.setup("100.00")
    t.create_session(w, "1.00")
    s.stop_checked(signal.SIGTERM)


def test_sigint_exits_zero(server_factory):
    s = server_factory()
    assert s.request("GET", "/healthz").status == 200
    s.stop_checked(signal.SIGINT)


def test_restart_keeps_everything(server_factory):
    s1 = server_factory()
    t = s1.new_tenant()
    w = t.setup("1000.00")
    sess = t.create_session(w)
    s1.stop_checked()
    s2 = server_factory(db=s1.db)
    t.server = s2
    g = t.req("GET", f"/off-ramp-sessions/{sess['id']}")
    assert g.status == 200, describe(g)
    assert g.json["principal_amount"] == sess["principal_amount"]
    assert g.json["status"] == "executing"
    assert w.balances()["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}
    assert t.session_ids() == [sess["id"]]
    t.create_session(w, "10.00")
    s2.verify_ledger()


def test_crash_then_restart_on_same_address(server_factory):
    s1 = server_factory()
    t = s1.new_tenant()
    w = t.setup("1000.00")
    sess = t.create_session(w)  # a 2xx is durable
    port = s1.port
    s1.kill()
    t0 = time.monotonic()
    s2 = server_factory(db=s1.db, port=port)
    assert time.monotonic() - t0 < 10
    t.server = s2
    g = t.req("GET", f"/off-ramp-sessions/{sess['id']}")
    assert g.status == 200, describe(g)
    assert w.balances()["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}
    s2.verify_ledger()


def test_sigterm_with_requests_in_flight(server_factory):
    """Stop under load: exit 0; every session that was answered 201 is there
    after a restart, and the holds match the sessions stored."""
    s1 = server_factory()
    t = s1.new_tenant()
    w = t.setup("10000.00")
    body = w.body("1.00")
    stop = threading.Event()
    created = []
    lock = threading.Lock()

    def hammer():
        while not stop.is_set():
            try:
                r = http_request(s1.port, "POST", "/off-ramp-sessions", body=body, key=t.key, timeout=15)
            except OSError:
                continue
            if r.status == 201:
                with lock:
                    created.append(r.json["id"])
            elif r.status not in (503,):
                with lock:
                    created.append(f"unexpected {describe(r)}")

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(hammer) for _ in range(4)]
        time.sleep(1.0)
        rc, err = s1.stop(signal.SIGTERM)
        stop.set()
        for f in futs:
            f.result()
    assert rc == 0, f"exit status {rc} after SIGTERM under load\n{err}"
    unexpected = [c for c in created if c.startswith("unexpected")]
    assert not unexpected, unexpected
    assert created, "no session was created before the stop"

    s2 = server_factory(db=s1.db)
    t.server = s2
    stored = t.session_ids()
    missing = set(created) - set(stored)
    assert not missing, f"{len(missing)} sessions answered 201 are gone after the restart"
    held = sum(Decimal(x["principal_amount"]["value"]) + Decimal(x["fee_summary"]["total"]["value"])
               for x in t.list_sessions())
    assert w.balances()["USDC"] == {"available": fmt_money(Decimal(10000) - held), "held": fmt_money(held),
                                    "total": "10000.00"}
    s2.verify_ledger()


def _wait_healthz(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited with {proc.returncode}"
        try:
            if http_request(port, "GET", "/healthz", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("serve did not become ready")


def _stop(proc, errf):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    errf.seek(0)
    assert rc == 0, f"exit status {rc}\n{errf.read().decode('utf-8', 'replace')[-5000:]}"


def test_environment_variables_and_flags(tmp_path):
    """OFFRAMP_DB and OFFRAMP_LISTEN do what --db and --listen do; --rails
    sandbox and --sandbox-step-ms are accepted."""
    db = tmp_path / "env.db"
    port = free_port()
    env = child_env()
    env["OFFRAMP_DB"] = str(db)
    env["OFFRAMP_LISTEN"] = f"127.0.0.1:{port}"
    with open(tmp_path / "serve.err", "w+b") as errf:
        proc = subprocess.Popen([BIN, "serve", "--rails", "sandbox", "--sandbox-step-ms", "1000"], env=env,
                                stdout=subprocess.DEVNULL, stderr=errf, cwd=str(tmp_path))
        try:
            _wait_healthz(port, proc)
            p = subprocess.run([BIN, "admin", "create-tenant", "--name", "Env Co"], env=env, capture_output=True,
                               timeout=60, cwd=str(tmp_path))
            out = _one_json_line(p)
            r = http_request(port, "POST", "/clients", {"display_name": "Env"}, key=out["api_key"])
            assert r.status == 201, describe(r)
            p = subprocess.run([BIN, "admin", "verify-ledger"], env=env, capture_output=True, timeout=60,
                               cwd=str(tmp_path))
            assert p.returncode == 0, p
        finally:
            _stop(proc, errf)
    assert db.exists(), "OFFRAMP_DB was not used"


def test_default_database_is_offramp_db_in_cwd(tmp_path):
    env = child_env()
    p = subprocess.run([BIN, "admin", "create-tenant", "--name", "Default Co"], env=env, capture_output=True,
                       timeout=60, cwd=str(tmp_path))
    out = _one_json_line(p)
    assert (tmp_path / "offramp.db").exists(), "admin did not use ./offramp.db"
    port = free_port()
    with open(tmp_path / "serve.err", "w+b") as errf:
        proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                stdout=subprocess.DEVNULL, stderr=errf, cwd=str(tmp_path))
        try:
            _wait_healthz(port, proc)
            r = http_request(port, "GET", "/off-ramp-sessions", key=out["api_key"])
            assert r.status == 200, describe(r)
        finally:
            _stop(proc, errf)


def test_sigterm_lets_an_in_flight_request_finish(server_factory):
    """A request whose body is still arriving when SIGTERM comes is finished
    and answered; its effect is durable; then the server exits 0."""
    s = server_factory()
    t = s.new_tenant()
    w = t.setup("1000.00")
    data = json.dumps(w.body("7.00")).encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=15)
    try:
        sock.sendall((f"POST /off-ramp-sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.key}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
                     + data[:50])
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(data[50:])
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
        assert resp.status == 201, f"in-flight request got {resp.status} {body[:300]!r}"
        sid = json.loads(body)["id"]
    finally:
        sock.close()
    rc, err = s.stop()
    assert rc == 0, f"exit status {rc}\n{err}"
    s2 = server_factory(db=s.db)
    t.server = s2
    assert t.session_ids() == [sid]
    s2.verify_ledger()


def test_verify_ledger_under_load(server_factory):
    """verify-ledger run while sessions and deposits are being written sees a
    consistent ledger every time."""
    s = server_factory()
    tenants = [s.new_tenant() for _ in range(2)]
    worlds = [t.setup("100000.00") for t in tenants]
    stop = threading.Event()
    errors = []

    def writer(t, w, n):
        i = 0
        while not stop.is_set() and i < 400:
            i += 1
            if i % 3 == 0:
                r = t.req("POST", "/sandbox/deposits", {"account_ref": w.account_ref,
                                                        "amount": {"currency": "USDC", "value": "3.33"}})
            else:
                r = t.req("POST", "/off-ramp-sessions", w.body("1.11"))
            if r.status != 201:
                errors.append(describe(r))
                return

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(writer, tenants[i % 2], worlds[i % 2], i) for i in range(4)]
        try:
            for _ in range(5):
                p = s.admin_raw("verify-ledger")
                assert p.returncode == 0, f"verify-ledger under load: {p.stdout!r} {p.stderr!r}"
        finally:
            stop.set()
            for f in futs:
                f.result()
    assert not errors, errors[:5]
    for t, w in zip(tenants, worlds):
        held = sum(Decimal(x["principal_amount"]["value"]) + Decimal(x["fee_summary"]["total"]["value"])
                   for x in t.list_sessions())
        bal = w.balances()["USDC"]
        assert Decimal(bal["held"]) == held, (bal, held)
        assert Decimal(bal["available"]) + Decimal(bal["held"]) == Decimal(bal["total"])
    s.verify_ledger()


def test_node_id_is_checked_and_logged(server_factory, tmp_path):
    """--node-id names the node's leases: a '/' (the owner separator) or an
    over-long id is refused before serving; a good one is logged."""
    for bad in ("a/b", "x" * 41, "", "sp ace"):
        p = subprocess.run([BIN, "serve", "--db", str(tmp_path / "n.db"), "--listen",
                            f"127.0.0.1:{free_port()}", "--node-id", bad],
                           capture_output=True, env=child_env(), timeout=30)
        assert p.returncode == 2, (bad, p.returncode, p.stderr[-500:])
        assert b"--node-id" in p.stderr
    s = server_factory(extra_args=["--node-id", "eu-1.node_a:8080"])
    s.stop_checked()
    assert "node id eu-1.node_a:8080" in s.stderr()
