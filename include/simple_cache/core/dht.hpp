// DHT: a concurrent hash table for shared memory, free of any PostgreSQL dependency.
//
// Separate chaining; every item is one allocation holding its full hash, the link to the next
// item of its bucket, a fixed-size Entry, the key bytes and a variable-size tail. Links (bucket
// slots and next fields) carry a summary of their chain's hash tags in the pointer's spare high
// bits (dht_link.hpp), so a lookup skips chains that cannot hold its key without touching them. The
// table is split into 128 lock partitions; a key's partition is taken from the top bits of its
// hash, so it never changes when the bucket array grows or shrinks, and each partition owns a
// contiguous run of buckets in every bucket array.
//
// Resizing is incremental. When a partition passes its load factor, one process allocates a new
// bucket array (double the size, or for shrinking the smallest size that keeps the load at or
// below one half), then holds every partition lock only long enough to swap the arrays. Items
// then move from the old array to the new a few at a time: each release of an exclusive lock
// moves up to three, each shared lookup up to two (on a partition it can lock without waiting).
// Lookups consult the new and, while their partition still has items there, the old array. The
// last partition to empty its old buckets frees the old array.
//
// Scans visit one partition at a time under its lock, old buckets then new, so every entry that
// exists for the whole scan is seen exactly once, whatever resizing happens between partitions.
// Batch scans (dht_batch_scan.hpp) keep that guarantee while releasing the lock inside a
// partition too, after a batch of entries whose size the caller bounds.
//
// Memory and locks come from a Policy (see policy.hpp); the server binds it to DSA and
// LWLocks, the unit tests to malloc and std::shared_mutex.
//
// A thread holding a Ref, or inside a Scan's partition, must not start another operation on
// the same table: the operation may need a lock the thread already holds (and a resize needs
// them all).
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "simple_cache/core/dht_link.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/core/policy.hpp"

namespace simple_cache::core {

// A key as the table sees it: a run of bytes compared with memcmp.
struct KeyView {
    const void *data;
    uint32_t size;
};

// Whether an insertion found room: allocation failures are reported, never thrown.
enum class InsertStatus { found, inserted, out_of_memory };

// What upsert did: whether the key existed and whether the new item was stored.
struct UpsertResult {
    bool existed = false;
    bool stored = false;
};

// A snapshot of a table's shape, read without locks (approximate while others write).
struct DhtStats {
    uint64_t entries = 0;
    uint32_t size_log2 = 0;
    uint32_t old_size_log2 = 0;
    bool resizing = false;
    uint32_t migrating_partitions = 0;
    uint64_t grows = 0;
    uint64_t shrinks = 0;
};

// What a sweep's visitor decides for one entry.
enum class SweepAction { keep, remove };

// What one sweep did.
struct SweepResult {
    uint64_t visited = 0;
    uint64_t removed = 0;
    uint64_t bytes_freed = 0;
    uint32_t partitions_skipped = 0;  // busy partitions passed over by a non-waiting sweep
};

// One partition's state, read under its lock.
struct DhtPartitionInfo {
    uint64_t entries = 0;
    uint64_t entries_in_old_buckets = 0;
    uint64_t buckets = 0;
};

template <class Policy, class Entry>
class DhtBatchScan;  // dht_batch_scan.hpp

template <class Policy, class Entry>
class Dht {
  public:
    using Pointer = typename Policy::Pointer;
    using Lock = typename Policy::Lock;
    // Bucket slots and next fields: a Pointer plus a summary of its chain's tags.
    using Links = DhtLinks<Pointer, Policy::kAddressBits>;

    static constexpr unsigned kPartitionBits = 7;
    static constexpr unsigned kPartitions = 1u << kPartitionBits;
    static constexpr unsigned kMinSizeLog2 = kPartitionBits;  // one bucket per partition
    static constexpr unsigned kMaxSizeLog2 = 31;
    static constexpr uint64_t kGrowLoad = 1;             // grow above one item per bucket
    static constexpr uint64_t kShrinkLoadDivisor = 8;    // shrink below one item per 8 buckets
    static constexpr int kMigrateOnExclusive = 3;
    static constexpr int kMigrateOnShared = 2;
    static constexpr int kMigrateAll = 1 << 30;  // a budget that migrate_locked never runs out of
    static constexpr unsigned kMaxEmptyBucketsPerStep = 64;
    static constexpr int kMigrateBatch = 8;  // old buckets whose first items are fetched together
    static constexpr uint32_t kMagic = 0x5cdd7a01;

    static_assert(std::is_trivially_copyable_v<Entry>, "entries live in shared memory");
    static_assert(alignof(Entry) <= 8, "entries are 8-byte aligned at most");

    // A scan in batches of bounded size (defined in dht_batch_scan.hpp).
    using BatchScan = DhtBatchScan<Policy, Entry>;

  private:
    template <class, class>
    friend class DhtBatchScan;

    struct ItemHeader {
        Pointer next;  // a link (dht_link.hpp): the next item and a summary of the rest
        uint32_t hash;
        uint32_t key_size;
    };
    static_assert(sizeof(ItemHeader) % 8 == 0, "entry must start 8-byte aligned");

    struct Partition {
        Lock lock;
        std::atomic<uint64_t> count;  // items in this partition, old and new buckets together
        uint64_t old_remaining;       // items still in the old bucket array
        uint64_t next_old_bucket;     // migration cursor within this partition's old buckets
        uint64_t sweep_bucket;        // sweep cursor: old run (while migrating), then new run
    };

    // Releases a partition lock that this thread has taken when it goes out of scope,
    // exceptions included.
    class HeldPartition {
      public:
        HeldPartition(Policy &policy, Partition &part, LockMode mode) : policy_(policy), part_(part), mode_(mode) {}
        HeldPartition(const HeldPartition &) = delete;
        HeldPartition &operator=(const HeldPartition &) = delete;
        ~HeldPartition() { policy_.unlock(&part_.lock, mode_); }

      private:
        Policy &policy_;
        Partition &part_;
        LockMode mode_;
    };

    struct Header {
        uint32_t magic;
        uint64_t seed;  // hash seed, fixed at creation
        std::atomic<uint32_t> size_log2;
        std::atomic<uint32_t> old_size_log2;
        std::atomic<uint32_t> resizing;               // from a resize's start until its old array is freed
        std::atomic<uint32_t> migrating_partitions;   // partitions with items in old buckets
        std::atomic<uint32_t> resize_claimed;         // one process at a time prepares a new array
        std::atomic<uint32_t> help_cursor;            // round-robin start for helping other partitions
        std::atomic<uint32_t> sweep_hand;             // the partition the next sweep starts in
        std::atomic<uint64_t> grows;
        std::atomic<uint64_t> shrinks;
        Pointer buckets;
        Pointer old_buckets;
        Partition partitions[kPartitions];
    };

