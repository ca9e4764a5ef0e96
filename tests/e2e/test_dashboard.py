"""The operator dashboard (CONTRACT §15) in a real headless Chromium.

Debian's chromium + chromium-driver driven by python3-selenium (scripts/deps.sh
installs them). One scenario walks every page as an operator would: sign in
with a key (kept in sessionStorage, never in the URL), watch a session
settle, be refused approving one's own session (the API's error shown),
approve it as a second principal, look at accounts, webhook attempts
(resend) and the chart. A screenshot of each page goes to build/screenshots/.
Names and references with markup in them must come out as text. The HTTP
side (CSP and other headers, ETag/304, unknown files) is checked directly.
"""

import os
import pathlib
import time

import pytest

from offramp_e2e import LIFECYCLE_STEP_MS, describe, free_port, http_request

from selenium import webdriver  # python3-selenium, installed by scripts/deps.sh
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.sqlite_only

SHOTS = pathlib.Path(__file__).resolve().parents[2] / "build" / "screenshots"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
XSS_NAME = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
XSS_REF = '"><img src=x onerror="window.__xss=3"><script>window.__xss=4</script>'
WAIT_S = 20


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from offramp_e2e import Server
    s = Server(tmp_path_factory.mktemp("srv"), step_ms=LIFECYCLE_STEP_MS,
               extra_args=("--webhook-allow-loopback", "--webhook-retry-base-ms", "50"))
    s.start()
    yield s
    s.stop_checked()


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service
    service = Service(executable_path="/usr/bin/chromedriver")
    d = webdriver.Chrome(options=opts, service=service)
    d.set_page_load_timeout(WAIT_S)
    yield d
    d.quit()


