"""Webhook secrets at rest (docs/OPERATIONS.md "Webhook secrets at rest"):

- an endpoint's secret (and the previous one after a rotation, and the kept
  answers of the create and the rotation) never reaches the database in
  plaintext: the whole database (the SQLite file and its WAL, or a pg_dump)
  holds neither the secret nor its key bytes;
- deliveries still verify with the secret after a restart, and after the
  operator's key is rotated (admin rotate-secret-key, one transaction);
  kept answers still replay byte for byte;
- a server given a key that did not seal the rows refuses to start, and so
  does one whose key file others may read; on PostgreSQL there is no default
  key file;
- rows stored in plaintext (before encryption) are sealed at start, and a
  sealed value moved into another row does not open (serve refuses to start).
"""

import base64
import json
import os
import sqlite3
import subprocess
import uuid
from contextlib import closing

import pytest

from offramp_e2e import BIN, LIFECYCLE_STEP_MS, TEST_DATABASE_URL, child_env, db_bytes, describe
from test_webhooks import WH_ARGS, Receiver, verify_standard


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _new_key_file(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32).hex().encode() + b"\n")
    os.close(fd)
    return str(path)


def _key_file(s):
    """The key the server runs with: the flag if given, else <db>.secret-key."""
    args = s.extra_args
    if "--secret-key-file" in args:
        return args[args.index("--secret-key-file") + 1]
    return str(s.db) + ".secret-key"


def _forms(secret):
    """Every form a leaked secret could take in the bytes: the string, its key
    bytes, their hex."""
    raw = base64.b64decode(secret[len("whsec_"):])
    return [secret.encode(), secret[len("whsec_"):].encode(), raw, raw.hex().encode()]


def _assert_absent(s, secrets, when):
    blob = db_bytes(s)
    assert len(blob) > 10000, "the database bytes look empty"
    for sec in secrets:
        for form in _forms(sec):
            assert form not in blob, f"{when}: a webhook secret is in the database bytes ({form[:12]!r}... at {blob.find(form)} of {len(blob)})"


def _delivered(t, w, receiver, name, secret, amount):
    """A session's deliveries reach the endpoint and verify with secret."""
    sid = t.create_session(w, amount)["id"]
    recs = receiver.wait(name, lambda rs: any(sid in r.body.decode() for r in rs), f"a delivery of {sid}")
    mine = [r for r in recs if sid in r.body.decode()]
    assert mine and all(verify_standard(secret, r.headers, r.body) for r in mine), mine[:1]
    return sid


def test_secrets_at_rest_restart_and_rotation(server_factory, receiver, tmp_path):
    s = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
    t = s.new_tenant("secrets")
    w = t.setup("1000.00")
    create_idem, rotate_idem = f"ep-{uuid.uuid4()}", f"rot-{uuid.uuid4()}"
    body = {"url": receiver.url("a"), "event_types": ["*"], "format": "standard"}
    created = t.req("POST", "/webhook-endpoints", body, headers={"Idempotency-Key": create_idem})
    assert created.status == 201, describe(created)
    eid, first = created.json["id"], created.json["secret"]
    rotated = t.req("POST", f"/webhook-endpoints/{eid}/rotate-secret", headers={"Idempotency-Key": rotate_idem})
    assert rotated.status == 200, describe(rotated)
    secret = rotated.json["secret"]
    assert secret != first
    _delivered(t, w, receiver, "a", secret, "1.00")
    assert s.stop()[0] == 0
    _assert_absent(s, [first, secret], "after creation and rotation")
    if not s.database_url:
        assert os.stat(_key_file(s)).st_mode & 0o777 == 0o600

    # Restart: the same secret signs; kept answers replay as they were.
    s.start()
    _delivered(t, w, receiver, "a", secret, "1.01")
    again = t.req("POST", "/webhook-endpoints", body, headers={"Idempotency-Key": create_idem})
    assert again.status == 201 and again.raw == created.raw, describe(again)
    assert again.headers.get("x-idempotency-cached") == "true"
    assert s.stop()[0] == 0

    # Rotate the operator's key, offline, in one transaction.
    old = _key_file(s)
    new = _new_key_file(tmp_path / "new.key")
    p = subprocess.run([BIN, "admin", "rotate-secret-key", *s.db_args(), "--secret-key-file", new,
                        "--old-secret-key-file", old], capture_output=True, env=child_env(), timeout=60)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    report = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert report["ok"] is True and report["endpoints"] == 1 and report["resealed"] == 1 \
        and report["old_key"] == 1, report
    # The old key alone no longer opens them: serve refuses to start.
    p = subprocess.run([BIN, "serve", *s.db_args(), "--listen", "127.0.0.1:1", "--secret-key-file", old],
                       capture_output=True, env=child_env(), timeout=30)
    assert p.returncode == 1 and b"does not open" in p.stderr, (p.returncode, p.stderr[-1000:])

    # The new key, with the old one for kept answers sealed before the rotation.
    s.extra_args = [*WH_ARGS, "--secret-key-file", new, "--old-secret-key-file", old]
    s.start()
    _delivered(t, w, receiver, "a", secret, "1.02")
    again = t.req("POST", f"/webhook-endpoints/{eid}/rotate-secret", headers={"Idempotency-Key": rotate_idem})
    assert again.status == 200 and again.raw == rotated.raw, describe(again)
    assert s.stop()[0] == 0
    _assert_absent(s, [first, secret], "after the key rotation")


