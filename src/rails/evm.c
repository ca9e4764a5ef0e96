/*
 * evm.c - the EVM rail: ERC-20 payouts over JSON-RPC (evm.h; the bytes
 * come from evm_codec.c).
 *
 * Exactly once. A payout's transaction is built, its nonce taken
 * (chain_nonce_take, atomic across nodes) and the signed bytes written to
 * the store (chain_txs, keyed by the call's idempotency key) in ONE write
 * transaction, BEFORE anything is broadcast. Every later call for that key
 * - a retry, a restart after a crash, another node after a lost lease -
 * finds the row and re-sends the same bytes, or finds them on chain by
 * hash; it never signs a second transfer. Signing is deterministic
 * (RFC 6979), so a rerun of that write transaction signs the same bytes.
 *
 * Stuck transactions. A transaction with no receipt replace_after_ms after
 * its last broadcast is re-signed at the same nonce with a fee 25% higher
 * (legacy: at least the node's current gas price; EIP-1559: tip and max
 * fee both; at most LIMIT_EVM_GAS_PRICE_MAX_WEI, at most
 * LIMIT_EVM_REPLACEMENTS times); the
 * row is rewritten (keeping the replaced hashes) before the broadcast. The
 * nonce admits only one of them on chain, and receipts are looked for
 * under every hash the row ever had, so whichever is mined is the payout.
 *
 * Outcomes. payout_submit: OK with the hash once the node has the
 * transaction (executed); PENDING "hot_wallet_underfunded" while the
 * wallet's token balance is short (nothing signed: the session waits, it
 * does not fail); REJECTED chain_transfer_failed when the node says the
 * transfer would revert (nothing sent). payout_status: OK after
 * --evm-confirmations blocks, REJECTED chain_transfer_failed for receipt
 * status 0, else PENDING. The chain-transfer stage settles against the
 * operator's treasury at once (the payout is the on-chain leg).
 *
 * The node is not trusted: answers are read up to LIMIT_EVM_RPC_BYTES
 * within LIMIT_EVM_RPC_TIMEOUT_MS, must be JSON-RPC 2.0 with our id, and
 * every hex field is checked for length and digits before use. The key is
 * never logged, never in an error, and wiped when the rail closes.
 *
 * Test hook: OFFRAMP_TEST_EVM_CRASH=signed|sent makes the process SIGKILL
 * itself right after the signed transaction is stored (before broadcast),
 * or right after the broadcast (before the session's commit).
 */
#include "rails/evm.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "rails/evm_codec.h"
#include "store/store.h"

struct evm {
	struct rail base;
	struct rail *fallback;
	struct store *store;
	struct evm_config cfg;
	char url[2048];
	struct evm_signer *signer;
	uint8_t sender[EVM_ADDR_LEN];
	char sender_hex[43];
};

/* ---- configuration -------------------------------------------------------- */

static bool split(const char *spec, char *parts[3], int want, char *buf, size_t cap)
{
	if (strlen(spec) >= cap)
		return false;
	snprintf(buf, cap, "%s", spec);
	char *save = NULL, *t = strtok_r(buf, ":", &save);
	int n = 0;
	for (; t && n < 3; t = strtok_r(NULL, ":", &save))
		parts[n++] = t;
	return n == want && !t;
}

bool evm_config_token(struct evm_config *c, const char *spec, char *err, size_t errlen)
{
	char buf[128], *p[3];
	uint8_t addr[EVM_ADDR_LEN];
	if (c->n_tokens >= LIMIT_EVM_TOKENS || !split(spec, p, 3, buf, sizeof buf) ||
	    strlen(p[0]) >= sizeof c->tokens[0].asset ||
	    strlen(p[1]) >= sizeof c->tokens[0].network || !evm_hex_decode(p[2], addr, sizeof addr) ||
	    money_currency(p[0]) == CUR_NONE) {
		snprintf(err, errlen, "--evm-token wants ASSET:NETWORK:0x<40 hex digits> (at most %d)",
			 LIMIT_EVM_TOKENS);
		return false;
	}
	snprintf(c->tokens[c->n_tokens].asset, sizeof c->tokens[0].asset, "%s", p[0]);
	snprintf(c->tokens[c->n_tokens].network, sizeof c->tokens[0].network, "%s", p[1]);
	evm_hex_encode(addr, sizeof addr, c->tokens[c->n_tokens].contract);
	c->n_tokens++;
	return true;
}

bool evm_config_tx_type(struct evm_config *c, const char *word)
{
	static const char *const names[] = {"auto", "legacy", "eip1559"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(word, names[i])) {
			c->tx_type = i;
			return true;
		}
	return false;
}

