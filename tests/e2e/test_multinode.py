"""Many nodes on one PostgreSQL database (CONTRACT 11): every promise holds
across `serve` processes sharing a database: one session per idempotency
key, balances never overdrawn, each session executed and paid once, every
event delivered, and the service survives a node killed with SIGKILL and
its database connections killed under it.

Each test starts two `serve` processes on one fresh database (the second
Server is made on the first's db, so the harness gives it the same database
and, since the first still runs, a node id of its own) and sends its
clients to both, alternating. The databases are checked from outside too:
`admin verify-ledger`, and psql for what no API shows (every ledger
transfer of a session made once; the service's backend connections).

PostgreSQL only (pg_only): run with OFFRAMP_TEST_DATABASE_URL set.
"""

import concurrent.futures
import subprocess
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from offramp_e2e import (
    DEFAULT_STEP_MS, TERMINAL, describe, expected_outcome, fmt_money, http_request, payout_session_id, poll_until,
)

pytestmark = pytest.mark.pg_only

STEP_MS = 50                      # sandbox step of the tests whose sessions run
LEASE_MS = 2000                   # --session-lease-ms: a dead node's sessions wait this long
FEE = Decimal("1.00")             # the default network fee
AMOUNTS = ["1.00", "1.05", "1.06", "2.00", "3.50", "1.07"]
TERMINAL_TIMEOUT = 40.0
P = "off_ramp_session."
STATUS_TYPES = {P + s for s in ("executing", "pending_approval", "executed", "settled", "failed", "cancelled")}
# The status events a session of each outcome enters, in order.
STATUSES_FOR = {
    ("settled", None): ["executing", "executed", "settled"],
    ("failed", "chain_transfer_failed"): ["executing", "failed"],
    ("failed", "beneficiary_account_closed"): ["executing", "executed", "failed"],
}


def pair(server_factory, step_ms=STEP_MS, extra_args=()):
    """Two nodes on one database, each with its own node id."""
    a = server_factory(step_ms=step_ms, extra_args=extra_args)
    b = server_factory(db=a.db, step_ms=step_ms, extra_args=extra_args)
    assert a.database_url and a.database_url == b.database_url, "the two nodes must share one database"
    assert a.node_id != b.node_id, f"two running nodes got one node id {a.node_id}"
    assert a.port != b.port
    return a, b


def post(node, path, body, key, idem=None, timeout=30):
    headers = {"Idempotency-Key": idem} if idem else None
    return http_request(node.port, "POST", path, body=body, key=key, headers=headers, timeout=timeout)


def psql(server, sql):
    """Rows of a query on the server's database, as lists of strings."""
    p = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", server.database_url,
                        "-c", sql], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"psql {sql!r}: {p.stderr}"
    return [ln.split("\t") for ln in p.stdout.splitlines() if ln.strip()]


def no_transfer_twice(server):
    """No session has one kind of ledger transfer twice (a double hold,
    post, void or payout posting)."""
    dup = psql(server, "SELECT session_id, op, kind, count(*) FROM transfers WHERE session_id IS NOT NULL"
                       " GROUP BY session_id, op, kind HAVING count(*) > 1")
    assert not dup, f"ledger transfers made twice for one session: {dup[:5]}"


def wait_terminal(t, ids, timeout=TERMINAL_TIMEOUT):
    """{id: session} once every id is terminal."""
    ids = set(ids)

    def done():
        cur = {s["id"]: s for s in t.list_sessions(page_size=100)}
        missing = ids - set(cur)
        assert not missing, f"sessions gone: {sorted(missing)[:3]}"
        waiting = [i for i in ids if cur[i]["status"] not in TERMINAL]
        return not waiting, (cur if not waiting else f"{len(waiting)} not terminal, e.g. {cur[waiting[0]]}")
    return poll_until(done, timeout, "every session to be terminal", 0.2)


def events_by_session(t):
    """The tenant's event log, oldest first, by session id."""
    out = {}
    for e in t.events(page_size=100):
        out.setdefault(e["resource_ref"].split("/", 1)[1], []).append(e)
    return out


