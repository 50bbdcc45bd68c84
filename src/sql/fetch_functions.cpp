// SQL entry points of read-through with leases: simple_cache_fetch, the two-step lease
// functions and the lease report.
#include "arguments.hpp"
#include "simple_cache/cache/fetch.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/pg/citus_routing.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/value_query.hpp"

extern "C" {
#include "access/xact.h"
}

namespace sc = simple_cache;
using sc::cache::ValueKind;
using sc::sql::reject_null;

namespace {

// Runs fetch's query (context: the query argument, a text datum; only a miss converts it).
varlena *run_fetch_query(void *context)
{
    return sc::pg::query_single_value(static_cast<text *>(context), "simple_cache_fetch");
}

// Raises 22023 for a lease number that no lease can have.
void reject_bad_lease(int64 lease, const char *function)
{
    if (lease <= 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: lease must be a number returned by simple_cache_get_or_lease", function)));
}

}  // namespace

// simple_cache_fetch(key text, query text [, ttl interval]) RETURNS text: the cached value, or
// the query's value, computed by one session at a time and stored.
SIMPLE_CACHE_FUNCTION(simple_cache_fetch)
{
    reject_null(fcinfo, 0, "simple_cache_fetch", "key");
    reject_null(fcinfo, 1, "simple_cache_fetch", "query");
    sc::cache::Ttl ttl = sc::sql::ttl_arg(fcinfo, 2, "simple_cache_fetch");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_fetch", key.data, key.size);
    text *query = PG_GETARG_TEXT_PP(1);
    // Under REPEATABLE READ or SERIALIZABLE the query sees a snapshot that may predate a write
    // whose invalidation came before the lease: such a value is returned, never stored.
    bool may_store = !IsolationUsesXactSnapshot();
    PG_RETURN_POINTER(sc::cache::fetch(key.data, key.size, ttl, may_store, run_fetch_query, query));
}

// simple_cache_get_or_lease(key text [, lease_time interval], OUT value text, OUT lease bigint):
// a hit gives (value, NULL); a miss (NULL, lease) or, when another session holds the lease,
// (NULL, NULL).
SIMPLE_CACHE_FUNCTION(simple_cache_get_or_lease)
{
    reject_null(fcinfo, 0, "simple_cache_get_or_lease", "key");
    int64_t lease_ms = sc::cache::lease_time_ms();
    if (PG_NARGS() > 1) {
        reject_null(fcinfo, 1, "simple_cache_get_or_lease", "lease_time");
        lease_ms = sc::sql::interval_ms(PG_GETARG_INTERVAL_P(1), "simple_cache_get_or_lease", "lease time");
    }
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("simple_cache_get_or_lease: no row type")));
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_get_or_lease", key.data, key.size);
    sc::cache::LeaseOrValue got = sc::cache::get_or_lease(key.data, key.size, lease_ms);
    Datum values[2] = {PointerGetDatum(got.value), Int64GetDatum(static_cast<int64>(got.token))};
    bool nulls[2] = {got.value == nullptr, got.token == 0};
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

// simple_cache_put_leased(key text, value text, lease bigint [, ttl interval]) RETURNS boolean:
// stores the value if the lease is still valid (not voided by a write or drop of the key, not
// expired); ends the lease either way.
SIMPLE_CACHE_FUNCTION(simple_cache_put_leased)
{
    reject_null(fcinfo, 0, "simple_cache_put_leased", "key");
    reject_null(fcinfo, 1, "simple_cache_put_leased", "value");
    reject_null(fcinfo, 2, "simple_cache_put_leased", "lease");
    reject_bad_lease(PG_GETARG_INT64(2), "simple_cache_put_leased");
    sc::cache::Ttl ttl = sc::sql::ttl_arg(fcinfo, 3, "simple_cache_put_leased");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_put_leased", key.data, key.size);
    sc::sql::Bytes value = sc::sql::bytes_arg(fcinfo, 1);
    PG_RETURN_BOOL(sc::cache::put_leased(key.data, key.size,
                                         sc::cache::ValueBytes{value.data, value.size, ValueKind::text},
                                         static_cast<uint64_t>(PG_GETARG_INT64(2)), ttl));
}

// simple_cache_release_lease(key text, lease bigint) RETURNS boolean: gives the lease up
// without storing, so that waiters go on at once; false when it is not out (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_release_lease)
{
    reject_bad_lease(PG_GETARG_INT64(1), "simple_cache_release_lease");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_release_lease", key.data, key.size);
    PG_RETURN_BOOL(sc::cache::release_lease(key.data, key.size, static_cast<uint64_t>(PG_GETARG_INT64(1))));
}

// simple_cache_leases(OUT holder_pid integer, OUT expires timestamptz, OUT voided boolean):
// the leases out on keys of the current database.
SIMPLE_CACHE_FUNCTION(simple_cache_leases)
{
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    auto *leases = static_cast<sc::cache::LeaseReport *>(
        palloc(sizeof(sc::cache::LeaseReport) * sc::cache::kLeaseSlots));
    uint32_t count = sc::cache::report_leases(leases);
    for (uint32_t i = 0; i < count; ++i) {
        Datum values[3] = {Int32GetDatum(leases[i].holder_pid),
                           TimestampTzGetDatum(static_cast<TimestampTz>(leases[i].expires_ms) * 1000),
                           BoolGetDatum(leases[i].voided)};
        bool nulls[3] = {false, false, false};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum) 0;
}
