// The extension's shared state: a small struct in the main shared memory segment that holds the
// DSA area's handle and the tranche ids, and the area's control block, which holds the
// allocation counters and the features' root pointers.
//
// Without shared_preload_libraries the struct is carved from the main segment's spare room on
// first use; when preloaded it is reserved through the shared memory registry
// (pg/shmem_registry.hpp). The first backend that needs
// the area creates and pins it; later backends attach.
#pragma once

#include <atomic>

#include "simple_cache/pg/block_reserve.hpp"
#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/tranches.hpp"

namespace simple_cache::pg {

// The layout of the structures in the shared area. Bump it whenever any of them changes, so
// that a backend running a newer library never reads an area made by an older one (after a
// package upgrade without a server restart) and stops with an error instead.
inline constexpr uint32_t kSharedLayoutVersion = 9;

// Lives at the start of the area; found through SharedRoot::control.
struct AreaControl {
    uint32_t magic;
    uint32_t layout_version;                   // kSharedLayoutVersion of the creating library
    uint32_t control_size;                     // sizeof(AreaControl) in the creating library
    LWLock init_lock;                          // serialises lazy creation of feature roots
    LWLock limit_lock;                         // serialises changes of the size limit
    std::atomic<uint64_t> size_limit;          // bytes; 0 until set (DSA's own maximum applies)
    std::atomic<uint64_t> reserved_room;       // of it, kept from the cache (size_limit.hpp)
    std::atomic<uint64_t> limit_high_water;    // the highest limit installed: segments may reach it
    std::atomic<bool> limit_lowered;           // segments may exceed the limit: check bytes in use
    int64_t max_memory_taken;                  // simple_cache.max_memory last taken up (limit_lock)
    int64_t max_memory_read_at;                // PgReloadTime of the process that took it up (limit_lock)
    std::atomic<dsa_pointer> cache_root;       // the cache: its table and counters
    std::atomic<dsa_pointer> fsm_root;         // the free-space map's root
    std::atomic<dsa_pointer> scope_registry;   // the database scopes (database_scope.cpp)
    AllocationCounters counters;
    BlockReserve reserve;                      // blocks for small bucket arrays, made first
    LargeBlockCounts large_blocks;             // large blocks per segment; give-back due
};

// This backend's view of the shared area.
struct Attachment {
    dsa_area *area;
    AreaControl *control;
    DsaPolicy *policy;
    int area_tranche;
    int table_tranche;
};

// Returns this backend's attachment, creating or attaching the area on first use.
Attachment &attach();

// Whether some process has created the area already (never creates it).
bool area_exists();

// Testing aid (simple_cache.debug_layout_version): makes this backend expect another layout
// version (0: the real one), so that a test can see how a mismatch is refused.
void set_layout_version_override(int version);

// Registers the shared struct with the shared memory registry (from _PG_init when preloaded).
void shared_state_install();

// Runs create() once per cluster for the feature root stored in slot, under the area's init
// lock, and returns the stored pointer. create() must return a valid pointer or throw.
dsa_pointer ensure_root(std::atomic<dsa_pointer> &slot, dsa_pointer (*create)(DsaPolicy &));

}  // namespace simple_cache::pg