def check_finished(t, amount_of, final, deposit):
    """Every session ended as its cents say, entered each status once, was
    paid by the rail at most once (once when settled); the balance is the
    deposit minus what the settled ones cost; nothing stays held."""
    spent = Decimal(0)
    wrong, bad_events = [], []
    log = events_by_session(t)
    for sid, amount in amount_of.items():
        s = final[sid]
        want = expected_outcome(amount)
        if (s["status"], s["failure_reason"]) != want:
            wrong.append((amount, s["status"], s["failure_reason"]))
            continue
        if s["status"] == "settled":
            spent += Decimal(amount) + FEE
        entered = [e["type"][len(P):] for e in log.get(sid, []) if e["type"] in STATUS_TYPES]
        if entered != STATUSES_FOR[want]:
            bad_events.append((sid, amount, entered))
    assert not wrong, f"{len(wrong)} sessions ended other than their cents say, e.g. {wrong[:5]}"
    assert not bad_events, f"{len(bad_events)} sessions entered a status twice or missed one, e.g. {bad_events[:3]}"
    per = Counter(payout_session_id(p) for p in t.payouts())
    problems = []
    for sid, amount in amount_of.items():
        n = per.get(sid, 0)
        status, reason = expected_outcome(amount)
        if (status == "settled" and n != 1) or (reason == "chain_transfer_failed" and n) or n > 1:
            problems.append(f"{status}/{reason} {sid}: {n} payouts")
    strays = set(per) - set(amount_of)
    assert not problems, f"{len(problems)} sessions paid other than once, e.g. {problems[:5]}"
    assert not strays, f"payouts of unknown sessions: {sorted(strays)[:3]}"
    left = fmt_money(deposit - spent)
    got = t.balances(final[next(iter(amount_of))]["account_ref"])["USDC"]
    assert got == {"available": left, "held": "0.00", "total": left}, (got, left)


# ---------------------------------------------------------------------------
# 1. One idempotency key raced on both nodes.
# ---------------------------------------------------------------------------

def test_one_key_raced_on_two_nodes(server_factory):
    a, b = pair(server_factory, step_ms=DEFAULT_STEP_MS)   # an hour: sessions stay executing, holding
    nodes = (a, b)
    t = a.new_tenant()
    w = t.setup("10000.00")
    threads = 24
    for round_no in range(4):
        key = f"race-{round_no}-{uuid.uuid4()}"
        body = w.body("10.00")
        gate = threading.Barrier(threads)

        def one(i):
            gate.wait()
            return post(nodes[i % 2], "/off-ramp-sessions", body, t.key, key)
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            answers = list(ex.map(one, range(threads)))
        ok = [r for r in answers if r.status == 201]
        in_flight = [r for r in answers
                     if r.status == 409 and r.json and r.json.get("code") == "idempotency_key_in_flight"]
        other = [describe(r) for r in answers if r.status != 201 and r not in in_flight]
        assert not other, f"round {round_no}: answers other than 201 or 409 in flight: {other[:3]}"
        assert ok, f"round {round_no}: no request succeeded"
        # a 409 in flight is not kept: retrying it with the key replays the one answer
        for _ in in_flight:
            r = post(b, "/off-ramp-sessions", body, t.key, key)
            assert r.status == 201 and r.headers.get("x-idempotency-cached") == "true", describe(r)
            ok.append(r)
        assert len({r.raw for r in ok}) == 1, \
            f"round {round_no}: {len({r.raw for r in ok})} different answers to one key: " \
            f"{sorted({r.json['id'] for r in ok})}"
        fresh = [r for r in ok if r.headers.get("x-idempotency-cached") != "true"]
        assert len(fresh) == 1, f"round {round_no}: {len(fresh)} answers ran the request (not replays)"
    sessions = t.list_sessions(account_ref=w.account_ref)
    assert len(sessions) == 4, f"4 keys made {len(sessions)} sessions: {[s['id'] for s in sessions]}"
    held = fmt_money(4 * (Decimal("10.00") + FEE))
    for node in nodes:
        t.server = node
        assert w.balances()["USDC"]["held"] == held, f"node {node.node_id}: {w.balances()}"
    a.verify_ledger()


