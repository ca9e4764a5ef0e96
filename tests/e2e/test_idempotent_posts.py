"""Every POST goes through the idempotent write path (CONTRACT 7; issue 8
item 3): for each POST route of the route table (read from src/api/api.c, so
a new POST route without a case here fails the test), the same request sent
twice under one Idempotency-Key gives the first answer again, byte for byte,
with X-Idempotency-Cached: true, and has its effect once.

The rotate-secret case is the one that broke: a retried rotation minted a
second secret, ending the first one's 24 h grace early."""

import re
import uuid

import pytest

from offramp_e2e import REPO, describe, sepa_destination

ROUTE_RE = re.compile(r'X\("POST",\s*"([^"]+)",\s*(\w+),[^)]*,\s*(true|false)\s*\)')


def post_routes():
    src = (REPO / "src" / "api" / "api.c").read_text(encoding="utf-8")
    return {m.group(1): m.group(3) == "true" for m in ROUTE_RE.finditer(src)}


def cached(r):
    return r.headers.get("x-idempotency-cached", "").lower() == "true"


class Ctx:
    pass


@pytest.fixture(scope="module")
def ctx(server_module_loopback):
    s = server_module_loopback
    c = Ctx()
    c.server = s
    c.t = s.new_tenant("idem-posts")
    c.w = c.t.setup("100000.00")
    c.approver = c.t.make_key(["ramps.approve", "ramps.read"])["api_key"]
    # Lumx customer, destination (the taxId's last digit keeps it approved).
    r = c.t.req("POST", "/customers", {"type": "BUSINESS", "legalName": "Idem GmbH", "country": "DEU",
                                       "email": "ops@idem.example", "taxId": "DE123456789",
                                       "incorporationDate": "2015-04-01"},
                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status == 201, describe(r)
    c.customer = r.json
    c.t.deposit(c.customer["accountRef"], "10000.00")
    r = c.t.req("POST", "/destinations", {
        "customerId": c.customer["id"], "name": "SEPA account", "rail": "SEPA", "currency": "EUR",
        "identifier": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
        "holder": {"type": "BUSINESS", "relationship": "SELF", "legalName": "Idem GmbH",
                   "taxId": "DE123456789", "email": "ops@idem.example", "incorporationDate": "2015-04-01",
                   "address": {"line1": "Unter den Linden 1", "city": "Berlin", "state": "BE",
                               "postalCode": "10117", "country": "DEU"}}},
        headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status == 201, describe(r)
    c.lumx_dest = r.json
    # A webhook endpoint (nothing listens there: deliveries just fail).
    r = c.t.req("POST", "/webhook-endpoints", {"url": "http://127.0.0.1:9/hook", "event_types": ["*"],
                                               "format": "standard"})
    assert r.status == 201, describe(r)
    c.hook = r.json
    return c


@pytest.fixture(scope="module")
def server_module_loopback(tmp_path_factory):
    from offramp_e2e import Server
    s = Server(tmp_path_factory.mktemp("srv"), extra_args=["--webhook-allow-loopback"])
    s.start()
    yield s
    s.stop_checked()


def pending_approval(c):
    """A fresh session waiting for approval; returns its approval id."""
    c.t.set_threshold("1000.00")
    s = c.t.create_session(c.w, "1500.00")
    c.t.set_threshold(None)
    assert s["status"] == "pending_approval", s
    return s["approval_ref"].split("/", 1)[1], s


def executing_event(c):
    s = c.t.create_session(c.w, "10.00")
    evs = [e for e in c.t.events(s["id"]) if e["type"] == "off_ramp_session.executing"]
    assert evs, f"no executing event for {s['id']}"
    return evs[0]["id"]


# pattern -> fn(ctx) -> (path, body, api key or None)
CASES = {
    "/clients": lambda c: ("/clients", {"display_name": "Idem Client"}, None),
    "/client-accounts": lambda c: ("/client-accounts", {"client_ref": f"clients/{c.w.client_id}"}, None),
    "/sandbox/deposits": lambda c: ("/sandbox/deposits", {"account_ref": c.w.account_ref,
                                                          "amount": {"currency": "USDC", "value": "1.00"}}, None),
    "/withdrawal-destinations": lambda c: ("/withdrawal-destinations",
                                           {"account_ref": c.w.account_ref, "destination": sepa_destination()},
                                           None),
    "/off-ramp-sessions": lambda c: ("/off-ramp-sessions", c.w.body("20.00"), None),
    "/off-ramp-sessions/{id}/cancel": lambda c: (f"/off-ramp-sessions/{pending_approval(c)[1]['id']}/cancel",
                                                 None, None),
    "/approvals/{id}/approve": lambda c: (f"/approvals/{pending_approval(c)[0]}/approve", None, c.approver),
    "/approvals/{id}/reject": lambda c: (f"/approvals/{pending_approval(c)[0]}/reject", None, c.approver),
    "/customers": lambda c: ("/customers", {"type": "INDIVIDUAL", "name": "Maria Silva", "country": "BRA",
                                            "email": "maria@example.com", "taxId": "52998224725",
                                            "birthDate": "1990-05-17"}, None),
    "/destinations": lambda c: ("/destinations", {
        "customerId": c.customer["id"], "name": "PIX", "rail": "PIX", "currency": "BRL",
        "identifier": {"keyType": "CPF", "keyValue": "529.982.247-25"},
        "holder": {"type": "BUSINESS", "relationship": "SELF", "legalName": "Idem GmbH", "taxId": "DE123456789",
                   "email": "ops@idem.example", "incorporationDate": "2015-04-01",
                   "address": {"line1": "Rua A 1", "city": "Sao Paulo", "state": "SP", "postalCode": "01000-000",
                               "country": "BRA"}}}, None),
    "/transactions/off-ramp": lambda c: ("/transactions/off-ramp", {
        "bankAccountId": c.lumx_dest["id"], "sourceCurrency": "USDC", "sourceAmount": "15.00",
        "purpose": "PERSONAL_ACCOUNT"}, None),
    "/exchange-rates": lambda c: ("/exchange-rates", {"sourceCurrency": "USDC", "targetCurrency": "EUR",
                                                      "type": "LOCKED", "timeLock": "5m"}, None),
    "/partner-fees": lambda c: ("/partner-fees", {"name": "P", "basisPoints": 10, "flatAmount": "0.10",
                                                  "default": False}, None),
    "/webhook-endpoints": lambda c: ("/webhook-endpoints", {"url": "http://127.0.0.1:9/other",
                                                            "event_types": ["*"], "format": "lumx"}, None),
    "/webhook-endpoints/{id}/rotate-secret": lambda c: (f"/webhook-endpoints/{c.hook['id']}/rotate-secret",
                                                        None, None),
    "/webhook-endpoints/{id}/resend": lambda c: (f"/webhook-endpoints/{c.hook['id']}/resend",
                                                 {"event_id": executing_event(c)}, None),
}


def test_every_post_route_has_a_case():
    routes = post_routes()
    assert routes, "no POST routes found in src/api/api.c"
    missing = sorted(set(routes) - set(CASES))
    assert not missing, f"POST routes with no idempotency case here: {missing}"


@pytest.mark.parametrize("pattern", sorted(CASES))
def test_post_replays_under_one_key(ctx, pattern):
    lumx = post_routes().get(pattern)
    assert lumx is not None, f"{pattern} is no longer a POST route"
    path, body, key = CASES[pattern](ctx)
    k = str(uuid.uuid4()) if lumx else f"idem-{uuid.uuid4()}"
    hdrs = {"Idempotency-Key": k}
    first = ctx.t.req("POST", path, body, key=key, headers=hdrs)
    assert 200 <= first.status < 300, f"POST {path}: {describe(first)}"
    assert not cached(first), "a first answer must not claim to be cached"
    again = ctx.t.req("POST", path, body, key=key, headers=hdrs)
    assert again.status == first.status, f"replay of POST {path}: {describe(again)}"
    assert cached(again), f"POST {path} ignored Idempotency-Key (no X-Idempotency-Cached): {describe(again)}"
    assert again.raw == first.raw, f"POST {path}: the replay differs:\n{first.raw!r}\n{again.raw!r}"
    if body is not None:
        changed = dict(body)
        changed["zz_changed"] = 1
        r = ctx.t.req("POST", path, changed, key=key, headers=hdrs)
        assert r.status == 409 and r.json["code"] == "idempotency_key_reused", describe(r)


def test_retried_rotation_keeps_the_first_secret(ctx):
    """A rotation retried under its key is the same rotation: the same new
    secret, and the secret before it still in its grace (a second rotation
    would have replaced it with the first rotation's secret)."""
    r = ctx.t.req("POST", "/webhook-endpoints", {"url": "http://127.0.0.1:9/rot", "event_types": ["*"],
                                                 "format": "standard"})
    assert r.status == 201, describe(r)
    ep = r.json
    hdrs = {"Idempotency-Key": f"rot-{uuid.uuid4()}"}
    one = ctx.t.req("POST", f"/webhook-endpoints/{ep['id']}/rotate-secret", headers=hdrs)
    two = ctx.t.req("POST", f"/webhook-endpoints/{ep['id']}/rotate-secret", headers=hdrs)
    assert one.status == 200 and two.status == 200, (describe(one), describe(two))
    assert one.json["secret"] == two.json["secret"] != ep["secret"], (one.json, two.json)
    # Without a key, each call is a new rotation.
    three = ctx.t.req("POST", f"/webhook-endpoints/{ep['id']}/rotate-secret")
    assert three.status == 200 and three.json["secret"] not in (one.json["secret"], ep["secret"])


def test_resend_refusals_are_kept(ctx):
    hdrs = {"Idempotency-Key": f"rs-{uuid.uuid4()}"}
    body = {"event_id": str(uuid.uuid4())}
    one = ctx.t.req("POST", f"/webhook-endpoints/{ctx.hook['id']}/resend", body, headers=hdrs)
    assert one.status == 404 and one.json["details"].get("field") == "/event_id", describe(one)
    two = ctx.t.req("POST", f"/webhook-endpoints/{ctx.hook['id']}/resend", body, headers=hdrs)
    assert two.status == 404 and cached(two) and two.raw == one.raw, describe(two)
    r = ctx.t.req("POST", f"/webhook-endpoints/{uuid.uuid4()}/resend", body)
    assert r.status == 404 and "field" not in r.json["details"], describe(r)
    r = ctx.t.req("POST", f"/webhook-endpoints/{ctx.hook['id']}/rotate-secret", {"grace": 5})
    assert r.status == 400 and r.json["code"] == "unknown_field", describe(r)
