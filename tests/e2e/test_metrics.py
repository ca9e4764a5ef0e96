"""GET /metrics (CONTRACT §12, docs/OPERATIONS.md "Metrics"), black box.

- the scrape is Prometheus text 0.0.4 that `promtool check metrics` accepts,
  needs no key, and names routes by their template, never a raw path (an
  unknown path counts as route="unmatched");
- its numbers move: requests by route and status, sessions by status and
  held minor units per currency (read from the database, cached up to a
  second or so, hence the polls), commits by batch size, webhook deliveries
  by result (a receiver answering 200 on one endpoint, 500 on another);
- `--metrics-listen` moves it to its own address;
- deploy/prometheus/alerts.yml passes `promtool check rules`, and every
  metric named in it and in deploy/grafana/offramp-dashboard.json is in a
  real scrape.

The values test runs on both backends (the gauges are SQL of each); the
rest is backend-independent and runs on SQLite only.
"""

import json
import re
import shutil
import subprocess
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from offramp_e2e import LIFECYCLE_STEP_MS, Server, describe, free_port, http_request, poll_until

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "offramp-dashboard.json"
PROMTOOL = shutil.which("promtool")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GAUGE_WAIT_S = 10.0  # the gauges are cached ~1 s; a slow sanitised scrape may take longer
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Sessions move on their own (100 ms step); webhooks to loopback, retried fast."""
    s = Server(tmp_path_factory.mktemp("srv"), step_ms=LIFECYCLE_STEP_MS,
               extra_args=["--webhook-allow-loopback", "--webhook-retry-base-ms", "100"])
    s.start()
    yield s
    s.stop_checked()


class Receiver:
    """A webhook receiver: /ok/... answers 200, anything else 500."""

    def __init__(self):
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                code = 200 if self.path.startswith("/ok/") else 500
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def scrape_raw(port):
    r = http_request(port, "GET", "/metrics")
    assert r.status == 200, describe(r)
    assert r.headers.get("content-type") == CONTENT_TYPE, r.headers
    assert r.headers.get("x-request-id")
    return r.raw.decode("utf-8")


def parse(text):
    """{(name, frozenset(labels)): value} of every sample (values as Decimal,
    +Inf/NaN refused: none of ours may be either)."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = SAMPLE_RE.match(ln)
        assert m, f"not a sample line: {ln!r}"
        labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = Decimal(m.group(3))
    return out


def value(samples, name, **labels):
    """The one sample of name with exactly these labels; 0 when absent (a
    series appears once it counts something)."""
    return samples.get((name, frozenset(labels.items())), Decimal(0))


def total(samples, name, **match):
    return sum((v for (n, ls), v in samples.items()
                if n == name and all((k, x) in ls for k, x in match.items())), Decimal(0))


