#!/usr/bin/env bash
# "make bench [QUICK=1]": the benchmark suite. Builds and installs the extension and the
# test-only simple_cache_bench extension, starts throwaway clusters (test/cluster.sh, through
# bench/lib/clusters.sh), runs every comparison side by side in alternating rounds, and writes
# bench/results/ (QUICK=1: bench/results/quick/): samples.csv (every measurement), results.md
# and results.csv (the ratios), insert_profile.csv, plots (PNG) and run.log.
#
# Sections (see bench/README.md for the method):
#   1 SQL round trip (pgbench)       5 scale: 10M vs 10k entries; puts with vs without eviction
#   2 inside one statement           6 concurrency: 1, 2, 8, 32 clients
#   3 hash tables inside a backend   7 peers: redis-server, memcached (context only)
#   4 memory per entry               8 Citus: routed get/put through a coordinator vs local
#                                      (bench/citus.sh; skipped without Citus installed)
#                                    9 stampede: 32 clients on one cold key, fetch vs get+put
#
# Settings (environment): QUICK=1 for the short run; BENCH_SECTIONS="1 2 3 4 5 6 7 8 9" to run
# a subset; BENCH_SKIP_BUILD=1 to use what is installed; BENCH_NO_INSTALL=1 to never call apt;
# BENCH_OUT=DIR to write the results there instead (e.g. a partial run next to a full one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=$ROOT/bench
export MAKE=${MAKE:-make}

case ${QUICK:-0} in
    1 | yes | true | on) QUICK=1 ;;
    *) QUICK=0 ;;
esac

if [[ $QUICK -eq 1 ]]; then
    OUT=${BENCH_OUT:-$BENCH/results/quick}
    T=1                 # seconds per pgbench run
    ROUNDS=2            # alternating rounds for pgbench comparisons
    STMT_ROWS=400000    # rows per one-statement run (section 2; 1M in the full run)
    STMT_ROUNDS=2
    MGET_SMALL_REPS=40  # calls of the 10k-key mget per statement (section 2)
    HASH_N=300000       # keys per hash-table run (section 3; the targets are stated at 1M)
    HASH_ROUNDS=2
    PRESIZED_ROUNDS=0   # section 3 again with min_dynamic_shared_memory (full run only)
    SCALE_N=1000000     # the "large" cache of section 5 (10M in the full run)
    SCALE_ROWS=300000   # lookups per statement in section 5
    SCALE_ROUNDS=2
    PEER_T=1
    PEER_ROUNDS=2
    EVICT_MEMORY=32MB   # max_memory of the cache that runs full (section 5)
    EVICT_FILL=450000   # puts that fill it past full
else
    OUT=${BENCH_OUT:-$BENCH/results}
    T=4
    ROUNDS=4
    STMT_ROWS=1000000
    STMT_ROUNDS=5
    MGET_SMALL_REPS=100
    HASH_N=1000000
    HASH_ROUNDS=4
    PRESIZED_ROUNDS=2
    SCALE_N=10000000
    SCALE_ROWS=1000000
    SCALE_ROUNDS=4
    PEER_T=3
    PEER_ROUNDS=3
    EVICT_MEMORY=64MB
    EVICT_FILL=1200000
fi
SMALL_N=10000          # the "small" cache of section 5
RT_KEYS=100000         # keys preloaded for the round-trip and concurrency sections
MEM_N=1000000          # entries at which memory per entry is measured (section 4)
STAMPEDE_CLIENTS=32    # clients asking for one cold key at once (section 9)
SECTIONS=${BENCH_SECTIONS:-1 2 3 4 5 6 7 8 9}

# Every cluster preloads the libraries it uses: a backend then runs the code the postmaster
# loaded at start, so a "make install" by someone else during the run (a new simple_cache.so
# would refuse an area made by the old one) cannot change the code under a running cluster.
PRELOAD_CACHE="shared_preload_libraries = 'simple_cache'"
PRELOAD_BOTH="shared_preload_libraries = 'simple_cache, simple_cache_bench'"
PRELOAD_BENCH="shared_preload_libraries = 'simple_cache_bench'"

SAMPLES=$OUT/samples.csv
META=$OUT/meta.txt
LOG=$OUT/run.log
BUILD=$ROOT/build/bench
START_S=$SECONDS

# ---------------------------------------------------------------------------------------------
# Helpers

log() {
    printf '[%4ds] %s\n' $((SECONDS - START_S)) "$*" | tee -a "$LOG" >&2
}

warn() {
    log "WARNING: $*"
}

# Appends one measurement: section, case, parameter, round, metric, value.
sample() {
    printf '%s,%s,%s,%s,%s,%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$SAMPLES"
}

# Records a key = value line for the report.
meta() {
    printf '%s=%s\n' "$1" "$2" >>"$META"
}

has_section() {
    [[ " $SECTIONS " == *" $1 "* ]]
}

