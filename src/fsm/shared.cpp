// Creating, finding and attaching the map's shared state (see shared.hpp).
//
// The map's two LWLock tranche ids live in a small struct of their own in the main shared
// memory segment ("simple_cache_fsm"), made like the area's own struct in src/pg: from the
// segment's spare room on first use, or reserved and filled in by the postmaster through the
// shared memory registry when the library is preloaded, so that every backend then knows the
// tranche names. The struct also
// says whether the map exists, so that dropping a table can skip the map without creating
// the area.
#include "simple_cache/fsm/shared.hpp"

#include <new>

#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"
#include "simple_cache/pg/shmem_registry.hpp"
#include "simple_cache/pg/size_limit.hpp"
#include "simple_cache/pg/tranches.hpp"

namespace simple_cache::fsm {

namespace {

constexpr uint32_t kRootMagic = 0x5cf5a002;  // changes with the layout of FsmRoot and Slot
constexpr const char *kShmemName = "simple_cache_fsm";

// The struct in the main segment.
struct FsmShmem {
    int directory_tranche;  // directory and hash table partition locks
    int relation_tranche;   // relation locks
    pg_atomic_uint32 in_use;  // 1 once the map's root exists
};

FsmShmem *fsm_shmem = nullptr;
Shared attached = {nullptr, nullptr, nullptr, 0};
pg::DsaPolicy *fsm_policy = nullptr;  // set before the root is created or attached

// Makes the struct at `at` ready (zeroed when fresh), gives it tranche ids on first use and
// makes their names known in this process. Plain PostgreSQL code; caller holds
// AddinShmemInitLock.
FsmShmem *init_shmem(void *at, bool found)
{
    auto *m = static_cast<FsmShmem *>(at);
    if (!found) {
        m->directory_tranche = 0;
        m->relation_tranche = 0;
        pg_atomic_init_u32(&m->in_use, 0);
    }
    pg::assign_tranche(&m->directory_tranche, pg::kDirectoryTrancheName);
    pg::assign_tranche(&m->relation_tranche, pg::kRelationTrancheName);
    return m;
}

// Finds (or creates) the struct; caller holds AddinShmemInitLock.
FsmShmem *find_shmem_locked()
{
    bool found;
    void *at = pg::find_or_create_shared_struct(kShmemName, sizeof(FsmShmem), &found);
    return init_shmem(at, found);
}

// This backend's pointer to the struct, found on first use.
FsmShmem *shmem()
{
    if (fsm_shmem == nullptr) {
        fsm_shmem = pg::guard([] {
            LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
            FsmShmem *m = find_shmem_locked();
            LWLockRelease(AddinShmemInitLock);
            return m;
        });
    }
    return fsm_shmem;
}

// Sets up the struct when shared memory is (re)initialised (preloaded case), also after a
// crash restart; this process finds it again on first use.
void attach_shmem(void *at, bool found)
{
    fsm_shmem = nullptr;
    init_shmem(at, found);
}

const pg::ShmemStruct kShmemStruct = {kShmemName, sizeof(FsmShmem), attach_shmem};

// Makes the map's root and hash table; runs once per cluster, under the area's init lock.
dsa_pointer create_root(pg::DsaPolicy &)
{
    pg::DsaPolicy &area_policy = *fsm_policy;  // the map's own, in the reserved area
    dsa_pointer root_ptr = area_policy.allocate_zeroed(sizeof(FsmRoot));
    if (!DsaPointerIsValid(root_ptr))
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the free-space map");
    dsa_pointer table = FsmTable::create(*fsm_policy);
    if (!DsaPointerIsValid(table)) {
        area_policy.deallocate(root_ptr, sizeof(FsmRoot));
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the free-space map");
    }
    void *at = area_policy.address(root_ptr);
    auto *root = new (at) FsmRoot();
    root->magic = kRootMagic;
    LWLockInitialize(&root->directory, fsm_shmem->directory_tranche);
    root->table = table;
    root->slots = InvalidDsaPointer;
    root->max_pages_applied.store(-1, std::memory_order_relaxed);
    root->max_relations_applied.store(-1, std::memory_order_relaxed);
    pg_atomic_write_u32(&fsm_shmem->in_use, 1);
    return root_ptr;
}

// FSM locks held by this backend: the directory, the table's partitions, relations.
unsigned held_locks()
{
    if (attached.root == nullptr)
        return 0;
    unsigned held = LWLockHeldByMe(&attached.root->directory) ? 1 : 0;
    held += attached.table->count_partition_locks([](LWLock *lock) { return LWLockHeldByMe(lock); });
    return held + relation_locks_held;
}

// Attaches this backend: the area, the root (created on first use) and the table.
void attach_map()
{
    FsmShmem *m = shmem();
    pg::Attachment &a = pg::attach();
    if (fsm_policy == nullptr) {
        // The map lives in the reserved area, whose room the cache can neither take nor split.
        dsa_area *area = pg::attach_reserved_area();
        fsm_policy = new pg::DsaPolicy(area, &a.control->reserved_counters, m->directory_tranche);
        fsm_policy->leave_out_hooks();
    }
    dsa_pointer root_ptr = pg::ensure_root(a.control->fsm_root, create_root);
    auto *root = static_cast<FsmRoot *>(fsm_policy->address(root_ptr));
    if (root->magic != kRootMagic)
        throw pg::SqlError(ERRCODE_DATA_CORRUPTED, "simple_cache: the free-space map's root is corrupt");
    auto *table = new FsmTable(*fsm_policy, root->table);
    pg::register_held_lock_counter(held_locks);
    attached = Shared{root, table, fsm_policy, m->relation_tranche};
}

}  // namespace

Shared &shared()
{
    if (attached.root == nullptr)
        attach_map();
    return attached;
}

bool in_use()
{
    return attached.root != nullptr || pg_atomic_read_u32(&shmem()->in_use) != 0;
}

void shared_install()
{
    pg::register_shmem_struct(kShmemStruct);
}

unsigned locks_held()
{
    return held_locks();
}

}  // namespace simple_cache::fsm
