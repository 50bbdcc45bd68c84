// SQL entry points of the free-space map: read and check arguments, call the map, build the
// results. Argument errors: 22004 for NULLs where a value is needed, 2202E for report arrays
// of different lengths or more than one dimension, 22023 for numbers out of range (block
// numbers 0 .. 4294967294, amounts 0 .. BLCKSZ, sizes 0 .. 4294967295). Every function that
// names a relation first checks the caller's right on it (fsm/privileges.hpp): 42501.
#include "null_argument.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/privileges.hpp"
#include "simple_cache/pg/error.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
}

namespace sc = simple_cache;
namespace fsm = simple_cache::fsm;
using simple_cache::sql::reject_null;

namespace {

// A wholesale report read from two arrays, in palloc'd memory.
struct ReportArrays {
    uint32_t *blocks;
    fsm::Avail *avail;
    size_t count;
};

// A block number argument: 0 .. MaxBlockNumber, else 22023.
uint32_t block_number(int64 value, const char *function, const char *name)
{
    if (value < 0 || value > static_cast<int64>(MaxBlockNumber))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: %s %lld is not a valid block number", function, name, static_cast<long long>(value)),
                        errdetail("Block numbers go from 0 to %u.", MaxBlockNumber)));
    return static_cast<uint32_t>(value);
}

// An amount of free bytes (free space or a request): 0 .. BLCKSZ, else 22023.
fsm::Avail amount(int64 value, const char *function, const char *name)
{
    if (value < 0 || value > BLCKSZ)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: %s %lld is out of range", function, name, static_cast<long long>(value)),
                        errdetail("Free space is counted in bytes, from 0 to the block size, %d.", BLCKSZ)));
    return static_cast<fsm::Avail>(value);
}

// A relation size in pages: 0 .. MaxBlockNumber + 1, else 22023.
uint32_t page_count(int64 value, const char *function)
{
    if (value < 0 || value > static_cast<int64>(MaxBlockNumber) + 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: nblocks %lld is out of range", function, static_cast<long long>(value)),
                        errdetail("A relation has from 0 to %lld pages.", static_cast<long long>(MaxBlockNumber) + 1)));
    return static_cast<uint32_t>(value);
}

// The elements of a one-dimensional array argument (an empty array has none); 2202E for more
// dimensions.
void array_elements(ArrayType *array, Oid type, Datum **values, bool **nulls, int *count, const char *name)
{
    if (ARR_NDIM(array) > 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("simple_cache_fsm_record_many: %s must be a one-dimensional array", name)));
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
    deconstruct_array(array, type, typlen, typbyval, typalign, values, nulls, count);
}

// Reads and checks record_many's arrays. Plain PostgreSQL code.
ReportArrays read_report(FunctionCallInfo fcinfo)
{
    const char *function = "simple_cache_fsm_record_many";
    ArrayType *blocks = PG_GETARG_ARRAYTYPE_P(1);
    ArrayType *avail = PG_GETARG_ARRAYTYPE_P(2);
    Datum *block_values, *avail_values;
    bool *block_nulls, *avail_nulls;
    int blocks_n, avail_n;
    array_elements(blocks, INT8OID, &block_values, &block_nulls, &blocks_n, "blocks");
    array_elements(avail, INT4OID, &avail_values, &avail_nulls, &avail_n, "avail");
    if (blocks_n != avail_n)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("%s: blocks and avail have different lengths", function),
                        errdetail("blocks has %d elements, avail has %d.", blocks_n, avail_n)));
    ReportArrays report;
    report.count = static_cast<size_t>(blocks_n);
    report.blocks = static_cast<uint32_t *>(palloc_extended(Max(1, blocks_n) * sizeof(uint32_t), MCXT_ALLOC_HUGE));
    report.avail = static_cast<fsm::Avail *>(palloc_extended(Max(1, blocks_n) * sizeof(fsm::Avail), MCXT_ALLOC_HUGE));
    for (int i = 0; i < blocks_n; ++i) {
        if (block_nulls[i] || avail_nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("%s: %s element %d is NULL", function, block_nulls[i] ? "blocks" : "avail", i + 1)));
        report.blocks[i] = block_number(DatumGetInt64(block_values[i]), function, "block");
        report.avail[i] = amount(DatumGetInt32(avail_values[i]), function, "avail");
    }
    return report;
}

// Returns a block number, or NULL for "none".
Datum block_or_null(FunctionCallInfo fcinfo, uint32_t block)
{
    if (block == fsm::kInvalidBlock)
        PG_RETURN_NULL();
    PG_RETURN_INT64(static_cast<int64>(block));
}

