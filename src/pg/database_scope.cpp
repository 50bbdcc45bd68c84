// The registry of database scopes (see database_scope.hpp).
//
// The registry lives in the shared area: a root with its lock and up to kMaxBlocks blocks of
// kSlotsPerBlock records, allocated as needed and never freed or moved, so a backend may keep
// a pointer to its own record. A scope's number holds its slot (low bits) and the slot's
// generation (high bits), which changes whenever a freed slot is used again. A slot is freed
// only after its scope was retired and purged with no backend and no load using it.
#include "simple_cache/pg/database_scope.hpp"

#include <algorithm>
#include <atomic>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/lock_holder.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

namespace simple_cache::pg {

namespace {

constexpr uint32_t kSlotBits = 20;
constexpr uint32_t kSlotMask = (uint32_t{1} << kSlotBits) - 1;
constexpr uint32_t kSlotsPerBlock = 1024;
constexpr uint32_t kMaxBlocks = kSlotMask / kSlotsPerBlock;  // slot + 1 always fits kSlotMask
constexpr uint32_t kMaxSlots = kMaxBlocks * kSlotsPerBlock;

// Least time between two collections that nobody forced.
constexpr int64_t kCollectIntervalMs = 1000;

constexpr const char *kExtensionName = "simple_cache";

enum ScopeState : uint32_t {
    kFree = 0,     // the slot holds no scope
    kLive = 1,     // the scope is in use; its data is reachable
    kRetired = 2,  // its data is unreachable, and reclaimed once nothing uses the scope
};

// One slot of the registry.
struct ScopeRecord {
    std::atomic<uint32_t> state;
    std::atomic<ScopeId> id;
    std::atomic<int32_t> backends;  // backends of the database that use the scope
    std::atomic<int32_t> pins;      // loads writing saved data into it
    uint32_t generation;            // bumped whenever the slot takes a new scope
    DatabaseIdentity identity;      // changed only under the registry lock
    std::atomic<int64_t> usage[kScopeUsageCounters];  // the features' counters
};

// The registry's root in the shared area.
struct ScopeRegistry {
    LWLock lock;
    uint32_t slots_used;  // slots below this number have been used; written under the lock
    std::atomic<int64_t> last_collection_ms;
    dsa_pointer blocks[kMaxBlocks];
};

ScopeRegistry *registry_root = nullptr;
ScopePurger purgers[4];
int purger_count = 0;

// This backend's scope and its record (kept while the record holds that scope and is live).
ScopeRecord *my_record = nullptr;
ScopeId my_scope = kNoScope;
// simple_cache's extension oid in this backend's database, as my_scope was resolved with.
Oid my_extension = InvalidOid;
bool exit_callback_registered = false;

// Set when the catalogs that make up the identity may have changed: resolve again.
bool identity_may_have_changed = false;
bool invalidation_callbacks_registered = false;

// Scopes pinned by loads in this process, unpinned by ~SavedScopes or at exit.
std::vector<ScopeRecord *> pinned_records;

// This backend's addresses of the registry's blocks, filled as they are first needed.
ScopeRecord *block_addresses[kMaxBlocks];

// Makes the registry's root; runs once per cluster, under the area's init lock.
dsa_pointer create_registry(DsaPolicy &policy)
{
    dsa_pointer ptr = policy.allocate_zeroed(sizeof(ScopeRegistry));
    if (!DsaPointerIsValid(ptr))
        throw SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the database scope registry");
    auto *registry = static_cast<ScopeRegistry *>(policy.address(ptr));
    LWLockInitialize(&registry->lock, attach().area_tranche);
    return ptr;
}

// The registry, created on first use in the cluster.
ScopeRegistry &registry()
{
    if (registry_root == nullptr) {
        Attachment &a = attach();
        dsa_pointer ptr = ensure_root(a.control->scope_registry, create_registry);
        registry_root = static_cast<ScopeRegistry *>(a.policy->address(ptr));
    }
    return *registry_root;
}

// Whether the registry exists, found without creating it.
bool registry_exists()
{
    return registry_root != nullptr ||
           DsaPointerIsValid(attach().control->scope_registry.load(std::memory_order_acquire));
}

// The record of slot number `slot` (below slots_used). May throw (address translation).
ScopeRecord *record_at(ScopeRegistry &reg, uint32_t slot)
{
    auto *block = static_cast<ScopeRecord *>(attach().policy->address(reg.blocks[slot / kSlotsPerBlock]));
    return block + slot % kSlotsPerBlock;
}

// The record holding scope id (in any state but free), or nullptr. Caller holds the lock.
ScopeRecord *record_of(ScopeRegistry &reg, ScopeId id)
{
    uint32_t slot = (id & kSlotMask) - 1;
    if (id == kNoScope || slot >= reg.slots_used)
        return nullptr;
    ScopeRecord *record = record_at(reg, slot);
    if (record->id.load(std::memory_order_relaxed) != id || record->state.load(std::memory_order_relaxed) == kFree)
        return nullptr;
    return record;
}

// Calls visit(record) for every slot used so far, under the registry lock in shared mode.
template <class Visit>
void for_each_record(ScopeRegistry &reg, Visit &&visit)
{
    LockHolder lock(&reg.lock, LW_SHARED);
    for (uint32_t slot = 0; slot < reg.slots_used; ++slot)
        visit(*record_at(reg, slot));
}

// The live record of database, or nullptr (at most one is live per database). Caller holds
// the lock.
ScopeRecord *find_live(ScopeRegistry &reg, Oid database)
{
    for (uint32_t slot = 0; slot < reg.slots_used; ++slot) {
        ScopeRecord *record = record_at(reg, slot);
        if (record->state.load(std::memory_order_relaxed) == kLive && record->identity.database == database)
            return record;
    }
    return nullptr;
}

// Puts a new live scope for identity in a free slot; nullptr when the registry is full or
// shared memory ran out. Caller holds the lock exclusively; nothing changes on failure.
ScopeRecord *claim_slot(ScopeRegistry &reg, const DatabaseIdentity &identity)
{
    ScopeRecord *record = nullptr;
    uint32_t slot = 0;
    for (; slot < reg.slots_used && record == nullptr; ++slot) {
        ScopeRecord *candidate = record_at(reg, slot);
        if (candidate->state.load(std::memory_order_relaxed) == kFree)
            record = candidate;
    }
    if (record == nullptr) {
        if (reg.slots_used == kMaxSlots)
            return nullptr;
        slot = reg.slots_used;
        dsa_pointer &block = reg.blocks[slot / kSlotsPerBlock];
        if (!DsaPointerIsValid(block)) {
            dsa_pointer fresh = attach().policy->allocate_zeroed(kSlotsPerBlock * sizeof(ScopeRecord));
            if (!DsaPointerIsValid(fresh))
                return nullptr;
            block = fresh;
        }
        record = record_at(reg, slot);
        __atomic_store_n(&reg.slots_used, slot + 1, __ATOMIC_RELEASE);  // read without the lock too
        slot += 1;
    }
    // slot is now the record's slot number + 1.
    record->generation = (record->generation + 1) & (UINT32_MAX >> kSlotBits);
    record->identity = identity;
    record->backends.store(0, std::memory_order_relaxed);
    record->pins.store(0, std::memory_order_relaxed);
    for (auto &counter : record->usage)
        counter.store(0, std::memory_order_relaxed);
    record->id.store((record->generation << kSlotBits) | slot, std::memory_order_release);
    record->state.store(kLive, std::memory_order_release);
    return record;
}

// This backend's address of registry block `index`, found without the registry lock; nullptr
// when the block does not exist yet (or cannot be reached).
ScopeRecord *block_at(uint32_t index) noexcept
{
    ScopeRecord *&block = block_addresses[index];
    if (block == nullptr) {
        try {
            if (!registry_exists())
                return nullptr;
            dsa_pointer ptr = registry().blocks[index];  // written once, before any slot in it is used
            if (!DsaPointerIsValid(ptr))
                return nullptr;
            block = static_cast<ScopeRecord *>(attach().policy->address(ptr));
        } catch (...) {
            return nullptr;
        }
    }
    return block;
}

// The record currently holding scope id, found without the registry lock; nullptr when the
// scope is not registered (or its block cannot be reached).
ScopeRecord *record_of_unlocked(ScopeId id) noexcept
{
    if (id == my_scope && my_record != nullptr)
        return my_record;
    uint32_t slot = (id & kSlotMask) - 1;
    if (id == kNoScope || slot / kSlotsPerBlock >= kMaxBlocks)
        return nullptr;
    ScopeRecord *block = block_at(slot / kSlotsPerBlock);
    if (block == nullptr)
        return nullptr;
    ScopeRecord *record = block + slot % kSlotsPerBlock;
    return record->id.load(std::memory_order_acquire) == id ? record : nullptr;
}

// The error for a full registry.
[[noreturn]] void throw_registry_full()
{
    throw SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no room to register this database",
                   "The registry of databases using simple_cache holds at most " + std::to_string(kMaxSlots) +
                       " of them, within the shared memory limit.");
}

// The current database's identity, read from the catalogs. Plain PostgreSQL code.
void read_identity(DatabaseIdentity *identity)
{
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
    if (!HeapTupleIsValid(tuple))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_DATABASE),
                        errmsg("simple_cache: database %u does not exist", MyDatabaseId)));
    identity->database = MyDatabaseId;
    identity->row_xmin = HeapTupleHeaderGetRawXmin(tuple->t_data);
    ReleaseSysCache(tuple);
    identity->extension = get_extension_oid(kExtensionName, true);
}

