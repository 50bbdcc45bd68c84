// Unit tests of how the free-space map divides its budget among databases
// (include/simple_cache/core/fsm/fair_share.hpp and database_targets.hpp): max-min fair shares
// of the capacity over the databases' demands, per-database limits, and the two-level targets,
// which for one database must be exactly the per-relation targets of targets.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "simple_cache/core/fsm/database_targets.hpp"

namespace {

using namespace simple_cache::core::fsm;

constexpr RelationKind kHeap = RelationKind::heap;
constexpr RelationKind kIndex = RelationKind::index;

// The shares of databases asking for the given chunks (with optional limits).
std::vector<uint64_t> shares_of(const std::vector<uint64_t> &requested, uint64_t capacity,
                                const std::vector<uint64_t> &limits = {})
{
    std::vector<DatabaseShare> d(requested.size());
    for (size_t j = 0; j < d.size(); ++j) {
        d[j].requested_chunks = requested[j];
        d[j].limit_chunks = j < limits.size() ? limits[j] : kNoDatabaseLimit;
    }
    uint64_t sum = fair_shares(d.data(), d.size(), capacity);
    std::vector<uint64_t> out;
    uint64_t check = 0;
    for (const DatabaseShare &s : d) {
        out.push_back(s.share_chunks);
        check += s.share_chunks;
    }
    EXPECT_EQ(sum, check);
    return out;
}

TEST(FsmFairShare, DemandsThatFitAreGivenInFull)
{
    EXPECT_EQ(shares_of({7, 30, 60}, 100), (std::vector<uint64_t>{7, 30, 60}));
    EXPECT_EQ(shares_of({}, 100), (std::vector<uint64_t>{}));
    EXPECT_EQ(shares_of({0, 0}, 0), (std::vector<uint64_t>{0, 0}));
}

// The example of fair_share.hpp: level 46, the spare chunk to the first database above it.
TEST(FsmFairShare, SmallDemandsAreMetAndTheLargeShareTheRestEqually)
{
    EXPECT_EQ(shares_of({7, 3000, 60}, 100), (std::vector<uint64_t>{7, 47, 46}));
    EXPECT_EQ(shares_of({3000, 3000}, 100), (std::vector<uint64_t>{50, 50}));
    EXPECT_EQ(shares_of({3000, 3000, 3000}, 100), (std::vector<uint64_t>{34, 33, 33}));
    EXPECT_EQ(shares_of({1, 1000000}, 100), (std::vector<uint64_t>{1, 99}));
    EXPECT_EQ(shares_of({5, 5, 5}, 0), (std::vector<uint64_t>{0, 0, 0}));
    EXPECT_EQ(shares_of({5, 5, 5}, 1), (std::vector<uint64_t>{1, 0, 0}));
}

// A limit caps a database's demand; what it leaves goes to the others.
TEST(FsmFairShare, LimitsCapADatabaseAndTheOthersGetWhatItLeaves)
{
    EXPECT_EQ(shares_of({3000, 3000}, 100, {10, kNoDatabaseLimit}), (std::vector<uint64_t>{10, 90}));
    EXPECT_EQ(shares_of({5, 3000}, 100, {10, 20}), (std::vector<uint64_t>{5, 20}));
    EXPECT_EQ(shares_of({3000, 40}, 100, {0, kNoDatabaseLimit}), (std::vector<uint64_t>{0, 40}));
}

// Random demands: the shares add up to min(capacity, demands), none exceeds its demand, and
// they are max-min fair: a database short of its demand has at least every other's share
// less one, and a database asking for no more than capacity / databases gets all of it.
TEST(FsmFairShare, RandomDemandsAreMaxMinFair)
{
    std::mt19937_64 rng(38);
    for (int round = 0; round < 2000; ++round) {
        size_t k = 1 + rng() % 12;
        std::vector<uint64_t> requested(k);
        std::vector<uint64_t> limits(k, kNoDatabaseLimit);
        uint64_t total = 0;
        for (size_t j = 0; j < k; ++j) {
            requested[j] = rng() % 4 == 0 ? rng() % 100000 : rng() % 200;
            if (rng() % 5 == 0)
                limits[j] = rng() % 150;
            total += std::min(requested[j], limits[j]);
        }
        uint64_t capacity = rng() % 600;
        std::vector<uint64_t> s = shares_of(requested, capacity, limits);
        uint64_t sum = 0;
        for (size_t j = 0; j < k; ++j) {
            uint64_t demand = std::min(requested[j], limits[j]);
            sum += s[j];
            ASSERT_LE(s[j], demand);
            if (demand <= capacity / k) {
                ASSERT_EQ(s[j], demand) << "round " << round;
            }
            if (s[j] < demand) {
                for (size_t i = 0; i < k; ++i) {
                    ASSERT_LE(s[i], s[j] + 1) << "round " << round;
                }
            }
        }
        ASSERT_EQ(sum, std::min(capacity, total));
    }
}

// Relations grouped by database, for compute_database_targets().
struct Rel {
    DatabaseId database;
    TargetRequest request;
};

// Targets of the relations, with per-database limits (indexed by database id).
std::vector<Target> database_targets(const std::vector<Rel> &rels, uint64_t capacity,
                                     const std::vector<uint64_t> &limits = {}, BudgetTotals *totals = nullptr)
{
    std::vector<Target> out(rels.size());
    std::vector<DatabaseShare> scratch(rels.size());
    BudgetTotals t = compute_database_targets(
        rels.size(), BudgetSettings{capacity, kDefaultMinimumChunks}, scratch.data(),
        [&](size_t i) { return rels[i].database; }, [&](size_t i) { return rels[i].request; },
        [&](size_t i) {
            DatabaseId d = rels[i].database;
            return d < limits.size() ? limits[d] : kNoDatabaseLimit;
        },
        [&](size_t i, Target x) { out[i] = x; });
    if (totals != nullptr)
        *totals = t;
    return out;
}

// Chunks of the targets of database d.
uint64_t chunks_of(const std::vector<Rel> &rels, const std::vector<Target> &t, DatabaseId d)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < rels.size(); ++i)
        if (rels[i].database == d)
            sum += t[i].chunks;
    return sum;
}

