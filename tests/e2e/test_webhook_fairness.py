"""Webhook delivery is fair (docs/WEBHOOKS.md, "Fairness and caps"), black box.

A tenant whose receiver accepts connections and never answers must delay only
its own deliveries: another tenant's healthy receiver gets its events promptly,
and the silent endpoint never holds more than the per-endpoint cap of
connections at once. A receiver that answers slowly (but within the timeout)
gets each delivery exactly once: a lease outlives its send.

Each test starts its own server (--webhook-allow-loopback, a 100 ms retry base,
a 100 ms sandbox step) so no other test's deliveries share its dispatcher.
"""

import selectors
import socket
import threading
import time

from offramp_e2e import LIFECYCLE_STEP_MS, poll_until
from test_webhooks import (
    P, WH_ARGS, Receiver, check_standard_rec, create_endpoint, settle_all, standard_expected, wait_attempts,
    wait_ids,
)

ENDPOINT_IN_FLIGHT = 4      # LIMIT_WEBHOOK_ENDPOINT_IN_FLIGHT in src/base/limits.h
PROMPT_S = 10.0             # today's sequential dispatch kept B waiting 25+ s


class SilentReceiver:
    """Accepts every connection, reads what arrives, never answers and never
    closes: a hung webhook receiver. Counts connections, the most open at
    once, and the requests that began (by the bytes "POST ")."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.requests = 0
        self.stop = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def url(self):
        return f"http://127.0.0.1:{self.port}/hang"

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while not self.stop.is_set():
            for key, _ in sel.select(0.05):
                if key.fileobj is self.sock:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ)
                    self.conns.append(c)
                    with self.lock:
                        self.accepted += 1
                        self.open += 1
                        self.max_open = max(self.max_open, self.open)
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if data:
                    with self.lock:
                        self.requests += data.count(b"POST ")
                else:                       # the sender gave up (timeout) or stopped
                    sel.unregister(c)
                    c.close()
                    self.conns.remove(c)
                    with self.lock:
                        self.open -= 1
        for c in self.conns:
            c.close()
        sel.close()

    def counts(self):
        with self.lock:
            return {"accepted": self.accepted, "open": self.open, "max_open": self.max_open,
                    "requests": self.requests}

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_a_hung_receiver_delays_only_its_own_tenant(server_factory):
    silent = SilentReceiver()
    rcv = Receiver()
    try:
        srv = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
        a, b = srv.new_tenant(), srv.new_tenant()
        create_endpoint(a, silent.url())
        ep_b = create_endpoint(b, rcv.url("b"))
        wa, wb = a.setup("10000.00"), b.setup("1000.00")
        a_sids = [a.create_session(wa, "%d.00" % (20 + i))["id"] for i in range(12)]
        # A's events are queued and its receiver holds connections open
        poll_until(lambda: (silent.counts()["requests"] >= 1, silent.counts()), 10.0,
                   "tenant A's first delivery reaching its silent receiver")
        t0 = time.monotonic()
        b_sids = [b.create_session(wb, "%d.00" % (30 + i))["id"] for i in range(3)]
        settle_all(b, b_sids)
        want = standard_expected(b, b_sids)
        assert len(want) >= 3 * 3, want
        left = max(0.5, PROMPT_S - (time.monotonic() - t0))
        recs = wait_ids(rcv, "b", want, f"tenant B's {len(want)} events within {PROMPT_S:.0f} s while tenant A's "
                        f"receiver hangs ({silent.counts()})", timeout=left)
        late = max(r.t for r in recs) - t0
        print(f"tenant B: {len(want)} events, the last {late:.2f} s after creation; A's receiver {silent.counts()}")
        assert late <= PROMPT_S, f"tenant B's last event came {late:.1f} s after its sessions were created"
        for r in recs:
            check_standard_rec(r, ep_b["secret"])
        # A's backlog is sent a few at a time, never all at once
        settle_all(a, a_sids)
        assert len(standard_expected(a, a_sids)) >= 12 * 3
        c = silent.counts()
        assert 1 <= c["max_open"] <= ENDPOINT_IN_FLIGHT, \
            f"a silent endpoint held {c['max_open']} connections at once (cap {ENDPOINT_IN_FLIGHT}): {c}"
        srv.verify_ledger()
        # SIGTERM with a silent receiver's sends in flight: serve exits at once
        poll_until(lambda: (silent.counts()["open"] >= 1, silent.counts()), 15.0,
                   "a send in flight to the silent receiver")
        t1 = time.monotonic()
        rc, err = srv.stop()
        took = time.monotonic() - t1
        assert rc == 0 and took < 8.0, f"SIGTERM with sends in flight: exit {rc} after {took:.1f} s\n{err[-2000:]}"
    finally:
        rcv.close()
        silent.close()


def test_a_slow_receiver_gets_each_delivery_once(server_factory):
    """Every delivery takes 3 s to be answered (within the 10 s timeout): each
    arrives exactly once, with one recorded attempt, and several are in flight
    at once (a batch is not sent one after another)."""
    rcv = Receiver()
    try:
        rcv.script("slow", [], then=("slow", 3, 200))
        srv = server_factory(step_ms=LIFECYCLE_STEP_MS, extra_args=WH_ARGS)
        t = srv.new_tenant()
        ep = create_endpoint(t, rcv.url("slow"), types=[P + "executed", P + "settled"])
        w = t.setup("10000.00")
        sids = [t.create_session(w, "%d.00" % (40 + i))["id"] for i in range(8)]
        settle_all(t, sids)
        want = {k for k, e in standard_expected(t, sids).items() if e["type"] in (P + "executed", P + "settled")}
        assert len(want) == 16, want
        t0 = time.monotonic()
        recs = wait_ids(rcv, "slow", want, "every event at the slow receiver", timeout=60.0)
        items = wait_attempts(t, ep["id"], lambda it: len(it) >= len(want) and all(i["status_code"] for i in it),
                              "an attempt recorded for each delivery", timeout=30.0)
        time.sleep(1.0)
        recs = rcv.got("slow")
        ids = [r.headers["webhook-id"] for r in recs]
        dups = sorted({i for i in ids if ids.count(i) > 1})
        assert not dups, f"slow deliveries sent more than once: {dups}"
        items = wait_attempts(t, ep["id"], lambda it: True, "attempts")
        assert len(items) == len(want), f"{len(items)} attempts for {len(want)} deliveries: {items}"
        assert all(i["status_code"] == 200 and i["attempt"] == 1 for i in items), items
        # concurrency: some requests overlapped (arrived within the 3 s of another)
        arrivals = sorted(r.t for r in recs)
        overlap = any(b2 - b1 < 2.5 for b1, b2 in zip(arrivals, arrivals[1:]))
        assert overlap, f"the slow receiver got one request at a time: {[round(x - t0, 1) for x in arrivals]}"
        srv.verify_ledger()
    finally:
        rcv.close()
