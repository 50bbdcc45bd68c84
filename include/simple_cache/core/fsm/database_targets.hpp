// Sharing the map's chunk budget among relations of several databases: first among the
// databases (fair_share.hpp: max-min fair over what each asks for in all, within its own
// limit), then within each database among its relations by the per-relation rules
// (targets.hpp: one chunk guaranteed per relation, the rest in proportion to the requests).
//
// So a database cannot squeeze another out of the map by asking for more pages, or by
// spreading its requests over more relations: a database asking for no more than
// capacity / databases keeps its whole request. With one database (or when everything fits),
// the targets are exactly those of compute_targets() over all relations.
//
// The relations are given in an order in which each database's relations are contiguous (a
// run); the order within a run decides the rounding as in targets.hpp. The caller provides
// room for one DatabaseShare per run (at most one per relation). O(relations + databases *
// log(request)), no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/fsm/fair_share.hpp"
#include "simple_cache/core/fsm/targets.hpp"

namespace simple_cache::core::fsm {

// A database's identifier as the binding numbers them (0: none).
using DatabaseId = uint32_t;
inline constexpr DatabaseId kNoDatabase = 0;

// The end of the run of relations that starts at `begin`: the first position after it whose
// database differs (or n).
template <class DatabaseAt>
size_t run_end(size_t n, size_t begin, DatabaseAt &&database_at)
{
    DatabaseId database = database_at(begin);
    size_t end = begin + 1;
    while (end < n && database_at(end) == database)
        ++end;
    return end;
}

// Computes every relation's target. database_at(i) is relation i's database (equal databases
// contiguous), request_at(i) its TargetRequest, limit_at(i) its database's limit in chunks
// (kNoDatabaseLimit: none; asked at the first relation of each run), store(i, Target) receives
// its target. shares has room for one entry per database; on return entry j holds the j-th
// run's request, limit and share. Returns the totals over all relations.
template <class DatabaseAt, class RequestAt, class LimitAt, class Store>
BudgetTotals compute_database_targets(size_t n, const BudgetSettings &settings, DatabaseShare *shares,
                                      DatabaseAt &&database_at, RequestAt &&request_at, LimitAt &&limit_at,
                                      Store &&store)
{
    BudgetTotals totals;
    totals.capacity_chunks = settings.capacity_chunks;
    size_t k = 0;
    for (size_t begin = 0; begin < n; ++k) {
        size_t end = run_end(n, begin, database_at);
        DatabaseShare share;
        share.limit_chunks = limit_at(begin);
        for (size_t i = begin; i < end; ++i) {
            TargetRequest r = request_at(i);
            share.requested_chunks += chunks_for_pages(r.kind, r.pages);
        }
        shares[k] = share;
        begin = end;
    }
    fair_shares(shares, k, settings.capacity_chunks);
    size_t j = 0;
    for (size_t begin = 0; begin < n; ++j) {
        size_t end = run_end(n, begin, database_at);
        BudgetSettings own{shares[j].share_chunks, settings.minimum_chunks};
        BudgetTotals run = compute_targets(
            end - begin, own, [&](size_t i) { return request_at(begin + i); },
            [&](size_t i, Target t) { store(begin + i, t); });
        totals.requested_chunks += run.requested_chunks;
        totals.guaranteed_chunks += run.guaranteed_chunks;
        begin = end;
    }
    return totals;
}

}  // namespace simple_cache::core::fsm
