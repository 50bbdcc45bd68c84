// Logging the invalidations of a transaction at pre-commit and replaying them on the servers
// that read the WAL (see replicated_invalidations.hpp).
#include "simple_cache/cache/replicated_invalidations.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/cache/prefix.hpp"
#include "simple_cache/cache/replica_fences.hpp"
#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"
#include "simple_cache/pg/startup_load.hpp"
#include "simple_cache/pg/wal_rmgr.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"
}

namespace simple_cache::cache {

namespace {

// The largest payload logged as it is, in bytes (simple_cache.debug_invalidation_record_limit,
// a testing aid): a transaction whose keys and prefixes take more is logged as an invalidation
// of its whole database (PostgreSQL caps a WAL record at about 1 GB, and a huge record is
// costly to write and to replay).
constexpr int kDefaultRecordLimit = 64 * 1024 * 1024;
int record_limit = kDefaultRecordLimit;

// The most the setting may be: well under PostgreSQL's limit of a WAL record (1020 MB). 16
// and later refuse a larger record at insertion; 15 writes one without complaint and then
// cannot read it back, so a standby, and the primary's own crash recovery, would stop at it.
constexpr int kMaxRecordLimit = 512 * 1024 * 1024;

// simple_cache.debug_invalidation_record_format (a testing aid): when not 0, the format word the
// records carry instead of core::kInvalidationFormat, as a release with another record layout
// would write them.
int record_format_override = 0;

// simple_cache.unreplicated_invalidations.
enum UnreplicatedPolicy { kWarn, kRefuse, kIgnore };
const struct config_enum_entry unreplicated_options[] = {
    {"warning", kWarn, false}, {"error", kRefuse, false}, {"off", kIgnore, false}, {nullptr, 0, false}};
int unreplicated_policy = kWarn;

// The live scopes of a database on this server (normally one; none before any of its
// sessions used the cache, nor before the shared area exists, which this never creates).
std::vector<pg::ScopeId> scopes_of(Oid database)
{
    std::vector<pg::ScopeId> scopes;
    if (!pg::area_exists())
        return scopes;
    for (const pg::ScopeEntry &entry : pg::live_scopes())
        if (entry.identity.database == database)
            scopes.push_back(entry.id);
    return scopes;
}

// Whether this server's cache exists (never creates it): replay has nothing to drop before.
bool cache_in_use()
{
    return pg::area_exists() && cache_exists();
}

// Invalidates one key of a record in every scope of its database.
void invalidate_key(const std::vector<pg::ScopeId> &scopes, bool cache_present, const char *data, size_t size)
{
    for (pg::ScopeId scope : scopes) {
        ScopedKey stored(scope, data, size);
        pg::note_write_during_startup_load(stored.view());
        if (cache_present) {
            void_leases(stored);
            drop_scoped(stored);
        }
    }
    count_replica_event(ReplicaEvent::key_replayed);
}

// A prefix of a record, as the payload holds it.
struct PayloadPrefix {
    const char *data;
    size_t size;
};

// Drops every entry under any of a record's prefixes in every scope of its database, in one scan
// of the cache per scope, as the primary applies them at commit (a scan per prefix would hold
// the replay up for as many scans), and voids the scopes' leases.
void invalidate_prefixes(const std::vector<pg::ScopeId> &scopes, bool cache_present,
                         const std::vector<PayloadPrefix> &prefixes)
{
    if (prefixes.empty())
        return;
    for (pg::ScopeId scope : scopes) {
        pg::note_flush_during_startup_load(scope);
        if (!cache_present)
            continue;
        std::vector<std::unique_ptr<ScopedKey>> stored;
        std::vector<core::KeyView> views;
        stored.reserve(prefixes.size());
        views.reserve(prefixes.size());
        for (const PayloadPrefix &prefix : prefixes) {
            stored.push_back(std::make_unique<ScopedKey>(scope, prefix.data, prefix.size));
            views.push_back(stored.back()->view());
        }
        keep_outermost_prefixes(views);
        void_scope_leases(scope);
        drop_prefixes_scoped(views.data(), views.size());
        count_replica_event(ReplicaEvent::replay_scan);
    }
}

// The fallback: every entry of the database is dropped and its leases voided.
void invalidate_database(Oid database)
{
    bool cache_present = cache_in_use();
    for (pg::ScopeId scope : scopes_of(database)) {
        pg::note_flush_during_startup_load(scope);
        if (cache_present) {
            void_scope_leases(scope);
            ScopedKey everything(scope, "", 0);
            core::KeyView prefix = everything.view();
            drop_prefixes_scoped(&prefix, 1);
            count_replica_event(ReplicaEvent::replay_scan);
        }
    }
    count_replica_event(ReplicaEvent::database_fallback);
}

// The fallback for a record this release cannot read: every entry of every database on this
// server is dropped and its leases voided.
void invalidate_every_database()
{
    bool cache_present = cache_in_use();
    if (pg::area_exists()) {
        for (const pg::ScopeEntry &entry : pg::live_scopes()) {
            pg::note_flush_during_startup_load(entry.id);
            if (cache_present) {
                void_scope_leases(entry.id);
                ScopedKey everything(entry.id, "", 0);
                core::KeyView prefix = everything.view();
                drop_prefixes_scoped(&prefix, 1);
                count_replica_event(ReplicaEvent::replay_scan);
            }
        }
    }
    count_replica_event(ReplicaEvent::database_fallback);
}

// The first four bytes of a payload of at least four bytes, as the format word is stored.
uint32_t first_word(const char *payload)
{
    uint32_t word;
    std::memcpy(&word, payload, sizeof word);
    return word;
}

// Logs, at `level`, why a replay fell back to the whole database.
void log_fallback(int level, Oid database, TransactionId xid, const char *why)
{
    pg::guard([&] {
        ereport(level, (errmsg("simple_cache: replaying the invalidations of transaction %u, every cache entry "
                               "of database %u is dropped",
                               xid, database),
                        errdetail("%s", why)));
    });
}

// Replays one record (rm_redo, through the pg layer): fences first, then the drops. Never
// raises: whatever fails falls back to the whole database.
void replay_record(const char *payload, size_t size, TransactionId record_xid, XLogRecPtr)
{
    core::InvalidationHeader header;
    bool well_formed = core::read_invalidation_record(payload, size, &header,
                                                      [](core::InvalidationKind, const char *, size_t) {});
    if (!well_formed) {
        // A record of another layout (another release of the library on the primary) or a
        // damaged one: it may name any keys of any database. Skipping it would leave the
        // invalidated values in this server's cache for good, so every database's entries are
        // fenced with the record's xid (which PostgreSQL's record header carries) and dropped.
        if (pg::recovery_tracks_transactions() && TransactionIdIsValid(record_xid))
            install_every_database_fence(record_xid);
        pg::run_logging(WARNING, "simple_cache", "replaying a cache invalidation record", [&] {
            invalidate_every_database();
            throw pg::SqlError(ERRCODE_DATA_CORRUPTED,
                               "simple_cache: a cache invalidation record is not in this release's format, "
                               "every cache entry of every database is dropped",
                               "The primary may run another release of simple_cache (record format " +
                                   std::to_string(size >= 4 ? first_word(payload) : 0) + ", this release reads " +
                                   std::to_string(core::kInvalidationFormat) + "), or the record is damaged.",
                               "Run the same release of simple_cache on the primary and every standby.");
        });
        return;
    }
    if (TransactionIdIsValid(record_xid))
        header.xid = record_xid;
    count_replica_event(ReplicaEvent::record_replayed);
    // Fences only where sessions may read while the transaction is in progress (a hot
    // standby); in crash recovery its state is not tracked and no session can connect.
    bool fence = pg::recovery_tracks_transactions();
    bool replayed = pg::run_logging(WARNING, "simple_cache", "replaying a cache invalidation record", [&] {
        resolve_finished_fences();
        FenceInstall fenced = fence ? install_fences(header, payload, size) : FenceInstall::precise;
        if (fenced == FenceInstall::overflow) {
            log_fallback(LOG, header.database, header.xid,
                         "The fence table is full: every put on this server is refused until the "
                         "transactions up to this one have ended.");
            invalidate_database(header.database);
            return;
        }
        // FenceInstall::database (more keys than the table holds one by one): the fence covers
        // the whole database until the commit, but the record's own keys are all known, so only
        // they are dropped (a bulk update must not empty the standby's cache of the database).
        std::vector<pg::ScopeId> scopes = scopes_of(header.database);
        bool cache_present = !scopes.empty() && cache_in_use();
        std::vector<PayloadPrefix> prefixes;
        core::read_invalidation_record(payload, size, &header,
                                       [&](core::InvalidationKind kind, const char *data, size_t length) {
                                           if (kind == core::InvalidationKind::key) {
                                               invalidate_key(scopes, cache_present, data, length);
                                           } else {
                                               prefixes.push_back(PayloadPrefix{data, length});
                                               count_replica_event(ReplicaEvent::prefix_replayed);
                                           }
                                       });
        invalidate_prefixes(scopes, cache_present, prefixes);
    });
    if (!replayed) {
        if (fence)
            install_database_fence(header.xid, header.database);
        pg::run_logging(WARNING, "simple_cache", "dropping a database's cache entries", [&] {
            log_fallback(WARNING, header.database, header.xid,
                         "The precise replay failed (see the previous message).");
            invalidate_database(header.database);
        });
    }
}

// rm_desc: "xid X database D: N keys, M prefixes".
void describe_record(StringInfo buf, const char *payload, size_t size)
{
    core::InvalidationHeader header;
    uint32_t keys = 0;
    uint32_t prefixes = 0;
    bool well_formed = core::read_invalidation_record(payload, size, &header,
                                                      [&](core::InvalidationKind kind, const char *, size_t) {
                                                          ++(kind == core::InvalidationKind::key ? keys : prefixes);
                                                      });
    pg::guard([&] {
        if (!well_formed)
            appendStringInfoString(buf, "malformed");
        else
            appendStringInfo(buf, "xid %u database %u: %u keys, %u prefixes", header.xid, header.database, keys,
                             prefixes);
    });
}

// Applies simple_cache.unreplicated_invalidations to a transaction whose invalidations cannot
// be logged.
void invalidations_not_logged()
{
    if (unreplicated_policy == kIgnore || !pg::standbys_evident())
        return;
    const char *message = "simple_cache: this transaction's cache invalidations do not reach the standbys";
    const char *detail = "simple_cache is not in shared_preload_libraries, so its WAL resource manager is not "
                         "registered; the invalidations apply to this server's cache only.";
    const char *hint = "Add simple_cache to shared_preload_libraries on the primary and every standby, or set "
                       "simple_cache.unreplicated_invalidations to off.";
    if (unreplicated_policy == kRefuse)
        throw pg::SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, message, detail, hint);
    pg::guard([&] { ereport(WARNING, (errmsg("%s", message), errdetail("%s", detail), errhint("%s", hint))); });
}

}  // namespace

