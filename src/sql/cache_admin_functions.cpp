// SQL entry points of the cache's administrative functions: size limit, flush, statistics and
// the dump reports.
#include "arguments.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"

namespace sc = simple_cache;

namespace {

// Returns a C++ string as a text Datum.
Datum text_datum(const std::string &s)
{
    return PointerGetDatum(sc::pg::guard([&] { return cstring_to_text_with_len(s.data(), static_cast<int>(s.size())); }));
}

// Builds the simple_cache_stats() row. Plain PostgreSQL code.
Datum stats_row(FunctionCallInfo fcinfo, const sc::cache::Stats &s)
{
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "simple_cache_stats: return type must be a row type");
    Datum values[13] = {
        Int64GetDatum(s.entries),   Int64GetDatum(s.key_value_bytes), Int64GetDatum(s.area_bytes),
        Int64GetDatum(s.size_limit), Int64GetDatum(s.hits),          Int64GetDatum(s.misses),
        Int64GetDatum(s.puts),      Int64GetDatum(s.drops),           Int64GetDatum(s.evictions),
        Int64GetDatum(s.expirations), Int64GetDatum(s.resizes),       Int64GetDatum(s.buckets),
        TimestampTzGetDatum(s.reset_ms * 1000)};
    bool nulls[13] = {};
    nulls[3] = s.size_limit == 0;
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

}  // namespace

// simple_cache_set_size_limit(n bigint) RETURNS void.
SIMPLE_CACHE_FUNCTION(simple_cache_set_size_limit)
{
    sc::sql::reject_null(fcinfo, 0, "simple_cache_set_size_limit", "n");
    sc::cache::set_size_limit(PG_GETARG_INT64(0));
    PG_RETURN_VOID();
}

// simple_cache_flush() RETURNS bigint: entries of the current database removed.
SIMPLE_CACHE_FUNCTION(simple_cache_flush)
{
    PG_RETURN_INT64(static_cast<int64>(sc::cache::flush()));
}

// simple_cache_stats() RETURNS record (see the install script for the columns).
SIMPLE_CACHE_FUNCTION(simple_cache_stats)
{
    sc::cache::Stats s = sc::cache::stats();
    return stats_row(fcinfo, s);
}

// simple_cache_databases(OUT datid oid, OUT cache_bytes bigint, OUT sessions integer)
// RETURNS SETOF record: one row per database using the extension (see the install script).
SIMPLE_CACHE_FUNCTION(simple_cache_databases)
{
    std::vector<sc::pg::ScopeReport> reports = sc::pg::scope_reports();
    sc::pg::guard([&] {
        InitMaterializedSRF(fcinfo, 0);
        auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
        for (const sc::pg::ScopeReport &r : reports) {
            Datum values[3] = {ObjectIdGetDatum(r.identity.database),
                               Int64GetDatum(r.usage[sc::cache::kScopeCacheBytes]), Int32GetDatum(r.backends)};
            bool nulls[3] = {};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        }
    });
    return (Datum) 0;
}

// simple_cache_stats_reset() RETURNS void.
SIMPLE_CACHE_FUNCTION(simple_cache_stats_reset)
{
    sc::cache::stats_reset();
    PG_RETURN_VOID();
}

// simple_cache_dump_area() RETURNS text.
SIMPLE_CACHE_FUNCTION(simple_cache_dump_area)
{
    return text_datum(sc::cache::dump_area());
}

// simple_cache_dump_hash_table() RETURNS text.
SIMPLE_CACHE_FUNCTION(simple_cache_dump_hash_table)
{
    return text_datum(sc::cache::dump_hash_table());
}
