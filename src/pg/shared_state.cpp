// Creating, finding and attaching the extension's shared state (see shared_state.hpp).
#include "simple_cache/pg/shared_state.hpp"

#include <algorithm>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/lock_holder.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/shmem_registry.hpp"
#include "simple_cache/pg/size_limit.hpp"
#include "simple_cache/pg/tranches.hpp"

namespace simple_cache::pg {

namespace {

constexpr uint32_t kControlMagic = 0x5ca4e001;
constexpr const char *kShmemName = "simple_cache";

// The struct in the main shared memory segment.
struct SharedRoot {
    dsa_handle area_handle;  // DSM_HANDLE_INVALID until the area exists
    dsa_pointer control;
    int area_tranche;
    int table_tranche;
};

// The layout version this library expects; a test may pretend another (0: the real one).
int layout_version_override = 0;

// The layout version the area must have.
uint32_t expected_layout_version()
{
    return layout_version_override != 0 ? static_cast<uint32_t>(layout_version_override) : kSharedLayoutVersion;
}

// This backend's attachment; area is null until attach() succeeds.
Attachment attachment = {nullptr, nullptr, nullptr, 0, 0, nullptr};

// Zeroes a fresh struct. Caller holds AddinShmemInitLock.
void init_root(SharedRoot *root, bool found)
{
    if (!found) {
        root->area_handle = DSM_HANDLE_INVALID;
        root->control = InvalidDsaPointer;
        root->area_tranche = 0;
        root->table_tranche = 0;
    }
}

// Finds (or creates, zeroed) the struct: in the main segment, or a named segment (compat.hpp).
// Caller holds AddinShmemInitLock.
SharedRoot *find_root()
{
    bool found;
    auto *root = static_cast<SharedRoot *>(find_or_create_shared_struct(kShmemName, sizeof(SharedRoot), &found));
    init_root(root, found);
    return root;
}

// Gives root its tranche ids on first use and makes their names known in this process. In
// the postmaster (preloaded case) this happens before any backend forks, so every backend
// inherits the names and shows waits by name even if it never loads the library.
void assign_tranches(SharedRoot *root)
{
    assign_tranche(&root->area_tranche, kAreaTrancheName);
    assign_tranche(&root->table_tranche, kTableTrancheName);
}

// Creates and pins the area and its control block, and records them in root. Plain
// PostgreSQL code, run under guard() by the caller.
void create_area(SharedRoot *root)
{
    assign_tranches(root);

    dsa_area *area = dsa_create(root->area_tranche);
    dsa_pin(area);
    dsa_pin_mapping(area);
    dsa_pointer control_ptr = dsa_allocate_extended(area, sizeof(AreaControl), DSA_ALLOC_ZERO);
    auto *control = static_cast<AreaControl *>(dsa_get_address(area, control_ptr));
    control->magic = kControlMagic;
    control->layout_version = kSharedLayoutVersion;
    control->control_size = sizeof(AreaControl);
    LWLockInitialize(&control->init_lock, root->area_tranche);
    LWLockInitialize(&control->limit_lock, root->area_tranche);
    control->reserved_area = DSM_HANDLE_INVALID;
    control->reserve.create(area);  // now, so that the blocks lie in the first segment

    root->control = control_ptr;
    root->area_handle = dsa_get_handle(area);
    attachment.control = control;
    attachment.area = area;  // last: a non-null area means the attachment is complete
}

// Attaches to the area recorded in root. Plain PostgreSQL code, run under guard().
void attach_area(SharedRoot *root)
{
    assign_tranches(root);
    dsa_area *area = dsa_attach(root->area_handle);
    dsa_pin_mapping(area);
    attachment.control = static_cast<AreaControl *>(dsa_get_address(area, root->control));
    attachment.area = area;
}

// A kept zeroed block for a small bucket array (PolicyHooks).
dsa_pointer take_reserved(size_t bytes)
{
    return attachment.control->reserve.take(attachment.area, bytes);
}

// Puts a kept block back (PolicyHooks).
bool put_back_reserved(dsa_pointer p, size_t bytes)
{
    return attachment.control->reserve.put_back(p, bytes);
}

// Sets up the struct at (re)initialisation of shared memory (preloaded case), also after a
// crash restart, when the old area is gone with the old DSM segments.
void attach_root(void *at, bool found)
{
    auto *root = static_cast<SharedRoot *>(at);
    init_root(root, found);
    assign_tranches(root);
}

const ShmemStruct kRootStruct = {kShmemName, sizeof(SharedRoot), attach_root};

}  // namespace

// See shared_state.hpp. The area and the backend-local objects live until backend exit, so
// they are made in TopMemoryContext; the policy object is allocated once and never freed.
Attachment &attach()
{
    if (attachment.area != nullptr)
        return attachment;
    guard([] {
        MemoryContext old_context = MemoryContextSwitchTo(TopMemoryContext);
        LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
        SharedRoot *root = find_root();
        if (root->area_handle == DSM_HANDLE_INVALID)
            create_area(root);
        else
            attach_area(root);
        attachment.area_tranche = root->area_tranche;
        attachment.table_tranche = root->table_tranche;
        LWLockRelease(AddinShmemInitLock);
        MemoryContextSwitchTo(old_context);
    });
    const AreaControl *control = attachment.control;
    uint32_t expected = expected_layout_version();
    if (control->magic != kControlMagic || control->layout_version != expected ||
        control->control_size != sizeof(AreaControl)) {
        uint32_t found = control->layout_version;
        // Detach again, so that every later call attaches afresh and reports the same.
        dsa_area *area = attachment.area;
        attachment.area = nullptr;
        attachment.control = nullptr;
        guard([=] { dsa_detach(area); });
        throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                       "simple_cache: the shared area was made by a different version of the library",
                       "Its layout version is " + std::to_string(found) + "; this library's is " +
                           std::to_string(expected) + ".",
                       "Restart the server after installing a new version of simple_cache.");
    }
    static DsaPolicy *policy = nullptr;
    if (policy == nullptr) {
        PolicyHooks hooks;
        hooks.take_reserved = take_reserved;
        hooks.put_back_reserved = put_back_reserved;
        hooks.wait_for_room = wait_for_give_back;
        hooks.note_large = note_large_block;
        set_policy_hooks(hooks);
        policy = new DsaPolicy(attachment.area, &attachment.control->counters, attachment.table_tranche);
    }
    attachment.policy = policy;
    return attachment;
}

