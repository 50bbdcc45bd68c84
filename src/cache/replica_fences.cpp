// The fence table of replayed invalidations (see replica_fences.hpp).
#include "simple_cache/cache/replica_fences.hpp"

#include <algorithm>
#include <atomic>

#include "simple_cache/cache/key.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shmem_registry.hpp"
#include "simple_cache/pg/tranches.hpp"

extern "C" {
#include "storage/procarray.h"
#include "utils/guc.h"
}

namespace simple_cache::cache {

namespace {

const char *const kShmemName = "simple_cache replica fences";
constexpr uint64_t kFenceHashSeed = 0x5ca1ab1efe7ceULL;

// What a fence covers (every_database: a record this release cannot read named it).
enum class FenceKind : uint8_t { key = 1, prefix = 2, database = 3, every_database = 4 };

// One fence; free when xid is invalid.
struct Fence {
    TransactionId xid;
    Oid database;
    uint32_t length;  // of the key or prefix
    uint32_t hash;    // of its bytes
    FenceKind kind;
};

// The table and the replication counters, in the main shared memory segment.
struct FenceTable {
    LWLock lock;  // exclusive to install and remove fences, shared to check them
    int tranche;
    std::atomic<uint32_t> in_use;  // fences out; read without the lock for the fast path
    std::atomic<bool> replayed_since_start;
    std::atomic<uint64_t> events[static_cast<int>(ReplicaEvent::count)];
    std::atomic<uint64_t> puts_refused;
    // When a fence found no free slot: the latest xid of such a record (InvalidTransactionId
    // when none). While set it covers every key of every database, and it is removed once every
    // transaction up to it has ended. Counted in in_use as one fence.
    TransactionId overflow_xid;
    Fence slots[kFenceSlots];
};

FenceTable *table = nullptr;

// simple_cache.debug_fence_slots (a testing aid): how many of the table's slots are used; with
// fewer, the overflow fence comes sooner (with 0, at every record).
int slots_used = kFenceSlots;

// Slots whole-database fences may take: all that are used.
uint32_t slot_limit()
{
    return static_cast<uint32_t>(slots_used);
}

// Slots per-key and per-prefix fences may take: all but the reserve for whole-database fences.
uint32_t precise_limit()
{
    return slot_limit() > kDatabaseFenceReserve ? slot_limit() - kDatabaseFenceReserve : 0;
}

// Sets the table up (fresh at every shared memory initialisation); under AddinShmemInitLock.
void attach_table(void *at, bool found)
{
    auto *t = static_cast<FenceTable *>(at);
    if (!found) {
        t->tranche = 0;
        pg::assign_tranche(&t->tranche, pg::kFenceTrancheName);
        LWLockInitialize(&t->lock, t->tranche);
        t->in_use.store(0, std::memory_order_relaxed);
        t->replayed_since_start.store(false, std::memory_order_relaxed);
        for (auto &event : t->events)
            event.store(0, std::memory_order_relaxed);
        t->puts_refused.store(0, std::memory_order_relaxed);
        t->overflow_xid = InvalidTransactionId;
        for (Fence &fence : t->slots)
            fence.xid = InvalidTransactionId;
    } else {
        pg::assign_tranche(&t->tranche, pg::kFenceTrancheName);
    }
    table = t;
}

const pg::ShmemStruct kTableStruct = {kShmemName, sizeof(FenceTable), attach_table};

// The hash a fence keeps of bytes.
uint32_t fence_hash(const char *data, size_t size)
{
    return core::hash_bytes(data, size, kFenceHashSeed);
}

// Takes a free slot among the first `limit` for a fence; false when there is none. Under the
// exclusive lock.
bool add_fence(uint32_t limit, const Fence &fence)
{
    for (uint32_t i = 0; i < limit; ++i) {
        if (table->slots[i].xid == InvalidTransactionId) {
            table->slots[i] = fence;
            table->in_use.fetch_add(1, std::memory_order_seq_cst);
            return true;
        }
    }
    return false;
}

// Raises the overflow fence to xid (sets it when none is out). Under the exclusive lock.
void raise_overflow(TransactionId xid)
{
    if (table->overflow_xid == InvalidTransactionId) {
        table->overflow_xid = xid;
        table->in_use.fetch_add(1, std::memory_order_seq_cst);
    } else if (TransactionIdFollows(xid, table->overflow_xid)) {
        table->overflow_xid = xid;
    }
}

// Takes a free slot for a fence, or when there is none, raises the overflow fence to its xid
// (so that nothing goes unfenced). Under the exclusive lock.
void add_fence_or_overflow(const Fence &fence)
{
    if (!add_fence(slot_limit(), fence))
        raise_overflow(fence.xid);
}

// Installs one fence, or the overflow fence when no slot is free, taking the table's lock; false
// without the table.
bool install_fence(const Fence &fence) noexcept
{
    if (table == nullptr)
        return false;
    LWLockAcquire(&table->lock, LW_EXCLUSIVE);
    add_fence_or_overflow(fence);
    LWLockRelease(&table->lock);
    return true;
}

// Removes the overflow fence once every transaction up to its xid has ended: the oldest xid
// any process of this server may still consider running (on a standby, the known-assigned xids
// of the primary included; every reader's snapshot too) follows it. Not under the table's lock.
void resolve_overflow() noexcept
{
    LWLockAcquire(&table->lock, LW_SHARED);
    TransactionId overflow = table->overflow_xid;
    LWLockRelease(&table->lock);
    if (overflow == InvalidTransactionId)
        return;
    TransactionId oldest_running = InvalidTransactionId;  // when in doubt the fence stays
    try {
        oldest_running = pg::guard([] { return GetOldestTransactionIdConsideredRunning(); });
    } catch (...) {
    }
    if (!TransactionIdIsNormal(oldest_running) || !TransactionIdPrecedes(overflow, oldest_running))
        return;
    LWLockAcquire(&table->lock, LW_EXCLUSIVE);
    // A later overflow raised it meanwhile: that one is checked next time.
    if (table->overflow_xid == overflow) {
        table->overflow_xid = InvalidTransactionId;
        table->in_use.fetch_sub(1, std::memory_order_seq_cst);
    }
    LWLockRelease(&table->lock);
}

// Free slots among the first `limit`. Under the lock.
uint32_t free_slots(uint32_t limit)
{
    uint32_t free = 0;
    for (uint32_t i = 0; i < limit; ++i)
        free += table->slots[i].xid == InvalidTransactionId;
    return free;
}

// Whether fence covers the user's key bytes in database.
bool covers(const Fence &fence, Oid database, const char *key, size_t key_size)
{
    if (fence.xid == InvalidTransactionId)
        return false;
    if (fence.kind == FenceKind::every_database)
        return true;
    if (fence.database != database)
        return false;
    switch (fence.kind) {
    case FenceKind::every_database:
        return true;
    case FenceKind::database:
        return true;
    case FenceKind::key:
        return fence.length == key_size && fence.hash == fence_hash(key, key_size);
    case FenceKind::prefix:
        return fence.length <= key_size && fence.hash == fence_hash(key, fence.length);
    }
    return false;
}

// Whether a key (as stored) of the current database is fenced.
bool key_is_fenced(core::KeyView stored_key) noexcept
{
    if (!replica_fences_active())
        return false;
    const char *key = ScopedKey::user_part(static_cast<const char *>(stored_key.data));
    size_t key_size = ScopedKey::user_size(stored_key.size);
    LWLockAcquire(&table->lock, LW_SHARED);
    bool fenced = table->overflow_xid != InvalidTransactionId;
    for (uint32_t i = 0; i < kFenceSlots && !fenced; ++i)
        fenced = covers(table->slots[i], MyDatabaseId, key, key_size);
    LWLockRelease(&table->lock);
    return fenced;
}

}  // namespace

void replica_fences_install()
{
    DefineCustomIntVariable("simple_cache.debug_fence_slots",
                            "Testing aid: how many slots of the standby's fence table are used; with 0, "
                            "every replayed invalidation record takes the fence over every database.",
                            nullptr, &slots_used, kFenceSlots, 0, kFenceSlots, PGC_POSTMASTER,
                            GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr, nullptr, nullptr);
    pg::register_shmem_struct(kTableStruct);
}

bool replica_fences_active() noexcept
{
    return table != nullptr && table->in_use.load(std::memory_order_seq_cst) != 0;
}

void resolve_finished_fences() noexcept
{
    if (!replica_fences_active())
        return;
    resolve_overflow();
    // The transactions' states are read without the table's lock (reading them takes the proc
    // array's lock); a transaction that has ended stays ended, so removing its fences later is
    // right whatever was installed meanwhile.
    TransactionId xids[kFenceSlots];
    uint32_t count = 0;
    LWLockAcquire(&table->lock, LW_SHARED);
    for (const Fence &fence : table->slots)
        if (fence.xid != InvalidTransactionId)
            xids[count++] = fence.xid;
    LWLockRelease(&table->lock);
    std::sort(xids, xids + count);  // one look-up per transaction, however many fences it has
    count = static_cast<uint32_t>(std::unique(xids, xids + count) - xids);
    uint32_t finished = 0;
    for (uint32_t i = 0; i < count; ++i) {
        TransactionId xid = xids[i];
        bool in_progress = true;  // when in doubt the fence stays
        try {
            in_progress = pg::guard([xid] { return TransactionIdIsInProgress(xid); });
        } catch (...) {
        }
        if (!in_progress)
            xids[finished++] = xid;
    }
    if (finished == 0)
        return;
    LWLockAcquire(&table->lock, LW_EXCLUSIVE);
    for (Fence &fence : table->slots) {
        if (fence.xid != InvalidTransactionId && std::binary_search(xids, xids + finished, fence.xid)) {
            fence.xid = InvalidTransactionId;
            table->in_use.fetch_sub(1, std::memory_order_seq_cst);
        }
    }
    LWLockRelease(&table->lock);
}

long resolve_fences_step()
{
    resolve_finished_fences();
    return replica_fences_active() ? 1000 : -1;
}

bool put_is_fenced(core::KeyView stored_key) noexcept
{
    if (!key_is_fenced(stored_key))
        return false;
    table->puts_refused.fetch_add(1, std::memory_order_relaxed);
    return true;
}

FenceInstall install_fences(const core::InvalidationHeader &header, const char *payload, size_t size) noexcept
{
    if (table == nullptr)
        return FenceInstall::none;
    LWLockAcquire(&table->lock, LW_EXCLUSIVE);
    FenceInstall outcome = FenceInstall::none;
    if (precise_limit() > 0 && free_slots(precise_limit()) >= header.items) {
        core::InvalidationHeader again;
        core::read_invalidation_record(payload, size, &again,
                                       [&](core::InvalidationKind kind, const char *data, size_t length) {
                                           Fence fence{header.xid, header.database, static_cast<uint32_t>(length),
                                                       fence_hash(data, length),
                                                       kind == core::InvalidationKind::key ? FenceKind::key
                                                                                           : FenceKind::prefix};
                                           add_fence(precise_limit(), fence);
                                       });
        outcome = FenceInstall::precise;
    } else if (add_fence(slot_limit(), Fence{header.xid, header.database, 0, 0, FenceKind::database})) {
        outcome = FenceInstall::database;
    } else {
        raise_overflow(header.xid);  // add_fence just found no slot
        outcome = FenceInstall::overflow;
    }
    LWLockRelease(&table->lock);
    return outcome;
}

bool install_database_fence(TransactionId xid, Oid database) noexcept
{
    return install_fence(Fence{xid, database, 0, 0, FenceKind::database});
}

bool install_every_database_fence(TransactionId xid) noexcept
{
    return install_fence(Fence{xid, InvalidOid, 0, 0, FenceKind::every_database});
}

ReplicaCounters replica_counters() noexcept
{
    ReplicaCounters c{};
    if (table == nullptr)
        return c;
    c.records_logged = table->events[static_cast<int>(ReplicaEvent::record_logged)].load();
    c.records_replayed = table->events[static_cast<int>(ReplicaEvent::record_replayed)].load();
    c.keys_replayed = table->events[static_cast<int>(ReplicaEvent::key_replayed)].load();
    c.prefixes_replayed = table->events[static_cast<int>(ReplicaEvent::prefix_replayed)].load();
    c.database_fallbacks = table->events[static_cast<int>(ReplicaEvent::database_fallback)].load();
    c.replay_scans = table->events[static_cast<int>(ReplicaEvent::replay_scan)].load();
    c.puts_refused = table->puts_refused.load();
    c.fences_active = table->in_use.load();
    c.replayed_since_start = table->replayed_since_start.load();
    return c;
}

void count_replica_event(ReplicaEvent event) noexcept
{
    if (table == nullptr)
        return;
    table->events[static_cast<int>(event)].fetch_add(1, std::memory_order_relaxed);
    if (event == ReplicaEvent::record_replayed)
        table->replayed_since_start.store(true, std::memory_order_relaxed);
}

bool invalidations_replayed_since_start() noexcept
{
    return table != nullptr && table->replayed_since_start.load(std::memory_order_relaxed);
}

}  // namespace simple_cache::cache