// Whether database exists with its pg_database row written by row_xmin. Plain PostgreSQL code.
bool database_row_unchanged(Oid database, TransactionId row_xmin)
{
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database));
    if (!HeapTupleIsValid(tuple))
        return false;
    bool same = HeapTupleHeaderGetRawXmin(tuple->t_data) == row_xmin;
    ReleaseSysCache(tuple);
    return same;
}

// The xmin of database's pg_database row, or InvalidTransactionId when it does not exist.
// Plain PostgreSQL code.
TransactionId database_row_xmin(Oid database)
{
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database));
    if (!HeapTupleIsValid(tuple))
        return InvalidTransactionId;
    TransactionId xmin = HeapTupleHeaderGetRawXmin(tuple->t_data);
    ReleaseSysCache(tuple);
    return xmin;
}

// Stops counting this backend as a user of its scope.
void detach_my_scope()
{
    if (my_record != nullptr)
        my_record->backends.fetch_sub(1, std::memory_order_acq_rel);
    my_record = nullptr;
    my_scope = kNoScope;
}

// Releases the pins of a load that ended without ~SavedScopes.
void unpin_all()
{
    for (ScopeRecord *record : pinned_records)
        record->pins.fetch_sub(1, std::memory_order_acq_rel);
    pinned_records.clear();
}

