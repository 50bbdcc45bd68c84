// RAII holders of the map's directory and relation locks. They release on every exit,
// exceptions included, and count what this backend holds so that the error boundary can prove
// no lock outlives an error (see pg::register_held_lock_counter).
#pragma once

#include <optional>

#include "simple_cache/fsm/shared.hpp"
#include "simple_cache/pg/lock_holder.hpp"
#include "simple_cache/pg/startup_load.hpp"

namespace simple_cache::fsm {

// Relation locks this backend holds now.
inline unsigned relation_locks_held = 0;

// The directory lock, held from construction until release() or destruction.
class DirectoryLock : public pg::LockHolder {
  public:
    DirectoryLock(Shared &s, LWLockMode mode) : pg::LockHolder(&s.root->directory, mode) {}
};

// One relation's lock; starts empty, acquire() takes it.
class RelationLock {
  public:
    RelationLock() = default;
    RelationLock(RelationEntry &entry, LWLockMode mode) { acquire(entry, mode); }
    RelationLock(const RelationLock &) = delete;
    RelationLock &operator=(const RelationLock &) = delete;
    ~RelationLock() { release(); }

    // Waits for entry's lock in the given mode (the holder must hold no relation lock yet).
    void acquire(RelationEntry &entry, LWLockMode mode)
    {
        LWLockAcquire(&entry.lock, mode);
        lock_ = &entry.lock;
        ++relation_locks_held;
    }

    // Releases the lock; safe to call twice.
    void release() noexcept
    {
        if (lock_ != nullptr) {
            LWLockRelease(lock_);
            lock_ = nullptr;
            --relation_locks_held;
        }
    }

  private:
    LWLock *lock_ = nullptr;
};

// Keeps the start-up load of the saved map from undoing a change made without the directory
// lock (adding a free page, truncating). While the load is pending, it marks the relation and
// then holds the directory lock shared until destroyed: the load checks marks under the
// directory lock held exclusively, so either it restored the relation before (and the change
// applies to the loaded relation) or it sees the mark and skips the relation. Costs one shared
// flag read once the load has finished. Take it before any relation lock.
class StartupLoadFence {
  public:
    StartupLoadFence(Shared &s, const FsmKey &key)
    {
        if (!pg::startup_load_pending())
            return;
        pg::note_write_during_startup_load(key_view(key));
        directory_.emplace(s, LW_SHARED);
    }

  private:
    std::optional<DirectoryLock> directory_;
};

// Finds relation key and returns its entry locked in mode (through lock), or nullptr when the
// map does not track it. The partition lock is held only until the relation lock is taken.
inline RelationEntry *open_relation(Shared &s, const FsmKey &key, LWLockMode mode, RelationLock &lock)
{
    FsmTable::Ref ref = s.table->find(key_view(key), core::LockMode::shared);
    if (!ref)
        return nullptr;
    lock.acquire(ref.entry(), mode);
    return &ref.entry();
}

}  // namespace simple_cache::fsm
