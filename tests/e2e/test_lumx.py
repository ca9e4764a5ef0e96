"""The Lumx-compatible API (docs/API.md "Lumx-compatible API", CONTRACT 6,
the Lumx seed page 004_386da5fa55c3c2d9.txt, docs/LIFECYCLE.md):

- the seed: a BUSINESS customer, funded through its accountRef, a SEPA
  destination (holder SELF), the seed's body -> 202 in the seed's shape, then
  TRANSFERRING_STABLECOIN -> TRADING -> TRANSFERRING_FIAT -> SUCCESS with the
  receipt; the hold is posted; the ledger holds;
- failures by cents (.05, .06) show REFUNDED with state.error and leave the
  account as before;
- transaction fields: metadata (every number's text kept as sent), memo (the
  payment reference), blockchain (chooses the network fee), purpose vs the
  holder's relationship;
- validation, idempotency (UUID keys, replay, conflict);
- customers in Lumx's shape (verification, requirements, transactionLimits,
  metadata), verified by the tax id's last digit, only APPROVED ones transact;
- destinations on every rail, with their field errors;
- a transaction settles on every rail;
- both surfaces see the same customers, destinations and transactions;
- lists with nextCursor / previousCursor;
- exchange rates (FLOATING, LOCKED, single use, expiry, mismatch);
- partner fees (named, rounding; a default one applies only when named);
- customer limits (per transaction, daily, monthly, on both surfaces).

Servers: `server` (an hour-long sandbox step: transactions stay in
TRANSFERRING_STABLECOIN with their hold) for what must not move, and
`fast_server` (LIFECYCLE_STEP_MS) for what must settle or fail. Tests that
change the operator's FX table start their own server. Every wait is a poll
with a deadline. The 30 s expiry test runs only with OFFRAMP_SLOW=1.
"""

import concurrent.futures
import copy
import datetime
import json
import os
import time
import uuid
from decimal import ROUND_DOWN, Decimal

import pytest

from offramp_e2e import (
    mask_bank_number,
    masked,
    EXACT_META, SHARED, TS_RE, UUID_RE, World, assert_error, assert_exact_metadata, describe, exact_json,
    exact_tx_text, fmt_money, poll_until, same_exact, sepa_destination,
)

SETTLE_TIMEOUT = 30.0
SEED_STEP_MS = 300          # the seed test's own server: each Lumx state lasts 0.3 s
RATES = {"EUR": "0.92", "USD": "1.00", "GBP": "0.79", "BRL": "5.50", "MXN": "17.20"}
NETWORK_FEE = Decimal("1.00")
FINAL = ("SUCCESS", "REFUNDED", "CANCELLED")
HAPPY = ["TRANSFERRING_STABLECOIN", "TRADING", "TRANSFERRING_FIAT", "SUCCESS"]
TX_KEYS = {"id", "customerId", "type", "request", "state", "metadata", "createdAt", "updatedAt"}

# ---------------------------------------------------------------------------
# the seed page
# ---------------------------------------------------------------------------

LUMX_SEED_FILE = SHARED / "seeds" / "004_386da5fa55c3c2d9.txt"
_SEED_BODY_FALLBACK = {"bankAccountId": "e80d3137-eddd-4791-b9b8-6e36b289f284", "sourceCurrency": "USDC",
                       "sourceAmount": "1000.00", "purpose": "PERSONAL_ACCOUNT"}
_SEED_ANSWER_FALLBACK = {
    "id": "123e4567-e89b-12d3-a456-426614174003", "customerId": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "type": "OFF_RAMP", "request": dict(_SEED_BODY_FALLBACK), "state": {"status": "TRANSFERRING_STABLECOIN"},
    "metadata": {}, "createdAt": "2024-03-20T15:30:00Z", "updatedAt": "2024-03-20T15:30:05Z"}


def _load_lumx_seed():
    """(request body, answer) from the seed page: the curl's --data and the
    JSON object that follows it."""
    try:
        text = LUMX_SEED_FILE.read_text(encoding="utf-8")
        dec = json.JSONDecoder()
        i = text.index("--data")
        j = text.index("{", i)
        body, end = dec.raw_decode(text, j)
        k = text.index("{", end)
        answer, _ = dec.raw_decode(text, k)
        return body, answer
    except (OSError, ValueError):
        return copy.deepcopy(_SEED_BODY_FALLBACK), copy.deepcopy(_SEED_ANSWER_FALLBACK)


SEED_BODY, SEED_ANSWER = _load_lumx_seed()

# ---------------------------------------------------------------------------
# vectors
# ---------------------------------------------------------------------------

DE_IBAN = "DE89370400440532013000"
FR_IBAN = "FR1420041010050500013M02606"
GB_IBAN = "GB29NWBK60161331926819"
BR_IBAN = "BR1800360305000010009795493C1"
CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
CLABE = "032180000118359719"
RANDOM_KEY = "123e4567-e89b-12d3-a456-426614174000"

# rail -> (currency, identifier)
IDENT = {
    "SEPA": ("EUR", {"iban": DE_IBAN, "bic": "COBADEFFXXX"}),
    "SEPA_INSTANT": ("EUR", {"iban": FR_IBAN}),
    "ACH": ("USD", {"routingNumber": "021000021", "accountNumber": "12345678", "accountType": "CHECKING"}),
    "ACH_SAVINGS": ("USD", {"routingNumber": "021000021", "accountNumber": "87654321", "accountType": "SAVINGS"}),
    "WIRE": ("USD", {"routingNumber": "026009593", "accountNumber": "12345678", "accountType": "SAVINGS"}),
    "FASTER_PAYMENTS": ("GBP", {"sortCode": "60-16-13", "accountNumber": "31926819"}),
    "PIX_CPF": ("BRL", {"keyType": "CPF", "keyValue": CPF}),
    "PIX_CNPJ": ("BRL", {"keyType": "CNPJ", "keyValue": CNPJ}),
    "PIX_EMAIL": ("BRL", {"keyType": "EMAIL", "keyValue": "Pix@Example.com.br"}),
    "PIX_PHONE": ("BRL", {"keyType": "PHONE", "keyValue": "+5511999998888"}),
    "PIX_RANDOM": ("BRL", {"keyType": "RANDOM", "keyValue": RANDOM_KEY}),
    "SPEI": ("MXN", {"clabe": CLABE}),
    "SWIFT_ACCOUNT": ("USD", {"bic": "DEUTDEFF", "accountNumber": "0532013000"}),
    "SWIFT_IBAN": ("GBP", {"bic": "NWBKGB2L", "iban": GB_IBAN}),
}


def rail_of(key):
    """IDENT key -> the Lumx rail name."""
    for prefix in ("SEPA_INSTANT", "FASTER_PAYMENTS"):
        if key.startswith(prefix):
            return prefix
    return key.split("_", 1)[0]


RELATIONSHIPS = ["SELF", "HOLDING_COMPANY", "SUBSIDIARY_COMPANY", "BRANCH_OFFICE", "BUSINESS_PARTNER", "SUPPLIER",
                 "CUSTOMER", "CREDITOR", "DEBTOR", "FRANCHISEE"]
PURPOSES = ["PERSONAL_ACCOUNT", "INVESTMENT", "REAL_ESTATE", "TRADE_TRANSACTIONS", "TAX", "LOAN", "BILLS",
            "EXPENSES_REIMBURSEMENT", "PROFESSIONAL_SERVICES"]


def holder(relationship="SELF", **changes):
    h = {"type": "BUSINESS", "relationship": relationship, "legalName": "Acme Treasury GmbH",
         "taxId": "DE123456789", "email": "treasury@acme.example", "incorporationDate": "2015-04-01",
         "address": {"line1": "Unter den Linden 1", "line2": "3. OG", "city": "Berlin", "state": "BE",
                     "postalCode": "10117", "country": "DEU"}}
    h.update(changes)
    return h


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _ts(s):
    assert isinstance(s, str) and TS_RE.match(s), f"not an RFC 3339 UTC timestamp: {s!r}"
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _floor(amount, rate, minor=2):
    q = Decimal(1).scaleb(-minor)
    return fmt_money((Decimal(amount) * Decimal(rate)).quantize(q, rounding=ROUND_DOWN))


def _idem():
    return {"Idempotency-Key": str(uuid.uuid4())}


def _ok(cond_resp, status, what):
    assert cond_resp.status == status, f"{what}: expected {status}, got {describe(cond_resp)}"
    return cond_resp.json


class Lumx:
    """One tenant seen through the Lumx surface (and the sessions API where a
    test needs it)."""

    def __init__(self, server, name=None):
        self.server = server
        self.t = server.new_tenant(name)
        self.ref = self.t.ref
        self.key = self.t.key

    def req(self, method, path, body=None, key=None, headers=None):
        return self.t.req(method, path, body, key=key, headers=headers)

    # customers -------------------------------------------------------------
    @staticmethod
    def customer_body(kind="BUSINESS", **changes):
        if kind == "BUSINESS":
            b = {"type": "BUSINESS", "legalName": "Acme Treasury GmbH", "country": "DEU",
                 "email": "ops@acme.example", "taxId": "DE123456789", "incorporationDate": "2015-04-01"}
        else:
            b = {"type": "INDIVIDUAL", "name": "Maria Silva", "country": "BRA", "email": "maria@example.com",
                 "taxId": "52998224725", "birthDate": "1990-05-17"}
        b.update(changes)
        return b

    def customer(self, kind="BUSINESS", fund=None, currency="USDC", **changes):
        c = _ok(self.req("POST", "/customers", self.customer_body(kind, **changes)), 201, "POST /customers")
        if fund:
            self.fund(c, fund, currency)
        return c

    def fund(self, customer, value, currency="USDC"):
        self.t.deposit(customer["accountRef"], value, currency)

    def get_customer(self, cid):
        return _ok(self.req("GET", f"/customers/{cid}"), 200, f"GET /customers/{cid}")

    def set_limits(self, cid, per_transaction, daily, monthly=None):
        body = {"perTransaction": per_transaction, "daily": daily}
        if monthly is not None:
            body["monthly"] = monthly
        r = self.req("PUT", f"/customers/{cid}/limits", body)
        return _ok(r, 200, f"PUT /customers/{cid}/limits")

    def balance(self, customer, currency="USDC"):
        return self.t.balances(customer["accountRef"])[currency]

    # destinations ----------------------------------------------------------
    @staticmethod
    def destination_body(customer_id, key="SEPA", relationship="SELF", **changes):
        cur, ident = IDENT[key]
        b = {"customerId": customer_id, "name": f"{key} account", "rail": rail_of(key), "currency": cur,
             "identifier": copy.deepcopy(ident), "holder": holder(relationship)}
        b.update(changes)
        return b

    def destination(self, customer, key="SEPA", relationship="SELF", **changes):
        body = self.destination_body(customer["id"], key, relationship, **changes)
        return _ok(self.req("POST", "/destinations", body), 201, f"POST /destinations {key}")

    # transactions ----------------------------------------------------------
    @staticmethod
    def tx_body(dest, amount="100.00", source="USDC", purpose="PERSONAL_ACCOUNT", **extra):
        b = {"bankAccountId": dest["id"] if isinstance(dest, dict) else dest, "sourceCurrency": source,
             "sourceAmount": amount, "purpose": purpose}
        b.update(extra)
        return b

    def post_tx(self, body, key=None, headers=None):
        return self.req("POST", "/transactions/off-ramp", body, key=key, headers=headers)

    def tx(self, dest, amount="100.00", source="USDC", purpose="PERSONAL_ACCOUNT", **extra):
        body = self.tx_body(dest, amount, source, purpose, **extra)
        return _ok(self.post_tx(body), 202, f"POST /transactions/off-ramp {body}")

    def get_tx(self, tid):
        return _ok(self.req("GET", f"/transactions/{tid}"), 200, f"GET /transactions/{tid}")

    def watch(self, tid, until=FINAL, timeout=SETTLE_TIMEOUT, interval=0.02):
        """GET the transaction until state.status is in `until`; returns (last,
        the distinct statuses seen in order)."""
        seen = []

        def step():
            x = self.get_tx(tid)
            st = x["state"]["status"]
            if not seen or seen[-1] != st:
                seen.append(st)
            return st in until, x
        last = poll_until(step, timeout, f"transaction {tid} to reach {until}", interval)
        return last, seen

    def session(self, sid):
        return _ok(self.req("GET", f"/off-ramp-sessions/{sid}"), 200, f"GET /off-ramp-sessions/{sid}")

    def list_tx(self, **params):
        q = "&".join(f"{k}={v}" for k, v in params.items())
        return self.req("GET", "/transactions" + (f"?{q}" if q else ""))

    # exchange rates, partner fees -------------------------------------------
    def rate(self, type_="LOCKED", time_lock="5m", source="USDC", target="EUR"):
        body = {"sourceCurrency": source, "targetCurrency": target, "type": type_}
        if time_lock is not None:
            body["timeLock"] = time_lock
        return _ok(self.req("POST", "/exchange-rates", body), 201, f"POST /exchange-rates {body}")

    def partner_fee(self, bps=50, flat="0.50", default=False, name="Partner"):
        body = {"name": name, "basisPoints": bps, "flatAmount": flat, "default": default}
        return _ok(self.req("POST", "/partner-fees", body), 201, f"POST /partner-fees {body}")


def _bal(value, held="0.00"):
    v, h = Decimal(value), Decimal(held)
    return {"available": fmt_money(v - h), "held": fmt_money(h), "total": fmt_money(v)}


