"""The EVM rail (CONTRACT 14, docs/RAILS.md "EVM rail") against a real local
EVM node: ganache 7.9.2 (tests/tools/evm, installed from its pinned
package-lock when missing) running a 6-decimal ERC-20 (tests/e2e/evm/
TestToken.sol, its compiled bytecode beside it).

Every outcome is checked on chain, to the last unit: recipients' token
balances, the hot wallet's nonce (how many transactions it ever sent), the
receipts of the hashes the sessions show as payout_reference.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from offramp_e2e import (REPO, Server, db_scalar, describe, free_port, poll_until)

TOOLS = REPO / "tests" / "tools" / "evm"
GANACHE = TOOLS / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
TOKEN_BIN = REPO / "tests" / "e2e" / "evm" / "TestToken.bin"
CHAIN_ID = 1337
STEP_MS = 100
# Test keys only (ganache's deterministic accounts are not used).
DEPLOYER_KEY = "0x" + "11" * 32
HOT_KEY = "0x" + "22" * 32
ETHER = 10**18


def ensure_ganache():
    if GANACHE.exists():
        return
    assert shutil.which("npm"), "npm is needed to install ganache (tests/tools/evm)"
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(TOOLS)], check=True,
                   timeout=300, capture_output=True)
    assert GANACHE.exists(), "npm ci did not install ganache"


class Chain:
    """A ganache node and JSON-RPC calls to it."""

    def __init__(self, workdir):
        ensure_ganache()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(workdir) / "ganache.log", "wb")
        self.proc = subprocess.Popen(
            ["node", str(GANACHE), "--server.host", "127.0.0.1", "--server.port", str(self.port),
             "--chain.chainId", str(CHAIN_ID), "--logging.quiet",
             "--wallet.accounts", f"{DEPLOYER_KEY},{1000 * ETHER}",
             "--wallet.accounts", f"{HOT_KEY},{1000 * ETHER}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(self._up, 30, "ganache answering")
        accounts = self.rpc("eth_accounts")
        self.deployer, self.hot = accounts[0], accounts[1]

    def _up(self):
        try:
            return int(self.rpc("eth_chainId"), 16) == CHAIN_ID
        except OSError:
            return False

    def rpc(self, method, *params):
        req = urllib.request.Request(self.url, json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode(),
            {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            ans = json.loads(r.read())
        if "error" in ans:
            raise RuntimeError(f"{method}: {ans['error']}")
        return ans["result"]

    def keccak(self, text):
        return self.rpc("web3_sha3", "0x" + text.encode().hex())

    def selector(self, signature):
        return self.keccak(signature)[:10]

    def send(self, to, data, gas_price=None):
        tx = {"from": self.deployer, "data": data, "gas": hex(3_000_000)}
        if to:
            tx["to"] = to
        if gas_price:
            tx["gasPrice"] = hex(gas_price)
        return self.rpc("eth_sendTransaction", tx)

    def receipt(self, h):
        return self.rpc("eth_getTransactionReceipt", h)

    def deploy_token(self):
        h = self.send(None, "0x" + TOKEN_BIN.read_text().strip())
        r = self.receipt(h)
        assert r and int(r["status"], 16) == 1, f"token deployment failed: {r}"
        return r["contractAddress"]

    def call(self, to, data):
        return self.rpc("eth_call", {"to": to, "data": data}, "latest")

    def balance(self, token, who):
        return int(self.call(token, self.selector("balanceOf(address)") + word(who)), 16)

    def mint(self, token, who, units):
        r = self.receipt(self.send(token, self.selector("mint(address,uint256)") + word(who) + word(units)))
        assert int(r["status"], 16) == 1

    def block(self, token, who, gas_price=None):
        return self.send(token, self.selector("setBlocked(address,bool)") + word(who) + word(1),
                         gas_price=gas_price)

    def nonce(self, who):
        return int(self.rpc("eth_getTransactionCount", who, "latest"), 16)

    def mine(self, n=1):
        for _ in range(n):
            self.rpc("evm_mine")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wait_for(fn, timeout, what):
    """fn() until it returns something truthy; returns that."""
    def step():
        v = fn()
        return bool(v), v
    return poll_until(step, timeout, what)


def word(v):
    if isinstance(v, str):
        v = int(v, 16)
    return format(v, "064x")


def new_address():
    return "0x" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = Chain(tmp_path_factory.mktemp("chain"))
    c.token = c.deploy_token()
    c.mint(c.token, c.hot, 10_000 * 10**6)
    yield c
    c.stop()


def key_file(dirpath, mode=0o600, key=HOT_KEY):
    p = Path(dirpath) / "hot.key"
    p.write_text(key + "\n")
    os.chmod(p, mode)
    return p


def evm_args(chain, keyfile, confirmations=2, extra=()):
    return ["--rails", "evm", "--evm-rpc-url", chain.url, "--evm-key-file", str(keyfile),
            "--evm-token", f"USDC:ethereum:{chain.token}", "--evm-chain-id", f"ethereum:{CHAIN_ID}",
            "--evm-confirmations", str(confirmations), *extra]


def start_evm(tmp_path, chain, db=None, confirmations=2, extra=(), env=None):
    d = tmp_path / f"srv-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    s = Server(d, db=db, step_ms=STEP_MS, env=env,
               extra_args=evm_args(chain, key_file(tmp_path), confirmations, extra))
    s.start()
    return s


def crypto_dest(address, network="ethereum"):
    return {"method": "crypto_transfer", "asset": "USDC", "network": network,
            "destination": {"address": address, "memo": None}, "label": "Payee wallet"}


class Payee:
    """A tenant's funded client and a saved crypto destination to address."""

    def __init__(self, server, address, deposit="1000.00", network="ethereum"):
        self.tenant = server.new_tenant()
        self.world = self.tenant.setup(deposit=deposit)
        self.address = address
        self.dest_sent = crypto_dest(address, network)
        self.dest = self.tenant.create_destination(self.world.account_ref, self.dest_sent)

    def create(self, amount):
        w = self.world
        body = {
            "account_ref": w.account_ref,
            "amount": {"currency": "USDC", "value": amount},
            "target_currency": "USDC",
            "target_rail": "crypto",
            "destination": {
                "method": "crypto_transfer", "fiat_rail": None, "payment_reference": None,
                "route_owner_ref": f"clients/{w.client_id}",
                "withdrawal_destination_id": self.dest["id"], "destination": self.dest_sent,
            },
        }
        r = self.tenant.req("POST", "/off-ramp-sessions", body)
        assert r.status == 201, describe(r)
        return r.json["id"]

    def session(self, sid):
        return self.tenant.session(sid)

    def wait(self, sid, pred, what, timeout=20):
        def step():
            s = self.session(sid)
            return pred(s), s
        try:
            return poll_until(step, timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- serve stderr (tail) ---\n"
                                 f"{self.tenant.server.stderr()[-3000:]}") from None


