// The free-space map: page numbers with their free bytes (heap-style relations) or wholly free
// page numbers (index-style relations), per relation of a database, shared by every backend.
// The algorithms are core::fsm's (include/simple_cache/core/fsm/fsm.hpp); this is their
// binding to the DSA area and LWLocks, and what the SQL functions call. Arguments arrive
// validated by the SQL layer (block numbers up to MaxBlockNumber, amounts up to BLCKSZ).
// Failures throw SqlError (or PgError) once every lock is released.
//
// A relation is any oid: a real table or index, or a number an application uses for a page
// space of its own. Everything is scoped to the current database. A relation is tracked from
// its first wholesale report (record_many, vacuum) or free page (add_free_page); the kind of
// a new relation follows its relkind when the oid is a relation of this database (indexes are
// index-style, everything else heap-style), otherwise it is heap-style, except for a first
// add_free_page, which makes it index-style.
#pragma once

#include "simple_cache/pg/database_scope.hpp"

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/fsm/types.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::fsm {

using core::fsm::Avail;
using core::fsm::kInvalidBlock;

// Replaces rel's pages by a report of n pages (avail may be null: every amount 0); returns
// the pages kept after trimming to the relation's target.
uint32_t record_many(Oid relid, const uint32_t *blocks, const Avail *avail, size_t n);

// Sets the free bytes of a page rel tracks; false when the page (or rel) is not tracked.
bool record(Oid relid, uint32_t block, Avail avail);

// A page of rel with at least `needed` free bytes, round-robin, or kInvalidBlock. Feeds the
// relation's average request size. Does not start tracking rel.
uint32_t get_page(Oid relid, uint32_t needed);

// record(old_block, old_avail) and get_page(needed) in one step under rel's lock.
uint32_t record_and_get_page(Oid relid, uint32_t old_block, Avail old_avail, uint32_t needed);

// The average request size of rel's get_page calls (0 before any); false when not tracked.
bool avg_request(Oid relid, uint32_t *average);

// Adds a wholly free page to rel's free-page list; whether it was added (false: listed already,
// or the list is full and the page is above every listed one). Raises a NOTICE when rel is a
// relation of this database whose last pages are now all free.
bool add_free_page(Oid relid, uint32_t block);

// Takes the lowest page out of rel's free-page list; kInvalidBlock when there is none.
uint32_t get_free_page(Oid relid);

// How many free pages end rel, given its size in pages (nblocks < 0: the size of the real
// relation). 0 for heap-style or untracked relations.
int64_t truncatable_pages(Oid relid, int64_t nblocks);

// Forgets rel's pages numbered nblocks or above, after the relation shrank; how many.
int64_t truncate(Oid relid, uint32_t nblocks);

// Stops tracking rel; whether it was tracked.
bool forget(Oid relid);

// Forgets relations of the current database dropped by the current transaction, when it
// commits (the sql_drop event trigger's work); nothing when it rolls back.
void forget_dropped(const Oid *relids, size_t n);

// Forgets every relation of the given retired database scopes (the scope registry's purger;
// does nothing when the map was never used in this server).
void purge_scopes(const pg::ScopeId *scopes, size_t count);

// Scans a heap table or btree index through the buffer manager and records what it found
// wholesale: heap pages with their free bytes, btree pages that are deleted or new as free
// pages. Returns the pages kept.
uint32_t vacuum(Oid relid);

// One relation of the current database, as the simple_cache_fsm_relations view shows it.
struct RelationRow {
    Oid relid;
    bool is_index;
    int64_t stored_pages;
    int64_t requested_pages;
    int64_t target_pages;
    int32_t avg_request;
    int32_t chunks;
};

// Receives one row; runs with no lock held and may raise PostgreSQL errors.
using RowEmitter = void (*)(void *context, const RelationRow &row);

// Calls emit for every relation of the current database the map tracks.
void list_relations(RowEmitter emit, void *context);

// Receives one tracked page of a relation (avail -1 for an index-style list); runs with no
// lock held and may raise PostgreSQL errors.
using PageEmitter = void (*)(void *context, uint32_t block, int32_t avail);

// Calls emit for every page rel tracks, in block order (nothing when it is not tracked). The
// pages are copied in batches of at most batch_bytes, each under rel's lock, so a page tracked
// for the whole call is shown once, with its amount when its batch was copied; pages added or
// removed meanwhile may or may not be shown.
void list_pages(Oid relid, size_t batch_bytes, PageEmitter emit, void *context);

// The whole map (every database), as simple_cache_fsm_summary() shows it. Pages are page
// slots: chunks times 32, the unit of simple_cache.fsm_max_pages.
struct Summary {
    int64_t capacity_pages;
    int64_t used_pages;
    int64_t requested_pages;
    int64_t capacity_chunks;
    int64_t requested_chunks;
    int32_t relations;
};
Summary summary();

// What check() found.
struct CheckResult {
    bool consistent;
    const char *problem;  // what is wrong (static text), or nullptr
    int64_t table_bytes;  // the hash table's bucket arrays (both during a resize)
};

// Verifies the map's invariants (directory against entries, every relation's storage, the
// totals, slots grouped by database), holding the directory lock in shared mode throughout.
CheckResult check();

// FSM locks this backend holds now (0 between statements).
unsigned locks_held();

// Defines the settings and, when preloaded, reserves the tranche ids (from _PG_init).
void init();

// The settings as this backend sees them (the per-database ones: for its own database; 0 is
// no limit).
int setting_max_pages();
int setting_max_relations();
int setting_max_relations_per_database();
int setting_max_pages_per_database();

}  // namespace simple_cache::fsm
