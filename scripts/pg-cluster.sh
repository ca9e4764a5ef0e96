#!/bin/sh
# A throwaway PostgreSQL cluster for the tests: created under DIR, listening
# on 127.0.0.1 only (no Unix socket), trust authentication for its one role
# `offramp` (a superuser, so the e2e harness can create a database per
# server). PostgreSQL refuses to run as root, so as root the cluster belongs
# to the unprivileged system user `offramp-pg`, created when missing.
#
#   scripts/pg-cluster.sh start DIR [PORT]  -> prints the admin URL
#                                              postgres://offramp@127.0.0.1:PORT/postgres
#   scripts/pg-cluster.sh stop DIR          -> stops it (fast); DIR stays
#   scripts/pg-cluster.sh url DIR           -> prints the URL of a running one
#
# PORT defaults to a free port the kernel picks. The cluster runs with
# fsync=off: it is thrown away after the run, and what the tests kill is
# `offramp serve`, never PostgreSQL, so its own crash safety is not under
# test and turning it off only saves time. `make bench-pg` starts its own
# cluster with fsync on (bench/pg_bench.py), since there the sync is measured.
# PG_FSYNC=on overrides.
set -eu

PGBIN="${PGBIN:-}"
if [ -z "$PGBIN" ]; then
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && PGBIN=$d; done
fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || {
	echo "pg-cluster: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	exit 1
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: $0 start|stop|url DIR [PORT]" >&2
	exit 2
}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"
PGUSER_OS=""

# as_owner CMD...: run as the cluster's owner (offramp-pg when we are root).
as_owner() {
	if [ -n "$PGUSER_OS" ]; then
		# runuser keeps no environment but what we pass; the binaries need none.
		runuser -u "$PGUSER_OS" -- "$@"
	else
		"$@"
	fi
}

if [ "$(id -u)" -eq 0 ]; then
	PGUSER_OS=offramp-pg
	id "$PGUSER_OS" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS"
	chown "$PGUSER_OS" "$dir"
	# Every directory above DIR must be searchable by that user.
	p=$dir
	while [ "$p" != "/" ]; do
		p=$(dirname "$p")
		chmod o+x "$p" 2>/dev/null || true
	done
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case $cmd in
start)
	if [ -f "$data/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		cat "$dir/url"
		exit 0
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as_owner "$PGBIN/initdb" -D "$data" -U offramp --auth=trust -E UTF8 --locale=C.UTF-8 \
			>"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			exit 1
		}
	fi
	port=${3:-$(free_port)}
	fsync=${PG_FSYNC:-off}
	as_owner "$PGBIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories= \
-c fsync=$fsync -c full_page_writes=$fsync -c max_connections=400 -c shared_buffers=128MB" \
		start >/dev/null || {
		tail -n 20 "$dir/postgres.log" >&2
		exit 1
	}
	echo "postgres://offramp@127.0.0.1:$port/postgres" >"$dir/url"
	cat "$dir/url"
	;;
stop)
	[ -f "$data/postmaster.pid" ] || exit 0
	as_owner "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	;;
url)
	cat "$dir/url"
	;;
*)
	echo "usage: $0 start|stop|url DIR [PORT]" >&2
	exit 2
	;;
esac
