#!/usr/bin/python3
"""make bench-pg: Offramp's durable create path on PostgreSQL, against pgbench running the
same statements on the same schema, in the same run.

A throwaway cluster (scripts/pg-cluster.sh with PG_FSYNC=on: fsync, full_page_writes and
synchronous_commit on, so every 2xx waited for the WAL flush) under build/bench-pg; a fresh
database per point; the cluster is stopped at the end whatever happens. The points, each
the closed-loop create point of bench.py (one tenant, one funded account, the seed body:
250.00 USDC to its saved SEPA destination, a fresh Idempotency-Key per request, wrk, 64
connections, workers on, sandbox step 1 s):

  1 node     one `offramp serve --database-url`, default group commit
  2 nodes    two serves (distinct --node-id) on one database, wrk at 32 connections on
             each; figures summed, latency percentiles merged from both distributions
  batch-1    one node, --commit-batch-max 1 (one commit per create)
  pgbench    /usr/lib/postgresql/15/bin/pgbench running bench/pg_create.sql (the
             statements one create runs, one create per pgbench transaction, one COMMIT
             each, synchronous_commit on) with -M prepared -c 64 -j 2, on a database
             offramp migrated and populated. Before it runs, one create is traced with
             log_statement = 'all' and its statements are compared with the script's,
             token by token; the script's variables take the values the traced create
             sent. A difference stops the bench (exit 1): the script is stale.

Per point: creates/s (201s only; pgbench: transactions), p50/p99 (as the client sees it),
errors, offramp CPU µs per create (utime+stime of the serves), PostgreSQL CPU µs per create
(every backend of the cluster), writes per commit (the server's own count), sessions
settled 5 s after the load, verify-ledger. Then the ratios. Figures only: nothing here
passes or fails on a time.

Knobs (environment): BENCH_QUICK=1 (3 s per point: a smoke run in about 40 s), BENCH_SECONDS,
BENCH_SETTLE_SECONDS, BENCH_CONNECTIONS (64), BENCH_HTTP_THREADS, BENCH_PG_DIR (the cluster,
build/bench-pg), BENCH_PGBENCH (the pgbench binary), BENCH_KEEP=1 (keep the databases).
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import bench

ROOT = bench.ROOT
BIN = bench.BIN
SCRIPT = os.path.join(ROOT, "bench", "pg_create.sql")
CLUSTER = os.path.join(ROOT, "scripts", "pg-cluster.sh")
OUT = bench.OUT

QUICK = os.environ.get("BENCH_QUICK") == "1"


def knob(name, full, quick):
    v = os.environ.get(name)
    return v if v not in (None, "") else (quick if QUICK else full)


SECS = float(knob("BENCH_SECONDS", "10", "3"))
SETTLE_WAIT = float(knob("BENCH_SETTLE_SECONDS", "5", "5"))
CONNS = int(knob("BENCH_CONNECTIONS", "64", "64"))
HTTP_THREADS = os.environ.get("BENCH_HTTP_THREADS", "")
PG_DIR = os.environ.get("BENCH_PG_DIR") or os.path.join(ROOT, "build", "bench-pg")
KEEP = os.environ.get("BENCH_KEEP") == "1"
STEP_MS = 1000
CLK_TCK = os.sysconf("SC_CLK_TCK")
say = bench.say
fmt_int = bench.fmt_int
ms = bench.ms


def find_pgbench():
    if os.environ.get("BENCH_PGBENCH"):
        return os.environ["BENCH_PGBENCH"]
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    pref = [p for p in found if "/15/" in p]
    return (pref or found or ["pgbench"])[-1]


PGBENCH = find_pgbench()


# ---- the cluster ------------------------------------------------------------------------


class Cluster:
    """scripts/pg-cluster.sh under PG_DIR, fsync on; databases by name."""

    def __init__(self):
        env = dict(os.environ, PG_FSYNC="on")
        out = subprocess.run([CLUSTER, "start", PG_DIR], env=env, check=True,
                             capture_output=True, text=True).stdout
        self.admin = out.strip().splitlines()[-1]
        u = urllib.parse.urlsplit(self.admin)
        self.host, self.port, self.user = u.hostname, u.port, u.username
        self.log = os.path.join(PG_DIR, "postgres.log")
        with open(os.path.join(PG_DIR, "data", "postmaster.pid")) as f:
            self.postmaster = int(f.readline())

    def url(self, db):
        return "postgres://%s@%s:%d/%s" % (self.user, self.host, self.port, db)

    def psql(self, sql, db="postgres"):
        p = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
                            "-d", self.url(db), "-c", sql], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("bench-pg: psql failed: %s\n%s" % (sql[:200], p.stderr.strip()))
        return p.stdout.strip()

    def fresh(self, db):
        self.psql('DROP DATABASE IF EXISTS "%s"' % db)
        self.psql('CREATE DATABASE "%s"' % db)
        return self.url(db)

    def drop(self, db):
        if not KEEP:
            self.psql('DROP DATABASE IF EXISTS "%s"' % db)

    def cpu_s(self):
        """CPU seconds of the whole cluster so far: the postmaster, its exited children
        (cutime/cstime) and its live ones."""
        total = 0
        for path in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(path) as f:
                    pid = int(path.split("/")[2])
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue
            if pid == self.postmaster:
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) == self.postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def stop(self):
        subprocess.run([CLUSTER, "stop", PG_DIR], capture_output=True)


# ---- offramp on PostgreSQL ------------------------------------------------------------------


LIVE = []


def secret_key_file():
    """serve on PostgreSQL needs --secret-key-file (docs/OPERATIONS.md): one for the run."""
    path = os.path.join(PG_DIR, "secret.key")
    if not os.path.exists(path):
        os.makedirs(PG_DIR, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
    return path


class PgServer(bench.Server):
    """One `offramp serve --database-url`; call/account/cpu_s/hwm_mib are bench.Server's."""

    def __init__(self, cluster, url, name, key, extra=(), start_s=10.0):
        self.cluster, self.url, self.name, self.key = cluster, url, name, key
        self.port = bench.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        args = [BIN, "serve", "--database-url", url, "--listen", "127.0.0.1:%d" % self.port,
                "--sandbox-step-ms", str(STEP_MS), "--secret-key-file", secret_key_file()] + list(extra)
        if HTTP_THREADS:
            args += ["--http-threads", HTTP_THREADS]
        os.makedirs(os.path.join(PG_DIR, "logs"), exist_ok=True)
        self.log_path = os.path.join(PG_DIR, "logs", name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        LIVE.append(self)
        for _ in range(int(start_s / 0.05)):
            try:
                bench.urllib.request.urlopen(self.base + "/healthz", timeout=1).read()
                break
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        else:
            raise SystemExit("bench-pg: %s did not start (log: %s)" % (name, self.log_path))
        if self.proc.poll() is not None:
            raise SystemExit("bench-pg: %s exited (log: %s)" % (name, self.log_path))

    def stop(self):
        """SIGTERM; returns (writes, commits) from the server's own count at exit."""
        self.hwm_last = self.hwm_mib()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.log.close()
        LIVE.remove(self)
        with open(self.log_path) as f:
            m = re.findall(r"(\d+) writes in (\d+) commits", f.read())
        return (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)


def tenant(url):
    out = subprocess.run([BIN, "admin", "create-tenant", "--name", "bench", "--database-url", url],
                         check=True, capture_output=True, text=True).stdout
    t = json.loads(out.strip().splitlines()[-1])
    return t["api_key"], t["tenant_ref"].rsplit("/", 1)[-1]


def verify(url):
    r = subprocess.run([BIN, "admin", "verify-ledger", "--database-url", url],
                       capture_output=True, text=True)
    try:
        v = json.loads(r.stdout.strip().splitlines()[-1])
        return bool(v.get("ok")) and r.returncode == 0, int(v.get("sessions", 0)), r.stdout
    except (ValueError, IndexError):
        return False, 0, (r.stdout + r.stderr)[:300]


def wrk(srv, conns, threads, secs, bodies):
    env = dict(os.environ, BENCH_AUTH="Bearer " + srv.key, BENCH_BODIES=bodies,
               BENCH_QUANTILES="1",
               BENCH_KEY_PREFIX="p%d-%s-%d" % (os.getpid(), srv.name, time.monotonic_ns()))
    env.pop("BENCH_PATHS", None)
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%gs" % secs,
                          "--timeout", "30s", "-s", bench.LUA, srv.base],
                         capture_output=True, text=True, env=env).stdout
    line = next((l for l in out.splitlines() if l.startswith("BENCH ")), None)
    q = next((l for l in out.splitlines() if l.startswith("BENCHQ ")), None)
    if not line or not q:
        raise SystemExit("bench-pg: wrk printed no figures:\n" + out[-2000:])
    v = {k: float(x) for k, x in bench.kv(line).items()}
    v["ok"] = v["requests"] - v["err_status"]
    v["throughput"] = v["ok"] / v["seconds"]
    v["quantiles"] = [float(x) for x in q.split()[1:]]
    return v


