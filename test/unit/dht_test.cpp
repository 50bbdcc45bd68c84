// Single-threaded unit tests of the DHT core (include/simple_cache/core/dht.hpp): basic
// operations, growth and shrinking, operations and scans while a resize is in progress,
// allocation failures and exceptions. Every test ends by destroying its table and checking that
// the heap policy has no live block left.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/core/heap_policy.hpp"
#include "dht_test_support.hpp"

// ThreadSanitizer's deadlock detector tracks at most 64 locks held by one thread, and a resize
// holds all 128 partition locks at once (Dht::AllPartitionsLocked): with the detector on, TSan
// aborts with "CHECK failed: sanitizer_deadlock_detector.h ... n_all_locks_". Data-race
// detection is unaffected. TSAN_OPTIONS from the environment still override this default.
extern "C" const char *__tsan_default_options() { return "detect_deadlocks=0"; }

namespace {

using simple_cache::core::Dht;
using simple_cache::core::DhtStats;
using simple_cache::core::HeapPolicy;
using simple_cache::core::InsertStatus;
using simple_cache::core::KeyView;
using simple_cache::core::LockMode;
using simple_cache::core::SweepAction;
using simple_cache::core::UpsertResult;

using namespace dht_test;

std::string key_of(uint64_t i) { return "key-" + std::to_string(i); }

// A HeapPolicy that also counts the partition locks held (so tests can prove none is leaked
// without risking a deadlock), can run a hook before each lock() (so a single thread can act
// between the partitions of a scan, when it holds no lock) and can throw from allocations.
class TestPolicy : public HeapPolicy {
  public:
    void lock(Lock *lock, LockMode mode)
    {
        if (before_lock && !in_hook_) {
            in_hook_ = true;
            try {
                before_lock();
            } catch (...) {
                in_hook_ = false;
                throw;
            }
            in_hook_ = false;
        }
        HeapPolicy::lock(lock, mode);
        note(lock, +1);
    }

    bool try_lock_exclusive(Lock *lock)
    {
        bool ok = HeapPolicy::try_lock_exclusive(lock);
        if (ok)
            note(lock, +1);
        return ok;
    }

    void unlock(Lock *lock, LockMode mode)
    {
        note(lock, -1);
        HeapPolicy::unlock(lock, mode);
    }

    // Whether this lock is held (by anyone): for Dht::count_partition_locks.
    bool holds(const Lock *lock)
    {
        std::lock_guard<std::mutex> guard(mu_);
        auto it = per_lock_.find(lock);
        return it != per_lock_.end() && it->second > 0;
    }

    Pointer allocate(size_t bytes)
    {
        if (throw_on_allocate > 0 && --throw_on_allocate == 0)
            throw std::runtime_error("injected allocate failure");
        return HeapPolicy::allocate(bytes);
    }

    Pointer allocate_zeroed(size_t bytes)
    {
        if (throw_on_allocate_zeroed > 0 && --throw_on_allocate_zeroed == 0)
            throw std::runtime_error("injected allocate_zeroed failure");
        if (fail_allocate_zeroed)
            return 0;
        return HeapPolicy::allocate_zeroed(bytes);
    }

    int held() const { return held_.load(std::memory_order_relaxed); }

    std::function<void()> before_lock;  // runs before lock(), never re-entrantly
    int throw_on_allocate = 0;          // the n-th next allocate() throws (0: never)
    int throw_on_allocate_zeroed = 0;   // the n-th next allocate_zeroed() throws (0: never)
    bool fail_allocate_zeroed = false;  // allocate_zeroed() (only bucket arrays) returns null

  private:
    void note(const Lock *lock, int delta)
    {
        held_.fetch_add(delta, std::memory_order_relaxed);
        std::lock_guard<std::mutex> guard(mu_);
        int &n = per_lock_[lock];
        n += delta;
        if (n < 0)
            ADD_FAILURE() << "a lock was unlocked more often than locked";
    }

    std::atomic<int> held_{0};
    bool in_hook_ = false;
    std::mutex mu_;
    std::map<const void *, int> per_lock_;
};

using Table = Dht<TestPolicy, TestEntry>;
using Ref = Table::Ref;
using NewItem = Table::NewItem;
using Scan = Table::Scan;
constexpr unsigned kMin = Table::kMinSizeLog2;

// The model the tests compare a table with: key -> (value, tail size).
struct Expected {
    uint64_t value;
    uint32_t tail;
};
using Model = std::map<std::string, Expected>;

// Inserts key or overwrites its value in place; returns what find_or_insert reported.
InsertStatus put(Table &t, const std::string &key, uint64_t value, uint32_t tail = 8)
{
    InsertStatus status{};
    Ref ref = t.find_or_insert(kv(key), tail, [&](TestEntry &e, char *tl) { fill(e, tl, value, tail); },
                               &status);
    if (status == InsertStatus::found) {
        // in place: keep the tail size the item was allocated with
        fill(ref.entry(), ref.tail(), value, ref.entry().tail_bytes);
    }
    return status;
}

// Inserts into the table and the model; the key must be absent.
void insert_new(Table &t, Model &m, const std::string &key, uint64_t value, uint32_t tail = 8)
{
    ASSERT_EQ(put(t, key, value, tail), InsertStatus::inserted) << key;
    m[key] = Expected{value, tail};
}

// Value stored under key (checked intact), or nullopt.
std::optional<uint64_t> get(Table &t, const std::string &key, LockMode mode = LockMode::shared)
{
    Ref ref = t.find(kv(key), mode);
    if (!ref)
        return std::nullopt;
    EXPECT_EQ(ref.mode(), mode);
    EXPECT_EQ(std::string(ref.key_data(), ref.key_size()), key);
    EXPECT_TRUE(intact(ref.entry(), ref.tail())) << key;
    return ref.entry().value;
}

// Builds an item for key holding value.
NewItem make(Table &t, const std::string &key, uint64_t value, uint32_t tail)
{
    NewItem item = t.make_item(kv(key), tail);
    if (item)
        fill(item.entry(), item.tail(), value, tail);
    return item;
}

// Upserts unconditionally; returns the result.
UpsertResult upsert_value(Table &t, const std::string &key, uint64_t value, uint32_t tail = 8)
{
    NewItem item = make(t, key, value, tail);
    EXPECT_TRUE(item);
    return t.upsert(std::move(item), [](const TestEntry *, const char *) { return true; });
}

// Everything a shared scan returns; fails the test on a key seen twice or a damaged entry.
Model dump(Table &t, LockMode mode = LockMode::shared)
{
    Model out;
    Scan scan(t, mode);
    while (scan.next_partition()) {
        while (scan.next()) {
            std::string key(scan.key_data(), scan.key_size());
            EXPECT_TRUE(intact(scan.entry(), scan.tail())) << key;
            bool fresh = out.emplace(key, Expected{scan.entry().value, scan.entry().tail_bytes}).second;
            EXPECT_TRUE(fresh) << "scan returned " << key << " twice";
        }
    }
    return out;
}

// The keys of one scan in visiting order.
std::vector<std::string> scan_order(Table &t)
{
    std::vector<std::string> order;
    Scan scan(t, LockMode::shared);
    while (scan.next_partition())
        while (scan.next())
            order.emplace_back(scan.key_data(), scan.key_size());
    return order;
}

bool same_contents(const Model &a, const Model &b)
{
    if (a.size() != b.size())
        return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
        if (ia->first != ib->first || ia->second.value != ib->second.value ||
            ia->second.tail != ib->second.tail)
            return false;
    return true;
}

// Describes the first difference between a table's contents and the model.
std::string diff(const Model &got, const Model &want)
{
    for (const auto &[k, v] : want) {
        auto it = got.find(k);
        if (it == got.end())
            return "missing " + k;
        if (it->second.value != v.value || it->second.tail != v.tail)
            return "wrong value under " + k;
    }
    for (const auto &[k, v] : got)
        if (want.count(k) == 0)
            return "unexpected " + k;
    return "equal";
}

uint64_t sum_partition_entries(Table &t)
{
    uint64_t n = 0;
    for (uint32_t p = 0; p < Table::kPartitions; ++p)
        n += t.partition_info(p).entries;
    return n;
}

uint64_t sum_partition_old_entries(Table &t)
{
    uint64_t n = 0;
    for (uint32_t p = 0; p < Table::kPartitions; ++p)
        n += t.partition_info(p).entries_in_old_buckets;
    return n;
}

// Base fixture: a fresh table on a TestPolicy; TearDown destroys it and checks for leaks.
class DhtTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ptr_ = Table::create(policy_);
        ASSERT_NE(ptr_, 0u);
        header_bytes_ = policy_.live_bytes() - static_cast<int64_t>(sizeof(uint64_t) << kMin);
        table_.emplace(policy_, ptr_);
    }

    void TearDown() override
    {
        policy_.before_lock = nullptr;
        EXPECT_EQ(policy_.held(), 0) << "a partition lock is still held";
        if (table_) {
            table_->destroy();
            table_.reset();
        }
        EXPECT_EQ(policy_.live_blocks(), 0) << "leaked blocks";
        EXPECT_EQ(policy_.live_bytes(), 0) << "leaked bytes";
    }

    Table &t() { return *table_; }

    // Drives exclusive operations on absent keys (which only migrate and resize) until no
    // resize runs; returns the number of operations it took.
    int settle()
    {
        int ops = 0;
        while (t().stats().resizing) {
            t().erase(kv("settle-absent-" + std::to_string(ops % 1000)));
            ++ops;
            if (ops > 1'000'000) {
                ADD_FAILURE() << "resize never completes";
                break;
            }
        }
        return ops;
    }

    // Checks that memory in use is exactly the header, the bucket arrays and the model's items,
    // and that the entry counters agree with the model.
    void expect_exact_memory(const Model &m)
    {
        DhtStats s = t().stats();
        EXPECT_EQ(s.entries, m.size());
        int64_t bytes = header_bytes_ + static_cast<int64_t>(sizeof(uint64_t) << s.size_log2);
        int64_t blocks = 2 + static_cast<int64_t>(m.size());
        if (s.resizing) {
            bytes += static_cast<int64_t>(sizeof(uint64_t) << s.old_size_log2);
            blocks += 1;
        }
        for (const auto &[k, v] : m)
            bytes += static_cast<int64_t>(Table::item_bytes(k.size(), v.tail));
        EXPECT_EQ(policy_.live_blocks(), blocks);
        EXPECT_EQ(policy_.live_bytes(), bytes);
    }

    // Full check: scan contents, every model key by lookup, counters and memory.
    void expect_contents(const Model &m)
    {
        Model got = dump(t());
        EXPECT_TRUE(same_contents(got, m)) << diff(got, m);
        EXPECT_EQ(sum_partition_entries(t()), m.size());
        expect_exact_memory(m);
    }

    TestPolicy policy_;
    uint64_t ptr_ = 0;
    int64_t header_bytes_ = 0;
    std::optional<Table> table_;
};

