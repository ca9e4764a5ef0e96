#!/usr/bin/env bash
# make bench: installs the tools it needs when missing (wrk, gnuplot-nox),
# builds the server and the bench programs, then runs bench/bench.py, which
# says what it measures and prints every figure. Knobs are environment
# variables (README "Benchmarks"); BENCH_QUICK=1 is the short smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh wrk gnuplot-nox
make -s build/offramp build/bench/loadgen build/bench/ceiling
exec /usr/bin/python3 bench/bench.py
