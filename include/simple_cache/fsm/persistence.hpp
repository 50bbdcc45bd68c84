// The saved free-space map: "simple_cache_fsm.dat" in the data directory, written and checked
// by the cache's saved-file code (persistence_file.hpp: the same 48-byte header, with magic
// "SCFSMAP\n", temporary file, fsync and rename; a load checks the whole file before it
// restores anything). One record per tracked relation, of every database, integers
// little-endian:
//
//     0   4  database oid
//     4   4  relation oid
//     8   1  kind (0 heap, 1 index)
//     9   4  requested pages (the request of its last wholesale report)
//    13   4  average request size, bytes
//    17   4  page count n
//    21      n pages: block (4) and free bytes (2) for heap; block (4) for index
//
// A load re-reports each relation wholesale (as record_many and vacuum do), so the budget and
// the targets apply, then restores its average request size.
#pragma once

#include <cstdint>

#include "simple_cache/cache/persistence_file.hpp"

namespace simple_cache::fsm {

inline constexpr const char *kMapFileName = "simple_cache_fsm.dat";

// What a load did.
struct MapLoadResult {
    bool found = false;       // there was a file
    bool stopped = false;     // stop_requested() ended the load early
    uint64_t loaded = 0;      // relations restored
    uint64_t no_room = 0;     // relations that did not fit in shared memory
    uint64_t skipped = 0;     // relations the start-up load left to clients' newer changes
    int64_t saved_at_ms = 0;  // when the file was saved
};

// Writes every tracked relation of every database to the file. Throws on failure, leaving the
// previous file untouched. entries = relations written.
cache::SaveResult save_map();

// Checks the whole file, then restores its relations (replacing those tracked already under
// the same keys). A missing file gives found = false; a damaged one throws SqlError XX001
// before anything is restored. stop_requested, if given, is polled between relations. The
// start-up load (at_startup) skips relations that clients reported or forgot since the start.
MapLoadResult load_map(bool (*stop_requested)() = nullptr, bool at_startup = false);

}  // namespace simple_cache::fsm