// ---------------------------------------------------------------------------------------------
// 1. Basics

TEST_F(DhtTest, EmptyTableFindsNothing)
{
    DhtStats s = t().stats();
    EXPECT_EQ(s.entries, 0u);
    EXPECT_EQ(s.size_log2, kMin);
    EXPECT_FALSE(s.resizing);
    EXPECT_EQ(s.grows, 0u);
    EXPECT_EQ(s.shrinks, 0u);
    for (const std::string &k : {std::string(), std::string("a"), key_of(1), std::string(1000, 'x')}) {
        EXPECT_FALSE(t().find(kv(k), LockMode::shared));
        EXPECT_FALSE(t().find(kv(k), LockMode::exclusive));
        EXPECT_FALSE(t().erase(kv(k)));
    }
    EXPECT_EQ(policy_.held(), 0);
    expect_contents({});
}

TEST_F(DhtTest, FindOrInsertInsertsOnceThenFinds)
{
    int inits = 0;
    InsertStatus status{};
    {
        Ref ref = t().find_or_insert(kv("alpha"), 16,
                                     [&](TestEntry &e, char *tail) {
                                         ++inits;
                                         EXPECT_EQ(e.value, 0u);  // the entry starts zeroed
                                         EXPECT_EQ(e.check, 0u);
                                         fill(e, tail, 42, 16);
                                     },
                                     &status);
        ASSERT_TRUE(ref);
        EXPECT_EQ(status, InsertStatus::inserted);
        EXPECT_EQ(ref.mode(), LockMode::exclusive);
        EXPECT_EQ(std::string(ref.key_data(), ref.key_size()), "alpha");
        EXPECT_EQ(ref.entry().value, 42u);
        EXPECT_TRUE(intact(ref.entry(), ref.tail()));
        EXPECT_EQ(policy_.held(), 1);
    }
    EXPECT_EQ(policy_.held(), 0);
    {
        Ref ref = t().find_or_insert(kv("alpha"), 99, [&](TestEntry &, char *) { ++inits; }, &status);
        ASSERT_TRUE(ref);
        EXPECT_EQ(status, InsertStatus::found);
        EXPECT_EQ(ref.entry().value, 42u);
        EXPECT_EQ(ref.entry().tail_bytes, 16u);  // the existing item, not a new one
    }
    EXPECT_EQ(inits, 1);
    EXPECT_EQ(get(t(), "alpha"), 42u);
    EXPECT_EQ(get(t(), "alpha", LockMode::exclusive), 42u);
    EXPECT_FALSE(get(t(), "alph"));
    expect_contents({{"alpha", {42, 16}}});
}

TEST_F(DhtTest, RefReleaseIsIdempotentAndMoveTransfersTheLock)
{
    put(t(), "k", 1);
    Ref a = t().find(kv("k"), LockMode::exclusive);
    ASSERT_TRUE(a);
    Ref b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from Refs are empty
    ASSERT_TRUE(b);
    EXPECT_EQ(policy_.held(), 1);
    Ref c;
    c = std::move(b);
    EXPECT_EQ(policy_.held(), 1);
    c.release();
    EXPECT_FALSE(c);
    EXPECT_EQ(policy_.held(), 0);
    c.release();
    a.release();
    EXPECT_EQ(policy_.held(), 0);
    // Assigning over a held Ref releases it first.
    c = t().find(kv("k"), LockMode::shared);
    ASSERT_TRUE(c);
    c = Ref();
    EXPECT_EQ(policy_.held(), 0);
    expect_contents({{"k", {1, 8}}});
}

TEST_F(DhtTest, UpsertInsertsWhenAbsent)
{
    NewItem item = make(t(), "fresh", 7, 3);
    ASSERT_TRUE(item);
    EXPECT_EQ(item.bytes(), Table::item_bytes(5, 3));
    bool saw_absent = false;
    UpsertResult r = t().upsert(std::move(item), [&](const TestEntry *e, const char *tail) {
        saw_absent = e == nullptr && tail == nullptr;
        return true;
    });
    EXPECT_FALSE(item);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(saw_absent);
    EXPECT_FALSE(r.existed);
    EXPECT_TRUE(r.stored);
    EXPECT_EQ(get(t(), "fresh"), 7u);
    expect_contents({{"fresh", {7, 3}}});
}

TEST_F(DhtTest, UpsertReplacesKeepsOneEntryAndFreesTheOldItem)
{
    put(t(), "k", 1, 200);
    int64_t blocks = policy_.live_blocks();
    int64_t bytes = policy_.live_bytes();
    uint64_t seen = 0;
    UpsertResult r = t().upsert(make(t(), "k", 2, 10), [&](const TestEntry *e, const char *tail) {
        EXPECT_NE(e, nullptr);
        if (e != nullptr) {
            seen = e->value;
            EXPECT_TRUE(intact(*e, tail));
        }
        return true;
    });
    EXPECT_TRUE(r.existed);
    EXPECT_TRUE(r.stored);
    EXPECT_EQ(seen, 1u);
    EXPECT_EQ(t().stats().entries, 1u);
    EXPECT_EQ(policy_.live_blocks(), blocks);  // the old item was freed
    EXPECT_EQ(policy_.live_bytes(), bytes - static_cast<int64_t>(Table::item_bytes(1, 200)) +
                                        static_cast<int64_t>(Table::item_bytes(1, 10)));
    EXPECT_EQ(get(t(), "k"), 2u);
    expect_contents({{"k", {2, 10}}});
}

TEST_F(DhtTest, UpsertDeclinedKeepsTheTableAndFreesTheNewItem)
{
    put(t(), "k", 1, 5);
    UpsertResult r = t().upsert(make(t(), "k", 2, 50), [](const TestEntry *, const char *) { return false; });
    EXPECT_TRUE(r.existed);
    EXPECT_FALSE(r.stored);
    r = t().upsert(make(t(), "absent", 3, 50), [](const TestEntry *, const char *) { return false; });
    EXPECT_FALSE(r.existed);
    EXPECT_FALSE(r.stored);
    EXPECT_FALSE(get(t(), "absent"));
    // A decision based on the existing entry: only replace a smaller value.
    auto if_smaller = [](uint64_t v) {
        return [v](const TestEntry *e, const char *) { return e == nullptr || e->value < v; };
    };
    EXPECT_FALSE(t().upsert(make(t(), "k", 0, 5), if_smaller(0)).stored);
    EXPECT_TRUE(t().upsert(make(t(), "k", 9, 6), if_smaller(9)).stored);
    expect_contents({{"k", {9, 6}}});
}

TEST_F(DhtTest, ReplaceThroughARef)
{
    put(t(), "k", 1, 100);
    put(t(), "other", 5, 1);
    {
        Ref ref = t().find(kv("k"), LockMode::exclusive);
        ASSERT_TRUE(ref);
        t().replace(ref, make(t(), "k", 2, 20));
        ASSERT_TRUE(ref);
        EXPECT_EQ(ref.entry().value, 2u);
        EXPECT_EQ(std::string(ref.key_data(), ref.key_size()), "k");
        EXPECT_TRUE(intact(ref.entry(), ref.tail()));
        // A second replace under the same lock frees the first replacement's predecessor.
        t().replace(ref, make(t(), "k", 3, 30));
        EXPECT_EQ(ref.entry().value, 3u);
    }
    EXPECT_EQ(get(t(), "k"), 3u);
    expect_contents({{"k", {3, 30}}, {"other", {5, 1}}});
}

TEST_F(DhtTest, ReplaceThenEraseThroughTheSameRef)
{
    put(t(), "k", 1, 100);
    Ref ref = t().find(kv("k"), LockMode::exclusive);
    ASSERT_TRUE(ref);
    t().replace(ref, make(t(), "k", 2, 20));
    t().erase(std::move(ref));
    EXPECT_FALSE(ref);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(policy_.held(), 0);
    EXPECT_FALSE(get(t(), "k"));
    expect_contents({});
}

