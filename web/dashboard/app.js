/*
 * The operator dashboard (CONTRACT §15, docs/DASHBOARD.md): a client of the
 * JSON API like any other. The key lives in sessionStorage only (never in
 * a URL or a cookie) and goes out as `Authorization: Bearer`. Every value
 * from the API is put into the page with textContent or as an attribute
 * value, never parsed as HTML. Money stays the API's decimal strings; the
 * chart sums them as BigInt minor units, never as floating point.
 */
"use strict";

const KEY = "offramp.api_key";
const $ = (id) => document.getElementById(id);

/* el("td", {class: "num"}, "1.00", child...): text children become text nodes. */
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k === null || k === undefined ? "" : String(k)));
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function showError(err) {
  const box = $("error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  const b = err.body;
  box.textContent = b && b.code ? `${err.status} ${b.code}: ${b.message || ""}` : String(err.message || err);
  box.hidden = false;
}

function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/* One API call; throws {status, body} on anything but 2xx. */
async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(KEY) };
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (method !== "GET") {
    headers["Idempotency-Key"] = newIdempotencyKey();
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, init);
  let j = null;
  try { j = await r.json(); } catch (_) { j = null; }
  if (!r.ok) {
    const e = new Error(`HTTP ${r.status}`);
    e.status = r.status; e.body = j;
    if (r.status === 401) signOut(false);
    throw e;
  }
  return j;
}

const money = (m) => (m ? `${m.value} ${m.currency}` : "");
const idOf = (ref) => (ref ? String(ref).split("/").pop() : "");
const statusBadge = (s) => el("span", { class: `status status-${s}`, "data-testid": "status" }, s);

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
            el("tbody", {}, ...rows));
}

/* ---- pages ------------------------------------------------------------ */

const pageTokens = []; /* the sessions list's tokens, one per page shown before */

async function pageSessions(view, params) {
  const q = new URLSearchParams({ page_size: "20" });
  if (params.get("status")) q.set("status", params.get("status"));
  if (params.get("account_ref")) q.set("account_ref", params.get("account_ref"));
  if (params.get("page_token")) q.set("page_token", params.get("page_token"));
  const status = el("select", { id: "f-status", "data-testid": "filter-status" },
    ...["", "pending_approval", "executing", "executed", "settled", "failed", "cancelled", "returned"]
      .map((s) => { const o = el("option", { value: s }, s || "any status"); if (s === (params.get("status") || "")) o.selected = true; return o; }));
  const account = el("input", { id: "f-account", "data-testid": "filter-account", placeholder: "client-accounts/<id>", size: 50 });
  account.value = params.get("account_ref") || "";
  const apply = (token) => {
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    if (account.value.trim()) p.set("account_ref", account.value.trim());
    if (token) p.set("page_token", token);
    location.hash = "sessions?" + p.toString();
  };
  const form = el("form", { class: "filters", on: { submit: (e) => { e.preventDefault(); pageTokens.length = 0; apply(null); } } },
    "Status", status, "Account", account, el("button", { type: "submit", "data-testid": "apply" }, "Apply"));
  const data = await api("GET", "/off-ramp-sessions?" + q.toString());
  const rows = data.items.map((s) => el("tr", { "data-testid": "session-row", "data-id": s.id },
    el("td", {}, el("a", { href: "#session/" + s.id }, s.id)),
    el("td", {}, statusBadge(s.status)),
    el("td", { class: "num" }, money(s.principal_amount)),
    el("td", {}, s.target_currency),
    el("td", {}, s.account_ref),
    el("td", {}, s.destination ? s.destination.payment_reference : ""),
    el("td", {}, s.created_at)));
  const nav = el("div", { class: "filters" });
  if (params.get("page_token"))
    nav.append(el("button", { type: "button", "data-testid": "prev-page", on: { click: () => apply(pageTokens.pop() || null) } }, "← Newer"));
  if (data.next_page_token)
    nav.append(el("button", { type: "button", "data-testid": "next-page", on: { click: () => { pageTokens.push(params.get("page_token") || ""); apply(data.next_page_token); } } }, "Older →"));
  view.append(el("h2", {}, "Sessions"), form,
    table(["id", "status", "amount", "target", "account", "reference", "created"], rows),
    rows.length ? nav : el("p", { class: "muted" }, "No sessions."));
}