class Receiver:
    """A webhook receiver on loopback: every body it is sent, parsed."""

    def __init__(self):
        import http.server
        import threading
        got = self.bodies = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def of(self, sid, type_):
        return [b for b in self.bodies if b.get("type") == type_ and b["data"]["id"] == sid]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def units(value):
    whole, _, frac = value.partition(".")
    return int(whole) * 10**6 + int((frac + "000000")[:6])


def test_payouts_settle_on_chain_after_confirmations(tmp_path, chain):
    s = start_evm(tmp_path, chain, confirmations=2, extra=("--webhook-allow-loopback",))
    hooks = Receiver()
    try:
        recipient = new_address()
        p = Payee(s, recipient)
        r = p.tenant.req("POST", "/webhook-endpoints",
                         {"url": hooks.url, "event_types": ["*"], "format": "standard"})
        assert r.status == 201, describe(r)
        sent_before = chain.nonce(chain.hot)
        amounts = ["250.00", "0.123457"]
        sids = [p.create(a) for a in amounts]
        blocks = {}
        for sid in sids:
            ex = p.wait(sid, lambda x: x["payout_reference"] and x["status"] in ("executed", "settled"),
                        "executed: broadcast and mined")
            h = ex["payout_reference"]
            assert len(h) == 66 and h.startswith("0x"), ex
            r = chain.receipt(h)
            assert r and int(r["status"], 16) == 1 and r["to"].lower() == chain.token.lower(), r
            blocks[sid] = int(r["blockNumber"], 16)
            # --evm-tx-type auto on a London chain: EIP-1559, from the hot wallet.
            tx = chain.rpc("eth_getTransactionByHash", h)
            assert tx["type"] == "0x2" and tx["from"].lower() == chain.hot.lower(), tx
        # One confirmation is not two: the transfer in the head block stays
        # executed, waiting, a few steps later.
        head = int(chain.rpc("eth_blockNumber"), 16)
        last = [sid for sid in sids if blocks[sid] == head]
        assert len(last) == 1
        time.sleep(5 * STEP_MS / 1000)
        st = p.session(last[0])
        assert st["status"] == "executed" and st["waiting_reason"] == "awaiting_confirmations", st
        chain.mine(1)
        for sid in sids:
            st = p.wait(sid, lambda x: x["status"] == "settled", "settled")
            assert st["settled_at"] and st["payout_reference"] and st["waiting_reason"] is None
        assert chain.balance(chain.token, recipient) == sum(units(a) for a in amounts)
        assert chain.nonce(chain.hot) - sent_before == len(sids)
        # The holds were posted: principal plus the 1.00 network fee each.
        bal = p.world.balances()["USDC"]
        assert bal["held"] == "0.00" and bal["available"] == "747.876543", bal
        # The hash is in the events (what webhooks carry) from executed on.
        evs = p.tenant.events(sids[0])
        executed = [e for e in evs if e["type"] == "off_ramp_session.executed"]
        assert executed and executed[0]["data"]["payout_reference"] == p.session(sids[0])["payout_reference"]
        assert [e for e in evs if e["type"] == "off_ramp_session.settled"][0]["data"]["payout_reference"]
        # ... and in the webhooks themselves.
        for sid in sids:
            h = p.session(sid)["payout_reference"]
            for t in ("off_ramp_session.executed", "off_ramp_session.settled"):
                got = wait_for(lambda: hooks.of(sid, t), 10, f"the {t} webhook")
                assert got[0]["data"]["payout_reference"] == h, got[0]
        s.verify_ledger()
        # A crypto payout on a network without --evm-chain-id stays on the sandbox.
        other = Payee(s, new_address(), network="polygon")
        sid = other.create("5.00")
        st = other.wait(sid, lambda x: x["status"] == "settled", "sandbox settle")
        assert st["payout_reference"] is None
        assert other.tenant.payouts(sid), "the sandbox's book has the polygon payout"
        # The key is never logged.
        assert HOT_KEY[2:] not in s.stderr() and HOT_KEY[2:].upper() not in s.stderr()
    finally:
        s.stop_checked()
        hooks.stop()


