// The persistence settings and background worker.
//
// With simple_cache in shared_preload_libraries, one background worker ("simple_cache
// persistence") runs for the life of the server. When it first starts after shared memory was
// set up (server start, or the restart that follows a crash) it loads the saved cache and the
// saved free-space map (fsm/persistence.hpp); then it saves both
// every simple_cache.save_interval seconds, and once more when it is told to stop at a
// clean shutdown (the postmaster sends SIGTERM and waits for it before the shutdown
// checkpoint). An immediate shutdown or a crash kills it without a save, so the next start
// loads the last periodic save. Failures are logged and the worker carries on. After a reload
// it takes up a change of simple_cache.max_memory at once (cache.hpp).
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/persistence_file.hpp"
#include "simple_cache/cache/startup_load.hpp"
#include "simple_cache/fsm/persistence.hpp"

#include <atomic>
#include <new>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
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
constexpr const char *kShmemName = "simple_cache persistence";

// Seconds before the postmaster restarts the worker after it failed.
constexpr int kRestartSeconds = 10;

// Room for an error's texts in a log line.
constexpr size_t kTextRoom = 1024;

// The worker's state in the main shared memory segment, which is set up anew after a crash.
struct WorkerShared {
    std::atomic<uint32_t> startup_load_claimed;  // a worker has (started to) load the file
};

shmem_request_hook_type previous_request_hook = nullptr;

// Reserves room for WorkerShared.
void request_worker_shmem()
{
    if (previous_request_hook != nullptr)
        previous_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerShared)));
}

// Whether this worker is the first since shared memory was set up, and so must load the file:
// a worker that the postmaster restarts after a failure must not load it again over newer
// values. Plain PostgreSQL code.
bool claim_startup_load()
{
    bool found;
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    auto *shared = static_cast<WorkerShared *>(ShmemInitStruct(kShmemName, sizeof(WorkerShared), &found));
    if (!found)
        new (shared) WorkerShared{{0}};
    LWLockRelease(AddinShmemInitLock);
    return shared->startup_load_claimed.exchange(1) == 0;
}

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

// Copies text into a fixed buffer, truncating; never allocates.
void copy_text(char (&to)[kTextRoom], const char *from) noexcept
{
    strlcpy(to, from != nullptr ? from : "", kTextRoom);
}

// Runs f in a memory context that is reset afterwards. Whatever f throws is logged, with
// `action` as context, instead of ending the worker. Returns whether f completed.
template <class F>
bool run_logged(MemoryContext context, const char *action, F &&f)
{
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[kTextRoom] = {};
    char detail[kTextRoom] = {};
    bool failed = true;
    MemoryContext old_context = MemoryContextSwitchTo(context);
    try {
        f();
        failed = false;
    } catch (const pg::PgError &e) {
        sqlstate = e.data()->sqlerrcode;
        copy_text(message, e.data()->message);
        copy_text(detail, e.data()->detail);
    } catch (const pg::SqlError &e) {
        sqlstate = e.sqlstate();
        copy_text(message, e.what());
        copy_text(detail, e.detail().c_str());
    } catch (const std::bad_alloc &) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_text(message, "out of memory");
    } catch (const std::exception &e) {
        copy_text(message, "internal error in simple_cache");
        copy_text(detail, e.what());
    } catch (...) {
        copy_text(message, "internal error in simple_cache");
    }
    MemoryContextSwitchTo(old_context);
    MemoryContextReset(context);
    if (!failed)
        return true;
    recover_after_error();
    ereport(LOG, (errcode(sqlstate), errmsg_internal("%s", message),
                  detail[0] != '\0' ? errdetail_internal("%s", detail) : 0,
                  errcontext("simple_cache background worker, %s", action)));
    return false;
}

