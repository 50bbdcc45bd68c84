// SQL entry points for saving and loading the cache on demand: simple_cache_save() and
// simple_cache_load(), and the same for the free-space map: simple_cache_fsm_save() and
// simple_cache_fsm_load(). All work with or without shared_preload_libraries; a save is refused
// while the file's start-up load is unfinished (pg/saved_state.hpp).
#include "simple_cache/cache/persistence_file.hpp"
#include "simple_cache/fsm/persistence.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/saved_state.hpp"

namespace sc = simple_cache;

// simple_cache_save() RETURNS bigint: entries written to simple_cache.dat; 55000 while its
// start-up load is unfinished.
SIMPLE_CACHE_FUNCTION(simple_cache_save)
{
    sc::pg::check_saved_file_replaceable(sc::cache::saved_file_id());
    sc::pg::collect_dead_scopes(sc::pg::Collection::retire_and_purge);  // entries of dropped databases are not saved
    sc::pg::SaveResult result = sc::cache::save_snapshot();
    sc::pg::note_saved_file_synced(sc::cache::saved_file_id());
    PG_RETURN_INT64(static_cast<int64>(result.entries));
}

// simple_cache_load() RETURNS bigint: entries restored from simple_cache.dat, merged into the
// cache. A missing file gives 0 and a NOTICE; entries that did not fit give a WARNING.
SIMPLE_CACHE_FUNCTION(simple_cache_load)
{
    sc::cache::LoadResult result = sc::cache::load_snapshot();
    sc::pg::note_saved_file_synced(sc::cache::saved_file_id());
    if (!result.found)
        ereport(NOTICE, (errmsg("simple_cache: no saved cache to load"),
                         errdetail("The data directory has no file \"%s\".", sc::cache::kSnapshotFileName)));
    if (result.no_room > 0)
        ereport(WARNING, (errcode(ERRCODE_OUT_OF_MEMORY),
                          errmsg("simple_cache: %llu saved entries did not fit in the cache",
                                 static_cast<unsigned long long>(result.no_room))));
    PG_RETURN_INT64(static_cast<int64>(result.loaded));
}

// simple_cache_fsm_save() RETURNS bigint: relations written to simple_cache_fsm.dat; 55000
// while its start-up load is unfinished.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_save)
{
    sc::pg::check_saved_file_replaceable(sc::fsm::saved_file_id());
    sc::pg::collect_dead_scopes(sc::pg::Collection::retire_and_purge);  // relations of dropped databases are not saved
    sc::pg::SaveResult result = sc::fsm::save_map();
    sc::pg::note_saved_file_synced(sc::fsm::saved_file_id());
    PG_RETURN_INT64(static_cast<int64>(result.entries));
}

// simple_cache_fsm_load() RETURNS bigint: relations restored from simple_cache_fsm.dat, each
// reported wholesale. A missing file gives 0 and a NOTICE; relations that did not fit give a
// WARNING.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_load)
{
    sc::fsm::MapLoadResult result = sc::fsm::load_map();
    sc::pg::note_saved_file_synced(sc::fsm::saved_file_id());
    if (!result.found)
        ereport(NOTICE, (errmsg("simple_cache: no saved free-space map to load"),
                         errdetail("The data directory has no file \"%s\".", sc::fsm::kMapFileName)));
    if (result.no_room > 0)
        ereport(WARNING, (errcode(ERRCODE_OUT_OF_MEMORY),
                          errmsg("simple_cache: %llu saved relations did not fit in the free-space map",
                                 static_cast<unsigned long long>(result.no_room))));
    PG_RETURN_INT64(static_cast<int64>(result.loaded));
}
