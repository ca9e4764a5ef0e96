#!/bin/sh
# docs/RAILS.md's worked example, as one script: the bank file rail from a
# session to its pain.001 file, the bank's camt.054 booking, and a return.
# Start the server first (from the checkout, a fresh ./offramp.db):
#   ./build/offramp serve --rails sepa_file --rail-dir ./bank --sandbox-step-ms 200 \
#     --sepa-debtor-name "Offramp Operator GmbH" --sepa-debtor-iban DE89370400440532013000 \
#     --sepa-debtor-bic COBADEFFXXX --sepa-batch-ms 500
# then run examples/sepa-file.sh. OFFRAMP_URL (default http://localhost:8080),
# OFFRAMP_BIN (default ./build/offramp), OFFRAMP_RAIL_DIR (default ./bank) and
# OFFRAMP_DB point elsewhere. tests/e2e/test_sepa_file.py runs it.
set -eu
URL="${OFFRAMP_URL:-http://localhost:8080}"
OFFRAMP="${OFFRAMP_BIN:-./build/offramp}"
BANK="${OFFRAMP_RAIL_DIR:-./bank}"
SCHEMAS="${OFFRAMP_SCHEMAS:-./schemas/iso20022}"

# 1. A tenant, a funded client and a saved SEPA destination (as in the README).
KEY=$("$OFFRAMP" admin create-tenant --name "Acme" | jq -r .api_key)
H="Authorization: Bearer $KEY"; J="Content-Type: application/json"
ACCOUNT=$(curl -sf -H "$H" -H "$J" -d '{"display_name":"Acme Treasury"}' "$URL/clients" \
  | jq -r .default_account_ref)
curl -sf -H "$H" -H "$J" "$URL/sandbox/deposits" \
  -d '{"account_ref":"'"$ACCOUNT"'","amount":{"currency":"USDC","value":"1000.00"}}' >/dev/null
DEST='{"method":"bank_transfer","fiat_rail":"sepa_credit_transfer","currency":"EUR",
  "beneficiary_name":"Acme Treasury","reference_hint":null,
  "bank_coordinates":{"account_holder_name":"Acme Treasury","bank_name":"Demo Bank",
    "bic":"NWBKGB2L","country":"GB","iban":"GB29NWBK60161331926819","scheme":"iban"}}'
SAVED=$(curl -sf -H "$H" -H "$J" -H "Idempotency-Key: dest-$(date +%s%N)" "$URL/withdrawal-destinations" \
  -d '{"account_ref":"'"$ACCOUNT"'","destination":'"$DEST"'}')
DEST_ID=$(echo "$SAVED" | jq -r .id); CLIENT=$(echo "$SAVED" | jq -r .route_owner_ref)

# 2. A 250.00 USDC session to that destination, with an RF creditor reference.
SESSION=$(curl -sf -H "$H" -H "$J" "$URL/off-ramp-sessions" -d '{
  "account_ref":"'"$ACCOUNT"'","amount":{"currency":"USDC","value":"250.00"},
  "target_currency":"EUR","target_rail":"fiat",
  "destination":{"method":"bank_transfer","fiat_rail":"sepa_credit_transfer",
    "payment_reference":"RF18539007547034","route_owner_ref":"'"$CLIENT"'",
    "withdrawal_destination_id":"'"$DEST_ID"'","destination":'"$DEST"'}}' | jq -r .id)
E2E=$(echo "$SESSION" | tr -d -)
echo "session $SESSION, EndToEndId $E2E"

# 3. Once the batch window has passed the session is `executed` and its
#    payment is in a pain.001 file in $BANK/outbound/, valid against the XSD.
wait_for() { # STATUS
  for _ in $(seq 100); do
    [ "$(curl -sf -H "$H" "$URL/off-ramp-sessions/$SESSION" | jq -r .status)" = "$1" ] && return 0
    sleep 0.2
  done
  echo "session $SESSION never became $1" >&2; return 1
}
wait_for executed
FILE=$(grep -l "<EndToEndId>$E2E</EndToEndId>" "$BANK"/outbound/*.xml)
xmllint --noout --schema "$SCHEMAS/pain.001.001.09.xsd" "$FILE"
MSGID=$(xmllint --xpath 'string(//*[local-name()="GrpHdr"]/*[local-name()="MsgId"])' "$FILE")
AMOUNT=$(xmllint --xpath "string(//*[local-name()='CdtTrfTxInf'][.//*[local-name()='EndToEndId']='$E2E']//*[local-name()='InstdAmt'])" "$FILE")
echo "file $(basename "$FILE"): MsgId $MSGID, $AMOUNT EUR to GB29NWBK60161331926819"

# 4. The bank books the payment: a camt.054 debit entry naming its EndToEndId,
#    written under a hidden name and renamed into inbound/. The session
#    settles; the report moves to processed/.
camt054() { # ID CDTDBTIND RETURN-INFO
  cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>
<GrpHdr><MsgId>$1</MsgId><CreDtTm>2026-05-03T18:00:00</CreDtTm></GrpHdr>
<Ntfctn><Id>$1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">$AMOUNT</Amt><CdtDbtInd>$2</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BkTxCd/>
<NtryDtls><TxDtls><Refs><MsgId>$MSGID</MsgId><EndToEndId>$E2E</EndToEndId></Refs>
<Amt Ccy="EUR">$AMOUNT</Amt><CdtDbtInd>$2</CdtDbtInd>$3</TxDtls></NtryDtls></Ntry>
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>
XML
}
camt054 "N$E2E" DBIT "" > "$BANK/inbound/.booking.tmp"
mv "$BANK/inbound/.booking.tmp" "$BANK/inbound/booking-$E2E.xml"
wait_for settled
curl -sf -H "$H" "$URL/client-accounts/${ACCOUNT#client-accounts/}" | jq -c '.balances[0]'

# 5. Weeks later the bank returns it (AC04, account closed): a camt.054
#    credit entry with return information. The session is `returned`, the
#    250.00 principal is credited back, the 1.00 fee is kept.
camt054 "R$E2E" CRDT "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>" > "$BANK/return-$E2E.xml"
"$OFFRAMP" admin import-bank-file "$BANK/return-$E2E.xml" --rail-dir "$BANK"
wait_for returned
curl -sf -H "$H" "$URL/off-ramp-sessions/$SESSION" | jq -c '{status, failure_reason, failure_detail}'
curl -sf -H "$H" "$URL/client-accounts/${ACCOUNT#client-accounts/}" | jq -c '.balances[0]'
curl -sf -H "$H" "$URL/events?resource=off-ramp-sessions/$SESSION" | jq -r '.items[].type'
"$OFFRAMP" admin verify-ledger
