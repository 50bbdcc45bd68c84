#!/usr/bin/env bash
# SQLsmith (Debian package sqlsmith, installed when missing) generates random queries for a
# bounded time against a database with the extension, as a plain role that may execute every
# simple_cache function (administration included), on a server that preloads the library.
# The cache holds entries and the free-space map tracks a table, so the functions have
# something to work on. sqlsmith draws from every function in the catalog, ours among them:
# random arguments (NULLs, extremes, values of other calls) in random query shapes.
#
# Errors are expected (most random queries are refused); crashes are not. Afterwards: the
# postmaster is the same process and its checkpointer too (a crash restart replaces every
# child), the server log shows no process terminated by a signal, no PANIC and no failed
# assertion, and the extension still works with no lock held.
#
#   test/reliability/sqlsmith.sh [seconds]      default 30
# Prints a last line "sqlsmith: seconds=S queries=Q crashes=C" (appended to SQLSMITH_SUMMARY
# when set) and exits non-zero on a crash.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DURATION=${1:-30}

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

if ! command -v sqlsmith >/dev/null 2>&1; then
    echo "sqlsmith: installing the Debian package"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sqlsmith
fi

. test/cluster.sh
cluster_start "shared_preload_libraries = 'simple_cache'" "simple_cache.save_interval = 5"

psql -X -q -v ON_ERROR_STOP=1 <<'EOF' >/dev/null
CREATE DATABASE smith;
CREATE ROLE smith LOGIN;
ALTER ROLE smith SET statement_timeout = '5s';
ALTER ROLE smith SET lock_timeout = '2s';
\c smith
CREATE EXTENSION simple_cache;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO smith;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO smith;
SELECT count(simple_cache_put('seed:' || g, repeat(md5(g::text), g % 5 + 1))) FROM generate_series(1, 2000) g;
SELECT simple_cache_put('seed:bytes', '\x414243'::bytea), simple_cache_put('seed:n', '41'),
       simple_cache_put('seed:ttl', 'soon', interval '10 minutes');
CREATE TABLE smith_table AS SELECT g AS a, md5(g::text) AS b FROM generate_series(1, 5000) g;
DELETE FROM smith_table WHERE a % 3 = 0;
GRANT SELECT, INSERT, UPDATE, DELETE ON smith_table TO smith;
DO $$
BEGIN
    IF to_regprocedure('simple_cache_fsm_vacuum(regclass)') IS NOT NULL THEN
        PERFORM simple_cache_fsm_vacuum('smith_table');
    END IF;
END
$$;
EOF

postmaster=$(head -n 1 "$CLUSTER_DATA/postmaster.pid")
checkpointer=$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
log=$CLUSTER_DIR/sqlsmith.log
echo "sqlsmith: ${DURATION}s against database smith (postmaster $postmaster, checkpointer $checkpointer)"
rc=0
timeout -s INT "$DURATION" sqlsmith --verbose --seed="$RANDOM" \
    --target="host=$PGHOST port=$PGPORT user=smith dbname=smith" >"$log" 2>&1 || rc=$?
# timeout's 124 (or sqlsmith's exit on SIGINT) is the normal end.
# --verbose prints one progress character per query ('.' ok, 'e' error, 't' timeout, 'C' lost
# connection, 'S' syntax error), 80 to a line.
queries=$(grep -E '^[.eSCt]+$' "$log" | tr -d '\n' | wc -c)
grep -E '^[0-9]+[[:space:]]+ERROR' "$log" | head -n 5 || true

crashes=0
now_postmaster=$(head -n 1 "$CLUSTER_DATA/postmaster.pid" 2>/dev/null || echo none)
now_checkpointer=$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" 2>/dev/null || echo none)
if [[ $now_postmaster != "$postmaster" || $now_checkpointer != "$checkpointer" ]]; then
    crashes=1
    echo "sqlsmith: the server restarted (postmaster $now_postmaster, checkpointer $now_checkpointer)"
fi
if grep -Eq 'terminated by signal|PANIC|TRAP:|was terminated by exception|simple_cache bug' "$CLUSTER_LOG"; then
    crashes=$((crashes + $(grep -Ec 'terminated by signal|PANIC|TRAP:|was terminated by exception|simple_cache bug' "$CLUSTER_LOG")))
    echo "sqlsmith: the server log shows a crash:"
    grep -E -B 2 'terminated by signal|PANIC|TRAP:|was terminated by exception|simple_cache bug' "$CLUSTER_LOG" | head -n 40
fi
works=$(psql -X -At -d smith -c "SELECT concat_ws(' ', simple_cache_put('after', 'v') IS NOT NULL, simple_cache_get('after'),
    substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)'))" 2>&1 || true)
if [[ $works != 't v 0' ]]; then
    crashes=$((crashes + 1))
    echo "sqlsmith: the extension does not work afterwards: $works"
fi

summary="sqlsmith: seconds=$DURATION queries=$queries crashes=$crashes"
if [[ -n ${SQLSMITH_SUMMARY:-} ]]; then
    echo "$summary" >>"$SQLSMITH_SUMMARY"
fi
echo "$summary"
[[ $crashes -eq 0 && $queries -gt 0 ]]
