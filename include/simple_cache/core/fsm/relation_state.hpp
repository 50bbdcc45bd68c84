// What the map keeps for one relation: a small fixed record (RelationState) that the binding
// places in shared memory next to the relation's lock, pointing at one allocation of Policy
// memory that holds the relation's pages (StorageLayout).
//
// Storage of a heap relation with c chunks (s = 32c slots):
//   BlockNumber blocks[s]     page numbers in ascending order; slots [0, count) are used
//   Avail       tree[2L]      max tree (max_tree.hpp) whose L >= s leaves are the pages' free
//                             bytes, slot i holding blocks[i]'s amount
// Storage of an index relation with c chunks (s = 48c slots):
//   BlockNumber blocks[s]     free page numbers in ascending order in slots [first, first+count)
// A relation holding no chunk has no storage (null pointer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/max_tree.hpp"
#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

// The fixed part of a relation's entry. Trivially copyable, position-independent (it keeps a
// Policy pointer, no address). Make one with Relation<Policy>::init().
template <class Pointer>
struct RelationState {
    Pointer storage;           // the pages (see above); null while no chunk is held
    uint32_t kind;             // a RelationKind
    uint32_t chunks;           // chunks the storage was sized for
    uint32_t count;            // pages stored
    uint32_t first;            // index relations: slot of the lowest page (heap: always 0)
    uint32_t cursor;           // heap relations: slot where the next search starts
    uint32_t requested_pages;  // distinct pages of the last wholesale report: the budget request
    uint32_t request_average;  // accumulator of request_average.hpp
    uint32_t requests_seen;    // page requests so far (stops at its maximum)
};

// Where things are in a relation's storage, and its size, for a kind and a number of chunks.
struct StorageLayout {
    uint32_t slots = 0;        // pages the storage can hold
    uint32_t leaves = 0;       // heap: leaves of the max tree; index: 0
    size_t tree_offset = 0;    // heap: bytes before the max tree
    size_t bytes = 0;          // size of the allocation (0: no storage)

    // The layout for `chunks` chunks of the given kind (chunks * pages per chunk must not pass
    // kMaxPagesPerRelation).
    static StorageLayout of(RelationKind kind, uint32_t chunks)
    {
        StorageLayout layout;
        layout.slots = static_cast<uint32_t>(pages_in_chunks(kind, chunks));
        size_t block_bytes = size_t{layout.slots} * sizeof(BlockNumber);
        if (kind == RelationKind::heap && chunks > 0) {
            layout.leaves = MaxTreeView::leaves_for(layout.slots);
            layout.tree_offset = block_bytes;
            layout.bytes = block_bytes + MaxTreeView::node_count(layout.leaves) * sizeof(Avail);
        } else {
            layout.bytes = block_bytes;
        }
        return layout;
    }
};

static_assert(alignof(BlockNumber) >= alignof(Avail), "the tree follows the block array");

}  // namespace simple_cache::core::fsm