def shot(d, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"dashboard-{name}.png"
    assert d.save_screenshot(str(path)), f"screenshot {path}"
    assert path.stat().st_size > 5000, f"{path} looks empty"


def wait(d, fn, what):
    return WebDriverWait(d, WAIT_S, poll_frequency=0.1).until(lambda _: fn(), message=what)


def tid(d, name, **attrs):
    sel = f'[data-testid="{name}"]' + "".join(f'[data-{k}="{v}"]' for k, v in attrs.items())
    return d.find_elements(By.CSS_SELECTOR, sel)


def go(d, base, hash_):
    # a fresh load each time (a hash alone would not reload the same page)
    d.get(f"{base}/dashboard?load={time.monotonic_ns()}#{hash_}")
    wait(d, lambda: tid(d, "page-" + hash_.split("/")[0].split("?")[0]) or tid(d, "error")[0].is_displayed(),
         f"page {hash_}")


def sign_in(d, base, key):
    d.get(f"{base}/dashboard")
    d.execute_script("sessionStorage.clear()")
    d.get(f"{base}/dashboard")
    box = wait(d, lambda: tid(d, "api-key"), "the key input")[0]
    box.send_keys(key)
    tid(d, "sign-in")[0].click()
    wait(d, lambda: tid(d, "page-sessions"), "the sessions page after sign-in")
    assert key not in d.current_url, "the key must never be in a URL"
    assert d.execute_script("return sessionStorage.getItem('offramp.api_key')") == key


def no_xss(d):
    assert d.execute_script("return window.__xss === undefined"), "markup from data ran as script"
    imgs = d.find_elements(By.CSS_SELECTOR, "img")
    assert not imgs, f"markup from data became elements: {[i.get_attribute('outerHTML') for i in imgs]}"


def test_http_headers(srv):
    r = http_request(srv.port, "GET", "/dashboard")
    assert r.status == 200, describe(r)
    h = r.headers
    assert h["content-security-policy"] == CSP, h
    assert h["x-content-type-options"] == "nosniff", h
    assert h["content-type"] == "text/html; charset=utf-8", h
    assert "<script" in r.raw.decode() and "/dashboard/app.js" in r.raw.decode()
    assert "<script>" not in r.raw.decode() and "style=" not in r.raw.decode(), "no inline script/style"
    etag = h["etag"]
    for path, ctype in (("/dashboard/app.js", "text/javascript; charset=utf-8"),
                        ("/dashboard/style.css", "text/css; charset=utf-8"),
                        ("/dashboard/index.html", "text/html; charset=utf-8")):
        a = http_request(srv.port, "GET", path)
        assert a.status == 200 and a.headers["content-type"] == ctype, (path, describe(a))
        assert a.headers["cache-control"] == "no-cache" and a.headers["etag"], describe(a)
        assert a.headers["content-security-policy"] == CSP
    nm = http_request(srv.port, "GET", "/dashboard", headers={"If-None-Match": etag})
    assert nm.status == 304 and not nm.raw, describe(nm)
    for bad in ("/dashboard/nope.js", "/dashboard/../offramp.db", "/dashboard/x/app.js"):
        b = http_request(srv.port, "GET", bad)
        assert b.status == 404 and b.json["code"] == "route_not_found", (bad, describe(b))
        assert b.headers["content-security-policy"] == CSP
    p = http_request(srv.port, "POST", "/dashboard", body={})
    assert p.status == 405 and p.headers["allow"] == "GET, HEAD", describe(p)


def test_operator_walks_every_page(srv, browser):
    d, base = browser, f"http://127.0.0.1:{srv.port}"
    t = srv.new_tenant()
    t.set_threshold("1000.00")
    approver = t.make_key(["ramps.approve", "ramps.read"])["api_key"]
    w = t.setup("5000.00", client_name=XSS_NAME)
    hook_port = free_port()  # nothing listens: every delivery fails, attempts pile up
    r = t.req("POST", "/webhook-endpoints", {"url": f"http://127.0.0.1:{hook_port}/hook",
                                            "event_types": ["*"], "format": "standard"})
    assert r.status == 201, describe(r)
    hook_id = r.json["id"]
    big = t.create_session(w, "1500.00", payment_reference=XSS_REF)
    assert big["status"] == "pending_approval", big
    aid = big["approval_ref"].split("/", 1)[1]
    small = t.create_session(w, "10.00")

    sign_in(d, base, t.key)
    row = wait(d, lambda: tid(d, "session-row", id=big["id"]), "the pending session's row")[0]
    assert "pending_approval" in row.text and "1500.00 USDC" in row.text, row.text
    assert XSS_REF in row.text, f"the reference must show as text: {row.text!r}"
    no_xss(d)
    shot(d, "sessions")

    # filters: status settled lists the small one once it settles, not the big one
    def settled_listed():
        go(d, base, "sessions?status=settled&account_ref=" + w.account_ref)
        return tid(d, "session-row", id=small["id"])
    wait(d, settled_listed, "the small session listed as settled")
    assert not tid(d, "session-row", id=big["id"])

    # its detail: settled, a timeline of events, the ledger's hold and post
    go(d, base, "session/" + small["id"])
    det = tid(d, "session-detail")[0]
    assert det.get_attribute("data-status") == "settled", det.text
    events = [e.text for e in tid(d, "event-row")]
    assert any("off_ramp_session.settled" in e for e in events), events
    ledger = t.get(f"/off-ramp-sessions/{small['id']}/ledger")["items"]
    kinds = [x["kind"] for x in ledger]
    assert kinds[0] == "session_hold" and "session_payout" in kinds and "session_fees" in kinds, ledger
    assert ledger[0]["amount"] == {"currency": "USDC", "value": "11.00"}, ledger
    shown = [r.text for r in tid(d, "ledger-row")]
    assert len(shown) == len(ledger), (shown, ledger)
    for row, x in zip(shown, ledger):
        assert x["kind"] in row and f'{x["amount"]["value"]} {x["amount"]["currency"]}' in row, (row, x)
    r = srv.new_tenant().req("GET", f"/off-ramp-sessions/{small['id']}/ledger")
    assert r.status == 404, describe(r)
    shot(d, "session")

    # the initiator is refused, as the API refuses it
    go(d, base, "approvals")
    wait(d, lambda: tid(d, "approval-row", id=aid), "the pending approval")
    shot(d, "approvals")
    tid(d, "approval-row", id=aid)[0].find_element(By.CSS_SELECTOR, '[data-testid="approve"]').click()
    err = wait(d, lambda: [e for e in tid(d, "error") if e.is_displayed() and e.text], "the refusal")[0]
    assert "initiator_cannot_approve" in err.text and "403" in err.text, err.text
    shot(d, "approvals-refused")
    assert t.get(f"/approvals/{aid}")["status"] == "pending"

    # a second principal approves; the session goes on to settle
    sign_in(d, base, approver)
    go(d, base, "approvals")
    tid(d, "approval-row", id=aid)[0].find_element(By.CSS_SELECTOR, '[data-testid="approve"]').click()
    wait(d, lambda: not tid(d, "approval-row", id=aid), "the approved row gone")
    assert not [e for e in tid(d, "error") if e.is_displayed()], tid(d, "error")[0].text
    assert t.get(f"/approvals/{aid}")["status"] == "approved"

    def big_settled():
        go(d, base, "session/" + big["id"])
        det = tid(d, "session-detail")
        return det and det[0].get_attribute("data-status") == "settled"
    wait(d, big_settled, "the approved session settled")
    no_xss(d)

    # accounts and balances (the client's name is markup, shown as text)
    sign_in(d, base, t.key)
    go(d, base, "accounts")
    rows = wait(d, lambda: tid(d, "account-row", id=w.account_id), "the account's row")
    names = [r.find_element(By.CSS_SELECTOR, '[data-testid="client-name"]').text for r in rows]
    assert names and set(names) == {XSS_NAME}, names
    bal = t.balances(w.account_ref)["USDC"]
    usdc = [r.text for r in rows if " USDC " in r.text]
    assert len(usdc) == 1 and bal["available"] in usdc[0] and bal["total"] in usdc[0], (usdc, bal)
    no_xss(d)
    shot(d, "accounts")

    # webhook endpoints, their failing attempts, resend
    def attempts():
        go(d, base, "webhooks?endpoint=" + hook_id)
        return tid(d, "attempt-row")
    wait(d, attempts, "failed delivery attempts")
    assert tid(d, "webhook-row", id=hook_id)
    tid(d, "resend")[0].click()
    # the page's own POST .../resend, as the browser saw it answered
    js = ("return performance.getEntriesByType('resource')"
          ".filter(e => e.name.endsWith('/resend')).map(e => e.responseStatus)")
    statuses = wait(d, lambda: d.execute_script(js), "the resend request")
    assert statuses[0] in (200, 201, 202), statuses
    assert not [e for e in tid(d, "error") if e.is_displayed()], tid(d, "error")[0].text
    shot(d, "webhooks")

    # the chart: bars per hour, volume as the API's decimals summed exactly
    go(d, base, "chart")
    svg = tid(d, "chart")[0]
    assert svg.find_elements(By.CSS_SELECTOR, "rect.bar-settled"), "no settled bar"
    vols = [v.text for v in tid(d, "chart-volume")]
    assert "1510.00" in vols, vols
    shot(d, "chart")
    go(d, base, "chart?by=day")
    assert "1510.00" in [v.text for v in tid(d, "chart-volume")]

    # the page ran without a CSP violation or a script error
    logs = [m["message"] for m in d.get_log("browser") if m["level"] == "SEVERE"]
    bad = [m for m in logs if "Content Security Policy" in m or "Uncaught" in m]
    assert not bad, bad
    assert os.path.isdir(SHOTS)
