// The free-space map's algorithms, free of any PostgreSQL dependency: everything a binding
// needs, in one include.
//
//   types.hpp            BlockNumber, Avail, kInvalidBlock, RelationKind, PageEntry
//   chunks.hpp           the budget's unit: 32 heap pages or 48 index pages per chunk
//   targets.hpp          sharing the capacity among relations: compute_targets()
//   fair_share.hpp       sharing the capacity among databases, max-min fair: fair_shares()
//   database_targets.hpp both together, databases first: compute_database_targets()
//   eviction.hpp         which relation goes when the map is full: choose_eviction()
//   histogram.hpp        choosing the pages a heap relation keeps: choose_thresholds()
//   max_tree.hpp         O(log n) search for a page with enough space: MaxTreeView
//   prepared_pages.hpp   a wholesale report sorted and deduplicated outside any lock
//   request_average.hpp  the decaying average request size
//   relation_state.hpp   RelationState (the fixed record) and StorageLayout (its one allocation)
//   relation.hpp         Relation<Policy>: all operations on one relation
//   reclaim.hpp          when other relations are trimmed: lazily, by a clock, with slack
//
// How a binding puts them together. It owns the shared memory, the relation directory (per
// relation: a RelationState, a lock, its target) and the locks. N relations; capacity
// C = capacity_chunks(fsm_max_pages); held = the sum of all relations' chunks().
//
//   record_many(rel, blocks, avail):
//     pages = PreparedPages::from_arrays(blocks, avail, n)       // no lock held; may throw
//     lock the directory exclusively
//       compute_database_targets(...) with pages.size() as rel's request  // O(N) arithmetic
//       want = target[rel].chunks
//       allow = allowance_chunks(want, chunks of rel, C - held)
//       if allow < want:                                        // others hold too much
//         reclaim_chunks(want - allow, N, &clock, N, i -> i == rel ? 0 :
//                        lock i; trim_over_target(relation i, target[i].chunks, BLCKSZ); unlock i)
//         allow = allowance_chunks(want, chunks of rel, C - held)
//       lock rel
//         r = replace_pages(pages, target_pages(kind, pages.size(), allow), BLCKSZ)
//       unlock rel
//     unlock the directory; report r.kept (or out of memory)
//   record(rel, block, avail)             lock rel; record(block, avail)
//   get_page(rel, needed)                 lock rel; get_page(needed)
//   record_and_get_page(rel, b, a, need)  lock rel; record_and_get_page(b, a, need)
//   avg_request(rel)                      lock rel shared; avg_request()
//   add_free_page(rel, block)             directory, then rel: add_free_page(block, allowance_chunks(
//                                           max(target[rel].chunks, minimum), chunks, C - held)),
//                                           so a list never reported can still hold its minimum
//   get_free_page(rel)                    lock rel; get_free_page()
//   shrinking an index relation           n = trailing_free_pages(nblocks); truncate the file to
//                                           nblocks - n pages; forget_pages_from(nblocks - n)
//   dropping a relation                   release(); then recompute targets when convenient
//   a new relation when N is at the limit  i = choose_eviction(..., fair, ...); drop relation i
//                                           (relations kept grouped by database, see eviction.hpp)
// Locks are always taken directory first, then relation: never a relation lock while waiting
// for the directory. Operations that change chunks() (replace_pages, trim_to, add_free_page)
// run under the directory lock so that `held` stays exact; the others need only rel's lock.
// Relation<Policy> itself takes no lock.

#pragma once

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/database_targets.hpp"
#include "simple_cache/core/fsm/eviction.hpp"
#include "simple_cache/core/fsm/fair_share.hpp"
#include "simple_cache/core/fsm/histogram.hpp"
#include "simple_cache/core/fsm/max_tree.hpp"
#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/core/fsm/reclaim.hpp"
#include "simple_cache/core/fsm/relation.hpp"
#include "simple_cache/core/fsm/relation_state.hpp"
#include "simple_cache/core/fsm/request_average.hpp"
#include "simple_cache/core/fsm/targets.hpp"
#include "simple_cache/core/fsm/types.hpp"
