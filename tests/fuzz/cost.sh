#!/usr/bin/env bash
# cost.sh REPEAT DIR BIN... - the CPU time one input costs each libFuzzer binary: every file
# of DIR (a fixed input set, e.g. a copy of build/fuzz/corpus/<target> plus its seeds) run
# REPEAT times by each BIN in turn, with run.sh's sanitizer options and a scratch dir on
# /dev/shm. A fuzzing run's inputs/s depends on the inputs the run happened to make and on
# the machine's load; user+system time over the same inputs compares two builds of a target
# (before and after a change) on a shared machine. Nothing is fuzzed.
set -uo pipefail
repeat=$1 dir=$2
shift 2
cd "$(dirname "$0")/../.."
n=$(find "$dir" -maxdepth 1 -type f | wc -l)
[ "$n" -gt 0 ] || { echo "no inputs in $dir" >&2; exit 2; }
base=/var/tmp
[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] && base=/dev/shm
for bin in "$@"; do
        scratch=$(mktemp -d "$base"/berth-fuzz-cost-XXXXXX)
        times=$(mktemp)
        BERTH_FUZZ_TMP=$scratch ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
                LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0 \
                /usr/bin/time -f '%U %S' -o "$times" "$bin" -runs="$repeat" "$dir"/* >/dev/null 2>&1
        rc=$?
        read -r user sys <"$times"
        rm -rf "$scratch" "$times"
        awk -v b="$bin" -v n=$((n * repeat)) -v u="$user" -v s="$sys" -v rc=$rc 'BEGIN {
                printf "%-40s rc=%d inputs=%d cpu=%.2fs (user %.2f, sys %.2f) %.0f us/input\n", b, rc, n, u + s, u, s, (u + s) / n * 1e6 }'
done
