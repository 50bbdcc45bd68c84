// The persistence settings and background worker.
//
// With simple_cache in shared_preload_libraries, one background worker ("simple_cache
// persistence") runs for the life of the server. It finishes the start-up loads of the saved
// cache and the saved free-space map (fsm/persistence.hpp) that are unfinished since shared
// memory was set up (server start, or the restart that follows a crash); then it saves both
// every simple_cache.save_interval seconds, and once more when it is told to stop at a
// clean shutdown (the postmaster sends SIGTERM and waits for it before the shutdown
// checkpoint). An immediate shutdown or a crash kills it without a save, so the next start
// loads the last periodic save. Nothing saves over a file while its start-up load is
// unfinished (persistence_state.hpp): a load that failed is logged and tried again, resuming
// where it stopped, and a worker stopped in the middle of a load (a SIGTERM that is not part
// of a shutdown) exits, and the worker the postmaster starts next resumes it. Other failures
// are logged and the worker carries on. After a reload it takes up a change of
// simple_cache.max_memory at once (cache.hpp).
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/expiry_sweep.hpp"
#include "simple_cache/cache/persistence_file.hpp"
#include "simple_cache/cache/persistence_state.hpp"
#include "simple_cache/cache/startup_load.hpp"
#include "simple_cache/fsm/persistence.hpp"

#include <cerrno>
#include <new>

#include <unistd.h>

#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PGDLLEXPORT void simple_cache_persistence_main(Datum main_arg);
}