def _fee_components(session):
    """{kind: Decimal} of a session's fee_summary."""
    out = {}
    for c in session["fee_summary"]["components"]:
        amt = c["amount"]
        out[c["kind"]] = Decimal(amt["value"] if isinstance(amt, dict) else amt)
    return out


def _fee_total(session):
    t = session["fee_summary"]["total"]
    return Decimal(t["value"] if isinstance(t, dict) else t)


def _assert_forward(seen, path=HAPPY):
    pos = 0
    for st in seen:
        assert st in path, f"status {st} is not on the path {path}; observed {seen}"
        i = path.index(st)
        assert i >= pos, f"status {st} seen after a later one: {seen}"
        pos = i


def _ledger_ok(server):
    out = server.verify_ledger()
    assert '"ok":true' in out.replace(" ", ""), out


def _detail_decimal(d, key):
    v = d.get(key)
    if isinstance(v, dict):
        v = v.get("value")
    assert isinstance(v, str), f"details.{key} should be an amount string: {d}"
    return Decimal(v)


@pytest.fixture(scope="module")
def lx(server):
    """A tenant on the slow server with a funded BUSINESS customer and a SEPA
    destination (SELF) for the static tests."""
    x = Lumx(server, "lumx-static")
    x.cust = x.customer(fund="100000.00")
    x.fund(x.cust, "1000.00", "USDT")
    x.dest = x.destination(x.cust, "SEPA")
    return x


# ---------------------------------------------------------------------------
# the seed
# ---------------------------------------------------------------------------

def test_seed_transaction_settles(server_factory):
    srv = server_factory(step_ms=SEED_STEP_MS)
    x = Lumx(srv, "lumx-seed")
    cust = x.customer("BUSINESS")
    assert cust["status"] == "APPROVED" and cust["type"] == "BUSINESS", cust
    assert isinstance(cust["accountRef"], str) and cust["accountRef"].startswith("client-accounts/"), cust
    x.fund(cust, "2500.00")
    dest = x.destination(cust, "SEPA", "SELF")
    assert dest["holder"]["relationship"] == "SELF", dest

    body = copy.deepcopy(SEED_BODY)
    body["bankAccountId"] = dest["id"]
    assert body["sourceAmount"] == "1000.00" and body["purpose"] == "PERSONAL_ACCOUNT", body
    r = x.post_tx(body)
    assert r.status == 202, f"the seed body: {describe(r)}"
    tx = r.json
    assert set(tx) == set(SEED_ANSWER), f"keys differ from the seed's answer: {sorted(tx)} vs {sorted(SEED_ANSWER)}"
    assert UUID_RE.match(tx["id"]), tx
    assert tx["customerId"] == cust["id"], tx
    assert tx["type"] == "OFF_RAMP", tx
    assert tx["request"] == body, f"request must be what was sent: {tx['request']} vs {body}"
    assert tx["state"] == {"status": "TRANSFERRING_STABLECOIN"}, tx
    assert tx["metadata"] == {}, tx
    assert _ts(tx["updatedAt"]) >= _ts(tx["createdAt"]), tx

    # the hold is principal + the network fee while it runs
    bal = x.balance(cust)
    if x.get_tx(tx["id"])["state"]["status"] != "SUCCESS":
        assert bal == _bal("2500.00", "1001.00"), bal

    final, seen = x.watch(tx["id"], interval=0.01)
    assert final["state"]["status"] == "SUCCESS", final
    _assert_forward(["TRANSFERRING_STABLECOIN"] + seen)
    for st in ("TRADING", "TRANSFERRING_FIAT"):
        assert st in seen, f"{st} not observed (step {SEED_STEP_MS} ms, polled every 10 ms): {seen}"
    assert final["state"]["receipt"] == {
        "rate": "0.92", "sourceAmount": "1000.00", "sourceCurrency": "USDC", "targetAmount": "920.00",
        "targetCurrency": "EUR",
        "fees": {"currency": "USDC", "platform": "1.00", "partner": "0.00", "total": "1.00"},
    }, final["state"]
    assert "error" not in final["state"], final
    for k in ("id", "customerId", "type", "request", "metadata", "createdAt"):
        assert final[k] == tx[k], f"{k} changed: {tx[k]!r} -> {final[k]!r}"
    assert _ts(final["updatedAt"]) >= _ts(final["createdAt"]), final

    assert x.balance(cust) == _bal("1499.00"), "funded 2500.00 - 1000.00 - 1.00 fee"
    s = x.session(tx["id"])
    assert s["status"] == "settled" and s["fill_rate"] == "0.92", s
    assert s["delivered_amount"] == {"currency": "EUR", "value": "920.00"}, s
    _ledger_ok(srv)


@pytest.mark.parametrize("amount,code,before_refund", [
    ("100.06", "beneficiary_account_closed", ["TRANSFERRING_STABLECOIN", "TRADING", "TRANSFERRING_FIAT"]),
    ("100.05", "chain_transfer_failed", ["TRANSFERRING_STABLECOIN"]),
], ids=["cents_06", "cents_05"])
def test_failure_is_refunded(fast_server, amount, code, before_refund):
    x = Lumx(fast_server)
    cust = x.customer(fund="500.00")
    dest = x.destination(cust)
    before = x.balance(cust)
    tx = x.tx(dest, amount)
    assert tx["state"]["status"] == "TRANSFERRING_STABLECOIN", tx
    final, seen = x.watch(tx["id"])
    assert final["state"]["status"] == "REFUNDED", f"{amount}: {final}"
    err = final["state"].get("error")
    assert isinstance(err, dict) and err.get("code") == code, f"{amount}: state.error {err}"
    assert isinstance(err.get("message"), str) and err["message"], err
    assert "receipt" not in final["state"], final
    _assert_forward(seen, before_refund + ["REFUNDED"])
    assert x.balance(cust) == before, f"a refunded transaction leaves the account as before: {x.balance(cust)}"
    s = x.session(tx["id"])
    assert s["status"] == "failed" and s["failure_reason"] == code, s
    # REFUNDED is terminal
    time.sleep(0.5)
    assert x.get_tx(tx["id"]) == final


# ---------------------------------------------------------------------------
# transaction fields: metadata, memo, blockchain, purpose
# ---------------------------------------------------------------------------

def test_metadata_kept(lx):
    meta = {"orderId": "ord_789", "source": "checkout", "nested": {"list": [1, 2.5, None, True, {"a": "b"}]},
            "unicode": "Zürich €", "empty": {}}
    tx = lx.tx(lx.dest, "10.00", metadata=meta)
    assert tx["metadata"] == meta, tx
    assert tx["request"]["metadata"] == meta, tx
    got = lx.get_tx(tx["id"])
    assert got["metadata"] == meta and got["request"] == tx["request"], got
    # an empty object too
    tx = lx.tx(lx.dest, "10.00", metadata={})
    assert tx["metadata"] == {} and lx.get_tx(tx["id"])["metadata"] == {}, tx


def test_metadata_numbers_exact(lx):
    """Metadata is the client's: every number comes back with the text it
    was sent with (202, GET, list), strings and nesting intact."""
    body = exact_tx_text(lx.dest["id"])
    r = lx.post_tx(body)
    assert r.status == 202, describe(r)
    assert_exact_metadata(r.raw, "202")
    tid = r.json["id"]
    g = lx.req("GET", f"/transactions/{tid}")
    assert g.status == 200, describe(g)
    assert_exact_metadata(g.raw, "GET")
    assert exact_json(g.raw)["metadata"]["esc"] == 'caf\u00e9 "q"', g.json
    lst = lx.list_tx(size=100)
    assert lst.status == 200, describe(lst)
    mine = [x for x in exact_json(lst.raw)["data"] if x["id"] == tid]
    assert mine and same_exact(mine[0]["metadata"], exact_json(EXACT_META)), mine


def test_metadata_numbers_in_idempotency(lx):
    """The same key with the same document (other whitespace, other key
    order) replays; with a number written otherwise it is another request."""
    key = str(uuid.uuid4())
    body = exact_tx_text(lx.dest["id"], meta='{"a": 0.1, "b": 1.0}')
    first = lx.post_tx(body, headers={"Idempotency-Key": key})
    assert first.status == 202, describe(first)
    again = lx.post_tx(exact_tx_text(lx.dest["id"], meta='{ "b" : 1.0 ,"a":0.1 }'),
                       headers={"Idempotency-Key": key})
    assert again.status == 202 and again.raw == first.raw, describe(again)
    assert again.headers.get("x-idempotency-cached") == "true", again.headers
    for other in ('{"a": 0.10000000000000001, "b": 1.0}', '{"a": 0.1, "b": 1}'):
        r = lx.post_tx(exact_tx_text(lx.dest["id"], meta=other), headers={"Idempotency-Key": key})
        assert_error(r, 409, "idempotency_key_reused")


def test_metadata_number_past_a_double_is_refused(lx):
    """jansson checks every body first: a number past a double's range
    (about 1.8e308) is not accepted; nothing is created."""
    before = lx.balance(lx.cust)
    for meta in ('{"n": 1e400}', '{"n": %s}' % ("9" * 400)):
        r = lx.post_tx(exact_tx_text(lx.dest["id"], meta=meta))
        assert_error(r, 400, "invalid_json")
    assert lx.balance(lx.cust) == before


def test_sessions_api_has_no_metadata(lx):
    """The sessions API keeps no client document: metadata is an unknown field."""
    t = lx.t
    w = t.setup("100.00")
    r = t.req("POST", "/off-ramp-sessions", dict(w.body("10.00"), metadata={"a": 0.1}))
    assert_error(r, 400, "unknown_field", "/metadata")


@pytest.mark.parametrize("meta", ["a string", [1, 2], 5], ids=["string", "array", "number"])
def test_metadata_must_be_an_object(lx, meta):
    r = lx.post_tx(lx.tx_body(lx.dest, "10.00", metadata=meta))
    assert_error(r, 400, "invalid_type", "/metadata")


@pytest.mark.parametrize("memo", ["INV-2024-10-1547", "RF18539007547034", "x" * 140], ids=["text", "rf", "140"])
def test_memo_is_the_payment_reference(lx, memo):
    tx = lx.tx(lx.dest, "10.00", memo=memo)
    assert tx["request"]["memo"] == memo, tx
    s = lx.session(tx["id"])
    assert s["destination"]["payment_reference"] == memo, f"memo is the session's payment_reference: {s}"


@pytest.mark.parametrize("memo,code", [
    ("RF18539007547035", "invalid_payment_reference"),
    ("RF00539007547034", "invalid_payment_reference"),
    ("x" * 141, "payment_reference_too_long"),
], ids=["rf_bad_check", "rf_bad_digits", "141_chars"])
def test_bad_memo(lx, memo, code):
    before = lx.balance(lx.cust)
    r = lx.post_tx(lx.tx_body(lx.dest, "10.00", memo=memo))
    assert_error(r, 400, code, "/memo")
    assert lx.balance(lx.cust) == before


def test_blockchain_chooses_the_network_fee(server):
    x = Lumx(server)
    server.set_fees(x.ref, network_fees=["USDC:ethereum:1.25", "USDC:base:2.50", "USDC:polygon:0.10",
                                         "USDT:tron:3.00"])
    cust = x.customer(fund="1000.00")
    x.fund(cust, "1000.00", "USDT")
    dest = x.destination(cust)
    cases = [(None, "USDC", "1.25"), ("ETHEREUM", "USDC", "1.25"), ("BASE", "USDC", "2.50"),
             ("POLYGON", "USDC", "0.10"), ("TRON", "USDT", "3.00")]
    held = {"USDC": Decimal(0), "USDT": Decimal(0)}
    for chain, src, fee in cases:
        extra = {"blockchain": chain} if chain else {}
        tx = x.tx(dest, "10.00", src, **extra)
        if chain:
            assert tx["request"]["blockchain"] == chain, tx
        else:
            assert "blockchain" not in tx["request"], f"request is what was sent: {tx['request']}"
        s = x.session(tx["id"])
        assert _fee_total(s) == Decimal(fee), f"blockchain {chain} {src}: fee {s['fee_summary']}, expected {fee}"
        held[src] += Decimal("10.00") + Decimal(fee)
    for src in ("USDC", "USDT"):
        assert x.balance(cust, src) == _bal("1000.00", held[src]), (src, x.balance(cust, src))


@pytest.mark.parametrize("chain", ["SOLANA", "base", "", 1], ids=["solana", "lower_case", "empty", "number"])
def test_bad_blockchain(lx, chain):
    r = lx.post_tx(lx.tx_body(lx.dest, "10.00", blockchain=chain))
    assert_error(r, 400, "invalid_type" if chain == 1 else "invalid_value", "/blockchain")


def test_purpose_against_the_holder_relationship(lx):
    supplier = lx.destination(lx.cust, "SEPA", "SUPPLIER")
    before = lx.balance(lx.cust)
    r = lx.post_tx(lx.tx_body(supplier, "10.00", purpose="PERSONAL_ACCOUNT"))
    assert_error(r, 400, "invalid_value", "/purpose")
    assert lx.balance(lx.cust) == before, "a refused transaction held something"
    for p in PURPOSES[1:]:
        tx = lx.tx(supplier, "1.00", purpose=p)
        assert tx["request"]["purpose"] == p, tx
    # every purpose to a SELF destination
    for p in PURPOSES:
        lx.tx(lx.dest, "1.00", purpose=p)
    # other relationships: PERSONAL_ACCOUNT refused for every non-SELF one
    for rel in ("HOLDING_COMPANY", "CUSTOMER"):
        d = lx.destination(lx.cust, "SEPA", rel)
        assert_error(lx.post_tx(lx.tx_body(d, "1.00")), 400, "invalid_value", "/purpose")
    assert_error(lx.post_tx(lx.tx_body(lx.dest, "1.00", purpose="GIFT")), 400, "invalid_value", "/purpose")


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

