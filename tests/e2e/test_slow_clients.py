"""Connection caps and header/body deadlines (CONTRACT §12; docs/API.md
"Connections and deadlines"):

- one address holding more connections than its cap (1,100 trickling
  connections from 127.0.0.2, with the defaults) cannot stop /healthz
  answering another address (127.0.0.1) within a second;
- --max-connections-per-ip / OFFRAMP_MAX_CONNECTIONS_PER_IP and
  --max-connections are enforced;
- a client that trickles its headers, or its body, one byte every 200 ms is
  cut off once --header-timeout-ms has passed since the connection started
  (headers) or since its headers were complete (body); the bytes do not
  extend the deadline, and a cut-off body has no effect;
- each request on a keep-alive connection gets its own deadline;
- the server raises its open-file limit to what its caps need;
- bad values exit 2.

The attacker runs in its own process (slow_client.py).
"""

import http.client
import os
import json
import resource
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offramp_e2e import BIN, child_env, describe, http_request

HERE = Path(__file__).resolve().parent
DEFAULT_PER_IP = 512        # docs/API.md: the per-address default
DEFAULT_TOTAL = 4096        # docs/API.md: the total default
HEALTH_BUDGET_S = 1.0       # CONTRACT §12: health answers other clients within a second
SHORT_TIMEOUT_MS = 1500


