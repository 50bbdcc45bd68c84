// Unit tests of which relation the free-space map forgets when it is full
// (include/simple_cache/core/fsm/eviction.hpp): with one database it is the plain CLOCK the map
// always used; with several, the database tracking the most relations gives one up, so a
// database flooding the map with relations only ever pushes out its own; a database over its
// own limit gives up its own least recently used relation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "simple_cache/core/fsm/eviction.hpp"

namespace {

using namespace simple_cache::core::fsm;

// A directory of relations, grouped by database as the binding keeps them, each with a
// referenced bit, and the eviction hand, with the binding's bookkeeping around the choice.
struct Directory {
    std::vector<DatabaseId> database;
    std::vector<int> id;  // which relation it is, for the tests' bookkeeping
    std::vector<bool> referenced;
    size_t hand = 0;
    int next_id = 0;

    size_t size() const { return database.size(); }

    // Relations of d.
    size_t count(DatabaseId d) const { return static_cast<size_t>(std::count(database.begin(), database.end(), d)); }

    // Chooses a relation to forget for newcomer and removes it; returns its id (-1: none).
    int evict(DatabaseId newcomer, EvictionScope scope)
    {
        size_t i = choose_eviction(
            size(), [this](size_t j) { return database[j]; }, newcomer, scope, &hand,
            [this](size_t j) {
                bool was = referenced[j];
                referenced[j] = false;
                return was;
            });
        if (i == size())
            return -1;
        int gone = id[i];
        database.erase(database.begin() + static_cast<long>(i));
        id.erase(id.begin() + static_cast<long>(i));
        referenced.erase(referenced.begin() + static_cast<long>(i));
        if (hand > i)
            --hand;
        if (hand >= size())
            hand = 0;
        return gone;
    }

    // Adds a relation of d at the end of d's run (or at the end), referenced, as the binding
    // does; the hand keeps pointing at the same relation.
    int add(DatabaseId d)
    {
        size_t at = size();
        for (size_t j = 0; j < size(); ++j)
            if (database[j] == d)
                at = j + 1;
        database.insert(database.begin() + static_cast<long>(at), d);
        id.insert(id.begin() + static_cast<long>(at), next_id);
        referenced.insert(referenced.begin() + static_cast<long>(at), true);
        if (hand >= at && size() > 1)
            ++hand;
        return next_id++;
    }

    // Adds a relation of d to a map of at most `limit` relations, evicting fairly first.
    int add_within(DatabaseId d, size_t limit)
    {
        while (size() >= limit)
            EXPECT_GE(evict(d, EvictionScope::fair), 0);
        return add(d);
    }

    // Whether relation id is still tracked.
    bool has(int which) const { return std::find(id.begin(), id.end(), which) != id.end(); }
};

// The CLOCK the map used before it knew databases, for comparison.
struct PlainClock {
    std::vector<bool> referenced;
    std::vector<int> id;
    size_t hand = 0;

