// A cache key as stored: the current database's oid followed by the user's key bytes, so that
// keys put in one database are invisible in another.
#pragma once

#include <cstring>
#include <memory>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

class ScopedKey {
  public:
    // Builds the stored form of key for the current database; rejects keys over the limit.
    ScopedKey(const char *key, size_t key_size);
    ScopedKey(const ScopedKey &) = delete;
    ScopedKey &operator=(const ScopedKey &) = delete;

    core::KeyView view() const { return core::KeyView{data_, size_}; }

    // Whether a stored key belongs to the current database.
    static bool in_current_database(const char *stored, size_t stored_size);
    // The user's part of a stored key.
    static const char *user_part(const char *stored) { return stored + sizeof(Oid); }
    static size_t user_size(size_t stored_size) { return stored_size - sizeof(Oid); }

  private:
    static constexpr size_t kInlineBytes = 120;
    char inline_[kInlineBytes];
    std::unique_ptr<char[]> heap_;
    char *data_;
    uint32_t size_;
};

}  // namespace simple_cache::cache
