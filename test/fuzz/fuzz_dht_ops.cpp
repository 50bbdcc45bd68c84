// libFuzzer target: sequences of DHT core operations (include/simple_cache/core/dht.hpp on
// the HeapPolicy, no PostgreSQL) checked against a reference std::unordered_map.
//
// The input is a program: each operation is chosen and parameterised by the next bytes
// (FuzzedDataProvider). Operations: the cache's put, add, replace and cas patterns through
// make_item + upsert, find_or_insert, find (shared or exclusive) then replace or erase in
// place, erase by key, shared and exclusive scans (the exclusive one erasing some entries),
// eviction-like sweeps that remove some of what they visit, bulk inserts and bulk erases that
// make the table grow and shrink, injected allocation failures and a byte limit.
//
// After every operation: the entry count and the exact bytes and blocks the policy has live
// (header + bucket arrays + items) must match the model; every value read must be intact
// (self-checking tails) and equal to the model's; a periodic full scan must return exactly
// the model's keys, each once. At the end the table is destroyed and nothing may stay
// allocated. AddressSanitizer and UBSan watch every access.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "simple_cache/core/dht.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/core/heap_policy.hpp"
#include "fuzz_check.hpp"

namespace core = simple_cache::core;

namespace {

struct Entry {
    uint64_t value;
    uint64_t check;
    uint32_t tail_bytes;
    uint32_t spare;
    size_t tail_size() const { return tail_bytes; }
};

using Table = core::Dht<core::HeapPolicy, Entry>;

uint64_t checksum(uint64_t value) { return core::avalanche64(value ^ 0x9e3779b97f4a7c15ULL) | 1; }

char tail_byte(uint64_t value, size_t i)
{
    return static_cast<char>(static_cast<uint8_t>(checksum(value) >> ((i & 7) * 8)) ^ static_cast<uint8_t>(i * 131));
}

void fill(Entry &e, char *tail, uint64_t value, uint32_t tail_size)
{
    e.value = value;
    e.check = checksum(value);
    e.tail_bytes = tail_size;
    for (uint32_t i = 0; i < tail_size; ++i)
        tail[i] = tail_byte(value, i);
}

void check_intact(const Entry &e, const char *tail)
{
    FUZZ_CHECK(e.check == checksum(e.value));
    for (uint32_t i = 0; i < e.tail_bytes; ++i)
        FUZZ_CHECK(tail[i] == tail_byte(e.value, i));
}

// Keys: the empty key, short keys, keys with a NUL inside or at the end, long keys with a
// shared prefix.
std::string key_for(uint32_t id)
{
    switch (id % 11) {
    case 0:
        return id == 0 ? std::string() : "k" + std::to_string(id);
    case 5:
        return std::string("n\0", 2) + std::to_string(id);
    case 7:
        return std::string(200, 'P') + std::to_string(id);
    case 9:
        return "k" + std::to_string(id / 11) + std::string(1, '\0');
    default:
        return "k" + std::to_string(id);
    }
}

core::KeyView view(const std::string &k) { return core::KeyView{k.data(), static_cast<uint32_t>(k.size())}; }

struct Model {
    uint64_t value;
    uint32_t tail;
};

class Harness {
  public:
    explicit Harness(FuzzedDataProvider &in) : in_(in)
    {
        ptr_ = Table::create(policy_, in_.ConsumeIntegral<uint64_t>());
        FUZZ_CHECK(ptr_ != 0);
        header_bytes_ = policy_.live_bytes() - static_cast<int64_t>(sizeof(uint64_t) << Table::kMinSizeLog2);
        table_.emplace(policy_, ptr_);
        key_space_ = in_.ConsumeIntegralInRange<uint32_t>(1, 3000);
    }

    ~Harness()
    {
        table_->destroy();
        table_.reset();
        FUZZ_CHECK(policy_.live_blocks() == 0);
        FUZZ_CHECK(policy_.live_bytes() == 0);
    }

    void run()
    {
        int steps = 0;
        while (in_.remaining_bytes() > 0 && steps < 2000) {
            step();
            check_counters();
            if (++steps % 64 == 0)
                check_contents();
        }
        policy_.set_byte_limit(0);
        policy_.fail_next_allocations(0);
        check_contents();
    }

  private:
    std::string next_key() { return key_for(in_.ConsumeIntegralInRange<uint32_t>(0, key_space_)); }
    uint32_t next_tail() { return in_.ConsumeBool() ? in_.ConsumeIntegralInRange<uint32_t>(0, 24) : in_.ConsumeIntegralInRange<uint32_t>(0, 5000); }