// Adds one row to the view's materialised result, if the caller may read the relation. Plain
// PostgreSQL code.
void emit_relation(void *context, const fsm::RelationRow &row)
{
    if (!fsm::has_right(row.relid, fsm::Right::read))
        return;
    auto *rsinfo = static_cast<ReturnSetInfo *>(context);
    Datum values[7] = {ObjectIdGetDatum(row.relid),       BoolGetDatum(row.is_index),
                       Int64GetDatum(row.stored_pages),   Int64GetDatum(row.requested_pages),
                       Int64GetDatum(row.target_pages),   Int32GetDatum(row.avg_request),
                       Int32GetDatum(row.chunks)};
    bool nulls[7] = {};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

// Adds one (block, avail) row to a materialised result; avail < 0 gives NULL. Plain
// PostgreSQL code.
void emit_page(void *context, uint32_t block, int32_t avail)
{
    auto *rsinfo = static_cast<ReturnSetInfo *>(context);
    Datum values[2] = {Int64GetDatum(static_cast<int64>(block)), Int32GetDatum(avail)};
    bool nulls[2] = {false, avail < 0};
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

// Builds the summary row. Plain PostgreSQL code.
Datum summary_row(FunctionCallInfo fcinfo, const fsm::Summary &s)
{
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "simple_cache_fsm_summary: return type must be a row type");
    Datum values[5] = {Int64GetDatum(s.capacity_pages), Int64GetDatum(s.used_pages),
                       Int64GetDatum(s.requested_pages), Datum(0), Int32GetDatum(s.relations)};
    bool nulls[5] = {};
    if (s.capacity_chunks > 0) {
        Datum ratio = DirectFunctionCall2(numeric_div, NumericGetDatum(int64_to_numeric(s.requested_chunks)),
                                          NumericGetDatum(int64_to_numeric(s.capacity_chunks)));
        values[3] = DirectFunctionCall2(numeric_round, ratio, Int32GetDatum(2));
    } else {
        nulls[3] = true;
    }
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

}  // namespace

// simple_cache_fsm_record_many(rel regclass, blocks bigint[], avail integer[]) RETURNS integer:
// replaces rel's pages wholesale; the pages kept after trimming to its target.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_record_many)
{
    reject_null(fcinfo, 0, "simple_cache_fsm_record_many", "rel");
    fsm::check_right("simple_cache_fsm_record_many", PG_GETARG_OID(0), fsm::Right::maintain);
    reject_null(fcinfo, 1, "simple_cache_fsm_record_many", "blocks");
    reject_null(fcinfo, 2, "simple_cache_fsm_record_many", "avail");
    ReportArrays report = read_report(fcinfo);
    uint32_t kept = fsm::record_many(PG_GETARG_OID(0), report.blocks, report.avail, report.count);
    PG_RETURN_INT32(static_cast<int32>(kept));
}

// simple_cache_fsm_record(rel regclass, block bigint, avail integer) RETURNS boolean: false
// when the page is not tracked (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_record)
{
    fsm::check_right("simple_cache_fsm_record", PG_GETARG_OID(0), fsm::Right::use);
    uint32_t block = block_number(PG_GETARG_INT64(1), "simple_cache_fsm_record", "block");
    fsm::Avail avail = amount(PG_GETARG_INT32(2), "simple_cache_fsm_record", "avail");
    PG_RETURN_BOOL(fsm::record(PG_GETARG_OID(0), block, avail));
}

// simple_cache_fsm_get_page(rel regclass, needed integer) RETURNS bigint: NULL when no page
// has room (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_get_page)
{
    fsm::check_right("simple_cache_fsm_get_page", PG_GETARG_OID(0), fsm::Right::use);
    fsm::Avail needed = amount(PG_GETARG_INT32(1), "simple_cache_fsm_get_page", "needed");
    return block_or_null(fcinfo, fsm::get_page(PG_GETARG_OID(0), needed));
}

// simple_cache_fsm_record_and_get_page(rel regclass, old_block bigint, old_avail integer,
// needed integer) RETURNS bigint (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_record_and_get_page)
{
    const char *function = "simple_cache_fsm_record_and_get_page";
    fsm::check_right(function, PG_GETARG_OID(0), fsm::Right::use);
    uint32_t old_block = block_number(PG_GETARG_INT64(1), function, "old_block");
    fsm::Avail old_avail = amount(PG_GETARG_INT32(2), function, "old_avail");
    fsm::Avail needed = amount(PG_GETARG_INT32(3), function, "needed");
    return block_or_null(fcinfo, fsm::record_and_get_page(PG_GETARG_OID(0), old_block, old_avail, needed));
}

// simple_cache_fsm_avg_request(rel regclass) RETURNS integer: NULL when rel is not tracked
// (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_avg_request)
{
    fsm::check_right("simple_cache_fsm_avg_request", PG_GETARG_OID(0), fsm::Right::read);
    uint32_t average = 0;
    if (!fsm::avg_request(PG_GETARG_OID(0), &average))
        PG_RETURN_NULL();
    PG_RETURN_INT32(static_cast<int32>(average));
}

// simple_cache_fsm_add_free_page(rel regclass, block bigint) RETURNS boolean (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_add_free_page)
{
    fsm::check_right("simple_cache_fsm_add_free_page", PG_GETARG_OID(0), fsm::Right::maintain);
    uint32_t block = block_number(PG_GETARG_INT64(1), "simple_cache_fsm_add_free_page", "block");
    PG_RETURN_BOOL(fsm::add_free_page(PG_GETARG_OID(0), block));
}

// simple_cache_fsm_get_free_page(rel regclass) RETURNS bigint: the lowest free page, NULL when
// none (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_get_free_page)
{
    fsm::check_right("simple_cache_fsm_get_free_page", PG_GETARG_OID(0), fsm::Right::use);
    return block_or_null(fcinfo, fsm::get_free_page(PG_GETARG_OID(0)));
}

// simple_cache_fsm_truncatable_pages(rel regclass, nblocks bigint DEFAULT NULL) RETURNS bigint:
// free pages ending rel, of nblocks pages or, when NULL, of its real size.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_truncatable_pages)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    fsm::check_right("simple_cache_fsm_truncatable_pages", PG_GETARG_OID(0), fsm::Right::read);
    int64 nblocks = -1;  // the relation's real size
    if (!PG_ARGISNULL(1))
        nblocks = page_count(PG_GETARG_INT64(1), "simple_cache_fsm_truncatable_pages");
    PG_RETURN_INT64(fsm::truncatable_pages(PG_GETARG_OID(0), nblocks));
}

