"""The README's "First request" is examples/first-session.sh: the README's
block is the script's walkthrough, line for line, and the script runs to a
settled session against a real server (with the release-style binary the
tests use), printing the balances and events the README promises."""

import os
import subprocess

from offramp_e2e import BIN, REPO

SCRIPT = REPO / "examples" / "first-session.sh"
MARK = "# --- walkthrough (the README shows from here to the end) ---\n"


def readme_block():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## First request")
    a = text.index("```sh\n", start) + len("```sh\n")
    return text[a:text.index("```\n", a)]


def test_readme_shows_the_script():
    script = SCRIPT.read_text(encoding="utf-8")
    assert MARK in script, "the script lost its walkthrough marker"
    assert readme_block() == script.split(MARK, 1)[1], \
        "README 'First request' differs from examples/first-session.sh: copy the script's walkthrough"


def test_first_session_script_runs(fast_server):
    env = dict(os.environ, OFFRAMP_URL=f"http://127.0.0.1:{fast_server.port}", OFFRAMP_BIN=BIN,
               OFFRAMP_DB=str(fast_server.db))
    if fast_server.database_url:  # PostgreSQL: the script's admin commands use the server's database
        env["OFFRAMP_DATABASE_URL"] = fast_server.database_url
    p = subprocess.run(["sh", str(SCRIPT)], cwd=str(REPO), env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"first-session.sh failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    out = p.stdout
    assert '"available":"749.00","currency":"USDC","held":"251.00","total":"1000.00"' in out, out
    assert '"status":"settled","fill_rate":"0.92","delivered_amount":{"currency":"EUR","value":"230.00"}' in out, out
    assert '"available":"749.00","currency":"USDC","held":"0.00","total":"749.00"' in out, out
    assert "off_ramp_session.settled" in out and '"ok":true' in out, out