  public:
    // A locked item, or an empty result. Holding a Ref holds its partition's lock; releasing it
    // (or destroying it) unlocks and then does the deferred work: freeing a replaced or deleted
    // item and helping an incremental resize along.
    class Ref {
      public:
        Ref() = default;
        Ref(const Ref &) = delete;
        Ref &operator=(const Ref &) = delete;
        Ref(Ref &&other) noexcept { take(other); }
        Ref &operator=(Ref &&other) noexcept
        {
            if (this != &other) {
                release();
                take(other);
            }
            return *this;
        }
        ~Ref() { release(); }

        explicit operator bool() const { return item_ != nullptr; }
        Entry &entry() const { return *entry_of(item_); }
        const char *key_data() const { return key_of(item_); }
        uint32_t key_size() const { return item_->key_size; }
        char *tail() const { return tail_of(item_); }
        LockMode mode() const { return mode_; }

        // Unlocks the partition and runs the deferred work. Safe to call twice.
        void release() noexcept
        {
            if (table_ == nullptr)
                return;
            Dht *table = table_;
            table_ = nullptr;
            item_ = nullptr;
            table->finish(partition_, mode_, garbage_, garbage_bytes_);
        }

      private:
        friend class Dht;

        // Locks partition p of table in the given mode; the Ref starts without an item.
        Ref(Dht *table, uint32_t p, LockMode mode) : partition_(p), mode_(mode)
        {
            table->policy_.lock(&table->partition(p).lock, mode);
            table_ = table;
        }

        // Moves other's state into this (empty) Ref.
        void take(Ref &other) noexcept
        {
            table_ = std::exchange(other.table_, nullptr);
            partition_ = other.partition_;
            mode_ = other.mode_;
            link_ = other.link_;
            item_ = std::exchange(other.item_, nullptr);
            item_ptr_ = other.item_ptr_;
            in_old_ = other.in_old_;
            garbage_ = std::exchange(other.garbage_, Pointer{});
            garbage_bytes_ = other.garbage_bytes_;
        }

        // Records an item to free once the lock is released, freeing an earlier one now.
        void defer_free(Pointer p, size_t bytes) noexcept
        {
            if (garbage_ != Pointer{})
                table_->deallocate_quietly(garbage_, garbage_bytes_);
            garbage_ = p;
            garbage_bytes_ = bytes;
        }

        Dht *table_ = nullptr;
        uint32_t partition_ = 0;
        LockMode mode_ = LockMode::shared;
        Pointer *link_ = nullptr;  // the slot that points at item_
        ItemHeader *item_ = nullptr;
        Pointer item_ptr_{};
        bool in_old_ = false;
        Pointer garbage_{};
        size_t garbage_bytes_ = 0;
    };

    // An item built outside any lock, owned until a successful upsert or replace links it.
    class NewItem {
      public:
        NewItem() = default;
        NewItem(const NewItem &) = delete;
        NewItem &operator=(const NewItem &) = delete;
        NewItem(NewItem &&other) noexcept
            : table_(std::exchange(other.table_, nullptr)), ptr_(other.ptr_), item_(other.item_),
              bytes_(other.bytes_)
        {
        }
        NewItem &operator=(NewItem &&other) noexcept
        {
            if (this != &other) {
                discard();
                table_ = std::exchange(other.table_, nullptr);
                ptr_ = other.ptr_;
                item_ = other.item_;
                bytes_ = other.bytes_;
            }
            return *this;
        }
        ~NewItem() { discard(); }

        explicit operator bool() const { return table_ != nullptr; }
        Entry &entry() const { return *entry_of(item_); }
        char *tail() const { return tail_of(item_); }
        size_t bytes() const { return bytes_; }

      private:
        friend class Dht;

        // Frees the item if it was never linked into the table.
        void discard() noexcept
        {
            if (table_ != nullptr)
                std::exchange(table_, nullptr)->deallocate_quietly(ptr_, bytes_);
        }
        // Hands the item over to the table.
        void linked() noexcept { table_ = nullptr; }

        Dht *table_ = nullptr;
        Pointer ptr_{};
        ItemHeader *item_ = nullptr;
        size_t bytes_ = 0;
    };

    // Iterates over all entries, one partition at a time under that partition's lock:
    //   Scan scan(table, mode);
    //   while (scan.next_partition())
    //       while (scan.next()) use(scan.entry(), scan.key_data(), scan.tail());
    // Between partitions no lock is held. An exclusive scan may erase the current entry.
    class Scan {
      public:
        Scan(Dht &table, LockMode mode) : table_(table), mode_(mode) {}
        Scan(const Scan &) = delete;
        Scan &operator=(const Scan &) = delete;
        ~Scan() { finish(); }

        // Unlocks the current partition and locks the next one; false when all were visited.
        bool next_partition()
        {
            leave_partition();
            if (partition_ + 1 >= static_cast<int>(kPartitions))
                return false;
            ++partition_;
            table_.policy_.lock(&table_.partition(partition_).lock, mode_);
            locked_ = true;
            was_migrating_ = table_.partition(partition_).old_remaining > 0;
            start_range(was_migrating_ ? Range::old_buckets : Range::new_buckets);
            return true;
        }

        // Moves to the next entry of the locked partition; false when it has no more.
        bool next()
        {
            if (!locked_ || range_ == Range::done)
                return false;
            Pointer *link;
            if (current_ == nullptr)
                link = &bucket_base_[bucket_];
            else if (current_erased_)
                link = link_;  // the erased item's successor now sits in its slot
            else
                link = &current_->next;
            current_ = nullptr;
            current_erased_ = false;
            for (;;) {
                if (*link != Pointer{}) {
                    ItemHeader *item = table_.item_at(*link);
                    link_ = link;
                    current_ = item;
                    return true;
                }
                if (++bucket_ >= bucket_count_ && !next_range())
                    return false;
                link = &bucket_base_[bucket_];
            }
        }

        Entry &entry() const { return *entry_of(current_); }
        const char *key_data() const { return key_of(current_); }
        uint32_t key_size() const { return current_->key_size; }
        char *tail() const { return tail_of(current_); }
        int partition() const { return partition_; }

        // Removes the current entry (exclusive scans only); next() continues after it.
        void erase_current() noexcept
        {
            assert(mode_ == LockMode::exclusive && current_ != nullptr && !current_erased_);
            Pointer victim = Links::target(*link_);
            size_t bytes = item_bytes(current_);
            *link_ = current_->next;
            Partition &part = table_.partition(partition_);
            part.count.store(part.count.load(std::memory_order_relaxed) - 1,
                             std::memory_order_relaxed);
            if (range_ == Range::old_buckets)
                --part.old_remaining;
            current_erased_ = true;
            erased_any_ = true;
            table_.deallocate_quietly(victim, bytes);
        }

        // Unlocks the current partition before next_partition() is called, so the caller can
        // work on what it collected without holding any lock.
        void release_partition() noexcept { leave_partition(); }

        // Ends the scan early (the destructor does the same).
        void finish() noexcept
        {
            leave_partition();
            partition_ = static_cast<int>(kPartitions);
            if (erased_any_) {
                erased_any_ = false;
                table_.maybe_shrink_quietly();
            }
        }

