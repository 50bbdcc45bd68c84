// Unit tests of index relations in the free-space map: the free-page list of
// include/simple_cache/core/fsm/relation.hpp. Lowest page first, duplicates refused, growth up
// to the allowed chunks and what happens when full, the trailing-free-run report for shrinking
// the relation, wholesale replacement keeping the lowest pages, allocation failures, and a
// randomized comparison with std::set.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <set>
#include <vector>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/core/fsm/relation.hpp"
#include "simple_cache/core/heap_policy.hpp"

namespace {

using simple_cache::core::HeapPolicy;
using namespace simple_cache::core::fsm;

using TestRelation = Relation<HeapPolicy>;
using State = TestRelation::State;

constexpr uint32_t kPageSize = 8192;
constexpr uint64_t kNoLimit = UINT32_MAX;

// An index relation with its state and policy, released (and checked for leaks) at the end.
struct Fixture {
    Fixture() { TestRelation::init(state, RelationKind::index); }
    ~Fixture()
    {
        rel.release();
        EXPECT_EQ(policy.live_blocks(), 0);
        EXPECT_EQ(policy.live_bytes(), 0);
    }
    HeapPolicy policy;
    State state;
    TestRelation rel{policy, state};
};

// The listed pages in order.
std::vector<BlockNumber> listed(const TestRelation &rel)
{
    std::vector<BlockNumber> out;
    for (uint32_t i = 0; i < rel.count(); ++i)
        out.push_back(rel.page_at(i).block);
    return out;
}

// Takes every page out of the list, lowest first.
std::vector<BlockNumber> drain(TestRelation &rel)
{
    std::vector<BlockNumber> out;
    for (BlockNumber b = rel.get_free_page(); b != kInvalidBlock; b = rel.get_free_page())
        out.push_back(b);
    return out;
}

PreparedPages blocks_report(const std::vector<BlockNumber> &blocks)
{
    return PreparedPages::from_arrays(blocks.data(), nullptr, blocks.size());
}

TEST(FsmFreeList, EmptyListHasNoPage)
{
    Fixture f;
    EXPECT_TRUE(f.rel.is_index());
    EXPECT_EQ(f.rel.get_free_page(), kInvalidBlock);
    EXPECT_EQ(f.rel.trailing_free_pages(10), 0u);
    EXPECT_EQ(f.rel.get_page(10), kInvalidBlock);  // heap operations do nothing here
    EXPECT_FALSE(f.rel.record(1, 10));
    EXPECT_EQ(f.policy.live_blocks(), 0);
}

TEST(FsmFreeList, HandsOutLowestPageFirst)
{
    Fixture f;
    for (BlockNumber b : {40u, 7u, 19u, 3u, 100u, 8u})
        EXPECT_EQ(f.rel.add_free_page(b, kNoLimit), AddResult::added);
    EXPECT_EQ(f.rel.get_free_page(), 3u);
    EXPECT_EQ(f.rel.get_free_page(), 7u);
    EXPECT_EQ(f.rel.add_free_page(1, kNoLimit), AddResult::added);
    EXPECT_EQ(drain(f.rel), (std::vector<BlockNumber>{1, 8, 19, 40, 100}));
    EXPECT_EQ(f.rel.get_free_page(), kInvalidBlock);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmFreeList, RefusesDuplicates)
{
    Fixture f;
    EXPECT_EQ(f.rel.add_free_page(5, kNoLimit), AddResult::added);
    EXPECT_EQ(f.rel.add_free_page(5, kNoLimit), AddResult::already_present);
    EXPECT_EQ(f.rel.add_free_page(6, kNoLimit), AddResult::added);
    EXPECT_EQ(f.rel.add_free_page(6, kNoLimit), AddResult::already_present);
    EXPECT_EQ(f.rel.count(), 2u);
    EXPECT_EQ(f.rel.add_free_page(kInvalidBlock, kNoLimit), AddResult::no_room);
    EXPECT_EQ(f.rel.get_free_page(), 5u);
    EXPECT_EQ(f.rel.add_free_page(5, kNoLimit), AddResult::added);  // taken out, so new again
}

TEST(FsmFreeList, GrowsByChunksUpToTheAllowance)
{
    Fixture f;
    for (BlockNumber b = 0; b < 48; ++b)
        ASSERT_EQ(f.rel.add_free_page(b * 2, 2), AddResult::added);
    EXPECT_EQ(f.rel.chunks(), 1u);
    EXPECT_EQ(f.rel.add_free_page(1000, 2), AddResult::added);
    EXPECT_EQ(f.rel.chunks(), 2u);
    EXPECT_EQ(f.policy.live_blocks(), 1);
    EXPECT_EQ(f.policy.live_bytes(), static_cast<int64_t>(f.rel.storage_bytes()));
    for (BlockNumber b = 0; b < 47; ++b)
        ASSERT_EQ(f.rel.add_free_page(2000 + b, 2), AddResult::added);
    EXPECT_EQ(f.rel.count(), 96u);
    // Full at its allowance: a page above all listed ones has no room...
    EXPECT_EQ(f.rel.add_free_page(5000, 2), AddResult::no_room);
    // ...but a lower one replaces the highest, since the lowest pages are the ones kept.
    EXPECT_EQ(f.rel.add_free_page(1, 2), AddResult::added);
    EXPECT_EQ(f.rel.count(), 96u);
    EXPECT_FALSE(f.rel.lookup(2046, nullptr));
    EXPECT_TRUE(f.rel.lookup(1, nullptr));
    // A larger allowance lets it grow by half its chunks.
    EXPECT_EQ(f.rel.add_free_page(5000, 10), AddResult::added);
    EXPECT_EQ(f.rel.chunks(), 3u);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmFreeList, ZeroAllowanceAddsNothing)
{
    Fixture f;
    EXPECT_EQ(f.rel.add_free_page(3, 0), AddResult::no_room);
    EXPECT_EQ(f.rel.count(), 0u);
    EXPECT_EQ(f.policy.live_blocks(), 0);
}

TEST(FsmFreeList, TrailingFreeRunEndsAtTheLastPage)
{
    Fixture f;
    for (BlockNumber b : {3u, 7u, 8u, 9u})
        f.rel.add_free_page(b, kNoLimit);
    EXPECT_EQ(f.rel.trailing_free_pages(10), 3u);  // 7, 8, 9 end a 10-page relation
    EXPECT_EQ(f.rel.trailing_free_pages(9), 2u);   // 7, 8 end a 9-page relation (9 is beyond it)
    EXPECT_EQ(f.rel.trailing_free_pages(11), 0u);  // page 10 is in use
    EXPECT_EQ(f.rel.trailing_free_pages(4), 1u);   // only page 3
    EXPECT_EQ(f.rel.trailing_free_pages(0), 0u);
    // Shrinking: the binding truncates the relation to 7 pages and forgets the run.
    uint32_t run = f.rel.trailing_free_pages(10);
    EXPECT_EQ(f.rel.forget_pages_from(10 - run), 3u);
    EXPECT_EQ(listed(f.rel), (std::vector<BlockNumber>{3}));
    EXPECT_EQ(f.rel.trailing_free_pages(7), 0u);
    EXPECT_EQ(f.rel.trailing_free_pages(4), 1u);
}

TEST(FsmFreeList, WholeRelationFreeIsOneRun)
{
    Fixture f;
    for (BlockNumber b = 0; b < 100; ++b)
        f.rel.add_free_page(99 - b, kNoLimit);
    EXPECT_EQ(f.rel.trailing_free_pages(100), 100u);
    EXPECT_EQ(f.rel.get_free_page(), 0u);
    EXPECT_EQ(f.rel.trailing_free_pages(100), 99u);  // the run no longer reaches page 0
}

TEST(FsmFreeList, ReplaceKeepsTheLowestPagesWhenTrimmed)
{
    Fixture f;
    ReplaceResult r = f.rel.replace_pages(blocks_report({90, 10, 50, 30, 70, 10, 20}), 4, kPageSize);
    EXPECT_EQ(r.status, Status::ok);
    EXPECT_EQ(r.kept, 4u);
    EXPECT_EQ(f.rel.requested_pages(), 6u);
    EXPECT_EQ(listed(f.rel), (std::vector<BlockNumber>{10, 20, 30, 50}));
    EXPECT_EQ(f.rel.chunks(), 1u);
    EXPECT_EQ(f.rel.trim_to(2, kPageSize), Status::ok);
    EXPECT_EQ(listed(f.rel), (std::vector<BlockNumber>{10, 20}));
    EXPECT_EQ(f.rel.trim_to(0, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.chunks(), 0u);
    EXPECT_EQ(f.policy.live_blocks(), 0);
}

TEST(FsmFreeList, TrimAfterGetFreePageGivesChunksBack)
{
    Fixture f;
    std::vector<BlockNumber> blocks;
    for (BlockNumber b = 0; b < 200; ++b)
        blocks.push_back(b);
    f.rel.replace_pages(blocks_report(blocks), 200, kPageSize);
    EXPECT_EQ(f.rel.chunks(), 5u);
    for (int i = 0; i < 150; ++i)
        f.rel.get_free_page();
    EXPECT_EQ(f.rel.chunks(), 5u);
    EXPECT_EQ(f.rel.trim_to(1000, kPageSize), Status::ok);  // fits, but holds too many chunks
    EXPECT_EQ(f.rel.chunks(), 2u);
    EXPECT_EQ(f.rel.count(), 50u);
    EXPECT_EQ(f.rel.get_free_page(), 150u);
    EXPECT_EQ(f.policy.live_bytes(), static_cast<int64_t>(f.rel.storage_bytes()));
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmFreeList, AllocationFailuresChangeNothing)
{
    Fixture f;
    // A full one-chunk list whose pages start at slot 1 (page 10 was taken out, then 1 added).
    for (BlockNumber b = 0; b < 48; ++b)
        f.rel.add_free_page(b + 10, kNoLimit);
    EXPECT_EQ(f.rel.get_free_page(), 10u);
    EXPECT_EQ(f.rel.add_free_page(1, kNoLimit), AddResult::added);
    ASSERT_EQ(f.rel.count(), f.rel.slots());
    State before = f.state;
    std::vector<BlockNumber> pages_before = listed(f.rel);

    // Growing the list fails.
    f.policy.fail_next_allocations(1);
    EXPECT_EQ(f.rel.add_free_page(5, kNoLimit), AddResult::out_of_memory);
    EXPECT_EQ(std::memcmp(&before, &f.state, sizeof(State)), 0);
    EXPECT_EQ(listed(f.rel), pages_before);

    // So does a wholesale report needing more chunks.
    std::vector<BlockNumber> big(500);
    for (BlockNumber b = 0; b < 500; ++b)
        big[b] = b;
    f.policy.fail_next_allocations(1);
    EXPECT_EQ(f.rel.replace_pages(blocks_report(big), 500, kPageSize).status, Status::out_of_memory);
    EXPECT_EQ(std::memcmp(&before, &f.state, sizeof(State)), 0);
    EXPECT_EQ(listed(f.rel), pages_before);
    EXPECT_EQ(f.policy.live_blocks(), 1);

    EXPECT_EQ(f.rel.add_free_page(5, kNoLimit), AddResult::added);
    EXPECT_EQ(f.rel.chunks(), 2u);
}

// Randomized against std::set: adds (with allowances), takes, trims, truncations, trailing runs.
TEST(FsmFreeList, RandomizedAgainstSet)
{
    for (uint32_t seed = 1; seed <= 60; ++seed) {
        std::mt19937 rng(seed);
        auto below = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
        Fixture f;
        std::set<BlockNumber> model;
        uint32_t range = 20 + below(1000);
        uint64_t allowance = 1 + below(6);
        for (int op = 0; op < 2000; ++op) {
            uint32_t what = below(100);
            if (what < 50) {
                BlockNumber b = below(range);
                AddResult r = f.rel.add_free_page(b, allowance);
                if (model.count(b) != 0) {
                    ASSERT_EQ(r, AddResult::already_present);
                } else if (model.size() < pages_in_chunks(RelationKind::index, allowance) ||
                           model.size() < f.rel.slots()) {
                    ASSERT_EQ(r, AddResult::added) << "seed " << seed << " op " << op;
                    model.insert(b);
                } else if (b > *model.rbegin()) {
                    ASSERT_EQ(r, AddResult::no_room);
                } else {
                    ASSERT_EQ(r, AddResult::added);
                    model.erase(std::prev(model.end()));
                    model.insert(b);
                }
            } else if (what < 85) {
                BlockNumber expected = model.empty() ? kInvalidBlock : *model.begin();
                ASSERT_EQ(f.rel.get_free_page(), expected);
                if (!model.empty())
                    model.erase(model.begin());
            } else if (what < 90) {
                uint64_t target = below(static_cast<uint32_t>(model.size()) + 5);
                ASSERT_EQ(f.rel.trim_to(target, kPageSize), Status::ok);
                while (model.size() > target)
                    model.erase(std::prev(model.end()));
                ASSERT_EQ(f.rel.chunks(), chunks_for_pages(RelationKind::index, model.size()));
            } else if (what < 93) {
                BlockNumber nblocks = below(range + 5);
                uint32_t forgotten = 0;
                while (!model.empty() && *model.rbegin() >= nblocks) {
                    model.erase(std::prev(model.end()));
                    ++forgotten;
                }
                ASSERT_EQ(f.rel.forget_pages_from(nblocks), forgotten);
            } else if (what < 96) {
                allowance = 1 + below(6);
            } else {
                BlockNumber nblocks = below(range + 5);
                uint32_t run = 0;
                while (run < nblocks && model.count(nblocks - 1 - run) != 0)
                    ++run;
                ASSERT_EQ(f.rel.trailing_free_pages(nblocks), run) << "seed " << seed << " op " << op;
            }
            ASSERT_EQ(f.rel.count(), model.size());
            if (op % 64 == 0 || what >= 85) {
                ASSERT_TRUE(f.rel.consistent()) << "seed " << seed << " op " << op;
                ASSERT_EQ(listed(f.rel), std::vector<BlockNumber>(model.begin(), model.end()));
                ASSERT_EQ(f.policy.live_bytes(), static_cast<int64_t>(f.rel.storage_bytes()));
            }
        }
    }
}

}  // namespace
