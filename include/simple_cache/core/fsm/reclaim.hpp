// When relations are trimmed down to new targets: lazily, and never all at once.
//
// Targets (targets.hpp) add up to at most the capacity, but a relation's target only shrinks
// on paper when another relation's request grows; its pages stay until something trims them.
// Trimming every relation at every report would cost O(pages in the map) per report, O(N^2)
// over a whole-database VACUUM. Instead:
//   1. On a wholesale report for relation X, the binding records X's new request and
//      recomputes all targets: O(N) arithmetic, no page touched.
//   2. X may take allowance_chunks(): its target, limited by the free chunks plus what X holds.
//   3. Only if that is short of X's target does the binding reclaim the difference with
//      reclaim_chunks(): starting at a clock hand that persists between calls, it visits the
//      relations in turn and trims those holding more than their target (trim_over_target()),
//      stopping as soon as enough was freed or max_visits relations were visited. Since the
//      targets fit in the capacity, chunks are short only while some relation holds more than
//      its target, so a walk over all relations always finds the room.
//   4. Optionally, when the binding holds the directory and a relation's lock anyway, it may
//      call trim_over_target() for that relation: a comparison, and a trim only when over.
// A relation is trimmed a little below its target (to 7/8 of it, trim_goal_chunks()), so the
// many small target changes of a whole-database VACUUM do not trim the same relation again and
// again: a trim gives back about 1/8 or more of what the relation held, so the total trimming
// work stays within a constant times the pages freed. Room freed beyond the need stays free
// for the next reports.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/relation.hpp"

namespace simple_cache::core::fsm {

// Trims go this fraction below the target (see above).
inline constexpr uint64_t kTrimSlackDivisor = 8;

// The chunks a relation holding more than target_chunks is trimmed to.
constexpr uint64_t trim_goal_chunks(uint64_t target_chunks)
{
    return target_chunks - target_chunks / kTrimSlackDivisor;
}

// Whether a relation holding held_chunks must give some back.
constexpr bool over_target(uint64_t held_chunks, uint64_t target_chunks) { return held_chunks > target_chunks; }

// The chunks a relation may hold after its report: its target, or less when the map has not
// that much free (free_chunks = capacity - chunks held by all relations).
constexpr uint64_t allowance_chunks(uint64_t target_chunks, uint64_t held_chunks, uint64_t free_chunks)
{
    uint64_t reachable = held_chunks + free_chunks;
    return target_chunks < reachable ? target_chunks : reachable;
}

// Trims rel (locked exclusively by the caller) if it holds more than target_chunks; returns the
// chunks it gave back (0 when it was within its target or memory for the smaller copy ran out).
template <class Policy>
uint64_t trim_over_target(Relation<Policy> &rel, uint64_t target_chunks, uint32_t page_size)
{
    uint64_t held = rel.chunks();
    if (!over_target(held, target_chunks))
        return 0;
    uint64_t goal_pages = pages_in_chunks(rel.kind(), trim_goal_chunks(target_chunks));
    if (rel.trim_to(goal_pages, page_size) != Status::ok)
        return 0;
    return held - rel.chunks();
}

// What a reclaim walk did.
struct ReclaimResult {
    uint64_t freed_chunks = 0;
    size_t visited = 0;
};

// Visits relations clock, clock + 1, ... (modulo `relations`) calling trim_one(i), which
// returns the chunks relation i gave back (typically trim_over_target() under i's lock; 0 to
// skip it: the reporting relation itself, an empty slot, a lock it would rather not wait for).
// Stops once needed_chunks were freed or max_visits relations were visited; *clock is left at
// the next relation to visit, so successive walks share the trimming out.
template <class TrimOne>
ReclaimResult reclaim_chunks(uint64_t needed_chunks, size_t relations, size_t *clock, size_t max_visits,
                             TrimOne &&trim_one)
{
    ReclaimResult result;
    if (relations == 0)
        return result;
    size_t hand = *clock % relations;
    while (result.freed_chunks < needed_chunks && result.visited < max_visits) {
        result.freed_chunks += trim_one(hand);
        ++result.visited;
        hand = hand + 1 < relations ? hand + 1 : 0;
    }
    *clock = hand;
    return result;
}

}  // namespace simple_cache::core::fsm
