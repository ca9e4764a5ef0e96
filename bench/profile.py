#!/usr/bin/python3
"""make profile: where the CPU of one create (and one GET) goes, thread by thread, layer by layer.

It starts `build/offramp serve` on a fresh database under
`valgrind --tool=callgrind --separate-threads=yes`, sets up one funded account with a saved
SEPA destination (bench.py's Server), warms up, then zeroes callgrind's counters, sends
PROFILE_CREATES creates with build/bench/loadgen (open loop, PROFILE_RATE/s, 32 connections),
dumps, zeroes again, sends PROFILE_GETS GETs of those sessions and dumps again. The sandbox
step is an hour, so no lifecycle step runs while it measures: the committer does the creates
and nothing else.

Instructions (callgrind's Ir) are counted per thread group (HTTP threads together, the
committer, the workers and the webhook dispatcher, the rest) and, inclusive, per layer: the
cost of every call that enters the layer from outside it (so a layer includes what it calls;
layers nest, the columns do not add up). To turn instructions into time it runs the same load
on a native server and divides the instructions of a create (all threads) by the user CPU time
that server spent per create (/proc utime): µs = Ir / (Ir per µs). Kernel time (the server's
stime per create) is printed beside it; callgrind does not see the kernel.

Knobs (environment): PROFILE_CREATES (2000), PROFILE_GETS (500), PROFILE_RATE (40 creates/s;
valgrind runs the server's threads one at a time, ~50x slower), PROFILE_CONNECTIONS (32),
PROFILE_KEEP=1 (keep build/profile/run: the callgrind files, for callgrind_annotate).
Figures only: instruction counts repeat to within a percent or so from run to run; the µs
depend on the machine and its neighbours.
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its Server, the same setup as make bench)

ROOT = bench.ROOT
OUT = os.path.join(ROOT, "build", "profile")
CREATES = int(os.environ.get("PROFILE_CREATES") or 2000)
GETS = int(os.environ.get("PROFILE_GETS") or 500)
RATE = float(os.environ.get("PROFILE_RATE") or 40)
CONNS = int(os.environ.get("PROFILE_CONNECTIONS") or 32)
KEEP = os.environ.get("PROFILE_KEEP") == "1"
WARMUP = 50
# No lifecycle step while measuring (the sandbox step is an hour), and one commit per write:
# how many writes share a commit depends on timing, which valgrind changes, so a batch's
# cost (BEGIN, COMMIT, the WAL frames) is paid by each create and shows as its own line.
STEP = ["--sandbox-step-ms", "3600000", "--commit-batch-max", "1"]

# ---- callgrind files ---------------------------------------------------------------------

COST = re.compile(r"^[+\-*0-9]")


def parse(path):
    """One callgrind file: {fid: (name, object, file)}, self cost, call edges, totals."""
    names, obs, fls = {}, {}, {}
    funcs = {}
    self_ir = collections.Counter()
    edge_ir = collections.Counter()
    edge_calls = collections.Counter()
    trigger = ""

    def comp(table, v):
        v = v.strip()
        if v.startswith("("):
            i = v.index(")")
            key, rest = v[1:i], v[i + 1:].strip()
            if rest:
                table[key] = rest
            return key, table.get(key, rest)
        return v, v

    ob = fl = fn = None
    cob = cfl = cfn = None
    pending = None
    with open(path, errors="replace") as f:
        for line in f:
            if pending is not None:
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                edge_ir[(fn, pending[0])] += ir
                edge_calls[(fn, pending[0])] += pending[1]
                pending = None
                cob = cfl = None
                continue
            if COST.match(line):
                parts = line.split()
                if len(parts) > 1:
                    self_ir[fn] += int(parts[1])
                continue
            k, _, v = line.rstrip("\n").partition("=")
            if k == "fn":
                fn, name = comp(names, v)
                funcs.setdefault(fn, (name, ob, fl))
            elif k == "ob":
                ob = comp(obs, v)[1]
            elif k == "fl":
                fl = comp(fls, v)[1]
            elif k in ("fi", "fe"):
                comp(fls, v)
            elif k == "cob":
                cob = comp(obs, v)[1]
            elif k in ("cfi", "cfl"):
                cfl = comp(fls, v)[1]
            elif k == "cfn":
                cfn, name = comp(names, v)
                funcs.setdefault(cfn, (name, cob or ob, cfl or fl))
            elif k == "calls":
                pending = (cfn, int(v.split()[0]))
            elif line.startswith("desc: Trigger:"):
                trigger = line.split(":", 2)[2].strip()
    return {"funcs": funcs, "self": self_ir, "edges": edge_ir, "calls": edge_calls,
            "trigger": trigger, "total": sum(self_ir.values())}


def named(p, fname):
    return {fid for fid, (n, _, _) in p["funcs"].items() if n == fname}


def group_of(p):
    """Which thread a file is, from the functions it ran."""
    have = {n for n, _, _ in p["funcs"].values()}
    if "sq_committer_main" in have:
        return "committer"
    if "pool_main" in have:
        return "workers"
    if "api_handle" in have or any(o and "libmicrohttpd" in o for _, o, _ in p["funcs"].values()):
        return "http"
    return "other"


# A layer: which functions belong to it (name, object, file) and, optionally, which calls
# out of it are another layer's cost and left out ("stop").
def in_dir(d):
    return lambda n, o, f: bool(f) and ("/src/%s/" % d in f or f.startswith("src/%s/" % d))


def in_obj(lib):
    return lambda n, o, f: bool(o) and lib in o


def fn_is(*names):
    s = set(names)
    return lambda n, o, f: n in s


def any_of(*preds):
    return lambda n, o, f: any(p(n, o, f) for p in preds)


MALLOC = fn_is("malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
               "aligned_alloc", "memalign", "strdup", "strndup")
DECODE = any_of(lambda n, o, f: bool(f) and f.endswith("src/api/json_in.c"),
                lambda n, o, f: n.startswith("jd_") or n.startswith("api_decode_") or
                n.startswith("api_validate_") or n == "api_destination_canonical")
RENDER = any_of(lambda n, o, f: bool(f) and f.endswith("src/api/render.c"),
                fn_is("render_session", "api_render_error", "api_render_error_details",
                      "api_answer_json", "api_answer_text"))
# The store's transaction machinery: the committer's loop and batches (BEGIN, SAVEPOINT,
# RELEASE, COMMIT), a read's BEGIN/COMMIT and pooled connection.
TX = fn_is("sq_committer_main", "sq_batch_run", "sq_exec_sql", "sq_run", "sq_write",
           "sq_write_jobs", "sq_batch_fail", "sq_reset_all", "sq_take", "sq_give", "store_run")
LAYERS = [
    # label, member, stop
    ("http/MHD (not api, not log)", any_of(in_obj("libmicrohttpd"), in_dir("http")),
     fn_is("api_handle", "log_msg")),
    ("api (all of api_handle)", fn_is("api_handle"), None),
    ("  decode/parse (json_in, jd_*)", DECODE, None),
    ("  idempotency (canonical, replay)", fn_is("svc_idem_replay", "json_exact_canonical",
                                                "json_exact_canonical_of"), None),
    ("  auth (svc_authenticate)", fn_is("svc_authenticate"), None),
    ("service (not render)", in_dir("service"), in_dir("api")),
    ("  session effect (with snapshot)", fn_is("session_effect"), None),
    ("render/snapshot (render.c)", RENDER, None),
    ("transactions (begin..commit)", TX, any_of(in_dir("service"), in_dir("api"))),
    ("store statements (ours+SQLite)",
     lambda n, o, f: in_dir("store")(n, o, f) and not TX(n, o, f), in_dir("service")),
    ("SQLite (all)", in_obj("libsqlite3"), None),
    ("jansson", in_obj("libjansson"), None),
    ("yajl", in_obj("libyajl"), None),
    ("uuid_v7", fn_is("uuid_v7"), None),
    ("logging", fn_is("log_msg"), None),
    ("malloc/free (+strdup)", MALLOC, None),
]


def layer_cost(p, member, stop):
    """Ir of calls from outside the layer into it, less its calls into stop. A function that
    only the layer calls (directly or through others like it: libc's memcpy called back into
    SQLite, say) is inside the layer's time: its calls back into the layer are not counted
    again."""
    inside = {fid for fid, v in p["funcs"].items() if member(*v)}
    stops = {fid for fid, v in p["funcs"].items() if stop and stop(*v)} - inside
    callers = collections.defaultdict(set)
    for a, b in p["edges"]:
        if a != b:
            callers[b].add(a)
    # The largest set of outside functions every caller of which is inside or in the set.
    under = {f for f in callers if f not in inside and f not in stops}
    changed = True
    while changed:
        changed = False
        for f in list(under):
            if any(c not in inside and c not in under for c in callers[f]):
                under.discard(f)
                changed = True
    within = inside | under
    cost = 0
    for (a, b), ir in p["edges"].items():
        if b in inside and a not in within:
            cost += ir
        elif a in within and b in stops:
            cost -= ir
    return max(0, cost)


def calls_to(p, fname, caller=None):
    ids = named(p, fname)
    cids = named(p, caller) if caller else None
    return sum(c for (a, b), c in p["calls"].items()
               if b in ids and (cids is None or a in cids))


def load_dump(d, pid, trigger):
    files = [os.path.join(d, n) for n in sorted(os.listdir(d))
             if n.startswith("callgrind.out.%d." % pid)]
    parts = [p for p in (parse(f) for f in files) if p["trigger"] == "dump " + trigger]
    return [p for p in parts if p["total"] > 0]


# ---- the load ------------------------------------------------------------------------------


def drive(srv, method, n, rate, paths=None):
    secs = max(1.0, n / rate)
    args = [bench.LOADGEN, "--url", srv.base, "--rate", "%.2f" % (n / secs), "--duration",
            "%.3f" % secs, "--connections", str(CONNS), "--method", method, "--label",
            "profile", "--header", "Authorization: Bearer " + srv.key, "--drain", "600"]
    if method == "POST":
        args += ["--bodies", srv.bodies_file, "--path", "/off-ramp-sessions", "--expect", "201",
                 "--header", "Content-Type: application/json",
                 "--idempotency", "pf%d-%d" % (os.getpid(), time.monotonic_ns())]
    else:
        args += ["--paths", paths, "--expect", "200"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("profile: loadgen failed: " + p.stderr)
    v = bench.kv(p.stdout.strip())
    if float(v.get("errors", 0)):
        raise SystemExit("profile: %s errors under load: %s" % (v.get("errors"), p.stderr))
    return int(float(v["ok"]))


def paths_file(srv, n):
    with srv.ro() as c:
        ids = [r[0] for r in c.execute("SELECT id FROM sessions ORDER BY id DESC LIMIT ?", (n,))]
    path = srv.db + ".paths"
    with open(path, "w") as f:
        f.write("".join("/off-ramp-sessions/%s\n" % i for i in ids))
    return path


def cpu_s(srv):
    with open("/proc/%d/stat" % srv.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / bench.CLK_TCK, int(fields[12]) / bench.CLK_TCK


def native(workdir):
    """The same creates and GETs on a native server: user and system µs per request."""
    srv = bench.Server(workdir, "native", 1, STEP)
    drive(srv, "POST", WARMUP, RATE)
    # Four times the load at four times the rate: utime is counted in 10 ms ticks.
    u0, s0 = cpu_s(srv)
    n = drive(srv, "POST", 4 * CREATES, 4 * RATE)
    u1, s1 = cpu_s(srv)
    paths = paths_file(srv, GETS)
    g0, h0 = cpu_s(srv)
    m = drive(srv, "GET", 4 * GETS, 4 * RATE, paths)
    g1, h1 = cpu_s(srv)
    srv.stop()
    return {"create": ((u1 - u0) * 1e6 / n, (s1 - s0) * 1e6 / n),
            "get": ((g1 - g0) * 1e6 / m, (h1 - h0) * 1e6 / m)}


def callgrind(workdir):
    cg = os.path.join(workdir, "cg")
    os.makedirs(cg, exist_ok=True)
    prefix = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
              "--callgrind-out-file=%s/callgrind.out.%%p" % cg]
    srv = bench.Server(workdir, "callgrind", 1, STEP, prefix=prefix, start_s=120)
    pid = srv.proc.pid

    def control(*a):
        subprocess.run(["callgrind_control"] + list(a) + [str(pid)], check=True,
                       capture_output=True)

    drive(srv, "POST", WARMUP, RATE)
    time.sleep(1)
    control("-z")
    n = drive(srv, "POST", CREATES, RATE)
    time.sleep(1)  # the last requests' completion (logging, freeing) runs after the answer
    control("-d", "creates")
    paths = paths_file(srv, GETS)
    control("-z")
    m = drive(srv, "GET", GETS, RATE * 2, paths)
    time.sleep(1)
    control("-d", "gets")
    srv.stop()
    return cg, pid, n, m


# ---- the table ------------------------------------------------------------------------------


def report(label, parts, n, per_us, sys_us, lines):
    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    groups = collections.OrderedDict((g, []) for g in ("http", "committer", "workers", "other"))
    for p in parts:
        groups[group_of(p)].append(p)
    total = sum(p["total"] for p in parts)
    say("%s: %d requests; Ir per request (instructions), µs at %.0f Ir/µs" % (label, n, per_us))
    say("  %-34s %12s %9s" % ("thread", "Ir/req", "µs/req"))
    for g, ps in groups.items():
        ir = sum(p["total"] for p in ps) / n
        say("  %-34s %12s %9.1f" % ("%s (%d threads)" % (g, len(ps)), "{:,.0f}".format(ir),
                                    ir / per_us))
    say("  %-34s %12s %9.1f   + kernel %.1f µs (native stime)" % (
        "all", "{:,.0f}".format(total / n), total / n / per_us, sys_us))
    com = groups["committer"]
    if com:
        commits = sum(calls_to(p, "sqlite3BtreeCommitPhaseOne") for p in com)
        jobs = sum(calls_to(p, "commit_tx") for p in com)
        job_ir = sum(layer_cost(p, fn_is("commit_tx"), None) for p in com) / n
        say("  committer: %d commits, %d svc_commit writes; the write itself (commit_tx) %s Ir,"
            " its commit and queue %s" % (commits, jobs, "{:,.0f}".format(job_ir),
                                          "{:,.0f}".format(sum(p["total"] for p in com) / n -
                                                           job_ir)))
    say()
    heads = [g for g in ("http", "committer") if groups[g]]
    say("  layers are inclusive (a layer's cost includes what it calls), so they overlap")
    say("  %-34s %s" % ("layer", " ".join(
        "%13s %7s" % (h + " Ir", "µs") for h in heads)))
    for name, member, stop in LAYERS:
        cells = []
        for g in heads:
            ir = sum(layer_cost(p, member, stop) for p in groups[g]) / n
            cells.append("%13s %7.1f" % ("{:,.0f}".format(ir), ir / per_us) if ir >= 50
                         else "%13s %7s" % ("-", ""))
        say("  %-34s %s" % (name, " ".join(cells)))
    say()


def main():
    again = sys.argv[1:] == ["--again"]  # report the kept files of the last PROFILE_KEEP=1 run
    workdir = os.path.join(OUT, "run")
    meta = os.path.join(workdir, "cg", "meta.json")
    t0 = time.monotonic()
    if again:
        with open(meta) as f:
            cg, pid, n, m, nat = json.load(f)
    else:
        for tool in ("valgrind", "callgrind_control"):
            if not shutil.which(tool):
                raise SystemExit("profile: %s missing (apt-get install valgrind)" % tool)
        os.makedirs(OUT, exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        print("offramp profile: %d creates at %g/s then %d GETs, %d connections, 1 account, "
              "callgrind --separate-threads=yes" % (CREATES, RATE, GETS, CONNS), flush=True)
        nat = native(workdir)
        cg, pid, n, m = callgrind(workdir)
        with open(meta, "w") as f:
            json.dump([cg, pid, n, m, nat], f)
    creates, gets = load_dump(cg, pid, "creates"), load_dump(cg, pid, "gets")
    lines = []
    ir_create = sum(p["total"] for p in creates) / n
    per_us = ir_create / max(1e-9, nat["create"][0])
    print("calibration (native server, same load x4): create %.1f µs user + %.1f µs system, "
          "GET %.1f + %.1f; %.0f Ir per user µs" % (nat["create"][0], nat["create"][1],
                                                   nat["get"][0], nat["get"][1], per_us))
    print()
    report("POST /off-ramp-sessions", creates, n, per_us, nat["create"][1], lines)
    report("GET /off-ramp-sessions/{id}", gets, m, per_us, nat["get"][1], lines)
    with open(os.path.join(OUT, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("summary in build/profile/summary.txt; total %.0f s%s" % (
        time.monotonic() - t0, "; callgrind files in build/profile/run/cg" if KEEP or again
        else ""))
    if not KEEP and not again:
        shutil.rmtree(workdir, ignore_errors=True)
    bad = [x for x in bench.LEDGER if not x[1]]
    if bad:
        print("profile: verify-ledger failed on " + ", ".join(x[0] for x in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
