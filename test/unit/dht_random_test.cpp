// Randomized differential test of the DHT core (include/simple_cache/core/dht.hpp): a long,
// seeded (reproducible) sequence of operations applied both to a table and to a
// std::unordered_map, checking every result, the counters and the memory in use after every
// operation and the full contents periodically, with injected allocation failures and phases
// that make the table grow and shrink repeatedly.
//
//   SIMPLE_CACHE_TEST_SEED=<n>   runs with that seed instead of the built-in ones
//   SIMPLE_CACHE_TEST_SCALE=<x>  multiplies the number of operations
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
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

struct Expected {
    uint64_t value;
    uint32_t tail;
};

// Keys of many shapes: the empty key, short decimal keys, long keys sharing long prefixes, and
// keys that differ from others only by a trailing NUL.
std::string key_for(uint64_t id)
{
    if (id == 0)
        return std::string();
    if (id % 17 == 0)
        return std::string(100 + id % 300, 'L') + std::to_string(id);
    if (id % 29 == 0)
        return "k" + std::to_string(id / 29) + std::string(1, '\0');
    return "k" + std::to_string(id);
}

class DhtRandomTest : public ::testing::TestWithParam<uint64_t> {
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
    }

    Table &t() { return *table_; }

    // Counters and memory after every operation: exact accounting of header, bucket arrays
    // and items.
    void check_counters()
    {
        DhtStats s = t().stats();
        ASSERT_EQ(s.entries, model_.size());
        int64_t blocks = 2 + static_cast<int64_t>(model_.size()) + (s.resizing ? 1 : 0);
        ASSERT_EQ(policy_.live_blocks(), blocks);
        int64_t bytes = header_bytes_ + static_cast<int64_t>(sizeof(uint64_t) << s.size_log2) +
                        (s.resizing ? static_cast<int64_t>(sizeof(uint64_t) << s.old_size_log2) : 0) + item_bytes_;
        ASSERT_EQ(policy_.live_bytes(), bytes);
    }

    // Full comparison through a scan.
    void check_contents()
    {
        size_t n = 0;
        Scan scan(t(), LockMode::shared);
        std::unordered_map<std::string, int> seen;
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                ASSERT_EQ(++seen[k], 1) << "scan returned a key twice";
                auto it = model_.find(k);
                ASSERT_NE(it, model_.end()) << "unexpected key of length " << k.size();
                ASSERT_TRUE(intact(scan.entry(), scan.tail()));
                ASSERT_EQ(scan.entry().value, it->second.value);
                ASSERT_EQ(scan.entry().tail_bytes, it->second.tail);
                ++n;
            }
        }
        ASSERT_EQ(n, model_.size());
    }

    void model_set(const std::string &k, uint64_t value, uint32_t tail)
    {
        auto it = model_.find(k);
        if (it != model_.end())
            item_bytes_ -= static_cast<int64_t>(Table::item_bytes(k.size(), it->second.tail));
        model_[k] = Expected{value, tail};
        item_bytes_ += static_cast<int64_t>(Table::item_bytes(k.size(), tail));
    }

    void model_erase(const std::string &k)
    {
        auto it = model_.find(k);
        if (it == model_.end())
            return;
        item_bytes_ -= static_cast<int64_t>(Table::item_bytes(k.size(), it->second.tail));
        model_.erase(it);
    }

    std::optional<Expected> model_get(const std::string &k) const
    {
        auto it = model_.find(k);
        if (it == model_.end())
            return std::nullopt;
        return it->second;
    }

    void run(uint64_t seed, int64_t steps);

    HeapPolicy policy_;
    uint64_t ptr_ = 0;
    int64_t header_bytes_ = 0;
    std::optional<Table> table_;
    std::unordered_map<std::string, Expected> model_;
    int64_t item_bytes_ = 0;
    int64_t byte_limit_ = 0;
    int out_of_memory_ = 0;
};