      private:
        enum class Range { old_buckets, new_buckets, done };

        // Points the scan at the first bucket of the partition's run in the given array.
        void start_range(Range range)
        {
            range_ = range;
            current_ = nullptr;
            current_erased_ = false;
            bucket_ = 0;
            Header *h = table_.header_;
            if (range == Range::old_buckets) {
                unsigned log2 = h->old_size_log2.load(std::memory_order_relaxed);
                bucket_count_ = buckets_per_partition(log2);
                bucket_base_ = table_.bucket_array(h->old_buckets) + partition_ * bucket_count_;
            } else {
                unsigned log2 = h->size_log2.load(std::memory_order_relaxed);
                bucket_count_ = buckets_per_partition(log2);
                bucket_base_ = table_.bucket_array(h->buckets) + partition_ * bucket_count_;
            }
        }

        // Switches from the old buckets to the new; false after the new ones.
        bool next_range()
        {
            if (range_ == Range::old_buckets) {
                start_range(Range::new_buckets);
                return true;
            }
            range_ = Range::done;
            return false;
        }

        // Unlocks the current partition, completing its migration if erasures emptied it.
        void leave_partition() noexcept
        {
            if (!locked_)
                return;
            Partition &part = table_.partition(partition_);
            if (was_migrating_ && part.old_remaining == 0)
                table_.partition_migrated(partition_);
            table_.policy_.unlock(&part.lock, mode_);
            locked_ = false;
            current_ = nullptr;
        }

        Dht &table_;
        LockMode mode_;
        int partition_ = -1;
        bool locked_ = false;
        bool was_migrating_ = false;
        bool erased_any_ = false;
        Range range_ = Range::done;
        Pointer *bucket_base_ = nullptr;
        uint64_t bucket_count_ = 0;
        uint64_t bucket_ = 0;
        Pointer *link_ = nullptr;
        ItemHeader *current_ = nullptr;
        bool current_erased_ = false;
    };

    // Creates an empty table in policy's memory; returns its pointer, or null when out of memory.
    // Tables whose keys come from untrusted users should get a random seed.
    static Pointer create(Policy &policy, uint64_t seed = 0)
    {
        Pointer header_ptr = policy.allocate(sizeof(Header));
        if (header_ptr == Pointer{})
            return Pointer{};
        size_t bucket_bytes = sizeof(Pointer) << kMinSizeLog2;
        Pointer buckets = policy.allocate_zeroed(bucket_bytes);
        if (buckets == Pointer{}) {
            policy.deallocate(header_ptr, sizeof(Header));
            return Pointer{};
        }
        auto *h = static_cast<Header *>(policy.address(header_ptr));
        std::memset(static_cast<void *>(h), 0, sizeof(Header));
        h->magic = kMagic;
        h->seed = seed;
        h->size_log2.store(kMinSizeLog2, std::memory_order_relaxed);
        h->buckets = buckets;
        for (Partition &part : h->partitions)
            policy.init_lock(&part.lock);
        return header_ptr;
    }

    // Attaches to a table made by create(); the policy must outlive this object.
    Dht(Policy &policy, Pointer header_ptr)
        : policy_(policy), header_ptr_(header_ptr),
          header_(static_cast<Header *>(policy.address(header_ptr))), seed_(header_->seed)
    {
        assert(header_->magic == kMagic);
    }

    Dht(const Dht &) = delete;
    Dht &operator=(const Dht &) = delete;

    // The hash a table created with `seed` uses for a key.
    static uint32_t hash_of(KeyView key, uint64_t seed = 0) { return hash_bytes(key.data, key.size, seed); }

    // Finds key and returns it locked in the given mode, or an empty Ref when absent.
    Ref find(KeyView key, LockMode mode)
    {
        uint32_t hash = hash_of(key, seed_);
        prefetch_slot(hash);
        Ref ref(this, partition_of(hash), mode);
        Location loc = locate(ref.partition_, hash, key);
        if (loc.item != nullptr)
            ref_point_at(ref, loc);
        else
            ref.release();
        return ref;
    }

    // How many keys of a batch lookup have their first items loaded together (find_batch()).
    static constexpr uint32_t kBatchWindow = 16;

    // Looks up keys[0..count) and calls visit(index, entry, tail) for every key found, while
    // that key's partition is locked shared; keys not found are not visited. The keys are
    // hashed first and grouped by partition (hashes and order are the caller's scratch, count
    // elements each), and each partition that holds any of them is locked once for its whole
    // group: visits come partition by partition in ascending order and, within one, in index
    // order. No lock-free read: every slot and item is read under its partition's lock, as
    // find() does.
    //
    // The misses overlap in a three-stage pipeline over the groups: the bucket slots of group
    // g+2 are prefetched from the hint (prefetch_slot(): an address only, read nothing), group
    // g+1 is locked and its first kBatchWindow slots are read and their first items
    // prefetched, and only then are group g's keys compared and visited and g unlocked. So at
    // most two partition locks are held at once, always taken in ascending partition order,
    // the order in which a resize takes all of them (AllPartitionsLocked) and in which no other
    // holder of a partition lock waits for another: no wait cycle can form. A resize that
    // starts meanwhile waits until the batch has passed its partitions. The help a lookup gives
    // an incremental resize is given once, after the last unlock.
    //
    // visit may change the entry only as a shared reader may (atomic stores); it must not use
    // the table; if it throws, the locks are released and the batch stops there.
    template <class Visit>
    void find_batch(const KeyView *keys, uint32_t count, uint32_t *hashes, uint32_t *order, Visit &&visit)
    {
        uint32_t starts[kPartitions + 1] = {};
        for (uint32_t i = 0; i < count; ++i) {
            hashes[i] = hash_of(keys[i], seed_);
            ++starts[partition_of(hashes[i]) + 1];
        }
        for (uint32_t p = 0; p < kPartitions; ++p)
            starts[p + 1] += starts[p];
        uint32_t fill[kPartitions];
        std::memcpy(fill, starts, sizeof fill);
        for (uint32_t i = 0; i < count; ++i)  // a stable counting sort by partition
            order[fill[partition_of(hashes[i])]++] = i;
        auto next_group = [&starts](uint32_t from) {
            while (from < kPartitions && starts[from] == starts[from + 1])
                ++from;
            return from;
        };
        auto group_of = [&](uint32_t p) { return BatchGroup{order + starts[p], starts[p + 1] - starts[p]}; };
        uint32_t p = next_group(0);
        if (p == kPartitions)
            return;
        BatchHold holds[2];
        GroupView views[2];
        ItemHeader *firsts[2][kBatchWindow];
        int c = 0;  // the slot of the group being visited
        prefetch_group(hashes, group_of(p));
        holds[c].lock(this, p);
        views[c] = group_view(p);
        load_window(views[c], hashes, group_of(p), 0, firsts[c]);
        uint32_t q = next_group(p + 1);
        if (q < kPartitions)
            prefetch_group(hashes, group_of(q));
        for (;;) {
            uint32_t r = kPartitions;
            if (q < kPartitions) {
                holds[1 - c].lock(this, q);  // ascending: q > p
                views[1 - c] = group_view(q);
                load_window(views[1 - c], hashes, group_of(q), 0, firsts[1 - c]);
                r = next_group(q + 1);
                if (r < kPartitions)
                    prefetch_group(hashes, group_of(r));
            }
            visit_group(views[c], keys, hashes, group_of(p), firsts[c], visit);
            holds[c].unlock();
            if (q == kPartitions)
                break;
            c = 1 - c;
            p = q;
            q = r;
        }
        try {
            if (header_->resizing.load(std::memory_order_relaxed) != 0)
                help_migrate(p, true, kMigrateOnShared);
        } catch (...) {  // helping is optional; the lookups are done
        }
    }

