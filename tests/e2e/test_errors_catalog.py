"""GET /errors.json serves every code of src/base/errors.def with its HTTP
status (contract section 3: the whole catalogue of codes)."""

from offramp_e2e import describe, load_errors_def


def _catalogue_map(doc):
    """{code: status} from the served catalogue, accepting the likely shapes:
    a list of objects, an object wrapping such a list, or an object keyed by
    code whose values are objects or bare statuses."""
    if isinstance(doc, dict):
        for k in ("errors", "items", "codes", "data"):
            if k in doc and isinstance(doc[k], (list, dict)):
                return _catalogue_map(doc[k])
        out = {}
        for code, v in doc.items():
            if isinstance(v, int):
                out[code] = v
            elif isinstance(v, dict):
                out[code] = v.get("status", v.get("http_status", v.get("http")))
        return out
    out = {}
    for item in doc:
        assert isinstance(item, dict), f"catalogue item is not an object: {item!r}"
        code = item.get("code")
        out[code] = item.get("status", item.get("http_status", item.get("http")))
    return out


def _fetch(server, tenant):
    r = server.request("GET", "/errors.json")
    if r.status == 401:
        r = server.request("GET", "/errors.json", key=tenant.key)
    assert r.status == 200, describe(r)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert r.json is not None, "errors.json is not JSON"
    return r.json


def test_every_errors_def_code_is_served(server, tenant):
    expected = load_errors_def()
    assert len(expected) >= 40, f"parsed only {len(expected)} rows of errors.def"
    served = _catalogue_map(_fetch(server, tenant))
    missing = sorted(c for c in expected if c not in served)
    assert not missing, f"codes in errors.def missing from /errors.json: {missing}"
    wrong = {c: (served[c], s) for c, s in expected.items() if served[c] != s}
    assert not wrong, f"status differs (served, errors.def): {wrong}"


def test_catalogue_has_nothing_else(server, tenant):
    expected = load_errors_def()
    served = _catalogue_map(_fetch(server, tenant))
    extra = sorted(c for c in served if c not in expected)
    assert not extra, f"/errors.json serves codes that errors.def does not have: {extra}"


def test_catalogue_messages(server, tenant):
    """Each entry carries its message, short and lower-case as errors.def has it."""
    doc = _fetch(server, tenant)
    items = doc
    if isinstance(doc, dict):
        for k in ("errors", "items", "codes", "data"):
            if k in doc:
                items = doc[k]
                break
    if isinstance(items, dict):
        items = [dict(v, code=c) if isinstance(v, dict) else {"code": c} for c, v in items.items()]
    with_msg = [i for i in items if isinstance(i, dict) and i.get("message")]
    assert len(with_msg) == len(items), "catalogue entries without a message"