// At backend exit (before shared memory is detached): let the scope go.
void release_at_exit(int, Datum)
{
    detach_my_scope();
    unpin_all();
}

// A pg_database row or a function changed (DROP and CREATE EXTENSION always change
// functions): check the identity again at the next call.
void note_catalog_change(Datum, syscache_id, uint32)
{
    identity_may_have_changed = true;
}

// Registers the catalog callbacks that tell this backend when to check its identity again.
void register_invalidation_callbacks()
{
    if (invalidation_callbacks_registered)
        return;
    guard([] {
        CacheRegisterSyscacheCallback(DATABASEOID, note_catalog_change, 0);
        CacheRegisterSyscacheCallback(PROCOID, note_catalog_change, 0);
    });
    invalidation_callbacks_registered = true;
}

// Makes sure release_at_exit runs when this process exits.
void register_exit_callback()
{
    if (exit_callback_registered)
        return;
    guard([] { before_shmem_exit(release_at_exit, 0); });
    exit_callback_registered = true;
}

// Inside a transaction that has written, the catalogs may show its own uncommitted changes (an
// ALTER DATABASE or GRANT, a DROP and CREATE EXTENSION not committed yet), which must neither
// retire the database's scope nor rename it: the scope in use is kept (or the database's live
// scope joined as it is), and the identity is judged again in a later transaction. nullptr
// when there is nothing to keep.
ScopeRecord *scope_kept_while_writing(ScopeRegistry &reg)
{
    if (!guard([] { return TransactionIdIsValid(GetTopTransactionIdIfAny()); }))
        return nullptr;
    identity_may_have_changed = true;  // judge again once this transaction is over
    if (my_record != nullptr && my_record->id.load(std::memory_order_relaxed) == my_scope &&
        my_record->state.load(std::memory_order_acquire) == kLive)
        return my_record;
    LockHolder lock(&reg.lock, LW_EXCLUSIVE);
    ScopeRecord *record = find_live(reg, MyDatabaseId);
    if (record == nullptr)
        return nullptr;
    detach_my_scope();
    record->backends.fetch_add(1, std::memory_order_acq_rel);
    my_record = record;
    my_scope = record->id.load(std::memory_order_relaxed);
    return record;
}