bool evm_config_chain(struct evm_config *c, const char *spec, char *err, size_t errlen)
{
	char buf[64], *p[3], *end;
	if (c->n_chains >= LIMIT_EVM_CHAINS || !split(spec, p, 2, buf, sizeof buf) ||
	    strlen(p[0]) >= sizeof c->chains[0].network) {
		snprintf(err, errlen, "--evm-chain-id wants NETWORK:ID (at most %d)", LIMIT_EVM_CHAINS);
		return false;
	}
	errno = 0;
	unsigned long long id = strtoull(p[1], &end, 10);
	if (errno || *end || id == 0 || id > UINT32_MAX || p[1][0] == '-') {
		snprintf(err, errlen, "--evm-chain-id: ID must be 1..%u", UINT32_MAX);
		return false;
	}
	snprintf(c->chains[c->n_chains].network, sizeof c->chains[0].network, "%s", p[0]);
	c->chains[c->n_chains].chain_id = id;
	c->n_chains++;
	return true;
}

/* The key file: only its owner may read it; "0x" + 64 hex digits and an
 * optional newline. The buffers holding it are wiped. */
static bool read_key(const char *path, uint8_t key[EVM_KEY_LEN], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "--evm-key-file: cannot open %s as a regular file", path);
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "--evm-key-file: %s may be read by group or others (mode %03o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return false;
	}
	char buf[80] = {0};
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	bool ok = n == 66 && evm_hex_decode(buf, key, EVM_KEY_LEN);
	explicit_bzero(buf, sizeof buf);
	if (!ok)
		snprintf(err, errlen, "--evm-key-file: %s does not hold one key (0x + 64 hex digits)",
			 path);
	return ok;
}

/* ---- JSON-RPC --------------------------------------------------------- */

struct body {
	char *b;
	size_t n;
	bool over;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t len = size * nmemb;
	if (len > LIMIT_EVM_RPC_BYTES - b->n) {
		b->over = true;
		return 0; /* aborts the transfer */
	}
	memcpy(b->b + b->n, p, len);
	b->n += len;
	return len;
}

/* What a call answered: the result (owned, NULL for an error or no
 * answer), and the node's error message when it gave one. */
struct rpc_out {
	json_t *result;
	bool answered;   /* a well-formed JSON-RPC answer, result or error */
	char error[160]; /* the node's error message ("" when none) */
};

/* One call: method(params) (params taken). Never logs the request body
 * (a raw transaction is not secret, but nothing here needs it either). */
static void rpc(const struct evm *e, const char *method, json_t *params, struct rpc_out *out)
{
	memset(out, 0, sizeof *out);
	static _Atomic long next_id = 1;
	long id = next_id++;
	json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)id,
				"method", method, "params", params ? params : json_array());
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	struct body b = {.b = malloc(LIMIT_EVM_RPC_BYTES)};
	CURL *h = text && b.b ? curl_easy_init() : NULL;
	if (!h) {
		snprintf(out->error, sizeof out->error, "out of memory");
		goto done;
	}
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, e->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)LIMIT_EVM_RPC_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)LIMIT_EVM_RPC_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK || b.over) {
		snprintf(out->error, sizeof out->error, "%s", b.over ? "answer too large" : curl_easy_strerror(rc));
		log_error("evm: %s: %s", method, out->error);
		goto done;
	}
	json_error_t jerr;
	json_t *ans = json_loadb(b.b, b.n, JSON_REJECT_DUPLICATES, &jerr);
	json_t *jid = json_object_get(ans, "id"), *err = json_object_get(ans, "error");
	if (!json_is_object(ans) || !json_is_integer(jid) || json_integer_value(jid) != id ||
	    (!err && !json_object_get(ans, "result"))) {
		snprintf(out->error, sizeof out->error, "not a JSON-RPC answer (HTTP %ld)", status);
		log_error("evm: %s: %s", method, out->error);
		json_decref(ans);
		goto done;
	}
	out->answered = true;
	if (err) {
		const char *m = json_string_value(json_object_get(err, "message"));
		snprintf(out->error, sizeof out->error, "%s", m ? m : "error without a message");
	} else {
		out->result = json_incref(json_object_get(ans, "result"));
	}
	json_decref(ans);
done:
	free(b.b);
	free(text);
}

/* A quantity answer ("0x1a") into *v; false (logged) otherwise. */
static bool rpc_quantity(const struct evm *e, const char *method, json_t *params, uint64_t *v)
{
	struct rpc_out o;
	rpc(e, method, params, &o);
	bool ok = o.result && evm_quantity_parse(json_string_value(o.result), v);
	if (!ok && o.answered)
		log_error("evm: %s: %s", method, o.error[0] ? o.error : "not a quantity");
	json_decref(o.result);
	return ok;
}

/* eth_call of contract with call data (hex); the 32-byte word answered. */
static bool rpc_call_word(const struct evm *e, const char *contract, const char *data,
			  uint8_t word[32])
{
	struct rpc_out o;
	rpc(e, "eth_call",
	    json_pack("[{s:s, s:s}, s]", "to", contract, "data", data, "latest"), &o);
	bool ok = o.result && evm_hex_decode(json_string_value(o.result), word, 32);
	if (!ok && o.answered)
		log_error("evm: eth_call %s: %s", contract, o.error[0] ? o.error : "not one word");
	json_decref(o.result);
	return ok;
}

