#!/usr/bin/env bash
# The PostgreSQL installations to test against, one per major version, found the way a real
# machine has them:
#
#   1. PG_CONFIG=/path/to/pg_config given by hand;
#   2. the pg_config on PATH;
#   3. every /usr/lib/postgresql/*/bin/pg_config (Debian and PGDG packages);
#   4. the relocatable server builds in ../shared/postgresql/*.tar.xz next to the checkout
#      (SIMPLE_CACHE_PG_TARBALLS names another folder), each unpacked once into a cache outside
#      the checkout and reused while its tarball is unchanged; Debian's pgTAP (SQL only) is
#      copied into each, so the pgtap suite runs there too.
#
# The first one found for a major wins. The cache is SIMPLE_CACHE_PG_CACHE, by default
# /var/cache/simple_cache-pg as root (readable by the postgres user that runs the clusters) and
# ${XDG_CACHE_HOME:-~/.cache}/simple_cache-pg otherwise. "make install" writes into an unpacked
# copy, which is harmless: every run installs the module it tests.
#
# Sourced:   . test/pg-versions.sh
#            pg_versions_found      # prints "major pg_config" lines, ordered by major
# Executed:  test/pg-versions.sh    # the same list

PG_VERSIONS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Prints the cache folder for unpacked server builds.
pg_cache_dir() {
    if [[ -n ${SIMPLE_CACHE_PG_CACHE:-} ]]; then
        echo "$SIMPLE_CACHE_PG_CACHE"
    elif [[ $(id -u) -eq 0 ]]; then
        echo /var/cache/simple_cache-pg
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/simple_cache-pg"
    fi
}

# Prints the folder that holds the server build tarballs (it need not exist).
pg_tarball_dir() {
    echo "${SIMPLE_CACHE_PG_TARBALLS:-$PG_VERSIONS_ROOT/../shared/postgresql}"
}

# Prints the major version of the installation whose pg_config is $1 ("15", "19", ...).
pg_major_of() {
    local version
    version=$("$1" --version 2>/dev/null) || return 1   # "PostgreSQL 19beta1"
    version=${version#PostgreSQL }
    [[ $version =~ ^([0-9]+) ]] || return 1
    echo "${BASH_REMATCH[1]}"
}

# Unpacks the tarball $1 into the cache unless the cached copy came from the same tarball;
# prints the pg_config of the copy. The copy's stamp file holds the tarball's checksum; a
# lock keeps two runs from unpacking the same tarball at once.
pg_tarball_unpack() {
    local tarball=$1 cache name sum dest tmp
    cache=$(pg_cache_dir)
    name=$(basename "$tarball" .tar.xz)
    dest=$cache/$name
    mkdir -p "$cache"
    chmod 755 "$cache"
    sum=$(sha256sum <"$tarball" | cut -d' ' -f1)
    (
        flock 9
        if [[ $(cat "$dest/.tarball-sha256" 2>/dev/null) != "$sum" ]]; then
            echo "pg-versions: unpacking $(basename "$tarball") into $dest" >&2
            rm -rf "$dest"
            tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
            tar -C "$tmp" -xJf "$tarball"
            chmod -R a+rX "$tmp"
            mv "$tmp" "$dest"
            echo "$sum" >"$dest/.tarball-sha256"
        fi
    ) 9>"$cache/.$name.lock" || return 1
    local pg_config
    pg_config=$(compgen -G "$dest/*/bin/pg_config" | head -n 1)
    pg_copy_pgtap "$pg_config"
    echo "$pg_config"
}

# Copies Debian's pgTAP into the installation of pg_config $1 when it has none: the package
# (postgresql-NN-pgtap) is SQL and PL/pgSQL only, so a server build of another major loads the
# same files. Quietly does nothing when no Debian pgTAP is installed.
pg_copy_pgtap() {
    local extension_dir source
    extension_dir=$("$1" --sharedir)/extension
    [[ ! -f $extension_dir/pgtap.control ]] || return 0
    source=$(compgen -G "/usr/share/postgresql/*/extension/pgtap.control" | sort -V | tail -n 1)
    [[ -n $source ]] || return 0
    cp "$(dirname "$source")"/pgtap* "$extension_dir/" && chmod a+r "$extension_dir"/pgtap*
}

# Prints every candidate pg_config, most preferred first.
pg_config_candidates() {
    local path tarball
    if [[ -n ${PG_CONFIG:-} && ${PG_CONFIG} != pg_config ]]; then
        echo "$PG_CONFIG"
    fi
    command -v pg_config || true
    for path in /usr/lib/postgresql/*/bin/pg_config; do
        [[ -x $path ]] && echo "$path"
    done
    for tarball in "$(pg_tarball_dir)"/postgresql-*.tar.xz; do
        [[ -f $tarball ]] && pg_tarball_unpack "$tarball"
    done
    return 0
}

# Prints "major pg_config" for each major version found, ordered by major; the first
# candidate of each major wins.
pg_versions_found() {
    local path major
    local -A seen=()
    while IFS= read -r path; do
        [[ -n $path ]] || continue
        major=$(pg_major_of "$path") || continue
        [[ -z ${seen[$major]:-} ]] || continue
        seen[$major]=1
        echo "$major $path"
    done < <(pg_config_candidates) | sort -n -k1,1
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    pg_versions_found
fi
