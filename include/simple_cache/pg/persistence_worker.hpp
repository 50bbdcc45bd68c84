// The persistence worker: with simple_cache preloaded, a background worker that finishes the
// start-up loads of the registered saved files (pg/saved_state.hpp), saves them periodically
// and at shutdown, and runs the wake-up tasks the features register. Its settings are
// simple_cache.save and simple_cache.save_interval.
#pragma once

namespace simple_cache::pg {

// Registers a task the worker runs at every wake-up, through the error boundary (a failure is
// logged with `action` as context). Called from _PG_init, before persistence_worker_init().
void run_at_worker_wake_up(const char *action, void (*task)());

// Defines simple_cache.save and simple_cache.save_interval and, while shared_preload_libraries
// is being processed, registers the worker and the shared state of the start-up loads and the
// saved files. Called from _PG_init once every saved file is registered.
void persistence_worker_init();

}  // namespace simple_cache::pg
