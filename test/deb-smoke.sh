#!/usr/bin/env bash
# Installs the package built by "make deb" for one PostgreSQL major (default: that of the
# pg_config on PATH) with dpkg -i and checks the installed files: dpkg lists them, a
# throwaway cluster of the system's server for that major loads the extension from the
# package's library, the C API header compiles from its installed place. Runs as root (or
# through sudo). The system is left as it was: files of an earlier "make install" are moved
# aside before and put back after, and the package is purged at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. test/pg-versions.sh

MAJOR=${1:-$(pg_major_of pg_config)}
PACKAGE=postgresql-$MAJOR-simple-cache
SYSTEM_BINDIR=/usr/lib/postgresql/$MAJOR/bin
ASIDE=""

# The throwaway cluster runs the system's server programs of that major.
export CLUSTER_BINDIR=$SYSTEM_BINDIR
. test/cluster.sh

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Prints the files (not folders) that the package file $1 installs, as absolute paths.
package_files() {
    dpkg-deb --fsys-tarfile "$1" | tar -tf - | grep -v '/$' | sed 's|^\./|/|'
}

# Moves the files named on standard input, where they exist, into the folder ASIDE.
move_aside() {
    local file
    while IFS= read -r file; do
        if [[ -e $file ]]; then
            mkdir -p "$ASIDE$(dirname "$file")"
            as_root mv "$file" "$ASIDE$file"
        fi
    done
}

# Stops the cluster, purges the package and puts back what move_aside took away.
restore() {
    local rc=$?
    cluster_stop || true
    as_root dpkg --purge "$PACKAGE" >/dev/null 2>&1 || true
    if [[ -n $ASIDE ]]; then
        # (The purge may have removed the folders too.)
        (cd "$ASIDE" && find . -type f) | while IFS= read -r file; do
            as_root mkdir -p "$(dirname "/${file#./}")"
            as_root mv "$ASIDE/${file#./}" "/${file#./}"
        done
        rm -rf "$ASIDE"
    fi
    return "$rc"
}

# The checks against the installed package: its files, a cluster that uses it, the header.
smoke_test() {
    local lib=/usr/lib/postgresql/$MAJOR/lib/simple_cache.so out
    dpkg -L "$PACKAGE" | grep -qx "$lib"
    dpkg -L "$PACKAGE" | grep -q "/extension/simple_cache.control$"
    dpkg -L "$PACKAGE" | grep -q "/extension/simple_cache/simple_cache_api.h$"

    # The header compiles from where the package put it.
    printf '#include "postgres.h"\n#include "fmgr.h"\n#include "extension/simple_cache/simple_cache_api.h"\n' |
        gcc -fsyntax-only -x c -I "$("$SYSTEM_BINDIR/pg_config" --includedir-server)" -

    # A server of the system's installation loads the package's library.
    cluster_start
    trap restore EXIT   # (cluster_start set its own)
    out=$("$SYSTEM_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION simple_cache;
SELECT simple_cache_put('smoke', 'from the package');
SELECT simple_cache_get('smoke');
SELECT simple_cache_incr('smoke:n', 41) + 1;
SELECT pg_backend_pid() AS pid \gset
\setenv SMOKE_PID :pid
\! grep -q '$lib' /proc/\$SMOKE_PID/maps && echo 'library: $lib'
SQL
)
    echo "$out"
    [[ $out == $'f\nfrom the package\n42\nlibrary: '"$lib" ]]
}

main() {
    local deb
    deb=$(compgen -G "build/deb/${PACKAGE}_*.deb" | head -n 1) || true
    if [[ -z $deb ]]; then
        echo "deb-smoke: no build/deb/${PACKAGE}_*.deb (run make deb)" >&2
        return 1
    fi
    if dpkg-query -W -f='${db:Status-Abbrev}' "$PACKAGE" 2>/dev/null | grep -q '^ii'; then
        echo "deb-smoke: $PACKAGE is installed already; remove it first" >&2
        return 1
    fi
    ASIDE=$(mktemp -d /tmp/simple_cache_deb_aside.XXXXXX)
    trap restore EXIT
    move_aside < <(package_files "$deb")
    as_root dpkg -i "$deb"
    smoke_test
    echo "deb-smoke: $PACKAGE installed, loaded and removed again"
}

main "$@"
