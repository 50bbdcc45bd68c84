// SQL entry points of the cache's data functions: read arguments, call the cache, build results.
#include "arguments.hpp"
#include "simple_cache/pg/citus_routing.hpp"
#include "simple_cache/pg/error.hpp"

extern "C" {
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace sc = simple_cache;
using sc::cache::PutMode;
using sc::cache::ValueKind;
using sc::sql::reject_null;

namespace {

// The common body of every put-like function: put(key, value [, ttl]) in the given mode.
Datum put_like(FunctionCallInfo fcinfo, const char *function, PutMode mode, ValueKind kind)
{
    reject_null(fcinfo, 0, function, "key");
    reject_null(fcinfo, 1, function, "value");
    sc::cache::Ttl ttl = sc::sql::ttl_arg(fcinfo, 2, function);
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, function, key.data, key.size);
    sc::sql::Bytes value = sc::sql::bytes_arg(fcinfo, 1);
    sc::cache::PutOutcome outcome =
        sc::cache::put(key.data, key.size, sc::cache::ValueBytes{value.data, value.size, kind}, mode, ttl);
    PG_RETURN_BOOL(mode == PutMode::upsert ? outcome.existed : outcome.stored);
}

// The common body of get and get_bytea.
Datum get_as(FunctionCallInfo fcinfo, ValueKind kind)
{
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, kind == ValueKind::text ? "simple_cache_get" : "simple_cache_get_bytea",
                                 key.data, key.size);
    varlena *value = sc::cache::get(key.data, key.size, kind);
    if (value == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_POINTER(value);
}

// State of one list-like call: where rows go.
struct RowTarget {
    Tuplestorestate *store;
    TupleDesc desc;
};

// Adds one (key, value) row of a listing to a materialised result; a null value gives NULL.
void emit_row(void *context, const sc::cache::ListedRow &row)
{
    auto *target = static_cast<RowTarget *>(context);
    Datum values[2] = {PointerGetDatum(row.key), PointerGetDatum(row.value)};
    bool nulls[2] = {false, row.value == nullptr};
    tuplestore_putvalues(target->store, target->desc, values, nulls);
}

}  // namespace

// simple_cache_put(key text, value text [, ttl interval]) RETURNS boolean: whether the key existed.
SIMPLE_CACHE_FUNCTION(simple_cache_put)
{
    return put_like(fcinfo, "simple_cache_put", PutMode::upsert, ValueKind::text);
}

// simple_cache_put(key text, value bytea [, ttl interval]) RETURNS boolean.
SIMPLE_CACHE_FUNCTION(simple_cache_put_bytea)
{
    return put_like(fcinfo, "simple_cache_put", PutMode::upsert, ValueKind::bytea);
}

// simple_cache_add(key text, value text [, ttl interval]) RETURNS boolean: stored only if absent.
SIMPLE_CACHE_FUNCTION(simple_cache_add)
{
    return put_like(fcinfo, "simple_cache_add", PutMode::add, ValueKind::text);
}

// simple_cache_add(key text, value bytea [, ttl interval]) RETURNS boolean.
SIMPLE_CACHE_FUNCTION(simple_cache_add_bytea)
{
    return put_like(fcinfo, "simple_cache_add", PutMode::add, ValueKind::bytea);
}

// simple_cache_replace(key text, value text [, ttl interval]) RETURNS boolean: only if present.
SIMPLE_CACHE_FUNCTION(simple_cache_replace)
{
    return put_like(fcinfo, "simple_cache_replace", PutMode::replace, ValueKind::text);
}

// simple_cache_replace(key text, value bytea [, ttl interval]) RETURNS boolean.
SIMPLE_CACHE_FUNCTION(simple_cache_replace_bytea)
{
    return put_like(fcinfo, "simple_cache_replace", PutMode::replace, ValueKind::bytea);
}

// simple_cache_get(key text) RETURNS text: NULL when absent (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_get)
{
    return get_as(fcinfo, ValueKind::text);
}

// simple_cache_get_bytea(key text) RETURNS bytea: NULL when absent (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_get_bytea)
{
    return get_as(fcinfo, ValueKind::bytea);
}

