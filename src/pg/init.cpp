// Start-up of the PostgreSQL layer: the size limit's setting, the WAL resource manager, the testing aids' settings
// (failure injection, give-back pause) and, for the preloaded case, the shared memory registry
// with the area's root struct.
#include "simple_cache/pg/init.hpp"

#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/postgres.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/shared_state.hpp"
#include "simple_cache/pg/shmem_registry.hpp"
#include "simple_cache/pg/size_limit.hpp"
#include "simple_cache/pg/wal_rmgr.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace simple_cache::pg {

namespace {

int debug_fail_after = 0;
int debug_give_back_pause = 0;
int debug_layout_version = 0;

// Passes the pretended layout version on to the attachment code.
void assign_debug_layout_version(int value, void *)
{
    set_layout_version_override(value);
}

// Re-arms the injected-failure countdown whenever the setting is assigned.
void assign_debug_fail_after(int value, void *)
{
    set_injected_failure_countdown(value);
}

// Passes the give-back pause on to the area code.
void assign_debug_give_back_pause(int value, void *)
{
    set_give_back_pause_ms(value);
}

}  // namespace

void init()
{
    DefineCustomIntVariable(
        "simple_cache.debug_fail_after",
        "Testing aid: makes the n-th shared memory operation from now raise an error (0 = never).",
        "Used by the regression tests to prove that a failure in the middle of an operation "
        "leaves no lock held and no memory leaked.",
        &debug_fail_after, 0, 0, INT_MAX, PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr,
        assign_debug_fail_after, nullptr);
    DefineCustomIntVariable(
        "simple_cache.debug_layout_version",
        "Testing aid: the shared area's layout version this session expects (0 = the library's own).",
        "Used by the regression tests to show how an area made by another version of the library "
        "is refused.",
        &debug_layout_version, 0, 0, INT_MAX, PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr,
        assign_debug_layout_version, nullptr);
    define_size_limit_setting();
    DefineCustomIntVariable(
        "simple_cache.debug_give_back_pause",
        "Testing aid: a give-back of free shared memory segments pauses this long while it holds the free space.",
        "Used by the tests to prove that other sessions' allocations wait for a give-back and succeed.",
        &debug_give_back_pause, 0, 0, 60000, PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
        nullptr, assign_debug_give_back_pause, nullptr);
    wal_rmgr_init();
    if (process_shared_preload_libraries_in_progress) {
        install_shmem_registry();
        shared_state_install();
    }
}

}  // namespace simple_cache::pg