TEST_F(DhtTest, EraseByKeyAndByRef)
{
    Model m;
    for (int i = 0; i < 50; ++i)
        insert_new(t(), m, key_of(i), i);
    EXPECT_TRUE(t().erase(kv(key_of(3))));
    EXPECT_FALSE(t().erase(kv(key_of(3))));
    m.erase(key_of(3));
    {
        InsertStatus status{};
        Ref ref = t().find_or_insert(kv(key_of(4)), 8, [](TestEntry &, char *) {}, &status);
        ASSERT_EQ(status, InsertStatus::found);
        t().erase(std::move(ref));
        m.erase(key_of(4));
    }
    {
        Ref ref = t().find(kv(key_of(5)), LockMode::exclusive);
        ASSERT_TRUE(ref);
        t().erase(std::move(ref));
        m.erase(key_of(5));
    }
    {
        // erase an item just inserted, through the Ref find_or_insert returned
        InsertStatus status{};
        Ref ref = t().find_or_insert(kv("transient"), 4, [](TestEntry &e, char *tl) { fill(e, tl, 1, 4); },
                                     &status);
        ASSERT_EQ(status, InsertStatus::inserted);
        t().erase(std::move(ref));
    }
    EXPECT_EQ(policy_.held(), 0);
    EXPECT_FALSE(get(t(), key_of(3)));
    EXPECT_FALSE(get(t(), key_of(4)));
    EXPECT_FALSE(get(t(), key_of(5)));
    EXPECT_FALSE(get(t(), "transient"));
    expect_contents(m);
}

TEST_F(DhtTest, SharedFindsCoexistAndExclusiveFindCanWrite)
{
    put(t(), "k", 1);
    {
        Ref shared = t().find(kv("k"), LockMode::shared);
        ASSERT_TRUE(shared);
        EXPECT_EQ(shared.mode(), LockMode::shared);
        // Another reader gets in while this one holds the partition shared.
        std::optional<uint64_t> other;
        std::thread reader([&] { other = get(t(), "k", LockMode::shared); });
        reader.join();
        EXPECT_EQ(other, 1u);
    }
    {
        Ref ex = t().find(kv("k"), LockMode::exclusive);
        ASSERT_TRUE(ex);
        EXPECT_EQ(ex.mode(), LockMode::exclusive);
        fill(ex.entry(), ex.tail(), 77, ex.entry().tail_bytes);
    }
    EXPECT_EQ(get(t(), "k"), 77u);
    expect_contents({{"k", {77, 8}}});
}

TEST_F(DhtTest, KeysOfDifferentLengthsAreDistinct)
{
    std::vector<std::string> keys = {
        std::string(),           std::string(1, '\0'), std::string(2, '\0'), "a",   "ab", "abc",
        std::string("abc\0", 4), "abcd",               "abcdefg",            "abcdefgh",
        "abcdefghi",             "abcdefghijklmno",    "abcdefghijklmnop",   "abcdefghijklmnopq",
        std::string(8, 'z'),     std::string(16, 'z'), std::string(100 * 1024, 'q'),
        std::string(100 * 1024 + 1, 'q'), std::string(100 * 1024, 'q') + "r",
    };
    // Prefixes of a long random key, at every length around the 8-byte hashing step.
    std::mt19937_64 rng(7);
    std::string longkey(300, ' ');
    for (char &c : longkey)
        c = static_cast<char>(rng());
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 255, 299, 300})
        keys.push_back(longkey.substr(0, n) + "#");
    Model m;
    uint64_t v = 1;
    for (const std::string &k : keys) {
        if (m.count(k) != 0)
            continue;
        insert_new(t(), m, k, v++, static_cast<uint32_t>(k.size() % 13));
    }
    ASSERT_EQ(m.size(), keys.size());
    for (const auto &[k, e] : m) {
        EXPECT_EQ(get(t(), k), e.value) << "key of length " << k.size();
        Ref ref = t().find(kv(k), LockMode::shared);
        ASSERT_TRUE(ref);
        EXPECT_EQ(ref.key_size(), k.size());
        EXPECT_EQ(0, std::memcmp(ref.key_data(), k.data(), k.size()));
    }
    EXPECT_FALSE(get(t(), std::string(3, '\0')));
    EXPECT_FALSE(get(t(), "abcde"));
    EXPECT_FALSE(get(t(), std::string(100 * 1024 - 1, 'q')));
    expect_contents(m);
    // Erase them one at a time; the rest stay findable.
    while (!m.empty()) {
        std::string k = m.begin()->first;
        EXPECT_TRUE(t().erase(kv(k)));
        m.erase(m.begin());
        for (const auto &[k2, e] : m)
            EXPECT_EQ(get(t(), k2), e.value);
    }
    expect_contents(m);
}

TEST_F(DhtTest, KeysWithIdenticalHashesAreDistinct)
{
    const std::string base = "abcdefgh";  // 8 bytes
    std::vector<std::string> keys = {base};
    // Longer keys that start with every shorter one: base, base+u1, base+u1+u2, ...
    for (int i = 0; i < 5; ++i)
        keys.push_back(collide::extend_to_collide(keys.back(), base));
    // A key that is base plus a NUL-padded remainder: "abcde" (5 bytes) is hashed as one
    // zero-padded word, so "abcde\0\0\0" + u collides with it, and starts with it.
    const std::string short_key = "abcde";
    // Same-length keys with different contents.
    for (int i = 0; i < 40; ++i)
        keys.push_back(collide::extend_to_collide("prefix" + std::to_string(10 + i), base));
    std::string padded = collide::extend_to_collide(std::string("abcde\0\0\0", 8), base);
    keys.push_back(padded);
    const uint32_t h = Table::hash_of(kv(base));
    for (const std::string &k : keys)
        ASSERT_EQ(Table::hash_of(kv(k)), h) << "the collision construction no longer matches hash_bytes";
    EXPECT_NE(Table::hash_of(kv(short_key)), h);  // its own hash: only used as a prefix
    EXPECT_EQ(padded.compare(0, short_key.size(), short_key), 0);

    // Insert in both orders relative to the prefixes, look every key up, erase from the middle.
    Model m;
    for (size_t i = 0; i < keys.size(); ++i)
        insert_new(t(), m, keys[i], 100 + i, static_cast<uint32_t>(i % 4));
    for (size_t i = keys.size(); i-- > 0;)
        EXPECT_EQ(get(t(), keys[i]), m[keys[i]].value) << "key " << i;
    // Prefixes and truncations that were never inserted are not found.
    EXPECT_FALSE(get(t(), short_key));
    EXPECT_FALSE(get(t(), keys[1].substr(0, 12)));
    EXPECT_FALSE(get(t(), keys[3] + "x"));
    expect_contents(m);
    for (size_t i = 0; i < keys.size(); i += 2) {
        EXPECT_TRUE(t().erase(kv(keys[i])));
        m.erase(keys[i]);
    }
    for (const std::string &k : keys)
        EXPECT_EQ(get(t(), k), m.count(k) ? std::optional<uint64_t>(m[k].value) : std::nullopt);
    // Upserts replace the right one of the colliding items.
    for (size_t i = 1; i < keys.size(); i += 4) {
        EXPECT_TRUE(upsert_value(t(), keys[i], 5000 + i, 2).existed);
        m[keys[i]] = {5000 + i, 2};
    }
    expect_contents(m);
    settle();
    expect_contents(m);
}

// An empty key may come as KeyView{nullptr, 0} (regression: the table used to pass the null
// pointer to memcpy and memcmp, undefined behaviour that UBSan reports).
TEST_F(DhtTest, EmptyKeyWithNullData)
{
    KeyView empty{nullptr, 0};
    InsertStatus status{};
    {
        Ref ref = t().find_or_insert(empty, 4, [](TestEntry &e, char *tl) { fill(e, tl, 5, 4); }, &status);
        EXPECT_EQ(status, InsertStatus::inserted);
    }
    EXPECT_EQ(get(t(), ""), 5u);  // the same key as a non-null empty string
    EXPECT_TRUE(t().find(empty, LockMode::shared));
    EXPECT_TRUE(t().erase(empty));
    expect_contents({});
}

TEST_F(DhtTest, VariableSizeTails)
{
    Model m;
    std::vector<uint32_t> sizes = {0, 1, 2, 7, 8, 9, 100, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < sizes.size(); ++i)
        insert_new(t(), m, "tail-" + std::to_string(i), 1000 + i, sizes[i]);
    for (size_t i = 0; i < sizes.size(); ++i) {
        Ref ref = t().find(kv("tail-" + std::to_string(i)), LockMode::shared);
        ASSERT_TRUE(ref);
        EXPECT_EQ(ref.entry().tail_size(), sizes[i]);
        EXPECT_TRUE(intact(ref.entry(), ref.tail()));
        // The tail starts right after the key.
        EXPECT_EQ(ref.tail(), ref.key_data() + ref.key_size());
    }
    expect_contents(m);
    // Replacing with a different tail size and erasing account the right bytes.
    upsert_value(t(), "tail-9", 1, 3);
    m["tail-9"] = {1, 3};
    EXPECT_TRUE(t().erase(kv("tail-8")));
    m.erase("tail-8");
    expect_contents(m);
}

// ---------------------------------------------------------------------------------------------
// 2. Growth and shrinking

