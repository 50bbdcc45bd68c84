// Database scopes: what the cache's keys and the map's relations belong to.
//
// A database oid alone cannot scope data: oids are reused (CREATE DATABASE ... OID = n, or the
// oid counter wrapping around), and a database must never see what an earlier database with
// the same oid left behind. A scope is one incarnation of a database as this server knows it,
// told apart by its identity: the oid, the transaction that wrote the database's pg_database
// row, and the oid of the extension installed in it. Scopes are numbered by the registry in
// the shared area; features prefix their keys with the number, so a retired scope's data is
// unreachable at once, and a purger each feature registers reclaims it.
//
// A scope is retired when a backend of its database finds a different identity (the database
// was dropped and its oid reused, or the extension was dropped and created again), or when a
// collection finds that its database no longer exists. A rewritten pg_database row (ALTER
// DATABASE, GRANT on the database) changes the identity too; while a backend of the database
// uses the scope, the database cannot have been dropped, so the scope then just takes the new
// identity. Retired scopes are purged once no backend uses them and no load writes into them.
#pragma once

#include <cstdint>
#include <vector>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// A scope's number; never 0.
using ScopeId = uint32_t;
inline constexpr ScopeId kNoScope = 0;

// What tells one incarnation of a database from a later one with the same oid.
struct DatabaseIdentity {
    Oid database;
    TransactionId row_xmin;  // the transaction that wrote the database's pg_database row
    Oid extension;           // simple_cache's pg_extension oid in it (InvalidOid: none)

    bool operator==(const DatabaseIdentity &other) const
    {
        return database == other.database && row_xmin == other.row_xmin && extension == other.extension;
    }
};

// The current database's scope. Resolved on the first call in a backend (reading the
// catalogs, so inside a transaction) and again after the scope was retired; otherwise two
// atomic loads. Throws SqlError 53200 when the registry has no room.
ScopeId current_scope();

// A live scope and its identity.
struct ScopeEntry {
    ScopeId id;
    DatabaseIdentity identity;
};

// Every live scope, for saving: entries of other scopes must not be saved. Call
// collect_dead_scopes(Collection::retire_and_purge) first where the catalogs can be read.
std::vector<ScopeEntry> live_scopes();

// The identity of scope among entries (from live_scopes()); nullptr when it is not there.
inline const DatabaseIdentity *identity_in(const std::vector<ScopeEntry> &entries, ScopeId scope)
{
    for (const ScopeEntry &entry : entries)
        if (entry.id == scope)
            return &entry.identity;
    return nullptr;
}

// The scopes that a load of saved data writes into. Each identity maps to the live scope of
// its database, registered if the database has none yet (a backend of that database later
// confirms it or retires it), or to kNoScope when the database already has a live scope with
// another identity: the saved data is of an older incarnation. The scopes stay pinned (never
// purged) until this object is destroyed or the process exits.
class SavedScopes {
  public:
    SavedScopes() = default;
    SavedScopes(const SavedScopes &) = delete;
    SavedScopes &operator=(const SavedScopes &) = delete;
    ~SavedScopes();

    // The scope to restore data saved under identity into; kNoScope: skip the data.
    ScopeId scope_for(const DatabaseIdentity &identity);

  private:
    std::vector<ScopeEntry> known_;  // identities looked up so far, kNoScope ids included
};

// Usage counters per scope, kept by the features (which counter means what is theirs to
// say). Lock-free and never throwing: adds to a scope that is no longer registered are
// dropped, and such a scope reads as 0.
inline constexpr int kScopeUsageCounters = 2;
void add_scope_usage(ScopeId scope, int counter, int64_t delta) noexcept;
int64_t scope_usage(ScopeId scope, int counter) noexcept;

// Whether some scope other than `scope` may hold what a sweep confined to larger scopes would
// evict: a live one whose counter passes `scope`'s by more than `threshold`, or a retired one
// whose counter is not 0. Reads the counters under the registry lock (shared); a cheap check
// before a sweep over every entry that could otherwise find nothing.
bool other_scope_exceeds(ScopeId scope, int counter, int64_t threshold);

// One live scope as reports show it.
struct ScopeReport {
    ScopeId id;
    DatabaseIdentity identity;
    int32_t backends;  // backends of the database using it now
    int64_t usage[kScopeUsageCounters];
};

// Every live scope, for reports.
std::vector<ScopeReport> scope_reports();

// Whether scope is registered and live (its data reachable), found without the registry lock.
bool scope_is_live(ScopeId scope) noexcept;

// This backend's scope if it has resolved one (kNoScope otherwise); never reads the catalogs.
ScopeId resolved_scope() noexcept;

// Whether CREATE EXTENSION simple_cache was run in the current database, as the current scope
// knows it (resolving the scope as current_scope() does, so as cheap as that once resolved;
// CREATE and DROP EXTENSION are noticed like any change of the scope's identity).
bool extension_in_current_database();

// Reclaims every entry or relation of the given (retired) scopes. Registered by each feature
// from _PG_init; must do nothing when the feature was never used in this server.
using ScopePurger = void (*)(const ScopeId *scopes, size_t count);
void register_scope_purger(ScopePurger purger);

// What a collection does.
enum class Collection {
    retire_when_due,   // retire dead scopes, at most every second in the whole server
    retire_now,        // the same, now
    retire_and_purge,  // retire dead scopes now, then purge the retired scopes nothing uses
};

// Retires the scopes of databases that no longer exist (or whose pg_database row changed
// while no backend used them; a scope in use takes its rewritten row's identity instead), and
// purges retired scopes that nothing uses when asked to. Reads pg_database, so needs a
// transaction.
void collect_dead_scopes(Collection collection);

}  // namespace simple_cache::pg
