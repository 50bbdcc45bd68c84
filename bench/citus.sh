#!/usr/bin/env bash
# Section 8 of "make bench" (alone: "make bench-citus", or bash bench/citus.sh [OUT_DIR] [SECONDS]):
# the cost of routing a keyed call through a Citus coordinator. Starts a coordinator and two
# workers with Citus preloaded and the cache distributed (simple_cache_citus_distribute), and a
# plain server with simple_cache alone; runs the same pgbench scripts, get and put of random
# keys among KEYS preloaded ones, for SECONDS each, with 1 and 4 clients, alternating routed and
# local runs over ROUNDS rounds; writes OUT_DIR/citus.md and OUT_DIR/citus.csv. Skipped, with a
# message, when Citus is not installed in the PostgreSQL on PATH (test/install-citus.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/bench/results}
SECONDS_PER_RUN=${2:-4}
ROUNDS=${CITUS_BENCH_ROUNDS:-2}
KEYS=10000

if [[ ! -f $(pg_config --pkglibdir)/citus.so ]]; then
    echo "bench/citus.sh: Citus is not installed in $(pg_config --pkglibdir) (test/install-citus.sh): skipped"
    exit 0
fi
mkdir -p "$OUT"
WORK=$(mktemp -d)
# shellcheck source=lib/clusters.sh
. "$ROOT/bench/lib/clusters.sh"
BC_EXIT_TRAP='bc_stop_all; rm -rf "$WORK"'
trap 'bc_stop_all; rm -rf "$WORK"' EXIT

CITUS_CONF=("shared_preload_libraries = 'citus'" "max_connections = 100" "jit = off")
bc_start coordinator "${CITUS_CONF[@]}"
bc_start worker1 "${CITUS_CONF[@]}"
bc_start worker2 "${CITUS_CONF[@]}"
bc_start plain "max_connections = 100" "jit = off"
for node in coordinator worker1 worker2; do
    bc_psql "$node" -c 'CREATE EXTENSION citus' >/dev/null
done
bc_psql coordinator -At \
    -c "SELECT citus_set_coordinator_host('${BC_HOST[coordinator]}', ${BC_PORT[coordinator]})" \
    -c "SELECT citus_add_node('${BC_HOST[worker1]}', ${BC_PORT[worker1]})" \
    -c "SELECT citus_add_node('${BC_HOST[worker2]}', ${BC_PORT[worker2]})" \
    -c 'CREATE EXTENSION simple_cache' \
    -c 'SELECT simple_cache_citus_distribute()' >/dev/null
bc_psql plain -c 'CREATE EXTENSION simple_cache'
# Preload: each worker the keys it owns, the plain server all of them.
for node in worker1 worker2; do
    bc_psql "$node" -At -c "SELECT count(simple_cache_put(k, rpad(k, 32, 'v'))) FROM (SELECT 'key:' || g AS k
        FROM generate_series(1, $KEYS) g) keys WHERE simple_cache_citus_owner(k) = 'local'" >/dev/null
done
bc_psql plain -At -c "SELECT count(simple_cache_put('key:' || g, rpad('key:' || g, 32, 'v'))) FROM generate_series(1, $KEYS) g" >/dev/null

# The key expression folds to a constant ('key:' || '123'::text), as Citus needs to route.
cat >"$WORK/get.sql" <<SQL
\set k random(1, $KEYS)
SELECT simple_cache_get('key:' || :k::text);
SQL
cat >"$WORK/put.sql" <<SQL
\set k random(1, $KEYS)
SELECT simple_cache_put('key:' || :k::text, 'value');
SQL
chmod -R a+rX "$WORK"

CSV=$OUT/citus.csv
echo "operation,clients,target,round,tps,latency_ms" >"$CSV"
# Runs pgbench script $2 against cluster $1 with $3 clients; prints "tps latency_ms".
run_pgbench() {
    local output
    output=$(bc_pgbench "$1" -n -M simple -c "$3" -j "$3" -T "$SECONDS_PER_RUN" -f "$WORK/$2.sql" 2>&1) || {
        echo "$output" >&2
        return 1
    }
    awk '/^latency average/ { lat = $4 } /^tps/ { tps = $3 } END { printf "%s %s\n", tps, lat }' <<<"$output"
}

for round in $(seq 1 "$ROUNDS"); do
    for operation in get put; do
        for clients in 1 4; do
            targets=(coordinator plain)
            ((round % 2 == 0)) && targets=(plain coordinator)
            for target in "${targets[@]}"; do
                read -r tps latency < <(run_pgbench "$target" "$operation" "$clients")
                echo "$operation,$clients,$target,$round,$tps,$latency" >>"$CSV"
            done
        done
    done
done

# The report: medians over rounds; routing cost = routed latency - local latency.
perl -e '
    my (%tps, %lat);
    <STDIN>;
    while (<STDIN>) {
        chomp;
        my ($op, $c, $target, $round, $tps, $lat) = split /,/;
        push @{ $tps{"$op,$c,$target"} }, $tps;
        push @{ $lat{"$op,$c,$target"} }, $lat;
    }
    sub median { my @v = sort { $a <=> $b } @_; my $n = @v; $n % 2 ? $v[$n / 2] : ($v[$n / 2 - 1] + $v[$n / 2]) / 2 }
    print "| operation | clients | routed tps (coordinator -> worker) | local tps (plain server) | routed latency ms | local latency ms | routing cost ms per call |\n";
    print "|---|---|---|---|---|---|---|\n";
    for my $op (qw(get put)) {
        for my $c (1, 4) {
            my ($rt, $lt) = (median(@{ $tps{"$op,$c,coordinator"} }), median(@{ $tps{"$op,$c,plain"} }));
            my ($rl, $ll) = (median(@{ $lat{"$op,$c,coordinator"} }), median(@{ $lat{"$op,$c,plain"} }));
            printf "| %s | %d | %.0f | %.0f | %.3f | %.3f | %.3f |\n", $op, $c, $rt, $lt, $rl, $ll, $rl - $ll;
        }
    }
' <"$CSV" >"$OUT/citus.md.table"
{
    echo "# Citus routing cost"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(pg_config --version), coordinator + 2 workers and a"
    echo "plain server on this machine (unix sockets); pgbench -M simple, ${SECONDS_PER_RUN}s per run, median of $ROUNDS rounds;"
    echo "$KEYS keys of 32-byte values. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    cat "$OUT/citus.md.table"
} >"$OUT/citus.md"
rm -f "$OUT/citus.md.table"
cat "$OUT/citus.md"
