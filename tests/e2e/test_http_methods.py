"""Methods (RFC 9110 §9.3.2, §15.5.6; docs/API.md "Methods"):

- HEAD is served wherever GET is, on both surfaces: the same status and
  headers as GET (Content-Type, Content-Length, ETag), no body, and the same
  checks first (401 without a key, 403 without the capability, 404 for
  another tenant's id);
- every 405 carries `Allow` with the methods of that path, HEAD wherever GET;
- a 404 (no such path) carries no `Allow`.
"""

import http.client

import pytest

from offramp_e2e import assert_error, describe


class W:
    pass


@pytest.fixture(scope="module")
def world(server):
    x = W()
    x.t = server.new_tenant("methods")
    x.w = x.t.setup("100.00")
    x.sid = x.t.create_session(x.w, "1.00")["id"]
    x.other = server.new_tenant("methods-other")
    return x


# path -> the methods it serves (what the route table says, read by hand).
ALLOW = [
    ("/healthz", {"GET", "HEAD"}),
    ("/errors.json", {"GET", "HEAD"}),
    ("/clients", {"POST"}),
    ("/clients/{client}", {"GET", "HEAD"}),
    ("/off-ramp-sessions", {"GET", "HEAD", "POST"}),
    ("/off-ramp-sessions/{sid}", {"GET", "HEAD"}),
    ("/off-ramp-sessions/{sid}/cancel", {"POST"}),
    ("/policies/off-ramp-approval", {"GET", "HEAD", "PUT"}),
    ("/webhook-endpoints/{sid}", {"GET", "HEAD", "PATCH", "DELETE"}),
    ("/customers", {"POST"}),
    ("/customers/{client}/limits", {"PUT"}),
    ("/destinations", {"GET", "HEAD", "POST"}),
    # also GET /transactions/{id} with the id "off-ramp" (which answers 404)
    ("/transactions/off-ramp", {"GET", "HEAD", "POST"}),
    ("/transactions/{sid}", {"GET", "HEAD"}),
]


def _fill(path, x):
    return path.replace("{client}", x.w.client_id).replace("{sid}", x.sid)


def _allow(resp):
    v = resp.headers.get("allow")
    assert v is not None, f"405 without an Allow header: {describe(resp)} {resp.headers}"
    methods = [m.strip() for m in v.split(",")]
    assert all(methods) and len(methods) == len(set(methods)), f"Allow: {v!r}"
    return set(methods)


@pytest.mark.parametrize("path,methods", ALLOW, ids=[p for p, _ in ALLOW])
def test_405_names_the_allowed_methods(server, world, path, methods):
    full = _fill(path, world)
    for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - methods):
        for key in (None, world.t.key):
            r = server.request(method, full, body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                               key=key)
            assert_error(r, 405, "method_not_allowed")
            assert _allow(r) == methods, f"{method} {path}: Allow {r.headers.get('allow')!r}"


def test_404_has_no_allow(server, world):
    for method in ("GET", "HEAD", "DELETE"):
        r = server.request(method, "/no-such-route")
        assert r.status == 404, describe(r)
        assert "allow" not in r.headers, r.headers


def _get_and_head(port, path, key=None):
    """GET then HEAD then GET on one persistent connection: if HEAD sent a
    body, the bytes would be read as the next answer's status line."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Authorization": f"Bearer {key}"} if key else {}
    out = []
    try:
        for method in ("GET", "HEAD", "GET"):
            conn.request(method, path, headers=hdr)
            r = conn.getresponse()
            out.append((r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()))
    finally:
        conn.close()
    return out


HEAD_OK = [
    "/healthz",
    "/errors.json",
    "/clients/{client}",
    "/client-accounts/{account}",
    "/off-ramp-sessions/{sid}",
    "/off-ramp-sessions?page_size=1",
    "/events?page_size=2",
    "/customers/{client}",
    "/transactions/{sid}",
    "/destinations/{dest}",
]


def _fill_all(path, x):
    return (_fill(path, x).replace("{account}", x.w.account_id).replace("{dest}", x.w.dest["id"]))


@pytest.mark.parametrize("path", HEAD_OK)
def test_head_is_get_without_the_body(server, world, path):
    full = _fill_all(path, world)
    key = None if path in ("/healthz", "/errors.json") else world.t.key
    (gs, gh, gb), (hs, hh, hb), (g2s, _, g2b) = _get_and_head(server.port, full, key)
    assert gs == 200, f"GET {full}: {gs} {gb[:300]!r}"
    assert hs == 200, f"HEAD {full}: {hs} {hh}"
    assert hb == b"", f"HEAD {full} sent a body: {hb[:200]!r}"
    assert g2s == 200 and g2b == gb, "the GET after HEAD was garbled"
    assert hh.get("content-type") == gh.get("content-type")
    assert hh.get("content-length") == str(len(gb)), (hh, len(gb))
    assert hh.get("etag") == gh.get("etag")
    assert hh.get("x-request-id") and hh.get("x-request-id") != gh.get("x-request-id")


AUTHED = ["/clients/{client}", "/off-ramp-sessions/{sid}", "/off-ramp-sessions", "/customers/{client}",
          "/transactions/{sid}", "/transactions", "/destinations/{dest}"]


@pytest.mark.parametrize("path", AUTHED)
def test_head_needs_what_get_needs(server, world, path):
    x = world
    full = _fill_all(path, x)
    for key, status in [(None, 401), ("ofr_sk_not-a-key", 401), (x.t.key_without(
            "clients.manage", "accounts.read", "ramps.read", "destinations.manage"), 403),
            (x.other.key, 404 if "{" in path else 200)]:
        g = server.request("GET", full, key=key)
        h = server.request("HEAD", full, key=key)
        assert g.status == status, f"GET {full}: {describe(g)}"
        assert h.status == status, f"HEAD {full} answered {h.status}, GET {g.status}"
        assert h.raw == b""
        if status == 401:
            assert h.headers.get("www-authenticate", "").startswith("Bearer"), h.headers
        assert h.headers.get("content-length") == str(len(g.raw)), (h.headers, len(g.raw))


def test_head_on_a_post_only_path_is_405(server, world):
    for path in ("/clients", "/customers", "/partner-fees", f"/off-ramp-sessions/{world.sid}/cancel"):
        r = server.request("HEAD", path, key=world.t.key)
        assert r.status == 405, describe(r)
        assert r.raw == b""
        assert "HEAD" not in _allow(r) and "GET" not in _allow(r)
