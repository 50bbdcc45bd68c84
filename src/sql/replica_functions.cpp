// SQL entry point of the replication report: what this server logged for its standbys and what
// it replayed from its primary (replicated_invalidations.hpp).
#include "arguments.hpp"
#include "simple_cache/cache/replica_fences.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/wal_rmgr.hpp"

namespace sc = simple_cache;

namespace {

// Builds the simple_cache_replica_stats() row. Plain PostgreSQL code.
Datum replica_row(FunctionCallInfo fcinfo, const sc::cache::ReplicaCounters &c, bool registered, int rmgr_id)
{
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "simple_cache_replica_stats: return type must be a row type");
    Datum values[11] = {BoolGetDatum(registered),
                        Int32GetDatum(rmgr_id),
                        Int64GetDatum(static_cast<int64>(c.records_logged)),
                        Int64GetDatum(static_cast<int64>(c.records_replayed)),
                        Int64GetDatum(static_cast<int64>(c.keys_replayed)),
                        Int64GetDatum(static_cast<int64>(c.prefixes_replayed)),
                        Int64GetDatum(static_cast<int64>(c.database_fallbacks)),
                        Int64GetDatum(static_cast<int64>(c.fences_active)),
                        Int64GetDatum(static_cast<int64>(c.puts_refused)),
                        BoolGetDatum(c.replayed_since_start),
                        Int64GetDatum(static_cast<int64>(c.replay_scans))};
    bool nulls[11] = {};
    nulls[1] = !registered;  // no id in use without a resource manager
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

}  // namespace

// simple_cache_replica_stats() RETURNS record (see the install script for the columns).
SIMPLE_CACHE_FUNCTION(simple_cache_replica_stats)
{
    sc::cache::ReplicaCounters counters = sc::cache::replica_counters();
    return replica_row(fcinfo, counters, sc::pg::wal_rmgr_registered(), sc::pg::wal_rmgr_id());
}
