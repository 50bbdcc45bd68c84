// The saved-state service: registered saved files, whether each may be saved over, and its
// start-up load's progress (see pg/saved_state.hpp).
#include "simple_cache/pg/saved_state.hpp"

#include <atomic>
#include <cerrno>
#include <new>
#include <string>

#include <unistd.h>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/shmem_registry.hpp"

namespace simple_cache::pg {

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
    SavedFileShared files[kMaxSavedFiles];
};

// The registered files, in registration order.
const SavedFileHandler *handlers[kMaxSavedFiles] = {};
int handler_count = 0;

// This process's pointer to the shared state; null unless preloaded.
SavedFilesShared *shared = nullptr;

// Sets up the shared state when shared memory is (re)initialised: every file is loading again.
void attach_shared(void *at, bool found)
{
    if (!found) {
        auto *s = new (at) SavedFilesShared;
        for (SavedFileShared &file : s->files) {
            file.progress = LoadProgress{};
            file.state.store(static_cast<uint32_t>(SavedFileState::loading), std::memory_order_release);
        }
    }
    shared = static_cast<SavedFilesShared *>(at);
}

const ShmemStruct kSharedStruct = {kShmemName, sizeof(SavedFilesShared), attach_shared};

// The file's shared state; null unless preloaded.
SavedFileShared *file_shared(SavedFileId file)
{
    return shared != nullptr ? &shared->files[file] : nullptr;
}

}  // namespace

void saved_files_install()
{
    register_shmem_struct(kSharedStruct);
}

SavedFileId register_saved_file(const SavedFileHandler &handler)
{
    if (handler_count == kMaxSavedFiles)
        elog(ERROR, "simple_cache: too many saved files registered");
    handlers[handler_count] = &handler;
    return handler_count++;
}

int saved_file_count()
{
    return handler_count;
}

const SavedFileHandler &saved_file_handler(SavedFileId file)
{
    return *handlers[file];
}

SavedFileState saved_file_state(SavedFileId file)
{
    SavedFileShared *f = file_shared(file);
    if (f == nullptr)
        return SavedFileState::loaded;
    return static_cast<SavedFileState>(f->state.load(std::memory_order_acquire));
}

void set_saved_file_state(SavedFileId file, SavedFileState state)
{
    SavedFileShared *f = file_shared(file);
    if (f != nullptr)
        f->state.store(static_cast<uint32_t>(state), std::memory_order_release);
}

LoadProgress *saved_file_progress(SavedFileId file)
{
    SavedFileShared *f = file_shared(file);
    return f != nullptr ? &f->progress : nullptr;
}

bool any_saved_file_loading()
{
    for (SavedFileId file = 0; file < handler_count; ++file)
        if (saved_file_state(file) == SavedFileState::loading)
            return true;
    return false;
}

void check_saved_file_replaceable(SavedFileId file)
{
    if (saved_file_state(file) != SavedFileState::loading)
        return;
    const SavedFileHandler &handler = saved_file_handler(file);
    if (access(handler.name, F_OK) != 0 && errno == ENOENT)
        return;  // nothing to lose (the worker may not have looked yet)
    std::string name = handler.name;
    throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                   std::string("simple_cache: the saved ") + handler.what + " is still being loaded",
                   "The start-up load of \"" + name + "\" has not finished; saving now would replace the file " +
                       "with the part loaded so far.",
                   std::string("Wait until the server log says \"simple_cache: loaded … ") + handler.records +
                       " from \"" + name + "\"\", then save again; if the log shows the load failing, see its hint.");
}

void note_saved_file_synced(SavedFileId file)
{
    SavedFileShared *f = file_shared(file);
    if (f == nullptr)
        return;
    auto expected = static_cast<uint32_t>(SavedFileState::not_loaded);
    f->state.compare_exchange_strong(expected, static_cast<uint32_t>(SavedFileState::loaded), std::memory_order_acq_rel);
}

}  // namespace simple_cache::pg
