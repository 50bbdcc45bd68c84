// Multi-threaded tests of the DHT core (include/simple_cache/core/dht.hpp) on the heap policy:
// real std::threads, meant to run under ThreadSanitizer as well as AddressSanitizer. They
// assert results only (never timings): exact contents against per-thread models, untorn
// entries, stable keys seen exactly once by every scan, and counters and memory at quiescence.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/core/heap_policy.hpp"
#include "dht_test_support.hpp"

namespace {

using simple_cache::core::Dht;
using simple_cache::core::DhtStats;
using simple_cache::core::HeapPolicy;
using simple_cache::core::InsertStatus;
using simple_cache::core::KeyView;
using simple_cache::core::LockMode;
using simple_cache::core::UpsertResult;

using namespace dht_test;

using Table = Dht<HeapPolicy, TestEntry>;
using Ref = Table::Ref;
using NewItem = Table::NewItem;
using Scan = Table::Scan;
constexpr unsigned kMin = Table::kMinSizeLog2;

// Values written by the writers: thread number in the top 16 bits, a per-thread sequence
// number below.
uint64_t encode(uint64_t tid, uint64_t seq) { return (tid << 48) | seq; }
uint64_t tid_of(uint64_t value) { return value >> 48; }
uint64_t seq_of(uint64_t value) { return value & ((uint64_t{1} << 48) - 1); }

// A reusable barrier for a fixed number of threads (std::barrier is C++20).
class Barrier {
  public:
    explicit Barrier(int n) : n_(n) {}
    void wait()
    {
        std::unique_lock<std::mutex> lock(mu_);
        int gen = generation_;
        if (++waiting_ == n_) {
            waiting_ = 0;
            ++generation_;
            cv_.notify_all();
            return;
        }
        cv_.wait(lock, [&] { return generation_ != gen; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    int n_;
    int waiting_ = 0;
    int generation_ = 0;
};

// Counts failures seen in worker threads (reported once, in the main thread, with a sample).
class Failures {
  public:
    void add(const std::string &what)
    {
        if (count_.fetch_add(1, std::memory_order_relaxed) == 0) {
            std::lock_guard<std::mutex> lock(mu_);
            first_ = what;
        }
    }
    int count() const { return count_.load(); }
    std::string first()
    {
        std::lock_guard<std::mutex> lock(mu_);
        return first_;
    }

  private:
    std::atomic<int> count_{0};
    std::mutex mu_;
    std::string first_;
};

// A table on a heap policy; TearDown checks that destroying it frees everything.
class DhtConcurrencyTest : public ::testing::Test {
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
        if (table_) {
            table_->destroy();
            table_.reset();
        }
        EXPECT_EQ(policy_.live_blocks(), 0);
        EXPECT_EQ(policy_.live_bytes(), 0);
        EXPECT_EQ(failures_.count(), 0) << "first failure: " << failures_.first();
    }

    Table &t() { return *table_; }

    // key -> (value, tail size) of everything a shared scan returns; duplicates and damaged
    // entries fail the test.
    std::map<std::string, std::pair<uint64_t, uint32_t>> dump()
    {
        std::map<std::string, std::pair<uint64_t, uint32_t>> out;
        Scan scan(t(), LockMode::shared);
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                EXPECT_TRUE(intact(scan.entry(), scan.tail())) << k;
                EXPECT_TRUE(out.emplace(k, std::make_pair(scan.entry().value, scan.entry().tail_bytes)).second)
                    << "scan returned " << k << " twice";
            }
        }
        return out;
    }

