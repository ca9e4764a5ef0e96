"""Helpers for the black-box end-to-end tests of the Offramp service.

Everything here talks to the service the way a client would: it starts the
binary (`offramp serve`), runs its admin commands and speaks HTTP/JSON to it
over 127.0.0.1. Nothing reaches into the source tree except two read-only
inputs that are part of the contract: src/base/errors.def (the error
catalogue) and the seed page under ../shared/seeds.

Standard library only.
"""

import atexit
import copy
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections import namedtuple
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The contract's seeds and outside test data (JSONTestSuite, ISO 20022): the
# `shared/` folder that sits beside the checkout, or OFFRAMP_SHARED.
SHARED = Path(os.environ.get("OFFRAMP_SHARED", str(REPO.parent / "shared")))
SHARED_NEEDS = ("seeds", "data/JSONTestSuite/test_parsing")
BIN = os.environ.get("OFFRAMP_BIN", str(REPO / "build" / "offramp-san"))
ERRORS_DEF = REPO / "src" / "base" / "errors.def"
SEED_FILE = SHARED / "seeds" / "000_9dfdfbeff93f999a.txt"
JSON_SUITE_DIR = SHARED / "data" / "JSONTestSuite" / "test_parsing"

# The sandbox step (CONTRACT 9, docs/LIFECYCLE.md) of servers the fixtures
# start unless a test asks for another: an hour, so sessions stay `executing`
# with their hold for the whole test (the issue-2 tests rely on that). Tests of
# the lifecycle ask for a short step explicitly.
DEFAULT_STEP_MS = 3600000
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 30.0
MAX_BODY = 64 * 1024

ALL_CAPS = [
    "ramps.create", "ramps.read", "ramps.approve", "ramps.cancel",
    "clients.manage", "accounts.read", "destinations.manage",
    "policies.manage", "webhooks.manage", "sandbox.fund",
]

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# ---------------------------------------------------------------------------
# The seed page: request and response of POST /off-ramp-sessions.
# ---------------------------------------------------------------------------

_SEED_REQUEST_FALLBACK = {
    "account_ref": "client-accounts/b8e2f1a0-4c3d-4e5f-9a1b-2c3d4e5f6a7b",
    "amount": {"currency": "USDC", "value": "250.00"},
    "destination": {
        "destination": {
            "bank_coordinates": {
                "account_holder_name": "Acme Treasury",
                "bank_name": "Demo Bank",
                "bic": "NWBKGB2L",
                "country": "GB",
                "iban": "GB29NWBK60161331926819",
                "scheme": "iban",
            },
            "beneficiary_name": "Acme Treasury",
            "currency": "EUR",
            "fiat_rail": "sepa_credit_transfer",
            "method": "bank_transfer",
            "reference_hint": None,
        },
        "fiat_rail": "sepa_credit_transfer",
        "method": "bank_transfer",
        "payment_reference": "RF18539007547034",
        "route_owner_ref": "clients/b8e2f1a0-4c3d-4e5f-9a1b-2c3d4e5f6a7b",
        "withdrawal_destination_id": "b8e2f1a0-4c3d-4e5f-9a1b-2c3d4e5f6a7b",
    },
    "target_currency": "EUR",
    "target_rail": "fiat",
}


def _load_seed():
    """Parse the request and response JSON objects out of the seed page."""
    try:
        text = SEED_FILE.read_text(encoding="utf-8")
    except OSError:
        return copy.deepcopy(_SEED_REQUEST_FALLBACK), None
    dec = json.JSONDecoder()
    req = resp = None
    i = text.find("Request Body")
    if i >= 0:
        j = text.find("{", i)
        req, end = dec.raw_decode(text, j)
        k = text.find("Response", end)
        if k >= 0:
            j = text.find("{", k)
            resp, _ = dec.raw_decode(text, j)
    return req or copy.deepcopy(_SEED_REQUEST_FALLBACK), resp


SEED_REQUEST, SEED_RESPONSE = _load_seed()
SEED_DEST = SEED_REQUEST["destination"]["destination"]  # the typed SEPA destination


BANK_NUMBER_KEYS = ("iban", "account_number", "accountNumber", "clabe")


def mask_bank_number(v):
    """A bank account identifier as an answer other than the one that saved
    it shows it (docs/API.md "Bank identifiers in answers"): the first and
    last 4 characters kept, each other one a '*'; 8 or fewer: all '*'."""
    n = len(v)
    return "".join(c if (i < 4 or i + 4 >= n) and n > 8 else "*" for i, c in enumerate(v))


