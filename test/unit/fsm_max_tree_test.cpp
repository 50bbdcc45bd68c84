// Unit tests of the max tree that finds pages with enough free space
// (include/simple_cache/core/fsm/max_tree.hpp): sizes, edge cases, and a randomized comparison
// of every search with a linear scan while slots are updated, including wrap-around searches.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "simple_cache/core/fsm/max_tree.hpp"

namespace {

using namespace simple_cache::core::fsm;

constexpr uint32_t kNotFound = MaxTreeView::kNotFound;

// A tree with its own array, as a relation's storage would hold it.
struct OwnedTree {
    explicit OwnedTree(uint32_t slots)
        : nodes(MaxTreeView::node_count(MaxTreeView::leaves_for(slots)), 0),
          tree(nodes.data(), MaxTreeView::leaves_for(slots))
    {
    }
    std::vector<Avail> nodes;
    MaxTreeView tree;
};

// The first slot in [begin, end) holding at least needed, by scanning.
uint32_t linear_first(const std::vector<Avail> &v, uint32_t begin, uint32_t end, uint32_t needed)
{
    for (uint32_t i = begin; i < end; ++i)
        if (v[i] >= needed)
            return i;
    return kNotFound;
}

// The same with wrap-around from start (start at or past end means 0).
uint32_t linear_wrapping(const std::vector<Avail> &v, uint32_t start, uint32_t end, uint32_t needed)
{
    if (start >= end)
        start = 0;
    uint32_t found = linear_first(v, start, end, needed);
    return found != kNotFound ? found : linear_first(v, 0, start, needed);
}

uint32_t below(std::mt19937 &rng, uint32_t n) { return static_cast<uint32_t>(rng() % n); }

TEST(FsmMaxTree, LeavesArePowersOfTwo)
{
    EXPECT_EQ(MaxTreeView::leaves_for(0), 1u);
    EXPECT_EQ(MaxTreeView::leaves_for(1), 1u);
    EXPECT_EQ(MaxTreeView::leaves_for(2), 2u);
    EXPECT_EQ(MaxTreeView::leaves_for(32), 32u);
    EXPECT_EQ(MaxTreeView::leaves_for(33), 64u);
    EXPECT_EQ(MaxTreeView::leaves_for(96), 128u);
    EXPECT_EQ(MaxTreeView::node_count(128), 256u);
}

TEST(FsmMaxTree, SingleLeaf)
{
    OwnedTree t(1);
    EXPECT_EQ(t.tree.find_first(0, 1, 1), kNotFound);
    t.tree.set(0, 10);
    EXPECT_EQ(t.tree.find_first(0, 1, 10), 0u);
    EXPECT_EQ(t.tree.find_first(0, 1, 11), kNotFound);
    EXPECT_EQ(t.tree.find_first(0, 0, 0), kNotFound);  // empty range
    EXPECT_EQ(t.tree.find_wrapping(5, 1, 3), 0u);       // a start past the end means 0
    EXPECT_TRUE(t.tree.consistent());
}

TEST(FsmMaxTree, FindsFirstQualifyingSlotAndWrapsAround)
{
    OwnedTree t(8);
    const Avail amounts[] = {5, 100, 7, 300, 0, 100, 2, 50};
    for (uint32_t i = 0; i < 8; ++i)
        t.tree.set(i, amounts[i]);
    EXPECT_EQ(t.tree.find_first(0, 8, 100), 1u);
    EXPECT_EQ(t.tree.find_first(2, 8, 100), 3u);
    EXPECT_EQ(t.tree.find_first(4, 8, 100), 5u);
    EXPECT_EQ(t.tree.find_first(6, 8, 100), kNotFound);
    EXPECT_EQ(t.tree.find_wrapping(6, 8, 100), 1u);
    EXPECT_EQ(t.tree.find_wrapping(6, 8, 301), kNotFound);
    EXPECT_EQ(t.tree.find_first(0, 8, 0), 0u);  // anything qualifies for 0 bytes
    EXPECT_EQ(t.tree.find_first(0, 3, 300), kNotFound);  // slot 3 lies past the end given
    EXPECT_EQ(t.tree.find_first(0, 8, kMaxAvail + 1), kNotFound);
}

TEST(FsmMaxTree, UnusedSlotsBeyondEndAreNeverReturned)
{
    OwnedTree t(5);  // 8 leaves
    for (uint32_t i = 0; i < 5; ++i)
        t.tree.set(i, 1);
    EXPECT_EQ(t.tree.find_wrapping(3, 5, 0), 3u);
    EXPECT_EQ(t.tree.find_first(5, 8, 0), 5u);  // the caller's end is what bounds the search
    EXPECT_EQ(t.tree.find_wrapping(4, 5, 2), kNotFound);
}

TEST(FsmMaxTree, ClearFromZeroesTheTail)
{
    OwnedTree t(16);
    for (uint32_t i = 0; i < 16; ++i)
        t.tree.set(i, static_cast<Avail>(100 + i));
    t.tree.clear_from(10);
    EXPECT_TRUE(t.tree.consistent());
    EXPECT_EQ(t.tree.get(9), 109);
    EXPECT_EQ(t.tree.get(10), 0);
    EXPECT_EQ(t.tree.find_first(0, 16, 110), kNotFound);
}

TEST(FsmMaxTree, PutThenRebuild)
{
    OwnedTree t(6);
    for (uint32_t i = 0; i < 6; ++i)
        t.tree.put(i, static_cast<Avail>(i * 10));
    t.tree.rebuild();
    EXPECT_TRUE(t.tree.consistent());
    EXPECT_EQ(t.tree.find_first(0, 6, 35), 4u);
}

// Randomized: searches agree with a linear scan after every update, for many sizes, value
// ranges (including many equal values), ranges and wrap-around starts.
TEST(FsmMaxTree, RandomizedAgainstLinearScan)
{
    for (uint32_t seed = 1; seed <= 300; ++seed) {
        std::mt19937 rng(seed);
        uint32_t slots = 1 + below(rng, seed % 10 == 0 ? 2000 : 130);
        uint32_t range = below(rng, 3) == 0 ? 4 : 8193;  // few distinct values, or a page's worth
        OwnedTree t(slots);
        std::vector<Avail> v(slots, 0);
        for (uint32_t i = 0; i < slots; ++i) {
            v[i] = static_cast<Avail>(below(rng, range));
            t.tree.put(i, v[i]);
        }
        t.tree.rebuild();
        for (int op = 0; op < 400; ++op) {
            if (below(rng, 3) == 0) {
                uint32_t i = below(rng, slots);
                v[i] = static_cast<Avail>(below(rng, range));
                t.tree.set(i, v[i]);
                ASSERT_EQ(t.tree.get(i), v[i]);
            }
            uint32_t needed = below(rng, 8) == 0 ? 0 : below(rng, range + 2);
            uint32_t begin = below(rng, slots + 1);
            uint32_t end = begin + below(rng, slots + 1 - begin);
            ASSERT_EQ(t.tree.find_first(begin, end, needed), linear_first(v, begin, end, needed))
                << "seed " << seed << " op " << op;
            uint32_t used = 1 + below(rng, slots);  // slots in use: the search's end
            uint32_t start = below(rng, used + 2);
            ASSERT_EQ(t.tree.find_wrapping(start, used, needed), linear_wrapping(v, start, used, needed))
                << "seed " << seed << " op " << op;
        }
        ASSERT_TRUE(t.tree.consistent());
    }
}

}  // namespace
