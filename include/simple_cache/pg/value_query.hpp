// Running a caller's query for one value, through SPI, with the caller's privileges.
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// Runs query (SQL text) with the current user's privileges and returns its single
// value as text (the column type's output form), palloc'd in the current memory context. A
// query that does not return exactly one row (P0002, P0003) of one column (42601), or returns
// NULL (22004), is an error; so is any error of the query itself, raised as a PgError.
varlena *query_single_value(text *query, const char *function);

}  // namespace simple_cache::pg
