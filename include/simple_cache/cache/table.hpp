// The cache's shared structures: the entry layout, the table type, the shared counters, and
// this backend's handle on them.
#pragma once

#include <cstdint>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/striped_counters.hpp"

namespace simple_cache::cache {

// How a value was stored; reads may convert between the two (see get()).
enum class ValueKind : uint8_t { text = 0, bytea = 1 };

// The fixed part of a cached item; the value's bytes follow the key as the item's tail.
// Expiry is kept as 48 bits of milliseconds since the PostgreSQL epoch (0: never expires).
struct CacheEntry {
    uint32_t value_size;
    uint8_t kind;
    uint8_t referenced;  // CLOCK bit: set by readers (relaxed atomic store), cleared by eviction
    uint16_t expires_high;
    uint32_t expires_low;

    size_t tail_size() const { return value_size; }
    int64_t expires_ms() const { return (static_cast<int64_t>(expires_high) << 32) | expires_low; }
    void set_expires_ms(int64_t ms)
    {
        expires_high = static_cast<uint16_t>(ms >> 32);
        expires_low = static_cast<uint32_t>(ms);
    }
    bool has_expiry() const { return expires_high != 0 || expires_low != 0; }
    bool expired_at(int64_t now_ms) const { return has_expiry() && expires_ms() <= now_ms; }
};
static_assert(sizeof(CacheEntry) == 12, "the entry is packed into 12 bytes");

// The latest expiry that fits in 48 bits.
inline constexpr int64_t kMaxExpiresMs = (int64_t{1} << 47) - 1;

using CacheTable = core::Dht<pg::DsaPolicy, CacheEntry>;

// The cache's shared counters.
enum CacheCounter {
    kHits,
    kMisses,
    kPuts,
    kDrops,
    kEvictions,
    kExpirations,
    kKeyValueBytes,   // gauge: bytes of keys and values stored
    kEntriesWithTtl,  // gauge: a hint for whether expiry sweeping has anything to find
    kLargeEntries,    // gauge: entries whose item is over 8 kB (eviction tries them first for large items)
    kEvictionVisits,  // entries the eviction hand looked at (simple_cache_dump_hash_table())
    kCacheCounterCount
};
using CacheCounters = pg::StripedCounters<kCacheCounterCount>;

// The cache's counter among each database scope's usage counters (pg/database_scope.hpp):
// bytes of the scope's entries in the area, items with their headers.
inline constexpr int kScopeCacheBytes = 0;

// The cache's root in the shared area.
struct CacheRoot {
    dsa_pointer table;
    std::atomic<int64_t> stats_reset_ms;  // when the counters were last reset
    CacheCounters counters;
    std::atomic<dsa_pointer> leases;  // the lease table (leases.cpp), made on first use
};

// This backend's handle on the shared cache table, created on first use in the cluster.
CacheTable &cache_table();

// The shared counters (attaches like cache_table()).
CacheCounters &cache_counters();

// The shared root (attaches like cache_table()).
CacheRoot &cache_root();

// Whether the cache has been created in this server (found without creating it).
bool cache_exists();

// The largest value accepted: what fits in a varlena datum.
inline constexpr size_t kMaxValueBytes = MaxAllocSize - VARHDRSZ;

// The current time in milliseconds since the PostgreSQL epoch.
int64_t now_ms();

}  // namespace simple_cache::cache
