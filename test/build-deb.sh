#!/usr/bin/env bash
# "make deb": builds the Debian packages (debian/, with pg_buildext: one binary package
# postgresql-NN-simple-cache per PostgreSQL major in debian/pgversions that has its
# postgresql-server-dev-NN installed) from a clean copy of the source tree, into build/deb/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/deb

# Prints the package version from debian/changelog.
package_version() {
    dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version
}

main() {
    local tree
    tree=$OUT/simple-cache-$(package_version)
    rm -rf "$OUT"
    mkdir -p "$tree"
    tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.a' \
        --exclude=./results --exclude=./output_iso --exclude=./log \
        --exclude=./regression.diffs --exclude=./regression.out -cf - . | tar -C "$tree" -xf -
    cd "$tree"
    # debian/control lists one package per installed major: regenerate it for this machine.
    pg_buildext updatecontrol
    DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" MAKEFLAGS="-j$(nproc)" \
        dpkg-buildpackage --build=binary --no-sign
    echo "build-deb: built into $OUT:"
    ls "$OUT"/*.deb
}

main "$@"