/* ---- which sessions are ours ----------------------------------------- */

static const char *token_for(const struct evm *e, const struct rail_call *c)
{
	if (!c->network || strcmp(c->rail_name, "crypto") != 0)
		return NULL;
	for (int i = 0; i < e->cfg.n_tokens; i++)
		if (!strcmp(e->cfg.tokens[i].network, c->network) &&
		    !strcmp(e->cfg.tokens[i].asset, money_currency_code(c->currency)))
			return e->cfg.tokens[i].contract;
	return NULL;
}

static uint64_t chain_for(const struct evm *e, const char *network)
{
	for (int i = 0; network && i < e->cfg.n_chains; i++)
		if (!strcmp(e->cfg.chains[i].network, network))
			return e->cfg.chains[i].chain_id;
	return 0;
}

static bool ours(const struct evm *e, const struct rail_call *c)
{
	return token_for(e, c) && chain_for(e, c->network);
}

/* ---- the book ------------------------------------------------------------ */

struct book_arg {
	const char *key;
	struct store_chain_tx *row;
	enum store_status found; /* get */
};

static enum store_status get_tx(struct store_tx *tx, void *arg)
{
	struct book_arg *a = arg;
	a->found = STORE_CALL(tx, chain_tx_get, a->key, a->row);
	return a->found == STORE_NOT_FOUND ? STORE_OK : a->found;
}

static enum store_status update_tx(struct store_tx *tx, void *arg)
{
	return STORE_CALL(tx, chain_tx_update, (const struct store_chain_tx *)arg);
}

/* The row as a transaction to sign (nonce, fee and all from the row). */
static bool row_tx(const struct store_chain_tx *r, struct evm_tx *tx, uint8_t data[EVM_CALLDATA_LEN])
{
	memset(tx, 0, sizeof *tx);
	tx->type = r->tx_type == EVM_TX_EIP1559 ? EVM_TX_EIP1559 : EVM_TX_LEGACY;
	tx->nonce = (uint64_t)r->nonce;
	tx->gas_price_wei = (uint64_t)r->gas_price_wei;
	tx->max_priority_fee_wei = (uint64_t)r->tip_wei;
	tx->gas_limit = (uint64_t)r->gas_limit;
	tx->chain_id = (uint64_t)r->chain_id;
	tx->data = data;
	tx->data_len = EVM_CALLDATA_LEN;
	return evm_hex_decode(r->contract, tx->to, EVM_ADDR_LEN) &&
	       evm_hex_decode(r->calldata, data, EVM_CALLDATA_LEN);
}

/* Sign the row's transaction into its raw and hash. */
static bool row_sign(const struct evm *e, struct store_chain_tx *r)
{
	struct evm_tx tx;
	uint8_t data[EVM_CALLDATA_LEN], raw[EVM_TX_MAX], hash[EVM_HASH_LEN];
	if (!row_tx(r, &tx, data))
		return false;
	size_t n = evm_tx_sign(e->signer, &tx, raw, sizeof raw, hash);
	if (n == 0)
		return false;
	evm_hex_encode(raw, n, r->raw);
	evm_hex_encode(hash, sizeof hash, r->hash);
	return true;
}

struct sign_arg {
	const struct evm *e;
	struct store_chain_tx *row; /* in: everything but nonce, raw, hash */
	int64_t floor;
	int64_t balance; /* the wallet's units on chain, read before */
	bool existed;
	bool short_funds; /* rolled back: what is in flight leaves too little */
};

/* Take the nonce, check the funds, sign, store: one transaction,
 * re-runnable (signing is deterministic). A row already there (a racing
 * call) wins. The nonce take comes first: on PostgreSQL its row lock
 * orders every signer of this wallet, so the sum of what is in flight is
 * read by one at a time and two payouts cannot both count the same
 * tokens. */
static enum store_status sign_tx(struct store_tx *tx, void *arg)
{
	struct sign_arg *a = arg;
	struct store_chain_tx *r = a->row;
	struct store_chain_tx have;
	a->short_funds = false;
	enum store_status st = STORE_CALL(tx, chain_tx_get, r->idempotency_key, &have);
	a->existed = st == STORE_OK;
	if (st == STORE_OK) {
		*r = have;
		return STORE_OK;
	}
	if (st != STORE_NOT_FOUND)
		return st;
	char account[80];
	snprintf(account, sizeof account, "%lld:%s", (long long)r->chain_id, r->sender);
	st = STORE_CALL(tx, chain_nonce_take, account, a->floor, &r->nonce);
	int64_t pending = 0;
	if (st == STORE_OK)
		st = STORE_CALL(tx, chain_pending_units, r->chain_id, r->sender, r->contract, &pending);
	if (st != STORE_OK)
		return st;
	if (a->balance - pending < r->amount_units) {
		a->short_funds = true;
		return STORE_ABORT; /* the nonce take rolls back with it */
	}
	if (!row_sign(a->e, r))
		return STORE_FAIL;
	return STORE_CALL(tx, chain_tx_insert, r);
}