def masked(doc):
    """doc (a destination as saved, on either surface) as a GET shows it."""
    if isinstance(doc, dict):
        return {k: mask_bank_number(x) if k in BANK_NUMBER_KEYS and isinstance(x, str) else masked(x)
                for k, x in doc.items()}
    if isinstance(doc, list):
        return [masked(x) for x in doc]
    return doc


def sepa_destination(**changes):
    """A fresh copy of the seed's typed destination; bank_coordinates keys may be
    changed with bc_<name>=value, top-level keys with <name>=value."""
    d = copy.deepcopy(SEED_DEST)
    for k, v in changes.items():
        if k.startswith("bc_"):
            d["bank_coordinates"][k[3:]] = v
        else:
            d[k] = v
    return d


# A second valid SEPA destination (Germany) for "different but valid" cases.
DE_COORDS = {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "country": "DE"}

# ---------------------------------------------------------------------------
# The error catalogue.
# ---------------------------------------------------------------------------

_X_RE = re.compile(r'^\s*X\(\s*(\w+)\s*,\s*"([^"]+)"\s*,\s*(\d+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)', re.M)


def load_errors_def():
    """{code: status} from src/base/errors.def."""
    text = ERRORS_DEF.read_text(encoding="utf-8")
    out = {}
    for m in _X_RE.finditer(text):
        out[m.group(2)] = int(m.group(3))
    return out


# ---------------------------------------------------------------------------
# Money.
# ---------------------------------------------------------------------------

def fmt_money(d):
    """Print a Decimal the way the contract says the service prints money:
    at least two fractional digits, trailing zeros beyond them dropped."""
    d = Decimal(d)
    s = format(d, "f")
    if "." in s:
        ip, fp = s.split(".")
    else:
        ip, fp = s, ""
    fp = fp.rstrip("0")
    if len(fp) < 2:
        fp = fp.ljust(2, "0")
    return f"{ip}.{fp}"


# ---------------------------------------------------------------------------
# HTTP.
# ---------------------------------------------------------------------------

# A line of the ASan/UBSan runtime ("==1234==WARNING: ..."), not of the service.
SANITIZER_LINE = re.compile(r"^==\d+==")

Resp = namedtuple("Resp", "status headers json raw")


def _encode_body(body):
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


def http_request(port, method, path, body=None, key=None, headers=None, timeout=HTTP_TIMEOUT_S):
    """One request on a fresh connection. Returns Resp(status, headers
    (lower-cased names), parsed json or None, raw bytes)."""
    data = _encode_body(body)
    hdrs = {}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    if key is not None:
        hdrs["Authorization"] = f"Bearer {key}"
    for k, v in (headers or {}).items():
        for existing in [h for h in hdrs if h.lower() == k.lower()]:
            del hdrs[existing]
        if v is not None:
            hdrs[k] = v
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) and close before reading the whole
            # body; try to read what it said.
            pass
        r = conn.getresponse()
        raw = r.read()
        rh = {}
        for k, v in r.getheaders():
            rh[k.lower()] = v
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        return Resp(r.status, rh, parsed, raw)
    finally:
        conn.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra=None):
    """The environment of every process the tests start. The sandbox step
    defaults to DEFAULT_STEP_MS (also for serve processes started by hand);
    `extra` adds or, with a None value, removes variables."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1"
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for k in ("OFFRAMP_DB", "OFFRAMP_DATABASE_URL", "OFFRAMP_LISTEN"):
        env.pop(k, None)
    env["OFFRAMP_SANDBOX_STEP_MS"] = str(DEFAULT_STEP_MS)
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def describe(resp):
    """Short text of a response for assertion messages."""
    raw = resp.raw[:600].decode("utf-8", "replace") if resp.raw else ""
    return f"HTTP {resp.status} {raw}"


# ---------------------------------------------------------------------------
# The session lifecycle (docs/LIFECYCLE.md): polling, events, approvals,
# sandbox payouts, operator settings.
# ---------------------------------------------------------------------------

LIFECYCLE_STEP_MS = 100          # the step lifecycle tests ask for
TERMINAL = ("settled", "failed", "cancelled")
# The order (status, stage) pairs are met in by a session that settles.
HAPPY_PATH = [("executing", "stablecoin_transfer"), ("executing", "conversion"),
              ("executed", "payout"), ("settled", "payout")]


def poll_until(fn, timeout, what, interval=0.05):
    """Call fn() until it returns (True, value); returns value. Fails after
    `timeout` seconds naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        ok, last = fn()
        if ok:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {str(last)[:1500]}")
        time.sleep(interval)


