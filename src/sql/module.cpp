// The module's entry: PostgreSQL's magic block and _PG_init, which only calls each layer's init.
#include "simple_cache/api/c_api.hpp"
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/persistence_file.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/pg/init.hpp"
#include "simple_cache/pg/postgres.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

// Called once when the library is loaded into a backend (or the postmaster, when preloaded).
extern "C" void _PG_init(void)
{
    simple_cache::pg::init();
    simple_cache::cache::init();
    simple_cache::cache::persistence_init();
    simple_cache::fsm::init();
    simple_cache::api::init();
    MarkGUCPrefixReserved("simple_cache");
}
