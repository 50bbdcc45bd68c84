// Cache statistics: counters shared by all backends, summed on read.
#include "simple_cache/cache/cache.hpp"

#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

Stats stats()
{
    CacheTable &table = cache_table();
    CacheRoot &root = cache_root();
    const CacheCounters &c = root.counters;
    pg::Attachment &attachment = pg::attach();
    core::DhtStats shape = table.stats();
    Stats s;
    s.entries = static_cast<int64_t>(shape.entries);
    s.key_value_bytes = c.total(kKeyValueBytes);
    s.area_bytes = attachment.control->counters.total_bytes();
    s.size_limit = static_cast<int64_t>(attachment.control->size_limit.load(std::memory_order_relaxed));
    s.hits = c.total(kHits);
    s.misses = c.total(kMisses);
    s.puts = c.total(kPuts);
    s.drops = c.total(kDrops);
    s.evictions = c.total(kEvictions);
    s.expirations = c.total(kExpirations);
    s.resizes = static_cast<int64_t>(shape.grows + shape.shrinks);
    s.buckets = int64_t{1} << shape.size_log2;
    s.reset_ms = root.stats_reset_ms.load(std::memory_order_relaxed);
    return s;
}

void stats_reset()
{
    CacheRoot &root = cache_root();
    for (int counter : {kHits, kMisses, kPuts, kDrops, kEvictions, kExpirations, kEvictionVisits})
        root.counters.reset(counter);
    root.stats_reset_ms.store(now_ms(), std::memory_order_relaxed);
}

}  // namespace simple_cache::cache