def cents(amount):
    """The amount's first two fractional digits (LIFECYCLE: they choose the
    sandbox outcome)."""
    s = str(amount)
    frac = s.split(".", 1)[1] if "." in s else ""
    return (frac + "00")[:2]


def expected_outcome(amount):
    """(status, failure_reason) the sandbox gives a session of this amount."""
    c = cents(amount)
    if c == "05":
        return "failed", "chain_transfer_failed"
    if c == "06":
        return "failed", "beneficiary_account_closed"
    return "settled", None


def principal_json(principal, tenant_ref):
    """{id, kind, tenant_ref} as the service shows a principal."""
    return {"id": principal["id"], "kind": principal["kind"], "tenant_ref": tenant_ref}


def payout_session_id(p):
    sid = p.get("session_id")
    if sid is None and isinstance(p.get("session_ref"), str):
        sid = p["session_ref"].split("/", 1)[-1]
    return sid


def list_items(resp):
    """The items of a list answer ({"items": [...]}, or a bare array)."""
    j = resp.json
    if isinstance(j, list):
        return j
    assert isinstance(j, dict), f"list answer is not an object: {describe(resp)}"
    for k in ("items", "data", "payouts", "events", "approvals"):
        if isinstance(j.get(k), list):
            return j[k]
    raise AssertionError(f"list answer has no items: {describe(resp)}")

# ---------------------------------------------------------------------------
# The server process.
# ---------------------------------------------------------------------------

# PostgreSQL: with OFFRAMP_TEST_DATABASE_URL set (an admin URL, e.g.
# postgres://offramp@127.0.0.1:55433/postgres) every Server on a new database
# gets a fresh PostgreSQL database of its own instead of a SQLite file, keyed
# by the Server's db path, so a Server built with db= an earlier one's db (a
# restart) opens the same database. Dropped at exit.
TEST_DATABASE_URL = os.environ.get("OFFRAMP_TEST_DATABASE_URL") or None
_pg_databases = {}  # str(db path) -> database URL
_pg_lock = threading.Lock()


def _pg_url_with_db(admin_url, name):
    u = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def _psql(sql):
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", TEST_DATABASE_URL, "-c", sql],
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"psql {sql!r} failed: {p.stderr.decode('utf-8', 'replace')}")


def pg_database_for(key):
    """The URL of the test database keyed by key (a Server's db path),
    created on first use; None when the tests run on SQLite."""
    if not TEST_DATABASE_URL:
        return None
    key = str(key)
    with _pg_lock:
        url = _pg_databases.get(key)
        if url is None:
            name = f"offramp_e2e_{os.getpid()}_{uuid.uuid4().hex[:16]}"
            _psql(f'CREATE DATABASE "{name}"')
            url = _pg_url_with_db(TEST_DATABASE_URL, name)
            _pg_databases[key] = url
        return url


@atexit.register
def _pg_drop_databases():
    for url in list(_pg_databases.values()):
        name = urllib.parse.urlsplit(url).path.lstrip("/")
        try:
            _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except (AssertionError, OSError, subprocess.SubprocessError):
            pass


# ---------------------------------------------------------------------------
# Looking at a server's database from outside, on either backend.
# ---------------------------------------------------------------------------

def db_scalar(server, sql):
    """The first column of the first row of a read-only query on the
    server's database (its SQLite file, or its PostgreSQL database)."""
    if server.database_url:
        p = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", server.database_url,
                            "-c", sql], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql {sql!r} failed: {p.stderr}")
        v = p.stdout.strip().splitlines()[0] if p.stdout.strip() else None
        return int(v) if v is not None and re.fullmatch(r"-?[0-9]+", v) else v
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True, timeout=10) as c:
        row = c.execute(sql).fetchone()
        return row[0] if row else None