// Resolves the current database's scope: finds the live scope with this database's identity,
// adopts a changed pg_database row while backends use the scope, or retires an older
// incarnation's scope and registers a new one.
ScopeId resolve_current_scope()
{
    if (!OidIsValid(MyDatabaseId))
        throw SqlError(ERRCODE_INTERNAL_ERROR, "simple_cache: no database scope outside a database");
    ScopeRegistry &reg = registry();
    register_exit_callback();
    register_invalidation_callbacks();
    if (ScopeRecord *kept = scope_kept_while_writing(reg))
        return kept->id.load(std::memory_order_relaxed);
    identity_may_have_changed = false;  // a change from now on is seen by the read below or flagged again
    DatabaseIdentity identity{};
    guard([&] { read_identity(&identity); });
    bool retired = false;
    {
        LockHolder lock(&reg.lock, LW_EXCLUSIVE);
        ScopeRecord *record = find_live(reg, identity.database);
        if (record != nullptr && !(record->identity == identity)) {
            // A backend of the database uses the scope (this one, or another), so the database
            // was not dropped in between: only its row was rewritten. Anything else is a new
            // incarnation.
            bool row_rewritten = record->identity.extension == identity.extension &&
                                 (record == my_record || record->backends.load(std::memory_order_acquire) > 0);
            if (row_rewritten) {
                record->identity.row_xmin = identity.row_xmin;
            } else {
                record->state.store(kRetired, std::memory_order_release);
                record = nullptr;
                retired = true;
            }
        }
        if (record == nullptr || record != my_record) {
            if (record == nullptr)
                record = claim_slot(reg, identity);
            if (record == nullptr) {
                detach_my_scope();
                lock.release();
                throw_registry_full();
            }
            detach_my_scope();
            record->backends.fetch_add(1, std::memory_order_acq_rel);
            my_record = record;
        }
        my_scope = record->id.load(std::memory_order_relaxed);
        my_extension = identity.extension;
    }
    // Only retire here: purging scans the whole cache, too much for whichever call happens to
    // come first (eviction takes a retired scope's entries first; saves and flushes purge).
    collect_dead_scopes(retired ? Collection::retire_now : Collection::retire_when_due);
    return my_scope;
}

// Takes the right to run a collection now: at most one per interval, unless forced.
bool claim_collection(ScopeRegistry &reg, bool force)
{
    int64_t now = GetCurrentTimestamp() / 1000;
    int64_t last = reg.last_collection_ms.load(std::memory_order_relaxed);
    if (!force && now - last < kCollectIntervalMs)
        return false;
    return reg.last_collection_ms.compare_exchange_strong(last, now) || force;
}

