// Runs a caller's query through SPI for one value (see value_query.hpp).
#include "simple_cache/pg/value_query.hpp"

#include "simple_cache/pg/error.hpp"

extern "C" {
#include "executor/spi.h"
}

namespace simple_cache::pg {

namespace {

// The body of query_single_value: plain PostgreSQL code, run inside guard(), where an ERROR
// leaves the SPI connection to transaction abort.
varlena *run_query(text *query_text, const char *function)
{
    MemoryContext caller = CurrentMemoryContext;
    char *query = text_to_cstring(query_text);
    if (SPI_connect() != SPI_OK_CONNECT)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("%s: SPI_connect failed", function)));
    int result = SPI_execute(query, false, 2);  // two rows are enough to tell one from many
    if (result < 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s: the query cannot be run here: %s", function, SPI_result_code_string(result))));
    if (SPI_tuptable == nullptr)
        ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("%s: the query returned no rows", function),
                        errdetail("It is a command that returns no data (%s).", SPI_result_code_string(result))));
    if (SPI_tuptable->tupdesc->natts != 1)
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR),
                        errmsg("%s: the query must return one column, not %d", function, SPI_tuptable->tupdesc->natts)));
    if (SPI_processed == 0)
        ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("%s: the query returned no rows", function),
                        errhint("A value is cached only when the query returns exactly one row.")));
    if (SPI_processed > 1)
        ereport(ERROR, (errcode(ERRCODE_TOO_MANY_ROWS), errmsg("%s: the query returned more than one row", function),
                        errhint("A value is cached only when the query returns exactly one row.")));
    bool is_null = false;
    (void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
    if (is_null)
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s: the query returned NULL", function),
                        errhint("The cache cannot store NULL: return a value that stands for it, e.g. with coalesce().")));
    MemoryContext spi = MemoryContextSwitchTo(caller);
    char *output = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    varlena *value = reinterpret_cast<varlena *>(cstring_to_text(output));
    pfree(output);
    MemoryContextSwitchTo(spi);
    SPI_finish();
    return value;
}

}  // namespace

varlena *query_single_value(text *query, const char *function)
{
    return guard([&] { return run_query(query, function); });
}

}  // namespace simple_cache::pg
