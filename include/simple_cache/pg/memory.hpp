// Backend-local memory helpers: allocation that is safe while holding LWLocks, and memory
// contexts owned by C++ objects.
#pragma once

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// palloc in the current memory context that reports failure as nullptr instead of raising an
// ERROR, so it may run while a partition lock is held. bytes must be below MaxAllocHugeSize.
inline void *palloc_or_null(size_t bytes)
{
    return MemoryContextAllocExtended(CurrentMemoryContext, bytes, MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE);
}

// The same in a given memory context.
inline void *palloc_in_or_null(MemoryContext context, size_t bytes)
{
    return MemoryContextAllocExtended(context, bytes, MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE);
}

// A memory context for one piece of work, a child of the context current at its creation,
// deleted with the object. name must be a string literal (PostgreSQL keeps the pointer).
class LocalMemoryContext {
  public:
    explicit LocalMemoryContext(const char *name)
    {
        MemoryContext parent = CurrentMemoryContext;
        guard([&] { context_ = AllocSetContextCreateInternal(parent, name, ALLOCSET_DEFAULT_SIZES); });
    }
    LocalMemoryContext(const LocalMemoryContext &) = delete;
    LocalMemoryContext &operator=(const LocalMemoryContext &) = delete;
    ~LocalMemoryContext()
    {
        if (CurrentMemoryContext == context_)
            MemoryContextSwitchTo(context_->parent);
        MemoryContextDelete(context_);
    }

    MemoryContext get() const { return context_; }

    // Frees everything allocated in the context.
    void reset() { MemoryContextReset(context_); }

  private:
    MemoryContext context_ = nullptr;
};

}  // namespace simple_cache::pg