// Retires live scopes whose database is gone, or whose row changed while no backend used them;
// a scope that backends of its database use takes its rewritten row's identity instead (the
// database cannot have been dropped while they are connected).
void retire_dead_scopes(ScopeRegistry &reg)
{
    std::vector<ScopeEntry> live;
    for_each_record(reg, [&](ScopeRecord &record) {
        if (record.state.load(std::memory_order_relaxed) == kLive)
            live.push_back(ScopeEntry{record.id.load(std::memory_order_relaxed), record.identity});
    });
    std::vector<ScopeEntry> changed;  // with the row's xmin now (invalid: the database is gone)
    for (const ScopeEntry &entry : live) {
        Oid database = entry.identity.database;
        TransactionId now = guard([=] { return database_row_xmin(database); });
        if (now != entry.identity.row_xmin) {
            ScopeEntry seen = entry;
            seen.identity.row_xmin = now;
            changed.push_back(seen);
        }
    }
    if (changed.empty())
        return;
    LockHolder lock(&reg.lock, LW_EXCLUSIVE);
    for (const ScopeEntry &seen : changed) {
        ScopeRecord *record = record_of(reg, seen.id);
        if (record == nullptr || record->state.load(std::memory_order_relaxed) != kLive)
            continue;
        bool in_use = record->backends.load(std::memory_order_acquire) > 0;
        if (in_use && TransactionIdIsValid(seen.identity.row_xmin))
            record->identity.row_xmin = seen.identity.row_xmin;
        else if (!in_use)
            record->state.store(kRetired, std::memory_order_release);
    }
}

// Purges the retired scopes nothing uses any more and frees their slots.
void purge_retired_scopes(ScopeRegistry &reg)
{
    std::vector<ScopeId> idle;
    for_each_record(reg, [&](ScopeRecord &record) {
        if (record.state.load(std::memory_order_relaxed) == kRetired &&
            record.backends.load(std::memory_order_acquire) == 0 && record.pins.load(std::memory_order_acquire) == 0)
            idle.push_back(record.id.load(std::memory_order_relaxed));
    });
    if (idle.empty())
        return;
    for (int i = 0; i < purger_count; ++i)
        purgers[i](idle.data(), idle.size());
    // Nothing can use a retired scope again, so its data is gone for good: free the slots.
    LockHolder lock(&reg.lock, LW_EXCLUSIVE);
    for (ScopeId id : idle) {
        ScopeRecord *record = record_of(reg, id);
        if (record != nullptr && record->state.load(std::memory_order_relaxed) == kRetired)
            record->state.store(kFree, std::memory_order_release);
    }
}

}  // namespace

ScopeId current_scope()
{
    ScopeRecord *record = my_record;
    if (record != nullptr && !identity_may_have_changed && record->id.load(std::memory_order_relaxed) == my_scope &&
        record->state.load(std::memory_order_acquire) == kLive)
        return my_scope;
    return resolve_current_scope();
}

std::vector<ScopeEntry> live_scopes()
{
    std::vector<ScopeEntry> live;
    if (!registry_exists())
        return live;
    for_each_record(registry(), [&](ScopeRecord &record) {
        if (record.state.load(std::memory_order_relaxed) == kLive)
            live.push_back(ScopeEntry{record.id.load(std::memory_order_relaxed), record.identity});
    });
    return live;
}

SavedScopes::~SavedScopes()
{
    for (const ScopeEntry &entry : known_) {
        if (entry.id == kNoScope)
            continue;
        for (size_t i = 0; i < pinned_records.size(); ++i) {
            if (pinned_records[i]->id.load(std::memory_order_relaxed) == entry.id) {
                pinned_records[i]->pins.fetch_sub(1, std::memory_order_acq_rel);
                pinned_records.erase(pinned_records.begin() + static_cast<std::ptrdiff_t>(i));
                break;
            }
        }
    }
}

