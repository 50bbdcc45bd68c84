// Prefix operations: counting and dropping the keys of the current database that start with a
// given prefix (the listing under a prefix is simple_cache_list's, in listing.cpp). Each visits
// the table one partition at a time, holding only that partition's lock, so the rest of the
// table stays usable; cancel is checked between partitions. A prefix is matched against the
// stored key, whose first bytes are the database's scope: another database's keys never match.
#include "simple_cache/cache/prefix.hpp"

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/give_back.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/startup_load.hpp"

namespace simple_cache::cache {

using core::LockMode;

namespace {

// Removes the entries under the stored prefix, partition by partition; between partitions
// calls between_partitions(). Returns how many live entries it removed.
template <class Between>
uint64_t remove_under(core::KeyView stored_prefix, Between &&between_partitions)
{
    CacheTable::Scan scan(cache_table(), LockMode::exclusive);
    int64_t now = now_ms();
    uint64_t live_removed = 0;
    uint64_t expired_removed = 0;
    while (scan.next_partition()) {
        while (scan.next()) {
            if (!under_prefix(stored_prefix, scan.key_data(), scan.key_size()))
                continue;
            bool live = !scan.entry().expired_at(now);
            count_removed(scan.entry(), scan.key_data(), scan.key_size());
            scan.erase_current();
            ++(live ? live_removed : expired_removed);
        }
        scan.release_partition();
        between_partitions();
    }
    scan.finish();
    cache_counters().add(kDrops, static_cast<int64_t>(live_removed));
    cache_counters().add(kExpirations, static_cast<int64_t>(expired_removed));
    return live_removed;
}

}  // namespace

uint64_t count_prefix(const char *prefix, size_t prefix_size)
{
    ScopedKey stored(prefix, prefix_size);
    core::KeyView under = stored.view();
    CacheTable::Scan scan(cache_table(), LockMode::shared);
    int64_t now = now_ms();
    uint64_t count = 0;
    while (scan.next_partition()) {
        while (scan.next())
            if (under_prefix(under, scan.key_data(), scan.key_size()) && !scan.entry().expired_at(now))
                ++count;
        scan.release_partition();
        pg::check_for_interrupts();
    }
    return count;
}

uint64_t drop_prefix(const char *prefix, size_t prefix_size)
{
    ScopedKey stored(prefix, prefix_size);
    // A start-up load still running must not bring the dropped keys back: as for a flush, it
    // loads no more of this database's saved entries.
    pg::note_flush_during_startup_load(pg::current_scope());
    void_scope_leases(pg::current_scope());  // a lease on a key under the prefix stores nothing now
    uint64_t removed = remove_under(stored.view(), [] { pg::check_for_interrupts(); });
    give_back_segments_if_due();
    return removed;
}

uint64_t drop_prefix_scoped(const ScopedKey &stored_prefix) noexcept
{
    try {
        return remove_under(stored_prefix.view(), [] {});
    } catch (...) {
        return 0;  // cannot happen once attached: the scan neither allocates nor raises
    }
}

}  // namespace simple_cache::cache