AMOUNT_CASES = [
    ("number", 1000, "invalid_amount"),
    ("number_string_exp", "1e3", "invalid_amount"),
    ("negative", "-1", "invalid_amount"),
    ("plus", "+1.00", "invalid_amount"),
    ("zero", "0", "amount_not_positive"),
    ("zero_decimals", "0.000000", "amount_not_positive"),
    ("too_precise", "1.0000001", "amount_too_precise"),
    ("leading_zero", "01.00", "invalid_amount"),
    ("bare_point", "1.", "invalid_amount"),
    ("leading_point", ".5", "invalid_amount"),
    ("space", " 1.00", "invalid_amount"),
    ("comma", "1,00", "invalid_amount"),
    ("empty", "", {"invalid_amount", "invalid_value"}),
    ("null", None, {"invalid_amount", "missing_field"}),
    ("too_large", "99999999999999999999", "amount_too_large"),
]


@pytest.mark.parametrize("case", AMOUNT_CASES, ids=[c[0] for c in AMOUNT_CASES])
def test_bad_source_amount(lx, case):
    _id, amount, code = case
    before = lx.balance(lx.cust)
    r = lx.post_tx(lx.tx_body(lx.dest, amount))
    assert_error(r, 400, code, "/sourceAmount")
    assert lx.balance(lx.cust) == before


def test_usdt_six_decimals_accepted(lx):
    tx = lx.tx(lx.dest, "1.000001", "USDT")
    assert tx["request"]["sourceAmount"] == "1.000001", tx
    assert lx.session(tx["id"])["principal_amount"] == {"currency": "USDT", "value": "1.000001"}


BAD_TX = [
    ("unknown_field", {"foo": "bar"}, None, "unknown_field", "/foo"),
    ("snake_case_field", {"source_amount": "1.00"}, None, "unknown_field", "/source_amount"),
    ("source_eur", {"sourceCurrency": "EUR"}, None, {"invalid_value", "unsupported_currency"}, "/sourceCurrency"),
    ("source_lower", {"sourceCurrency": "usdc"}, None, {"invalid_value", "unsupported_currency"},
     "/sourceCurrency"),
    ("missing_amount", {}, "sourceAmount", "missing_field", "/sourceAmount"),
    ("missing_currency", {}, "sourceCurrency", "missing_field", "/sourceCurrency"),
    ("missing_purpose", {}, "purpose", "missing_field", "/purpose"),
    ("missing_bank_account", {}, "bankAccountId", "missing_field", "/bankAccountId"),
    ("bank_account_not_uuid", {"bankAccountId": "acct-1"}, None, {"invalid_id", "invalid_value"}, "/bankAccountId"),
    ("bank_account_number", {"bankAccountId": 5}, None, "invalid_type", "/bankAccountId"),
    ("purpose_number", {"purpose": 1}, None, "invalid_type", "/purpose"),
    ("memo_number", {"memo": 1}, None, "invalid_type", "/memo"),
    ("partner_fee_not_uuid", {"partnerFeeId": "fee"}, None, {"invalid_id", "invalid_value"}, "/partnerFeeId"),
    ("exchange_rate_not_uuid", {"exchangeRateId": "rate"}, None, {"invalid_id", "invalid_value"},
     "/exchangeRateId"),
]


@pytest.mark.parametrize("case", BAD_TX, ids=[c[0] for c in BAD_TX])
def test_bad_transaction(lx, case):
    _id, changes, drop, code, ptr = case
    body = lx.tx_body(lx.dest, "10.00")
    body.update(changes)
    if drop:
        del body[drop]
    before = lx.balance(lx.cust)
    r = lx.post_tx(body)
    assert_error(r, 400, code, ptr)
    assert lx.balance(lx.cust) == before


def test_bank_account_unknown_or_another_tenants(lx):
    other = Lumx(lx.server)
    oc = other.customer(fund="100.00")
    od = other.destination(oc)
    before = lx.balance(lx.cust)
    for bid in (str(uuid.uuid4()), od["id"]):
        r = lx.post_tx(lx.tx_body(bid, "10.00"))
        assert_error(r, 404, "not_found")
    assert lx.balance(lx.cust) == before
    # and the other tenant's own customer cannot pay from ours
    assert_error(other.post_tx(other.tx_body(lx.dest, "10.00")), 404, "not_found")
    assert other.balance(oc) == _bal("100.00")


def test_bank_account_must_be_a_bank_destination(lx):
    """A crypto withdrawal destination (sessions API) is no bank account."""
    evm = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    r = lx.req("POST", "/withdrawal-destinations",
               {"account_ref": lx.cust["accountRef"],
                "destination": {"method": "crypto_transfer", "asset": "USDC", "network": "base",
                                "destination": {"address": evm, "memo": None}, "label": "wallet"}},
               headers={"Idempotency-Key": f"dest-{uuid.uuid4()}"})
    assert r.status == 201, describe(r)
    before = lx.balance(lx.cust)
    r = lx.post_tx(lx.tx_body(r.json["id"], "10.00"))
    assert r.status in (404, 422), describe(r)
    assert_error(r, r.status, {"not_found", "unsupported_route", "rail_mismatch"})
    assert lx.balance(lx.cust) == before


def test_transaction_get_unknown(lx):
    for tid in (str(uuid.uuid4()), "not-a-uuid"):
        assert_error(lx.req("GET", f"/transactions/{tid}"), 404, {"not_found", "route_not_found"})
    other = Lumx(lx.server)
    tx = lx.tx(lx.dest, "1.00")
    assert_error(other.req("GET", f"/transactions/{tx['id']}"), 404, "not_found")


def test_insufficient_funds(lx):
    c = lx.customer(fund="100.00")
    d = lx.destination(c)
    assert_error(lx.post_tx(lx.tx_body(d, "99.01")), 422, "insufficient_funds")  # 99.01 + 1.00 > 100.00
    assert lx.balance(c) == _bal("100.00")
    lx.tx(d, "99.00")
    assert lx.balance(c) == _bal("100.00", "100.00")


# ---------------------------------------------------------------------------
# idempotency (UUID keys)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["abc", "order-1", "123e4567e89b12d3a456426614174000x", "123e4567-e89b-12d3-a456"],
                         ids=["word", "slug", "not_uuid", "short_uuid"])
def test_non_uuid_idempotency_key(lx, key):
    before = lx.balance(lx.cust)
    r = lx.post_tx(lx.tx_body(lx.dest, "10.00"), headers={"Idempotency-Key": key})
    assert_error(r, 400, "invalid_idempotency_key")
    assert lx.balance(lx.cust) == before
    r = lx.req("POST", "/customers", Lumx.customer_body(), headers={"Idempotency-Key": key})
    assert_error(r, 400, "invalid_idempotency_key")
    r = lx.req("POST", "/destinations", Lumx.destination_body(lx.cust["id"]), headers={"Idempotency-Key": key})
    assert_error(r, 400, "invalid_idempotency_key")


def test_idempotent_replay_and_conflict(lx):
    c = lx.customer(fund="1000.00")
    d = lx.destination(c)
    h = _idem()
    body = lx.tx_body(d, "100.00", memo="INV-1", metadata={"orderId": "o-1"})
    first = lx.post_tx(body, headers=h)
    assert first.status == 202, describe(first)
    assert first.headers.get("x-idempotency-cached") != "true", first.headers
    again = lx.post_tx(body, headers=h)
    assert again.status == 202, describe(again)
    assert again.raw == first.raw, f"replay differs:\n{first.raw!r}\n{again.raw!r}"
    assert again.headers.get("x-idempotency-cached") == "true", again.headers
    # the same JSON value with keys in another order is the same request
    reordered = dict(reversed(list(body.items())))
    third = lx.post_tx(reordered, headers=h)
    assert third.status == 202 and third.raw == first.raw, describe(third)
    # one transaction, one hold, counted once against the limits
    assert lx.balance(c) == _bal("1000.00", "101.00"), lx.balance(c)
    assert lx.get_customer(c["id"])["limits"]["usedToday"] == "100.00"
    ids = [t["id"] for t in lx.list_tx(customerId=c["id"]).json["data"]]
    assert ids == [first.json["id"]], ids
    # a changed body with the same key
    changed = dict(body, sourceAmount="100.01")
    r = lx.post_tx(changed, headers=h)
    assert_error(r, 409, "idempotency_key_reused")
    assert lx.balance(c) == _bal("1000.00", "101.00")
    # a new key is a new transaction
    r = lx.post_tx(body, headers=_idem())
    assert r.status == 202 and r.json["id"] != first.json["id"], describe(r)


@pytest.mark.parametrize("status", [400, 404])
def test_idempotent_replay_of_a_refusal(lx, status):
    h = _idem()
    if status == 404:
        body, code = lx.tx_body(str(uuid.uuid4()), "10.00"), "not_found"
    else:
        body, code = lx.tx_body(lx.dest, "10.0000001"), "amount_too_precise"
    a = lx.post_tx(body, headers=h)
    assert_error(a, status, code)
    b = lx.post_tx(body, headers=h)
    assert b.status == status and b.raw == a.raw, describe(b)
    assert b.headers.get("x-idempotency-cached") == "true", b.headers


def test_idempotent_customer_and_destination(lx):
    h = _idem()
    body = Lumx.customer_body(legalName="Idem Co")
    a = lx.req("POST", "/customers", body, headers=h)
    b = lx.req("POST", "/customers", body, headers=h)
    assert a.status == 201 and b.status == 201 and a.raw == b.raw, (describe(a), describe(b))
    assert b.headers.get("x-idempotency-cached") == "true", b.headers
    assert_error(lx.req("POST", "/customers", dict(body, legalName="Other Co"), headers=h), 409,
                 "idempotency_key_reused")
    h = _idem()
    body = Lumx.destination_body(a.json["id"], "SPEI")
    a = lx.req("POST", "/destinations", body, headers=h)
    b = lx.req("POST", "/destinations", body, headers=h)
    assert a.status == 201 and b.status == 201 and a.raw == b.raw, (describe(a), describe(b))
    assert b.headers.get("x-idempotency-cached") == "true", b.headers
    listed = lx.req("GET", f"/destinations?customerId={a.json['customerId']}")
    assert listed.status == 200 and [d["id"] for d in listed.json["data"]] == [a.json["id"]], describe(listed)


# ---------------------------------------------------------------------------
# customers
# ---------------------------------------------------------------------------

def test_customers(lx):
    for kind in ("BUSINESS", "INDIVIDUAL"):
        body = Lumx.customer_body(kind, email="Mixed.Case@Example.COM")
        r = lx.req("POST", "/customers", body)
        assert r.status == 201, f"{kind}: {describe(r)}"
        c = r.json
        for k, v in body.items():
            exp = v.lower() if k == "email" else v
            assert c.get(k) == exp, f"{kind}: {k} should be {exp!r}: {c}"
        assert UUID_RE.match(c["id"]) and c["status"] == "APPROVED", c
        assert c["accountRef"].startswith("client-accounts/") and UUID_RE.match(c["accountRef"].split("/", 1)[1]), c
        _ts(c["createdAt"]), _ts(c["updatedAt"])
        got = lx.get_customer(c["id"])
        assert {k: v for k, v in got.items() if k != "limits"} == {k: v for k, v in c.items() if k != "limits"}, \
            (got, c)
        # a customer is a client, with that default account
        cl = lx.req("GET", f"/clients/{c['id']}")
        assert cl.status == 200, describe(cl)
        assert cl.json["default_account_ref"] == c["accountRef"], cl.json
        assert cl.json["display_name"] == (body.get("legalName") or body.get("name")), cl.json
        # and its account can be funded and read
        lx.fund(c, "12.34")
        assert lx.balance(c) == _bal("12.34")


INDIVIDUAL_REQUIREMENTS = ["ID_CARD", "PASSPORT", "DRIVERS_LICENSE", "BANK_STATEMENT", "INCOME_TAX_RETURN",
                           "DELIVERY_RECEIPT", "SELFIE", "ADDITIONAL_INFORMATION", "TERMS_OF_SERVICE"]


def test_customer_shape_is_lumx(lx):
    """Lumx's answer shape: verification {status, level, link},
    transactionLimits {single, daily, monthly}, requirements, metadata;
    the extra fields (status, accountRef, limits) stay."""
    for kind in ("BUSINESS", "INDIVIDUAL"):
        c = lx.customer(kind)
        assert c["verification"] == {"status": "APPROVED", "level": "STANDARD", "link": None}, c
        assert c["status"] == "APPROVED", c
        assert c["transactionLimits"] == {"single": "100000.00", "daily": "250000.00", "monthly": "1000000.00"}, c
        assert c["requirements"] == [], c
        assert c["metadata"] == {}, c
        assert set(c["limits"]) == {"perTransaction", "daily", "monthly", "usedToday", "remainingToday",
                                    "usedThisMonth", "remainingThisMonth"}, c
        got = lx.get_customer(c["id"])
        for k in ("verification", "transactionLimits", "requirements", "metadata", "status"):
            assert got[k] == c[k], (k, got, c)
    # a sessions-API client seen as a customer: approved, no limits until set
    cl = lx.t.create_client("Plain Client")
    c = lx.get_customer(cl["id"])
    assert c["verification"]["status"] == "APPROVED" and c["requirements"] == [], c
    assert c["transactionLimits"] == {"single": None, "daily": None, "monthly": None}, c