    // At quiescence: counters equal the real number of entries, and memory in use is exactly
    // the header, the bucket arrays and the items.
    void expect_quiescent_counters()
    {
        auto contents = dump();
        DhtStats s = t().stats();
        EXPECT_EQ(s.entries, contents.size());
        uint64_t sum = 0, old = 0;
        for (uint32_t p = 0; p < Table::kPartitions; ++p) {
            auto info = t().partition_info(p);
            sum += info.entries;
            old += info.entries_in_old_buckets;
        }
        EXPECT_EQ(sum, contents.size());
        EXPECT_EQ(s.resizing, old > 0);
        int64_t bytes = header_bytes_ + static_cast<int64_t>(sizeof(uint64_t) << s.size_log2);
        int64_t blocks = 2 + static_cast<int64_t>(contents.size());
        if (s.resizing) {
            bytes += static_cast<int64_t>(sizeof(uint64_t) << s.old_size_log2);
            blocks += 1;
        }
        for (const auto &[k, v] : contents)
            bytes += static_cast<int64_t>(Table::item_bytes(k.size(), v.second));
        EXPECT_EQ(policy_.live_blocks(), blocks);
        EXPECT_EQ(policy_.live_bytes(), bytes);
    }

    // Erases everything left and drives operations until the table is back at its minimum.
    void drain_to_minimum()
    {
        auto contents = dump();
        for (const auto &kvp : contents)
            EXPECT_TRUE(t().erase(kv(kvp.first)));
        for (int i = 0; i < 1000 && (t().stats().resizing || t().stats().size_log2 != kMin); ++i)
            t().erase(kv("absent"));
        DhtStats s = t().stats();
        EXPECT_EQ(s.entries, 0u);
        EXPECT_EQ(s.size_log2, kMin);
        EXPECT_FALSE(s.resizing);
        EXPECT_EQ(policy_.live_blocks(), 2);
    }

