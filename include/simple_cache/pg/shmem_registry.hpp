// The one shared memory registry: the only place that hooks PostgreSQL's shmem_request_hook and
// shmem_startup_hook. Each part of the extension that keeps a struct in the main shared memory
// segment (the area's root, the free-space map's tranches, the start-up load's marks, the saved
// files' state) registers it here from _PG_init; when the library is preloaded, the registry
// reserves room for every struct and creates or finds each one whenever shared memory is set
// up (server start, crash restart), under AddinShmemInitLock. Tranche names are in
// pg/tranches.hpp.
#pragma once

#include <cstddef>

namespace simple_cache::pg {

// A struct in the main shared memory segment.
struct ShmemStruct {
    const char *name;  // its ShmemInitStruct name
    size_t size;
    // Makes the struct ready at `at` (a fresh one when found is false) and records where it is
    // in this process. Plain PostgreSQL code, called under AddinShmemInitLock; also used by a
    // part's own lazy lookup when the library is not preloaded.
    void (*attach)(void *at, bool found);
};

// Registers a struct; called from _PG_init. Only reserved and set up when preloaded.
void register_shmem_struct(const ShmemStruct &shmem);

// Installs the registry's two hooks; called once from _PG_init while
// shared_preload_libraries is processed.
void install_shmem_registry();

}  // namespace simple_cache::pg
