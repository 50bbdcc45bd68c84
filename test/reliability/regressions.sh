#!/usr/bin/env bash
# Reproductions of reliability bugs that the reliability tests found, at the sizes they were
# found with, kept as regression checks ("make stress" runs them; "make test" covers both
# through test/t/020_crash_recovery.pl H and test/t/040_memory_pressure.pl). Each check prints
# "fixed <name>" or "BUG <name>: present", with what it saw, and the script exits with the
# number of bugs present.
#
#   startup-load-undoes-drops  With the library preloaded, the persistence worker loads the
#       saved file after the server starts accepting connections. A key a client dropped
#       before the load reached it used to come back with its saved value. Fixed: writes mark
#       their keys while the load is pending and the load skips marked keys
#       (src/pg/startup_load.cpp).
#   failed-put-evicts-all  Under a 1 MB limit holding three 30 kB values, a put of a
#       900000-byte value used to evict all three and then fail with 53200: the check made
#       before evicting ignored the 64 kB blocks the allocator keeps per size class. Fixed: the
#       check counts them (src/cache/make_room.cpp), and the put is refused with nothing evicted.
# Fixed earlier and tested in "make test": the start-up load replacing values written after
# the start, a persistence worker that never came back after a stray SIGTERM
# (test/t/020_crash_recovery.pl, H and I), simple_cache_list() returning bytea values that are
# no valid text as corrupt text datums (sql/42_bad_input.sql).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
. test/cluster.sh

present=0

# Reports one check: name, whether the bug showed (0 = no), what was seen.
report() {
    if [[ $2 -ne 0 ]]; then
        echo "BUG $1: present ($3)"
        present=$((present + 1))
    else
        echo "fixed $1 ($3)"
    fi
}

# --- startup-load-undoes-drops ---------------------------------------------------------------
cluster_start "shared_preload_libraries = 'simple_cache'" "simple_cache.save_interval = 0"
psql -X -q -At -c "CREATE EXTENSION simple_cache" \
    -c "SELECT count(simple_cache_put('w:' || g, 'saved')) FROM generate_series(1, 1000000) g" \
    -c "SELECT simple_cache_save()" >/dev/null
cluster_restart
# Right after the start, while the worker loads the million saved entries: drop every key.
psql -X -q -At -c "SELECT count(*) FROM generate_series(1, 1000000) g WHERE simple_cache_drop('w:' || g)" >/dev/null
for _ in $(seq 1 100); do
    grep -q 'simple_cache: loaded [0-9]* entries' "$CLUSTER_LOG" && break
    sleep 0.2
done
back=$(psql -X -At -c "SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'w:')")
report startup-load-undoes-drops "$back" "$back of 1000000 keys dropped right after the restart are back after the load"
cluster_stop

# --- failed-put-evicts-all ------------------------------------------------------------------
cluster_start
psql -X -q -At -c "CREATE EXTENSION simple_cache" -c "SELECT simple_cache_set_size_limit(1024 * 1024)" \
    -c "SELECT simple_cache_put(k, repeat(k, 30000)) FROM unnest(ARRAY['a', 'b', 'c']) k" >/dev/null
before=$(psql -X -At -c "SELECT entries FROM simple_cache_stats")
error=$(psql -X -At -c "SELECT simple_cache_put('big', repeat('x', 900000))" 2>&1 | grep -o 'ERROR: .*' || true)
after=$(psql -X -At -c "SELECT entries FROM simple_cache_stats")
bug=0
[[ -n $error && $after -lt $before ]] && bug=1
report failed-put-evicts-all "$bug" "entries before: $before; the put: ${error:-succeeded}; entries after: $after"
cluster_stop

echo "bugs present: $present"
exit "$present"
