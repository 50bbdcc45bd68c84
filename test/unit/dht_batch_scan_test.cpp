// Unit tests of the DHT's batch scan (include/simple_cache/core/dht_batch_scan.hpp): every
// batch stays within its budget or holds a single entry; every entry is handed out exactly
// once, with any budget, with entries skipped, with keys of identical hashes, while a resize
// has items in both bucket arrays, while the table grows and shrinks between batches (one
// thread, deterministic) and while other threads write; a throwing take() releases the lock.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/dht_batch_scan.hpp"
#include "simple_cache/core/heap_policy.hpp"
#include "dht_test_support.hpp"

namespace {

using simple_cache::core::Dht;
using simple_cache::core::DhtStats;
using simple_cache::core::HeapPolicy;
using simple_cache::core::InsertStatus;
using simple_cache::core::LockMode;

using namespace dht_test;

using Table = Dht<LockCountingPolicy, TestEntry>;
using BatchScan = Table::BatchScan;

// What an entry costs in these tests: its key and tail bytes.
size_t cost_of(const TestEntry &e, uint32_t key_size) { return key_size + e.tail_bytes; }

// Inserts key or overwrites its value in place.
void put(Table &t, const std::string &key, uint64_t value, uint32_t tail)
{
    InsertStatus status{};
    Table::Ref ref =
        t.find_or_insert(kv(key), tail, [&](TestEntry &e, char *tl) { fill(e, tl, value, tail); }, &status);
    if (status == InsertStatus::found)
        fill(ref.entry(), ref.tail(), value, ref.entry().tail_bytes);
}

// Replaces key's item with a new one (a new allocation, as a put of a new value does).
void replace(Table &t, const std::string &key, uint64_t value, uint32_t tail)
{
    Table::NewItem item = t.make_item(kv(key), tail);
    ASSERT_TRUE(item);
    fill(item.entry(), item.tail(), value, tail);
    t.upsert(std::move(item), [](const TestEntry *, const char *) { return true; });
}

// What a whole batch scan handed out.
struct Outcome {
    std::map<std::string, int> seen;  // key -> times handed out
    size_t batches = 0;               // next_batch() calls that returned true
    size_t nonempty_batches = 0;
    size_t over_budget = 0;           // batches over the budget with more than one entry
};

// Fails unless every key of `keys` was handed out exactly once and nothing else was.
void expect_exactly(const Outcome &out, const std::set<std::string> &keys)
{
    for (const std::string &k : keys) {
        auto it = out.seen.find(k);
        EXPECT_TRUE(it != out.seen.end() && it->second == 1)
            << k << " handed out " << (it == out.seen.end() ? 0 : it->second) << " times";
    }
    for (const auto &[k, n] : out.seen)
        EXPECT_EQ(keys.count(k), 1u) << "unexpected " << k;
}

class BatchScanTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ptr_ = Table::create(policy_);
        ASSERT_NE(ptr_, 0u);
        table_.emplace(policy_, ptr_);
    }

    void TearDown() override
    {
        policy_.before_lock = nullptr;
        EXPECT_EQ(policy_.held(), 0) << "a partition lock is still held";
        table_->destroy();
        table_.reset();
        EXPECT_EQ(policy_.live_blocks(), 0) << "leaked blocks";
    }

    Table &t() { return *table_; }

    // Runs a batch scan with the given budget; want(key) says which entries are wanted.
    Outcome scan_all(size_t budget, const std::function<bool(const std::string &)> &want = nullptr,
                     LockMode mode = LockMode::shared)
    {
        Outcome out;
        BatchScan scan(t(), mode);
        auto cost = [&](const TestEntry &e, const char *key, uint32_t key_size, const char *) {
            if (want && !want(std::string(key, key_size)))
                return BatchScan::kSkip;
            return cost_of(e, key_size);
        };
        size_t bytes = 0;
        size_t entries = 0;
        auto take = [&](const TestEntry &e, const char *key, uint32_t key_size, const char *tail) {
            std::string k(key, key_size);
            EXPECT_TRUE(intact(e, tail)) << k;
            EXPECT_TRUE(!want || want(k)) << "took an unwanted entry " << k;
            ++out.seen[k];
            bytes += cost_of(e, key_size);
            ++entries;
        };
        while (scan.next_batch(budget, cost, take)) {
            ++out.batches;
            out.nonempty_batches += entries > 0;
            out.over_budget += entries > 1 && bytes > budget;
            bytes = 0;
            entries = 0;
            EXPECT_EQ(policy_.held(), 0) << "a lock is held between batches";
        }
        EXPECT_EQ(scan.partition(), static_cast<int>(Table::kPartitions));
        EXPECT_FALSE(scan.next_batch(budget, cost, take)) << "a finished scan stays finished";
        return out;
    }

    // Inserts keys "k-0" .. "k-(n-1)" with tails of 0 to 2999 bytes; returns the keys.
    std::set<std::string> fill_keys(int n, uint32_t seed = 1)
    {
        std::mt19937 rng(seed);
        std::set<std::string> keys;
        for (int i = 0; i < n; ++i) {
            std::string k = "k-" + std::to_string(i);
            put(t(), k, static_cast<uint64_t>(i), rng() % 3000);
            keys.insert(k);
        }
        return keys;
    }

    // Drives exclusive operations on absent keys (they only migrate) until no resize runs.
    void settle()
    {
        for (int ops = 0; t().stats().resizing; ++ops) {
            t().erase(kv("settle-" + std::to_string(ops % 1000)));
            ASSERT_LT(ops, 1'000'000) << "resize never completes";
        }
    }

    LockCountingPolicy policy_;
    uint64_t ptr_ = 0;
    std::optional<Table> table_;
};

