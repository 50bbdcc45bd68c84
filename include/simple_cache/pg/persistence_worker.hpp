// The persistence worker: with simple_cache preloaded, a background worker that finishes the
// start-up loads of the registered saved files (pg/saved_state.hpp), saves them periodically
// and at shutdown, and runs the wake-up tasks the features register. Its settings are
// simple_cache.save and simple_cache.save_interval.
#pragma once

namespace simple_cache::pg {

// Registers a task the worker runs at every wake-up, through the error boundary (a failure is
// logged with `action` as context). The task returns the milliseconds until it wants to run
// again (the worker wakes up by then at the latest), or -1 for no wish. Called from _PG_init,
// before persistence_worker_init().
void run_at_worker_wake_up(const char *action, long (*task)());

// Defines simple_cache.save and simple_cache.save_interval and, while shared_preload_libraries
// is being processed, registers the worker and the shared state of the start-up loads and the
// saved files. Called from _PG_init once every saved file is registered.
void persistence_worker_init();

}  // namespace simple_cache::pg
