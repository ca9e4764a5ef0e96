"""The operator CLI (src/cli/, docs/offramp.1): `offramp sessions|accounts|
approvals|webhooks` against a running server, tables and --json, the
four-eyes rule as the API applies it, exit statuses, help and man page.
Backend-independent (a client of the HTTP API): sqlite_only."""

import http.server
import json
import os
import pathlib
import re
import subprocess
import threading

import pytest

from offramp_e2e import LIFECYCLE_STEP_MS, child_env, free_port, poll_until, principal_json

pytestmark = pytest.mark.sqlite_only

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("OFFRAMP_BIN", str(ROOT / "build" / "offramp-san"))
COMMANDS = ["sessions list", "sessions get", "accounts get", "approvals list", "approvals approve",
            "approvals reject", "webhooks list", "webhooks attempts"]


def cli(server, *args, key=None, url=True):
    env = child_env({"OFFRAMP_API_KEY": key, "OFFRAMP_URL": None})
    argv = [BIN, *args] + (["--url", f"http://127.0.0.1:{server.port}"] if url and server else [])
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def ok(server, *args, key):
    r = cli(server, *args, key=key)
    assert r.returncode == 0, f"offramp {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
    return r.stdout


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def receiver():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook"
    srv.shutdown()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from offramp_e2e import Server
    s = Server(tmp_path_factory.mktemp("srv"), step_ms=LIFECYCLE_STEP_MS,
               extra_args=["--webhook-allow-loopback", "--webhook-retry-base-ms", "100"])
    s.start()
    yield s
    s.stop_checked()


@pytest.fixture(scope="module")
def world(srv):
    t = srv.new_tenant()
    t.set_threshold("1000.00")
    w = t.setup("5000.00")
    approver = t.make_key(["ramps.approve", "ramps.read"])
    return t, w, approver


