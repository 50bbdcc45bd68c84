#!/usr/bin/env bash
# "make test": installs dependencies, builds and installs the extension, then runs every test
# suite, each in its own subshell (and, where it needs one, its own throwaway cluster):
#
#   deps       test/install-deps.sh
#   packaging  test/check-packaging.sh: META.json and debian/ agree with the source tree
#   build      make all + make install
#   meson      the same module built and installed with meson (build/meson), so the suites
#              after it test the meson build
#   unit       core unit tests, -O2 -g with AddressSanitizer + UBSan   (test/unit/*.cpp)
#   unit-tsan  core unit tests with ThreadSanitizer                      (test/unit/*.cpp)
#   regress    make installcheck of the pg_regress suites (sql/[0-9]*.sql with expected/)
#   isolation  make installcheck of the isolation specs (test/isolation/specs/*.spec)
#   capi       the C API's test consumer (test/capi_consumer/, a C extension built against the
#              installed simple_cache_api.h): built, installed, its pg_regress suites run
#   pgtap      pg_prove over test/pgtap/*.sql
#   pgbench    several pgbench clients at once: incr and cas increments, exact totals checked
#   preload    test/preload_smoke.sql on a server with shared_preload_libraries = 'simple_cache'
#   perl-tap   Perl TAP tests test/t/*.pl using PostgreSQL::Test::Cluster
#   consistency  pgbench clients mixing every data operation on shared keys for 10 s: no value
#              returned that was never written, no increment lost (test/reliability/)
#   fuzz       libFuzzer targets, 20 s each: the saved-file parser, DHT operations, the WAL
#              invalidation record's decoder (test/fuzz/)
#   sqlsmith   random queries for 30 s against a database with the extension: no crash
#   deb        make deb (debian/, pg_buildext), then test/deb-smoke.sh: the package for the main
#              version installed with dpkg -i, loaded by a cluster, purged again
#
# "make stress" (test/stress.sh) runs long versions of consistency, fuzz, sqlsmith and the
# crash tests.
#
# Every PostgreSQL major version found (test/pg-versions.sh: PG_CONFIG given by hand, the
# pg_config on PATH, /usr/lib/postgresql/*, the server builds in ../shared/postgresql/) is
# tested. The main version (that of the pg_config on PATH, else the oldest found) runs every
# suite; every other version runs the suites in EVERY_MAJOR (pgtap only where pgTAP is installed
# for it), each in its own copy of the source tree under build/pgNN. The version-free suites
# (deps, packaging, unit, unit-tsan, fuzz) run once. By default (PG unset, or PG=all) every
# major found is tested; PG=main tests the main version only, PG=17 that major only, PG="16 18"
# those two.
#
# The other majors run alongside the first one, TEST_JOBS (default 2) at a time, each in a run of
# this script of its own (PG=<major>) whose output is printed when it has ended; TEST_JOBS=0
# runs them one after the other. Most of a suite's time is spent waiting for servers, so on two
# cores this takes the whole run from about the sum of the majors' times to about the longest.
#
# On the assert-enabled builds a failed Assert() writes a TRAP line to the server log: every
# server log of a suite (cluster.sh's, the Perl TAP tests') is searched, and a TRAP fails it.
#
# Usage: test/run-all.sh [suite...]   (default: all). A suite with no test files is skipped.
# The summary has one line per version and suite and ends with the line "N passed, N failed"
# (counting suites); exits 1 if any suite failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export MAKE=${MAKE:-make}
SOURCE_ROOT=$ROOT

ALL_SUITES=(deps packaging build meson unit unit-tsan regress isolation capi pgtap pgbench preload perl-tap
            consistency fuzz sqlsmith deb)
VERSION_FREE=(deps packaging unit unit-tsan fuzz)
EVERY_MAJOR=(build regress isolation capi pgtap preload perl-tap)
SKIP=77          # exit status by which a suite says "nothing to run"
TEST_JOBS=${TEST_JOBS:-2}
PASSED=0
FAILED=0
RESULTS=()
declare -A BUILD_OK=()

# Succeeds when the glob pattern given as the argument matches at least one file.
have_files() {
    compgen -G "$1" >/dev/null
}

