#!/usr/bin/env bash
# Checks the layering rules of the source tree; fails, naming each breach, when one is broken:
#   * src/cache and src/fsm (with their headers) neither include nor call each other;
#   * core (include/simple_cache/core, src/core) includes no PostgreSQL header and nothing of
#     the other layers;
#   * pg (include/simple_cache/pg, src/pg) includes nothing of the features, sql or api;
#   * exactly one assignment each of shmem_request_hook and shmem_startup_hook;
#   * no file #includes a .cpp file.
# Run by the build (make) and by test/run-all.sh's build suite.
#
#   test/check-layers.sh [repository root]
set -uo pipefail

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || exit 2
failed=0

# Reports a breach: the rule, then the offending lines.
breach() {
    local rule=$1 lines=$2
    if [[ -n $lines ]]; then
        echo "layers: $rule:"
        printf '%s\n' "$lines" | sed 's/^/    /'
        failed=1
    fi
}

cache_files=$(ls src/cache/*.cpp include/simple_cache/cache/*.hpp 2>/dev/null)
fsm_files=$(ls src/fsm/*.cpp include/simple_cache/fsm/*.hpp 2>/dev/null)
core_files=$(find include/simple_cache/core src/core -name '*.hpp' -o -name '*.cpp' 2>/dev/null)
pg_files=$(ls src/pg/*.cpp include/simple_cache/pg/*.hpp 2>/dev/null)

# shellcheck disable=SC2086
breach "the cache includes or calls the free-space map" \
    "$(grep -nE '#include "simple_cache/fsm/|\bfsm::' $cache_files)"
# shellcheck disable=SC2086
breach "the free-space map includes or calls the cache" \
    "$(grep -nE '#include "simple_cache/cache/|\bcache::' $fsm_files)"
# shellcheck disable=SC2086
breach "core includes PostgreSQL or an upper layer" \
    "$(grep -nE '#include "(postgres|fmgr|utils/|storage/|access/|catalog/|port/|miscadmin|simple_cache/(pg|cache|fsm|sql|api)/)' $core_files)"
# shellcheck disable=SC2086
breach "pg includes a feature, sql or api" \
    "$(grep -nE '#include "simple_cache/(cache|fsm|sql|api)/' $pg_files)"

hooks_in() {
    grep -rnE "\b$1\s*=[^=]" src include bench --include='*.cpp' --include='*.hpp' | grep -v 'previous_'
}
for hook in shmem_request_hook shmem_startup_hook; do
    found=$(hooks_in "$hook")
    count=$(printf '%s' "$found" | grep -c . || true)
    if [[ $count -ne 1 ]]; then
        echo "layers: $hook is assigned $count times (one expected):"
        printf '%s\n' "$found" | sed 's/^/    /'
        failed=1
    fi
done

breach "a .cpp file is #included" \
    "$(grep -rnE '#include\s*[<"][^>"]*\.cpp[>"]' src include bench test --include='*.cpp' --include='*.hpp' --include='*.c' --include='*.h')"

if [[ $failed -ne 0 ]]; then
    exit 1
fi
echo "layers: ok"
