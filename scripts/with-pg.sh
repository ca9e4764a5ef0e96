#!/bin/sh
# Run a command against a throwaway PostgreSQL cluster under build/pg:
# started if it is not running, its admin URL exported as
# OFFRAMP_TEST_DATABASE_URL (the e2e suite) and OFFRAMP_TEST_STORE (the store
# conformance suite), and stopped again afterwards if this script started it.
#
# Usage: scripts/with-pg.sh COMMAND...   (make e2e-pg, make unit-pg)
set -eu
dir=${OFFRAMP_PG_DIR:-build/pg}
started=""
if ! url=$(scripts/pg-cluster.sh url "$dir" 2>/dev/null) ||
	! psql -X -q -tA -d "$url" -c "SELECT 1" >/dev/null 2>&1; then
	url=$(scripts/pg-cluster.sh start "$dir")
	started=1
fi
stop() { [ -z "$started" ] || scripts/pg-cluster.sh stop "$dir" || true; }
trap stop EXIT
trap 'exit 130' INT TERM
echo "with-pg: PostgreSQL at $url" >&2
OFFRAMP_TEST_DATABASE_URL=$url OFFRAMP_TEST_STORE=$url "$@"
