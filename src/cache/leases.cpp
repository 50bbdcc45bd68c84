// The lease table (see leases.hpp): a fixed array of slots in the shared area under one LWLock.
// Nothing here sleeps, allocates backend memory or checks for interrupts while that lock is
// held; waiters sleep on a slot's condition variable with no lock held.
#include "simple_cache/cache/leases.hpp"

#include <algorithm>
#include <atomic>

#include "simple_cache/cache/table.hpp"
#include "simple_cache/core/hash.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/lock_holder.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "storage/condition_variable.h"
#include "storage/procarray.h"
#include "utils/guc.h"
#include "utils/wait_event.h"
}

namespace simple_cache::cache {

namespace {

// One lease: free when token is 0.
struct LeaseSlot {
    uint64_t token;
    uint64_t key_hash;
    uint32_t key_size;
    pg::ScopeId scope;
    int32_t holder_pid;
    bool voided;
    uint32_t holder_waits_for;  // 1 + the slot whose lease the holder's fetch waits for; 0: none
    int64_t expires_ms;
    ConditionVariable ended;  // broadcast when the lease ends
};

struct LeaseTable {
    LWLock lock;
    std::atomic<uint32_t> taken;  // slots in use: lets writes skip the table when it is 0
    uint64_t next_token;
    uint64_t seed;
    LeaseSlot slots[kLeaseSlots];
};

// A key as the lease table knows it.
struct LeaseKey {
    uint64_t hash;
    uint32_t size;
    pg::ScopeId scope;
};

int lease_time_setting_ms = 30000;
int max_lease_time_setting_ms = 600000;
LeaseTable *table = nullptr;
bool exit_callback_registered = false;

// Makes the lease table; runs once per cluster, under the area's init lock.
dsa_pointer create_lease_table(pg::DsaPolicy &policy)
{
    dsa_pointer pointer = policy.allocate_zeroed(sizeof(LeaseTable));
    if (!DsaPointerIsValid(pointer))
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the lease table");
    auto *made = static_cast<LeaseTable *>(policy.address(pointer));
    LWLockInitialize(&made->lock, pg::attach().area_tranche);
    for (LeaseSlot &slot : made->slots)
        ConditionVariableInit(&slot.ended);
    uint64_t seed = 0;
    if (!pg::guard([&] { return pg_strong_random(&seed, sizeof seed); }))
        seed = static_cast<uint64_t>(now_ms()) ^ (static_cast<uint64_t>(MyProcPid) << 32);
    made->seed = seed;
    made->next_token = 1;
    return pointer;
}

// This backend's view of the table, making it when needed.
LeaseTable &lease_table()
{
    if (table == nullptr) {
        dsa_pointer pointer = pg::ensure_root(cache_root().leases, create_lease_table);
        table = static_cast<LeaseTable *>(pg::attach().policy->address(pointer));
    }
    return *table;
}

// The table if any session has made it, else nullptr (never makes it).
LeaseTable *lease_table_if_made()
{
    if (table == nullptr) {
        dsa_pointer pointer = cache_root().leases.load(std::memory_order_acquire);
        if (!DsaPointerIsValid(pointer))
            return nullptr;
        table = static_cast<LeaseTable *>(pg::attach().policy->address(pointer));
    }
    return table;
}

// The identity of key in the table.
LeaseKey lease_key_of(const LeaseTable &t, const ScopedKey &key)
{
    core::KeyView view = key.view();
    uint64_t high = core::hash_bytes(view.data, view.size, t.seed);
    uint64_t low = core::hash_bytes(view.data, view.size, ~t.seed);
    return LeaseKey{(high << 32) | low, static_cast<uint32_t>(view.size), ScopedKey::scope_of(view.data)};
}

// Whether a slot in use holds a lease on key.
bool slot_is_for(const LeaseSlot &slot, const LeaseKey &key)
{
    return slot.token != 0 && slot.key_hash == key.hash && slot.key_size == key.size && slot.scope == key.scope;
}

// Frees a slot (under the exclusive lock); its waiters must be woken once the lock is released.
void free_slot(LeaseTable &t, LeaseSlot &slot)
{
    slot.token = 0;
    slot.voided = false;
    slot.holder_pid = 0;
    slot.holder_waits_for = 0;
    t.taken.fetch_sub(1, std::memory_order_seq_cst);
}

// Wakes the waiters of a slot whose lease ended (no lock held).
void wake_waiters(LeaseSlot &slot)
{
    ConditionVariableBroadcast(&slot.ended);
}

// Ends this backend's leases when it exits (terminated, or the connection closed): waiters go on
// at once instead of waiting for the leases to expire.
void end_leases_at_exit(int, Datum)
{
    pg::run_logging(WARNING, "simple_cache", "ending this session's leases at exit", [] { end_my_leases(); });
}

// Registers end_leases_at_exit once per backend.
void register_exit_callback()
{
    if (exit_callback_registered)
        return;
    pg::guard([] { before_shmem_exit(end_leases_at_exit, 0); });
    exit_callback_registered = true;
}

// Whether the backend with this pid is still running.
bool backend_alive(int pid)
{
    return pg::guard([&] { return BackendPidGetProc(pid) != nullptr; });
}

// What one pass over the table found for a key (under the lock).
struct SlotSearch {
    LeaseSlot *live_on_key = nullptr;     // a live lease on the key
    LeaseSlot *expired_on_key = nullptr;  // an expired lease on the key
    LeaseSlot *free_one = nullptr;        // an unused slot
    LeaseSlot *expired_one = nullptr;     // an expired lease on another key
    uint32_t available = 0;               // slots unused or expired
    uint32_t live_in_scope = 0;           // live leases of the key's database
};

// 64 unpredictable bits for a lease token (pg_strong_random; should it fail, the table's
// secret seed hashed with a counter and the clock). Called with no lock held.
uint64_t random_token_bits(LeaseTable &t)
{
    uint64_t bits = 0;
    if (pg::guard([&] { return pg_strong_random(&bits, sizeof bits); }))
        return bits;
    uint64_t mixed[2] = {static_cast<uint64_t>(now_ms()), static_cast<uint64_t>(MyProcPid)};
    uint64_t high = core::hash_bytes(mixed, sizeof mixed, t.seed);
    uint64_t low = core::hash_bytes(mixed, sizeof mixed, ~t.seed);
    return (high << 32) | low;
}

// A token made of random bits, positive as a bigint and unlike every token out (under the
// exclusive lock): a holder cannot guess another lease's token from its own.
uint64_t unique_token(LeaseTable &t, uint64_t random_bits)
{
    for (;;) {
        uint64_t token = (random_bits ^ (t.next_token++ * 0x9E3779B97F4A7C15ULL)) & INT64_MAX;
        bool in_use = token == 0;
        for (const LeaseSlot &slot : t.slots)
            in_use = in_use || slot.token == token;
        if (!in_use)
            return token;
    }
}

// Marks every lease this backend holds as waiting for `slot` (1 + its index; 0 clears), under
// the exclusive lock.
void mark_my_leases_waiting(LeaseTable &t, uint32_t waits_for)
{
    for (LeaseSlot &slot : t.slots)
        if (slot.token != 0 && slot.holder_pid == MyProcPid)
            slot.holder_waits_for = waits_for;
}

// Whether following "the holder of this lease waits for that lease" from `slot` leads back to a
// lease this backend holds (under the lock).
bool wait_chain_reaches_me(const LeaseTable &t, uint32_t slot)
{
    for (uint32_t step = 0; step < kLeaseSlots; ++step) {
        const LeaseSlot &at = t.slots[slot];
        if (at.token == 0 || at.holder_waits_for == 0)
            return false;
        const LeaseSlot &next = t.slots[at.holder_waits_for - 1];
        if (next.token != 0 && next.holder_pid == MyProcPid)
            return true;
        slot = at.holder_waits_for - 1;
    }
    return false;
}

// Looks at every slot once, for take_lease.
SlotSearch search_slots(LeaseTable &t, const LeaseKey &key, int64_t now)
{
    SlotSearch search;
    for (LeaseSlot &slot : t.slots) {
        if (slot.token == 0) {
            ++search.available;
            if (search.free_one == nullptr)
                search.free_one = &slot;
            continue;
        }
        bool live = slot.expires_ms > now;
        if (!live)
            ++search.available;
        else if (slot.scope == key.scope)
            ++search.live_in_scope;
        if (slot_is_for(slot, key)) {
            (live ? search.live_on_key : search.expired_on_key) = &slot;
        } else if (!live && search.expired_one == nullptr) {
            search.expired_one = &slot;
        }
    }
    return search;
}

// A database may take a new lease only while it holds fewer live leases than there are
// available slots: alone it gets half of the table, and every other database still finds
// slots (each newcomer may take half of what is left), so no database can starve the others.
bool within_database_share(const SlotSearch &search)
{
    return search.live_in_scope < search.available;
}

}  // namespace

Lease take_lease(const ScopedKey &key, int64_t lease_ms)
{
    register_exit_callback();
    LeaseTable &t = lease_table();
    LeaseKey wanted = lease_key_of(t, key);
    lease_ms = std::min(lease_ms, max_lease_time_ms());
    uint64_t random_bits = random_token_bits(t);
    int64_t now = now_ms();
    Lease result;
    LeaseSlot *slot = nullptr;
    bool reused = false;
    {
        pg::LockHolder lock(&t.lock, LW_EXCLUSIVE);
        SlotSearch search = search_slots(t, wanted, now);
        if (search.live_on_key != nullptr) {
            const LeaseSlot &held = *search.live_on_key;
            result.state = Lease::State::held;
            result.slot = static_cast<uint32_t>(&held - t.slots);
            result.token = held.token;
            result.holder_pid = held.holder_pid;
            result.expires_ms = held.expires_ms;
            return result;
        }
        if (!within_database_share(search))
            return result;  // full for this database
        slot = search.expired_on_key != nullptr ? search.expired_on_key : search.free_one;
        if (slot == nullptr)
            slot = search.expired_one;  // reuse an expired lease on another key
        if (slot == nullptr)
            return result;  // full
        reused = slot->token != 0;  // an expired lease: its holder's put will find another token
        if (!reused)
            t.taken.fetch_add(1, std::memory_order_seq_cst);
        slot->token = unique_token(t, random_bits);
        slot->key_hash = wanted.hash;
        slot->key_size = wanted.size;
        slot->scope = wanted.scope;
        slot->holder_pid = MyProcPid;
        slot->voided = false;
        slot->holder_waits_for = 0;
        slot->expires_ms = lease_ms > INT64_MAX - now ? INT64_MAX : now + lease_ms;
        result.state = Lease::State::granted;
        result.slot = static_cast<uint32_t>(slot - t.slots);
        result.token = slot->token;
        result.holder_pid = MyProcPid;
        result.expires_ms = slot->expires_ms;
    }
    if (reused)
        wake_waiters(*slot);  // waiters of an expired lease go on
    return result;
}

bool end_lease(uint32_t slot_index, uint64_t token)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || slot_index >= kLeaseSlots || token == 0)
        return false;
    LeaseSlot &slot = t->slots[slot_index];
    {
        pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
        if (slot.token != token)
            return false;
        free_slot(*t, slot);
    }
    wake_waiters(slot);
    return true;
}

