// The cache's side of the area's size limit (the limit itself and simple_cache.max_memory are
// the pg layer's: pg/size_limit.hpp): simple_cache_set_size_limit(), which evicts down to a
// lower limit before installing it, and eviction down to a lowered max_memory.
#include "simple_cache/cache/cache.hpp"

#include <string>

#include "simple_cache/cache/give_back.hpp"
#include "simple_cache/cache/make_room.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/shared_state.hpp"
#include "simple_cache/pg/size_limit.hpp"

namespace simple_cache::cache {

namespace {

// The error for a limit below what is in use while eviction is off.
[[noreturn]] void throw_limit_below_use(int64_t bytes, int64_t share, int64_t in_use)
{
    throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache size limit is below the memory in use",
                       "The limit asked for is " + std::to_string(bytes) + " bytes, " + std::to_string(share) +
                           " of them the cache's (the rest is kept for the free-space map); " +
                           std::to_string(in_use) + " bytes are in use and simple_cache.eviction is none.",
                       "Drop entries first, or enable eviction.");
}

// What the cache's structures would take with every entry evicted: what is in use less the
// entries, with the bucket array at the size an empty table shrinks to.
int64_t structures_when_empty(CacheTable &table, int64_t in_use)
{
    auto array_bytes = [](unsigned size_log2) { return static_cast<int64_t>(sizeof(dsa_pointer)) << size_log2; };
    core::DhtStats shape = table.stats();
    int64_t arrays = array_bytes(shape.size_log2) + (shape.resizing ? array_bytes(shape.old_size_log2) : 0);
    return in_use - bytes_held_by_entries() - arrays + array_bytes(CacheTable::kMinSizeLog2);
}

}  // namespace

void set_size_limit(int64_t bytes)
{
    if (bytes <= 0)
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "simple_cache size limit must be positive",
                           "The limit given was " + std::to_string(bytes) + " bytes.");
    pg::Attachment &attachment = pg::attach();
    // A change of simple_cache.max_memory this session has read was made before this call.
    pg::take_up_max_memory_setting();
    // The old bucket array of a resize in progress (a flush leaves one while the entries of
    // other databases move) would count as in use until the entries have moved on their own.
    CacheTable &table = cache_table();
    table.complete_resize();
    int64_t in_use = attachment.control->counters.total_bytes();
    // The cache's part of the limit: the room kept for the map's area is not the cache's.
    int64_t share = static_cast<int64_t>(pg::cache_share_of(static_cast<uint64_t>(bytes)));
    if (in_use > share) {
        if (!eviction_enabled())
            throw_limit_below_use(bytes, share, in_use);
        // Evicting shrinks the table, so its structures count at the size it has when empty.
        int64_t structures = structures_when_empty(table, in_use);
        if (share < structures)
            throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache size limit is below the memory its own structures need",
                               "The limit asked for is " + std::to_string(bytes) + " bytes, " + std::to_string(share) +
                                   " of them the cache's; the tables alone, with every entry evicted, would take about " +
                                   std::to_string(structures) + " bytes.");
        if (!evict_down_to(share))
            throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache could not evict down to the new size limit",
                               "The limit asked for is " + std::to_string(bytes) + " bytes, " + std::to_string(share) +
                                   " of them the cache's.");
    }
    pg::install_size_limit(static_cast<uint64_t>(bytes));
    if (in_use > share)
        give_back_segments();  // the segments the eviction emptied
}

void apply_max_memory_setting()
{
    if (!pg::take_up_max_memory_setting() || !eviction_enabled())
        return;
    pg::Attachment &attachment = pg::attach();
    int64_t share = static_cast<int64_t>(attachment.control->cache_share.load(std::memory_order_acquire));
    if (attachment.control->counters.total_bytes() > share)
        evict_down_to(share);
}

}  // namespace simple_cache::cache