def db_bytes(server):
    """Everything the database holds, as bytes: the SQLite file with its WAL
    and journal, or a pg_dump of the PostgreSQL database."""
    if server.database_url:
        p = subprocess.run(["pg_dump", "-d", server.database_url], capture_output=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"pg_dump failed: {p.stderr.decode('utf-8', 'replace')}")
        return p.stdout
    blob = b""
    for suffix in ("", "-wal", "-journal"):
        try:
            with open(str(server.db) + suffix, "rb") as f:
                blob += f.read()
        except OSError:
            pass
    return blob


class DbWriteLock:
    """Holds the database so that the server's committer cannot commit a
    create until release(): SQLite's write lock (BEGIN IMMEDIATE), or on
    PostgreSQL an EXCLUSIVE lock on the sessions table (reads go on, every
    insert into it waits), taken by a psql session kept open."""

    def __init__(self, server):
        self.server = server
        self.con = self.psql = None
        if server.database_url:
            self.psql = subprocess.Popen(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
                                          "-d", server.database_url], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self._send("BEGIN; LOCK TABLE sessions IN EXCLUSIVE MODE; SELECT 'locked';")
            line = self.psql.stdout.readline().strip()
            assert line == "locked", f"psql could not lock: {line!r} {self.psql.stderr.read()}"
        else:
            self.con = sqlite3.connect(str(server.db), timeout=10, isolation_level=None)
            self.con.execute("BEGIN IMMEDIATE")

    def _send(self, sql):
        self.psql.stdin.write(sql + "\n")
        self.psql.stdin.flush()

    def sessions(self):
        """The number of stored sessions, seen from inside the lock."""
        if self.psql:
            self._send("SELECT count(*) FROM sessions;")
            return int(self.psql.stdout.readline().strip())
        return self.con.execute("SELECT count(*) FROM sessions").fetchone()[0]

    def release(self):
        if self.psql:
            self._send("ROLLBACK;")
            self.psql.stdin.close()
            self.psql.wait(timeout=30)
            self.psql = None
        elif self.con:
            self.con.execute("ROLLBACK")
            self.con.close()
            self.con = None


class ServerFailed(AssertionError):
    pass


