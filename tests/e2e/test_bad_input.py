"""Bad requests to POST /off-ramp-sessions (and the setup endpoints), table
driven. For each case: the status, the code, the error body's shape, and that
nothing changed (balances of both tenants' accounts identical, session lists
unchanged). The module ends with a valid request and verify-ledger.

Where the contract leaves a choice between two codes, a case lists both."""

import copy
import json
import uuid
from collections import namedtuple

import pytest

from offramp_e2e import DE_COORDS, MAX_BODY, _strings, assert_one_of, describe, sepa_destination

Case = namedtuple("Case", "id build expect pointer extra", defaults=(None, None))

IBAN_PTR = "/destination/destination/bank_coordinates/iban"
BIC_PTR = "/destination/destination/bank_coordinates/bic"
REF_PTR = "/destination/payment_reference"
VALUE_PTR = "/amount/value"


class Env:
    pass


@pytest.fixture(scope="module")
def env(server):
    e = Env()
    e.server = server
    e.a = server.new_tenant("bad-input-a")
    e.w = e.a.setup("1000.00")
    e.c2 = e.a.create_client("Other Client")  # same tenant, another client
    e.d2 = e.a.create_destination(e.c2["default_account_ref"])
    e.b = server.new_tenant("bad-input-b")
    e.wb = e.b.setup("500.00")
    e.nocap = e.a.key_without("ramps.create")
    e.a.create_session(e.w, "10.00")  # so the lists are not trivially empty
    e.b.create_session(e.wb, "10.00")
    return e


def snapshot(e):
    return {
        "a_bal": e.w.balances(), "a_sessions": e.a.session_ids(),
        "a2_bal": e.a.balances(e.c2["default_account_ref"]),
        "b_bal": e.wb.balances(), "b_sessions": e.b.session_ids(),
    }


# -- builders ----------------------------------------------------------------

def mut(fn):
    """A case whose body is the valid body changed by fn(body, env)."""
    def build(e):
        b = e.w.body()
        fn(b, e)
        return {"body": b}
    return build


def rawb(fn):
    """A case whose body is raw bytes fn(env)."""
    return lambda e: {"body": fn(e)}


def valid_bytes(e):
    return json.dumps(e.w.body()).encode()


def set_value(v):
    def f(b, e):
        b["amount"]["value"] = v
    return f


def set_bc(field, v):
    def f(b, e):
        b["destination"]["destination"]["bank_coordinates"][field] = v
    return f


def set_ref(v):
    def f(b, e):
        b["destination"]["payment_reference"] = v
    return f


def set_path(path, v):
    def f(b, e):
        cur = b
        for p in path[:-1]:
            cur = cur[p]
        cur[path[-1]] = v(e) if callable(v) else v
    return f


def del_path(path):
    def f(b, e):
        cur = b
        for p in path[:-1]:
            cur = cur[p]
        del cur[path[-1]]
    return f


def replace_bytes(old, new):
    return rawb(lambda e: valid_bytes(e).replace(old, new, 1))


def www_authenticate_bearer(resp):
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), \
        f"401 without WWW-Authenticate: Bearer: {resp.headers}"


E400 = lambda *codes: [(400, set(codes))]  # noqa: E731
E422 = lambda *codes: [(422, set(codes))]  # noqa: E731
JSONISH = ("invalid_string", "invalid_json")

