// The size limit of the shared areas, which the cache and the free-space map both obey. Two things
// set it, and the one set last is in force: simple_cache_set_size_limit() (through the cache,
// which evicts first) and the server setting simple_cache.max_memory.
//
// A change of the setting is taken up once: by the first process that has read the new
// configuration and then allocates in the area (or calls take_up_max_memory_setting(), as the
// cache's writes and the persistence worker do). Readings of the configuration are ordered by
// the time the process made them (PgReloadTime): a process whose reading is not newer than
// the last one taken up never installs its value. A statement that began before a reload
// keeps the old value to its end, so without this order its writes would put the old value
// back in force.
#pragma once

#include <cstdint>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// Defines simple_cache.max_memory (from pg::init()) and makes every allocation in the area
// take up a change of it first (take_up_max_memory_setting).
void define_size_limit_setting();

// simple_cache.max_memory as this process last read it, in bytes.
int64_t max_memory_setting_bytes();

// Takes up this process's reading of simple_cache.max_memory if it is newer than every reading
// taken up before, installing the value as the limit if it differs from the last one taken
// up. Returns whether it installed a limit. Cheap once this process's reading was judged;
// never waits for more than an LWLock held briefly, so it may run where other LWLocks are held.
// Raises no PostgreSQL error but one arriving as a C++ exception (pg::PgError) when attaching
// the reserved area fails. Needs this process attached to the area.
bool take_up_max_memory_setting();

// Room kept under the limit for users whose capacity must never be taken by the cache (the
// free-space map): each registers a function returning the bytes it may need at its configured
// capacity. That room (at most an eighth of the limit; once the reserved area is made, at least
// its first segment, or half a limit under 2 MB) is the size limit of the reserved area, where
// those users allocate (shared_state.hpp), and the cache's area gets the limit less it: the
// cache's share.
using RoomReserver = uint64_t (*)();
void register_room_reserver(RoomReserver reserver);

// Puts in force again the room the reservers ask for now (called once the reserved area is
// made, whose first segment then counts).
void refresh_reserved_room();

// The room for a limit of `bytes` once the reserved area is made: what the reservers ask for,
// at most an eighth of the limit, and at least the area's first segment (half the limit under
// 2 MB, where the first segments of the two areas already reach past it).
uint64_t reserved_area_room(uint64_t bytes);

// The cache's share of a limit of `bytes`, were it installed now: `bytes` less the room.
uint64_t cache_share_of(uint64_t bytes);

// Installs `bytes` as the limit now. Callers take up the setting first, so that a change this
// process has read counts as made before.
void install_size_limit(uint64_t bytes);

}  // namespace simple_cache::pg
