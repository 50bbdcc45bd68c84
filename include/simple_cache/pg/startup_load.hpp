// Keeping the start-up loads of saved files from undoing what clients do while they run: a
// service of the pg layer that both features use, each with keys of its own.
//
// With simple_cache preloaded, the persistence worker (pg/persistence_worker.cpp) loads the
// saved files after the server has started to accept connections. Until a load reaches a key,
// a client sees that key as absent: it may write it, drop it or fail to replace it. So that the
// load does not bring the saved value back afterwards, every write marks its key in a shared
// bit set while the load is pending, and a flush marks its whole database scope; the load
// restores a saved item only if neither is marked. The cache marks its entries' keys (put in
// any form, drop, expire, incr, cas); the free-space map marks its relations' keys (through its
// fence, fsm/locks.hpp). Writers mark before they take the lock the load checks under, so each
// race ends as if the client's operation came after the load, or the saved item never existed.
// Marks are by hash: a few saved items whose key shares a bit with a written one are not loaded
// (a miss, nothing more).
//
// Nothing here is active without preloading, and it costs one shared flag read per write once
// the load has finished.
#pragma once

#include "simple_cache/core/dht.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// Reserves the shared bit set and marks the load pending whenever shared memory is set up
// (server start, crash restart). Called from _PG_init while shared_preload_libraries is
// processed.
void startup_load_install();

// Marks a key (as stored: its database scope first) as written since the server started, if
// the start-up load is still pending. Call before taking the lock the load checks under.
void note_write_during_startup_load(core::KeyView stored_key);

// Whether the start-up load is still pending (a cheap check for callers that need more than a
// mark while it is, such as the free-space map's fence).
bool startup_load_pending();

// Records a flush of a database scope's entries (pg/database_scope.hpp) while the start-up
// load is pending: no more of its saved entries are loaded. Call before the flush's scan.
void note_flush_during_startup_load(uint32_t scope);

// Whether the start-up load may restore a saved item under this key (as stored: its database
// scope first, 4 bytes): false once the key was written or its scope flushed. Call under the
// lock the marking writers take after marking.
bool startup_load_may_restore_entry(core::KeyView stored_key);

// Whether the start-up load may restore a saved item under this key, whatever was flushed:
// false once a client marked it. Call under the lock the marking writers take after marking.
bool startup_load_may_restore_relation(core::KeyView relation_key);

// Ends the pending state, once the worker has loaded every file or decided not to.
void finish_startup_load();

}  // namespace simple_cache::pg