ScopeId SavedScopes::scope_for(const DatabaseIdentity &identity)
{
    for (const ScopeEntry &entry : known_)
        if (entry.identity == identity)
            return entry.id;
    known_.reserve(known_.size() + 1);
    // Where the catalogs can be read, data of a database that is gone is not even registered.
    Oid database = identity.database;
    TransactionId row_xmin = identity.row_xmin;
    if (guard([] { return IsTransactionState(); }) &&
        !guard([=] { return database_row_unchanged(database, row_xmin); })) {
        known_.push_back(ScopeEntry{kNoScope, identity});
        return kNoScope;
    }
    ScopeRegistry &reg = registry();
    register_exit_callback();
    pinned_records.reserve(pinned_records.size() + 1);
    ScopeId id = kNoScope;
    {
        LockHolder lock(&reg.lock, LW_EXCLUSIVE);
        ScopeRecord *record = find_live(reg, identity.database);
        if (record == nullptr) {
            record = claim_slot(reg, identity);
            if (record == nullptr) {
                lock.release();
                throw_registry_full();
            }
        } else if (!(record->identity == identity)) {
            record = nullptr;  // saved by an older incarnation of the database
        }
        if (record != nullptr) {
            record->pins.fetch_add(1, std::memory_order_acq_rel);
            pinned_records.push_back(record);
            id = record->id.load(std::memory_order_relaxed);
        }
    }
    known_.push_back(ScopeEntry{id, identity});
    return id;
}

void add_scope_usage(ScopeId scope, int counter, int64_t delta) noexcept
{
    if (ScopeRecord *record = record_of_unlocked(scope))
        record->usage[counter].fetch_add(delta, std::memory_order_relaxed);
}

int64_t scope_usage(ScopeId scope, int counter) noexcept
{
    ScopeRecord *record = record_of_unlocked(scope);
    return record == nullptr ? 0 : record->usage[counter].load(std::memory_order_relaxed);
}

bool other_scope_exceeds(ScopeId scope, int counter, int64_t threshold)
{
    if (!registry_exists())
        return false;
    int64_t own = scope_usage(scope, counter);
    bool exceeds = false;
    for_each_record(registry(), [&](ScopeRecord &record) {
        uint32_t state = record.state.load(std::memory_order_relaxed);
        if (exceeds || state == kFree || record.id.load(std::memory_order_relaxed) == scope)
            return;
        int64_t usage = record.usage[counter].load(std::memory_order_relaxed);
        exceeds = state == kLive ? usage > own + threshold : usage != 0;
    });
    return exceeds;
}

std::vector<ScopeReport> scope_reports()
{
    std::vector<ScopeReport> reports;
    if (!registry_exists())
        return reports;
    for_each_record(registry(), [&](ScopeRecord &record) {
        if (record.state.load(std::memory_order_relaxed) != kLive)
            return;
        ScopeReport report{record.id.load(std::memory_order_relaxed), record.identity,
                           record.backends.load(std::memory_order_relaxed), {}};
        for (int i = 0; i < kScopeUsageCounters; ++i)
            report.usage[i] = record.usage[i].load(std::memory_order_relaxed);
        reports.push_back(report);
    });
    return reports;
}

bool scope_is_live(ScopeId scope) noexcept
{
    ScopeRecord *record = record_of_unlocked(scope);
    return record != nullptr && record->state.load(std::memory_order_acquire) == kLive;
}

ScopeId resolved_scope() noexcept
{
    return my_scope;
}

bool extension_in_current_database()
{
    current_scope();
    return my_extension != InvalidOid;
}

void register_scope_purger(ScopePurger purger)
{
    for (int i = 0; i < purger_count; ++i)
        if (purgers[i] == purger)
            return;
    if (purger_count < static_cast<int>(sizeof purgers / sizeof purgers[0]))
        purgers[purger_count++] = purger;
}

void collect_dead_scopes(Collection collection)
{
    if (!registry_exists())
        return;
    ScopeRegistry &reg = registry();
    if (!claim_collection(reg, collection != Collection::retire_when_due))
        return;
    retire_dead_scopes(reg);
    if (collection == Collection::retire_and_purge)
        purge_retired_scopes(reg);
}

}  // namespace simple_cache::pg
