// The cache's settings: default time to live and eviction policy (simple_cache.max_memory, which
// caps the whole area, is the pg layer's: src/pg/size_limit.cpp).
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/eviction.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/pending_writes.hpp"
#include "simple_cache/cache/replicated_invalidations.hpp"
#include "simple_cache/pg/dsa_policy.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace simple_cache::cache {

namespace {

int default_ttl_seconds = 0;
int eviction_policy = 0;
int database_max_memory_kb = 0;

enum EvictionPolicy { kLru = 0, kNone = 1 };

const struct config_enum_entry eviction_options[] = {
    {"lru", kLru, false},
    {"none", kNone, false},
    {nullptr, 0, false},
};

}  // namespace

void init()
{
    pg::register_scope_purger(purge_scopes);
    define_lease_settings();
    DefineCustomIntVariable("simple_cache.default_ttl",
                            "Time to live of values put without one (0 = they never expire).",
                            nullptr, &default_ttl_seconds, 0, 0, INT_MAX, PGC_USERSET, GUC_UNIT_S,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.database_max_memory",
                            "Cap on the cache memory one database's entries may take (0 = none).",
                            "Set it per database with ALTER DATABASE ... SET; writes of a database "
                            "over it evict that database's own entries.",
                            &database_max_memory_kb, 0, 0, INT_MAX, PGC_SUSET, GUC_UNIT_KB, nullptr,
                            nullptr, nullptr);
    DefineCustomEnumVariable("simple_cache.eviction",
                             "What a put does when the cache is full: lru evicts, none fails.",
                             nullptr, &eviction_policy, kLru, eviction_options, PGC_SUSET, 0,
                             nullptr, nullptr, nullptr);
    define_pending_writes_setting();
    replicated_invalidations_init();
}

int64_t default_ttl_ms()
{
    return static_cast<int64_t>(default_ttl_seconds) * 1000;
}

bool eviction_enabled()
{
    return eviction_policy == kLru;
}

int64_t database_max_memory_bytes()
{
    return static_cast<int64_t>(database_max_memory_kb) * 1024;
}

}  // namespace simple_cache::cache
