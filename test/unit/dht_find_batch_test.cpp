// Tests of the DHT's batch lookup (Dht::find_batch in include/simple_cache/core/dht.hpp): the
// same answers as one find() per key (present, absent, duplicate and colliding keys, keys split
// between the old and new buckets of a resize), one shared lock per partition touched, no lock
// left after a throwing visitor, and, with real threads (run under ThreadSanitizer by
// `make unit-tsan`), exact untorn results while writers insert, overwrite and erase and the
// table grows and shrinks. Results only, never timings.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/heap_policy.hpp"
#include "dht_test_support.hpp"

namespace {

using simple_cache::core::Dht;
using simple_cache::core::KeyView;
using simple_cache::core::LockMode;
using simple_cache::core::UpsertResult;

using namespace dht_test;

using Table = Dht<LockCountingPolicy, TestEntry>;

// The key of number i.
std::string key_of(uint64_t i) { return "batch-key-" + std::to_string(i); }

// Stores value under key (tail of tail_size bytes), replacing what was there.
void put(Table &t, const std::string &key, uint64_t value, uint32_t tail_size = 8)
{
    Table::NewItem item = t.make_item(kv(key), tail_size);
    ASSERT_TRUE(item);
    fill(item.entry(), item.tail(), value, tail_size);
    UpsertResult r = t.upsert(std::move(item), [](const TestEntry *, const char *) { return true; });
    ASSERT_TRUE(r.stored);
}

// The value find() sees for key, or nothing.
std::optional<uint64_t> get_one(Table &t, const std::string &key)
{
    Table::Ref ref = t.find(kv(key), LockMode::shared);
    if (!ref)
        return std::nullopt;
    return ref.entry().value;
}

// One batch lookup of keys: the value visited for each index (nothing when not visited); fails
// the test on a torn entry or an index visited twice.
std::vector<std::optional<uint64_t>> get_batch(Table &t, const std::vector<std::string> &keys)
{
    std::vector<KeyView> views;
    for (const std::string &k : keys)
        views.push_back(kv(k));
    std::vector<uint32_t> hashes(keys.size()), order(keys.size());
    std::vector<std::optional<uint64_t>> out(keys.size());
    t.find_batch(views.data(), static_cast<uint32_t>(views.size()), hashes.data(), order.data(),
                 [&](uint32_t i, TestEntry &e, const char *tail) {
                     EXPECT_TRUE(intact(e, tail)) << keys[i];
                     EXPECT_FALSE(out[i].has_value()) << "index " << i << " visited twice";
                     out[i] = e.value;
                 });
    return out;
}

// A table on a counting heap policy; TearDown checks that destroying it frees everything.
class DhtFindBatchTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ptr_ = Table::create(policy_);
        ASSERT_NE(ptr_, 0u);
        table_.emplace(policy_, ptr_);
    }

    void TearDown() override
    {
        if (table_) {
            table_->destroy();
            table_.reset();
        }
        EXPECT_EQ(policy_.held(), 0);
        EXPECT_EQ(policy_.live_blocks(), 0);
    }

    Table &t() { return *table_; }

    LockCountingPolicy policy_;
    uint64_t ptr_ = 0;
    std::optional<Table> table_;
};

TEST_F(DhtFindBatchTest, EmptyBatchAndEmptyTable)
{
    EXPECT_TRUE(get_batch(t(), {}).empty());
    std::vector<std::optional<uint64_t>> got = get_batch(t(), {"a", "", key_of(1)});
    for (const auto &v : got)
        EXPECT_FALSE(v.has_value());
    EXPECT_EQ(policy_.held(), 0);
}

TEST_F(DhtFindBatchTest, AnswersAsFindDoesForPresentAbsentAndDuplicateKeys)
{
    const int n = static_cast<int>(scaled(5000));
    for (int i = 0; i < n; ++i)
        put(t(), key_of(i), 1000 + i, static_cast<uint32_t>(i % 40));
    put(t(), "", 7);  // the empty key
    std::mt19937_64 rng(42);
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) {
        uint64_t r = rng() % (n * 2);  // half of them absent
        keys.push_back(key_of(r));
        if (i % 10 == 0)
            keys.push_back(keys[rng() % keys.size()]);  // a duplicate of an earlier key
    }
    keys.push_back("");
    keys.push_back(std::string(300, 'z'));  // a long absent key
    std::vector<std::optional<uint64_t>> got = get_batch(t(), keys);
    ASSERT_EQ(got.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i)
        EXPECT_EQ(got[i], get_one(t(), keys[i])) << keys[i];
    EXPECT_EQ(policy_.held(), 0);
}