// simple_cache_fsm_truncate(rel regclass, nblocks bigint) RETURNS bigint: pages at or past
// nblocks forgotten (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_truncate)
{
    fsm::check_right("simple_cache_fsm_truncate", PG_GETARG_OID(0), fsm::Right::maintain);
    uint32_t nblocks = page_count(PG_GETARG_INT64(1), "simple_cache_fsm_truncate");
    PG_RETURN_INT64(fsm::truncate(PG_GETARG_OID(0), nblocks));
}

// simple_cache_fsm_forget(rel regclass) RETURNS boolean: whether rel was tracked (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_forget)
{
    fsm::check_right("simple_cache_fsm_forget", PG_GETARG_OID(0), fsm::Right::maintain);
    PG_RETURN_BOOL(fsm::forget(PG_GETARG_OID(0)));
}

// simple_cache_fsm_forget_dropped(relids oid[]) RETURNS void: called by the sql_drop event
// trigger; the relations are forgotten when the transaction commits (STRICT).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_forget_dropped)
{
    Datum *values;
    bool *nulls;
    int count;
    deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), OIDOID, sizeof(Oid), true, TYPALIGN_INT, &values, &nulls, &count);
    Oid *relids = static_cast<Oid *>(palloc(Max(1, count) * sizeof(Oid)));
    int n = 0;
    for (int i = 0; i < count; ++i)
        if (!nulls[i])
            relids[n++] = DatumGetObjectId(values[i]);
    fsm::forget_dropped(relids, static_cast<size_t>(n));
    PG_RETURN_VOID();
}

// simple_cache_fsm_vacuum(rel regclass) RETURNS integer: scans rel and records what it found;
// the pages kept (STRICT). The right is checked here, before rel is locked, and again once it
// is.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_vacuum)
{
    fsm::check_right("simple_cache_fsm_vacuum", PG_GETARG_OID(0), fsm::Right::maintain);
    PG_RETURN_INT32(static_cast<int32>(fsm::vacuum(PG_GETARG_OID(0))));
}

// simple_cache_fsm_relations() RETURNS SETOF record: the rows of the view of the same name,
// for the relations the caller may read.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_relations)
{
    InitMaterializedSRF(fcinfo, 0);
    fsm::list_relations(emit_relation, fcinfo->resultinfo);
    return (Datum) 0;
}

// simple_cache_fsm_pages(rel regclass, OUT block bigint, OUT avail integer) RETURNS SETOF
// record: the pages the map keeps for rel, in block order; avail is NULL for index-style lists.
// The pages are read in batches of at most work_mem.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_pages)
{
    fsm::check_right("simple_cache_fsm_pages", PG_GETARG_OID(0), fsm::Right::read);
    InitMaterializedSRF(fcinfo, 0);
    fsm::list_pages(PG_GETARG_OID(0), static_cast<size_t>(work_mem) * 1024, emit_page, fcinfo->resultinfo);
    return (Datum) 0;
}

// simple_cache_fsm_summary() RETURNS record.
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_summary)
{
    fsm::Summary s = fsm::summary();
    return summary_row(fcinfo, s);
}

// simple_cache_fsm_check(OUT consistent boolean, OUT problem text, OUT locks_held integer,
// OUT table_bytes bigint) RETURNS record: the map's invariants, the map locks this backend
// holds, and the bytes of the map's hash table buckets (so tests can account for every byte).
SIMPLE_CACHE_FUNCTION(simple_cache_fsm_check)
{
    fsm::CheckResult r = fsm::check();
    unsigned held = fsm::locks_held();
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "simple_cache_fsm_check: return type must be a row type");
    Datum values[4] = {BoolGetDatum(r.consistent), r.problem ? CStringGetTextDatum(r.problem) : Datum(0),
                       Int32GetDatum(static_cast<int32>(held)), Int64GetDatum(r.table_bytes)};
    bool nulls[4] = {false, r.problem == nullptr, false, false};
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}
