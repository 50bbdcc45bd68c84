// Readable reports on the area and the cache table, for simple_cache_dump_area() and
// simple_cache_dump_hash_table().
#include "simple_cache/cache/cache.hpp"

#include <string>

#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

// Appends "label: value\n".
void line(std::string &out, const char *label, const std::string &value)
{
    out += label;
    out += ": ";
    out += value;
    out += '\n';
}

}  // namespace

// The area report: the wrapper's own accounting and the segments' total first (the map's area's
// on one line), then dsa_dump()'s view of the cache's area: segments, size classes, free pages.
std::string dump_area()
{
    pg::Attachment &attachment = pg::attach();
    const pg::AllocationCounters &counters = attachment.control->counters;
    uint64_t limit = attachment.control->size_limit.load(std::memory_order_relaxed);
    std::string out;
    line(out, "area handle", std::to_string(static_cast<uint64_t>(dsa_get_handle(attachment.area))));
    line(out, "size limit", limit != 0 ? std::to_string(limit) + " bytes" : std::string("none"));
    line(out, "reserved room", std::to_string(attachment.control->reserved_room.load(std::memory_order_relaxed)) +
                                   " bytes of it kept for the free-space map's area");
    if (dsa_area *reserved = pg::reserved_area_if_made()) {
        const pg::AllocationCounters &kept = attachment.control->reserved_counters;
        pg::AreaSegments map_segments = pg::read_area_segments(pg::capture_area_dump(reserved));
        line(out, "map's area", std::to_string(kept.total_bytes()) + " bytes in use in " +
                                    std::to_string(kept.total_blocks()) + " blocks, " +
                                    std::to_string(map_segments.total_bytes) + " bytes in " +
                                    std::to_string(map_segments.count()) + " segments");
    } else {
        line(out, "map's area", "not made");
    }
    line(out, "in use", std::to_string(counters.total_bytes()) + " bytes in " +
                            std::to_string(counters.total_blocks()) + " blocks");
    std::string dump = pg::capture_area_dump(attachment.area);
    pg::AreaSegments segments = pg::read_area_segments(dump);
    if (segments.parsed)
        line(out, "segments", std::to_string(segments.total_bytes) + " bytes in " +
                                  std::to_string(segments.count()) + " segments, " +
                                  std::to_string(segments.wholly_free()) + " of them wholly free (" +
                                  std::to_string(segments.wholly_free_bytes()) + " bytes)");
    out += "dsa_dump:\n";
    out += dump;
    return out;
}

// The table report: shape, resize state, then one line per partition.
std::string dump_hash_table()
{
    CacheTable &table = cache_table();
    core::DhtStats stats = table.stats();
    std::string out;
    line(out, "entries", std::to_string(stats.entries));
    line(out, "buckets", std::to_string(uint64_t{1} << stats.size_log2));
    line(out, "partitions", std::to_string(CacheTable::kPartitions));
    if (stats.resizing)
        line(out, "resize", "in progress from " + std::to_string(uint64_t{1} << stats.old_size_log2) +
                                " buckets, " + std::to_string(stats.migrating_partitions) +
                                " partitions still migrating");
    else
        line(out, "resize", "none in progress");
    line(out, "grows", std::to_string(stats.grows));
    line(out, "shrinks", std::to_string(stats.shrinks));
    line(out, "entries examined by eviction", std::to_string(cache_counters().total(kEvictionVisits)));
    unsigned held = table.count_partition_locks([](LWLock *lock) { return LWLockHeldByMe(lock); });
    line(out, "partition locks held by this backend", std::to_string(held));
    for (uint32_t p = 0; p < CacheTable::kPartitions; ++p) {
        core::DhtPartitionInfo info = table.partition_info(p);
        out += "partition " + std::to_string(p) + ": " + std::to_string(info.entries) + " entries, " +
               std::to_string(info.buckets) + " buckets";
        if (info.entries_in_old_buckets != 0)
            out += ", " + std::to_string(info.entries_in_old_buckets) + " in old buckets";
        out += '\n';
    }
    return out;
}

}  // namespace simple_cache::cache