class Server:
    """One `offramp serve` process on a database file in its own directory."""

    _count = 0
    _count_lock = threading.Lock()
    _nodes = {}  # database -> the last Server made on it

    def __init__(self, workdir, db=None, extra_args=(), step_ms=DEFAULT_STEP_MS, env=None):
        """step_ms: the --sandbox-step-ms flag (None: no flag, so the
        environment or the binary's default decides); extra_args: more serve
        flags; env: more environment variables (see child_env)."""
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = Path(db) if db else self.dir / "offramp.db"
        # PostgreSQL (OFFRAMP_TEST_DATABASE_URL): this node's database; None on SQLite.
        self.database_url = pg_database_for(self.db)
        self.extra_args = list(extra_args)
        self.step_ms = step_ms
        self.env = dict(env or {})
        # One node id for every start of this Server, as a deployment keeps
        # one per node: a restart on another port still takes back its own
        # leases at once (serve --node-id; the default would follow the
        # port). A new Server on the database of one that has stopped is that
        # node restarted and keeps its id; next to a running one it is a
        # second node and gets its own.
        with Server._count_lock:
            Server._count += 1
            prev = Server._nodes.get(str(self.db))
            if prev is not None and (prev.proc is None or prev.proc.poll() is not None):
                self.node_id = prev.node_id
            else:
                self.node_id = f"e2e-{os.getpid()}-{Server._count}"
            Server._nodes[str(self.db)] = self
        self.proc = None
        self.port = None
        self.stderr_path = None
        self._stderr_file = None
        self._stdout_file = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, port=None):
        if not os.path.exists(BIN):
            raise ServerFailed(f"server binary {BIN} does not exist (set OFFRAMP_BIN)")
        last = None
        for _attempt in range(3):
            with Server._count_lock:
                Server._count += 1
                n = Server._count
            self.port = port or free_port()
            self.stderr_path = self.dir / f"serve-{n}.stderr"
            self._stderr_file = open(self.stderr_path, "wb")
            self._stdout_file = open(self.dir / f"serve-{n}.stdout", "wb")
            cmd = [BIN, "serve", *self.db_args(), "--listen", f"127.0.0.1:{self.port}",
                   *self.secret_key_args()]
            if not any(a == "--node-id" or a.startswith("--node-id=") for a in self.extra_args):
                cmd += ["--node-id", self.node_id]
            if self.step_ms is not None:
                cmd += ["--sandbox-step-ms", str(self.step_ms)]
            cmd += self.extra_args
            self.proc = subprocess.Popen(cmd, stdout=self._stdout_file, stderr=self._stderr_file,
                                         stdin=subprocess.DEVNULL, env=child_env(self.env), cwd=str(self.dir))
            ok, why = self._wait_ready()
            if ok:
                return self
            last = why
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._close_files()
            if port:  # a fixed port: do not move elsewhere
                break
        raise ServerFailed(f"server did not become ready: {last}\n--- stderr ---\n{self.stderr()}")

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, f"exited with status {rc}"
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=2)
                if r.status == 200:
                    return True, None
                last = f"/healthz answered {r.status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        return False, f"not ready after {READY_TIMEOUT_S}s ({last})"

    def stderr(self):
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-20000:]
        except (OSError, AttributeError):
            return ""

    def log_lines(self):
        """Every line this start has written to stderr, each parsed as the
        JSON object it must be (docs/OPERATIONS.md "Logs"); the sanitizer
        runtime's own lines (offramp-san) are not the service's and are left
        out."""
        try:
            text = self.stderr_path.read_text(encoding="utf-8")
        except (OSError, AttributeError):
            return []
        out = []
        for ln in text.splitlines():
            if SANITIZER_LINE.match(ln):
                continue
            try:
                obj = json.loads(ln)
            except ValueError:
                raise AssertionError(f"a log line is not JSON: {ln[:300]!r}")
            assert isinstance(obj, dict), ln[:300]
            out.append(obj)
        return out

    def requests_logged(self, **match):
        """The request lines (msg "request") whose fields equal match."""
        return [o for o in self.log_lines()
                if o.get("msg") == "request" and all(o.get(k) == v for k, v in match.items())]

    def _close_files(self):
        for f in (self._stderr_file, self._stdout_file):
            if f:
                f.close()
        self._stderr_file = self._stdout_file = None

    def stop(self, sig=signal.SIGTERM):
        """Signal the server and wait; returns (exit status, stderr). A
        server that does not stop in time is killed and reported as None."""
        if self.proc is None:
            return 0, ""
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        self._close_files()
        self.proc = None
        return rc, self.stderr()

    def stop_checked(self, sig=signal.SIGTERM):
        rc, err = self.stop(sig)
        assert rc == 0, f"server exit status {rc} after {signal.Signals(sig).name} (expected 0)\n--- stderr ---\n{err}"

    def kill(self):
        """SIGKILL: a crash."""
        self.proc.kill()
        self.proc.wait()
        self._close_files()
        self.proc = None

    def alive(self):
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            return http_request(self.port, "GET", "/healthz", timeout=5).status == 200
        except OSError:
            return False

    # -- HTTP --------------------------------------------------------------

    def request(self, method, path, body=None, key=None, headers=None, timeout=HTTP_TIMEOUT_S):
        return http_request(self.port, method, path, body=body, key=key, headers=headers, timeout=timeout)

    # -- admin -------------------------------------------------------------

    def secret_key_args(self):
        """serve's key for webhook secrets at rest (docs/OPERATIONS.md): on SQLite the
        binary's own default, <db>.secret-key, made on first start; on PostgreSQL it has
        none, so the same path is made here (one key per database, shared by its nodes)
        unless the test names a key itself."""
        if not self.database_url or any(a == "--secret-key-file" or a.startswith("--secret-key-file=")
                                        for a in self.extra_args):
            return []
        path = str(self.db) + ".secret-key"
        with _pg_lock:
            if not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, os.urandom(32).hex().encode() + b"\n")
                os.close(fd)
        return ["--secret-key-file", path]

    def db_args(self):
        """The flags that name this node's database to a command."""
        if self.database_url:
            return ["--database-url", self.database_url]
        return ["--db", str(self.db)]

    def admin_raw(self, *args):
        return subprocess.run([BIN, "admin", *args, *self.db_args()], capture_output=True,
                              env=child_env(), timeout=60, cwd=str(self.dir))

    def admin(self, *args):
        p = self.admin_raw(*args)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 0, f"admin {' '.join(args)} exited {p.returncode}\nstdout: {out}\nstderr: {err}"
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert lines, f"admin {' '.join(args)} printed nothing; stderr: {err}"
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise AssertionError(f"admin {' '.join(args)} did not print JSON: {out!r}")

    def admin_ok(self, *args):
        """An admin command that must exit 0; returns its stdout."""
        p = self.admin_raw(*args)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 0, f"admin {' '.join(args)} exited {p.returncode}\nstdout: {out}\nstderr: {err}"
        return out

    def set_rate(self, source, target, rate):
        """offramp admin set-rate SOURCE TARGET RATE (operator FX table)."""
        return self.admin_ok("set-rate", source, target, rate)

    def set_fees(self, tenant_ref, platform_bps=None, network_fees=()):
        """offramp admin set-fees --tenant REF [--platform-bps N]
        [--network-fee ASSET:NETWORK:AMOUNT]..."""
        args = ["set-fees", "--tenant", tenant_ref]
        if platform_bps is not None:
            args += ["--platform-bps", str(platform_bps)]
        for nf in network_fees:
            args += ["--network-fee", nf]
        return self.admin_ok(*args)

    def verify_ledger(self):
        p = self.admin_raw("verify-ledger")
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 0, f"verify-ledger exited {p.returncode}\nstdout: {out}\nstderr: {err}"
        return out

    def new_tenant(self, name=None):
        return Tenant(self, name or f"tenant-{uuid.uuid4().hex[:8]}")


