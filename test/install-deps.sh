#!/usr/bin/env bash
# Installs the Debian packages needed to build and test simple_cache.
# Does nothing (and never touches apt) when every package is already installed.
# Works as root (apt-get directly) and as a user with sudo rights (sudo apt-get).
set -euo pipefail

PACKAGES=(
    make
    g++
    postgresql-server-dev-15
    postgresql-15-pgtap
    libtap-parser-sourcehandler-pgtap-perl
    libgtest-dev
    libipc-run-perl
    libcurl4
    meson
    ninja-build
    debhelper
    dpkg-dev
    fakeroot
    postgresql-server-dev-all
)

# Succeeds when the Debian package named $1 is installed.
is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
    [[ $status == ii* ]]
}

# Runs "$@" as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "install-deps: need root or sudo to run: $*" >&2
        return 1
    fi
}

# Prints the packages from PACKAGES that are not installed, one per line.
missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        is_installed "$pkg" || printf '%s\n' "$pkg"
    done
}

main() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "install-deps: all packages present"
        return 0
    fi
    echo "install-deps: installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
}

main "$@"
