// The map's settings and its start-up from _PG_init.
//
// simple_cache.fsm_max_pages and simple_cache.fsm_max_relations are server-wide (PGC_SIGHUP):
// the map is one budget for the whole server, so per-session values would make no sense.
// They are applied lazily: the next operation that takes the directory lock (or a report)
// notices that its backend's value differs from the one in force and applies it.
//
// simple_cache.fsm_max_relations_per_database and simple_cache.fsm_max_pages_per_database
// are superuser settings (PGC_SUSET), meant for ALTER DATABASE ... SET (or the server's
// configuration, as every database's default): an ordinary role can change neither, so a
// database's users cannot lift the limits an administrator gave it. Each database's sessions
// apply their values to their own database (database_limits.hpp).
#include <algorithm>

#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/shared.hpp"
#include "simple_cache/pg/shared_state.hpp"
#include "simple_cache/pg/size_limit.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace simple_cache::fsm {

namespace {

int max_pages = 200000;
int max_relations = 1000;
int max_relations_per_database = 0;
int max_pages_per_database = 0;

}  // namespace

// The bytes the map's area needs at the map's configured capacity, kept free of the cache (from
// the start: a map first used in a full area must find them free). A relation's page storage
// is reallocated whole when it grows, and the old one is freed after the new one is filled, so
// two of the largest storage there can be, each in a segment of its own (dsa.c puts a large
// block in one run of pages: its segment's page map and free-page manager come on top, under
// 1/64 of it, and a segment can hold a page or a partial run unused); then the area's first
// segment, which holds the area's control and the small blocks (every relation's hash table
// item, directory slot and a share of the bucket arrays, and a 64 kB block for each of the few
// size classes they use) until they outgrow it.
uint64_t room_for_the_map()
{
    namespace cf = core::fsm;
    uint64_t chunks = cf::capacity_chunks(static_cast<uint64_t>(std::max(0, setting_max_pages())));
    uint64_t storage = 0;
    if (chunks > 0)
        storage = std::max(cf::StorageLayout::of(cf::RelationKind::heap, static_cast<uint32_t>(chunks)).bytes,
                           cf::StorageLayout::of(cf::RelationKind::index, static_cast<uint32_t>(chunks)).bytes);
    uint64_t storage_segment = storage == 0 ? 0 : storage + storage / 64 + core::kSuperblockBytes;
    uint64_t relations = static_cast<uint64_t>(std::max(1, setting_max_relations()));
    constexpr uint64_t kBytesPerRelation = 256;  // item, slot and buckets, rounded up generously
    constexpr uint64_t kSmallSizeClasses = 8;
    uint64_t small = relations * kBytesPerRelation + kSmallSizeClasses * core::kSuperblockBytes;
    return 2 * storage_segment + std::max(pg::kFirstSegmentBytes, small);
}

void init()
{
    pg::register_room_reserver(room_for_the_map);
    pg::register_scope_purger(purge_scopes);
    DefineCustomIntVariable("simple_cache.fsm_max_pages",
                            "Page slots the free-space map may use, for all relations together.",
                            "Counted in heap page entries; an index-style relation fits 48 free pages "
                            "in the room of 32. Change it with ALTER SYSTEM and a reload.",
                            &max_pages, 200000, 0, INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.fsm_max_relations",
                            "Relations the free-space map tracks at most; beyond it the least "
                            "recently used one is forgotten.",
                            "Change it with ALTER SYSTEM and a reload.", &max_relations, 1000, 1, 1000000,
                            PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.fsm_max_relations_per_database",
                            "Relations the free-space map tracks at most for one database (0: no "
                            "limit of its own); beyond it the database's least recently used one is "
                            "forgotten.",
                            "Superuser only: set it with ALTER DATABASE ... SET, or server-wide as "
                            "every database's default.",
                            &max_relations_per_database, 0, 0, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.fsm_max_pages_per_database",
                            "Page slots the free-space map may use for one database's relations "
                            "together (0: no limit of its own).",
                            "Counted like simple_cache.fsm_max_pages. Superuser only: set it with "
                            "ALTER DATABASE ... SET, or server-wide as every database's default.",
                            &max_pages_per_database, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    if (process_shared_preload_libraries_in_progress)
        shared_install();
}

int setting_max_pages()
{
    return max_pages;
}

int setting_max_relations()
{
    return max_relations;
}

int setting_max_relations_per_database()
{
    return max_relations_per_database;
}

int setting_max_pages_per_database()
{
    return max_pages_per_database;
}

}  // namespace simple_cache::fsm