# ---------------------------------------------------------------------------
# 2. 100 debits of 1,000.00 against 5,000.00, across both nodes.
# ---------------------------------------------------------------------------

def test_concurrent_debits_never_overdraw(server_factory):
    a, b = pair(server_factory, step_ms=DEFAULT_STEP_MS)
    nodes = (a, b)
    t = a.new_tenant()
    a.set_fees(t.ref, platform_bps=0, network_fees=["USDC:ethereum:0"])
    w = t.setup("5000.00")
    assert w.balances()["USDC"] == {"available": "5000.00", "held": "0.00", "total": "5000.00"}
    n = 100
    gate = threading.Barrier(n + 1)
    stop = threading.Event()
    seen_available = []

    def watch():
        gate.wait()
        while not stop.is_set():
            t.server = nodes[len(seen_available) % 2]
            seen_available.append(Decimal(w.balances()["USDC"]["available"]))

    def one(i):
        gate.wait()
        return post(nodes[i % 2], "/off-ramp-sessions", w.body("1000.00"), t.key, f"debit-{i}-{uuid.uuid4()}")
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            answers = list(ex.map(one, range(n)))
    finally:
        stop.set()
        watcher.join()
    ok = [r for r in answers if r.status == 201]
    refused = [r for r in answers if r.status == 422 and r.json and r.json.get("code") == "insufficient_funds"]
    other = [describe(r) for r in answers if r.status != 201 and r not in refused]
    assert not other, f"answers other than 201 / 422 insufficient_funds: {len(other)}, e.g. {other[:3]}"
    assert len(ok) == 5 and len(refused) == 95, f"{len(ok)} accepted, {len(refused)} refused (want 5, 95)"
    assert {r.json["principal_amount"]["value"] for r in ok} == {"1000.00"}
    assert seen_available and min(seen_available) >= 0, f"available went negative: {min(seen_available)}"
    t.server = b
    assert w.balances()["USDC"] == {"available": "0.00", "held": "5000.00", "total": "5000.00"}
    assert len(t.list_sessions(account_ref=w.account_ref)) == 5
    a.verify_ledger()


# ---------------------------------------------------------------------------
# 3. Sessions from either node run once each; every event reaches the hook.
# ---------------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rcv = self.server.receiver
        ok = self.path == rcv.path
        if ok:
            with rcv.lock:
                rcv.ids.append(self.headers.get("webhook-id"))
                rcv.bodies[self.headers.get("webhook-id")] = body
        self.send_response(200 if ok else 410)   # a stranger (an old test's endpoint): go away
        self.send_header("Content-Length", "0")
        self.end_headers()


