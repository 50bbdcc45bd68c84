// Eviction (approximate LRU by the CLOCK algorithm) and expiry sweeping (see eviction.hpp).
//
// Readers set an entry's referenced bit with a relaxed store under their shared lock: no
// exclusive lock just to record recency. The eviction hand sweeps the partitions: an expired
// entry goes first, a referenced one loses its bit and stays, an unreferenced one is evicted.
// A filter confines the hand to some databases: entries it does not allow are passed over
// untouched, their referenced bits included.
#include "simple_cache/cache/eviction.hpp"

#include <algorithm>

#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

// Entries examined per eviction round, and per light expiry sweep.
constexpr uint64_t kEvictionBatch = 64;
constexpr uint64_t kExpirySweepBatch = 8;

// Removed entries, by cause, to be added to the shared counters.
struct Removed {
    int64_t evicted = 0;
    int64_t expired = 0;
    int64_t key_value_bytes = 0;
    int64_t with_ttl = 0;
    int64_t large = 0;
    uint64_t item_bytes = 0;

    // Records one removed entry (its database's bytes are counted at once).
    void note(const CacheEntry &entry, const char *key, uint32_t key_size, bool expired_entry)
    {
        (expired_entry ? expired : evicted) += 1;
        key_value_bytes += static_cast<int64_t>(ScopedKey::user_size(key_size) + entry.value_size);
        with_ttl += entry.has_expiry() ? 1 : 0;
        size_t bytes = CacheTable::item_bytes(key_size, entry.value_size);
        item_bytes += bytes;
        large += bytes > core::kLargestSmallObject ? 1 : 0;
        pg::add_scope_usage(ScopedKey::scope_of(key), kScopeCacheBytes, -static_cast<int64_t>(bytes));
    }

    // Adds the records to the shared counters.
    void publish() const
    {
        CacheCounters &c = cache_counters();
        if (evicted != 0)
            c.add(kEvictions, evicted);
        if (expired != 0)
            c.add(kExpirations, expired);
        if (key_value_bytes != 0)
            c.add(kKeyValueBytes, -key_value_bytes);
        if (with_ttl != 0)
            c.add(kEntriesWithTtl, -with_ttl);
        if (large != 0)
            c.add(kLargeEntries, -large);
    }
};

// Lets a table that eviction made sparse shrink, and frees the larger array of a shrink in
// progress at once rather than once the entries left in it have moved on their own.
void shrink_table_now(CacheTable &table)
{
    table.shrink_if_sparse();
    core::DhtStats shape = table.stats();
    if (shape.resizing && shape.size_log2 < shape.old_size_log2)
        table.complete_resize();
}

}  // namespace

bool EvictionFilter::allows(pg::ScopeId of, size_t item_bytes) const noexcept
{
    if (item_bytes < min_item_bytes)
        return false;
    switch (kind) {
    case Kind::any:
        return true;
    case Kind::own:
        return of == scope || !pg::scope_is_live(of);
    case Kind::larger:
        return of != scope && (!pg::scope_is_live(of) || pg::scope_usage(of, kScopeCacheBytes) >
                                                             pg::scope_usage(scope, kScopeCacheBytes) + threshold);
    }
    return true;
}


EvictionRound evict_round(const EvictionFilter &given)
{
    const EvictionFilter &filter = given;
    int64_t now = now_ms();
    Removed removed;
    core::SweepResult swept =
        cache_table().sweep(kEvictionBatch, true, [&](CacheEntry &entry, const char *key, uint32_t key_size, char *) {
            if (entry.expired_at(now)) {
                removed.note(entry, key, key_size, true);
                return core::SweepAction::remove;
            }
            if (!pg::scope_is_live(ScopedKey::scope_of(key))) {  // a dropped database's: nothing reads it
                removed.note(entry, key, key_size, false);
                return core::SweepAction::remove;
            }
            if (filter.spares(key, key_size) ||
                !filter.allows(ScopedKey::scope_of(key), CacheTable::item_bytes(key_size, entry.value_size)))
                return core::SweepAction::keep;
            if (entry.referenced != 0) {
                entry.referenced = 0;
                return core::SweepAction::keep;
            }
            removed.note(entry, key, key_size, false);
            return core::SweepAction::remove;
        });
    removed.publish();
    cache_counters().add(kEvictionVisits, static_cast<int64_t>(swept.visited));
    return EvictionRound{swept.visited, static_cast<uint64_t>(removed.evicted + removed.expired), removed.item_bytes};
}

bool large_entries_exist()
{
    return cache_counters().total(kLargeEntries) > 0;
}

bool evict_until(const EvictionFilter &filter, const std::function<bool(const EvictionRound &so_far)> &done)
{
    uint64_t visited_in_vain = 0;
    EvictionRound total;
    while (!done(total)) {
        uint64_t entries = cache_table().stats().entries;
        if (entries == 0)
            return false;
        EvictionRound round = evict_round(filter);
        total.visited += round.visited;
        total.removed += round.removed;
        total.bytes += round.bytes;
        if (round.removed > 0) {
            visited_in_vain = 0;
        } else {
            // Two full passes: the first clears the marks of allowed entries, the second
            // evicts them; past that, nothing the filter allows is left.
            visited_in_vain += std::max<uint64_t>(round.visited, 1);
            if (visited_in_vain > 2 * entries + kEvictionBatch)
                return false;
        }
        pg::check_for_interrupts();
    }
    return true;
}

bool evict_down_to(int64_t bytes)
{
    pg::AllocationCounters &allocated = pg::attach().control->counters;
    CacheTable &table = cache_table();
    return evict_until(EvictionFilter::any(), [&](const EvictionRound &) {
        shrink_table_now(table);  // the bucket arrays count too, and shrink as entries go
        return allocated.total_bytes() <= bytes;
    });
}

void sweep_expired_lightly()
{
    if (cache_counters().total(kEntriesWithTtl) <= 0)
        return;
    sweep_expired(kExpirySweepBatch);
}

ExpirySweep sweep_expired(uint64_t budget)
{
    int64_t now = now_ms();
    Removed removed;
    core::SweepResult swept =
        cache_table().sweep(budget, false, [&](CacheEntry &entry, const char *key, uint32_t key_size, char *) {
            if (!entry.expired_at(now))
                return core::SweepAction::keep;
            removed.note(entry, key, key_size, true);
            return core::SweepAction::remove;
        });
    removed.publish();
    return ExpirySweep{swept.visited, static_cast<uint64_t>(removed.expired)};
}


}  // namespace simple_cache::cache