/* The session's ledger transfers (GET /off-ramp-sessions/{id}/ledger):
 * the hold of principal plus fees, then its post or void. */
async function ledgerTable(id) {
  const data = await api("GET", `/off-ramp-sessions/${encodeURIComponent(id)}/ledger`);
  return table(["op", "kind", "amount", "debit account", "credit account", "at"],
    data.items.map((t) => el("tr", { "data-testid": "ledger-row", "data-op": t.op },
      el("td", {}, t.op), el("td", {}, t.kind), el("td", { class: "num" }, money(t.amount)),
      el("td", {}, t.debit_account_id), el("td", {}, t.credit_account_id), el("td", {}, t.created_at))));
}

async function pageSessions(view, params) {
  const q = new URLSearchParams({ page_size: "20" });
  if (params.get("status")) q.set("status", params.get("status"));
  if (params.get("account_ref")) q.set("account_ref", params.get("account_ref"));
  if (params.get("page_token")) q.set("page_token", params.get("page_token"));
  const status = el("select", { id: "f-status", "data-testid": "filter-status" },
    ...["", "pending_approval", "executing", "executed", "settled", "failed", "cancelled", "returned"]
      .map((s) => { const o = el("option", { value: s }, s || "any status"); if (s === (params.get("status") || "")) o.selected = true; return o; }));
  const account = el("input", { id: "f-account", "data-testid": "filter-account", placeholder: "client-accounts/<id>", size: 50 });
  account.value = params.get("account_ref") || "";
  const apply = (token) => {
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    if (account.value.trim()) p.set("account_ref", account.value.trim());
    if (token) p.set("page_token", token);
    location.hash = "sessions?" + p.toString();
  };
  const form = el("form", { class: "filters", on: { submit: (e) => { e.preventDefault(); pageTokens.length = 0; apply(null); } } },
    "Status", status, "Account", account, el("button", { type: "submit", "data-testid": "apply" }, "Apply"));
  const data = await api("GET", "/off-ramp-sessions?" + q.toString());
  const rows = data.items.map((s) => el("tr", { "data-testid": "session-row", "data-id": s.id },
    el("td", {}, el("a", { href: "#session/" + s.id }, s.id)),
    el("td", {}, statusBadge(s.status)),
    el("td", { class: "num" }, money(s.principal_amount)),
    el("td", {}, s.target_currency),
    el("td", {}, s.account_ref),
    el("td", {}, s.destination ? s.destination.payment_reference : ""),
    el("td", {}, s.created_at)));
  const nav = el("div", { class: "filters" });
  if (params.get("page_token"))
    nav.append(el("button", { type: "button", "data-testid": "prev-page", on: { click: () => apply(pageTokens.pop() || null) } }, "← Newer"));
  if (data.next_page_token)
    nav.append(el("button", { type: "button", "data-testid": "next-page", on: { click: () => { pageTokens.push(params.get("page_token") || ""); apply(data.next_page_token); } } }, "Older →"));
  view.append(el("h2", {}, "Sessions"), form,
    table(["id", "status", "amount", "target", "account", "reference", "created"], rows),
    rows.length ? nav : el("p", { class: "muted" }, "No sessions."));
}

/* What the ledger did for a session, from its amounts and status: principal
 * plus fees are held at creation; settling posts the hold, failing or
 * cancelling voids it (docs/DASHBOARD.md). */