static void crash_hook(const char *point)
{
	const char *want = getenv("OFFRAMP_TEST_EVM_CRASH");
	if (want && !strcmp(want, point)) {
		log_info("evm: OFFRAMP_TEST_EVM_CRASH=%s: killing the process", point);
		raise(SIGKILL);
	}
}

/* ---- submit ------------------------------------------------------------- */

static void result_set(struct rail_result *r, enum rail_outcome o, const char *reason,
		       const char *reference)
{
	r->outcome = o;
	snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
	snprintf(r->reference, sizeof r->reference, "%s", reference ? reference : "");
}

/* Whether the node knows the transaction (pending or mined). */
static bool known(const struct evm *e, const char *hash)
{
	struct rpc_out o;
	rpc(e, "eth_getTransactionByHash", json_pack("[s]", hash), &o);
	const char *h = json_string_value(json_object_get(o.result, "hash"));
	bool yes = json_is_object(o.result) && h && !strcasecmp(h, hash);
	json_decref(o.result);
	return yes;
}

/* Send the stored bytes; true once the node has them (its answer, or
 * found by hash after an error such as "already known" / "nonce too low"
 * for a transaction sent before). */
static bool broadcast(const struct evm *e, const struct store_chain_tx *row)
{
	struct rpc_out o;
	rpc(e, "eth_sendRawTransaction", json_pack("[s]", row->raw), &o);
	const char *h = json_string_value(o.result);
	bool sent = h && !strcasecmp(h, row->hash);
	json_decref(o.result);
	if (!sent && o.answered) {
		sent = known(e, row->hash);
		if (!sent)
			log_error("evm: payout %s: node refused %s: %s", row->idempotency_key, row->hash,
				  o.error);
	}
	return sent;
}

/* The stored transaction out: broadcast, marked sent, answered OK. */
static void send_stored(struct evm *e, struct store_chain_tx *row, struct rail_result *r)
{
	if (!broadcast(e, row)) {
		result_set(r, RAIL_TRANSIENT, "rail_unavailable", NULL);
		return;
	}
	if (strcmp(row->state, "signed") == 0) {
		snprintf(row->state, sizeof row->state, "sent");
		row->sent_at_ms = (int64_t)clock_now_ms();
		/* Lost (a crash now): the next call re-sends and finds it. */
		if (store_run(e->store, true, update_tx, row) != STORE_OK)
			log_error("evm: payout %s: could not mark %s sent", row->idempotency_key,
				  row->hash);
	}
	crash_hook("sent");
	log_info("evm: payout %s: sent %s (nonce %lld)", row->idempotency_key, row->hash,
		 (long long)row->nonce);
	result_set(r, RAIL_OK, NULL, row->hash);
}

/* The recipient's address from the saved destination. */
struct dest_arg {
	const struct rail_call *c;
	struct store_destination d;
};

static enum store_status dest_tx(struct store_tx *tx, void *arg)
{
	struct dest_arg *a = arg;
	free(a->d.body);
	a->d.body = NULL;
	return STORE_CALL(tx, destination_get, a->c->tenant_id, a->c->destination_id, &a->d);
}

static bool recipient(struct evm *e, const struct rail_call *c, uint8_t to[EVM_ADDR_LEN])
{
	struct dest_arg a = {.c = c};
	bool ok = false;
	if (c->destination_id && store_run(e->store, false, dest_tx, &a) == STORE_OK) {
		json_t *j = json_loads(a.d.body ? a.d.body : "", 0, NULL);
		const char *addr =
			json_string_value(json_object_get(json_object_get(j, "destination"), "address"));
		ok = addr && evm_hex_decode(addr, to, EVM_ADDR_LEN);
		json_decref(j);
	}
	free(a.d.body);
	return ok;
}

static bool chain_id_ok(const struct evm *e, uint64_t want)
{
	uint64_t got;
	if (!rpc_quantity(e, "eth_chainId", NULL, &got))
		return false;
	if (got != want)
		log_error("evm: the node at --evm-rpc-url is chain %llu, not %llu: nothing sent",
			  (unsigned long long)got, (unsigned long long)want);
	return got == want;
}

/* How many token units the wallet holds, into *balance (INT64_MAX for
 * more: no payout is that large). */
static bool funded(const struct evm *e, const char *contract, int64_t *balance)
{
	char data[2 * 36 + 3];
	uint8_t call[36] = {0x70, 0xa0, 0x82, 0x31}, word[32]; /* balanceOf(address) */
	memcpy(call + 4 + 12, e->sender, EVM_ADDR_LEN);
	evm_hex_encode(call, sizeof call, data);
	if (!rpc_call_word(e, contract, data, word))
		return false;
	uint64_t low = 0;
	bool high = false;
	for (int i = 0; i < 24; i++)
		high |= word[i] != 0;
	for (int i = 24; i < 32; i++)
		low = low << 8 | word[i];
	*balance = high || low > INT64_MAX ? INT64_MAX : (int64_t)low;
	return true;
}

