// The key/value cache: one DHT in the shared area, shared by every backend, with keys scoped
// to the database they were put in. Functions here take plain byte ranges and throw SqlError
// (or PgError) on failure; the SQL layer turns arguments into byte ranges and results into
// Datums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

// Longest key accepted, in bytes.
inline constexpr size_t kMaxKeyBytes = 1024 * 1024;

// Which existing state a put requires.
enum class PutMode {
    upsert,   // store whether or not the key exists
    add,      // store only when the key is absent
    replace,  // store only when the key is present
};

// How long a stored value lives.
struct Ttl {
    enum class Kind { setting_default, none, milliseconds } kind = Kind::setting_default;
    int64_t ms = 0;

    static Ttl from_setting() { return Ttl{}; }
    static Ttl never() { return Ttl{Kind::none, 0}; }
    static Ttl after_ms(int64_t ms) { return Ttl{Kind::milliseconds, ms}; }
};

// A value to store.
struct ValueBytes {
    const char *data;
    size_t size;
    ValueKind kind;
};

// What a put did.
struct PutOutcome {
    bool existed = false;  // the key held a live value before
    bool stored = false;   // the new value is in place
};

// Stores value under key as mode allows. When the value does not fit: with eviction, least
// recently used entries make room; without, or when it cannot fit at all, SqlError 53200 and
// nothing changes.
PutOutcome put(const char *key, size_t key_size, ValueBytes value, PutMode mode, Ttl ttl);

// Returns key's value as a palloc'd varlena (text or bytea per `as`), or nullptr when absent
// or expired. A bytea value read as text must be valid in the database encoding.
varlena *get(const char *key, size_t key_size, ValueKind as);

// One key of a batch read: the user's key bytes.
struct BatchKey {
    const char *data;
    size_t size;
};

// Keys one get_many() call looks up at most.
inline constexpr size_t kMaxBatchKeys = 1024;

// Reads keys[0..count) (count <= kMaxBatchKeys) as get() would read each of them, in order, and
// returns how many of the leading keys it decided (at least one when count > 0): values[i] for
// i below that is the value as get() returns it (palloc'd in the current memory context;
// nullptr when absent or expired). Every key is hashed first, then each partition of the table
// that holds any of them is locked (shared) once for all of its keys, and the values are
// copied out under it. Memory stays bounded: a value is copied only while the values copied by
// this call stay within byte_budget bytes (the first key's value always is), and the keys
// after the first one that was not are left for the next call; a key that get() would refuse
// (too long) ends the call before it, unless it is the first (then the same error is raised).
// The call also ends right after a value that would not fit in a row with its key
// (fits_in_row()), for the caller to report. Hits, misses, expired entries, this
// transaction's pending writes and the 22021 of a bytea value read as text are handled as
// get() does, key by key in order, for the decided keys only.
size_t get_many(const BatchKey *keys, size_t count, ValueKind as, size_t byte_budget, varlena **values);

// Removes key; returns whether it was present.
bool drop(const char *key, size_t key_size);

// Sets key's time to live; false when the key is absent.
bool expire(const char *key, size_t key_size, int64_t ttl_ms);

// Remaining time to live in ms: false when absent; *remaining_ms = -1 when it never expires.
bool ttl(const char *key, size_t key_size, int64_t *remaining_ms);

// Adds delta to the integer stored under key and returns the result. A key that is absent (or
// expired) is created with delta, expiring after ttl_on_create; an existing key keeps its expiry.
int64_t incr(const char *key, size_t key_size, int64_t delta, Ttl ttl_on_create = Ttl::never());

// Removes key and returns the value it held (as get() would), in one step: of concurrent
// callers exactly one receives a given value. nullptr when absent or expired. A bytea value
// read as text that is not valid in the database encoding raises 22021 and stays stored.
varlena *get_and_drop(const char *key, size_t key_size, ValueKind as);

// Replaces key's value with new_value only if it currently equals expected (byte for byte).
bool cas(const char *key, size_t key_size, const char *expected, size_t expected_size,
         ValueBytes new_value);

// Removes every entry of the current database; returns how many.
uint64_t flush();

// Removes every entry of the given retired database scopes (the scope registry's purger; does
// nothing when the cache was never used in this server).
void purge_scopes(const pg::ScopeId *scopes, size_t count);

// Whether a (key, value) row with a key and a value of these sizes fits PostgreSQL's 1 GB limit
// on one allocation: its text datums and the tuple that holds them (the 64 bytes cover the
// tuple header, null bitmap, alignment and the varlena headers, generously).
inline bool fits_in_row(size_t key_size, size_t value_size)
{
    return key_size + value_size + 64 <= MaxAllocSize;
}

// One row of a listing: the key and the value as text datums, valid until the emitter
// returns. value is null when the value cannot be shown in a row (a WARNING names the key).
struct ListedRow {
    text *key;
    text *value;
};

// Receives one row of a listing; runs with no lock held and may raise PostgreSQL errors.
using ListEmitter = void (*)(void *context, const ListedRow &row);

// Calls emit for every live entry of the current database whose key starts with prefix (all
// of them by default) (listing.cpp). Entries are copied out of the table in batches of at
// most batch_bytes (a larger entry makes a batch of its own), so the listing holds one batch
// and one row at a time; checks for query cancel between batches.
void list(size_t batch_bytes, ListEmitter emit, void *context, const char *prefix = "", size_t prefix_size = 0);

// The live entries of the current database whose key starts with prefix (prefix.cpp): how
// many there are, and removing them (returning how many live ones it removed). Both visit one
// partition of the table at a time, under its lock, and check for query cancel in between.
uint64_t count_prefix(const char *prefix, size_t prefix_size);
uint64_t drop_prefix(const char *prefix, size_t prefix_size);

// Caps the areas' total size in bytes. Below the cache's use of its share (the limit less the
// room kept for the map): with eviction, entries are evicted down to the share; without, the
// change is refused (SqlError 53200) and nothing changes.
void set_size_limit(int64_t bytes);

// Takes up a change of simple_cache.max_memory this process has read (see pg/size_limit.hpp)
// and, with eviction on, evicts down to the cache's share of the limit it installed. Cheap when
// there is none.
void apply_max_memory_setting();

// Cache statistics, as shown by simple_cache_stats().
struct Stats {
    int64_t entries;
    int64_t key_value_bytes;
    int64_t area_bytes;
    int64_t size_limit;  // 0: none
    int64_t hits, misses, puts, drops, evictions, expirations;
    int64_t resizes;
    int64_t buckets;
    int64_t reset_ms;
};
Stats stats();
void stats_reset();

// A readable report on the area: limit, accounting and dsa_dump()'s segment report.
std::string dump_area();

// A readable report on the cache's hash table: size, resize state, per-partition counts.
std::string dump_hash_table();

// Defines the cache's settings (from _PG_init).
void init();

// The settings, as read by the cache code.
int64_t default_ttl_ms();
bool eviction_enabled();
int64_t database_max_memory_bytes();  // this session's simple_cache.database_max_memory (0: none)

}  // namespace simple_cache::cache
