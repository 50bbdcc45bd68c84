// Reading SQL arguments for the cache's entry points. Plain PostgreSQL code: call only where
// no C++ object with a destructor is alive (directly in a SIMPLE_CACHE_FUNCTION body).
#pragma once

#include "null_argument.hpp"
#include "simple_cache/cache/cache.hpp"
#include "simple_cache/pg/postgres.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace simple_cache::sql {

// A varlena argument's bytes (detoasted).
struct Bytes {
    const char *data;
    size_t size;
};

// Reads argument `arg` (text or bytea) as bytes.
inline Bytes bytes_arg(FunctionCallInfo fcinfo, int arg)
{
    varlena *v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(arg));
    return Bytes{VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)};
}

// Converts an interval to milliseconds: a month counts as 30 days, as PostgreSQL does when
// it turns intervals into seconds. Raises 22023 for a zero or negative interval (`what` names
// the argument in the message).
inline int64_t interval_ms(const Interval *interval, const char *function, const char *what = "time to live")
{
    int64_t days = static_cast<int64_t>(interval->month) * DAYS_PER_MONTH + interval->day;
    int64_t ms = interval->time / 1000 + days * 86400000LL;
    if (ms <= 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s: %s must be positive", function, what)));
    return ms;
}

// The ttl argument `arg`: absent (fewer arguments) → the default setting; NULL → no expiry.
inline cache::Ttl ttl_arg(FunctionCallInfo fcinfo, int arg, const char *function)
{
    if (PG_NARGS() <= arg)
        return cache::Ttl::from_setting();
    if (PG_ARGISNULL(arg))
        return cache::Ttl::never();
    return cache::Ttl::after_ms(interval_ms(PG_GETARG_INTERVAL_P(arg), function));
}

}  // namespace simple_cache::sql
