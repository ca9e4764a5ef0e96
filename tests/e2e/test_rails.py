"""Every payout rail and destination kind on the sessions API (docs/API.md
"Withdrawal destinations" and "Off-ramp sessions", docs/LIFECYCLE.md,
CONTRACT 5):

- each fiat rail (SEPA credit transfer and instant, ACH, wire, Faster
  Payments, PIX with each key type, SPEI, SWIFT with an IBAN and with an
  account number) and each crypto (asset, network) pair: the destination is
  saved in canonical form, a session on it settles on a fast server with the
  right fill_rate and delivered_amount, the sandbox records one payout of that
  amount, the account's balance is exact;
- known-good identifiers and their normal forms;
- known-bad identifiers: 400 with the field's code and JSON pointer, on
  POST /withdrawal-destinations (nothing saved) and as a session's inline copy
  (nothing held);
- 422 unsupported_route for a country the rail does not serve;
- the SEPA Instant cap (422 limit_exceeded);
- the crypto rules (target_rail, outer fiat_rail, no USDC<->USDT swap);
- the session's inline copy is compared with the saved destination after
  normalisation.

The module's server is `fast_server` (sandbox step LIFECYCLE_STEP_MS): every
accepted session moves on its own; waits are polls with a deadline.

"Nothing saved" is checked by counting the rows of the SQLite database's
`destinations` table through a read-only connection (the API has no list of
destinations); the check is skipped if that table cannot be read."""

import copy
import uuid
from collections import namedtuple
from decimal import ROUND_DOWN, Decimal

import pytest

from offramp_e2e import UUID_RE, _strings, masked, assert_error, db_scalar, describe, fmt_money, payout_session_id, poll_until

SETTLE_TIMEOUT = 30.0

# docs/LIFECYCLE.md: default rates per stablecoin (USDC and USDT alike).
RATES = {"EUR": "0.92", "USD": "1.00", "GBP": "0.79", "BRL": "5.50", "MXN": "17.20"}
MINOR = {"EUR": 2, "USD": 2, "GBP": 2, "BRL": 2, "MXN": 2, "USDC": 6, "USDT": 6}
NETWORK_FEE = Decimal("1.00")   # default network fee on every network
DEPOSIT = "1000.00"

# ---------------------------------------------------------------------------
# vectors
# ---------------------------------------------------------------------------

EVM = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"      # EIP-55 published vector
EVM_LOWER = EVM.lower()
EVM_UPPER = "0x" + EVM[2:].upper()
EVM_OTHER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"  # EIP-55 published vector
EVM_FLIPPED = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # one letter's case flipped
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRON_CHANGED = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"          # last character changed: bad checksum
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"                  # base58check, version byte 0x00
CPF = "529.982.247-25"
CPF_DIGITS = "52998224725"
CPF_OTHER = "111.444.777-35"
CNPJ = "11.222.333/0001-81"
CNPJ_DIGITS = "11222333000181"
CLABE = "032180000118359719"
CLABE_OTHER = "002180000118359710"
GB_IBAN = "GB29NWBK60161331926819"
DE_IBAN = "DE89370400440532013000"
FR_IBAN = "FR1420041010050500013M02606"
BR_IBAN = "BR1800360305000010009795493C1"
TR_IBAN = "TR330006100519786457841326"
GI_IBAN = "GI75NWBK000000007099453"
RANDOM_KEY = "123e4567-e89b-12d3-a456-426614174000"


def bank(rail, currency, coords, name="Acme Treasury"):
    bc = {"account_holder_name": name, "bank_name": "Demo Bank"}
    bc.update(coords)
    return {"method": "bank_transfer", "fiat_rail": rail, "currency": currency, "beneficiary_name": name,
            "reference_hint": None, "bank_coordinates": bc}


def iban_bc(iban, country, bic=None):
    return {"scheme": "iban", "iban": iban, "country": country, "bic": bic}


def aba_bc(routing, account, account_type, country="US"):
    return {"scheme": "aba", "routing_number": routing, "account_number": account, "account_type": account_type,
            "country": country}


def sort_code_bc(sort_code, account, country="GB"):
    return {"scheme": "sort_code", "sort_code": sort_code, "account_number": account, "country": country}


def pix(key_type, key, country="BR"):
    return bank("pix", "BRL", {"scheme": "pix", "pix_key_type": key_type, "pix_key": key, "country": country})


def clabe_bc(clabe, country="MX"):
    return {"scheme": "clabe", "clabe": clabe, "country": country}


def crypto(asset, network, address, label="Treasury wallet"):
    return {"method": "crypto_transfer", "asset": asset, "network": network,
            "destination": {"address": address, "memo": None}, "label": label}


BASE = {
    "sepa_credit_transfer": lambda: bank("sepa_credit_transfer", "EUR", iban_bc(DE_IBAN, "DE", "COBADEFFXXX")),
    "sepa_instant": lambda: bank("sepa_instant", "EUR", iban_bc(FR_IBAN, "FR")),
    "ach": lambda: bank("ach", "USD", aba_bc("021000021", "12345678", "checking")),
    "wire": lambda: bank("wire", "USD", aba_bc("026009593", "12345678", "savings")),
    "faster_payments": lambda: bank("faster_payments", "GBP", sort_code_bc("60-16-13", "31926819")),
    "pix_cpf": lambda: pix("CPF", CPF),
    "pix_cnpj": lambda: pix("CNPJ", CNPJ),
    "pix_email": lambda: pix("EMAIL", "Pix@Example.com.br"),
    "pix_phone": lambda: pix("PHONE", "+5511999998888"),
    "pix_random": lambda: pix("RANDOM", RANDOM_KEY),
    "spei": lambda: bank("spei", "MXN", clabe_bc(CLABE)),
    "swift_account_number": lambda: bank("swift", "USD", {"scheme": "swift", "bic": "DEUTDEFF",
                                                          "account_number": "0532013000", "country": "DE"}),
    "swift_iban": lambda: bank("swift", "GBP", {"scheme": "swift", "bic": "NWBKGB2L", "iban": GB_IBAN,
                                                "country": "GB"}),
    "usdc_ethereum": lambda: crypto("USDC", "ethereum", EVM),
    "usdc_base": lambda: crypto("USDC", "base", EVM),
    "usdc_polygon": lambda: crypto("USDC", "polygon", EVM),
    "usdt_ethereum": lambda: crypto("USDT", "ethereum", EVM),
    "usdt_polygon": lambda: crypto("USDT", "polygon", EVM),
    "usdt_tron": lambda: crypto("USDT", "tron", TRON),
}


