"""Abuse limits (CONTRACT §12; docs/OPERATIONS.md "Abuse limits"):

- one API key flooding POST /off-ramp-sessions past --rate-limit/--rate-burst
  gets 429 rate_limited with an integer Retry-After; a throttled POST creates
  nothing (the tenant's sessions and balances are those of the 201s alone)
  and its Idempotency-Key stays unused, so the same request retried later is
  created, once;
- another tenant's key is not throttled meanwhile;
- --rate-limit 0 turns the limit off; OFFRAMP_RATE_LIMIT/OFFRAMP_RATE_BURST
  set it; bad values exit 2;
- 1,100 trickling connections from one address (the defaults: at most 512
  per address) do not stop /livez answering another address within 1 s;
- a request target over 2048 bytes gets 414 uri_too_long, header fields over
  16 KiB 431 header_fields_too_large, both as JSON; past the connection's
  32 KiB libmicrohttpd answers the same statuses itself.

Figures (requests, 429s, worst /livez latency) are printed: run with -s.
"""

import http.client
import json
import subprocess
import threading
import time
import uuid

import pytest

from offramp_e2e import BIN, TEST_DATABASE_URL, child_env, describe, http_request
from test_slow_clients import Attacker

RATE, BURST = 20, 20
FLOOD_S = 2.0
FLOOD_THREADS = 6
LIVEZ_BUDGET_S = 1.0   # CONTRACT §12
DEFAULT_PER_IP = 512   # CONTRACT §12: at least 512


def _post(conn, key, body, idem):
    conn.request("POST", "/off-ramp-sessions", body=json.dumps(body).encode(),
                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                          "Idempotency-Key": idem})
    r = conn.getresponse()
    raw = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, raw


