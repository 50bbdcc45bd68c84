// The saved-state service: the saved files the features register (the cache's, the free-space
// map's), how the persistence worker loads and saves each, and whether each may be saved over.
//
// A saved file holds items the server does not have until the start-up load has restored them
// all, so saving before then would replace a complete file with the part loaded so far. With
// simple_cache preloaded, each file's start-up load is therefore `loading` from the moment
// shared memory is set up (server start, crash restart) until the worker finishes it:
// meanwhile the worker does not save it and the SQL save functions refuse to, unless there is
// no file. A worker that stops or fails in the middle leaves the file `loading` and its
// progress here, so the worker the postmaster starts next resumes the load. When the worker
// starts with simple_cache.save off, the file is `not_loaded`: nothing saves over it
// automatically until it was loaded (the SQL load function), saved on purpose (the SQL save
// function) or removed. Without preloading there is no start-up load, and every file counts as
// loaded.
#pragma once

#include "simple_cache/pg/saved_file.hpp"

namespace simple_cache::pg {

// A registered saved file: its registration number, the same in every process.
using SavedFileId = int;

// Saved files the service can hold.
inline constexpr int kMaxSavedFiles = 4;

// What the worker and the messages need to know about a saved file, and how to load and save it.
struct SavedFileHandler {
    const char *name;           // the file, in the data directory
    const char *what;           // what it holds, for messages ("cache")
    const char *records;        // what its records are ("entries")
    const char *save_function;  // the SQL functions that save and load it on demand
    const char *load_function;
    // Takes up (or resumes, through progress) the start-up load, leaving alone what clients
    // changed since the start, and logs what it loaded. Returns false when stop_requested ended
    // it early. Throws on failure: RejectedFile for a file that fails the checks.
    bool (*load_at_startup)(bool (*stop_requested)(), LoadProgress *progress);
    // Writes the file from the shared state. Throws on failure, leaving the old file in place.
    SaveResult (*save)();
};

// Where a saved file stands.
enum class SavedFileState : uint32_t {
    loading,     // its start-up load has not finished: nothing may save over it
    loaded,      // loaded, or absent or invalid at start-up, or saved since: saves may replace it
    not_loaded,  // left alone at start-up (simple_cache.save was off): only a deliberate save may replace it
};

// Registers a saved file; called from _PG_init, in the same order in every process. The
// handler must outlive the process (a constant).
SavedFileId register_saved_file(const SavedFileHandler &handler);

// How many saved files are registered; their ids are 0 to count - 1.
int saved_file_count();

// The registered handler of a file.
const SavedFileHandler &saved_file_handler(SavedFileId file);

// Registers the shared state with the shared memory registry, where every file is set
// `loading` whenever shared memory is set up. Called from _PG_init while
// shared_preload_libraries is processed, after the files are registered.
void saved_files_install();

// The file's state (loaded when not preloaded).
SavedFileState saved_file_state(SavedFileId file);

// Moves the file out of `loading` (the worker, once the load finished or was given up).
void set_saved_file_state(SavedFileId file, SavedFileState state);

// The file's start-up load progress, kept across worker restarts; null when not preloaded.
// Only the persistence worker (one at a time) uses it.
LoadProgress *saved_file_progress(SavedFileId file);

// Whether any file's start-up load is unfinished.
bool any_saved_file_loading();

// Throws SqlError 55000 (object_not_in_prerequisite_state) when the file's start-up load is
// unfinished and the file exists: for the SQL save functions, before they write.
void check_saved_file_replaceable(SavedFileId file);

// Records that the file and the shared state agree after a save or load on demand: a
// `not_loaded` file becomes `loaded`, so the worker's saves resume. A file still `loading`
// stays so.
void note_saved_file_synced(SavedFileId file);

}  // namespace simple_cache::pg
