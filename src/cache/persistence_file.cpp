// The saved cache: saving and loading the cache's entries through the pg layer's saved files
// (see persistence_file.hpp), and its handler for the persistence worker.
#include "simple_cache/cache/persistence_file.hpp"

#include <string>

#include "simple_cache/cache/replica_fences.hpp"
#include "simple_cache/cache/snapshot.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

extern "C" {
#include "access/xlog.h"
#include "utils/timestamp.h"
}

namespace simple_cache::cache {

static_assert(core::kSavedKeyMaxBytes == kMaxKeyBytes, "the file format's key limit is the cache's");
static_assert(core::kSavedValueMaxBytes == kMaxValueBytes, "the file format's value limit is the cache's");
static_assert(core::kSavedExpiryMaxMs == kMaxExpiresMs, "the file format's expiry limit is the cache's");
static_assert(static_cast<uint8_t>(core::SavedValueKind::text) == static_cast<uint8_t>(ValueKind::text) &&
                  static_cast<uint8_t>(core::SavedValueKind::bytea) == static_cast<uint8_t>(ValueKind::bytea),
              "the file format's value kinds are the cache's");

namespace {

// Records restored between checks for query cancel.
constexpr uint64_t kRecordsPerInterruptCheck = 1024;

pg::SavedFileId registered_id = -1;

// Appends one cache entry's record.
void add_entry(pg::FileWriter &writer, const SnapshotEntry &entry)
{
    core::SavedEntry saved{core::SavedDatabase{entry.database.database, entry.database.row_xmin,
                                               entry.database.extension},
                           static_cast<core::SavedValueKind>(entry.kind),
                           entry.expires_ms,
                           entry.key,
                           entry.key_size,
                           entry.value,
                           entry.value_size};
    char head[core::kSnapshotRecordHeaderBytes];
    core::encode_cache_record_head(saved, head);
    writer.append(head, sizeof head);
    writer.append(entry.key, entry.key_size);
    writer.append(entry.value, entry.value_size);
    writer.end_record();
}

// The start-up load of the saved cache (SavedFileHandler::load_at_startup): never undoes newer
// writes; logs what it loaded. Returns false when stop_requested ended it.
bool load_at_startup(bool (*stop_requested)(), pg::LoadProgress *progress)
{
    // The file may predate invalidations this server has replayed, or will replay, from WAL: a
    // standby does not load it; nor does a server whose recovery replayed invalidations.
    bool in_recovery = pg::guard([] { return RecoveryInProgress(); });
    if (in_recovery || invalidations_replayed_since_start()) {
        pg::guard([in_recovery] {
            ereport(LOG, (errmsg("simple_cache: the saved cache \"%s\" is not loaded", kSnapshotFileName),
                          errdetail(in_recovery ? "The server is a standby: the file may hold keys that WAL it "
                                                  "replays has invalidated."
                                                : "Recovery replayed cache invalidations that the file may "
                                                  "predate.")));
        });
        return true;
    }
    LoadResult r = load_snapshot(stop_requested, false, progress);
    if (!r.found) {
        pg::guard([] { ereport(DEBUG1, (errmsg_internal("simple_cache: no saved cache to load"))); });
        return true;
    }
    if (r.stopped)
        return false;
    pg::guard([&] {
        ereport(LOG, (errmsg("simple_cache: loaded %llu entries from \"%s\"", static_cast<unsigned long long>(r.loaded),
                             kSnapshotFileName),
                      errdetail("The file was saved at %s; %llu saved entries had expired, %llu did not fit, "
                                "%llu were left to what clients did since the start.%s",
                                timestamptz_to_str(r.saved_at_ms * 1000), static_cast<unsigned long long>(r.expired),
                                static_cast<unsigned long long>(r.no_room), static_cast<unsigned long long>(r.skipped),
                                r.attempts > 1 ? " The load resumed where an earlier attempt had stopped." : "")));
    });
    return true;
}

// What the persistence worker needs to load and save the cache.
const pg::SavedFileHandler kHandler = {kSnapshotFileName, "cache", "entries", "simple_cache_save()",
                                       "simple_cache_load()", load_at_startup, save_snapshot};

}  // namespace

pg::SaveResult save_snapshot()
{
    pg::FileWriter writer(core::kSnapshotFormat);
    int64_t saved_at = pg::saved_at_now_ms();
    export_entries([&](const SnapshotEntry &entry) { add_entry(writer, entry); });
    return writer.commit(saved_at);
}

LoadResult load_snapshot(bool (*stop_requested)(), bool replace_existing, pg::LoadProgress *progress)
{
    LoadResult out;
    pg::LoadProgress fresh;
    pg::LoadProgress &p = progress != nullptr ? *progress : fresh;
    uint64_t seen = 0;
    pg::SavedScopes scopes;
    core::RecordVisitor restore = [&](const core::SavedEntry &entry) {
        if (stop_requested != nullptr && stop_requested()) {
            out.stopped = true;
            return false;
        }
        pg::ScopeId scope = scopes.scope_for(
            pg::DatabaseIdentity{entry.database.database, entry.database.row_xmin, entry.database.extension});
        if (scope == pg::kNoScope) {
            ++p.orphaned;
            return true;
        }
        try {
            RestoreOutcome outcome = restore_entry(
                scope, entry.key, entry.key_size,
                ValueBytes{entry.value, entry.value_size, static_cast<ValueKind>(entry.kind)}, entry.expires_ms,
                replace_existing);
            if (outcome == RestoreOutcome::stored)
                ++p.loaded;
            else if (outcome == RestoreOutcome::expired)
                ++p.expired;
            else
                ++p.skipped;
        } catch (const pg::SqlError &e) {
            if (e.sqlstate() != ERRCODE_OUT_OF_MEMORY)
                throw;
            ++p.no_room;
        }
        if (++seen % kRecordsPerInterruptCheck == 0)
            pg::check_for_interrupts();
        return true;
    };
    std::string bytes;
    pg::FileLoad load = pg::load_file(
        core::kSnapshotFormat,
        [&](core::PayloadReader &in, uint64_t i, std::string &problem) {
            return core::read_cache_record(in, i, problem, nullptr, bytes);
        },
        [&](core::PayloadReader &in, uint64_t i, std::string &problem) {
            return core::read_cache_record(in, i, problem, &restore, bytes);
        },
        p);
    static_cast<pg::LoadProgress &>(out) = p;
    out.found = load.found;
    if (load.found && !load.result.valid)
        throw pg::invalid_file_error(core::kSnapshotFormat,
                                     load.result.problem + " The file changed while it was being loaded.",
                                     (std::to_string(p.loaded) + " entries were loaded before the defect.").c_str());
    return out;
}

void persistence_init()
{
    registered_id = pg::register_saved_file(kHandler);
}

pg::SavedFileId saved_file_id()
{
    return registered_id;
}

}  // namespace simple_cache::cache
