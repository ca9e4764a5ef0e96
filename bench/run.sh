#!/usr/bin/env bash
# Benchmarks, every figure against baselines measured in the same run on
# the same machine (only same-run ratios mean anything: the disk varies):
#   healthz  - GET /healthz: the HTTP stack alone (no key, no database)
#   read     - GET /client-accounts/{id}: key check + a read transaction
#   create/1 - POST /off-ramp-sessions, fresh Idempotency-Key each, on a
#              server with --commit-batch-max 1: one commit (one fsync) per
#              write, the baseline of CONTRACT §11
#   create   - the same on a server with the default group commit
# Both servers run as a user runs them (workers on, sandbox step 1 s); after
# each load the bench waits 5 s and counts the sessions that settled, so a
# lifecycle starved by the load shows. Then verify-ledger on each database.
#   bench/run.sh [SECONDS] [CONNECTIONS] [HTTP_THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
THREADS=${3:-64}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk; }
make -s build/offramp
BIN=$PWD/build/offramp
DIR=$(mktemp -d)
PID=
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT

# start NAME SERVE_ARGS...: a fresh database with one funded client and a
# saved destination; exports BASE, KEY, DB, BENCH_BODY, ACCOUNT_PATH.
start() {
	local name=$1
	shift
	DB=$DIR/$name.db
	PORT=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	BASE=http://127.0.0.1:$PORT
	KEY=$($BIN admin create-tenant --name bench --db "$DB" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["api_key"])')
	$BIN serve --db "$DB" --listen 127.0.0.1:$PORT --http-threads "$THREADS" "$@" 2>"$DIR/$name.log" &
	PID=$!
	for _ in $(seq 50); do curl -sf $BASE/healthz >/dev/null && break; sleep 0.1; done
	eval "$(KEY=$KEY BASE=$BASE /usr/bin/python3 - <<'PY'
import json, os, urllib.request
base, key = os.environ["BASE"], os.environ["KEY"]
def call(path, body, idem=None):
    h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    if idem: h["Idempotency-Key"] = idem
    r = urllib.request.urlopen(urllib.request.Request(base + path, json.dumps(body).encode(), h))
    return json.load(r)
c = call("/clients", {"display_name": "Bench"})
acct = c["default_account_ref"]
call("/sandbox/deposits", {"account_ref": acct, "amount": {"currency": "USDC", "value": "1000000000.00"}})
typed = {"method": "bank_transfer", "fiat_rail": "sepa_credit_transfer", "currency": "EUR",
         "beneficiary_name": "Acme Treasury", "reference_hint": None,
         "bank_coordinates": {"account_holder_name": "Acme Treasury", "bank_name": "Demo Bank",
                              "bic": "NWBKGB2L", "country": "GB", "iban": "GB29NWBK60161331926819", "scheme": "iban"}}
d = call("/withdrawal-destinations", {"account_ref": acct, "destination": typed}, "bench-dest")
body = {"account_ref": acct, "amount": {"currency": "USDC", "value": "250.00"}, "target_currency": "EUR",
        "target_rail": "fiat", "destination": {"method": "bank_transfer", "fiat_rail": "sepa_credit_transfer",
        "payment_reference": "RF18539007547034", "route_owner_ref": d["route_owner_ref"],
        "withdrawal_destination_id": d["id"], "destination": typed}}
print("export BENCH_BODY='%s'" % json.dumps(body))
print("export ACCOUNT_PATH=/%s" % acct)
PY
)"
	export BENCH_AUTH="Bearer $KEY"
}

# stop: SIGTERM, then the ledger check and the settled count.
stop() {
	kill -TERM $PID
	wait $PID
	PID=
	$BIN admin verify-ledger --db "$DB" | /usr/bin/python3 -c 'import json,sys;r=json.load(sys.stdin);print("  ledger ok=%s sessions=%d transfers=%d" % (r["ok"], r["sessions"], r["transfers"]))'
	grep -h "writes in" "$DIR"/*.log | tail -n 1 | sed 's/^/  /' || true
}

settled() {
	curl -sf -H "Authorization: Bearer $KEY" "$BASE/off-ramp-sessions?status=settled&page_size=1" >/dev/null || true
	sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM sessions WHERE status = 'settled'" 2>/dev/null || echo "?"
}

# wrk_create: requests/s, p50 and p99 of the create load.
wrk_create() {
	wrk -t2 -c$CONNS -d${SECS}s --latency -s bench/sessions.lua $BASE >"$DIR/wrk.out" 2>"$DIR/wrk.err"
	local rps p50 p99 bad
	rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk.out")
	p50=$(awk '$1 == "50%" {print $2}' "$DIR/wrk.out")
	p99=$(awk '$1 == "99%" {print $2}' "$DIR/wrk.out")
	bad=$(grep -c unexpected "$DIR/wrk.err" || true)
	echo "$rps $p50 $p99 $bad"
}

echo "offramp bench: ${SECS}s each, $CONNS connections, $THREADS HTTP threads, $(nproc) cores, SQLite WAL synchronous=FULL, workers on"
start batch1 --commit-batch-max 1
HEALTH=$(wrk -t2 -c$CONNS -d${SECS}s $BASE/healthz | awk '/Requests\/sec/ {print $2}')
READ=$(wrk -t2 -c$CONNS -d${SECS}s -H "Authorization: Bearer $KEY" $BASE$ACCOUNT_PATH | awk '/Requests\/sec/ {print $2}')
read -r C1 C1P50 C1P99 C1BAD <<<"$(wrk_create)"
sleep 5
C1SET=$(settled)
C1ALL=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM sessions" 2>/dev/null || echo "?")
printf '%-10s %10s req/s\n' healthz "$HEALTH" read "$READ"
printf '%-10s %10s req/s  p50 %s  p99 %s  non-201 %s  settled 5 s after: %s of %s\n' \
	create/1 "$C1" "$C1P50" "$C1P99" "$C1BAD" "$C1SET" "$C1ALL"
stop

start group
read -r CG CGP50 CGP99 CGBAD <<<"$(wrk_create)"
sleep 5
CGSET=$(settled)
CGALL=$(sqlite3 "file:$DB?mode=ro" "SELECT count(*) FROM sessions" 2>/dev/null || echo "?")
printf '%-10s %10s req/s  p50 %s  p99 %s  non-201 %s  settled 5 s after: %s of %s\n' \
	create "$CG" "$CGP50" "$CGP99" "$CGBAD" "$CGSET" "$CGALL"
stop

/usr/bin/python3 - "$HEALTH" "$READ" "$C1" "$CG" <<'PY'
import sys
h, r, c1, cg = map(float, sys.argv[1:])
print(f"create/create-1 = {cg/c1:.2f}   create/healthz = {cg/h:.3f}   create/read = {cg/r:.3f}   create-1/read = {c1/r:.3f}")
PY
