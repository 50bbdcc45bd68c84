// Sharing the map's chunk budget among relations: how many chunks (and so pages) each relation
// may keep.
//
// A relation's request is the number of distinct pages its last wholesale report offered,
// counted in chunks of its kind. When all requests fit in the capacity, every relation's target
// is its full request. Otherwise the map is oversubscribed (ratio = requested chunks / capacity
// chunks > 1) and the capacity is shared out in two steps:
//   1. every relation is guaranteed min(its request, minimum_chunks) first (default: one
//      chunk), so a relation with few pages is never squeezed out by large ones;
//   2. the chunks left over are divided in proportion to the part of each request above that
//      guarantee, which gives every relation about request / ratio.
// Shares are rounded so that they add up exactly to the chunks left over: the relation at
// position i gets floor(S(i)) - floor(S(i-1)), S(i) being the exact sum of the shares of
// positions 0..i. Each share is thus its exact value rounded down or up, and the targets add up
// to exactly the capacity, never more. (Which relations get the rounded-up chunks depends on
// their order; the binding keeps its relations in a stable order.) If even the guarantees exceed
// the capacity (more relations than chunks), the capacity is divided in proportion to the
// guarantees the same way.
//
// Example (the fsm_targets_test numbers): fsm_max_pages = 1000 gives 31 chunks. Heap relations
// asking for 2000, 1000 and 100 pages ask for 63, 32 and 4 chunks (99 in all, ratio 3.19). Each
// is guaranteed 1 chunk; the 28 chunks left are split 18 : 9 : 1 in proportion to 62 : 31 : 3.
// Targets: 19, 10 and 2 chunks, i.e. 608, 320 and 64 pages; 31 chunks in all.
//
// The targets of all relations are computed together, in O(number of relations), with no
// allocation; see reclaim.hpp for when relations are trimmed down to new targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

// The guarantee each relation gets before the rest is divided, unless the binding says otherwise.
inline constexpr uint64_t kDefaultMinimumChunks = 1;

// What one relation asks for: its distinct reported pages and its kind.
struct TargetRequest {
    uint64_t pages = 0;
    RelationKind kind = RelationKind::heap;
};

// What one relation may keep: whole chunks, and the pages they hold (never above its request).
struct Target {
    uint64_t chunks = 0;
    uint64_t pages = 0;
};

// The budget to share out.
struct BudgetSettings {
    uint64_t capacity_chunks = 0;
    uint64_t minimum_chunks = kDefaultMinimumChunks;
};

// Sums over all relations, for reports (as VACUUM VERBOSE printed them in 2003) and decisions.
struct BudgetTotals {
    uint64_t requested_chunks = 0;
    uint64_t guaranteed_chunks = 0;  // sum of min(request, minimum)
    uint64_t capacity_chunks = 0;

    // Whether the requests exceed the capacity.
    bool oversubscribed() const { return requested_chunks > capacity_chunks; }

    // Requested chunks per chunk of capacity (above 1 when oversubscribed).
    double ratio() const
    {
        if (capacity_chunks == 0)
            return requested_chunks == 0 ? 0.0 : std::numeric_limits<double>::infinity();
        return static_cast<double>(requested_chunks) / static_cast<double>(capacity_chunks);
    }
};

// floor(a * b / c) without overflow (c > 0).
inline uint64_t mul_div_floor(uint64_t a, uint64_t b, uint64_t c)
{
    __extension__ using Wide = unsigned __int128;
    return static_cast<uint64_t>(static_cast<Wide>(a) * b / c);
}

// The pages a relation may keep with target_chunks chunks: what they hold, at most its request.
constexpr uint64_t target_pages(RelationKind kind, uint64_t request_pages, uint64_t target_chunks)
{
    uint64_t room = pages_in_chunks(kind, target_chunks);
    return request_pages < room ? request_pages : room;
}

// Computes every relation's target. request_at(i) returns relation i's TargetRequest (it is
// called twice per relation and must answer the same both times); store(i, Target) receives
// its target. Runs in O(n) and returns the totals.
template <class RequestAt, class Store>
BudgetTotals compute_targets(size_t n, const BudgetSettings &settings, RequestAt &&request_at, Store &&store)
{
    BudgetTotals totals;
    totals.capacity_chunks = settings.capacity_chunks;
    for (size_t i = 0; i < n; ++i) {
        TargetRequest r = request_at(i);
        uint64_t asked = chunks_for_pages(r.kind, r.pages);
        totals.requested_chunks += asked;
        totals.guaranteed_chunks += asked < settings.minimum_chunks ? asked : settings.minimum_chunks;
    }

    uint64_t capacity = settings.capacity_chunks;
    bool fits = !totals.oversubscribed();
    bool guarantees_fit = totals.guaranteed_chunks < capacity;
    // What is shared in proportion, and the whole it is a proportion of.
    uint64_t shared = guarantees_fit ? capacity - totals.guaranteed_chunks : capacity;
    uint64_t whole = guarantees_fit ? totals.requested_chunks - totals.guaranteed_chunks
                                    : totals.guaranteed_chunks;
    uint64_t running = 0;      // sum of the weights of the relations seen so far
    uint64_t handed_out = 0;   // floor of their exact shares' sum
    for (size_t i = 0; i < n; ++i) {
        TargetRequest r = request_at(i);
        uint64_t asked = chunks_for_pages(r.kind, r.pages);
        uint64_t guaranteed = asked < settings.minimum_chunks ? asked : settings.minimum_chunks;
        uint64_t chunks = asked;
        if (!fits) {
            uint64_t weight = guarantees_fit ? asked - guaranteed : guaranteed;
            running += weight;
            uint64_t through_here = whole == 0 ? 0 : mul_div_floor(running, shared, whole);
            uint64_t share = through_here - handed_out;
            handed_out = through_here;
            chunks = guarantees_fit ? guaranteed + share : share;
        }
        store(i, Target{chunks, target_pages(r.kind, r.pages, chunks)});
    }
    return totals;
}

// The same over plain arrays: targets[i] is the target of requests[i].
inline BudgetTotals compute_targets(const TargetRequest *requests, size_t n, const BudgetSettings &settings,
                                    Target *targets)
{
    return compute_targets(
        n, settings, [requests](size_t i) { return requests[i]; },
        [targets](size_t i, Target t) { targets[i] = t; });
}

}  // namespace simple_cache::core::fsm