def test_key_file_must_be_private(server_factory, tmp_path):
    key = _new_key_file(tmp_path / "open.key")
    os.chmod(key, 0o644)
    s = server_factory()
    p = subprocess.run([BIN, "serve", *s.db_args(), "--listen", "127.0.0.1:1", "--secret-key-file", key],
                       capture_output=True, env=child_env(), timeout=30)
    assert p.returncode == 1 and b"chmod 600" in p.stderr, (p.returncode, p.stderr[-500:])
    with open(key, "w") as f:
        f.write("not a key\n")
    os.chmod(key, 0o600)
    p = subprocess.run([BIN, "serve", *s.db_args(), "--listen", "127.0.0.1:1", "--secret-key-file", key],
                       capture_output=True, env=child_env(), timeout=30)
    assert p.returncode == 1 and b"64 hex digits" in p.stderr, (p.returncode, p.stderr[-500:])


@pytest.mark.pg_only
def test_postgresql_needs_a_key_file(server_factory):
    s = server_factory()
    p = subprocess.run([BIN, "serve", *s.db_args(), "--listen", "127.0.0.1:1"], capture_output=True,
                       env=child_env(), timeout=30)
    assert p.returncode == 2 and b"--secret-key-file" in p.stderr, (p.returncode, p.stderr[-500:])


@pytest.mark.sqlite_only
def test_plaintext_rows_are_sealed_at_start_and_moved_ones_refused(server_factory, receiver):
    s = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
    t = s.new_tenant("legacy")
    w = t.setup("1000.00")
    eps = []
    for name in ("a", "b"):
        r = t.req("POST", "/webhook-endpoints", {"url": receiver.url(name), "event_types": ["*"],
                                                  "format": "standard"})
        assert r.status == 201, describe(r)
        eps.append(r.json["id"])
    assert s.stop()[0] == 0
    # As a database from before encryption: the secret in plaintext.
    legacy = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with closing(sqlite3.connect(str(s.db))) as c, c:
        c.execute("UPDATE webhook_endpoints SET secret = ? WHERE id = ?", (legacy, eps[0]))
    s.start()
    assert any("1 in plaintext" in ln.get("msg", "") for ln in s.log_lines()), "no reseal reported"
    _delivered(t, w, receiver, "a", legacy, "1.00")
    assert s.stop()[0] == 0
    _assert_absent(s, [legacy], "after the start-up pass")

    # b's sealed value copied into a's row: it does not open there.
    with closing(sqlite3.connect(str(s.db))) as c, c:
        (sealed_b,) = c.execute("SELECT secret FROM webhook_endpoints WHERE id = ?", (eps[1],)).fetchone()
        assert sealed_b.startswith("ofrk1.")
        c.execute("UPDATE webhook_endpoints SET secret = ? WHERE id = ?", (sealed_b, eps[0]))
    p = subprocess.run([BIN, "serve", *s.db_args(), "--listen", "127.0.0.1:1"], capture_output=True,
                       env=child_env(), timeout=30)
    assert p.returncode == 1 and b"moved from another row" in p.stderr and eps[0].encode() in p.stderr, \
        (p.returncode, p.stderr[-1000:])
