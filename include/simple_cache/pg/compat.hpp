// Version shims: every difference between the PostgreSQL releases we build against (15 to 19)
// lives here and nowhere else.
#pragma once

#if PG_VERSION_NUM < 150000
#error "simple_cache needs PostgreSQL 15 or later"
#endif

// Headers that PostgreSQL 15 and 16 pull in through the ones postgres.hpp names, and 17 and later
// no longer do: the overflow-checked arithmetic (pg_add_s64_overflow) and the file layer
// (AtEOXact_Files, durable_rename).
extern "C" {
#include "common/int.h"
#include "storage/fd.h"
#include "utils/inval.h"
}

namespace simple_cache::pg {

// The type of a catalog cache's id in a syscache invalidation callback: an enum from 19 on, an
// int before.
#if PG_VERSION_NUM >= 190000
using syscache_id = SysCacheIdentifier;
#else
using syscache_id = int;
#endif

// Returns a fresh LWLock tranche id. PostgreSQL 19 names the tranche at creation time and
// shares the name with every backend; older releases register the name per backend instead.
inline int new_tranche_id(const char *name)
{
#if PG_VERSION_NUM >= 190000
    return LWLockNewTrancheId(name);
#else
    (void) name;
    return LWLockNewTrancheId();
#endif
}

// Makes a tranche's name known in this backend, so waits show by name in pg_stat_activity.
inline void register_tranche_name(int tranche_id, const char *name)
{
#if PG_VERSION_NUM >= 190000
    (void) tranche_id;
    (void) name;
#else
    LWLockRegisterTranche(tranche_id, name);
#endif
}

}  // namespace simple_cache::pg
