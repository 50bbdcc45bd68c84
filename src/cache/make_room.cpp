// Making room for a new item: the checks that a value can fit at all, within the area's limit
// and its database's, and the eviction (eviction.hpp) that frees the room.
#include "simple_cache/cache/make_room.hpp"

#include <algorithm>
#include <string>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/eviction.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

// Bytes of the items this backend built for its database and has not linked yet.
int64_t unlinked_bytes = 0;

// What the writer's database holds for the room checks: its linked entries and the items
// this backend built for it and has not linked yet.
int64_t writer_usage(pg::ScopeId scope)
{
    return pg::scope_usage(scope, kScopeCacheBytes) + unlinked_bytes;
}

// The error for a value that cannot be stored, with why.
[[noreturn]] void throw_cache_full(size_t key_size, size_t value_size, const std::string &why)
{
    std::string detail = "An entry with a " + std::to_string(key_size) + "-byte key and a " +
                         std::to_string(value_size) + "-byte value does not fit: " + why;
    throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache is out of shared memory", detail,
                       "Drop entries, raise simple_cache.max_memory or use simple_cache_set_size_limit().");
}

// "the size limit of N bytes", for the errors.
std::string size_limit_text(uint64_t limit)
{
    return limit != 0 ? "the size limit of " + std::to_string(limit) + " bytes" : "the shared memory available";
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


// What one write has evicted to make room, and which ways of evicting are still worth a try:
// a way that once found nothing to evict is not tried again for this write (each try that
// finds nothing costs two passes of the hand over the table).
struct WriterEviction {
    pg::ScopeId writer;
    core::KeyView key;  // the key written: never evicted for its own write
    size_t item_bytes;
    uint64_t evicted = 0;
    bool try_larger = true;            // other databases larger than the writer would be
    bool try_large_entries[2] = {true, true};  // entries over 8 kB first (per filter above)

    // Most bytes evicted for one large item: evicting small entries seldom frees a run of
    // whole pages (they share their pages), so past this the write gives up instead of
    // emptying the cache for nothing.
    uint64_t budget() const { return std::max<uint64_t>(2 * uint64_t{item_bytes}, 1024 * 1024); }
    bool large() const { return item_bytes > core::kLargestSmallObject; }
};

// Evicts at least one entry that filter allows; false when none is left, or a large item's
// budget is spent. Large entries go first for a large item.
bool evict_some(WriterEviction &w, EvictionFilter filter, int which)
{
    if (w.large() && w.evicted >= w.budget())
        return false;
    filter = filter.sparing(w.key);
    EvictionRound got;
    auto one = [&](const EvictionRound &so_far) {
        got = so_far;
        return so_far.removed > 0;
    };
    if (w.large() && w.try_large_entries[which]) {
        if (large_entries_exist() && evict_until(filter.at_least(core::kLargestSmallObject + 1), one)) {
            w.evicted += got.bytes;
            return true;
        }
        w.try_large_entries[which] = false;
    }
    bool removed = evict_until(filter, one);
    w.evicted += got.bytes;
    return removed;
}

// Makes some room, fairly, for a write when the area is full: first from the databases that
// would still hold more than the writer's once the item is in, then from the writer's own
// entries; never from a database that is not larger. False when nothing is left to evict.
bool evict_fairly(WriterEviction &w)
{
    if (w.try_larger) {
        // The writer's unlinked items count as its own: it takes no more than its fair share.
        size_t writer_grows_by = w.item_bytes + static_cast<size_t>(unlinked_bytes);
        // Without a larger database the sweep would pass over every entry twice for nothing.
        if (pg::other_scope_exceeds(w.writer, kScopeCacheBytes, static_cast<int64_t>(writer_grows_by)) &&
            evict_some(w, EvictionFilter::larger_than(w.writer, writer_grows_by), 0))
            return true;
        w.try_larger = false;
    }
    return evict_some(w, EvictionFilter::own(w.writer), 1);
}

// The bytes of the entry now stored under key (0: none), which a write of key replaces.
int64_t bytes_replaced(core::KeyView key)
{
    CacheTable::Ref ref = cache_table().find(key, core::LockMode::shared);
    return ref ? static_cast<int64_t>(CacheTable::item_bytes(key.size, ref.entry().value_size)) : 0;
}

// This session's simple_cache.database_max_memory for a write of key (0: none). It applies to
// the session's own database only: a load restoring other databases' entries is not held to
// this session's setting.
int64_t database_cap_for(core::KeyView key)
{
    int64_t cap = database_max_memory_bytes();
    return cap != 0 && ScopedKey::scope_of(key.data) == pg::resolved_scope() ? cap : 0;
}

// "this database's limit of N bytes", for the errors.
std::string database_limit_text(int64_t cap)
{
    return "this database's limit of " + std::to_string(cap) + " bytes (simple_cache.database_max_memory)";
}

// Keeps the writer's database within simple_cache.database_max_memory, when it is set: an
// item that would take the database over it (counting the entry it replaces as gone) evicts
// the database's own entries first (lru), or is refused (none, or the item alone is over it).
void keep_database_within_limit(core::KeyView key, size_t value_size)
{
    int64_t cap = database_cap_for(key);
    if (cap == 0)
        return;
    pg::ScopeId scope = ScopedKey::scope_of(key.data);
    auto item = static_cast<int64_t>(CacheTable::item_bytes(key.size, value_size));
    size_t user_key = ScopedKey::user_size(key.size);
    if (writer_usage(scope) + item <= cap)
        return;
    int64_t replaced = bytes_replaced(key);
    auto fits = [&](const EvictionRound &) { return writer_usage(scope) - replaced + item <= cap; };
    if (fits(EvictionRound{}))
        return;
    if (item > cap)
        throw_cache_full(user_key, value_size, "it is larger than " + database_limit_text(cap) + ".");
    if (unlinked_bytes + item > cap)
        throw_cache_full(user_key, value_size,
                         "with the other entries this commit stores, it would take the database over " +
                             database_limit_text(cap) + ".");
    if (!eviction_enabled())
        throw_cache_full(user_key, value_size,
                         database_limit_text(cap) + " is reached and simple_cache.eviction is none.");
    if (!evict_until(EvictionFilter::own(scope).sparing(key), fits))  // down to the cap, whatever the sizes
        throw_cache_full(user_key, value_size,
                         "evicting this database's other entries could not bring it within " + database_limit_text(cap) + ".");
}

}  // namespace