bool end_lease_on(const ScopedKey &key, uint64_t token)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || token == 0)
        return false;
    LeaseKey wanted = lease_key_of(*t, key);
    LeaseSlot *ended = nullptr;
    {
        pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
        for (LeaseSlot &slot : t->slots) {
            if (slot.token == token && slot_is_for(slot, wanted)) {
                free_slot(*t, slot);
                ended = &slot;
                break;
            }
        }
    }
    if (ended == nullptr)
        return false;
    wake_waiters(*ended);
    return true;
}

bool store_under_lease(const ScopedKey &key, uint64_t token, void (*store)(void *), void *context)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || token == 0)
        return false;
    LeaseKey wanted = lease_key_of(*t, key);
    LeaseSlot *ended = nullptr;
    bool valid = false;
    try {
        pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
        for (LeaseSlot &slot : t->slots) {
            if (slot.token == token && slot_is_for(slot, wanted)) {
                valid = !slot.voided && slot.expires_ms > now_ms();
                free_slot(*t, slot);
                ended = &slot;
                break;
            }
        }
        if (valid)
            store(context);
    } catch (...) {
        if (ended != nullptr)
            wake_waiters(*ended);
        throw;
    }
    if (ended != nullptr)
        wake_waiters(*ended);
    return valid;
}