// simple_cache_drop(key text) RETURNS boolean: whether the key was present (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_drop)
{
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_drop", key.data, key.size);
    PG_RETURN_BOOL(sc::cache::drop(key.data, key.size));
}

// simple_cache_expire(key text, ttl interval) RETURNS boolean: false when absent (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_expire)
{
    int64_t ms = sc::sql::interval_ms(PG_GETARG_INTERVAL_P(1), "simple_cache_expire");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_expire", key.data, key.size);
    PG_RETURN_BOOL(sc::cache::expire(key.data, key.size, ms));
}

// simple_cache_ttl(key text) RETURNS interval: NULL when absent or without expiry (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_ttl)
{
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_ttl", key.data, key.size);
    int64_t remaining = 0;
    if (!sc::cache::ttl(key.data, key.size, &remaining) || remaining < 0)
        PG_RETURN_NULL();
    auto *result = static_cast<Interval *>(palloc0(sizeof(Interval)));
    result->time = remaining * 1000;
    PG_RETURN_INTERVAL_P(result);
}

// simple_cache_incr(key text, delta bigint DEFAULT 1) RETURNS bigint, and
// simple_cache_incr(key text, delta bigint, ttl interval): the ttl of a key it creates (NULL: none).
SIMPLE_CACHE_FUNCTION(simple_cache_incr)
{
    reject_null(fcinfo, 0, "simple_cache_incr", "key");
    reject_null(fcinfo, 1, "simple_cache_incr", "delta");
    sc::cache::Ttl ttl = PG_NARGS() > 2 ? sc::sql::ttl_arg(fcinfo, 2, "simple_cache_incr") : sc::cache::Ttl::never();
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_incr", key.data, key.size);
    PG_RETURN_INT64(sc::cache::incr(key.data, key.size, PG_GETARG_INT64(1), ttl));
}

// simple_cache_get_and_drop(key text) RETURNS text: the value, removed; NULL when absent (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_get_and_drop)
{
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_get_and_drop", key.data, key.size);
    varlena *value = sc::cache::get_and_drop(key.data, key.size, ValueKind::text);
    if (value == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_POINTER(value);
}

// simple_cache_get_and_drop_bytea(key text) RETURNS bytea (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_get_and_drop_bytea)
{
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_get_and_drop_bytea", key.data, key.size);
    varlena *value = sc::cache::get_and_drop(key.data, key.size, ValueKind::bytea);
    if (value == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_POINTER(value);
}

// simple_cache_cas(key text, expected text, new_value text) RETURNS boolean.
SIMPLE_CACHE_FUNCTION(simple_cache_cas)
{
    reject_null(fcinfo, 0, "simple_cache_cas", "key");
    reject_null(fcinfo, 1, "simple_cache_cas", "expected");
    reject_null(fcinfo, 2, "simple_cache_cas", "new_value");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_cas", key.data, key.size);
    sc::sql::Bytes expected = sc::sql::bytes_arg(fcinfo, 1);
    sc::sql::Bytes fresh = sc::sql::bytes_arg(fcinfo, 2);
    PG_RETURN_BOOL(sc::cache::cas(key.data, key.size, expected.data, expected.size,
                                  sc::cache::ValueBytes{fresh.data, fresh.size, ValueKind::text}));
}

// Raises 54000 for a value that does not fit in a (key, value) row with its key.
static void reject_row_too_large(const char *key, size_t key_size, size_t value_size)
{
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("simple_cache_mget: the value of key \"%.*s%s\" is too large for a row",
                           pg_mbcliplen(key, static_cast<int>(key_size), 100), key, key_size > 100 ? "..." : ""),
                    errdetail("Its key and value, %zu bytes, would pass the 1 GB limit of a row.",
                              key_size + value_size),
                    errhint("Read it with simple_cache_get().")));
}