CacheTable::NewItem make_item_with_room(core::KeyView key, size_t value_size)
{
    apply_max_memory_setting();
    keep_database_within_limit(key, value_size);
    CacheTable &table = cache_table();
    const pg::AreaControl &control = *pg::attach().control;
    uint64_t limit = control.size_limit.load(std::memory_order_acquire);
    // The cache's share of it: the room kept for the map's area is not the cache's to fill.
    uint64_t share = control.cache_share.load(std::memory_order_relaxed);
    size_t user_key = ScopedKey::user_size(key.size);
    WriterEviction w{ScopedKey::scope_of(key.data), key, CacheTable::item_bytes(key.size, value_size)};
    if (limit != 0 && w.item_bytes > limit)
        throw_cache_full(user_key, value_size, "it is larger than the whole " + size_limit_text(limit) + ".");
    if (attachment_limit_lowered()) {
        // The cache's share, not the allocator's limit, binds here: segments made under a
        // larger share are there already.
        int64_t room = static_cast<int64_t>(share) - static_cast<int64_t>(w.item_bytes);
        const pg::AllocationCounters &counters = control.counters;
        bool over = counters.total_bytes() > room;
        if (over && !eviction_enabled())
            throw_cache_full(user_key, value_size, size_limit_text(limit) + " is reached and simple_cache.eviction is none.");
        if (over && (!fits_after_evicting_all(key.size, value_size, share) ||
                     (w.large() && !pg::area_could_hold_run(core::whole_pages(w.item_bytes), share))))
            throw_cache_full(user_key, value_size, "it would not fit within " + size_limit_text(limit) + " even with every entry evicted.");
        while (over && evict_fairly(w))
            over = counters.total_bytes() > room;
        if (over)
            throw_cache_full(user_key, value_size,
                             "the bytes in use could not be brought under " + size_limit_text(limit) +
                                 " by evicting what this write may evict.");
    }
    bool checked_fit = false;
    for (;;) {
        CacheTable::NewItem item = table.make_item(key, value_size);
        if (item)
            return item;
        if (!eviction_enabled())
            throw_cache_full(user_key, value_size, size_limit_text(limit) + " is reached and simple_cache.eviction is none.");
        if (table.stats().entries == 0)
            throw_cache_full(user_key, value_size, "it does not fit within " + size_limit_text(limit) + " even with every other entry evicted.");
        if (!checked_fit && limit != 0 &&
            (!fits_after_evicting_all(key.size, value_size, share) ||
             (w.large() && !pg::area_could_hold_run(core::whole_pages(w.item_bytes), share))))
            throw_cache_full(user_key, value_size, "it would not fit within " + size_limit_text(limit) + " even with every entry evicted.");
        checked_fit = true;
        // Room for one more try: something evicted (fairly), or give up. Who is larger is
        // looked at again each time, as the larger databases shrink.
        if (!evict_fairly(w))
            throw_cache_full(user_key, value_size,
                             w.large() && w.evicted >= w.budget()
                                 ? "evicting " + std::to_string(w.evicted) +
                                       " bytes of entries did not free a run of whole pages large enough (the free space "
                                       "is split by small entries)."
                                 : "eviction could not make room within " + size_limit_text(limit) +
                                       " from what this write may evict.");
    }
}

void count_unlinked_item(size_t item_bytes) noexcept
{
    unlinked_bytes += static_cast<int64_t>(item_bytes);
}

void forget_unlinked_items() noexcept
{
    unlinked_bytes = 0;
}

void keep_database_within_limit_after_write(const ScopedKey &key)
{
    core::KeyView view = key.view();
    int64_t cap = database_cap_for(view);
    pg::ScopeId scope = ScopedKey::scope_of(view.data);
    if (cap == 0 || pg::scope_usage(scope, kScopeCacheBytes) <= cap || !eviction_enabled())
        return;
    // Concurrent writes of the database each checked before linking: trim what they overshot.
    evict_until(EvictionFilter::own(scope).sparing(view),
                [&](const EvictionRound &) { return pg::scope_usage(scope, kScopeCacheBytes) <= cap; });
}

int64_t bytes_held_by_entries()
{
    int64_t entries = static_cast<int64_t>(cache_table().stats().entries);
    int64_t per_item = static_cast<int64_t>(CacheTable::item_bytes(ScopedKey::kPrefixBytes, 0));
    return cache_counters().total(kKeyValueBytes) + entries * per_item;
}

}  // namespace simple_cache::cache
