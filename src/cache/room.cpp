// Eviction (approximate LRU by the CLOCK algorithm) and expiry sweeping.
//
// Readers set an entry's referenced bit with a relaxed store under their shared lock: no
// exclusive lock just to record recency. The eviction hand sweeps the partitions: an expired
// entry goes first, a referenced one loses its bit and stays, an unreferenced one is evicted.
#include "simple_cache/cache/room.hpp"

#include <string>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

// Entries examined per eviction round, and per light expiry sweep.
constexpr uint64_t kEvictionBatch = 64;
constexpr uint64_t kExpirySweepBatch = 8;

// Rounds of eviction without freeing anything before giving up (each clears reference bits,
// so two full passes over the table must evict something if anything is evictable).
constexpr int kFruitlessRoundsAllowed = 2 * CacheTable::kPartitions;

// Removed entries, by cause, to be added to the shared counters.
struct Removed {
    int64_t evicted = 0;
    int64_t expired = 0;
    int64_t key_value_bytes = 0;
    int64_t with_ttl = 0;

    // Records one removed entry.
    void note(const CacheEntry &entry, uint32_t stored_key_size, bool expired_entry)
    {
        (expired_entry ? expired : evicted) += 1;
        key_value_bytes += static_cast<int64_t>(ScopedKey::user_size(stored_key_size) + entry.value_size);
        with_ttl += entry.has_expiry() ? 1 : 0;
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
    }
};

// One CLOCK round; returns how many entries it removed.
int64_t evict_round()
{
    int64_t now = now_ms();
    Removed removed;
    cache_table().sweep(kEvictionBatch, true,
                        [&](CacheEntry &entry, const char *, uint32_t key_size, char *) {
                            if (entry.expired_at(now)) {
                                removed.note(entry, key_size, true);
                                return core::SweepAction::remove;
                            }
                            if (entry.referenced != 0) {
                                entry.referenced = 0;
                                return core::SweepAction::keep;
                            }
                            removed.note(entry, key_size, false);
                            return core::SweepAction::remove;
                        });
    removed.publish();
    return removed.evicted + removed.expired;
}

// The error for a value that cannot be stored.
[[noreturn]] void throw_cache_full(size_t key_size, size_t value_size, const char *why)
{
    uint64_t limit = pg::attach().control->size_limit.load(std::memory_order_relaxed);
    std::string detail = "An entry with a " + std::to_string(key_size) + "-byte key and a " +
                         std::to_string(value_size) + "-byte value does not fit";
    detail += limit != 0 ? " within the size limit of " + std::to_string(limit) + " bytes"
                         : " in the shared memory available";
    detail += why;
    throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache is out of shared memory", detail,
                       "Drop entries, raise simple_cache.max_memory or use simple_cache_set_size_limit().");
}

// Room the allocator itself takes out of the limit (segment headers, page maps, span
// descriptors), estimated generously: a fixed part and a share of the limit.
int64_t allocator_overhead(uint64_t limit)
{
    return 64 * 1024 + static_cast<int64_t>(limit / 64);
}

// Whether an item could fit under limit once every entry is gone: the table's own structures,
// the superblocks of every small size class used so far and the allocator's overhead stay. A
// large item takes whole pages; a small one of a size not used before, a new superblock.
// Checked before evicting, so that a put that cannot succeed evicts nothing. It cannot see
// where those pages lie: free space split by them can still make an item that passes this
// check fail after evicting (README, Limits).
bool fits_after_evicting_all(size_t stored_key_size, size_t value_size, uint64_t limit)
{
    const pg::AllocationCounters &counters = pg::attach().control->counters;
    int64_t structures = counters.total_bytes() - bytes_held_by_entries();
    size_t item = CacheTable::item_bytes(stored_key_size, value_size);
    if (item > core::kLargestSmallObject)
        item = core::whole_pages(item);
    else if (!counters.size_group_used(item))
        item = core::kSuperblockBytes;
    int64_t kept = structures + counters.superblock_bytes_kept() + allocator_overhead(limit);
    return static_cast<int64_t>(item) <= static_cast<int64_t>(limit) - kept;
}

