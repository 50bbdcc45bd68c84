#!/usr/bin/env bash
# Builds the extension with PGXS and installs it into the PostgreSQL 15 installation
# (make install runs through sudo when we are not root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
MAKE=${MAKE:-make}

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

"$MAKE" all
as_root "$MAKE" install