function ledgerRows(s) {
  const cur = s.principal_amount.currency;
  const rows = [el("tr", {}, el("td", {}, "hold"), el("td", {}, s.account_ref), el("td", { class: "num" }, money(s.principal_amount)),
    el("td", { class: "num" }, money(s.fee_summary.total)), el("td", {}, s.created_at))];
  if (["settled", "returned"].includes(s.status))
    rows.push(el("tr", {}, el("td", {}, "post"), el("td", {}, "the hold, to the rail"), el("td", { class: "num" }, money(s.principal_amount)),
      el("td", { class: "num" }, money(s.fee_summary.total)), el("td", {}, s.settled_at)));
  if (["failed", "cancelled"].includes(s.status))
    rows.push(el("tr", {}, el("td", {}, "void"), el("td", {}, "the hold, back to available"), el("td", { class: "num" }, money(s.principal_amount)),
      el("td", { class: "num" }, money(s.fee_summary.total)), el("td", {}, s.updated_at)));
  return table(["movement", "account", "principal", "fees", "at"], rows.map((r) => { r.setAttribute("data-testid", "ledger-row"); r.setAttribute("data-currency", cur); return r; }));
}

async function pageSession(view, id) {
  const s = await api("GET", "/off-ramp-sessions/" + encodeURIComponent(id));
  const fields = [["id", s.id], ["status", statusBadge(s.status)], ["stage", s.stage], ["account", s.account_ref],
    ["principal", money(s.principal_amount)], ["fees", money(s.fee_summary.total)], ["target", s.target_currency],
    ["delivered", money(s.delivered_amount)], ["fill rate", s.fill_rate], ["rail", s.destination.fiat_rail || s.destination.method],
    ["payment reference", s.destination.payment_reference], ["route owner", s.destination.route_owner_ref],
    ["approval", s.approval_ref], ["failure reason", s.failure_reason], ["created", s.created_at],
    ["updated", s.updated_at], ["settled", s.settled_at]];
  const dl = el("dl", { "data-testid": "session-detail", "data-status": s.status });
  for (const [k, v] of fields) dl.append(el("dt", {}, k), el("dd", {}, v instanceof Node ? v : (v === null || v === undefined ? "—" : v)));
  const ev = await api("GET", "/events?page_size=100&resource=" + encodeURIComponent("off-ramp-sessions/" + s.id));
  const evRows = ev.items.map((e) => el("tr", { "data-testid": "event-row" },
    el("td", { class: "num" }, e.session_sequence), el("td", {}, e.type), el("td", {}, e.created_at)));
  view.append(el("h2", {}, "Session ", s.id), dl,
    el("h3", {}, "Timeline"), table(["#", "event", "at"], evRows),
    el("h3", {}, "Ledger movements"), await ledgerTable(s.id));
}

async function accountCard(ref) {
  const a = await api("GET", "/client-accounts/" + encodeURIComponent(idOf(ref)));
  let name = a.client_ref;
  try { name = (await api("GET", "/clients/" + encodeURIComponent(idOf(a.client_ref)))).display_name; } catch (_) { /* no clients.manage: show the ref */ }
  return a.balances.map((b) => el("tr", { "data-testid": "account-row", "data-id": a.id },
    el("td", {}, "client-accounts/" + a.id), el("td", { "data-testid": "client-name" }, name), el("td", {}, b.currency),
    el("td", { class: "num" }, b.available), el("td", { class: "num" }, b.held), el("td", { class: "num" }, b.total)));
}

async function pageAccounts(view, params) {
  const input = el("input", { id: "account-ref", "data-testid": "account-ref", placeholder: "client-accounts/<id>", size: 50 });
  const form = el("form", { class: "filters", on: { submit: (e) => { e.preventDefault(); location.hash = "accounts?account_ref=" + encodeURIComponent(input.value.trim()); } } },
    "Account", input, el("button", { type: "submit" }, "Show"));
  const refs = new Set();
  if (params.get("account_ref")) refs.add(params.get("account_ref"));
  /* The accounts the newest sessions draw on (there is no account list). */
  const recent = await api("GET", "/off-ramp-sessions?page_size=100");
  for (const s of recent.items) refs.add(s.account_ref);
  const rows = [];
  for (const r of refs) rows.push(...await accountCard(r));
  view.append(el("h2", {}, "Client accounts"), form,
    table(["account", "client", "currency", "available", "held", "total"], rows));
}