class Receiver:
    """A webhook receiver on loopback that records the webhook-id of every
    delivery to its one random path and answers 200."""

    def __init__(self):
        self.path = f"/{uuid.uuid4().hex}"
        self.lock = threading.Lock()
        self.ids = []
        self.bodies = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        self.httpd.daemon_threads = True
        self.httpd.receiver = self
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{self.path}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def got(self):
        with self.lock:
            return list(self.ids)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_sessions_on_both_nodes_run_once_and_every_event_is_delivered(server_factory):
    hook_args = ["--webhook-allow-loopback", "--webhook-retry-base-ms", "100"]
    a, b = pair(server_factory, extra_args=hook_args)
    nodes = (a, b)
    t = a.new_tenant()
    deposit = Decimal("10000.00")
    w = t.setup(fmt_money(deposit))
    rcv = Receiver()
    try:
        r = post(b, "/webhook-endpoints", {"url": rcv.url, "event_types": ["*"], "format": "standard"}, t.key)
        assert r.status == 201, describe(r)
        amount_of = {}
        lock = threading.Lock()

        def create(i):
            amount = AMOUNTS[i % len(AMOUNTS)]
            r = post(nodes[(i // len(AMOUNTS) + i) % 2], "/off-ramp-sessions", w.body(amount), t.key, f"s-{i}")
            assert r.status == 201, describe(r)
            with lock:
                amount_of[r.json["id"]] = amount
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(create, range(48)))
        final = wait_terminal(t, amount_of)
        check_finished(t, amount_of, final, deposit)
        no_transfer_twice(a)
        # every status event of GET /events reaches the one endpoint (from
        # whichever node sends it), and nothing else does
        log = events_by_session(t)
        assert set(log) == set(amount_of), "events of sessions nobody created, or sessions without events"
        want = {e["id"] for evs in log.values() for e in evs if e["type"] in STATUS_TYPES}

        def all_there():
            got = set(rcv.got())
            return want <= got, f"{len(want - got)} of {len(want)} missing"
        poll_until(all_there, 30, "every event to be delivered", 0.1)
        time.sleep(0.3)   # a duplicate or stray send would land by now
        got = rcv.got()
        assert set(got) == want, f"delivered ids other than the events: {sorted(set(got) - want)[:3]}"
        dup = {i: c for i, c in Counter(got).items() if c > 1}
        print(f"multinode hooks: {len(want)} events, {len(got)} deliveries, {len(dup)} delivered twice")
        a.verify_ledger()
    finally:
        rcv.close()


# ---------------------------------------------------------------------------
# 4. SIGKILL of one node under load.
# ---------------------------------------------------------------------------

def _load(nodes, t, w, seconds, answers, tag, threads=6, during=None):
    """`threads` clients create sessions for `seconds`, alternating nodes;
    answers gets (node, key, amount, Resp or the exception). `during` runs
    in this thread while they do."""
    stop = threading.Event()
    lock = threading.Lock()

    def client(n):
        i = 0
        while not stop.is_set():
            i += 1
            node = nodes[(n + i) % len(nodes)]
            amount = AMOUNTS[(n + i) % len(AMOUNTS)]
            key = f"{tag}-{n}-{i}"
            try:
                out = post(node, "/off-ramp-sessions", w.body(amount), t.key, key, timeout=20)
            except Exception as e:  # noqa: BLE001 - refused, reset: checked by the caller
                out = e
                time.sleep(0.05)   # a dead node refuses at once: do not spin on it
            with lock:
                answers.append((node, key, amount, out))
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        futs = [ex.submit(client, n) for n in range(threads)]
        if during:
            during()
        else:
            time.sleep(seconds)
        stop.set()
        for f in futs:
            f.result()


def _retry_until_created(node, t, w, key, amount, deadline_s=20):
    """POST the create again with its key until it answers 201."""
    deadline = time.monotonic() + deadline_s
    while True:
        r = post(node, "/off-ramp-sessions", w.body(amount), t.key, key)
        if r.status == 201:
            return r
        assert r.status in (409, 503) and time.monotonic() < deadline, f"retry of {key}: {describe(r)}"
        time.sleep(0.1)


def test_sigkill_of_one_node_under_load(server_factory):
    lease_args = ["--session-lease-ms", str(LEASE_MS)]
    a, b = pair(server_factory, extra_args=lease_args)
    t = a.new_tenant()
    deposit = Decimal("100000.00")
    w = t.setup(fmt_money(deposit))
    answers = []
    stranded = []

    held_by_b = ("SELECT id FROM sessions WHERE lease_until_ms > 0"
                 f" AND starts_with(lease_owner, '{b.node_id}/')")

    def kill_midway():
        time.sleep(1.0)
        # kill it in the middle of a worker pass, while it holds leases
        for _ in range(50):
            if psql(a, held_by_b):
                break
        b.kill()
        # what the dead node held: left to the survivor once the leases lapse
        stranded.extend(r[0] for r in psql(a, held_by_b))
        assert stranded, "the kill did not catch the node holding a lease"
        time.sleep(1.5)
    _load((a, b), t, w, None, answers, "kill", during=kill_midway)

    created, cut = {}, []
    bad = []
    for node, key, amount, out in answers:
        if isinstance(out, Exception):
            if node is a:
                bad.append(f"survivor {key}: {out!r}")
            else:
                cut.append((key, amount))   # refused or reset by the dead node
        elif out.status == 201:
            created[key] = (out.json["id"], amount)
        elif out.status == 503:
            cut.append((key, amount))
        else:
            bad.append(f"{node.node_id} {key}: {describe(out)}")
    assert not bad, f"{len(bad)} unclean answers, e.g. {bad[:3]}"
    assert sum(1 for n, *_ in answers if n is b) and len(created) >= 10, \
        f"load too light: {len(created)} created, {len(answers)} answers"
    # a cut-off create retried on the survivor with its key: one session, never two
    for key, amount in cut:
        r = _retry_until_created(a, t, w, key, amount)
        created[key] = (r.json["id"], amount)
    ids = [sid for sid, _ in created.values()]
    assert len(set(ids)) == len(ids), "two keys answered one session"
    t.server = a
    stored = set(t.session_ids(page_size=100))
    assert stored == set(ids), f"{len(stored - set(ids))} sessions without a key, {len(set(ids) - stored)} lost"
    amount_of = {sid: amount for sid, amount in created.values()}
    # the survivor finishes every session, those the dead node had leased too
    final = wait_terminal(t, amount_of)
    check_finished(t, amount_of, final, deposit)
    no_transfer_twice(a)
    a.verify_ledger()
    assert set(stranded) <= set(amount_of), "the dead node held sessions nobody created"
    print(f"multinode kill: {len(created)} sessions, {len(cut)} cut off by the kill, "
          f"{len(stranded)} leased by the dead node")


# ---------------------------------------------------------------------------
# 5. The service's database connections killed again and again under load.
# ---------------------------------------------------------------------------

TERMINATE = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_database_connections_killed_under_load(server_factory):
    a, b = pair(server_factory)
    t = a.new_tenant()
    deposit = Decimal("100000.00")
    w = t.setup(fmt_money(deposit))
    answers = []
    killed = []

    def terminate_repeatedly():
        for _ in range(10):
            time.sleep(0.3)
            killed.append(int(psql(a, TERMINATE)[0][0]))
    _load((a, b), t, w, None, answers, "pgkill", during=terminate_repeatedly)
    assert sum(killed) > 0, "no backend connection was terminated"

    created, retry = {}, []
    bad, statuses = [], Counter()
    for node, key, amount, out in answers:
        if isinstance(out, Exception):
            bad.append(f"{node.node_id} {key}: {out!r}")
            continue
        statuses[out.status] += 1
        if out.status == 201:
            created[key] = (out.json["id"], amount)
        elif out.status == 503 or out.status == 409:
            retry.append((node, key, amount))
        else:
            bad.append(f"{node.node_id} {key}: {describe(out)}")
    assert not bad, f"{len(bad)} answers other than 2xx/409/503 (statuses {dict(statuses)}), e.g. {bad[:3]}"
    assert len(created) >= 10, f"load too light: {dict(statuses)}"
    for node, key, amount in retry:
        r = _retry_until_created(node, t, w, key, amount)
        created[key] = (r.json["id"], amount)
    ids = [sid for sid, _ in created.values()]
    assert len(set(ids)) == len(ids), "two keys answered one session"
    stored = set(t.session_ids(page_size=100))
    assert stored == set(ids), f"{len(stored - set(ids))} sessions without a key, {len(set(ids) - stored)} lost"
    amount_of = {sid: amount for sid, amount in created.values()}
    final = wait_terminal(t, amount_of)
    check_finished(t, amount_of, final, deposit)
    no_transfer_twice(a)
    a.verify_ledger()
    for node in (a, b):
        assert node.alive(), f"node {node.node_id} died"
    print(f"multinode pg kill: {sum(killed)} backends terminated, statuses {dict(statuses)}, "
          f"{len(retry)} retried")
