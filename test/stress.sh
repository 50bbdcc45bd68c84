#!/usr/bin/env bash
# "make stress": the long versions of the reliability tests, with a summary of the figures
# reached. "make test" runs the quick versions of the same tests.
#
#   consistency  STRESS_CLIENTS pgbench clients (default 16) mixing every data operation on
#                shared keys for STRESS_SECONDS (default 300), with periodic saves: anomalies
#                (values returned that were never written) and lost increments must be 0
#                (test/reliability/consistency.sh)
#   crash        test/t/020_crash_recovery.pl with STRESS_CRASH_ROUNDS rounds (default 5) of
#                its kill -9 scenarios (puts, scans, resizes), plus its save, worker, load and
#                immediate-shutdown ones, every value checked after every restart
#   fuzz         each libFuzzer target for STRESS_FUZZ_SECONDS (default 600) with
#                STRESS_FUZZ_JOBS parallel jobs (default: the number of CPUs) (test/fuzz/)
#   sqlsmith     random queries for STRESS_SQLSMITH_SECONDS (default 600): no crash
#                (test/reliability/sqlsmith.sh)
#   regressions  the reproductions of fixed bugs in test/reliability/regressions.sh
#   valgrind     with STRESS_VALGRIND=1 only: pg_regress suites against a server run under
#                valgrind memcheck (test/reliability/valgrind.sh)
#
# STRESS_STEPS="consistency crash fuzz sqlsmith regressions" chooses and orders the steps.
# Ends with the summary and exits non-zero if any step failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CLIENTS=${STRESS_CLIENTS:-16}
SECONDS_LOAD=${STRESS_SECONDS:-300}
CRASH_ROUNDS=${STRESS_CRASH_ROUNDS:-5}
FUZZ_SECONDS=${STRESS_FUZZ_SECONDS:-600}
FUZZ_JOBS=${STRESS_FUZZ_JOBS:-$(nproc)}
SQLSMITH_SECONDS=${STRESS_SQLSMITH_SECONDS:-600}
STEPS=${STRESS_STEPS:-consistency crash fuzz sqlsmith regressions}
if [[ ${STRESS_VALGRIND:-0} == 1 && " $STEPS " != *" valgrind "* ]]; then
    STEPS="$STEPS valgrind"
fi

WORK=$(mktemp -d /tmp/simple_cache_stress.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
FAILED=()
STARTED=$(date +%s)

# Runs "$@" as the OS user that owns throwaway clusters (postgres when we are root).
as_cluster_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Runs step $1 (the rest is the command), timing it and recording a failure.
step() {
    local name=$1 begin rc
    shift
    echo
    echo "=================== stress: $name ==================="
    begin=$(date +%s)
    "$@"
    rc=$?
    echo "stress: $name ended with status $rc after $(($(date +%s) - begin))s"
    if [[ $rc -ne 0 ]]; then
        FAILED+=("$name")
    fi
    return 0
}

step_consistency() {
    CONSISTENCY_SUMMARY=$WORK/consistency test/reliability/consistency.sh "$CLIENTS" "$SECONDS_LOAD" 5000
    local rc=$?
    SUMMARY+=("$(cat "$WORK/consistency" 2>/dev/null || echo 'consistency: no result')")
    return $rc
}

# Runs test/t/020_crash_recovery.pl alone, as the perl-tap suite of run-all.sh runs TAP tests.
step_crash() {
    local pgxs tap rc
    pgxs=$(dirname "$(dirname "$(dirname "$(pg_config --pgxs)")")")
    tap=$WORK/tap
    mkdir -p "$tap"
    cp -R test/t "$tap/t"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres: "$tap"
    fi
    (
        cd "$tap"
        as_cluster_owner env PATH="$(pg_config --bindir):$PATH" \
            PG_REGRESS="$pgxs/src/test/regress/pg_regress" TESTDIR="$tap" SIMPLE_CACHE_SRCDIR="$ROOT" \
            SIMPLE_CACHE_CRASH_ROUNDS="$CRASH_ROUNDS" PG_TEST_TIMEOUT_DEFAULT=600 \
            prove -I "$pgxs/src/test/perl" -I "$tap/t" t/020_crash_recovery.pl
    ) 2>&1 | tee "$WORK/crash.out"
    rc=${PIPESTATUS[0]}
    SUMMARY+=("crash: rounds=$CRASH_ROUNDS $(grep -Eo 'crashes survived: [0-9]+' "$WORK/crash.out" | tail -n 1 || echo 'crashes survived: ?')")
    return "$rc"
}

step_fuzz() {
    local rc line total=0
    FUZZ_JOBS=$FUZZ_JOBS FUZZ_SUMMARY=$WORK/fuzz test/fuzz/run.sh "$FUZZ_SECONDS"
    rc=$?
    while read -r target execs seconds status; do
        SUMMARY+=("fuzz: $target executions=$execs seconds=$seconds jobs=$FUZZ_JOBS exit=$status")
        total=$((total + execs))
    done <"$WORK/fuzz"
    SUMMARY+=("fuzz: total executions=$total, $(awk -v s="$FUZZ_SECONDS" -v j="$FUZZ_JOBS" -v n="$(wc -l <"$WORK/fuzz")" \
        'BEGIN { printf "%.2f CPU hours", s * j * n / 3600 }')")
    return "$rc"
}

step_sqlsmith() {
    SQLSMITH_SUMMARY=$WORK/sqlsmith test/reliability/sqlsmith.sh "$SQLSMITH_SECONDS"
    local rc=$?
    SUMMARY+=("$(cat "$WORK/sqlsmith" 2>/dev/null || echo 'sqlsmith: no result')")
    return $rc
}

step_regressions() {
    test/reliability/regressions.sh 2>&1 | tee "$WORK/regressions.out"
    local rc=${PIPESTATUS[0]}
    SUMMARY+=("regressions: $(grep -c '^fixed' "$WORK/regressions.out") fixed bugs stay fixed, $(grep -c '^BUG' "$WORK/regressions.out") back")
    return "$rc"
}

step_valgrind() {
    test/reliability/valgrind.sh 2>&1 | tee "$WORK/valgrind.out"
    local rc=${PIPESTATUS[0]}
    SUMMARY+=("$(grep -E '^valgrind:' "$WORK/valgrind.out" | tail -n 1 || echo 'valgrind: no result')")
    return "$rc"
}

echo "stress: steps: $STEPS"
echo "stress: clients=$CLIENTS seconds=$SECONDS_LOAD crash_rounds=$CRASH_ROUNDS fuzz_seconds=$FUZZ_SECONDS" \
    "fuzz_jobs=$FUZZ_JOBS sqlsmith_seconds=$SQLSMITH_SECONDS"
bash test/install-deps.sh && bash test/build-install.sh >"$WORK/build.log" 2>&1 || {
    cat "$WORK/build.log"
    echo "stress: the build failed"
    exit 1
}
for name in $STEPS; do
    step "$name" "step_${name//-/_}"
done

echo
echo "=================== stress: summary ==================="
printf '%s\n' "${SUMMARY[@]}"
echo "stress: $(($(date +%s) - STARTED))s in all; failed steps: ${FAILED[*]:-none}"
[[ ${#FAILED[@]} -eq 0 ]]
