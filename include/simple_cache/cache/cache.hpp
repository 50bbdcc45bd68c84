// The key/value cache: one DHT in the shared area, shared by every backend, with keys scoped
// to the database they were put in. Functions here take plain byte ranges and throw SqlError
// (or PgError) on failure; the SQL layer turns arguments into byte ranges and results into
// Datums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

// Longest key accepted, in bytes.
inline constexpr size_t kMaxKeyBytes = 1024 * 1024;

// Stores value under key, replacing an existing value; returns whether the key existed. When
// the area is full it throws SqlError 53200 and changes nothing.
bool put(const char *key, size_t key_size, const char *value, size_t value_size);

// Returns key's value as a palloc'd text in the current memory context, or nullptr.
text *get(const char *key, size_t key_size);

// Removes key; returns whether it was present.
bool drop(const char *key, size_t key_size);

// Receives one entry of a listing; runs with no lock held and may raise PostgreSQL errors.
using ListEmitter = void (*)(void *context, const char *key, size_t key_size, const char *value,
                             size_t value_size);

// Calls emit for every entry of the current database, partition by partition; checks for
// query cancel between partitions.
void list(ListEmitter emit, void *context);

// Caps the area's total size in bytes.
void set_size_limit(int64_t bytes);

// A readable report on the area: limit, accounting and dsa_dump()'s segment report.
std::string dump_area();

// A readable report on the cache's hash table: size, resize state, per-partition counts.
std::string dump_hash_table();

}  // namespace simple_cache::cache