TEST_F(BatchScanTest, EmptyTableGivesOneEmptyBatchPerPartition)
{
    Outcome out = scan_all(1000);
    EXPECT_EQ(out.batches, Table::kPartitions);
    EXPECT_EQ(out.nonempty_batches, 0u);
}

TEST_F(BatchScanTest, EveryEntryOnceAndEveryBatchWithinItsBudget)
{
    std::set<std::string> keys = fill_keys(static_cast<int>(scaled(5000)));
    for (size_t budget : {size_t{0}, size_t{1}, size_t{500}, size_t{3000}, size_t{20000}, size_t{1} << 40}) {
        SCOPED_TRACE("budget " + std::to_string(budget));
        Outcome out = scan_all(budget);
        expect_exactly(out, keys);
        EXPECT_EQ(out.over_budget, 0u);
        if (budget <= 1) {
            EXPECT_EQ(out.nonempty_batches, keys.size()) << "one entry per batch";
        }
        if (budget == size_t{1} << 40) {
            EXPECT_EQ(out.batches, Table::kPartitions) << "one batch per partition";
        }
    }
}

TEST_F(BatchScanTest, ABudgetFillsBatchesNearlyFull)
{
    // Equal entries of 100 bytes and a budget of 1000: cuts inside buckets make batches of
    // ten, except the last of each partition.
    std::set<std::string> keys;
    for (int i = 0; i < 20000; ++i) {
        std::string k = "e-" + std::to_string(100000 + i);  // 8-byte keys
        put(t(), k, static_cast<uint64_t>(i), 92);
        keys.insert(k);
    }
    Outcome out = scan_all(1000);
    expect_exactly(out, keys);
    EXPECT_EQ(out.over_budget, 0u);
    EXPECT_LE(out.nonempty_batches, keys.size() / 10 + Table::kPartitions);
}

TEST_F(BatchScanTest, SkippedEntriesAreNeitherTakenNorCounted)
{
    std::set<std::string> keys = fill_keys(3000);
    std::set<std::string> wanted;
    for (const std::string &k : keys)
        if (std::stoi(k.substr(2)) % 3 == 0)
            wanted.insert(k);
    auto want = [&](const std::string &k) { return wanted.count(k) != 0; };
    Outcome out = scan_all(4000, want);
    expect_exactly(out, wanted);
    EXPECT_EQ(out.over_budget, 0u);
    // Nothing wanted at all: no entry, one empty batch per partition.
    Outcome none = scan_all(4000, [](const std::string &) { return false; });
    EXPECT_TRUE(none.seen.empty());
    EXPECT_EQ(none.batches, Table::kPartitions);
}

