// A cache key as stored: the current database's scope number (pg/database_scope.hpp) followed
// by the user's key bytes, so that keys put in one database are invisible in another, and in
// any later database that reuses its oid.
#pragma once

#include <cstring>
#include <memory>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

class ScopedKey {
  public:
    // Builds the stored form of key for the current database; rejects keys over the limit.
    ScopedKey(const char *key, size_t key_size);
    // Builds the stored form of key for a given scope (restoring saved entries).
    ScopedKey(pg::ScopeId scope, const char *key, size_t key_size);
    ScopedKey(const ScopedKey &) = delete;
    ScopedKey &operator=(const ScopedKey &) = delete;

    core::KeyView view() const { return core::KeyView{data_, size_}; }

    // The scope a stored key belongs to.
    static pg::ScopeId scope_of(const void *stored)
    {
        pg::ScopeId scope;
        std::memcpy(&scope, stored, sizeof scope);
        return scope;
    }
    // The user's part of a stored key.
    static const char *user_part(const char *stored) { return stored + kPrefixBytes; }
    static size_t user_size(size_t stored_size) { return stored_size - kPrefixBytes; }

    // Bytes of the scope prefix.
    static constexpr size_t kPrefixBytes = sizeof(pg::ScopeId);

  private:
    static constexpr size_t kInlineBytes = 120;
    char inline_[kInlineBytes];
    std::unique_ptr<char[]> heap_;
    char *data_;
    uint32_t size_;
};

}  // namespace simple_cache::cache
