// The cache's table type and this backend's handle on it.
#pragma once

#include <cstdint>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/pg/dsa_policy.hpp"

namespace simple_cache::cache {

// The fixed part of a cached item; the value's bytes follow the key as the item's tail.
struct CacheEntry {
    uint32_t value_size;
    uint32_t flags;
    size_t tail_size() const { return value_size; }
};

using CacheTable = core::Dht<pg::DsaPolicy, CacheEntry>;

// This backend's handle on the shared cache table, created on first use in the cluster.
CacheTable &cache_table();

// The largest value accepted: what fits in a text datum, and in an item's 32-bit size.
inline constexpr size_t kMaxValueBytes = MaxAllocSize - VARHDRSZ;

}  // namespace simple_cache::cache