void void_lease(uint32_t slot_index, uint64_t token)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || slot_index >= kLeaseSlots || token == 0)
        return;
    pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
    if (t->slots[slot_index].token == token)
        t->slots[slot_index].voided = true;
}

void void_leases(const ScopedKey &key)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || t->taken.load(std::memory_order_seq_cst) == 0)
        return;
    LeaseKey wanted = lease_key_of(*t, key);
    pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
    for (LeaseSlot &slot : t->slots)
        if (slot_is_for(slot, wanted))
            slot.voided = true;
}

void void_scope_leases(pg::ScopeId scope)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || t->taken.load(std::memory_order_seq_cst) == 0)
        return;
    pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
    for (LeaseSlot &slot : t->slots)
        if (slot.token != 0 && slot.scope == scope)
            slot.voided = true;
}

bool begin_waiting(const Lease &held)
{
    LeaseTable &t = lease_table();
    pg::LockHolder lock(&t.lock, LW_EXCLUSIVE);
    mark_my_leases_waiting(t, held.slot + 1);
    if (!wait_chain_reaches_me(t, held.slot))
        return true;
    mark_my_leases_waiting(t, 0);
    return false;
}

void end_waiting()
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr)
        return;
    pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
    mark_my_leases_waiting(*t, 0);
}

