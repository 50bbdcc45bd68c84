// This backend's handle on the shared cache table.
#include "simple_cache/cache/table.hpp"

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

// Makes the cluster's cache table; runs once, under the area's init lock.
dsa_pointer create_table(pg::DsaPolicy &policy)
{
    dsa_pointer table = CacheTable::create(policy);
    if (!DsaPointerIsValid(table))
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the cache table");
    return table;
}

CacheTable *table = nullptr;

// Partition locks of the cache table held by this backend.
unsigned held_partition_locks()
{
    return table == nullptr
               ? 0
               : table->count_partition_locks([](LWLock *lock) { return LWLockHeldByMe(lock); });
}

}  // namespace

CacheTable &cache_table()
{
    if (table == nullptr) {
        pg::Attachment &attachment = pg::attach();
        dsa_pointer root = pg::ensure_root(attachment.control->cache_table, create_table);
        table = new CacheTable(*attachment.policy, root);
        pg::register_held_lock_counter(held_partition_locks);
    }
    return *table;
}

}  // namespace simple_cache::cache