void replicate_invalidations(core::InvalidationRecordWriter &record)
{
    if (record.items() == 0)
        return;
    if (pg::guard([] { return RecoveryInProgress(); }))
        return;  // a standby's own writes at commit are its own
    if (!pg::wal_rmgr_registered()) {
        invalidations_not_logged();
        return;
    }
    uint32_t xid = pg::guard([] { return GetTopTransactionId(); });
    record.set_xid(xid);
    if (record_format_override != 0)
        record.set_format(static_cast<uint32_t>(record_format_override));
    std::string_view payload = record.payload();
    if (payload.size() > static_cast<size_t>(record_limit)) {
        // Too large for one record: the standbys drop every key of the database instead (the
        // empty prefix), as a flush would.
        core::InvalidationRecordWriter whole_database(xid, MyDatabaseId);
        whole_database.add(core::InvalidationKind::prefix, "", 0);
        std::string_view small = whole_database.payload();
        pg::log_wal_record(small.data(), small.size());
        count_replica_event(ReplicaEvent::record_logged);
        return;
    }
    pg::log_wal_record(payload.data(), payload.size());
    count_replica_event(ReplicaEvent::record_logged);
}

void replicated_invalidations_init()
{
    DefineCustomEnumVariable("simple_cache.unreplicated_invalidations",
                             "What writes at commit do on a server with standbys when they cannot be "
                             "WAL-logged (simple_cache not preloaded).",
                             "warning: apply locally and warn; error: refuse the commit; off: apply "
                             "locally. Only when the server has a WAL sender or a physical replication slot.",
                             &unreplicated_policy, kWarn, unreplicated_options, PGC_SUSET, 0, nullptr, nullptr,
                             nullptr);
    DefineCustomIntVariable("simple_cache.debug_invalidation_record_limit",
                            "Testing aid: the most bytes of keys and prefixes one transaction's WAL record "
                            "holds; over it the record invalidates the whole database.",
                            nullptr, &record_limit, kDefaultRecordLimit, 64, kMaxRecordLimit, PGC_SUSET,
                            GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.debug_invalidation_record_format",
                            "Testing aid: when not 0, the format word of the WAL records of invalidations, "
                            "in place of this release's.",
                            nullptr, &record_format_override, 0, 0, INT_MAX, PGC_SUSET,
                            GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr, nullptr, nullptr);
    pg::set_wal_record_handlers(replay_record, describe_record);
    if (process_shared_preload_libraries_in_progress)
        replica_fences_install();
}

}  // namespace simple_cache::cache