async function decide(id, verb) {
  try {
    await api("POST", `/approvals/${encodeURIComponent(id)}/${verb}`, {});
    showError(null);
    await route();
  } catch (e) { showError(e); }
}

async function pageApprovals(view) {
  const data = await api("GET", "/approvals?status=pending");
  const rows = data.items.map((a) => el("tr", { "data-testid": "approval-row", "data-id": a.id },
    el("td", {}, a.id), el("td", {}, el("a", { href: "#session/" + idOf(a.session_ref) }, a.session_ref)),
    el("td", { class: "num" }, money(a.amount)), el("td", {}, a.initiated_by ? a.initiated_by.id : ""), el("td", {}, a.created_at),
    el("td", {}, el("button", { type: "button", "data-testid": "approve", on: { click: () => decide(a.id, "approve") } }, "Approve"),
      " ", el("button", { type: "button", "data-testid": "reject", on: { click: () => decide(a.id, "reject") } }, "Reject"))));
  view.append(el("h2", {}, "Pending approvals"),
    table(["approval", "session", "amount", "initiated by", "created", ""], rows),
    rows.length ? "" : el("p", { class: "muted" }, "Nothing waits for approval."));
}

async function pageWebhooks(view, params) {
  const data = await api("GET", "/webhook-endpoints");
  const rows = data.items.map((w) => el("tr", { "data-testid": "webhook-row", "data-id": w.id },
    el("td", {}, el("a", { href: "#webhooks?endpoint=" + w.id }, w.id)), el("td", {}, w.url), el("td", {}, w.format),
    el("td", {}, w.enabled ? "enabled" : "disabled " + (w.disabled_reason || "")), el("td", {}, (w.event_types || []).join(", "))));
  view.append(el("h2", {}, "Webhook endpoints"), table(["endpoint", "url", "format", "state", "events"], rows));
  const ep = params.get("endpoint");
  if (!ep) return;
  const at = await api("GET", `/webhook-endpoints/${encodeURIComponent(ep)}/attempts?page_size=100`);
  const resend = async (eventId) => {
    try { await api("POST", `/webhook-endpoints/${encodeURIComponent(ep)}/resend`, { event_id: eventId }); showError(null); await route(); } catch (e) { showError(e); }
  };
  const arows = at.items.map((a) => el("tr", { "data-testid": "attempt-row", "data-id": a.id },
    el("td", {}, a.event_id), el("td", { class: "num" }, a.attempt), el("td", {}, a.status_code === null ? "—" : a.status_code),
    el("td", {}, a.error || ""), el("td", { class: "num" }, a.duration_ms), el("td", {}, a.created_at),
    el("td", {}, el("button", { type: "button", "data-testid": "resend", on: { click: () => resend(a.event_id) } }, "Resend"))));
  view.append(el("h3", {}, "Attempts of ", ep), table(["event", "attempt", "status", "error", "ms", "at", ""], arows));
}

/* ---- the chart: sessions per hour or day, by outcome, and volume ------- */

/* "250.5" with 6 decimals → 250500000n; the API's strings only, no floats. */
function toMinor(value, decimals) {
  const [i, f = ""] = value.split(".");
  return BigInt(i + f.padEnd(decimals, "0").slice(0, decimals));
}
function fromMinor(n, decimals) {
  const s = n.toString().padStart(decimals + 1, "0");
  return s.slice(0, s.length - decimals) + "." + s.slice(s.length - decimals, s.length - decimals + 2);
}

