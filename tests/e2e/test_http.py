"""HTTP-level robustness around the API: persistent connections, chunked
bodies, lying or huge Content-Length, big headers and URLs, idle
connections. Nothing here may produce a 5xx, a crash, or an effect from a
refused request."""

import http.client
import json
import socket
import time

import pytest

from offramp_e2e import MAX_BODY, assert_error, describe


class W:
    pass


@pytest.fixture(scope="module")
def world(server):
    x = W()
    x.t = server.new_tenant("http")
    x.w = x.t.setup("1000.00")
    return x


def _state(x):
    return x.w.balances(), x.t.session_ids()


def _read_response(sock, timeout=10):
    """Read one HTTP response from a raw socket; returns (status, body bytes)."""
    sock.settimeout(timeout)
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    body = resp.read()
    return resp.status, body


def test_keep_alive_sequence(server, world):
    x = world
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    hdr = {"Authorization": f"Bearer {x.t.key}", "Content-Type": "application/json"}
    try:
        out = []
        for method, path, body in [
            ("GET", "/healthz", None),
            ("POST", "/off-ramp-sessions", b"{oops"),
            ("POST", "/off-ramp-sessions", json.dumps(x.w.body("1.00")).encode()),
            ("GET", "/off-ramp-sessions?page_size=1", None),
            ("GET", "/nope", None),
            ("POST", "/off-ramp-sessions", json.dumps(x.w.body("2.00")).encode()),
        ]:
            conn.request(method, path, body=body, headers=hdr)
            r = conn.getresponse()
            out.append((r.status, json.loads(r.read() or b"null")))
        assert [s for s, _ in out] == [200, 400, 201, 200, 404, 201], out
        assert out[1][1]["code"] == "invalid_json"
        assert out[3][1]["items"][0]["id"] == out[2][1]["id"]
        assert out[4][1]["code"] == "route_not_found"
        assert out[5][1]["principal_amount"]["value"] == "2.00"
    finally:
        conn.close()


def _chunked(port, key, data, chunk=4096):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s.sendall(("POST /off-ramp-sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode())
        try:
            for i in range(0, len(data), chunk):
                part = data[i:i + chunk]
                s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _read_response(s)
    finally:
        s.close()


def test_chunked_body(server, world):
    x = world
    before = _state(x)
    st, body = _chunked(server.port, x.t.key, json.dumps(x.w.body("3.00")).encode(), chunk=100)
    assert st in (201, 411), f"chunked request: {st} {body[:300]!r}"
    if st == 201:
        assert json.loads(body)["principal_amount"]["value"] == "3.00"
        assert len(x.t.session_ids()) == len(before[1]) + 1
    else:
        assert _state(x) == before


def test_chunked_body_over_64k_is_413(server, world):
    """The size cap must hold without a Content-Length too."""
    x = world
    before = _state(x)
    data = json.dumps(x.w.body("4.00")).encode()
    data = data + b" " * (MAX_BODY + 1000 - len(data))
    try:
        st, body = _chunked(server.port, x.t.key, data)
    except (ConnectionResetError, http.client.RemoteDisconnected):
        st, body = None, b""
    assert st in (413, 411, None), f"a chunked body over 64 KiB: {st} {body[:300]!r}"
    if st == 413:
        assert json.loads(body)["code"] == "payload_too_large"
    assert server.alive()
    assert _state(x) == before, "a body over 64 KiB had an effect"


def test_declared_huge_content_length(server, world):
    x = world
    before = _state(x)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    try:
        s.sendall(("POST /off-ramp-sessions HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {x.t.key}\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000000000\r\n\r\n{").encode())
        st, body = _read_response(s)
        assert st == 413, f"{st} {body[:300]!r}"
        assert json.loads(body)["code"] == "payload_too_large"
    finally:
        s.close()
    assert server.alive()
    assert _state(x) == before


def test_short_body_then_close(server, world):
    """Content-Length promises more than is sent; the client goes away."""
    x = world
    before = _state(x)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        s.sendall(("POST /off-ramp-sessions HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {x.t.key}\r\nContent-Type: application/json\r\n"
                   "Content-Length: 500\r\n\r\n{\"account_ref\":").encode())
        s.close()
    time.sleep(0.3)
    assert server.alive()
    assert _state(x) == before


def test_big_header_and_long_url(server, world):
    x = world
    r = server.request("GET", "/off-ramp-sessions", key=x.t.key, headers={"X-Filler": "a" * 40000})
    assert r.status < 500, describe(r)
    r = server.request("GET", "/off-ramp-sessions?status=executing&" + "a" * 10000 + "=1", key=x.t.key)
    assert r.status < 500 and r.status != 200, describe(r)
    r = server.request("GET", "/off-ramp-sessions/" + "a" * 10000, key=x.t.key)
    assert r.status < 500 and r.status != 200, describe(r)
    r = server.request("GET", "/off-ramp-sessions/%00%2e%2e", key=x.t.key)
    assert r.status in (400, 404), describe(r)
    assert server.alive()


def test_idle_connections_do_not_block_others(server, world):
    x = world
    idle = []
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /off-ramp-sessions HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            idle.append(s)
        t0 = time.monotonic()
        r = server.request("GET", "/off-ramp-sessions?page_size=1", key=x.t.key, timeout=10)
        assert r.status == 200, describe(r)
        assert time.monotonic() - t0 < 5, "a request waited behind idle connections"
    finally:
        for s in idle:
            s.close()


def test_error_answers_are_json_with_request_id(server, world):
    x = world
    for r in [server.request("POST", "/off-ramp-sessions", b"{", key=x.t.key),
              server.request("GET", "/nope"),
              server.request("DELETE", "/clients", key=x.t.key)]:
        assert r.headers.get("content-type", "").startswith("application/json"), (r.status, r.headers)
        assert_error(r, r.status, r.json["code"])


def test_nul_bytes_in_url_are_not_truncated(server, world):
    """A percent-encoded NUL must not cut an identifier or a query value short
    (ids with trailing garbage are not the id)."""
    x = world
    sid = x.t.create_session(x.w, "1.00")["id"]
    bad = []
    for path in [f"/off-ramp-sessions/{sid}%00junk", f"/clients/{x.w.client_id}%00",
                 f"/client-accounts/{x.w.account_id}%00x"]:
        r = server.request("GET", path, key=x.t.key)
        if r.status not in (400, 404):
            bad.append(f"GET {path}: {describe(r)}")
    r = server.request("GET", f"/off-ramp-sessions?account_ref={x.w.account_ref}%00junk", key=x.t.key)
    if r.status != 400:
        bad.append(f"?account_ref=<ref>%00junk: {describe(r)}")
    assert not bad, "\n".join(bad)