    std::optional<Model> model_get(const std::string &k) const
    {
        auto it = model_.find(k);
        if (it == model_.end())
            return std::nullopt;
        return it->second;
    }
    void model_set(const std::string &k, uint64_t value, uint32_t tail)
    {
        model_erase(k);
        model_[k] = Model{value, tail};
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

    // Exact memory: header, current (and while resizing, old) bucket array, every item.
    void check_counters()
    {
        core::DhtStats s = table_->stats();
        FUZZ_CHECK(s.entries == model_.size());
        int64_t blocks = 2 + static_cast<int64_t>(model_.size()) + (s.resizing ? 1 : 0);
        FUZZ_CHECK(policy_.live_blocks() == blocks);
        int64_t bytes = header_bytes_ + static_cast<int64_t>(sizeof(uint64_t) << s.size_log2) +
                        (s.resizing ? static_cast<int64_t>(sizeof(uint64_t) << s.old_size_log2) : 0) + item_bytes_;
        FUZZ_CHECK(policy_.live_bytes() == bytes);
    }

    // A shared scan returns exactly the model, each key once, every value intact.
    void check_contents()
    {
        std::unordered_map<std::string, int> seen;
        Table::Scan scan(*table_, core::LockMode::shared);
        while (scan.next_partition()) {
            while (scan.next()) {
                std::string k(scan.key_data(), scan.key_size());
                FUZZ_CHECK(++seen[k] == 1);
                auto expected = model_get(k);
                FUZZ_CHECK(expected.has_value());
                check_intact(scan.entry(), scan.tail());
                FUZZ_CHECK(scan.entry().value == expected->value && scan.entry().tail_bytes == expected->tail);
            }
        }
        FUZZ_CHECK(seen.size() == model_.size());
    }

    // The four put patterns of the cache: 0 upsert, 1 add, 2 replace, 3 cas against a value.
    void put_like(int mode)
    {
        std::string k = next_key();
        uint32_t tail = next_tail();
        uint64_t value = ++serial_;
        uint64_t expected_value = in_.ConsumeBool() ? serial_ - 1 : in_.ConsumeIntegral<uint8_t>();
        auto before = model_get(k);
        Table::NewItem item = table_->make_item(view(k), tail);
        if (!item) {
            FUZZ_CHECK(table_->upsert(std::move(item), [](const Entry *, const char *) { return true; }).stored == false);
            return;  // out of memory: nothing changes
        }
        fill(item.entry(), item.tail(), value, tail);
        core::UpsertResult r = table_->upsert(std::move(item), [&](const Entry *live, const char *live_tail) {
            if (live != nullptr)
                check_intact(*live, live_tail);
            switch (mode) {
            case 0:
                return true;
            case 1:
                return live == nullptr;
            case 2:
                return live != nullptr;
            default:
                return live != nullptr && live->value == expected_value;
            }
        });
        FUZZ_CHECK(r.existed == before.has_value());
        bool should_store = mode == 0 || (mode == 1 && !before) || (mode == 2 && before) ||
                            (mode == 3 && before && before->value == expected_value);
        FUZZ_CHECK(r.stored == should_store);
        if (r.stored)
            model_set(k, value, tail);
    }

    void find_or_insert()
    {
        std::string k = next_key();
        uint32_t tail = next_tail();
        uint64_t value = ++serial_;
        auto before = model_get(k);
        core::InsertStatus status;
        Table::Ref ref = table_->find_or_insert(
            view(k), tail, [&](Entry &e, char *t) { fill(e, t, value, tail); }, &status);
        if (before) {
            FUZZ_CHECK(status == core::InsertStatus::found && ref);
            check_intact(ref.entry(), ref.tail());
            FUZZ_CHECK(ref.entry().value == before->value);
        } else if (status == core::InsertStatus::inserted) {
            FUZZ_CHECK(ref && ref.entry().value == value);
            model_set(k, value, tail);
        } else {
            FUZZ_CHECK(status == core::InsertStatus::out_of_memory && !ref);
        }
    }

    // find, then maybe replace the item in place, or erase it, or just read it.
    void find_and_act()
    {
        std::string k = next_key();
        bool exclusive = in_.ConsumeBool();
        int action = exclusive ? in_.ConsumeIntegralInRange<int>(0, 2) : 0;
        auto before = model_get(k);
        Table::Ref ref = table_->find(view(k), exclusive ? core::LockMode::exclusive : core::LockMode::shared);
        FUZZ_CHECK(static_cast<bool>(ref) == before.has_value());
        if (!ref)
            return;
        check_intact(ref.entry(), ref.tail());
        FUZZ_CHECK(ref.entry().value == before->value && ref.key_size() == k.size());
        FUZZ_CHECK(k.empty() || std::memcmp(ref.key_data(), k.data(), k.size()) == 0);
        if (action == 1) {
            uint32_t tail = next_tail();
            Table::NewItem item = table_->make_item(view(k), tail);
            if (!item)
                return;
            uint64_t value = ++serial_;
            fill(item.entry(), item.tail(), value, tail);
            table_->replace(ref, std::move(item));
            FUZZ_CHECK(ref.entry().value == value);
            model_set(k, value, tail);
        } else if (action == 2) {
            table_->erase(std::move(ref));
            FUZZ_CHECK(!ref);
            model_erase(k);
        } else if (in_.ConsumeBool()) {
            Table::Ref moved = std::move(ref);  // moving hands the lock over
            FUZZ_CHECK(!ref && moved);
            moved.release();
            moved.release();
        }
    }

    void erase_key()
    {
        std::string k = next_key();
        bool was = model_get(k).has_value();
        FUZZ_CHECK(table_->erase(view(k)) == was);
        model_erase(k);
    }

    // An exclusive scan erasing the entries whose value is divisible by d (maybe stopping
    // early), or a shared scan stopping early.
    void scan(bool exclusive)
    {
        uint64_t d = in_.ConsumeIntegralInRange<uint64_t>(1, 5);
        int stop_after = in_.ConsumeIntegralInRange<int>(1, 130);
        Table::Scan scan(*table_, exclusive ? core::LockMode::exclusive : core::LockMode::shared);
        int partitions = 0;
        while (partitions++ < stop_after && scan.next_partition()) {
            while (scan.next()) {
                check_intact(scan.entry(), scan.tail());
                if (exclusive && scan.entry().value % d == 0) {
                    std::string k(scan.key_data(), scan.key_size());
                    scan.erase_current();
                    model_erase(k);
                }
            }
        }
    }

    // A sweep, like an eviction round: removes the visited entries whose value is divisible
    // by d.
    void sweep()
    {
        uint64_t budget = in_.ConsumeIntegralInRange<uint64_t>(1, 200);
        uint64_t d = in_.ConsumeIntegralInRange<uint64_t>(1, 4);
        std::vector<std::string> removed;
        core::SweepResult r = table_->sweep(budget, true, [&](Entry &e, const char *key, uint32_t key_size, char *tail) {
            check_intact(e, tail);
            if (e.value % d != 0)
                return core::SweepAction::keep;
            removed.emplace_back(key, key_size);
            return core::SweepAction::remove;
        });
        FUZZ_CHECK(r.removed == removed.size());
        for (const std::string &k : removed)
            model_erase(k);
    }

    // Many keys at once: the table grows (and, for erases, shrinks).
    void bulk(bool insert)
    {
        uint32_t first = in_.ConsumeIntegralInRange<uint32_t>(0, key_space_);
        uint32_t count = in_.ConsumeIntegralInRange<uint32_t>(1, 600);
        for (uint32_t id = first; id < first + count; ++id) {
            std::string k = key_for(id);
            if (!insert) {
                FUZZ_CHECK(table_->erase(view(k)) == model_get(k).has_value());
                model_erase(k);
                continue;
            }
            uint32_t tail = id % 13;
            Table::NewItem item = table_->make_item(view(k), tail);
            if (!item)
                continue;
            uint64_t value = ++serial_;
            fill(item.entry(), item.tail(), value, tail);
            if (table_->upsert(std::move(item), [](const Entry *, const char *) { return true; }).stored)
                model_set(k, value, tail);
        }
    }

    void step()
    {
        switch (in_.ConsumeIntegralInRange<int>(0, 13)) {
        case 0:
        case 1:
            put_like(0);
            break;
        case 2:
            put_like(1);
            break;
        case 3:
            put_like(2);
            break;
        case 4:
            put_like(3);
            break;
        case 5:
            find_or_insert();
            break;
        case 6:
        case 7:
            find_and_act();
            break;
        case 8:
            erase_key();
            break;
        case 9:
            scan(in_.ConsumeBool());
            break;
        case 10:
            sweep();
            break;
        case 11:
            bulk(in_.ConsumeBool());
            break;
        case 12:
            policy_.fail_next_allocations(in_.ConsumeIntegralInRange<int64_t>(0, 3));
            break;
        case 13: {
            // A byte limit somewhat above what is live now, or none.
            int64_t room = in_.ConsumeIntegralInRange<int64_t>(-1, 20000);
            policy_.set_byte_limit(room < 0 ? 0 : policy_.live_bytes() + room);
            break;
        }
        }
    }

    FuzzedDataProvider &in_;
    core::HeapPolicy policy_;
    uint64_t ptr_ = 0;
    int64_t header_bytes_ = 0;
    std::optional<Table> table_;
    std::unordered_map<std::string, Model> model_;
    int64_t item_bytes_ = 0;
    uint64_t serial_ = 1000;
    uint32_t key_space_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzedDataProvider in(data, size);
    Harness harness(in);
    harness.run();
    return 0;
}
