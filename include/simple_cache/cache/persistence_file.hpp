// The saved cache: saving the cache to "simple_cache.dat" in the data directory and loading it
// back. The file's format is core/saved_cache_records.hpp; the temporary file, fsync and rename
// of a save and the two passes of a load are the pg layer's saved files (pg/saved_file.hpp);
// the persistence worker loads it at start-up and saves it periodically through the handler
// registered by persistence_init() (pg/saved_state.hpp).
#pragma once

#include <cstdint>

#include "simple_cache/core/saved_cache_records.hpp"
#include "simple_cache/pg/saved_file.hpp"
#include "simple_cache/pg/saved_state.hpp"

namespace simple_cache::cache {

using core::kSnapshotFileName;

// Writes every live entry of every database to the file (through the temporary file and a
// rename). Throws on failure, leaving the previous file untouched.
pg::SaveResult save_snapshot();

// What a load did: its progress (counts over every attempt, for a resumed load), and how it
// ended.
struct LoadResult : pg::LoadProgress {
    bool found = false;    // there was a file
    bool stopped = false;  // stop_requested() ended the load early
};

// Checks the whole file, then restores its entries into the cache, merging: an entry replaces
// the one with the same key in the same database, other entries stay. Entries of a database
// that no longer exists as it was saved (dropped, or its oid reused) are left out. A missing
// file gives found = false. A file that fails the checks throws pg::RejectedFile (SqlError
// XX001, data_corrupted) before anything is restored. stop_requested, if given, is polled
// between entries. With progress, a load of the file that progress describes resumes where it
// ended.
LoadResult load_snapshot(bool (*stop_requested)() = nullptr, bool replace_existing = true,
                         pg::LoadProgress *progress = nullptr);

// Registers the saved cache with the saved-state service. Called from _PG_init.
void persistence_init();

// The saved cache's registration, for the SQL functions that save and load it.
pg::SavedFileId saved_file_id();

}  // namespace simple_cache::cache