    // Finds key, or inserts it with a zeroed Entry and tail_size tail bytes; init(entry, tail)
    // fills a new item before it becomes visible. Returns the item locked exclusively, or an
    // empty Ref when memory ran out (the table is then unchanged).
    template <class Init>
    Ref find_or_insert(KeyView key, size_t tail_size, Init &&init, InsertStatus *status)
    {
        uint32_t hash = hash_of(key, seed_);
        prefetch_slot(hash);
        Ref ref(this, partition_of(hash), LockMode::exclusive);
        Location loc = locate(ref.partition_, hash, key);
        if (loc.item != nullptr) {
            *status = InsertStatus::found;
            ref_point_at(ref, loc);
            return ref;
        }
        NewItem item = build_item(key, hash, tail_size);
        if (!item) {
            *status = InsertStatus::out_of_memory;
            ref.release();
            return ref;
        }
        init(item.entry(), item.tail());
        loc = link_new(ref.partition_, item);
        *status = InsertStatus::inserted;
        ref_point_at(ref, loc);
        return ref;
    }

    // Builds an unlinked item for key with tail_size tail bytes and a zeroed Entry, without
    // taking any table lock. Empty when memory ran out.
    NewItem make_item(KeyView key, size_t tail_size)
    {
        return build_item(key, hash_of(key, seed_), tail_size);
    }

    // Links item under its key. decide(existing_entry, existing_tail) is called under the
    // exclusive lock with the current item (or nullptrs) and returns whether to store; a stored
    // item replaces the existing one in place. An item not stored is freed.
    template <class Decide>
    UpsertResult upsert(NewItem &&item, Decide &&decide)
    {
        NewItem owned = std::move(item);
        if (!owned)
            return UpsertResult{};  // nothing to link (make_item ran out of memory)
        uint32_t hash = owned.item_->hash;
        KeyView key{key_of(owned.item_), owned.item_->key_size};
        prefetch_slot(hash);
        Ref held(this, partition_of(hash), LockMode::exclusive);
        Location loc = locate(held.partition_, hash, key);
        UpsertResult result;
        result.existed = loc.item != nullptr;
        if (result.existed) {
            if (!decide(static_cast<const Entry *>(entry_of(loc.item)),
                        static_cast<const char *>(tail_of(loc.item))))
                return result;
            owned.item_->next = loc.item->next;
            *loc.link = Links::retarget(*loc.link, owned.ptr_);
            owned.linked();
            held.defer_free(loc.item_ptr, item_bytes(loc.item));
        } else {
            if (!decide(static_cast<const Entry *>(nullptr), static_cast<const char *>(nullptr)))
                return result;
            link_new(held.partition_, owned);
        }
        result.stored = true;
        return result;
    }

    // Puts item in the place of the exclusively locked ref's item (same key); the old item is
    // freed when ref is released. ref then refers to the new item.
    void replace(Ref &ref, NewItem &&item)
    {
        assert(ref && ref.mode_ == LockMode::exclusive);
        assert(item.item_->hash == ref.item_->hash);
        NewItem owned = std::move(item);
        owned.item_->next = ref.item_->next;
        *ref.link_ = Links::retarget(*ref.link_, owned.ptr_);
        owned.linked();
        ref.defer_free(ref.item_ptr_, item_bytes(ref.item_));
        ref.item_ = owned.item_;
        ref.item_ptr_ = owned.ptr_;
    }

    // Deletes the exclusively locked entry and releases the lock.
    void erase(Ref &&ref)
    {
        assert(ref && ref.mode_ == LockMode::exclusive);
        Ref held = std::move(ref);
        unlink(held.partition_, held.link_, held.item_, held.in_old_);
        held.defer_free(held.item_ptr_, item_bytes(held.item_));
        held.item_ = nullptr;
    }

    // Deletes key; returns whether it was present.
    bool erase(KeyView key)
    {
        Ref ref = find(key, LockMode::exclusive);
        if (!ref)
            return false;
        erase(std::move(ref));
        return true;
    }

    // Visits entries like a clock hand, continuing where the previous sweep stopped: partition
    // after partition, a run of buckets at a time, each partition under its exclusive lock
    // (waited for only if `wait`, otherwise busy partitions are skipped). visit(entry, key_data,
    // key_size, tail) may change the entry and returns whether to remove it; removed items are
    // freed at once. Stops once `budget` entries were visited or every partition was tried.
    template <class Visit>
    SweepResult sweep(uint64_t budget, bool wait, Visit &&visit)
    {
        SweepResult result;
        for (uint32_t tried = 0; tried < kPartitions && result.visited < budget; ++tried) {
            uint32_t p = header_->sweep_hand.fetch_add(1, std::memory_order_relaxed) % kPartitions;
            Partition &part = partition(p);
            if (wait)
                policy_.lock(&part.lock, LockMode::exclusive);
            else if (!policy_.try_lock_exclusive(&part.lock)) {
                ++result.partitions_skipped;
                continue;
            }
            HeldPartition held(policy_, part, LockMode::exclusive);
            sweep_locked(p, budget, visit, result);
        }
        return result;
    }

    // Moves every item still in the old bucket array of the resize in progress, one partition
    // at a time under its exclusive lock, so that the old array is freed before this returns
    // instead of once ordinary operations have moved the items. Does nothing when no resize is
    // in progress; a resize that another thread starts meanwhile may be left partly done.
    void complete_resize()
    {
        for (uint32_t p = 0; p < kPartitions; ++p) {
            if (header_->resizing.load(std::memory_order_acquire) == 0)
                return;
            Partition &part = partition(p);
            policy_.lock(&part.lock, LockMode::exclusive);
            HeldPartition held(policy_, part, LockMode::exclusive);
            // Each call stops after a run of empty buckets; stop too if one moved nothing.
            for (;;) {
                uint64_t remaining = part.old_remaining;
                uint64_t cursor = part.next_old_bucket;
                migrate_locked(p, kMigrateAll);
                if (part.old_remaining == 0 || (part.old_remaining == remaining && part.next_old_bucket == cursor))
                    break;
            }
        }
    }

