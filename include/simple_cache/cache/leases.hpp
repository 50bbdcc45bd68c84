// Leases on missing keys (after Facebook's memcache leases): the session that misses a key first
// gets a lease and computes the value; others that miss it wait for the value instead of
// computing it too (no stampede); a write or drop of the key while the lease is out voids it,
// so the holder's value, computed from data that may be older than that write, is not stored
// (no stale set).
//
// The leases live in a fixed table in the shared area (made on first use), each slot with the
// holder's pid, a token, an expiry and a condition variable that waiters sleep on. A key is
// identified by its scope, its length and a 64-bit seeded hash of its bytes: two different keys
// that agree on all three share a lease, which costs a wait or a discarded put but never gives
// a wrong value.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/cache/key.hpp"
#include "simple_cache/pg/database_scope.hpp"

namespace simple_cache::cache {

// Slots in the lease table: at most this many keys can be leased at once.
inline constexpr uint32_t kLeaseSlots = 512;

// What asking for a lease gave.
struct Lease {
    enum class State {
        granted,  // this session holds it: token is its token
        held,     // another holds it: token, holder_pid and expires_ms are the holder's
        full,     // every slot is taken: no lease
    } state = State::full;
    uint32_t slot = 0;
    uint64_t token = 0;
    int holder_pid = 0;
    int64_t expires_ms = 0;
};

// Gives this session a lease on key for lease_ms (at most simple_cache.max_lease_time), unless
// another live lease on it is out. An expired lease on the key is taken over (its holder's put
// will be refused). State::full when the key's database holds its share of the table: a
// database may take a new lease only while it holds fewer live leases than there are free or
// expired slots, so one database alone gets half of the table and never all of it.
Lease take_lease(const ScopedKey &key, int64_t lease_ms);

// Ends the lease `token` in `slot` without storing anything and wakes its waiters; false when
// that lease is no longer out (ended, expired and taken over).
bool end_lease(uint32_t slot, uint64_t token);

// Ends the lease on key with `token` (whatever its slot); false when it is not out.
bool end_lease_on(const ScopedKey &key, uint64_t token);

// Runs store() under the lease table's lock if the lease `token` on key is still valid (out,
// not voided, not expired), and ends the lease either way (when it is out). Returns whether
// store() ran. Because store() runs under the lock that void_leases() takes, a drop of the key
// comes either before (the lease is void, nothing stored) or after (it removes what was stored).
bool store_under_lease(const ScopedKey &key, uint64_t token, void (*store)(void *), void *context);

// Voids the lease `token` in `slot` (if still out): its put will be refused.
void void_lease(uint32_t slot, uint64_t token);

// Voids every lease out on key: their holders' puts will be refused. Called by every write and
// drop of the key before it takes effect. Cheap when no lease is out.
void void_leases(const ScopedKey &key);

// Voids every lease of a database scope (a flush).
void void_scope_leases(pg::ScopeId scope);

// Sleeps until the lease `held` ends or at most wait_ms pass (waking for cancel and
// termination); if its holder has died meanwhile, ends the lease so that a waiter can take
// over. Never sleeps with a lock held.
void wait_for_lease(const Lease &held, long wait_ms);

// Before a fetch waits for `held`: marks the leases this backend holds as waiting for it, and
// returns true; or, when the holder of `held` waits (directly or through other holders) for a
// lease this backend holds, so that neither could go on before the leases expire, marks
// nothing and returns false. Mark and check run under one lock, so of two sessions that would
// wait for each other the second sees the first's mark.
bool begin_waiting(const Lease &held);

// Clears the marks of begin_waiting (after the wait, or when it fails).
void end_waiting();

// Ends every lease this backend holds (at exit and when a fetch is aborted).
void end_my_leases();

// One lease as reported by simple_cache_leases().
struct LeaseReport {
    int holder_pid;
    int64_t expires_ms;
    bool voided;
};

// The leases out on keys of the current database; returns how many it wrote to out (at most
// kLeaseSlots).
uint32_t report_leases(LeaseReport *out);

// How long a lease lasts, in ms (the setting simple_cache.lease_time, cut to
// simple_cache.max_lease_time).
int64_t lease_time_ms();

// The longest lease, in ms (the setting simple_cache.max_lease_time).
int64_t max_lease_time_ms();

// Defines the setting (from init()).
void define_lease_settings();

}  // namespace simple_cache::cache