namespace simple_cache::cache {

namespace {

bool save_enabled = true;
int save_interval_seconds = 300;

constexpr const char *kWorkerName = "simple_cache persistence";
constexpr const char *kWorkerFunction = "simple_cache_persistence_main";
constexpr const char *kLibraryName = "simple_cache";

// Seconds before the postmaster starts the worker again after it exited (a SIGTERM that is
// not part of a shutdown).
constexpr int kRestartSeconds = 10;

// Asked by the load between entries: a shutdown request ends it early.
bool shutdown_requested()
{
    return ShutdownRequestPending != 0;
}

// Undoes what an ERROR left behind once the worker has caught it: locks PostgreSQL code held
// when it raised the error, and files it left open. (A backend's transaction abort does this.)
void recover_after_error()
{
    LWLockReleaseAll();
    AtEOXact_Files(false);
}

// Runs f in a memory context that is reset afterwards. Whatever f throws is logged, with
// `action` as context, through the error boundary's one mechanism (pg::run_logging), instead
// of ending the worker; then what an ERROR left behind is undone. Returns whether f completed.
template <class F>
bool run_logged(MemoryContext context, const char *action, F &&f)
{
    MemoryContext old_context = MemoryContextSwitchTo(context);
    bool completed = pg::run_logging(LOG, "simple_cache background worker", action, f);
    MemoryContextSwitchTo(old_context);
    MemoryContextReset(context);
    if (!completed)
        recover_after_error();
    return completed;
}

// What the worker tells about a saved file.
struct SavedFileInfo {
    SavedFile file;
    const char *name;           // in the data directory
    const char *what;           // what it holds, for messages
    const char *records;        // what its records are
    const char *save_function;  // the SQL functions that save and load it on demand
    const char *load_function;
};

const SavedFileInfo kCacheFile = {SavedFile::cache, kSnapshotFileName, "cache", "entries",
                                  "simple_cache_save()", "simple_cache_load()"};
const SavedFileInfo kMapFile = {SavedFile::map, fsm::kMapFileName, "free-space map", "relations",
                                "simple_cache_fsm_save()", "simple_cache_fsm_load()"};

// Seconds between attempts of a start-up load that failed.
constexpr int kRetrySeconds = 10;

// How a file's start-up load attempt ended.
enum class LoadEnd {
    finished,  // loaded, or no file, or a file that fails the checks (logged and ignored)
    stopped,   // a shutdown request came first: the load is unfinished
    failed,    // an error (logged): the load is unfinished
};

// How an attempt ended, from run_logged's result, whether the error was a RejectedFile, and
// whether the load reported a stop; logs an unfinished load's progress and what happens next.
LoadEnd conclude_load(const SavedFileInfo &info, bool completed, bool rejected, bool stopped)
{
    LoadEnd end = rejected || (completed && !stopped) ? LoadEnd::finished
                  : completed                          ? LoadEnd::stopped
                                                       : LoadEnd::failed;
    if (end == LoadEnd::finished)
        return end;
    const LoadProgress &p = *saved_file_progress(info.file);
    auto done = static_cast<unsigned long long>(p.done);
    auto records = static_cast<unsigned long long>(p.records);
    if (end == LoadEnd::stopped) {
        ereport(LOG, (errmsg("simple_cache: the start-up load of \"%s\" stopped after %llu of %llu saved %s", info.name,
                             done, records, info.records),
                      errdetail("The worker was asked to stop. Nothing saves over the file until it is loaded: a "
                                "worker started again resumes the load, the next server start loads the file anew.")));
        return end;
    }
    ereport(LOG, (errmsg("simple_cache: the start-up load of \"%s\" did not finish; it is tried again in %d seconds",
                         info.name, kRetrySeconds),
                  errdetail("%llu of %llu saved %s were handled. Until the load finishes, nothing saves over the "
                            "file and %s refuses to.",
                            done, records, info.records, info.save_function),
                  errhint("If the error logged above persists, correct its cause, or move \"%s\" out of the data "
                          "directory (or set simple_cache.save = off) to go on without it.",
                          info.name)));
    return end;
}

// The log line's note on a load that earlier attempts had begun.
const char *resumed_note(const LoadProgress &p)
{
    return p.attempts > 1 ? " The load resumed where an earlier attempt had stopped." : "";
}

// Loads (or goes on loading) the saved cache, and logs what happened.
LoadEnd load_cache_at_startup(MemoryContext context)
{
    LoadResult r;
    bool rejected = false;
    bool completed = run_logged(context, "loading the saved cache", [&] {
        try {
            r = load_snapshot(shutdown_requested, false, saved_file_progress(SavedFile::cache));  // never undo newer writes
        } catch (const RejectedFile &) {
            rejected = true;
            throw;
        }
        if (!r.found) {
            pg::guard([] { ereport(DEBUG1, (errmsg_internal("simple_cache: no saved cache to load"))); });
            return;
        }
        if (r.stopped)
            return;
        pg::guard([&] {
            ereport(LOG, (errmsg("simple_cache: loaded %llu entries from \"%s\"",
                                 static_cast<unsigned long long>(r.loaded), kSnapshotFileName),
                          errdetail("The file was saved at %s; %llu saved entries had expired, %llu did not fit, "
                                    "%llu were left to what clients did since the start.%s",
                                    timestamptz_to_str(r.saved_at_ms * 1000),
                                    static_cast<unsigned long long>(r.expired),
                                    static_cast<unsigned long long>(r.no_room),
                                    static_cast<unsigned long long>(r.skipped), resumed_note(r))));
        });
    });
    return conclude_load(kCacheFile, completed, rejected, r.stopped);
}

// Loads (or goes on loading) the saved free-space map, and logs what happened.
LoadEnd load_map_at_startup(MemoryContext context)
{
    fsm::MapLoadResult r;
    bool rejected = false;
    bool completed = run_logged(context, "loading the saved free-space map", [&] {
        try {
            r = fsm::load_map(shutdown_requested, true, saved_file_progress(SavedFile::map));
        } catch (const RejectedFile &) {
            rejected = true;
            throw;
        }
        if (!r.found || r.stopped)
            return;
        pg::guard([&] {
            ereport(LOG, (errmsg("simple_cache: loaded %llu relations from \"%s\"",
                                 static_cast<unsigned long long>(r.loaded), fsm::kMapFileName),
                          errdetail("%llu saved relations did not fit, %llu were left to what clients did since the start.%s",
                                    static_cast<unsigned long long>(r.no_room),
                                    static_cast<unsigned long long>(r.skipped), resumed_note(r))));
        });
    });
    return conclude_load(kMapFile, completed, rejected, r.stopped);
}

// Takes up the start-up loads that are unfinished (all of them after shared memory was set
// up; after an earlier attempt stopped or failed, what it left) and ends the start-up load's
// marks once no file is loading. With simple_cache.save off, a file not loaded yet is left
// alone (not_loaded). Returns false when a load failed and is to be tried again.
bool finish_startup_loads(MemoryContext context)
{
    struct Loader {
        const SavedFileInfo &info;
        LoadEnd (*load)(MemoryContext);
    };
    const Loader loaders[] = {{kCacheFile, load_cache_at_startup}, {kMapFile, load_map_at_startup}};
    bool failed = false;
    for (const Loader &loader : loaders) {
        if (saved_file_state(loader.info.file) != SavedFileState::loading)
            continue;
        if (!save_enabled) {
            set_saved_file_state(loader.info.file, SavedFileState::not_loaded);
            continue;
        }
        if (ShutdownRequestPending)
            continue;
        LoadEnd end = loader.load(context);
        if (end == LoadEnd::finished)
            set_saved_file_state(loader.info.file, SavedFileState::loaded);
        failed |= end == LoadEnd::failed;
    }
    if (!any_saved_file_loading())
        finish_startup_load();
    return !failed;
}

// Whether the worker may save over a file now: its load finished, or it was left alone at
// start-up and has been removed since. Warns (once per worker) about a file it leaves alone.
bool may_save_over(const SavedFileInfo &info, bool &warned)
{
    SavedFileState state = saved_file_state(info.file);
    if (state == SavedFileState::loaded)
        return true;
    if (state == SavedFileState::loading)
        return false;
    if (access(info.name, F_OK) != 0 && errno == ENOENT) {
        set_saved_file_state(info.file, SavedFileState::loaded);
        return true;
    }
    if (!warned)
        ereport(WARNING, (errmsg("simple_cache: not saving the %s over \"%s\", which was not loaded", info.what, info.name),
                          errdetail("simple_cache.save was off when the file was to be loaded at start-up, so it "
                                    "holds a save the %s does not have.",
                                    info.what),
                          errhint("Load it with %s, replace it with %s, or remove it; the periodic saves then resume.",
                                  info.load_function, info.save_function)));
    warned = true;
    return false;
}

// Saves the cache and the free-space map, those whose file may be saved over, logging the
// results at `level`.
// Retires the scopes of databases dropped since their entries were put, and purges them, in a
// transaction of its own (it reads pg_database), so that no save writes their entries.
void collect_dead_databases()
{
    pg::guard([] { StartTransactionCommand(); });
    try {
        pg::collect_dead_scopes(pg::Collection::retire_and_purge);
    } catch (...) {
        pg::guard([] { AbortCurrentTransaction(); });
        throw;
    }
    pg::guard([] { CommitTransactionCommand(); });
}

void save_now(MemoryContext context, const char *action, int level)
{
    static bool warned_cache = false;
    static bool warned_map = false;
    run_logged(context, "finding dropped databases before a save", [] { collect_dead_databases(); });
    if (may_save_over(kCacheFile, warned_cache))
        run_logged(context, action, [=] {
            SaveResult r = save_snapshot();
            pg::guard([=] {
                ereport(level, (errmsg("simple_cache: saved %llu entries to \"%s\" (%llu bytes)",
                                       static_cast<unsigned long long>(r.entries), kSnapshotFileName,
                                       static_cast<unsigned long long>(r.bytes))));
            });
        });
    if (may_save_over(kMapFile, warned_map))
        run_logged(context, action, [=] {
            SaveResult r = fsm::save_map();
            pg::guard([=] {
                ereport(level, (errmsg("simple_cache: saved %llu relations to \"%s\" (%llu bytes)",
                                       static_cast<unsigned long long>(r.entries), fsm::kMapFileName,
                                       static_cast<unsigned long long>(r.bytes))));
            });
        });
}

// Rereads the configuration file if a SIGHUP asked for it.
void reload_config_if_asked()
{
    if (ConfigReloadPending) {
        ConfigReloadPending = false;
        ProcessConfigFile(PGC_SIGHUP);
    }
}

// Milliseconds from now until `seconds` after `since` (0 when that has passed).
long millis_until(TimestampTz since, int seconds)
{
    TimestampTz due = TimestampTzPlusMilliseconds(since, static_cast<int64>(seconds) * 1000);
    return TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);
}

// The worker's life: the start-up loads (a failed one is tried again every kRetrySeconds),
// periodic saves until shutdown is requested, a last save.
void worker_main()
{
    MemoryContext context = AllocSetContextCreate(TopMemoryContext, "simple_cache persistence", ALLOCSET_DEFAULT_SIZES);
    bool loads_to_retry = !finish_startup_loads(context);
    TimestampTz last_try = GetCurrentTimestamp();
    TimestampTz last_save = last_try;

    while (!ShutdownRequestPending) {
        reload_config_if_asked();
        if (pg::area_exists())
            run_logged(context, "taking up simple_cache.max_memory", [] { apply_max_memory_setting(); });
        long timeout = -1;
        run_logged(context, "sweeping expired entries", [&timeout] { timeout = sweep_expired_step(); });
        if (loads_to_retry) {
            long delay = millis_until(last_try, kRetrySeconds);
            if (delay <= 0) {
                loads_to_retry = !finish_startup_loads(context);
                last_try = GetCurrentTimestamp();
                continue;
            }
            timeout = timeout < 0 || delay < timeout ? delay : timeout;
        }
        if (save_enabled && save_interval_seconds > 0) {
            long delay = millis_until(last_save, save_interval_seconds);
            if (delay <= 0) {
                save_now(context, "saving the cache periodically", DEBUG1);  // not a file still loading
                last_save = GetCurrentTimestamp();
                continue;
            }
            timeout = timeout < 0 || delay < timeout ? delay : timeout;
        }
        int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0);
        (void) WaitLatch(MyLatch, events, timeout, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        // Connected, the worker takes part in signal barriers (DROP DATABASE waits for every
        // process to absorb one): handle them, and log a cancel rather than exit on it.
        run_logged(context, "processing interrupts", [] { pg::check_for_interrupts(); });
    }

    reload_config_if_asked();
    if (save_enabled)
        save_now(context, "saving the cache at shutdown", LOG);  // not a file still loading
}

// Registers the worker with the postmaster (while shared_preload_libraries is processed).
void register_worker()
{
    BackgroundWorker worker = {};
    // A connection to no database: the worker reads pg_database (a shared catalog) to leave
    // dropped databases' entries out of its saves.
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_ConsistentState;
    worker.bgw_restart_time = kRestartSeconds;
    strlcpy(worker.bgw_library_name, kLibraryName, sizeof worker.bgw_library_name);
    strlcpy(worker.bgw_function_name, kWorkerFunction, sizeof worker.bgw_function_name);
    strlcpy(worker.bgw_name, kWorkerName, sizeof worker.bgw_name);
    strlcpy(worker.bgw_type, kWorkerName, sizeof worker.bgw_type);
    RegisterBackgroundWorker(&worker);
}

}  // namespace

void persistence_init()
{
    DefineCustomBoolVariable("simple_cache.save",
                             "Saves the cache at shutdown and periodically, and loads it at start-up.",
                             "Takes effect with simple_cache in shared_preload_libraries.", &save_enabled, true,
                             PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.save_interval",
                            "Time between periodic saves of the cache (0 = save only at shutdown).", nullptr,
                            &save_interval_seconds, 300, 0, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    if (!process_shared_preload_libraries_in_progress)
        return;
    register_worker();
    startup_load_install();
    saved_files_install();
}

}  // namespace simple_cache::cache

// The worker's entry point, named in its registration.
extern "C" void simple_cache_persistence_main(Datum)
{
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    simple_cache::cache::worker_main();
    // Exit status 1 asks the postmaster to start the worker again after bgw_restart_time: a
    // SIGTERM that is not part of a shutdown (pg_terminate_backend) must not end the periodic
    // saves. During a shutdown nothing is restarted.
    proc_exit(1);
}
