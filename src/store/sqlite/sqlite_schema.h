/*
 * sqlite_schema.h - versioned migrations for the SQLite backend.
 *
 * Migration N brings the schema from version N-1 to N; each runs in its
 * own transaction with the version bump, so a crash mid-migration leaves
 * the previous version intact. Never edit a released migration: append.
 *
 * Invariants the schema itself enforces (defence in depth under the
 * service's own checks):
 *  - api key hashes are unique;
 *  - a hold (pending transfer) is posted or voided at most once
 *    (transfers_pending_once);
 *  - an idempotency key exists once per tenant and endpoint (unique key),
 *    the unique constraint that makes concurrent duplicates safe.
 */
#ifndef OFFRAMP_STORE_SQLITE_SCHEMA_H
#define OFFRAMP_STORE_SQLITE_SCHEMA_H

static const char *const sq_migrations[] = {
	/* 1: tenants, keys, clients, ledger, destinations, sessions, idempotency */
	"CREATE TABLE tenants("
	"  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE principals("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  kind TEXT NOT NULL CHECK (kind IN ('user','service')),"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE api_keys("
	"  id TEXT PRIMARY KEY, principal_id TEXT NOT NULL REFERENCES principals(id),"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id), key_hash BLOB NOT NULL UNIQUE,"
	"  capabilities INTEGER NOT NULL, revoked_at INTEGER, created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE clients("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  display_name TEXT NOT NULL, default_account_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE accounts("
	"  id TEXT PRIMARY KEY, tenant_id TEXT REFERENCES tenants(id),"
	"  client_id TEXT REFERENCES clients(id),"
	"  kind TEXT NOT NULL CHECK (kind IN ('client','system')),"
	"  code TEXT, flags INTEGER NOT NULL, created_at INTEGER NOT NULL) STRICT;"
	"CREATE UNIQUE INDEX accounts_system_code ON accounts(tenant_id, code) WHERE code IS NOT NULL;"
	"CREATE TABLE balances("
	"  account_id TEXT NOT NULL REFERENCES accounts(id), currency TEXT NOT NULL,"
	"  debits_posted INTEGER NOT NULL, credits_posted INTEGER NOT NULL,"
	"  debits_pending INTEGER NOT NULL, credits_pending INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, currency)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE transfers("
	"  id TEXT PRIMARY KEY, op TEXT NOT NULL, pending_id TEXT REFERENCES transfers(id),"
	"  debit_account_id TEXT NOT NULL REFERENCES accounts(id),"
	"  credit_account_id TEXT NOT NULL REFERENCES accounts(id),"
	"  currency TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0),"
	"  session_id TEXT, kind TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;"
	"CREATE UNIQUE INDEX transfers_pending_once ON transfers(pending_id)"
	"  WHERE pending_id IS NOT NULL;"
	"CREATE INDEX transfers_session ON transfers(session_id) WHERE session_id IS NOT NULL;"
	"CREATE TABLE destinations("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  account_id TEXT NOT NULL REFERENCES accounts(id),"
	"  method TEXT NOT NULL, fiat_rail TEXT NOT NULL, currency TEXT NOT NULL,"
	"  body TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE sessions("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  account_id TEXT NOT NULL REFERENCES accounts(id),"
	"  client_id TEXT NOT NULL REFERENCES clients(id),"
	"  destination_id TEXT NOT NULL REFERENCES destinations(id),"
	"  principal_id TEXT NOT NULL REFERENCES principals(id), principal_kind TEXT NOT NULL,"
	"  status TEXT NOT NULL, stage TEXT NOT NULL, currency TEXT NOT NULL,"
	"  principal_minor INTEGER NOT NULL CHECK (principal_minor > 0),"
	"  fee_network_minor INTEGER NOT NULL, fee_platform_minor INTEGER NOT NULL,"
	"  fee_total_minor INTEGER NOT NULL,"
	"  target_currency TEXT NOT NULL, target_rail TEXT NOT NULL, method TEXT NOT NULL,"
	"  fiat_rail TEXT NOT NULL, payment_reference TEXT NOT NULL,"
	"  failure_reason TEXT NOT NULL, hold_transfer_id TEXT NOT NULL REFERENCES transfers(id),"
	"  version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	"  settled_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX sessions_by_tenant ON sessions(tenant_id, id);"
	"CREATE INDEX sessions_by_status ON sessions(tenant_id, status, id);"
	"CREATE INDEX sessions_by_account ON sessions(tenant_id, account_id, id);"
	"CREATE TABLE idempotency("
	"  tenant_id TEXT NOT NULL, endpoint TEXT NOT NULL, key TEXT NOT NULL,"
	"  request_hash TEXT NOT NULL, status INTEGER NOT NULL, body BLOB,"
	"  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant_id, endpoint, key)) STRICT, WITHOUT ROWID;",

	/* 2: the session lifecycle: scheduling and leases, FX, approvals,
	 * policies, fees per tenant, the event log, the sandbox rail's book. */
	"ALTER TABLE sessions ADD COLUMN next_run_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN fill_rate_value INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN fill_rate_scale INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN delivered_minor INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN approval_id TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN approved_by_id TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN approved_by_kind TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN network TEXT NOT NULL DEFAULT 'ethereum';"
	"ALTER TABLE sessions ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX sessions_due ON sessions(next_run_ms)"
	"  WHERE status IN ('executing', 'executed');"
	"CREATE TABLE approvals("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  session_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
	"  initiator_id TEXT NOT NULL, initiator_kind TEXT NOT NULL,"
	"  decided_by_id TEXT NOT NULL, decided_by_kind TEXT NOT NULL,"
	"  currency TEXT NOT NULL, amount_minor INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL, decided_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX approvals_by_status ON approvals(tenant_id, status, id);"
	"CREATE TABLE policies("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),"
	"  threshold_currency TEXT NOT NULL, threshold_minor INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE fx_rates("
	"  source TEXT NOT NULL, target TEXT NOT NULL, value INTEGER NOT NULL CHECK (value > 0),"
	"  scale INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (source, target)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE tenant_settings("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id), key TEXT NOT NULL,"
	"  value INTEGER NOT NULL, PRIMARY KEY (tenant_id, key)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE events("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
	"  tenant_id TEXT NOT NULL, resource_id TEXT NOT NULL, resource_seq INTEGER NOT NULL,"
	"  type TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL,"
	"  UNIQUE (resource_id, resource_seq));"
	"CREATE INDEX events_by_tenant ON events(tenant_id, seq);"
	"CREATE INDEX events_by_resource ON events(tenant_id, resource_id, seq);"
	"CREATE TABLE sandbox_payouts("
	"  idempotency_key TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL,"
	"  session_id TEXT NOT NULL, rail TEXT NOT NULL, currency TEXT NOT NULL,"
	"  amount_minor INTEGER NOT NULL, outcome TEXT NOT NULL, calls INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX sandbox_payouts_by_tenant ON sandbox_payouts(tenant_id, session_id);",

	/* 3: the Lumx-compatible surface: what a resource carries beyond the
	 * engine's model (a customer's KYC fields, a destination's holder, a
	 * transaction's request and metadata), and lookups by client. */
	"CREATE TABLE resource_ext("
	"  resource_id TEXT NOT NULL, kind TEXT NOT NULL, tenant_id TEXT NOT NULL,"
	"  body TEXT NOT NULL, PRIMARY KEY (resource_id, kind)) STRICT, WITHOUT ROWID;"
	"CREATE INDEX destinations_by_client ON destinations(tenant_id, client_id, id);"
	"CREATE INDEX sessions_by_client ON sessions(tenant_id, client_id, id);",

	/* 4: partner fees, locked exchange rates. */
	"ALTER TABLE sessions ADD COLUMN fee_partner_minor INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN locked_rate_value INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN locked_rate_scale INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE exchange_rates("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  type TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,"
	"  value INTEGER NOT NULL CHECK (value > 0), scale INTEGER NOT NULL,"
	"  time_lock TEXT NOT NULL, expires_at INTEGER NOT NULL, used_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE partner_fees("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL, bps INTEGER NOT NULL, flat_minor INTEGER NOT NULL,"
	"  is_default INTEGER NOT NULL, created_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX partner_fees_default ON partner_fees(tenant_id, is_default, id);"
	"CREATE INDEX sessions_by_client_day ON sessions(tenant_id, client_id, created_at);",

	/* 5: webhooks: endpoints, the delivery outbox, attempts. */
	"CREATE TABLE webhook_endpoints("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  url TEXT NOT NULL, format TEXT NOT NULL, event_types TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL, disabled_reason TEXT NOT NULL, secret TEXT NOT NULL,"
	"  previous_secret TEXT NOT NULL, previous_until INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints(tenant_id, id);"
	"CREATE TABLE webhook_deliveries("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, endpoint_id TEXT NOT NULL,"
	"  event_id TEXT NOT NULL, message_id TEXT NOT NULL, type TEXT NOT NULL,"
	"  body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
	"  next_attempt_ms INTEGER NOT NULL, lease_owner TEXT NOT NULL,"
	"  lease_until_ms INTEGER NOT NULL, last_status INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_ms)"
	"  WHERE status = 'pending';"
	"CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint_id, status);"
	"CREATE TABLE webhook_attempts("
	"  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, endpoint_id TEXT NOT NULL,"
	"  delivery_id TEXT NOT NULL, event_id TEXT NOT NULL, attempt INTEGER NOT NULL,"
	"  status_code INTEGER NOT NULL, error TEXT NOT NULL, duration_ms INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts(tenant_id, endpoint_id, id);",

	/* 6: fair webhook claims: each endpoint's pending deliveries in due
	 * order (and the endpoints that have any), and the few leased ones, so
	 * a claim costs the same beside a backlog of any size. */
	"CREATE INDEX webhook_deliveries_due_by_endpoint"
	"  ON webhook_deliveries(endpoint_id, next_attempt_ms) WHERE status = 'pending';"
	"CREATE INDEX webhook_deliveries_leased ON webhook_deliveries(endpoint_id)"
	"  WHERE status = 'pending' AND lease_until_ms > 0;",

	/* 7: idempotency records in a rowid table. WITHOUT ROWID kept each
	 * whole record (the stored answer, ~1.5 KiB) in the key's b-tree,
	 * past its local payload limit, so every record took an overflow
	 * page and random keys dirtied pages all over the tree on every
	 * commit; now records append in insert order and only the small
	 * unique key index is random. */
	"CREATE TABLE idempotency_v7("
	"  id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, endpoint TEXT NOT NULL, key TEXT NOT NULL,"
	"  request_hash TEXT NOT NULL, status INTEGER NOT NULL, body BLOB,"
	"  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	"  UNIQUE (tenant_id, endpoint, key)) STRICT;"
	"INSERT INTO idempotency_v7(tenant_id, endpoint, key, request_hash, status, body, created_at,"
	"  expires_at) SELECT tenant_id, endpoint, key, request_hash, status, body, created_at,"
	"  expires_at FROM idempotency ORDER BY created_at;"
	"DROP TABLE idempotency;"
	"ALTER TABLE idempotency_v7 RENAME TO idempotency;",

	/* 8 (scale, docs/SCALE.md): a page of one account's sessions in one
	 * status (GET /off-ramp-sessions?account_ref=&status=) seeks its rows
	 * rather than reading the account's sessions of every status. */
	"CREATE INDEX sessions_by_account_status ON sessions(tenant_id, account_id, status, id);",

	/* 9: the EVM rail (rails/evm.c): a session's payout reference and why
	 * it waits; each account's next nonce; each payout's signed
	 * transaction, written before it is broadcast. */
	"ALTER TABLE sessions ADD COLUMN payout_reference TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE sessions ADD COLUMN waiting_reason TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE chain_nonces("
	"  account TEXT PRIMARY KEY, next_nonce INTEGER NOT NULL CHECK (next_nonce >= 0)) STRICT;"
	"CREATE TABLE chain_txs("
	"  idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, session_id TEXT NOT NULL,"
	"  network TEXT NOT NULL, chain_id INTEGER NOT NULL, sender TEXT NOT NULL,"
	"  nonce INTEGER NOT NULL, contract TEXT NOT NULL, calldata TEXT NOT NULL,"
	"  gas_limit INTEGER NOT NULL, gas_price_wei INTEGER NOT NULL, raw TEXT NOT NULL,"
	"  hash TEXT NOT NULL, prior_hashes TEXT NOT NULL, replacements INTEGER NOT NULL,"
	"  amount_units INTEGER NOT NULL CHECK (amount_units >= 0),"
	"  tx_type INTEGER NOT NULL CHECK (tx_type IN (0, 2)), tip_wei INTEGER NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('signed','sent','mined')), sent_at_ms INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL, UNIQUE (chain_id, sender, nonce)) STRICT;"
	"CREATE INDEX chain_txs_pending ON chain_txs(chain_id, sender, contract)"
	"  WHERE state <> 'mined';",

	/* 10 (bank file rail, docs/RAILS.md): the rail's own code for a
	 * failure or a return (the ISO 20022 reason, "AC04"). */
	"ALTER TABLE sessions ADD COLUMN failure_detail TEXT NOT NULL DEFAULT '';",
};

#define SQ_SCHEMA_VERSION ((int)(sizeof sq_migrations / sizeof *sq_migrations))

#endif
