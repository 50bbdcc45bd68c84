#!/usr/bin/env bash
# Several named throwaway clusters at once, on top of test/cluster.sh (which manages one).
#
#   . bench/lib/clusters.sh
#   bc_start main "simple_cache.max_memory = '2GB'"   # start a cluster named "main"
#   bc_psql main -c 'select 1'                         # psql / pgbench against it
#   bc_pgbench main -c 8 -T 5 -f script.sql
#   bc_stop main                                       # or let the EXIT trap stop them all
#
# The EXIT trap runs bc_stop_all, or the command in BC_EXIT_TRAP (which should call it).
#
# test/cluster.sh keeps its state in CLUSTER_* globals and exports PGHOST/PGPORT/... for the
# one cluster it runs; here each cluster's globals are saved under its name after start and
# put back to stop it, so the shutdown and cleanup code is test/cluster.sh's own.

BC_ROOT=${BC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../../test/cluster.sh
. "$BC_ROOT/test/cluster.sh"

declare -gA BC_DIR=() BC_DATA=() BC_LOG=() BC_PID=() BC_HOST=() BC_PORT=()
BC_NAMES=()
BC_USER=$(cluster_owner)

# Starts cluster $1 with the given extra postgresql.conf lines.
bc_start() {
    local name=$1
    shift
    if [[ -n ${BC_DIR[$name]:-} ]]; then
        echo "clusters: $name is already running" >&2
        return 1
    fi
    cluster_start "$@" >/dev/null || return 1
    BC_DIR[$name]=$CLUSTER_DIR
    BC_DATA[$name]=$CLUSTER_DATA
    BC_LOG[$name]=$CLUSTER_LOG
    BC_PID[$name]=$CLUSTER_SERVER_PID
    BC_HOST[$name]=$PGHOST
    BC_PORT[$name]=$PGPORT
    BC_NAMES+=("$name")
    # Hand test/cluster.sh a clean slate for the next one, and take over the traps.
    CLUSTER_DIR="" CLUSTER_DATA="" CLUSTER_LOG="" CLUSTER_SERVER_PID="" CLUSTER_LOG_SHOWN=""
    unset PGHOST PGPORT PGUSER PGDATABASE
    trap "${BC_EXIT_TRAP:-bc_stop_all}" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Stops cluster $1 and removes its directory.
bc_stop() {
    local name=$1
    [[ -n ${BC_DIR[$name]:-} ]] || return 0
    CLUSTER_DIR=${BC_DIR[$name]}
    CLUSTER_DATA=${BC_DATA[$name]}
    CLUSTER_LOG=${BC_LOG[$name]}
    CLUSTER_SERVER_PID=${BC_PID[$name]}
    CLUSTER_LOG_SHOWN=1
    cluster_stop || true
    unset "BC_DIR[$name]"
    local kept=() n
    for n in "${BC_NAMES[@]}"; do
        [[ $n == "$name" ]] || kept+=("$n")
    done
    BC_NAMES=("${kept[@]+"${kept[@]}"}")
}

# Stops every cluster still running (the EXIT trap); keeps the exit status.
bc_stop_all() {
    local rc=$? name
    for name in "${BC_NAMES[@]+"${BC_NAMES[@]}"}"; do
        bc_stop "$name"
    done
    return "$rc"
}

# Prints the server log of cluster $1 (its last lines).
bc_log_tail() {
    tail -n "${2:-20}" "${BC_LOG[$1]}" 2>/dev/null || true
}

# psql against cluster $1: no psqlrc, no pager, stop at the first error.
bc_psql() {
    local name=$1
    shift
    psql -X -q -P pager=off -v ON_ERROR_STOP=1 -h "${BC_HOST[$name]}" -p "${BC_PORT[$name]}" \
        -U "$BC_USER" -d postgres "$@"
}

# pgbench against cluster $1.
bc_pgbench() {
    local name=$1
    shift
    pgbench -h "${BC_HOST[$name]}" -p "${BC_PORT[$name]}" -U "$BC_USER" "$@" postgres
}