# Prints the PostgreSQL pgxs directory (test drivers and Perl modules live under its src/).
pgxs_dir() {
    local mk
    mk=$(pg_config --pgxs)            # <pgxs>/src/makefiles/pgxs.mk
    dirname "$(dirname "$(dirname "$mk")")"
}

# Runs "$@" as the OS user that owns throwaway clusters (postgres when we are root).
as_cluster_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Suite deps: install missing Debian packages.
suite_deps() {
    test/install-deps.sh
}

# Suite build: PGXS build and install of the module, and of the prebuilt Citus from
# ../shared/citus when it is there (test/install-citus.sh; the Citus TAP test skips without).
suite_build() {
    test/build-install.sh
    test/install-citus.sh
}

# Suite packaging: META.json and debian/ agree with the control file and the compat header.
suite_packaging() {
    test/check-packaging.sh
}

# Suite meson: configures, builds and installs the module with meson into the installation of
# the pg_config on PATH (through sudo when that is not ours to write).
suite_meson() {
    local dir=build/meson
    rm -rf "$dir"
    meson setup "$dir" -Dpg_config="$(command -v pg_config)"
    ninja -C "$dir"
    if [[ $(id -u) -eq 0 || -w $(pg_config --pkglibdir) ]]; then
        meson install -C "$dir"
    else
        sudo meson install -C "$dir"
    fi
}