TEST_F(BatchScanTest, KeysWithIdenticalHashesAreCutByKey)
{
    // 40 keys of one hash (and so one bucket), 300 bytes each, among ordinary keys.
    const std::string base = "abcdefgh";
    std::set<std::string> keys = fill_keys(2000);
    std::set<std::string> same;
    same.insert(base);
    for (int i = 0; i < 39; ++i)
        same.insert(collide::extend_to_collide("same" + std::to_string(1000 + i), base));
    for (const std::string &k : same) {
        ASSERT_EQ(Table::hash_of(kv(k)), Table::hash_of(kv(base)));
        put(t(), k, 7, static_cast<uint32_t>(300 - k.size()));
        keys.insert(k);
    }
    for (size_t budget : {size_t{1}, size_t{650}, size_t{5000}}) {
        SCOPED_TRACE("budget " + std::to_string(budget));
        Outcome out = scan_all(budget);
        expect_exactly(out, keys);
        EXPECT_EQ(out.over_budget, 0u);
    }
    // Half of them skipped.
    int i = 0;
    std::set<std::string> wanted;
    for (const std::string &k : keys)
        if (same.count(k) == 0 || ++i % 2 == 0)
            wanted.insert(k);
    Outcome out = scan_all(650, [&](const std::string &k) { return wanted.count(k) != 0; });
    expect_exactly(out, wanted);
    EXPECT_EQ(out.over_budget, 0u);
}

// While a resize has items in both bucket arrays (batch scans never migrate, so every scan
// sees the same split).
class BatchScanResizeTest : public BatchScanTest, public ::testing::WithParamInterface<bool> {};

TEST_P(BatchScanResizeTest, EveryEntryOnceWhileItemsAreSplit)
{
    const bool grow = GetParam();
    std::set<std::string> keys;
    int next = 0;
    auto add = [&] {
        std::string k = "r-" + std::to_string(next);
        put(t(), k, static_cast<uint64_t>(next), static_cast<uint32_t>(next % 700));
        keys.insert(k);
        ++next;
    };
    if (grow) {
        while (!(t().stats().resizing && t().stats().size_log2 >= 12 &&
                 t().stats().size_log2 > t().stats().old_size_log2))
            add();
    } else {
        while (next < 20000)
            add();
        settle();
        for (int victim = 0; !(t().stats().resizing && t().stats().size_log2 < t().stats().old_size_log2);
             ++victim) {
            ASSERT_LT(victim, next) << "no shrink started";
            std::string k = "r-" + std::to_string(victim);
            t().erase(kv(k));
            keys.erase(k);
        }
    }
    // Migrate part of the items: some partitions then have items in both arrays.
    for (int i = 0; i < 300; ++i)
        t().erase(kv("absent-" + std::to_string(i)));
    bool mixed = false;
    for (uint32_t p = 0; p < Table::kPartitions; ++p) {
        auto info = t().partition_info(p);
        mixed |= info.entries_in_old_buckets > 0 && info.entries_in_old_buckets < info.entries;
    }
    ASSERT_TRUE(mixed);
    ASSERT_TRUE(t().stats().resizing);
    for (size_t budget : {size_t{1}, size_t{2000}, size_t{50000}}) {
        SCOPED_TRACE("budget " + std::to_string(budget));
        Outcome out = scan_all(budget);
        expect_exactly(out, keys);
        EXPECT_EQ(out.over_budget, 0u);
    }
    settle();
    expect_exactly(scan_all(2000), keys);
}

INSTANTIATE_TEST_SUITE_P(Directions, BatchScanResizeTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool> &info) { return info.param ? "Grow" : "Shrink"; });

// Between batches (the hook runs before each lock, when the scan holds none) other work
// inserts and erases keys outside a stable set, so the table grows and shrinks, and replaces
// the items of stable keys with new ones. Every stable key comes exactly once.
TEST_F(BatchScanTest, StableKeysOnceWhileTheTableResizesBetweenBatches)
{
    std::set<std::string> stable = fill_keys(2000);
    settle();
    std::set<std::string> churn_ever;
    std::set<std::string> churn_live;
    int hooks = 0;
    uint64_t churn_next = 0;
    DhtStats before = t().stats();
    std::mt19937 rng(3);
    policy_.before_lock = [&] {
        ++hooks;
        if (hooks % 200 < 100) {
            for (int i = 0; i < 60; ++i) {
                std::string k = "c-" + std::to_string(churn_next++);
                put(t(), k, 1, 10);
                churn_ever.insert(k);
                churn_live.insert(k);
            }
        } else {
            for (int i = 0; i < 60 && !churn_live.empty(); ++i) {
                t().erase(kv(*churn_live.begin()));
                churn_live.erase(churn_live.begin());
            }
        }
        for (int i = 0; i < 5; ++i)
            replace(t(), "k-" + std::to_string(rng() % 2000), rng(), rng() % 3000);
    };
    Outcome out = scan_all(3000);
    policy_.before_lock = nullptr;
    DhtStats after = t().stats();
    for (const std::string &k : stable)
        EXPECT_EQ(out.seen[k], 1) << k;
    for (const auto &[k, n] : out.seen) {
        if (stable.count(k) != 0)
            continue;
        EXPECT_EQ(churn_ever.count(k), 1u) << "scan invented " << k;
        EXPECT_EQ(n, 1) << k;
    }
    EXPECT_EQ(out.over_budget, 0u);
    EXPECT_GT(out.batches, 1000u) << "the budget cut partitions into many batches";
    EXPECT_GT(after.grows, before.grows);
    EXPECT_GT(after.shrinks, before.shrinks);
}