// simple_cache_mget(keys text[]) RETURNS TABLE(key text, value text): one row per element, in
// order; NULL value for absent keys (and for NULL elements, whose key is NULL too). The keys
// are read in steps of at most cache::kMaxBatchKeys keys, each step one batch lookup
// (cache::get_many(): every partition of the table locked once for its keys). A step holds at
// most work_mem bytes of keys and of copied values (plus one key and one value larger than
// that) in a memory context emptied once its rows are stored, besides the tuplestore (which
// spills to disk past work_mem), however many keys the call is asked for. A key that Citus
// places on another node ends a step before it, so errors come in the order of the keys.
SIMPLE_CACHE_FUNCTION(simple_cache_mget)
{
    constexpr int kStepKeys = static_cast<int>(sc::cache::kMaxBatchKeys);
    ArrayType *keys = PG_GETARG_ARRAYTYPE_P(0);
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    Datum *elements;
    bool *element_nulls;
    int count;
    deconstruct_array(keys, TEXTOID, -1, false, TYPALIGN_INT, &elements, &element_nulls, &count);
    auto *batch = static_cast<sc::cache::BatchKey *>(palloc(kStepKeys * sizeof(sc::cache::BatchKey)));
    auto *values = static_cast<varlena **>(palloc(kStepKeys * sizeof(varlena *)));
    size_t budget = static_cast<size_t>(work_mem) * 1024;
    MemoryContext step_context = AllocSetContextCreate(CurrentMemoryContext, "simple_cache_mget step",
                                                       ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller = MemoryContextSwitchTo(step_context);
    int next = 0;
    while (next < count) {
        // The step's keys: non-NULL elements from `next`, within the bounds above.
        int n = 0;
        int end = next;
        size_t key_bytes = 0;
        for (; end < count && n < kStepKeys; ++end) {
            if (element_nulls[end])
                continue;
            varlena *key = PG_DETOAST_DATUM_PACKED(elements[end]);
            size_t key_size = VARSIZE_ANY_EXHDR(key);
            if (n > 0 && key_bytes + key_size > budget)
                break;
            if (n == 0)
                sc::pg::citus::require_owned(fcinfo, "simple_cache_mget", VARDATA_ANY(key), key_size);
            else if (sc::pg::citus::key_owner(fcinfo->flinfo->fn_oid, VARDATA_ANY(key), key_size, nullptr) ==
                     sc::pg::citus::KeyOwner::remote)
                break;  // the next step starts with it, and require_owned() reports it
            batch[n++] = sc::cache::BatchKey{VARDATA_ANY(key), key_size};
            key_bytes += key_size;
        }
        size_t decided = sc::cache::get_many(batch, static_cast<size_t>(n), ValueKind::text, budget, values);
        // Rows for the elements decided, in order; NULL elements between them need nothing.
        size_t b = 0;
        int row = next;
        for (; row < end; ++row) {
            Datum datums[2] = {elements[row], Datum(0)};
            bool nulls[2] = {element_nulls[row], true};
            if (!element_nulls[row]) {
                if (b >= decided)
                    break;
                varlena *value = values[b];
                if (value != nullptr) {
                    size_t value_size = VARSIZE(value) - VARHDRSZ;
                    if (!sc::cache::fits_in_row(batch[b].size, value_size))
                        reject_row_too_large(batch[b].data, batch[b].size, value_size);
                    datums[1] = PointerGetDatum(value);
                    nulls[1] = false;
                }
                ++b;
            }
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, datums, nulls);
        }
        next = row;
        MemoryContextReset(step_context);
        CHECK_FOR_INTERRUPTS();
    }
    MemoryContextSwitchTo(caller);
    MemoryContextDelete(step_context);
    return (Datum) 0;
}

// simple_cache_list(OUT key text, OUT value text) RETURNS SETOF record. Entries are copied out
// of the cache in batches of at most work_mem, so the call holds one batch and one row besides
// its tuplestore.
SIMPLE_CACHE_FUNCTION(simple_cache_list)
{
    InitMaterializedSRF(fcinfo, 0);
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    RowTarget target{rsinfo->setResult, rsinfo->setDesc};
    sc::cache::list(static_cast<size_t>(work_mem) * 1024, emit_row, &target);
    return (Datum) 0;
}