void wait_for_lease(const Lease &held, long wait_ms)
{
    LeaseTable &t = lease_table();
    LeaseSlot &slot = t.slots[held.slot];
    pg::guard([&] { ConditionVariablePrepareToSleep(&slot.ended); });
    bool still_out = false;
    {
        pg::LockHolder lock(&t.lock, LW_SHARED);
        still_out = slot.token == held.token;
    }
    if (still_out)
        pg::guard([&] { (void) ConditionVariableTimedSleep(&slot.ended, wait_ms, PG_WAIT_EXTENSION); });
    pg::guard([] { ConditionVariableCancelSleep(); });
    if (still_out && held.holder_pid != MyProcPid && !backend_alive(held.holder_pid))
        end_lease(held.slot, held.token);  // its holder died without ending it
}

void end_my_leases()
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr || t->taken.load(std::memory_order_seq_cst) == 0)
        return;
    bool ended[kLeaseSlots] = {};
    {
        pg::LockHolder lock(&t->lock, LW_EXCLUSIVE);
        for (uint32_t i = 0; i < kLeaseSlots; ++i) {
            if (t->slots[i].token != 0 && t->slots[i].holder_pid == MyProcPid) {
                free_slot(*t, t->slots[i]);
                ended[i] = true;
            }
        }
    }
    for (uint32_t i = 0; i < kLeaseSlots; ++i)
        if (ended[i])
            wake_waiters(t->slots[i]);
}

uint32_t report_leases(LeaseReport *out)
{
    LeaseTable *t = lease_table_if_made();
    if (t == nullptr)
        return 0;
    pg::ScopeId scope = pg::current_scope();
    uint32_t count = 0;
    pg::LockHolder lock(&t->lock, LW_SHARED);
    for (const LeaseSlot &slot : t->slots)
        if (slot.token != 0 && slot.scope == scope)
            out[count++] = LeaseReport{slot.holder_pid, slot.expires_ms, slot.voided};
    return count;
}

int64_t lease_time_ms()
{
    return std::min(lease_time_setting_ms, max_lease_time_setting_ms);
}

int64_t max_lease_time_ms()
{
    return max_lease_time_setting_ms;
}

void define_lease_settings()
{
    DefineCustomIntVariable("simple_cache.lease_time",
                            "How long a lease on a missing key lasts (simple_cache_fetch, simple_cache_get_or_lease).",
                            "Sessions waiting for a value take over once its lease has expired.",
                            &lease_time_setting_ms, 30000, 1, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("simple_cache.max_lease_time",
                            "The longest lease a session may take (simple_cache_get_or_lease's lease_time).",
                            "A longer lease_time is refused; simple_cache.lease_time over it is cut to it.",
                            &max_lease_time_setting_ms, 600000, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
}

}  // namespace simple_cache::cache