# Lumx's sandbox rule: the tax id's last digit drives the verification.
VERIFICATION_BY_TAX_ID = [
    ("52998224721", "NOT_STARTED"), ("529.982.247-22", "RFI"), ("DE123456783", "FINAL_REJECTION"),
    ("52998224724", "APPROVED"), ("123.456.789-00", "APPROVED"), ("DE123456789", "APPROVED"),
    ("1-X", "NOT_STARTED"),   # the last digit, not the last character
    ("ABC", "APPROVED"),      # no digit at all
]


@pytest.mark.parametrize("tax_id,status", VERIFICATION_BY_TAX_ID, ids=[v[0] for v in VERIFICATION_BY_TAX_ID])
def test_customer_verification_by_tax_id(lx, tax_id, status):
    for kind in ("INDIVIDUAL", "BUSINESS"):
        c = lx.customer(kind, taxId=tax_id)
        assert c["verification"]["status"] == status and c["status"] == status, c
        assert lx.get_customer(c["id"])["verification"]["status"] == status
        if status in ("NOT_STARTED", "RFI"):
            assert c["requirements"] and all(r["status"] == "NOT_SENT" for r in c["requirements"]), c
            if kind == "INDIVIDUAL" and status == "NOT_STARTED":
                assert [r["name"] for r in c["requirements"]] == INDIVIDUAL_REQUIREMENTS, c
        else:
            assert c["requirements"] == [], c


@pytest.mark.parametrize("tax_id,status", [v for v in VERIFICATION_BY_TAX_ID if v[1] != "APPROVED"][:3],
                         ids=["NOT_STARTED", "RFI", "FINAL_REJECTION"])
def test_unverified_customer_cannot_transact(lx, tax_id, status):
    """Only an APPROVED customer transacts, on either surface: 422
    customer_not_verified, nothing held; destinations can still be saved."""
    c = lx.customer(taxId=tax_id, fund="100.00")
    d = lx.destination(c)
    r = lx.post_tx(lx.tx_body(d, "10.00"))
    assert_error(r, 422, "customer_not_verified", "/bankAccountId")
    assert r.json["details"].get("verification") == status, r.json
    # the sessions API on the customer's account is refused the same way
    dest = lx.t.create_destination(c["accountRef"])
    body = World(lx.t, {"id": c["id"]}, c["accountRef"], dest, sepa_destination()).body("10.00")
    r = lx.req("POST", "/off-ramp-sessions", body)
    assert_error(r, 422, "customer_not_verified", "/account_ref")
    assert lx.balance(c) == _bal("100.00"), "a refused transaction held something"
    assert lx.list_tx(customerId=c["id"]).json["data"] == []


def test_customer_metadata_exact(lx):
    """A customer's metadata is kept as sent, numbers by their text."""
    body = json.dumps(Lumx.customer_body(legalName="Meta Co"))[:-1] + ', "metadata": ' + EXACT_META + "}"
    r = lx.req("POST", "/customers", body)
    assert r.status == 201, describe(r)
    assert_exact_metadata(r.raw, "201", paths=(("metadata",),))
    g = lx.req("GET", f"/customers/{r.json['id']}")
    assert g.status == 200, describe(g)
    assert_exact_metadata(g.raw, "GET", paths=(("metadata",),))
    for bad in ("a string", [1], 5):
        assert_error(lx.req("POST", "/customers", Lumx.customer_body(metadata=bad)), 400, "invalid_type",
                     "/metadata")
    c = lx.customer(metadata=None)
    assert c["metadata"] == {}, c


def test_monthly_limit(server):
    """The monthly limit counts, like the daily one, every transaction of the
    customer created this UTC calendar month that has not failed or been
    cancelled, in stablecoin units (USDT at par)."""
    x = Lumx(server)
    cust = x.customer(fund="5000.00")
    x.fund(cust, "1000.00", "USDT")
    dest = x.destination(cust)
    c = x.set_limits(cust["id"], "1000.00", "5000.00", "700.00")
    assert c["transactionLimits"] == {"single": "1000.00", "daily": "5000.00", "monthly": "700.00"}, c
    x.tx(dest, "500.00")
    r = x.post_tx(x.tx_body(dest, "200.01", "USDT"))
    assert_error(r, 422, "limit_exceeded", "/sourceAmount")
    d = r.json["details"]
    assert d.get("limit") == "monthly", d
    assert _detail_decimal(d, "max") == Decimal("700.00") and _detail_decimal(d, "used") == Decimal("500.00"), d
    assert _detail_decimal(d, "remaining") == Decimal("200.00"), d
    x.tx(dest, "200.00", "USDT")               # exactly the monthly limit
    lim = _limits(x, cust["id"])
    assert lim["usedThisMonth"] == "700.00" and lim["remainingThisMonth"] == "0.00", lim
    assert lim["usedToday"] == "700.00" and lim["remainingToday"] == "4300.00", lim
    assert_error(x.post_tx(x.tx_body(dest, "0.01")), 422, "limit_exceeded")
    # leaving monthly out keeps it; setting it higher lets the next through
    c = x.set_limits(cust["id"], "1000.00", "5000.00")
    assert c["transactionLimits"]["monthly"] == "700.00", c
    x.set_limits(cust["id"], "1000.00", "5000.00", "800.00")
    x.tx(dest, "100.00")
    for bad in ("0", "-1.00", 5, "1e3"):
        r = x.req("PUT", f"/customers/{cust['id']}/limits", {"monthly": bad})
        assert r.status == 400 and r.json["details"].get("field") == "/monthly", describe(r)


def test_customer_get_needs_clients_manage_or_accounts_read(lx):
    read = lx.t.make_key(["accounts.read"])["api_key"]
    assert lx.req("GET", f"/customers/{lx.cust['id']}", key=read).status == 200
    none = lx.t.make_key(["ramps.read"])["api_key"]
    assert_error(lx.req("GET", f"/customers/{lx.cust['id']}", key=none), 403, "missing_capability")
    assert_error(lx.req("POST", "/customers", Lumx.customer_body(), key=read), 403, "missing_capability")


def test_customer_unknown_or_another_tenants(lx):
    other = Lumx(lx.server)
    for cid in (str(uuid.uuid4()), lx.cust["id"]):
        assert_error(other.req("GET", f"/customers/{cid}"), 404, "not_found")
    assert_error(lx.req("GET", "/customers/nope"), 404, {"not_found", "route_not_found"})


BAD_CUSTOMER = [
    ("country_alpha2", {"country": "DE"}, None, {"invalid_country", "invalid_value"}, "/country"),
    ("country_lower", {"country": "deu"}, None, {"invalid_country", "invalid_value"}, "/country"),
    ("type_unknown", {"type": "ROBOT"}, None, "invalid_value", "/type"),
    ("business_without_legal_name", {}, "legalName", "missing_field", "/legalName"),
    ("missing_country", {}, "country", "missing_field", "/country"),
    ("email_bad", {"email": "not-an-email"}, None, "invalid_value", "/email"),
    ("incorporation_date_bad", {"incorporationDate": "2015-13-01"}, None, "invalid_value", "/incorporationDate"),
    ("incorporation_date_format", {"incorporationDate": "01/04/2015"}, None, "invalid_value",
     "/incorporationDate"),
    ("unknown_field", {"fooBar": 1}, None, "unknown_field", "/fooBar"),
    ("legal_name_number", {"legalName": 5}, None, "invalid_type", "/legalName"),
]


@pytest.mark.parametrize("case", BAD_CUSTOMER, ids=[c[0] for c in BAD_CUSTOMER])
def test_bad_customer(lx, case):
    _id, changes, drop, code, ptr = case
    body = Lumx.customer_body("BUSINESS", **changes)
    if drop:
        del body[drop]
    assert_error(lx.req("POST", "/customers", body), 400, code, ptr)


def test_individual_needs_name(lx):
    body = Lumx.customer_body("INDIVIDUAL")
    del body["name"]
    assert_error(lx.req("POST", "/customers", body), 400, "missing_field", "/name")
    body = Lumx.customer_body("INDIVIDUAL", birthDate="1990-02-30x")
    assert_error(lx.req("POST", "/customers", body), 400, "invalid_value", "/birthDate")


# ---------------------------------------------------------------------------
# destinations
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", list(IDENT), ids=list(IDENT))
def test_destination_per_rail(lx, key):
    body = Lumx.destination_body(lx.cust["id"], key)
    r = lx.req("POST", "/destinations", body)
    assert r.status == 201, f"{key}: {describe(r)}"
    d = r.json
    assert UUID_RE.match(d["id"]), d
    assert d["customerId"] == lx.cust["id"], d
    assert d["verification"] == {"status": "VERIFIED"} or d["verification"].get("status") == "VERIFIED", d
    for k, v in body.items():
        assert d.get(k) == v, f"{key}: {k} should be as sent: {v!r} vs {d.get(k)!r}"
    _ts(d["createdAt"]), _ts(d["updatedAt"])
    g = lx.req("GET", f"/destinations/{d['id']}")
    assert g.status == 200 and g.json == masked(d), f"GET differs from POST, masked: {describe(g)} vs {d}"
    # it is a saved withdrawal destination of the customer's account
    w = lx.req("GET", f"/withdrawal-destinations/{d['id']}")
    assert w.status == 200, describe(w)
    assert w.json["account_ref"] == lx.cust["accountRef"], w.json
    assert w.json["route_owner_ref"] == f"clients/{lx.cust['id']}", w.json
    assert w.json["currency"] == body["currency"], w.json
    rails = {"SEPA": "sepa_credit_transfer", "SEPA_INSTANT": "sepa_instant", "ACH": "ach", "WIRE": "wire",
             "FASTER_PAYMENTS": "faster_payments", "PIX": "pix", "SPEI": "spei", "SWIFT": "swift"}
    assert w.json["fiat_rail"] == rails[body["rail"]], w.json


def test_destination_list_by_customer(lx):
    c = lx.customer()
    made = [lx.destination(c, k)["id"] for k in ("SEPA", "PIX_EMAIL", "ACH")]
    r = lx.req("GET", f"/destinations?customerId={c['id']}")
    assert r.status == 200, describe(r)
    got = [d["id"] for d in r.json["data"]]
    assert sorted(got) == sorted(made), (got, made)
    for d in r.json["data"]:
        assert d["customerId"] == c["id"] and d["verification"]["status"] == "VERIFIED", d
    # another tenant sees none of them
    other = Lumx(lx.server)
    r = other.req("GET", f"/destinations?customerId={c['id']}")
    assert (r.status == 200 and r.json["data"] == []) or r.status == 404, describe(r)
    for d in made:
        assert_error(other.req("GET", f"/destinations/{d}"), 404, "not_found")
    assert_error(lx.req("GET", f"/destinations/{uuid.uuid4()}"), 404, "not_found")


