// The marks that keep the start-up load from undoing clients' writes (see startup_load.hpp).
#include "simple_cache/cache/startup_load.hpp"

#include <atomic>
#include <cstring>
#include <new>

#include "simple_cache/core/hash.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

namespace {

constexpr const char *kShmemName = "simple_cache start-up load";

// 2^22 bits (512 kB): with a million writes during the load, about one saved entry in five
// would be skipped for sharing a bit; with ten thousand, one in four hundred.
constexpr unsigned kMarkBits = 22;
constexpr size_t kMarkWords = (size_t{1} << kMarkBits) / 64;

// Seed of the mark hash, unrelated to the table's own seeds.
constexpr uint64_t kMarkSeed = 0x5ca1ab1e0dd5eedULL;

// Databases whose flushes are remembered one by one; past that many, every database counts as
// flushed.
constexpr uint32_t kFlushedDatabases = 16;

static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free,
              "shared memory atomics must not need a process-local lock");

// The shared state, in the main shared memory segment.
struct StartupLoadShared {
    std::atomic<bool> pending;                   // the start-up load has not finished (or started)
    std::atomic<uint32_t> flushes;               // flushes recorded while it was pending
    std::atomic<uint32_t> flushed[kFlushedDatabases];  // their databases, in order
    std::atomic<uint64_t> marks[kMarkWords];
};

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// This process's pointer to the shared state; null unless preloaded.
StartupLoadShared *shared = nullptr;

// Reserves room for the shared state.
void request_shmem()
{
    if (previous_request_hook != nullptr)
        previous_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(StartupLoadShared)));
}

// Creates the shared state when shared memory is (re)initialised: the load is pending again.
void startup_shmem()
{
    if (previous_startup_hook != nullptr)
        previous_startup_hook();
    bool found;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    void *at = pg::find_or_create_shared_struct(kShmemName, sizeof(StartupLoadShared), &found);
    if (!found) {
        auto *s = new (at) StartupLoadShared;
        s->flushes.store(0, std::memory_order_relaxed);
        for (auto &database : s->flushed)
            database.store(InvalidOid, std::memory_order_relaxed);
        for (auto &word : s->marks)
            word.store(0, std::memory_order_relaxed);
        s->pending.store(true, std::memory_order_release);
    }
    LWLockRelease(AddinShmemInitLock);
    shared = static_cast<StartupLoadShared *>(at);
}

// The shared state if the load is still pending, else null.
StartupLoadShared *pending_state()
{
    if (shared == nullptr || !shared->pending.load(std::memory_order_acquire))
        return nullptr;
    return shared;
}

// Whether database was flushed while the load was pending. A flush stores its database before
// it scans, so a load that misses a store still in flight restores entries the scan removes.
bool database_flushed(const StartupLoadShared &s, Oid database)
{
    uint32_t flushes = s.flushes.load(std::memory_order_seq_cst);
    if (flushes > kFlushedDatabases)
        return true;
    for (uint32_t i = 0; i < flushes; ++i)
        if (s.flushed[i].load(std::memory_order_seq_cst) == database)
            return true;
    return false;
}

// The word and bit that mark a key.
struct MarkPosition {
    size_t word;
    uint64_t bit;
};

// Where a key's mark lives.
MarkPosition mark_position(core::KeyView key)
{
    uint32_t h = core::hash_bytes(key.data, key.size, kMarkSeed) >> (32 - kMarkBits);
    return MarkPosition{h / 64, uint64_t{1} << (h % 64)};
}

// Whether the key's mark is set.
bool marked(const StartupLoadShared &s, core::KeyView key)
{
    MarkPosition at = mark_position(key);
    return (s.marks[at.word].load(std::memory_order_seq_cst) & at.bit) != 0;
}

}  // namespace

void startup_load_install()
{
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

void note_write_during_startup_load(core::KeyView stored_key)
{
    StartupLoadShared *s = pending_state();
    if (s == nullptr)
        return;
    MarkPosition at = mark_position(stored_key);
    if ((s->marks[at.word].load(std::memory_order_relaxed) & at.bit) == 0)
        s->marks[at.word].fetch_or(at.bit, std::memory_order_seq_cst);
}

bool startup_load_pending()
{
    return pending_state() != nullptr;
}

void note_flush_during_startup_load(Oid database)
{
    StartupLoadShared *s = pending_state();
    if (s == nullptr)
        return;
    if (database_flushed(*s, database))
        return;  // seen stored already, so before this flush's scan: nothing to add
    uint32_t slot = s->flushes.load(std::memory_order_seq_cst);
    do {
        if (slot > kFlushedDatabases)
            return;  // every database counts as flushed already
    } while (!s->flushes.compare_exchange_weak(slot, slot + 1, std::memory_order_seq_cst));
    if (slot < kFlushedDatabases)
        s->flushed[slot].store(database, std::memory_order_seq_cst);
}

bool startup_load_may_restore_entry(core::KeyView stored_key)
{
    StartupLoadShared *s = pending_state();
    if (s == nullptr)
        return true;
    Oid database;
    std::memcpy(&database, stored_key.data, sizeof database);
    return !database_flushed(*s, database) && !marked(*s, stored_key);
}

bool startup_load_may_restore_relation(core::KeyView relation_key)
{
    StartupLoadShared *s = pending_state();
    return s == nullptr || !marked(*s, relation_key);
}

void finish_startup_load()
{
    if (shared != nullptr)
        shared->pending.store(false, std::memory_order_release);
}

}  // namespace simple_cache::cache