def promtool_check_metrics(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert p.returncode == 0, f"promtool check metrics: {p.returncode}\n{p.stdout.decode()}{p.stderr.decode()}"


# ---------------------------------------------------------------------------


def test_scrape_is_valid_prometheus_text_and_needs_no_key(server):
    assert PROMTOOL, "promtool not found (Debian package prometheus; scripts/deps.sh)"
    server.request("GET", "/livez")
    for key in (None, "ofr_sk_not-a-key"):
        r = server.request("GET", "/metrics", key=key)
        assert r.status == 200, describe(r)
        assert "www-authenticate" not in r.headers
    text = scrape_raw(server.port)
    promtool_check_metrics(text)
    names = {n for n, _ in parse(text)}
    for want in ("offramp_http_requests_total", "offramp_http_request_duration_seconds_bucket",
                 "offramp_http_request_duration_seconds_count", "offramp_sessions", "offramp_held_minor",
                 "offramp_worker_lag_seconds", "offramp_commit_batch_size_bucket",
                 "offramp_webhook_deliveries_total", "offramp_ready", "offramp_store_up"):
        assert want in names, f"{want} missing from the scrape:\n{text[:3000]}"
    s = parse(text)
    assert value(s, "offramp_ready") == 1 and value(s, "offramp_store_up") == 1
    # Money as integers of minor units, never a fraction.
    for (n, _), v in s.items():
        if n == "offramp_held_minor":
            assert v == v.to_integral_value(), (n, v)


def test_values_move_as_sessions_are_created_and_settle(server):
    rcv = Receiver()
    try:
        t = server.new_tenant()
        for path in ("/ok/hook", "/fail/hook"):
            r = t.req("POST", "/webhook-endpoints",
                      {"url": rcv.url(path), "event_types": ["*"], "format": "standard"})
            assert r.status == 201, describe(r)
        t.set_threshold("100.00")  # sessions wait in pending_approval, holding their funds
        approver = t.make_key(["ramps.approve", "ramps.read"])["api_key"]
        w = t.setup("1000.00")
        before = parse(scrape_raw(server.port))

        sessions = [t.create_session(w, amount) for amount in ("150.00", "200.00", "250.00")]
        assert all(x["status"] == "pending_approval" for x in sessions), [x["status"] for x in sessions]
        held_api = Decimal(w.balances()["USDC"]["held"])
        assert held_api > 0

        def pending_seen():
            s = parse(scrape_raw(server.port))
            d_pend = value(s, "offramp_sessions", status="pending_approval") - \
                value(before, "offramp_sessions", status="pending_approval")
            d_held = value(s, "offramp_held_minor", currency="USDC") - \
                value(before, "offramp_held_minor", currency="USDC")
            return d_pend == 3 and d_held == held_api * 10**6, (d_pend, d_held, held_api)
        poll_until(pending_seen, GAUGE_WAIT_S, "3 more pending_approval sessions and their holds in /metrics")

        mid = parse(scrape_raw(server.port))
        creates = "offramp_http_requests_total", {"method": "POST", "route": "/off-ramp-sessions", "status": "201"}
        assert value(mid, creates[0], **creates[1]) - value(before, creates[0], **creates[1]) == 3
        assert value(mid, "offramp_commit_batch_size_count") > value(before, "offramp_commit_batch_size_count")

        for x in sessions:
            aid = x["approval_ref"].split("/", 1)[1]
            r = t.req("POST", f"/approvals/{aid}/approve", key=approver)
            assert r.status == 200, describe(r)
        for x in sessions:
            final, _ = t.watch(x["id"], timeout=30)
            assert final["status"] == "settled", final

        def settled_seen():
            s = parse(scrape_raw(server.port))
            d_set = value(s, "offramp_sessions", status="settled") - value(before, "offramp_sessions", status="settled")
            d_pend = value(s, "offramp_sessions", status="pending_approval") - \
                value(before, "offramp_sessions", status="pending_approval")
            d_held = value(s, "offramp_held_minor", currency="USDC") - \
                value(before, "offramp_held_minor", currency="USDC")
            d_ok = value(s, "offramp_webhook_deliveries_total", result="delivered") - \
                value(before, "offramp_webhook_deliveries_total", result="delivered")
            d_bad = value(s, "offramp_webhook_deliveries_total", result="failed") - \
                value(before, "offramp_webhook_deliveries_total", result="failed")
            # each session's executing, executed and settled events, at least, to /ok/
            ok = d_set == 3 and d_pend == 0 and d_held == 0 and d_ok >= 9 and d_bad >= 1
            return ok, (d_set, d_pend, d_held, d_ok, d_bad)
        poll_until(settled_seen, 30, "the settled sessions, released holds and deliveries in /metrics")

        after = parse(scrape_raw(server.port))
        gets = total(after, "offramp_http_requests_total", method="GET", route="/off-ramp-sessions/{id}")
        assert gets >= 3, "the watches' GETs are counted under the route template"
        assert value(after, "offramp_http_request_duration_seconds_count",
                     method="POST", route="/off-ramp-sessions") >= 3
    finally:
        rcv.close()


@pytest.mark.sqlite_only
def test_route_labels_are_templates_never_paths(server):
    t = server.new_tenant()
    sid, junk = str(uuid.uuid4()), f"no-such-{uuid.uuid4().hex}"
    r = t.req("GET", f"/off-ramp-sessions/{sid}")
    assert r.status == 404, describe(r)
    r = server.request("GET", f"/{junk}/x")
    assert r.status == 404, describe(r)
    text = scrape_raw(server.port)
    assert sid not in text and junk not in text, "a raw path reached a label"
    s = parse(text)
    assert value(s, "offramp_http_requests_total", method="GET", route="/off-ramp-sessions/{id}", status="404") >= 1
    assert value(s, "offramp_http_requests_total", route="unmatched", status="404") >= 1
    routes = {dict(ls).get("route") for n, ls in s if n == "offramp_http_requests_total"}
    assert all(x == "unmatched" or x.startswith("/") for x in routes), routes
    assert all("{" in x or re.fullmatch(r"[a-z0-9/._-]+", x) for x in routes if x != "unmatched"), routes


@pytest.mark.sqlite_only
def test_metrics_listen_moves_it(server_factory):
    mport = free_port()
    s = server_factory(extra_args=["--metrics-listen", f"127.0.0.1:{mport}"])
    r = s.request("GET", "/metrics")
    assert r.status == 404, f"/metrics still on the API listener: {describe(r)}"
    assert s.request("GET", "/livez").status == 200
    text = scrape_raw(mport)
    promtool_check_metrics(text)
    samples = parse(text)
    # The API listener's traffic is counted in the other listener's scrape.
    assert value(samples, "offramp_http_requests_total", method="GET", route="/livez", status="200") == 1
    r = http_request(mport, "GET", "/livez")
    assert r.status == 404, f"the metrics listener serves only /metrics: {describe(r)}"
    r = http_request(mport, "HEAD", "/metrics")
    assert r.status == 200 and r.raw == b"", describe(r)


NAME_RE = re.compile(r"\b(offramp_[a-z_]+)\b")


@pytest.mark.sqlite_only
def test_alert_rules_and_dashboard_name_real_series(server):
    assert PROMTOOL, "promtool not found"
    p = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, timeout=30)
    assert p.returncode == 0, f"promtool check rules: {p.stdout.decode()}{p.stderr.decode()}"
    rules_text = ALERTS.read_text()
    for what in ("OfframpNotReady", "OfframpHighErrorRate", "OfframpWorkerLag", "OfframpWebhookFailures",
                 "OfframpHighLatencyP99"):
        assert f"alert: {what}" in rules_text, f"{what} missing from {ALERTS}"

    dash = json.loads(DASHBOARD.read_text())
    exprs = [tg["expr"] for panel in dash["panels"] for tg in panel.get("targets", [])]
    assert len(exprs) >= 7, exprs
    dash_names = {n for e in exprs for n in NAME_RE.findall(e)}
    rule_names = set(NAME_RE.findall(rules_text))

    # A scrape after some traffic, so every series has something to show.
    server.request("GET", "/livez")
    names = {n for n, _ in parse(scrape_raw(server.port))}
    for series in ("offramp_http_requests_total", "offramp_http_request_duration_seconds_bucket",
                   "offramp_sessions", "offramp_held_minor", "offramp_worker_lag_seconds",
                   "offramp_commit_batch_size_bucket", "offramp_webhook_deliveries_total"):
        assert series in dash_names, f"the dashboard shows no {series}"
    # A histogram may be named by its own name (in prose) or by a series of it.
    missing = {n for n in dash_names | rule_names if n not in names and n + "_bucket" not in names}
    assert not missing, f"named in the rules or the dashboard but not in a scrape: {sorted(missing)}"