# ---------------------------------------------------------------------------
# Tenants and their resources.
# ---------------------------------------------------------------------------

class Tenant:
    def __init__(self, server, name):
        self.server = server
        out = server.admin("create-tenant", "--name", name)
        self.created = out
        self.ref = out["tenant_ref"]
        self.principal = out["principal"]
        self.key = out["api_key"]

    def make_key(self, caps, kind=None):
        args = ["create-api-key", "--tenant", self.ref, "--capabilities", ",".join(caps)]
        if kind:
            args += ["--kind", kind]
        return self.server.admin(*args)

    def key_without(self, *caps):
        return self.make_key([c for c in ALL_CAPS if c not in caps])["api_key"]

    def req(self, method, path, body=None, key=None, headers=None):
        return self.server.request(method, path, body=body, key=key or self.key, headers=headers)

    # lifecycle helpers (docs/LIFECYCLE.md)
    def get(self, path, key=None):
        r = self.req("GET", path, key=key)
        assert r.status == 200, f"GET {path}: {describe(r)}"
        return r.json

    def session(self, sid, key=None):
        return self.get(f"/off-ramp-sessions/{sid}", key=key)

    def watch(self, sid, until=TERMINAL, timeout=30.0, interval=0.02):
        """GET the session until its status is in `until`; returns (last
        session, every distinct version seen, in order)."""
        seen = []

        def step():
            s = self.session(sid)
            if not seen or seen[-1] != s:
                seen.append(s)
            return s["status"] in until, s
        last = poll_until(step, timeout, f"session {sid} to reach {until}", interval)
        return last, seen

    def paged(self, path, params=None, page_size=None, key=None, max_pages=10000):
        """Every item of a paged list, following next_page_token."""
        items, token = [], None
        for _ in range(max_pages):
            q = dict(params or {})
            if page_size:
                q["page_size"] = page_size
            if token:
                q["page_token"] = token
            full = path + ("?" + urllib.parse.urlencode(q) if q else "")
            r = self.req("GET", full, key=key)
            assert r.status == 200, f"GET {full}: {describe(r)}"
            items.extend(list_items(r))
            token = r.json.get("next_page_token") if isinstance(r.json, dict) else None
            if not token:
                return items
        raise AssertionError(f"{path}: more than {max_pages} pages")

    def events(self, sid=None, page_size=None, key=None):
        """The event log, oldest first: one session's, or the tenant's."""
        params = {"resource": f"off-ramp-sessions/{sid}"} if sid else {}
        return self.paged("/events", params, page_size=page_size, key=key)

    def payouts(self, sid=None, key=None):
        params = {"session_id": sid} if sid else {}
        return self.paged("/sandbox/payouts", params, key=key)

    def set_threshold(self, value, currency="USDC", key=None):
        body = {"threshold": None if value is None else {"currency": currency, "value": value}}
        r = self.req("PUT", "/policies/off-ramp-approval", body, key=key)
        assert r.status == 200, f"PUT /policies/off-ramp-approval {body}: {describe(r)}"
        return r.json

    # setup helpers; each asserts success
    def create_client(self, name="Acme Treasury"):
        r = self.req("POST", "/clients", {"display_name": name})
        assert r.status == 201, f"POST /clients: {describe(r)}"
        return r.json

    def create_account(self, client_id):
        r = self.req("POST", "/client-accounts", {"client_ref": f"clients/{client_id}"})
        assert r.status == 201, f"POST /client-accounts: {describe(r)}"
        return r.json

    def deposit(self, account_ref, value, currency="USDC"):
        r = self.req("POST", "/sandbox/deposits",
                     {"account_ref": account_ref, "amount": {"currency": currency, "value": value}})
        assert r.status == 201, f"POST /sandbox/deposits: {describe(r)}"
        return r.json

    def create_destination(self, account_ref, dest=None, idem=None):
        r = self.req("POST", "/withdrawal-destinations",
                     {"account_ref": account_ref, "destination": dest or sepa_destination()},
                     headers={"Idempotency-Key": idem or f"dest-{uuid.uuid4()}"})
        assert r.status == 201, f"POST /withdrawal-destinations: {describe(r)}"
        return r.json

    def balances(self, account_ref):
        acct_id = account_ref.split("/", 1)[1]
        r = self.req("GET", f"/client-accounts/{acct_id}")
        assert r.status == 200, f"GET /client-accounts/{acct_id}: {describe(r)}"
        out = {}
        for b in r.json["balances"]:
            out[b["currency"]] = {"available": b["available"], "held": b["held"], "total": b["total"]}
        return out

    def list_sessions(self, **params):
        """Every session visible to this tenant (following page tokens)."""
        items = []
        token = None
        for _ in range(1000):
            q = dict(params)
            if token:
                q["page_token"] = token
            path = "/off-ramp-sessions" + ("?" + urllib.parse.urlencode(q) if q else "")
            r = self.req("GET", path)
            assert r.status == 200, f"GET {path}: {describe(r)}"
            items.extend(r.json["items"])
            token = r.json.get("next_page_token")
            if not token:
                return items
        raise AssertionError("list_sessions: more than 1000 pages")

    def session_ids(self, **params):
        return [s["id"] for s in self.list_sessions(**params)]

    def setup(self, deposit="1000.00", client_name="Acme Treasury"):
        """A client with its default account funded and one saved SEPA
        destination; returns a World."""
        client = self.create_client(client_name)
        account_ref = client["default_account_ref"]
        if deposit:
            self.deposit(account_ref, deposit)
        dest_sent = sepa_destination()
        dest = self.create_destination(account_ref, dest_sent)
        return World(self, client, account_ref, dest, dest_sent)

    def create_session(self, world, amount="250.00", currency="USDC", key=None, idem=None, **kw):
        headers = {"Idempotency-Key": idem} if idem else None
        r = self.req("POST", "/off-ramp-sessions", world.body(amount, currency, **kw), key=key, headers=headers)
        assert r.status == 201, f"POST /off-ramp-sessions: {describe(r)}"
        return r.json