    HeapPolicy policy_;
    uint64_t ptr_ = 0;
    int64_t header_bytes_ = 0;
    std::optional<Table> table_;
    Failures failures_;
};

// ---------------------------------------------------------------------------------------------
// (a) Disjoint key ranges through grow and shrink cycles

TEST_F(DhtConcurrencyTest, DisjointRangesThroughGrowAndShrinkCycles)
{
    const int threads = 6;
    const int keys = static_cast<int>(scaled(6000));
    const int cycles = 3;
    Barrier barrier(threads);
    std::atomic<uint64_t> grows_seen{0};
    auto key = [](int tid, int i) { return "t" + std::to_string(tid) + "-" + std::to_string(i); };
    auto worker = [&](int tid) {
        std::mt19937 rng(tid);
        for (int c = 0; c < cycles; ++c) {
            bool last = c + 1 == cycles;
            // insert
            for (int i = 0; i < keys; ++i) {
                InsertStatus st{};
                uint64_t v = encode(tid, c * keys + i);
                Ref ref = t().find_or_insert(kv(key(tid, i)), i % 5,
                                             [&](TestEntry &e, char *tl) { fill(e, tl, v, i % 5); }, &st);
                if (st != InsertStatus::inserted)
                    failures_.add("insert " + key(tid, i));
            }
            barrier.wait();
            if (tid == 0)
                grows_seen.store(t().stats().grows);
            // verify with shared lookups, rewrite every third through upsert, verify again
            for (int i = 0; i < keys; ++i) {
                Ref ref = t().find(kv(key(tid, i)), LockMode::shared);
                if (!ref || ref.entry().value != encode(tid, c * keys + i) || !intact(ref.entry(), ref.tail()))
                    failures_.add("lookup " + key(tid, i));
            }
            for (int i = 0; i < keys; i += 3) {
                NewItem item = t().make_item(kv(key(tid, i)), 7);
                fill(item.entry(), item.tail(), encode(tid, 1'000'000 + i), 7);
                UpsertResult r = t().upsert(std::move(item), [](const TestEntry *e, const char *) { return e != nullptr; });
                if (!r.existed || !r.stored)
                    failures_.add("upsert " + key(tid, i));
            }
            for (int i = 0; i < keys; ++i) {
                uint64_t want = i % 3 == 0 ? encode(tid, 1'000'000 + i) : encode(tid, c * keys + i);
                Ref ref = t().find(kv(key(tid, i)), rng() % 2 ? LockMode::shared : LockMode::exclusive);
                if (!ref || ref.entry().value != want || !intact(ref.entry(), ref.tail()))
                    failures_.add("lookup after upsert " + key(tid, i));
            }
            barrier.wait();
            // erase (all but every fourth key in the last cycle), alternately by key and by Ref
            for (int i = 0; i < keys; ++i) {
                if (last && i % 4 == 0)
                    continue;
                bool ok;
                if (i % 2 == 0) {
                    ok = t().erase(kv(key(tid, i)));
                } else {
                    Ref ref = t().find(kv(key(tid, i)), LockMode::exclusive);
                    ok = static_cast<bool>(ref);
                    if (ref)
                        t().erase(std::move(ref));
                }
                if (!ok)
                    failures_.add("erase " + key(tid, i));
                if (t().find(kv(key(tid, i)), LockMode::shared))
                    failures_.add("erased key still found " + key(tid, i));
            }
            barrier.wait();
            // The table is empty (or nearly): one exclusive operation starts a shrink, which
            // completes at once as nothing needs migrating.
            if (tid == 0 && !last)
                t().erase(kv("absent"));
            barrier.wait();
        }
    };
    std::vector<std::thread> pool;
    for (int tid = 0; tid < threads; ++tid)
        pool.emplace_back(worker, tid);
    for (auto &th : pool)
        th.join();
    ASSERT_EQ(failures_.count(), 0) << failures_.first();

    DhtStats s = t().stats();
    EXPECT_GE(s.grows, static_cast<uint64_t>(cycles));
    EXPECT_GE(s.shrinks, static_cast<uint64_t>(cycles - 1));
    EXPECT_GT(grows_seen.load(), 0u);
    // Exact contents: every fourth key of each thread with its upserted or inserted value.
    std::map<std::string, uint64_t> want;
    for (int tid = 0; tid < threads; ++tid)
        for (int i = 0; i < keys; i += 4)
            want[key(tid, i)] = i % 3 == 0 ? encode(tid, 1'000'000 + i) : encode(tid, (cycles - 1) * keys + i);
    auto got = dump();
    ASSERT_EQ(got.size(), want.size());
    for (const auto &[k, v] : want) {
        auto it = got.find(k);
        ASSERT_NE(it, got.end()) << k;
        EXPECT_EQ(it->second.first, v) << k;
    }
    expect_quiescent_counters();
    drain_to_minimum();
}

// ---------------------------------------------------------------------------------------------
// (b) Overlapping keys: upserts, in-place writes, erases and lookups racing with scanners

TEST_F(DhtConcurrencyTest, OverlappingKeysWithScannersNeverTearOrLoseWrites)
{
    const int writers = 6;
    const int shared_keys = 256;
    const int own_keys = static_cast<int>(scaled(3000));
    const int ops = static_cast<int>(scaled(40000));
    const uint64_t scanner_tid = writers;
    // published[t]: the highest sequence number thread t may have written so far (raised
    // before each write), so any value read must have seq <= published at read time.
    std::vector<std::atomic<uint64_t>> published(writers + 1);
    for (auto &p : published)
        p.store(0);
    std::atomic<int> writers_done{0};
    std::atomic<uint64_t> scans{0};

    auto skey = [](int i) { return "shared-" + std::to_string(i); };
    auto okey = [](int tid, int i) { return "own-" + std::to_string(tid) + "-" + std::to_string(i); };
    auto plausible = [&](const TestEntry &e, const char *tail) {
        if (!intact(e, tail))
            return false;
        uint64_t tid = tid_of(e.value);
        return tid <= scanner_tid && seq_of(e.value) <= published[tid].load(std::memory_order_acquire);
    };

    // Per-writer exact model of its own keys: key number -> value (absent when not in the map).
    std::vector<std::map<int, std::pair<uint64_t, uint32_t>>> models(writers);

    auto writer = [&](int tid) {
        std::mt19937_64 rng(1000 + tid);
        uint64_t seq = 0;
        auto next_value = [&] {
            ++seq;
            published[tid].store(seq, std::memory_order_release);
            return encode(tid, seq);
        };
        auto &model = models[tid];
        uint64_t sweep = 0;
        for (int op = 0; op < ops; ++op) {
            // Own keys: the live key range swells and drains so the table grows and shrinks.
            int phase_len = ops / 4;
            int in_phase = op % phase_len;
            bool filling = (op / phase_len) % 2 == 0;
            int range = filling ? 1 + own_keys * in_phase / phase_len : own_keys - own_keys * in_phase / phase_len;
            bool own = rng() % 2 == 0;
            int i;
            int kind;
            if (own && !filling && rng() % 4 != 0) {
                // draining: sweep through the own keys erasing them
                i = static_cast<int>(sweep++ % static_cast<uint64_t>(own_keys));
                kind = 4 + static_cast<int>(rng() % 2);
            } else {
                i = static_cast<int>(rng() % (own ? static_cast<uint64_t>(std::max(range, 1)) : shared_keys));
                kind = static_cast<int>(rng() % 8);
            }
            std::string k = own ? okey(tid, i) : skey(i);
            uint32_t tail = static_cast<uint32_t>(rng() % 24);
            switch (kind) {
            case 0:
            case 1: {  // upsert
                uint64_t v = next_value();
                NewItem item = t().make_item(kv(k), tail);
                if (!item) {
                    failures_.add("make_item");
                    break;
                }
                fill(item.entry(), item.tail(), v, tail);
                bool existing_ok = true;
                UpsertResult r = t().upsert(std::move(item), [&](const TestEntry *e, const char *tl) {
                    if (e != nullptr && !plausible(*e, tl))
                        existing_ok = false;
                    return true;
                });
                if (!existing_ok)
                    failures_.add("torn entry seen by decide under " + k);
                if (!r.stored)
                    failures_.add("upsert not stored");
                if (own) {
                    if (r.existed != (model.count(i) != 0))
                        failures_.add("own upsert existed mismatch " + k);
                    model[i] = {v, tail};
                }
                break;
            }
            case 2: {  // conditional upsert: only replace entries written by another thread
                uint64_t v = next_value();
                NewItem item = t().make_item(kv(k), tail);
                if (!item) {
                    failures_.add("make_item");
                    break;
                }
                fill(item.entry(), item.tail(), v, tail);
                UpsertResult r = t().upsert(std::move(item), [&](const TestEntry *e, const char *) {
                    return e == nullptr || tid_of(e->value) != static_cast<uint64_t>(tid);
                });
                if (own) {
                    // own keys only ever hold this thread's values: stored only when absent
                    if (r.existed != (model.count(i) != 0) || r.stored == r.existed)
                        failures_.add("own conditional upsert " + k);
                    if (r.stored)
                        model[i] = {v, tail};
                }
                break;
            }
            case 3: {  // find_or_insert, then write in place under the exclusive lock
                uint64_t v = next_value();
                InsertStatus st{};
                Ref ref = t().find_or_insert(kv(k), tail, [&](TestEntry &e, char *tl) { fill(e, tl, v, tail); }, &st);
                if (!ref) {
                    failures_.add("find_or_insert failed");
                    break;
                }
                if (st == InsertStatus::found) {
                    if (!plausible(ref.entry(), ref.tail()))
                        failures_.add("torn entry under exclusive lock " + k);
                    // rewrite value, checksum and tail in several steps: readers must never see
                    // the intermediate states
                    ref.entry().value = v;
                    ref.entry().check = 0;
                    fill(ref.entry(), ref.tail(), v, ref.entry().tail_bytes);
                }
                if (own) {
                    if ((st == InsertStatus::found) != (model.count(i) != 0))
                        failures_.add("own find_or_insert status " + k);
                    uint32_t kept = st == InsertStatus::found ? model[i].second : tail;
                    model[i] = {v, kept};
                }
                break;
            }
            case 4: {  // erase by key
                bool erased = t().erase(kv(k));
                if (own) {
                    if (erased != (model.count(i) != 0))
                        failures_.add("own erase " + k);
                    model.erase(i);
                }
                break;
            }
            case 5: {  // erase through an exclusive Ref
                Ref ref = t().find(kv(k), LockMode::exclusive);
                bool had = static_cast<bool>(ref);
                if (ref) {
                    if (!plausible(ref.entry(), ref.tail()))
                        failures_.add("torn entry before erase " + k);
                    t().erase(std::move(ref));
                }
                if (own) {
                    if (had != (model.count(i) != 0))
                        failures_.add("own erase through a Ref " + k);
                    model.erase(i);
                }
                break;
            }
            default: {  // lookups
                Ref ref = t().find(kv(k), kind == 6 ? LockMode::shared : LockMode::exclusive);
                if (ref && !plausible(ref.entry(), ref.tail()))
                    failures_.add("torn entry seen by find " + k);
                if (own) {
                    auto it = model.find(i);
                    if (static_cast<bool>(ref) != (it != model.end()))
                        failures_.add("own key presence " + k);
                    else if (ref && (ref.entry().value != it->second.first ||
                                     ref.entry().tail_bytes != it->second.second))
                        failures_.add("own key value " + k);
                }
                break;
            }
            }
        }
        writers_done.fetch_add(1);
    };

    // The scanner: shared scans check every entry; every fourth scan is exclusive and rewrites
    // or erases some shared keys (never own keys, whose values the writers track exactly).
    auto scanner = [&] {
        std::mt19937_64 rng(99);
        uint64_t seq = 0;
        while (writers_done.load() < writers || scans.load() < 4) {
            uint64_t n = scans.fetch_add(1);
            LockMode mode = n % 4 == 3 ? LockMode::exclusive : LockMode::shared;
            std::set<std::string> seen;
            Scan scan(t(), mode);
            while (scan.next_partition()) {
                while (scan.next()) {
                    std::string k(scan.key_data(), scan.key_size());
                    if (!seen.insert(k).second)
                        failures_.add("scan returned a key twice: " + k);
                    if (!plausible(scan.entry(), scan.tail()))
                        failures_.add("torn entry seen by scan " + k);
                    if (mode == LockMode::exclusive && k.rfind("shared-", 0) == 0) {
                        if (rng() % 8 == 0) {
                            scan.erase_current();
                        } else if (rng() % 4 == 0) {
                            ++seq;
                            published[scanner_tid].store(seq, std::memory_order_release);
                            fill(scan.entry(), scan.tail(), encode(scanner_tid, seq), scan.entry().tail_bytes);
                        }
                    }
                }
            }
        }
    };

    std::vector<std::thread> pool;
    for (int tid = 0; tid < writers; ++tid)
        pool.emplace_back(writer, tid);
    std::thread scan_thread(scanner);
    for (auto &th : pool)
        th.join();
    scan_thread.join();
    ASSERT_EQ(failures_.count(), 0) << failures_.first();

    // Own keys hold exactly the last value their thread wrote; shared keys hold some value
    // that was really written, untorn.
    auto got = dump();
    size_t own_total = 0;
    for (int tid = 0; tid < writers; ++tid) {
        for (const auto &[i, v] : models[tid]) {
            auto it = got.find(okey(tid, i));
            ASSERT_NE(it, got.end()) << okey(tid, i);
            EXPECT_EQ(it->second.first, v.first) << okey(tid, i);
            EXPECT_EQ(it->second.second, v.second) << okey(tid, i);
        }
        own_total += models[tid].size();
    }
    size_t shared_total = 0;
    for (const auto &[k, v] : got) {
        if (k.rfind("own-", 0) == 0)
            continue;
        ASSERT_EQ(k.rfind("shared-", 0), 0u) << k;
        ++shared_total;
        EXPECT_LE(tid_of(v.first), scanner_tid);
        EXPECT_LE(seq_of(v.first), published[tid_of(v.first)].load());
    }
    EXPECT_EQ(got.size(), own_total + shared_total);
    EXPECT_GT(scans.load(), 0u);
    DhtStats s = t().stats();
    EXPECT_GT(s.grows, 0u);
    std::cout << "[          ] " << scans.load() << " scans, " << s.grows << " grows, " << s.shrinks << " shrinks\n";
    expect_quiescent_counters();
    drain_to_minimum();
}

// ---------------------------------------------------------------------------------------------
// (c) A stable set S is seen exactly once by every scan while other keys churn

TEST_F(DhtConcurrencyTest, ScansSeeStableKeysExactlyOnceWhileOthersChurn)
{
    const int stable = static_cast<int>(scaled(2000));
    const int churners = 2;
    const int churn_keys = static_cast<int>(scaled(8000));
    const int rounds = 4;
    auto skey = [](int i) { return "s-" + std::to_string(i); };
    for (int i = 0; i < stable; ++i) {
        InsertStatus st{};
        Ref ref = t().find_or_insert(kv(skey(i)), 4, [&](TestEntry &e, char *tl) { fill(e, tl, 0, 4); }, &st);
        ASSERT_EQ(st, InsertStatus::inserted);
    }
    std::atomic<int> churners_done{0};
    std::atomic<uint64_t> resizes_during_scans{0};
    uint64_t exclusive_scans = 0;

    auto churner = [&](int tid) {
        for (int r = 0; r < rounds; ++r) {
            for (int i = 0; i < churn_keys; ++i) {
                std::string k = "c-" + std::to_string(tid) + "-" + std::to_string(i);
                InsertStatus st{};
                Ref ref = t().find_or_insert(kv(k), i % 3, [&](TestEntry &e, char *tl) { fill(e, tl, r, i % 3); }, &st);
                if (st != InsertStatus::inserted)
                    failures_.add("churn insert " + k);
            }
            for (int i = 0; i < churn_keys; ++i) {
                std::string k = "c-" + std::to_string(tid) + "-" + std::to_string(i);
                if (!t().erase(kv(k)))
                    failures_.add("churn erase " + k);
            }
        }
        churners_done.fetch_add(1);
    };
    // A reader looks the stable keys up all the time: they must always be found.
    auto reader = [&] {
        std::mt19937 rng(5);
        while (churners_done.load() < churners) {
            int i = static_cast<int>(rng() % stable);
            Ref ref = t().find(kv(skey(i)), rng() % 2 ? LockMode::shared : LockMode::exclusive);
            if (!ref)
                failures_.add("stable key not found: " + skey(i));
            else if (!intact(ref.entry(), ref.tail()))
                failures_.add("stable key torn: " + skey(i));
        }
    };

    std::vector<std::thread> pool;
    for (int tid = 0; tid < churners; ++tid)
        pool.emplace_back(churner, tid);
    pool.emplace_back(reader);
    // This thread scans until the churners are done. Every fourth scan is exclusive and adds
    // one to every stable key's value, so the final values count the exclusive scans.
    uint64_t n = 0;
    bool final_scan_done = false;
    while (!final_scan_done) {
        final_scan_done = churners_done.load() == churners;
        LockMode mode = n % 4 == 3 ? LockMode::exclusive : LockMode::shared;
        DhtStats before = t().stats();
        std::vector<int> count(stable, 0);
        {
            Scan scan(t(), mode);
            while (scan.next_partition()) {
                while (scan.next()) {
                    std::string k(scan.key_data(), scan.key_size());
                    if (!intact(scan.entry(), scan.tail()))
                        failures_.add("torn entry in scan: " + k);
                    if (k.rfind("s-", 0) == 0) {
                        int i = std::stoi(k.substr(2));
                        ++count[i];
                        if (scan.entry().value != exclusive_scans)
                            failures_.add("stable value " + k);
                        if (mode == LockMode::exclusive)
                            fill(scan.entry(), scan.tail(), exclusive_scans + 1, scan.entry().tail_bytes);
                    } else if (k.rfind("c-", 0) != 0) {
                        failures_.add("unknown key " + k);
                    }
                }
            }
        }
        if (mode == LockMode::exclusive)
            ++exclusive_scans;
        DhtStats after = t().stats();
        if (after.grows + after.shrinks != before.grows + before.shrinks || before.resizing)
            resizes_during_scans.fetch_add(1);
        for (int i = 0; i < stable; ++i)
            if (count[i] != 1) {
                failures_.add("scan " + std::to_string(n) + " saw " + skey(i) + " " + std::to_string(count[i]) +
                              " times");
                break;
            }
        ++n;
    }
    for (auto &th : pool)
        th.join();
    ASSERT_EQ(failures_.count(), 0) << failures_.first();
    // Not asserted (it depends on scheduling), but shown: how many scans overlapped a resize.
    std::cout << "[          ] " << n << " scans, " << resizes_during_scans.load() << " overlapping a resize\n";

    auto got = dump();
    ASSERT_EQ(got.size(), static_cast<size_t>(stable));
    for (int i = 0; i < stable; ++i)
        EXPECT_EQ(got[skey(i)].first, exclusive_scans) << skey(i);
    EXPECT_GT(t().stats().grows, 0u);
    expect_quiescent_counters();
    drain_to_minimum();
}

// ---------------------------------------------------------------------------------------------
// Racing inserts of the same keys: exactly one thread inserts each key

TEST_F(DhtConcurrencyTest, RacingFindOrInsertInsertsEachKeyOnce)
{
    const int threads = 4;
    const int keys = static_cast<int>(scaled(6000));
    std::vector<std::atomic<int>> inserted(keys);
    for (auto &c : inserted)
        c.store(0);
    auto worker = [&](int tid) {
        std::vector<int> order(keys);
        for (int i = 0; i < keys; ++i)
            order[i] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937(tid));
        for (int i : order) {
            std::string k = "k" + std::to_string(i);
            InsertStatus st{};
            Ref ref = t().find_or_insert(kv(k), 2, [&](TestEntry &e, char *tl) { fill(e, tl, encode(tid, i), 2); }, &st);
            if (!ref) {
                failures_.add("no ref");
                continue;
            }
            if (st == InsertStatus::inserted)
                inserted[i].fetch_add(1);
            if (!intact(ref.entry(), ref.tail()) || seq_of(ref.entry().value) != static_cast<uint64_t>(i))
                failures_.add("wrong entry under " + k);
        }
    };
    std::vector<std::thread> pool;
    for (int tid = 0; tid < threads; ++tid)
        pool.emplace_back(worker, tid);
    for (auto &th : pool)
        th.join();
    for (int i = 0; i < keys; ++i)
        ASSERT_EQ(inserted[i].load(), 1) << "key " << i;
    auto got = dump();
    EXPECT_EQ(got.size(), static_cast<size_t>(keys));
    expect_quiescent_counters();

