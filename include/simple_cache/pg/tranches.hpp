// Every LWLock tranche of the extension, named in one place. Each tranche id is allotted once
// per cluster (LWLockNewTrancheId, or the named-tranche call on releases that have it, see
// compat.hpp) and kept in a shared struct; every process that uses it makes its name known
// with assign_tranche(), so waits show by name in pg_stat_activity.
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

inline constexpr const char *kAreaTrancheName = "simple_cache";                   // the DSA area's locks
inline constexpr const char *kTableTrancheName = "simple_cache_dht";              // the cache's table
inline constexpr const char *kDirectoryTrancheName = "simple_cache_fsm";          // the map's directory and table
inline constexpr const char *kRelationTrancheName = "simple_cache_fsm_relation";  // the map's relations
inline constexpr const char *kFenceTrancheName = "simple_cache_fences";             // replayed invalidations' fences

// Gives *id a tranche id if it has none yet (0) and makes its name known in this process.
// Plain PostgreSQL code; the caller holds AddinShmemInitLock.
inline void assign_tranche(int *id, const char *name)
{
    if (*id == 0)
        *id = new_tranche_id(name);
    register_tranche_name(*id, name);
}

}  // namespace simple_cache::pg