def test_reverting_transfers_fail_and_release(tmp_path, chain):
    s = start_evm(tmp_path, chain, confirmations=1)
    try:
        # (a) The node says the transfer would revert: nothing is sent.
        blocked = new_address()
        chain.receipt(chain.block(chain.token, blocked))
        p = Payee(s, blocked)
        sent_before = chain.nonce(chain.hot)
        sid = p.create("10.00")
        st = p.wait(sid, lambda x: x["status"] == "failed", "failed before sending")
        assert st["failure_reason"] == "chain_transfer_failed" and st["payout_reference"] is None
        assert chain.nonce(chain.hot) == sent_before
        # (b) Sent, then reverted on chain (receipt status 0): the recipient
        # is blocked while the transfer waits in the pool, ahead of it.
        victim = new_address()
        q = Payee(s, victim)
        chain.rpc("miner_stop")
        try:
            sid2 = q.create("20.00")
            ex = q.wait(sid2, lambda x: x["status"] == "executed", "executed (in the pool)")
            chain.block(chain.token, victim, gas_price=50 * 10**9)
        finally:
            chain.rpc("miner_start")
        chain.mine(1)
        st = q.wait(sid2, lambda x: x["status"] == "failed", "failed by the receipt")
        assert st["failure_reason"] == "chain_transfer_failed"
        r = chain.receipt(ex["payout_reference"])
        assert r and int(r["status"], 16) == 0, r
        assert chain.balance(chain.token, victim) == 0
        for payee in (p, q):
            bal = payee.world.balances()["USDC"]
            assert bal["held"] == "0.00" and bal["available"] == "1000.00", bal
    finally:
        s.stop_checked()


