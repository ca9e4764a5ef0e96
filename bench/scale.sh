#!/usr/bin/env bash
# Scale: the same requests against databases holding 10k, 1M and 10M stored
# sessions (docs/SCALE.md), each figure printed as a ratio to the 10k one.
# For each size: a fresh database, `offramp admin bulk-load` (its rate and
# the disk it takes), verify-ledger, the query plans, then `serve` as a user
# runs it (workers on, sandbox step 1 s) and wrk (closed loop, $CONNS
# connections, $SECS s each):
#   create          POST /off-ramp-sessions, a fresh Idempotency-Key each
#   get             GET /off-ramp-sessions/{id}, a random stored session each
#   list            the first page (page_size 20) ...
#   list-deep       ... and a page at a random cursor (page_token) in the history,
#   list-status*    both with status=settled,
#   list-account*   both with account_ref= (one of the loaded accounts),
#   list-both-deep  a deep page with status= and account_ref= together.
# A size that does not fit on the disk (next to a $SCALE_RESERVE_GB reserve,
# at the bytes per session the previous size took) is replaced by the
# largest round size that does, and the output says so. Databases are
# deleted after each size unless SCALE_KEEP=1.
#   bench/scale.sh [SIZES...]      default: 10000 1000000 10000000
# Environment: SCALE_DIR (build/scale), SCALE_SECONDS (10) and SCALE_REPEAT (3)
# per measurement (medians are printed and compared), SCALE_CONNS (8),
# SCALE_ACCOUNTS (16), SCALE_RESERVE_GB (15), SCALE_KEEP.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 1000000 10000000)
SECS=${SCALE_SECONDS:-10}
REPEAT=${SCALE_REPEAT:-3}
CONNS=${SCALE_CONNS:-8}
ACCOUNTS=${SCALE_ACCOUNTS:-16}
RESERVE_GB=${SCALE_RESERVE_GB:-15}
DIR=${SCALE_DIR:-$PWD/build/scale}
PY=/usr/bin/python3
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get install -y -qq sqlite3 >/dev/null || sudo apt-get install -y -qq sqlite3; }
make -s build/offramp
BIN=$PWD/build/offramp
mkdir -p "$DIR"
RUN=$(mktemp -d "$DIR/run-XXXXXX")
RESULTS=$RUN/results.tsv
PID=
cleanup() {
	[ -n "$PID" ] && { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; }
	[ -n "${SCALE_KEEP:-}" ] || rm -f "$RUN"/*.db "$RUN"/*.db-wal "$RUN"/*.db-shm
}
trap cleanup EXIT
echo "offramp scale bench: sizes ${SIZES[*]}, ${SECS}s per load, $CONNS connections, $ACCOUNTS accounts, $(nproc) cores; in $RUN"

free_bytes() { df --output=avail -B1 "$DIR" | tail -n 1; }
# wrk_run NAME ARGS...: $REPEAT closed-loop loads; appends "size name rep
# rps p50 p99 errors" per load and prints the medians (the machine's other
# load shows up as outliers; the first load of a size is the coldest).
wrk_run() {
	local name=$1
	shift
	for rep in $(seq "$REPEAT"); do
		wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$BASE" >"$RUN/wrk.out" 2>"$RUN/wrk.err" || true
		$PY - "$SIZE" "$name" "$rep" "$RUN/wrk.out" "$RUN/wrk.err" >>"$RESULTS" <<'PY'
import re, sys
size, name, rep, out, err = sys.argv[1:]
text = open(out).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
bad = open(err).read().count("unexpected") + len(re.findall(r"Non-2xx", text))
print(size, name, rep, rps.group(1) if rps else "nan", ms(p50.group(1)) if p50 else "nan",
      ms(p99.group(1)) if p99 else "nan", bad, sep="\t")
PY
	done
	$PY - "$RESULTS" "$SIZE" "$name" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.split("\t")[:2] == sys.argv[2:4]]
med = lambda i: statistics.median(float(r[i]) for r in rows)
reps = " ".join(f"{float(r[5]):.2f}" for r in rows)
print(f"  {sys.argv[3]:<17} {med(3):8.0f} req/s  p50 {med(4):7.3f} ms  p99 {med(5):7.3f} ms  "
      f"errors {sum(int(r[6]) for r in rows)}   (p99 of each load: {reps})")
PY
}

BPS=15000 # bytes per session until one size is measured
for WANT in "${SIZES[@]}"; do
	SIZE=$WANT
	FREE=$(free_bytes)
	ROOM=$((FREE - RESERVE_GB * 1024 * 1024 * 1024))
	NEED=$((SIZE * BPS * 115 / 100))
	if [ "$NEED" -gt "$ROOM" ]; then
		SIZE=$($PY -c "import math,sys; n=max(0,$ROOM)*100//115//$BPS; e=10**max(0,len(str(n))-2); print(n//e*e)")
		echo "size $WANT needs ~$((NEED / 1024 / 1024 / 1024)) GB at $BPS bytes/session; $((FREE / 1024 / 1024 / 1024)) GB free with a ${RESERVE_GB} GB reserve: running $SIZE instead"
		[ "$SIZE" -gt 0 ] || continue
	fi
	DB=$RUN/s$SIZE.db
	TENANT=$($BIN admin create-tenant --name scale --db "$DB")
	KEY=$(echo "$TENANT" | $PY -c 'import json,sys;print(json.load(sys.stdin)["api_key"])')
	REF=$(echo "$TENANT" | $PY -c 'import json,sys;print(json.load(sys.stdin)["tenant_ref"])')
	echo "size $SIZE:"
	$BIN admin bulk-load --tenant "$REF" --sessions "$SIZE" --accounts "$ACCOUNTS" --db "$DB" \
		>"$RUN/load.json" 2>"$RUN/load.err" || { cat "$RUN/load.err"; exit 1; }
	BYTES=$(du -cb "$DB"* | tail -n 1 | cut -f1)
	BPS=$((BYTES / SIZE))
	$PY - "$RUN/load.json" "$BYTES" "$SIZE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); b = int(sys.argv[2]); n = int(sys.argv[3])
print(f"  load             {r['seconds']:.1f} s, {r['sessions_per_s']:.0f} sessions/s, {r['rows']} rows in {r['commits']} commits; "
      f"disk {b / 2**30:.2f} GiB ({b // n} bytes/session)")
PY
	T0=$(date +%s.%N)
	$BIN admin verify-ledger --db "$DB" >"$RUN/verify.json" || { echo "  verify-ledger FAILED"; cat "$RUN/verify.json"; exit 1; }
	T1=$(date +%s.%N)
	$PY - "$RUN/verify.json" "$T0" "$T1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  verify-ledger    ok={r['ok']} sessions={r['sessions']} transfers={r['transfers']} in {float(sys.argv[3]) - float(sys.argv[2]):.1f} s")
PY
	$BIN admin query-plans --db "$DB" >"$RUN/plans-$SIZE.json"
	$PY - "$RUN/plans-$SIZE.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  query plans      {len(r['statements'])} statements, full table scans {r['full_scans']}, temp b-trees {r['temp_sorts']}"
      " (payout_list session: one session's rows)")
PY

	# Inputs: random stored sessions (by rowid: the load wrote them in
	# order), page tokens at them (deep cursors), the create body.
	$PY - "$DB" "$SIZE" "$RUN/ids" "$RUN/tokens" <<'PY'
import base64, random, sqlite3, sys
db, n, ids_path, tok_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
rowids = random.sample(range(1, n + 1), min(n, 20000))
ids = [r[0] for i in range(0, len(rowids), 500)
       for r in c.execute("SELECT id FROM sessions WHERE rowid IN (%s)" % ",".join(map(str, rowids[i:i + 500])))]
random.shuffle(ids)
open(ids_path, "w").write("\n".join(ids) + "\n")
open(tok_path, "w").write("\n".join(base64.urlsafe_b64encode(("s1:" + i).encode()).decode().rstrip("=") for i in ids) + "\n")
PY
	eval "$($PY - "$RUN/load.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); a = r["accounts"][0]
typed = {"method": "bank_transfer", "fiat_rail": "sepa_credit_transfer", "currency": "EUR",
         "beneficiary_name": "Acme Treasury", "reference_hint": None,
         "bank_coordinates": {"account_holder_name": "Acme Treasury", "bank_name": "Demo Bank",
                              "bic": "NWBKGB2L", "country": "GB", "iban": "GB29NWBK60161331926819", "scheme": "iban"}}
body = {"account_ref": a["account_ref"], "amount": {"currency": "USDC", "value": "250.00"}, "target_currency": "EUR",
        "target_rail": "fiat", "destination": {"method": "bank_transfer", "fiat_rail": "sepa_credit_transfer",
        "payment_reference": "RF18539007547034", "route_owner_ref": a["route_owner_ref"],
        "withdrawal_destination_id": a["withdrawal_destination_id"], "destination": typed}}
print("export BENCH_BODY='%s'" % json.dumps(body))
print("export ACCOUNT_REF=%s" % a["account_ref"])
PY
)"
	export BENCH_AUTH="Bearer $KEY"
	PORT=$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	BASE=http://127.0.0.1:$PORT
	T0=$(date +%s.%N)
	$BIN serve --db "$DB" --listen 127.0.0.1:$PORT 2>"$RUN/serve-$SIZE.log" &
	PID=$!
	for _ in $(seq 600); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.05; done
	T1=$(date +%s.%N)
	$PY -c "print(f'  serve ready      {$T1 - $T0:.2f} s')"

	SCALE_MODE=get SCALE_FILE=$RUN/ids wrk_run get -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY= SCALE_FILE= wrk_run list -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY= SCALE_FILE=$RUN/tokens wrk_run list-deep -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY=status=settled SCALE_FILE= wrk_run list-status -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY=status=settled SCALE_FILE=$RUN/tokens wrk_run list-status-deep -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY=account_ref=$ACCOUNT_REF SCALE_FILE= wrk_run list-account -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY=account_ref=$ACCOUNT_REF SCALE_FILE=$RUN/tokens wrk_run list-account-deep -s bench/scale.lua
	SCALE_MODE=list SCALE_QUERY="status=settled&account_ref=$ACCOUNT_REF" SCALE_FILE=$RUN/tokens \
		wrk_run list-both-deep -s bench/scale.lua
	BENCH_KEY_PREFIX=scale$SIZE wrk_run create -s bench/sessions.lua
	kill -TERM $PID
	wait $PID || true
	PID=
	$BIN admin verify-ledger --db "$DB" | $PY -c 'import json,sys;r=json.load(sys.stdin);print("  ledger after    ", "ok" if r["ok"] else "NOT OK: " + str(r["first_problem"]), "sessions=%d" % r["sessions"])'
	# serve logs every request: keep its end only.
	tail -n 20 "$RUN/serve-$SIZE.log" >"$RUN/serve-$SIZE.tail"
	rm -f "$RUN/serve-$SIZE.log"
	[ -n "${SCALE_KEEP:-}" ] || rm -f "$DB" "$DB-wal" "$DB-shm"
done

echo
echo "medians as ratios to the smallest size (p50 and p99 latency; >1 is slower):"
$PY - "$RESULTS" <<'PY'
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = collections.OrderedDict()
for size, name, rep, rps, p50, p99, bad in rows:
    by.setdefault(name, {}).setdefault(int(size), []).append((float(rps), float(p50), float(p99)))
sizes = sorted({int(r[0]) for r in rows})
base = sizes[0]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print("%-18s" % "" + "".join("%26s" % f"{s:,}" for s in sizes))
for name, per in by.items():
    cells = []
    for s in sizes:
        if s not in per:
            cells.append("%26s" % "-")
        elif s == base or base not in per:
            cells.append("%26s" % f"{med(per[s], 1):.2f} / {med(per[s], 2):.2f} ms")
        else:
            b = per[base]
            cells.append("%26s" % f"x{med(per[s], 1) / med(b, 1):.2f} / x{med(per[s], 2) / med(b, 2):.2f}")
    print("%-18s" % name + "".join(cells))
PY
