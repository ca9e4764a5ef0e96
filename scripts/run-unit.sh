#!/bin/sh
# Run each cmocka test program in its own process (libuv's rule: a crash or
# leak in one cannot hide in another) and print one closing line.
set -u
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
pass=0 fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t" >&2; fi
done
echo "unit programs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