// One database: exactly the targets of targets.hpp, oversubscribed or not.
TEST(FsmDatabaseTargets, OneDatabaseGetsThePerRelationTargets)
{
    std::mt19937 rng(2003);
    for (int round = 0; round < 500; ++round) {
        size_t n = 1 + rng() % 40;
        std::vector<Rel> rels;
        std::vector<TargetRequest> plain;
        for (size_t i = 0; i < n; ++i) {
            TargetRequest r{rng() % 3000, rng() % 3 == 0 ? kIndex : kHeap};
            rels.push_back(Rel{7, r});
            plain.push_back(r);
        }
        uint64_t capacity = rng() % 400;
        BudgetTotals two_level;
        std::vector<Target> got = database_targets(rels, capacity, {}, &two_level);
        std::vector<Target> want(n);
        BudgetTotals one_level =
            compute_targets(plain.data(), n, BudgetSettings{capacity, kDefaultMinimumChunks}, want.data());
        ASSERT_EQ(two_level.requested_chunks, one_level.requested_chunks);
        ASSERT_EQ(two_level.guaranteed_chunks, one_level.guaranteed_chunks);
        for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(got[i].chunks, want[i].chunks) << "round " << round << " relation " << i;
            ASSERT_EQ(got[i].pages, want[i].pages) << "round " << round << " relation " << i;
        }
    }
}

// The budget of 1000 pages (31 chunks) example of targets.hpp, with another database asking
// for everything: the three relations now share their database's half (16 chunks) as they
// shared the whole before: 1 chunk each guaranteed, the rest in proportion.
TEST(FsmDatabaseTargets, ADatabaseAskingForEverythingGetsHalfOfTwo)
{
    std::vector<Rel> rels = {{1, {2000, kHeap}}, {1, {1000, kHeap}}, {1, {100, kHeap}}, {2, {1000000, kHeap}}};
    std::vector<Target> t = database_targets(rels, capacity_chunks(1000));
    EXPECT_EQ(chunks_of(rels, t, 1), 16u);
    EXPECT_EQ(chunks_of(rels, t, 2), 15u);
    // 13 chunks above the guarantees, in proportion to 62 : 31 : 3: 8, 4 and 1.
    EXPECT_EQ(t[0].chunks, 9u);
    EXPECT_EQ(t[1].chunks, 5u);
    EXPECT_EQ(t[2].chunks, 2u);
}