    // Starts shrinking the table if it has become sparse, as an exclusive scan that erased
    // entries does (a sweep never does by itself). A failure only leaves the size as it is.
    void shrink_if_sparse() noexcept { maybe_shrink_quietly(); }

    // A lock-free snapshot of the table's shape.
    DhtStats stats() const
    {
        DhtStats s;
        s.entries = total_count();
        s.size_log2 = header_->size_log2.load(std::memory_order_relaxed);
        s.old_size_log2 = header_->old_size_log2.load(std::memory_order_relaxed);
        s.resizing = header_->resizing.load(std::memory_order_relaxed) != 0;
        s.migrating_partitions = header_->migrating_partitions.load(std::memory_order_relaxed);
        s.grows = header_->grows.load(std::memory_order_relaxed);
        s.shrinks = header_->shrinks.load(std::memory_order_relaxed);
        return s;
    }

    // One partition's counts, read under its shared lock.
    DhtPartitionInfo partition_info(uint32_t p)
    {
        Partition &part = partition(p);
        policy_.lock(&part.lock, LockMode::shared);
        DhtPartitionInfo info;
        info.entries = part.count.load(std::memory_order_relaxed);
        info.entries_in_old_buckets = part.old_remaining;
        info.buckets = buckets_per_partition(header_->size_log2.load(std::memory_order_relaxed));
        policy_.unlock(&part.lock, LockMode::shared);
        return info;
    }

    // Counts the partition locks for which held(lock) is true (e.g. held by this process).
    template <class Held>
    unsigned count_partition_locks(Held &&held) const
    {
        unsigned n = 0;
        for (Partition &part : header_->partitions)
            n += held(&part.lock) ? 1 : 0;
        return n;
    }

    // Frees every item, both bucket arrays and the header. No one may use the table meanwhile.
    void destroy()
    {
        Header *h = header_;
        free_chains(h->buckets, h->size_log2.load(std::memory_order_relaxed));
        if (h->old_buckets != Pointer{})
            free_chains(h->old_buckets, h->old_size_log2.load(std::memory_order_relaxed));
        for (Partition &part : h->partitions)
            policy_.destroy_lock(&part.lock);
        policy_.deallocate(header_ptr_, sizeof(Header));
        header_ = nullptr;
    }

    // Bytes of one item holding key_size key bytes and tail_size tail bytes.
    static constexpr size_t item_bytes(size_t key_size, size_t tail_size)
    {
        return sizeof(ItemHeader) + sizeof(Entry) + key_size + tail_size;
    }

  private:
    // Where a key was found: the slot pointing at it and the item itself.
    struct Location {
        Pointer *link = nullptr;
        ItemHeader *item = nullptr;
        Pointer item_ptr{};
        bool in_old = false;
    };

    static uint32_t partition_of(uint32_t hash) { return hash >> (32 - kPartitionBits); }
    static uint64_t bucket_index(uint32_t hash, unsigned size_log2)
    {
        return static_cast<uint64_t>(hash) >> (32 - size_log2);
    }
    static uint64_t buckets_per_partition(unsigned size_log2)
    {
        return uint64_t{1} << (size_log2 - kPartitionBits);
    }
    static Entry *entry_of(ItemHeader *item) { return reinterpret_cast<Entry *>(item + 1); }
    static char *key_of(ItemHeader *item) { return reinterpret_cast<char *>(item + 1) + sizeof(Entry); }
    static char *tail_of(ItemHeader *item) { return key_of(item) + item->key_size; }
    static size_t item_bytes(ItemHeader *item)
    {
        return item_bytes(item->key_size, entry_of(item)->tail_size());
    }
    // The smallest size (at least the minimum) that keeps `entries` at or below half load.
    static unsigned size_log2_for(uint64_t entries)
    {
        unsigned log2 = kMinSizeLog2;
        while (log2 < kMaxSizeLog2 && (uint64_t{1} << log2) < entries * 2)
            ++log2;
        return log2;
    }

    Partition &partition(uint32_t p) const { return header_->partitions[p]; }
    // The item a link (or a plain pointer) leads to.
    ItemHeader *item_at(Pointer link) const
    {
        return static_cast<ItemHeader *>(policy_.address(Links::target(link)));
    }
    Pointer *bucket_array(Pointer p) const { return static_cast<Pointer *>(policy_.address(p)); }

    // Sum of the partition counts, without locks.
    uint64_t total_count() const
    {
        uint64_t total = 0;
        for (const Partition &part : header_->partitions)
            total += part.count.load(std::memory_order_relaxed);
        return total;
    }

    // Walks one chain for key, as far as the links' summaries allow that it holds the key; the
    // caller holds the partition lock.
    // `first`, when given, is the item *link leads to, already resolved by the caller.
    Location search_chain(Pointer *link, uint32_t hash, KeyView key, ItemHeader *first = nullptr) const
    {
        uint32_t tag = Links::tag_of(hash);
        while (Links::may_contain(*link, tag)) {
            ItemHeader *item = first != nullptr ? first : item_at(*link);
            first = nullptr;
            if (item->hash == hash && item->key_size == key.size &&
                (key.size == 0 || std::memcmp(key_of(item), key.data, key.size) == 0))
                return Location{link, item, Links::target(*link), false};
            link = &item->next;
        }
        return Location{};
    }

    // Looks key up in partition p (locked by the caller): new buckets, then old ones if the
    // partition still has items there.
    Location locate(uint32_t p, uint32_t hash, KeyView key) const
    {
        Header *h = header_;
        Pointer *buckets = bucket_array(h->buckets);
        unsigned log2 = h->size_log2.load(std::memory_order_relaxed);
        remember_buckets(buckets, log2);
        Location loc = search_chain(&buckets[bucket_index(hash, log2)], hash, key);
        if (loc.item == nullptr && partition(p).old_remaining > 0) {
            Pointer *old = bucket_array(h->old_buckets);
            unsigned old_log2 = h->old_size_log2.load(std::memory_order_relaxed);
            loc = search_chain(&old[bucket_index(hash, old_log2)], hash, key);
            loc.in_old = loc.item != nullptr;
        }
        return loc;
    }

    // Keeps this process's address of the current bucket array and its size for prefetch_slot().
    void remember_buckets(Pointer *buckets, unsigned log2) const
    {
        uintptr_t hint = reinterpret_cast<uintptr_t>(buckets) | (uintptr_t{log2} << kHintSizeShift);
        if (bucket_hint_.load(std::memory_order_relaxed) != hint)
            bucket_hint_.store(hint, std::memory_order_relaxed);
    }

    // Starts loading the bucket slot of `hash` before its partition lock is taken, so that the
    // cache miss on the slot overlaps with taking the lock. The address comes from the array
    // this process saw last: a hint only. A stale one (the table was resized meanwhile, or the
    // array freed) costs a useless prefetch and nothing else: a prefetch never faults, reads
    // nothing the program uses and the real slot is found under the lock as before.
    void prefetch_slot(uint32_t hash) const
    {
        uintptr_t hint = bucket_hint_.load(std::memory_order_relaxed);
        if (hint == 0)
            return;
        uintptr_t base = hint & ((uintptr_t{1} << kHintSizeShift) - 1);
        auto log2 = static_cast<unsigned>(hint >> kHintSizeShift);
        __builtin_prefetch(reinterpret_cast<const void *>(base + bucket_index(hash, log2) * sizeof(Pointer)));
    }

