#!/usr/bin/env bash
# Installs the prebuilt Citus (a test dependency, used by test/t/060_citus.pl) into the
# PostgreSQL whose pg_config is first on PATH, from ../shared/citus next to the checkout (see
# its README). Does nothing, with a message, when that folder is absent or the PostgreSQL is
# not the major version it was built for; installs nothing when the files are already there.
# Runs as root, or through sudo.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CITUS_DIR=${SIMPLE_CACHE_CITUS_DIR:-$ROOT/../shared/citus}

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

main() {
    local major tarball work built libdir extdir
    major=$(pg_config --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
    tarball=$(compgen -G "$CITUS_DIR/citus-*-pg${major}-*.tar.xz" | head -n 1 || true)
    if [[ -z $tarball ]]; then
        echo "install-citus: no prebuilt Citus for PostgreSQL $major in $CITUS_DIR: the Citus test will be skipped"
        return 0
    fi
    libdir=$(pg_config --pkglibdir)
    extdir=$(pg_config --sharedir)/extension
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    tar -C "$work" -xJf "$tarball"
    built=$(dirname "$(find "$work" -name citus.so | head -n 1)")
    if cmp -s "$built/citus.so" "$libdir/citus.so" && [[ -f $extdir/citus.control ]]; then
        echo "install-citus: $(basename "$tarball") already installed in $libdir"
        return 0
    fi
    as_root cp -R "$built"/*.so "$built/citus_decoders" "$libdir/"
    as_root cp "$built"/extension/* "$extdir/"
    echo "install-citus: installed $(basename "$tarball") into $libdir and $extdir"
}

main "$@"
