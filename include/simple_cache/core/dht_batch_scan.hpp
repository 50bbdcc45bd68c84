// A scan of a DHT in batches whose size the caller bounds: for callers that copy entries out
// under the partition lock and use the copies after releasing it, so that what they hold at
// once is one batch, not a whole partition.
//
//   Table::BatchScan scan(table, LockMode::shared);
//   while (scan.next_batch(budget, cost, take))
//       use what take() copied, with no lock held;
//
// Each next_batch() locks one partition, hands entries to take() until their costs would pass
// the budget (a batch holds at least one entry, so one entry larger than the budget makes a
// batch of its own), and unlocks. It goes on in the same partition at the next call, and a
// batch never spans two partitions.
//
// The guarantee of Dht::Scan holds: an entry present for the whole scan is handed out exactly
// once, whatever is written, erased or resized between batches. Within a partition the scan
// advances through the entries in the order of (hash, key), which does not depend on the
// bucket arrays, and a batch takes every wanted entry between the position the previous batch
// reached and its own end position, under one lock hold. A key keeps its hash, so even a key
// whose value is replaced between batches is handed out once.
//
// The order is followed in steps the bucket arrays make cheap: buckets are runs of hash
// values, so a batch walks the partition's buckets in order and takes whole buckets (of the
// coarser array while a resize has items in both). Only a bucket whose entries alone pass
// the budget is cut inside, by hash value (a binary search over its hash range) and, among
// entries with one and the same hash, by key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "simple_cache/core/dht.hpp"

namespace simple_cache::core {

template <class Policy, class Entry>
class DhtBatchScan {
    using Table = Dht<Policy, Entry>;
    using Pointer = typename Policy::Pointer;
    using Item = typename Table::ItemHeader;

  public:
    // What cost() returns for an entry the caller does not want: it is skipped and costs
    // nothing.
    static constexpr size_t kSkip = SIZE_MAX;

    DhtBatchScan(Table &table, LockMode mode) : table_(table), mode_(mode) {}
    DhtBatchScan(const DhtBatchScan &) = delete;
    DhtBatchScan &operator=(const DhtBatchScan &) = delete;

    // Fills the next batch and returns true, or returns false once every partition was
    // visited. cost(entry, key, key_size, tail) returns what an entry would add to the batch,
    // or kSkip; it runs under the partition lock, may run more than once per entry and must
    // not throw. take(entry, key, key_size, tail) runs under the lock once per entry of the
    // batch, in no particular order; if it throws, the lock is released and the scan must not
    // be continued. A batch may be empty (a partition without wanted entries).
    template <class Cost, class Take>
    bool next_batch(size_t budget, Cost &&cost, Take &&take)
    {
        if (!in_partition_) {
            if (partition_ + 1 >= static_cast<int>(Table::kPartitions)) {
                partition_ = static_cast<int>(Table::kPartitions);
                return false;
            }
            ++partition_;
            position_ = Position{};
            in_partition_ = true;
        }
        Locked locked(table_, static_cast<uint32_t>(partition_), mode_);
        Layout layout = layout_now();
        uint64_t coarse_count = uint64_t{1} << (layout.coarse_log2 - Table::kPartitionBits);
        uint64_t g = position_.started ? coarse_of(layout, position_.hash) : 0;
        size_t used = 0;
        for (; g < coarse_count; ++g) {
            uint32_t last = last_hash(layout, g);
            Sum sum = measure(layout, g, last, cost);
            if (sum.count > 0 && sum.bytes > budget - used) {
                if (used == 0)
                    take_part_of(layout, g, budget, cost, take);
                return true;
            }
            if (sum.count > 0) {
                take_up_to(layout, g, last, cost, take);
                used += static_cast<size_t>(sum.bytes);
            }
            position_.whole_hash_after(last);
        }
        in_partition_ = false;
        return true;
    }

    // The partition the last batch came from (-1 before the first, kPartitions at the end).
    int partition() const { return partition_; }