TEST_F(DhtTest, GrowsThenShrinksBackToTheMinimum)
{
    const int64_t n = scaled(200'000);
    Model m;
    unsigned max_log2 = kMin;
    for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(put(t(), key_of(i), i * 3, static_cast<uint32_t>(i % 5)), InsertStatus::inserted);
        m[key_of(i)] = {static_cast<uint64_t>(i * 3), static_cast<uint32_t>(i % 5)};
        max_log2 = std::max(max_log2, t().stats().size_log2);
    }
    settle();
    DhtStats s = t().stats();
    EXPECT_EQ(s.entries, static_cast<uint64_t>(n));
    EXPECT_GT(s.grows, 0u);
    EXPECT_EQ(s.shrinks, 0u);
    // Grown one step at a time to about one entry per bucket.
    EXPECT_EQ(s.grows, s.size_log2 - kMin);
    EXPECT_GE(uint64_t{1} << s.size_log2, static_cast<uint64_t>(n) / 2);
    EXPECT_LE(uint64_t{1} << s.size_log2, static_cast<uint64_t>(n) * 4);
    for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(get(t(), key_of(i)), static_cast<uint64_t>(i * 3)) << i;
    expect_contents(m);

    for (int64_t i = 0; i < n; ++i)
        ASSERT_TRUE(t().erase(kv(key_of(i)))) << i;
    m.clear();
    // Migration and the last shrink need a few more operations.
    for (int i = 0; i < 100 && (t().stats().resizing || t().stats().size_log2 != kMin); ++i)
        t().erase(kv("absent"));
    s = t().stats();
    EXPECT_EQ(s.size_log2, kMin);
    EXPECT_FALSE(s.resizing);
    EXPECT_GT(s.shrinks, 0u);
    EXPECT_EQ(s.entries, 0u);
    for (int64_t i = 0; i < n; i += 97)
        EXPECT_FALSE(get(t(), key_of(i)));
    expect_contents(m);
    EXPECT_EQ(policy_.live_blocks(), 2);  // header and the minimal bucket array
}

// A sweep that removes entries leaves the size alone; shrink_if_sparse then starts the
// shrink, and complete_resize finishes it, so the large array is gone at once.
TEST_F(DhtTest, ShrinkIfSparseAfterASweepEmptiedTheTable)
{
    const int64_t n = scaled(20'000);
    Model m;
    for (int64_t i = 0; i < n; ++i)
        insert_new(t(), m, key_of(i), static_cast<uint64_t>(i), 1);
    settle();
    unsigned grown = t().stats().size_log2;
    ASSERT_GT(grown, kMin + 4);
    // Remove all but a few, by sweeping.
    uint64_t kept = 0;
    for (int round = 0; round < 1000 && t().stats().entries > 10; ++round)
        t().sweep(1000, true, [&](TestEntry &e, const char *, uint32_t, char *) {
            return e.value % 2000 == 0 ? SweepAction::keep : SweepAction::remove;
        });
    for (auto it = m.begin(); it != m.end();) {
        if (it->second.value % 2000 == 0) {
            ++kept;
            ++it;
        } else {
            it = m.erase(it);
        }
    }
    ASSERT_EQ(t().stats().entries, kept);
    EXPECT_EQ(t().stats().size_log2, grown) << "a sweep does not shrink the table";
    EXPECT_FALSE(t().stats().resizing);
    t().shrink_if_sparse();
    DhtStats s = t().stats();
    EXPECT_LT(s.size_log2, grown);
    EXPECT_TRUE(s.resizing) << "the kept entries are still to move";
    t().complete_resize();
    EXPECT_FALSE(t().stats().resizing);
    expect_contents(m);
    // A table that is not sparse is left as it is.
    unsigned small = t().stats().size_log2;
    t().shrink_if_sparse();
    EXPECT_EQ(t().stats().size_log2, small);
    EXPECT_FALSE(t().stats().resizing);
}

TEST_F(DhtTest, GrowthUsesTheDeclaredLoadFactor)
{
    // After every settled insert, no partition holds more items than about two per bucket:
    // an overloaded partition starts a grow at its next exclusive operation.
    Model m;
    for (int i = 0; i < 5000; ++i) {
        insert_new(t(), m, key_of(i), i);
        settle();
    }
    DhtStats s = t().stats();
    uint64_t buckets_per_partition = (uint64_t{1} << s.size_log2) / Table::kPartitions;
    for (uint32_t p = 0; p < Table::kPartitions; ++p) {
        auto info = t().partition_info(p);
        EXPECT_EQ(info.buckets, buckets_per_partition);
        EXPECT_EQ(info.entries_in_old_buckets, 0u);
        EXPECT_LE(info.entries, 2 * buckets_per_partition + 1) << "partition " << p;
    }
    expect_contents(m);
}

// A table whose contents do not change must settle at one size. Regression: with few entries,
// a partition holding two entries asked for a grow (more than one entry per bucket), and right
// after the grow any exclusive operation on an empty partition asked for a shrink back to the
// minimum (the whole table below one entry per 8 buckets), so the two alternated for ever,
// each resize allocating a bucket array and taking all 128 partition locks.
TEST_F(DhtTest, AnUnchangingSmallTableStopsResizing)
{
    Model m;
    // Ten keys, two of which share a partition.
    auto partition = [](const std::string &k) { return Table::hash_of(kv(k)) >> (32 - Table::kPartitionBits); };
    std::vector<std::string> keys = {key_of(0)};
    for (int i = 1; keys.size() < 2; ++i)
        if (partition(key_of(i)) == partition(keys[0]))
            keys.push_back(key_of(i));
    for (int i = 1000; keys.size() < 10; ++i)
        keys.push_back(key_of(i));
    for (const std::string &k : keys)
        insert_new(t(), m, k, 1);
    auto resizes = [&] { return t().stats().grows + t().stats().shrinks; };
    // Lookups and erases of absent keys only: nothing changes in the contents.
    auto churn = [&](int round) {
        for (int i = 0; i < 1000; ++i) {
            get(t(), keys[static_cast<size_t>(i) % keys.size()], LockMode::exclusive);
            t().erase(kv("absent-" + std::to_string(round * 1000 + i)));
        }
    };
    churn(0);
    settle();
    uint64_t settled = resizes();
    churn(1);
    EXPECT_EQ(resizes(), settled) << "2000 operations that change nothing resized the table "
                                  << resizes() - settled << " times";
    settle();
    expect_contents(m);
}

// ---------------------------------------------------------------------------------------------
// 3. Operations while a resize is in progress, for grows and for shrinks

enum class Direction { grow, shrink };

class DhtResizeTest : public DhtTest, public ::testing::WithParamInterface<Direction> {
  protected:
    // Fills the table (and model) until a resize in the wanted direction has just started.
    // Returns the next unused key number.
    uint64_t start_resize(Model &m, Direction d)
    {
        uint64_t next = 0;
        if (d == Direction::grow) {
            // Grow past a few thousand entries so the migration takes many operations.
            while (!(t().stats().resizing && t().stats().size_log2 >= 13 &&
                     t().stats().size_log2 > t().stats().old_size_log2)) {
                insert_new(t(), m, key_of(next), next * 7, static_cast<uint32_t>(next % 3));
                ++next;
                if (next > 1'000'000) {
                    ADD_FAILURE() << "no grow started";
                    break;
                }
            }
        } else {
            for (; next < static_cast<uint64_t>(scaled(25'000)); ++next)
                insert_new(t(), m, key_of(next), next * 7, static_cast<uint32_t>(next % 3));
            settle();
            uint64_t victim = 0;
            while (!(t().stats().resizing && t().stats().size_log2 < t().stats().old_size_log2)) {
                if (victim >= next) {
                    ADD_FAILURE() << "no shrink started";
                    break;
                }
                EXPECT_TRUE(t().erase(kv(key_of(victim))));
                m.erase(key_of(victim));
                ++victim;
            }
        }
        return next;
    }
};

TEST_P(DhtResizeTest, OperationsDuringAResizeAreExact)
{
    Model m;
    uint64_t next = start_resize(m, GetParam());
    DhtStats start = t().stats();
    ASSERT_TRUE(start.resizing);
    uint64_t old_items = sum_partition_old_entries(t());
    ASSERT_GT(old_items, 1000u);
    EXPECT_GT(start.migrating_partitions, 0u);

    // A scan sees everything exactly once while the items are split.
    expect_contents(m);

    std::mt19937_64 rng(GetParam() == Direction::grow ? 1 : 2);
    uint64_t ops_while_resizing = 0;
    uint64_t step = 0;
    std::vector<std::string> keys;
    for (const auto &kvp : m)
        keys.push_back(kvp.first);
    bool mixed = false;  // seen a partition with items in both bucket arrays
    while (t().stats().resizing) {
        ++ops_while_resizing;
        ++step;
        if (step % 50 == 0 && !mixed) {
            for (uint32_t p = 0; p < Table::kPartitions; ++p) {
                auto info = t().partition_info(p);
                mixed |= info.entries_in_old_buckets > 0 && info.entries_in_old_buckets < info.entries;
            }
        }
        const std::string &k = keys[rng() % keys.size()];
        bool present = m.count(k) != 0;
        switch (rng() % 9) {
        case 0:
            EXPECT_EQ(get(t(), k, LockMode::shared), present ? std::optional<uint64_t>(m[k].value) : std::nullopt);
            break;
        case 1:
            EXPECT_EQ(get(t(), k, LockMode::exclusive),
                      present ? std::optional<uint64_t>(m[k].value) : std::nullopt);
            break;
        case 2: {  // find_or_insert on an existing or erased key
            InsertStatus st = put(t(), k, step, 2);
            EXPECT_EQ(st, present ? InsertStatus::found : InsertStatus::inserted);
            if (present)
                m[k].value = step;
            else
                m[k] = {step, 2};
            break;
        }
        case 3: {  // a brand-new key
            std::string nk = key_of(next++);
            insert_new(t(), m, nk, step, 1);
            keys.push_back(nk);
            break;
        }
        case 4:
            EXPECT_EQ(t().erase(kv(k)), present);
            m.erase(k);
            break;
        case 5: {
            UpsertResult r = upsert_value(t(), k, step, 4);
            EXPECT_EQ(r.existed, present);
            EXPECT_TRUE(r.stored);
            m[k] = {step, 4};
            break;
        }
        case 6: {
            Ref ref = t().find(kv(k), LockMode::exclusive);
            EXPECT_EQ(static_cast<bool>(ref), present);
            if (ref) {
                t().replace(ref, make(t(), k, step, 6));
                m[k] = {step, 6};
            }
            break;
        }
        case 7: {
            Ref ref = t().find(kv(k), LockMode::exclusive);
            EXPECT_EQ(static_cast<bool>(ref), present);
            if (ref) {
                t().erase(std::move(ref));
                m.erase(k);
            }
            break;
        }
        case 8:
            if (step % 64 == 0)
                expect_contents(m);
            break;
        }
        if (HasFailure())
            return;
    }
    EXPECT_TRUE(mixed) << "expected a partition with items in both bucket arrays";
    // An operation moves at most three items (plus the one it erases), so thousands of
    // operations ran mid-resize.
    EXPECT_GE(ops_while_resizing, old_items / 4);
    for (const auto &[k, e] : m)
        ASSERT_EQ(get(t(), k), e.value) << k;
    expect_contents(m);
    EXPECT_EQ(sum_partition_old_entries(t()), 0u);
}

TEST_P(DhtResizeTest, EveryKeyIsFoundWhileItemsAreSplit)
{
    Model m;
    start_resize(m, GetParam());
    // Each lookup moves at most two items, so most of the lookups below run mid-resize; each
    // key is looked up once, in an order unrelated to the bucket order.
    std::vector<std::string> keys;
    for (const auto &kvp : m)
        keys.push_back(kvp.first);
    std::shuffle(keys.begin(), keys.end(), std::mt19937_64(3));
    uint64_t found_mid_resize = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
        bool resizing = t().stats().resizing;
        std::optional<uint64_t> v = get(t(), keys[i], i % 2 ? LockMode::shared : LockMode::exclusive);
        ASSERT_EQ(v, m[keys[i]].value) << keys[i];
        found_mid_resize += resizing;
    }
    EXPECT_GT(found_mid_resize, keys.size() / 4);
    // Absent keys are not found in either array.
    for (int i = 0; i < 1000; ++i)
        EXPECT_FALSE(get(t(), "absent-" + std::to_string(i)));
    settle();
    expect_contents(m);
}

TEST_P(DhtResizeTest, CompleteResizeFreesTheOldArrayAtOnce)
{
    Model m;
    start_resize(m, GetParam());
    DhtStats before = t().stats();
    ASSERT_TRUE(before.resizing);
    ASSERT_GT(sum_partition_old_entries(t()), 1000u);
    t().complete_resize();
    DhtStats after = t().stats();
    EXPECT_FALSE(after.resizing);
    EXPECT_EQ(after.size_log2, before.size_log2);
    EXPECT_EQ(sum_partition_old_entries(t()), 0u);
    // Exact memory: the new array only, every item in it.
    expect_contents(m);
    for (const auto &[k, e] : m)
        ASSERT_EQ(get(t(), k), e.value) << k;
    // Without a resize in progress it does nothing.
    t().complete_resize();
    EXPECT_EQ(t().stats().size_log2, after.size_log2);
    expect_contents(m);
}

INSTANTIATE_TEST_SUITE_P(Directions, DhtResizeTest, ::testing::Values(Direction::grow, Direction::shrink),
                         [](const ::testing::TestParamInfo<Direction> &info) {
                             return info.param == Direction::grow ? "Grow" : "Shrink";
                         });

// ---------------------------------------------------------------------------------------------
// 4. Scans

TEST_F(DhtTest, ScanOfAnEmptyTable)
{
    Scan scan(t(), LockMode::shared);
    EXPECT_FALSE(scan.next());  // before the first partition
    int partitions = 0;
    while (scan.next_partition()) {
        EXPECT_EQ(scan.partition(), partitions);
        ++partitions;
        EXPECT_FALSE(scan.next());
        EXPECT_FALSE(scan.next());
    }
    EXPECT_EQ(partitions, static_cast<int>(Table::kPartitions));
    EXPECT_FALSE(scan.next_partition());
    EXPECT_EQ(policy_.held(), 0);
}

TEST_F(DhtTest, ScanReturnsEveryEntryOnceInItsPartition)
{
    Model m;
    for (int i = 0; i < 3000; ++i)
        insert_new(t(), m, key_of(i), i, i % 4);
    settle();
    for (LockMode mode : {LockMode::shared, LockMode::exclusive}) {
        std::map<std::string, int> seen;
        Scan scan(t(), mode);
        while (scan.next_partition()) {
            EXPECT_EQ(policy_.held(), 1);
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                ++seen[k];
                EXPECT_EQ(static_cast<int>(Table::hash_of(kv(k)) >> (32 - Table::kPartitionBits)),
                          scan.partition());
                EXPECT_TRUE(intact(scan.entry(), scan.tail()));
                EXPECT_EQ(scan.entry().value, m[k].value);
            }
        }
        EXPECT_EQ(seen.size(), m.size());
        for (const auto &[k, n] : seen)
            EXPECT_EQ(n, 1) << k;
    }
    expect_contents(m);
}

TEST_F(DhtTest, ExclusiveScanCanUpdateEntriesInPlace)
{
    Model m;
    for (int i = 0; i < 500; ++i)
        insert_new(t(), m, key_of(i), i, 3);
    {
        Scan scan(t(), LockMode::exclusive);
        while (scan.next_partition())
            while (scan.next())
                fill(scan.entry(), scan.tail(), scan.entry().value + 1000, 3);
    }
    for (auto &[k, e] : m)
        e.value += 1000;
    expect_contents(m);
}

TEST_F(DhtTest, ScanEndedEarlyReleasesItsLock)
{
    Model m;
    for (int i = 0; i < 300; ++i)
        insert_new(t(), m, key_of(i), i);
    {
        Scan scan(t(), LockMode::exclusive);
        ASSERT_TRUE(scan.next_partition());
        ASSERT_TRUE(scan.next_partition());
        EXPECT_EQ(policy_.held(), 1);
        scan.next();
        scan.finish();
        EXPECT_EQ(policy_.held(), 0);
        EXPECT_FALSE(scan.next_partition());
        EXPECT_FALSE(scan.next());
    }
    {
        Scan scan(t(), LockMode::shared);
        ASSERT_TRUE(scan.next_partition());
        scan.next();
    }  // the destructor unlocks
    EXPECT_EQ(policy_.held(), 0);
    expect_contents(m);
}

// Erases, with an exclusive scan, the keys `pick` selects from the keys in visiting order;
// checks that the erasing scan visits every key once in the same order as a plain scan.
void erase_by_scan(Table &t, Model &m, const std::function<bool(const std::vector<std::string> &, size_t)> &pick)
{
    std::vector<std::string> order = scan_order(t);
    std::set<std::string> victims;
    for (size_t i = 0; i < order.size(); ++i)
        if (pick(order, i))
            victims.insert(order[i]);
    std::vector<std::string> visited;
    {
        Scan scan(t, LockMode::exclusive);
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                visited.push_back(k);
                if (victims.count(k) != 0)
                    scan.erase_current();
            }
        }
    }
    EXPECT_EQ(visited, order);
    for (const std::string &k : victims)
        m.erase(k);
}

