// Unit tests of how the free-space map gives room to a relation whose request grew
// (include/simple_cache/core/fsm/reclaim.hpp): the small helpers, the clock walk, and a
// simulated binding running whole-database VACUUM rounds over many relations, which must never
// hold more chunks than the capacity, must give every reporting relation its target, and must
// not trim relations over and over.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "simple_cache/core/fsm/fsm.hpp"
#include "simple_cache/core/heap_policy.hpp"

namespace {

using simple_cache::core::HeapPolicy;
using namespace simple_cache::core::fsm;

using TestRelation = Relation<HeapPolicy>;
using State = TestRelation::State;

constexpr uint32_t kPageSize = 8192;

// A report of pages 0..n-1 with random amounts.
PreparedPages random_report(uint32_t n, std::mt19937 &rng)
{
    std::vector<BlockNumber> blocks(n);
    std::vector<Avail> avail(n);
    for (uint32_t i = 0; i < n; ++i) {
        blocks[i] = i;
        avail[i] = static_cast<Avail>(rng() % (kPageSize + 1));
    }
    return PreparedPages::from_arrays(blocks.data(), avail.data(), n);
}

TEST(FsmReclaim, Helpers)
{
    EXPECT_EQ(trim_goal_chunks(0), 0u);
    EXPECT_EQ(trim_goal_chunks(1), 1u);
    EXPECT_EQ(trim_goal_chunks(8), 7u);
    EXPECT_EQ(trim_goal_chunks(80), 70u);
    EXPECT_TRUE(over_target(5, 4));
    EXPECT_FALSE(over_target(4, 4));
    EXPECT_EQ(allowance_chunks(10, 3, 100), 10u);
    EXPECT_EQ(allowance_chunks(10, 3, 4), 7u);
    EXPECT_EQ(allowance_chunks(10, 12, 0), 10u);
}

TEST(FsmReclaim, ClockWalkStopsWhenEnoughWasFreedAndResumesThere)
{
    std::vector<uint64_t> surplus = {0, 3, 0, 5, 2, 0};
    std::vector<size_t> visits;
    auto trim_one = [&](size_t i) {
        visits.push_back(i);
        uint64_t freed = surplus[i];
        surplus[i] = 0;
        return freed;
    };
    size_t clock = 2;
    ReclaimResult r = reclaim_chunks(4, surplus.size(), &clock, surplus.size(), trim_one);
    EXPECT_EQ(r.freed_chunks, 5u);
    EXPECT_EQ(r.visited, 2u);
    EXPECT_EQ(clock, 4u);
    EXPECT_EQ(visits, (std::vector<size_t>{2, 3}));

    visits.clear();
    r = reclaim_chunks(100, surplus.size(), &clock, surplus.size(), trim_one);  // wraps around
    EXPECT_EQ(r.freed_chunks, 5u);
    EXPECT_EQ(r.visited, 6u);
    EXPECT_EQ(visits, (std::vector<size_t>{4, 5, 0, 1, 2, 3}));
    EXPECT_EQ(clock, 4u);

    visits.clear();
    r = reclaim_chunks(100, surplus.size(), &clock, 2, trim_one);  // bounded visits
    EXPECT_EQ(r.visited, 2u);
    EXPECT_EQ(clock, 0u);
    r = reclaim_chunks(0, surplus.size(), &clock, 6, trim_one);  // nothing needed
    EXPECT_EQ(r.visited, 0u);
    r = reclaim_chunks(5, 0, &clock, 6, trim_one);  // no relations
    EXPECT_EQ(r.visited, 0u);
}

TEST(FsmReclaim, TrimOverTargetGoesAnEighthBelowTheTarget)
{
    HeapPolicy policy;
    std::mt19937 rng(1);
    State state;
    TestRelation::init(state, RelationKind::heap);
    TestRelation rel(policy, state);
    rel.replace_pages(random_report(320, rng), 320, kPageSize);
    ASSERT_EQ(rel.chunks(), 10u);
    EXPECT_EQ(trim_over_target(rel, 10, kPageSize), 0u);  // within its target
    EXPECT_EQ(trim_over_target(rel, 12, kPageSize), 0u);
    EXPECT_EQ(rel.chunks(), 10u);

    policy.fail_next_allocations(1);
    EXPECT_EQ(trim_over_target(rel, 8, kPageSize), 0u);  // no memory for the copy: nothing freed
    EXPECT_EQ(rel.chunks(), 10u);
    EXPECT_EQ(rel.count(), 320u);

    EXPECT_EQ(trim_over_target(rel, 8, kPageSize), 3u);  // to 7 chunks: 224 pages
    EXPECT_EQ(rel.chunks(), 7u);
    EXPECT_EQ(rel.count(), 224u);
    rel.release();
    EXPECT_EQ(policy.live_blocks(), 0);
}

// A binding as fsm.hpp describes it, over plain vectors.
class SimulatedMap {
  public:
    SimulatedMap(size_t relations, uint64_t capacity, std::mt19937 &rng) : capacity_(capacity)
    {
        states_.resize(relations);
        targets_.resize(relations);
        for (size_t i = 0; i < relations; ++i)
            TestRelation::init(states_[i], rng() % 4 == 0 ? RelationKind::index : RelationKind::heap);
    }
    ~SimulatedMap()
    {
        for (State &s : states_)
            TestRelation(policy_, s).release();
        EXPECT_EQ(policy_.live_blocks(), 0);
    }