# The round's order: forward on odd rounds, reversed on even ones (A B C, C B A, ...), so that
# a drift in machine speed does not favour whatever always runs first.
ordered() {
    local round=$1
    shift
    if ((round % 2 == 1)); then
        printf '%s\n' "$@"
    else
        printf '%s\n' "$@" | tac
    fi
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

# Installs missing Debian packages for the plot and the peers. Service start-up is suppressed
# during the install with a temporary policy-rc.d (only when none exists). Failures only warn.
install_bench_packages() {
    local want=() pkg
    command -v gnuplot >/dev/null 2>&1 || want+=(gnuplot-nox)
    command -v redis-server >/dev/null 2>&1 || want+=(redis-server)
    command -v redis-benchmark >/dev/null 2>&1 || want+=(redis-tools)
    command -v memcached >/dev/null 2>&1 || want+=(memcached)
    local major
    major=$(pg_config --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
    [[ -n $major && ! -e /usr/share/postgresql/$major/extension/pgmemcache.control ]] &&
        want+=("postgresql-$major-pgmemcache")
    [[ ${#want[@]} -gt 0 ]] || return 0
    if [[ ${BENCH_NO_INSTALL:-0} == 1 ]]; then
        warn "missing ${want[*]} (BENCH_NO_INSTALL=1: not installing)"
        return 0
    fi
    log "installing ${want[*]} from Debian"
    local made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]] &&
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'; then
        made_policy=1
    fi
    {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${want[@]}" ||
            { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
                as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${want[@]}"; }
    } >>"$LOG" 2>&1 || warn "could not install ${want[*]}; the plot or the peers may be skipped"
    if [[ $made_policy -eq 1 ]]; then
        as_root rm -f /usr/sbin/policy-rc.d
    fi
    for pkg in redis-server memcached; do
        # The packages start their services where an init system runs; the bench uses its own.
        if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
            as_root systemctl stop "$pkg" >/dev/null 2>&1 || true
        fi
    done
}

# Debian's pgmemcache package installs into /usr/lib/postgresql/<major>; when the pg_config on
# PATH is another installation of the same major (a private copy), copies its files there.
install_pgmemcache_files() {
    local major libdir sharedir
    major=$(pg_config --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
    libdir=$(pg_config --pkglibdir)
    sharedir=$(pg_config --sharedir)/extension
    [[ -e $sharedir/pgmemcache.control ]] && return 0
    [[ -e /usr/lib/postgresql/$major/lib/pgmemcache.so ]] || return 0
    log "copying pgmemcache from /usr/lib/postgresql/$major into $(dirname "$libdir")"
    as_root cp /usr/lib/postgresql/"$major"/lib/pgmemcache.so "$libdir"/ &&
        as_root cp /usr/share/postgresql/"$major"/extension/pgmemcache* "$sharedir"/ ||
        warn "could not copy pgmemcache; it is skipped"
}

# Builds and installs simple_cache (as "make test" does) and simple_cache_bench.
build_all() {
    if [[ ${BENCH_SKIP_BUILD:-0} == 1 ]]; then
        log "BENCH_SKIP_BUILD=1: using the installed extensions"
    else
        log "building and installing simple_cache and simple_cache_bench"
        test/install-deps.sh >>"$LOG" 2>&1
        test/build-install.sh >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; return 1; }
        "$MAKE" -C bench/ext >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; return 1; }
        as_root "$MAKE" -C bench/ext install >>"$LOG" 2>&1
    fi
    mkdir -p "$BUILD"
    if command -v memcached >/dev/null 2>&1; then
        cc -O2 -Wall -o "$BUILD/mc_bench" bench/tools/mc_bench.c >>"$LOG" 2>&1 || warn "mc_bench did not build"
    fi
}

# One pgbench run: cluster script clients seconds nkeys [pgbench options...] -> prints tps (""
# on failure).
pgb() {
    local cluster=$1 script=$2 clients=$3 seconds=$4 nkeys=$5 out jobs
    shift 5
    jobs=$((clients < 2 ? clients : 2))
    out=$(timeout $((seconds * 4 + 60)) pgbench -h "${BC_HOST[$cluster]}" -p "${BC_PORT[$cluster]}" -U "$BC_USER" \
        -n -M prepared -c "$clients" -j "$jobs" -T "$seconds" -D nkeys="$nkeys" "$@" -f "$BENCH/sql/$script" \
        postgres 2>&1) || true
    local tps
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -n 1)
    if [[ -z $tps ]] || grep -q 'aborted' <<<"$out"; then
        warn "pgbench $script failed on $cluster with $clients clients: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        echo ""
        return 0
    fi
    echo "$tps"
}

# Runs an SQL script with \echo markers "@@ <label>" and prints "<label> <ms>" for the first
# "Time:" line after each marker.
timed_script() {
    local cluster=$1 script=$2
    timeout 1800 psql -X -At -P pager=off -v ON_ERROR_STOP=1 -h "${BC_HOST[$cluster]}" \
        -p "${BC_PORT[$cluster]}" -U "$BC_USER" -d postgres -f "$script" |
        awk '/^@@ / { label = $2; next }
             /^Time: / && label != "" { print label, $2; label = "" }'
}

# Loads keys key:<12 digits> -> 32-byte values for g in [from, to] into cluster, in two
# parallel sessions.
load_scale_keys() {
    local cluster=$1 from=$2 to=$3 mid
    mid=$(((from + to) / 2))
    local sql="SELECT count(simple_cache_put('key:' || lpad(g::text, 12, '0'), rpad(g::text, 32, 'v')))
               FROM generate_series(%s, %s) g"
    # shellcheck disable=SC2059
    bc_psql "$cluster" -At -c "$(printf "$sql" "$from" "$mid")" >/dev/null &
    local p1=$!
    # shellcheck disable=SC2059
    bc_psql "$cluster" -At -c "$(printf "$sql" "$((mid + 1))" "$to")" >/dev/null &
    local p2=$!
    wait "$p1"
    wait "$p2"
}

# Records the cache's memory figures in cluster (simple_cache_dump_area + simple_cache_stats)
# under case $2 with parameter $3.
record_cache_memory() {
    local cluster=$1 case=$2 param=$3 dump stats
    dump=$(bc_psql "$cluster" -At -c 'SELECT simple_cache_dump_area()')
    stats=$(bc_psql "$cluster" -At -F ' ' -c 'SELECT entries, key_value_bytes, area_bytes, buckets FROM simple_cache_stats')
    local in_use segment pages entries kv buckets
    in_use=$(sed -n 's/^in use: \([0-9]*\) bytes.*/\1/p' <<<"$dump")
    segment=$(sed -n 's/^ *total_segment_size: \([0-9]*\).*/\1/p' <<<"$dump")
    pages=$(grep -o ', pages = [0-9]*' <<<"$dump" | awk '{ s += $4 } END { print s + 0 }')
    read -r entries kv _ buckets <<<"$stats"
    sample mem "$case" "$param" 0 entries "$entries"
    sample mem "$case" "$param" 0 key_value_bytes "$kv"
    sample mem "$case" "$param" 0 in_use_bytes "$in_use"
    sample mem "$case" "$param" 0 segment_bytes "$segment"
    sample mem "$case" "$param" 0 span_bytes $((pages * 4096))
    sample mem "$case" "$param" 0 buckets "$buckets"
    log "  $case at $entries entries: in use $in_use B, segments $segment B, spans $((pages * 4096)) B"
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
    cluster_free_port
}

# ---------------------------------------------------------------------------------------------
# Sections

# Section 1: pgbench round trips, cases a-g at 1 and 8 clients.
section_round_trip() {
    log "section 1: SQL round trip (pgbench -M prepared, ${T}s runs, $ROUNDS rounds)"
    local clients r c tps
    for clients in 1 8; do
        for ((r = 1; r <= ROUNDS; r++)); do
            for c in $(ordered "$r" base get put table_get table_upsert put_tx put_at_commit fetch); do
                tps=$(pgb main "rt_$c.sql" "$clients" "$T" "$RT_KEYS")
                [[ -n $tps ]] && sample rt "$c" "$clients" "$r" tps "$tps"
            done
            log "  $clients client(s), round $r done"
        done
    done
}

# Section 9: a stampede. In each round STAMPEDE_CLIENTS pgbench clients ask for one cold key at
# once, each exactly once: through simple_cache_fetch (one lease, the others wait for its
# value), then cache-aside without a lease (get; on a miss compute and put). The fill function
# records every computation in a table and takes 50 ms. Samples: computations per round, and
# the clients' mean latency.
section_stampede() {
    log "section 9: stampede ($STAMPEDE_CLIENTS clients on one cold key, $ROUNDS rounds)"
    bc_psql main -c "DROP TABLE IF EXISTS bench_fills" \
        -c "CREATE UNLOGGED TABLE bench_fills (key text NOT NULL)" \
        -c "CREATE OR REPLACE FUNCTION bench_slow_fill(k text) RETURNS text LANGUAGE plpgsql AS \$\$
            BEGIN INSERT INTO bench_fills VALUES (k); PERFORM pg_sleep(0.05); RETURN rpad(k, 32, 'v'); END \$\$" >/dev/null
    local r c out latency fills
    for ((r = 1; r <= ROUNDS; r++)); do
        for c in $(ordered "$r" fetch naive); do
            out=$(timeout 120 pgbench -h "${BC_HOST[main]}" -p "${BC_PORT[main]}" -U "$BC_USER" -n \
                -c "$STAMPEDE_CLIENTS" -j 2 -t 1 -D round="$r" -f "$BENCH/sql/stampede_$c.sql" postgres 2>&1) || true
            latency=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' <<<"$out")
            if [[ -z $latency ]] || grep -q 'aborted' <<<"$out"; then
                warn "stampede $c round $r failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
                continue
            fi
            local prefix=$c
            [[ $c == fetch ]] && prefix=stampede
            fills=$(bc_psql main -At -c "SELECT count(*) FROM bench_fills WHERE key = '$prefix:$r'")
            sample stampede "$c" "$STAMPEDE_CLIENTS" "$r" computations "$fills"
            sample stampede "$c" "$STAMPEDE_CLIENTS" "$r" latency_ms "$latency"
        done
        log "  round $r done"
    done
}

# Section 6: get and put at 1, 2, 8 and 32 clients; in the full run also the baseline SELECT,
# to tell the machine's own scaling from the cache's.
section_concurrency() {
    log "section 6: concurrency (get and put at 1, 2, 8, 32 clients)"
    local r op clients tps ops=(get put)
    [[ $QUICK -eq 1 ]] || ops+=(base)
    for ((r = 1; r <= ROUNDS; r++)); do
        for op in $(ordered "$r" "${ops[@]}"); do
            for clients in $(ordered "$r" 1 2 8 32); do
                tps=$(pgb main "rt_$op.sql" "$clients" "$T" "$RT_KEYS")
                [[ -n $tps ]] && sample conc "$op" "$clients" "$r" tps "$tps"
            done
        done
        log "  round $r done"
    done
}

REDIS_PID=""
MEMCACHED_PID=""
PEER_DIR=""

stop_peers() {
    [[ -n $REDIS_PID ]] && { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
    [[ -n $MEMCACHED_PID ]] && { kill "$MEMCACHED_PID" 2>/dev/null || true; wait "$MEMCACHED_PID" 2>/dev/null || true; }
    REDIS_PID="" MEMCACHED_PID=""
    [[ -n $PEER_DIR ]] && rm -rf "$PEER_DIR"
    PEER_DIR=""
}

# Waits until something listens on 127.0.0.1:$1 (up to 10 s).
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# redis-benchmark: one client, no pipelining; prints requests per second.
redis_rps() {
    local test=$1 n=$2
    timeout 120 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -P 1 -n "$n" -r "$RT_KEYS" -d 32 -t "$test" --csv 2>/dev/null |
        awk -F'"' -v t="${test^^}" '$2 == t { print $4 }'
}

# Section 7: redis-server and memcached (1 client, no pipelining) next to simple_cache at 1
# pgbench client, in alternating rounds.
section_peers() {
    log "section 7: peers (redis-server, memcached) next to simple_cache, 1 client"
    PEER_DIR=$(mktemp -d /tmp/simple_cache_peers.XXXXXX)
    local have_redis=0 have_mc=0
    if command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; then
        REDIS_PORT=$(free_port)
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --save '' --appendonly no \
            --dir "$PEER_DIR" --logfile "$PEER_DIR/redis.log" --daemonize no >/dev/null 2>&1 &
        REDIS_PID=$!
        if wait_port "$REDIS_PORT"; then
            have_redis=1
            meta redis_version "$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
            # Preload: pipelined sets over the key range (5 per key: ~99% of keys present).
            timeout 120 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 1 -P 64 -n $((RT_KEYS * 5)) -r "$RT_KEYS" \
                -d 32 -t set -q >/dev/null 2>&1 || true
        else
            warn "redis-server did not start"
        fi
    else
        warn "redis-server / redis-benchmark not installed: skipping redis"
    fi
    if command -v memcached >/dev/null 2>&1 && [[ -x $BUILD/mc_bench ]]; then
        MC_PORT=$(free_port)
        local mc_user=()
        [[ $(id -u) -eq 0 ]] && mc_user=(-u nobody)
        memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 1024 "${mc_user[@]}" >/dev/null 2>&1 &
        MEMCACHED_PID=$!
        if wait_port "$MC_PORT"; then
            have_mc=1
            meta memcached_version "$(memcached -V | awk '{ print $2 }')"
            "$BUILD/mc_bench" 127.0.0.1 "$MC_PORT" load "$RT_KEYS" 32 >/dev/null
        else
            warn "memcached did not start"
        fi
    else
        warn "memcached (or the mc_bench client) not available: skipping memcached"
    fi
    # Requests per redis-benchmark run: about PEER_T seconds' worth, from a short calibration.
    local redis_n=0 rate
    if [[ $have_redis -eq 1 ]]; then
        rate=$(redis_rps get 5000)
        redis_n=$(awk -v r="${rate:-20000}" -v t="$PEER_T" 'BEGIN { n = int(r * t); if (n < 2000) n = 2000; print n }')
    fi
    local r step v
    for ((r = 1; r <= PEER_ROUNDS; r++)); do
        for step in $(ordered "$r" redis_get mc_get sc_get redis_set mc_set sc_put); do
            v=""
            case $step in
                redis_get) [[ $have_redis -eq 1 ]] && v=$(redis_rps get "$redis_n") ;;
                redis_set) [[ $have_redis -eq 1 ]] && v=$(redis_rps set "$redis_n") ;;
                mc_get) [[ $have_mc -eq 1 ]] && v=$(timeout 60 "$BUILD/mc_bench" 127.0.0.1 "$MC_PORT" get "$RT_KEYS" "$PEER_T" | awk '{ print $4 }') ;;
                mc_set) [[ $have_mc -eq 1 ]] && v=$(timeout 60 "$BUILD/mc_bench" 127.0.0.1 "$MC_PORT" set "$RT_KEYS" "$PEER_T" | awk '{ print $4 }') ;;
                sc_get) v=$(pgb main rt_get.sql 1 "$PEER_T" "$RT_KEYS") ;;
                sc_put) v=$(pgb main rt_put.sql 1 "$PEER_T" "$RT_KEYS") ;;
            esac
            [[ -n $v ]] && sample peer "$step" 1 "$r" ops "$v"
        done
        log "  round $r done"
    done
    stop_peers
}

