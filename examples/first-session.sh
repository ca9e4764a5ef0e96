#!/bin/sh
# The README's "First request", as one script: a tenant, a funded client, a
# saved SEPA destination, the seed page's session, and its settlement.
# Run it from the checkout while `make run` serves (same ./offramp.db):
#   examples/first-session.sh
# OFFRAMP_URL (default http://localhost:8080), OFFRAMP_BIN (default
# ./build/offramp) and OFFRAMP_DB (default ./offramp.db) point elsewhere.
# tests/e2e/test_readme.py runs it and checks the README shows these lines.
set -eu

# --- walkthrough (the README shows from here to the end) ---
# 0. Where the server and the binary are (run from the checkout).
URL="${OFFRAMP_URL:-http://localhost:8080}"
OFFRAMP="${OFFRAMP_BIN:-./build/offramp}"

# 1. A tenant and its first API key (it holds every capability; shown once).
KEY=$("$OFFRAMP" admin create-tenant --name "Acme" | jq -r .api_key)
H="Authorization: Bearer $KEY"; J="Content-Type: application/json"

# 2. A client (it comes with a default account), funded in the sandbox.
ACCOUNT=$(curl -sf -H "$H" -H "$J" -d '{"display_name":"Acme Treasury"}' "$URL/clients" \
  | jq -r .default_account_ref)
curl -sf -H "$H" -H "$J" "$URL/sandbox/deposits" \
  -d '{"account_ref":"'"$ACCOUNT"'","amount":{"currency":"USDC","value":"1000.00"}}' | jq -c .

# 3. A saved SEPA destination (an Idempotency-Key is required here).
DEST='{"method":"bank_transfer","fiat_rail":"sepa_credit_transfer","currency":"EUR",
  "beneficiary_name":"Acme Treasury","reference_hint":null,
  "bank_coordinates":{"account_holder_name":"Acme Treasury","bank_name":"Demo Bank",
    "bic":"NWBKGB2L","country":"GB","iban":"GB29NWBK60161331926819","scheme":"iban"}}'
SAVED=$(curl -sf -H "$H" -H "$J" -H "Idempotency-Key: dest-$(date +%s%N)" "$URL/withdrawal-destinations" \
  -d '{"account_ref":"'"$ACCOUNT"'","destination":'"$DEST"'}')
DEST_ID=$(echo "$SAVED" | jq -r .id); CLIENT=$(echo "$SAVED" | jq -r .route_owner_ref)

# 4. The seed page's session: 201, status executing, network_fee 1.00 USDC.
SESSION=$(curl -sf -H "$H" -H "$J" -H "Idempotency-Key: s-$(date +%s%N)" "$URL/off-ramp-sessions" -d '{
  "account_ref":"'"$ACCOUNT"'","amount":{"currency":"USDC","value":"250.00"},
  "target_currency":"EUR","target_rail":"fiat",
  "destination":{"method":"bank_transfer","fiat_rail":"sepa_credit_transfer",
    "payment_reference":"RF18539007547034","route_owner_ref":"'"$CLIENT"'",
    "withdrawal_destination_id":"'"$DEST_ID"'","destination":'"$DEST"'}}' | jq -r .id)
echo "session $SESSION"

# 5. At once the account shows USDC available 749.00, held 251.00. About 3 s later
#    the session is settled (fill_rate 0.92, delivered 230.00 EUR) and the hold is
#    posted: available 749.00, held 0.00, total 749.00. Its history is in the event log.
curl -sf -H "$H" "$URL/client-accounts/${ACCOUNT#client-accounts/}" | jq -c '.balances[0]'
for _ in $(seq 60); do
  STATUS=$(curl -sf -H "$H" "$URL/off-ramp-sessions/$SESSION" | jq -r .status)
  case $STATUS in settled|failed|cancelled) break ;; esac
  sleep 0.5
done
curl -sf -H "$H" "$URL/off-ramp-sessions/$SESSION" | jq -c '{status, fill_rate, delivered_amount}'
curl -sf -H "$H" "$URL/client-accounts/${ACCOUNT#client-accounts/}" | jq -c '.balances[0]'
curl -sf -H "$H" "$URL/events?resource=off-ramp-sessions/$SESSION" | jq -r '.items[].type'
"$OFFRAMP" admin verify-ledger