TEST_F(DhtTest, ExclusiveScanErasesEveryOtherEntry)
{
    Model m;
    for (int i = 0; i < 4000; ++i)
        insert_new(t(), m, key_of(i), i, i % 7);
    settle();
    erase_by_scan(t(), m, [](const std::vector<std::string> &, size_t i) { return i % 2 == 0; });
    EXPECT_EQ(m.size(), 2000u);
    expect_contents(m);
    for (const auto &[k, e] : m)
        EXPECT_EQ(get(t(), k), e.value);
}

TEST_F(DhtTest, ExclusiveScanErasesTheLastItemOfEachBucketAndPartition)
{
    Model m;
    for (int i = 0; i < 3000; ++i)
        insert_new(t(), m, key_of(i), i);
    settle();
    unsigned log2 = t().stats().size_log2;
    auto bucket = [log2](const std::string &k) { return Table::hash_of(kv(k)) >> (32 - log2); };
    auto partition = [](const std::string &k) { return Table::hash_of(kv(k)) >> (32 - Table::kPartitionBits); };
    // Last of its bucket (the chain's tail).
    erase_by_scan(t(), m, [&](const std::vector<std::string> &o, size_t i) {
        return i + 1 == o.size() || bucket(o[i + 1]) != bucket(o[i]);
    });
    expect_contents(m);
    // Last of its partition.
    erase_by_scan(t(), m, [&](const std::vector<std::string> &o, size_t i) {
        return i + 1 == o.size() || partition(o[i + 1]) != partition(o[i]);
    });
    expect_contents(m);
    // First of its bucket (the chain's head), then whole chains of two or more.
    erase_by_scan(t(), m, [&](const std::vector<std::string> &o, size_t i) {
        return i == 0 || bucket(o[i - 1]) != bucket(o[i]);
    });
    expect_contents(m);
    erase_by_scan(t(), m, [&](const std::vector<std::string> &o, size_t i) {
        bool prev_same = i > 0 && bucket(o[i - 1]) == bucket(o[i]);
        bool next_same = i + 1 < o.size() && bucket(o[i + 1]) == bucket(o[i]);
        return prev_same || next_same;
    });
    expect_contents(m);
    for (const auto &[k, e] : m)
        EXPECT_EQ(get(t(), k), e.value);
}

