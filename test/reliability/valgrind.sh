#!/usr/bin/env bash
# pg_regress suites against a server that runs under valgrind memcheck (part of "make stress"
# with STRESS_VALGRIND=1; slow: every backend runs 20 to 50 times slower).
#
#   test/reliability/valgrind.sh [suite...]    default: a selection of sql/ suites that go
#                                              through every cache function
#
# Debian's PostgreSQL is not built with USE_VALGRIND, so memcheck does not know PostgreSQL's
# memory contexts: a palloc'd chunk is just part of a malloc'd block, so reads past a chunk
# inside its block and use after pfree go unnoticed, and the DSA area is shared memory that
# memcheck sees as plain mapped bytes. What it does catch: reads of bytes never written
# (uninitialised heap, stack and static data used in a branch, a system call or an address)
# and accesses outside any mapping. PostgreSQL itself triggers some of those on purpose
# (padding bytes written to WAL and to the statistics file, uninitialised bytes sent to
# sockets); test/reliability/valgrind.supp suppresses the ones these runs meet, after the
# model of PostgreSQL's src/tools/valgrind.supp (not shipped by Debian). Whatever remains is
# counted, and an error with a simple_cache frame in its stack fails the run.
#
# Prints "valgrind: suites=N errors=E in_simple_cache=S" last.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
if [[ $# -gt 0 ]]; then
    SUITES=("$@")
else
    SUITES=(01_basic 02_database_scope 04_error_injection 10_expiry 11_atomic 12_bytea_mget 13_flush_stats
        15_privileges 20_persistence)
fi

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}
if ! command -v valgrind >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind
fi

REAL_BINDIR=$(pg_config --bindir)
WRAP=$(mktemp -d /tmp/simple_cache_vg.XXXXXX)
chmod 755 "$WRAP"
mkdir -p "$WRAP/bin" "$WRAP/logs"
cp test/reliability/valgrind.supp "$WRAP/valgrind.supp"
chmod 777 "$WRAP/logs"
# Every server program as it is, except postgres, which starts under valgrind (its children
# are forks, so they stay under it).
for program in "$REAL_BINDIR"/*; do
    ln -s "$program" "$WRAP/bin/$(basename "$program")"
done
rm "$WRAP/bin/postgres"
cat >"$WRAP/bin/postgres" <<EOF
#!/bin/sh
# initdb and pg_ctl ask "postgres -V"; that needs no valgrind.
case "\$1" in -V|--version|--describe-config|-C) exec "$REAL_BINDIR/postgres" "\$@" ;; esac
exec valgrind --quiet --tool=memcheck --trace-children=no --track-origins=yes --num-callers=30 \\
    --error-limit=no --read-var-info=no --suppressions="$WRAP/valgrind.supp" --gen-suppressions=all \\
    --log-file="$WRAP/logs/vg.%p.log" "$REAL_BINDIR/postgres" "\$@"
EOF
chmod 755 "$WRAP/bin/postgres"
trap 'rm -rf "$WRAP"' EXIT

export CLUSTER_BINDIR=$WRAP/bin
. test/cluster.sh
trap 'cluster_stop; [[ -n ${VALGRIND_KEEP_LOGS:-} ]] || rm -rf "$WRAP"' EXIT
cluster_start "max_connections = 20" "statement_timeout = 0" "autovacuum = off"

pgxs=$(dirname "$(dirname "$(dirname "$(pg_config --pgxs)")")")
out=$(mktemp -d /tmp/simple_cache_vg_out.XXXXXX)
rc=0
"$pgxs/src/test/regress/pg_regress" --inputdir=. --outputdir="$out" --load-extension=simple_cache \
    --dbname=contrib_regression "${SUITES[@]}" || rc=$?
if [[ $rc -ne 0 && -f $out/regression.diffs ]]; then
    head -n 60 "$out/regression.diffs"
fi
rm -rf "$out"
cluster_stop

# Each log holds the errors of one process (--quiet: nothing else), each error a header line
# ("==pid== Invalid read of size 8", "==pid== Conditional jump or move depends on ...") then
# its stack, then the suppression that would hide it.
HEADERS='^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Source and destination|Mismatched|Argument|Uninitialised|Process terminating)'
errors=0
in_cache=0
for log in "$WRAP"/logs/vg.*.log; do
    [[ -f $log ]] || continue
    n=$(grep -Ec "$HEADERS" "$log" || true)
    errors=$((errors + n))
    if grep -q 'simple_cache' "$log"; then
        in_cache=$((in_cache + 1))
        echo "valgrind: errors with simple_cache frames in $(basename "$log"):"
        grep -v '^{\|^}\|^   <\|^   Memcheck\|^   fun:\|^   obj:\|^   \.\.\.' "$log" | head -n 80
    fi
done
if [[ $errors -ne 0 && $in_cache -eq 0 ]]; then
    echo "valgrind: errors outside simple_cache (PostgreSQL's own; candidates for valgrind.supp):"
    cat "$WRAP"/logs/vg.*.log | grep -E -A 12 "$HEADERS" | head -n 80
fi
echo "valgrind: suites=${#SUITES[@]} regress_status=$rc errors=$errors in_simple_cache=$in_cache"
[[ $rc -eq 0 && $in_cache -eq 0 ]]
