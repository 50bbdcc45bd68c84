// The extension's custom WAL resource manager ("simple_cache"), through which the cache's
// invalidations that take effect at commit reach every standby (and are replayed again by
// crash recovery). PostgreSQL 15 and later let a library registered in
// shared_preload_libraries add one; the id is the setting simple_cache.wal_rmgr_id, and every
// server that replays the WAL (the primary after a crash, each standby) must preload the
// library with the same id, or its recovery stops at the first record with PostgreSQL's
// "resource manager ... does not exist" error.
//
// This layer only registers the manager, writes records and hands each replayed record to the
// handler a feature installed (the cache, see cache/replicated_invalidations.cpp); what a record
// means is the feature's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// The resource manager's default id: PostgreSQL's id for extensions under development. A
// production cluster that runs another extension with a custom resource manager picks a free
// id (see PostgreSQL's wiki page of registered custom resource managers) and sets it on the
// primary and every standby.
inline constexpr int kDefaultWalRmgrId = 128;

// Replays one record's payload. Called in the startup process (crash recovery, standbys): it
// must not raise an error (it is run under run_logging(), so a failure is logged, not raised,
// but it should not rely on that), and it must leave shared memory consistent.
using RecordRedo = void (*)(const char *payload, size_t size, TransactionId record_xid, XLogRecPtr end_lsn);

// Describes a record's payload for pg_walinspect and wal_debug (appends to buf).
using RecordDescribe = void (*)(StringInfo buf, const char *payload, size_t size);

// When the library is being preloaded: defines simple_cache.wal_rmgr_id and registers the
// resource manager with it (refusing to start, with a message naming both managers, when the
// id is taken). Without preloading it does nothing (the setting is a placeholder then). From
// pg::init().
void wal_rmgr_init();

// Installs the feature's replay and describe functions (from _PG_init).
void set_wal_record_handlers(RecordRedo redo, RecordDescribe describe);

// Whether this process registered the resource manager (the library was preloaded).
bool wal_rmgr_registered();

// The id in use (the setting's value; its default when not preloaded).
int wal_rmgr_id();

// Whether the recovery in progress tracks the transactions it replays for hot standby readers
// (PostgreSQL's standby state is past "disabled"). Crash recovery does not, nor does it need to:
// no session connects before it ends, when every replayed transaction has ended.
bool recovery_tracks_transactions();

// Writes a record with payload in the current transaction, whose top-level xid it carries
// (one is assigned if the transaction had none); returns the record's end. Raises
// PostgreSQL's errors as PgError. Only when wal_rmgr_registered() and not in recovery.
XLogRecPtr log_wal_record(const char *payload, size_t size);

// Whether this server shows signs of having standbys that replay its WAL: wal_level replica or
// higher, and a WAL sender running or a physical replication slot. A standby that is down and
// has no slot leaves no sign.
bool standbys_evident();

}  // namespace simple_cache::pg
