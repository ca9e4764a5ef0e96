"""Every answer the e2e suite gets is checked against docs/openapi.json.

Installed by one import in conftest.py: `openapi_answers_valid` is an autouse
fixture. It wraps offramp_e2e.http_request (which Server.request calls), so
each response with a JSON body on a documented path and method is recorded;
after each test the recorded answers are validated with python3-jsonschema
(Draft 2020-12, the dialect of OpenAPI 3.1) against the schema the document
gives for that status (the exact code, else its class such as 4XX). An answer
the document does not describe fails the test that received it.
"""

import json
import pathlib
import re

import jsonschema
import pytest

import offramp_e2e

DOC_PATH = pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
DOC = json.loads(DOC_PATH.read_text())

# (method, compiled path regex, path template), longest templates first so
# /off-ramp-sessions/{id}/cancel is not taken for /off-ramp-sessions/{id}.
_TEMPLATES = sorted(
    ((m.upper(), re.compile("^" + re.sub(r"\\\{id\\\}", "[^/]+", re.escape(p)) + "$"), p)
     for p, ops in DOC["paths"].items() for m in ops),
    key=lambda t: -len(t[2]))

_recorded = []
_validators = {}


def operation_for(method, path):
    """The documented path template of a request, or None."""
    path = path.split("?", 1)[0]
    for m, rx, tmpl in _TEMPLATES:
        if m == method and rx.match(path):
            return tmpl
    return None


def response_schema(tmpl, method, status):
    """The documented JSON schema of one answer, or None when the status is
    not documented for the operation at all."""
    responses = DOC["paths"][tmpl][method.lower()]["responses"]
    r = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if r is None:
        return None
    return r.get("content", {}).get("application/json", {}).get("schema", {})


def validate(method, path, status, body):
    """A list of problems (empty when the answer fits its documentation)."""
    tmpl = operation_for(method, path)
    if tmpl is None:
        return []
    schema = response_schema(tmpl, method, status)
    if schema is None:
        return [f"{method} {path}: status {status} is not documented for {tmpl}"]
    key = (tmpl, method, str(status))
    v = _validators.get(key)
    if v is None:
        # "#/components/..." resolves against this root: give it the components.
        v = jsonschema.Draft202012Validator(dict(schema, components=DOC["components"]),
                                            format_checker=jsonschema.FormatChecker())
        _validators[key] = v
    return [f"{method} {path} -> {status}: {e.message} at {'/'.join(map(str, e.absolute_path))}"
            for e in list(v.iter_errors(body))[:3]]


_original = offramp_e2e.http_request


def _recording_request(port, method, path, *args, **kwargs):
    resp = _original(port, method, path, *args, **kwargs)
    if resp.json is not None and method != "HEAD":
        _recorded.append((method, path, resp.status, resp.json))
    return resp


offramp_e2e.http_request = _recording_request


@pytest.fixture(autouse=True)
def openapi_answers_valid():
    _recorded.clear()
    yield
    problems = []
    for method, path, status, body in _recorded:
        problems += validate(method, path, status, body)
    _recorded.clear()
    if problems:
        pytest.fail("answers that docs/openapi.json does not describe:\n" + "\n".join(problems[:20]))
