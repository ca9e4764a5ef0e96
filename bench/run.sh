#!/usr/bin/env bash
# make bench: installs the tools it needs when missing (wrk, gnuplot-nox),
# builds the server and the bench programs, then runs bench/bench.py, which
# says what it measures and prints every figure. Knobs are environment
# variables (README "Benchmarks"); BENCH_QUICK=1 is the short smoke run.
# `bench/run.sh pg` (make bench-pg) runs bench/pg_bench.py instead: offramp on
# PostgreSQL against pgbench (both in postgresql-15, which scripts/deps.sh has).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh wrk gnuplot-nox
if [ "${1:-}" = pg ]; then
	make -s build/offramp
	exec /usr/bin/python3 bench/pg_bench.py
fi
make -s build/offramp build/bench/loadgen build/bench/ceiling
exec /usr/bin/python3 bench/bench.py
