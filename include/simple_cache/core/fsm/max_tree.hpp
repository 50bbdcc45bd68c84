// An implicit max tree (a segment tree keeping maxima) over a heap relation's free-space
// amounts, so that finding a page with enough room takes O(log n) instead of a scan.
//
// For `leaves` slots (a power of two) the tree is an array of 2 * leaves amounts: node 1 is the
// root, node k has children 2k and 2k + 1, and slot i is the leaf at node leaves + i (node 0 is
// unused). Every inner node holds the maximum of its children. The leaves ARE the amounts: the
// relation keeps no separate array of them. Unused slots hold 0 and lie beyond the `end` that
// searches are given, so they are never returned.
//
// The view owns nothing; it works on an array that lives in the relation's storage.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

class MaxTreeView {
  public:
    // Returned by the searches when no slot qualifies.
    static constexpr uint32_t kNotFound = 0xFFFFFFFFu;

    // The number of leaves for `slots` slots: the next power of two (at least 1).
    static constexpr uint32_t leaves_for(uint32_t slots)
    {
        uint32_t leaves = 1;
        while (leaves < slots)
            leaves <<= 1;
        return leaves;
    }

    // Amounts in the array of a tree with `leaves` leaves.
    static constexpr size_t node_count(uint32_t leaves) { return size_t{2} * leaves; }

    MaxTreeView(Avail *nodes, uint32_t leaves) : nodes_(nodes), leaves_(leaves) {}

    uint32_t leaves() const { return leaves_; }

    // The amount in slot i.
    Avail get(uint32_t i) const { return nodes_[leaves_ + i]; }

    // Sets slot i and refreshes the maxima above it: O(log n).
    void set(uint32_t i, Avail value)
    {
        size_t node = size_t{leaves_} + i;
        nodes_[node] = value;
        for (node >>= 1; node >= 1; node >>= 1) {
            Avail left = nodes_[2 * node];
            Avail right = nodes_[2 * node + 1];
            Avail larger = left > right ? left : right;
            if (nodes_[node] == larger)
                break;  // nothing above changes either
            nodes_[node] = larger;
        }
    }

    // Writes slot i without refreshing the maxima above it: for filling many slots before one
    // rebuild().
    void put(uint32_t i, Avail value) { nodes_[size_t{leaves_} + i] = value; }

    // Recomputes every inner node from the leaves: O(leaves).
    void rebuild()
    {
        for (size_t node = leaves_ - 1; node >= 1; --node) {
            Avail left = nodes_[2 * node];
            Avail right = nodes_[2 * node + 1];
            nodes_[node] = left > right ? left : right;
        }
    }

    // Sets slots [from, leaves) to 0 and recomputes the inner nodes.
    void clear_from(uint32_t from)
    {
        for (uint32_t i = from; i < leaves_; ++i)
            nodes_[leaves_ + i] = 0;
        rebuild();
    }

    // The first slot in [begin, end) holding at least `needed`, or kNotFound: O(log n).
    uint32_t find_first(uint32_t begin, uint32_t end, uint32_t needed) const
    {
        if (begin >= end || needed > kMaxAvail)
            return kNotFound;
        // Walk up from both ends, visiting the nodes that exactly cover [begin, end): the left
        // ones come in slot order, the right ones in reverse order, so those are stacked.
        size_t left = size_t{leaves_} + begin;
        size_t right = size_t{leaves_} + end;
        size_t right_nodes[40];
        int stacked = 0;
        while (left < right) {
            if (left & 1) {
                if (nodes_[left] >= needed)
                    return descend(left, needed);
                ++left;
            }
            if (right & 1)
                right_nodes[stacked++] = --right;
            left >>= 1;
            right >>= 1;
        }
        while (stacked > 0) {
            size_t node = right_nodes[--stacked];
            if (nodes_[node] >= needed)
                return descend(node, needed);
        }
        return kNotFound;
    }

    // The first slot at or after `start` holding at least `needed`, wrapping around to slot 0
    // after end - 1; only slots below `end` are considered. kNotFound when none qualifies.
    uint32_t find_wrapping(uint32_t start, uint32_t end, uint32_t needed) const
    {
        if (start >= end)
            start = 0;
        uint32_t found = find_first(start, end, needed);
        return found != kNotFound ? found : find_first(0, start, needed);
    }

    // Whether every inner node holds the maximum of its children (for checks in tests).
    bool consistent() const
    {
        for (size_t node = 1; node < leaves_; ++node) {
            Avail left = nodes_[2 * node];
            Avail right = nodes_[2 * node + 1];
            if (nodes_[node] != (left > right ? left : right))
                return false;
        }
        return true;
    }

  private:
    // From a node known to hold at least `needed`, the leftmost slot below it that does.
    uint32_t descend(size_t node, uint32_t needed) const
    {
        while (node < leaves_)
            node = nodes_[2 * node] >= needed ? 2 * node : 2 * node + 1;
        return static_cast<uint32_t>(node - leaves_);
    }

    Avail *nodes_;
    uint32_t leaves_;
};

}  // namespace simple_cache::core::fsm
