#!/usr/bin/env bash
# Reproductions of reliability bugs found by the reliability tests and not fixed yet. Kept out
# of "make test" so that it stays green; "make stress" runs this and reports each one. Each
# check prints "BUG <name>: present" (with what it saw) or "fixed <name>", and the script exits
# with the number of bugs still present.
#
#   startup-load-overwrites  With the library preloaded, the persistence worker loads the saved
#       file after the server starts accepting connections, and a loaded entry replaces the
#       entry with the same key. So a value a client puts right after a restart can be
#       silently replaced by the older saved value once the load reaches that key.
#       Expected: the start-up load never replaces what was written since the start (restore
#       only keys that are absent, or make writers wait for the load).
#   failed-put-evicts-all  Under a size limit, a put of an entry smaller than the limit but
#       too big to fit even in an empty area (the table's own structures take the rest) first
#       evicts every other entry, then fails with 53200. Expected, per the README's error
#       table: a put that fails with 53200 leaves the old value and every other entry as they
#       were (check that the entry can fit at all before evicting).
#   worker-sigterm-stops-saving  A SIGTERM to the persistence worker outside a shutdown (kill,
#       pg_terminate_backend) makes it save once and exit with status 0, so the postmaster
#       never restarts it: no periodic saves, and no save at the next clean shutdown, so what
#       was written meanwhile is lost at restart. Expected: the worker comes back (exit with
#       status 1 so that bgw_restart_time applies), or saving at shutdown happens regardless.
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

# The pid of this cluster's persistence worker: the postmaster's child with that title.
worker_pid() {
    local postmaster
    postmaster=$(head -n 1 "$CLUSTER_DATA/postmaster.pid")
    ps -o pid=,args= --ppid "$postmaster" | awk '/simple_cache persistence/ { print $1 }'
}

# --- startup-load-overwrites ----------------------------------------------------------------
cluster_start "shared_preload_libraries = 'simple_cache'" "simple_cache.save_interval = 0"
psql -X -q -At -c "CREATE EXTENSION simple_cache" \
    -c "SELECT count(simple_cache_put('w:' || g, 'old')) FROM generate_series(1, 1000000) g" \
    -c "SELECT simple_cache_save()" >/dev/null
cluster_restart
# Right after the start, while the worker loads the million saved entries: new values.
psql -X -q -At -c "SELECT count(simple_cache_put('w:' || g, 'new')) FROM generate_series(1, 1000000) g" >/dev/null
for _ in $(seq 1 100); do
    grep -q 'simple_cache: loaded' "$CLUSTER_LOG" && break
    sleep 0.2
done
reverted=$(psql -X -At -c "SELECT count(*) FROM generate_series(1, 1000000) g WHERE simple_cache_get('w:' || g) = 'old'")
report startup-load-overwrites "$reverted" "$reverted of 1000000 values put after the restart were replaced by the saved ones"

# --- worker-sigterm-stops-saving -------------------------------------------------------------
psql -X -q -At -c "SELECT simple_cache_flush()" -c "SELECT simple_cache_save()" >/dev/null
worker=$(worker_pid)
kill -TERM "$worker"
sleep 12    # past the worker's restart delay (10 s)
again=$(worker_pid)
psql -X -q -At -c "SELECT simple_cache_put('after-sigterm', 'written after the worker was told to stop')" >/dev/null
cluster_restart
sleep 2
value=$(psql -X -At -c "SELECT coalesce(simple_cache_get('after-sigterm'), 'lost')")
bug=0
[[ -z $again || $value == lost ]] && bug=1
report worker-sigterm-stops-saving "$bug" "worker ${worker} got SIGTERM; worker 12 s later: '${again:-none}'; a value put then and a clean restart later: ${value}"
cluster_stop

# --- failed-put-evicts-all ------------------------------------------------------------------
cluster_start
psql -X -q -At -c "CREATE EXTENSION simple_cache" -c "SELECT simple_cache_set_size_limit(1024 * 1024)" \
    -c "SELECT simple_cache_put(k, repeat(k, 200000)) FROM unnest(ARRAY['a', 'b', 'c']) k" >/dev/null
before=$(psql -X -At -c "SELECT entries FROM simple_cache_stats")
error=$(psql -X -At -c "SELECT simple_cache_put('big', repeat('x', 1024 * 1024 - 10000))" 2>&1 | grep -o 'ERROR: .*' || true)
after=$(psql -X -At -c "SELECT entries FROM simple_cache_stats")
bug=0
[[ -n $error && $after -lt $before ]] && bug=1
report failed-put-evicts-all "$bug" "entries before: $before; the put: ${error:-succeeded}; entries after: $after"
cluster_stop

echo "known bugs present: $present"
exit "$present"
