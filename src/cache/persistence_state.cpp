// Whether each saved file may be saved over, and its start-up load's progress (see
// persistence_state.hpp).
#include "simple_cache/cache/persistence_state.hpp"

#include <atomic>
#include <cerrno>
#include <new>
#include <string>

#include <unistd.h>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

namespace {

constexpr const char *kShmemName = "simple_cache saved files";

static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared memory atomics must not need a process-local lock");

// One saved file's shared state.
struct SavedFileShared {
    std::atomic<uint32_t> state;  // a SavedFileState
    LoadProgress progress;        // the persistence worker's only
};

// The shared state, in the main shared memory segment.
struct SavedFilesShared {
    SavedFileShared files[kSavedFiles];
};

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// This process's pointer to the shared state; null unless preloaded.
SavedFilesShared *shared = nullptr;

// Reserves room for the shared state.
void request_shmem()
{
    if (previous_request_hook != nullptr)
        previous_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(SavedFilesShared)));
}

// Creates the shared state when shared memory is (re)initialised: every file is loading again.
void startup_shmem()
{
    if (previous_startup_hook != nullptr)
        previous_startup_hook();
    bool found;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    void *at = pg::find_or_create_shared_struct(kShmemName, sizeof(SavedFilesShared), &found);
    if (!found) {
        auto *s = new (at) SavedFilesShared;
        for (SavedFileShared &file : s->files) {
            file.progress = LoadProgress{};
            file.state.store(static_cast<uint32_t>(SavedFileState::loading), std::memory_order_release);
        }
    }
    LWLockRelease(AddinShmemInitLock);
    shared = static_cast<SavedFilesShared *>(at);
}

// The file's shared state; null unless preloaded.
SavedFileShared *file_shared(SavedFile file)
{
    return shared != nullptr ? &shared->files[static_cast<int>(file)] : nullptr;
}

}  // namespace

void saved_files_install()
{
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

SavedFileState saved_file_state(SavedFile file)
{
    SavedFileShared *f = file_shared(file);
    if (f == nullptr)
        return SavedFileState::loaded;
    return static_cast<SavedFileState>(f->state.load(std::memory_order_acquire));
}

void set_saved_file_state(SavedFile file, SavedFileState state)
{
    SavedFileShared *f = file_shared(file);
    if (f != nullptr)
        f->state.store(static_cast<uint32_t>(state), std::memory_order_release);
}

LoadProgress *saved_file_progress(SavedFile file)
{
    SavedFileShared *f = file_shared(file);
    return f != nullptr ? &f->progress : nullptr;
}

bool any_saved_file_loading()
{
    return saved_file_state(SavedFile::cache) == SavedFileState::loading ||
           saved_file_state(SavedFile::map) == SavedFileState::loading;
}

void check_saved_file_replaceable(SavedFile file, const char *file_name)
{
    if (saved_file_state(file) != SavedFileState::loading)
        return;
    if (access(file_name, F_OK) != 0 && errno == ENOENT)
        return;  // nothing to lose (the worker may not have looked yet)
    bool cache = file == SavedFile::cache;
    std::string name = file_name;
    throw pg::SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                       cache ? "simple_cache: the saved cache is still being loaded"
                             : "simple_cache: the saved free-space map is still being loaded",
                       "The start-up load of \"" + name + "\" has not finished; saving now would replace the file " +
                           "with the part loaded so far.",
                       std::string("Wait until the server log says \"simple_cache: loaded … ") +
                           (cache ? "entries" : "relations") + " from \"" + name +
                           "\"\", then save again; if the log shows the load failing, see its hint.");
}

void note_saved_file_synced(SavedFile file)
{
    SavedFileShared *f = file_shared(file);
    if (f == nullptr)
        return;
    auto expected = static_cast<uint32_t>(SavedFileState::not_loaded);
    f->state.compare_exchange_strong(expected, static_cast<uint32_t>(SavedFileState::loaded), std::memory_order_acq_rel);
}

}  // namespace simple_cache::cache