# Section 7, pgmemcache: the round-trip get and put (rt_get.sql, rt_put.sql) against the same
# calls through pgmemcache's SQL functions (rt_pgmc_*.sql) to a local memcached holding the
# same keys and values, at 1 and 8 pgbench clients, in alternating rounds. Skipped when
# pgmemcache or memcached is missing.
section_pgmemcache() {
    if ! command -v memcached >/dev/null 2>&1 || [[ ! -e $(pg_config --sharedir)/extension/pgmemcache.control ]]; then
        warn "pgmemcache or memcached not installed: skipping pgmemcache"
        return 0
    fi
    log "section 7: pgmemcache next to simple_cache, 1 and 8 clients ($PEER_ROUNDS rounds)"
    local port mc_user=() pid
    port=$(free_port)
    [[ $(id -u) -eq 0 ]] && mc_user=(-u nobody)
    memcached -l 127.0.0.1 -p "$port" -U 0 -m 1024 "${mc_user[@]}" >/dev/null 2>&1 &
    pid=$!
    MEMCACHED_PID=$pid
    if ! wait_port "$port"; then
        warn "memcached did not start: skipping pgmemcache"
        stop_peers || true
        return 0
    fi
    bc_psql main -c 'CREATE EXTENSION IF NOT EXISTS pgmemcache' >/dev/null
    meta pgmemcache_version "$(bc_psql main -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pgmemcache'")"
    local loaded
    loaded=$(bc_psql main -At -c "SELECT memcache_server_add('127.0.0.1:$port')" \
        -c "SELECT count(*) FILTER (WHERE memcache_set('k' || g, rpad(g::text, 32, 'v'))) FROM generate_series(1, $RT_KEYS) g" \
        -c "SELECT count(*) FROM generate_series(1, $RT_KEYS) g WHERE memcache_get('k' || g) = rpad(g::text, 32, 'v')" | tail -n 1)
    [[ $loaded == "$RT_KEYS" ]] || warn "pgmemcache: $loaded of $RT_KEYS keys read back"
    local r clients step v
    for ((r = 1; r <= PEER_ROUNDS; r++)); do
        for clients in 1 8; do
            for step in $(ordered "$r" sc_get pgmc_get sc_put pgmc_put); do
                case $step in
                    sc_get) v=$(pgb main rt_get.sql "$clients" "$T" "$RT_KEYS") ;;
                    sc_put) v=$(pgb main rt_put.sql "$clients" "$T" "$RT_KEYS") ;;
                    pgmc_get) v=$(pgb main rt_pgmc_get.sql "$clients" "$T" "$RT_KEYS" -D mc_added=0 -D mc_port="$port") ;;
                    pgmc_put) v=$(pgb main rt_pgmc_put.sql "$clients" "$T" "$RT_KEYS" -D mc_added=0 -D mc_port="$port") ;;
                esac
                [[ -n $v ]] && sample pgmc "$step" "$clients" "$r" tps "$v"
            done
        done
        log "  pgmemcache round $r done"
    done
    stop_peers || true
}

