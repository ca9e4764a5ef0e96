#!/bin/sh
# Install the Debian packages Offramp builds, runs and tests with, when they
# are missing. Idempotent: does nothing (and needs no network) when all are
# present. Needs root or sudo for apt-get. Extra package names given as
# arguments are installed too (make fuzz-short adds clang).
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libjansson-dev libyajl-dev libsqlite3-dev
libssl-dev libcurl4-openssl-dev libpq-dev libxml2-dev libxml2-utils libcmocka-dev nettle-dev libsecp256k1-dev
python3 python3-pytest sqlite3 curl jq
postgresql postgresql-client haproxy prometheus
python3-jsonschema xxd nodejs npm groff-base
chromium chromium-driver python3-selenium"
missing=""
for p in $PKGS "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && continue
	# A Node.js from elsewhere (nodesource's nodejs bundles npm and conflicts
	# with Debian's npm): the command is what the tests need.
	case "$p" in nodejs | npm) command -v "${p%js}" >/dev/null 2>&1 && continue ;; esac
	missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
