// Database-scoped cache keys (see key.hpp).
#include "simple_cache/cache/key.hpp"

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::cache {

ScopedKey::ScopedKey(const char *key, size_t key_size)
{
    if (key_size > kMaxKeyBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache key is too long",
                           "The key has " + std::to_string(key_size) + " bytes; the limit is " +
                               std::to_string(kMaxKeyBytes) + ".");
    size_ = static_cast<uint32_t>(sizeof(Oid) + key_size);
    if (size_ <= kInlineBytes) {
        data_ = inline_;
    } else {
        heap_.reset(new char[size_]);
        data_ = heap_.get();
    }
    Oid database = MyDatabaseId;
    std::memcpy(data_, &database, sizeof(Oid));
    if (key_size > 0)
        std::memcpy(data_ + sizeof(Oid), key, key_size);
}

bool ScopedKey::in_current_database(const char *stored, size_t stored_size)
{
    Oid database;
    if (stored_size < sizeof(Oid))
        return false;
    std::memcpy(&database, stored, sizeof(Oid));
    return database == MyDatabaseId;
}

}  // namespace simple_cache::cache
