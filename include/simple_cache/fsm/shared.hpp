// The free-space map's shared state in the reserved DSA area (pg/shared_state.hpp), and this
// backend's handle on it.
//
//   FsmRoot          one per cluster, found through AreaControl::fsm_root (pg::ensure_root), a
//                    pointer into the reserved area
//     directory      LWLock (tranche "simple_cache_fsm"): guards the slots, the totals' exact
//                    values, the clocks, and every change of a relation's chunks or request
//     slots          array of Slot, one per tracked relation, ordered by database (scope
//                    number), then by creation (a stable order): kind, request, chunks held,
//                    target and the database's page limit, i.e. all that sharing out the
//                    budget needs, in one contiguous array, so targets are recomputed in
//                    O(relations) without touching the hash table. Each database's relations
//                    are contiguous (a run), as core::fsm's database_targets.hpp and
//                    eviction.hpp need. The same allocation holds, after slot_capacity slots,
//                    as many DatabaseShare records: scratch room for dividing the budget
//     totals         relations, capacity, chunks held, chunks requested: atomics, exact under
//                    the directory lock and read relaxed by reports
//     table          Dht<DsaPolicy, RelationEntry> keyed by FsmKey; partition locks in the
//                    "simple_cache_fsm" tranche
//   RelationEntry    one hash table item per relation (items never move once allocated)
//     lock           LWLock (tranche "simple_cache_fsm_relation")
//     state          core::fsm::RelationState: the relation's pages, in one DSA allocation
//     referenced     set by every use, cleared by the eviction hand (relaxed atomic accesses)
//
// Locks are taken in the order directory, DHT partition (a Ref), relation. An entry found
// through the table stays valid while its partition lock, its relation lock or the directory
// lock is held: entries are created and removed only under the directory lock, and removal
// also takes the partition lock exclusively and then the relation lock. So an operation may
// keep a relation lock after releasing the partition lock, and code under the directory lock
// may use an entry without holding its partition. Nothing takes a partition lock while it
// holds a relation lock, and no exclusive Ref is released while a relation lock is held (the
// release may start a resize, which waits for every partition).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/fsm/fsm.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::fsm {

// A relation of a database: the map's key. Eight bytes, no padding.
struct FsmKey {
    pg::ScopeId database;  // the database's scope (pg/database_scope.hpp), not its bare oid
    Oid relid;
};
static_assert(sizeof(FsmKey) == 8, "keys are hashed byte for byte");

// The fixed part of a relation's hash table item.
struct RelationEntry {
    LWLock lock;
    core::fsm::RelationState<dsa_pointer> state;
    uint32_t referenced;  // read and written with __atomic builtins, relaxed

    size_t tail_size() const { return 0; }
};

using FsmTable = core::Dht<pg::DsaPolicy, RelationEntry>;
using FsmRelation = core::fsm::Relation<pg::DsaPolicy>;

// A database without a page limit of its own (Slot::database_limit_chunks).
inline constexpr uint32_t kNoChunkLimit = UINT32_MAX;

// What the directory keeps for one relation. requested_pages and chunks mirror the entry's
// state (both change only under the directory lock); the target is the directory's own.
struct Slot {
    FsmKey key;
    uint32_t kind;             // a core::fsm::RelationKind; never changes while tracked
    uint32_t requested_pages;  // distinct pages of the last wholesale report
    uint32_t chunks;           // chunks the relation holds
    uint32_t target_chunks;    // its share of the capacity (database_targets.hpp)
    uint32_t target_pages;
    uint32_t database_limit_chunks;  // its database's page limit as a session of that
                                     // database last put it in force (equal in all of the
                                     // database's slots); kNoChunkLimit: none
};
static_assert(sizeof(Slot) % alignof(core::fsm::DatabaseShare) == 0, "the scratch records follow the slots");
static_assert(std::is_same<pg::ScopeId, core::fsm::DatabaseId>::value && pg::kNoScope == core::fsm::kNoDatabase,
              "the map's databases are scopes");

// The map's root in the reserved DSA area.
struct FsmRoot {
    uint32_t magic;
    LWLock directory;
    dsa_pointer table;
    dsa_pointer slots;                      // Slot[slot_capacity] + DatabaseShare[slot_capacity]; invalid while 0
    uint32_t slot_capacity;
    std::atomic<uint32_t> relations;        // slots in use
    std::atomic<uint64_t> capacity_chunks;  // capacity_chunks(max_pages_applied)
    std::atomic<uint64_t> held_chunks;      // sum of the slots' chunks
    std::atomic<uint64_t> requested_chunks; // sum of the slots' requests, in chunks
    std::atomic<int32_t> max_pages_applied;      // simple_cache.fsm_max_pages in force (-1: none yet)
    std::atomic<int32_t> max_relations_applied;  // simple_cache.fsm_max_relations in force
    std::atomic<uint64_t> evictions;        // relations dropped to stay within max_relations
    uint64_t reclaim_clock;                 // reclaim.hpp's hand, a slot number
    uint32_t evict_hand;                    // the eviction clock's hand, a slot number
};

// This backend's handle on the shared map.
struct Shared {
    FsmRoot *root;
    FsmTable *table;
    pg::DsaPolicy *policy;  // the reserved area's memory, with partition locks in the fsm tranche
    int relation_tranche;
};

// Attaches this backend to the map, creating it on first use in the cluster.
Shared &shared();

// Whether the map exists in this server, found without creating anything.
bool in_use();

// Registers the struct holding the map's tranche ids with the shared memory registry, which
// assigns them in the postmaster, so every backend knows the tranche names (from _PG_init,
// when preloaded).
void shared_install();

// The hash table key of a relation of the current database. Resolves the database's scope,
// which may read the catalogs: call before taking any map lock.
inline FsmKey key_of(Oid relid)
{
    return FsmKey{pg::current_scope(), relid};
}

// The table's view of a key.
inline core::KeyView key_view(const FsmKey &key)
{
    return core::KeyView{&key, sizeof key};
}

// Marks an entry as recently used, for the eviction clock.
inline void touch(RelationEntry &entry)
{
    if (__atomic_load_n(&entry.referenced, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&entry.referenced, 1, __ATOMIC_RELAXED);
}

}  // namespace simple_cache::fsm