def merged_percentile(runs, p):
    """The p-th percentile of several generators' latencies together: each one's 1,000
    quantiles stand for as many equal slices of its requests."""
    pts = sorted((x, r["requests"] / len(r["quantiles"])) for r in runs for x in r["quantiles"])
    total = sum(w for _, w in pts)
    acc = 0.0
    for x, w in pts:
        acc += w
        if acc >= total * p / 100.0:
            return x
    return pts[-1][0] if pts else 0.0


def count(cluster, db, sql):
    return int(cluster.psql(sql, db) or 0)


def offramp_point(cluster, name, nodes, extra=()):
    db = "bench_pg_" + name.replace("-", "_")
    url = cluster.fresh(db)
    key, _ = tenant(url)
    servers = []
    for i in range(nodes):
        node = ["--node-id", "bench-%d" % (i + 1)] if nodes > 1 else []
        servers.append(PgServer(cluster, url, "%s-%d" % (name, i + 1), key, node + list(extra)))
    body = servers[0].account()
    bodies = os.path.join(PG_DIR, "logs", name + ".bodies")
    with open(bodies, "w") as f:
        f.write(json.dumps(body) + "\n")
    c0, g0 = sum(s.cpu_s() for s in servers), cluster.cpu_s()
    runs = [None] * nodes
    per = CONNS // nodes

    def load(i):
        runs[i] = wrk(servers[i], per, max(1, 2 // nodes), SECS, bodies)

    ths = [threading.Thread(target=load, args=(i,)) for i in range(nodes)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    c1, g1 = sum(s.cpu_s() for s in servers), cluster.cpu_s()
    if any(r is None for r in runs):
        raise SystemExit("bench-pg: a load generator failed")
    ok = sum(r["ok"] for r in runs)
    r = {"throughput": sum(r["throughput"] for r in runs), "ok": ok,
         "errors": sum(r["errors"] for r in runs),
         "cpu_us": (c1 - c0) * 1e6 / max(1, ok), "pg_cpu_us": (g1 - g0) * 1e6 / max(1, ok),
         "conns": "+".join(str(per) for _ in range(nodes))}
    if nodes == 1:
        r["p50_ms"], r["p99_ms"] = runs[0]["p50_ms"], runs[0]["p99_ms"]
    else:
        r["p50_ms"], r["p99_ms"] = merged_percentile(runs, 50), merged_percentile(runs, 99)
    time.sleep(SETTLE_WAIT)
    r["created"] = count(cluster, db, "SELECT count(*) FROM sessions")
    r["settled"] = count(cluster, db, "SELECT count(*) FROM sessions WHERE status = 'settled'")
    wc = [s.stop() for s in servers]
    r["per_commit"] = sum(w for w, _ in wc) / max(1, sum(c for _, c in wc))
    r["rss_mib"] = max(s.hwm_last for s in servers)
    r["ledger"], r["ledger_sessions"], r["ledger_out"] = verify(url)
    cluster.drop(db)
    return r


# ---- the traced create and the pgbench script ----------------------------------------------


LOG_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (LOG|DETAIL|ERROR|STATEMENT):  (.*)$")
PARAM = re.compile(r"\$(\d+) = (NULL|'((?:[^']|'')*)')")
TOKEN = re.compile(r"\$\d+|(?<![:\w]):[A-Za-z_]\w*|::|'(?:[^']|'')*'|\w+|[^\s\w]")


def trace_statements(text, marks):
    """The transactions of one create from a slice of the server log: every one (BEGIN to
    COMMIT/ROLLBACK on one backend) whose parameters name one of marks (the tenant, the
    key's hash), in log order, each a list of (sql, {n: value or None})."""
    lines = []
    for raw in text.splitlines():
        m = LOG_LINE.match(raw)
        if m:
            lines.append([int(m.group(1)), m.group(2), m.group(3)])
        elif lines:
            lines[-1][2] += "\n" + raw  # a value with a newline in it
    open_tx, kept = {}, []
    for pid, kind, msg in lines:
        if kind == "LOG":
            m = re.match(r"(?:statement|execute [^:]+): (.*)$", msg, re.S)
            if not m:
                continue
            sql = m.group(1)
            tx = open_tx.setdefault(pid, {"stmts": [], "hit": False})
            tx["stmts"].append((sql, {}))
            if re.match(r"(COMMIT|ROLLBACK)\b", sql):
                if tx["hit"]:
                    kept.append(tx["stmts"])
                del open_tx[pid]
        elif kind == "DETAIL" and msg.startswith("parameters: ") and pid in open_tx:
            tx = open_tx[pid]
            tx["stmts"][-1][1].update(
                (int(n), None if v == "NULL" else q.replace("''", "'"))
                for n, v, q in PARAM.findall(msg))
            if any(mk in msg for mk in marks):
                tx["hit"] = True
    return kept


def script_statements(path):
    """bench/pg_create.sql's SQL commands, in order (meta commands and comments left out),
    and the variables pgbench itself sets (\\set, \\gset prefixes)."""
    stmts, cur, own, prefixes = [], [], set(), []
    with open(path) as f:
        for line in f:
            s = line.strip()
            if not s or s.startswith("--"):
                continue
            if s.startswith("\\set "):
                own.add(s.split()[1])
                continue
            m = re.search(r"\\gset(?:\s+(\w+))?$", s)
            if m:
                prefixes.append(m.group(1) or "")
                cur.append(s[:m.start()])
                stmts.append(" ".join(cur))
                cur = []
            elif s.endswith(";"):
                cur.append(s[:-1])
                stmts.append(" ".join(cur))
                cur = []
            else:
                cur.append(s)
    return stmts, own, prefixes


def bind_script(traced, script, own, prefixes):
    """Compare the traced statements with the script's, token by token ($n against :name,
    or NULL / '' where the create sent that); returns (bindings {name: value}, problems)."""
    problems, binds = [], {}
    if len(traced) != len(script):
        problems.append("the create ran %d statements, bench/pg_create.sql has %d"
                        % (len(traced), len(script)))
    for i in range(max(len(traced), len(script))):
        t = traced[i] if i < len(traced) else ("<none>", {})
        s = script[i] if i < len(script) else "<none>"
        tt, st = TOKEN.findall(t[0]), TOKEN.findall(s)
        same = len(tt) == len(st)
        local = {}
        for a, b in zip(tt, st) if same else ():
            if a.startswith("$"):
                v = t[1].get(int(a[1:]))
                if (b == "NULL" and v is None) or (b == "''" and v == ""):
                    continue  # pgbench -D has no NULL and no empty value: literals
                if not b.startswith(":"):
                    same = False
                    break
                local[b[1:]] = v
            elif a != b:
                same = False
                break
        if not same:
            problems.append("statement %d differs:\n    create: %s\n    script: %s"
                            % (i + 1, t[0][:300], s[:300]))
            continue
        for name, v in local.items():
            if name in own or any(p and name.startswith(p) for p in prefixes):
                continue  # pgbench sets it each transaction
            if v is None or v == "":
                problems.append("statement %d: :%s is %s in the create: write %s in the script"
                                % (i + 1, name, "NULL" if v is None else "empty",
                                   "NULL" if v is None else "''"))
            elif name in binds and binds[name] != v and name != "now":
                problems.append(":%s is %r in one statement, %r in another"
                                % (name, binds[name][:60], v[:60]))
            binds.setdefault(name, v)
    return binds, problems


def trace_create(cluster):
    """A database offramp migrated and populated (tenant, funded account, destination, a
    first create: it makes the holds account), then one create traced with log_statement
    = 'all'. The setup server's sandbox step is 10 minutes, so no worker touches the first
    session while the second is traced. Returns (database, statements, auth lookup seen)."""
    db = "bench_pg_pgbench"
    url = cluster.fresh(db)
    cluster.psql("ALTER DATABASE \"%s\" SET log_statement = 'all'" % db)
    key, tenant_id = tenant(url)
    srv = PgServer(cluster, url, "pgbench-setup", key, ["--sandbox-step-ms", "600000"])
    body = srv.account()
    srv.call("POST", "/off-ramp-sessions", body, "bench-pg-warm")
    key_hash = cluster.psql("SELECT encode(key_hash, 'hex') FROM api_keys WHERE tenant_id = '%s'"
                            % tenant_id, db)
    time.sleep(0.3)
    start = os.path.getsize(cluster.log)
    srv.call("POST", "/off-ramp-sessions", body, "bench-pg-trace")
    time.sleep(0.5)  # the answer follows the COMMIT; the log is written as it runs
    end = os.path.getsize(cluster.log)
    srv.stop()
    cluster.psql('ALTER DATABASE "%s" RESET log_statement' % db)
    with open(cluster.log, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode("utf-8", "replace")
    txs = trace_statements(text, [tenant_id, "\\x" + key_hash])
    # The key lookup is cached LIMIT_AUTH_CACHE_MS per node: under load it runs once a
    # second, not once a create, so it is not part of a create (bench/pg_create.sql).
    auth = [t for t in txs if any("FROM api_keys" in sql for sql, _ in t)]
    return db, [st for t in txs if t not in auth for st in t], bool(auth)


def pgbench_point(cluster, db, binds):
    tmp = tempfile.mkdtemp(prefix="pgbench-", dir=PG_DIR)
    args = [PGBENCH, "-n", "-M", "prepared", "-c", str(CONNS), "-j", "2", "-T", "%g" % SECS,
            "-f", SCRIPT, "-l", "--log-prefix", os.path.join(tmp, "tx"),
            "-h", cluster.host, "-p", str(cluster.port), "-U", cluster.user]
    for k in sorted(binds):
        args += ["-D", "%s=%s" % (k, binds[k])]
    args.append(db)
    env = dict(os.environ, PGOPTIONS="-c synchronous_commit=on")
    g0 = cluster.cpu_s()
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    g1 = cluster.cpu_s()
    out = p.stdout + p.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    n = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if p.returncode != 0 or not tps or not n:
        raise SystemExit("bench-pg: pgbench failed (exit %d):\n%s" % (p.returncode, out[-3000:]))
    lat = []
    for path in glob.glob(os.path.join(tmp, "tx.*")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]) / 1000.0)
    for path in glob.glob(os.path.join(tmp, "*")):
        os.unlink(path)
    os.rmdir(tmp)
    lat.sort()

    def pct(q):
        return lat[min(len(lat) - 1, int(len(lat) * q / 100.0))] if lat else 0.0

    ok = int(n.group(1))
    rows = count(cluster, db, "SELECT count(*) FROM sessions")
    cluster.drop(db)
    return {"throughput": float(tps.group(1)), "ok": ok,
            "errors": int(failed.group(1)) if failed else 0, "p50_ms": pct(50),
            "p99_ms": pct(99), "pg_cpu_us": (g1 - g0) * 1e6 / max(1, ok), "rows": rows}


# ---- the run --------------------------------------------------------------------------------


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(PG_DIR, exist_ok=True)
    t_all = time.monotonic()
    cluster = Cluster()
    try:
        return run(cluster, t_all)
    finally:
        for s in list(LIVE):
            s.proc.kill()
            s.proc.wait()
        cluster.stop()


def run(cluster, t_all):
    settings = cluster.psql("SELECT string_agg(name || '=' || setting, ' ' ORDER BY name)"
                            " FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit',"
                            " 'full_page_writes', 'wal_sync_method')")
    version = cluster.psql("SHOW server_version").split()[0]
    fs = subprocess.run(["stat", "-f", "-c", "%T", PG_DIR], capture_output=True,
                        text=True).stdout.strip()
    say("offramp bench-pg%s: %gs per point, %d connections, %d cores, HTTP threads %s, "
        "workers on, sandbox step %d ms" % (" (BENCH_QUICK)" if QUICK else "", SECS, CONNS,
                                            os.cpu_count(), HTTP_THREADS or "default", STEP_MS))
    say("PostgreSQL %s, %s; cluster in %s (%s)%s" % (
        version, settings, os.path.relpath(PG_DIR, ROOT), fs,
        ": memory-backed, fsync is free, figures meaningless" if fs in ("tmpfs", "ramfs") else ""))
    say()

    db, traced, auth = trace_create(cluster)
    script, own, prefixes = script_statements(SCRIPT)
    binds, problems = bind_script(traced, script, own, prefixes)
    data = sum(1 for s, _ in traced if not re.match(r"(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)",
                                                      s))
    say("pgbench script bench/pg_create.sql against one create traced with log_statement=all:")
    say("  the create ran %d statements (%d of them data, the rest BEGIN/COMMIT/ROLLBACK/"
        "SAVEPOINT) in %d transactions: %s" % (
            len(traced), data, sum(1 for s, _ in traced if s.startswith("BEGIN")),
            "the script has the same, token by token" if not problems else "MISMATCH"))
    if auth:
        say("  (its API key lookup left out: cached 1 s per node, once a second under load)")
    for p in problems:
        say("  " + p)
    if problems:
        cluster.drop(db)
        return 1
    say()

    say("closed loop (wrk): POST /off-ramp-sessions, 1 account, fresh database per point;"
        " pgbench: one create per transaction")
    hdr = "  %-10s %6s %10s %8s %8s %7s %9s %9s %8s %9s %s"
    say(hdr % ("point", "conns", "creates/s", "p50 ms", "p99 ms", "errors", "cpu µs/c",
               "pg µs/c", "RSS MiB", "writes/c", "settled %gs after" % SETTLE_WAIT))
    res = {}

    def row(name, r):
        say("  %-10s %6s %10s %s %s %7d %9s %9.1f %8s %9s %s" % (
            name, r.get("conns", str(CONNS)), fmt_int(r["throughput"]), ms(r["p50_ms"]),
            ms(r["p99_ms"]), r["errors"], "%.1f" % r["cpu_us"] if "cpu_us" in r else "-",
            r["pg_cpu_us"], "%.1f" % r["rss_mib"] if "rss_mib" in r else "-",
            "%.1f" % r["per_commit"] if r.get("per_commit") else "1",
            "%s of %s" % (fmt_int(r["settled"]), fmt_int(r["created"])) if "settled" in r
            else "(no workers; %s rows)" % fmt_int(r["rows"])))

    res["1 node"] = offramp_point(cluster, "1node", 1)
    row("1 node", res["1 node"])
    res["2 nodes"] = offramp_point(cluster, "2nodes", 2)
    row("2 nodes", res["2 nodes"])
    res["batch-1"] = offramp_point(cluster, "batch1", 1, ["--commit-batch-max", "1"])
    row("batch-1", res["batch-1"])
    res["pgbench"] = pgbench_point(cluster, db, binds)
    row("pgbench", res["pgbench"])
    say("  (2 nodes: creates/s and errors summed over both wrk, p50/p99 of both together;"
        " cpu: both serves)")
    say()

    one, two, b1, pgb = (res[k]["throughput"] for k in ("1 node", "2 nodes", "batch-1",
                                                         "pgbench"))
    say("ratios (same run, same machine, same cluster)")
    for label, a, b in (("1 node / pgbench", one, pgb), ("2 nodes / pgbench", two, pgb),
                        ("1 node / --commit-batch-max 1", one, b1),
                        ("2 nodes / --commit-batch-max 1", two, b1),
                        ("--commit-batch-max 1 / pgbench", b1, pgb),
                        ("2 nodes / 1 node", two, one)):
        say("  %-40s %6.2f" % (label, a / b if b else 0.0))
    say()

    bad = [(k, r) for k, r in res.items() if "ledger" in r and not r["ledger"]]
    say("ledger: verify-ledger on %d databases (%s sessions): %s" % (
        sum(1 for r in res.values() if "ledger" in r),
        fmt_int(sum(r.get("ledger_sessions", 0) for r in res.values())),
        "all ok" if not bad else "FAILED on " + ", ".join(k for k, _ in bad)))
    for k, r in bad:
        say("  %s: %s" % (k, r["ledger_out"].strip()[:300]))
    say("total %.0f s" % (time.monotonic() - t_all))
    with open(os.path.join(OUT, "pg-summary.txt"), "w") as f:
        f.write("\n".join(bench.LOG) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
