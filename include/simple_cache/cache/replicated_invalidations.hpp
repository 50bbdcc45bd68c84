// Invalidations that reach the standbys through WAL.
//
// The writes a transaction makes at commit (simple_cache_invalidate(), _invalidate_prefix(),
// _put_at_commit(), _incr_at_commit() and the invalidation trigger) are applied locally at
// commit (pending_writes.cpp). With the library preloaded, the pending writes also log, at
// pre-commit, one WAL record per transaction through the custom resource manager
// (pg/wal_rmgr.hpp): the top-level xid, the database's oid, every key the transaction writes
// and every prefix it drops. The cache itself is not replicated: on every server that replays
// the record (a standby; the primary in crash recovery) each key and prefix is invalidated,
// and each server fills its own cache again.
//
// Replay (the startup process) installs the fences of replica_fences.hpp first, then drops the
// keys and prefixes from this server's cache and voids their leases: from then on no fill of
// those keys is stored until the transaction's commit (or abort) has been replayed and is
// visible, so a reader never puts back a value it computed from the rows as they were before
// the commit. A record replays the same way twice (idempotent). Should the replay fail (no
// memory), it falls back to fencing and dropping every entry of the database, and logs it;
// it never raises an error, which would stop the standby. A record it cannot read (another
// release's layout, or damage) is not skipped: every entry of every database is fenced, with
// the xid of PostgreSQL's record header, and dropped, with a WARNING.
//
// Without the library preloaded no resource manager exists: the writes apply locally only, and
// simple_cache.unreplicated_invalidations says what happens when the server shows signs of
// having standbys (a WAL sender or a physical replication slot): a WARNING (the default), an
// ERROR that rolls the transaction back, or nothing.
#pragma once

#include "simple_cache/core/invalidation_record.hpp"

namespace simple_cache::cache {

// Logs the transaction's invalidations (at pre-commit, before the commit record), or applies the
// policy above when they cannot be logged. May raise (the transaction then rolls back).
void replicate_invalidations(core::InvalidationRecordWriter &record);

// Installs the replay and describe functions with the pg layer, the fence table when
// preloaded, and the setting (from init()).
void replicated_invalidations_init();

}  // namespace simple_cache::cache