namespace {

// Makes all of a new reserved area's room into segments now: blocks of half of the room past
// the first segment are allocated while they fit, then blocks half as large each time one is
// refused, until they would be under a superblock; then all are freed (dsa.c keeps the segment
// of a freed large block, each one run of free pages). A block larger than every free run gets
// a segment of its own, so each half of the room past the first segment is one run, able to
// hold the largest block the room is counted for (a relation's page storage, see the map's
// room_for_the_map), or lies in the first segment's free pages if it fits there. Left to dsa.c,
// the segments would come later in its growing sizes (1, 1, 2, 2, 4 MB ...) cut to what the
// limit leaves, and the last one could be too small. Plain PostgreSQL code. An ERROR here (the
// system refusing shared memory) leaves the blocks taken so far allocated: the room is smaller
// by them until restart.
void make_segments_ahead(dsa_area *area, uint64_t room)
{
    constexpr int kMostBlocks = 64;
    dsa_pointer taken[kMostBlocks];
    int count = 0;
    uint64_t block = (room > kFirstSegmentBytes ? room - kFirstSegmentBytes : room) / 2;
    while (block >= core::kSuperblockBytes && count < kMostBlocks) {
        dsa_pointer p = dsa_allocate_extended(area, static_cast<size_t>(block), DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
        if (DsaPointerIsValid(p))
            taken[count++] = p;
        else
            block /= 2;
    }
    for (int i = 0; i < count; ++i)
        dsa_free(area, taken[i]);
}

}  // namespace

// Attaches the reserved area if its handle is recorded. No lock: the handle is written once,
// before any pointer into the area is published. The dsa_area lives until backend exit.
dsa_area *reserved_area_if_made()
{
    Attachment &a = attach();
    if (a.reserved_area != nullptr)
        return a.reserved_area;
    dsa_handle handle = a.control->reserved_area.load(std::memory_order_acquire);
    if (handle == DSM_HANDLE_INVALID)
        return nullptr;
    a.reserved_area = guard([=] {
        MemoryContext old_context = MemoryContextSwitchTo(TopMemoryContext);
        dsa_area *area = dsa_attach(handle);
        dsa_pin_mapping(area);
        MemoryContextSwitchTo(old_context);
        return area;
    });
    return a.reserved_area;
}

// Makes the reserved area under the area's init lock unless some process has, with its room
// as its size limit and made into segments (when a limit is in force), then installs the limit
// again, so that the cache's share counts this area's first segment. Users allocate in it only
// once it is ready: the handle is published first, so that an ERROR while the segments are
// made leaves an area the next caller finds (and takes as it is) rather than one nobody can.
dsa_area *attach_reserved_area()
{
    Attachment &a = attach();
    AreaControl *control = a.control;
    if (control->reserved_area_ready.load(std::memory_order_acquire))
        return reserved_area_if_made();
    take_up_max_memory_setting();  // so that the room is known when the segments are made
    {
        LockHolder init(&control->init_lock, LW_EXCLUSIVE);
        if (reserved_area_if_made() == nullptr) {
            int tranche = a.area_tranche;
            a.reserved_area = guard([=] {
                MemoryContext old_context = MemoryContextSwitchTo(TopMemoryContext);
                dsa_area *area = dsa_create(tranche);
                dsa_pin(area);
                dsa_pin_mapping(area);
                control->reserved_area.store(dsa_get_handle(area), std::memory_order_release);
                MemoryContextSwitchTo(old_context);
                return area;
            });
            // Where dsa.c does not re-bin a segment when frees enlarge its free run, the freed
            // blocks' segments would never be looked at again: dsa.c makes them as needed.
            uint64_t limit = control->size_limit.load(std::memory_order_relaxed);
            if (limit != 0 && dsa_rebins_freed_segments()) {
                dsa_area *area = a.reserved_area;
                uint64_t room = reserved_area_room(limit);
                guard([=] {
                    dsa_set_size_limit(area, static_cast<size_t>(room));
                    make_segments_ahead(area, room);
                });
            }
        }
        control->reserved_area_ready.store(true, std::memory_order_release);
    }
    refresh_reserved_room();
    return a.reserved_area;
}

bool area_exists()
{
    if (attachment.area != nullptr)
        return true;
    return guard([] {
        LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
        bool exists = find_root()->area_handle != DSM_HANDLE_INVALID;
        LWLockRelease(AddinShmemInitLock);
        return exists;
    });
}

void set_layout_version_override(int version)
{
    layout_version_override = version;
}

void shared_state_install()
{
    register_shmem_struct(kRootStruct);
}

dsa_pointer ensure_root(std::atomic<dsa_pointer> &slot, dsa_pointer (*create)(DsaPolicy &))
{
    dsa_pointer existing = slot.load(std::memory_order_acquire);
    if (DsaPointerIsValid(existing))
        return existing;
    Attachment &a = attach();
    LockHolder init(&a.control->init_lock, LW_EXCLUSIVE);
    existing = slot.load(std::memory_order_acquire);
    if (!DsaPointerIsValid(existing)) {
        existing = create(*a.policy);
        slot.store(existing, std::memory_order_release);
    }
    return existing;
}

}  // namespace simple_cache::pg
