"""Tenants, principals, capabilities (contract sections 3-4): isolation
between tenants, 401 shapes, the capability each endpoint needs, the order
of checks (route, auth, capability, 413/415, JSON), request ids."""

import urllib.parse
import uuid

import pytest

from offramp_e2e import MAX_BODY, assert_error, describe, sepa_destination


class Two:
    pass


@pytest.fixture(scope="module")
def two(server):
    x = Two()
    x.a = server.new_tenant("auth-a")
    x.wa = x.a.setup("1000.00")
    x.sa = x.a.create_session(x.wa, "100.00")
    x.b = server.new_tenant("auth-b")
    x.wb = x.b.setup("1000.00")
    x.sb = x.b.create_session(x.wb, "50.00")
    return x


def _a_state(x):
    return x.wa.balances(), x.a.session_ids()


# ---------------------------------------------------------------------------
# isolation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["client", "account", "session", "destination"])
def test_other_tenants_resources_are_404_like_absent_ones(two, what):
    x = two
    path = {
        "client": f"/clients/{x.wa.client_id}",
        "account": f"/client-accounts/{x.wa.account_id}",
        "session": f"/off-ramp-sessions/{x.sa['id']}",
        "destination": f"/withdrawal-destinations/{x.wa.dest['id']}",
    }[what]
    own = x.a.req("GET", path)
    assert own.status == 200, f"the owner cannot GET {path}: {describe(own)}"
    other = x.b.req("GET", path)
    assert_error(other, 404, "not_found")
    absent = x.b.req("GET", path.rsplit("/", 1)[0] + "/" + str(uuid.uuid4()))
    assert_error(absent, 404, "not_found")
    assert (other.json["message"], sorted(other.json["details"])) == (absent.json["message"], sorted(absent.json["details"])), \
        f"another tenant's id must look exactly like an absent one:\n{describe(other)}\n{describe(absent)}"


def test_lists_are_per_tenant(two):
    x = two
    assert x.a.session_ids() == [x.sa["id"]]
    assert x.b.session_ids() == [x.sb["id"]]
    r = x.b.req("GET", "/off-ramp-sessions?account_ref=" + x.wa.account_ref.replace("/", "%2F"))
    if r.status == 200:
        assert r.json["items"] == [], f"tenant B sees A's sessions by filter: {describe(r)}"
    else:
        assert_error(r, 404, "not_found")


