"""Idempotency-Key (contract section 7): replay byte for byte with
X-Idempotency-Cached: true; a changed body is 409 idempotency_key_reused;
racing duplicates have one effect; which answers are kept and which are not;
keys are scoped to tenant and endpoint and survive a restart."""

import concurrent.futures
import json
import threading
import uuid
from decimal import Decimal

from offramp_e2e import assert_error, describe, fmt_money, sepa_destination


def cached(r):
    return r.headers.get("x-idempotency-cached", "").lower() == "true"


def post(t, body, key_hdr, path="/off-ramp-sessions", api_key=None):
    return t.req("POST", path, body, key=api_key, headers={"Idempotency-Key": key_hdr})


def test_replay_is_byte_identical(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = f"replay-{uuid.uuid4()}"
    first = post(t, w.body(), k)
    assert first.status == 201, describe(first)
    assert not cached(first), "the first answer must not claim to be cached"
    for _ in range(3):
        again = post(t, w.body(), k)
        assert again.status == 201, describe(again)
        assert cached(again), f"replay lacks X-Idempotency-Cached: true: {again.headers}"
        assert again.raw == first.raw, f"replay differs:\n{first.raw!r}\n{again.raw!r}"
    assert t.session_ids() == [first.json["id"]]
    assert w.balances()["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}
    server.verify_ledger()


def test_same_body_different_key_order_or_spacing_is_not_a_conflict_or_is_a_replay(server):
    """The same JSON document serialised differently is the same request:
    either replayed or (if the service compares bytes) 409 - never a second
    session."""
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = f"fmt-{uuid.uuid4()}"
    first = post(t, w.body(), k)
    assert first.status == 201, describe(first)
    again = post(t, json.dumps(w.body(), indent=2, sort_keys=True).encode(), k)
    assert again.status in (201, 409), describe(again)
    if again.status == 201:
        assert cached(again) and again.raw == first.raw
    else:
        assert_error(again, 409, "idempotency_key_reused")
    assert len(t.session_ids()) == 1


def test_changed_body_conflicts(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = f"conflict-{uuid.uuid4()}"
    first = post(t, w.body("250.00"), k)
    assert first.status == 201, describe(first)
    for changed in (w.body("250.01"), w.body("250.00", payment_reference="Invoice 7")):
        r = post(t, changed, k)
        assert_error(r, 409, "idempotency_key_reused")
        assert not cached(r)
    # the 409 was not kept: the original still replays
    again = post(t, w.body("250.00"), k)
    assert again.status == 201 and cached(again) and again.raw == first.raw, describe(again)
    assert t.session_ids() == [first.json["id"]]
    assert w.balances()["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}
    server.verify_ledger()


def test_sixteen_concurrent_duplicates_one_effect(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = f"race-{uuid.uuid4()}"
    body = w.body()
    barrier = threading.Barrier(16)

    def go(_):
        barrier.wait()
        return post(t, body, k)

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(go, range(16)))
    bad = [describe(r) for r in res if r.status not in (201, 409)]
    assert not bad, f"unexpected answers: {bad}"
    for r in res:
        if r.status == 409:
            assert_error(r, 409, "idempotency_key_in_flight")
    ok = [r for r in res if r.status == 201]
    assert ok, "no request succeeded"
    assert len({r.raw for r in ok}) == 1, "the 201 answers differ"
    fresh = [r for r in ok if not cached(r)]
    assert len(fresh) == 1, f"{len(fresh)} answers were not marked as replays; exactly one request may run"
    sid = ok[0].json["id"]
    assert t.session_ids() == [sid]
    assert w.balances()["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}
    # and afterwards the key replays
    again = post(t, body, k)
    assert again.status == 201 and cached(again) and again.raw == ok[0].raw
    server.verify_ledger()


def test_key_length_limits(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    r = post(t, w.body(), "k" * 256)
    assert_error(r, 400, "invalid_idempotency_key")
    r = post(t, w.body(), "k" * 1000)
    assert_error(r, 400, "invalid_idempotency_key")
    r = post(t, w.body(), "")
    assert_error(r, 400, "invalid_idempotency_key")
    assert t.session_ids() == []
    assert w.balances()["USDC"]["held"] == "0.00"
    k255 = "k" * 254 + uuid.uuid4().hex[:1]
    r = post(t, w.body(), k255)
    assert r.status == 201, f"a 255-character key is allowed: {describe(r)}"
    again = post(t, w.body(), k255)
    assert again.status == 201 and cached(again) and again.raw == r.raw
    assert len(t.session_ids()) == 1


def test_422_is_kept_and_replayed(server):
    t = server.new_tenant()
    w = t.setup("100.00")
    k = f"poor-{uuid.uuid4()}"
    first = post(t, w.body("200.00"), k)
    assert_error(first, 422, "insufficient_funds")
    t.deposit(w.account_ref, "1000.00")  # now it would fit...
    again = post(t, w.body("200.00"), k)
    # ...but the key already has an answer
    assert again.status == 422 and cached(again), describe(again)
    assert again.raw == first.raw
    assert t.session_ids() == []
    assert w.balances()["USDC"] == {"available": "1100.00", "held": "0.00", "total": "1100.00"}
    # a new key runs
    r = post(t, w.body("200.00"), f"rich-{uuid.uuid4()}")
    assert r.status == 201, describe(r)
    server.verify_ledger()


def test_400_and_404_are_kept_and_replayed(server):
    t = server.new_tenant()
    w = t.setup("100.00")
    k = f"bad-{uuid.uuid4()}"
    body = w.body("1.00", payment_reference="A" * 141)
    first = post(t, body, k)
    assert_error(first, 400, "payment_reference_too_long")
    again = post(t, body, k)
    assert again.status == 400 and cached(again) and again.raw == first.raw, describe(again)

    k = f"absent-{uuid.uuid4()}"
    body = w.body("1.00")
    body["account_ref"] = f"client-accounts/{uuid.uuid4()}"
    first = post(t, body, k)
    assert_error(first, 404, "not_found")
    again = post(t, body, k)
    assert again.status == 404 and cached(again) and again.raw == first.raw, describe(again)

    # a malformed body is a processed 400 too; fixing it under the same key is a different request
    k = f"malformed-{uuid.uuid4()}"
    first = post(t, b'{"account_ref": ', k)
    assert_error(first, 400, "invalid_json")
    again = post(t, b'{"account_ref": ', k)
    assert again.status == 400 and cached(again) and again.raw == first.raw, describe(again)
    fixed = post(t, w.body("1.00"), k)
    assert_error(fixed, 409, "idempotency_key_reused")
    assert t.session_ids() == []

    # a path id that is no UUID names nothing: a processed 404, kept too (fuzz_sessions_api)
    k = f"no-uuid-{uuid.uuid4()}"
    first = post(t, None, k, path="/off-ramp-sessions/not-a-uuid/cancel")
    assert_error(first, 404, "not_found")
    again = post(t, None, k, path="/off-ramp-sessions/not-a-uuid/cancel")
    assert again.status == 404 and cached(again) and again.raw == first.raw, describe(again)
    assert_error(post(t, {"reason": "x"}, k, path="/off-ramp-sessions/not-a-uuid/cancel"), 409,
                 "idempotency_key_reused")


def test_401_and_403_are_not_kept(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = f"auth-{uuid.uuid4()}"
    r = post(t, w.body(), k, api_key="sk_not_a_key_" + uuid.uuid4().hex)
    assert_error(r, 401, "unauthenticated")
    nocap = t.key_without("ramps.create")
    r = post(t, w.body(), k, api_key=nocap)
    assert_error(r, 403, "missing_capability")
    r = post(t, w.body(), k)
    assert r.status == 201 and not cached(r), f"401/403 must not be kept: {describe(r)} cached={cached(r)}"
    assert len(t.session_ids()) == 1


def test_keys_are_scoped_to_endpoint_and_tenant(server):
    a = server.new_tenant()
    wa = a.setup("1000.00")
    b = server.new_tenant()
    wb = b.setup("1000.00")
    k = f"shared-{uuid.uuid4()}"
    ra = post(a, wa.body(), k)
    assert ra.status == 201, describe(ra)
    # the same key on another endpoint of the same tenant is a different key
    rc = post(a, {"display_name": "Keyed Client"}, k, path="/clients")
    assert rc.status == 201 and not cached(rc), describe(rc)
    assert rc.json["display_name"] == "Keyed Client"
    # the same key in another tenant is a different key
    rb = post(b, wb.body(), k)
    assert rb.status == 201 and not cached(rb), describe(rb)
    assert rb.json["id"] != ra.json["id"]
    assert rb.json["account_ref"] == wb.account_ref
    assert a.session_ids() == [ra.json["id"]]
    assert b.session_ids() == [rb.json["id"]]


def test_setup_endpoints_are_idempotent(server):
    t = server.new_tenant()
    k = f"client-{uuid.uuid4()}"
    c1 = post(t, {"display_name": "Once"}, k, path="/clients")
    c2 = post(t, {"display_name": "Once"}, k, path="/clients")
    assert c1.status == 201 and c2.status == 201 and cached(c2) and c2.raw == c1.raw, describe(c2)
    acct = c1.json["default_account_ref"]

    k = f"deposit-{uuid.uuid4()}"
    body = {"account_ref": acct, "amount": {"currency": "USDC", "value": "100.00"}}
    d1 = post(t, body, k, path="/sandbox/deposits")
    d2 = post(t, body, k, path="/sandbox/deposits")
    assert d1.status == 201 and d2.status == 201 and cached(d2) and d2.raw == d1.raw, describe(d2)
    assert t.balances(acct)["USDC"]["total"] == "100.00", "a replayed deposit credited twice"
    r = post(t, {**body, "amount": {"currency": "USDC", "value": "200.00"}}, k, path="/sandbox/deposits")
    assert_error(r, 409, "idempotency_key_reused")
    assert t.balances(acct)["USDC"]["total"] == "100.00"

    k = f"dest-{uuid.uuid4()}"
    body = {"account_ref": acct, "destination": sepa_destination()}
    x1 = post(t, body, k, path="/withdrawal-destinations")
    x2 = post(t, body, k, path="/withdrawal-destinations")
    assert x1.status == 201 and x2.status == 201 and cached(x2) and x2.raw == x1.raw, describe(x2)
    r = post(t, {"account_ref": acct, "destination": sepa_destination(beneficiary_name="Other")}, k,
             path="/withdrawal-destinations")
    assert_error(r, 409, "idempotency_key_reused")
    server.verify_ledger()


def test_replay_survives_restart(server_factory):
    s1 = server_factory()
    t = s1.new_tenant()
    w = t.setup("1000.00")
    k = f"durable-{uuid.uuid4()}"
    first = post(t, w.body(), k)
    assert first.status == 201, describe(first)
    s1.stop_checked()

    s2 = server_factory(db=s1.db)
    t.server = s2
    again = post(t, w.body(), k)
    assert again.status == 201 and cached(again), describe(again)
    assert again.raw == first.raw
    assert t.session_ids() == [first.json["id"]]
    assert w.balances()["USDC"] == {"available": "749.00", "held": "251.00", "total": "1000.00"}
    s2.verify_ledger()


def test_sixteen_concurrent_keyed_deposits_credit_once(server):
    t = server.new_tenant()
    c = t.create_client()
    acct = c["default_account_ref"]
    k = f"dep-race-{uuid.uuid4()}"
    body = {"account_ref": acct, "amount": {"currency": "USDC", "value": "100.00"}}
    barrier = threading.Barrier(16)

    def go(_):
        barrier.wait()
        return post(t, body, k, path="/sandbox/deposits")

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        res = list(ex.map(go, range(16)))
    bad = [describe(r) for r in res if r.status not in (201, 409)]
    assert not bad, bad
    assert len([r for r in res if r.status == 201 and not cached(r)]) == 1
    assert t.balances(acct)["USDC"] == {"available": "100.00", "held": "0.00", "total": "100.00"}
    server.verify_ledger()


def test_concurrent_different_bodies_same_key_one_effect(server):
    t = server.new_tenant()
    w = t.setup("1000.00")
    k = f"mixed-race-{uuid.uuid4()}"
    barrier = threading.Barrier(8)

    def go(i):
        barrier.wait()
        return post(t, w.body(f"{i + 1}.00"), k)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(go, range(8)))
    bad = [describe(r) for r in res if r.status not in (201, 409)]
    assert not bad, bad
    ok = [r for r in res if r.status == 201]
    assert len(ok) == 1, f"{len(ok)} different bodies under one key were all accepted"
    for r in res:
        if r.status == 409:
            assert_error(r, 409, {"idempotency_key_reused", "idempotency_key_in_flight"})
    sessions = t.list_sessions()
    assert [s["id"] for s in sessions] == [ok[0].json["id"]]
    held = Decimal(ok[0].json["principal_amount"]["value"]) + Decimal(ok[0].json["fee_summary"]["total"]["value"])
    assert w.balances()["USDC"]["held"] == fmt_money(held)
    server.verify_ledger()


def test_concurrent_destination_creation_one_effect(server):
    t = server.new_tenant()
    c = t.create_client()
    k = f"dest-race-{uuid.uuid4()}"
    body = {"account_ref": c["default_account_ref"], "destination": sepa_destination()}
    barrier = threading.Barrier(8)

    def go(_):
        barrier.wait()
        return post(t, body, k, path="/withdrawal-destinations")

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(go, range(8)))
    bad = [describe(r) for r in res if r.status not in (201, 409)]
    assert not bad, bad
    ids = {r.json["id"] for r in res if r.status == 201}
    assert len(ids) == 1, f"one idempotency key created {len(ids)} destinations"