    // And racing erases: exactly one thread erases each key.
    std::vector<std::atomic<int>> erased(keys);
    for (auto &c : erased)
        c.store(0);
    auto eraser = [&](int tid) {
        std::vector<int> order(keys);
        for (int i = 0; i < keys; ++i)
            order[i] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937(100 + tid));
        for (int i : order)
            if (t().erase(kv("k" + std::to_string(i))))
                erased[i].fetch_add(1);
    };
    pool.clear();
    for (int tid = 0; tid < threads; ++tid)
        pool.emplace_back(eraser, tid);
    for (auto &th : pool)
        th.join();
    for (int i = 0; i < keys; ++i)
        ASSERT_EQ(erased[i].load(), 1) << "key " << i;
    expect_quiescent_counters();
    drain_to_minimum();
}

// ---------------------------------------------------------------------------------------------
// (d) Counters at quiescence after concurrent exclusive scans erasing

TEST_F(DhtConcurrencyTest, ConcurrentErasingScansAndInsertsKeepCountersExact)
{
    const int inserters = 2;
    const int keys = static_cast<int>(scaled(6000));
    std::atomic<int> done{0};
    std::atomic<uint64_t> scan_erased{0};
    std::vector<std::atomic<int>> erase_count(inserters * keys);
    for (auto &c : erase_count)
        c.store(0);
    auto inserter = [&](int tid) {
        for (int i = 0; i < keys; ++i) {
            std::string k = "i" + std::to_string(tid) + "-" + std::to_string(i);
            InsertStatus st{};
            Ref ref = t().find_or_insert(kv(k), 1, [&](TestEntry &e, char *tl) { fill(e, tl, tid * keys + i, 1); }, &st);
            if (st != InsertStatus::inserted)
                failures_.add("insert " + k);
        }
        done.fetch_add(1);
    };
    // Two scanners erase, each in its own partitions' keys (by parity of the value) while the
    // inserters run: every erased key was erased once, and the rest is still there.
    auto scanner = [&](int parity) {
        bool last = false;
        while (!last) {
            last = done.load() == inserters;
            Scan scan(t(), LockMode::exclusive);
            while (scan.next_partition()) {
                while (scan.next()) {
                    uint64_t v = scan.entry().value;
                    if (static_cast<int>(v % 2) == parity && v % 3 == 0) {
                        erase_count[v].fetch_add(1);
                        scan.erase_current();
                        scan_erased.fetch_add(1);
                    }
                }
            }
        }
    };
    std::vector<std::thread> pool;
    for (int tid = 0; tid < inserters; ++tid)
        pool.emplace_back(inserter, tid);
    pool.emplace_back(scanner, 0);
    pool.emplace_back(scanner, 1);
    for (auto &th : pool)
        th.join();
    ASSERT_EQ(failures_.count(), 0) << failures_.first();
    auto got = dump();
    for (int v = 0; v < inserters * keys; ++v) {
        std::string k = "i" + std::to_string(v / keys) + "-" + std::to_string(v % keys);
        if (v % 3 == 0) {
            EXPECT_EQ(erase_count[v].load(), 1) << k;
            EXPECT_EQ(got.count(k), 0u) << k;
        } else {
            EXPECT_EQ(erase_count[v].load(), 0) << k;
            EXPECT_EQ(got.count(k), 1u) << k;
        }
    }
    EXPECT_EQ(got.size(), static_cast<size_t>(inserters * keys) - scan_erased.load());
    expect_quiescent_counters();
    drain_to_minimum();
}


