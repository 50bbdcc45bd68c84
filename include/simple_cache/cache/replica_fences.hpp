// Fences against stale refills on a standby (and during crash recovery), while a replayed
// invalidation's transaction has not committed yet (see replicated_invalidations.cpp).
//
// When the startup process replays a transaction's invalidation record it first installs a
// fence per key and per prefix, tagged with the transaction's xid and the database's oid,
// then drops the keys from the cache and voids their leases. While the xid is in progress on
// this server (its commit record not replayed yet, so a reader may still see the rows as they
// were before it), puts of fenced keys are refused, whatever path they take (put, put at
// commit, fetch's fill, a load), and a lease taken on a fenced key is voided at once. An incr or
// a cas is not fenced: it acts on the value the cache holds, not on rows read elsewhere. Once the
// xid is no longer in progress the fence is simply removed: the key was dropped already, and the
// next fill reads data that includes the commit (or an abort, which cost one miss).
//
// A fence is identified by its database, its length and a 32-bit hash of its bytes; two keys
// that agree on all three share a fence, which refuses a few extra puts and nothing more. When
// the table has no room for a record's fences, one fence covers the whole database instead
// (the record's keys alone are dropped all the same). When no slot is free at all (many large
// transactions inside the window of a delayed standby), one overflow fence covers every key of
// every database: puts are refused until every transaction up to the latest such record has
// ended (the oldest xid this server may still consider running follows it), so that a refill
// from old rows is never stored, at the price of no puts for that while.
//
// The table lives in the main shared memory segment and exists only with the library
// preloaded (without it no record is ever replayed). With no fence out, a put pays one atomic
// read.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/invalidation_record.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::cache {

// Slots in the fence table: fences out at once. The last kDatabaseFenceReserve are kept for
// whole-database fences.
inline constexpr uint32_t kFenceSlots = 1024;
inline constexpr uint32_t kDatabaseFenceReserve = 64;

// Registers the table with the shared memory registry (from init() when preloaded).
void replica_fences_install();

// Whether any fence is out (one atomic read).
bool replica_fences_active() noexcept;

// Removes the fences whose transactions are no longer in progress (a fence whose state cannot
// be read stays). Takes the fence table's lock and the proc array's: never under a partition
// lock.
void resolve_finished_fences() noexcept;

// The persistence worker's wake-up task: resolves finished fences, and asks to be woken again
// in a second while any is out, so that fences do not wait for a put or the next record.
long resolve_fences_step();

// Whether a put of the stored key (its scope first) into the current database must be
// refused; counts a refusal (simple_cache_replica_stats().puts_refused). Takes only the fence
// table's lock: callable under a partition lock.
bool put_is_fenced(core::KeyView stored_key) noexcept;

// What installing one record's fences did.
enum class FenceInstall {
    precise,   // one fence per key and per prefix
    database,  // no room for those: one fence over the database
    overflow,  // no room at all: the overflow fence covers every database until it has ended
    none,      // no fence table (the library is not preloaded)
};

// Installs the fences of one record (a payload read_invalidation_record() accepted) under the
// table's lock, taking no memory and raising no error.
FenceInstall install_fences(const core::InvalidationHeader &header, const char *payload, size_t size) noexcept;

// Installs one fence over a database (the fallback of a replay that failed), or the overflow
// fence when no slot is free; false without the table.
bool install_database_fence(TransactionId xid, Oid database) noexcept;

// Installs one fence over every database (a record this release cannot read: it may name any),
// or the overflow fence when no slot is free; false without the table.
bool install_every_database_fence(TransactionId xid) noexcept;

// Counters shown by simple_cache_replica_stats().
struct ReplicaCounters {
    uint64_t records_logged;
    uint64_t records_replayed;
    uint64_t keys_replayed;
    uint64_t prefixes_replayed;
    uint64_t replay_scans;  // scans of the cache replay made to drop prefixes and databases
    uint64_t database_fallbacks;
    uint64_t puts_refused;
    uint64_t fences_active;
    bool replayed_since_start;
};
ReplicaCounters replica_counters() noexcept;

// Counting (no-ops without the shared table).
enum class ReplicaEvent {
    record_logged,
    record_replayed,
    key_replayed,
    prefix_replayed,
    database_fallback,
    replay_scan,
    count  // not an event: how many there are
};
void count_replica_event(ReplicaEvent event) noexcept;

// Whether invalidation records were replayed since shared memory was set up (by crash recovery
// or a standby): the cache's saved file may then hold keys they invalidated.
bool invalidations_replayed_since_start() noexcept;

}  // namespace simple_cache::cache
