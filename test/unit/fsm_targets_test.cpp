// Unit tests of how the free-space map shares its chunk budget among relations
// (include/simple_cache/core/fsm/targets.hpp): the 2000/1000/100 example, the minimum each
// relation is guaranteed, the case without oversubscription, more relations than chunks, and a
// randomized check that the targets never add up to more than the capacity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/targets.hpp"

namespace {

using namespace simple_cache::core::fsm;

constexpr RelationKind kHeap = RelationKind::heap;
constexpr RelationKind kIndex = RelationKind::index;

// Targets of all requests for the given capacity and minimum.
std::vector<Target> targets_of(const std::vector<TargetRequest> &requests, uint64_t capacity,
                               uint64_t minimum = kDefaultMinimumChunks, BudgetTotals *totals = nullptr)
{
    std::vector<Target> out(requests.size());
    BudgetTotals t = compute_targets(requests.data(), requests.size(), BudgetSettings{capacity, minimum}, out.data());
    if (totals != nullptr)
        *totals = t;
    return out;
}

uint64_t sum_chunks(const std::vector<Target> &targets)
{
    uint64_t sum = 0;
    for (const Target &t : targets)
        sum += t.chunks;
    return sum;
}

// The done-criterion of the issue: a budget of 1000 pages (31 chunks) and three heap relations
// asking for 2000, 1000 and 100 pages (63, 32 and 4 chunks; ratio 99/31). Each gets its one
// guaranteed chunk; the 28 chunks left are split in proportion to 62 : 31 : 3, i.e. 18 : 9 : 1.
TEST(FsmTargets, BudgetOf1000PagesFor2000And1000And100Pages)
{
    BudgetTotals totals;
    std::vector<Target> t =
        targets_of({{2000, kHeap}, {1000, kHeap}, {100, kHeap}}, capacity_chunks(1000), 1, &totals);
    EXPECT_EQ(totals.capacity_chunks, 31u);
    EXPECT_EQ(totals.requested_chunks, 99u);
    EXPECT_EQ(totals.guaranteed_chunks, 3u);
    EXPECT_TRUE(totals.oversubscribed());
    EXPECT_NEAR(totals.ratio(), 99.0 / 31.0, 1e-12);

    EXPECT_EQ(t[0].chunks, 19u);
    EXPECT_EQ(t[1].chunks, 10u);
    EXPECT_EQ(t[2].chunks, 2u);
    EXPECT_EQ(t[0].pages, 608u);
    EXPECT_EQ(t[1].pages, 320u);
    EXPECT_EQ(t[2].pages, 64u);
    EXPECT_EQ(sum_chunks(t), 31u);  // all of the capacity, not more
    EXPECT_LE(t[0].pages + t[1].pages + t[2].pages, 1000u);

    // The small relation keeps (at least) its minimum; above their minimum, the large ones
    // share exactly 2 : 1, as their requests above the minimum (62 : 31) do.
    EXPECT_GE(t[2].chunks, 1u);
    EXPECT_EQ((t[0].chunks - 1) * 1, (t[1].chunks - 1) * 2);
}

// With a guarantee of 4 chunks, the small relation's whole request (100 pages in 4 chunks) is
// guaranteed, and the other two share the 19 chunks left after 4 + 4 + 4 in proportion to
// 59 : 28, exactly 12.9 : 6.1, rounded cumulatively to 12 : 7.
TEST(FsmTargets, LargerMinimumCoversSmallRelationEntirely)
{
    std::vector<Target> t = targets_of({{2000, kHeap}, {1000, kHeap}, {100, kHeap}}, 31, 4);
    EXPECT_EQ(t[2].chunks, 4u);
    EXPECT_EQ(t[2].pages, 100u);  // its whole request
    // floor(59 * 19 / 87) = 12 for the first; floor(87 * 19 / 87) - 12 = 7 for the second.
    EXPECT_EQ(t[0].chunks, 4u + 12u);
    EXPECT_EQ(t[1].chunks, 4u + 7u);
    EXPECT_EQ(sum_chunks(t), 31u);
}

TEST(FsmTargets, NoOversubscriptionGivesEveryRequestInFull)
{
    BudgetTotals totals;
    std::vector<TargetRequest> r = {{2000, kHeap}, {1000, kIndex}, {1, kHeap}, {0, kHeap}, {47, kIndex}};
    std::vector<Target> t = targets_of(r, capacity_chunks(200000), 1, &totals);
    EXPECT_FALSE(totals.oversubscribed());
    EXPECT_LT(totals.ratio(), 1.0);
    for (size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(t[i].pages, r[i].pages);
        EXPECT_EQ(t[i].chunks, chunks_for_pages(r[i].kind, r[i].pages));
    }
}

TEST(FsmTargets, ExactlyFullIsNotOversubscribed)
{
    BudgetTotals totals;
    std::vector<Target> t = targets_of({{320, kHeap}, {96, kIndex}}, 12, 1, &totals);
    EXPECT_FALSE(totals.oversubscribed());
    EXPECT_EQ(t[0].chunks, 10u);
    EXPECT_EQ(t[1].chunks, 2u);
}

TEST(FsmTargets, IndexRequestsCountChunksOf48Pages)
{
    BudgetTotals totals;
    std::vector<Target> t = targets_of({{2000, kIndex}, {2000, kHeap}}, 1000, 1, &totals);
    EXPECT_EQ(totals.requested_chunks, 42u + 63u);
    EXPECT_EQ(t[0].chunks, 42u);
    EXPECT_EQ(t[0].pages, 2000u);
}

// One huge relation must not squeeze out many small ones: each keeps min(request, minimum).
TEST(FsmTargets, EveryRelationKeepsItsMinimumBeforeTheRestIsShared)
{
    std::vector<TargetRequest> r = {{1000000, kHeap}};
    for (int i = 0; i < 50; ++i)
        r.push_back({static_cast<uint64_t>(1 + i * 7), i % 2 == 0 ? kHeap : kIndex});
    std::vector<Target> t = targets_of(r, 100, 1);
    for (size_t i = 1; i < r.size(); ++i) {
        EXPECT_GE(t[i].chunks, 1u) << i;
        EXPECT_GE(t[i].pages, std::min<uint64_t>(r[i].pages, pages_per_chunk(r[i].kind))) << i;
    }
    EXPECT_EQ(sum_chunks(t), 100u);
    EXPECT_GE(t[0].chunks, 100u - 50u - 50u);  // the rest, shared with the small ones' excess
}

// More relations than chunks: the guarantees cannot all be met, and the capacity is divided
// in proportion to them, still never more than the capacity.
TEST(FsmTargets, GuaranteesBeyondCapacityAreSharedProportionally)
{
    std::vector<TargetRequest> r(10, TargetRequest{500, kHeap});
    std::vector<Target> t = targets_of(r, 5, 1);
    EXPECT_EQ(sum_chunks(t), 5u);
    for (const Target &x : t)
        EXPECT_LE(x.chunks, 1u);
    t = targets_of(r, 0, 1);
    EXPECT_EQ(sum_chunks(t), 0u);
}

TEST(FsmTargets, ZeroMinimumIsPurelyProportional)
{
    std::vector<Target> t = targets_of({{3200, kHeap}, {1600, kHeap}, {320, kHeap}}, 80, 0);
    // 100 : 50 : 10 chunks asked, 80 given: exactly half each.
    EXPECT_EQ(t[0].chunks, 50u);
    EXPECT_EQ(t[1].chunks, 25u);
    EXPECT_EQ(t[2].chunks, 5u);
}

TEST(FsmTargets, HugeRequestsDoNotOverflow)
{
    std::vector<TargetRequest> r(1000, TargetRequest{uint64_t{1} << 40, kHeap});
    r.push_back({100, kHeap});
    std::vector<Target> t = targets_of(r, uint64_t{1} << 30, 1);
    EXPECT_EQ(sum_chunks(t), uint64_t{1} << 30);
    for (size_t i = 1; i < 1000; ++i)
        EXPECT_LE(t[i].chunks > t[0].chunks ? t[i].chunks - t[0].chunks : t[0].chunks - t[i].chunks, 1u);
}

TEST(FsmTargets, CallableFormSeesEachRequestAndStoresEachTarget)
{
    std::vector<uint64_t> pages = {64, 6400, 0};
    std::vector<Target> out(3);
    BudgetTotals totals = compute_targets(
        pages.size(), BudgetSettings{50, 1}, [&](size_t i) { return TargetRequest{pages[i], kHeap}; },
        [&](size_t i, Target t) { out[i] = t; });
    EXPECT_EQ(totals.requested_chunks, 202u);
    EXPECT_EQ(out[2].chunks, 0u);
    EXPECT_EQ(out[0].chunks + out[1].chunks, 50u);
}

// Randomized: targets never exceed the capacity (and use all of it when oversubscribed), never
// exceed a request, always cover the guarantee when guarantees fit, and each is within one
// chunk of its exact proportional value.
TEST(FsmTargets, RandomizedInvariants)
{
    for (uint32_t seed = 1; seed <= 400; ++seed) {
        std::mt19937_64 rng(seed);
        size_t n = rng() % 60;
        std::vector<TargetRequest> r(n);
        for (TargetRequest &x : r) {
            x.kind = rng() % 3 == 0 ? kIndex : kHeap;
            switch (rng() % 4) {
            case 0: x.pages = rng() % 40; break;
            case 1: x.pages = rng() % 2000; break;
            case 2: x.pages = rng() % 200000; break;
            default: x.pages = 100; break;  // many equal requests
            }
        }
        uint64_t capacity = rng() % 2 == 0 ? rng() % 100 : rng() % 10000;
        uint64_t minimum = rng() % 4;
        BudgetTotals totals;
        std::vector<Target> t = targets_of(r, capacity, minimum, &totals);
        uint64_t requested = 0, guaranteed = 0;
        for (const TargetRequest &x : r) {
            uint64_t c = chunks_for_pages(x.kind, x.pages);
            requested += c;
            guaranteed += std::min(c, minimum);
        }
        ASSERT_EQ(totals.requested_chunks, requested);
        ASSERT_EQ(totals.guaranteed_chunks, guaranteed);
        uint64_t sum = sum_chunks(t);
        ASSERT_LE(sum, capacity) << "seed " << seed;
        if (requested > capacity) {
            ASSERT_EQ(sum, capacity) << "seed " << seed;
        }
        for (size_t i = 0; i < n; ++i) {
            uint64_t asked = chunks_for_pages(r[i].kind, r[i].pages);
            uint64_t floor_min = std::min(asked, minimum);
            ASSERT_LE(t[i].chunks, asked) << "seed " << seed;
            ASSERT_EQ(t[i].pages, std::min(r[i].pages, pages_in_chunks(r[i].kind, t[i].chunks)));
            if (requested <= capacity) {
                ASSERT_EQ(t[i].chunks, asked);
                continue;
            }
            double exact;
            if (guaranteed < capacity) {
                ASSERT_GE(t[i].chunks, floor_min) << "seed " << seed;
                exact = static_cast<double>(floor_min) +
                        static_cast<double>(asked - floor_min) * static_cast<double>(capacity - guaranteed) /
                            static_cast<double>(requested - guaranteed);
            } else {
                exact = static_cast<double>(floor_min) * static_cast<double>(capacity) /
                        static_cast<double>(guaranteed);
            }
            ASSERT_LT(std::abs(static_cast<double>(t[i].chunks) - exact), 1.0 + 1e-9) << "seed " << seed;
        }
    }
}

}  // namespace
