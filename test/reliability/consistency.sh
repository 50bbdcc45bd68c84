#!/usr/bin/env bash
# Consistency under load: CLIENTS pgbench clients run a mix of get, mget, list, put, add,
# replace, drop, expire, incr, get + cas increments and cas read-modify-writes on overlapping
# keys for DURATION seconds, on a server that preloads the library and saves the cache every
# second meanwhile (test/reliability/consistency.sql has the operations and the checks).
#
# Afterwards:
#   * no anomaly: no value read (by get, mget, list or before a cas) failed its self-check, i.e.
#     every value returned was one some client wrote (values are
#     key || ':' || writer || ':' || seq || ':' || md5 of the rest);
#   * no increment lost: every counter equals the sum of the deltas the clients logged for it
#     (incr and get + cas loops mixed);
#   * the cache at rest: no torn value, statistics that agree with the entries, no lock held;
#   * every pgbench client finished without an error, and the server log shows no crash.
#
#   test/reliability/consistency.sh [clients] [seconds] [keys]     defaults: 4 10 1000
# Prints a last line "consistency: clients=N seconds=S transactions=T increments=I
# anomalies=A lost_increments=L" and exits non-zero on any failure. Environment:
# CONSISTENCY_SUMMARY, a file to append that line to (test/stress.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
CLIENTS=${1:-4}
DURATION=${2:-10}
KEYS=${3:-1000}
COUNTERS=50

. test/cluster.sh
cluster_start "shared_preload_libraries = 'simple_cache'" "simple_cache.save_interval = 1" \
    "max_connections = $((CLIENTS + 20))"
psql -X -q -v ON_ERROR_STOP=1 -f test/reliability/consistency.sql >/dev/null

script=$CLUSTER_DIR/consistency.pgbench
cat >"$script" <<EOF
\\set op random(0, 99)
\\set k random(0, $((KEYS - 1)))
\\set seq :seq + 1
SELECT rel_step(:client_id, :op, :k, :seq, $KEYS, $COUNTERS);
EOF
chmod 644 "$script"

echo "consistency: $CLIENTS clients for ${DURATION}s on $KEYS keys and $COUNTERS counters"
out=$CLUSTER_DIR/pgbench.out
rc=0
"$CLUSTER_BINDIR/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -D seq=0 -f "$script" \
    >"$out" 2>&1 || rc=$?
grep -E 'number of (transactions|failed)|tps|aborted|error' "$out" || true
if [[ $rc -ne 0 ]]; then
    echo "consistency: pgbench failed (exit status $rc)"
    tail -n 20 "$out"
fi
transactions=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
transactions=${transactions:-0}

verdict=$(psql -X -At -F ' ' -v ON_ERROR_STOP=1 -c 'SELECT * FROM rel_verdict()')
read -r anomalies counters lost increments torn entries agree locks <<<"$verdict"
echo "anomalies=$anomalies counters=$counters lost_increments=$lost increments=$increments" \
    "torn_at_rest=$torn entries=$entries stats_agree=$agree locks_held=$locks"
if [[ $anomalies -ne 0 ]]; then
    echo "consistency: the first anomalies:"
    psql -X -c 'SELECT * FROM rel_anomalies ORDER BY at LIMIT 20'
fi

crashed=0
if grep -Eq 'PANIC|TRAP:|terminated by signal|was terminated by exception|simple_cache bug' "$CLUSTER_LOG"; then
    crashed=1
    echo "consistency: the server log shows a crash:"
    grep -E 'PANIC|TRAP:|terminated by signal|was terminated by exception|simple_cache bug' "$CLUSTER_LOG" | head
fi

summary="consistency: clients=$CLIENTS seconds=$DURATION transactions=$transactions increments=$increments anomalies=$anomalies lost_increments=$lost"
if [[ -n ${CONSISTENCY_SUMMARY:-} ]]; then
    echo "$summary" >>"$CONSISTENCY_SUMMARY"
fi
echo "$summary"
[[ $rc -eq 0 && $anomalies -eq 0 && $lost -eq 0 && $torn -eq 0 && $agree == t && $locks -eq 0 &&
    $crashed -eq 0 && $transactions -gt 0 && $increments -gt 0 ]]
