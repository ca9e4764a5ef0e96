#!/usr/bin/env bash
# Benchmarks: durable session creation against two baselines measured in
# the same run on the same server:
#   healthz  - GET /healthz: the HTTP stack alone (no key, no database)
#   read     - GET /client-accounts/{id}: key check + a read transaction
#   create   - POST /off-ramp-sessions with a fresh Idempotency-Key: key
#              check, validation, one durable write transaction (fsync) with
#              hold + session + idempotency record
# Prints requests/s for each and create as a ratio of the baselines, then
# checks the ledger. Needs wrk (installed if missing).
#   bench/run.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk; }
make -s build/offramp
BIN=$PWD/build/offramp
DIR=$(mktemp -d)
DB=$DIR/bench.db
PORT=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT

KEY=$($BIN admin create-tenant --name bench --db "$DB" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["api_key"])')
$BIN serve --db "$DB" --listen 127.0.0.1:$PORT 2>"$DIR/serve.log" &
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
body = {"account_ref": acct, "amount": {"currency": "USDC", "value": "1.00"}, "target_currency": "EUR",
        "target_rail": "fiat", "destination": {"method": "bank_transfer", "fiat_rail": "sepa_credit_transfer",
        "payment_reference": "RF18539007547034", "route_owner_ref": d["route_owner_ref"],
        "withdrawal_destination_id": d["id"], "destination": typed}}
print("export BENCH_BODY='%s'" % json.dumps(body))
print("export ACCOUNT_PATH=/%s" % acct)
PY
)"
export BENCH_AUTH="Bearer $KEY"

rate() { awk '/Requests\/sec/ {print $2}'; }
echo "offramp bench: ${SECS}s each, $CONNS connections, $(nproc) cores, SQLite WAL synchronous=FULL"
HEALTH=$(wrk -t2 -c$CONNS -d${SECS}s $BASE/healthz | rate)
READ=$(wrk -t2 -c$CONNS -d${SECS}s -H "Authorization: Bearer $KEY" $BASE$ACCOUNT_PATH | rate)
CREATE=$(wrk -t2 -c$CONNS -d${SECS}s -s bench/sessions.lua $BASE | rate)
printf '%-8s %12s req/s\n' healthz "$HEALTH" read "$READ" create "$CREATE"
/usr/bin/python3 - "$HEALTH" "$READ" "$CREATE" <<'PY'
import sys
h, r, c = map(float, sys.argv[1:])
print(f"create/healthz = {c/h:.3f}   create/read = {c/r:.3f}   read/healthz = {r/h:.3f}")
PY
kill -TERM $PID; wait $PID
$BIN admin verify-ledger --db "$DB" | /usr/bin/python3 -c 'import json,sys;r=json.load(sys.stdin);print("ledger ok=%s sessions=%d transfers=%d" % (r["ok"], r["sessions"], r["transfers"]))'
