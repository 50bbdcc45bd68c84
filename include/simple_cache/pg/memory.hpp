// Backend-local memory helpers that are safe to call while holding LWLocks.
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// palloc in the current memory context that reports failure as nullptr instead of raising an
// ERROR, so it may run while a partition lock is held. bytes must be below MaxAllocHugeSize.
inline void *palloc_or_null(size_t bytes)
{
    return MemoryContextAllocExtended(CurrentMemoryContext, bytes, MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE);
}

}  // namespace simple_cache::pg