// ---------------------------------------------------------------------------------------------
// (e) The bucket prefetch hint: lookups take their prefetch address from a hint shared by all
// threads of the Dht object, written without locks, while another thread grows and shrinks the
// table so that the arrays the hint names are freed under the readers. Under ThreadSanitizer this
// checks that the hint is only ever touched atomically; under AddressSanitizer, that a stale
// hint is never dereferenced (a prefetch of freed memory is no access). Results stay exact.

TEST_F(DhtConcurrencyTest, LookupsStayExactWhileResizesRetireTheHintedArrays)
{
    const int readers = 3;
    const int stable = static_cast<int>(scaled(500));
    const int churn = static_cast<int>(scaled(20000));
    for (int i = 0; i < stable; ++i) {
        InsertStatus st{};
        Ref ref = t().find_or_insert(kv("s" + std::to_string(i)), 0, [&](TestEntry &e, char *tl) { fill(e, tl, uint64_t(i), 0); }, &st);
        ASSERT_TRUE(ref);
    }
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> resizes{0};
    auto resizer = [&] {
        for (int round = 0; round < 4; ++round) {
            for (int i = 0; i < churn; ++i) {
                InsertStatus st{};
                Ref ref = t().find_or_insert(kv("c" + std::to_string(i)), 0, [&](TestEntry &e, char *tl) { fill(e, tl, uint64_t(i), 0); }, &st);
                if (!ref)
                    failures_.add("no ref for churn key");
            }
            t().complete_resize();
            for (int i = 0; i < churn; ++i)
                t().erase(kv("c" + std::to_string(i)));
            t().complete_resize();
            resizes.store(t().stats().grows + t().stats().shrinks, std::memory_order_relaxed);
        }
        stop.store(true);
    };
    auto reader = [&](int tid) {
        std::mt19937 rng(static_cast<unsigned>(tid));
        while (!stop.load(std::memory_order_relaxed)) {
            int i = static_cast<int>(rng() % static_cast<unsigned>(stable));
            Ref ref = t().find(kv("s" + std::to_string(i)), LockMode::shared);
            if (!ref || ref.entry().value != static_cast<uint64_t>(i))
                failures_.add("stable key " + std::to_string(i) + " lost");
            ref.release();
            if (t().find(kv("absent" + std::to_string(i)), LockMode::shared))
                failures_.add("absent key found");
        }
    };
    std::vector<std::thread> pool;
    pool.emplace_back(resizer);
    for (int tid = 0; tid < readers; ++tid)
        pool.emplace_back(reader, tid);
    for (auto &th : pool)
        th.join();
    EXPECT_GT(resizes.load(), 4u);
    expect_quiescent_counters();
    drain_to_minimum();
}

}  // namespace