TEST_F(DhtTest, ExclusiveScanErasingEverythingShrinksTheTable)
{
    Model m;
    for (int i = 0; i < 20000; ++i)
        insert_new(t(), m, key_of(i), i, 1);
    settle();
    DhtStats before = t().stats();
    ASSERT_GT(before.size_log2, kMin + 3);
    erase_by_scan(t(), m, [](const std::vector<std::string> &, size_t) { return true; });
    // The scan's finish() started (and, the table being empty, completed) the shrink.
    DhtStats after = t().stats();
    EXPECT_EQ(after.entries, 0u);
    EXPECT_EQ(after.size_log2, kMin);
    EXPECT_FALSE(after.resizing);
    EXPECT_EQ(after.shrinks, before.shrinks + 1);
    expect_contents(m);
}

TEST_F(DhtTest, ExclusiveScanErasingMostEntriesShrinksTheTable)
{
    Model m;
    for (int i = 0; i < 20000; ++i)
        insert_new(t(), m, key_of(i), i, 1);
    settle();
    DhtStats before = t().stats();
    erase_by_scan(t(), m, [](const std::vector<std::string> &, size_t i) { return i % 100 != 0; });
    DhtStats after = t().stats();
    EXPECT_EQ(after.shrinks, before.shrinks + 1);
    EXPECT_LT(after.size_log2, before.size_log2);
    expect_contents(m);
    settle();
    expect_contents(m);
    for (const auto &[k, e] : m)
        EXPECT_EQ(get(t(), k), e.value);
}

TEST_P(DhtResizeTest, ScansAreExactWhileItemsAreSplit)
{
    Model m;
    start_resize(m, GetParam());
    ASSERT_TRUE(t().stats().resizing);
    // Scans do not migrate, so every scan below sees the same split table.
    expect_contents(m);
    Model got = dump(t(), LockMode::exclusive);
    EXPECT_TRUE(same_contents(got, m)) << diff(got, m);
    ASSERT_TRUE(t().stats().resizing);
    // Erase every other entry with an exclusive scan, in old and new buckets alike.
    erase_by_scan(t(), m, [](const std::vector<std::string> &, size_t i) { return i % 2 == 1; });
    expect_contents(m);
    for (const auto &[k, e] : m)
        ASSERT_EQ(get(t(), k), e.value) << k;
    settle();
    expect_contents(m);
}

TEST_P(DhtResizeTest, ExclusiveScanErasingEverythingMidResizeEndsTheResizeAndShrinks)
{
    Model m;
    start_resize(m, GetParam());
    ASSERT_TRUE(t().stats().resizing);
    uint64_t shrinks = t().stats().shrinks;
    erase_by_scan(t(), m, [](const std::vector<std::string> &, size_t) { return true; });
    DhtStats s = t().stats();
    EXPECT_FALSE(s.resizing);
    EXPECT_EQ(s.migrating_partitions, 0u);
    EXPECT_EQ(s.size_log2, kMin);
    EXPECT_EQ(s.shrinks, shrinks + 1);
    expect_contents(m);
}

TEST_P(DhtResizeTest, ExclusiveScanErasingOnlyOldItemsCompletesTheirPartitions)
{
    Model m;
    start_resize(m, GetParam());
    ASSERT_TRUE(t().stats().resizing);
    // Insert some new keys: they land in the new buckets. Then erase every key that was
    // present when the resize started: those still in old buckets go, partition by partition.
    std::set<std::string> before;
    for (const auto &kvp : m)
        before.insert(kvp.first);
    for (int i = 0; i < 200; ++i)
        insert_new(t(), m, "late-" + std::to_string(i), i);
    DhtStats start = t().stats();
    ASSERT_TRUE(start.resizing);
    erase_by_scan(t(), m, [&](const std::vector<std::string> &o, size_t i) { return before.count(o[i]) != 0; });
    EXPECT_EQ(m.size(), 200u);
    // Every old item was erased, so the resize ended (its old array freed) and the scan's
    // finish() found the table sparse and started a shrink, which nothing has migrated yet.
    DhtStats s = t().stats();
    EXPECT_EQ(s.shrinks, start.shrinks + 1);
    EXPECT_TRUE(s.resizing);
    EXPECT_EQ(s.old_size_log2, start.size_log2);
    EXPECT_LT(s.size_log2, start.size_log2);
    EXPECT_EQ(sum_partition_old_entries(t()), 200u);
    expect_contents(m);
    settle();
    EXPECT_EQ(sum_partition_old_entries(t()), 0u);
    expect_contents(m);
}

// Scans while resizes start, progress and end between partitions: the TestPolicy hook runs
// before the scan locks each partition, when the scanning thread holds no lock, and churns
// keys outside a stable set S. Every key of S must be returned exactly once.
class DhtScanChurnTest : public DhtTest, public ::testing::WithParamInterface<LockMode> {};

TEST_P(DhtScanChurnTest, StableKeysSeenOnceWhileTheTableGrowsAndShrinksBetweenPartitions)
{
    const LockMode mode = GetParam();
    Model m;
    const int stable = 1000;
    for (int i = 0; i < stable; ++i)
        insert_new(t(), m, "s-" + std::to_string(i), i, i % 3);
    settle();

    for (int round = 0; round < 3; ++round) {
        std::set<std::string> churn_ever;
        std::set<std::string> churn_live;
        uint64_t churn_next = 0;
        int hooks = 0;
        int migrating_visits = 0;
        bool resized_while_migrating = false;
        DhtStats before = t().stats();
        Scan scan(t(), mode);
        // Grow phase for the first 40 partitions, shrink phase for the next 60, quiet after.
        policy_.before_lock = [&] {
            ++hooks;
            if (hooks <= 40) {
                for (int i = 0; i < 250; ++i) {
                    std::string k = "c-" + std::to_string(round) + "-" + std::to_string(churn_next++);
                    EXPECT_EQ(put(t(), k, 1, 2), InsertStatus::inserted);
                    churn_ever.insert(k);
                    churn_live.insert(k);
                }
            } else if (hooks <= 100) {
                for (int i = 0; i < 250 && !churn_live.empty(); ++i) {
                    EXPECT_TRUE(t().erase(kv(*churn_live.begin())));
                    churn_live.erase(churn_live.begin());
                }
                // keep operations flowing so migrations finish and shrinks can start
                for (int i = 0; i < 50; ++i)
                    get(t(), "s-" + std::to_string((hooks * 50 + i) % stable), LockMode::exclusive);
            }
            int p = scan.partition();
            if (p < static_cast<int>(Table::kPartitions)) {
                auto info = t().partition_info(static_cast<uint32_t>(p));
                if (info.entries_in_old_buckets > 0) {
                    ++migrating_visits;
                    resized_while_migrating = true;
                }
            }
        };
        std::map<std::string, int> seen;
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                ++seen[k];
                EXPECT_TRUE(intact(scan.entry(), scan.tail())) << k;
            }
        }
        policy_.before_lock = nullptr;
        scan.finish();
        DhtStats after = t().stats();
        for (int i = 0; i < stable; ++i)
            EXPECT_EQ(seen["s-" + std::to_string(i)], 1) << "stable key " << i << " round " << round;
        for (const auto &[k, n] : seen) {
            if (k.rfind("s-", 0) == 0)
                continue;
            EXPECT_EQ(churn_ever.count(k), 1u) << "scan invented " << k;
            EXPECT_LE(n, 1) << k;
        }
        // Deterministic (single thread, fixed hash): the table grew and shrank during the scan
        // and the scan met partitions with items in both arrays.
        EXPECT_GT(after.grows, before.grows);
        EXPECT_GT(after.shrinks, before.shrinks);
        EXPECT_GT(migrating_visits, 0);
        EXPECT_TRUE(resized_while_migrating);
        EXPECT_TRUE(churn_live.empty());
        for (const std::string &k : churn_live)
            m[k] = {1, 2};
        settle();
        expect_contents(m);
    }
}

TEST_F(DhtTest, ErasingScanWhileTheTableResizesBetweenPartitions)
{
    Model m;
    for (int i = 0; i < 3000; ++i)
        insert_new(t(), m, "s-" + std::to_string(i), i, 1);
    settle();
    std::set<std::string> churn_live;
    uint64_t churn_next = 0;
    int hooks = 0;
    DhtStats before = t().stats();
    std::map<std::string, int> seen;
    {
        Scan scan(t(), LockMode::exclusive);
        policy_.before_lock = [&] {
            ++hooks;
            if (hooks % 20 < 10) {
                for (int i = 0; i < 400; ++i) {
                    std::string k = "c-" + std::to_string(churn_next++);
                    EXPECT_EQ(put(t(), k, 2, 1), InsertStatus::inserted);
                    churn_live.insert(k);
                }
            } else {
                for (int i = 0; i < 400 && !churn_live.empty(); ++i) {
                    EXPECT_TRUE(t().erase(kv(*churn_live.begin())));
                    churn_live.erase(churn_live.begin());
                }
            }
        };
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                ++seen[k];
                // erase every stable key with an odd number, and every churn key seen
                if (k.rfind("c-", 0) == 0) {
                    scan.erase_current();
                    churn_live.erase(k);
                } else if (std::stoi(k.substr(2)) % 2 == 1) {
                    scan.erase_current();
                    m.erase(k);
                }
            }
        }
        policy_.before_lock = nullptr;
    }
    for (int i = 0; i < 3000; ++i)
        EXPECT_EQ(seen["s-" + std::to_string(i)], 1) << i;
    for (const auto &[k, n] : seen)
        EXPECT_EQ(n, 1) << k;
    DhtStats after = t().stats();
    EXPECT_GT(after.grows + after.shrinks, before.grows + before.shrinks);
    for (const std::string &k : churn_live)
        m[k] = {2, 1};
    expect_contents(m);
    settle();
    expect_contents(m);
}

