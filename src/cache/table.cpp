// This backend's handle on the shared cache table and counters.
#include "simple_cache/cache/table.hpp"

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace simple_cache::cache {

namespace {

// Makes the cluster's cache root and table; runs once, under the area's init lock.
dsa_pointer create_root(pg::DsaPolicy &policy)
{
    dsa_pointer root_ptr = policy.allocate_zeroed(sizeof(CacheRoot));
    if (!DsaPointerIsValid(root_ptr))
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the cache");
    uint64_t seed = 0;
    if (!pg::guard([&] { return pg_strong_random(&seed, sizeof seed); }))
        seed = static_cast<uint64_t>(GetCurrentTimestamp()) ^ (static_cast<uint64_t>(MyProcPid) << 32);
    dsa_pointer table = CacheTable::create(policy, seed);
    if (!DsaPointerIsValid(table)) {
        policy.deallocate(root_ptr, sizeof(CacheRoot));
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the cache table");
    }
    auto *root = static_cast<CacheRoot *>(policy.address(root_ptr));
    root->table = table;
    root->stats_reset_ms.store(now_ms(), std::memory_order_relaxed);
    return root_ptr;
}

CacheRoot *root = nullptr;
CacheTable *table = nullptr;

// Partition locks of the cache table held by this backend.
unsigned held_partition_locks()
{
    return table == nullptr
               ? 0
               : table->count_partition_locks([](LWLock *lock) { return LWLockHeldByMe(lock); });
}

// Attaches this backend to the cache's root and table.
void attach_cache()
{
    pg::Attachment &attachment = pg::attach();
    dsa_pointer root_ptr = pg::ensure_root(attachment.control->cache_root, create_root);
    root = static_cast<CacheRoot *>(attachment.policy->address(root_ptr));
    table = new CacheTable(*attachment.policy, root->table);
    pg::register_held_lock_counter(held_partition_locks);
}

}  // namespace

CacheTable &cache_table()
{
    if (table == nullptr)
        attach_cache();
    return *table;
}

CacheRoot &cache_root()
{
    if (table == nullptr)
        attach_cache();
    return *root;
}

bool cache_exists()
{
    return table != nullptr || DsaPointerIsValid(pg::attach().control->cache_root.load(std::memory_order_acquire));
}

CacheCounters &cache_counters()
{
    return cache_root().counters;
}

int64_t now_ms()
{
    return GetCurrentTimestamp() / 1000;
}

}  // namespace simple_cache::cache