/* The new transaction's fields: amount in token units, gas, fee, floor
 * nonce. A PENDING or REJECTED answer in r when it must not be sent. */
/* The latest block's base fee: 1 with *base set, 0 when the block has
 * none (before London), -1 for no usable answer. */
static int base_fee(const struct evm *e, uint64_t *base)
{
	struct rpc_out o;
	rpc(e, "eth_getBlockByNumber", json_pack("[s, b]", "latest", 0), &o);
	int got = -1;
	if (json_is_object(o.result)) {
		json_t *b = json_object_get(o.result, "baseFeePerGas");
		got = !b ? 0 : evm_quantity_parse(json_string_value(b), base) ? 1 : -1;
	}
	if (got < 0 && o.answered)
		log_error("evm: eth_getBlockByNumber: %s", o.error[0] ? o.error : "not a block");
	json_decref(o.result);
	return got;
}

/* The fee of a new transaction into row: EIP-1559 (tip from
 * eth_maxPriorityFeePerGas, max fee 2 x base fee + tip: room for six full
 * blocks of base-fee rises) when the node has a base fee and the operator
 * did not ask for legacy; else eth_gasPrice. False to wait (no answer, or
 * past LIMIT_EVM_GAS_PRICE_MAX_WEI). */
static bool fees(const struct evm *e, struct store_chain_tx *row)
{
	uint64_t base = 0, tip = 0, price = 0;
	int has = e->cfg.tx_type == EVM_TXPREF_LEGACY ? 0 : base_fee(e, &base);
	if (has < 0 || (has == 0 && e->cfg.tx_type == EVM_TXPREF_EIP1559))
		return false;
	if (has) {
		if (!rpc_quantity(e, "eth_maxPriorityFeePerGas", NULL, &tip) ||
		    base > (uint64_t)LIMIT_EVM_GAS_PRICE_MAX_WEI || tip > (uint64_t)LIMIT_EVM_GAS_PRICE_MAX_WEI)
			return false;
		price = 2 * base + tip;
	} else if (!rpc_quantity(e, "eth_gasPrice", NULL, &price)) {
		return false;
	}
	if (price == 0 || price > (uint64_t)LIMIT_EVM_GAS_PRICE_MAX_WEI) {
		log_error("evm: fee %llu wei/gas is past the cap: waiting", (unsigned long long)price);
		return false;
	}
	row->tx_type = has ? EVM_TX_EIP1559 : EVM_TX_LEGACY;
	row->gas_price_wei = (int64_t)price;
	row->tip_wei = (int64_t)tip;
	return true;
}

static void underfunded(const struct evm *e, const struct rail_call *c, uint64_t units,
			const char *contract, struct rail_result *r)
{
	log_info("evm: payout %s waits: the hot wallet %s holds less than %llu units of %s beyond"
		 " what is in flight", c->idempotency_key, e->sender_hex, (unsigned long long)units,
		 contract);
	result_set(r, RAIL_PENDING, "hot_wallet_underfunded", NULL);
}

