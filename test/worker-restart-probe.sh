#!/usr/bin/env bash
# Whether the running server starts the library's background worker again after a crash
# restart (exit 0) or not (exit 1).
#
# When a backend dies, the postmaster ends every process, reinitializes shared memory and
# starts the registered background workers again. The postmaster of the 18beta1 test build
# does not: the worker stays gone (PostgreSQL's defect, fixed upstream by b5d084c5353 and
# back-patched to 18), so tests that load the saved cache after a crash cannot pass there.
# The probe kills one backend of a running cluster (test/cluster.sh, started with
# shared_preload_libraries = 'simple_cache' and restart_after_crash = on) and waits for the
# worker to come back. Uses the connection variables of the running cluster.
set -euo pipefail

WORKER_TITLE='simple_cache persistence'
WAIT_SECONDS=30

POSTMASTER=""

# Prints the pid of the server's postmaster: the first line of postmaster.pid in its data
# directory.
postmaster_pid() {
    head -n 1 "$(psql -X -q -At -c 'SHOW data_directory')/postmaster.pid"
}

# Succeeds once a child of the postmaster carries the worker's process title, within
# WAIT_SECONDS.
worker_appears() {
    local waited
    for ((waited = 0; waited < WAIT_SECONDS * 10; waited++)); do
        if pgrep -P "$POSTMASTER" -f "$WORKER_TITLE" >/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Kills a backend with SIGKILL, so that the postmaster reinitializes, and waits until the
# server accepts connections again.
crash_one_backend() {
    local sleeper backend waited
    psql -X -q -At -c 'SELECT pg_sleep(600)' >/dev/null 2>&1 &
    sleeper=$!
    for ((waited = 0; waited < WAIT_SECONDS * 10; waited++)); do
        backend=$(psql -X -q -At -c "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'")
        [[ -z $backend ]] || break
        sleep 0.1
    done
    [[ -n $backend ]] || { echo "worker-restart-probe: the sleeping backend did not show up"; return 1; }
    kill -KILL "$backend"
    wait "$sleeper" || true
    for ((waited = 0; waited < WAIT_SECONDS * 10; waited++)); do
        psql -X -q -At -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "worker-restart-probe: the server did not come back after the crash"
    return 1
}

main() {
    POSTMASTER=$(postmaster_pid)
    if ! worker_appears; then
        echo "worker-restart-probe: the worker did not start with the server"
        return 1
    fi
    crash_one_backend
    if ! worker_appears; then
        echo "worker-restart-probe: no '$WORKER_TITLE' process ${WAIT_SECONDS} s after the crash restart"
        return 1
    fi
}

main "$@"