IDP = "/identifier/"
BAD_DEST = [
    # (id, IDENT key, identifier changes (None removes), top-level changes, code, pointer)
    ("iban_check_digits", "SEPA", {"iban": "DE89370400440532013001"}, {}, "invalid_iban", IDP + "iban"),
    ("iban_too_short", "SEPA", {"iban": "DE8937040044053201300"}, {}, "invalid_iban", IDP + "iban"),
    ("iban_garbage", "SEPA_INSTANT", {"iban": "not an iban"}, {}, "invalid_iban", IDP + "iban"),
    # issue 8: a letter where DE's BBAN wants digits; BE's national check digits
    ("iban_bban_structure", "SEPA", {"iban": "DE47Q78199672528361373", "bic": None}, {}, "invalid_iban",
     IDP + "iban"),
    ("iban_national_check", "SEPA", {"iban": "BE04107690637456", "bic": None}, {}, "invalid_iban", IDP + "iban"),
    ("iban_no_break_space", "SEPA", {"iban": "\u00a0" + DE_IBAN}, {}, "invalid_iban", IDP + "iban"),
    ("routing_all_zero", "ACH", {"routingNumber": "000000000"}, {}, "invalid_routing_number",
     IDP + "routingNumber"),
    ("routing_all_zero_wire", "WIRE", {"routingNumber": "000000000"}, {}, "invalid_routing_number",
     IDP + "routingNumber"),
    ("pix_email_double_dot", "PIX_EMAIL", {"keyValue": "a..b@example.com"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_email_comma", "PIX_EMAIL", {"keyValue": "a,b@example.com"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_email_local_65", "PIX_EMAIL", {"keyValue": "a" * 65 + "@example.com"}, {}, "invalid_pix_key",
     IDP + "keyValue"),
    ("pix_phone_not_brazil", "PIX_PHONE", {"keyValue": "+12345678"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_phone_no_leading_9", "PIX_PHONE", {"keyValue": "+551101064156"}, {}, "invalid_pix_key",
     IDP + "keyValue"),
    ("bic_bad", "SEPA", {"bic": "COBA"}, {}, "invalid_bic", IDP + "bic"),
    ("bic_country_mismatch", "SEPA", {"bic": "NWBKGB2L"}, {}, "country_mismatch", None),
    ("iban_missing", "SEPA", {"iban": None}, {}, "missing_field", IDP + "iban"),
    ("routing_check_digit", "ACH", {"routingNumber": "021000022"}, {}, "invalid_routing_number",
     IDP + "routingNumber"),
    ("routing_8_digits", "WIRE", {"routingNumber": "02600959"}, {}, "invalid_routing_number",
     IDP + "routingNumber"),
    ("us_account_3_digits", "ACH", {"accountNumber": "123"}, {}, "invalid_account_number", IDP + "accountNumber"),
    ("us_account_letters", "WIRE", {"accountNumber": "12345A78"}, {}, "invalid_account_number",
     IDP + "accountNumber"),
    ("account_type_bad", "ACH", {"accountType": "MONEY_MARKET"}, {}, {"invalid_value", "invalid_account_type"},
     IDP + "accountType"),
    ("account_type_lower", "ACH", {"accountType": "checking"}, {}, {"invalid_value", "invalid_account_type"},
     IDP + "accountType"),
    ("sort_code_5_digits", "FASTER_PAYMENTS", {"sortCode": "60161"}, {}, "invalid_sort_code", IDP + "sortCode"),
    ("sort_code_letters", "FASTER_PAYMENTS", {"sortCode": "60-16-1A"}, {}, "invalid_sort_code",
     IDP + "sortCode"),
    ("uk_account_7_digits", "FASTER_PAYMENTS", {"accountNumber": "3192681"}, {}, "invalid_account_number",
     IDP + "accountNumber"),
    ("cpf_check_digit", "PIX_CPF", {"keyValue": "529.982.247-26"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("cnpj_check_digit", "PIX_CNPJ", {"keyValue": "11.222.333/0001-82"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_email_bad", "PIX_EMAIL", {"keyValue": "not-an-email"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_phone_bad", "PIX_PHONE", {"keyValue": "11999998888"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_random_bad", "PIX_RANDOM", {"keyValue": "not-a-uuid"}, {}, "invalid_pix_key", IDP + "keyValue"),
    ("pix_key_type_unknown", "PIX_CPF", {"keyType": "IBAN"}, {}, "invalid_value", IDP + "keyType"),
    ("clabe_control_digit", "SPEI", {"clabe": "032180000118359710"}, {}, "invalid_clabe", IDP + "clabe"),
    ("clabe_17_digits", "SPEI", {"clabe": "03218000011835971"}, {}, "invalid_clabe", IDP + "clabe"),
    ("swift_bic_bad", "SWIFT_ACCOUNT", {"bic": "DEUT"}, {}, "invalid_bic", IDP + "bic"),
    ("swift_account_symbols", "SWIFT_ACCOUNT", {"accountNumber": "0532-013000"}, {}, "invalid_account_number",
     IDP + "accountNumber"),
    ("swift_iban_bad", "SWIFT_IBAN", {"iban": "GB29NWBK60161331926818"}, {}, "invalid_iban", IDP + "iban"),
    ("swift_both", "SWIFT_ACCOUNT", {"iban": DE_IBAN}, {}, None, None),
    ("swift_neither", "SWIFT_ACCOUNT", {"accountNumber": None}, {}, None, None),
    ("identifier_unknown_field", "SEPA", {"sortCode": "601613"}, {}, "unknown_field", IDP + "sortCode"),
    ("sepa_currency_usd", "SEPA", {}, {"currency": "USD"}, "currency_mismatch", "/currency"),
    ("pix_currency_eur", "PIX_CPF", {}, {"currency": "EUR"}, "currency_mismatch", "/currency"),
    ("rail_unknown", "SEPA", {}, {"rail": "CARD"}, "invalid_value", "/rail"),
    ("rail_lower_case", "SEPA", {}, {"rail": "sepa"}, "invalid_value", "/rail"),
    ("currency_stablecoin", "SEPA", {}, {"currency": "USDC"}, {"unsupported_currency", "currency_mismatch",
                                                                 "invalid_value"}, "/currency"),
]


def _dest_with(x, customer_id, key, ident_changes, top_changes):
    body = Lumx.destination_body(customer_id, key)
    for k, v in ident_changes.items():
        if v is None:
            body["identifier"].pop(k, None)
        else:
            body["identifier"][k] = v
    body.update(top_changes)
    return body


@pytest.mark.parametrize("case", BAD_DEST, ids=[c[0] for c in BAD_DEST])
def test_bad_destination(lx, case):
    _id, key, ic, tc, code, ptr = case
    body = _dest_with(lx, lx.cust["id"], key, ic, tc)
    r = lx.req("POST", "/destinations", body)
    if code is None:
        assert r.status == 400, f"{_id}: {describe(r)}"
        assert_error(r, 400, r.json["code"])
        fields = [s for s in _details_strings(r) if s.startswith("/")]
        assert any(f.startswith("/identifier") for f in fields), f"{_id}: pointer under /identifier: {describe(r)}"
    else:
        assert_error(r, 400, code, ptr)
        if ptr is None:
            fields = [s for s in _details_strings(r) if s.startswith("/")]
            assert any(f.startswith("/identifier") for f in fields), f"{_id}: pointer under /identifier: {describe(r)}"


def _details_strings(r):
    out = []

    def walk(v):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for w in v.values():
                walk(w)
        elif isinstance(v, list):
            for w in v:
                walk(w)
    walk(r.json.get("details"))
    return out


def test_destination_refused_saves_nothing(lx):
    c = lx.customer()
    bad = _dest_with(lx, c["id"], "SEPA", {"iban": "DE89370400440532013001"}, {})
    assert_error(lx.req("POST", "/destinations", bad), 400, "invalid_iban", "/identifier/iban")
    r = lx.req("GET", f"/destinations?customerId={c['id']}")
    assert r.status == 200 and r.json["data"] == [], describe(r)


@pytest.mark.parametrize("iban", [" " + DE_IBAN, DE_IBAN + " ", "  de89 3704 0044 0532 0130 00  "],
                         ids=["leading_space", "trailing_space", "print_form_lower_case"])
def test_destination_iban_spaces_as_on_the_sessions_api(lx, iban):
    """API.md: spaces anywhere in an IBAN are dropped and letters upper-cased
    before any check, on both surfaces (test_rails.py has the sessions API
    side); the country Lumx leaves implicit is read after that."""
    body = Lumx.destination_body(lx.cust["id"], "SEPA", identifier={"iban": iban, "bic": "COBADEFFXXX"})
    r = lx.req("POST", "/destinations", body)
    assert r.status == 201, describe(r)
    tx = lx.tx(r.json, "10.00")  # 202: a transaction can be made to it
    assert tx.get("id"), tx


def test_destination_gibraltar_is_sepa(lx):
    """Gibraltar is in the SEPA scheme (EPC409-09) with its own GI IBANs."""
    body = Lumx.destination_body(lx.cust["id"], "SEPA",
                                 identifier={"iban": "GI75NWBK000000007099453", "bic": "NWBKGIGI"})
    r = lx.req("POST", "/destinations", body)
    assert r.status == 201, describe(r)


def test_destination_country_the_rail_does_not_serve(lx):
    body = Lumx.destination_body(lx.cust["id"], "SEPA", identifier={"iban": BR_IBAN})
    assert_error(lx.req("POST", "/destinations", body), 422, "unsupported_route")
    # a valid non-SEPA IBAN is fine on SWIFT
    body = Lumx.destination_body(lx.cust["id"], "SWIFT_IBAN", currency="USD",
                                 identifier={"bic": "BRASBRRJ", "iban": BR_IBAN})
    r = lx.req("POST", "/destinations", body)
    assert r.status == 201, describe(r)


def test_destination_customer_unknown_or_another_tenants(lx):
    other = Lumx(lx.server)
    oc = other.customer()
    for cid in (str(uuid.uuid4()), oc["id"]):
        r = lx.req("POST", "/destinations", Lumx.destination_body(cid))
        assert_error(r, 404, "not_found")
    r = lx.req("POST", "/destinations", Lumx.destination_body("nope"))
    assert_error(r, 400, {"invalid_id", "invalid_value"}, "/customerId")


@pytest.mark.parametrize("rel", RELATIONSHIPS)
def test_holder_relationships_accepted(lx, rel):
    d = lx.destination(lx.cust, "PIX_RANDOM", rel)
    assert d["holder"]["relationship"] == rel, d


BAD_HOLDER = [
    ("relationship_unknown", {"relationship": "FRIEND"}, None, "invalid_value", "/holder/relationship"),
    ("relationship_lower", {"relationship": "self"}, None, "invalid_value", "/holder/relationship"),
    ("relationship_missing", {}, "relationship", "missing_field", "/holder/relationship"),
    ("type_unknown", {"type": "TRUST"}, None, "invalid_value", "/holder/type"),
    ("legal_name_missing", {}, "legalName", "missing_field", "/holder/legalName"),
    ("unknown_field", {"nickname": "x"}, None, "unknown_field", "/holder/nickname"),
    ("email_bad", {"email": "nope"}, None, "invalid_value", "/holder/email"),
    ("incorporation_date_bad", {"incorporationDate": "2015-00-10"}, None, "invalid_value",
     "/holder/incorporationDate"),
    ("address_country_alpha2", {"address": {"line1": "a", "city": "Berlin", "country": "DE"}}, None,
     {"invalid_country", "invalid_value"}, "/holder/address/country"),
    ("address_country_lower", {"address": {"line1": "a", "city": "Berlin", "country": "deu"}}, None,
     {"invalid_country", "invalid_value"}, "/holder/address/country"),
    ("address_unknown_field", {"address": {"line1": "a", "city": "Berlin", "country": "DEU", "zip": "1"}}, None,
     "unknown_field", "/holder/address/zip"),
]


@pytest.mark.parametrize("case", BAD_HOLDER, ids=[c[0] for c in BAD_HOLDER])
def test_bad_holder(lx, case):
    _id, changes, drop, code, ptr = case
    h = holder(**changes)
    if drop:
        del h[drop]
    body = Lumx.destination_body(lx.cust["id"], "SEPA", holder=h)
    assert_error(lx.req("POST", "/destinations", body), 400, code, ptr)


def test_holder_minimal_and_individual(lx):
    h = {"type": "INDIVIDUAL", "relationship": "SELF", "legalName": "Maria Silva"}
    d = lx.destination(lx.cust, "PIX_CPF", holder=h)
    assert d["holder"] == h, d


# ---------------------------------------------------------------------------
# a transaction settles on every rail
# ---------------------------------------------------------------------------

SETTLE = [
    ("SEPA", "USDC", "123.456789"),
    ("SEPA_INSTANT", "USDC", "250.10"),
    ("ACH", "USDC", "99.99"),
    ("WIRE", "USDT", "834.5678"),
    ("FASTER_PAYMENTS", "USDC", "123.45"),
    ("PIX_CPF", "USDC", "77.777777"),
    ("PIX_EMAIL", "USDC", "100.00"),
    ("SPEI", "USDT", "123.456789"),
    ("SWIFT_ACCOUNT", "USDC", "500.00"),
    ("SWIFT_IBAN", "USDC", "200.03"),
]


@pytest.mark.parametrize("key,source,amount", SETTLE, ids=[s[0] for s in SETTLE])
def test_transaction_settles_on_rail(fast_server, key, source, amount):
    x = Lumx(fast_server)
    cust = x.customer(fund="1000.00", currency=source)
    dest = x.destination(cust, key)
    tx = x.tx(dest, amount, source)
    final, seen = x.watch(tx["id"])
    assert final["state"]["status"] == "SUCCESS", f"{key}: {final}"
    _assert_forward(seen)
    cur = IDENT[key][0]
    rc = final["state"]["receipt"]
    assert Decimal(rc["rate"]) == Decimal(RATES[cur]), f"{key}: rate {rc}"
    assert rc["sourceAmount"] == fmt_money(amount) and rc["sourceCurrency"] == source, rc
    assert rc["targetCurrency"] == cur and rc["targetAmount"] == _floor(amount, RATES[cur]), \
        f"{key}: {amount} x {RATES[cur]} rounded down: {rc}"
    assert rc["fees"] == {"currency": source, "platform": "1.00", "partner": "0.00", "total": "1.00"}, rc
    assert x.balance(cust, source) == _bal(Decimal("1000.00") - Decimal(amount) - NETWORK_FEE), x.balance(cust, source)
    pays = x.t.payouts(tx["id"])
    assert len(pays) == 1 and pays[0]["amount"] == {"currency": cur, "value": rc["targetAmount"]}, pays


# ---------------------------------------------------------------------------
# both surfaces
# ---------------------------------------------------------------------------

def test_session_visible_as_transaction(lx):
    t = lx.t
    client = t.create_client("Sessions Client")
    acct = client["default_account_ref"]
    t.deposit(acct, "500.00")
    w_dest = t.create_destination(acct)
    w = World(t, client, acct, w_dest, sepa_destination())
    s = t.create_session(w, "250.00")
    tx = lx.get_tx(s["id"])
    assert set(tx) >= TX_KEYS, tx
    assert tx["id"] == s["id"] and tx["customerId"] == client["id"] and tx["type"] == "OFF_RAMP", tx
    assert tx["state"]["status"] == "TRANSFERRING_STABLECOIN", tx
    assert tx["request"].get("bankAccountId") == w_dest["id"], tx
    assert tx["request"].get("sourceCurrency") == "USDC" and tx["request"].get("sourceAmount") == "250.00", tx
    assert isinstance(tx["metadata"], dict), tx
    assert _ts(tx["createdAt"]) == _ts(s["created_at"]), (tx, s)
    # the client is a customer, its destination a destination
    c = lx.get_customer(client["id"])
    assert c["accountRef"] == acct and c["status"] == "APPROVED", c
    assert c["verification"]["status"] == "APPROVED", c
    assert c["limits"]["usedToday"] == "250.00", f"a session counts toward its client's limits: {c}"
    assert c["limits"]["usedThisMonth"] == "250.00", c
    d = lx.req("GET", f"/destinations/{w_dest['id']}")
    assert d.status == 200, describe(d)
    assert d.json["rail"] == "SEPA" and d.json["currency"] == "EUR" and d.json["customerId"] == client["id"], d.json
    # listed with the customer's transactions
    r = lx.list_tx(customerId=client["id"])
    assert r.status == 200 and [x["id"] for x in r.json["data"]] == [s["id"]], describe(r)


def test_settled_session_shows_receipt(fast_server):
    """A session made through the sessions API settles and shows SUCCESS with
    its receipt on the Lumx surface."""
    x = Lumx(fast_server)
    w = x.t.setup("1000.00")
    s = x.t.create_session(w, "250.00")
    final, seen = x.watch(s["id"])
    assert final["state"]["status"] == "SUCCESS", final
    _assert_forward(seen)
    assert final["customerId"] == w.client_id, final
    assert final["state"]["receipt"] == {
        "rate": "0.92", "sourceAmount": "250.00", "sourceCurrency": "USDC", "targetAmount": "230.00",
        "targetCurrency": "EUR", "fees": {"currency": "USDC", "platform": "1.00", "partner": "0.00", "total": "1.00"},
    }, final["state"]


def test_transaction_visible_as_session(lx):
    tx = lx.tx(lx.dest, "250.00", memo="RF18539007547034", blockchain="POLYGON")
    s = lx.session(tx["id"])
    assert s["id"] == tx["id"], s
    assert s["status"] == "executing" and s["stage"] == "stablecoin_transfer", s
    assert s["account_ref"] == lx.cust["accountRef"], s
    assert s["principal_amount"] == {"currency": "USDC", "value": "250.00"}, s
    assert s["target_currency"] == "EUR", s
    assert s["destination"]["withdrawal_destination_id"] == lx.dest["id"], s
    assert s["destination"]["route_owner_ref"] == f"clients/{lx.cust['id']}", s
    assert s["destination"]["fiat_rail"] == "sepa_credit_transfer", s
    assert s["destination"]["payment_reference"] == "RF18539007547034", s
    assert _fee_total(s) == NETWORK_FEE, s
    assert _ts(s["created_at"]) == _ts(tx["createdAt"]), (s, tx)
    # in the sessions list of that account
    assert tx["id"] in lx.t.session_ids(account_ref=lx.cust["accountRef"])
    # the event log has it
    ev = lx.t.events(tx["id"])
    assert ev and ev[0]["type"] == "off_ramp_session.executing", ev


def test_lumx_cancel_shows_cancelled(lx):
    """A session awaiting approval shows AWAITING_APPROVAL, a cancelled one
    CANCELLED (API.md)."""
    x = Lumx(lx.server)
    cust = x.customer(fund="5000.00")
    dest = x.destination(cust)
    x.t.set_threshold("1000.00")
    tx = x.tx(dest, "1000.00")
    assert tx["state"]["status"] == "AWAITING_APPROVAL", tx
    r = x.req("POST", f"/off-ramp-sessions/{tx['id']}/cancel")
    assert r.status == 200, describe(r)
    assert x.get_tx(tx["id"])["state"]["status"] == "CANCELLED"
    assert x.balance(cust) == _bal("5000.00")


# ---------------------------------------------------------------------------
# lists
# ---------------------------------------------------------------------------

def test_list_pages_both_ways(lx):
    x = Lumx(lx.server)
    cust = x.customer(fund="1000.00")
    other = x.customer(fund="1000.00")
    dest = x.destination(cust)
    odest = x.destination(other)
    made = [x.tx(dest, f"{i}.00")["id"] for i in range(1, 6)]
    x.tx(odest, "1.00")
    newest_first = list(reversed(made))

    pages, cur = [], None
    for _ in range(10):
        r = x.list_tx(size=2, customerId=cust["id"], **({"cursor": cur} if cur else {}))
        assert r.status == 200, describe(r)
        assert set(r.json) == {"data", "nextCursor", "previousCursor"}, r.json
        pages.append(r.json)
        cur = r.json["nextCursor"]
        if cur is None:
            break
    ids = [[t["id"] for t in p["data"]] for p in pages]
    assert ids == [newest_first[0:2], newest_first[2:4], newest_first[4:5]], ids
    assert pages[0]["previousCursor"] is None, pages[0]
    assert pages[1]["previousCursor"] is not None and pages[2]["previousCursor"] is not None
    for p in pages:
        for t in p["data"]:
            assert set(t) >= TX_KEYS and t["customerId"] == cust["id"], t

    # back from the last page to the first
    back, cur = [], pages[2]["previousCursor"]
    for _ in range(10):
        r = x.list_tx(size=2, customerId=cust["id"], cursor=cur)
        assert r.status == 200, describe(r)
        back.append([t["id"] for t in r.json["data"]])
        assert r.json["nextCursor"] is not None, f"a page reached backwards has older items: {r.json}"
        cur = r.json["previousCursor"]
        if cur is None:
            break
    assert back == [newest_first[2:4], newest_first[0:2]], back

    # everything of the tenant, newest first
    r = x.list_tx(size=100)
    assert r.status == 200 and len(r.json["data"]) == 6, describe(r)
    assert r.json["nextCursor"] is None and r.json["previousCursor"] is None, r.json
    all_ids = [t["id"] for t in r.json["data"]]
    assert all_ids == sorted(all_ids, reverse=True), all_ids
    # default size shows all 6 too (default 20)
    r = x.list_tx(customerId=cust["id"])
    assert [t["id"] for t in r.json["data"]] == newest_first, r.json


def test_list_previous_cursor_reaches_newer_inserts(lx):
    """Walking back with previousCursor reaches transactions created after
    the walk began (keyset paging)."""
    x = Lumx(lx.server)
    cust = x.customer(fund="100.00")
    dest = x.destination(cust)
    t1, t2, t3 = (x.tx(dest, f"{i}.00")["id"] for i in (1, 2, 3))
    p1 = x.list_tx(size=2).json
    assert [t["id"] for t in p1["data"]] == [t3, t2] and p1["previousCursor"] is None, p1
    p2 = x.list_tx(size=2, cursor=p1["nextCursor"]).json
    assert [t["id"] for t in p2["data"]] == [t1] and p2["nextCursor"] is None, p2
    t4 = x.tx(dest, "4.00")["id"]
    b1 = x.list_tx(size=2, cursor=p2["previousCursor"]).json
    assert [t["id"] for t in b1["data"]] == [t3, t2], b1
    assert b1["previousCursor"] is not None, f"{t4} is newer: previousCursor must lead to it: {b1}"
    b2 = x.list_tx(size=2, cursor=b1["previousCursor"]).json
    assert [t["id"] for t in b2["data"]] == [t4] and b2["previousCursor"] is None, b2
    assert b2["nextCursor"] is not None, b2


def test_list_bad_parameters(lx):
    for params, code in ((dict(cursor="garbage"), "invalid_page_token"),
                         (dict(cursor="bm90LWEtdG9rZW4"), "invalid_page_token"),
                         (dict(size=0), "invalid_query_parameter"),
                         (dict(size=101), "invalid_query_parameter"),
                         (dict(size="ten"), "invalid_query_parameter"),
                         (dict(size=-1), "invalid_query_parameter"),
                         (dict(page_size=10), "invalid_query_parameter"),
                         (dict(customerId="nope"), {"invalid_query_parameter", "invalid_id"})):
        r = lx.list_tx(**params)
        assert_error(r, 400, code)
    for size in (1, 100):
        r = lx.list_tx(size=size)
        assert r.status == 200 and len(r.json["data"]) <= size, describe(r)


def test_list_another_tenants_customer_shows_nothing(lx):
    lx.tx(lx.dest, "1.00")
    other = Lumx(lx.server)
    r = other.list_tx(customerId=lx.cust["id"])
    assert r.status == 200, describe(r)
    assert r.json["data"] == [] and r.json["nextCursor"] is None, r.json
    r = other.list_tx()
    assert r.status == 200 and r.json["data"] == [], r.json
    # a cursor from another tenant's list shows none of that tenant's items
    r = lx.list_tx(size=1)
    cur = r.json["nextCursor"]
    assert cur, r.json
    r = other.list_tx(cursor=cur)
    assert r.status in (200, 400), describe(r)
    if r.status == 200:
        assert r.json["data"] == [], r.json


# ---------------------------------------------------------------------------
# exchange rates
# ---------------------------------------------------------------------------

RATE_KEYS = {"id", "type", "sourceCurrency", "targetCurrency", "rate", "timeLock", "expiresAt", "createdAt"}


def test_exchange_rate_floating(lx):
    r = lx.rate("FLOATING", None)
    assert set(r) >= RATE_KEYS, r
    assert UUID_RE.match(r["id"]), r
    assert r["type"] == "FLOATING" and r["sourceCurrency"] == "USDC" and r["targetCurrency"] == "EUR", r
    assert r["rate"] == "0.92", r
    assert r["expiresAt"] is None and r["timeLock"] is None, r
    _ts(r["createdAt"])
    for tgt in ("BRL", "MXN", "GBP", "USD"):
        q = lx.rate("FLOATING", None, "USDT", tgt)
        assert Decimal(q["rate"]) == Decimal(RATES[tgt]), q


@pytest.mark.parametrize("lock,seconds", [("30s", 30), ("1m", 60), ("5m", 300)])
def test_exchange_rate_locked_expiry(lx, lock, seconds):
    r = lx.rate("LOCKED", lock)
    assert r["type"] == "LOCKED" and r["timeLock"] == lock and r["rate"] == "0.92", r
    delta = (_ts(r["expiresAt"]) - _ts(r["createdAt"])).total_seconds()
    assert abs(delta - seconds) <= 1, f"expiresAt - createdAt = {delta}s, expected {seconds}s: {r}"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((_ts(r["createdAt"]) - now).total_seconds()) < 30, r


BAD_RATE = [
    ("floating_with_time_lock", {"type": "FLOATING", "timeLock": "30s"}, {"invalid_value", "unknown_field"},
     "/timeLock"),
    ("locked_without_time_lock", {"type": "LOCKED"}, "missing_field", "/timeLock"),
    ("time_lock_10m", {"type": "LOCKED", "timeLock": "10m"}, "invalid_value", "/timeLock"),
    ("time_lock_number", {"type": "LOCKED", "timeLock": 30}, "invalid_type", "/timeLock"),
    ("type_unknown", {"type": "FIXED"}, "invalid_value", "/type"),
    ("source_fiat", {"type": "FLOATING", "sourceCurrency": "EUR"}, {"invalid_value", "unsupported_currency"},
     "/sourceCurrency"),
    ("target_stablecoin", {"type": "FLOATING", "targetCurrency": "USDT"},
     {"invalid_value", "unsupported_currency"}, "/targetCurrency"),
    ("target_unknown", {"type": "FLOATING", "targetCurrency": "XYZ"}, {"invalid_value", "unsupported_currency"},
     "/targetCurrency"),
    ("unknown_field", {"type": "FLOATING", "amount": "1.00"}, "unknown_field", "/amount"),
]


@pytest.mark.parametrize("case", BAD_RATE, ids=[c[0] for c in BAD_RATE])
def test_bad_exchange_rate(lx, case):
    _id, changes, code, ptr = case
    body = {"sourceCurrency": "USDC", "targetCurrency": "EUR"}
    body.update(changes)
    assert_error(lx.req("POST", "/exchange-rates", body), 400, code, ptr)


def test_exchange_rate_needs_ramps_create(lx):
    key = lx.t.key_without("ramps.create")
    r = lx.req("POST", "/exchange-rates", {"sourceCurrency": "USDC", "targetCurrency": "EUR", "type": "FLOATING"},
               key=key)
    assert_error(r, 403, "missing_capability")


def test_locked_rate_survives_operator_change(server_factory):
    srv = server_factory(step_ms=100)
    x = Lumx(srv, "lumx-fx")
    cust = x.customer(fund="5000.00")
    dest = x.destination(cust)
    locked = x.rate("LOCKED", "5m")
    assert locked["rate"] == "0.92", locked
    srv.set_rate("USDC", "EUR", "0.5")
    assert Decimal(x.rate("FLOATING", None)["rate"]) == Decimal("0.5"), "the floating quote follows the operator"

    x.fund(cust, "500.00", "USDT")
    pix = x.destination(cust, "PIX_RANDOM")
    brl = x.rate("LOCKED", "1m", "USDT", "BRL")
    assert Decimal(brl["rate"]) == Decimal("5.50"), brl
    srv.set_rate("USDT", "BRL", "6.00")

    a = x.tx(dest, "100.00", exchangeRateId=locked["id"])
    assert a["request"]["exchangeRateId"] == locked["id"], a
    b = x.tx(dest, "100.00")
    c = x.tx(pix, "33.33", "USDT", purpose="INVESTMENT", exchangeRateId=brl["id"])
    fa, _ = x.watch(a["id"])
    fb, _ = x.watch(b["id"])
    fc, _ = x.watch(c["id"])
    rc = fc["state"]["receipt"]
    assert fc["state"]["status"] == "SUCCESS" and Decimal(rc["rate"]) == Decimal("5.50"), fc
    assert rc["targetAmount"] == "183.31" and rc["targetCurrency"] == "BRL", f"33.33 x 5.50 = 183.315: {rc}"
    assert rc["fees"]["currency"] == "USDT", rc
    assert fa["state"]["status"] == "SUCCESS" and fb["state"]["status"] == "SUCCESS", (fa, fb)
    ra, rb = fa["state"]["receipt"], fb["state"]["receipt"]
    assert ra["rate"] == "0.92" and ra["targetAmount"] == "92.00", f"the locked rate applies: {ra}"
    assert Decimal(rb["rate"]) == Decimal("0.5") and rb["targetAmount"] == "50.00", f"the operator's rate: {rb}"
    s = x.session(a["id"])
    assert s["fill_rate"] == "0.92" and s["delivered_amount"] == {"currency": "EUR", "value": "92.00"}, s

    # single use
    before = x.balance(cust)
    r = x.post_tx(x.tx_body(dest, "100.00", exchangeRateId=locked["id"]))
    assert_error(r, 422, "exchange_rate_already_used")
    assert x.balance(cust) == before
    _ledger_ok(srv)


def test_locked_rate_errors(lx):
    x = Lumx(lx.server)
    cust = x.customer(fund="1000.00")
    x.fund(cust, "1000.00", "USDT")
    dest = x.destination(cust)            # EUR
    before = x.balance(cust)
    floating = x.rate("FLOATING", None)
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=floating["id"])), 422,
                 "exchange_rate_not_locked")
    brl = x.rate("LOCKED", "5m", "USDC", "BRL")
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=brl["id"])), 422, "exchange_rate_mismatch")
    usdt_eur = x.rate("LOCKED", "5m", "USDT", "EUR")
    assert_error(x.post_tx(x.tx_body(dest, "10.00", "USDC", exchangeRateId=usdt_eur["id"])), 422,
                 "exchange_rate_mismatch")
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=str(uuid.uuid4()))), 404, "not_found")
    # another tenant's locked rate names nothing here
    theirs = lx.rate("LOCKED", "5m")
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=theirs["id"])), 404, "not_found")
    assert x.balance(cust) == before
    # the refused ones were not used: the matching locked rates still work
    tx = x.tx(dest, "10.00", "USDT", exchangeRateId=usdt_eur["id"])
    assert tx["state"]["status"] == "TRANSFERRING_STABLECOIN", tx
    lx.tx(lx.dest, "10.00", exchangeRateId=theirs["id"])