# Section 2: one statement over STMT_ROWS keys: a trivial builtin, simple_cache_get, and a join
# to an UNLOGGED table (the planner's plan, and an index nested loop).
section_statement() {
    log "section 2: inside one statement ($STMT_ROWS rows, $STMT_ROUNDS rounds)"
    local n=$STMT_ROWS
    bc_psql main -At -c "SELECT count(simple_cache_put('k' || g, rpad(g::text, 32, 'v'))) FROM generate_series(1, $n) g" >/dev/null
    bc_psql main -c "DROP TABLE IF EXISTS bench_kv1m" \
        -c "CREATE UNLOGGED TABLE bench_kv1m (k text PRIMARY KEY, v text NOT NULL)" \
        -c "INSERT INTO bench_kv1m SELECT 'k' || g, rpad(g::text, 32, 'v') FROM generate_series(1, $n) g" \
        -c "VACUUM ANALYZE bench_kv1m"
    local base="SELECT count(length('k' || g)) FROM generate_series(1, $n) g;"
    local get="SELECT count(length(simple_cache_get('k' || g))) FROM generate_series(1, $n) g;"
    local fetch="SELECT count(length(simple_cache_fetch('k' || g, 'SELECT 1'))) FROM generate_series(1, $n) g;"
    local join="SELECT count(length(t.v)) FROM generate_series(1, $n) g JOIN bench_kv1m t ON t.k = 'k' || g;"
    meta stmt_join_plan "$(bc_psql main -At -c "EXPLAIN (COSTS OFF) $join" | sed -n '2p' | sed 's/^ *//; s/ *->  *//')"
    local script=$OUT/statement.sql r c
    {
        echo '\timing on'
        echo "$get"   # warm-up: this backend maps the area's segments
        echo "$join"  # warm-up: the table in shared buffers
        for ((r = 1; r <= STMT_ROUNDS; r++)); do
            for c in $(ordered "$r" base get join join_index fetch); do
                case $c in
                    base) echo "\\echo @@ $r/base"; echo "$base" ;;
                    fetch) echo "\\echo @@ $r/fetch"; echo "$fetch" ;;
                    get) echo "\\echo @@ $r/get"; echo "$get" ;;
                    join) echo "\\echo @@ $r/join"; echo "$join" ;;
                    join_index)
                        echo "SET enable_hashjoin = off; SET enable_mergejoin = off;"
                        echo "\\echo @@ $r/join_index"
                        echo "$join"
                        echo "RESET enable_hashjoin; RESET enable_mergejoin;"
                        ;;
                esac
            done
        done
    } >"$script"
    local label ms
    while read -r label ms; do
        sample stmt "${label#*/}" "$n" "${label%%/*}" ms "$ms"
    done < <(timed_script main "$script")
    rm -f "$script"
    # Every get must have been a hit.
    local hits
    hits=$(bc_psql main -At -c "SELECT count(simple_cache_get('k' || g)) FROM generate_series(1, $n) g")
    [[ $hits == "$n" ]] || warn "section 2: only $hits of $n keys were hits"
    statement_mget "$n"
}

