// Exporting the whole cache, every database's entries, and restoring saved entries: the cache
// side of persistence (the file side is persistence_file.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/database_scope.hpp"

namespace simple_cache::cache {

// One entry as saved: enough to restore it in any process, whatever the current database.
struct SnapshotEntry {
    pg::DatabaseIdentity database;  // the database (incarnation) the key was put in
    ValueKind kind;      // how the value was stored (text or bytea)
    int64_t expires_ms;  // absolute expiry, ms since the PostgreSQL epoch; 0: never expires
    const char *key;     // the user's key, without the database
    size_t key_size;
    const char *value;
    size_t value_size;
};

// Receives exported entries, with no lock held; may throw, which ends the export.
using SnapshotVisitor = std::function<void(const SnapshotEntry &)>;

// Hands every live entry of every live database scope to visit (entries of retired scopes are
// left out). Each partition is scanned under its shared lock and its entries copied to a local
// buffer; visit runs after the lock is released. Checks for interrupts between partitions.
// Returns the number of entries visited.
uint64_t export_entries(const SnapshotVisitor &visit);

// What restore_entry did.
enum class RestoreOutcome {
    stored,   // the entry is in the cache, replacing any entry with the same key
    expired,  // its expiry has passed: nothing changed
    kept,     // a live entry with the same key was kept (replace_existing was false)
};

// Stores a saved entry under a database scope, replacing the entry with the same key if any,
// and keeps the shared counters right (a restore is not counted as a put). expires_ms is an
// absolute expiry (0: never). Throws SqlError: 54000 for a key or value over the limits, 22023
// for an invalid expiry, 53200 when it does not fit (as put does, evicting first if enabled).
// With replace_existing false, a live entry with the same key wins (the start-up load must not
// undo what clients wrote since the server started).
RestoreOutcome restore_entry(pg::ScopeId scope, const char *key, size_t key_size, ValueBytes value,
                             int64_t expires_ms, bool replace_existing = true);

}  // namespace simple_cache::cache
