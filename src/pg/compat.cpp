// Version shims that need more than a header (see compat.hpp).
#include "simple_cache/pg/postgres.hpp"

#if PG_VERSION_NUM >= 170000
extern "C" {
#include "storage/dsm_registry.h"
}
#endif

namespace simple_cache::pg {

namespace {

// Whether the shared structs are in the main segment: set in the postmaster (the library is
// preloaded), inherited by every backend it forks.
bool structs_in_main_segment = false;

#if PG_VERSION_NUM >= 170000
// The size of the named segment being created, for zero_new_segment.
size_t creating_size = 0;

// Zeroes a named DSM segment when it is created (GetNamedDSMSegment's init callback).
#if PG_VERSION_NUM >= 190000
void zero_new_segment(void *ptr, void *)
#else
void zero_new_segment(void *ptr)
#endif
{
    memset(ptr, 0, creating_size);
}

// Finds or creates the named DSM segment called name.
void *find_or_create_named_segment(const char *name, size_t size, bool *found)
{
    creating_size = size;
#if PG_VERSION_NUM >= 190000
    return GetNamedDSMSegment(name, size, zero_new_segment, found, nullptr);
#else
    return GetNamedDSMSegment(name, size, zero_new_segment, found);
#endif
}
#endif

}  // namespace

// See compat.hpp.
void *find_or_create_shared_struct(const char *name, size_t size, bool *found)
{
    if (!IsUnderPostmaster)
        structs_in_main_segment = true;
#if PG_VERSION_NUM >= 170000
    if (!structs_in_main_segment)
        return find_or_create_named_segment(name, size, found);
#endif
    void *at = ShmemInitStruct(name, size, found);
    if (!*found)
        memset(at, 0, size);
    return at;
}

}  // namespace simple_cache::pg
