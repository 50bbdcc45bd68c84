// The NULL check every SQL entry point of either feature makes on its arguments. Plain
// PostgreSQL code: call only where no C++ object with a destructor is alive (directly in a
// SIMPLE_CACHE_FUNCTION body).
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::sql {

// Raises 22004 when argument `arg` is NULL.
inline void reject_null(FunctionCallInfo fcinfo, int arg, const char *function, const char *name)
{
    if (PG_ARGISNULL(arg))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s: %s must not be NULL", function, name)));
}

}  // namespace simple_cache::sql