TEST_F(DhtFindBatchTest, KeysWithIdenticalHashesAreTold)
{
    // Keys that collide fully share a chain (and a partition): each finds its own item.
    std::string a = "collide-a-base-key";
    std::vector<std::string> keys{a};
    for (int i = 0; i < 5; ++i)
        keys.push_back(collide::extend_to_collide(std::string(8 * (i + 1), static_cast<char>('p' + i)), a));
    for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_EQ(Table::hash_of(kv(keys[i])), Table::hash_of(kv(a)));
        if (i % 2 == 0)
            put(t(), keys[i], 50 + i);
    }
    std::vector<std::optional<uint64_t>> got = get_batch(t(), keys);
    for (size_t i = 0; i < keys.size(); ++i) {
        if (i % 2 == 0)
            EXPECT_EQ(got[i], std::optional<uint64_t>(50 + i)) << i;
        else
            EXPECT_FALSE(got[i].has_value()) << i;
    }
}

TEST_F(DhtFindBatchTest, TakesEachPartitionLockOnceAtMostTwoAtATimeAndVisitsInOrder)
{
    const int n = 4000;
    for (int i = 0; i < n; ++i)
        put(t(), key_of(i), i);
    t().complete_resize();
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i)
        keys.push_back(key_of((i * 7919) % n));
    std::vector<KeyView> views;
    std::set<uint32_t> partitions;
    for (const std::string &k : keys) {
        views.push_back(kv(k));
        partitions.insert(Table::hash_of(kv(k)) >> (32 - Table::kPartitionBits));
    }
    std::vector<uint32_t> hashes(n), order(n);
    std::vector<uint32_t> visited;
    int64_t before = policy_.shared_taken();
    t().find_batch(views.data(), n, hashes.data(), order.data(), [&](uint32_t i, TestEntry &e, const char *) {
        EXPECT_GE(policy_.held(), 1);  // this group's lock, and at most the next group's
        EXPECT_LE(policy_.held(), 2);
        EXPECT_EQ(e.value, static_cast<uint64_t>((i * 7919) % n));
        visited.push_back(i);
    });
    EXPECT_EQ(policy_.shared_taken() - before, static_cast<int64_t>(partitions.size()));
    ASSERT_EQ(visited.size(), static_cast<size_t>(n));
    for (size_t j = 1; j < visited.size(); ++j) {
        uint32_t pa = hashes[visited[j - 1]] >> (32 - Table::kPartitionBits);
        uint32_t pb = hashes[visited[j]] >> (32 - Table::kPartitionBits);
        EXPECT_TRUE(pa < pb || (pa == pb && visited[j - 1] < visited[j])) << j;
    }
}

TEST_F(DhtFindBatchTest, FindsKeysSplitBetweenOldAndNewBuckets)
{
    // Grow the table and look up while the resize has moved only part of the items.
    int n = 0;
    for (; n < 200000; ++n) {
        put(t(), key_of(n), n);
        if (t().stats().resizing && n > 1000)
            break;
    }
    ASSERT_TRUE(t().stats().resizing);
    std::vector<std::string> keys;
    for (int i = 0; i <= n + 50; ++i)
        keys.push_back(key_of(i));
    for (int round = 0; round < 3; ++round) {  // lookups themselves move items along
        std::vector<std::optional<uint64_t>> got = get_batch(t(), keys);
        for (int i = 0; i <= n + 50; ++i) {
            if (i <= n)
                EXPECT_EQ(got[i], std::optional<uint64_t>(i)) << i;
            else
                EXPECT_FALSE(got[i].has_value()) << i;
        }
    }
}