async function pageChart(view, params) {
  const by = params.get("by") === "day" ? "day" : "hour";
  const items = [];
  let token = null;
  for (let i = 0; i < 10; i++) { /* at most 1000 sessions: the newest */
    const q = new URLSearchParams({ page_size: "100" });
    if (token) q.set("page_token", token);
    const d = await api("GET", "/off-ramp-sessions?" + q.toString());
    items.push(...d.items);
    token = d.next_page_token;
    if (!token) break;
  }
  const cut = by === "day" ? 10 : 13;
  const buckets = new Map();
  const DEC = 6; /* USDC and USDT: volume in their minor units */
  for (const s of items) {
    const k = s.created_at.slice(0, cut);
    const b = buckets.get(k) || { settled: 0, failed: 0, other: 0, volume: 0n };
    if (s.status === "settled") b.settled++;
    else if (["failed", "cancelled", "returned"].includes(s.status)) b.failed++;
    else b.other++;
    b.volume += toMinor(s.principal_amount.value, DEC);
    buckets.set(k, b);
  }
  const keys = [...buckets.keys()].sort();
  const W = 720, H = 260, pad = 30, bw = Math.min(60, Math.max(8, Math.floor((W - 2 * pad) / Math.max(1, keys.length)) - 4));
  const maxN = Math.max(1, ...keys.map((k) => { const b = buckets.get(k); return b.settled + b.failed + b.other; }));
  let maxV = 1n;
  for (const k of keys) if (buckets.get(k).volume > maxV) maxV = buckets.get(k).volume;
  const svg = svgEl("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, "data-testid": "chart", role: "img" });
  svg.append(svgEl("title", {}, `sessions per ${by}`));
  const pts = [];
  keys.forEach((k, i) => {
    const b = buckets.get(k), x = pad + i * (bw + 4);
    let y = H - pad;
    for (const [cls, n] of [["bar-settled", b.settled], ["bar-failed", b.failed], ["bar-other", b.other]]) {
      const h = Math.round((n / maxN) * (H - 2 * pad));
      y -= h;
      if (h > 0) svg.append(svgEl("rect", { class: cls, x, y, width: bw, height: h, "data-bucket": k }, undefined));
    }
    /* scale the volume in integers: only the pixel position is a number */
    const vy = H - pad - Number((b.volume * BigInt(H - 2 * pad)) / maxV);
    pts.push(`${x + bw / 2},${vy}`);
    svg.append(svgEl("text", { x, y: H - pad + 12 }, by === "day" ? k.slice(5) : k.slice(5, 10) + " " + k.slice(11) + "h"));
    svg.append(svgEl("text", { x, y: vy - 4, "data-testid": "chart-volume" }, fromMinor(b.volume, DEC)));
  });
  if (pts.length) svg.append(svgEl("polyline", { class: "vol", points: pts.join(" ") }));
  const toggle = el("a", { href: by === "day" ? "#chart?by=hour" : "#chart?by=day" }, by === "day" ? "per hour" : "per day");
  view.append(el("h2", {}, `Volume and outcomes per ${by}`), el("p", {}, "Show ", toggle, ` · ${items.length} newest sessions`),
    svg, el("p", { class: "legend" }, el("span", { class: "muted" }, "bars: settled (green), failed/cancelled (red), in flight (blue); line: volume")));
}

/* ---- routing ----------------------------------------------------------- */

const pages = { sessions: pageSessions, session: null, accounts: pageAccounts, approvals: pageApprovals, webhooks: pageWebhooks, chart: pageChart };

async function route() {
  const signedIn = !!sessionStorage.getItem(KEY);
  $("signin").hidden = signedIn;
  $("nav").hidden = !signedIn;
  const view = $("view");
  if (!signedIn) { view.replaceChildren(); return; }
  const h = location.hash.replace(/^#/, "") || "sessions";
  const [path, qs] = h.split("?");
  const [name, arg] = path.split("/");
  const params = new URLSearchParams(qs || "");
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.getAttribute("href") === "#" + name);
  const fresh = el("div", { "data-testid": "page-" + name });
  try {
    if (name === "session") await pageSession(fresh, arg);
    else await (pages[name] || pageSessions)(fresh, params);
    view.replaceChildren(fresh);
  } catch (e) {
    view.replaceChildren(fresh);
    showError(e);
  }
}

function signOut(clear) {
  sessionStorage.removeItem(KEY);
  if (clear !== false) showError(null);
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    showError(null);
    route();
  });
  $("sign-out").addEventListener("click", () => signOut(true));
  window.addEventListener("hashchange", () => { showError(null); route(); });
  route();
});