# Suite deb: builds the Debian packages (make deb) and checks the main version's package
# installed with dpkg -i (test/deb-smoke.sh). Needs that version's Debian server packages.
suite_deb() {
    local major
    major=$(pg_config --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
    if [[ ! -x /usr/lib/postgresql/$major/bin/postgres ]]; then
        echo "no Debian packages of PostgreSQL $major to build against"
        return "$SKIP"
    fi
    "$MAKE" --no-print-directory deb
    test/deb-smoke.sh "$major"
}

# Suite unit: core unit tests with AddressSanitizer and UBSan.
suite_unit() {
    "$MAKE" --no-print-directory -j"$(nproc)" -f test/unit/Makefile SAN=asan run
}

# Suite unit-tsan: core unit tests with ThreadSanitizer.
suite_unit_tsan() {
    "$MAKE" --no-print-directory -j"$(nproc)" -f test/unit/Makefile SAN=tsan run
}

# The tests that need a server whose DSA allocator finds freed pages again (see
# test/dsa-rebinning-probe.sh): they check that segments are given back, or fill the area
# until it must reuse freed large blocks, or make the map's room into segments ahead of need
# (054). pg_regress files, isolation specs, Perl TAP tests.
NEEDS_DSA_REBINNING_REGRESS=(07_segments 14_eviction 16_dropped_databases 17_database_fairness 19_eviction_limits
                             27_at_commit_fairness 34_fsm_errors)
NEEDS_DSA_REBINNING_ISOLATION=()
NEEDS_DSA_REBINNING_TAP=(040_memory_pressure.pl 050_give_back.pl 054_map_room.pl)

# The Perl TAP tests that load the saved cache after a crash restart: they need a server whose
# postmaster starts the library's background worker again (see test/worker-restart-probe.sh).
NEEDS_WORKER_RESTART_TAP=(010_persistence.pl 020_crash_recovery.pl)

# Runs the probe "$2..." on a throwaway cluster started with the postgresql.conf lines in $1
# (one per line, may be empty) once per installation and probe, and succeeds when it did.
probe_server() {
    local settings=$1 verdict
    shift
    verdict=$PROBE_DIR/$(pg_config --bindir | tr / _).$(basename "$1")
    if [[ ! -f $verdict ]]; then
        if (. test/cluster.sh && CLUSTER_SETTINGS=$settings cluster_start >/dev/null && "$@"); then
            echo yes >"$verdict"
        else
            echo no >"$verdict"
        fi
    fi
    [[ $(cat "$verdict") == yes ]]
}

# Succeeds when the server of the pg_config on PATH finds freed DSA pages again
# (test/dsa-rebinning-probe.sh).
server_rebins_dsa_segments() {
    probe_server "" test/dsa-rebinning-probe.sh
}

# Succeeds when the postmaster of the pg_config on PATH starts the library's background worker
# again after a crash restart (test/worker-restart-probe.sh).
server_restarts_workers_after_crash() {
    probe_server $'shared_preload_libraries = \'simple_cache\'\nrestart_after_crash = on' \
        test/worker-restart-probe.sh
}

# Prints the words of the first argument (a space-separated list) that are not among the
# remaining arguments.
without() {
    local list=$1 word
    shift
    for word in $list; do
        is_one_of "$word" "$@" || printf '%s ' "$word"
    done
}

# Records a remark for the summary line of the running suite.
note() {
    echo "$*"
    echo "$*" >>"$SUITE_NOTES"
}

# Suite regress: make installcheck of the pg_regress suites (REGRESS) against a throwaway
# cluster. Clients run as the caller and connect as the cluster's superuser (PGUSER); results/
# is written into the source tree by the caller. On a server whose DSA allocator does not find
# freed pages again, the files that depend on it are left out, and the summary says so.
suite_regress() {
    if ! have_files 'sql/[0-9]*.sql'; then
        echo "no sql/[0-9]*.sql"
        return "$SKIP"
    fi
    local tests=()
    if [[ ${#NEEDS_DSA_REBINNING_REGRESS[@]} -gt 0 ]] && ! server_rebins_dsa_segments; then
        tests=("REGRESS=$(without "$("$MAKE" --no-print-directory -s print-regress)" "${NEEDS_DSA_REBINNING_REGRESS[@]}")")
        note "not run: ${NEEDS_DSA_REBINNING_REGRESS[*]} (this server's dsa.c does not re-bin segments after frees)"
    fi
    installcheck_against_cluster regression.diffs REGRESS ISOLATION= "${tests[@]}"
}

# Suite isolation: make installcheck of the isolation specs (ISOLATION), output in output_iso/.
suite_isolation() {
    if ! have_files 'test/isolation/specs/*.spec'; then
        echo "no test/isolation/specs/*.spec"
        return "$SKIP"
    fi
    local tests=()
    if [[ ${#NEEDS_DSA_REBINNING_ISOLATION[@]} -gt 0 ]] && ! server_rebins_dsa_segments; then
        tests=("ISOLATION=$(without "$("$MAKE" --no-print-directory -s print-isolation)" "${NEEDS_DSA_REBINNING_ISOLATION[@]}")")
        note "not run: ${NEEDS_DSA_REBINNING_ISOLATION[*]} (this server's dsa.c does not re-bin segments after frees)"
    fi
    installcheck_against_cluster output_iso/regression.diffs ISOLATION REGRESS= "${tests[@]}"
}

# Starts a throwaway cluster and runs make installcheck with the given make arguments (after
# the first, the differences file it writes, and the second, the make variable that lists the
# tests: REGRESS or ISOLATION); shows the differences when a test fails. The tests that failed
# are run once more on the same cluster, and the summary names them either way: a few files
# (a report that needs a large block of the area, on a machine running several majors at once)
# depend on what the files before them left behind.
installcheck_against_cluster() {
    local diffs=$1 list=$2 out failed
    shift 2
    . test/cluster.sh
    cluster_start
    rm -f "$diffs"
    out=$(mktemp)
    if "$MAKE" --no-print-directory installcheck "$@" 2>&1 | tee "$out"; then
        rm -f "$out"
        return 0
    fi
    if [[ -f $diffs ]]; then
        echo "--- $diffs"
        cat "$diffs"
    fi
    # "test name ... FAILED" (up to 15) or "not ok N - name" (16 on).
    failed=$(sed -n -e 's/^test \([^ ]*\)  *\.\.\. FAILED.*/\1/p' -e 's/^not ok [0-9]*  *[-+] \([^ ]*\) .*/\1/p' "$out" | tr '\n' ' ')
    rm -f "$out"
    [[ -n ${failed// /} ]] || return 1
    echo "installcheck: running ${failed}again"
    rm -f "$diffs"
    if "$MAKE" --no-print-directory installcheck "$@" "$list=${failed% }"; then
        note "failed once, passed when run again: ${failed% }"
        return 0
    fi
    note "failed twice: ${failed% }"
    if [[ -f $diffs ]]; then
        cat "$diffs"
        note "first differences: $(first_lines_matching '^[-+]([^-+]|$)' "$diffs" 8)"  # not the file headers
    fi
    return 1
}

# The first lines (at most $3) of file $2 that match the extended regular expression $1, cut
# short and joined with " | ": the summary's clue to what failed when only its end is kept.
first_lines_matching() {
    grep -E "$1" "$2" | head -"$3" | cut -c1-150 | tr '\n' '|' | sed 's/|/ | /g; s/ | $//' || true
}

# Suite capi: builds the C API's test consumer (test/capi_consumer/) with PGXS against the
# simple_cache_api.h that the build suite installed, installs it into the same PostgreSQL
# (through sudo when we are not root), and runs its pg_regress suites (make installcheck)
# against a throwaway cluster, then capi_preload on the same cluster restarted with the
# consumer preloaded.
suite_capi() {
    local pg_config dir=test/capi_consumer
    pg_config=$(command -v pg_config)
    "$MAKE" --no-print-directory -C "$dir" PG_CONFIG="$pg_config"
    if [[ $(id -u) -eq 0 ]]; then
        "$MAKE" --no-print-directory -C "$dir" PG_CONFIG="$pg_config" install
    else
        sudo "$MAKE" --no-print-directory -C "$dir" PG_CONFIG="$pg_config" install
    fi
    . test/cluster.sh
    cluster_start
    capi_installcheck "$dir" "$pg_config"
    # Then with the consumer preloaded alone: its _PG_init loads simple_cache in the postmaster.
    cluster_restart "shared_preload_libraries = 'capi_consumer'"
    capi_installcheck "$dir" "$pg_config" REGRESS=capi_preload
}

# Runs "make installcheck" in the consumer's directory $1 with PG_CONFIG $2 and further make
# arguments; shows the differences and fails when a test fails.
capi_installcheck() {
    local dir=$1 pg_config=$2
    shift 2
    rm -f "$dir/regression.diffs"
    if ! "$MAKE" --no-print-directory -C "$dir" PG_CONFIG="$pg_config" installcheck "$@"; then
        if [[ -f $dir/regression.diffs ]]; then
            echo "--- $dir/regression.diffs"
            cat "$dir/regression.diffs"
        fi
        return 1
    fi
}

# Suite pgtap: pg_prove over test/pgtap/*.sql in a fresh database of a throwaway cluster.
suite_pgtap() {
    if ! have_files 'test/pgtap/*.sql'; then
        echo "no test/pgtap/*.sql"
        return "$SKIP"
    fi
    if [[ ! -f $(pg_config --sharedir)/extension/pgtap.control ]]; then
        echo "pgTAP is not installed for $(pg_config --version)"
        return "$SKIP"
    fi
    . test/cluster.sh
    cluster_start
    psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE simple_cache_pgtap'
    pg_prove --dbname simple_cache_pgtap --ext .sql test/pgtap/*.sql
}

# Suite pgbench: CLIENTS pgbench clients run TRANSACTIONS transactions each, at the same time,
# against one cache. Every transaction increments one counter by 1 with simple_cache_incr,
# another by the client's number + 1, and a third by 1 with get + simple_cache_cas retried
# until the swap succeeds, and a fourth by 1 with simple_cache_incr_at_commit (each autocommit
# statement commits its increment). No increment may be lost: the totals must be exact. pgbench fails
# (and so the suite) if any statement of any client fails.
suite_pgbench() {
    local clients=8 transactions=500 script result expected
    . test/cluster.sh
    cluster_start
    psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION simple_cache' \
        -c "SELECT simple_cache_put('pgbench:cas', '0')" >/dev/null
    script=$CLUSTER_DIR/simple_cache_incr.sql
    cat >"$script" <<'EOF'
SELECT simple_cache_incr('pgbench:counter');
SELECT simple_cache_incr('pgbench:by_client', :client_id + 1);
DO $$ DECLARE seen text; BEGIN LOOP seen := simple_cache_get('pgbench:cas'); EXIT WHEN simple_cache_cas('pgbench:cas', seen, (seen::bigint + 1)::text); END LOOP; END $$;
SELECT simple_cache_incr_at_commit('pgbench:at_commit');
EOF
    "$CLUSTER_BINDIR/pgbench" -n -c "$clients" -j "$clients" -t "$transactions" -f "$script"
    result=$(psql -X -At -v ON_ERROR_STOP=1 -c "SELECT concat_ws(' ', simple_cache_get('pgbench:counter'),
        simple_cache_get('pgbench:by_client'), simple_cache_get('pgbench:cas'), simple_cache_get('pgbench:at_commit'))")
    expected="$((clients * transactions)) $((transactions * clients * (clients + 1) / 2)) $((clients * transactions)) $((clients * transactions))"
    echo "counter, by-client sum, cas counter, at-commit counter: $result (expected $expected)"
    [[ $result == "$expected" ]]
}

# Suite preload: start a cluster with the library preloaded and run test/preload_smoke.sql.
suite_preload() {
    . test/cluster.sh
    cluster_start "shared_preload_libraries = 'simple_cache'"
    psql -X -P pager=off -v ON_ERROR_STOP=1 -f test/preload_smoke.sql
    # The server must still be up after the smoke queries (no crash on the way).
    psql -X -q -At -c 'SELECT 1' >/dev/null
}

# After a failed perl-tap run in folder $1 (prove's output in $1/prove.out): the last lines of
# the own log of each test that prove's summary names, so that the reason reaches the run's
# output (a die between two checks shows in the summary only as "exited with 255").
show_failed_tap_logs() {
    local name log
    for name in $(sed -n 's|^t/\([^ ]*\)\.pl  *(Wstat.*|\1|p' "$1/prove.out"); do
        for log in "$1/tmp_check/log/regress_log_$name" "$1/log/regress_log_$name"; do
            [[ -f $log ]] || continue
            echo "--- the end of $(basename "$log")"
            tail -n 40 "$log"
        done
    done
}

# Runs prove over the Perl TAP tests given after the scratch folder $1 and the pgxs folder $2,
# as the cluster owner, from the scratch folder.
run_prove() {
    local work=$1 pgxs=$2
    shift 2
    (
        cd "$work"
        as_cluster_owner env \
            PATH="$(pg_config --bindir):$PATH" \
            PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
            TESTDIR="$work" \
            SIMPLE_CACHE_SRCDIR="$ROOT" \
            prove -I "$pgxs/src/test/perl" -I "$work/t" "$@"
    )
}

# Suite perl-tap: Perl TAP tests in test/t/*.pl, which start their own clusters with
# PostgreSQL::Test::Cluster. Those run initdb, so as root the tests run as the postgres user
# from a copy of test/t in a scratch directory it owns. Tests find the source tree in
# $SIMPLE_CACHE_SRCDIR. Skipped silently when there are no test files.
suite_perl_tap() {
    if ! have_files 'test/t/*.pl'; then
        echo "no test/t/*.pl"
        return "$SKIP"
    fi
    local pgxs work rc=0
    pgxs=$(pgxs_dir)
    work=$(mktemp -d /tmp/simple_cache_tap.XXXXXX)
    PERL_TAP_WORK=$work
    trap 'rm -rf "$PERL_TAP_WORK"' EXIT
    cp -R test/t "$work/t"
    local tests
    read -r -a tests <<<"$(cd "$work" && echo t/*.pl)"
    if [[ ${#NEEDS_DSA_REBINNING_TAP[@]} -gt 0 ]] && ! server_rebins_dsa_segments; then
        read -r -a tests <<<"$(without "${tests[*]}" "${NEEDS_DSA_REBINNING_TAP[@]/#/t/}")"
        note "not run: ${NEEDS_DSA_REBINNING_TAP[*]} (this server's dsa.c does not re-bin segments after frees)"
    fi
    if ! server_restarts_workers_after_crash; then
        read -r -a tests <<<"$(without "${tests[*]}" "${NEEDS_WORKER_RESTART_TAP[@]/#/t/}")"
        note "not run: ${NEEDS_WORKER_RESTART_TAP[*]} (this server's postmaster does not start background workers again after a crash restart)"
    fi
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres: "$work"
    fi
    run_prove "$work" "$pgxs" "${tests[@]}" 2>&1 | tee "$work/prove.out" || rc=$?
    if [[ $rc -ne 0 ]]; then
        show_failed_tap_logs "$work"
        # A test that failed is run once more on its own, and the summary names it either way:
        # some checks (a cancel that must land mid-statement, a give-back racing other sessions)
        # depend on timing that a machine running several majors at once can upset.
        local failed=()
        read -r -a failed <<<"$(sed -n 's|^\(t/[^ ]*\.pl\)  *(Wstat.*|\1|p' "$work/prove.out" | tr '\n' ' ')"
        if [[ ${#failed[@]} -gt 0 ]]; then
            echo "perl-tap: running ${failed[*]} again"
            rc=0
            run_prove "$work" "$pgxs" "${failed[@]}" 2>&1 | tee "$work/prove.out" || rc=$?
            if [[ $rc -eq 0 ]]; then
                note "failed once, passed when run again: ${failed[*]#t/}"
            else
                note "failed twice: ${failed[*]#t/}"
                note "failed checks: $(first_lines_matching '^[[:space:]]*(not ok|#[[:space:]]+Failed test)' "$work/prove.out" 6)"
                show_failed_tap_logs "$work"
            fi
        fi
    fi
    # The test clusters' logs, for the TRAP check (in tmp_check/log up to 16, log/ from 17 on).
    local logs
    for logs in "$work/tmp_check/log" "$work/log"; do
        if [[ -n ${CLUSTER_LOG_ARCHIVE:-} && -d $logs ]]; then
            cp -R "$logs" "$CLUSTER_LOG_ARCHIVE/perl-tap-$(basename "$(dirname "$logs")")"
        fi
    done
    return "$rc"
}

# Suite consistency: test/reliability/consistency.sh with 4 clients for 10 seconds.
suite_consistency() {
    test/reliability/consistency.sh 4 10
}

# Suite fuzz: test/fuzz/run.sh, each libFuzzer target for 20 seconds.
suite_fuzz() {
    test/fuzz/run.sh 20
}

# Suite sqlsmith: test/reliability/sqlsmith.sh for 30 seconds.
suite_sqlsmith() {
    test/reliability/sqlsmith.sh 30
}

# Prints the assertion failures (TRAP lines) in the server logs kept under folder $1; fails
# when there are none.
find_traps() {
    grep -r -H 'TRAP:' "$1" 2>/dev/null
}

# Copies the source tree (without build output) to the folder $1, for one version's build.
copy_source_tree() {
    local dest=$1
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$SOURCE_ROOT" --exclude=./build --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.a' \
        --exclude=./results --exclude=./output_iso --exclude=./log -cf - . | tar -C "$dest" -xf -
}

# Runs suite $2 for major version $1 ("" for a version-free suite) in a subshell with errexit
# on, with that version's pg_config first on PATH and its source tree as the working folder,
# and records PASS, FAIL or SKIP.
run_suite() {
    local major=$1 name=$2 rc label archive traps started=$SECONDS took notes
    label=${major:+$major }$name
    echo
    echo "=================== $label ==================="
    archive=$(mktemp -d /tmp/simple_cache_logs.XXXXXX)
    SUITE_NOTES=$archive.notes
    : >"$SUITE_NOTES"
    if [[ -n $major && ! $name =~ ^(build|meson|deb)$ && -z ${BUILD_OK[$major]:-} ]]; then
        echo "not run: the build for PostgreSQL $major failed"
        rc=1
    else
        set +e
        (
            set -e
            if [[ -n $major ]]; then
                ROOT=${VERSION_TREE[$major]}
                cd "$ROOT"
                export PG_CONFIG=${VERSION_PG_CONFIG[$major]}
                PATH="$("$PG_CONFIG" --bindir):$PATH"
                # The relocatable builds' programs must find their own libpq, not the system's.
                LD_LIBRARY_PATH="$("$PG_CONFIG" --libdir)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
                export PATH LD_LIBRARY_PATH
                unset CLUSTER_BINDIR
            fi
            export CLUSTER_LOG_ARCHIVE=$archive SUITE_NOTES
            "suite_${name//-/_}"
        )
        rc=$?
        set -e
    fi
    if traps=$(find_traps "$archive"); then
        echo "assertion failures in the server log:"
        echo "$traps"
        [[ $rc -ne 0 && $rc -ne $SKIP ]] || rc=1
    fi
    rm -rf "$archive"
    notes=$(tr '\n' ' ' <"$SUITE_NOTES")
    rm -f "$SUITE_NOTES"
    took=$(((SECONDS - started) / 60))m$(((SECONDS - started) % 60))s
    label=$(printf '%-20s %7s' "$label" "$took")
    if [[ $rc -eq 0 ]]; then
        PASSED=$((PASSED + 1))
        RESULTS+=("PASS  $label${notes:+  ($notes)}")
        if [[ $name == build ]]; then
            BUILD_OK[$major]=1
        fi
    elif [[ $rc -eq $SKIP ]]; then
        RESULTS+=("SKIP  $label")
    else
        FAILED=$((FAILED + 1))
        RESULTS+=("FAIL  $label (exit status $rc)${notes:+  ($notes)}")
    fi
}

# Succeeds when the word $1 is one of the remaining arguments.
is_one_of() {
    local word=$1 item
    shift
    for item in "$@"; do
        [[ $item == "$word" ]] && return 0
    done
    return 1
}

# Fills VERSIONS (majors, the main one first), VERSION_PG_CONFIG and VERSION_TREE from
# test/pg-versions.sh: every one when PG is unset or "all", the main one only for PG=main, else
# the majors listed in PG ("17" or "16 18").
find_versions() {
    local major path main=""
    . "$SOURCE_ROOT/test/pg-versions.sh"
    if command -v pg_config >/dev/null; then
        main=$(pg_major_of pg_config) || main=""
    fi
    [[ -z ${PG_CONFIG:-} || $PG_CONFIG == pg_config ]] || main=$(pg_major_of "$PG_CONFIG")
    VERSIONS=()
    local wanted=${PG:-all}
    while read -r major path; do
        if [[ $wanted == main ]]; then
            [[ -z $main || $major == "$main" ]] || continue
        elif [[ $wanted != all ]]; then
            [[ " $wanted " == *" $major "* ]] || continue
        fi
        VERSION_PG_CONFIG[$major]=$path
        [[ -n $main ]] || main=$major
        if [[ $major == "$main" ]]; then
            VERSIONS=("$major" "${VERSIONS[@]}")
            VERSION_TREE[$major]=$SOURCE_ROOT
        else
            VERSIONS+=("$major")
            VERSION_TREE[$major]=$SOURCE_ROOT/build/pg$major
        fi
    done < <(pg_versions_found)
    MAIN_VERSION=$main
    if [[ ${#VERSIONS[@]} -eq 0 ]]; then
        echo "run-all: no PostgreSQL${PG:+ $PG} found (see test/pg-versions.sh)" >&2
        return 1
    fi
    echo "run-all: PostgreSQL versions: ${VERSIONS[*]} (all suites on $MAIN_VERSION)"
}

# Runs the suites given as arguments for every major in BACKGROUND_MAJORS, TEST_JOBS of them at
# a time, each in a run of this script of its own (PG=<major>, RUN_ALL_CHILD set) whose output
# goes to $MAJOR_LOGS/<major>.log and whose exit status to <major>.rc. Meant to run in the
# background while the first major's suites run in the foreground.
run_background_majors() {
    local major
    for major in "${BACKGROUND_MAJORS[@]}"; do
        while [[ $(jobs -rp | wc -l) -ge $TEST_JOBS ]]; do
            wait -n || true
        done
        (
            rc=0
            PG=$major RUN_ALL_CHILD=1 bash "$SOURCE_ROOT/test/run-all.sh" "$@" \
                >"$MAJOR_LOGS/$major.log" 2>&1 || rc=$?
            echo "$rc" >"$MAJOR_LOGS/$major.rc"
        ) &
    done
    wait
}

# Waits for the background majors, prints each one's output, and adds its summary lines to
# RESULTS (a run that ended without a summary counts as one failure).
collect_background_majors() {
    local major log line
    wait "$SCHEDULER_PID" || true
    for major in "${BACKGROUND_MAJORS[@]}"; do
        log=$MAJOR_LOGS/$major.log
        echo
        echo "=================== PostgreSQL $major: its output (it ran alongside) ==================="
        cat "$log" 2>/dev/null || true
        if ! grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$log" 2>/dev/null; then
            FAILED=$((FAILED + 1))
            RESULTS+=("FAIL  $major: its run ended without a summary (exit status $(cat "$MAJOR_LOGS/$major.rc" 2>/dev/null))")
            continue
        fi
        while IFS= read -r line; do
            RESULTS+=("$line")
            case $line in
            PASS*) PASSED=$((PASSED + 1)) ;;
            FAIL*) FAILED=$((FAILED + 1)) ;;
            esac
        done < <(sed -n '/^=* summary =*$/,/^total time:/p' "$log" | grep -E '^(PASS|FAIL|SKIP)  ')
    done
    rm -rf "$MAJOR_LOGS"
}

main() {
    local suites=("$@") suite major child_suites=()
    PROBE_DIR=$(mktemp -d /tmp/simple_cache_probes.XXXXXX)
    trap 'rm -rf "$PROBE_DIR"' EXIT
    declare -gA VERSION_PG_CONFIG=() VERSION_TREE=()
    if [[ ${#suites[@]} -eq 0 ]]; then
        suites=("${ALL_SUITES[@]}")
    fi
    for suite in "${suites[@]}"; do
        if ! declare -F "suite_${suite//-/_}" >/dev/null; then
            echo "run-all: unknown suite '$suite' (known: ${ALL_SUITES[*]})" >&2
            return 2
        fi
    done
    if is_one_of deps "${suites[@]}"; then
        run_suite "" deps
    fi
    find_versions
    # Every other major's tree is copied now, before any build writes into the source tree.
    for major in "${VERSIONS[@]}"; do
        if [[ ${VERSION_TREE[$major]} != "$SOURCE_ROOT" ]] &&
            { { [[ -z ${RUN_ALL_CHILD:-} ]] && is_one_of build "${suites[@]}"; } ||
                [[ ! -d ${VERSION_TREE[$major]} ]]; }; then
            copy_source_tree "${VERSION_TREE[$major]}"
        fi
    done
    # The majors after the first run alongside it, TEST_JOBS at a time (TEST_JOBS=0: one after
    # the other in this process).
    FOREGROUND_MAJORS=("${VERSIONS[@]}")
    BACKGROUND_MAJORS=()
    if [[ ${#VERSIONS[@]} -gt 1 && $TEST_JOBS -gt 0 ]]; then
        FOREGROUND_MAJORS=("${VERSIONS[0]}")
        BACKGROUND_MAJORS=("${VERSIONS[@]:1}")
        for suite in "${suites[@]}"; do
            [[ $suite == deps ]] || child_suites+=("$suite")
        done
        MAJOR_LOGS=$(mktemp -d /tmp/simple_cache_majors.XXXXXX)
        echo "run-all: PostgreSQL ${BACKGROUND_MAJORS[*]} run alongside, $TEST_JOBS at a time; their output follows the $MAIN_VERSION suites"
        run_background_majors "${child_suites[@]}" &
        SCHEDULER_PID=$!
    fi
    for major in "${FOREGROUND_MAJORS[@]}"; do
        # Without the build suite, the module is taken as built and installed already.
        if ! is_one_of build "${suites[@]}"; then
            BUILD_OK[$major]=1
        fi
        for suite in "${suites[@]}"; do
            if is_one_of "$suite" "${VERSION_FREE[@]}"; then
                [[ $suite == deps || $major != "$MAIN_VERSION" ]] || run_suite "" "$suite"
            elif [[ $major == "$MAIN_VERSION" ]] || is_one_of "$suite" "${EVERY_MAJOR[@]}"; then
                run_suite "$major" "$suite"
            fi
        done
    done

    if [[ ${#BACKGROUND_MAJORS[@]} -gt 0 ]]; then
        collect_background_majors
    fi

    echo
    echo "=================== summary ==================="
    printf '%s\n' "${RESULTS[@]}"
    echo "total time: $((SECONDS / 60))m$((SECONDS % 60))s"
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
}

main "$@"
