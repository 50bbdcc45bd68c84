// The one shared memory registry (see pg/shmem_registry.hpp).
#include "simple_cache/pg/shmem_registry.hpp"

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

namespace {

constexpr int kMaxStructs = 8;

const ShmemStruct *structs[kMaxStructs] = {};
int struct_count = 0;

shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// Reserves room for every registered struct.
void request_shmem()
{
    if (previous_request_hook != nullptr)
        previous_request_hook();
    for (int i = 0; i < struct_count; ++i)
        RequestAddinShmemSpace(MAXALIGN(structs[i]->size));
}

// Creates or finds every registered struct when shared memory is (re)initialised, also after
// a crash restart.
void startup_shmem()
{
    if (previous_startup_hook != nullptr)
        previous_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    for (int i = 0; i < struct_count; ++i) {
        bool found;
        void *at = find_or_create_shared_struct(structs[i]->name, structs[i]->size, &found);  // main segment here
        structs[i]->attach(at, found);
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void register_shmem_struct(const ShmemStruct &shmem)
{
    if (struct_count == kMaxStructs)
        elog(ERROR, "simple_cache: too many shared memory structs registered");
    structs[struct_count++] = &shmem;
}

void install_shmem_registry()
{
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    previous_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

}  // namespace simple_cache::pg