TEST_F(DhtFindBatchTest, AThrowingVisitorLeavesNoLockHeld)
{
    for (int i = 0; i < 1000; ++i)
        put(t(), key_of(i), i);
    std::vector<std::string> keys;
    for (int i = 0; i < 1000; ++i)
        keys.push_back(key_of(i));
    std::vector<KeyView> views;
    for (const std::string &k : keys)
        views.push_back(kv(k));
    std::vector<uint32_t> hashes(keys.size()), order(keys.size());
    int visits = 0;
    EXPECT_THROW(t().find_batch(views.data(), static_cast<uint32_t>(views.size()), hashes.data(), order.data(),
                                [&](uint32_t, TestEntry &, const char *) {
                                    if (++visits == 300)
                                        throw std::runtime_error("visitor failed");
                                }),
                 std::runtime_error);
    EXPECT_EQ(visits, 300);
    EXPECT_EQ(policy_.held(), 0);
    // The table is unchanged and usable.
    std::vector<std::optional<uint64_t>> got = get_batch(t(), keys);
    for (int i = 0; i < 1000; ++i)
        EXPECT_EQ(got[i], std::optional<uint64_t>(i));
}

// Readers batch-look-up a stable key set (always present, values only ever overwritten with
// intact ones) and a churning key set (inserted and erased by the writers) while the writers'
// churn grows and shrinks the table. Every stable key must be found with an intact entry of
// a value its writer stored; churning keys may or may not be found, but intact when found.
TEST_F(DhtFindBatchTest, ConcurrentWritersResizesAndBatchReaders)
{
    const int stable = static_cast<int>(scaled(2000));
    const int churn = static_cast<int>(scaled(20000));
    const int rounds = static_cast<int>(scaled(4));
    for (int i = 0; i < stable; ++i)
        put(t(), "stable-" + std::to_string(i), static_cast<uint64_t>(i) << 20, 16);
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < 2; ++w) {
        threads.emplace_back([&, w] {
            std::mt19937_64 rng(w + 1);
            for (int r = 0; r < rounds; ++r) {
                for (int i = w; i < churn; i += 2)
                    put(t(), "churn-" + std::to_string(i), static_cast<uint64_t>(i), static_cast<uint32_t>(i % 24));
                for (int i = 0; i < stable / 4; ++i) {
                    uint64_t k = rng() % stable;
                    put(t(), "stable-" + std::to_string(k), (k << 20) | (rng() & 0xfffff), 16);
                }
                for (int i = w; i < churn; i += 2)
                    t().erase(kv("churn-" + std::to_string(i)));
            }
        });
    }
    for (int reader = 0; reader < 2; ++reader) {
        threads.emplace_back([&, reader] {
            std::mt19937_64 rng(100 + reader);
            const size_t batch = 700;
            std::vector<std::string> keys(batch);
            std::vector<KeyView> views(batch);
            std::vector<uint32_t> hashes(batch), order(batch);
            std::vector<uint8_t> seen(batch);
            while (!stop.load(std::memory_order_relaxed)) {
                for (size_t j = 0; j < batch; ++j) {
                    keys[j] = j % 2 == 0 ? "stable-" + std::to_string(rng() % stable)
                                         : "churn-" + std::to_string(rng() % churn);
                    views[j] = kv(keys[j]);
                    seen[j] = 0;
                }
                t().find_batch(views.data(), static_cast<uint32_t>(batch), hashes.data(), order.data(),
                               [&](uint32_t i, TestEntry &e, const char *tail) {
                                   bool ok = intact(e, tail) && seen[i] == 0;
                                   if (i % 2 == 0)
                                       ok = ok && (e.value >> 20) == std::stoull(keys[i].substr(7));
                                   else
                                       ok = ok && e.value == std::stoull(keys[i].substr(6));
                                   seen[i] = 1;
                                   if (!ok)
                                       failures.fetch_add(1, std::memory_order_relaxed);
                               });
                for (size_t j = 0; j < batch; j += 2)
                    if (seen[j] == 0)
                        failures.fetch_add(1, std::memory_order_relaxed);  // a stable key was missed
            }
        });
    }
    threads[0].join();
    threads[1].join();
    stop.store(true);
    threads[2].join();
    threads[3].join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GT(t().stats().grows, 0u);
    EXPECT_EQ(policy_.held(), 0);
}

}  // namespace
