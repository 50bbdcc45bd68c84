// Read-through with leases (see fetch.hpp): a hit returns the value; on a miss one session gets
// the lease and computes the value while the others wait for it.
#include "simple_cache/cache/fetch.hpp"

#include <algorithm>
#include <string>

#include "simple_cache/cache/item_building.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/cache/make_room.hpp"
#include "simple_cache/cache/pending_writes.hpp"
#include "simple_cache/cache/replica_fences.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/startup_load.hpp"

extern "C" {
#include "access/xact.h"
}

namespace simple_cache::cache {

namespace {

// The leases this backend's fetches hold while they compute (a fetch's query may fetch other
// keys, so they nest), so that an aborted transaction ends them even if an error were to pass
// over a fetch's own cleanup. Deeper nesting than kTracked is not tracked here; the fetches'
// own cleanup still ends those leases.
struct TrackedLease {
    uint32_t slot;
    uint64_t token;
};
constexpr int kTracked = 16;
TrackedLease tracked[kTracked];
int tracked_count = 0;  // may exceed kTracked: entries past it are not kept
bool abort_callbacks_registered = false;

// Ends a lease, logging instead of raising a failure; never throws.
void end_lease_quietly(uint32_t slot, uint64_t token) noexcept
{
    pg::run_logging(WARNING, "simple_cache", "ending the lease of a fetch", [=] { end_lease(slot, token); });
}

// Ends the tracked leases still out (after an abort).
void end_tracked_leases() noexcept
{
    for (int i = 0; i < std::min(tracked_count, kTracked); ++i)
        end_lease_quietly(tracked[i].slot, tracked[i].token);
    tracked_count = 0;
}

// Transaction callback: an abort ends the fetches' leases.
void end_fetch_leases_at_abort(XactEvent event, void *)
{
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
        end_tracked_leases();
}

// Registers the abort callback once per backend. (No subtransaction callback: a subtransaction
// that a fetch's query aborts and catches leaves the fetch going; a fetch that fails inside a
// subtransaction has ended its lease on the way out.)
void register_abort_callbacks()
{
    if (abort_callbacks_registered)
        return;
    pg::guard([] {
        RegisterXactCallback(end_fetch_leases_at_abort, nullptr);
    });
    abort_callbacks_registered = true;
}

// Holds a fetch's lease: ends it when the fetch leaves without storing (an error or cancel in
// the query included).
class FetchLeaseHold {
  public:
    explicit FetchLeaseHold(const Lease &lease) : slot_(lease.slot), token_(lease.token)
    {
        if (tracked_count < kTracked)
            tracked[tracked_count] = TrackedLease{slot_, token_};
        ++tracked_count;
    }
    FetchLeaseHold(const FetchLeaseHold &) = delete;
    FetchLeaseHold &operator=(const FetchLeaseHold &) = delete;
    ~FetchLeaseHold()
    {
        if (tracked_count > 0)
            --tracked_count;
        if (!consumed_)
            end_lease_quietly(slot_, token_);
    }

    // The lease was used up by a put under it (which ends it either way).
    void consumed() noexcept { consumed_ = true; }

  private:
    uint32_t slot_;
    uint64_t token_;
    bool consumed_ = false;
};

// Marks this backend's leases as waiting while a fetch waits for another's lease, and clears
// the marks when the wait ends, an error included.
class WaitMark {
  public:
    WaitMark() = default;
    WaitMark(const WaitMark &) = delete;
    WaitMark &operator=(const WaitMark &) = delete;
    ~WaitMark()
    {
        pg::run_logging(WARNING, "simple_cache", "ending a wait for a lease", [] { end_waiting(); });
    }
};

// What a put under a lease links, and what came of it.
struct LeasedLink {
    CacheTable::NewItem *item;
    const ScopedKey *key;
    PutOutcome outcome;
};

// Links the item (runs under the lease table's lock, from store_under_lease).
void link_leased_item(void *context)
{
    auto *link = static_cast<LeasedLink *>(context);
    link->outcome = link_item(std::move(*link->item), *link->key, now_ms(),
                              [](const CacheEntry *, const char *) { return true; });
}

// Stores value under the lease; false (nothing stored) when the lease is no longer valid.
bool put_under_lease(const ScopedKey &scoped, uint64_t token, const ValueBytes &value, Ttl ttl)
{
    pg::note_write_during_startup_load(scoped.view());
    int64_t expires = expiry_for(ttl, now_ms());
    CacheTable::NewItem item = build_item(scoped, value, expires);
    LeasedLink link{&item, &scoped, {}};
    bool valid = store_under_lease(scoped, token, link_leased_item, &link);
    if (link.outcome.stored)
        keep_database_within_limit_after_write(scoped);
    return valid && link.outcome.stored;
}

// Voids the lease just taken on key when a replayed invalidation fences it: its holder may
// read rows older than the invalidation's commit, and the fence may be gone by the time it
// puts. (A fence installed after this check is followed by the replay's own voiding.)
void void_lease_if_fenced(const ScopedKey &key)
{
    if (put_is_fenced(key.view()))
        void_leases(key);
}

// How long to sleep for a lease that expires at expires_ms, waiting no later than deadline_ms:
// until the earlier of the two, at most a second (so that a dead holder is noticed), at least a
// millisecond.
long wait_slice_ms(int64_t expires_ms, int64_t deadline_ms)
{
    int64_t left = std::min(expires_ms, deadline_ms) - now_ms();
    return static_cast<long>(std::clamp<int64_t>(left, 1, 1000));
}

// Raises 22023 for a lease longer than simple_cache.max_lease_time.
void check_lease_time(int64_t lease_ms)
{
    if (lease_ms > max_lease_time_ms())
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                           "simple_cache lease time is longer than simple_cache.max_lease_time",
                           "The longest lease is " + std::to_string(max_lease_time_ms()) + " ms.",
                           "Ask for a shorter lease_time; a superuser may raise simple_cache.max_lease_time.");
}

// Raises 53400 when the current database holds its whole share of the lease table.
[[noreturn]] void raise_no_lease_slot()
{
    throw pg::SqlError(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                       "simple_cache: no lease slot is free for this database",
                       "A database may hold at most as many leases as there are free slots (of " +
                           std::to_string(kLeaseSlots) + " in the server).",
                       "Compute the value without storing it, or put it with simple_cache_put; end leases "
                       "with simple_cache_put_leased or simple_cache_release_lease.");
}

// Whether this transaction has a write of key queued for its commit (a put, incr or drop of
// it, or a prefix drop that covers it): a value it computes now may come from its own
// uncommitted changes, so it must not reach the shared cache.
bool has_pending_write(const char *key, size_t key_size)
{
    return read_pending(key, key_size, ValueKind::text).decided;
}

}  // namespace