static bool plan_new(struct evm *e, const struct rail_call *c, struct store_chain_tx *row,
		     int64_t *floor, int64_t *balance, struct rail_result *r)
{
	const char *contract = token_for(e, c);
	uint64_t chain = chain_for(e, c->network), units, gas, count;
	uint8_t to[EVM_ADDR_LEN], word[32], data[EVM_CALLDATA_LEN];
	result_set(r, RAIL_TRANSIENT, "rail_unavailable", NULL);
	if (!recipient(e, c, to)) {
		log_error("evm: payout %s: no EVM address in its destination", c->idempotency_key);
		result_set(r, RAIL_REJECTED, "chain_transfer_failed", NULL);
		return false;
	}
	if (!chain_id_ok(e, chain) || !rpc_call_word(e, contract, "0x313ce567", word)) /* decimals() */
		return false;
	for (int i = 0; i < 31; i++)
		if (word[i]) {
			log_error("evm: token %s: decimals() out of range", contract);
			return false;
		}
	if (!evm_token_units(c->amount_minor, money_scale(c->currency), word[31], &units) ||
	    units > INT64_MAX) {
		log_error("evm: payout %s: amount not exact in %d decimals", c->idempotency_key,
			  word[31]);
		result_set(r, RAIL_REJECTED, "chain_transfer_failed", NULL);
		return false;
	}
	if (!funded(e, contract, balance))
		return false;
	if (*balance < (int64_t)units) {
		underfunded(e, c, units, contract, r); /* nothing signed, no nonce taken */
		return false;
	}
	evm_erc20_transfer_data(to, units, data);
	evm_hex_encode(data, sizeof data, row->calldata);
	struct rpc_out o;
	rpc(e, "eth_estimateGas",
	    json_pack("[{s:s, s:s, s:s}]", "from", e->sender_hex, "to", contract, "data", row->calldata),
	    &o);
	bool est = o.result && evm_quantity_parse(json_string_value(o.result), &gas);
	json_decref(o.result);
	if (!est) {
		if (o.answered && strstr(o.error, "revert")) {
			/* The node ran it: the token refuses (a blocked recipient...). */
			log_info("evm: payout %s: the transfer would revert: %s", c->idempotency_key,
				 o.error);
			result_set(r, RAIL_REJECTED, "chain_transfer_failed", NULL);
		}
		return false;
	}
	gas += gas / 5; /* a margin: state may move between estimate and inclusion */
	if (gas > LIMIT_EVM_GAS_MAX || !fees(e, row) ||
	    !rpc_quantity(e, "eth_getTransactionCount", json_pack("[s, s]", e->sender_hex, "pending"),
			  &count) ||
	    count > INT64_MAX)
		return false;
	snprintf(row->idempotency_key, sizeof row->idempotency_key, "%s", c->idempotency_key);
	snprintf(row->tenant_id, sizeof row->tenant_id, "%s", c->tenant_id);
	snprintf(row->session_id, sizeof row->session_id, "%s", c->session_id);
	snprintf(row->network, sizeof row->network, "%s", c->network);
	row->chain_id = (int64_t)chain;
	snprintf(row->sender, sizeof row->sender, "%s", e->sender_hex);
	snprintf(row->contract, sizeof row->contract, "%s", contract);
	row->gas_limit = (int64_t)gas;
	row->amount_units = (int64_t)units;
	snprintf(row->state, sizeof row->state, "signed");
	row->created_at = (int64_t)(clock_now_ms() / 1000);
	*floor = (int64_t)count;
	return true;
}

static void evm_submit(struct evm *e, const struct rail_call *c, struct rail_result *r)
{
	struct store_chain_tx row;
	memset(&row, 0, sizeof row);
	struct book_arg b = {.key = c->idempotency_key, .row = &row};
	if (store_run(e->store, false, get_tx, &b) != STORE_OK) {
		result_set(r, RAIL_TRANSIENT, "rail_unavailable", NULL);
		return;
	}
	if (b.found == STORE_OK) {
		send_stored(e, &row, r); /* signed before: the same bytes again */
		return;
	}
	int64_t floor, balance;
	if (!plan_new(e, c, &row, &floor, &balance, r))
		return;
	struct sign_arg s = {.e = e, .row = &row, .floor = floor, .balance = balance};
	enum store_status st = store_run(e->store, true, sign_tx, &s);
	if (st == STORE_ABORT && s.short_funds) {
		underfunded(e, c, (uint64_t)row.amount_units, row.contract, r);
		return;
	}
	if (st != STORE_OK) {
		result_set(r, RAIL_TRANSIENT, "rail_unavailable", NULL);
		return;
	}
	if (!s.existed)
		log_info("evm: payout %s: signed %s (nonce %lld, %lld wei/gas), stored",
			 c->idempotency_key, row.hash, (long long)row.nonce,
			 (long long)row.gas_price_wei);
	crash_hook("signed");
	send_stored(e, &row, r);
}

/* ---- status ------------------------------------------------------------- */

/* The receipt of hash: 1 found (status, block into *ok, *block), 0 none
 * yet, -1 no answer. */
static int receipt(const struct evm *e, const char *hash, bool *ok, uint64_t *block)
{
	struct rpc_out o;
	rpc(e, "eth_getTransactionReceipt", json_pack("[s]", hash), &o);
	int found = !o.answered ? -1 : json_is_object(o.result) ? 1 : o.result ? 0 : -1;
	if (found == 1) {
		uint64_t status;
		const char *h = json_string_value(json_object_get(o.result, "transactionHash"));
		if (!h || strcasecmp(h, hash) != 0 ||
		    !evm_quantity_parse(json_string_value(json_object_get(o.result, "status")), &status) ||
		    status > 1 ||
		    !evm_quantity_parse(json_string_value(json_object_get(o.result, "blockNumber")),
					block)) {
			log_error("evm: receipt of %s is malformed", hash);
			found = -1;
		} else {
			*ok = status == 1;
		}
	}
	json_decref(o.result);
	return found;
}

/* a + 25% + 1: past every node's replacement rule (geth asks +10%). */
static uint64_t bump(int64_t a) { return (uint64_t)a + (uint64_t)a / 4 + 1; }

/* Replace a stuck transaction: same nonce, a higher fee (legacy: at least
 * the node's gas price now; type 2: tip and max fee both bumped); stored
 * first. */