void DhtRandomTest::run(uint64_t seed, int64_t steps)
{
    std::mt19937_64 rng(seed);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    uint64_t next_value = 1;
    // Phases: the key range and the insert/erase balance change so the table grows to various
    // sizes and shrinks back, repeatedly.
    const std::vector<std::pair<uint64_t, int>> phases = {
        {64, 50}, {6000, 80}, {6000, 20}, {300, 10}, {20000, 85}, {20000, 5}, {16, 50}, {3000, 70}, {3000, 0},
    };
    const int64_t phase_len = std::max<int64_t>(steps / static_cast<int64_t>(phases.size()), 1);
    int64_t byte_limit_ops = 0;  // operations left under a byte limit

    for (int64_t step = 0; step < steps; ++step) {
        SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step));
        const auto &[range, insert_bias] = phases[static_cast<size_t>(step / phase_len) % phases.size()];
        const std::string k = key_for(rng() % range);
        const std::optional<Expected> before = model_get(k);
        const uint32_t tail = static_cast<uint32_t>(chance(2) ? rng() % 5000 : rng() % 40);

        // Injected failures: the next allocation fails, or a byte limit just above the current
        // use stays for a few operations (items may fit, bucket arrays mostly do not).
        bool fail_next = chance(3);
        if (fail_next)
            policy_.fail_next_allocations(1);
        if (byte_limit_ops == 0 && chance(1)) {
            byte_limit_ops = 1 + static_cast<int64_t>(rng() % 50);
            byte_limit_ = policy_.live_bytes() + static_cast<int64_t>(rng() % 4096);
            policy_.set_byte_limit(byte_limit_);
        }
        // Whether an item for k with this tail can be allocated now.
        const bool item_fits =
            !fail_next && (byte_limit_ops == 0 ||
                           policy_.live_bytes() + static_cast<int64_t>(Table::item_bytes(k.size(), tail)) <= byte_limit_);

        int op = static_cast<int>(rng() % 100);
        bool want_insert = chance(insert_bias);
        if (op < 30) {
            // find_or_insert, or erase, by the phase's balance
            if (want_insert) {
                uint64_t v = next_value++;
                bool init_ran = false;
                InsertStatus st{};
                Ref ref = t().find_or_insert(kv(k), tail,
                                             [&](TestEntry &e, char *tl) {
                                                 init_ran = true;
                                                 fill(e, tl, v, tail);
                                             },
                                             &st);
                if (before) {
                    ASSERT_EQ(st, InsertStatus::found);
                    ASSERT_TRUE(ref);
                    ASSERT_FALSE(init_ran);
                    ASSERT_EQ(ref.entry().value, before->value);
                    if (chance(50)) {  // update in place
                        fill(ref.entry(), ref.tail(), v, ref.entry().tail_bytes);
                        model_set(k, v, before->tail);
                    }
                } else if (!item_fits) {
                    ++out_of_memory_;
                    ASSERT_EQ(st, InsertStatus::out_of_memory);
                    ASSERT_FALSE(ref);
                    ASSERT_FALSE(init_ran);
                } else {
                    ASSERT_EQ(st, InsertStatus::inserted);
                    ASSERT_TRUE(ref);
                    ASSERT_TRUE(init_ran);
                    ASSERT_EQ(std::string(ref.key_data(), ref.key_size()), k);
                    model_set(k, v, tail);
                }
            } else {
                ASSERT_EQ(t().erase(kv(k)), before.has_value());
                model_erase(k);
            }
        } else if (op < 45) {
            LockMode mode = chance(70) ? LockMode::shared : LockMode::exclusive;
            Ref ref = t().find(kv(k), mode);
            ASSERT_EQ(static_cast<bool>(ref), before.has_value());
            if (ref) {
                ASSERT_EQ(ref.mode(), mode);
                ASSERT_TRUE(intact(ref.entry(), ref.tail()));
                ASSERT_EQ(ref.entry().value, before->value);
                ASSERT_EQ(ref.entry().tail_bytes, before->tail);
                ASSERT_EQ(std::string(ref.key_data(), ref.key_size()), k);
            }
        } else if (op < 60) {
            // upsert with one of several decisions
            NewItem item = t().make_item(kv(k), tail);
            ASSERT_EQ(static_cast<bool>(item), item_fits);
            out_of_memory_ += !item;
            if (item) {
                uint64_t v = next_value++;
                fill(item.entry(), item.tail(), v, tail);
                int rule = static_cast<int>(rng() % 5);
                int calls = 0;
                UpsertResult r = t().upsert(std::move(item), [&](const TestEntry *e, const char *tl) {
                    ++calls;
                    EXPECT_EQ(e != nullptr, before.has_value());
                    EXPECT_EQ(tl != nullptr, before.has_value());
                    if (e != nullptr && before) {
                        EXPECT_EQ(e->value, before->value);
                        EXPECT_TRUE(intact(*e, tl));
                    }
                    switch (rule) {
                    case 0: return true;
                    case 1: return false;
                    case 2: return e == nullptr;
                    case 3: return e != nullptr;
                    default: return e == nullptr || e->value % 2 == 0;
                    }
                });
                ASSERT_EQ(calls, 1);
                ASSERT_EQ(r.existed, before.has_value());
                bool expect_stored = rule == 0 || (rule == 2 && !before) || (rule == 3 && before) ||
                                     (rule == 4 && (!before || before->value % 2 == 0));
                ASSERT_EQ(r.stored, expect_stored);
                if (r.stored)
                    model_set(k, v, tail);
            }
        } else if (op < 68) {
            // replace through a Ref, sometimes twice, sometimes then erase
            Ref ref = t().find(kv(k), LockMode::exclusive);
            ASSERT_EQ(static_cast<bool>(ref), before.has_value());
            if (ref) {
                NewItem item = t().make_item(kv(k), tail);
                ASSERT_EQ(static_cast<bool>(item), item_fits);
                if (item) {
                    uint64_t v = next_value++;
                    fill(item.entry(), item.tail(), v, tail);
                    t().replace(ref, std::move(item));
                    ASSERT_EQ(ref.entry().value, v);
                    model_set(k, v, tail);
                    if (chance(30)) {
                        NewItem again = t().make_item(kv(k), 3);
                        if (again) {
                            uint64_t v2 = next_value++;
                            fill(again.entry(), again.tail(), v2, 3);
                            t().replace(ref, std::move(again));
                            model_set(k, v2, 3);
                        }
                    }
                }
                if (chance(25)) {
                    t().erase(std::move(ref));
                    model_erase(k);
                }
            }
        } else if (op < 78) {
            // erase through an exclusive Ref
            Ref ref = t().find(kv(k), LockMode::exclusive);
            ASSERT_EQ(static_cast<bool>(ref), before.has_value());
            if (ref && !want_insert) {
                t().erase(std::move(ref));
                model_erase(k);
            }
        } else if (op < 80) {
            // an item built and dropped changes nothing
            NewItem item = t().make_item(kv(k), tail);
            ASSERT_EQ(static_cast<bool>(item), item_fits);
        } else if (op < 81 && chance(30)) {
            // exclusive scan: erase or update a random part of the entries
            int erase_pct = static_cast<int>(rng() % 100);
            std::vector<std::string> erased;
            {
                Scan scan(t(), LockMode::exclusive);
                while (scan.next_partition()) {
                    while (scan.next()) {
                        std::string sk(scan.key_data(), scan.key_size());
                        if (chance(erase_pct)) {
                            scan.erase_current();
                            erased.push_back(sk);
                        } else if (chance(10)) {
                            uint64_t v = next_value++;
                            fill(scan.entry(), scan.tail(), v, scan.entry().tail_bytes);
                            model_set(sk, v, scan.entry().tail_bytes);
                        }
                    }
                }
            }
            for (const std::string &sk : erased)
                model_erase(sk);
        } else {
            // lookups of keys outside the phase's range: mostly absent
            std::string other = key_for(rng() % 40000);
            Ref ref = t().find(kv(other), LockMode::shared);
            ASSERT_EQ(static_cast<bool>(ref), model_.count(other) != 0);
        }

        policy_.fail_next_allocations(0);
        if (byte_limit_ops > 0 && --byte_limit_ops == 0)
            policy_.set_byte_limit(0);
        ASSERT_NO_FATAL_FAILURE(check_counters());
        if (step % 2000 == 0 || step + 1 == steps) {
            ASSERT_NO_FATAL_FAILURE(check_contents());
        }
        if (HasFailure())
            return;
    }
    DhtStats s = t().stats();
    EXPECT_GT(s.grows, 3u);
    EXPECT_GT(s.shrinks, 1u);
    EXPECT_GT(out_of_memory_, 100);
    std::cout << "[          ] seed " << seed << ": " << s.grows << " grows, " << s.shrinks << " shrinks, "
              << out_of_memory_ << " allocation failures reported\n";
    // Every key in the model is findable; then everything is erased, back to the minimum.
    std::vector<std::string> keys;
    for (const auto &kvp : model_)
        keys.push_back(kvp.first);
    for (const std::string &k : keys) {
        Ref ref = t().find(kv(k), LockMode::shared);
        ASSERT_TRUE(ref);
        ASSERT_EQ(ref.entry().value, model_[k].value);
    }
    for (const std::string &k : keys) {
        ASSERT_TRUE(t().erase(kv(k)));
        model_erase(k);
    }
    for (int i = 0; i < 1000 && (t().stats().resizing || t().stats().size_log2 != kMin); ++i)
        t().erase(kv("absent"));
    EXPECT_EQ(t().stats().size_log2, kMin);
    check_counters();
    check_contents();
}

TEST_P(DhtRandomTest, MatchesAReferenceMap)
{
    uint64_t seed = GetParam();
    if (const char *env = std::getenv("SIMPLE_CACHE_TEST_SEED"))
        seed = std::strtoull(env, nullptr, 10);
    RecordProperty("seed", std::to_string(seed));
    run(seed, scaled(60'000));
}

INSTANTIATE_TEST_SUITE_P(Seeds, DhtRandomTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
