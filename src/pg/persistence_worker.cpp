// The persistence settings and background worker (see pg/persistence_worker.hpp).
//
// With simple_cache in shared_preload_libraries, one background worker ("simple_cache
// persistence") runs for the life of the server. It finishes the start-up loads of the saved
// files the features registered (pg/saved_state.hpp: the cache's, the free-space map's) that
// are unfinished since shared memory was set up (server start, or the restart that follows a
// crash); then it saves them every simple_cache.save_interval seconds, and once more when it
// is told to stop at a clean shutdown (the postmaster sends SIGTERM and waits for it before
// the shutdown checkpoint). An immediate shutdown or a crash kills it without a save, so the
// next start loads the last periodic save. Nothing saves over a file while its start-up load
// is unfinished: a load that failed is logged and tried again, resuming where it stopped, and
// a worker stopped in the middle of a load (a SIGTERM that is not part of a shutdown) exits,
// and the worker the postmaster starts next resumes it. Other failures are logged and the
// worker carries on. At every wake-up it runs the tasks registered for it (the cache takes up
// a change of simple_cache.max_memory after a reload, and sweeps expired entries in bounded
// steps); a task may ask to be run again within some milliseconds.
#include "simple_cache/pg/persistence_worker.hpp"

#include <cerrno>
#include <new>
#include <string>

#include <unistd.h>

#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/saved_state.hpp"
#include "simple_cache/pg/startup_load.hpp"

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

namespace simple_cache::pg {

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
// `action` as context, through the error boundary's one mechanism (run_logging), instead
// of ending the worker; then what an ERROR left behind is undone. Returns whether f completed.
template <class F>
bool run_logged(MemoryContext context, const char *action, F &&f)
{
    MemoryContext old_context = MemoryContextSwitchTo(context);
    bool completed = run_logging(LOG, "simple_cache background worker", action, f);
    MemoryContextSwitchTo(old_context);
    MemoryContextReset(context);
    if (!completed)
        recover_after_error();
    return completed;
}

// A task run at every wake-up of the worker.
struct WakeTask {
    const char *action;  // for the log, when it fails
    long (*run)();       // milliseconds until it wants to run again, or -1
};
constexpr int kMaxWakeTasks = 4;
WakeTask wake_tasks[kMaxWakeTasks] = {};
int wake_task_count = 0;

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
LoadEnd conclude_load(SavedFileId file, bool completed, bool rejected, bool stopped)
{
    LoadEnd end = rejected || (completed && !stopped) ? LoadEnd::finished
                  : completed                          ? LoadEnd::stopped
                                                       : LoadEnd::failed;
    if (end == LoadEnd::finished)
        return end;
    const SavedFileHandler &info = saved_file_handler(file);
    const LoadProgress &p = *saved_file_progress(file);
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

// Loads (or goes on loading) a saved file; its handler logs what it loaded.
LoadEnd load_at_startup(MemoryContext context, SavedFileId file)
{
    const SavedFileHandler &handler = saved_file_handler(file);
    bool finished = true;
    bool rejected = false;
    std::string action = std::string("loading the saved ") + handler.what;
    bool completed = run_logged(context, action.c_str(), [&] {
        try {
            finished = handler.load_at_startup(shutdown_requested, saved_file_progress(file));
        } catch (const RejectedFile &) {
            rejected = true;
            throw;
        }
    });
    return conclude_load(file, completed, rejected, !finished);
}

// Takes up the start-up loads that are unfinished (all of them after shared memory was set
// up; after an earlier attempt stopped or failed, what it left) and ends the start-up load's
// marks once no file is loading. With simple_cache.save off, a file not loaded yet is left
// alone (not_loaded). Returns false when a load failed and is to be tried again.
bool finish_startup_loads(MemoryContext context)
{
    bool failed = false;
    for (SavedFileId file = 0; file < saved_file_count(); ++file) {
        if (saved_file_state(file) != SavedFileState::loading)
            continue;
        if (!save_enabled) {
            set_saved_file_state(file, SavedFileState::not_loaded);
            continue;
        }
        if (ShutdownRequestPending)
            continue;
        LoadEnd end = load_at_startup(context, file);
        if (end == LoadEnd::finished)
            set_saved_file_state(file, SavedFileState::loaded);
        failed |= end == LoadEnd::failed;
    }
    if (!any_saved_file_loading())
        finish_startup_load();
    return !failed;
}

// Whether the worker may save over a file now: its load finished, or it was left alone at
// start-up and has been removed since. Warns (once per worker) about a file it leaves alone.
bool may_save_over(SavedFileId file, bool &warned)
{
    const SavedFileHandler &info = saved_file_handler(file);
    SavedFileState state = saved_file_state(file);
    if (state == SavedFileState::loaded)
        return true;
    if (state == SavedFileState::loading)
        return false;
    if (access(info.name, F_OK) != 0 && errno == ENOENT) {
        set_saved_file_state(file, SavedFileState::loaded);
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
    guard([] { StartTransactionCommand(); });
    try {
        collect_dead_scopes(Collection::retire_and_purge);
    } catch (...) {
        guard([] { AbortCurrentTransaction(); });
        throw;
    }
    guard([] { CommitTransactionCommand(); });
}

void save_now(MemoryContext context, const char *action, int level)
{
    static bool warned[kMaxSavedFiles] = {};
    run_logged(context, "finding dropped databases before a save", [] { collect_dead_databases(); });
    for (SavedFileId file = 0; file < saved_file_count(); ++file) {
        if (!may_save_over(file, warned[file]))
            continue;
        const SavedFileHandler &handler = saved_file_handler(file);
        run_logged(context, action, [&] {
            SaveResult r = handler.save();
            guard([&] {
                ereport(level, (errmsg("simple_cache: saved %llu %s to \"%s\" (%llu bytes)",
                                       static_cast<unsigned long long>(r.entries), handler.records, handler.name,
                                       static_cast<unsigned long long>(r.bytes))));
            });
        });
    }
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
        long timeout = -1;
        for (int i = 0; i < wake_task_count; ++i)
            run_logged(context, wake_tasks[i].action, [&timeout, i] {
                long wanted = wake_tasks[i].run();
                if (wanted >= 0 && (timeout < 0 || wanted < timeout))
                    timeout = wanted;
            });
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
        run_logged(context, "processing interrupts", [] { check_for_interrupts(); });
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

void run_at_worker_wake_up(const char *action, long (*task)())
{
    if (wake_task_count == kMaxWakeTasks)
        elog(ERROR, "simple_cache: too many wake-up tasks registered");
    wake_tasks[wake_task_count++] = WakeTask{action, task};
}

void persistence_worker_init()
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

}  // namespace simple_cache::pg

// The worker's entry point, named in its registration.
extern "C" void simple_cache_persistence_main(Datum)
{
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    simple_cache::pg::worker_main();
    // Exit status 1 asks the postmaster to start the worker again after bgw_restart_time: a
    // SIGTERM that is not part of a shutdown (pg_terminate_backend) must not end the periodic
    // saves. During a shutdown nothing is restarted.
    proc_exit(1);
}
