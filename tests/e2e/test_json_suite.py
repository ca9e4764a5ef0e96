"""Every file of JSONTestSuite's test_parsing sent as the raw body of
POST /off-ramp-sessions with a key holding every capability.

None of these documents is a valid session request, so every one must be
refused with 400 (413 for the two files over 64 KiB) and nothing may be
created: n_* are not JSON; y_* are JSON but not a session; i_* are either.
No answer may be a 5xx, and the server must be alive afterwards."""


from offramp_e2e import JSON_SUITE_DIR, MAX_BODY, http_request

JSON_LEVEL_CODES = {"invalid_json", "invalid_string", "json_too_deep"}


def test_json_test_suite(server):
    assert JSON_SUITE_DIR.is_dir(), f"JSONTestSuite not found at {JSON_SUITE_DIR}"
    files = sorted(p for p in JSON_SUITE_DIR.iterdir() if p.suffix == ".json")
    assert len(files) > 300, f"only {len(files)} files in {JSON_SUITE_DIR}"
    t = server.new_tenant("json-suite")
    w = t.setup("1000.00")  # a funded account, so nothing is refused only for lack of money
    before = w.balances()

    failures = []
    for p in files:
        data = p.read_bytes()
        name = p.name
        try:
            r = http_request(server.port, "POST", "/off-ramp-sessions", body=data, key=t.key,
                             headers={"Content-Type": "application/json"}, timeout=30)
        except (ConnectionResetError, BrokenPipeError) as e:
            if len(data) > MAX_BODY and server.alive():
                continue  # refused a too-large body by closing: allowed
            failures.append(f"{name}: connection error {e!r}")
            if not server.alive():
                failures.append(f"server died after {name}")
                break
            continue
        except OSError as e:
            failures.append(f"{name}: {e!r}")
            if not server.alive():
                failures.append(f"server died after {name}")
                break
            continue
        code = r.json.get("code") if isinstance(r.json, dict) else None
        if r.status >= 500:
            failures.append(f"{name}: 5xx {r.status} {r.raw[:200]!r}")
            continue
        if len(data) > MAX_BODY:
            if r.status != 413:
                failures.append(f"{name} ({len(data)} bytes): expected 413, got {r.status} {code}")
            continue
        if r.status != 400:
            failures.append(f"{name}: expected 400, got {r.status} {r.raw[:200]!r}")
            continue
        if not isinstance(r.json, dict) or not {"code", "message", "details", "request_id"} <= set(r.json):
            failures.append(f"{name}: 400 without the error body shape: {r.raw[:200]!r}")
            continue
        if name.startswith("n_") and code not in JSON_LEVEL_CODES:
            failures.append(f"{name}: not JSON, but the code is {code!r} (expected one of {sorted(JSON_LEVEL_CODES)})")

    assert server.alive(), "server is not alive after the JSON test suite"
    assert t.session_ids() == [], "a JSONTestSuite document created a session"
    assert w.balances() == before
    server.verify_ledger()
    assert not failures, f"{len(failures)} of {len(files)} files failed:\n" + "\n".join(failures)