    int evict()
    {
        size_t n = id.size();
        for (size_t step = 0; step < 2 * n; ++step) {
            size_t i = hand % n;
            hand = i + 1 < n ? i + 1 : 0;
            if (referenced[i]) {
                referenced[i] = false;
                continue;
            }
            int gone = id[i];
            id.erase(id.begin() + static_cast<long>(i));
            referenced.erase(referenced.begin() + static_cast<long>(i));
            if (hand > i)
                --hand;
            return gone;
        }
        return -1;
    }
};

// One database: the same relations go, in the same order, as with the plain CLOCK.
TEST(FsmEviction, OneDatabaseIsThePlainClock)
{
    std::mt19937 rng(1000);
    for (int round = 0; round < 200; ++round) {
        Directory d;
        PlainClock plain;
        size_t limit = 1 + rng() % 20;
        for (int step = 0; step < 300; ++step) {
            // Some relations are used between additions.
            for (size_t j = 0; j < d.size(); ++j)
                if (rng() % 3 == 0) {
                    d.referenced[j] = true;
                    plain.referenced[j] = true;
                }
            if (d.size() >= limit) {
                int a = d.evict(5, EvictionScope::fair);
                int b = plain.evict();
                ASSERT_EQ(a, b) << "round " << round << " step " << step;
            }
            d.add(5);
            plain.id.push_back(d.next_id - 1);
            plain.referenced.push_back(true);
            ASSERT_EQ(d.id, plain.id);
        }
    }
}

// The flood of the hostile tester: a database with three relations, another adding 1,200 to
// a map of 1000. The flooder only ever pushes out its own relations; then the small database
// takes relations from the flooder, until both track half.
TEST(FsmEviction, FloodingDatabasePushesOutOnlyItsOwnRelations)
{
    Directory d;
    std::vector<int> victim;
    for (int i = 0; i < 3; ++i)
        victim.push_back(d.add(1));
    for (int i = 0; i < 1200; ++i)
        d.add_within(2, 1000);
    EXPECT_EQ(d.size(), 1000u);
    EXPECT_EQ(d.count(1), 3u);
    for (int v : victim)
        EXPECT_TRUE(d.has(v));
    // The victim's relations are not used any more, the flooder's all are: still, the victim's
    // new relations push out the flooder's.
    for (int i = 0; i < 600; ++i) {
        std::fill(d.referenced.begin(), d.referenced.end(), false);
        for (size_t j = 0; j < d.size(); ++j)
            d.referenced[j] = d.database[j] == 2;
        d.add_within(1, 1000);
        d.add_within(2, 1000);
    }
    EXPECT_EQ(d.count(1), 500u);
    EXPECT_EQ(d.count(2), 500u);
}

// The database that tracks the most relations, counting the new one, gives one up; with a tie,
// one of the tied; never a database tracking fewer than the newcomer will.
TEST(FsmEviction, TheLargestDatabaseGivesUpARelation)
{
    Directory d;
    for (int i = 0; i < 4; ++i)
        d.add(1);
    for (int i = 0; i < 6; ++i)
        d.add(2);
    for (int i = 0; i < 2; ++i)
        d.add(3);
    d.evict(3, EvictionScope::fair);
    EXPECT_EQ(d.count(2), 5u);
    d.evict(4, EvictionScope::fair);  // a database new to the map
    EXPECT_EQ(d.count(2), 4u);
    d.evict(2, EvictionScope::fair);  // 4 + 1 for database 2: more than database 1's 4
    EXPECT_EQ(d.count(2), 3u);
    EXPECT_EQ(d.count(1), 4u);
    d.evict(kNoDatabase, EvictionScope::fair);  // the limit was lowered
    EXPECT_EQ(d.count(1), 3u);
    // Database 2 counts 3 + 1 with its new relation, more than database 1's 3.
    d.evict(2, EvictionScope::fair);
    EXPECT_EQ(d.count(2), 2u);
    EXPECT_EQ(d.count(1), 3u);
}

// Random additions from several databases to a full map: a relation only goes from a database
// that tracks at least as many as the newcomer will, so a database within limit / databases
// never loses one to another.
TEST(FsmEviction, NeverFromADatabaseTrackingFewer)
{
    std::mt19937 rng(77);
    for (int round = 0; round < 100; ++round) {
        Directory d;
        size_t limit = 5 + rng() % 60;
        DatabaseId databases = 1 + rng() % 5;
        for (int step = 0; step < 400; ++step) {
            for (size_t j = 0; j < d.size(); ++j)
                if (rng() % 4 == 0)
                    d.referenced[j] = true;
            DatabaseId newcomer = 1 + rng() % databases;
            if (d.size() >= limit) {
                size_t newcomer_after = d.count(newcomer) + 1;
                std::map<DatabaseId, size_t> before;
                for (DatabaseId x = 1; x <= databases; ++x)
                    before[x] = d.count(x);
                ASSERT_GE(d.evict(newcomer, EvictionScope::fair), 0);
                for (DatabaseId x = 1; x <= databases; ++x) {
                    if (d.count(x) < before[x]) {
                        size_t counted = x == newcomer ? before[x] + 1 : before[x];
                        ASSERT_GE(counted, newcomer_after) << "round " << round;
                        for (DatabaseId y = 1; y <= databases; ++y)
                            ASSERT_LE(y == newcomer ? before[y] + 1 : before[y], counted);
                    }
                }
            }
            d.add(newcomer);
            ASSERT_LE(d.size(), limit);
        }
    }
}

// own_database: only the newcomer's relations are candidates, least recently used first;
// nothing when it has none.
TEST(FsmEviction, OwnDatabaseGivesUpItsOwnLeastRecentlyUsed)
{
    Directory d;
    int a = d.add(1);
    int b = d.add(1);
    for (int i = 0; i < 5; ++i)
        d.add(2);
    std::fill(d.referenced.begin(), d.referenced.end(), false);
    d.referenced[0] = true;  // a was used
    EXPECT_EQ(d.evict(1, EvictionScope::own_database), b);
    EXPECT_EQ(d.count(2), 5u);
    // The other database's bits were not touched.
    for (size_t j = 0; j < d.size(); ++j) {
        if (d.database[j] == 2) {
            EXPECT_FALSE(d.referenced[j]);
        }
    }
    EXPECT_EQ(d.evict(1, EvictionScope::own_database), a);
    EXPECT_EQ(d.evict(1, EvictionScope::own_database), -1);
    EXPECT_EQ(d.evict(kNoDatabase, EvictionScope::own_database), -1);
    EXPECT_EQ(d.count(2), 5u);
    Directory empty;
    EXPECT_EQ(empty.evict(1, EvictionScope::fair), -1);
}

// Non-candidates' bits are left alone: a flood does not wear down another database's
// protection.
TEST(FsmEviction, OtherDatabasesBitsAreLeftAlone)
{
    Directory d;
    for (int i = 0; i < 3; ++i)
        d.add(1);
    for (int i = 0; i < 10; ++i)
        d.add(2);
    for (int i = 0; i < 10; ++i) {
        d.evict(2, EvictionScope::fair);
        d.add(2);
    }
    for (size_t j = 0; j < d.size(); ++j) {
        if (d.database[j] == 1) {
            EXPECT_TRUE(d.referenced[j]);
        }
    }
}

// Bits set again behind the hand cannot keep every candidate: the third pass takes one.
TEST(FsmEviction, BitsSetAgainCannotBlockEviction)
{
    std::vector<DatabaseId> database = {1, 1, 2, 2, 2};
    size_t hand = 3;
    int calls = 0;
    size_t i = choose_eviction(
        database.size(), [&](size_t j) { return database[j]; }, 2, EvictionScope::fair, &hand,
        [&](size_t) {
            ++calls;
            return true;
        });
    EXPECT_LT(i, database.size());
    EXPECT_EQ(database[i], 2u);
    EXPECT_LE(calls, 2 * 5);
    EXPECT_EQ(hand, i + 1 < database.size() ? i + 1 : 0);
}

}  // namespace
