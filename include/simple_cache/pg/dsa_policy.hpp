// The binding of the core data structures to PostgreSQL: memory from a DSA area, locks that are
// LWLocks in a named tranche. Every DSA call runs under guard(), so an ERROR inside dsa.c
// reaches the core as a C++ exception; allocation failures are reported as null pointers.
#pragma once

#include <atomic>
#include <cstdint>

#include "simple_cache/core/policy.hpp"
#include "simple_cache/core/size_groups.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/striped_counters.hpp"

namespace simple_cache::pg {

// Bytes and blocks allocated through the policy, summed over backends' stripes, and the small
// size groups ever used.
struct AllocationCounters {
    enum { kBytes, kBlocks, kCount };
    StripedCounters<kCount> counters;
    std::atomic<uint64_t> small_groups_used{0};  // bit g: a request of size group g was made

    // Records an allocation (positive) or a free (negative) by this backend.
    void add(int64_t bytes, int64_t blocks)
    {
        counters.add(kBytes, bytes);
        counters.add(kBlocks, blocks);
    }
    // Records the size of an allocation: a small one keeps a superblock of its size class in
    // use for the life of the area (dsa.c never returns a size class's current superblock).
    void note_size(size_t bytes)
    {
        if (bytes > core::kLargestSmallObject)
            return;
        uint64_t bit = uint64_t{1} << core::small_size_group(bytes);
        if ((small_groups_used.load(std::memory_order_relaxed) & bit) == 0)
            small_groups_used.fetch_or(bit, std::memory_order_relaxed);
    }
    // Whether a small allocation of this size has a superblock of its class already.
    bool size_group_used(size_t bytes) const
    {
        uint64_t bit = uint64_t{1} << core::small_size_group(bytes);
        return (small_groups_used.load(std::memory_order_relaxed) & bit) != 0;
    }
    int64_t total_bytes() const { return counters.total(kBytes); }
    int64_t total_blocks() const { return counters.total(kBlocks); }
    // The pages the allocator keeps for small objects even once every object is freed: one
    // superblock per size class used.
    int64_t superblock_bytes_kept() const
    {
        return static_cast<int64_t>(__builtin_popcountll(small_groups_used.load(std::memory_order_relaxed))) *
               static_cast<int64_t>(core::kSuperblockBytes);
    }
};

// What the shared state adds to every DsaPolicy of this backend (set on attaching, see
// shared_state.cpp). Without hooks, as in the benchmark module, allocation is plain dsa.c.
struct PolicyHooks {
    dsa_pointer (*take_reserved)(size_t bytes) = nullptr;  // a kept zeroed block, or invalid
    bool (*put_back_reserved)(dsa_pointer p, size_t bytes) = nullptr;  // false: not a kept one
    bool (*wait_for_room)() = nullptr;  // after a refusal: true if waiting made a retry worth it
    void (*note_large)(dsa_pointer p, bool allocated) = nullptr;  // a block over 8 kB came or went
};

// Installs the hooks for every DsaPolicy of this backend.
void set_policy_hooks(const PolicyHooks &hooks);

class DsaPolicy {
  public:
    using Pointer = dsa_pointer;
    using Lock = LWLock;
    // dsa.c builds a 64-bit dsa_pointer from a 40-bit offset and a segment number below 1024
    // (DSA_OFFSET_WIDTH, DSA_MAX_SEGMENTS in dsa.c, the same in PostgreSQL 15 to 19), so the top
    // 14 bits are always zero; allocate() checks it.
    static constexpr unsigned kAddressBits = 50;
    static_assert(sizeof(dsa_pointer) == 8, "the DHT's links need a 64-bit dsa_pointer");

    DsaPolicy(dsa_area *area, AllocationCounters *counters, int lock_tranche)
        : area_(area), counters_(counters), lock_tranche_(lock_tranche)
    {
    }

    // Leaves the hooks out of this policy's allocations and frees: they serve the cache's area
    // (its kept blocks, give-backs and large-block counts), not another one.
    void leave_out_hooks() { uses_hooks_ = false; }

    Pointer allocate(size_t bytes) { return allocate_with(bytes, DSA_ALLOC_NO_OOM | DSA_ALLOC_HUGE); }
    Pointer allocate_zeroed(size_t bytes)
    {
        return allocate_with(bytes, DSA_ALLOC_NO_OOM | DSA_ALLOC_HUGE | DSA_ALLOC_ZERO);
    }
    void deallocate(Pointer p, size_t bytes);
    void *address(Pointer p) const;

    void init_lock(Lock *lock) { LWLockInitialize(lock, lock_tranche_); }
    void destroy_lock(Lock *) {}
    // LWLockAcquire raises an error only past MAX_SIMUL_LWLOCKS (200); the core holds at most
    // the 128 partition locks and callers hold none, so lock calls need no guard.
    void lock(Lock *lock, core::LockMode mode)
    {
        LWLockAcquire(lock, mode == core::LockMode::exclusive ? LW_EXCLUSIVE : LW_SHARED);
    }
    bool try_lock_exclusive(Lock *lock) { return LWLockConditionalAcquire(lock, LW_EXCLUSIVE); }
    void unlock(Lock *lock, core::LockMode) { LWLockRelease(lock); }

    dsa_area *area() const { return area_; }
    AllocationCounters &counters() const { return *counters_; }

  private:
    Pointer allocate_with(size_t bytes, int flags);

    dsa_area *area_;
    AllocationCounters *counters_;
    int lock_tranche_;
    bool uses_hooks_ = true;
};


// Arms the failure injection used by tests: the n-th DSA call from now raises an ERROR (0: off).
void set_injected_failure_countdown(int n);

// Sets a function that every allocation through any DsaPolicy of this process runs first
// (nullptr: none). It must not raise PostgreSQL errors: allocations happen under LWLocks.
void set_allocation_hook(void (*hook)());

// Returns dsa_dump()'s report on the area, captured from this backend's stderr.
std::string capture_area_dump(dsa_area *area);

}  // namespace simple_cache::pg
