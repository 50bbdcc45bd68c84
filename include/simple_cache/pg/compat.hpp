// Version shims: every difference between the PostgreSQL releases we build against (15 to 19)
// lives here and nowhere else.
#pragma once

#if PG_VERSION_NUM < 150000
#error "simple_cache needs PostgreSQL 15 or later"
#endif

extern "C" {
#include "utils/guc.h"
}

// Headers that PostgreSQL 15 and 16 pull in through the ones postgres.hpp names, and 17 and later
// no longer do: the overflow-checked arithmetic (pg_add_s64_overflow) and the file layer
// (AtEOXact_Files, durable_rename).
extern "C" {
#include "common/int.h"
#include "storage/fd.h"
#include "utils/inval.h"
}
#if PG_VERSION_NUM >= 170000
extern "C" {
#include "utils/acl.h"
}
#endif

namespace simple_cache::pg {

// The type of a catalog cache's id in a syscache invalidation callback: an enum from 19 on, an
// int before.
#if PG_VERSION_NUM >= 190000
using syscache_id = SysCacheIdentifier;
#else
using syscache_id = int;
#endif

// Finds, or creates zeroed, the small shared struct called name. When the library was loaded at
// server start (and before 17 always) it lives in the main shared memory segment
// (ShmemInitStruct: reserved by the request hook, or the segment's spare room). From 17 on, a
// library loaded later by a backend gets a named DSM segment instead (GetNamedDSMSegment), the
// mechanism made for that. The caller holds AddinShmemInitLock and sets the struct up when
// *found is false. (src/pg/compat.cpp)
void *find_or_create_shared_struct(const char *name, size_t size, bool *found);

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

// Whether user holds the MAINTAIN privilege on the relation, which lets a role VACUUM it from
// PostgreSQL 17 on (granted on the table, or through the pg_maintain role; owners hold it).
// Releases before 17 have no such privilege: false. A relation dropped meanwhile: false.
inline bool has_maintain_privilege(Oid relid, Oid user)
{
#if PG_VERSION_NUM >= 170000
    bool missing = false;
    return pg_class_aclcheck_ext(relid, user, ACL_MAINTAIN, &missing) == ACLCHECK_OK && !missing;
#else
    (void) relid;
    (void) user;
    return false;
#endif
}

// Whether the running server's dsa.c moves a segment to a higher bin when frees enlarge its
// largest free run (PostgreSQL commit 03f80daac8, "Re-bin segment when memory pages are freed":
// in 15.4 and later, 16beta3 and every 16 release). Without it, a segment that was full when the
// allocator last looked at it is never looked at again once its blocks are freed: its pages are
// neither reused nor given back. Read once per process from the server's version (the module
// may run on another minor release than its headers').
inline bool dsa_rebins_freed_segments()
{
    static int known = -1;
    if (known < 0) {
        const char *num = GetConfigOption("server_version_num", false, false);
        const char *name = GetConfigOption("server_version", false, false);
        long version = num != nullptr ? std::strtol(num, nullptr, 10) : PG_VERSION_NUM;
        bool lacks_fix = (version >= 150000 && version < 150004) ||
                         (version == 160000 && name != nullptr &&
                          (std::strncmp(name, "16beta1", 7) == 0 || std::strncmp(name, "16beta2", 7) == 0));
        known = lacks_fix ? 0 : 1;
    }
    return known == 1;
}

}  // namespace simple_cache::pg
