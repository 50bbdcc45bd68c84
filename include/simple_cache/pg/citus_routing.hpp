// Citus glue: which node of a Citus cluster owns a cache key. Citus itself is never linked or
// required; the shard map is read from its catalogs through SPI when they exist.
//
// When simple_cache_citus_distribute() has run, the extension's schema holds the distributed
// table simple_cache_citus_anchor(key text COLLATE "C"), the colocation anchor of the keyed
// functions: a key belongs to the worker holding the anchor's shard for that key. The map of
// shard hash ranges to nodes is loaded once per backend and reloaded after any change to the
// anchor (Citus invalidates its relcache entry on shard moves) or to pg_class.
#pragma once

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg::citus {

// Where a key lives in the current database of this node.
enum class KeyOwner {
    unsharded,  // no distributed anchor here: the cache is this node's alone
    local,      // the anchor's shard for the key is placed on this node
    remote,     // another node holds it (owner_name names it)
};

// Finds the owner of key (key_size bytes). function_oid is the calling SQL function (its
// schema is the extension's). When the answer is remote, *owner_name (if given) points to
// "host:port" of the owning node, valid until the map is next reloaded. Plain PostgreSQL code:
// may raise errors; call only where no C++ object with a destructor is alive.
KeyOwner key_owner(Oid function_oid, const char *key, size_t key_size, const char **owner_name);

// Raises 0A000 (feature_not_supported) when key belongs to another node: a keyed call that
// Citus did not route to the owner (a transaction block, a FROM or WHERE clause, a subquery,
// a PL/pgSQL expression, ...). Does nothing without a distributed anchor. Plain PostgreSQL code.
void require_owned(FunctionCallInfo fcinfo, const char *function, const char *key, size_t key_size);

// The same check for a key that the invalidation trigger `trigger` on `table` makes: 0A000
// naming the trigger, the table and the owner. Plain PostgreSQL code.
void require_owned_by_trigger(FunctionCallInfo fcinfo, const char *trigger, const char *table, const char *key,
                              size_t key_size);

}  // namespace simple_cache::pg::citus