class Attacker:
    """slow_client.py in a child process: COUNT trickling connections from
    SOURCE. live() is the number the server has not closed."""

    def __init__(self, port, count, interval=1.0, source="127.0.0.2"):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "slow_client.py"), str(port), str(count),
                                      str(interval), source],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.last = None

    def wait_live(self, timeout=30.0):
        """The next `live N` line (the first one comes once every connection
        was attempted)."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"the attacker said nothing within {timeout} s"
        line = self.proc.stdout.readline()
        assert line.startswith("live "), f"attacker: {line!r} (exit {self.proc.poll()})"
        self.last = int(line.split()[1])
        return self.last

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _probe(port, path="/healthz"):
    """Seconds /healthz took from 127.0.0.1, or None if no answer came within
    twice the budget."""
    t0 = time.monotonic()
    try:
        r = http_request(port, "GET", path, timeout=2 * HEALTH_BUDGET_S)
    except OSError:
        return None
    assert r.status == 200, describe(r)
    return time.monotonic() - t0


def _probe_for(port, seconds, every=0.1):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(_probe(port))
        time.sleep(every)
    return out


def _assert_answered(probes):
    slow = [p for p in probes if p is None or p >= HEALTH_BUDGET_S]
    assert not slow, (f"{len(slow)} of {len(probes)} /healthz probes from 127.0.0.1 took over "
                      f"{HEALTH_BUDGET_S} s (None: no answer): {slow[:10]}")


def test_one_address_cannot_starve_the_others(server_factory):
    """The defaults, 1,100 trickling connections from one address."""
    s = server_factory()
    with Attacker(s.port, 1100, interval=1.0) as a:
        a.wait_live()  # every connection attempted
        probes = _probe_for(s.port, 4.0)
        held = a.wait_live()
    _assert_answered(probes)
    assert held <= DEFAULT_PER_IP, f"one address holds {held} connections, over the cap {DEFAULT_PER_IP}"
    assert held >= DEFAULT_PER_IP * 9 // 10, f"the attack held only {held} connections: it tested nothing"
    assert s.alive()


def test_per_address_cap_from_env_and_flag(server_factory):
    s = server_factory(env={"OFFRAMP_MAX_CONNECTIONS_PER_IP": "8", "OFFRAMP_MAX_CONNECTIONS": "64"})
    with Attacker(s.port, 20, interval=0.5) as a:
        a.wait_live()
        probes = _probe_for(s.port, 1.0)
        held = a.wait_live()
    _assert_answered(probes)
    assert held == 8, f"OFFRAMP_MAX_CONNECTIONS_PER_IP=8 but one address holds {held}"

    s2 = server_factory(extra_args=["--max-connections-per-ip", "4"],
                        env={"OFFRAMP_MAX_CONNECTIONS_PER_IP": "8"})
    with Attacker(s2.port, 10, interval=0.5) as a:
        a.wait_live()
        held = a.wait_live()
    assert held == 4, f"--max-connections-per-ip 4 (the flag wins) but one address holds {held}"


def test_per_address_default_leaves_half_the_total(server_factory):
    s = server_factory(extra_args=["--max-connections", "12"])
    with Attacker(s.port, 12, interval=0.5) as a:
        a.wait_live()
        probes = _probe_for(s.port, 0.5)
        held = a.wait_live()
    _assert_answered(probes)
    assert held == 6, f"--max-connections 12 alone: one address holds {held}, not half"


def test_total_cap(server_factory):
    """Four addresses at their cap fill --max-connections 16: a fifth waits
    until one of them goes."""
    s = server_factory(extra_args=["--max-connections", "16", "--max-connections-per-ip", "4",
                                   "--http-threads", "2"])
    attackers = [Attacker(s.port, 4, interval=0.5, source=f"127.0.0.{i}") for i in (2, 3, 4, 5)]
    try:
        for a in attackers:
            a.wait_live()
        assert _probe(s.port) is None, "a 17th connection was answered with --max-connections 16"
    finally:
        for a in attackers:
            a.close()
    assert _probe(s.port) is not None, "no answer once the connections were closed"


def _trickle(sock, seconds, every=0.2, data=b"a"):
    """Send one byte every `every` s until the server closes the connection
    or `seconds` pass; returns the seconds until it closed (None: never)."""
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        readable, _, _ = select.select([sock], [], [], every)
        try:
            if readable:
                if sock.recv(4096) == b"":
                    return time.monotonic() - t0
                continue
            sock.send(data[i % len(data):i % len(data) + 1])
            i += 1
        except OSError:
            return time.monotonic() - t0
    return None


def test_trickled_headers_are_cut_off(server_factory):
    s = server_factory(extra_args=["--header-timeout-ms", str(SHORT_TIMEOUT_MS)])
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        cut = _trickle(sock, 10.0)  # counted from just after the connection started
    finally:
        sock.close()
    assert cut is not None, "a client trickling its headers was still connected after 10 s"
    assert SHORT_TIMEOUT_MS / 1000 - 0.2 <= cut <= SHORT_TIMEOUT_MS / 1000 + 4, f"cut off after {cut:.2f} s"
    assert s.alive()


def test_trickled_body_is_cut_off_and_has_no_effect(server_factory):
    """Headers take 1 s (within the deadline), then the body trickles: it is
    cut off a deadline after the headers were complete, not after the
    connection started."""
    s = server_factory(extra_args=["--header-timeout-ms", str(SHORT_TIMEOUT_MS)])
    t = s.new_tenant("slow-body")
    w = t.setup("10.00")
    body = json.dumps(w.body("1.00")).encode()
    head = (f"POST /off-ramp-sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n").encode()
    before = (w.balances(), t.session_ids())
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        sock.sendall(head)
        assert _trickle(sock, 1.0, data=b"X-Slow: abcd\r\n") is None, "cut off while sending headers in time"
        sock.sendall(b"X-End: 1\r\n\r\n")
        cut = _trickle(sock, 10.0, data=body)
    finally:
        sock.close()
    assert cut is not None, "a client trickling its body was still connected after 10 s"
    assert SHORT_TIMEOUT_MS / 1000 - 0.2 <= cut <= SHORT_TIMEOUT_MS / 1000 + 4, \
        f"cut off {cut:.2f} s after its headers were complete"
    assert (w.balances(), t.session_ids()) == before, "a cut-off body had an effect"
    assert s.alive()


def test_requests_in_time_are_served(server_factory):
    """A body sent in parts within the deadline is handled; a keep-alive
    connection used for longer than the deadline gets one per request."""
    s = server_factory(extra_args=["--header-timeout-ms", str(SHORT_TIMEOUT_MS)])
    t = s.new_tenant("in-time")
    w = t.setup("10.00")
    body = json.dumps(w.body("1.00")).encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        sock.sendall((f"POST /off-ramp-sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.key}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        for i in range(3):
            time.sleep(0.25)
            sock.sendall(body[i * len(body) // 3:(i + 1) * len(body) // 3])
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert resp.status == 201, f"{resp.status} {resp.read()[:300]!r}"
    finally:
        sock.close()

    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    try:
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 2.5 * SHORT_TIMEOUT_MS / 1000:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            assert r.status == 200 and r.read()
            n += 1
            time.sleep(0.3)
        assert n >= 8
    finally:
        conn.close()


def _soft_nofile(pid):
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no Max open files line")


def test_open_file_limit_is_raised(server_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < DEFAULT_TOTAL + 1024:
        pytest.skip(f"the hard open-file limit {hard} is too low to check")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        s = server_factory()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert _soft_nofile(s.proc.pid) > DEFAULT_TOTAL, \
        f"serve kept an open-file limit of {_soft_nofile(s.proc.pid)} for {DEFAULT_TOTAL} connections"


@pytest.mark.parametrize("args,env", [
    (["--max-connections", "0"], {}),
    (["--max-connections", "many"], {}),
    (["--max-connections-per-ip", "0"], {}),
    (["--max-connections", "100", "--max-connections-per-ip", "200"], {}),
    (["--header-timeout-ms", "0"], {}),
    (["--header-timeout-ms", "1.5"], {}),
    ([], {"OFFRAMP_MAX_CONNECTIONS": "x"}),
    ([], {"OFFRAMP_MAX_CONNECTIONS_PER_IP": "-1"}),
    ([], {"OFFRAMP_HEADER_TIMEOUT_MS": "soon"}),
])
def test_bad_values_exit_2(tmp_path, args, env):
    p = subprocess.run([BIN, "serve", "--db", str(tmp_path / "x.db"), "--listen", "127.0.0.1:1", *args],
                       capture_output=True, env=child_env(env), timeout=10, cwd=str(tmp_path))
    assert p.returncode == 2, (p.returncode, p.stderr[-500:])
    assert p.stderr.strip(), "no message"


def test_lowered_file_limit_keeps_room_for_other_addresses(tmp_path):
    """When the open-file limit forces fewer connections than asked, one
    address still gets at most half of them (CONTRACT 12: no client keeps
    the others out). The limit is lowered in the child only."""
    from offramp_e2e import BIN, child_env, free_port
    port = free_port()
    err = tmp_path / "serve.stderr"
    with open(err, "wb") as ef:
        p = subprocess.Popen([BIN, "serve", "--db", str(tmp_path / "o.db"), "--listen", f"127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL, stderr=ef, stdin=subprocess.DEVNULL, env=child_env(),
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1500, 1500)))
        try:
            deadline = time.monotonic() + 20
            while "serve: ready" not in err.read_text(errors="replace"):
                assert p.poll() is None and time.monotonic() < deadline, err.read_text(errors="replace")
                time.sleep(0.05)
        finally:
            p.terminate()
            assert p.wait(timeout=15) == 0
    log = err.read_text(errors="replace")
    assert "serving 750 connections" in log, log[-2000:]
    assert "serving at most 375 connections per address" in log, log[-2000:]