// A small database keeps its whole request against one that floods the map with relations
// and huge requests.
TEST(FsmDatabaseTargets, FloodingDatabaseCannotSqueezeASmallOne)
{
    std::vector<Rel> rels = {{1, {50, kHeap}}, {1, {50, kHeap}}, {1, {50, kHeap}}};
    for (int i = 0; i < 1000; ++i)
        rels.push_back(Rel{9, {i == 0 ? 100000u : 3u, kHeap}});
    std::vector<Target> t = database_targets(rels, 100);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(t[i].chunks, 2u);
        EXPECT_EQ(t[i].pages, 50u);
    }
    EXPECT_EQ(chunks_of(rels, t, 9), 94u);
}

// A database's limit caps the sum of its targets; the others get what it leaves.
TEST(FsmDatabaseTargets, LimitCapsTheDatabaseTargets)
{
    std::vector<Rel> rels = {{1, {5000, kHeap}}, {2, {100000, kHeap}}, {2, {3, kHeap}}};
    std::vector<uint64_t> limits = {kNoDatabaseLimit, kNoDatabaseLimit, 10};
    std::vector<Target> t = database_targets(rels, 100, limits);
    EXPECT_EQ(chunks_of(rels, t, 2), 10u);
    EXPECT_EQ(t[0].chunks, 90u);
    limits[2] = 0;
    t = database_targets(rels, 100, limits);
    EXPECT_EQ(chunks_of(rels, t, 2), 0u);
    EXPECT_EQ(t[0].chunks, 100u);
}

// Random databases and requests: the targets never add up to more than the capacity, never
// exceed a request, a database stays within its limit, and a database whose whole request is
// at most capacity / databases gets every relation's full request.
TEST(FsmDatabaseTargets, RandomTargetsStayWithinCapacityAndAreFair)
{
    std::mt19937 rng(15);
    for (int round = 0; round < 1000; ++round) {
        size_t k = 1 + rng() % 6;
        std::vector<Rel> rels;
        std::vector<uint64_t> limits(k + 1, kNoDatabaseLimit);
        for (DatabaseId d = 1; d <= k; ++d) {
            size_t count = 1 + rng() % 30;
            uint64_t scale = rng() % 3 == 0 ? 20000 : 200;
            for (size_t i = 0; i < count; ++i)
                rels.push_back(Rel{d, {rng() % scale, rng() % 4 == 0 ? kIndex : kHeap}});
            if (rng() % 4 == 0)
                limits[d] = rng() % 60;
        }
        uint64_t capacity = rng() % 500;
        std::vector<Target> t = database_targets(rels, capacity, limits);
        uint64_t sum = 0;
        for (size_t i = 0; i < rels.size(); ++i) {
            sum += t[i].chunks;
            ASSERT_LE(t[i].pages, rels[i].request.pages);
            ASSERT_LE(t[i].chunks, chunks_for_pages(rels[i].request.kind, rels[i].request.pages));
        }
        ASSERT_LE(sum, capacity);
        for (DatabaseId d = 1; d <= k; ++d) {
            uint64_t requested = 0;
            for (const Rel &r : rels)
                if (r.database == d)
                    requested += chunks_for_pages(r.request.kind, r.request.pages);
            ASSERT_LE(chunks_of(rels, t, d), limits[d]);
            if (std::min(requested, limits[d]) > capacity / k || requested > limits[d])
                continue;
            for (size_t i = 0; i < rels.size(); ++i) {
                if (rels[i].database == d) {
                    ASSERT_EQ(t[i].pages, rels[i].request.pages) << "round " << round;
                }
            }
        }
    }
}

}  // namespace