# Section 2, mget: simple_cache_mget of an array of keys against the same keys read row by row
# with simple_cache_get (unnest of the same array), in one statement each: 10k keys (the call
# repeated MGET_SMALL_REPS times in the statement, through a lateral reference that makes each
# repetition call it again) and $1 keys (one call). The arrays are built beforehand in an
# UNLOGGED table. Samples: stmt mget / rows, param = keys per call (for 10000: the time of
# MGET_SMALL_REPS calls).
statement_mget() {
    local n=$1 small=10000 reps=$MGET_SMALL_REPS
    bc_psql main -c "DROP TABLE IF EXISTS bench_key_arrays" \
        -c "CREATE UNLOGGED TABLE bench_key_arrays (n int PRIMARY KEY, keys text[] NOT NULL)" \
        -c "INSERT INTO bench_key_arrays SELECT s, array_agg('k' || g ORDER BY g)
            FROM (VALUES ($small), ($n)) v(s), generate_series(1, s) g GROUP BY s" >/dev/null
    local from_small="generate_series(1, $reps) rep, bench_key_arrays a"
    local m_small="SELECT count(length(m.value)) FROM $from_small, LATERAL simple_cache_mget(CASE WHEN rep > 0 THEN a.keys END) m WHERE a.n = $small;"
    local r_small="SELECT count(length(simple_cache_get(k))) FROM $from_small, LATERAL unnest(CASE WHEN rep > 0 THEN a.keys END) k WHERE a.n = $small;"
    local m_large="SELECT count(length(m.value)) FROM bench_key_arrays a, simple_cache_mget(a.keys) m WHERE a.n = $n;"
    local r_large="SELECT count(length(simple_cache_get(k))) FROM bench_key_arrays a, unnest(a.keys) k WHERE a.n = $n;"
    local script=$OUT/statement_mget.sql r c
    {
        echo '\timing on'
        echo "$m_large"  # warm-up
        echo "$r_small"
        for ((r = 1; r <= STMT_ROUNDS; r++)); do
            for c in $(ordered "$r" mget_small rows_small mget_large rows_large); do
                echo "\\echo @@ $r/$c"
                case $c in
                    mget_small) echo "$m_small" ;;
                    rows_small) echo "$r_small" ;;
                    mget_large) echo "$m_large" ;;
                    rows_large) echo "$r_large" ;;
                esac
            done
        done
    } >"$script"
    local label ms case param
    while read -r label ms; do
        case=${label#*/}
        if [[ $case == *_small ]]; then param=$small; else param=$n; fi
        sample stmt "${case%_*}" "$param" "${label%%/*}" ms "$ms"
    done < <(timed_script main "$script")
    rm -f "$script"
    meta mget_small_reps "$reps"
    # mget must find every key, in order.
    local found
    found=$(bc_psql main -At -c "SELECT count(*) FILTER (WHERE m.value IS NOT NULL AND m.key = u.k)
                                 FROM bench_key_arrays a, simple_cache_mget(a.keys) WITH ORDINALITY m(key, value, i)
                                      JOIN unnest(a.keys) WITH ORDINALITY u(k, i) USING (i) WHERE a.n = $n") || found="?"
    [[ $found == "$n" ]] || warn "section 2: mget found $found of $n keys"
}

# Section 3: simple_cache_bench_hash for dht, dshash and dynahash, alternating; then (full run)
# dht and dshash again on a cluster whose DSM segments come from memory reserved at start-up
# (min_dynamic_shared_memory), which takes the cost of creating segments out of the inserts.
section_hash() {
    log "section 3: hash tables inside one backend (n = $HASH_N, $HASH_ROUNDS rounds)"
    bc_psql main -c 'CREATE EXTENSION IF NOT EXISTS simple_cache_bench'
    echo "impl,pct,entries,mean_ns,max_ns" >"$OUT/insert_profile.csv"
    hash_rounds main "$HASH_ROUNDS" "" dht dshash dynahash
    if ((PRESIZED_ROUNDS > 0)); then
        log "  again with min_dynamic_shared_memory = 1GB ($PRESIZED_ROUNDS rounds)"
        bc_start presized "min_dynamic_shared_memory = '1GB'" "jit = off" "$PRELOAD_BENCH"
        bc_psql presized -c 'CREATE EXTENSION simple_cache_bench'
        echo "impl,pct,entries,mean_ns,max_ns" >"$OUT/insert_profile_presized.csv"
        hash_rounds presized "$PRESIZED_ROUNDS" _presized dht dshash
        bc_stop presized
        meta presized "min_dynamic_shared_memory = 1GB"
    fi
}

# Rounds of simple_cache_bench_hash on cluster $1: $2 rounds, case suffix $3, implementations.
hash_rounds() {
    local cluster=$1 rounds=$2 suffix=$3
    shift 3
    local r impl profile=$OUT/insert_profile$suffix.csv
    for ((r = 1; r <= rounds; r++)); do
        for impl in $(ordered "$r" "$@"); do
            while IFS=, read -r kind a b c d e f; do
                case $kind in
                    op)
                        sample hash "$impl$suffix" "$a" "$r" ns_per_op "$c"
                        sample hash "$impl$suffix" "$a" "$r" p99_ns "$d"
                        sample hash "$impl$suffix" "$a" "$r" max_ns "$e"
                        ;;
                    mem)
                        if ((r == rounds)) && [[ -z $suffix ]]; then
                            sample mem "bench_$impl" "$a" 0 entries "$a"
                            sample mem "bench_$impl" "$a" 0 payload_bytes "$b"
                            [[ -n $c ]] && sample mem "bench_$impl" "$a" 0 segment_bytes "$c"
                            [[ -n $d ]] && sample mem "bench_$impl" "$a" 0 span_bytes "$d"
                            [[ -n $e ]] && sample mem "bench_$impl" "$a" 0 in_use_bytes "$e"
                        fi
                        ;;
                    prof)
                        if ((r == rounds)); then echo "$impl,$a,$b,$c,$d" >>"$profile"; fi
                        ;;
                esac
                : "$f"
            done < <(bc_psql "$cluster" -At -F, \
                -c "SELECT 'op', op, ops, ns_per_op, p99_ns, max_ns, '' FROM simple_cache_bench_hash('$impl', $HASH_N)" \
                -c "SELECT 'mem', entries, payload_bytes, segment_bytes, span_bytes, requested_bytes, '' FROM simple_cache_bench_memory('$impl')" \
                -c "SELECT 'prof', pct, entries, mean_ns, max_ns, '', '' FROM simple_cache_bench_insert_profile('$impl')")
        done
        log "  round $r done"
    done
}

