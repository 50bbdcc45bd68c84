// Making room for a new item: the checks that a value can fit at all, within the area's limit
// and its database's, and the eviction (eviction.hpp) that frees the room.
#include "simple_cache/cache/room.hpp"

#include <string>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/eviction.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

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

// Whether a lowered limit left segments larger than it, so bytes in use need checking.
bool attachment_limit_lowered()
{
    return pg::attach().control->limit_lowered.load(std::memory_order_relaxed);
}


// Evicts at least one entry that filter allows, for an item of item_bytes; false when none is
// left. A large item needs a run of whole pages, which evicting small entries seldom frees
// (they share their pages with others), so large entries go first for it.
bool evict_some(const EvictionFilter &filter, size_t item_bytes)
{
    auto one = [](const EvictionRound &so_far) { return so_far.removed > 0; };
    if (item_bytes > core::kLargestSmallObject && evict_until(filter.at_least(core::kLargestSmallObject + 1), one))
        return true;
    return evict_until(filter, one);
}

// Makes some room, fairly, for a writer of scope storing item_bytes when the area is full:
// first from the databases that would still hold more than the writer, then from the
// writer's own entries; never from a database that is not larger. False when nothing is left.
bool evict_fairly(pg::ScopeId writer, size_t item_bytes)
{
    return evict_some(EvictionFilter::larger_than(writer, item_bytes), item_bytes) ||
           evict_some(EvictionFilter::own(writer), item_bytes);
}

// Keeps the writer's database within simple_cache.database_max_memory, when it is set: an
// item that would take the database over it evicts the database's own entries first (lru), or
// is refused (none, or the item alone is over the limit). Applies to the writer's own database
// only (a load restoring other databases' entries is not held to this session's setting).
void keep_database_within_limit(core::KeyView key, size_t value_size)
{
    int64_t cap = database_max_memory_bytes();
    pg::ScopeId scope = ScopedKey::scope_of(key.data);
    if (cap == 0 || scope != pg::resolved_scope())
        return;
    auto item = static_cast<int64_t>(CacheTable::item_bytes(key.size, value_size));
    size_t user_key = ScopedKey::user_size(key.size);
    auto fits = [&](const EvictionRound &) { return pg::scope_usage(scope, kScopeCacheBytes) + item <= cap; };
    if (fits(EvictionRound{}))
        return;
    std::string limit = " within this database's limit of " + std::to_string(cap) +
                        " bytes (simple_cache.database_max_memory)";
    if (item > cap)
        throw_cache_full(user_key, value_size, (limit + ": the entry alone is larger.").c_str());
    if (!eviction_enabled())
        throw_cache_full(user_key, value_size, (limit + " (simple_cache.eviction is none).").c_str());
    if (!evict_until(EvictionFilter::own(scope), fits))  // down to the cap: bytes, whatever their size
        throw_cache_full(user_key, value_size, (limit + ": eviction could not make room.").c_str());
}

}  // namespace

CacheTable::NewItem make_item_with_room(core::KeyView key, size_t value_size)
{
    apply_max_memory_setting();
    keep_database_within_limit(key, value_size);
    CacheTable &table = cache_table();
    uint64_t limit = pg::attach().control->size_limit.load(std::memory_order_relaxed);
    size_t user_key = ScopedKey::user_size(key.size);
    pg::ScopeId writer = ScopedKey::scope_of(key.data);
    if (limit != 0 && CacheTable::item_bytes(key.size, value_size) > limit)
        throw_cache_full(user_key, value_size, ": the entry is larger than the whole limit.");
    if (attachment_limit_lowered()) {
        int64_t room = static_cast<int64_t>(limit) - static_cast<int64_t>(CacheTable::item_bytes(key.size, value_size));
        const pg::AllocationCounters &counters = pg::attach().control->counters;
        bool over = counters.total_bytes() > room;
        if (over && !eviction_enabled())
            throw_cache_full(user_key, value_size, " (simple_cache.eviction is none).");
        if (over && !fits_after_evicting_all(key.size, value_size, limit))
            throw_cache_full(user_key, value_size, ": it would not fit even with every entry evicted.");
        while (over && evict_fairly(writer, CacheTable::item_bytes(key.size, value_size)))
            over = counters.total_bytes() > room;
    }
    bool checked_fit = false;
    for (;;) {
        CacheTable::NewItem item = table.make_item(key, value_size);
        if (item)
            return item;
        if (!eviction_enabled())
            throw_cache_full(user_key, value_size, " (simple_cache.eviction is none).");
        if (table.stats().entries == 0)
            throw_cache_full(user_key, value_size, " even with every other entry evicted.");
        if (!checked_fit && limit != 0 && !fits_after_evicting_all(key.size, value_size, limit))
            throw_cache_full(user_key, value_size, ": it would not fit even with every entry evicted.");
        checked_fit = true;
        // Room for one more try: something evicted (fairly), or give up. Who is larger is
        // looked at again each time, as the larger databases shrink.
        if (!evict_fairly(writer, CacheTable::item_bytes(key.size, value_size)))
            throw_cache_full(user_key, value_size, ": eviction could not make room.");
    }
}

int64_t bytes_held_by_entries()
{
    int64_t entries = static_cast<int64_t>(cache_table().stats().entries);
    int64_t per_item = static_cast<int64_t>(CacheTable::item_bytes(ScopedKey::kPrefixBytes, 0));
    return cache_counters().total(kKeyValueBytes) + entries * per_item;
}

}  // namespace simple_cache::cache
