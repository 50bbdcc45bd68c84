#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for tests and the demo, run by the server programs of the
# pg_config on PATH (or CLUSTER_BINDIR).
#
# Sourced:   . test/cluster.sh
#            cluster_start ["name = value" ...]   # extra postgresql.conf lines
#            psql -c 'select 1'                   # PGHOST/PGPORT/PGUSER/PGDATABASE are exported
#            cluster_restart ["name = value" ...] # optional: add settings and restart
#            cluster_stop                         # also runs automatically on exit (trap)
# Executed:  test/cluster.sh run [-s "name = value"]... [-- command args...]
#            starts a cluster, runs the command (default: an interactive shell) with the
#            connection variables set, then stops the cluster and removes it.
#
# Extra settings can also come from CLUSTER_SETTINGS (one "name = value" per line).
# The temporary directory is created under CLUSTER_TMPDIR (default /tmp; keep it short,
# unix socket paths are limited to about 100 characters).
#
# The cluster lives in a fresh temporary directory: data directory, log file and the unix
# socket all in there. It listens on the unix socket only (listen_addresses = ''), so nothing
# is reachable over the network. PostgreSQL refuses to run as root, so when we are root the
# server programs run as the "postgres" system user, which owns the temporary directory and
# is the superuser role; otherwise they run as the current user.
#
# When sourced, this file installs EXIT/INT/TERM traps that stop the cluster and delete the
# directory, also when the caller fails. A caller that needs its own EXIT trap should call
# cluster_stop from it.

CLUSTER_BINDIR=${CLUSTER_BINDIR:-$(pg_config --bindir)}
CLUSTER_DIR=""
CLUSTER_DATA=""
CLUSTER_LOG=""
CLUSTER_SERVER_PID=""
CLUSTER_LOG_SHOWN=""

# Prints the name of the OS user that runs the server (and is its superuser role).
cluster_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        echo postgres
    else
        id -un
    fi
}

# Runs "$@" as the cluster owner (through runuser when we are root), from inside the cluster
# directory, so the postgres user never has to read the caller's working directory.
# With --new-session first, the command runs in a session of its own (setsid).
cluster_as_owner() {
    local prefix=()
    if [[ ${1:-} == --new-session ]]; then
        prefix=(setsid --wait)
        shift
    fi
    if [[ $(id -u) -eq 0 ]]; then
        prefix+=(runuser -u "$(cluster_owner)" --)
    fi
    (cd "$CLUSTER_DIR" && exec "${prefix[@]}" "$@")
}

# Prints a TCP port number that nothing on 127.0.0.1 is listening on. The server does not
# listen on TCP, but a free number avoids confusion with other local servers.
cluster_free_port() {
    local port tries
    for ((tries = 0; tries < 100; tries++)); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "cluster: no free port found" >&2
    return 1
}

# Creates, configures and starts a new cluster; arguments are extra postgresql.conf lines.
cluster_start() {
    if [[ -n $CLUSTER_DIR ]]; then
        echo "cluster: already running in $CLUSTER_DIR" >&2
        return 1
    fi
    local owner port
    owner=$(cluster_owner)
    if [[ $(id -u) -eq 0 ]] && ! id -u "$owner" >/dev/null 2>&1; then
        echo "cluster: running as root needs the '$owner' system user" >&2
        return 1
    fi
    port=$(cluster_free_port) || return 1

    CLUSTER_DIR=$(mktemp -d "${CLUSTER_TMPDIR:-/tmp}/simple_cache_pg.XXXXXX") || return 1
    CLUSTER_DATA=$CLUSTER_DIR/data
    CLUSTER_LOG=$CLUSTER_DIR/server.log
    trap cluster_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    chmod 700 "$CLUSTER_DIR"
    if [[ $(id -u) -eq 0 ]]; then
        chown "$owner:" "$CLUSTER_DIR"
    fi

    cluster_as_owner "$CLUSTER_BINDIR/initdb" --pgdata="$CLUSTER_DATA" --username="$owner" \
        --auth-local=trust --auth-host=reject --no-locale --encoding=UTF8 --no-sync \
        >"$CLUSTER_DIR/initdb.log" 2>&1 || {
        cat "$CLUSTER_DIR/initdb.log" >&2
        return 1
    }

    {
        echo
        echo "# throwaway test cluster settings"
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$CLUSTER_DIR'"
        echo "fsync = off"
        echo "log_line_prefix = '%m [%p] %q%a '"
    } | cluster_as_owner tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null || return 1
    cluster_add_settings "$@" || return 1

    export PGHOST=$CLUSTER_DIR
    export PGPORT=$port
    export PGUSER=$owner
    export PGDATABASE=postgres

    cluster_launch || return 1
    echo "cluster: started in $CLUSTER_DIR (port $PGPORT, user $PGUSER)"
}