def _flood(port, key, body, seconds):
    """FLOOD_THREADS clients, each on its own keep-alive connection, POSTing
    with a fresh Idempotency-Key each time. Returns the answers as
    (status, headers, body, idempotency key)."""
    out, lock = [], threading.Lock()
    end = time.monotonic() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        try:
            while time.monotonic() < end:
                idem = f"flood-{uuid.uuid4()}"
                st, h, raw = _post(conn, key, body, idem)
                mine.append((st, h, raw, idem))
        finally:
            conn.close()
            with lock:
                out.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(FLOOD_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_flood_from_one_key_is_throttled_and_has_no_effect(server_factory):
    s = server_factory(extra_args=["--rate-limit", str(RATE), "--rate-burst", str(BURST)])
    a, b = s.new_tenant("flooder"), s.new_tenant("quiet")
    wa = a.setup("100000.00")
    b.setup("10.00")
    time.sleep(BURST / RATE + 0.2)  # the setups' tokens back
    before = wa.balances()
    assert a.session_ids() == []

    # The other tenant reads all along, at a pace within its own limit.
    quiet, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            t0 = time.monotonic()
            r = http_request(s.port, "GET", "/off-ramp-sessions?page_size=1", key=b.key)
            quiet.append((r.status, time.monotonic() - t0))
            stop.wait(0.1)

    rt = threading.Thread(target=reader)
    rt.start()
    t0 = time.monotonic()
    try:
        answers = _flood(s.port, a.key, wa.body("1.00"), FLOOD_S)
    finally:
        elapsed = time.monotonic() - t0
        stop.set()
        rt.join()

    created = [x for x in answers if x[0] == 201]
    throttled = [x for x in answers if x[0] == 429]
    other = [(x[0], x[2][:200]) for x in answers if x[0] not in (201, 429)]
    print(f"\nflood: {len(answers)} POSTs from one key in {elapsed:.1f} s: {len(created)} created, "
          f"{len(throttled)} answered 429 (--rate-limit {RATE} --rate-burst {BURST}); the other "
          f"tenant's {len(quiet)} GETs: {sum(1 for q in quiet if q[0] == 200)} answered 200, "
          f"slowest {max(q[1] for q in quiet) * 1000:.0f} ms")
    assert not other, f"answers other than 201 and 429: {other[:5]}"
    assert len(throttled) >= len(answers) // 2, "the flood was hardly throttled: it tested nothing"
    # At most the burst plus the rate over the flood (and a second's slack for the clock).
    assert BURST - 2 <= len(created) <= BURST + RATE * (elapsed + 1), len(created)
    for st, h, raw, _ in throttled[:50]:
        assert h.get("retry-after", "").isdigit() and int(h["retry-after"]) >= 1, h
        body = json.loads(raw)
        assert body["code"] == "rate_limited" and body["request_id"], body
    assert quiet and all(q[0] == 200 for q in quiet), \
        f"the other tenant was refused: {[q for q in quiet if q[0] != 200][:5]}"

    # Nothing but the 201s happened.
    time.sleep(BURST / RATE + 0.2)
    ids = set(a.session_ids())
    assert ids == {json.loads(x[2])["id"] for x in created}, \
        f"{len(ids)} sessions stored for {len(created)} answered 201"
    held_per = (int(before["USDC"]["available"].replace(".", "")) -
                int(wa.balances()["USDC"]["available"].replace(".", "")))
    assert held_per % len(created) == 0, "the balance moved by something else than the creates"

    # A throttled request's Idempotency-Key was never used: the same request
    # now creates its session (not a replay), and then replays it.
    idem = throttled[0][3]
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        st, h, raw = _post(conn, a.key, wa.body("1.00"), idem)
        assert st == 201 and "x-idempotency-cached" not in h, (st, h, raw[:300])
        sid = json.loads(raw)["id"]
        assert sid not in ids
        st2, h2, raw2 = _post(conn, a.key, wa.body("1.00"), idem)
        assert st2 == 201 and h2.get("x-idempotency-cached") == "true" and raw2 == raw, (st2, h2)
    finally:
        conn.close()
    assert set(a.session_ids()) == ids | {sid}


def test_limit_off_and_from_the_environment(server_factory):
    s = server_factory(extra_args=["--rate-limit", "0"])
    t = s.new_tenant("unlimited")
    statuses = set()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        for _ in range(300):
            conn.request("GET", "/off-ramp-sessions?page_size=1", headers={"Authorization": f"Bearer {t.key}"})
            r = conn.getresponse()
            r.read()
            statuses.add(r.status)
    finally:
        conn.close()
    assert statuses == {200}, statuses

    s2 = server_factory(env={"OFFRAMP_RATE_LIMIT": "1", "OFFRAMP_RATE_BURST": "3"})
    t2 = s2.new_tenant("env-limited")  # admin commands are not rate limited
    got = [http_request(s2.port, "GET", "/off-ramp-sessions", key=t2.key) for _ in range(5)]
    assert [r.status for r in got] == [200, 200, 200, 429, 429], [describe(r) for r in got]
    assert got[3].headers["retry-after"] == "1"


@pytest.mark.parametrize("args,env", [
    (["--rate-limit", "-1"], {}),
    (["--rate-limit", "fast"], {}),
    (["--rate-burst", "1.5"], {}),
    (["--rate-limit", "100000001"], {}),
    ([], {"OFFRAMP_RATE_LIMIT": "x"}),
    ([], {"OFFRAMP_RATE_BURST": "-3"}),
])
def test_bad_values_exit_2(tmp_path, args, env):
    p = subprocess.run([BIN, "serve", "--db", str(tmp_path / "x.db"), "--listen", "127.0.0.1:1", *args],
                       capture_output=True, env=child_env(env), timeout=10, cwd=str(tmp_path))
    assert p.returncode == 2, (p.returncode, p.stderr[-500:])
    assert p.stderr.strip(), "no message"


def test_trickling_connections_do_not_stop_livez(server_factory):
    """1,100 connections from 127.0.0.2 trickling header bytes, the default
    per-address cap; /livez from 127.0.0.1 every 50 ms meanwhile."""
    s = server_factory()
    worst, answered, missed = 0.0, 0, 0
    with Attacker(s.port, 1100, interval=1.0) as a:
        a.wait_live()  # every connection attempted
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                r = http_request(s.port, "GET", "/livez", timeout=2 * LIVEZ_BUDGET_S)
                assert r.status == 200, describe(r)
                answered += 1
                worst = max(worst, time.monotonic() - t0)
            except OSError:
                missed += 1
            time.sleep(0.05)
        held = a.wait_live()
    print(f"\ntrickle: 1100 connections opened from 127.0.0.2, {held} held by the server; "
          f"/livez from 127.0.0.1: {answered} answered, {missed} unanswered, worst {worst * 1000:.0f} ms")
    assert missed == 0 and answered >= 20, (answered, missed)
    assert worst < LIVEZ_BUDGET_S, f"/livez took {worst:.2f} s"
    assert DEFAULT_PER_IP * 9 // 10 <= held <= DEFAULT_PER_IP, held
    assert s.alive()


def _raw(port, data):
    s = __import__("socket").create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        s.close()


def test_long_target_414_and_large_headers_431(server_factory):
    s = server_factory()
    t = s.new_tenant("big")
    auth = f"Authorization: Bearer {t.key}\r\n".encode()
    for target, status, code in [
        (b"/off-ramp-sessions?page_size=1&x=" + b"a" * 2100, 414, "uri_too_long"),
        (b"/off-ramp-sessions/" + b"a" * 2100, 414, "uri_too_long"),
    ]:
        st, h, raw = _raw(s.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
        assert st == status and h["content-type"].startswith("application/json"), (st, h, raw[:200])
        assert json.loads(raw)["code"] == code and h.get("x-request-id"), raw
    # Just under the cap is served.
    st, _, raw = _raw(s.port, b"GET /off-ramp-sessions?page_size=1&x=" + b"a" * 1900 +
                      b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
    assert st == 400 and json.loads(raw)["code"] == "invalid_query_parameter", (st, raw[:200])
    st, h, raw = _raw(s.port, b"GET /off-ramp-sessions HTTP/1.1\r\nHost: x\r\n" + auth +
                      b"".join(b"X-F%d: %s\r\n" % (i, b"b" * 200) for i in range(90)) + b"\r\n")
    assert st == 431 and json.loads(raw)["code"] == "header_fields_too_large", (st, raw[:200])
    st, _, _ = _raw(s.port, b"GET /off-ramp-sessions?page_size=1 HTTP/1.1\r\nHost: x\r\n" + auth +
                    b"X-F: " + b"c" * 12000 + b"\r\n\r\n")
    assert st == 200
    # Past the connection's memory, libmicrohttpd's own answers: same statuses.
    st, _, _ = _raw(s.port, b"GET /livez?" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 414
    st, _, _ = _raw(s.port, b"GET /livez HTTP/1.1\r\nHost: x\r\nX-F: " + b"a" * 40000 + b"\r\n\r\n")
    assert st == 431
    assert s.alive()