# Sections 4 and 5: memory per entry at MEM_N and SCALE_N entries; get latency at SCALE_N vs
# SMALL_N entries (two clusters, alternating); put throughput with eviction (a full cluster) vs
# without (a cluster with room).
section_scale() {
    log "sections 4-5: memory per entry, scale ($SMALL_N vs $SCALE_N entries), eviction"
    bc_start large "simple_cache.max_memory = '8GB'" "jit = off" "statement_timeout = '20min'" "$PRELOAD_CACHE"
    bc_start small "simple_cache.max_memory = '8GB'" "jit = off" "statement_timeout = '20min'" "$PRELOAD_CACHE"
    local c
    for c in large small; do
        bc_psql "$c" -c 'CREATE EXTENSION simple_cache'
    done
    log "  loading $MEM_N entries (16-byte keys, 32-byte values)"
    load_scale_keys large 1 "$MEM_N"
    record_cache_memory large cache "$MEM_N"
    if has_section 5; then
        if ((SCALE_N > MEM_N)); then
            log "  loading up to $SCALE_N entries"
            load_scale_keys large $((MEM_N + 1)) "$SCALE_N"
            record_cache_memory large cache "$SCALE_N"
        fi
        load_scale_keys small 1 "$SMALL_N"
        scale_rounds
        bc_stop large
        eviction_rounds
    fi
    bc_stop large
    bc_stop small
}

