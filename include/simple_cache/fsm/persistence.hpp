// The saved free-space map: "simple_cache_fsm.dat" in the data directory, written and checked
// through the saved-state service (core/saved_file.hpp: the common 48-byte header, with magic
// "SCFSMAP\n"; pg/saved_file.hpp: temporary file, fsync and rename; a load checks the whole
// file before it restores anything). One record per tracked relation, of every database, integers
// little-endian:
//
// Format version 2:
//
//     0   4  database oid                   | the database's identity
//     4   4  xmin of its pg_database row    | (pg/database_scope.hpp)
//     8   4  simple_cache's extension oid   |
//    12   4  relation oid
//    16   1  kind (0 heap, 1 index)
//    17   4  requested pages (the request of its last wholesale report)
//    21   4  average request size, bytes
//    25   4  page count n
//    29      n pages: block (4) and free bytes (2) for heap; block (4) for index
//
// A load re-reports each relation wholesale (as record_many and vacuum do), so the budget and
// the targets apply, then restores its average request size.
#pragma once

#include <cstdint>

#include "simple_cache/pg/saved_file.hpp"
#include "simple_cache/pg/saved_state.hpp"

namespace simple_cache::fsm {

inline constexpr const char *kMapFileName = "simple_cache_fsm.dat";

// What a load did: its progress (over every attempt, for a resumed load; `expired` stays 0),
// and how it ended.
struct MapLoadResult : pg::LoadProgress {
    bool found = false;    // there was a file
    bool stopped = false;  // stop_requested() ended the load early
};

// Writes every tracked relation of every database to the file. Throws on failure, leaving the
// previous file untouched. entries = relations written.
pg::SaveResult save_map();

// Checks the whole file, then restores its relations (replacing those tracked already under
// the same keys). A missing file gives found = false; a damaged one throws pg::RejectedFile
// (SqlError XX001) before anything is restored. stop_requested, if given, is polled between
// relations. The start-up load (at_startup) skips relations that clients reported or forgot
// since the start. With progress, a load of the file that progress describes resumes where it
// ended.
MapLoadResult load_map(bool (*stop_requested)() = nullptr, bool at_startup = false,
                       pg::LoadProgress *progress = nullptr);

// Registers the saved map with the saved-state service. Called from _PG_init.
void persistence_init();

// The saved map's registration, for the SQL functions that save and load it.
pg::SavedFileId saved_file_id();

}  // namespace simple_cache::fsm
