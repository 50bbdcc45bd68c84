#!/usr/bin/env bash
# "make bench-profile": perf profiles of the cases behind the benchmark targets, written to
# bench/results/profiles/ (flat profile, call graph of the top entries, annotated hot spots).
# Needs perf (Debian: linux-perf; installed here if missing) and the extensions installed by
# "make bench" (run that first, or set BENCH_BUILD=1 to build and install here).
#
#   stmt_get      SELECT count(length(simple_cache_get('k' || g))) over 1M keys (section 2)
#   stmt_get_hot  the same over 10k hot keys (every lookup hits the CPU caches): the CPU cost
#   stmt_base     the same statement with the builtin only (the baseline of section 2)
#   hash_dht      simple_cache_bench_hash('dht', 1M)    (section 3)
#   hash_dshash   simple_cache_bench_hash('dshash', 1M) (section 3)
#   rt_get        pgbench -c 1 with simple_cache_get, 100k entries (section 1; the pgbench
#                 backends only, kernel time included)
#   rt_base       pgbench -c 1 with SELECT 'k' || :k   (section 1)
#   rt_put8       pgbench -c 8 with simple_cache_put  (sections 1 and 6)
#   rt_get8       pgbench -c 8 with simple_cache_get  (sections 1 and 6)
#   load_factor   dht vs dshash lookups at 1M keys and at 700k keys, where both have the same
#                 load factor (no perf; timings only)
#   core_tlb      bench/dht_core_bench at 4M keys with 4 KB pages and with transparent huge
#                 pages (glibc.malloc.hugetlb=1): how much of a lookup is address translation
#
# Usage: bench/profile.sh [case...]   (default: all)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=$ROOT/bench
OUT=$BENCH/results/profiles
SECONDS_PER_CASE=${PROFILE_SECONDS:-6}
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=(rt_get rt_base rt_get8 rt_put8 stmt_get stmt_get_hot stmt_base hash_dht hash_dshash load_factor core_tlb)
mkdir -p "$OUT"

log() {
    printf '[profile] %s\n' "$*" >&2
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v perf >/dev/null 2>&1; then
    log "installing linux-perf"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends linux-perf >/dev/null
fi
if [[ ${BENCH_BUILD:-0} == 1 ]]; then
    test/build-install.sh >/dev/null
    make -C bench/ext >/dev/null && as_root make -C bench/ext install >/dev/null
fi

# shellcheck source=lib/clusters.sh
. "$BENCH/lib/clusters.sh"

# Writes the reports for one perf.data file: flat profile, call graph, hot instructions of the
# top symbols of the extensions.
report() {
    local name=$1 data=$2 comm=${3:-}
    local filter=()
    [[ -n $comm ]] && filter=(--comm "$comm" --percentage relative)
    {
        echo "# $name: time by binary (self time; cpu-clock samples)"
        perf report -i "$data" "${filter[@]}" --no-children --sort dso --percent-limit 1 --stdio -g none 2>/dev/null |
            grep -v '^$' | grep -v '^#' || true
        echo
        echo "# $name: flat profile (self time; cpu-clock samples)"
        perf report -i "$data" "${filter[@]}" --no-children --sort dso,symbol --percent-limit 0.7 --stdio -g none 2>/dev/null |
            grep -v '^$' | grep -v '^# [A-Z]' | grep -v '^#$' || true
        echo
        echo "# $name: callers of the top entries"
        perf report -i "$data" "${filter[@]}" --no-children --sort symbol --percent-limit 4 --stdio \
            -g caller,2,callee,function,percent 2>/dev/null | grep -v '^$' | grep -v '^#' | head -n 150 || true
    } >"$OUT/$name.txt"
    local sym
    while IFS= read -r sym; do
        {
            echo
            echo "# $name: hot instructions in $sym (lines with >= 1% of its samples)"
            perf annotate -i "$data" --stdio -s "$sym" 2>/dev/null | awk -F: '$1 + 0 >= 1.0' | head -n 40 || true
        } >>"$OUT/$name.txt"
    done < <(perf report -i "$data" "${filter[@]}" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
        awk '$2 ~ /simple_cache/ && $1 + 0 >= 5' | sed 's/.*\[\.\] //; s/ *- *- *$//' | head -n 3 || true)
    log "wrote ${OUT#"$ROOT"/}/$name.txt"
}

# Profiles the backend that runs the SQL in $2 (repeated for about SECONDS_PER_CASE seconds).
profile_backend() {
    local name=$1 sql=$2 repeat=$3 pidfile data
    pidfile=$(mktemp)
    data=$(mktemp /tmp/perf.XXXXXX.data)
    {
        echo 'SELECT pg_backend_pid();'
        echo "$sql"    # warm-up
        echo 'SELECT pg_sleep(0.5);'
        for ((i = 0; i < repeat; i++)); do echo "$sql"; done
    } | bc_psql prof -At >"$pidfile" 2>&1 &
    local client=$!
    local pid=""
    for ((i = 0; i < 100; i++)); do
        pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] && break
        sleep 0.1
    done
    sleep 0.3
    # Give the warm-up time to finish before sampling.
    sleep 1.5
    perf record -g -p "$pid" -o "$data" -- sleep "$SECONDS_PER_CASE" >/dev/null 2>&1 || true
    wait "$client" || true
    report "$name" "$data"
    rm -f "$pidfile" "$data"
}

