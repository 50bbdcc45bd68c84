// Making room in the cache: eviction when the area is full, and light sweeping of expired
// entries on the write path.
#pragma once

#include "simple_cache/cache/table.hpp"

namespace simple_cache::cache {

// Allocates an item for key with value_size tail bytes; when the area is full, evicts (lru)
// until it fits, or throws SqlError 53200 (eviction off, value too big, nothing left).
CacheTable::NewItem make_item_with_room(core::KeyView key, size_t value_size);

// Reclaims a few expired entries, without waiting for any lock, when any entry has a TTL.
void sweep_expired_lightly();

// An estimate of the bytes the cache's entries occupy (items with their headers).
int64_t bytes_held_by_entries();

// Evicts until the extension's allocated bytes are at most `bytes`; false if it cannot. The
// table shrinks as it empties, and a shrink's old bucket array is freed at once.
bool evict_down_to(int64_t bytes);

}  // namespace simple_cache::cache
