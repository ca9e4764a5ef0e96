-- bench/pg_create.sql: one POST /off-ramp-sessions as PostgreSQL sees it, for
-- pgbench (make bench-pg, bench/pg_bench.py): the statements
-- src/store/pg/pg_store.c sends for one create, in the same order, the same
-- text ($n written :name), the same three transactions. One pgbench
-- "transaction" (one run of this script) is one create, with one COMMIT of
-- its write transaction: what PostgreSQL allows for a create's statements
-- without HTTP, JSON, validation, and without group commit.
--
-- Statements (27; bench/pg_bench.py checks them against a create it traces
-- with log_statement = 'all' on every run, and stops if they differ):
--   read 1  BEGIN RR; idempotency record by key (a fresh key: none, so the
--           read ends in ROLLBACK, as store_run's does on NOT_FOUND)
--   read 2  BEGIN RR; client account; saved destination; system account
--           'holds'; COMMIT
--   write   BEGIN RC; SAVEPOINT job (the committer's per-job savepoint);
--           the tenant settings in one statement (identity verification;
--           limits per transaction, per day, per month; platform bps; network
--           fee); fx rate USDC->EUR; approval policy; balance lock of the client account and of the
--           holds account (a zero row if missing, then SELECT ... FOR UPDATE);
--           the pending hold transfer; both balances written back; the
--           session row; the event-order advisory lock; the event with its
--           snapshot; webhook endpoints (to queue deliveries: none here); the
--           idempotency record with the stored answer; RELEASE SAVEPOINT job;
--           COMMIT
-- Not here: the API key lookup (BEGIN RR; api_keys JOIN principals; COMMIT):
-- its answer is cached LIMIT_AUTH_CACHE_MS (1 s) per node, so under load it
-- runs once a second, not once a create (the trace drops it when it shows);
-- the daily/monthly sums (session_sum), which run only when a limit is set
-- (the bench's tenant has none, so offramp does not run them either); the
-- first create's lazy creation of the holds account (a warm-up create runs
-- before the traced one).
--
-- Variables (-D, from bench/pg_bench.py): each :name takes the value the
-- traced create sent in its place (tenant, account, destination, the session,
-- transfer, event and idempotency columns: s_*, t_*, e_*, i_*), so rows are
-- the same size; an empty text is written '' (pgbench -D takes no empty
-- value), where the create sent an empty parameter. New ids are random 63-bit integers drawn by pgbench itself
-- (no extra round trip to fetch a uuid); the unique keys never clash. The
-- balances are written back from the values the FOR UPDATE read (\gset),
-- plus the hold, as offramp does; the account is funded with 1,000,000,000
-- USDC, millions of creates, so the figure never meets an empty balance
-- (offramp would refuse one; this script does not check).
\set sid random(1, 9223372036854775806)
\set tid random(1, 9223372036854775806)
\set eid random(1, 9223372036854775806)
\set ikey random(1, 9223372036854775806)

BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT tenant_id, endpoint, key, request_hash, status, body, created_at, expires_at
  FROM idempotency WHERE tenant_id = :tenant AND endpoint = :endpoint AND key = :ikey
  AND expires_at > :now;
ROLLBACK;

BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT id, tenant_id, client_id, kind, code, flags, created_at FROM accounts
  WHERE id = :account AND tenant_id = :tenant AND kind = 'client';
SELECT id, tenant_id, client_id, account_id, method, fiat_rail, currency, body, created_at
  FROM destinations WHERE id = :destination AND tenant_id = :tenant;
SELECT id, tenant_id, client_id, kind, code, flags, created_at FROM accounts
  WHERE tenant_id = :tenant AND code = :holds_code AND kind = 'system';
COMMIT;

BEGIN ISOLATION LEVEL READ COMMITTED;
SAVEPOINT job;
SELECT key, value FROM tenant_settings WHERE tenant_id = :tenant
  AND key IN (:k_verification, :k_limit_tx, :k_limit_day, :k_limit_month, :k_platform_bps,
  :k_network_fee, NULL, NULL);
SELECT value, scale FROM fx_rates WHERE source = :currency AND target = :s_target_currency;
SELECT tenant_id, threshold_currency, threshold_minor, updated_at FROM policies
  WHERE tenant_id = :tenant;
INSERT INTO balances(account_id, currency, debits_posted, credits_posted, debits_pending,
  credits_pending) VALUES (:account, :currency, 0, 0, 0, 0) ON CONFLICT DO NOTHING;
SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM balances
  WHERE account_id = :account AND currency = :currency FOR UPDATE \gset a_
INSERT INTO balances(account_id, currency, debits_posted, credits_posted, debits_pending,
  credits_pending) VALUES (:holds, :currency, 0, 0, 0, 0) ON CONFLICT DO NOTHING;
SELECT debits_posted, credits_posted, debits_pending, credits_pending FROM balances
  WHERE account_id = :holds AND currency = :currency FOR UPDATE \gset h_
\set a_pending :a_debits_pending + :t_amount
\set h_pending :h_credits_pending + :t_amount
INSERT INTO transfers(id, op, pending_id, debit_account_id, credit_account_id, currency,
  amount, session_id, kind, created_at)
  VALUES (:tid, :t_op, NULL, :account, :holds, :currency, :t_amount, :sid, :t_kind, :now)
  ON CONFLICT DO NOTHING;
INSERT INTO balances(account_id, currency, debits_posted, credits_posted, debits_pending,
  credits_pending) VALUES (:account, :currency, :a_debits_posted, :a_credits_posted,
  :a_pending, :a_credits_pending) ON CONFLICT (account_id, currency) DO UPDATE SET
  debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,
  debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending;
INSERT INTO balances(account_id, currency, debits_posted, credits_posted, debits_pending,
  credits_pending) VALUES (:holds, :currency, :h_debits_posted, :h_credits_posted,
  :h_debits_pending, :h_pending) ON CONFLICT (account_id, currency) DO UPDATE SET
  debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,
  debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending;
INSERT INTO sessions(id, tenant_id, account_id, client_id, destination_id, principal_id,
  principal_kind, status, stage, currency, principal_minor, fee_network_minor,
  fee_platform_minor, fee_total_minor, target_currency, target_rail, method, fiat_rail,
  payment_reference, failure_reason, hold_transfer_id, version, created_at, updated_at,
  settled_at, next_run_ms, lease_owner, lease_until_ms, attempts, fill_rate_value,
  fill_rate_scale, delivered_minor, approval_id, approved_by_id, approved_by_kind, network,
  event_seq, fee_partner_minor, locked_rate_value, locked_rate_scale, payout_reference,
  waiting_reason)
  VALUES (:sid, :tenant, :account, :client, :destination, :principal, :s_principal_kind,
  :s_status, :s_stage, :currency, :s_principal_minor, :s_fee_network_minor,
  :s_fee_platform_minor, :s_fee_total_minor, :s_target_currency, :s_target_rail, :s_method,
  :s_fiat_rail, :s_payment_reference, '', :tid, :s_version, :now, :now,
  :s_settled_at, :s_next_run_ms, '', :s_lease_until_ms, :s_attempts,
  :s_fill_rate_value, :s_fill_rate_scale, :s_delivered_minor, '',
  '', '', :s_network, :s_event_seq, :s_fee_partner_minor,
  :s_locked_rate_value, :s_locked_rate_scale, '', '') ON CONFLICT DO NOTHING;
SELECT pg_advisory_xact_lock(:event_lock);
INSERT INTO events(id, tenant_id, resource_id, resource_seq, type, data, created_at)
  VALUES (:eid, :tenant, :sid, :e_resource_seq, :e_type, :e_data, :now)
  ON CONFLICT DO NOTHING RETURNING seq;
SELECT id, tenant_id, url, format, event_types, enabled, disabled_reason, secret,
  previous_secret, previous_until, created_at, updated_at FROM webhook_endpoints
  WHERE tenant_id = :tenant ORDER BY id LIMIT 1000;
INSERT INTO idempotency(tenant_id, endpoint, key, request_hash, status, body, created_at,
  expires_at) VALUES (:tenant, :endpoint, :ikey, :i_request_hash, :i_status, :i_body, :now,
  :i_expires_at) ON CONFLICT (tenant_id, endpoint, key) DO UPDATE SET
  request_hash = excluded.request_hash, status = excluded.status, body = excluded.body,
  created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE idempotency.expires_at <= excluded.created_at;
RELEASE SAVEPOINT job;
COMMIT;
