// The relation directory: the slot array and the totals, and everything that changes which
// relations are tracked or how the capacity is shared among them. Every function here runs
// with the directory lock held exclusively by the caller (DirectoryLock), unless it says
// otherwise; none takes the directory lock itself except maybe_apply_settings().
//
// Failure rule: translating a DSA pointer (slots(), entry_of()) can raise an error, so every
// function translates what it needs before it changes anything, and a function that may fail
// leaves the directory, the entries and the totals consistent (it did all of its change, or
// none of it).
#pragma once

#include <cstdint>

#include "simple_cache/fsm/shared.hpp"

namespace simple_cache::fsm {

inline constexpr int32_t kNoSlot = -1;

// The limits a database's own sessions put in force for it (database_limits.hpp). Reports
// made for another database, or by a load of the saved map, carry none and leave that
// database's limits as they are.
struct DatabaseLimits {
    bool apply = false;                   // whether these are the database's own settings
    uint32_t max_relations = 0;           // relations it may track; 0: no limit of its own
    uint32_t max_chunks = kNoChunkLimit;  // chunks its relations may hold in all
};

// The slots of one database: [begin, end) of the slot array (empty, at the position its first
// slot would take, when it tracks no relation).
struct DatabaseRun {
    uint32_t begin;
    uint32_t end;

    uint32_t size() const { return end - begin; }
};

// The directory's slots (address valid until the directory lock is released, or until
// create_relation() moved them). May throw.
Slot *slots(Shared &s);

// Number of tracked relations.
uint32_t relation_count(Shared &s);

// The slot of key, or kNoSlot. May throw.
int32_t find_slot(Shared &s, const FsmKey &key);

// The run of database's slots in all (= slots(s)), by binary search. Never throws.
DatabaseRun database_run(Shared &s, const Slot *all, pg::ScopeId database);

// The entry of a tracked relation (stable while the directory lock is held); nullptr only if
// the table lost it, which check() reports. May throw.
RelationEntry *entry_of(Shared &s, const FsmKey &key);

// Starts tracking key as an empty relation of the given kind, at the end of its database's
// run. First makes room: when limits say the database tracks as many relations as it may, it
// forgets the database's least recently used relation; when simple_cache.fsm_max_relations
// are tracked, the least recently used relation of the database tracking the most (eviction
// .hpp's fair rule). A new run takes limits' page limit when they apply. Returns its slot
// and entry; throws SqlError 53200 when shared memory ran out (nothing changed then, apart
// from evictions).
int32_t create_relation(Shared &s, const FsmKey &key, core::fsm::RelationKind kind, const DatabaseLimits &limits,
                        RelationEntry **entry);

// Forgets one relation to make room for a relation of newcomer (kNoScope: nobody, the limit
// was lowered), chosen by core::fsm::choose_eviction in the given scope. Other relations'
// targets are left as they were. False when there was no candidate. May throw before
// changing anything.
bool evict_one(Shared &s, pg::ScopeId newcomer, core::fsm::EvictionScope scope);

// Stops tracking the relation in slot i of all (= slots(s)): frees its pages, removes its
// entry and its slot, and its chunks and request from the totals. Other relations' targets are
// left as they were (call recompute_targets() once done). May throw before changing anything.
void remove_relation(Shared &s, Slot *all, uint32_t i);

// Undoes create_relation() after the operation that created the relation failed: removes it
// again if it is still there. Never throws (a failure leaves it tracked, empty).
void uncreate_relation(Shared &s, const FsmKey &key) noexcept;

// Makes the relation of slot (entry e) an empty relation of the given kind. Never throws.
void reset_relation(Shared &s, Slot &slot, RelationEntry &e, core::fsm::RelationKind kind);

// Recomputes every relation's target from the requests and the capacity, and the requested
// total. O(relations), never throws.
void recompute_targets(Shared &s, Slot *all);

// Chunks of the capacity no relation holds (0 when the relations hold more, after the
// capacity was lowered).
uint64_t free_chunks(Shared &s);

// Trims the relation of slot if it holds more than its target (under its lock, to 7/8 of
// the target: reclaim.hpp); returns the chunks it gave back. May throw before changing it.
uint64_t trim_slot(Shared &s, Slot &slot);

// Trims relations over their targets, starting at the reclaim clock, until `needed` chunks
// were freed or every relation was visited; never trims slot `except`. Returns chunks freed.
// May throw between two relations.
uint64_t reclaim(Shared &s, Slot *all, int32_t except, uint64_t needed);

// Records that the relation of slot now holds `chunks` chunks (after a change made under its
// lock), keeping the held total exact. Never throws.
void set_chunks(Shared &s, Slot &slot, uint32_t chunks);

// Puts the settings in force if this backend's values differ from the applied ones: a new
// capacity recomputes targets and trims relations down to it; a lower relation limit evicts.
void apply_settings(Shared &s);

// apply_settings() under a directory lock of its own, only when a setting changed. Call with
// no map lock held.
void maybe_apply_settings(Shared &s);

}  // namespace simple_cache::fsm
