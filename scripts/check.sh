#!/bin/sh
# make check: every stage with its full output in build/check/<stage>.log,
# one line each on the terminal, and a closing summary. On a failure the
# stage's own report (the failing tests, the compiler error) is printed, then
# the run stops: a later stage would only repeat the same cause.
#
# Usage: scripts/check.sh   (from the repository root; make check calls it)
set -u
MAKE="${MAKE:-make}"
LOGS=build/check
mkdir -p "$LOGS"
start=$(date +%s)
summary=""

elapsed() { echo $(($(date +%s) - $1)); }

# stage NAME COMMAND...: run it, its output to the log; prints one line.
stage() {
	name=$1
	shift
	t0=$(date +%s)
	log="$LOGS/$name.log"
	if "$@" >"$log" 2>&1; then
		line=$(result_line "$name" "$log")
		printf '%-12s ok    %4ss  %s\n' "$name" "$(elapsed "$t0")" "$line"
		summary="$summary $name:ok"
		return 0
	fi
	printf '%-12s FAIL  %4ss  (full log: %s)\n' "$name" "$(elapsed "$t0")" "$log"
	failure_report "$name" "$log"
	summary="$summary $name:FAIL"
	finish 1
}

result_line() {
	case $1 in
	unit | unit-pg) printf '%s; %s tests' "$(grep -E '^unit programs:' "$2" | tail -n 1)" \
		"$(grep -Eo 'PASSED  \] [0-9]+' "$2" | awk '{s += $3} END {print s + 0}')" ;;
	fuzz-replay) printf '%s corpora replayed, %s inputs' \
		"$(grep -c 'inputs' "$2")" \
		"$(grep -Eo '[0-9]+ inputs' "$2" | awk '{s += $1} END {print s + 0}')" ;;
	e2e | e2e-pg) grep -E '(passed|failed|error)' "$2" | tail -n 1 | sed 's/^=* *//; s/ *=*$//' ;;
	sim) grep -E '^sim: [0-9]+ seeds' "$2" | tail -n 1 | sed -E 's/^sim: //; s/ \(from [0-9]+\)//; s/, rail:.*;/;/' ;;
	*) echo "" ;;
	esac
}

failure_report() {
	echo "---- $1: what failed ----"
	case $1 in
	e2e | e2e-pg)
		# pytest's short summary (one line per failure), then the first
		# failure's own report.
		sed -n '/^_\{5,\} .* _\{5,\}$/,/^_\{5,\} .* _\{5,\}$/p' "$2" | head -n 60
		sed -n '/short test summary info/,$p' "$2" | head -n 40
		return ;;
	unit | unit-pg) grep -E 'FAILED|FAIL|ERROR|runtime error|AddressSanitizer|LeakSanitizer' "$2" | head -n 40 ;;
	sim) grep -E -A 40 '^sim: FAIL|runtime error|AddressSanitizer' "$2" | head -n 45 ;;
	*) grep -E 'error|Error|ERROR|FAILED|No such' "$2" | head -n 40 ;;
	esac
	echo "----"
	tail -n 15 "$2"
}

finish() {
	total=$(elapsed "$start")
	if [ "$1" -eq 0 ]; then
		echo "== check: PASS in ${total}s (${summary# }) =="
	else
		echo "== check: FAIL in ${total}s (${summary# }); logs in $LOGS/ =="
	fi
	exit "$1"
}

stage deps scripts/deps.sh
stage build "$MAKE" --no-print-directory -j2 build/offramp-san build/offramp
stage unit "$MAKE" --no-print-directory -j2 unit
stage unit-pg "$MAKE" --no-print-directory unit-pg
stage fuzz-replay "$MAKE" --no-print-directory fuzz-replay
stage sim "$MAKE" --no-print-directory sim SEEDS=250 SIM_STEPS=100
stage e2e "$MAKE" --no-print-directory e2e
stage e2e-pg "$MAKE" --no-print-directory e2e-pg
finish 0