    // Chunks held by all relations.
    uint64_t held() const
    {
        uint64_t sum = 0;
        for (const State &s : states_)
            sum += s.chunks;
        return sum;
    }

    // record_many for relation rel; returns the pages kept.
    uint32_t report(size_t rel, const PreparedPages &pages)
    {
        compute_targets(
            states_.size(), BudgetSettings{capacity_, kDefaultMinimumChunks},
            [&](size_t i) {
                uint64_t request = i == rel ? pages.size() : states_[i].requested_pages;
                return TargetRequest{request, static_cast<RelationKind>(states_[i].kind)};
            },
            [&](size_t i, Target t) { targets_[i] = t; });
        TestRelation r(policy_, states_[rel]);
        uint64_t want = targets_[rel].chunks;
        uint64_t allow = allowance_chunks(want, r.chunks(), capacity_ - held());
        if (allow < want) {
            reclaim_chunks(want - allow, states_.size(), &clock_, states_.size(), [&](size_t i) -> uint64_t {
                if (i == rel)
                    return 0;
                TestRelation other(policy_, states_[i]);
                uint64_t before = other.count();
                uint64_t freed = trim_over_target(other, targets_[i].chunks, kPageSize);
                if (freed > 0) {
                    ++trims_;
                    trimmed_pages_ += before;
                    freed_pages_ += before - other.count();
                }
                return freed;
            });
            allow = allowance_chunks(want, r.chunks(), capacity_ - held());
        }
        EXPECT_EQ(allow, want) << "a walk over every relation always finds the room";
        ReplaceResult result = r.replace_pages(pages, target_pages(r.kind(), pages.size(), allow), kPageSize);
        EXPECT_EQ(result.status, Status::ok);
        EXPECT_LE(r.chunks(), allow);
        EXPECT_LE(held(), capacity_);
        return result.kept;
    }

    const Target &target(size_t i) const { return targets_[i]; }
    uint64_t trims() const { return trims_; }
    uint64_t trimmed_pages() const { return trimmed_pages_; }
    uint64_t freed_pages() const { return freed_pages_; }

  private:
    HeapPolicy policy_;
    uint64_t capacity_;
    std::vector<State> states_;
    std::vector<Target> targets_;
    size_t clock_ = 0;
    uint64_t trims_ = 0;
    uint64_t trimmed_pages_ = 0;  // pages held by relations when they were trimmed
    uint64_t freed_pages_ = 0;
};

// Whole-database VACUUM rounds whose reports grow: the map stays within its capacity, each
// report gets its full target, and trimming stays proportionate to the pages it frees (no
// relation is trimmed again for every other relation's report).
TEST(FsmReclaim, WholeDatabaseVacuumRoundsStayWithinCapacityWithoutRetrimmingStorms)
{
    std::mt19937 rng(42);
    const size_t relations = 150;
    SimulatedMap map(relations, capacity_chunks(60000), rng);
    std::vector<uint32_t> size(relations);
    for (uint32_t &s : size)
        s = 20 + static_cast<uint32_t>(rng() % 400);
    uint64_t reports = 0;
    for (int round = 0; round < 8; ++round) {
        for (size_t rel = 0; rel < relations; ++rel) {
            size[rel] = size[rel] + size[rel] / 3 + static_cast<uint32_t>(rng() % 50);
            PreparedPages pages = random_report(size[rel], rng);
            uint32_t kept = map.report(rel, pages);
            EXPECT_EQ(kept, map.target(rel).pages);
            ++reports;
        }
    }
    // Seen: 1200 reports, 1364 trims passing over 672560 pages to free 114448. Trimming to the
    // exact target instead (no slack) takes 3389 trims over 1738404 pages for about as many.
    EXPECT_GT(map.trims(), 0u);                              // the map did get oversubscribed
    EXPECT_LE(map.trims(), 2 * reports);                     // not a trim of everyone per report
    EXPECT_LE(map.trimmed_pages(), 8 * map.freed_pages());   // work in proportion to pages freed
}

}  // namespace
