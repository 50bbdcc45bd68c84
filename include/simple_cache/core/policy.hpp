// The contract between the core data structures and the memory and locks they run on.
//
// A Policy type provides:
//   using Pointer = <unsigned integer>;      a position in the policy's memory; 0 is null
//   static constexpr unsigned kAddressBits;  every non-null Pointer fits in this many low bits
//                                            (the DHT keeps chain summaries in the bits above)
//   using Lock    = <object>;                a reader/writer lock placed inside that memory
//   Pointer allocate(size_t bytes);          null when out of memory; may throw on other failures
//   Pointer allocate_zeroed(size_t bytes);   the same, with the bytes zeroed
//   void    deallocate(Pointer p, size_t bytes);
//   void   *address(Pointer p) const;        this process's address for p; may throw
//   void    init_lock(Lock *lock);
//   void    destroy_lock(Lock *lock);
//   void    lock(Lock *lock, LockMode mode); waits
//   bool    try_lock_exclusive(Lock *lock);  never waits
//   void    unlock(Lock *lock, LockMode mode);
// The memory may be mapped at different addresses in different processes, so structures keep
// Pointers, never addresses.
#pragma once

namespace simple_cache::core {

// How a lock is held: shared by readers, or exclusively by one writer.
enum class LockMode { shared, exclusive };

}  // namespace simple_cache::core
