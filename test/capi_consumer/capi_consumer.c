/*
 * capi_consumer.c: SQL functions that call simple_cache's C API, for its tests. Each function
 * turns its SQL arguments into the C API's arguments as a consumer would (a NULL SQL argument
 * becomes a NULL pointer, so the API's own NULL checks are what the tests see) and returns
 * the API's answer. Errors come from the API itself: nothing here catches them.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "extension/simple_cache/simple_cache_api.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* The API as _PG_init found it when this library was preloaded; NULL otherwise. */
static const SimpleCacheApi *api_at_preload = NULL;

/*
 * Preloaded (shared_preload_libraries), this library loads simple_cache itself, in the
 * postmaster, whatever the order of the list: every backend then inherits the published
 * struct and this pointer.
 */
void
_PG_init(void)
{
	if (process_shared_preload_libraries_in_progress)
		api_at_preload = simple_cache_api_load();
}

/*
 * The C API, found (and simple_cache's library loaded if needed) on first use and kept for
 * the life of the process.
 */
static const SimpleCacheApi *
api(void)
{
	static const SimpleCacheApi *found = NULL;

	if (found == NULL)
	{
		found = simple_cache_api_load();
		if (found == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("capi_consumer: simple_cache's C API version %d is not available",
							SIMPLE_CACHE_API_VERSION)));
	}
	return found;
}

/* The published pointer as it is, without loading anything or checking the version. */
static const SimpleCacheApi *
published(void)
{
	return *(const SimpleCacheApi **) find_rendezvous_variable(SIMPLE_CACHE_API_RENDEZVOUS);
}

/* Argument arg as (pointer, length): NULL and 0 for a NULL argument. */
static const char *
bytes_arg(FunctionCallInfo fcinfo, int arg, size_t *len)
{
	struct varlena *value;

	if (PG_ARGISNULL(arg))
	{
		*len = 0;
		return NULL;
	}
	value = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(arg));
	*len = VARSIZE_ANY_EXHDR(value);
	return VARDATA_ANY(value);
}

/* Raises 22004 for a NULL argument the test functions need a value for. */
static void
require_arg(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("capi_consumer: %s must not be NULL", name)));
}

/* A block number argument (bigint) as the API's BlockNumber: its low 32 bits. */
static BlockNumber
block_arg(FunctionCallInfo fcinfo, int arg)
{
	return (BlockNumber) (uint32) PG_GETARG_INT64(arg);
}

/* Returns a block number, NULL for InvalidBlockNumber. */
static Datum
block_result(FunctionCallInfo fcinfo, BlockNumber block)
{
	if (block == InvalidBlockNumber)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) block);
}

PG_FUNCTION_INFO_V1(capi_published);

/* capi_published() RETURNS boolean: whether simple_cache has published its struct here. */
Datum
capi_published(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(published() != NULL);
}

PG_FUNCTION_INFO_V1(capi_found_at_preload);

/*
 * capi_found_at_preload() RETURNS boolean: whether _PG_init found the API while this library
 * was being preloaded, and it is the struct published in this backend.
 */
Datum
capi_found_at_preload(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(api_at_preload != NULL && api_at_preload == published());
}

PG_FUNCTION_INFO_V1(capi_api_info);

/*
 * capi_api_info(OUT version, OUT size, OUT header_version, OUT header_size, OUT has_last):
 * the published struct's version and size, this consumer's, and whether the last member of
 * this header's struct is there by SIMPLE_CACHE_API_HAS.
 */
Datum
capi_api_info(PG_FUNCTION_ARGS)
{
	const SimpleCacheApi *a = api();
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "capi_api_info: return type must be a row type");
	values[0] = Int32GetDatum((int32) a->version);
	values[1] = Int32GetDatum((int32) a->size);
	values[2] = Int32GetDatum(SIMPLE_CACHE_API_VERSION);
	values[3] = Int32GetDatum((int32) sizeof(SimpleCacheApi));
	values[4] = BoolGetDatum(SIMPLE_CACHE_API_HAS(a, fsm_record_and_get_page));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(capi_compatible);

/*
 * capi_compatible(version integer, size bigint) RETURNS boolean: whether the published struct
 * would serve a consumer compiled for that version and struct size.
 */
Datum
capi_compatible(PG_FUNCTION_ARGS)
{
	api();
	PG_RETURN_BOOL(simple_cache_api_compatible(published(), (uint32) PG_GETARG_INT32(0),
											   (size_t) PG_GETARG_INT64(1)));
}

PG_FUNCTION_INFO_V1(capi_get);

