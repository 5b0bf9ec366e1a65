#!/usr/bin/env bash
# run.sh SECONDS BIN... - run each libFuzzer target for SECONDS from its seed corpus
# (tests/fuzz/corpus/<target>, in the repository) plus what earlier runs found
# (build/fuzz/corpus/<target>), and print one line per target: executions, corpus, result.
# A crash, leak, hang or sanitizer report fails the run; the input is kept under
# build/fuzz/artifacts/ so it can become a unit test.
# FUZZ_RUNS=N (optional) also stops a target after N executions, so a long run spends the
# time left on the slower targets (make fuzz FUZZ_SECONDS=3600 FUZZ_RUNS=10000000).
# Every run also appends a line to build/fuzz/logs/runs.tsv (UTC start, target, executions,
# wall seconds, exit status, corpus size), so executions can be summed over several runs
# of a target that carried its corpus over, and each run's figure stays on record.
set -uo pipefail
seconds=$1
shift
cd "$(dirname "$0")/../.."
mkdir -p build/fuzz/artifacts build/fuzz/logs
# Scratch roots (layers applied, stores loaded, logs written and read) on a tmpfs where
# there is one: the same system calls, without the disk (fsync included) in each input.
scratch_base=/var/tmp
[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] && scratch_base=/dev/shm
failed=0
printf '%-22s %14s %8s  %s\n' target executions corpus result
for bin in "$@"; do
        name=$(basename "$bin")
        seeds=tests/fuzz/corpus/$name
        work=build/fuzz/corpus/$name
        mkdir -p "$work" "$seeds"
        log=build/fuzz/logs/$name.log
        scratch=$(mktemp -d "$scratch_base"/berth-fuzz-run-XXXXXX)
        started=$(date -u +%FT%TZ) t0=$(date +%s)
        BERTH_FUZZ_TMP=$scratch ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
                LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0 \
                "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
                ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/"$name"- \
                "$work" "$seeds" >"$log" 2>&1
        rc=$?
        rm -rf "$scratch"
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        corpus=$(find "$work" -type f | wc -l)
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$started" "$name" "${execs:-?}" $(($(date +%s) - t0)) $rc "$corpus" \
                >>build/fuzz/logs/runs.tsv
        if [ $rc -eq 0 ]; then
                result=ok
        else
                result="FAILED (rc=$rc, see $log)"
                failed=1
        fi
        printf '%-22s %14s %8s  %s\n' "$name" "${execs:-?}" "$corpus" "$result"
done
if [ $failed -ne 0 ]; then
        for f in build/fuzz/logs/*.log; do
                grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$f" && { echo "== $f"; tail -40 "$f"; }
        done
        exit 1
fi