    // The keys of one partition in a batch: indexes into the batch's keys, in index order.
    struct BatchGroup {
        const uint32_t *index;
        uint32_t size;
    };

    // The bucket arrays a batch group is looked up in, read under the group's partition lock.
    struct GroupView {
        Pointer *buckets = nullptr;
        unsigned log2 = 0;
        Pointer *old = nullptr;  // while the partition still has items in the old array
        unsigned old_log2 = 0;
    };

    // A partition lock taken shared by find_batch(), released when it goes out of scope
    // (without the deferred work of a Ref: find_batch helps a resize once, at its end).
    class BatchHold {
      public:
        BatchHold() = default;
        BatchHold(const BatchHold &) = delete;
        BatchHold &operator=(const BatchHold &) = delete;
        ~BatchHold() { unlock(); }

        // Locks partition p of table shared.
        void lock(Dht *table, uint32_t p)
        {
            table->policy_.lock(&table->partition(p).lock, LockMode::shared);
            table_ = table;
            partition_ = p;
        }
        // Unlocks, if locked.
        void unlock() noexcept
        {
            if (table_ == nullptr)
                return;
            Dht *table = table_;
            table_ = nullptr;
            table->policy_.unlock(&table->partition(partition_).lock, LockMode::shared);
        }

      private:
        Dht *table_ = nullptr;
        uint32_t partition_ = 0;
    };

    // The arrays partition p (locked by the caller) is looked up in.
    GroupView group_view(uint32_t p) const
    {
        Header *h = header_;
        GroupView view;
        view.buckets = bucket_array(h->buckets);
        view.log2 = h->size_log2.load(std::memory_order_relaxed);
        remember_buckets(view.buckets, view.log2);
        if (partition(p).old_remaining > 0) {
            view.old = bucket_array(h->old_buckets);
            view.old_log2 = h->old_size_log2.load(std::memory_order_relaxed);
        }
        return view;
    }

    // Prefetches the bucket slots of a batch group's first kBatchWindow keys from the hint,
    // before the group's lock is taken: see prefetch_slot().
    void prefetch_group(const uint32_t *hashes, BatchGroup group) const
    {
        for (uint32_t j = 0; j < group.size && j < kBatchWindow; ++j)
            prefetch_slot(hashes[group.index[j]]);
    }

    // Reads the bucket slots of the window of group keys that starts at `from` (the partition
    // locked by the caller) and prefetches the first item of every chain that may hold its key;
    // first[] receives those items (null: the chain cannot hold the key).
    void load_window(const GroupView &view, const uint32_t *hashes, BatchGroup group, uint32_t from,
                     ItemHeader **first) const
    {
        uint32_t end = group.size - from < kBatchWindow ? group.size : from + kBatchWindow;
        for (uint32_t j = from; j < end; ++j) {
            uint32_t hash = hashes[group.index[j]];
            Pointer slot = view.buckets[bucket_index(hash, view.log2)];
            ItemHeader *item = nullptr;
            if (Links::may_contain(slot, Links::tag_of(hash))) {
                item = item_at(slot);
                __builtin_prefetch(item);
            }
            first[j - from] = item;
        }
    }

    // Compares and visits a batch group's keys (its partition locked by the caller), a window
    // at a time; the first window is loaded already (load_window() into first), each later one
    // is loaded here, with the slots of the window after it prefetched.
    template <class Visit>
    void visit_group(const GroupView &view, const KeyView *keys, const uint32_t *hashes, BatchGroup group,
                     ItemHeader **first, Visit &visit)
    {
        for (uint32_t w = 0; w < group.size; w += kBatchWindow) {
            uint32_t end = group.size - w < kBatchWindow ? group.size : w + kBatchWindow;
            if (w > 0)
                load_window(view, hashes, group, w, first);
            for (uint32_t j = end; j < group.size && j < end + kBatchWindow; ++j)
                __builtin_prefetch(&view.buckets[bucket_index(hashes[group.index[j]], view.log2)]);
            for (uint32_t j = w; j < end; ++j) {
                uint32_t i = group.index[j];
                uint32_t hash = hashes[i];
                Location loc = search_chain(&view.buckets[bucket_index(hash, view.log2)], hash, keys[i], first[j - w]);
                if (loc.item == nullptr && view.old != nullptr)
                    loc = search_chain(&view.old[bucket_index(hash, view.old_log2)], hash, keys[i]);
                if (loc.item != nullptr)
                    visit(i, *entry_of(loc.item), tail_of(loc.item));
            }
        }
    }

    // Makes ref refer to the located item.
    static void ref_point_at(Ref &ref, const Location &loc)
    {
        ref.link_ = loc.link;
        ref.item_ = loc.item;
        ref.item_ptr_ = loc.item_ptr;
        ref.in_old_ = loc.in_old;
    }

    // Allocates and fills an item's header and key; the Entry is zeroed.
    NewItem build_item(KeyView key, uint32_t hash, size_t tail_size)
    {
        NewItem item;
        size_t bytes = item_bytes(key.size, tail_size);
        Pointer ptr = policy_.allocate(bytes);
        if (ptr == Pointer{})
            return item;
        item.table_ = this;  // owned from here: freed if anything below throws
        item.ptr_ = ptr;
        item.bytes_ = bytes;
        item.item_ = item_at(ptr);
        item.item_->next = Pointer{};
        item.item_->hash = hash;
        item.item_->key_size = key.size;
        std::memset(static_cast<void *>(entry_of(item.item_)), 0, sizeof(Entry));
        if (key.size > 0)  // an empty key may come with a null data pointer
            std::memcpy(key_of(item.item_), key.data, key.size);
        return item;
    }