def test_help_lists_every_command_and_usage_errors_exit_2():
    top = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert top.returncode == 0 and "offramp sessions list|get" in top.stdout, top.stdout
    for group in ("sessions", "accounts", "approvals", "webhooks"):
        h = subprocess.run([BIN, group, "--help"], capture_output=True, text=True, timeout=10)
        assert h.returncode == 0, h.stderr
        for c in COMMANDS:
            assert (c in h.stdout) == c.startswith(group + " "), f"{group} --help and {c!r}:\n{h.stdout}"
    env = child_env({"OFFRAMP_API_KEY": None})
    for argv, want in (([BIN, "sessions", "list"], "OFFRAMP_API_KEY"), ([BIN, "sessions", "frob"], "unknown"),
                       ([BIN, "sessions", "get"], "usage"), ([BIN, "accounts", "get", "a", "b"], "usage")):
        r = subprocess.run(argv, env=dict(env, OFFRAMP_API_KEY="k") if want != "OFFRAMP_API_KEY" else env,
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and want in r.stderr, (argv, r.returncode, r.stderr)


def test_sessions_list_and_get(srv, world):
    t, w, _ = world
    s = t.create_session(w, "250.00")
    listed = json.loads(ok(srv, "sessions", "list", "--json", key=t.key))
    api = t.req("GET", "/off-ramp-sessions").json
    assert [x["id"] for x in listed["items"]] == [x["id"] for x in api["items"]]
    assert s["id"] in [x["id"] for x in listed["items"]]
    table = ok(srv, "sessions", "list", key=t.key).splitlines()
    assert re.match(r"^ID +STATUS +STAGE +AMOUNT +TARGET +DELIVERED +CREATED$", table[0]), table[0]
    row = [ln for ln in table if ln.startswith(s["id"])]
    assert len(row) == 1 and "250.00 USDC" in row[0], table
    got = json.loads(ok(srv, "sessions", "get", s["id"], "--json", key=t.key))
    assert got["id"] == s["id"] and got["account_ref"] == w.account_ref
    one = ok(srv, "sessions", "get", s["id"], key=t.key).splitlines()
    assert len(one) == 2 and one[1].startswith(s["id"]), one
    # filters reach the server: a status no session has lists none
    none = json.loads(ok(srv, "sessions", "list", "--status", "cancelled", "--json", key=t.key))
    assert none["items"] == []
    mine = json.loads(ok(srv, "sessions", "list", "--account", w.account_ref, "--page-size", "1",
                         "--json", key=t.key))
    assert len(mine["items"]) == 1 and mine["items"][0]["account_ref"] == w.account_ref


def test_accounts_get_shows_balances(srv, world):
    t, w, _ = world
    out = ok(srv, "accounts", "get", w.account_id, key=t.key)
    bal = t.balances(w.account_ref)["USDC"]
    assert f"account  {w.account_id}" in out and "CURRENCY" in out, out
    row = [ln.split() for ln in out.splitlines() if ln.startswith("USDC")]
    assert row == [["USDC", bal["available"], bal["held"], bal["total"]]], out


def test_approvals_four_eyes(srv, world):
    t, w, approver = world
    s1 = t.create_session(w, "1500.00")
    s2 = t.create_session(w, "1200.00")
    a1, a2 = (s["approval_ref"].split("/", 1)[1] for s in (s1, s2))
    listed = ok(srv, "approvals", "list", key=approver["api_key"])
    assert a1 in listed and a2 in listed and "pending" in listed, listed
    refused = cli(srv, "approvals", "approve", a1, key=t.key)  # the initiator
    assert refused.returncode == 1 and "403 initiator_cannot_approve" in refused.stderr, refused.stderr
    out = json.loads(ok(srv, "approvals", "approve", a1, "--json", key=approver["api_key"]))
    assert out["status"] == "approved" and out["decided_by"] == principal_json(approver["principal"], t.ref)
    table = ok(srv, "approvals", "reject", a2, key=approver["api_key"]).splitlines()
    assert table[1].startswith(a2) and " rejected " in table[1], table
    again = cli(srv, "approvals", "reject", a2, key=approver["api_key"])
    assert again.returncode == 1 and "409" in again.stderr, again.stderr


def test_webhooks_list_and_attempts(srv, world, receiver):
    t, w, _ = world
    r = t.req("POST", "/webhook-endpoints", {"url": receiver, "event_types": ["*"], "format": "standard"})
    assert r.status == 201, r
    ep = r.json["id"]
    out = ok(srv, "webhooks", "list", key=t.key)
    assert ep in out and receiver in out and "yes" in out, out
    t.create_session(w, "10.00")

    def attempts():
        items = json.loads(ok(srv, "webhooks", "attempts", ep, "--json", key=t.key))["items"]
        return bool(items), items
    items = poll_until(attempts, 20, "a delivery attempt")
    assert items[0]["status_code"] == 200, items
    table = ok(srv, "webhooks", "attempts", ep, key=t.key)
    assert table.startswith("ID") and items[0]["id"] in table, table


def test_server_refusals_and_unreachable_exit_1(srv, world):
    t, _, _ = world
    bad = cli(srv, "sessions", "list", key="not-a-key")
    assert bad.returncode == 1 and "401 unauthenticated" in bad.stderr, bad.stderr
    gone = subprocess.run([BIN, "sessions", "list", "--url", f"http://127.0.0.1:{free_port()}"],
                          env=child_env({"OFFRAMP_API_KEY": t.key}), capture_output=True, text=True, timeout=30)
    assert gone.returncode == 1 and "127.0.0.1" in gone.stderr, gone.stderr


def test_man_page_renders_without_warnings_and_names_every_command():
    page = ROOT / "docs" / "offramp.1"
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = subprocess.run(["groff", "-man", "-Tutf8", str(page)], capture_output=True, timeout=30).stdout
    text = re.sub(rb".\x08", b"", text).decode()
    for c in COMMANDS + ["serve", "admin migrate-sqlite", "admin verify-ledger", "OFFRAMP_API_KEY"]:
        assert c in text, f"docs/offramp.1 does not mention {c!r}"