def typed(key, **bc):
    """A fresh copy of BASE[key] with bank_coordinates fields changed
    (bc_<name>=value; None removes the key) or, for crypto, address=..."""
    d = BASE[key]()
    for k, v in bc.items():
        if k == "address":
            d["destination"]["address"] = v
        else:
            d["bank_coordinates"][k] = v
    return d


def is_crypto(d):
    return d.get("method") == "crypto_transfer"


def dest_currency(d):
    return d["asset"] if is_crypto(d) else d["currency"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _floor(amount, rate, currency):
    q = Decimal(1).scaleb(-MINOR[currency])
    return fmt_money((Decimal(amount) * Decimal(rate)).quantize(q, rounding=ROUND_DOWN))


def saved_destination_rows(server):
    """Rows of the destinations table, read from outside the server."""
    return db_scalar(server, "SELECT count(*) FROM destinations")


def post_destination(t, account_ref, d, nested=True):
    body = {"account_ref": account_ref, "destination": d} if nested else dict(d, account_ref=account_ref)
    return t.req("POST", "/withdrawal-destinations", body, headers={"Idempotency-Key": f"dest-{uuid.uuid4()}"})


def subset_mismatch(expected, got, path=""):
    """Where `got` differs from `expected` (keys of expected only; an expected
    None also matches an absent key). Returns a list of JSON pointers."""
    out = []
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [path or "/"]
        for k, v in expected.items():
            if k not in got:
                if v is not None:
                    out.append(f"{path}/{k}")
                continue
            out.extend(subset_mismatch(v, got[k], f"{path}/{k}"))
        return out
    return [] if expected == got else [path or "/"]


def session_body(acct, client_id, dest_id, d, amount, currency=None, target_currency=None, target_rail=None,
                 payment_reference="RF18539007547034", outer_method=None, outer_fiat_rail="same"):
    """A session body for the typed destination d (sent inline) saved as
    dest_id. Crypto: target_rail crypto, target_currency the asset, outer
    fiat_rail null, source currency the asset. outer_fiat_rail=ABSENT drops
    the key."""
    c = is_crypto(d)
    if currency is None:
        currency = d["asset"] if c else "USDC"
    outer = {
        "method": outer_method or d.get("method"),
        "fiat_rail": (None if c else d.get("fiat_rail")) if outer_fiat_rail == "same" else outer_fiat_rail,
        "payment_reference": payment_reference,
        "route_owner_ref": f"clients/{client_id}",
        "withdrawal_destination_id": dest_id,
        "destination": copy.deepcopy(d),
    }
    if outer["fiat_rail"] is ABSENT:
        del outer["fiat_rail"]
    if payment_reference is ABSENT:
        del outer["payment_reference"]
    return {
        "account_ref": acct,
        "amount": {"currency": currency, "value": amount},
        "target_currency": target_currency or dest_currency(d),
        "target_rail": target_rail or ("crypto" if c else "fiat"),
        "destination": outer,
    }


ABSENT = object()


class Env:
    """One tenant and two clients, each with an account holding USDC and
    USDT: `pos` (acct, client_id) gets accepted sessions, `neg` only refused
    ones (so its balances and the session list never move while a test
    looks). saved(key): a saved destination of every BASE kind for `neg`,
    made on first use."""

    def __init__(self, server):
        self.server = server
        self.t = server.new_tenant("rails")
        self.client = self.t.create_client("Rails Client")
        self.client_id = self.client["id"]
        self.acct = self.client["default_account_ref"]
        self.neg_client = self.t.create_client("Rails Refused")
        self.neg_client_id = self.neg_client["id"]
        self.neg_acct = self.neg_client["default_account_ref"]
        for a in (self.acct, self.neg_acct):
            self.t.deposit(a, "100000.00", "USDC")
            self.t.deposit(a, "100000.00", "USDT")
        self._saved = {}

    def saved(self, key):
        if key not in self._saved:
            r = post_destination(self.t, self.neg_acct, BASE[key]())
            assert r.status == 201, f"saving {key}: {describe(r)}"
            self._saved[key] = r.json
        return self._saved[key]

    def snapshot(self):
        """The refused-only account's balances and its sessions."""
        return {"bal": self.t.balances(self.neg_acct), "sessions": self.t.session_ids(account_ref=self.neg_acct)}

    def post_session(self, body):
        return self.t.req("POST", "/off-ramp-sessions", body)


@pytest.fixture(scope="module")
def env(fast_server):
    return Env(fast_server)


# ---------------------------------------------------------------------------
# every rail and crypto pair settles
# ---------------------------------------------------------------------------

Route = namedtuple("Route", "id key source amount saved")

# saved: the normal forms the saved destination must show (else what was sent)
ROUTES = [
    Route("sepa_credit_transfer", "sepa_credit_transfer", "USDC", "123.456789", {}),
    Route("sepa_instant", "sepa_instant", "USDC", "250.10", {}),
    Route("ach", "ach", "USDC", "99.99", {}),
    Route("wire", "wire", "USDT", "834.5678", {}),
    Route("faster_payments", "faster_payments", "USDC", "123.45", {"bank_coordinates": {"sort_code": "601613"}}),
    Route("pix_cpf", "pix_cpf", "USDC", "77.777777", {"bank_coordinates": {"pix_key": CPF_DIGITS}}),
    Route("pix_cnpj", "pix_cnpj", "USDT", "10.01", {"bank_coordinates": {"pix_key": CNPJ_DIGITS}}),
    Route("pix_email", "pix_email", "USDC", "33.33", {"bank_coordinates": {"pix_key": "pix@example.com.br"}}),
    Route("pix_phone", "pix_phone", "USDC", "12.34", {}),
    Route("pix_random", "pix_random", "USDC", "5.55", {}),
    Route("spei", "spei", "USDT", "123.456789", {}),
    Route("swift_account_number", "swift_account_number", "USDC", "500.00", {}),
    Route("swift_iban", "swift_iban", "USDC", "200.03", {}),
    Route("usdc_ethereum", "usdc_ethereum", "USDC", "12.345678", {}),
    Route("usdc_base", "usdc_base", "USDC", "0.5", {}),
    Route("usdc_polygon", "usdc_polygon", "USDC", "100", {}),
    Route("usdt_ethereum", "usdt_ethereum", "USDT", "42.424242", {}),
    Route("usdt_polygon", "usdt_polygon", "USDT", "3.000001", {}),
    Route("usdt_tron", "usdt_tron", "USDT", "250.00", {}),
]


def _expected_saved(sent, saved_changes):
    exp = copy.deepcopy(sent)
    for k, v in saved_changes.items():
        if isinstance(v, dict):
            exp[k].update(v)
        else:
            exp[k] = v
    return exp


def _zero():
    return {"available": "0.00", "held": "0.00", "total": "0.00"}


@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
def test_route_settles(env, route):
    t = env.t
    sent = BASE[route.key]()
    c = is_crypto(sent)
    target = dest_currency(sent)
    if c:
        assert route.source == target
    client = t.create_client(f"Rail {route.id}")
    acct = client["default_account_ref"]
    t.deposit(acct, DEPOSIT, route.source)

    # the destination: saved in canonical form, owned by the account's client
    r = post_destination(t, acct, sent)
    assert r.status == 201, f"{route.id} destination {sent}: {describe(r)}"
    d = r.json
    assert UUID_RE.match(d["id"]), d
    assert d["account_ref"] == acct and d["route_owner_ref"] == f"clients/{client['id']}", d
    assert d["method"] == sent["method"], d
    assert d["fiat_rail"] == (None if c else sent["fiat_rail"]), d
    assert d["currency"] == target, d
    bad = subset_mismatch(_expected_saved(sent, route.saved), d["destination"])
    assert not bad, f"saved destination differs at {bad}: sent {sent}, saved {d['destination']}"
    g = t.req("GET", f"/withdrawal-destinations/{d['id']}")
    assert g.status == 200 and g.json == masked(d), f"GET differs from POST, masked: {describe(g)} vs {d}"

    # the session
    body = session_body(acct, client["id"], d["id"], sent, route.amount, route.source)
    r = t.req("POST", "/off-ramp-sessions", body)
    assert r.status == 201, f"{route.id} session {body}: {describe(r)}"
    s = r.json
    sid = s["id"]
    assert s["status"] == "executing", s
    assert s["target_currency"] == target, s
    assert s["family_params"] == {"source_currency": route.source, "target_rail": "crypto" if c else "fiat"}, s
    assert s["principal_amount"] == {"currency": route.source, "value": fmt_money(route.amount)}, s
    assert s["fee_summary"]["total"] == {"currency": route.source, "value": "1.00"}, s["fee_summary"]
    assert s["destination"]["method"] == sent["method"], s["destination"]
    assert s["destination"].get("fiat_rail") == (None if c else sent["fiat_rail"]), s["destination"]
    assert s["destination"]["withdrawal_destination_id"] == d["id"], s["destination"]
    assert s["destination"]["route_owner_ref"] == f"clients/{client['id']}", s["destination"]

    final, _seen = t.watch(sid, timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled", f"{route.id}: expected settled, got {final}"
    assert final["failure_reason"] is None and final["settled_at"] is not None, final
    assert final["stage"] == "payout", final
    if c:
        assert final["fill_rate"] == "1", f"{route.id}: a crypto payout of the same asset has rate 1: {final}"
        delivered = fmt_money(route.amount)
    else:
        rate = RATES[target]
        assert isinstance(final["fill_rate"], str) and Decimal(final["fill_rate"]) == Decimal(rate), \
            f"{route.id}: default {route.source}->{target} rate is {rate}: {final['fill_rate']!r}"
        delivered = _floor(route.amount, rate, target)
    assert final["delivered_amount"] == {"currency": target, "value": delivered}, \
        f"{route.id}: {route.amount} {route.source} -> expected {delivered} {target}, got {final['delivered_amount']}"

    # the sandbox rail paid exactly that, once
    payouts = t.payouts(sid)
    assert len(payouts) == 1, f"{route.id}: a settled session has exactly one payout: {payouts}"
    p = payouts[0]
    assert payout_session_id(p) == sid, p
    assert p.get("amount") == {"currency": target, "value": delivered}, f"{route.id}: payout {p}"
    assert p.get("idempotency_key") == f"{sid}:payout", p

    # the hold (principal + fee) is posted; nothing else moved
    left = fmt_money(Decimal(DEPOSIT) - Decimal(route.amount) - NETWORK_FEE)
    bal = t.balances(acct)
    assert bal[route.source] == {"available": left, "held": "0.00", "total": left}, f"{route.id}: {bal}"
    other = "USDT" if route.source == "USDC" else "USDC"
    assert bal[other] == _zero(), bal


# ---------------------------------------------------------------------------
# good vectors: saved in normal form
# ---------------------------------------------------------------------------

Good = namedtuple("Good", "id dest saved")

GOOD = [
    Good("aba_021000021", typed("ach", routing_number="021000021"), {}),
    Good("aba_026009593", typed("ach", routing_number="026009593"), {}),
    Good("aba_011000015", typed("wire", routing_number="011000015"), {}),
    Good("ach_savings", typed("ach", account_type="savings"), {}),
    Good("ach_account_4_digits", typed("ach", account_number="1234"), {}),
    Good("ach_account_17_digits", typed("ach", account_number="12345678901234567"), {}),
    Good("ach_without_country", typed("ach", country=None), {}),
    Good("sort_code_dashed", typed("faster_payments", sort_code="60-16-13"),
         {"bank_coordinates": {"sort_code": "601613"}}),
    Good("sort_code_digits", typed("faster_payments", sort_code="601613"), {}),
    Good("pix_cpf_punctuated", pix("CPF", CPF), {"bank_coordinates": {"pix_key": CPF_DIGITS}}),
    Good("pix_cpf_digits", pix("CPF", CPF_DIGITS), {}),
    Good("pix_cnpj_punctuated", pix("CNPJ", CNPJ), {"bank_coordinates": {"pix_key": CNPJ_DIGITS}}),
    Good("pix_cnpj_digits", pix("CNPJ", CNPJ_DIGITS), {}),
    Good("pix_email_mixed_case", pix("EMAIL", "Pix@Example.com.br"),
         {"bank_coordinates": {"pix_key": "pix@example.com.br"}}),
    Good("pix_email_77_chars", pix("EMAIL", "a" * 64 + "@exampl.co.uk"), {}),
    Good("pix_email_specials", pix("EMAIL", "o'brien+pix_1@mail-1.example.io"), {}),
    Good("pix_phone", pix("PHONE", "+5511999998888"), {}),
    Good("pix_phone_ddd_99", pix("PHONE", "+5599912345678"), {}),
    # issue 8: Gibraltar is SEPA (EPC409-09), with its own GI IBANs
    Good("sepa_gibraltar", typed("sepa_credit_transfer", iban=GI_IBAN, country="GI", bic="NWBKGIGI"), {}),
    Good("sepa_instant_gibraltar", typed("sepa_instant", iban=GI_IBAN, country="GI"), {}),
    # Crown dependency and overseas department with their parent's IBAN
    Good("sepa_jersey", typed("sepa_credit_transfer", iban=GB_IBAN, country="JE", bic=None), {}),
    Good("sepa_reunion", typed("sepa_instant", iban=FR_IBAN, country="RE"), {}),
    # spaces anywhere in an IBAN are dropped, letters upper-cased (as on Lumx's POST /destinations)
    Good("iban_leading_space", typed("sepa_credit_transfer", iban=" " + DE_IBAN),
         {"bank_coordinates": {"iban": DE_IBAN}}),
    Good("iban_trailing_space", typed("sepa_credit_transfer", iban=DE_IBAN + " "),
         {"bank_coordinates": {"iban": DE_IBAN}}),
    Good("iban_print_form_lower_case", typed("sepa_credit_transfer", iban="  de89 3704 0044 0532 0130 00  "),
         {"bank_coordinates": {"iban": DE_IBAN}}),
    Good("pix_random", pix("RANDOM", RANDOM_KEY), {}),
    Good("clabe", typed("spei"), {}),
    Good("clabe_other", typed("spei", clabe=CLABE_OTHER), {}),
    Good("swift_account_number", typed("swift_account_number"), {}),
    Good("swift_account_number_letters", typed("swift_account_number", account_number="AB12CD34"), {}),
    Good("swift_iban", typed("swift_iban"), {}),
    Good("swift_without_country", typed("swift_account_number", country=None), {}),
    Good("evm_checksummed", crypto("USDC", "ethereum", EVM), {}),
    Good("evm_lower_case", crypto("USDC", "base", EVM_LOWER), {"destination": {"address": EVM}}),
    Good("evm_other_checksummed", crypto("USDT", "polygon", EVM_OTHER), {}),
    Good("evm_other_lower_case", crypto("USDT", "ethereum", EVM_OTHER.lower()),
         {"destination": {"address": EVM_OTHER}}),
    Good("tron", crypto("USDT", "tron", TRON), {}),
]


def _drop_none_coords(d):
    d = copy.deepcopy(d)
    if "bank_coordinates" in d:
        d["bank_coordinates"] = {k: v for k, v in d["bank_coordinates"].items() if v is not None}
    return d


@pytest.mark.parametrize("case", GOOD, ids=[g.id for g in GOOD])
def test_good_identifier_saved_normalised(env, case):
    sent = _drop_none_coords(case.dest)
    r = post_destination(env.t, env.acct, sent)
    assert r.status == 201, f"{case.id}: {sent}: {describe(r)}"
    exp = _drop_none_coords(_expected_saved(sent, case.saved))
    bad = subset_mismatch(exp, r.json["destination"])
    assert not bad, f"{case.id}: saved destination differs at {bad}: sent {sent}, saved {r.json['destination']}"
    assert r.json["currency"] == dest_currency(sent), r.json


def test_evm_all_upper_case_accepted(env):
    """API.md: "mixed case must be the EIP-55 checksum"; an all-upper-case
    address is not mixed case: accepted and saved in EIP-55 form."""
    r = post_destination(env.t, env.acct, crypto("USDC", "polygon", EVM_UPPER))
    assert r.status == 201, describe(r)
    assert r.json["destination"]["destination"]["address"] == EVM, r.json


def test_top_level_form_for_other_rails(env):
    """The typed fields of a bank destination may sit beside account_ref at
    the top level. (Not tried for crypto: its own "destination" member would
    collide with the nested form.)"""
    for key in ("pix_cpf", "spei", "ach", "swift_iban"):
        sent = BASE[key]()
        r = post_destination(env.t, env.acct, sent, nested=False)
        assert r.status == 201, f"{key} top level: {describe(r)}"
        nested = post_destination(env.t, env.acct, sent)
        assert nested.status == 201, describe(nested)
        assert r.json["destination"] == nested.json["destination"], (r.json, nested.json)


# ---------------------------------------------------------------------------
# bad vectors: 400 with the field's code and pointer; nothing saved or held
# ---------------------------------------------------------------------------

Bad = namedtuple("Bad", "id build code ptr session", defaults=(True,))

BC = "/bank_coordinates/"


def with_bc(key, **changes):
    """BASE[key] with bank_coordinates changed; a value of DEL removes the key."""
    def build():
        d = BASE[key]()
        for k, v in changes.items():
            if v is DEL:
                d["bank_coordinates"].pop(k, None)
            else:
                d["bank_coordinates"][k] = v
        return d
    return build


def with_top(key, **changes):
    def build():
        d = BASE[key]()
        d.update(changes)
        return d
    return build


def with_bcs(key, coords):
    """BASE[key] with its bank_coordinates replaced."""
    def build():
        d = BASE[key]()
        d["bank_coordinates"] = dict(coords, account_holder_name="Acme Treasury")
        return d
    return build


def crypto_b(asset, network, address):
    return lambda: crypto(asset, network, address)


DEL = object()

BAD = [
    # ABA routing numbers, US account numbers and types
    Bad("aba_last_digit_changed", with_bc("ach", routing_number="021000022"), "invalid_routing_number",
        BC + "routing_number"),
    Bad("aba_first_digit_changed", with_bc("ach", routing_number="121000021"), "invalid_routing_number",
        BC + "routing_number"),
    Bad("aba_wire_digit_changed", with_bc("wire", routing_number="026009594"), "invalid_routing_number",
        BC + "routing_number"),
    Bad("aba_8_digits", with_bc("ach", routing_number="02100002"), "invalid_routing_number", BC + "routing_number"),
    Bad("aba_letters", with_bc("ach", routing_number="02100002A"), "invalid_routing_number", BC + "routing_number"),
    Bad("aba_all_zero", with_bc("ach", routing_number="000000000"), "invalid_routing_number", BC + "routing_number"),
    Bad("aba_all_zero_wire", with_bc("wire", routing_number="000000000"), "invalid_routing_number",
        BC + "routing_number"),
    Bad("aba_unassigned_prefix", with_bc("ach", routing_number="130000006"), "invalid_routing_number",
        BC + "routing_number"),
    Bad("us_account_3_digits", with_bc("ach", account_number="123"), "invalid_account_number", BC + "account_number"),
    Bad("us_account_18_digits", with_bc("ach", account_number="123456789012345678"), "invalid_account_number",
        BC + "account_number"),
    Bad("us_account_letters", with_bc("wire", account_number="12345A78"), "invalid_account_number",
        BC + "account_number"),
    Bad("account_type_loan", with_bc("ach", account_type="loan"), "invalid_account_type", BC + "account_type"),
    Bad("account_type_wire_loan", with_bc("wire", account_type="loan"), "invalid_account_type", BC + "account_type"),
    # UK
    Bad("sort_code_5_digits", with_bc("faster_payments", sort_code="60161"), "invalid_sort_code", BC + "sort_code"),
    Bad("sort_code_7_digits", with_bc("faster_payments", sort_code="6016133"), "invalid_sort_code",
        BC + "sort_code"),
    Bad("sort_code_letter", with_bc("faster_payments", sort_code="60-16-1A"), "invalid_sort_code", BC + "sort_code"),
    Bad("uk_account_7_digits", with_bc("faster_payments", account_number="3192681"), "invalid_account_number",
        BC + "account_number"),
    Bad("uk_account_9_digits", with_bc("faster_payments", account_number="319268190"), "invalid_account_number",
        BC + "account_number"),
    # PIX
    Bad("cpf_all_ones", with_bc("pix_cpf", pix_key="111.111.111-11"), "invalid_pix_key", BC + "pix_key"),
    Bad("cpf_check_digit", with_bc("pix_cpf", pix_key="52998224724"), "invalid_pix_key", BC + "pix_key"),
    Bad("cpf_with_cnpj_digits", with_bc("pix_cpf", pix_key=CNPJ_DIGITS), "invalid_pix_key", BC + "pix_key"),
    Bad("cnpj_check_digit", with_bc("pix_cnpj", pix_key="11222333000182"), "invalid_pix_key", BC + "pix_key"),
    Bad("cnpj_with_cpf_digits", with_bc("pix_cnpj", pix_key=CPF_DIGITS), "invalid_pix_key", BC + "pix_key"),
    Bad("email_without_at", with_bc("pix_email", pix_key="pix.example.com.br"), "invalid_pix_key", BC + "pix_key"),
    Bad("email_78_chars", with_bc("pix_email", pix_key="a" * 64 + "@example.co.uk"), "invalid_pix_key",
        BC + "pix_key"),
    Bad("email_double_dot", with_bc("pix_email", pix_key="a..b@example.com"), "invalid_pix_key", BC + "pix_key"),
    Bad("email_comma", with_bc("pix_email", pix_key="a,b@example.com"), "invalid_pix_key", BC + "pix_key"),
    Bad("email_local_65_chars", with_bc("pix_email", pix_key="a" * 65 + "@example.com"), "invalid_pix_key",
        BC + "pix_key"),
    Bad("phone_not_brazil", with_bc("pix_phone", pix_key="+12345678"), "invalid_pix_key", BC + "pix_key"),
    Bad("phone_mobile_without_9", with_bc("pix_phone", pix_key="+551101064156"), "invalid_pix_key",
        BC + "pix_key"),
    Bad("phone_unassigned_ddd", with_bc("pix_phone", pix_key="+5520999998888"), "invalid_pix_key",
        BC + "pix_key"),
    Bad("phone_without_plus", with_bc("pix_phone", pix_key="5511999998888"), "invalid_pix_key", BC + "pix_key"),
    Bad("random_not_uuid", with_bc("pix_random", pix_key="not-a-uuid"), "invalid_pix_key", BC + "pix_key"),
    Bad("random_uuid_cut", with_bc("pix_random", pix_key=RANDOM_KEY[:-1]), "invalid_pix_key", BC + "pix_key"),
    Bad("pix_key_type_unknown", with_bc("pix_cpf", pix_key_type="BANK_ACCOUNT"), "invalid_value",
        BC + "pix_key_type"),
    # SPEI
    Bad("clabe_last_digit_changed", with_bc("spei", clabe="032180000118359710"), "invalid_clabe", BC + "clabe"),
    Bad("clabe_17_digits", with_bc("spei", clabe=CLABE[:17]), "invalid_clabe", BC + "clabe"),
    Bad("clabe_letter", with_bc("spei", clabe="03218000011835971A"), "invalid_clabe", BC + "clabe"),
    # SWIFT
    Bad("swift_iban_and_account_number", with_bc("swift_iban", account_number="0532013000"),
        {"invalid_value", "invalid_account_number", "invalid_iban"}, (BC + "iban", BC + "account_number")),
    Bad("swift_neither_iban_nor_account", with_bc("swift_account_number", account_number=DEL),
        {"missing_field", "invalid_value", "invalid_account_number"}, (BC + "iban", BC + "account_number")),
    Bad("swift_account_35_chars", with_bc("swift_account_number", account_number="1" * 35),
        "invalid_account_number", BC + "account_number"),
    Bad("swift_bic_missing", with_bc("swift_account_number", bic=DEL), "missing_field", BC + "bic"),
    Bad("swift_bic_invalid", with_bc("swift_account_number", bic="DEUTDEF"), "invalid_bic", BC + "bic"),
    Bad("swift_country_not_bics", with_bc("swift_account_number", country="FR"), "country_mismatch",
        (BC + "country", BC + "bic")),
    Bad("swift_iban_not_bics_country", with_bc("swift_iban", iban=DE_IBAN, country=DEL), "country_mismatch",
        (BC + "iban", BC + "bic", BC + "country")),
    Bad("swift_iban_bad_checksum", with_bc("swift_iban", iban="GB28NWBK60161331926819"), "invalid_iban",
        BC + "iban"),
    # IBAN: each country's BBAN structure and national check digits (issue 8)
    Bad("iban_letter_in_numeric_bban", with_bc("sepa_credit_transfer", iban="DE47Q78199672528361373", bic=DEL),
        "invalid_iban", BC + "iban"),
    Bad("iban_be_national_check", with_bc("sepa_credit_transfer", iban="BE04107690637456", country="BE", bic=DEL),
        "invalid_iban", BC + "iban"),
    Bad("iban_no_break_space", with_bc("sepa_credit_transfer", iban="\u00a0" + DE_IBAN), "invalid_iban", BC + "iban"),
    # crypto
    Bad("evm_case_flipped", crypto_b("USDC", "ethereum", EVM_FLIPPED), "invalid_address", "/destination/address"),
    Bad("evm_39_hex", crypto_b("USDC", "base", EVM[:-1]), "invalid_address", "/destination/address"),
    Bad("evm_41_hex", crypto_b("USDC", "polygon", EVM + "d"), "invalid_address", "/destination/address"),
    Bad("evm_missing_0x", crypto_b("USDT", "ethereum", EVM[2:]), "invalid_address", "/destination/address"),
    Bad("evm_non_hex", crypto_b("USDT", "polygon", EVM[:-1] + "g"), "invalid_address", "/destination/address"),
    Bad("evm_address_on_tron", crypto_b("USDT", "tron", EVM), "invalid_address", "/destination/address"),
    Bad("tron_address_on_ethereum", crypto_b("USDT", "ethereum", TRON), "invalid_address", "/destination/address"),
    Bad("tron_one_char_changed", crypto_b("USDT", "tron", TRON_CHANGED), "invalid_address", "/destination/address"),
    Bad("tron_wrong_version_byte", crypto_b("USDT", "tron", BTC), "invalid_address", "/destination/address"),
    Bad("tron_not_base58", crypto_b("USDT", "tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj60"), "invalid_address",
        "/destination/address"),
    Bad("usdc_on_tron", crypto_b("USDC", "tron", TRON), "unsupported_network", ("/network", "/asset")),
    Bad("usdt_on_base", crypto_b("USDT", "base", EVM), "unsupported_network", ("/network", "/asset")),
    Bad("network_unknown", crypto_b("USDC", "solana", EVM), "invalid_value", "/network"),
    # scheme / rail / currency agreement
    Bad("scheme_iban_on_ach", with_bcs("ach", iban_bc(DE_IBAN, "DE")), "rail_mismatch",
        (BC + "scheme", "/fiat_rail")),
    Bad("scheme_aba_on_sepa", with_bcs("sepa_credit_transfer", aba_bc("021000021", "12345678", "checking", "DE")),
        "rail_mismatch", (BC + "scheme", "/fiat_rail")),
    Bad("scheme_clabe_on_pix", with_bcs("pix_cpf", clabe_bc(CLABE, "BR")), "rail_mismatch",
        (BC + "scheme", "/fiat_rail")),
    Bad("scheme_pix_on_spei", with_bcs("spei", {"scheme": "pix", "pix_key_type": "CPF", "pix_key": CPF_DIGITS,
                                               "country": "MX"}),
        "rail_mismatch", (BC + "scheme", "/fiat_rail")),
    Bad("scheme_iban_on_swift", with_bcs("swift_iban", iban_bc(GB_IBAN, "GB", "NWBKGB2L")), "rail_mismatch",
        (BC + "scheme", "/fiat_rail")),
    Bad("scheme_sort_code_on_wire", with_bcs("wire", sort_code_bc("601613", "31926819", "US")), "rail_mismatch",
        (BC + "scheme", "/fiat_rail")),
    Bad("scheme_unknown", with_bcs("ach", {"scheme": "bsb", "country": "US"}), "invalid_value", BC + "scheme"),
    Bad("fiat_rail_unknown", with_top("ach", fiat_rail="interac"), "invalid_value", "/fiat_rail", False),
    Bad("usd_on_pix", with_top("pix_cpf", currency="USD"), "currency_mismatch", "/currency"),
    Bad("eur_on_ach", with_top("ach", currency="EUR"), "currency_mismatch", "/currency"),
    Bad("usd_on_sepa_instant", with_top("sepa_instant", currency="USD"), "currency_mismatch", "/currency"),
    Bad("mxn_on_faster_payments", with_top("faster_payments", currency="MXN"), "currency_mismatch", "/currency"),
    Bad("brl_on_spei", with_top("spei", currency="BRL"), "currency_mismatch", "/currency"),
    Bad("ach_country_not_iso", with_bc("ach", country="USA"), "invalid_country", BC + "country"),
]


def _pointers(prefix, ptr):
    ptrs = ptr if isinstance(ptr, tuple) else (ptr,)
    return {prefix + p for p in ptrs}


def _assert_field_error(r, case, prefix, where):
    codes = {case.code} if isinstance(case.code, str) else case.code
    assert_error(r, 400, codes)
    want = _pointers(prefix, case.ptr)
    got = set(_strings(r.json["details"]))
    assert want & got, f"{where} {case.id}: details should name one of {sorted(want)}: {describe(r)}"
    assert "id" not in r.json, describe(r)


def test_saved_row_count_sees_a_save(env):
    """The "nothing saved" checks below count the destinations table; make
    sure that count does move when a destination is saved."""
    before = saved_destination_rows(env.server)
    r = post_destination(env.t, env.neg_acct, BASE["spei"]())
    assert r.status == 201, describe(r)
    assert saved_destination_rows(env.server) == before + 1


@pytest.mark.parametrize("case", BAD, ids=[b.id for b in BAD])
def test_bad_identifier_refused_by_destinations(env, case):
    d = case.build()
    before = saved_destination_rows(env.server)
    r = post_destination(env.t, env.acct, d)
    _assert_field_error(r, case, "/destination", "POST /withdrawal-destinations")
    after = saved_destination_rows(env.server)
    assert before == after, f"{case.id}: a refused destination was saved ({before} -> {after} rows)"


@pytest.mark.parametrize("case", [b for b in BAD if b.session], ids=[b.id for b in BAD if b.session])
def test_bad_identifier_refused_inline_in_session(env, case):
    """The same identifier as a session's inline copy (the saved one being
    the valid original of the same kind): 400 with the inline field's
    pointer, before any database check; nothing held, no session."""
    d = case.build()
    base_key = next(k for k, f in BASE.items() if _same_kind(f(), d))
    saved = env.saved(base_key)
    before = env.snapshot()
    body = session_body(env.neg_acct, env.neg_client_id, saved["id"], d, "10.00")
    r = env.post_session(body)
    _assert_field_error(r, case, "/destination/destination", "POST /off-ramp-sessions")
    assert env.snapshot() == before, f"{case.id}: a refused session changed something"


def _same_kind(a, b):
    if is_crypto(a) or is_crypto(b):
        return is_crypto(a) and is_crypto(b)
    return a["fiat_rail"] == b["fiat_rail"]


# ---------------------------------------------------------------------------
# 422 unsupported_route: a country the rail does not serve
# ---------------------------------------------------------------------------

UNSERVED = [
    ("ach_canada", lambda: typed("ach", country="CA")),
    ("wire_canada", lambda: typed("wire", country="CA")),
    ("pix_portugal", lambda: pix("CPF", CPF, country="PT")),
    ("faster_payments_ireland", lambda: typed("faster_payments", country="IE")),
    ("spei_us", lambda: typed("spei", country="US")),
    ("sepa_brazilian_iban", lambda: typed("sepa_credit_transfer", iban=BR_IBAN, country="BR", bic=None)),
    ("sepa_turkish_iban", lambda: typed("sepa_credit_transfer", iban=TR_IBAN, country="TR", bic=None)),
    ("sepa_instant_turkish_iban", lambda: typed("sepa_instant", iban=TR_IBAN, country="TR")),
    # FR IBANs held in New Caledonia or French Polynesia: outside the SEPA scope
    ("sepa_new_caledonia", lambda: typed("sepa_credit_transfer", iban=FR_IBAN, country="NC", bic=None)),
    ("sepa_instant_french_polynesia", lambda: typed("sepa_instant", iban=FR_IBAN, country="PF")),
]


@pytest.mark.parametrize("case", UNSERVED, ids=[c[0] for c in UNSERVED])
def test_country_the_rail_does_not_serve(env, case):
    _id, build = case
    before = saved_destination_rows(env.server)
    r = post_destination(env.t, env.acct, build())
    assert_error(r, 422, "unsupported_route")
    assert saved_destination_rows(env.server) == before, f"{_id}: a refused destination was saved"


def test_non_sepa_iban_is_valid_for_swift(env):
    """The IBANs refused on SEPA above are valid ones: SWIFT takes them."""
    for bic, iban, cc in (("BRASBRRJ", BR_IBAN, "BR"), ("TCZBTR2A", TR_IBAN, "TR")):
        d = bank("swift", "USD", {"scheme": "swift", "bic": bic, "iban": iban, "country": cc})
        r = post_destination(env.t, env.acct, d)
        assert r.status == 201, f"swift {iban}: {describe(r)}"


# ---------------------------------------------------------------------------
# SEPA Instant: 100,000.00 EUR per payout
# ---------------------------------------------------------------------------

def test_sepa_instant_cap(env):
    t = env.t
    client = t.create_client("Big Spender")
    acct = client["default_account_ref"]
    t.deposit(acct, "250000.00")
    inst = BASE["sepa_instant"]()
    ct = BASE["sepa_credit_transfer"]()
    di = post_destination(t, acct, inst)
    dc = post_destination(t, acct, ct)
    assert di.status == 201 and dc.status == 201, (describe(di), describe(dc))
    before = t.balances(acct)

    # 110000.00 x 0.92 = 101200.00 EUR; 108695.67 x 0.92 = 100000.0164 -> 100000.01 EUR
    for amount in ("110000.00", "108695.67"):
        r = t.req("POST", "/off-ramp-sessions", session_body(acct, client["id"], di.json["id"], inst, amount))
        assert_error(r, 422, "limit_exceeded")
    assert t.balances(acct) == before, "a refused session held something"
    assert t.session_ids(account_ref=acct) == []

    # 108695.66 x 0.92 = 100000.0072 -> 100000.00 EUR: at the cap, not past it
    r = t.req("POST", "/off-ramp-sessions", session_body(acct, client["id"], di.json["id"], inst, "108695.66"))
    assert r.status == 201, describe(r)
    at_cap = r.json["id"]
    # just below
    r = t.req("POST", "/off-ramp-sessions", session_body(acct, client["id"], di.json["id"], inst, "108695.65"))
    assert r.status == 201, describe(r)
    below = r.json["id"]
    # SEPA credit transfer has no cap (left: 32606.69; this holds 30001.00, leaving 2605.69)
    r = t.req("POST", "/off-ramp-sessions", session_body(acct, client["id"], dc.json["id"], ct, "30000.00"))
    assert r.status == 201, describe(r)
    r = t.req("POST", "/off-ramp-sessions", session_body(acct, client["id"], dc.json["id"], ct, "110000.00"))
    assert_error(r, 422, "insufficient_funds")  # not limit_exceeded: SCT has no cap

    for sid, eur in ((at_cap, "100000.00"), (below, "99999.99")):
        final, _ = t.watch(sid, timeout=SETTLE_TIMEOUT)
        assert final["status"] == "settled", final
        assert final["delivered_amount"] == {"currency": "EUR", "value": eur}, final
        pay = t.payouts(sid)
        assert len(pay) == 1 and pay[0]["amount"] == {"currency": "EUR", "value": eur}, pay


def test_sepa_credit_transfer_above_instant_cap(env):
    t = env.t
    client = t.create_client("Big SCT")
    acct = client["default_account_ref"]
    t.deposit(acct, "120000.00")
    ct = BASE["sepa_credit_transfer"]()
    d = post_destination(t, acct, ct)
    assert d.status == 201, describe(d)
    r = t.req("POST", "/off-ramp-sessions", session_body(acct, client["id"], d.json["id"], ct, "110000.00"))
    assert r.status == 201, f"SEPA credit transfer has no cap: {describe(r)}"
    final, _ = t.watch(r.json["id"], timeout=SETTLE_TIMEOUT)
    assert final["status"] == "settled" and final["delivered_amount"] == {"currency": "EUR", "value": "101200.00"}, \
        final


# ---------------------------------------------------------------------------
# crypto session rules
# ---------------------------------------------------------------------------

def _crypto_cases(e):
    usdc = e.saved("usdc_ethereum")
    usdt = e.saved("usdt_tron")
    sepa = e.saved("sepa_credit_transfer")
    cd, td, sd = BASE["usdc_ethereum"](), BASE["usdt_tron"](), BASE["sepa_credit_transfer"]()
    a, cid = e.neg_acct, e.neg_client_id
    return [
        # (id, body, codes, pointer or None)
        ("crypto_rail_with_bank_destination",
         session_body(a, cid, sepa["id"], sd, "10.00", "USDC", "USDC", "crypto", outer_method="crypto_transfer",
                      outer_fiat_rail=None), "rail_mismatch", None),
        ("crypto_rail_with_bank_method",
         session_body(a, cid, sepa["id"], sd, "10.00", "USDC", "USDC", "crypto"), "rail_mismatch", None),
        ("fiat_rail_with_crypto_destination",
         session_body(a, cid, usdc["id"], cd, "10.00", "USDC", "EUR", "fiat", outer_method="bank_transfer",
                      outer_fiat_rail="sepa_credit_transfer"), "rail_mismatch", None),
        ("fiat_rail_with_crypto_method",
         session_body(a, cid, usdc["id"], cd, "10.00", "USDC", "EUR", "fiat"), "rail_mismatch", None),
        ("crypto_with_outer_fiat_rail",
         session_body(a, cid, usdc["id"], cd, "10.00", outer_fiat_rail="sepa_credit_transfer"), "rail_mismatch",
         None),
        ("crypto_with_outer_fiat_rail_crypto",
         session_body(a, cid, usdc["id"], cd, "10.00", outer_fiat_rail="crypto"), {"rail_mismatch", "invalid_value"},
         None),
        ("usdt_source_to_usdc_destination",
         session_body(a, cid, usdc["id"], cd, "10.00", "USDT", "USDC"), "currency_mismatch", "/amount/currency"),
        ("usdc_source_to_usdt_destination",
         session_body(a, cid, usdt["id"], td, "10.00", "USDC", "USDT"), "currency_mismatch", "/amount/currency"),
        ("target_usdt_for_usdc_destination",
         session_body(a, cid, usdc["id"], cd, "10.00", "USDT", "USDT"), "currency_mismatch", None),
        ("crypto_target_currency_fiat",
         session_body(a, cid, usdc["id"], cd, "10.00", "USDC", "EUR"),
         {"currency_mismatch", "unsupported_currency", "invalid_value"}, None),
        ("fiat_target_currency_stablecoin",
         session_body(a, cid, sepa["id"], sd, "10.00", "USDC", "USDC"),
         {"currency_mismatch", "unsupported_currency", "invalid_value"}, None),
    ]


CRYPTO_CASE_IDS = ["crypto_rail_with_bank_destination", "crypto_rail_with_bank_method",
                   "fiat_rail_with_crypto_destination", "fiat_rail_with_crypto_method", "crypto_with_outer_fiat_rail",
                   "crypto_with_outer_fiat_rail_crypto", "usdt_source_to_usdc_destination",
                   "usdc_source_to_usdt_destination", "target_usdt_for_usdc_destination",
                   "crypto_target_currency_fiat", "fiat_target_currency_stablecoin"]


@pytest.mark.parametrize("cid", CRYPTO_CASE_IDS)
def test_crypto_session_rules(env, cid):
    cases = {c[0]: c for c in _crypto_cases(env)}
    assert set(cases) == set(CRYPTO_CASE_IDS)
    _id, body, codes, ptr = cases[cid]
    before = env.snapshot()
    r = env.post_session(body)
    assert_error(r, 400, codes, ptr)
    assert env.snapshot() == before, f"{cid}: a refused session changed something"


def test_crypto_outer_fiat_rail_absent_or_null_accepted(env):
    d = BASE["usdt_polygon"]()
    r = post_destination(env.t, env.acct, d)
    assert r.status == 201, describe(r)
    saved = r.json
    for fr in (ABSENT, None):
        body = session_body(env.acct, env.client_id, saved["id"], d, "1.00", outer_fiat_rail=fr)
        r = env.post_session(body)
        assert r.status == 201, f"outer fiat_rail {'absent' if fr is ABSENT else 'null'}: {describe(r)}"
        assert r.json["target_currency"] == "USDT" and r.json["family_params"]["target_rail"] == "crypto", r.json
    # without a payment reference too
    body = session_body(env.acct, env.client_id, saved["id"], d, "1.00", payment_reference=ABSENT)
    r = env.post_session(body)
    assert r.status == 201, f"crypto session without payment_reference: {describe(r)}"


# ---------------------------------------------------------------------------
# the inline copy equals the saved destination after normalisation
# ---------------------------------------------------------------------------

Inline = namedtuple("Inline", "id saved inline ok")

INLINE = [
    Inline("cpf_saved_punctuated_sent_digits", pix("CPF", CPF), pix("CPF", CPF_DIGITS), True),
    Inline("cpf_saved_digits_sent_punctuated", pix("CPF", CPF_DIGITS), pix("CPF", CPF), True),
    Inline("cnpj_saved_punctuated_sent_digits", pix("CNPJ", CNPJ), pix("CNPJ", CNPJ_DIGITS), True),
    Inline("email_saved_mixed_sent_lower", pix("EMAIL", "Pix@Example.com.br"), pix("EMAIL", "pix@example.com.br"),
           True),
    Inline("email_saved_lower_sent_upper", pix("EMAIL", "pix@example.com.br"), pix("EMAIL", "PIX@EXAMPLE.COM.BR"),
           True),
    Inline("sort_code_saved_dashed_sent_digits", typed("faster_payments", sort_code="60-16-13"),
           typed("faster_payments", sort_code="601613"), True),
    Inline("sort_code_saved_digits_sent_dashed", typed("faster_payments", sort_code="601613"),
           typed("faster_payments", sort_code="60-16-13"), True),
    Inline("evm_saved_lower_sent_checksummed", crypto("USDC", "ethereum", EVM_LOWER),
           crypto("USDC", "ethereum", EVM), True),
    Inline("evm_saved_checksummed_sent_lower", crypto("USDC", "base", EVM), crypto("USDC", "base", EVM_LOWER), True),
    Inline("cpf_other_key", pix("CPF", CPF), pix("CPF", CPF_OTHER), False),
    Inline("email_other_key", pix("EMAIL", "pix@example.com.br"), pix("EMAIL", "pix2@example.com.br"), False),
    Inline("pix_same_digits_other_type", pix("CPF", CPF), pix("RANDOM", RANDOM_KEY), False),
    Inline("clabe_other", typed("spei"), typed("spei", clabe=CLABE_OTHER), False),
    Inline("aba_other_routing", typed("ach"), typed("ach", routing_number="026009593"), False),
    Inline("aba_other_account_type", typed("ach"), typed("ach", account_type="savings"), False),
    Inline("uk_other_account", typed("faster_payments"), typed("faster_payments", account_number="31926810"), False),
    Inline("evm_other_address", crypto("USDC", "ethereum", EVM), crypto("USDC", "ethereum", EVM_OTHER), False),
    Inline("evm_other_network", crypto("USDC", "ethereum", EVM), crypto("USDC", "polygon", EVM), False),
    Inline("crypto_other_label", crypto("USDC", "ethereum", EVM), crypto("USDC", "ethereum", EVM, "Other"), False),
    Inline("swift_account_number_vs_iban", typed("swift_account_number"),
           typed("swift_account_number", account_number=None, iban=DE_IBAN), False),
    Inline("wire_vs_ach", typed("ach"), dict(typed("ach"), fiat_rail="wire"), False),
]


@pytest.mark.parametrize("case", INLINE, ids=[c.id for c in INLINE])
def test_inline_copy_compared_after_normalisation(env, case):
    # accepted sessions go to the `pos` account, refused ones to `neg`
    acct, cid = (env.acct, env.client_id) if case.ok else (env.neg_acct, env.neg_client_id)
    r = post_destination(env.t, acct, _drop_none_coords(case.saved))
    assert r.status == 201, f"{case.id}: saving {case.saved}: {describe(r)}"
    saved = r.json
    inline = _drop_none_coords(case.inline)
    before = env.snapshot()
    r = env.post_session(session_body(acct, cid, saved["id"], inline, "1.00"))
    if case.ok:
        assert r.status == 201, f"{case.id}: the inline copy normalises to the saved one: {describe(r)}"
        assert r.json["destination"]["withdrawal_destination_id"] == saved["id"], r.json
    else:
        assert_error(r, 422, "destination_mismatch")
        assert env.snapshot() == before, f"{case.id}: a refused session changed something"


# ---------------------------------------------------------------------------
# the ledger is consistent after all of it
# ---------------------------------------------------------------------------

def test_zz_every_session_terminal_and_ledger_consistent(env):
    t = env.t

    def all_terminal():
        items = t.list_sessions()
        return all(s["status"] in ("settled", "failed", "cancelled") for s in items), items
    items = poll_until(all_terminal, SETTLE_TIMEOUT, "every session of the module to be terminal", 0.1)
    assert items, "the module created sessions"
    bad = [s for s in items if s["status"] != "settled"]
    assert not bad, f"sessions that did not settle: {bad[:3]}"
    out = env.server.verify_ledger()
    assert '"ok":true' in out.replace(" ", ""), out
