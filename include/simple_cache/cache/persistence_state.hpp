// Whether each saved file (the cache's, the free-space map's) may be saved over.
//
// A saved file holds entries the cache does not have until the start-up load has restored
// them all, so saving before then would replace a complete file with the part loaded so far.
// With simple_cache preloaded, each file's start-up load is therefore `loading` from the
// moment shared memory is set up (server start, crash restart) until a worker finishes it:
// meanwhile the worker does not save it and simple_cache_save() (simple_cache_fsm_save())
// refuses to, unless there is no file. A worker that stops or fails in the middle leaves the file `loading` and its
// progress here, so the worker the postmaster starts next resumes the load. When the worker
// starts with simple_cache.save off, the file is `not_loaded`: nothing saves over it
// automatically until it was loaded (simple_cache_load()), saved on purpose
// (simple_cache_save()) or removed. Without preloading there is no start-up load, and every
// file counts as loaded.
#pragma once

#include "simple_cache/cache/persistence_file.hpp"

namespace simple_cache::cache {

// The saved files.
enum class SavedFile : int { cache = 0, map = 1 };
inline constexpr int kSavedFiles = 2;

// Where a saved file stands.
enum class SavedFileState : uint32_t {
    loading,     // its start-up load has not finished: nothing may save over it
    loaded,      // loaded, or absent or invalid at start-up, or saved since: saves may replace it
    not_loaded,  // left alone at start-up (simple_cache.save was off): only a deliberate save may replace it
};

// Reserves the shared state and sets every file `loading` whenever shared memory is set up.
// Called from _PG_init while shared_preload_libraries is processed.
void saved_files_install();

// The file's state (loaded when not preloaded).
SavedFileState saved_file_state(SavedFile file);

// Moves the file out of `loading` (the worker, once the load finished or was given up).
void set_saved_file_state(SavedFile file, SavedFileState state);

// The file's start-up load progress, kept across worker restarts; null when not preloaded.
// Only the persistence worker (one at a time) uses it.
LoadProgress *saved_file_progress(SavedFile file);

// Whether any file's start-up load is unfinished.
bool any_saved_file_loading();

// Throws SqlError 55000 (object_not_in_prerequisite_state) when the file's start-up load is
// unfinished and the file exists: for simple_cache_save() and simple_cache_fsm_save(), before
// they write. file_name is the file, in the data directory.
void check_saved_file_replaceable(SavedFile file, const char *file_name);

// Records that the file and the cache agree after a save or load on demand: a `not_loaded`
// file becomes `loaded`, so the worker's saves resume. A file still `loading` stays so.
void note_saved_file_synced(SavedFile file);

}  // namespace simple_cache::cache
