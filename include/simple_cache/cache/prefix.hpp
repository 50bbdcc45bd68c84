// Matching stored keys against a prefix of the user's key, within one database's scope, and
// the removal of such keys that the writes applied at commit use (prefix.cpp).
#pragma once

#include <cstdint>
#include <cstring>

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

// Removes every entry under the stored prefix, one partition at a time, without checking for
// interrupts, taking memory or raising errors once this backend is attached to the cache: for
// the writes applied at commit. Returns how many live entries it removed.
uint64_t drop_prefix_scoped(const ScopedKey &stored_prefix) noexcept;

}  // namespace simple_cache::cache