def test_locked_rate_not_used_by_a_refused_transaction(lx):
    x = Lumx(lx.server)
    cust = x.customer(fund="5.00")
    dest = x.destination(cust)
    locked = x.rate("LOCKED", "5m")
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=locked["id"])), 422, "insufficient_funds")
    x.fund(cust, "10.00")
    x.tx(dest, "10.00", exchangeRateId=locked["id"])
    assert_error(x.post_tx(x.tx_body(dest, "1.00", exchangeRateId=locked["id"])), 422, "exchange_rate_already_used")


def test_locked_rate_replay_is_not_a_second_use(lx):
    x = Lumx(lx.server)
    cust = x.customer(fund="100.00")
    dest = x.destination(cust)
    locked = x.rate("LOCKED", "5m")
    h = _idem()
    body = x.tx_body(dest, "10.00", exchangeRateId=locked["id"])
    a = x.post_tx(body, headers=h)
    assert a.status == 202, describe(a)
    b = x.post_tx(body, headers=h)
    assert b.status == 202 and b.raw == a.raw, f"a replay is the first answer, not a second use: {describe(b)}"
    assert b.headers.get("x-idempotency-cached") == "true", b.headers
    assert x.balance(cust) == _bal("100.00", "11.00")
    assert_error(x.post_tx(body, headers=_idem()), 422, "exchange_rate_already_used")