  private:
    // Where the scan is in the current partition's (hash, key) order: the entries at or
    // before it were handed out.
    struct Position {
        bool started = false;     // false: none of the partition yet
        uint32_t hash = 0;        // every entry with a smaller hash was handed out,
        bool whole_hash = false;  // and with this hash: all of them, or those whose key is
        std::string key;          // at most this one

        // Moves to the end of the entries with hash h.
        void whole_hash_after(uint32_t h)
        {
            started = true;
            hash = h;
            whole_hash = true;
            key.clear();
        }
    };

    // The partition's run of buckets in one bucket array.
    struct Run {
        Pointer *base;
        unsigned log2;
    };

    // The partition's runs (the new array's, and the old one's while it has items there) and
    // the coarser of their sizes, whose buckets the batches step through.
    struct Layout {
        Run runs[2];
        int count;
        unsigned coarse_log2;
    };

    // Bytes and number of wanted entries.
    struct Sum {
        uint64_t bytes = 0;
        uint64_t count = 0;
    };

    // Holds a partition lock for the duration of a batch.
    class Locked {
      public:
        Locked(Table &table, uint32_t p, LockMode mode) : table_(table), p_(p), mode_(mode)
        {
            table_.policy_.lock(&table_.partition(p_).lock, mode_);
        }
        Locked(const Locked &) = delete;
        Locked &operator=(const Locked &) = delete;
        ~Locked() { table_.policy_.unlock(&table_.partition(p_).lock, mode_); }

      private:
        Table &table_;
        uint32_t p_;
        LockMode mode_;
    };

    // Reads the current partition's layout; its lock is held.
    Layout layout_now() const
    {
        auto *h = table_.header_;
        uint32_t p = static_cast<uint32_t>(partition_);
        Layout layout{};
        unsigned log2 = h->size_log2.load(std::memory_order_relaxed);
        layout.runs[layout.count++] = Run{table_.bucket_array(h->buckets) + p * Table::buckets_per_partition(log2), log2};
        layout.coarse_log2 = log2;
        if (table_.partition(p).old_remaining > 0) {
            unsigned old_log2 = h->old_size_log2.load(std::memory_order_relaxed);
            layout.runs[layout.count++] =
                Run{table_.bucket_array(h->old_buckets) + p * Table::buckets_per_partition(old_log2), old_log2};
            layout.coarse_log2 = old_log2 < log2 ? old_log2 : log2;
        }
        return layout;
    }

    // The coarse bucket (numbered within the partition) that holds hash.
    static uint64_t coarse_of(const Layout &layout, uint32_t hash)
    {
        uint64_t per_partition = uint64_t{1} << (layout.coarse_log2 - Table::kPartitionBits);
        return Table::bucket_index(hash, layout.coarse_log2) & (per_partition - 1);
    }

    // The largest hash value of coarse bucket g.
    uint32_t last_hash(const Layout &layout, uint64_t g) const
    {
        uint64_t global = (static_cast<uint64_t>(partition_) << (layout.coarse_log2 - Table::kPartitionBits)) + g;
        return static_cast<uint32_t>(((global + 1) << (32 - layout.coarse_log2)) - 1);
    }

    // Calls f(item) for every item of coarse bucket g, in both runs.
    template <class F>
    void for_each_item(const Layout &layout, uint64_t g, F &&f) const
    {
        for (int r = 0; r < layout.count; ++r) {
            const Run &run = layout.runs[r];
            unsigned shift = run.log2 - layout.coarse_log2;
            for (uint64_t b = g << shift; b < (g + 1) << shift; ++b) {
                for (Pointer ptr = run.base[b]; ptr != Pointer{};) {
                    Item *item = table_.item_at(ptr);
                    ptr = item->next;
                    f(item);
                }
            }
        }
    }

    // Whether item comes after the position.
    bool after_position(const Item *item) const
    {
        const Position &at = position_;
        if (!at.started || item->hash > at.hash)
            return true;
        if (item->hash < at.hash || at.whole_hash)
            return false;
        return key_less(at.key.data(), at.key.size(), Table::key_of(const_cast<Item *>(item)), item->key_size);
    }