# Get latency through one statement (and pgbench, for context) on the small and large caches.
scale_rounds() {
    local r c n script label ms tps k step
    # The j-th lookup reads key (j * 7919) mod n + 1: every key of the small cache, a spread of
    # the large one; the same expression (and cost) in both.
    local key="'key:' || lpad(((g::bigint * 7919) % NKEYS + 1)::text, 12, '0')"
    for ((r = 1; r <= SCALE_ROUNDS; r++)); do
        for c in $(ordered "$r" small large); do
            n=$([[ $c == small ]] && echo "$SMALL_N" || echo "$SCALE_N")
            k=${key/NKEYS/$n}
            script=$OUT/scale.sql
            {
                echo '\timing on'
                echo "SELECT count(length(simple_cache_get($k))) FROM generate_series(1, $SCALE_ROWS) g;"  # warm-up
                for step in $(ordered "$r" base get); do
                    echo "\\echo @@ $step"
                    if [[ $step == base ]]; then
                        echo "SELECT count(length($k)) FROM generate_series(1, $SCALE_ROWS) g;"
                    else
                        echo "SELECT count(length(simple_cache_get($k))) FROM generate_series(1, $SCALE_ROWS) g;"
                    fi
                done
            } >"$script"
            while read -r label ms; do
                sample scale "${c}_$label" "$n" "$r" ms "$ms"
            done < <(timed_script "$c" "$script")
            rm -f "$script"
            tps=$(pgb "$c" scale_get.sql 1 "$T" "$n")
            [[ -n $tps ]] && sample scale "${c}_pgbench" "$n" "$r" tps "$tps"
        done
        log "  scale round $r done"
    done
    meta scale_rows "$SCALE_ROWS"
}