def test_locked_rate_single_use_under_concurrency(server):
    x = Lumx(server)
    cust = x.customer(fund="1000.00")
    dest = x.destination(cust)
    locked = x.rate("LOCKED", "5m")
    body = x.tx_body(dest, "10.00", exchangeRateId=locked["id"])
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda _: x.post_tx(body), range(8)))
    ok = [r for r in res if r.status == 202]
    assert len(ok) == 1, f"a locked rate is used once: {[describe(r) for r in res]}"
    for r in res:
        if r.status != 202:
            assert_error(r, 422, "exchange_rate_already_used")
    assert x.balance(cust) == _bal("1000.00", "11.00"), x.balance(cust)


@pytest.mark.skipif(os.environ.get("OFFRAMP_SLOW") != "1", reason="waits 31 s; set OFFRAMP_SLOW=1")
def test_locked_rate_expires(lx):
    x = Lumx(lx.server)
    cust = x.customer(fund="100.00")
    dest = x.destination(cust)
    locked = x.rate("LOCKED", "30s")
    wait = (_ts(locked["expiresAt"]) - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1.5
    time.sleep(max(wait, 0))
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=locked["id"])), 422, "exchange_rate_expired")
    assert x.balance(cust) == _bal("100.00")


# ---------------------------------------------------------------------------
# partner fees
# ---------------------------------------------------------------------------

def test_partner_fee_created(lx):
    body = {"name": "Reseller A", "basisPoints": 50, "flatAmount": "0.50", "default": False}
    r = lx.req("POST", "/partner-fees", body)
    assert r.status == 201, describe(r)
    assert set(r.json) >= {"id", "name", "basisPoints", "flatAmount", "default", "createdAt"}, r.json
    assert UUID_RE.match(r.json["id"]), r.json
    for k, v in body.items():
        assert r.json[k] == v, (k, r.json)
    _ts(r.json["createdAt"])


BAD_FEE = [
    ("bps_string", {"basisPoints": "50"}, "invalid_type", "/basisPoints"),
    ("bps_negative", {"basisPoints": -1}, {"invalid_value", "amount_not_positive"}, "/basisPoints"),
    ("bps_fraction", {"basisPoints": 1.5}, {"invalid_type", "invalid_value"}, "/basisPoints"),
    ("flat_number", {"flatAmount": 0.5}, "invalid_amount", "/flatAmount"),
    ("flat_exponent", {"flatAmount": "1e3"}, "invalid_amount", "/flatAmount"),
    ("flat_too_precise", {"flatAmount": "0.0000001"}, "amount_too_precise", "/flatAmount"),
    ("default_string", {"default": "yes"}, "invalid_type", "/default"),
    ("name_missing", {"name": None}, {"missing_field", "invalid_type"}, "/name"),
    ("unknown_field", {"currency": "USDC"}, "unknown_field", "/currency"),
]


@pytest.mark.parametrize("case", BAD_FEE, ids=[c[0] for c in BAD_FEE])
def test_bad_partner_fee(lx, case):
    _id, changes, code, ptr = case
    body = {"name": "Bad", "basisPoints": 50, "flatAmount": "0.50", "default": False}
    body.update(changes)
    if body.get("name", 1) is None:
        del body["name"]
    assert_error(lx.req("POST", "/partner-fees", body), 400, code, ptr)


def test_partner_fee_needs_policies_manage(lx):
    key = lx.t.key_without("policies.manage")
    r = lx.req("POST", "/partner-fees", {"name": "x", "basisPoints": 1, "flatAmount": "0.00", "default": False},
               key=key)
    assert_error(r, 403, "missing_capability")


def test_partner_fee_is_held(server):
    x = Lumx(server)
    cust = x.customer(fund="2000.00")
    dest = x.destination(cust)
    fee = x.partner_fee(50, "0.50")
    tx = x.tx(dest, "1000.00", partnerFeeId=fee["id"])
    assert tx["request"]["partnerFeeId"] == fee["id"], tx
    s = x.session(tx["id"])
    comps = _fee_components(s)
    assert comps.get("partner_fee") == Decimal("5.50"), f"0.5% of 1000.00 + 0.50: {s['fee_summary']}"
    assert comps.get("network_fee") == Decimal("1.00"), s["fee_summary"]
    assert _fee_total(s) == Decimal("6.50"), s["fee_summary"]
    assert x.balance(cust) == _bal("2000.00", "1006.50"), x.balance(cust)
    # without partnerFeeId (and no default): no partner fee
    tx = x.tx(dest, "100.00")
    s = x.session(tx["id"])
    assert _fee_components(s).get("partner_fee", Decimal(0)) == 0 and _fee_total(s) == Decimal("1.00"), s
    # the fee counts toward insufficient funds: 2000.00 - 1006.50 - 101.00 = 892.50 left;
    # 887.00 needs 887.00 + 4.435 + 0.50 + 1.00 = 892.935
    assert_error(x.post_tx(x.tx_body(dest, "887.00", partnerFeeId=fee["id"])), 422, "insufficient_funds")
    # 885.00 needs 885.00 + 4.425 + 0.50 + 1.00 = 890.925
    x.tx(dest, "885.00", partnerFeeId=fee["id"])
    assert x.balance(cust) == _bal("2000.00", "1998.425"), x.balance(cust)


def test_partner_fee_rounding_half_up(server):
    x = Lumx(server)
    cust = x.customer(fund="10.00")
    dest = x.destination(cust)
    fee = x.partner_fee(50, "0.50")
    # 0.0001 x 50 / 10000 = 0.0000005 -> 0.000001 (half up); 0.000099 -> 0.000000495 -> 0
    for amount, partner in (("0.0001", "0.500001"), ("0.000099", "0.50"), ("0.000299", "0.500001")):
        tx = x.tx(dest, amount, partnerFeeId=fee["id"])
        comps = _fee_components(x.session(tx["id"]))
        assert comps.get("partner_fee") == Decimal(partner), f"{amount}: partner fee {comps}, expected {partner}"


def test_partner_fee_unknown_or_another_tenants(lx):
    other = Lumx(lx.server)
    theirs = other.partner_fee()
    before = lx.balance(lx.cust)
    for fid in (str(uuid.uuid4()), theirs["id"]):
        assert_error(lx.post_tx(lx.tx_body(lx.dest, "10.00", partnerFeeId=fid)), 404, "not_found")
    assert lx.balance(lx.cust) == before


def test_default_partner_fee_is_not_applied(server):
    """Lumx: "If not provided, partner fees will be zero." A fee marked
    default is a label: only a transaction naming it pays it."""
    x = Lumx(server)
    cust = x.customer(fund="1000.00")
    dest = x.destination(cust)
    dflt = x.partner_fee(200, "1.00", default=True, name="the default")
    assert dflt["default"] is True, dflt
    named = x.partner_fee(50, "0.50", default=False, name="named")
    # no partnerFeeId (absent or null): no partner fee, although a default exists
    for extra in ({}, {"partnerFeeId": None}):
        s = x.session(x.tx(dest, "100.00", **extra)["id"])
        assert "partner_fee" not in _fee_components(s), f"{extra}: {s['fee_summary']}"
        assert _fee_total(s) == Decimal("1.00"), s["fee_summary"]
    # naming a fee, the default one included, charges it
    s = x.session(x.tx(dest, "100.00", partnerFeeId=named["id"])["id"])
    assert _fee_components(s).get("partner_fee") == Decimal("1.00"), s["fee_summary"]
    s = x.session(x.tx(dest, "100.00", partnerFeeId=dflt["id"])["id"])
    assert _fee_components(s).get("partner_fee") == Decimal("3.00"), s["fee_summary"]
    assert x.balance(cust) == _bal("1000.00", "408.00"), "4 × (100.00 + 1.00) + 1.00 + 3.00 held"


def test_partner_fee_in_receipt(fast_server):
    x = Lumx(fast_server)
    cust = x.customer(fund="1500.00")
    dest = x.destination(cust)
    fee = x.partner_fee(50, "0.50")
    tx = x.tx(dest, "1000.00", partnerFeeId=fee["id"])
    # in USDT: the fee is in the source asset
    x.fund(cust, "100.00", "USDT")
    usdt = x.tx(dest, "50.00", "USDT", partnerFeeId=fee["id"])   # 0.25 + 0.50
    # .06: the payout is rejected; the hold, partner fee included, is released
    bad = x.tx(dest, "100.06", partnerFeeId=fee["id"])
    assert _fee_components(x.session(bad["id"])).get("partner_fee") == Decimal("1.0003"), x.session(bad["id"])
    final, _ = x.watch(tx["id"])
    assert final["state"]["status"] == "SUCCESS", final
    fbad, _ = x.watch(bad["id"])
    assert fbad["state"]["status"] == "REFUNDED", fbad
    assert "receipt" not in fbad["state"], fbad
    assert final["state"]["receipt"]["fees"] == {"currency": "USDC", "platform": "1.00", "partner": "5.50",
                                                 "total": "6.50"}, final["state"]["receipt"]
    assert final["state"]["receipt"]["targetAmount"] == "920.00", final["state"]["receipt"]
    fu, _ = x.watch(usdt["id"])
    assert fu["state"]["status"] == "SUCCESS", fu
    assert fu["state"]["receipt"]["fees"] == {"currency": "USDT", "platform": "1.00", "partner": "0.75",
                                              "total": "1.75"}, fu["state"]["receipt"]
    assert x.balance(cust, "USDT") == _bal("48.25"), "100.00 - 50.00 - 1.00 - 0.75"
    assert x.balance(cust) == _bal("493.50"), "1500.00 - 1000.00 - 1.00 - 5.50"
    _ledger_ok(fast_server)


# ---------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------

def _limits(x, cid):
    c = x.get_customer(cid)
    assert isinstance(c.get("limits"), dict), f"customer has no limits: {c}"
    return c["limits"]


def test_default_limits_and_usage(server):
    x = Lumx(server)
    cust = x.customer(fund="1000.00")
    assert cust.get("limits") == {"perTransaction": "100000.00", "daily": "250000.00", "monthly": "1000000.00",
                                  "usedToday": "0.00", "remainingToday": "250000.00", "usedThisMonth": "0.00",
                                  "remainingThisMonth": "1000000.00"}, cust
    assert cust.get("transactionLimits") == {"single": "100000.00", "daily": "250000.00", "monthly": "1000000.00"}
    dest = x.destination(cust)
    x.tx(dest, "100.00")
    x.tx(dest, "0.50", "USDC")
    lim = _limits(x, cust["id"])
    assert lim == {"perTransaction": "100000.00", "daily": "250000.00", "monthly": "1000000.00",
                   "usedToday": "100.50", "remainingToday": "249899.50", "usedThisMonth": "100.50",
                   "remainingThisMonth": "999899.50"}, lim