    // The order of keys with the same hash: bytes, then length.
    static bool key_less(const char *a, size_t a_size, const char *b, size_t b_size)
    {
        size_t common = a_size < b_size ? a_size : b_size;
        int c = common == 0 ? 0 : std::memcmp(a, b, common);
        return c < 0 || (c == 0 && a_size < b_size);
    }

    // Calls cost or take with an item's parts.
    template <class F>
    static auto with_parts(F &f, Item *item)
    {
        return f(static_cast<const Entry &>(*Table::entry_of(item)), static_cast<const char *>(Table::key_of(item)),
                 item->key_size, static_cast<const char *>(Table::tail_of(item)));
    }

    // The wanted entries of coarse bucket g after the position with hash at most max_hash.
    template <class Cost>
    Sum measure(const Layout &layout, uint64_t g, uint32_t max_hash, Cost &cost) const
    {
        Sum sum;
        for_each_item(layout, g, [&](Item *item) {
            if (item->hash > max_hash || !after_position(item))
                return;
            size_t c = with_parts(cost, item);
            if (c == kSkip)
                return;
            sum.bytes += c;
            ++sum.count;
        });
        return sum;
    }

    // Hands out the wanted entries of coarse bucket g after the position with hash at most
    // max_hash.
    template <class Cost, class Take>
    void take_up_to(const Layout &layout, uint64_t g, uint32_t max_hash, Cost &cost, Take &take)
    {
        for_each_item(layout, g, [&](Item *item) {
            if (item->hash <= max_hash && after_position(item) && with_parts(cost, item) != kSkip)
                with_parts(take, item);
        });
    }

    // Starts a batch with coarse bucket g, whose wanted entries after the position pass the
    // budget: hands out those with the smallest hashes that fit, or, when the entries with
    // the smallest hash alone pass it, those of them with the smallest keys (at least one).
    template <class Cost, class Take>
    void take_part_of(const Layout &layout, uint64_t g, size_t budget, Cost &cost, Take &take)
    {
        uint32_t first = last_hash(layout, g);
        for_each_item(layout, g, [&](Item *item) {
            if (item->hash < first && after_position(item) && with_parts(cost, item) != kSkip)
                first = item->hash;
        });
        if (measure(layout, g, first, cost).bytes <= budget) {
            // The largest hash up to which the entries fit: measure(fits) <= budget < measure(passes).
            uint32_t fits = first;
            uint32_t passes = last_hash(layout, g);
            while (passes - fits > 1) {
                uint32_t middle = fits + (passes - fits) / 2;
                if (measure(layout, g, middle, cost).bytes <= budget)
                    fits = middle;
                else
                    passes = middle;
            }
            take_up_to(layout, g, fits, cost, take);
            position_.whole_hash_after(fits);
            return;
        }
        take_same_hash(layout, g, first, budget, cost, take);
    }

    // Hands out entries with hash h after the position in key order, while they fit the budget
    // (at least one).
    template <class Cost, class Take>
    void take_same_hash(const Layout &layout, uint64_t g, uint32_t h, size_t budget, Cost &cost, Take &take)
    {
        size_t used = 0;
        for (;;) {
            Item *next = nullptr;
            for_each_item(layout, g, [&](Item *item) {
                if (item->hash != h || !after_position(item) || with_parts(cost, item) == kSkip)
                    return;
                if (next == nullptr ||
                    key_less(Table::key_of(item), item->key_size, Table::key_of(next), next->key_size))
                    next = item;
            });
            if (next == nullptr) {
                position_.whole_hash_after(h);
                return;
            }
            size_t c = with_parts(cost, next);
            if (used > 0 && (used > budget || c > budget - used))
                return;
            with_parts(take, next);
            used += c;
            position_.started = true;
            position_.hash = h;
            position_.whole_hash = false;
            position_.key.assign(Table::key_of(next), next->key_size);
        }
    }

    Table &table_;
    LockMode mode_;
    int partition_ = -1;
    bool in_partition_ = false;
    Position position_;
};

}  // namespace simple_cache::core
