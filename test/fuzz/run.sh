#!/usr/bin/env bash
# Builds and runs the libFuzzer targets for a bounded time each.
#
#   test/fuzz/run.sh [seconds per target] [target...]     (default: 25 s, every target)
#
# Targets: fuzz_snapshot_file (the saved-cache file parser), fuzz_dht_ops (DHT core operations
# against a reference map) and fuzz_invalidation_record (the decoder of the WAL record that
# standbys replay); see the comments at the top of each source file.
# Installs clang and libclang-rt-14-dev from Debian when missing. Each target keeps its corpus
# in build/fuzz/corpus/<target>/ between runs, so repeated runs go deeper. A crash, a leak or
# a failed oracle stops the target; the input that did it is left in build/fuzz/ as
# crash-*, leak-* or timeout-*, and the script fails.
#
# Environment: FUZZ_JOBS (parallel fuzzing processes per target, default 1), FUZZ_SUMMARY
# (file to append "target executions seconds" lines to, for test/stress.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SECONDS_EACH=${1:-25}
shift || true
TARGETS=("$@")
if [[ ${#TARGETS[@]} -eq 0 ]]; then
    TARGETS=(fuzz_snapshot_file fuzz_dht_ops fuzz_invalidation_record)
fi
JOBS=${FUZZ_JOBS:-1}
BUILD=$ROOT/build/fuzz

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

# clang with libFuzzer: Debian's clang plus its compiler runtime (libclang-rt-14-dev).
ensure_clang() {
    local probe=$BUILD/probe
    mkdir -p "$BUILD"
    printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }\n' >"$probe.cpp"
    if command -v clang++ >/dev/null 2>&1 &&
        clang++ -fsanitize=fuzzer,address "$probe.cpp" -o "$probe" >/dev/null 2>&1; then
        return 0
    fi
    echo "fuzz: installing clang and libclang-rt-14-dev"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        clang libclang-rt-14-dev
}

ensure_clang
"${MAKE:-make}" --no-print-directory -f test/fuzz/Makefile

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for target in "${TARGETS[@]}"; do
    corpus=$BUILD/corpus/$target
    mkdir -p "$corpus"
    log=$BUILD/$target.log
    echo "fuzz: $target for ${SECONDS_EACH}s ($JOBS job(s)), corpus $corpus"
    rc=0
    if [[ $JOBS -gt 1 ]]; then
        # -fork runs JOBS workers and merges what they find into the corpus.
        (cd "$BUILD" && "./$target" -fork="$JOBS" -max_total_time="$SECONDS_EACH" \
            -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 "$corpus") >"$log" 2>&1 || rc=$?
    else
        (cd "$BUILD" && "./$target" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
            -timeout=20 -rss_limit_mb=2048 "$corpus") >"$log" 2>&1 || rc=$?
    fi
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1 || true)
    if [[ -z $execs ]]; then
        # -fork prints per-job stats; the last status line carries the total.
        execs=$(grep -Eo '#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
    fi
    execs=${execs:-0}
    echo "fuzz: $target: $execs executions, corpus $(find "$corpus" -type f | wc -l) inputs, exit status $rc"
    if [[ -n ${FUZZ_SUMMARY:-} ]]; then
        echo "$target $execs $SECONDS_EACH $rc" >>"$FUZZ_SUMMARY"
    fi
    if [[ $rc -ne 0 ]]; then
        failed=1
        echo "fuzz: $target FAILED; last lines of $log:"
        tail -n 40 "$log"
    fi
done
exit "$failed"
