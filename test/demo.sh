#!/usr/bin/env bash
# "make demo": installs dependencies, builds and installs the extension, starts a throwaway
# cluster, creates the extension, runs test/demo.sql and keeps the cluster up for exploring
# until Enter is pressed (only when stdin is a terminal). The cluster is always removed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export MAKE=${MAKE:-make}

# Runs psql on the demo cluster: no ~/.psqlrc, no pager, stop at the first error, echo queries.
demo_psql() {
    psql -X -P pager=off -v ON_ERROR_STOP=1 --echo-queries "$@"
}

main() {
    test/install-deps.sh
    test/build-install.sh

    # shellcheck source=test/cluster.sh
    . test/cluster.sh
    cluster_start

    local ok=1
    echo
    echo "=== CREATE EXTENSION simple_cache"
    if ! demo_psql -c 'CREATE EXTENSION simple_cache'; then
        ok=0
        echo "demo: CREATE EXTENSION failed" >&2
    elif ! demo_psql -f test/demo.sql; then
        ok=0
        echo "demo: test/demo.sql failed" >&2
    fi

    echo
    echo "The demo cluster is running. Connect with:"
    echo "    $(cluster_psql_command)"
    if [[ -t 0 ]]; then
        read -r -p "Press Enter to stop the cluster and remove it... " _ || true
    else
        echo "(stdin is not a terminal: stopping it now)"
    fi
    cluster_stop
    echo "demo: cluster stopped and removed"
    [[ $ok -eq 1 ]]
}

main "$@"
