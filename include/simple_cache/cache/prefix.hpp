// Matching stored keys against a prefix of the user's key, within one database's scope, and
// the removal of such keys that the writes applied at commit use (prefix.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "simple_cache/cache/key.hpp"

namespace simple_cache::cache {

// Whether the stored key (scope, then the user's bytes) lies under the stored prefix (the
// same scope, then the prefix's bytes): the scope is part of the bytes compared, so a prefix
// never matches another database's keys.
inline bool under_prefix(core::KeyView stored_prefix, const char *stored_key, size_t stored_key_size)
{
    return stored_key_size >= stored_prefix.size &&
           std::memcmp(stored_key, stored_prefix.data, stored_prefix.size) == 0;
}

// Removes every entry under any of the stored prefixes in one scan of the table, one
// partition at a time, without checking for interrupts, taking memory or raising errors once
// this backend is attached to the cache: for the writes applied at commit. The prefixes must
// be sorted (as byte strings) and none may be a prefix of another (keep_outermost_prefixes
// makes them so). Returns how many live entries it removed.
uint64_t drop_prefixes_scoped(const core::KeyView *sorted_prefixes, size_t count) noexcept;

// Sorts stored prefixes and keeps only those that no other one covers (a prefix of it, or an
// equal one), as drop_prefixes_scoped needs them.
void keep_outermost_prefixes(std::vector<core::KeyView> &prefixes);

}  // namespace simple_cache::cache
