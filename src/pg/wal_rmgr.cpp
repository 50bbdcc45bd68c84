// The custom WAL resource manager: its setting, its registration and the callbacks PostgreSQL
// calls, each run through the project's error mechanism (see wal_rmgr.hpp).
#include "simple_cache/pg/wal_rmgr.hpp"

#include <string>

#include "simple_cache/pg/error.hpp"

extern "C" {
#include "access/rmgr.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogreader.h"
#include "access/xlogutils.h"
#include "lib/stringinfo.h"
#include "replication/slot.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "utils/guc.h"
}

namespace simple_cache::pg {

namespace {

// The record's info bits: one kind of record so far.
constexpr uint8 kInvalidationInfo = 0x00;

const char *const kRmgrName = "simple_cache";

int rmgr_id_setting = kDefaultWalRmgrId;
bool registered = false;
RecordRedo redo_handler = nullptr;
RecordDescribe describe_handler = nullptr;

// rm_redo: hands the payload to the feature. A failure is logged as a WARNING and the record is
// skipped: an ERROR here would stop the standby. (The handler falls back to dropping the whole
// database's entries itself when it cannot do better.)
void redo_record(XLogReaderState *record)
{
    const char *payload = XLogRecGetData(record);
    size_t size = XLogRecGetDataLen(record);
    TransactionId xid = XLogRecGetXid(record);
    XLogRecPtr end = record->EndRecPtr;
    run_logging(WARNING, "simple_cache", "replaying a cache invalidation record", [&] {
        if (redo_handler != nullptr)
            redo_handler(payload, size, xid, end);
    });
}

// rm_desc: a one-line description for pg_walinspect and wal_debug.
void describe_record(StringInfo buf, XLogReaderState *record)
{
    const char *payload = XLogRecGetData(record);
    size_t size = XLogRecGetDataLen(record);
    run_raising([&] {
        if (describe_handler != nullptr)
            describe_handler(buf, payload, size);
    });
}

// rm_identify: the name of a record kind.
const char *identify_record(uint8 info)
{
    return (info & ~XLR_INFO_MASK) == kInvalidationInfo ? "INVALIDATE" : nullptr;
}

RmgrData rmgr_data = {
    kRmgrName,        // rm_name
    redo_record,      // rm_redo
    describe_record,  // rm_desc
    identify_record,  // rm_identify
    nullptr,          // rm_startup
    nullptr,          // rm_cleanup
    nullptr,          // rm_mask
    nullptr,          // rm_decode: logical decoding has nothing to do with the cache
};

// Registers the resource manager under the configured id; an id another manager holds is
// refused here with a message naming it (plain PostgreSQL code: runs in _PG_init, where an ERROR
// stops the server's start).
void register_rmgr()
{
    if (!RmgrIdIsCustom(rmgr_id_setting))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("simple_cache.wal_rmgr_id is %d, outside the range of custom WAL resource managers",
                               rmgr_id_setting),
                        errhint("Set it to an id from %d to %d (%d is for development), the same on the primary "
                                "and every standby.",
                                RM_MIN_CUSTOM_ID, RM_MAX_CUSTOM_ID, RM_EXPERIMENTAL_ID)));
    RmgrId id = static_cast<RmgrId>(rmgr_id_setting);
    if (RmgrIdExists(id))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_IN_USE),
                        errmsg("simple_cache: WAL resource manager id %d is already taken by \"%s\"", rmgr_id_setting,
                               RmgrTable[id].rm_name),
                        errdetail("simple_cache registers its resource manager with the id that "
                                  "simple_cache.wal_rmgr_id names."),
                        errhint("Set simple_cache.wal_rmgr_id to a free id from %d to %d, the same on the primary "
                                "and every standby.",
                                RM_MIN_CUSTOM_ID, RM_MAX_CUSTOM_ID)));
    RegisterCustomRmgr(id, &rmgr_data);
    registered = true;
}

}  // namespace

void wal_rmgr_init()
{
    // A PGC_POSTMASTER setting can only be defined while the library is preloaded: a backend
    // that loads it later has no resource manager anyway.
    if (!process_shared_preload_libraries_in_progress)
        return;
    DefineCustomIntVariable("simple_cache.wal_rmgr_id",
                            "Id of simple_cache's custom WAL resource manager.",
                            "The same on the primary and every standby; it must not be used by another "
                            "extension's resource manager.",
                            &rmgr_id_setting, kDefaultWalRmgrId, INT_MIN, INT_MAX, PGC_POSTMASTER, 0, nullptr,
                            nullptr, nullptr);  // any integer: register_rmgr() names a bad one
    register_rmgr();
}

void set_wal_record_handlers(RecordRedo redo, RecordDescribe describe)
{
    redo_handler = redo;
    describe_handler = describe;
}

bool wal_rmgr_registered()
{
    return registered;
}

int wal_rmgr_id()
{
    return rmgr_id_setting;
}

bool recovery_tracks_transactions()
{
    return standbyState != STANDBY_DISABLED;
}

XLogRecPtr log_wal_record(const char *payload, size_t size)
{
    return guard([&] {
        (void) GetTopTransactionId();  // the record carries it: the standby waits for its commit
        XLogBeginInsert();
        XLogRegisterData(const_cast<char *>(payload), static_cast<uint32>(size));
        return XLogInsert(static_cast<RmgrId>(rmgr_id_setting), kInvalidationInfo);
    });
}

bool standbys_evident()
{
    return guard([] {
        if (wal_level < WAL_LEVEL_REPLICA)
            return false;
        if (WalSndCtl != nullptr)
            for (int i = 0; i < max_wal_senders; ++i)
                if (WalSndCtl->walsnds[i].pid != 0)
                    return true;
        bool physical_slot = false;
        if (ReplicationSlotCtl != nullptr && max_replication_slots > 0) {
            LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
            for (int i = 0; i < max_replication_slots; ++i) {
                ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
                if (slot->in_use && slot->data.database == InvalidOid)
                    physical_slot = true;
            }
            LWLockRelease(ReplicationSlotControlLock);
        }
        return physical_slot;
    });
}

}  // namespace simple_cache::pg