/* capi_get(key text) RETURNS bytea: api->get. */
Datum
capi_get(PG_FUNCTION_ARGS)
{
	size_t		key_len;
	const char *key = bytes_arg(fcinfo, 0, &key_len);
	bytea	   *value = api()->get(key, key_len);

	if (value == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(value);
}

PG_FUNCTION_INFO_V1(capi_put);

/*
 * capi_put(key text, value bytea, ttl_ms bigint, mode integer, kind integer) RETURNS boolean:
 * api->put.
 */
Datum
capi_put(PG_FUNCTION_ARGS)
{
	size_t		key_len;
	size_t		value_len;
	const char *key = bytes_arg(fcinfo, 0, &key_len);
	const char *value = bytes_arg(fcinfo, 1, &value_len);

	require_arg(fcinfo, 2, "ttl_ms");
	require_arg(fcinfo, 3, "mode");
	require_arg(fcinfo, 4, "kind");
	PG_RETURN_BOOL(api()->put(key, key_len, value, value_len, PG_GETARG_INT32(4), PG_GETARG_INT32(3),
							  PG_GETARG_INT64(2)));
}

PG_FUNCTION_INFO_V1(capi_put_claimed);

/*
 * capi_put_claimed(key_len bigint, value_len bigint) RETURNS boolean: api->put of a 16-byte
 * buffer as key and as value, claiming the given lengths. Lengths over 16 are lies the API
 * must refuse before reading any byte past the buffer.
 */
Datum
capi_put_claimed(PG_FUNCTION_ARGS)
{
	static const char buffer[16] = "capi:claimed....";

	require_arg(fcinfo, 0, "key_len");
	require_arg(fcinfo, 1, "value_len");
	PG_RETURN_BOOL(api()->put(buffer, (size_t) PG_GETARG_INT64(0), buffer, (size_t) PG_GETARG_INT64(1),
							  SIMPLE_CACHE_VALUE_TEXT, SIMPLE_CACHE_PUT_UPSERT, SIMPLE_CACHE_TTL_NONE));
}

PG_FUNCTION_INFO_V1(capi_drop);

/* capi_drop(key text) RETURNS boolean: api->drop. */
Datum
capi_drop(PG_FUNCTION_ARGS)
{
	size_t		key_len;
	const char *key = bytes_arg(fcinfo, 0, &key_len);

	PG_RETURN_BOOL(api()->drop(key, key_len));
}

PG_FUNCTION_INFO_V1(capi_incr);

/* capi_incr(key text, delta bigint) RETURNS bigint: api->incr. */
Datum
capi_incr(PG_FUNCTION_ARGS)
{
	size_t		key_len;
	const char *key = bytes_arg(fcinfo, 0, &key_len);

	require_arg(fcinfo, 1, "delta");
	PG_RETURN_INT64(api()->incr(key, key_len, PG_GETARG_INT64(1)));
}

/*
 * The elements of a one-dimensional array argument of element type `type` without NULLs, or
 * NULL (and 0) for a NULL argument.
 */
static Datum *
array_arg(FunctionCallInfo fcinfo, int arg, Oid type, int *count)
{
	ArrayType  *array;
	Datum	   *values;
	bool	   *nulls;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	*count = 0;
	if (PG_ARGISNULL(arg))
		return NULL;
	array = PG_GETARG_ARRAYTYPE_P(arg);
	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	deconstruct_array(array, type, typlen, typbyval, typalign, &values, &nulls, count);
	for (i = 0; i < *count; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("capi_consumer: array elements must not be NULL")));
	return values;
}

PG_FUNCTION_INFO_V1(capi_fsm_record_many);

/*
 * capi_fsm_record_many(rel oid, blocks bigint[], avail integer[], n bigint) RETURNS bigint:
 * api->fsm_record_many. A NULL array is a NULL pointer; n defaults to the length of blocks
 * and may exceed it only when blocks is NULL (so that nothing past an array is ever read).
 */
Datum
capi_fsm_record_many(PG_FUNCTION_ARGS)
{
	int			nblocks;
	int			navail;
	Datum	   *block_values;
	Datum	   *avail_values;
	BlockNumber *blocks = NULL;
	int32	   *avail = NULL;
	int64		n;
	int			i;

	require_arg(fcinfo, 0, "rel");
	block_values = array_arg(fcinfo, 1, INT8OID, &nblocks);
	avail_values = array_arg(fcinfo, 2, INT4OID, &navail);
	n = PG_ARGISNULL(3) ? nblocks : PG_GETARG_INT64(3);
	if (n < 0 || (block_values != NULL && n > nblocks) || (avail_values != NULL && n > navail))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("capi_consumer: n must not pass the length of a given array")));
	if (block_values != NULL)
	{
		blocks = palloc(Max(1, nblocks) * sizeof(BlockNumber));
		for (i = 0; i < nblocks; i++)
			blocks[i] = (BlockNumber) (uint32) DatumGetInt64(block_values[i]);
	}
	if (avail_values != NULL)
	{
		avail = palloc(Max(1, navail) * sizeof(int32));
		for (i = 0; i < navail; i++)
			avail[i] = DatumGetInt32(avail_values[i]);
	}
	PG_RETURN_INT64((int64) api()->fsm_record_many(PG_GETARG_OID(0), blocks, avail, (size_t) n));
}

PG_FUNCTION_INFO_V1(capi_fsm_record);

/* capi_fsm_record(rel oid, block bigint, avail integer) RETURNS boolean (STRICT). */
Datum
capi_fsm_record(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(api()->fsm_record(PG_GETARG_OID(0), block_arg(fcinfo, 1), PG_GETARG_INT32(2)));
}

PG_FUNCTION_INFO_V1(capi_fsm_get_page);

/* capi_fsm_get_page(rel oid, needed integer) RETURNS bigint: NULL for none (STRICT). */
Datum
capi_fsm_get_page(PG_FUNCTION_ARGS)
{
	return block_result(fcinfo, api()->fsm_get_page(PG_GETARG_OID(0), PG_GETARG_INT32(1)));
}

PG_FUNCTION_INFO_V1(capi_fsm_record_and_get_page);

/*
 * capi_fsm_record_and_get_page(rel oid, old_block bigint, old_avail integer, needed integer)
 * RETURNS bigint: NULL for none (STRICT).
 */
Datum
capi_fsm_record_and_get_page(PG_FUNCTION_ARGS)
{
	return block_result(fcinfo, api()->fsm_record_and_get_page(PG_GETARG_OID(0), block_arg(fcinfo, 1),
															   PG_GETARG_INT32(2), PG_GETARG_INT32(3)));
}
