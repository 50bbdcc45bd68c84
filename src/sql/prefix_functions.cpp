// SQL entry points of the prefix operations: list, count and drop the keys under a prefix.
#include "arguments.hpp"
#include "simple_cache/pg/error.hpp"

namespace sc = simple_cache;

namespace {

// Where the rows of a listing go.
struct PrefixRows {
    Tuplestorestate *store;
    TupleDesc desc;
};

// Adds one (key, value) row to the materialised result; a null value gives NULL.
void emit_prefix_row(void *context, const sc::cache::ListedRow &row)
{
    auto *target = static_cast<PrefixRows *>(context);
    Datum values[2] = {PointerGetDatum(row.key), PointerGetDatum(row.value)};
    bool nulls[2] = {false, row.value == nullptr};
    tuplestore_putvalues(target->store, target->desc, values, nulls);
}

}  // namespace

// simple_cache_list_prefix(prefix text, OUT key text, OUT value text) RETURNS SETOF record
// (STRICT): the live entries whose key starts with prefix, copied out in batches of at most
// work_mem as simple_cache_list() does.
SIMPLE_CACHE_FUNCTION(simple_cache_list_prefix)
{
    sc::sql::Bytes prefix = sc::sql::bytes_arg(fcinfo, 0);
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    PrefixRows target{rsinfo->setResult, rsinfo->setDesc};
    sc::cache::list(static_cast<size_t>(work_mem) * 1024, emit_prefix_row, &target, prefix.data, prefix.size);
    return (Datum) 0;
}

// simple_cache_count_prefix(prefix text) RETURNS bigint (STRICT): how many live entries.
SIMPLE_CACHE_FUNCTION(simple_cache_count_prefix)
{
    sc::sql::Bytes prefix = sc::sql::bytes_arg(fcinfo, 0);
    PG_RETURN_INT64(static_cast<int64_t>(sc::cache::count_prefix(prefix.data, prefix.size)));
}

// simple_cache_drop_prefix(prefix text) RETURNS bigint (STRICT): drops them now; how many.
SIMPLE_CACHE_FUNCTION(simple_cache_drop_prefix)
{
    sc::sql::Bytes prefix = sc::sql::bytes_arg(fcinfo, 0);
    PG_RETURN_INT64(static_cast<int64_t>(sc::cache::drop_prefix(prefix.data, prefix.size)));
}