INSTANTIATE_TEST_SUITE_P(Modes, DhtScanChurnTest, ::testing::Values(LockMode::shared, LockMode::exclusive),
                         [](const ::testing::TestParamInfo<LockMode> &info) {
                             return info.param == LockMode::shared ? "Shared" : "Exclusive";
                         });

// release_partition() unlocks the current partition mid-scan: the scanning thread may then
// use the table itself (here: churn keys outside a stable set, which resizes the table) before
// moving to the next partition, and every stable key is still returned exactly once.
TEST_P(DhtScanChurnTest, ReleasedPartitionsLetTheScanningThreadUseTheTable)
{
    const LockMode mode = GetParam();
    Model m;
    for (int i = 0; i < 1500; ++i)
        insert_new(t(), m, "s-" + std::to_string(i), i, 1);
    settle();
    auto locks_held = [&] { return t().count_partition_locks([&](TestPolicy::Lock *l) { return policy_.holds(l); }); };
    std::map<std::string, int> seen;
    std::set<std::string> churn_live;
    uint64_t churn_next = 0;
    DhtStats before = t().stats();
    int migrating_partitions_scanned = 0;
    {
        Scan scan(t(), mode);
        scan.release_partition();  // nothing locked yet: no effect
        EXPECT_EQ(policy_.held(), 0);
        while (scan.next_partition()) {
            EXPECT_EQ(locks_held(), 1u);
            if (t().stats().resizing)
                ++migrating_partitions_scanned;
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                ++seen[k];
                EXPECT_TRUE(intact(scan.entry(), scan.tail()));
            }
            scan.release_partition();
            EXPECT_EQ(policy_.held(), 0);
            EXPECT_EQ(locks_held(), 0u);
            EXPECT_FALSE(scan.next());
            scan.release_partition();  // twice: no effect
            // Grow for the first half of the partitions, shrink back in the second.
            int p = scan.partition();
            for (int i = 0; i < 150; ++i) {
                if (p < 64) {
                    std::string k = "c-" + std::to_string(churn_next++);
                    ASSERT_EQ(put(t(), k, 1, 0), InsertStatus::inserted);
                    churn_live.insert(k);
                } else if (!churn_live.empty()) {
                    ASSERT_TRUE(t().erase(kv(*churn_live.begin())));
                    churn_live.erase(churn_live.begin());
                }
            }
        }
    }
    EXPECT_EQ(policy_.held(), 0);
    for (int i = 0; i < 1500; ++i)
        EXPECT_EQ(seen["s-" + std::to_string(i)], 1) << i;
    for (const auto &[k, n] : seen)
        EXPECT_EQ(n, 1) << k;
    DhtStats after = t().stats();
    EXPECT_GT(after.grows, before.grows);
    EXPECT_GT(after.shrinks, before.shrinks);
    EXPECT_GT(migrating_partitions_scanned, 0);
    EXPECT_TRUE(churn_live.empty());
    expect_contents(m);
}

// An exclusive scan that empties the old buckets of each migrating partition and releases it
// before moving on: each partition's migration is completed once (by the release, not again by
// next_partition()), and the resize ends when the last one is done.
TEST_P(DhtResizeTest, ReleasingPartitionsAfterErasingTheirOldItems)
{
    Model m;
    start_resize(m, GetParam());
    DhtStats start = t().stats();
    ASSERT_TRUE(start.resizing);
    std::set<std::string> before;
    for (const auto &kvp : m)
        before.insert(kvp.first);
    for (int i = 0; i < 300; ++i)
        insert_new(t(), m, "late-" + std::to_string(i), i);
    ASSERT_TRUE(t().stats().resizing);
    {
        Scan scan(t(), LockMode::exclusive);
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                if (before.count(k) != 0) {
                    scan.erase_current();
                    m.erase(k);
                }
            }
            scan.release_partition();
            DhtStats s = t().stats();
            // Partitions after this one still migrate (or the resize is over).
            EXPECT_LE(s.migrating_partitions, Table::kPartitions - 1 - static_cast<uint32_t>(scan.partition()));
        }
        // Between the last release and finish(), the resize is over.
        EXPECT_FALSE(t().stats().resizing);
        EXPECT_EQ(t().stats().migrating_partitions, 0u);
    }
    EXPECT_EQ(policy_.held(), 0);
    EXPECT_EQ(m.size(), 300u);
    expect_contents(m);
    settle();
    expect_contents(m);
}

TEST_F(DhtTest, CountPartitionLocksSeesRefsAndScans)
{
    auto locks_held = [&] { return t().count_partition_locks([&](TestPolicy::Lock *l) { return policy_.holds(l); }); };
    put(t(), "k", 1);
    EXPECT_EQ(locks_held(), 0u);
    {
        Ref ref = t().find(kv("k"), LockMode::shared);
        EXPECT_EQ(locks_held(), 1u);
    }
    EXPECT_EQ(locks_held(), 0u);
    {
        Ref ref = t().find(kv("absent"), LockMode::exclusive);
        EXPECT_EQ(locks_held(), 0u);  // an empty Ref holds nothing
    }
    {
        Scan scan(t(), LockMode::exclusive);
        ASSERT_TRUE(scan.next_partition());
        EXPECT_EQ(locks_held(), 1u);
    }
    EXPECT_EQ(locks_held(), 0u);
    EXPECT_THROW(
        {
            InsertStatus st{};
            Ref ref = t().find_or_insert(kv("x"), 1, [](TestEntry &, char *) { throw std::runtime_error("x"); }, &st);
        },
        std::runtime_error);
    EXPECT_EQ(locks_held(), 0u);
    expect_contents({{"k", {1, 8}}});
}

// ---------------------------------------------------------------------------------------------
// 5. Allocation failures

TEST_F(DhtTest, InsertOutOfMemoryLeavesTheTableUnchanged)
{
    Model m;
    for (int i = 0; i < 100; ++i)
        insert_new(t(), m, key_of(i), i);
    settle();
    DhtStats before = t().stats();
    int64_t blocks = policy_.live_blocks();
    int64_t bytes = policy_.live_bytes();
    policy_.fail_next_allocations(1);
    bool init_ran = false;
    InsertStatus status = InsertStatus::found;
    {
        Ref ref = t().find_or_insert(kv("new"), 8, [&](TestEntry &, char *) { init_ran = true; }, &status);
        EXPECT_FALSE(ref);
    }
    policy_.fail_next_allocations(0);
    EXPECT_EQ(status, InsertStatus::out_of_memory);
    EXPECT_FALSE(init_ran);
    EXPECT_EQ(policy_.held(), 0);
    EXPECT_EQ(policy_.live_blocks(), blocks);
    EXPECT_EQ(policy_.live_bytes(), bytes);
    EXPECT_EQ(t().stats().entries, before.entries);
    EXPECT_FALSE(get(t(), "new"));
    // An existing key needs no memory: found even while allocations fail.
    policy_.fail_next_allocations(1000);
    EXPECT_EQ(put(t(), key_of(5), 555), InsertStatus::found);
    m[key_of(5)].value = 555;
    policy_.fail_next_allocations(0);
    expect_contents(m);
    // And the table works again afterwards.
    insert_new(t(), m, "new", 1);
    expect_contents(m);
}

TEST_F(DhtTest, ByteLimitRejectsLargeItemsButNotSmallOnes)
{
    Model m;
    insert_new(t(), m, "a", 1, 10);
    policy_.set_byte_limit(policy_.live_bytes() + 1000);
    InsertStatus status{};
    {
        Ref ref = t().find_or_insert(kv("big"), 5000, [](TestEntry &e, char *tl) { fill(e, tl, 2, 5000); }, &status);
        EXPECT_FALSE(ref);
    }
    EXPECT_EQ(status, InsertStatus::out_of_memory);
    insert_new(t(), m, "small", 3, 10);
    NewItem big = t().make_item(kv("big"), 5000);
    EXPECT_FALSE(big);
    NewItem small = t().make_item(kv("small"), 100);
    EXPECT_TRUE(small);
    small = NewItem();  // discarding an unlinked item frees it
    policy_.set_byte_limit(0);
    expect_contents(m);
}

TEST_F(DhtTest, MakeItemOutOfMemoryReturnsAnEmptyItem)
{
    int64_t blocks = policy_.live_blocks();
    policy_.fail_next_allocations(1);
    NewItem item = t().make_item(kv("k"), 8);
    EXPECT_FALSE(item);
    EXPECT_EQ(policy_.live_blocks(), blocks);
    NewItem ok = t().make_item(kv("k"), 8);
    ASSERT_TRUE(ok);
    EXPECT_EQ(policy_.live_blocks(), blocks + 1);
    // An item built but never linked is freed by its destructor, by move-assignment and when
    // an upsert declines it.
    NewItem moved = std::move(ok);
    EXPECT_FALSE(ok);  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(moved);
    moved = t().make_item(kv("j"), 16);
    EXPECT_EQ(policy_.live_blocks(), blocks + 1);
    fill(moved.entry(), moved.tail(), 1, 16);
    EXPECT_FALSE(t().upsert(std::move(moved), [](const TestEntry *, const char *) { return false; }).stored);
    EXPECT_EQ(policy_.live_blocks(), blocks);
    expect_contents({});
}

