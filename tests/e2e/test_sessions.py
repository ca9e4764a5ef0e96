"""POST/GET /off-ramp-sessions: the seed's happy path, response shape and
values, balances, GET by id, list, paging and filters (contract section 5)."""

import concurrent.futures
import datetime
import json
import threading
import urllib.parse
import uuid
from decimal import Decimal

from offramp_e2e import (
    masked,
    MAX_BODY, SEED_RESPONSE, TS_RE, UUID_RE, assert_error, describe, fmt_money,
    sepa_destination,
)

SEED_FIXED_KEYS = ["family", "family_params", "fee_summary", "principal_amount", "status",
                   "approval_ref", "fill_rate", "settled_at", "failure_reason"]


def _parse_ts(s):
    assert TS_RE.match(s), f"not an RFC 3339 UTC timestamp: {s!r}"
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _principal(tenant):
    return {"id": tenant.principal["id"], "kind": tenant.principal["kind"], "tenant_ref": tenant.ref}


# ---------------------------------------------------------------------------
# setup resources
# ---------------------------------------------------------------------------

def test_client_and_account_resources(server):
    t = server.new_tenant()
    r = t.req("POST", "/clients", {"display_name": "Acme Treasury"})
    assert r.status == 201, describe(r)
    c = r.json
    assert UUID_RE.match(c["id"]), c
    assert c["display_name"] == "Acme Treasury"
    assert c["default_account_ref"].startswith("client-accounts/")
    assert UUID_RE.match(c["default_account_ref"].split("/", 1)[1])
    _parse_ts(c["created_at"])

    g = t.req("GET", f"/clients/{c['id']}")
    assert g.status == 200, describe(g)
    assert g.json["id"] == c["id"] and g.json["display_name"] == "Acme Treasury"
    assert g.json["default_account_ref"] == c["default_account_ref"]

    # the default account exists, empty, listing both stablecoins
    bal = t.balances(c["default_account_ref"])
    assert set(bal) >= {"USDC", "USDT"}, bal
    for cur in ("USDC", "USDT"):
        assert bal[cur] == {"available": "0.00", "held": "0.00", "total": "0.00"}, bal

    # another account for the same client
    r = t.req("POST", "/client-accounts", {"client_ref": f"clients/{c['id']}"})
    assert r.status == 201, describe(r)
    a = r.json
    assert UUID_RE.match(a["id"]) and a["client_ref"] == f"clients/{c['id']}", a
    assert f"client-accounts/{a['id']}" != c["default_account_ref"]
    g = t.req("GET", f"/client-accounts/{a['id']}")
    assert g.status == 200, describe(g)
    assert g.json["id"] == a["id"] and g.json["client_ref"] == f"clients/{c['id']}"

    # deposits land in the right account only
    t.deposit(f"client-accounts/{a['id']}", "12.5")
    assert t.balances(f"client-accounts/{a['id']}")["USDC"] == {"available": "12.50", "held": "0.00", "total": "12.50"}
    assert t.balances(c["default_account_ref"])["USDC"]["total"] == "0.00"
    t.deposit(f"client-accounts/{a['id']}", "0.000001", "USDT")
    assert t.balances(f"client-accounts/{a['id']}")["USDT"]["total"] == "0.000001"
    server.verify_ledger()