def test_underfunded_wallet_holds_sessions_back(tmp_path, chain):
    # A second wallet with gas but no tokens.
    poor_key = "0x" + "33" * 32
    poor = chain.rpc("personal_importRawKey", poor_key, "")
    chain.rpc("personal_unlockAccount", poor, "", 0)
    chain.rpc("eth_sendTransaction", {"from": chain.deployer, "to": poor, "value": hex(10 * ETHER)})
    d = tmp_path / "poor"
    d.mkdir()
    s = Server(d, step_ms=STEP_MS, extra_args=evm_args(chain, key_file(d, key=poor_key), 1))
    s.start()
    try:
        recipient = new_address()
        p = Payee(s, recipient)
        sid = p.create("30.00")
        st = p.wait(sid, lambda x: x.get("waiting_reason") == "hot_wallet_underfunded", "held back")
        assert st["status"] == "executing" and st["failure_reason"] is None
        time.sleep(1.0)
        st = p.session(sid)
        assert st["status"] == "executing" and st["waiting_reason"] == "hot_wallet_underfunded"
        assert chain.nonce(poor) == 0
        chain.mint(chain.token, poor, units("30.00"))
        st = p.wait(sid, lambda x: x["status"] == "settled", "settled once funded")
        assert chain.balance(chain.token, recipient) == units("30.00")
        assert chain.nonce(poor) == 1
        # What is in flight counts: 50 on chain, two payouts of 30. The
        # first is sent (and not mined: mining is stopped); the second waits
        # rather than being sent to revert.
        chain.mint(chain.token, poor, units("50.00"))
        r1, r2 = new_address(), new_address()
        q1, q2 = Payee(s, r1), Payee(s, r2)
        chain.rpc("miner_stop")
        try:
            s1 = q1.create("30.00")
            q1.wait(s1, lambda x: x["status"] == "executed", "the first one sent")
            s2 = q2.create("30.00")
            st = q2.wait(s2, lambda x: x.get("waiting_reason") == "hot_wallet_underfunded",
                         "the second held back by what is in flight")
            assert st["status"] == "executing"
        finally:
            chain.rpc("miner_start")
        chain.mine(1)
        q1.wait(s1, lambda x: x["status"] == "settled", "the first settled")
        time.sleep(0.5)
        st = q2.session(s2)
        assert st["status"] == "executing" and st["waiting_reason"] == "hot_wallet_underfunded", st
        chain.mint(chain.token, poor, units("10.00"))
        q2.wait(s2, lambda x: x["status"] == "settled", "the second settled once funded")
        assert chain.balance(chain.token, r1) == units("30.00")
        assert chain.balance(chain.token, r2) == units("30.00")
        assert chain.balance(chain.token, poor) == 0
        assert chain.nonce(poor) == 3, "no transfer was sent to revert"
    finally:
        s.stop_checked()


def test_stuck_transaction_is_replaced_not_duplicated(tmp_path, chain):
    s = start_evm(tmp_path, chain, confirmations=1, extra=("--evm-replace-after-ms", "600"))
    try:
        recipient = new_address()
        p = Payee(s, recipient)
        sent_before = chain.nonce(chain.hot)
        chain.rpc("miner_stop")
        try:
            sid = p.create("40.00")
            first = p.wait(sid, lambda x: x["status"] == "executed", "executed")["payout_reference"]
            second = p.wait(sid, lambda x: x["payout_reference"] not in (None, first),
                            "replaced at a higher fee")["payout_reference"]
        finally:
            chain.rpc("miner_start")
        chain.mine(1)
        st = p.wait(sid, lambda x: x["status"] == "settled", "settled")
        mined = st["payout_reference"]
        assert mined != first
        assert chain.receipt(first) is None, "the replaced transaction was never mined"
        r = chain.receipt(mined)
        assert int(r["status"], 16) == 1
        assert chain.balance(chain.token, recipient) == units("40.00")
        assert chain.nonce(chain.hot) - sent_before == 1
        tx1 = int(db_scalar(s, f"SELECT replacements FROM chain_txs WHERE session_id = '{sid}'"))
        assert tx1 >= 1 and second
    finally:
        s.stop_checked()