SESSION_CASES = [
    # ---- not JSON, or JSON the service refuses
    Case("malformed_json", rawb(lambda e: b'{"account_ref": '), E400("invalid_json")),
    Case("trailing_garbage", rawb(lambda e: valid_bytes(e) + b" x"), E400("invalid_json")),
    Case("two_documents", rawb(lambda e: valid_bytes(e) + valid_bytes(e)), E400("invalid_json")),
    Case("empty_body", rawb(lambda e: b""), E400("invalid_json")),
    Case("top_level_array", rawb(lambda e: b"[]"), E400("invalid_type", "invalid_json")),
    Case("top_level_null", rawb(lambda e: b"null"), E400("invalid_type", "invalid_json")),
    Case("duplicate_key_top", rawb(lambda e: valid_bytes(e)[:-1] + b', "target_rail": "fiat"}'), E400("duplicate_key")),
    Case("duplicate_key_nested", replace_bytes(b'"currency": "USDC"', b'"currency": "USDC", "currency": "USDC"'),
         E400("duplicate_key")),
    Case("duplicate_key_via_escape", rawb(lambda e: valid_bytes(e)[:-1] + b', "target_r\\u0061il": "fiat"}'),
         E400("duplicate_key")),
    # A bad string names its field (issue 8 item 14), however it is bad.
    Case("nul_escape", mut(set_ref("abc\u0000def")), E400("invalid_string"), REF_PTR),
    Case("escaped_control_char_1f", mut(set_ref("abc\u001fdef")), E400("invalid_string"), REF_PTR),
    Case("escaped_tab", mut(set_ref("abc\tdef")), E400("invalid_string"), REF_PTR),
    Case("raw_control_char", replace_bytes(b'"RF18539007547034"', b'"RF1853\x01007547034"'),
         E400("invalid_string"), REF_PTR),
    Case("invalid_utf8_ff", replace_bytes(b'"RF18539007547034"', b'"RF1853 \xff 9007547034"'),
         E400("invalid_string"), REF_PTR),
    Case("invalid_utf8_overlong", replace_bytes(b'"RF18539007547034"', b'"RF \xc0\xaf 18539007547034"'),
         E400("invalid_string"), REF_PTR),
    Case("invalid_utf8_surrogate", replace_bytes(b'"RF18539007547034"', b'"RF \xed\xa0\x80 18539007547034"'),
         E400("invalid_string"), REF_PTR),
    Case("invalid_utf8_truncated", replace_bytes(b'"RF18539007547034"', b'"RF \xe2\x82 18539007547034"'),
         E400("invalid_string"), REF_PTR),
    Case("invalid_utf8_holder", replace_bytes(b'"Acme Treasury"', b'"Acme \xff Treasury"'), E400("invalid_string")),
    Case("too_deep", rawb(lambda e: valid_bytes(e)[:-1] + b', "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
         E400("json_too_deep", "invalid_json")),
    # ---- size and content type
    Case("body_64k_plus_1", rawb(lambda e: valid_bytes(e) + b" " * (MAX_BODY + 1 - len(valid_bytes(e)))),
         [(413, {"payload_too_large"})]),
    Case("body_200k", rawb(lambda e: valid_bytes(e) + b" " * 200000), [(413, {"payload_too_large"})]),
    Case("content_type_text_plain", lambda e: {"body": e.w.body(), "headers": {"Content-Type": "text/plain"}},
         [(415, {"unsupported_media_type"})]),
    Case("content_type_form", lambda e: {"body": e.w.body(),
                                         "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
         [(415, {"unsupported_media_type"})]),
    # ---- who is asking
    Case("no_key", lambda e: {"body": e.w.body(), "key": ""}, [(401, {"unauthenticated"})],
         extra=www_authenticate_bearer),
    Case("wrong_key", lambda e: {"body": e.w.body(), "key": "sk_wrong_" + uuid.uuid4().hex},
         [(401, {"unauthenticated"})], extra=www_authenticate_bearer),
    Case("key_truncated", lambda e: {"body": e.w.body(), "key": e.a.key[:-1]}, [(401, {"unauthenticated"})],
         extra=www_authenticate_bearer),
    Case("key_without_ramps_create", lambda e: {"body": e.w.body(), "key": e.nocap},
         [(403, {"missing_capability"})]),
    # ---- amounts
    Case("amount_as_number", mut(set_value(250.00)), E400("invalid_type", "invalid_amount"), VALUE_PTR),
    Case("amount_negative", mut(set_value("-1.00")), E400("invalid_amount", "amount_not_positive"), VALUE_PTR),
    Case("amount_zero", mut(set_value("0.00")), E400("amount_not_positive"), VALUE_PTR),
    Case("amount_zero_int", mut(set_value("0")), E400("amount_not_positive"), VALUE_PTR),
    Case("amount_too_precise", mut(set_value("1.0000001")), E400("amount_too_precise"), VALUE_PTR),
    Case("amount_exponent", mut(set_value("1e3")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_plus", mut(set_value("+1")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_leading_space", mut(set_value(" 1")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_trailing_space", mut(set_value("1 ")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_leading_zero", mut(set_value("01.00")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_trailing_point", mut(set_value("1.")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_leading_point", mut(set_value(".5")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_empty", mut(set_value("")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_comma", mut(set_value("1,00")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_hex", mut(set_value("0x10")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_nan", mut(set_value("NaN")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_two_points", mut(set_value("1.0.0")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_arabic_digits", mut(set_value("\u0661\u0662")), E400("invalid_amount"), VALUE_PTR),
    Case("amount_huge", mut(set_value("99999999999999999999.00")), E400("amount_too_large"), VALUE_PTR),
    Case("amount_int64_max_micro", mut(set_value("9223372036854.775807")),
         [(400, {"amount_too_large"}), (422, {"insufficient_funds", "limit_exceeded"})]),
    Case("amount_int64_max_micro_plus_1", mut(set_value("9223372036854.775808")), E400("amount_too_large"), VALUE_PTR),
    Case("amount_1000_digits", mut(set_value("9" * 1000)), E400("amount_too_large", "invalid_amount", "string_too_long")),
    Case("amount_null", mut(set_path(["amount"], None)), E400("invalid_type", "missing_field")),
    Case("amount_currency_eur", mut(set_path(["amount", "currency"], "EUR")),
         E400("unsupported_currency", "currency_mismatch")),
    Case("amount_currency_btc", mut(set_path(["amount", "currency"], "BTC")),
         E400("unsupported_currency", "invalid_value")),
    # ---- fields and types
    Case("missing_target_currency", mut(del_path(["target_currency"])), E400("missing_field"), "/target_currency"),
    Case("missing_amount_value", mut(del_path(["amount", "value"])), E400("missing_field"), VALUE_PTR),
    Case("missing_destination_id", mut(del_path(["destination", "withdrawal_destination_id"])),
         E400("missing_field"), "/destination/withdrawal_destination_id"),
    Case("missing_account_ref", mut(del_path(["account_ref"])), E400("missing_field"), "/account_ref"),
    Case("target_rail_number", mut(set_path(["target_rail"], 5)), E400("invalid_type"), "/target_rail"),
    Case("destination_string", mut(set_path(["destination"], "x")), E400("invalid_type"), "/destination"),
    Case("currency_number", mut(set_path(["amount", "currency"], 840)), E400("invalid_type"), "/amount/currency"),
    Case("payment_reference_number", mut(set_path(["destination", "payment_reference"], 42)), E400("invalid_type"),
         REF_PTR),
    Case("bank_coordinates_array", mut(set_path(["destination", "destination", "bank_coordinates"], [])),
         E400("invalid_type"), "/destination/destination/bank_coordinates"),
    Case("missing_iban", mut(del_path(["destination", "destination", "bank_coordinates", "iban"])),
         E400("missing_field"), IBAN_PTR),
    Case("amount_value_bool", mut(set_value(True)), E400("invalid_type", "invalid_amount"), VALUE_PTR),
    Case("unknown_field_top", mut(set_path(["bogus"], 1)), E400("unknown_field"), "/bogus"),
    Case("unknown_field_nested", mut(set_bc("extra", "x")), E400("unknown_field"),
         "/destination/destination/bank_coordinates/extra"),
    Case("target_rail_unknown", mut(set_path(["target_rail"], "carrier_pigeon")), E400("invalid_value")),
    Case("target_rail_crypto_for_fiat", mut(set_path(["target_rail"], "crypto")), E400("rail_mismatch")),
    Case("method_crypto_for_bank", mut(set_path(["destination", "method"], "crypto_transfer")), E400("rail_mismatch")),
    Case("outer_rail_differs", mut(set_path(["destination", "fiat_rail"], "sepa_instant")),
         [(400, {"rail_mismatch"}), (422, {"unsupported_route"})]),
    Case("fiat_rail_unknown", mut(set_path(["destination", "fiat_rail"], "bogus_rail")),
         E400("invalid_value", "rail_mismatch")),
    Case("target_currency_usd", mut(set_path(["target_currency"], "USD")), E400("currency_mismatch")),
    Case("target_currency_unknown", mut(set_path(["target_currency"], "XYZ")),
         E400("unsupported_currency", "invalid_value", "currency_mismatch")),
    Case("inline_currency_usd", mut(set_path(["destination", "destination", "currency"], "USD")),
         E400("currency_mismatch")),
    # ---- bank coordinates
    Case("iban_bad_checksum", mut(set_bc("iban", "GB28NWBK60161331926819")), E400("invalid_iban"), IBAN_PTR),
    Case("iban_too_short", mut(set_bc("iban", "GB24NWBK6016133192681")), E400("invalid_iban"), IBAN_PTR),
    Case("iban_too_long", mut(set_bc("iban", "GB31NWBK601613319268190")), E400("invalid_iban"), IBAN_PTR),
    Case("iban_bad_char", mut(set_bc("iban", "GB29NWBK6016133192681!")), E400("invalid_iban"), IBAN_PTR),
    Case("iban_unknown_country", mut(set_bc("iban", "XX29NWBK60161331926819")), E400("invalid_iban"), IBAN_PTR),
    Case("bic_7_chars", mut(set_bc("bic", "NWBKGB2")), E400("invalid_bic"), BIC_PTR),
    Case("bic_9_chars", mut(set_bc("bic", "NWBKGB2LX")), E400("invalid_bic"), BIC_PTR),
    Case("bic_unassigned_country", mut(set_bc("bic", "NWBKXX2L")), E400("invalid_bic"), BIC_PTR),
    Case("bic_country_not_iban_country", mut(set_bc("bic", "DEUTDEFF")), E400("country_mismatch")),
    Case("country_not_iban_country", mut(set_bc("country", "DE")), E400("country_mismatch")),
    Case("country_invalid", mut(set_bc("country", "XX")), E400("invalid_country", "country_mismatch")),
    Case("rf_bad_check_digits", mut(set_ref("RF18539007547035")), E400("invalid_payment_reference"), REF_PTR),
    Case("rf_too_long", mut(set_ref("RF18" + "1" * 22)), E400("invalid_payment_reference"), REF_PTR),
    Case("reference_141_chars", mut(set_ref("A" * 141)), E400("payment_reference_too_long"), REF_PTR),
    Case("reference_141_code_points", mut(set_ref("\u00e9" * 141)), E400("payment_reference_too_long"), REF_PTR),
    # ---- references
    Case("account_ref_not_uuid", mut(set_path(["account_ref"], "client-accounts/not-a-uuid")),
         E400("invalid_reference", "invalid_id"), "/account_ref"),
    Case("account_ref_wrong_collection", mut(set_path(["account_ref"], lambda e: f"clients/{e.w.client_id}")),
         E400("invalid_reference"), "/account_ref"),
    Case("route_owner_wrong_collection", mut(set_path(["destination", "route_owner_ref"],
                                                      lambda e: e.w.account_ref)),
         E400("invalid_reference"), "/destination/route_owner_ref"),
    Case("destination_id_not_uuid", mut(set_path(["destination", "withdrawal_destination_id"], "nope")),
         E400("invalid_id"), "/destination/withdrawal_destination_id"),
    Case("account_absent", mut(set_path(["account_ref"], lambda e: f"client-accounts/{uuid.uuid4()}")),
         [(404, {"not_found"})]),
    Case("account_of_other_tenant", mut(set_path(["account_ref"], lambda e: e.wb.account_ref)),
         [(404, {"not_found"})]),
    Case("destination_absent", mut(set_path(["destination", "withdrawal_destination_id"], lambda e: str(uuid.uuid4()))),
         [(404, {"not_found"}), (422, {"destination_mismatch"})]),
    Case("destination_of_other_tenant",
         mut(set_path(["destination", "withdrawal_destination_id"], lambda e: e.wb.dest["id"])),
         [(404, {"not_found"}), (422, {"destination_mismatch"})]),
    Case("route_owner_of_other_tenant",
         mut(set_path(["destination", "route_owner_ref"], lambda e: f"clients/{e.wb.client_id}")),
         [(404, {"not_found"}), (422, {"destination_mismatch"})]),
    Case("destination_saved_for_other_client",
         mut(set_path(["destination", "withdrawal_destination_id"], lambda e: e.d2["id"])),
         E422("destination_mismatch")),
    Case("route_owner_other_client",
         mut(set_path(["destination", "route_owner_ref"], lambda e: f"clients/{e.c2['id']}")),
         E422("destination_mismatch")),
    Case("inline_beneficiary_differs", mut(set_path(["destination", "destination", "beneficiary_name"], "Mallory Ltd")),
         E422("destination_mismatch")),
    Case("inline_holder_differs", mut(set_bc("account_holder_name", "Mallory Ltd")), E422("destination_mismatch")),
    Case("inline_iban_differs",
         mut(set_path(["destination", "destination", "bank_coordinates"],
                      lambda e: {**e.w.dest_sent["bank_coordinates"], **DE_COORDS})),
         E422("destination_mismatch")),
    Case("inline_reference_hint_differs", mut(set_path(["destination", "destination", "reference_hint"], "INV-1")),
         E422("destination_mismatch")),
    # ---- money
    Case("over_balance", mut(set_value("999.01")), E422("insufficient_funds")),
    Case("over_balance_by_fee_only", mut(set_value("1000.00")), E422("insufficient_funds")),
    Case("usdt_without_usdt", mut(lambda b, e: b.update(amount={"currency": "USDT", "value": "1.00"})),
         E422("insufficient_funds")),
]


@pytest.mark.parametrize("case", SESSION_CASES, ids=[c.id for c in SESSION_CASES])
def test_session_rejected(env, case):
    e = env
    before = snapshot(e)
    spec = case.build(e)
    key = spec.get("key", e.a.key)
    r = e.server.request("POST", "/off-ramp-sessions", body=spec["body"], key=key or None,
                         headers=spec.get("headers"))
    assert_one_of(r, case.expect)
    if case.pointer:
        assert case.pointer in set(_strings(r.json["details"])), \
            f"details should name the field {case.pointer!r}: {describe(r)}"
    if case.extra:
        case.extra(r)
    after = snapshot(e)
    assert after == before, f"a rejected request changed state:\nbefore {before}\nafter  {after}"


# ---------------------------------------------------------------------------
# POST /withdrawal-destinations validates the same coordinates
# ---------------------------------------------------------------------------

DestCase = namedtuple("DestCase", "id changes expect pointer body headers")


def dest_case(id, dest_changes=None, expect=None, pointer=None, body=None, headers="default"):
    return DestCase(id, dest_changes or {}, expect, pointer, body, headers)


DPTR = "/destination/bank_coordinates/"
BR = {"bc_iban": "BR1800360305000010009795493C1", "bc_bic": "ITAUBRSP", "bc_country": "BR"}

DEST_CASES = [
    dest_case("iban_bad_checksum", {"bc_iban": "GB28NWBK60161331926819"}, E400("invalid_iban"), DPTR + "iban"),
    dest_case("iban_too_short", {"bc_iban": "GB24NWBK6016133192681"}, E400("invalid_iban"), DPTR + "iban"),
    dest_case("iban_too_long", {"bc_iban": "GB31NWBK601613319268190"}, E400("invalid_iban"), DPTR + "iban"),
    dest_case("bic_bad", {"bc_bic": "NWBK1B2L"}, E400("invalid_bic"), DPTR + "bic"),
    dest_case("bic_country_mismatch", {"bc_bic": "DEUTDEFF"}, E400("country_mismatch")),
    dest_case("country_mismatch", {"bc_country": "FR"}, E400("country_mismatch")),
    dest_case("country_invalid", {"bc_country": "ZZ"}, E400("invalid_country", "country_mismatch")),
    dest_case("currency_usd_on_sepa", {"currency": "USD"}, E400("currency_mismatch")),
    dest_case("fiat_rail_unknown", {"fiat_rail": "bogus_rail"}, E400("invalid_value", "rail_mismatch")),
    dest_case("unknown_field", {"nickname": "x"}, E400("unknown_field"), "/destination/nickname"),
    dest_case("non_sepa_country", BR, E422("unsupported_route")),
    dest_case("non_sepa_country_tr", {"bc_iban": "TR330006100519786457841326", "bc_bic": "TGBATRIS",
                                      "bc_country": "TR"}, E422("unsupported_route")),
    dest_case("empty_beneficiary_name", {"beneficiary_name": ""}, E400("invalid_value", "missing_field")),
    dest_case("huge_beneficiary_name", {"beneficiary_name": "A" * 5000}, E400("string_too_long", "invalid_value")),
    dest_case("nul_in_name", {"beneficiary_name": "Acme\u0000"}, E400(*JSONISH)),
    dest_case("missing_idempotency_key", {}, E400("idempotency_key_required"), headers=None),
    dest_case("account_of_other_tenant", {}, [(404, {"not_found"})], body="other_tenant"),
    dest_case("account_absent", {}, [(404, {"not_found"})], body="absent"),
]


@pytest.mark.parametrize("case", DEST_CASES, ids=[c.id for c in DEST_CASES])
def test_destination_rejected(env, case):
    e = env
    d = copy.deepcopy(sepa_destination(**case.changes))
    account_ref = {"other_tenant": e.wb.account_ref, "absent": f"client-accounts/{uuid.uuid4()}"}.get(
        case.body, e.w.account_ref)
    headers = {"Idempotency-Key": str(uuid.uuid4())} if case.headers == "default" else None
    r = e.a.req("POST", "/withdrawal-destinations", {"account_ref": account_ref, "destination": d}, headers=headers)
    assert_one_of(r, case.expect)
    if case.pointer:
        assert case.pointer in set(_strings(r.json["details"])), \
            f"details should name the field {case.pointer!r}: {describe(r)}"


def test_destination_fields_still_valid_after_rejections(env):
    """The table's valid starting point is accepted (so the cases above were
    rejected for what they changed)."""
    d = env.a.create_destination(env.w.account_ref)
    assert d["destination"] == sepa_destination()


# ---------------------------------------------------------------------------
# setup endpoints
# ---------------------------------------------------------------------------

SETUP_CASES = [
    ("clients_missing_name", "/clients", lambda e: {}, E400("missing_field"), "/display_name"),
    ("clients_name_number", "/clients", lambda e: {"display_name": 5}, E400("invalid_type"), "/display_name"),
    ("clients_unknown_field", "/clients", lambda e: {"display_name": "x", "bogus": 1}, E400("unknown_field"), "/bogus"),
    ("clients_malformed", "/clients", lambda e: b"{", E400("invalid_json"), None),
    ("account_client_absent", "/client-accounts", lambda e: {"client_ref": f"clients/{uuid.uuid4()}"},
     [(404, {"not_found"})], None),
    ("account_client_other_tenant", "/client-accounts", lambda e: {"client_ref": f"clients/{e.wb.client_id}"},
     [(404, {"not_found"})], None),
    ("account_client_ref_bad", "/client-accounts", lambda e: {"client_ref": "bogus"},
     E400("invalid_reference"), "/client_ref"),
    ("deposit_zero", "/sandbox/deposits",
     lambda e: {"account_ref": e.w.account_ref, "amount": {"currency": "USDC", "value": "0"}},
     E400("amount_not_positive"), "/amount/value"),
    ("deposit_too_precise", "/sandbox/deposits",
     lambda e: {"account_ref": e.w.account_ref, "amount": {"currency": "USDC", "value": "1.1234567"}},
     E400("amount_too_precise"), "/amount/value"),
    ("deposit_exponent", "/sandbox/deposits",
     lambda e: {"account_ref": e.w.account_ref, "amount": {"currency": "USDC", "value": "1e3"}},
     E400("invalid_amount"), "/amount/value"),
    ("deposit_number", "/sandbox/deposits",
     lambda e: {"account_ref": e.w.account_ref, "amount": {"currency": "USDC", "value": 10}},
     E400("invalid_type", "invalid_amount"), "/amount/value"),
    ("deposit_eur", "/sandbox/deposits",
     lambda e: {"account_ref": e.w.account_ref, "amount": {"currency": "EUR", "value": "10.00"}},
     E400("unsupported_currency"), None),
    ("deposit_account_absent", "/sandbox/deposits",
     lambda e: {"account_ref": f"client-accounts/{uuid.uuid4()}", "amount": {"currency": "USDC", "value": "10.00"}},
     [(404, {"not_found"})], None),
    ("deposit_account_other_tenant", "/sandbox/deposits",
     lambda e: {"account_ref": e.wb.account_ref, "amount": {"currency": "USDC", "value": "10.00"}},
     [(404, {"not_found"})], None),
]


@pytest.mark.parametrize("case", SETUP_CASES, ids=[c[0] for c in SETUP_CASES])
def test_setup_rejected(env, case):
    _id, path, build, expect, pointer = case
    e = env
    before = snapshot(e)
    r = e.a.req("POST", path, build(e))
    assert_one_of(r, expect)
    if pointer:
        assert pointer in set(_strings(r.json["details"])), f"details should name the field {pointer!r}: {describe(r)}"
    assert snapshot(e) == before


def test_zz_valid_request_still_accepted_and_ledger_consistent(env):
    e = env
    before = e.w.balances()["USDC"]
    assert before == {"available": "989.00", "held": "11.00", "total": "1000.00"}, before
    s = e.a.create_session(e.w, "250.00")
    assert s["status"] == "executing"
    assert e.w.balances()["USDC"] == {"available": "738.00", "held": "262.00", "total": "1000.00"}
    assert e.b.session_ids() and len(e.b.session_ids()) == 1
    e.server.verify_ledger()
