// SQL entry points of the writes that take effect at commit: read arguments, queue the write.
#include "arguments.hpp"
#include "simple_cache/cache/pending_writes.hpp"
#include "simple_cache/pg/citus_routing.hpp"
#include "simple_cache/pg/error.hpp"

namespace sc = simple_cache;
using sc::cache::ValueKind;
using sc::sql::reject_null;

namespace {

// The common body of the put_at_commit forms: (key, value [, ttl]).
Datum put_at_commit_as(FunctionCallInfo fcinfo, ValueKind kind)
{
    reject_null(fcinfo, 0, "simple_cache_put_at_commit", "key");
    reject_null(fcinfo, 1, "simple_cache_put_at_commit", "value");
    sc::cache::Ttl ttl = sc::sql::ttl_arg(fcinfo, 2, "simple_cache_put_at_commit");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_put_at_commit", key.data, key.size);
    sc::sql::Bytes value = sc::sql::bytes_arg(fcinfo, 1);
    sc::cache::put_at_commit(key.data, key.size, sc::cache::ValueBytes{value.data, value.size, kind}, ttl);
    PG_RETURN_VOID();
}

}  // namespace

// simple_cache_put_at_commit(key text, value text [, ttl interval]) RETURNS void.
SIMPLE_CACHE_FUNCTION(simple_cache_put_at_commit)
{
    return put_at_commit_as(fcinfo, ValueKind::text);
}

// simple_cache_put_at_commit(key text, value bytea [, ttl interval]) RETURNS void.
SIMPLE_CACHE_FUNCTION(simple_cache_put_at_commit_bytea)
{
    return put_at_commit_as(fcinfo, ValueKind::bytea);
}

// simple_cache_invalidate(key text) RETURNS void: drops key when the transaction commits.
SIMPLE_CACHE_FUNCTION(simple_cache_invalidate)
{
    reject_null(fcinfo, 0, "simple_cache_invalidate", "key");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_invalidate", key.data, key.size);
    sc::cache::drop_at_commit(key.data, key.size);
    PG_RETURN_VOID();
}

// simple_cache_invalidate_prefix(prefix text) RETURNS void: drops every key of this database
// that starts with prefix when the transaction commits.
SIMPLE_CACHE_FUNCTION(simple_cache_invalidate_prefix)
{
    reject_null(fcinfo, 0, "simple_cache_invalidate_prefix", "prefix");
    sc::sql::Bytes prefix = sc::sql::bytes_arg(fcinfo, 0);
    sc::cache::drop_prefix_at_commit(prefix.data, prefix.size);
    PG_RETURN_VOID();
}

// simple_cache_incr_at_commit(key text, delta bigint DEFAULT 1) RETURNS bigint: queues the
// increment; returns the value as this transaction sees it now.
SIMPLE_CACHE_FUNCTION(simple_cache_incr_at_commit)
{
    reject_null(fcinfo, 0, "simple_cache_incr_at_commit", "key");
    reject_null(fcinfo, 1, "simple_cache_incr_at_commit", "delta");
    sc::sql::Bytes key = sc::sql::bytes_arg(fcinfo, 0);
    sc::pg::citus::require_owned(fcinfo, "simple_cache_incr_at_commit", key.data, key.size);
    PG_RETURN_INT64(sc::cache::incr_at_commit(key.data, key.size, PG_GETARG_INT64(1)));
}
