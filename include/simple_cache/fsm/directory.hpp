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

// The directory's slots (address valid until the directory lock is released, or until
// create_relation() moved them). May throw.
Slot *slots(Shared &s);

// Number of tracked relations.
uint32_t relation_count(Shared &s);

// The slot of key, or kNoSlot. May throw.
int32_t find_slot(Shared &s, const FsmKey &key);

// The entry of a tracked relation (stable while the directory lock is held); nullptr only if
// the table lost it, which check() reports. May throw.
RelationEntry *entry_of(Shared &s, const FsmKey &key);

// Starts tracking key as an empty relation of the given kind, evicting the least recently
// used relation first when simple_cache.fsm_max_relations are tracked. Returns its slot and
// entry; throws SqlError 53200 when shared memory ran out (nothing changed then, apart from
// an eviction).
int32_t create_relation(Shared &s, const FsmKey &key, core::fsm::RelationKind kind, RelationEntry **entry);

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
