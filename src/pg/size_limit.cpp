// The shared area's size limit and the simple_cache.max_memory setting (see size_limit.hpp).
#include "simple_cache/pg/size_limit.hpp"

#include <algorithm>

#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "utils/guc.h"
#include "utils/timestamp.h"
}

namespace simple_cache::pg {

namespace {

int max_memory_kb = 256 * 1024;

// PgReloadTime of the reading this process judged last; DT_NOBEGIN before the first.
TimestampTz judged_reading = DT_NOBEGIN;

// The users of the area that keep room for themselves (see register_room_reserver).
RoomReserver reservers[2];
int reserver_count = 0;

// The room the reservers ask for under a limit of `bytes`, at most an eighth of it (so that a
// small limit still leaves the cache most of the area).
uint64_t room_asked(uint64_t bytes)
{
    uint64_t wanted = 0;
    for (int i = 0; i < reserver_count; ++i)
        wanted += reservers[i]();
    return std::min(wanted, bytes / 8);
}

// The room to keep under a limit of `bytes`: as asked, or the reserved area's room once it is
// made.
uint64_t room_to_reserve(const AreaControl &control, uint64_t bytes)
{
    if (control.reserved_area.load(std::memory_order_acquire) != DSM_HANDLE_INVALID)
        return reserved_area_room(bytes);
    return room_asked(bytes);
}

// Holds the area's limit lock for a scope.
class LimitLock {
  public:
    explicit LimitLock(AreaControl &control) : lock_(&control.limit_lock) { LWLockAcquire(lock_, LW_EXCLUSIVE); }
    ~LimitLock() { LWLockRelease(lock_); }
    LimitLock(const LimitLock &) = delete;
    LimitLock &operator=(const LimitLock &) = delete;

  private:
    LWLock *lock_;
};

// Whether a reading of the configuration made at `mine` comes after the one taken up, made at
// `taken`. A `taken` in the future means the system clock was set back since: readings can no
// longer be told apart by time, so a different one is accepted rather than none ever again.
bool newer_reading(TimestampTz mine, TimestampTz taken)
{
    if (mine > taken)
        return true;
    return mine != taken && taken > GetCurrentTimestamp();
}

// Puts `bytes` in force; the caller holds the limit lock. The reserved room is the reserved
// area's limit; the cache's area gets the rest (its share). Segments made under a larger share
// stay, so while the share is below the largest one installed, writes also check the bytes in
// use against it (see the cache's make_room.cpp). The reserved area's segments stay too when
// its room shrinks: it makes no new one while they exceed the room.
void install_locked(Attachment &attachment, uint64_t bytes)
{
    AreaControl &control = *attachment.control;
    dsa_area *area = attachment.area;
    // Attached before the lock in the usual case (attach_reserved_area_before_locking); here
    // only when another process made it in between.
    dsa_area *reserved_area = reserved_area_if_made();
    uint64_t reserved = room_to_reserve(control, bytes);
    uint64_t share = bytes - reserved;
    guard([=] {
        dsa_set_size_limit(area, static_cast<size_t>(share));
        if (reserved_area != nullptr)
            dsa_set_size_limit(reserved_area, static_cast<size_t>(reserved));
    });
    // The share first: a reader that sees the new limit also sees its share (or a newer one).
    control.reserved_room.store(reserved, std::memory_order_relaxed);
    control.cache_share.store(share, std::memory_order_release);
    control.size_limit.store(bytes, std::memory_order_release);
    uint64_t high_water = control.share_high_water.load(std::memory_order_relaxed);
    if (share > high_water)
        control.share_high_water.store(share, std::memory_order_relaxed);
    control.limit_lowered.store(share < high_water, std::memory_order_relaxed);
}

// Attaches the reserved area, if made, before the limit lock is taken: attaching can raise an
// error, and is better done holding no lock of ours.
void attach_reserved_area_before_locking()
{
    reserved_area_if_made();
}

// Takes up the setting before an allocation, so that the cache and the free-space map both
// obey it whichever of them allocates first.
void take_up_before_allocating()
{
    take_up_max_memory_setting();
}

}  // namespace

void define_size_limit_setting()
{
    DefineCustomIntVariable("simple_cache.max_memory",
                            "Cap on the shared area's size.",
                            "Applies to the whole server; change it with ALTER SYSTEM and a reload.",
                            &max_memory_kb, 256 * 1024, 1024, INT_MAX, PGC_SIGHUP, GUC_UNIT_KB,
                            nullptr, nullptr, nullptr);
    set_allocation_hook(take_up_before_allocating);
}

int64_t max_memory_setting_bytes()
{
    return static_cast<int64_t>(max_memory_kb) * 1024;
}

bool take_up_max_memory_setting()
{
    TimestampTz read_at = PgReloadTime;
    if (read_at == judged_reading)
        return false;
    Attachment &attachment = attach();
    AreaControl &control = *attachment.control;
    int64_t wanted = max_memory_setting_bytes();
    bool installed = false;
    attach_reserved_area_before_locking();
    {
        LimitLock lock(control);
        if (newer_reading(read_at, control.max_memory_read_at)) {
            uint64_t in_force = control.size_limit.load(std::memory_order_relaxed);
            bool room_changed = in_force != 0 && control.reserved_room.load(std::memory_order_relaxed) !=
                                                     room_to_reserve(control, in_force);
            if (room_changed && control.max_memory_taken == wanted)
                install_locked(attachment, in_force);  // a reserver's settings changed with the reload
            if (control.max_memory_taken != wanted) {
                install_locked(attachment, static_cast<uint64_t>(wanted));
                control.max_memory_taken = wanted;
                installed = true;
            }
            control.max_memory_read_at = read_at;
        }
    }
    judged_reading = read_at;
    return installed;
}

uint64_t reserved_area_room(uint64_t bytes)
{
    return std::max(room_asked(bytes), std::min(kFirstSegmentBytes, bytes / 2));
}

void register_room_reserver(RoomReserver reserver)
{
    for (int i = 0; i < reserver_count; ++i)
        if (reservers[i] == reserver)
            return;
    if (reserver_count < static_cast<int>(sizeof reservers / sizeof reservers[0]))
        reservers[reserver_count++] = reserver;
}

void refresh_reserved_room()
{
    Attachment &attachment = attach();
    attach_reserved_area_before_locking();
    LimitLock lock(*attachment.control);
    uint64_t in_force = attachment.control->size_limit.load(std::memory_order_relaxed);
    if (in_force != 0)
        install_locked(attachment, in_force);
}

uint64_t cache_share_of(uint64_t bytes)
{
    Attachment &attachment = attach();
    attach_reserved_area_before_locking();
    LimitLock lock(*attachment.control);
    return bytes - room_to_reserve(*attachment.control, bytes);
}

void install_size_limit(uint64_t bytes)
{
    Attachment &attachment = attach();
    attach_reserved_area_before_locking();
    LimitLock lock(*attachment.control);
    install_locked(attachment, bytes);
}

}  // namespace simple_cache::pg
