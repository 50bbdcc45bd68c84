// Cache writes that take effect when the transaction commits (pending_writes.cpp).
//
// The writes a transaction queues are kept in this backend, in a memory context under
// TopTransactionContext ("simple_cache pending writes"), each tagged with the (sub)transaction
// level that made it. A subtransaction that rolls back takes its writes with it; one that
// commits hands them to its parent. At pre-commit every check is made and every item the puts
// need is allocated in the shared area; at commit the writes are applied, in the order they
// were made, by operations that take no memory and raise no error. Abort discards them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/cache/cache.hpp"

namespace simple_cache::cache {

// Queues a put of value under key, applied at commit (ttl counted from the commit).
void put_at_commit(const char *key, size_t key_size, ValueBytes value, Ttl ttl);

// Queues a drop of key, applied at commit.
void drop_at_commit(const char *key, size_t key_size);

// Queues a drop of every key of the current database that starts with prefix, at commit.
void drop_prefix_at_commit(const char *prefix, size_t prefix_size);

// Queues an increment of the integer under key by delta, applied at commit to the value the
// cache holds then (or, when this transaction already put or dropped the key, to that state);
// returns the value the key would have if the transaction committed now. 22P02 / 22003 for a
// value that is not a bigint or a result outside bigint, now or at pre-commit.
int64_t incr_at_commit(const char *key, size_t key_size, int64_t delta);

// What this transaction's pending writes say about a key, for its own reads.
struct PendingRead {
    bool decided = false;       // false: no pending write touches the key; read the cache
    varlena *value = nullptr;   // when decided: the pending value (palloc'd), or nullptr if dropped
};

// Looks key up among this transaction's pending writes; as tells how the value is read (a
// bytea value read as text must be valid in the database encoding, else 22021).
PendingRead read_pending(const char *key, size_t key_size, ValueKind as);

// Defines simple_cache.max_pending_memory (from init()).
void define_pending_writes_setting();

}  // namespace simple_cache::cache