varlena *fetch(const char *key, size_t key_size, Ttl ttl, bool may_store, ValueSource compute, void *context)
{
    // A bad ttl is refused before anything runs, hit or not; checked against the statement's
    // start, so that a hit reads no clock.
    expiry_for(ttl, GetCurrentStatementStartTimestamp() / 1000);
    varlena *hit = get(key, key_size, ValueKind::text);  // the hot path: a hit needs no lease
    if (hit != nullptr)
        return hit;
    if (!may_store || has_pending_write(key, key_size))
        return compute(context);
    ScopedKey scoped(key, key_size);
    register_abort_callbacks();
    int64_t wait_deadline = now_ms() + lease_time_ms();  // wait for another's lease no longer
    for (;;) {
        Lease lease = take_lease(scoped, lease_time_ms());
        if (lease.state == Lease::State::held && lease.holder_pid == MyProcPid)
            return compute(context);  // this session holds it (a fetch inside its own query): store nothing
        if (lease.state == Lease::State::held && now_ms() >= wait_deadline)
            return compute(context);  // a lease longer than this fetch's own: compute, store nothing
        if (lease.state == Lease::State::held && !begin_waiting(lease))
            return compute(context);  // its holder waits for a lease this session holds: store nothing
        if (lease.state == Lease::State::held) {
            {
                WaitMark mark;
                wait_for_lease(lease, wait_slice_ms(lease.expires_ms, wait_deadline));
            }
            pg::check_for_interrupts();
            hit = get(key, key_size, ValueKind::text);
            if (hit != nullptr)
                return hit;
            continue;
        }
        if (lease.state == Lease::State::full)
            return compute(context);  // no lease to be had: compute, store nothing
        FetchLeaseHold hold(lease);
        void_lease_if_fenced(scoped);
        hit = get(key, key_size, ValueKind::text);  // stored between the miss and the lease
        if (hit != nullptr)
            return hit;
        varlena *value = compute(context);
        if (has_pending_write(key, key_size))
            return value;  // the query queued a write of the key: store nothing (the hold ends the lease)
        ValueBytes bytes{VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), ValueKind::text};
        put_under_lease(scoped, lease.token, bytes, ttl);  // ends the lease, stored or not
        hold.consumed();
        return value;
    }
}

LeaseOrValue get_or_lease(const char *key, size_t key_size, int64_t lease_ms)
{
    ScopedKey scoped(key, key_size);
    check_lease_time(lease_ms);
    varlena *hit = get(key, key_size, ValueKind::text);
    if (hit != nullptr)
        return LeaseOrValue{hit, 0};
    Lease lease = take_lease(scoped, lease_ms);
    if (lease.state == Lease::State::full)
        raise_no_lease_slot();
    if (lease.state != Lease::State::granted)
        return LeaseOrValue{nullptr, 0};
    void_lease_if_fenced(scoped);
    hit = get(key, key_size, ValueKind::text);  // stored between the miss and the lease
    if (hit != nullptr) {
        end_lease(lease.slot, lease.token);
        return LeaseOrValue{hit, 0};
    }
    if (has_pending_write(key, key_size))
        void_lease(lease.slot, lease.token);  // its put stores nothing, even after a rollback
    return LeaseOrValue{nullptr, lease.token};
}

bool put_leased(const char *key, size_t key_size, ValueBytes value, uint64_t token, Ttl ttl)
{
    ScopedKey scoped(key, key_size);
    expiry_for(ttl, now_ms());  // bad input is refused whether or not the lease is valid
    if (value.size > kMaxValueBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    if (has_pending_write(key, key_size)) {
        end_lease_on(scoped, token);  // the value may come from this transaction's own changes
        return false;
    }
    return put_under_lease(scoped, token, value, ttl);
}

bool release_lease(const char *key, size_t key_size, uint64_t token)
{
    ScopedKey scoped(key, key_size);
    return end_lease_on(scoped, token);
}

}  // namespace simple_cache::cache