# Appends postgresql.conf lines from the arguments and from CLUSTER_SETTINGS.
cluster_add_settings() {
    local line
    for line in "$@"; do
        printf '%s\n' "$line"
    done | cluster_as_owner tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null
    if [[ -n ${CLUSTER_SETTINGS:-} ]]; then
        printf '%s\n' "$CLUSTER_SETTINGS" |
            cluster_as_owner tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null
    fi
}

# Adds the given postgresql.conf lines and restarts the running cluster.
cluster_restart() {
    local line
    for line in "$@"; do
        printf '%s\n' "$line"
    done | cluster_as_owner tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null
    cluster_shutdown
    cluster_launch
}

# Starts the server in the background as a child of this shell and waits until it accepts
# connections. (Not "pg_ctl start": its server would be re-parented to PID 1, and an init that
# does not reap children would keep a zombie "postgres" around after the server exits.)
# setsid puts the server in its own session, so Ctrl-C in the terminal (meant for psql or for
# this script, whose trap then stops the server cleanly) does not reach it.
cluster_launch() {
    cluster_as_owner --new-session "$CLUSTER_BINDIR/postgres" -D "$CLUSTER_DATA" \
        </dev/null >>"$CLUSTER_LOG" 2>&1 &
    CLUSTER_SERVER_PID=$!
    local waited
    for ((waited = 0; waited < 600; waited++)); do
        if "$CLUSTER_BINDIR/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres; then
            return 0
        fi
        if ! kill -0 "$CLUSTER_SERVER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "cluster: server did not start; log follows" >&2
    cat "$CLUSTER_LOG" >&2 || true
    CLUSTER_LOG_SHOWN=1
    return 1
}

# Stops the server: fast shutdown, then immediate, then SIGKILL; waits until it has exited.
cluster_shutdown() {
    if [[ -f $CLUSTER_DATA/postmaster.pid ]]; then
        cluster_as_owner "$CLUSTER_BINDIR/pg_ctl" --pgdata="$CLUSTER_DATA" --mode=fast \
            --wait --timeout=30 stop >/dev/null 2>&1 ||
            cluster_as_owner "$CLUSTER_BINDIR/pg_ctl" --pgdata="$CLUSTER_DATA" \
                --mode=immediate --wait --timeout=30 stop >/dev/null 2>&1 || true
    fi
    if [[ -f $CLUSTER_DATA/postmaster.pid ]]; then
        local pid
        pid=$(head -n 1 "$CLUSTER_DATA/postmaster.pid" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if [[ -n $CLUSTER_SERVER_PID ]]; then
        wait "$CLUSTER_SERVER_PID" 2>/dev/null || true
        CLUSTER_SERVER_PID=""
    fi
}

# Prints the psql command line that connects to the running cluster.
cluster_psql_command() {
    printf '%q -h %q -p %q -U %q -d %q\n' "$CLUSTER_BINDIR/psql" "$PGHOST" "$PGPORT" \
        "$PGUSER" "$PGDATABASE"
}

# Keeps a copy of the server log in CLUSTER_LOG_ARCHIVE, when that names a folder, so the
# test harness can look for assertion failures (TRAP lines) after the cluster is gone.
cluster_archive_log() {
    if [[ -n ${CLUSTER_LOG_ARCHIVE:-} && -d $CLUSTER_LOG_ARCHIVE && -f $CLUSTER_LOG ]]; then
        cp "$CLUSTER_LOG" "$(mktemp "$CLUSTER_LOG_ARCHIVE/server.XXXXXX")" || true
    fi
}

# Stops the cluster and deletes its directory.
# Safe to call more than once; keeps the caller's exit status when used as a trap.
cluster_stop() {
    local rc=$?
    if [[ -z $CLUSTER_DIR ]]; then
        return "$rc"
    fi
    # Show the log tail on failure, but not on Ctrl-C or kill (exit status 130 or 143).
    if [[ $rc -ne 0 && $rc -ne 130 && $rc -ne 143 && -f $CLUSTER_LOG && -z $CLUSTER_LOG_SHOWN ]]; then
        echo "cluster: last lines of the server log:" >&2
        tail -n 20 "$CLUSTER_LOG" >&2 || true
    fi
    cluster_shutdown
    cluster_archive_log
    rm -rf "$CLUSTER_DIR"
    CLUSTER_DIR=""
    CLUSTER_DATA=""
    CLUSTER_LOG=""
    CLUSTER_LOG_SHOWN=""
    unset PGHOST PGPORT PGUSER PGDATABASE
    return "$rc"
}

# Command-line entry point: "run [-s setting]... [-- command...]".
cluster_main() {
    set -euo pipefail
    local settings=()
    if [[ ${1:-} != run ]]; then
        echo "usage: $0 run [-s 'name = value']... [-- command args...]" >&2
        return 2
    fi
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
            -s) settings+=("$2"); shift 2 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    cluster_start "${settings[@]}"
    echo "cluster: connect with: $(cluster_psql_command)"
    local rc=0
    if [[ $# -gt 0 ]]; then
        "$@" || rc=$?
    else
        "${SHELL:-/bin/bash}" || rc=$?
    fi
    return "$rc"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    cluster_main "$@"
    exit $?
fi
