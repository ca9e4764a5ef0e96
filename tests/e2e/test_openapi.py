"""GET /openapi.json and docs/openapi.json (CONTRACT §12): the document is
valid OpenAPI 3.1 (redocly lint), covers every route of the route table
with its capability, documents every error code, and every documented path
answers. (That the real answers fit their schemas is checked for the whole
suite by openapi_check.py.) Backend-independent: sqlite_only."""

import json
import pathlib
import re
import subprocess
import uuid

import pytest

from offramp_e2e import describe, load_errors_def
from openapi_check import DOC, DOC_PATH, validate

pytestmark = pytest.mark.sqlite_only

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tests" / "tools" / "openapi"
ROUTE_RX = re.compile(r'X\("([A-Z]+)", "([^"]+)", (\w+), ([A-Z_ |0]+), (true|false), (true|false)\)')


def route_table():
    """(method, pattern, capability names, authenticated) of src/api/api.c."""
    caps = dict(re.findall(r'X\((CAP_[A-Z_]+), "([a-z.]+)"\)',
                           (ROOT / "src/domain/capability.h").read_text()))
    rows = ROUTE_RX.findall((ROOT / "src/api/api.c").read_text())
    assert len(rows) > 30, "the route table was not found in src/api/api.c"
    return [(m, p, sorted(caps[c.strip()] for c in cap.split("|") if c.strip() != "0"), auth == "true")
            for m, p, _h, cap, auth, _l in rows]


def test_redocly_lint_passes():
    if not (TOOLS / "node_modules" / ".bin" / "redocly").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLS, check=True,
                       capture_output=True, timeout=300)
    r = subprocess.run([str(TOOLS / "node_modules/.bin/redocly"), "lint", str(DOC_PATH)],
                       cwd=TOOLS, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Your API description is valid" in out, out
    assert not re.search(r"You have \d+ warning", out), out


def test_every_route_is_documented_with_its_capability():
    table = route_table()
    documented = {(m.upper(), p) for p, ops in DOC["paths"].items() for m in ops}
    missing = [f"{m} {p}" for m, p, _c, _a in table if (m, p) not in documented]
    assert not missing, f"routes of src/api/api.c missing from docs/openapi.json: {missing}"
    extra = documented - {(m, p) for m, p, _c, _a in table}
    assert not extra, f"docs/openapi.json documents routes the table does not serve: {extra}"
    for m, p, caps, auth in table:
        op = DOC["paths"][p][m.lower()]
        assert sorted(op["x-capability"]) == caps, f"{m} {p}: x-capability {op['x-capability']} != {caps}"
        assert (op.get("security") != []) == auth, f"{m} {p}: security does not say whether a key is needed"
        assert any(s.startswith("2") for s in op["responses"]), f"{m} {p}: no success answer documented"


def test_error_schema_lists_every_code():
    codes = set(load_errors_def())
    documented = set(DOC["components"]["schemas"]["Error"]["properties"]["code"]["enum"])
    assert codes == documented


def test_served_document_is_the_repository_one(server):
    r = server.request("GET", "/openapi.json")  # no key
    assert r.status == 200, describe(r)
    assert r.headers["content-type"].startswith("application/json")
    assert r.json == json.loads(DOC_PATH.read_text())
    assert r.json["openapi"] == "3.1.0"


def test_every_documented_path_answers(server):
    """Without a key an authenticated route answers 401 (the key is checked
    right after routing, before any id is looked up) and a public one 200;
    an unknown route answers 404 route_not_found first. So no 404 here
    means every documented method and path is routed."""
    probe = str(uuid.uuid4())
    for p, ops in DOC["paths"].items():
        for m, op in ops.items():
            path = p.replace("{id}", probe)
            body = {} if m in ("post", "put", "patch") else None
            r = server.request(m.upper(), path, body=body)
            assert r.status != 404, f"{m.upper()} {path}: {describe(r)}"
            want = 200 if op.get("security") == [] else 401
            assert r.status == want, f"{m.upper()} {path}: {describe(r)}"


def test_validator_rejects_an_answer_off_its_schema():
    """The check of every answer can fail: a session without its id, an
    error with an unknown code, an undocumented status."""
    sid = str(uuid.uuid4())
    assert validate("GET", f"/off-ramp-sessions/{sid}", 200, {"status": "settled"})
    assert validate("GET", f"/off-ramp-sessions/{sid}", 404,
                    {"code": "no_such_code", "message": "x", "details": {}, "request_id": "r"})
    assert validate("GET", "/healthz", 302, {"status": "ok"})
    assert not validate("GET", "/healthz", 200, {"status": "ok"})