// Lets a table that eviction made sparse shrink, and frees the larger array of a shrink in
// progress at once rather than once the entries left in it have moved on their own.
void shrink_table_now(CacheTable &table)
{
    table.shrink_if_sparse();
    core::DhtStats shape = table.stats();
    if (shape.resizing && shape.size_log2 < shape.old_size_log2)
        table.complete_resize();
}

// Whether a lowered limit left segments larger than it, so bytes in use need checking.
bool attachment_limit_lowered()
{
    return pg::attach().control->limit_lowered.load(std::memory_order_relaxed);
}

}  // namespace

CacheTable::NewItem make_item_with_room(core::KeyView key, size_t value_size)
{
    apply_max_memory_setting();
    CacheTable &table = cache_table();
    uint64_t limit = pg::attach().control->size_limit.load(std::memory_order_relaxed);
    size_t user_key = ScopedKey::user_size(key.size);
    if (limit != 0 && CacheTable::item_bytes(key.size, value_size) > limit)
        throw_cache_full(user_key, value_size, ": the entry is larger than the whole limit.");
    if (attachment_limit_lowered()) {
        int64_t room = static_cast<int64_t>(limit) - static_cast<int64_t>(CacheTable::item_bytes(key.size, value_size));
        bool over = pg::attach().control->counters.total_bytes() > room;
        if (over && !eviction_enabled())
            throw_cache_full(user_key, value_size, " (simple_cache.eviction is none).");
        if (over && !fits_after_evicting_all(key.size, value_size, limit))
            throw_cache_full(user_key, value_size, ": it would not fit even with every entry evicted.");
        if (over)
            evict_down_to(room);
    }
    int fruitless = 0;
    for (;;) {
        CacheTable::NewItem item = table.make_item(key, value_size);
        if (item)
            return item;
        if (!eviction_enabled())
            throw_cache_full(user_key, value_size, " (simple_cache.eviction is none).");
        if (table.stats().entries == 0)
            throw_cache_full(user_key, value_size, " even with every other entry evicted.");
        if (fruitless == 0 && limit != 0 && !fits_after_evicting_all(key.size, value_size, limit))
            throw_cache_full(user_key, value_size, ": it would not fit even with every entry evicted.");
        fruitless = evict_round() > 0 ? 0 : fruitless + 1;
        if (fruitless > kFruitlessRoundsAllowed)
            throw_cache_full(user_key, value_size, ": eviction could not make room.");
        pg::check_for_interrupts();
    }
}

void sweep_expired_lightly()
{
    if (cache_counters().total(kEntriesWithTtl) <= 0)
        return;
    int64_t now = now_ms();
    Removed removed;
    cache_table().sweep(kExpirySweepBatch, false,
                        [&](CacheEntry &entry, const char *, uint32_t key_size, char *) {
                            if (!entry.expired_at(now))
                                return core::SweepAction::keep;
                            removed.note(entry, key_size, true);
                            return core::SweepAction::remove;
                        });
    removed.publish();
}

int64_t bytes_held_by_entries()
{
    int64_t entries = static_cast<int64_t>(cache_table().stats().entries);
    int64_t per_item = static_cast<int64_t>(CacheTable::item_bytes(ScopedKey::kPrefixBytes, 0));
    return cache_counters().total(kKeyValueBytes) + entries * per_item;
}

bool evict_down_to(int64_t bytes)
{
    CacheTable &table = cache_table();
    pg::AllocationCounters &allocated = pg::attach().control->counters;
    int fruitless = 0;
    for (;;) {
        shrink_table_now(table);
        if (allocated.total_bytes() <= bytes)
            return true;
        if (table.stats().entries == 0)
            return false;
        fruitless = evict_round() > 0 ? 0 : fruitless + 1;
        if (fruitless > kFruitlessRoundsAllowed)
            return false;
        pg::check_for_interrupts();
    }
}

}  // namespace simple_cache::cache
