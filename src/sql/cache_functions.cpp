// SQL entry points of the key/value cache: read arguments, call the cache, build results.
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/pg/error.hpp"

namespace sc = simple_cache;

namespace {

// Raises the error for a NULL argument where one is not allowed.
void reject_null(FunctionCallInfo fcinfo, int arg, const char *function, const char *name)
{
    if (PG_ARGISNULL(arg))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s: %s must not be NULL", function, name)));
}

// Returns a C++ string as a text Datum.
Datum text_datum(const std::string &s)
{
    return PointerGetDatum(sc::pg::guard([&] { return cstring_to_text_with_len(s.data(), static_cast<int>(s.size())); }));
}

// State of one simple_cache_list() call: where rows go.
struct ListTarget {
    Tuplestorestate *store;
    TupleDesc desc;
};

// Adds one (key, value) row to the result of simple_cache_list().
void emit_list_row(void *context, const char *key, size_t key_size, const char *value, size_t value_size)
{
    auto *target = static_cast<ListTarget *>(context);
    Datum values[2];
    bool nulls[2] = {false, false};
    values[0] = PointerGetDatum(cstring_to_text_with_len(key, static_cast<int>(key_size)));
    values[1] = PointerGetDatum(cstring_to_text_with_len(value, static_cast<int>(value_size)));
    tuplestore_putvalues(target->store, target->desc, values, nulls);
    pfree(DatumGetPointer(values[0]));
    pfree(DatumGetPointer(values[1]));
}

}  // namespace

// simple_cache_put(key text, value text) RETURNS boolean: true when the key existed.
SIMPLE_CACHE_FUNCTION(simple_cache_put)
{
    reject_null(fcinfo, 0, "simple_cache_put", "key");
    reject_null(fcinfo, 1, "simple_cache_put", "value");
    text *key = PG_GETARG_TEXT_PP(0);
    text *value = PG_GETARG_TEXT_PP(1);
    bool existed = sc::cache::put(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), VARDATA_ANY(value),
                                  VARSIZE_ANY_EXHDR(value));
    PG_RETURN_BOOL(existed);
}

// simple_cache_get(key text) RETURNS text: NULL when absent (STRICT: NULL key gives NULL).
SIMPLE_CACHE_FUNCTION(simple_cache_get)
{
    text *key = PG_GETARG_TEXT_PP(0);
    text *value = sc::cache::get(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
    if (value == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_TEXT_P(value);
}

// simple_cache_drop(key text) RETURNS boolean: whether the key was present (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_drop)
{
    text *key = PG_GETARG_TEXT_PP(0);
    PG_RETURN_BOOL(sc::cache::drop(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)));
}

// simple_cache_list(OUT key text, OUT value text) RETURNS SETOF record.
SIMPLE_CACHE_FUNCTION(simple_cache_list)
{
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    ListTarget target{rsinfo->setResult, rsinfo->setDesc};
    sc::cache::list(emit_list_row, &target);
    return (Datum) 0;
}

// simple_cache_set_size_limit(n bigint) RETURNS void.
SIMPLE_CACHE_FUNCTION(simple_cache_set_size_limit)
{
    reject_null(fcinfo, 0, "simple_cache_set_size_limit", "n");
    sc::cache::set_size_limit(PG_GETARG_INT64(0));
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
