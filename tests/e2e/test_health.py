"""Health checks (CONTRACT §12, docs/API.md "Health"):

- `GET /livez` answers 200 while the process runs, whatever its database;
- `GET /readyz` answers 200 `{"status":"ok","checks":{"database":"ok","workers":"ok"}}`
  when the database answers and the workers run (503 with the failing check
  named otherwise: test_pg_outage.py takes the database away);
- neither needs a key (a wrong one changes nothing), HEAD works on both, and
  other methods get 405 with `Allow: GET, HEAD`.
"""

import http.client

import pytest

from offramp_e2e import assert_error, describe


def _head_then_get(port, path):
    """HEAD then GET on one persistent connection: a body sent after HEAD
    would be read as the GET's status line."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    try:
        for method in ("HEAD", "GET"):
            conn.request(method, path)
            r = conn.getresponse()
            out.append((r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()))
    finally:
        conn.close()
    return out


def test_livez_answers_ok(server):
    r = server.request("GET", "/livez")
    assert r.status == 200, describe(r)
    assert r.json == {"status": "ok"}, describe(r)
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.headers.get("x-request-id")


def test_readyz_names_every_check(server):
    r = server.request("GET", "/readyz")
    assert r.status == 200, describe(r)
    assert r.json == {"status": "ok", "checks": {"database": "ok", "workers": "ok"}}, describe(r)


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_no_key_needed_and_a_bad_one_is_ignored(server, path):
    for key in (None, "ofr_sk_not-a-key"):
        r = server.request("GET", path, key=key)
        assert r.status == 200, f"{path} with key {key!r}: {describe(r)}"
        assert "www-authenticate" not in r.headers


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_head_is_get_without_the_body(server, path):
    (hs, hh, hb), (gs, gh, gb) = _head_then_get(server.port, path)
    assert hs == gs == 200, (hs, gs)
    assert hb == b"", f"HEAD {path} sent a body: {hb[:200]!r}"
    assert gb, f"GET {path} sent no body"
    assert hh.get("content-length") == gh.get("content-length") == str(len(gb)), (hh, gh)


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_other_methods_are_405(server, path):
    for method in ("POST", "PUT", "DELETE"):
        r = server.request(method, path, body=b"{}" if method != "DELETE" else None)
        assert_error(r, 405, "method_not_allowed")
        assert r.headers.get("allow") == "GET, HEAD", r.headers


def test_readyz_stays_ready_while_sessions_are_made(server):
    """The probe is a cheap read beside the writer: creates do not make it
    fail, and it does not fail them."""
    t = server.new_tenant("health")
    w = t.setup("100.00")
    for i in range(5):
        t.create_session(w, "1.00")
        r = server.request("GET", "/readyz")
        assert r.status == 200, f"after create {i}: {describe(r)}"
