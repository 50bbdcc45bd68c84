// Database-scoped cache keys (see key.hpp).
#include "simple_cache/cache/key.hpp"

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::cache {

ScopedKey::ScopedKey(const char *key, size_t key_size) : ScopedKey(pg::current_scope(), key, key_size)
{
}

ScopedKey::ScopedKey(pg::ScopeId scope, const char *key, size_t key_size)
{
    if (key_size > kMaxKeyBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache key is too long",
                           "The key has " + std::to_string(key_size) + " bytes; the limit is " +
                               std::to_string(kMaxKeyBytes) + ".");
    size_ = static_cast<uint32_t>(kPrefixBytes + key_size);
    if (size_ <= kInlineBytes) {
        data_ = inline_;
    } else {
        heap_.reset(new char[size_]);
        data_ = heap_.get();
    }
    std::memcpy(data_, &scope, kPrefixBytes);
    if (key_size > 0)
        std::memcpy(data_ + kPrefixBytes, key, key_size);
}

}  // namespace simple_cache::cache