def test_withdrawal_destination_resource(server):
    t = server.new_tenant()
    c = t.create_client()
    sent = sepa_destination()
    r = t.req("POST", "/withdrawal-destinations", {"account_ref": c["default_account_ref"], "destination": sent},
              headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status == 201, describe(r)
    d = r.json
    assert UUID_RE.match(d["id"]), d
    assert d["account_ref"] == c["default_account_ref"]
    assert d["route_owner_ref"] == f"clients/{c['id']}"
    assert d["method"] == "bank_transfer" and d["fiat_rail"] == "sepa_credit_transfer"
    assert d["destination"] == sent, f"saved destination differs from what was sent: {d['destination']}"
    _parse_ts(d["created_at"])


def test_withdrawal_destination_get_by_id(server):
    """Contract 5: each resource has `id` and a GET by id."""
    t = server.new_tenant()
    c = t.create_client()
    d = t.create_destination(c["default_account_ref"])
    g = t.req("GET", f"/withdrawal-destinations/{d['id']}")
    assert g.status == 200, describe(g)
    assert g.json["id"] == d["id"] and g.json["destination"] == masked(d["destination"])
    assert g.json["destination"] != d["destination"], "the IBAN shows whole after its creation"
    assert g.json["route_owner_ref"] == f"clients/{c['id']}"


# ---------------------------------------------------------------------------
# the seed
# ---------------------------------------------------------------------------

def test_seed_happy_path(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    body = w.body()
    before = datetime.datetime.now(datetime.timezone.utc)
    r = t.req("POST", "/off-ramp-sessions", body)
    assert r.status == 201, describe(r)
    s = r.json
    assert r.headers.get("x-request-id")
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers

    # every key of the seed answer is present
    missing = [k for k in SEED_RESPONSE if k not in s]
    assert not missing, f"keys of the seed response missing: {missing}"
    # the seed's values where they do not depend on ids or time
    for k in SEED_FIXED_KEYS:
        assert s[k] == SEED_RESPONSE[k], f"{k}: got {s[k]!r}, seed has {SEED_RESPONSE[k]!r}"
    assert s["family"] == "off_ramp"
    assert s["status"] == "executing"
    assert s["fee_summary"] == {"components": [{"amount": {"currency": "USDC", "value": "1.00"}, "kind": "network_fee"}],
                                "total": {"currency": "USDC", "value": "1.00"}}
    assert s["principal_amount"] == {"currency": "USDC", "value": "250.00"}
    assert s["family_params"] == {"source_currency": "USDC", "target_rail": "fiat"}

    assert UUID_RE.match(s["id"]), s["id"]
    assert s["account_ref"] == w.account_ref
    created = _parse_ts(s["created_at"])
    updated = _parse_ts(s["updated_at"])
    assert updated >= created
    assert abs((created - before).total_seconds()) < 300, f"created_at {s['created_at']} is far from now"

    sa = s["subject_attribution"]
    missing = [k for k in SEED_RESPONSE["subject_attribution"] if k not in sa]
    assert not missing, f"subject_attribution keys missing: {missing}"
    me = _principal(t)
    assert sa["authenticated_principal"] == me, sa
    assert sa["subject"] == me, sa
    assert sa["enterprise_binding"] == {"tenant_type": "enterprise", "topology_ref": t.ref}, sa
    assert sa["identity_source"] == "platform-managed"
    assert sa["approved_by"] is None

    # balances: 250.00 principal + 1.00 fee held
    bal = w.balances()
    assert bal["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}, bal
    assert bal["USDT"] == {"available": "0.00", "held": "0.00", "total": "0.00"}, bal

    # GET by id shows the same session
    g = t.req("GET", f"/off-ramp-sessions/{s['id']}")
    assert g.status == 200, describe(g)
    for k in SEED_RESPONSE:
        if k == "updated_at":
            continue
        assert g.json[k] == s[k], f"GET differs from POST on {k}: {g.json[k]!r} vs {s[k]!r}"

    # and the list holds it
    assert t.session_ids() == [s["id"]]
    server.verify_ledger()


def test_service_principal_attribution(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = t.make_key(["ramps.create", "ramps.read"], kind="service")
    assert k["principal"]["kind"] == "service"
    s = t.create_session(w, key=k["api_key"])
    expect = {"id": k["principal"]["id"], "kind": "service", "tenant_ref": t.ref}
    assert s["subject_attribution"]["authenticated_principal"] == expect, s["subject_attribution"]
    assert s["subject_attribution"]["subject"] == expect, s["subject_attribution"]
    assert s["subject_attribution"]["enterprise_binding"] == {"tenant_type": "enterprise", "topology_ref": t.ref}


def test_get_unknown_session(server, tenant):
    r = tenant.req("GET", f"/off-ramp-sessions/{uuid.uuid4()}")
    assert_error(r, 404, "not_found")


def test_get_malformed_session_id(server, tenant):
    r = tenant.req("GET", "/off-ramp-sessions/not-a-uuid")
    assert r.status in (400, 404), describe(r)
    assert_error(r, r.status, {"invalid_id", "not_found"})


# ---------------------------------------------------------------------------
# amounts, balances
# ---------------------------------------------------------------------------

def test_amount_printing_and_exact_holds(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    cases = [("0.123457", "0.123457"), ("12.5", "12.50"), ("7.000000", "7.00"), ("3", "3.00"),
             ("0.000001", "0.000001"), ("100.10", "100.10")]
    held = Decimal(0)
    for sent, printed in cases:
        s = t.create_session(w, amount=sent)
        assert s["principal_amount"] == {"currency": "USDC", "value": printed}, (sent, s["principal_amount"])
        held += Decimal(sent) + Decimal(s["fee_summary"]["total"]["value"])
        assert s["fee_summary"]["total"]["currency"] == "USDC"
    bal = w.balances()["USDC"]
    assert bal == {"available": fmt_money(Decimal("1000") - held), "held": fmt_money(held), "total": "1000.00"}, bal
    server.verify_ledger()


def test_exact_balance_then_one_cent_over(server):
    t = server.new_tenant()
    w = t.setup("100.00")
    t.create_session(w, amount="99.00")  # 99.00 + 1.00 fee == 100.00
    assert w.balances()["USDC"] == {"available": "0.00", "held": "100.00", "total": "100.00"}
    r = t.req("POST", "/off-ramp-sessions", w.body("0.01"))
    assert_error(r, 422, "insufficient_funds")
    assert w.balances()["USDC"] == {"available": "0.00", "held": "100.00", "total": "100.00"}
    assert len(t.session_ids()) == 1
    server.verify_ledger()


def test_usdt_session(server):
    t = server.new_tenant()
    w = t.setup("10.00")
    t.deposit(w.account_ref, "500.00", "USDT")
    s = t.create_session(w, amount="100.00", currency="USDT")
    assert s["principal_amount"] == {"currency": "USDT", "value": "100.00"}
    assert s["family_params"] == {"source_currency": "USDT", "target_rail": "fiat"}
    assert s["fee_summary"]["total"]["currency"] == "USDT"
    for c in s["fee_summary"]["components"]:
        assert c["amount"]["currency"] == "USDT", s["fee_summary"]
    fee = Decimal(s["fee_summary"]["total"]["value"])
    bal = w.balances()
    assert bal["USDT"] == {"available": fmt_money(Decimal("400.00") - fee), "held": fmt_money(Decimal(100) + fee),
                           "total": "500.00"}, bal
    assert bal["USDC"] == {"available": "10.00", "held": "0.00", "total": "10.00"}, bal
    server.verify_ledger()


def test_concurrent_sessions_never_overdraw(server):
    """16 racing sessions of 100.00 (+1.00 fee) on 1000.00: exactly 9 fit."""
    t = server.new_tenant()
    w = t.setup("1000.00")
    body = w.body("100.00")
    barrier = threading.Barrier(16)

    def go(_):
        barrier.wait()
        return t.req("POST", "/off-ramp-sessions", body)

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(go, range(16)))
    statuses = sorted(r.status for r in res)
    assert set(statuses) <= {201, 422}, [describe(r) for r in res if r.status not in (201, 422)]
    for r in res:
        if r.status == 422:
            assert_error(r, 422, "insufficient_funds")
    assert statuses.count(201) == 9, statuses
    ids = {r.json["id"] for r in res if r.status == 201}
    assert len(ids) == 9
    assert set(t.session_ids()) == ids
    assert w.balances()["USDC"] == {"available": "91.00", "held": "909.00", "total": "1000.00"}
    server.verify_ledger()


def test_balance_cannot_overflow(server):
    """Deposits that together exceed what an int64 of micro-USDC holds
    (9223372036854.775807): each is credited exactly or refused; never a
    wrapped balance."""
    t = server.new_tenant()
    c = t.create_client()
    acct = c["default_account_ref"]
    total = Decimal(0)
    for _ in range(3):
        r = t.req("POST", "/sandbox/deposits",
                  {"account_ref": acct, "amount": {"currency": "USDC", "value": "4000000000000.00"}})
        if r.status == 201:
            total += Decimal("4000000000000.00")
        else:
            assert r.status in (400, 422), describe(r)
            assert_error(r, r.status, {"amount_too_large", "limit_exceeded"})
        bal = t.balances(acct)["USDC"]
        assert bal == {"available": fmt_money(total), "held": "0.00", "total": fmt_money(total)}, bal
    server.verify_ledger()


def test_principal_at_the_edge(server):
    """Principals too large to hold, or larger than the balance, are refused
    without effect (and without an overflow when the fee is added)."""
    t = server.new_tenant()
    w = t.setup("4000000000000.00")
    for value, outcomes in [("9223372036854.775807", {400: {"amount_too_large"}}),
                            ("9223372036854.775808", {400: {"amount_too_large"}}),
                            ("4611686018427.387903", {400: {"amount_too_large"},
                                                      422: {"insufficient_funds", "limit_exceeded"}}),
                            ("4000000000000.00", {422: {"insufficient_funds", "limit_exceeded"}})]:
        r = t.req("POST", "/off-ramp-sessions", w.body(value))
        assert r.status in outcomes, f"{value}: {describe(r)}"
        assert_error(r, r.status, outcomes[r.status])
    assert t.session_ids() == []
    assert w.balances()["USDC"] == {"available": "4000000000000.00", "held": "0.00", "total": "4000000000000.00"}
    s = t.create_session(w, "3999999990000.00")
    assert s["principal_amount"]["value"] == "3999999990000.00"
    held = Decimal("3999999990000.00") + Decimal(s["fee_summary"]["total"]["value"])
    assert w.balances()["USDC"] == {"available": fmt_money(Decimal("4000000000000.00") - held),
                                    "held": fmt_money(held), "total": "4000000000000.00"}
    server.verify_ledger()


# ---------------------------------------------------------------------------
# what the request may look like
# ---------------------------------------------------------------------------

def test_content_type_with_charset_accepted(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    r = t.req("POST", "/off-ramp-sessions", w.body(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status == 201, describe(r)


def test_body_of_exactly_64k_accepted(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    raw = json.dumps(w.body()).encode()
    raw = raw + b" " * (MAX_BODY - len(raw))
    assert len(raw) == MAX_BODY
    r = t.req("POST", "/off-ramp-sessions", raw)
    assert r.status == 201, f"a body of exactly 64 KiB is not over the limit: {describe(r)}"


def test_payment_reference_variants_accepted(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    for ref in ["é" * 140,                  # 140 code points, 280 bytes
                "A" * 140,
                "RF18 5390 0754 7034",       # ISO 11649 print form
                "Invoice 2026-05 / 42"]:
        r = t.req("POST", "/off-ramp-sessions", w.body("1.00", payment_reference=ref))
        assert r.status == 201, f"payment_reference {ref!r}: {describe(r)}"
    assert len(t.session_ids()) == 4


SEPA_COORDS = [
    ("DE", "DE89370400440532013000", "COBADEFFXXX"),
    ("FR", "FR1420041010050500013M02606", "BNPAFRPP"),
    ("NL", "NL91ABNA0417164300", "ABNANL2A"),
    ("AT", "AT611904300234573201", "BKAUATWW"),
    ("IE", "IE29AIBK93115212345678", "AIBKIE2D"),
    ("PL", "PL61109010140000071219812874", "BPKOPLPW"),
    ("CH", "CH9300762011623852957", "UBSWCHZH80A"),
    ("NO", "NO9386011117947", "DNBANOKK"),
    ("MC", "MC5811222000010123456789030", "BARCMCMX"),
]


def test_sepa_destinations_accepted(server):
    """Valid coordinates from several SEPA countries (EU, EEA, CH, MC; BICs of
    8 and 11 characters; IBANs of 15 to 28 characters) are saved and paid to."""
    t = server.new_tenant()
    w = t.setup("1000.00")
    failures = []
    for cc, iban, bic in SEPA_COORDS:
        d = sepa_destination(bc_country=cc, bc_iban=iban, bc_bic=bic)
        r = t.req("POST", "/withdrawal-destinations", {"account_ref": w.account_ref, "destination": d},
                  headers={"Idempotency-Key": str(uuid.uuid4())})
        if r.status != 201:
            failures.append(f"{cc} destination: {describe(r)}")
            continue
        body = w.body("1.00")
        body["destination"]["destination"] = d
        body["destination"]["withdrawal_destination_id"] = r.json["id"]
        r = t.req("POST", "/off-ramp-sessions", body)
        if r.status != 201:
            failures.append(f"{cc} session: {describe(r)}")
    assert not failures, "\n".join(failures)


def test_json_escapes_are_decoded(server):
    """Keys and values written with JSON escapes mean the same as plain ones."""
    t = server.new_tenant()
    w = t.setup("1000.00")
    raw = json.dumps(w.body("5.00"))
    raw = raw.replace('"account_ref"', '"account_\\u0072ef"', 1)
    raw = raw.replace("client-accounts/", "client-accounts\\/", 1)
    raw = raw.replace('"USDC"', '"USD\\u0043"', 1)
    raw = raw.replace('"Acme Treasury"', '"Acme\\u0020Treasury"')
    r = t.req("POST", "/off-ramp-sessions", raw.encode())
    assert r.status == 201, f"{describe(r)}\nbody: {raw}"
    assert r.json["account_ref"] == w.account_ref
    assert r.json["principal_amount"] == {"currency": "USDC", "value": "5.00"}


def test_session_from_second_account(server):
    """Any account of the client may be the source; holds hit that account only."""
    t = server.new_tenant()
    w = t.setup("1000.00")
    a2 = t.create_account(w.client_id)
    ref2 = f"client-accounts/{a2['id']}"
    t.deposit(ref2, "300.00")
    d2 = t.create_destination(ref2)
    assert d2["route_owner_ref"] == f"clients/{w.client_id}"
    body = w.body("50.00")
    body["account_ref"] = ref2
    body["destination"]["withdrawal_destination_id"] = d2["id"]
    r = t.req("POST", "/off-ramp-sessions", body)
    assert r.status == 201, describe(r)
    assert r.json["account_ref"] == ref2
    assert t.balances(ref2)["USDC"] == {"available": "249.00", "held": "51.00", "total": "300.00"}
    assert w.balances()["USDC"] == {"available": "1000.00", "held": "0.00", "total": "1000.00"}


# ---------------------------------------------------------------------------
# lists
# ---------------------------------------------------------------------------

def _page(t, **q):
    r = t.req("GET", "/off-ramp-sessions?" + urllib.parse.urlencode(q))
    assert r.status == 200, describe(r)
    assert set(r.json) >= {"items", "next_page_token"}, r.json
    return r.json


def test_list_newest_first_and_paging(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    created = [t.create_session(w, amount=f"{i}.00")["id"] for i in range(1, 6)]
    newest_first = list(reversed(created))

    p1 = _page(t, page_size=2)
    assert [s["id"] for s in p1["items"]] == newest_first[:2]
    assert p1["next_page_token"]
    p2 = _page(t, page_size=2, page_token=p1["next_page_token"])
    assert [s["id"] for s in p2["items"]] == newest_first[2:4]
    assert p2["next_page_token"]
    p3 = _page(t, page_size=2, page_token=p2["next_page_token"])
    assert [s["id"] for s in p3["items"]] == newest_first[4:]
    assert p3["next_page_token"] is None

    # one page holds all
    p = _page(t, page_size=10)
    assert [s["id"] for s in p["items"]] == newest_first
    assert p["next_page_token"] is None
    # page_size equal to the count: the last page may or may not be announced, but
    # following the token must end with no items lost or repeated
    ids = t.session_ids(page_size=5)
    assert ids == newest_first
    # items are full sessions
    assert p["items"][0]["principal_amount"] == {"currency": "USDC", "value": "5.00"}
    assert p["items"][0]["status"] == "executing"


def test_list_paging_stable_under_inserts(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    created = [t.create_session(w, amount="1.00")["id"] for _ in range(6)]
    seen = []
    p = _page(t, page_size=2)
    seen += [s["id"] for s in p["items"]]
    token = p["next_page_token"]
    newer = []
    while token:
        newer.append(t.create_session(w, amount="1.00")["id"])  # insert between pages
        p = _page(t, page_size=2, page_token=token)
        seen += [s["id"] for s in p["items"]]
        token = p["next_page_token"]
    assert len(seen) == len(set(seen)), f"an item was listed twice: {seen}"
    assert seen == list(reversed(created)), "paging skipped or reordered items while new ones were inserted"
    assert not set(newer) & set(seen)
    # a fresh listing has everything, newest first
    assert t.session_ids() == list(reversed(created + newer))


def test_list_filters(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    a2 = t.create_account(w.client_id)
    ref2 = f"client-accounts/{a2['id']}"
    t.deposit(ref2, "100.00")
    d2 = t.create_destination(ref2)
    s1 = t.create_session(w, amount="10.00")["id"]
    body = w.body("5.00")
    body["account_ref"] = ref2
    body["destination"]["withdrawal_destination_id"] = d2["id"]
    r = t.req("POST", "/off-ramp-sessions", body)
    assert r.status == 201, describe(r)
    s2 = r.json["id"]
    s3 = t.create_session(w, amount="11.00")["id"]

    assert t.session_ids() == [s3, s2, s1]
    assert t.session_ids(account_ref=w.account_ref) == [s3, s1]
    assert t.session_ids(account_ref=ref2) == [s2]
    assert t.session_ids(status="executing") == [s3, s2, s1]
    assert t.session_ids(status="settled") == []
    assert t.session_ids(status="failed") == []
    assert t.session_ids(status="executing", account_ref=ref2) == [s2]
    assert t.session_ids(status="cancelled", account_ref=ref2) == []
    # filters combine with paging
    assert t.session_ids(account_ref=w.account_ref, page_size=1) == [s3, s1]


def test_list_bad_query_parameters(server, tenant):
    for q in ["page_size=0", "page_size=-1", "page_size=abc", "status=bogus",
              "bogus_param=1", "account_ref=not-a-ref"]:
        r = tenant.req("GET", f"/off-ramp-sessions?{q}")
        assert r.status == 400, f"?{q}: {describe(r)}"
        assert_error(r, 400, {"invalid_query_parameter", "invalid_reference", "invalid_id"})
    r = tenant.req("GET", "/off-ramp-sessions?page_token=garbage")
    assert_error(r, 400, "invalid_page_token")


def test_list_page_size_is_parsed_strictly(server, tenant):
    """page_size is a plain positive integer: signs, blanks and NUL bytes are
    invalid, not silently skipped or truncated."""
    bad = []
    for q in ["page_size=+1", "page_size=%201", "page_size=%0A1", "page_size=1%00", "page_size=1%002"]:
        r = tenant.req("GET", f"/off-ramp-sessions?{q}")
        if r.status != 400 or (r.json or {}).get("code") != "invalid_query_parameter":
            bad.append(f"?{q}: {describe(r)}")
    assert not bad, "\n".join(bad)


def test_list_empty_for_new_tenant(server):
    t = server.new_tenant()
    p = _page(t)
    assert p["items"] == [] and p["next_page_token"] is None, p


def test_zz_ledger_consistent(server):
    server.verify_ledger()