static void replace(struct evm *e, struct store_chain_tx *row)
{
	uint64_t now_price = 0, price = bump(row->gas_price_wei);
	if (row->tx_type != EVM_TX_EIP1559) {
		if (!rpc_quantity(e, "eth_gasPrice", NULL, &now_price))
			return;
		if (now_price > price)
			price = now_price;
	}
	if (price > (uint64_t)LIMIT_EVM_GAS_PRICE_MAX_WEI) {
		log_error("evm: payout %s: replacing %s would pass the gas price cap: waiting",
			  row->idempotency_key, row->hash);
		return;
	}
	struct store_chain_tx next = *row;
	size_t used = strlen(next.prior_hashes);
	snprintf(next.prior_hashes + used, sizeof next.prior_hashes - used, "%s%s", used ? "," : "",
		 row->hash);
	next.gas_price_wei = (int64_t)price;
	if (next.tx_type == EVM_TX_EIP1559)
		next.tip_wei = (int64_t)bump(row->tip_wei);
	next.replacements++;
	next.sent_at_ms = (int64_t)clock_now_ms();
	if (!row_sign(e, &next) || store_run(e->store, true, update_tx, &next) != STORE_OK)
		return;
	log_info("evm: payout %s: %s stuck, replaced by %s at %llu wei/gas (nonce %lld)",
		 row->idempotency_key, row->hash, next.hash, (unsigned long long)price,
		 (long long)row->nonce);
	*row = next;
	broadcast(e, row);
}

/* A receipt exists (either status): the tokens are no longer in flight,
 * the balance on chain shows what the transfer took. Lost (a crash), the
 * next poll marks it again; until then the wallet looks poorer, never
 * richer. */
static void mark_mined(struct evm *e, struct store_chain_tx *row)
{
	if (strcmp(row->state, "mined") == 0)
		return;
	snprintf(row->state, sizeof row->state, "mined");
	if (store_run(e->store, true, update_tx, row) != STORE_OK)
		log_error("evm: payout %s: could not mark %s mined", row->idempotency_key, row->hash);
}