@pytest.mark.parametrize("point", ["signed", "sent"])
def test_kill_between_sign_broadcast_commit_never_pays_twice(tmp_path, chain, point):
    d = tmp_path / "crash"
    d.mkdir()
    # Legacy EIP-155 transactions here, so both kinds are paid on chain.
    args = evm_args(chain, key_file(d), 1, extra=("--evm-tx-type", "legacy"))
    s = Server(d, step_ms=STEP_MS, extra_args=args, env={"OFFRAMP_TEST_EVM_CRASH": point})
    s.start()
    recipient = new_address()
    p = Payee(s, recipient)
    sent_before = chain.nonce(chain.hot)
    sid = p.create("50.00")
    wait_for(lambda: s.proc.poll() is not None, 20, f"the process killed itself at '{point}'")
    assert s.proc.returncode == -signal.SIGKILL, s.stderr()
    s._close_files()
    assert db_scalar(s, f"SELECT count(*) FROM chain_txs WHERE session_id = '{sid}'") == 1
    stored = db_scalar(s, f"SELECT hash FROM chain_txs WHERE session_id = '{sid}'")
    if point == "signed":
        assert chain.receipt(stored) is None, "nothing was broadcast before the kill"
    s2 = Server(d, db=s.db, step_ms=STEP_MS, extra_args=args)
    s2.start()
    try:
        st = wait_for(lambda: (lambda x: x if x["status"] == "settled" else None)(
            s2.request("GET", f"/off-ramp-sessions/{sid}", key=p.tenant.key).json), 20, "settled after restart")
        assert st["payout_reference"] == stored, "the stored transaction, not a new one"
        assert chain.rpc("eth_getTransactionByHash", stored)["type"] == "0x0"
        assert chain.balance(chain.token, recipient) == units("50.00")
        assert chain.nonce(chain.hot) - sent_before == 1
        assert db_scalar(s2, f"SELECT count(*) FROM chain_txs WHERE session_id = '{sid}'") == 1
    finally:
        s2.stop_checked()