TEST_F(BatchScanTest, ThrowingTakeReleasesTheLock)
{
    fill_keys(500);
    BatchScan scan(t(), LockMode::exclusive);
    int taken = 0;
    auto cost = [](const TestEntry &e, const char *, uint32_t key_size, const char *) { return cost_of(e, key_size); };
    auto take = [&](const TestEntry &, const char *, uint32_t, const char *) {
        if (++taken == 20)
            throw std::runtime_error("take failed");
    };
    EXPECT_THROW(
        while (scan.next_batch(10000, cost, take)) {}, std::runtime_error);
    EXPECT_EQ(policy_.held(), 0);
    // The table is usable: a new scan sees everything.
    Outcome out = scan_all(10000);
    EXPECT_EQ(out.seen.size(), 500u);
}

// Real threads: writers churn other keys and replace the stable keys' items while scans run
// with small budgets.
TEST(BatchScanThreads, StableKeysOnceWhileOthersWrite)
{
    HeapPolicy policy;
    using HeapTable = Dht<HeapPolicy, TestEntry>;
    uint64_t ptr = HeapTable::create(policy);
    ASSERT_NE(ptr, 0u);
    {
        HeapTable table(policy, ptr);
        const int stable = 3000;
        for (int i = 0; i < stable; ++i) {
            InsertStatus st{};
            table.find_or_insert(kv("s-" + std::to_string(i)), 40,
                                 [&](TestEntry &e, char *tl) { fill(e, tl, static_cast<uint64_t>(i), 40); }, &st);
        }
        std::atomic<bool> stop{false};
        std::vector<std::thread> writers;
        for (int w = 0; w < 3; ++w) {
            writers.emplace_back([&, w] {
                std::mt19937 rng(static_cast<uint32_t>(w));
                for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
                    std::string k = "w" + std::to_string(w) + "-" + std::to_string(n % 4000);
                    if (n % 8000 < 4000) {
                        InsertStatus st{};
                        table.find_or_insert(kv(k), 16, [&](TestEntry &e, char *tl) { fill(e, tl, n, 16); }, &st);
                    } else {
                        table.erase(kv(k));
                    }
                    uint32_t tail = rng() % 200;
                    HeapTable::NewItem item = table.make_item(kv("s-" + std::to_string(rng() % stable)), tail);
                    if (item) {
                        fill(item.entry(), item.tail(), n, tail);
                        table.upsert(std::move(item), [](const TestEntry *, const char *) { return true; });
                    }
                }
            });
        }
        for (int round = 0; round < static_cast<int>(scaled(6)); ++round) {
            std::map<std::string, int> seen;
            HeapTable::BatchScan scan(table, LockMode::shared);
            auto cost = [](const TestEntry &e, const char *key, uint32_t key_size, const char *) -> size_t {
                return key[0] == 's' ? cost_of(e, key_size) : HeapTable::BatchScan::kSkip;
            };
            auto take = [&](const TestEntry &e, const char *key, uint32_t key_size, const char *tail) {
                EXPECT_TRUE(intact(e, tail));
                ++seen[std::string(key, key_size)];
            };
            while (scan.next_batch(static_cast<size_t>(500 + round * 700), cost, take)) {
            }
            ASSERT_EQ(seen.size(), static_cast<size_t>(stable)) << "round " << round;
            for (const auto &[k, n] : seen)
                ASSERT_EQ(n, 1) << k << " round " << round;
        }
        stop.store(true);
        for (std::thread &th : writers)
            th.join();
        table.destroy();
    }
    EXPECT_EQ(policy.live_blocks(), 0);
}

}  // namespace
