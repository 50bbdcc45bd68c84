#!/usr/bin/env bash
# Whether the running server's DSA allocator finds freed pages again (exit 0) or not (exit 1).
#
# PostgreSQL's dsa.c keeps each segment in a bin by the size of its largest free run; releases
# with the fix for it move a segment to a higher bin when frees make the run larger. Builds
# without it (such as the 16beta2 test build) leave the segment in its old, lower bin, where no
# larger request looks again: freed pages stay unused, the area grows new segments and reaches
# its size limit early. The probe fills a scratch database's cache (the table's resizes free
# its old bucket arrays) and looks in dsa_dump for a segment listed in a bin below its largest
# free run. Uses the connection variables of a running cluster (test/cluster.sh).
set -euo pipefail

DB=simple_cache_dsa_probe

# Prints the number of segments whose bin is below their largest free run, from a dsa_dump.
stale_segments() {
    awk '
        /segment bin [0-9]+ \(at least [0-9]+ contiguous pages free\)/ {
            match($0, /at least [0-9]+/); least = substr($0, RSTART + 9, RLENGTH - 9) + 0
        }
        /segment index [0-9]+, usable_pages = [0-9]+, contiguous_pages = [0-9]+/ {
            match($0, /contiguous_pages = [0-9]+/); run = substr($0, RSTART + 19, RLENGTH - 19) + 0
            if (least > 0 && run >= 2 * least) stale++
        }
        END { print stale + 0 }'
}

main() {
    local stale
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    stale=$(psql -X -At -v ON_ERROR_STOP=1 -d "$DB" \
        -c 'CREATE EXTENSION simple_cache' \
        -c "SELECT count(simple_cache_put('probe:' || g, repeat('x', 50))) FROM generate_series(1, 200000) g" \
        -c 'SELECT simple_cache_dump_area()' | stale_segments)
    psql -X -q -At -d "$DB" -c 'SELECT simple_cache_flush()' >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE $DB"
    if [[ $stale -ne 0 ]]; then
        echo "dsa-rebinning-probe: $stale segments sit in a bin below their largest free run"
        return 1
    fi
}

main "$@"
