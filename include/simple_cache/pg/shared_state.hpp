// The extension's shared state: a small struct in the main shared memory segment that holds the
// DSA area's handle and the tranche ids, and the area's control block, which holds the
// allocation counters and the features' root pointers.
//
// A second area, the reserved area, holds what the room kept under the size limit is for (the
// free-space map): made on first use, with that room as its own size limit, so that nothing the
// cache allocates or frees can take or fragment it.
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
inline constexpr uint32_t kSharedLayoutVersion = 10;

// Lives at the start of the area; found through SharedRoot::control.
struct AreaControl {
    uint32_t magic;
    uint32_t layout_version;                   // kSharedLayoutVersion of the creating library
    uint32_t control_size;                     // sizeof(AreaControl) in the creating library
    LWLock init_lock;                          // serialises lazy creation of feature roots
    LWLock limit_lock;                         // serialises changes of the size limit
    std::atomic<uint64_t> size_limit;          // bytes; 0 until set (DSA's own maximum applies)
    std::atomic<uint64_t> reserved_room;       // of it, kept from the cache: the reserved area's limit
    std::atomic<uint64_t> cache_share;         // the rest: the cache's area's limit (with size_limit)
    std::atomic<uint64_t> share_high_water;    // the cache area's highest limit: its segments may reach it
    std::atomic<bool> limit_lowered;           // they may exceed the cache's share now: check bytes in use
    int64_t max_memory_taken;                  // simple_cache.max_memory last taken up (limit_lock)
    int64_t max_memory_read_at;                // PgReloadTime of the process that took it up (limit_lock)
    std::atomic<dsa_pointer> cache_root;       // the cache: its table and counters
    std::atomic<dsa_pointer> fsm_root;         // the free-space map's root
    std::atomic<dsa_pointer> scope_registry;   // the database scopes (database_scope.cpp)
    AllocationCounters counters;               // the cache's area
    std::atomic<dsa_handle> reserved_area;     // DSM_HANDLE_INVALID until made (under init_lock)
    std::atomic<bool> reserved_area_ready;     // made and its room made into segments (init_lock)
    AllocationCounters reserved_counters;      // the reserved area
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
    dsa_area *reserved_area;  // null until attach_reserved_area()
};

// Returns this backend's attachment, creating or attaching the area on first use.
Attachment &attach();

// The reserved area, made (with the reserved room as its size limit) or attached on first use;
// for its users, who may allocate in it once this returned.
dsa_area *attach_reserved_area();

// The reserved area if some process has made it, attached; null if nobody has. Takes no lock.
dsa_area *reserved_area_if_made();

// The size of dsa.c's first segment of an area (DSA_INITIAL_SEGMENT_SIZE, 1 MB in 15 to 19):
// the least the reserved area takes once made (under a 2 MB limit, its room is half the limit).
inline constexpr uint64_t kFirstSegmentBytes = 1024 * 1024;

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