# Puts of new keys: a cache held full at EVICT_MEMORY (every insert evicts) vs the small
# cluster's cache with room to spare.
eviction_rounds() {
    bc_start evict "simple_cache.max_memory = '$EVICT_MEMORY'" "jit = off" "statement_timeout = '20min'" \
        "$PRELOAD_CACHE"
    bc_psql evict -c 'CREATE EXTENSION simple_cache'
    log "  filling a $EVICT_MEMORY cache past full"
    bc_psql evict -At -c "SELECT count(simple_cache_put('f' || g, rpad(g::text, 32, 'v'))) FROM generate_series(1, $EVICT_FILL) g" >/dev/null
    local ev0 ev1 puts0 puts1 r c clients tps
    read -r ev0 puts0 < <(bc_psql evict -At -F ' ' -c 'SELECT evictions, puts FROM simple_cache_stats')
    meta evict_fill_evictions "$ev0"
    for ((r = 1; r <= ROUNDS; r++)); do
        for clients in 1 8; do
            for c in $(ordered "$r" evict small); do
                tps=$(pgb "$c" evict_put.sql "$clients" "$T" 0)
                [[ -n $tps ]] && sample evict "$c" "$clients" "$r" tps "$tps"
            done
        done
        log "  eviction round $r done"
    done
    read -r ev1 puts1 < <(bc_psql evict -At -F ' ' -c 'SELECT evictions, puts FROM simple_cache_stats')
    meta evict_evictions_per_put "$(awk -v e=$((ev1 - ev0)) -v p=$((puts1 - puts0)) 'BEGIN { printf "%.3f", p ? e / p : 0 }')"
    record_cache_memory evict cache_full "$EVICT_MEMORY"
    bc_stop evict
}

# ---------------------------------------------------------------------------------------------

main() {
    mkdir -p "$OUT"
    rm -f "$OUT"/*.png "$OUT"/*.csv "$OUT"/*.md "$OUT"/*.dat "$META" "$LOG"
    echo "section,case,param,round,metric,value" >"$SAMPLES"
    log "simple_cache benchmark ($([[ $QUICK -eq 1 ]] && echo QUICK || echo full) run), results in ${OUT#"$ROOT"/}"

    meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
    meta quick "$QUICK"
    meta nproc "$(nproc)"
    meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    meta memory "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
    meta kernel "$(uname -r)"
    meta commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' (+ uncommitted changes in src/ or include/)')"
    meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
    meta settings "T=${T}s rounds=$ROUNDS stmt_rows=$STMT_ROWS hash_n=$HASH_N scale_n=$SCALE_N"

    install_bench_packages
    install_pgmemcache_files
    build_all
    meta postgres "$(pg_config --version)"

    # shellcheck source=lib/clusters.sh
    . "$BENCH/lib/clusters.sh"

    if has_section 1 || has_section 2 || has_section 3 || has_section 6 || has_section 7 || has_section 9; then
        bc_start main "simple_cache.max_memory = '2GB'" "jit = off" "shared_buffers = '256MB'" \
            "max_connections = 100" "statement_timeout = '20min'" "$PRELOAD_BOTH"
        bc_psql main -c 'CREATE EXTENSION simple_cache'
        log "preloading $RT_KEYS cache entries and an UNLOGGED table of $RT_KEYS rows"
        bc_psql main -At -c "SELECT count(simple_cache_put('k' || g, rpad(g::text, 32, 'v'))) FROM generate_series(1, $RT_KEYS) g" >/dev/null
        bc_psql main -c "CREATE UNLOGGED TABLE bench_kv (k text PRIMARY KEY, v text NOT NULL)" \
            -c "INSERT INTO bench_kv SELECT 'k' || g, rpad(g::text, 32, 'v') FROM generate_series(1, $RT_KEYS) g" \
            -c "VACUUM ANALYZE bench_kv"
        local s
        for s in 1 9 6 7 2 3; do
            has_section "$s" || continue
            local t0=$SECONDS
            case $s in
                1) section_round_trip ;;
                9) section_stampede ;;
                6) section_concurrency ;;
                7) section_peers; section_pgmemcache ;;
                2) section_statement ;;
                3) section_hash ;;
            esac
            meta "duration_section_$s" "$((SECONDS - t0))s"
        done
        bc_stop main
    fi
    if has_section 4 || has_section 5; then
        local t0=$SECONDS
        section_scale
        meta duration_section_4_5 "$((SECONDS - t0))s"
    fi

    if has_section 8; then
        local t0=$SECONDS
        log "section 8: Citus routing cost (bench/citus.sh)"
        bash "$BENCH/citus.sh" "$OUT" "$T" >>"$LOG" 2>&1 || warn "bench/citus.sh failed (see $LOG)"
        meta duration_section_8 "$((SECONDS - t0))s"
    fi

    meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
    meta duration "$((SECONDS - START_S))s"
    log "writing the report"
    perl "$BENCH/report.pl" "$OUT"
    if command -v gnuplot >/dev/null 2>&1; then
        (cd "$OUT" && gnuplot "$BENCH/plot.gp") >>"$LOG" 2>&1 || warn "gnuplot failed (see $LOG)"
    else
        warn "gnuplot not installed: no plot"
    fi
    log "done in $((SECONDS - START_S))s: ${OUT#"$ROOT"/}/results.md"
}

# Stops the peers and every cluster, whatever way the run ends.
bench_cleanup() {
    local rc=$?
    stop_peers
    if declare -F bc_stop_all >/dev/null; then
        bc_stop_all
    fi
    return "$rc"
}

BC_EXIT_TRAP=bench_cleanup
trap bench_cleanup EXIT
main "$@"