static void evm_status(struct evm *e, const struct rail_call *c, struct rail_result *r)
{
	struct store_chain_tx row;
	memset(&row, 0, sizeof row);
	struct book_arg b = {.key = c->idempotency_key, .row = &row};
	result_set(r, RAIL_TRANSIENT, "rail_unavailable", NULL);
	if (store_run(e->store, false, get_tx, &b) != STORE_OK)
		return;
	if (b.found != STORE_OK) {
		result_set(r, RAIL_REJECTED, "payout_unknown", NULL);
		return;
	}
	/* Every hash the row ever had: whichever was mined is the payout. */
	char hashes[sizeof row.hash + sizeof row.prior_hashes + 1];
	snprintf(hashes, sizeof hashes, "%s%s%s", row.hash, row.prior_hashes[0] ? "," : "",
		 row.prior_hashes);
	char *save = NULL;
	for (char *h = strtok_r(hashes, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		bool ok = false;
		uint64_t block = 0, head = 0;
		int f = receipt(e, h, &ok, &block);
		if (f < 0)
			return;
		if (f == 0)
			continue;
		mark_mined(e, &row);
		if (!ok) {
			log_info("evm: payout %s: %s reverted", c->idempotency_key, h);
			result_set(r, RAIL_REJECTED, "chain_transfer_failed", h);
			return;
		}
		if (!rpc_quantity(e, "eth_blockNumber", NULL, &head))
			return;
		uint64_t confirmations = head >= block ? head - block + 1 : 0;
		if (confirmations >= (uint64_t)e->cfg.confirmations)
			result_set(r, RAIL_OK, NULL, h);
		else
			result_set(r, RAIL_PENDING, "awaiting_confirmations", h);
		return;
	}
	/* Not mined under any hash: stuck past the policy's wait, replace;
	 * otherwise make sure the node still has it (a row whose "sent" mark
	 * was lost has no send time: re-sent, never replaced blind). */
	int64_t now = (int64_t)clock_now_ms();
	if (row.sent_at_ms > 0 && now - row.sent_at_ms >= e->cfg.replace_after_ms &&
	    row.replacements < LIMIT_EVM_REPLACEMENTS)
		replace(e, &row);
	else
		broadcast(e, &row);
	result_set(r, RAIL_PENDING, "awaiting_inclusion", row.hash);
}

/* ---- the rail ------------------------------------------------------------- */

static void evm_chain_transfer(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct evm *e = (struct evm *)rail;
	if (!ours(e, c)) {
		rail_ask(e->fallback, RAIL_CHAIN_TRANSFER, c, r, 1, 0);
		return;
	}
	/* The client's stablecoin is in the operator's custody already: the
	 * on-chain leg is the payout. */
	memset(r, 0, sizeof *r);
	r->outcome = RAIL_OK;
}

static void evm_payout_submit(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct evm *e = (struct evm *)rail;
	if (!ours(e, c)) {
		rail_ask(e->fallback, RAIL_PAYOUT_SUBMIT, c, r, 1, 0);
		return;
	}
	memset(r, 0, sizeof *r);
	evm_submit(e, c, r);
}

static void evm_payout_status(struct rail *rail, const struct rail_call *c, struct rail_result *r)
{
	struct evm *e = (struct evm *)rail;
	if (!ours(e, c)) {
		rail_ask(e->fallback, RAIL_PAYOUT_STATUS, c, r, 1, 0);
		return;
	}
	memset(r, 0, sizeof *r);
	evm_status(e, c, r);
}

static void evm_close(struct rail *rail)
{
	struct evm *e = (struct evm *)rail;
	evm_signer_free(e->signer);
	rail_close(e->fallback);
	free(e);
}

/* Batches: the fallback's share goes to it in one batch (its *_many op),
 * ours one by one (each its own transaction on chain). */
static void many(struct rail *rail, enum rail_kind kind, const struct rail_call *c,
		 struct rail_result *r, int n,
		 void (*one)(struct rail *, const struct rail_call *, struct rail_result *))
{
	struct evm *e = (struct evm *)rail;
	struct rail_call *fc = malloc((size_t)n * sizeof *fc);
	struct rail_result *fr = malloc((size_t)n * sizeof *fr);
	int *idx = malloc((size_t)n * sizeof *idx), k = 0;
	for (int i = 0; i < n; i++) {
		if (ours(e, &c[i]) || !fc || !fr || !idx) {
			one(rail, &c[i], &r[i]);
			continue;
		}
		fc[k] = c[i];
		idx[k++] = i;
	}
	int asked = k ? rail_ask(e->fallback, kind, fc, fr, k, 0) : 0;
	for (int j = 0; j < k; j++) {
		if (j < asked)
			r[idx[j]] = fr[j];
		else
			result_set(&r[idx[j]], RAIL_TRANSIENT, "rail_unavailable", NULL);
	}
	free(fc);
	free(fr);
	free(idx);
}

static void evm_submit_many(struct rail *rail, const struct rail_call *c, struct rail_result *r,
			    int n)
{
	many(rail, RAIL_PAYOUT_SUBMIT, c, r, n, evm_payout_submit);
}

static void evm_status_many(struct rail *rail, const struct rail_call *c, struct rail_result *r,
			    int n)
{
	many(rail, RAIL_PAYOUT_STATUS, c, r, n, evm_payout_status);
}

static const struct rail_ops evm_ops = {
	.name = "evm",
	.chain_transfer = evm_chain_transfer,
	.payout_submit = evm_payout_submit,
	.payout_status = evm_payout_status,
	.close = evm_close,
	.payout_submit_many = evm_submit_many,
	.payout_status_many = evm_status_many,
};

struct rail *evm_rail_new(const struct evm_config *c, struct store *store, struct rail *fallback,
			  char *err, size_t errlen)
{
	struct evm *e = fallback ? calloc(1, sizeof *e) : NULL;
	uint8_t key[EVM_KEY_LEN];
	if (!e) {
		snprintf(err, errlen, "out of memory");
		rail_close(fallback);
		return NULL;
	}
	e->base.ops = &evm_ops;
	e->fallback = fallback;
	e->store = store;
	e->cfg = *c;
	if (!c->rpc_url || strlen(c->rpc_url) >= sizeof e->url ||
	    (strncmp(c->rpc_url, "http://", 7) != 0 && strncmp(c->rpc_url, "https://", 8) != 0)) {
		snprintf(err, errlen, "--evm-rpc-url wants an http:// or https:// URL");
		evm_close(&e->base);
		return NULL;
	}
	snprintf(e->url, sizeof e->url, "%s", c->rpc_url);
	e->cfg.rpc_url = NULL;
	if (c->confirmations < 1 || c->confirmations > LIMIT_EVM_CONFIRMATIONS_MAX ||
	    c->n_tokens == 0 || c->n_chains == 0) {
		snprintf(err, errlen, "--rails evm needs --evm-token, --evm-chain-id and "
				      "--evm-confirmations 1..%d", LIMIT_EVM_CONFIRMATIONS_MAX);
		evm_close(&e->base);
		return NULL;
	}
	if (!c->key_file || !read_key(c->key_file, key, err, errlen)) {
		if (!c->key_file)
			snprintf(err, errlen, "--rails evm needs --evm-key-file");
		evm_close(&e->base);
		return NULL;
	}
	e->signer = evm_signer_new(key);
	explicit_bzero(key, sizeof key);
	if (!e->signer) {
		snprintf(err, errlen, "--evm-key-file: not a valid secp256k1 key");
		evm_close(&e->base);
		return NULL;
	}
	evm_signer_address(e->signer, e->sender);
	evm_hex_encode(e->sender, sizeof e->sender, e->sender_hex);
	log_info("evm: hot wallet %s, %d token(s), %d confirmation(s)", e->sender_hex, c->n_tokens,
		 c->confirmations);
	return &e->base;
}
