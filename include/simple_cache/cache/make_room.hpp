// Making room in the cache: eviction when the area is full, and light sweeping of expired
// entries on the write path.
#pragma once

#include "simple_cache/cache/eviction.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/table.hpp"

namespace simple_cache::cache {

// Allocates an item for key with value_size tail bytes; when the area is full, evicts (lru)
// until it fits, or throws SqlError 53200 (eviction off, value too big, nothing left).
CacheTable::NewItem make_item_with_room(core::KeyView key, size_t value_size);

// Items this backend has built for its own database and not yet linked (the writes at
// commit, built at pre-commit and linked at commit): while making room they count as the
// database's entries, for its fair share and for simple_cache.database_max_memory.
void count_unlinked_item(size_t item_bytes) noexcept;

// Forgets the unlinked items (they were linked or freed).
void forget_unlinked_items() noexcept;

// After a write of key was linked: if concurrent writes of its database took it over its
// simple_cache.database_max_memory, evicts the database's other entries down to it (lru).
void keep_database_within_limit_after_write(const ScopedKey &key);

// An estimate of the bytes the cache's entries occupy (items with their headers).
int64_t bytes_held_by_entries();

}  // namespace simple_cache::cache
