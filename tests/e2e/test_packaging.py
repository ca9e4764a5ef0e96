"""Packaging (issue 14 item 4): `make install` with PREFIX/DESTDIR, the
hardened systemd unit deploy/offramp.service, and the Dockerfile.

systemd-analyze is part of the `systemd` package, present on every Debian
host this suite runs on (scripts/deps.sh does not need to add it); the unit
test below asserts it exists rather than skipping. Docker is not used here:
building an image needs a daemon and the network, which `make check` has not.
The Dockerfile is checked against scripts/deps.sh instead (the same -dev
packages). Backend-independent: sqlite_only."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.sqlite_only

ROOT = pathlib.Path(__file__).resolve().parents[2]
HARDENING = {
    "DynamicUser": "yes", "ProtectSystem": "strict", "StateDirectory": "offramp", "NoNewPrivileges": "yes",
    "PrivateTmp": "yes", "ProtectHome": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service", "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
}


def make_install(**env):
    args = ["make", "-s", "--no-print-directory", "install"] + [f"{k}={v}" for k, v in env.items()]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_make_install_into_destdir_runs(tmp_path):
    dest = tmp_path / "dest"
    make_install(DESTDIR=dest, PREFIX="/usr")
    for f in ("usr/bin/offramp", "usr/share/man/man1/offramp.1", "usr/lib/systemd/system/offramp.service",
              "usr/share/doc/offramp/API.md", "usr/share/doc/offramp/openapi.json"):
        assert (dest / f).is_file(), f"make install did not install {f}"
    assert os.access(dest / "usr/bin/offramp", os.X_OK)
    unit = (dest / "usr/lib/systemd/system/offramp.service").read_text()
    assert "ExecStart=/usr/bin/offramp serve" in unit, "the unit runs the binary of PREFIX, not of DESTDIR"
    r = subprocess.run([str(dest / "usr/bin/offramp"), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "offramp serve" in r.stdout and "offramp sessions" in r.stdout, r
    r = subprocess.run([str(dest / "usr/bin/offramp"), "approvals", "--help"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "approvals approve" in r.stdout, r
    r = subprocess.run(["man", "-l", "-P", "cat", str(dest / "usr/share/man/man1/offramp.1")],
                       capture_output=True, text=True, timeout=30, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and "OFFRAMP_API_KEY" in r.stdout, r.stderr


def unit_settings(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2).strip())
    return out


def test_systemd_unit_is_hardened_and_verifies(tmp_path):
    settings = unit_settings((ROOT / "deploy/offramp.service").read_text())
    for k, v in HARDENING.items():
        assert v in settings.get(k, []), f"deploy/offramp.service: {k}={v} expected, has {settings.get(k)}"
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian package systemd) is missing"
    # Installed under a real PREFIX so ExecStart names an existing binary.
    prefix = tmp_path / "prefix"
    make_install(PREFIX=prefix)
    unit = prefix / "lib/systemd/system/offramp.service"
    r = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on a directive it ignores: its output must be empty too.
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    r = subprocess.run([analyze, "security", "--offline=yes", "--man=no", str(unit)], capture_output=True,
                       text=True, timeout=60)
    m = re.search(r"Overall exposure level for offramp.service: ([0-9.]+)", r.stdout)
    assert m and float(m.group(1)) <= 2.0, r.stdout[-500:] + r.stderr


def test_dockerfile_builds_on_debian_12_with_the_deps_of_the_build():
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms and all(f.startswith("debian:12") for f in froms), froms
    deps = (ROOT / "scripts/deps.sh").read_text()
    wanted = set(re.findall(r"\b(lib[a-z0-9-]+-dev|nettle-dev|pkg-config|xxd)\b", deps)) - {"libcmocka-dev"}
    have = set(re.findall(r"\b(lib[a-z0-9-]+-dev|nettle-dev|pkg-config|xxd)\b", text))
    assert wanted <= have, f"the Dockerfile lacks build packages of scripts/deps.sh: {wanted - have}"
    assert "make" in text and "build/offramp" in text and 'ENTRYPOINT ["/usr/local/bin/offramp"]' in text
    assert 'CMD ["serve"' in text