def test_writes_into_another_tenant_are_404(two):
    x = two
    before = _a_state(x)
    r = x.b.req("POST", "/sandbox/deposits", {"account_ref": x.wa.account_ref,
                                              "amount": {"currency": "USDC", "value": "5.00"}})
    assert_error(r, 404, "not_found")
    r = x.b.req("POST", "/client-accounts", {"client_ref": f"clients/{x.wa.client_id}"})
    assert_error(r, 404, "not_found")
    r = x.b.req("POST", "/withdrawal-destinations", {"account_ref": x.wa.account_ref, "destination": sepa_destination()},
                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert_error(r, 404, "not_found")
    # B submits A's exact session body: A's account, A's client, A's destination
    r = x.b.req("POST", "/off-ramp-sessions", x.wa.body("1.00"))
    assert_error(r, 404, "not_found")
    # B's own account but A's destination and route owner
    body = x.wb.body("1.00")
    body["destination"]["withdrawal_destination_id"] = x.wa.dest["id"]
    body["destination"]["route_owner_ref"] = f"clients/{x.wa.client_id}"
    r = x.b.req("POST", "/off-ramp-sessions", body)
    assert r.status in (404, 422), describe(r)
    assert_error(r, r.status, {"not_found", "destination_mismatch"})
    assert _a_state(x) == before
    assert x.b.session_ids() == [x.sb["id"]]


def test_cross_tenant_destination_is_indistinguishable_from_absent(two):
    x = two
    body = x.wb.body("1.00")
    body["destination"]["withdrawal_destination_id"] = x.wa.dest["id"]
    r1 = x.b.req("POST", "/off-ramp-sessions", body)
    body["destination"]["withdrawal_destination_id"] = str(uuid.uuid4())
    r2 = x.b.req("POST", "/off-ramp-sessions", body)
    assert r1.status in (404, 422), describe(r1)
    assert (r1.status, r1.json["code"]) == (r2.status, r2.json["code"]), f"{describe(r1)}\n{describe(r2)}"


# ---------------------------------------------------------------------------
# 401
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("auth", [None, "", "Bearer", "Bearer ", "Bearer sk_nope", "Basic dXNlcjpwYXNz", "Token abc",
                                  "BEARER_GARBAGE", "Bearer " + "k" * 5000, "Bearer \u00e9t\u00e9"],
                         ids=["none", "empty", "bearer", "bearer_space", "unknown", "basic", "token", "garbage",
                              "long_5000", "latin1"])
def test_401_forms(server, tenant, auth):
    headers = {"Authorization": auth} if auth is not None else {}
    r = server.request("GET", "/off-ramp-sessions", headers=headers)
    assert_error(r, 401, "unauthenticated")
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers


def test_401_for_mangled_real_key(server, tenant):
    flipped = ("A" if tenant.key[0] != "A" else "B") + tenant.key[1:]
    for k in (tenant.key + "x", tenant.key[:-1], flipped, tenant.key + " " + tenant.key):
        r = server.request("GET", "/off-ramp-sessions", headers={"Authorization": f"Bearer {k}"})
        assert_error(r, 401, "unauthenticated")


def test_page_token_of_another_tenant_reveals_nothing(two):
    x = two
    for _ in range(2):
        x.a.create_session(x.wa, "1.00")
    r = x.a.req("GET", "/off-ramp-sessions?page_size=1")
    assert r.status == 200 and r.json["next_page_token"], describe(r)
    token = r.json["next_page_token"]
    a_ids = set(x.a.session_ids())
    r = x.b.req("GET", "/off-ramp-sessions?page_size=5&page_token=" + urllib.parse.quote(token))
    if r.status == 200:
        leaked = [s["id"] for s in r.json["items"] if s["id"] in a_ids]
        assert not leaked, f"tenant B read tenant A's sessions through A's page token: {leaked}"
    else:
        assert_error(r, 400, "invalid_page_token")


def test_healthz_needs_no_key(server):
    r = server.request("GET", "/healthz")
    assert r.status == 200, describe(r)
    assert r.headers.get("x-request-id")


# ---------------------------------------------------------------------------
# capabilities
# ---------------------------------------------------------------------------

def _endpoint(x, name):
    """(method, path, body, headers, success status) for one endpoint."""
    w = x.wa
    return {
        "create_client": ("POST", "/clients", {"display_name": "Cap Client"}, None, 201),
        "create_account": ("POST", "/client-accounts", {"client_ref": f"clients/{w.client_id}"}, None, 201),
        "read_account": ("GET", f"/client-accounts/{w.account_id}", None, None, 200),
        "deposit": ("POST", "/sandbox/deposits", {"account_ref": w.account_ref,
                                                   "amount": {"currency": "USDC", "value": "1.00"}}, None, 201),
        "create_destination": ("POST", "/withdrawal-destinations",
                               {"account_ref": w.account_ref, "destination": sepa_destination()},
                               {"Idempotency-Key": str(uuid.uuid4())}, 201),
        "create_session": ("POST", "/off-ramp-sessions", w.body("1.00"), None, 201),
        "read_session": ("GET", f"/off-ramp-sessions/{x.sa['id']}", None, None, 200),
        "list_sessions": ("GET", "/off-ramp-sessions", None, None, 200),
    }[name]


CAPS = [
    ("create_client", "clients.manage"),
    ("create_account", "clients.manage"),
    ("read_account", "accounts.read"),
    ("deposit", "sandbox.fund"),
    ("create_destination", "destinations.manage"),
    ("create_session", "ramps.create"),
    ("read_session", "ramps.read"),
    ("list_sessions", "ramps.read"),
]


@pytest.mark.parametrize("name,cap", CAPS, ids=[c[0] for c in CAPS])
def test_capability_required(two, name, cap):
    x = two
    before = _a_state(x)
    method, path, body, headers, ok = _endpoint(x, name)
    lacking = x.a.key_without(cap)
    r = x.a.req(method, path, body, key=lacking, headers=headers)
    assert_error(r, 403, "missing_capability")
    assert _a_state(x) == before, "a 403 changed state"
    only = x.a.make_key([cap])["api_key"]
    method, path, body, headers, ok = _endpoint(x, name)  # fresh idempotency key
    r = x.a.req(method, path, body, key=only, headers=headers)
    assert r.status == ok, f"a key holding just {cap} should be enough for {name}: {describe(r)}"


def test_create_api_key_capabilities_are_exact(two):
    x = two
    k = x.a.make_key(["ramps.read"])
    assert sorted(k["capabilities"]) == ["ramps.read"]
    r = x.a.req("GET", "/off-ramp-sessions", key=k["api_key"])
    assert r.status == 200, describe(r)
    assert x.sa["id"] in [s["id"] for s in r.json["items"]]
    assert x.sb["id"] not in [s["id"] for s in r.json["items"]]
    r = x.a.req("POST", "/off-ramp-sessions", x.wa.body("1.00"), key=k["api_key"])
    assert_error(r, 403, "missing_capability")
    r = x.a.req("GET", f"/client-accounts/{x.wa.account_id}", key=k["api_key"])
    assert_error(r, 403, "missing_capability")


# ---------------------------------------------------------------------------
# order of checks: route, auth, capability, 413/415, JSON
# ---------------------------------------------------------------------------

def test_unknown_route_before_auth(server, tenant):
    for method, path in [("GET", "/nope"), ("POST", "/off-ramp-sessions/x/y/z"),
                         ("GET", "/off-ramp-sessionsX")]:
        r = server.request(method, path, body={} if method == "POST" else None)
        assert_error(r, 404, "route_not_found")
        r = server.request(method, path, body={} if method == "POST" else None, key=tenant.key)
        assert_error(r, 404, "route_not_found")


def test_method_not_allowed(server, tenant):
    r = server.request("DELETE", "/off-ramp-sessions", key=tenant.key)
    assert_error(r, 405, "method_not_allowed")


def test_auth_before_everything_else(two, server):
    x = two
    big = b"{" + b" " * (MAX_BODY + 10) + b"}"
    for body, headers in [(b"{not json", None), (big, None), (x.wa.body(), {"Content-Type": "text/plain"}),
                          (b"", None)]:
        r = server.request("POST", "/off-ramp-sessions", body=body, headers=headers)
        assert_error(r, 401, "unauthenticated")


def test_capability_before_body_checks(two):
    x = two
    nocap = x.a.key_without("ramps.create")
    big = b"{" + b" " * (MAX_BODY + 10) + b"}"
    for body, headers in [(b"{not json", None), (big, None), (b"{not json", {"Content-Type": "text/plain"})]:
        r = x.a.req("POST", "/off-ramp-sessions", body, key=nocap, headers=headers)
        assert_error(r, 403, "missing_capability")


def test_size_and_type_before_json(two):
    x = two
    big = b"{not json" + b" " * (MAX_BODY + 10)
    r = x.a.req("POST", "/off-ramp-sessions", big)
    assert_error(r, 413, "payload_too_large")
    r = x.a.req("POST", "/off-ramp-sessions", b"{not json", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


# ---------------------------------------------------------------------------
# request ids
# ---------------------------------------------------------------------------

def test_every_response_has_a_distinct_request_id(two, server):
    x = two
    rs = [
        server.request("GET", "/healthz"),
        server.request("GET", "/nope"),
        server.request("GET", "/off-ramp-sessions"),
        x.a.req("GET", "/off-ramp-sessions"),
        x.a.req("GET", f"/off-ramp-sessions/{x.sa['id']}"),
        x.a.req("POST", "/off-ramp-sessions", b"{"),
        x.a.req("POST", "/off-ramp-sessions", x.wa.body("1.00")),
    ]
    ids = [r.headers.get("x-request-id") for r in rs]
    assert all(ids), [(r.status, r.headers) for r in rs]
    assert len(set(ids)) == len(ids), f"request ids repeat: {ids}"
    for r in rs:
        if r.status >= 400:
            assert r.json["request_id"] == r.headers["x-request-id"]
