"""Several nodes behind a reverse proxy (docs/DEPLOY.md, deploy/haproxy.cfg):

HAProxy runs with the repository's own config, its addresses filled from the
environment, in front of two `serve` nodes on one PostgreSQL database.

- creates through the proxy are served by both nodes (round robin: each
  node's own request log shows its share);
- a node killed with SIGKILL is taken out by the /readyz health check, and
  creates keep succeeding meanwhile (a connection refused is sent to the
  other node), all on the survivor once it is out;
- restarted on its address, the node is taken back in by the same check;
- one session per create, and verify-ledger exits 0.
"""

import os
import shutil
import subprocess
import time

import pytest

from offramp_e2e import REPO, Tenant, child_env, describe, free_port, http_request, poll_until

pytestmark = pytest.mark.pg_only

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CONFIG = REPO / "deploy" / "haproxy.cfg"


class Proxy:
    """HAProxy on deploy/haproxy.cfg; quacks like a Server for Tenant
    (requests go through the proxy, admin commands to a node)."""

    def __init__(self, workdir, nodes, admin_node):
        self.port = free_port()
        self.admin_node = admin_node
        self.log_path = workdir / "haproxy.stderr"
        self._log = open(self.log_path, "wb")
        env = child_env({"OFFRAMP_LB_BIND": f"127.0.0.1:{self.port}"})
        for i, n in enumerate(nodes, 1):
            env[f"OFFRAMP_NODE{i}"] = f"127.0.0.1:{n.port}"
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(CONFIG)], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def request(self, method, path, body=None, key=None, headers=None, timeout=30):
        return http_request(self.port, method, path, body=body, key=key, headers=headers, timeout=timeout)

    def ready(self):
        try:
            r = self.request("GET", "/readyz", timeout=5)
        except OSError as e:
            return False, repr(e)
        return r.status == 200, describe(r)

    def admin(self, *args):
        return self.admin_node.admin(*args)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def creates_served(node):
    """How many POST /off-ramp-sessions this node answered 201 (its log)."""
    return len(node.requests_logged(method="POST", route="/off-ramp-sessions", status=201))


def served_since(nodes, bases, total):
    """Each node's creates since bases, once their logs account for total
    (a node writes its request line just after the answer)."""
    def step():
        got = [creates_served(n) - b for n, b in zip(nodes, bases)]
        return sum(got) >= total, got
    return poll_until(step, 5, f"the nodes' logs to show {total} creates", interval=0.02)


def test_haproxy_spreads_creates_and_drops_a_dead_node(tmp_path, server_factory):
    assert os.path.exists(HAPROXY), "haproxy is not installed (scripts/deps.sh installs it)"
    n1 = server_factory()
    n2 = server_factory(db=n1.db)  # a second node: same database, its own node id
    assert n1.database_url == n2.database_url and n1.node_id != n2.node_id
    lb = Proxy(tmp_path, [n1, n2], n1)
    try:
        poll_until(lb.ready, 15, "the proxy to answer /readyz")
        t = Tenant(lb, "deploy")
        w = t.setup("10000.00")
        sids = []
        base1, base2 = creates_served(n1), creates_served(n2)
        for _ in range(20):
            sids.append(t.create_session(w, "1.00")["id"])
        got1, got2 = served_since([n1, n2], [base1, base2], 20)
        assert got1 + got2 == 20, (got1, got2)
        assert got1 >= 5 and got2 >= 5, f"round robin served {got1} and {got2} of 20 creates"

        # A node dies: nothing a client sends in the meantime fails.
        n2_port = n2.port
        n2.kill()
        deadline = time.monotonic() + 30
        while "node2 is DOWN" not in lb.log():
            r = t.req("POST", "/off-ramp-sessions", w.body("1.00"))
            assert r.status == 201, f"a create while node2 was dying: {describe(r)}"
            sids.append(r.json["id"])
            assert time.monotonic() < deadline, f"node2 never taken out:\n{lb.log()[-3000:]}"
            time.sleep(0.05)
        time.sleep(0.2)  # the dying window's last log lines
        before = creates_served(n1)
        for _ in range(10):
            sids.append(t.create_session(w, "1.00")["id"])
        assert served_since([n1], [before], 10) == [10], "creates after node2 was out went elsewhere"

        # Back on its address, the health check takes it in again.
        n2b = server_factory(db=n1.db, port=n2_port)
        poll_until(lambda: ("node2 is UP" in lb.log(), lb.log()[-2000:]), 30, "node2 taken back in")
        base1, base2 = creates_served(n1), creates_served(n2b)
        for _ in range(10):
            sids.append(t.create_session(w, "1.00")["id"])
        got1, got2 = served_since([n1, n2b], [base1, base2], 10)
        assert got1 + got2 == 10 and got2 >= 3, f"after the restart: {got1} and {got2} of 10"

        assert len(set(sids)) == len(sids)
        listed = t.session_ids()
        assert sorted(listed) == sorted(sids), (len(listed), len(sids))
        n1.verify_ledger()
    finally:
        lb.stop()