def test_limits_per_transaction_and_daily(server):
    x = Lumx(server)
    cust = x.customer(fund="10000.00")
    x.fund(cust, "1000.00", "USDT")
    dest = x.destination(cust)
    x.tx(dest, "100.00")
    c = x.set_limits(cust["id"], "500.00", "1000.00")
    assert c["id"] == cust["id"], c
    assert c["limits"] == {"perTransaction": "500.00", "daily": "1000.00", "monthly": "1000000.00",
                           "usedToday": "100.00", "remainingToday": "900.00", "usedThisMonth": "100.00",
                           "remainingThisMonth": "999900.00"}, c
    assert c["transactionLimits"] == {"single": "500.00", "daily": "1000.00", "monthly": "1000000.00"}, c
    assert _limits(x, cust["id"]) == c["limits"]

    before = x.balance(cust)
    r = x.post_tx(x.tx_body(dest, "600.00"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("limit") == "per_transaction", r.json
    r = x.post_tx(x.tx_body(dest, "500.01", "USDT"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("limit") == "per_transaction", r.json
    assert x.balance(cust) == before, "a refused transaction held something"
    x.tx(dest, "500.00")                       # at the limit: fine; used 600.00
    lim = _limits(x, cust["id"])
    assert lim["usedToday"] == "600.00" and lim["remainingToday"] == "400.00", lim

    r = x.post_tx(x.tx_body(dest, "400.01"))
    assert_error(r, 422, "limit_exceeded")
    d = r.json["details"]
    assert d.get("limit") == "daily", r.json
    assert _detail_decimal(d, "used") == Decimal("600.00"), d
    assert _detail_decimal(d, "remaining") == Decimal("400.00"), d
    # USDT counts at par with USDC
    x.tx(dest, "300.00", "USDT")
    r = x.post_tx(x.tx_body(dest, "100.01"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("limit") == "daily", r.json
    x.tx(dest, "100.00")                       # exactly the daily limit
    lim = _limits(x, cust["id"])
    assert lim["usedToday"] == "1000.00" and lim["remainingToday"] == "0.00", lim
    r = x.post_tx(x.tx_body(dest, "0.01"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("limit") == "daily", r.json

    # raising the limits lets it through again
    x.set_limits(cust["id"], "500.00", "2000.00")
    x.tx(dest, "0.01")
    # limits are per customer: another customer of the tenant is not limited by them
    other = x.customer(fund="1000.00")
    x.tx(x.destination(other), "600.00")


def test_daily_limit_under_concurrency(server):
    x = Lumx(server)
    cust = x.customer(fund="5000.00")
    dest = x.destination(cust)
    x.set_limits(cust["id"], "1000.00", "1000.00")
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        res = list(ex.map(lambda _: x.post_tx(x.tx_body(dest, "300.00")), range(6)))
    ok = [r for r in res if r.status == 202]
    assert len(ok) == 3, f"300.00 fits three times in a daily 1000.00: {[describe(r) for r in res]}"
    for r in res:
        if r.status != 202:
            assert_error(r, 422, "limit_exceeded")
            assert r.json["details"].get("limit") == "daily", r.json
    lim = _limits(x, cust["id"])
    assert lim["usedToday"] == "900.00" and lim["remainingToday"] == "100.00", lim
    assert x.balance(cust) == _bal("5000.00", "903.00"), x.balance(cust)


def test_limit_exceeded_is_replayed(server):
    """A 422 is kept by idempotency: replayed as it was, even once the limit
    has been raised; a new key is a new request."""
    x = Lumx(server)
    cust = x.customer(fund="1000.00")
    dest = x.destination(cust)
    x.set_limits(cust["id"], "500.00", "1000.00")
    h = _idem()
    body = x.tx_body(dest, "600.00")
    a = x.post_tx(body, headers=h)
    assert_error(a, 422, "limit_exceeded")
    x.set_limits(cust["id"], "1000.00", "1000.00")
    b = x.post_tx(body, headers=h)
    assert b.status == 422 and b.raw == a.raw, describe(b)
    assert b.headers.get("x-idempotency-cached") == "true", b.headers
    assert x.balance(cust) == _bal("1000.00")
    c = x.post_tx(body, headers=_idem())
    assert c.status == 202, describe(c)


def test_422_pointers_name_the_lumx_field(server):
    """A 422 caused by the amount names /sourceAmount, the field of the body
    that was sent (when it names a field at all), never a pointer of the
    sessions API's body such as /amount/value."""
    x = Lumx(server)
    cust = x.customer(fund="10.00")
    dest = x.destination(cust)
    inst = x.destination(cust, "SEPA_INSTANT")

    def check(name, body, code):
        r = x.post_tx(body)
        assert_error(r, 422, code)
        field = r.json["details"].get("field")
        assert field in (None, "/sourceAmount"), \
            f"{name}: details.field {field!r} is not a field of the Lumx body: {describe(r)}"
    check("insufficient_funds", x.tx_body(dest, "60.00"), "insufficient_funds")
    x.set_limits(cust["id"], "5.00", "6.00")
    check("per_transaction", x.tx_body(dest, "5.01"), "limit_exceeded")
    x.tx(dest, "5.00")
    check("daily", x.tx_body(dest, "1.01"), "limit_exceeded")
    # the SEPA Instant cap (100,000.00 EUR per payout) on this surface
    x.set_limits(cust["id"], "200000.00", "250000.00")
    x.fund(cust, "200000.00")
    r = x.post_tx(x.tx_body(inst, "110000.00"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("field") in (None, "/sourceAmount"), describe(r)
    r = x.post_tx(x.tx_body(inst, "108695.66"))            # 100000.0072 EUR: rounds down to the cap
    assert r.status == 202, describe(r)


BAD_LIMITS = [
    ("negative", {"perTransaction": "-1", "daily": "1000.00"}, "invalid_amount", "/perTransaction"),
    ("zero", {"perTransaction": "500.00", "daily": "0"}, "amount_not_positive", "/daily"),
    ("number", {"perTransaction": 500, "daily": "1000.00"}, "invalid_amount", "/perTransaction"),
    ("too_precise", {"perTransaction": "1.0000001", "daily": "1000.00"}, "amount_too_precise", "/perTransaction"),
    ("unknown_field", {"perTransaction": "1.00", "daily": "2.00", "weekly": "3.00"}, "unknown_field", "/weekly"),
    ("monthly_zero", {"monthly": "0.00"}, "amount_not_positive", "/monthly"),
]


@pytest.mark.parametrize("case", BAD_LIMITS, ids=[c[0] for c in BAD_LIMITS])
def test_bad_limits(lx, case):
    _id, body, code, ptr = case
    before = _limits(lx, lx.cust["id"])
    assert_error(lx.req("PUT", f"/customers/{lx.cust['id']}/limits", body), 400, code, ptr)
    assert _limits(lx, lx.cust["id"]) == before


def test_limits_put_unknown_customer_and_capability(lx):
    other = Lumx(lx.server)
    body = {"perTransaction": "1.00", "daily": "2.00"}
    for cid in (str(uuid.uuid4()), lx.cust["id"]):
        assert_error(other.req("PUT", f"/customers/{cid}/limits", body), 404, "not_found")
    key = lx.t.key_without("clients.manage")
    assert_error(lx.req("PUT", f"/customers/{lx.cust['id']}/limits", body, key=key), 403, "missing_capability")
    assert _limits(lx, lx.cust["id"])["perTransaction"] == "100000.00"


def test_failed_transactions_stop_counting(fast_server):
    x = Lumx(fast_server)
    cust = x.customer(fund="5000.00")
    dest = x.destination(cust)
    x.set_limits(cust["id"], "1000.00", "1000.00")
    bad = x.tx(dest, "600.05")
    final, _ = x.watch(bad["id"])
    assert final["state"]["status"] == "REFUNDED", final
    lim = _limits(x, cust["id"])
    assert lim["usedToday"] == "0.00" and lim["remainingToday"] == "1000.00", f"a failed one stops counting: {lim}"
    ok = x.tx(dest, "1000.00")
    final, _ = x.watch(ok["id"])
    assert final["state"]["status"] == "SUCCESS", final
    lim = _limits(x, cust["id"])
    assert lim["usedToday"] == "1000.00" and lim["remainingToday"] == "0.00", f"a settled one counts: {lim}"
    assert_error(x.post_tx(x.tx_body(dest, "1.00")), 422, "limit_exceeded")


def test_cancelled_sessions_stop_counting(server):
    x = Lumx(server)
    cust = x.customer(fund="5000.00")
    dest = x.destination(cust)
    x.set_limits(cust["id"], "2000.00", "2000.00")
    x.t.set_threshold("1000.00")
    tx = x.tx(dest, "1500.00")
    assert tx["state"]["status"] == "AWAITING_APPROVAL", tx
    assert _limits(x, cust["id"])["usedToday"] == "1500.00"
    assert_error(x.post_tx(x.tx_body(dest, "600.00")), 422, "limit_exceeded")
    r = x.req("POST", f"/off-ramp-sessions/{tx['id']}/cancel")
    assert r.status == 200, describe(r)
    assert _limits(x, cust["id"])["usedToday"] == "0.00"
    x.tx(dest, "600.00")


def test_limits_apply_to_sessions_api(server):
    x = Lumx(server)
    cust = x.customer(fund="5000.00")
    dest = x.destination(cust)
    x.set_limits(cust["id"], "500.00", "800.00")
    saved = _ok(x.req("GET", f"/withdrawal-destinations/{dest['id']}"), 200, "GET /withdrawal-destinations")
    # A GET shows the IBAN masked; the client has its own copy (what it sent).
    inline = copy.deepcopy(saved["destination"])
    assert inline["bank_coordinates"]["iban"] == mask_bank_number(IDENT["SEPA"][1]["iban"]), inline
    inline["bank_coordinates"]["iban"] = IDENT["SEPA"][1]["iban"]

    def session_body(amount):
        return {
            "account_ref": cust["accountRef"],
            "amount": {"currency": "USDC", "value": amount},
            "target_currency": "EUR",
            "target_rail": "fiat",
            "destination": {"method": "bank_transfer", "fiat_rail": "sepa_credit_transfer",
                            "payment_reference": None, "route_owner_ref": f"clients/{cust['id']}",
                            "withdrawal_destination_id": dest["id"],
                            "destination": copy.deepcopy(inline)},
        }
    before = x.balance(cust)
    r = x.req("POST", "/off-ramp-sessions", session_body("500.01"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("limit") == "per_transaction", r.json
    assert x.balance(cust) == before
    r = x.req("POST", "/off-ramp-sessions", session_body("500.00"))
    assert r.status == 201, describe(r)
    lim = _limits(x, cust["id"])
    assert lim["usedToday"] == "500.00" and lim["remainingToday"] == "300.00", f"a session counts: {lim}"
    # the daily limit spans both surfaces
    x.tx(dest, "200.00")
    r = x.req("POST", "/off-ramp-sessions", session_body("100.01"))
    assert_error(r, 422, "limit_exceeded")
    assert r.json["details"].get("limit") == "daily", r.json
    r = x.post_tx(x.tx_body(dest, "100.01"))
    assert_error(r, 422, "limit_exceeded")
    r = x.req("POST", "/off-ramp-sessions", session_body("100.00"))
    assert r.status == 201, describe(r)
    assert _limits(x, cust["id"])["remainingToday"] == "0.00"


def test_lumx_state_survives_restart(server_factory):
    """Limits, locked rates (used or not), partner fees and idempotency
    records are durable: a restart on the same database keeps them."""
    srv = server_factory()
    x = Lumx(srv)
    cust = x.customer(fund="1000.00")
    dest = x.destination(cust)
    x.set_limits(cust["id"], "500.00", "1000.00")
    used = x.rate("LOCKED", "5m")
    fresh = x.rate("LOCKED", "5m")
    fee = x.partner_fee(100, "0.10", default=True)
    h = _idem()
    body = x.tx_body(dest, "100.00", exchangeRateId=used["id"], partnerFeeId=fee["id"])
    first = x.post_tx(body, headers=h)
    assert first.status == 202, describe(first)

    srv.stop_checked()
    srv.start()

    lim = _limits(x, cust["id"])
    assert lim == {"perTransaction": "500.00", "daily": "1000.00", "monthly": "1000000.00",
                   "usedToday": "100.00", "remainingToday": "900.00", "usedThisMonth": "100.00",
                   "remainingThisMonth": "999900.00"}, lim
    again = x.post_tx(body, headers=h)
    assert again.status == 202 and again.raw == first.raw, describe(again)
    assert again.headers.get("x-idempotency-cached") == "true", again.headers
    assert_error(x.post_tx(x.tx_body(dest, "10.00", exchangeRateId=used["id"])), 422, "exchange_rate_already_used")
    assert_error(x.post_tx(x.tx_body(dest, "500.01")), 422, "limit_exceeded")
    tx = x.tx(dest, "100.00", exchangeRateId=fresh["id"], partnerFeeId=fee["id"])
    s = x.session(tx["id"])
    assert _fee_components(s).get("partner_fee") == Decimal("1.10"), f"partner fee {fee}: {s['fee_summary']}"
    # 100 + 1.00 + 1.10 (first) and 100 + 1.00 + 1.10 (second)
    assert x.balance(cust) == _bal("1000.00", "204.20"), x.balance(cust)
    _ledger_ok(srv)


def test_zz_ledger_consistent(server):
    _ledger_ok(server)