# Profiles all postgres processes while pgbench runs script $2 with $3 clients (default 1).
profile_pgbench() {
    local name=$1 script=$2 clients=${3:-1} data
    data=$(mktemp /tmp/perf.XXXXXX.data)
    pgbench -h "${BC_HOST[prof]}" -p "${BC_PORT[prof]}" -U "$BC_USER" -n -M prepared -c "$clients" -j $((clients < 2 ? clients : 2)) \
        -T $((SECONDS_PER_CASE + 2)) -D nkeys=100000 -f "$BENCH/sql/$script" postgres >/dev/null 2>&1 &
    local client=$!
    sleep 1
    # Only this cluster's pgbench backends (other clusters may run on the machine).
    local pids
    pids=$(bc_psql prof -At -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = 'pgbench'")
    perf record -g -p "$pids" -o "$data" -- sleep "$SECONDS_PER_CASE" >/dev/null 2>&1 || true
    wait "$client" || true
    report "$name" "$data"
    rm -f "$data"
}

# DHT vs dshash lookups at 1M keys (DHT load 0.95, dshash 0.48: they grow above 1 and 0.75
# entries per bucket) and at 700k keys, where both tables sit at load 0.67.
profile_load_factor() {
    {
        echo "# load_factor: simple_cache_bench_hash ns/op, dht and dshash alternating"
        local r n impl
        for n in 700000 1000000; do
            for r in 1 2; do
                for impl in dht dshash; do
                    echo "## n=$n round $r $impl"
                    bc_psql prof -At -F ' ' -c "SELECT op, round(ns_per_op::numeric, 1) FROM simple_cache_bench_hash('$impl', $n) WHERE op IN ('find_hit', 'find_miss', 'insert')"
                done
            done
        done
    } >"$OUT/load_factor.txt" 2>&1
    log "wrote ${OUT#"$ROOT"/}/load_factor.txt"
}

# The core DHT at 4M keys with 4 KB pages vs transparent huge pages for its heap.
profile_core_tlb() {
    mkdir -p build
    ${CXX:-g++} -std=c++17 -O2 -g -Iinclude bench/dht_core_bench.cpp -o build/dht_core_bench -pthread
    {
        echo "# core_tlb: bench/dht_core_bench 4000000 (heap policy, one thread), alternating"
        echo "# 4 KB pages (default) and transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1)."
        echo "# THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
        local r
        for r in 1 2; do
            echo "## round $r, 4 KB pages"
            build/dht_core_bench 4000000
            echo "## round $r, huge pages"
            GLIBC_TUNABLES=glibc.malloc.hugetlb=1 build/dht_core_bench 4000000
        done
    } >"$OUT/core_tlb.txt" 2>&1
    log "wrote ${OUT#"$ROOT"/}/core_tlb.txt"
}

need_cluster=0
for c in "${CASES[@]}"; do
    [[ $c == core_tlb ]] || need_cluster=1
done
if [[ $need_cluster -eq 1 ]]; then
    # Preloaded, as in bench/run.sh: immune to a reinstall of the library during the run.
    bc_start prof "simple_cache.max_memory = '4GB'" "jit = off" "shared_preload_libraries = 'simple_cache, simple_cache_bench'"
    bc_psql prof -c 'CREATE EXTENSION simple_cache' -c 'CREATE EXTENSION simple_cache_bench'
    # 100k entries as in the round-trip section; the statement cases load up to 1M.
    bc_psql prof -At -c "SELECT count(simple_cache_put('k' || g, rpad(g::text, 32, 'v'))) FROM generate_series(1, 100000) g" >/dev/null
fi
LOADED_1M=0

# Loads keys up to k1000000 (once).
load_1m() {
    [[ $LOADED_1M -eq 0 ]] || return 0
    bc_psql prof -At -c "SELECT count(simple_cache_put('k' || g, rpad(g::text, 32, 'v'))) FROM generate_series(100001, 1000000) g" >/dev/null
    LOADED_1M=1
}

for c in "${CASES[@]}"; do
    log "case $c"
    case $c in
        stmt_get) load_1m; profile_backend stmt_get "SELECT count(length(simple_cache_get('k' || g))) FROM generate_series(1, 1000000) g;" 12 ;;
        stmt_get_hot) load_1m; profile_backend stmt_get_hot "SELECT count(length(simple_cache_get('k' || (g % 10000 + 1)))) FROM generate_series(1, 1000000) g;" 20 ;;
        stmt_base) load_1m; profile_backend stmt_base "SELECT count(length('k' || g)) FROM generate_series(1, 1000000) g;" 30 ;;
        hash_dht) profile_backend hash_dht "SELECT * FROM simple_cache_bench_hash('dht', 1000000);" 4 ;;
        hash_dshash) profile_backend hash_dshash "SELECT * FROM simple_cache_bench_hash('dshash', 1000000);" 4 ;;
        rt_get) profile_pgbench rt_get rt_get.sql ;;
        rt_base) profile_pgbench rt_base rt_base.sql ;;
        rt_put8) profile_pgbench rt_put8 rt_put.sql 8 ;;
        rt_get8) profile_pgbench rt_get8 rt_get.sql 8 ;;
        core_tlb) profile_core_tlb ;;
        load_factor) profile_load_factor ;;
        *) log "unknown case $c" ;;
    esac
done
