#!/usr/bin/env bash
# Builds the extension with PGXS and installs it into the PostgreSQL installation of the
# pg_config on PATH (or PG_CONFIG); make install runs through sudo when that installation is not
# ours to write.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
MAKE=${MAKE:-make}

# Runs "$@" as root: directly when we are root or can write the installation's library folder,
# through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 || -w $("${PG_CONFIG:-pg_config}" --pkglibdir) ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

"$MAKE" -j"$(nproc)" all
as_root "$MAKE" install
