// An RAII holder of one LWLock: released on every exit, exceptions included.
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// Holds lock in mode from construction until release() or destruction. LWLockAcquire raises
// an error only past MAX_SIMUL_LWLOCKS, which the extension never approaches.
class LockHolder {
  public:
    LockHolder(LWLock *lock, LWLockMode mode) : lock_(lock) { LWLockAcquire(lock_, mode); }
    LockHolder(const LockHolder &) = delete;
    LockHolder &operator=(const LockHolder &) = delete;
    ~LockHolder() { release(); }

    // Releases the lock early; safe to call twice.
    void release() noexcept
    {
        if (lock_ != nullptr) {
            LWLockRelease(lock_);
            lock_ = nullptr;
        }
    }

  private:
    LWLock *lock_;
};

}  // namespace simple_cache::pg
