#!/usr/bin/env bash
# Checks that the package descriptions agree with the source tree: META.json (PGXN) is valid
# and names the extension, its SQL file and its version; debian/changelog carries the same
# version; the oldest PostgreSQL in debian/pgversions and META.json is the one the compat
# header accepts; META.json and debian/copyright name the licence of LICENSE, and debian/copyright
# carries its text word for word. Prints every disagreement and fails if there is one.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROBLEMS=0

# Reports a disagreement.
problem() {
    echo "check-packaging: $*" >&2
    PROBLEMS=$((PROBLEMS + 1))
}

# Prints the value of META.json at the path given as Perl hash keys ("provides simple_cache
# version"); fails when META.json is not valid JSON or the value is missing.
meta() {
    perl -MJSON::PP -e '
        local $/;
        open my $fh, "<", "META.json" or die "META.json: $!\n";
        my $v = JSON::PP->new->decode(<$fh>);
        for my $key (@ARGV) {
            die "META.json: no $key\n" unless ref $v eq "HASH" && exists $v->{$key};
            $v = $v->{$key};
        }
        print ref $v ? "present" : $v, "\n";' "$@"
}

# Prints the paragraphs of the licence text in LICENSE (from "Permission" on), one word per line.
license_words() {
    sed -n '/^Permission/,$p' LICENSE | tr -s ' \n' '\n\n'
}

# Prints the text of debian/copyright's stand-alone "License: PostgreSQL" paragraph, one word per
# line, without the Debian format's leading spaces and "." paragraph separators.
copyright_license_words() {
    awk '/^License: PostgreSQL$/ { n++; next } n == 2 && /^ / { print }' debian/copyright |
        sed 's/^ //; /^\.$/d' | tr -s ' \n' '\n\n'
}

# Prints the control file's default_version ("1.0").
control_version() {
    sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" simple_cache.control
}

# Prints the oldest major the compat header accepts ("15").
compat_minimum() {
    sed -n 's/^#if PG_VERSION_NUM < \([0-9]*\)0000$/\1/p' include/simple_cache/pg/compat.hpp
}

main() {
    local version minimum key
    version=$(control_version)
    minimum=$(compat_minimum)
    [[ -n $version ]] || problem "simple_cache.control has no default_version"
    [[ -n $minimum ]] || problem "compat.hpp names no oldest PostgreSQL version"

    for key in name abstract version maintainer license provides meta-spec; do
        meta "$key" >/dev/null || problem "META.json lacks $key"
    done
    [[ $(meta name) == simple_cache ]] || problem "META.json: name is not simple_cache"
    [[ $(meta provides simple_cache version) == "$version.0" ]] ||
        problem "META.json: provides.simple_cache.version is not $version.0 (default_version $version)"
    [[ $(meta version) == "$version.0" ]] || problem "META.json: version is not $version.0"
    [[ -f $(meta provides simple_cache file) ]] || problem "META.json: provides.simple_cache.file does not exist"
    [[ $(meta provides simple_cache file) == "sql/simple_cache--$version.sql" ]] ||
        problem "META.json: provides.simple_cache.file is not the $version script"
    [[ $(meta prereqs runtime requires PostgreSQL) == "$minimum.0.0" ]] ||
        problem "META.json: the PostgreSQL prerequisite is not $minimum.0.0"

    grep -q '^simple_cache is released under the PostgreSQL License' LICENSE ||
        problem "LICENSE does not name the PostgreSQL License"
    [[ $(meta license) == postgresql ]] || problem "META.json: license is not postgresql (LICENSE)"
    [[ $(copyright_license_words) == "$(license_words)" ]] ||
        problem "debian/copyright: the PostgreSQL licence text differs from LICENSE"

    [[ $(dpkg-parsechangelog -l debian/changelog -S Version) == "$version"* ]] ||
        problem "debian/changelog: the version does not start with $version"
    [[ $(cat debian/pgversions) == "$minimum+" ]] || problem "debian/pgversions is not $minimum+"
    grep -q '^Package: postgresql-PGVERSION-simple-cache$' debian/control.in ||
        problem "debian/control.in: no postgresql-PGVERSION-simple-cache package"

    if [[ $PROBLEMS -ne 0 ]]; then
        return 1
    fi
    echo "check-packaging: META.json and debian/ agree with version $version, PostgreSQL $minimum+"
}

main "$@"
