// Building cache items, shared by the data operations (operations.cpp) and the writes made
// under a lease (leased_put.cpp).
#pragma once

#include <cstdint>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/table.hpp"

namespace simple_cache::cache {

// Expiry time in ms for a value stored at `now` with ttl (0: never). Throws SqlError 22023 for
// a zero or negative ttl, 22008 for one past the latest expiry.
int64_t expiry_for(Ttl ttl, int64_t now);

// Builds an item for key holding value, expiring at `expires` (0: never), making room first
// when the area is full. Throws 54000 for a value over kMaxValueBytes, 53200 when it cannot fit.
CacheTable::NewItem build_item(const ScopedKey &key, const ValueBytes &value, int64_t expires);

}  // namespace simple_cache::cache