TEST_F(DhtTest, FailedGrowLeavesTheTableWorkingAtAHigherLoad)
{
    // Bucket arrays cannot be allocated, items can: the table stays at its minimal size while
    // far above its load factor, and stays exact.
    Model m;
    policy_.fail_allocate_zeroed = true;
    for (int i = 0; i < 2000; ++i)
        insert_new(t(), m, key_of(i), i, static_cast<uint32_t>(i % 3));
    DhtStats s = t().stats();
    EXPECT_EQ(s.size_log2, kMin);
    EXPECT_EQ(s.grows, 0u);
    EXPECT_FALSE(s.resizing);
    EXPECT_EQ(s.entries, 2000u);
    for (const auto &[k, e] : m)
        ASSERT_EQ(get(t(), k), e.value);
    for (int i = 0; i < 2000; i += 3) {
        EXPECT_TRUE(t().erase(kv(key_of(i))));
        m.erase(key_of(i));
    }
    for (int i = 0; i < 2000; i += 7) {
        EXPECT_EQ(upsert_value(t(), key_of(i), 5, 1).existed, i % 3 != 0);
        m[key_of(i)] = {5, 1};
    }
    expect_contents(m);
    // With memory back, the next exclusive operations grow the table, one step at a time.
    policy_.fail_allocate_zeroed = false;
    t().erase(kv("absent"));
    EXPECT_EQ(t().stats().grows, 1u);
    for (int i = 0; i < 20000; ++i)
        t().erase(kv("absent-" + std::to_string(i)));
    settle();
    s = t().stats();
    EXPECT_GE(s.grows, 3u);
    EXPECT_GE(uint64_t{1} << s.size_log2, s.entries / 2);
    for (const auto &[k, e] : m)
        ASSERT_EQ(get(t(), k), e.value);
    expect_contents(m);
}

TEST_F(DhtTest, ByteLimitBlocksTheGrowButNotSmallItems)
{
    // The byte limit leaves room for small items but not for the doubled bucket array.
    Model m;
    int64_t next_array = static_cast<int64_t>(sizeof(uint64_t) << (kMin + 1));
    policy_.set_byte_limit(policy_.live_bytes() + next_array - 1);
    int i = 0;
    for (;; ++i) {
        InsertStatus st = put(t(), key_of(i), i, 0);
        if (st == InsertStatus::out_of_memory)
            break;
        ASSERT_EQ(st, InsertStatus::inserted);
        m[key_of(i)] = {static_cast<uint64_t>(i), 0};
    }
    EXPECT_GT(m.size(), 20u);
    DhtStats s = t().stats();
    EXPECT_EQ(s.size_log2, kMin);
    EXPECT_EQ(s.grows, 0u);
    // Some partition is over the grow threshold (one item per bucket).
    uint64_t fullest = 0;
    for (uint32_t p = 0; p < Table::kPartitions; ++p)
        fullest = std::max(fullest, t().partition_info(p).entries);
    EXPECT_GT(fullest, 1u);
    EXPECT_FALSE(get(t(), key_of(i)));
    expect_contents(m);
    policy_.set_byte_limit(0);
    for (int j = 0; j < 1000 && t().stats().grows == 0; ++j)
        t().erase(kv("absent-" + std::to_string(j)));
    EXPECT_GT(t().stats().grows, 0u);
    settle();
    expect_contents(m);
}

TEST_F(DhtTest, InterleavedAllocationFailuresKeepTheTableExact)
{
    // Item allocations fail for every third key; bucket arrays fail for stretches of keys.
    Model m;
    for (int i = 0; i < 3000; ++i) {
        policy_.fail_allocate_zeroed = (i / 250) % 2 == 1;
        policy_.fail_next_allocations(i % 3 == 0 ? 1 : 0);
        InsertStatus st = put(t(), key_of(i), i, 1);
        policy_.fail_next_allocations(0);
        if (i % 3 == 0) {
            ASSERT_EQ(st, InsertStatus::out_of_memory);
        } else {
            ASSERT_EQ(st, InsertStatus::inserted);
            m[key_of(i)] = {static_cast<uint64_t>(i), 1};
        }
        if (i % 500 == 0)
            expect_contents(m);
    }
    policy_.fail_allocate_zeroed = false;
    EXPECT_EQ(m.size(), 2000u);
    expect_contents(m);
    settle();
    expect_contents(m);
}

TEST(DhtCreate, CreateFailsCleanlyWhenMemoryRunsOut)
{
    TestPolicy policy;
    policy.fail_next_allocations(1);
    EXPECT_EQ(Table::create(policy), 0u);
    EXPECT_EQ(policy.live_blocks(), 0);
    // Let the header through but not the bucket array.
    uint64_t ptr = Table::create(policy);
    ASSERT_NE(ptr, 0u);
    int64_t total = policy.live_bytes();
    {
        Table t(policy, ptr);
        t.destroy();
    }
    EXPECT_EQ(policy.live_bytes(), 0);
    policy.set_byte_limit(total - 1);
    EXPECT_EQ(Table::create(policy), 0u);
    EXPECT_EQ(policy.live_blocks(), 0);
    EXPECT_EQ(policy.live_bytes(), 0);
    policy.set_byte_limit(0);
}

// ---------------------------------------------------------------------------------------------
// 6. Exceptions

// After an exception, no lock may be held: the counting policy says so without waiting, and
// then another thread takes the same key's lock exclusively.
void expect_unlocked_and_usable(TestPolicy &policy, Table &t, const std::string &key)
{
    ASSERT_EQ(policy.held(), 0) << "a partition lock leaked";
    bool done = false;
    std::thread other([&] {
        InsertStatus st{};
        Ref ref = t.find_or_insert(kv(key), 1, [](TestEntry &e, char *tl) { fill(e, tl, 9, 1); }, &st);
        if (ref)
            t.erase(std::move(ref));
        done = true;
    });
    other.join();
    EXPECT_TRUE(done);
    EXPECT_EQ(policy.held(), 0);
}

TEST_F(DhtTest, ThrowingInitLeavesNoLockAndNoItem)
{
    Model m;
    for (int i = 0; i < 100; ++i)
        insert_new(t(), m, key_of(i), i);
    InsertStatus status{};
    EXPECT_THROW(
        {
            Ref ref = t().find_or_insert(kv("boom"), 64, [](TestEntry &, char *) { throw std::runtime_error("init"); },
                                         &status);
        },
        std::runtime_error);
    EXPECT_FALSE(get(t(), "boom"));
    expect_exact_memory(m);
    expect_unlocked_and_usable(policy_, t(), "boom");
    expect_contents(m);
}

TEST_F(DhtTest, ThrowingDecideLeavesNoLockAndNoItem)
{
    Model m;
    for (int i = 0; i < 100; ++i)
        insert_new(t(), m, key_of(i), i, 4);
    auto thrower = [](const TestEntry *, const char *) -> bool { throw std::logic_error("decide"); };
    EXPECT_THROW(t().upsert(make(t(), key_of(7), 1, 30), thrower), std::logic_error);  // existing key
    EXPECT_THROW(t().upsert(make(t(), "absent", 1, 30), thrower), std::logic_error);   // absent key
    EXPECT_EQ(get(t(), key_of(7)), 7u);
    EXPECT_FALSE(get(t(), "absent"));
    expect_exact_memory(m);
    expect_unlocked_and_usable(policy_, t(), key_of(7));
    expect_unlocked_and_usable(policy_, t(), "absent");
    m.erase(key_of(7));  // expect_unlocked_and_usable erased it
    expect_contents(m);
}

TEST_F(DhtTest, ThrowingAllocationLeavesNoLock)
{
    Model m;
    for (int i = 0; i < 100; ++i)
        insert_new(t(), m, key_of(i), i);
    policy_.throw_on_allocate = 1;
    InsertStatus status{};
    EXPECT_THROW(
        { Ref ref = t().find_or_insert(kv("boom"), 8, [](TestEntry &, char *) {}, &status); },
        std::runtime_error);
    policy_.throw_on_allocate = 1;
    EXPECT_THROW(t().make_item(kv("boom"), 8), std::runtime_error);
    expect_exact_memory(m);
    expect_unlocked_and_usable(policy_, t(), "boom");
    expect_contents(m);
}

TEST_F(DhtTest, ThrowingBucketAllocationOnlyDelaysTheGrow)
{
    Model m;
    uint64_t i = 0;
    // The first grow's bucket array allocation throws; the operation that triggered it still
    // succeeds, and a later operation grows the table.
    policy_.throw_on_allocate_zeroed = 1;
    while (policy_.throw_on_allocate_zeroed != 0) {
        insert_new(t(), m, key_of(i), i);
        ++i;
        ASSERT_LT(i, 10000u);
    }
    EXPECT_EQ(t().stats().grows, 0u);
    EXPECT_EQ(policy_.held(), 0);
    expect_contents(m);
    while (t().stats().grows == 0) {
        insert_new(t(), m, key_of(i), i);
        ++i;
        ASSERT_LT(i, 10000u) << "a failed grow must not block later ones";
    }
    for (; i < 5000; ++i)
        insert_new(t(), m, key_of(i), i);
    settle();
    EXPECT_GT(t().stats().grows, 3u);
    expect_contents(m);
}

TEST_F(DhtTest, ExceptionFromAScanBodyReleasesTheLock)
{
    Model m;
    for (int i = 0; i < 300; ++i)
        insert_new(t(), m, key_of(i), i);
    EXPECT_THROW(
        {
            Scan scan(t(), LockMode::exclusive);
            while (scan.next_partition())
                while (scan.next())
                    if (scan.partition() >= 5)
                        throw std::runtime_error("scan body");
        },
        std::runtime_error);
    expect_unlocked_and_usable(policy_, t(), key_of(1));
    m.erase(key_of(1));
    expect_contents(m);
}

}  // namespace
