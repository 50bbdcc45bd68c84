// Version shims: every difference between the PostgreSQL releases we build against (15 to 19)
// lives here and nowhere else.
#pragma once

#if PG_VERSION_NUM < 150000
#error "simple_cache needs PostgreSQL 15 or later"
#endif

namespace simple_cache::pg {

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
