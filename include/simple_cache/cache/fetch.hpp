// Read-through with leases: simple_cache_fetch's memoisation, and the two-step form for
// application code (take a lease on a miss, later put with it). See leases.hpp for the leases.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/cache/cache.hpp"

namespace simple_cache::cache {

// Computes a value for fetch (runs the caller's query): returns a palloc'd text, or throws.
using ValueSource = varlena *(*)(void *context);

// Returns key's value; on a miss, computes it with compute(context) under a lease, stores it
// with ttl unless a write or drop of the key voided the lease meanwhile, and returns it. Sessions
// that miss the key while another holds its lease wait for the value (woken when the lease
// ends; a lease whose holder died or that expired is taken over). With may_store false (a
// transaction snapshot older than the lease could be), a miss is computed and nothing stored.
// A wait that would close a cycle (the holder waits, maybe through others, for a lease this
// session holds) is not begun: the value is computed and not stored.
// When this transaction has a write of the key queued for its commit (the value may come from
// its own uncommitted changes), when the database holds its share of the lease slots, or this
// session holds the key's lease itself (a fetch of the
// key inside its own query, or a lease from get_or_lease), the value is computed and not stored.
varlena *fetch(const char *key, size_t key_size, Ttl ttl, bool may_store, ValueSource compute, void *context);

// A value, or a lease to compute one (token 0: none).
struct LeaseOrValue {
    varlena *value;
    uint64_t token;
};

// A hit gives the value; a miss a lease for lease_ms, unless another lease on the key is out
// (then neither). 22023 for a lease_ms over simple_cache.max_lease_time, 53400 when the
// database holds its share of the lease slots. A lease given to a transaction that has a write
// of the key queued for its commit is void from the start (its put stores nothing).
LeaseOrValue get_or_lease(const char *key, size_t key_size, int64_t lease_ms);

// Stores value under key if the lease `token` on it is still valid and this transaction has no
// write of the key queued for its commit, and ends the lease; returns whether it stored.
bool put_leased(const char *key, size_t key_size, ValueBytes value, uint64_t token, Ttl ttl);

// Gives up the lease `token` on key without storing; false when it was not out.
bool release_lease(const char *key, size_t key_size, uint64_t token);

}  // namespace simple_cache::cache
