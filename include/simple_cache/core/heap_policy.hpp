// A Policy over the process heap and std::shared_mutex: runs the core structures with real
// threads in unit tests and fuzzers. It counts live allocations and bytes, and can be told to
// fail allocations, so tests can prove nothing leaks and that failures change nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <shared_mutex>

#include "simple_cache/core/policy.hpp"

namespace simple_cache::core {

class HeapPolicy {
  public:
    using Pointer = uint64_t;
    using Lock = std::shared_mutex;
    // x86-64 and AArch64 user addresses fit in 48 bits (47 on Linux without 5-level paging
    // hints); allocate() refuses a block above that rather than lose its high bits.
    static constexpr unsigned kAddressBits = 48;

    // Allocates bytes, or returns null when the byte limit or an injected failure says so.
    Pointer allocate(size_t bytes) { return allocate_impl(bytes, false); }

    // Allocates zeroed bytes, with the same failure rules as allocate().
    Pointer allocate_zeroed(size_t bytes) { return allocate_impl(bytes, true); }

    // Frees a block and updates the live counts.
    void deallocate(Pointer p, size_t bytes)
    {
        std::free(reinterpret_cast<void *>(p));
        live_blocks_.fetch_sub(1, std::memory_order_relaxed);
        live_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    }

    // Heap pointers are addresses already.
    void *address(Pointer p) const { return reinterpret_cast<void *>(p); }

    void init_lock(Lock *lock) { new (lock) std::shared_mutex(); }
    void destroy_lock(Lock *lock) { lock->~shared_mutex(); }

    // Takes a lock in the given mode, waiting as needed.
    void lock(Lock *lock, LockMode mode)
    {
        if (mode == LockMode::exclusive)
            lock->lock();
        else
            lock->lock_shared();
    }

    bool try_lock_exclusive(Lock *lock) { return lock->try_lock(); }

    void unlock(Lock *lock, LockMode mode)
    {
        if (mode == LockMode::exclusive)
            lock->unlock();
        else
            lock->unlock_shared();
    }

    int64_t live_blocks() const { return live_blocks_.load(std::memory_order_relaxed); }
    int64_t live_bytes() const { return live_bytes_.load(std::memory_order_relaxed); }

    // Caps live bytes: allocations that would pass the cap fail (0 = no cap).
    void set_byte_limit(int64_t limit) { byte_limit_.store(limit, std::memory_order_relaxed); }

    // Makes the next n allocations fail.
    void fail_next_allocations(int64_t n) { failures_left_.store(n, std::memory_order_relaxed); }

  private:
    // Shared body of allocate() and allocate_zeroed().
    Pointer allocate_impl(size_t bytes, bool zeroed)
    {
        if (failures_left_.load(std::memory_order_relaxed) > 0 &&
            failures_left_.fetch_sub(1, std::memory_order_relaxed) > 0)
            return 0;
        int64_t limit = byte_limit_.load(std::memory_order_relaxed);
        int64_t after = live_bytes_.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) +
                        static_cast<int64_t>(bytes);
        if (limit > 0 && after > limit) {
            live_bytes_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
            return 0;
        }
        void *p = zeroed ? std::calloc(1, bytes) : std::malloc(bytes);
        if (p != nullptr && (reinterpret_cast<uint64_t>(p) >> kAddressBits) != 0) {
            std::free(p);
            p = nullptr;
        }
        if (p == nullptr) {
            live_bytes_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
            return 0;
        }
        live_blocks_.fetch_add(1, std::memory_order_relaxed);
        return reinterpret_cast<Pointer>(p);
    }

    std::atomic<int64_t> live_blocks_{0};
    std::atomic<int64_t> live_bytes_{0};
    std::atomic<int64_t> byte_limit_{0};
    std::atomic<int64_t> failures_left_{0};
};

}  // namespace simple_cache::core
