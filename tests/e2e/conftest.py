"""Fixtures for the end-to-end tests.

Run:  OFFRAMP_BIN=$PWD/build/offramp-san /usr/bin/python3 -m pytest -q tests/e2e

`server` is one `offramp serve` per test module (tests isolate themselves by
creating their own tenant); `server_factory` starts servers owned by one test.
Every server is stopped with SIGTERM at teardown and must exit 0 within 10 s;
under the sanitised build a leak report makes the exit status non-zero, so
this also fails a module that leaks.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openapi_check import openapi_answers_valid  # noqa: E402,F401  (autouse: answers vs docs/openapi.json)
from offramp_e2e import DEFAULT_STEP_MS, LIFECYCLE_STEP_MS, SHARED, SHARED_NEEDS, TEST_DATABASE_URL, Server  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: reads or locks the SQLite file itself; "
                            "deselected when the suite runs on PostgreSQL")
    config.addinivalue_line("markers", "pg_only: needs PostgreSQL (several nodes on one database, "
                            "a database outage); deselected when the suite runs on SQLite")


def pytest_collection_modifyitems(config, items):
    """One suite, two backends: OFFRAMP_TEST_DATABASE_URL picks PostgreSQL.
    A test that only means something on one backend is deselected on the
    other (counted as deselected in the summary, not as skipped or passed)."""
    drop = "sqlite_only" if TEST_DATABASE_URL else "pg_only"
    keep = [i for i in items if drop not in i.keywords]
    gone = [i for i in items if drop in i.keywords]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep


def pytest_sessionstart(session):
    """Say what is missing, once, instead of failing tests one by one."""
    missing = [str(SHARED / n) for n in SHARED_NEEDS if not (SHARED / n).is_dir()]
    if missing:
        raise pytest.UsageError(
            "the end-to-end tests need the shared test data (the contract's seed pages and "
            f"JSONTestSuite), not found at: {', '.join(missing)}.\n"
            f"Put the `shared/` folder beside the checkout (expected at {SHARED}), or set "
            "OFFRAMP_SHARED=/path/to/shared.")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("srv"))
    s.start()
    yield s
    s.stop_checked()


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory):
    """One `offramp serve` per module with a short sandbox step
    (LIFECYCLE_STEP_MS): sessions move through their lifecycle on their own."""
    s = Server(tmp_path_factory.mktemp("srv"), step_ms=LIFECYCLE_STEP_MS)
    s.start()
    yield s
    s.stop_checked()


@pytest.fixture
def server_factory(tmp_path_factory):
    """start(db=None, port=None, extra_args=(), step_ms=DEFAULT_STEP_MS,
    env=None) -> a started Server; all are stopped and checked (exit 0)
    after the test unless the test stopped them itself. The default step is
    an hour: sessions stay `executing`; lifecycle tests pass a short one."""
    made = []

    def start(db=None, port=None, extra_args=(), step_ms=DEFAULT_STEP_MS, env=None):
        s = Server(tmp_path_factory.mktemp("srv"), db=db, extra_args=extra_args, step_ms=step_ms, env=env)
        s.start(port=port)
        made.append(s)
        return s

    yield start
    failures = []
    for s in made:
        if s.proc is not None:
            try:
                s.stop_checked()
            except AssertionError as e:
                failures.append(str(e))
    assert not failures, "\n".join(failures)


@pytest.fixture(autouse=True)
def _module_server_still_running(request):
    """After each test that used the module's server, the server must still
    be running (a crash is reported against the test that caused it)."""
    yield
    for name in ("server", "fast_server"):
        if name in request.fixturenames:
            s = request.getfixturevalue(name)
            if s.proc is not None and s.proc.poll() is not None:
                rc = s.proc.returncode
                pytest.fail(f"the server died during this test (exit status {rc})\n--- stderr ---\n{s.stderr()}",
                            pytrace=False)


@pytest.fixture(scope="module")
def tenant(server):
    return server.new_tenant()