class World:
    """One client, its funded account and a saved destination."""

    def __init__(self, tenant, client, account_ref, dest, dest_sent):
        self.tenant = tenant
        self.client = client
        self.client_id = client["id"]
        self.account_ref = account_ref
        self.account_id = account_ref.split("/", 1)[1]
        self.dest = dest
        self.dest_sent = dest_sent

    def body(self, amount="250.00", currency="USDC", payment_reference="RF18539007547034"):
        b = copy.deepcopy(SEED_REQUEST)
        b["account_ref"] = self.account_ref
        b["amount"] = {"currency": currency, "value": amount}
        b["destination"]["destination"] = copy.deepcopy(self.dest_sent)
        b["destination"]["route_owner_ref"] = f"clients/{self.client_id}"
        b["destination"]["withdrawal_destination_id"] = self.dest["id"]
        b["destination"]["payment_reference"] = payment_reference
        return b

    def balances(self):
        return self.tenant.balances(self.account_ref)


# ---------------------------------------------------------------------------
# Exact numbers (docs/API.md "Metadata"): Lumx metadata comes back with
# each number's text as sent.
# ---------------------------------------------------------------------------

class NumText(str):
    """A JSON number as its text (json.loads parse_int / parse_float)."""


def exact_json(raw):
    """Parse JSON keeping every number's text (NumText), so 0.1 and
    0.10000000000000001, or 1 and 1.0, differ."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw, parse_int=NumText, parse_float=NumText)


def same_exact(a, b):
    """Equal as documents, each number by its text."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_exact(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_exact(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# Numbers a double would change, or that print differently once parsed:
# each must come back with exactly this text.
EXACT_NUMBERS = [("price", "0.1"), ("tiny", "1.5e-7"), ("one", "1.0"), ("hundred", "1e2"),
                 ("upper", "1E+2"), ("negzero", "-0"), ("negzerof", "-0.0"),
                 ("big", "100000000000000000000000"), ("bigneg", "-123456789012345678901234567890"),
                 ("pi", "3.141592653589793238462643383279"), ("int", "42"), ("trail", "2.50")]
EXACT_META = ("{" + ", ".join(f'"{k}": {v}' for k, v in EXACT_NUMBERS) +
              ', "list": [0.5, 1.10, {"x": 7E-1}], "s": "0.1", "esc": "caf\\u00e9 \\"q\\"",'
              ' "nested": {"deep": {"n": 1.000}}}')


def exact_tx_text(dest_id, amount="10.00", meta=EXACT_META):
    return ('{"bankAccountId": "%s", "sourceCurrency": "USDC", "sourceAmount": "%s",'
            ' "purpose": "PERSONAL_ACCOUNT", "metadata": %s}' % (dest_id, amount, meta))


def assert_exact_metadata(raw, what, meta=EXACT_META, paths=(("metadata",), ("request", "metadata"))):
    """raw (an answer or webhook body) shows meta with each number's text as sent."""
    doc = exact_json(raw)
    want = exact_json(meta)
    for path in paths:
        got = doc
        for k in path:
            got = got[k]
        assert same_exact(got, want), f"{what}: {'/'.join(path)} is\n{got}\nnot\n{want}"
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    for k, v in EXACT_NUMBERS:
        assert f'"{k}":{v}' in text, f"{what}: {k} is not written {v}: {text[:600]}"
    assert "0.10000000000000001" not in text and "1.4999999999999999e-07" not in text, text[:600]


# ---------------------------------------------------------------------------
# Assertions.
# ---------------------------------------------------------------------------

_CATALOGUE = None


def catalogue():
    global _CATALOGUE
    if _CATALOGUE is None:
        try:
            _CATALOGUE = load_errors_def()
        except OSError:
            _CATALOGUE = {}
    return _CATALOGUE


def _strings(x):
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for k, v in x.items():
            yield k
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)


def check_error_shape(resp):
    """The error body shape every error answer must have."""
    assert resp.json is not None and isinstance(resp.json, dict), f"error body is not a JSON object: {describe(resp)}"
    for k in ("code", "message", "details", "request_id"):
        assert k in resp.json, f"error body lacks {k!r}: {describe(resp)}"
    assert isinstance(resp.json["code"], str)
    assert isinstance(resp.json["message"], str) and resp.json["message"], describe(resp)
    assert isinstance(resp.json["details"], dict), f"details is not an object: {describe(resp)}"
    rid = resp.headers.get("x-request-id")
    assert rid, f"no X-Request-Id header: {describe(resp)}"
    assert resp.json["request_id"] == rid, f"request_id {resp.json['request_id']!r} != X-Request-Id {rid!r}"
    cat = catalogue()
    if cat:
        code = resp.json["code"]
        assert code in cat, f"code {code!r} is not in errors.def: {describe(resp)}"
        assert cat[code] == resp.status, f"code {code!r} is {cat[code]} in errors.def but came with HTTP {resp.status}"


def assert_error(resp, status, code, pointer=None):
    """status: int; code: str or a set of acceptable codes. pointer: a JSON
    pointer that must appear among the strings of `details`."""
    codes = {code} if isinstance(code, str) else set(code)
    assert resp.status == status, f"expected HTTP {status} {sorted(codes)}, got {describe(resp)}"
    check_error_shape(resp)
    assert resp.json["code"] in codes, f"expected code in {sorted(codes)}, got {describe(resp)}"
    if pointer is not None:
        assert pointer in set(_strings(resp.json["details"])), \
            f"details should name the field {pointer!r}: {describe(resp)}"


def assert_one_of(resp, outcomes):
    """outcomes: list of (status, code or set of codes)."""
    for st, code in outcomes:
        codes = {code} if isinstance(code, str) else set(code)
        if resp.status == st and resp.json and resp.json.get("code") in codes:
            check_error_shape(resp)
            return
    raise AssertionError(f"expected one of {outcomes}, got {describe(resp)}")