    // Links a new item at the head of its bucket in partition p (locked exclusively).
    Location link_new(uint32_t p, NewItem &item)
    {
        Header *h = header_;
        Pointer *buckets = bucket_array(h->buckets);
        uint32_t hash = item.item_->hash;
        Pointer *slot = &buckets[bucket_index(hash, h->size_log2.load(std::memory_order_relaxed))];
        item.item_->next = *slot;
        *slot = Links::make(item.ptr_, Links::tag_of(hash), item.item_->next);
        Partition &part = partition(p);
        part.count.store(part.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        Location loc{slot, item.item_, item.ptr_, false};
        item.linked();
        return loc;
    }

    // Unlinks an item from partition p (locked exclusively).
    void unlink(uint32_t p, Pointer *link, ItemHeader *item, bool in_old) noexcept
    {
        *link = item->next;
        Partition &part = partition(p);
        part.count.store(part.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        if (in_old && --part.old_remaining == 0)
            partition_migrated(p);
    }

    // Frees memory, swallowing failures: used where the table is already consistent and an
    // error could only leak the block.
    void deallocate_quietly(Pointer p, size_t bytes) noexcept
    {
        try {
            policy_.deallocate(p, bytes);
        } catch (...) {
        }
    }

    // Moves items of partition p (locked exclusively) from old to new buckets, whole old buckets
    // at a time, until about `budget` items moved; returns the unused budget. The first items of
    // up to kMigrateBatch old buckets are looked up and prefetched before any is moved, so their
    // cache misses overlap. Every item's address is resolved before it is relinked, so a failure
    // leaves the chains intact and the counts right.
    int migrate_locked(uint32_t p, int budget)
    {
        Partition &part = partition(p);
        if (part.old_remaining == 0)
            return budget;
        Header *h = header_;
        unsigned old_log2 = h->old_size_log2.load(std::memory_order_relaxed);
        unsigned new_log2 = h->size_log2.load(std::memory_order_relaxed);
        uint64_t per_partition = buckets_per_partition(old_log2);
        Pointer *old_run = bucket_array(h->old_buckets) + p * per_partition;
        Pointer *buckets = bucket_array(h->buckets);
        unsigned empty_seen = 0;
        while (budget > 0 && part.old_remaining > 0 && part.next_old_bucket < per_partition &&
               empty_seen < kMaxEmptyBucketsPerStep) {
            uint64_t batch[kMigrateBatch];
            ItemHeader *heads[kMigrateBatch];
            int n = 0;
            uint64_t b = part.next_old_bucket;
            for (; b < per_partition && n < kMigrateBatch && n < budget; ++b) {
                if (old_run[b] == Pointer{}) {
                    if (++empty_seen >= kMaxEmptyBucketsPerStep)
                        break;
                    continue;
                }
                heads[n] = item_at(old_run[b]);
                __builtin_prefetch(heads[n], 1);
                batch[n++] = b;
            }
            for (int i = 0; i < n; ++i) {
                budget -= move_chain(part, &old_run[batch[i]], heads[i], buckets, new_log2);
                part.next_old_bucket = batch[i] + 1;
            }
            if (part.old_remaining > 0)
                part.next_old_bucket = b;  // the buckets passed over are empty
        }
        assert(part.old_remaining == 0 || part.next_old_bucket < per_partition);
        if (part.old_remaining == 0)
            partition_migrated(p);
        return budget > 0 ? budget : 0;
    }

    // Moves every item of the old bucket `slot` (whose first item is `item`) to the front of its
    // bucket in the new array; returns how many moved.
    int move_chain(Partition &part, Pointer *slot, ItemHeader *item, Pointer *buckets, unsigned new_log2)
    {
        int moved = 0;
        for (;;) {
            Pointer link = *slot;
            Pointer rest = item->next;
            ItemHeader *next_item = rest != Pointer{} ? item_at(rest) : nullptr;  // may throw: nothing moved yet
            uint32_t hash = item->hash;
            Pointer *dest = &buckets[bucket_index(hash, new_log2)];
            *slot = rest;
            item->next = *dest;
            *dest = Links::make(Links::target(link), Links::tag_of(hash), item->next);
            --part.old_remaining;
            ++moved;
            if (next_item == nullptr)
                return moved;
            item = next_item;
        }
    }

    // Sweeps partition p (locked exclusively) from its cursor to the end of its buckets or until
    // the budget is spent, finishing the bucket it is in. Relinking happens only after the
    // visitor returned, so a throwing visitor leaves the chain intact.
    template <class Visit>
    void sweep_locked(uint32_t p, uint64_t budget, Visit &visit, SweepResult &result)
    {
        Partition &part = partition(p);
        Header *h = header_;
        bool migrating = part.old_remaining > 0;
        uint64_t old_count = migrating ? buckets_per_partition(h->old_size_log2.load(std::memory_order_relaxed)) : 0;
        uint64_t new_count = buckets_per_partition(h->size_log2.load(std::memory_order_relaxed));
        Pointer *old_run = migrating ? bucket_array(h->old_buckets) + p * old_count : nullptr;
        Pointer *new_run = bucket_array(h->buckets) + p * new_count;
        uint64_t total = old_count + new_count;
        if (part.sweep_bucket >= total)
            part.sweep_bucket = 0;
        while (result.visited < budget && part.sweep_bucket < total) {
            bool in_old = part.sweep_bucket < old_count;
            Pointer *link = in_old ? &old_run[part.sweep_bucket] : &new_run[part.sweep_bucket - old_count];
            while (*link != Pointer{}) {
                Pointer ptr = Links::target(*link);
                ItemHeader *item = item_at(ptr);
                ++result.visited;
                if (visit(*entry_of(item), static_cast<const char *>(key_of(item)), item->key_size,
                          tail_of(item)) == SweepAction::keep) {
                    link = &item->next;
                    continue;
                }
                size_t bytes = item_bytes(item);
                *link = item->next;
                part.count.store(part.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
                if (in_old)
                    --part.old_remaining;
                deallocate_quietly(ptr, bytes);
                ++result.removed;
                result.bytes_freed += bytes;
            }
            ++part.sweep_bucket;
        }
        if (part.sweep_bucket >= total)
            part.sweep_bucket = 0;
        if (migrating && part.old_remaining == 0)
            partition_migrated(p);
    }

    // Partition p (locked exclusively) has no more items in old buckets; the last partition to
    // get there frees the old array and ends the resize.
    void partition_migrated(uint32_t p) noexcept
    {
        (void) p;
        Header *h = header_;
        if (h->migrating_partitions.fetch_sub(1, std::memory_order_acq_rel) != 1)
            return;
        Pointer old = h->old_buckets;
        size_t bytes = sizeof(Pointer) << h->old_size_log2.load(std::memory_order_relaxed);
        h->old_buckets = Pointer{};
        h->resizing.store(0, std::memory_order_release);
        deallocate_quietly(old, bytes);
    }

    // Migrates for other partitions without waiting for any lock: the own partition first
    // (unless it was just handled), then the next one round-robin.
    void help_migrate(uint32_t own, bool try_own, int budget)
    {
        for (int attempt = 0; attempt < 2 && budget > 0; ++attempt) {
            if (header_->resizing.load(std::memory_order_acquire) == 0)
                return;
            uint32_t p = (attempt == 0 && try_own)
                             ? own
                             : header_->help_cursor.fetch_add(1, std::memory_order_relaxed) % kPartitions;
            Partition &part = partition(p);
            if (!policy_.try_lock_exclusive(&part.lock))
                continue;
            HeldPartition held(policy_, part, LockMode::exclusive);
            budget = migrate_locked(p, budget);
        }
    }

    // The size partition p's count asks for (0: keep the current size). Called under p's
    // exclusive lock.
    unsigned wanted_size_log2(uint32_t p) const
    {
        Header *h = header_;
        if (h->resizing.load(std::memory_order_relaxed) != 0)
            return 0;
        unsigned log2 = h->size_log2.load(std::memory_order_relaxed);
        uint64_t per_partition = buckets_per_partition(log2);
        uint64_t count = partition(p).count.load(std::memory_order_relaxed);
        if (count > per_partition * kGrowLoad && log2 < kMaxSizeLog2)
            return log2 + 1;
        if (log2 > kMinSizeLog2 && count * kShrinkLoadDivisor < per_partition)
            return shrink_target(log2);
        return 0;
    }

    // The size to shrink to from log2, if the whole table is sparse enough (0: don't). The
    // target never puts the fullest partition over the growth threshold, or a table whose
    // keys crowd one partition would shrink and grow again forever.
    unsigned shrink_target(unsigned log2) const
    {
        uint64_t total = 0;
        uint64_t fullest = 0;
        for (const Partition &part : header_->partitions) {
            uint64_t count = part.count.load(std::memory_order_relaxed);
            total += count;
            fullest = count > fullest ? count : fullest;
        }
        if (total * kShrinkLoadDivisor >= (uint64_t{1} << log2))
            return 0;
        unsigned target = size_log2_for(total);
        while (target < log2 && fullest > buckets_per_partition(target) * kGrowLoad)
            ++target;
        return target < log2 ? target : 0;
    }

    // After an exclusive scan erased entries: shrink if the table became sparse.
    void maybe_shrink_quietly() noexcept
    {
        try {
            if (header_->resizing.load(std::memory_order_relaxed) != 0)
                return;
            unsigned target = shrink_target(header_->size_log2.load(std::memory_order_relaxed));
            if (target != 0)
                start_resize(target);
        } catch (...) {
        }
    }

    // Everything that follows an operation on partition p: migration work, unlocking, freeing
    // a replaced item, and starting a resize the partition's load asks for. Failures here only
    // delay a resize; they never undo the operation.
    void finish(uint32_t p, LockMode mode, Pointer garbage, size_t garbage_bytes) noexcept
    {
        Partition &part = partition(p);
        int budget;
        unsigned resize_to = 0;
        if (mode == LockMode::exclusive) {
            budget = kMigrateOnExclusive;
            try {
                budget = migrate_locked(p, budget);
            } catch (...) {
            }
            resize_to = wanted_size_log2(p);
            policy_.unlock(&part.lock, LockMode::exclusive);
        } else {
            budget = kMigrateOnShared;
            policy_.unlock(&part.lock, LockMode::shared);
        }
        if (garbage != Pointer{})
            deallocate_quietly(garbage, garbage_bytes);
        try {
            if (budget > 0 && header_->resizing.load(std::memory_order_relaxed) != 0)
                help_migrate(p, mode == LockMode::shared, budget);
            if (resize_to != 0)
                start_resize(resize_to);
        } catch (...) {
        }
    }

    // Holds every partition lock, in order, for the duration of a resize's start.
    class AllPartitionsLocked {
      public:
        explicit AllPartitionsLocked(Dht &table) : table_(table)
        {
            for (; locked_ < kPartitions; ++locked_)
                table_.policy_.lock(&table_.partition(locked_).lock, LockMode::exclusive);
        }
        ~AllPartitionsLocked()
        {
            while (locked_ > 0)
                table_.policy_.unlock(&table_.partition(--locked_).lock, LockMode::exclusive);
        }

      private:
        Dht &table_;
        uint32_t locked_ = 0;
    };

    // Clears the resize claim when the preparing process is done, however it leaves.
    struct ResizeClaim {
        std::atomic<uint32_t> &flag;
        ~ResizeClaim() { flag.store(0, std::memory_order_release); }
    };

    // Starts a resize to 2^target buckets, unless one runs or another process is preparing one.
    // The new array is allocated and zeroed before any partition lock is taken; all locks are
    // held only to swap the arrays.
    void start_resize(unsigned target)
    {
        Header *h = header_;
        if (h->resizing.load(std::memory_order_acquire) != 0 ||
            h->resize_claimed.exchange(1, std::memory_order_acq_rel) != 0)
            return;
        ResizeClaim claim{h->resize_claimed};
        size_t new_bytes = sizeof(Pointer) << target;
        Pointer fresh = policy_.allocate_zeroed(new_bytes);
        if (fresh == Pointer{})
            return;  // no room to grow: the table keeps working at a higher load
        Pointer retired{};
        size_t retired_bytes = 0;
        {
            AllPartitionsLocked all(*this);
            unsigned current = h->size_log2.load(std::memory_order_relaxed);
            // Counts are exact now: a shrink goes ahead only if they still ask for this size.
            bool still_wanted = h->resizing.load(std::memory_order_relaxed) == 0 &&
                                (target > current ? target == current + 1
                                                  : shrink_target(current) == target);
            if (!still_wanted) {
                retired = fresh;
                retired_bytes = new_bytes;
            } else {
                uint32_t migrating = 0;
                for (Partition &part : h->partitions) {
                    part.old_remaining = part.count.load(std::memory_order_relaxed);
                    part.next_old_bucket = 0;
                    part.sweep_bucket = 0;
                    migrating += part.old_remaining > 0;
                }
                h->old_buckets = h->buckets;
                h->old_size_log2.store(current, std::memory_order_relaxed);
                h->buckets = fresh;
                h->size_log2.store(target, std::memory_order_relaxed);
                (target > current ? h->grows : h->shrinks).fetch_add(1, std::memory_order_relaxed);
                if (migrating == 0) {
                    retired = h->old_buckets;
                    retired_bytes = sizeof(Pointer) << current;
                    h->old_buckets = Pointer{};
                } else {
                    h->migrating_partitions.store(migrating, std::memory_order_relaxed);
                    h->resizing.store(1, std::memory_order_release);
                }
            }
        }
        if (retired != Pointer{})
            deallocate_quietly(retired, retired_bytes);
    }

    // Frees every item chained from a bucket array, then the array.
    void free_chains(Pointer array, unsigned size_log2)
    {
        Pointer *buckets = bucket_array(array);
        uint64_t n = uint64_t{1} << size_log2;
        for (uint64_t b = 0; b < n; ++b) {
            Pointer p = Links::target(buckets[b]);
            while (p != Pointer{}) {
                ItemHeader *item = item_at(p);
                Pointer next = Links::target(item->next);
                policy_.deallocate(p, item_bytes(item));
                p = next;
            }
        }
        policy_.deallocate(array, sizeof(Pointer) << size_log2);
    }

    Policy &policy_;
    Pointer header_ptr_;
    Header *header_;
    uint64_t seed_;
    // This process's address of the bucket array (low bits) and its size_log2 (from bit
    // kHintSizeShift): a prefetch hint, read and written without locks (see prefetch_slot()).
    static constexpr unsigned kHintSizeShift = 58;  // user-space addresses stay below 2^57
    static_assert(sizeof(uintptr_t) == 8, "the hint packs an address and a size into 64 bits");
    mutable std::atomic<uintptr_t> bucket_hint_{0};
};

}  // namespace simple_cache::core
