// The module's entry: PostgreSQL's magic block and _PG_init, which only calls each layer's init.
#include "simple_cache/api/c_api.hpp"
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/expiry_sweep.hpp"
#include "simple_cache/cache/persistence_file.hpp"
#include "simple_cache/cache/replica_fences.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/persistence.hpp"
#include "simple_cache/pg/init.hpp"
#include "simple_cache/pg/persistence_worker.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

namespace {

// The persistence worker's wake-up task: takes up a change of simple_cache.max_memory once the
// area exists. Never asks to be woken for it.
long take_up_max_memory()
{
    if (simple_cache::pg::area_exists())
        simple_cache::cache::apply_max_memory_setting();
    return -1;
}

}  // namespace

// Called once when the library is loaded into a backend (or the postmaster, when preloaded).
// The features register their saved files and worker tasks with the pg layer's services
// before the worker is set up.
extern "C" void _PG_init(void)
{
    simple_cache::pg::init();
    simple_cache::cache::init();
    simple_cache::cache::persistence_init();
    simple_cache::fsm::init();
    simple_cache::fsm::persistence_init();
    simple_cache::pg::run_at_worker_wake_up("taking up simple_cache.max_memory", take_up_max_memory);
    simple_cache::pg::run_at_worker_wake_up("sweeping expired entries", simple_cache::cache::sweep_expired_step);
    simple_cache::pg::run_at_worker_wake_up("resolving replayed invalidations' fences",
                                            simple_cache::cache::resolve_fences_step);
    simple_cache::pg::persistence_worker_init();
    simple_cache::api::init();
    MarkGUCPrefixReserved("simple_cache");
}