def test_key_file_readable_by_others_is_refused(tmp_path, chain):
    d = tmp_path / "perm"
    d.mkdir()
    kf = key_file(d, mode=0o644)
    p = subprocess.run([os.environ.get("OFFRAMP_BIN", str(REPO / "build" / "offramp-san")), "serve",
                        "--db", str(d / "x.db"), "--listen", f"127.0.0.1:{free_port()}",
                        *evm_args(chain, kf, 1)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "group or others" in p.stderr and HOT_KEY[2:] not in p.stderr + p.stdout


class HostileNode:
    """A JSON-RPC "node" that answers eth_chainId right and everything else
    wrong, in turn: too large, another id, bad hex, duplicate keys, not
    JSON, and (once) too slowly."""

    def __init__(self):
        import http.server
        import socketserver
        import threading
        self.seen = []
        node = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.seen.append(req["method"])
                rid = req["id"]
                if req["method"] == "eth_chainId":
                    body = json.dumps({"jsonrpc": "2.0", "id": rid, "result": hex(CHAIN_ID)})
                else:
                    k = len([m for m in node.seen if m != "eth_chainId"])
                    mode = node.modes[k % len(node.modes)]
                    if mode == "slow" and "slow" not in node.done:
                        node.done.add("slow")
                        time.sleep(6.5)
                    body = {
                        "big": lambda: json.dumps({"jsonrpc": "2.0", "id": rid, "result": "0x" + "0" * 300_000}),
                        "id": lambda: json.dumps({"jsonrpc": "2.0", "id": rid + 1, "result": "0x1"}),
                        "hex": lambda: json.dumps({"jsonrpc": "2.0", "id": rid, "result": "0xzz"}),
                        "dup": lambda: '{"jsonrpc":"2.0","id":%d,"result":"0x1","result":"0x2"}' % rid,
                        "junk": lambda: "<html>not json</html>",
                        "slow": lambda: json.dumps({"jsonrpc": "2.0", "id": rid, "result": "0x1"}),
                    }[mode]()
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass

        self.modes = ["junk", "slow", "big", "id", "hex", "dup"]  # by request count, from 1
        self.done = set()
        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_hostile_node_answers_make_sessions_wait_not_fail(tmp_path, chain):
    node = HostileNode()
    d = tmp_path / "hostile"
    d.mkdir()
    args = ["--rails", "evm", "--evm-rpc-url", node.url, "--evm-key-file", str(key_file(d)),
            "--evm-token", f"USDC:ethereum:{chain.token}", "--evm-chain-id", f"ethereum:{CHAIN_ID}"]
    s = Server(d, step_ms=STEP_MS, extra_args=args)
    s.start()
    try:
        p = Payee(s, new_address())
        sid = p.create("60.00")
        wait_for(lambda: len([m for m in node.seen if m != "eth_chainId"]) >= 6, 30,
                 "the rail asking the node through every kind of bad answer")
        st = p.session(sid)
        assert st["status"] == "executing" and st["failure_reason"] is None, st
        assert st["waiting_reason"] == "rail_unavailable" and st["payout_reference"] is None, st
        assert db_scalar(s, "SELECT count(*) FROM chain_txs") == 0, "nothing signed on bad answers"
        err = s.stderr()
        for why in ("answer too large", "not a JSON-RPC answer", "Timeout", "not one word"):
            assert why in err, f"{why!r} not logged"
        assert s.alive()
    finally:
        s.stop_checked()
        node.stop()


@pytest.mark.pg_only
def test_two_nodes_share_one_wallet_without_a_nonce_twice(tmp_path, chain):
    """Two nodes on one PostgreSQL database pay from one hot wallet: every
    session settles once, and the wallet sent exactly one transaction per
    session (no nonce taken twice, none skipped: a gap would stall)."""
    kf = key_file(tmp_path)
    a = Server(tmp_path / "a", step_ms=STEP_MS, extra_args=evm_args(chain, kf, 1))
    a.start()
    b = Server(tmp_path / "b", db=a.db, step_ms=STEP_MS, extra_args=evm_args(chain, kf, 1))
    b.start()
    try:
        recipients = [new_address() for _ in range(6)]
        payees = [Payee(a, r) for r in recipients]
        sent_before = chain.nonce(chain.hot)
        sids = []
        for i, p in enumerate(payees):
            node = (a, b)[i % 2]
            body = {"account_ref": p.world.account_ref, "amount": {"currency": "USDC", "value": f"{i + 1}.25"},
                    "target_currency": "USDC", "target_rail": "crypto",
                    "destination": {"method": "crypto_transfer", "fiat_rail": None, "payment_reference": None,
                                    "route_owner_ref": f"clients/{p.world.client_id}",
                                    "withdrawal_destination_id": p.dest["id"], "destination": p.dest_sent}}
            r = node.request("POST", "/off-ramp-sessions", body=body, key=p.tenant.key)
            assert r.status == 201, describe(r)
            sids.append(r.json["id"])
        for p, sid in zip(payees, sids):
            p.wait(sid, lambda x: x["status"] == "settled", "settled", timeout=30)
        for i, r in enumerate(recipients):
            assert chain.balance(chain.token, r) == units(f"{i + 1}.25")
        assert chain.nonce(chain.hot) - sent_before == len(sids)
        assert db_scalar(a, "SELECT count(DISTINCT nonce) FROM chain_txs") == len(sids)
        logs = a.stderr() + b.stderr()
        assert "signed" in a.stderr() or "signed" in b.stderr()
        assert HOT_KEY[2:] not in logs
    finally:
        b.stop_checked()
        a.stop_checked()