// Loads the saved cache at start-up and logs what happened; false if stopped by a shutdown.
bool load_at_startup(MemoryContext context)
{
    bool stopped = false;
    run_logged(context, "loading the saved cache", [&] {
        LoadResult r = load_snapshot(shutdown_requested, false);  // never undo newer writes
        stopped = r.stopped;
        if (!r.found) {
            pg::guard([] { ereport(DEBUG1, (errmsg_internal("simple_cache: no saved cache to load"))); });
            return;
        }
        int64_t saved_at_ms = r.saved_at_ms;
        pg::guard([=] {
            ereport(LOG, (errmsg("simple_cache: loaded %llu entries from \"%s\"%s",
                                 static_cast<unsigned long long>(r.loaded), kSnapshotFileName,
                                 r.stopped ? " before a shutdown request stopped the load" : ""),
                          errdetail("The file was saved at %s; %llu saved entries had expired, %llu did not fit, "
                                    "%llu were left to what clients did since the start.",
                                    timestamptz_to_str(saved_at_ms * 1000),
                                    static_cast<unsigned long long>(r.expired),
                                    static_cast<unsigned long long>(r.no_room),
                                    static_cast<unsigned long long>(r.skipped))));
        });
    });
    if (stopped)
        return false;
    run_logged(context, "loading the saved free-space map", [&] {
        fsm::MapLoadResult r = fsm::load_map(shutdown_requested, true);
        stopped = r.stopped;
        if (!r.found)
            return;
        pg::guard([=] {
            ereport(LOG, (errmsg("simple_cache: loaded %llu relations from \"%s\"%s",
                                 static_cast<unsigned long long>(r.loaded), fsm::kMapFileName,
                                 r.stopped ? " before a shutdown request stopped the load" : ""),
                          errdetail("%llu saved relations did not fit, %llu were left to what clients did since the start.",
                                    static_cast<unsigned long long>(r.no_room),
                                    static_cast<unsigned long long>(r.skipped))));
        });
    });
    return !stopped;
}

// Saves the cache and the free-space map, logging the results at `level`.
void save_now(MemoryContext context, const char *action, int level)
{
    run_logged(context, action, [=] {
        SaveResult r = save_snapshot();
        pg::guard([=] {
            ereport(level, (errmsg("simple_cache: saved %llu entries to \"%s\" (%llu bytes)",
                                   static_cast<unsigned long long>(r.entries), kSnapshotFileName,
                                   static_cast<unsigned long long>(r.bytes))));
        });
    });
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

// The worker's life: load, periodic saves until shutdown is requested, a last save.
void worker_main()
{
    MemoryContext context = AllocSetContextCreate(TopMemoryContext, "simple_cache persistence", ALLOCSET_DEFAULT_SIZES);
    bool final_save_allowed = true;
    if (claim_startup_load() && save_enabled)
        final_save_allowed = load_at_startup(context);  // a half-done load must not replace the file
    finish_startup_load();  // loaded, stopped, failed or not this worker's to do
    TimestampTz last_save = GetCurrentTimestamp();

    while (!ShutdownRequestPending) {
        reload_config_if_asked();
        if (pg::area_exists())
            run_logged(context, "taking up simple_cache.max_memory", [] { apply_max_memory_setting(); });
        int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;
        long timeout = -1;
        if (save_enabled && save_interval_seconds > 0) {
            TimestampTz due = TimestampTzPlusMilliseconds(last_save, static_cast<int64>(save_interval_seconds) * 1000);
            long delay = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), due);
            if (delay <= 0) {
                save_now(context, "saving the cache periodically", DEBUG1);
                last_save = GetCurrentTimestamp();
                continue;
            }
            events |= WL_TIMEOUT;
            timeout = delay;
        }
        (void) WaitLatch(MyLatch, events, timeout, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }

    reload_config_if_asked();
    if (save_enabled && final_save_allowed)
        save_now(context, "saving the cache at shutdown", LOG);
}

// Registers the worker with the postmaster (while shared_preload_libraries is processed).
void register_worker()
{
    BackgroundWorker worker = {};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
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
    previous_request_hook = shmem_request_hook;
    shmem_request_hook = request_worker_shmem;
    register_worker();
    startup_load_install();
}

}  // namespace simple_cache::cache

// The worker's entry point, named in its registration.
extern "C" void simple_cache_persistence_main(Datum)
{
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    simple_cache::cache::worker_main();
    // Exit status 1 asks the postmaster to start the worker again after bgw_restart_time: a
    // SIGTERM that is not part of a shutdown (pg_terminate_backend) must not end the periodic
    // saves. During a shutdown nothing is restarted.
    proc_exit(1);
}
