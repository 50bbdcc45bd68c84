// The relation directory (see directory.hpp): slots, kept grouped by database, totals,
// targets, reclaiming room from relations over their targets, creating, evicting and removing
// relations, and applying the settings.
#include "simple_cache/fsm/directory.hpp"

#include <algorithm>
#include <cstring>

#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

constexpr uint32_t kFirstSlotCapacity = 16;

// Bytes of the slot array for capacity slots: the slots, then as many scratch DatabaseShare
// records for recompute_targets() (a database has at least one slot).
size_t slot_array_bytes(uint32_t capacity)
{
    return size_t{capacity} * (sizeof(Slot) + sizeof(cf::DatabaseShare));
}

// Makes room for one more slot, doubling the array when it is full; false when out of memory
// (nothing changed then).
bool ensure_slot_room(Shared &s)
{
    FsmRoot &root = *s.root;
    uint32_t n = relation_count(s);
    if (n < root.slot_capacity)
        return true;
    uint32_t capacity = std::max(kFirstSlotCapacity, root.slot_capacity * 2);
    dsa_pointer fresh = s.policy->allocate(slot_array_bytes(capacity));
    if (!DsaPointerIsValid(fresh))
        return false;
    if (n > 0) {
        void *to;
        try {
            to = s.policy->address(fresh);
        } catch (...) {
            s.policy->deallocate(fresh, slot_array_bytes(capacity));
            throw;
        }
        std::memcpy(to, slots(s), size_t{n} * sizeof(Slot));
    }
    dsa_pointer old = root.slots;
    size_t old_bytes = slot_array_bytes(root.slot_capacity);
    root.slots = fresh;
    root.slot_capacity = capacity;
    if (DsaPointerIsValid(old)) {
        try {
            s.policy->deallocate(old, old_bytes);
        } catch (...) {
            // The directory is consistent; at worst the old array leaks.
        }
    }
    return true;
}

// The scratch records that follow the slots in their allocation.
cf::DatabaseShare *scratch_shares(Shared &s, Slot *all)
{
    return reinterpret_cast<cf::DatabaseShare *>(all + s.root->slot_capacity);
}

// Inserts slot at position `at` of all (room for it was ensured), keeping the clocks on the
// relations they pointed at. Never throws.
void insert_slot(Shared &s, Slot *all, uint32_t at, const Slot &slot)
{
    FsmRoot &root = *s.root;
    uint32_t n = relation_count(s);
    std::memmove(all + at + 1, all + at, size_t{n - at} * sizeof(Slot));
    all[at] = slot;
    root.relations.store(n + 1, std::memory_order_relaxed);
    if (n > 0 && root.reclaim_clock >= at)
        ++root.reclaim_clock;
    if (n > 0 && root.evict_hand >= at)
        ++root.evict_hand;
}

}  // namespace

Slot *slots(Shared &s)
{
    if (!DsaPointerIsValid(s.root->slots))
        return nullptr;
    return static_cast<Slot *>(s.policy->address(s.root->slots));
}

uint32_t relation_count(Shared &s)
{
    return s.root->relations.load(std::memory_order_relaxed);
}

int32_t find_slot(Shared &s, const FsmKey &key)
{
    const Slot *all = slots(s);
    DatabaseRun run = database_run(s, all, key.database);
    for (uint32_t i = run.begin; i < run.end; ++i)
        if (all[i].key.relid == key.relid)
            return static_cast<int32_t>(i);
    return kNoSlot;
}

DatabaseRun database_run(Shared &s, const Slot *all, pg::ScopeId database)
{
    uint32_t n = relation_count(s);
    const Slot *end = all + n;
    const Slot *first = std::lower_bound(
        all, end, database, [](const Slot &slot, pg::ScopeId d) { return slot.key.database < d; });
    const Slot *last = std::upper_bound(
        first, end, database, [](pg::ScopeId d, const Slot &slot) { return d < slot.key.database; });
    return DatabaseRun{static_cast<uint32_t>(first - all), static_cast<uint32_t>(last - all)};
}

bool evict_one(Shared &s, pg::ScopeId newcomer, cf::EvictionScope scope)
{
    FsmRoot &root = *s.root;
    uint32_t n = relation_count(s);
    if (n == 0)
        return false;
    Slot *all = slots(s);
    size_t hand = root.evict_hand;
    size_t i = cf::choose_eviction(
        n, [all](size_t j) { return all[j].key.database; }, newcomer, scope, &hand, [&](size_t j) {
            RelationEntry *e = entry_of(s, all[j].key);
            return e != nullptr && __atomic_exchange_n(&e->referenced, 0, __ATOMIC_RELAXED) != 0;
        });
    if (i == n)
        return false;
    root.evict_hand = static_cast<uint32_t>(hand);
    remove_relation(s, all, static_cast<uint32_t>(i));
    root.evictions.fetch_add(1, std::memory_order_relaxed);
    return true;
}

RelationEntry *entry_of(Shared &s, const FsmKey &key)
{
    FsmTable::Ref ref = s.table->find(key_view(key), core::LockMode::shared);
    return ref ? &ref.entry() : nullptr;
}

int32_t create_relation(Shared &s, const FsmKey &key, cf::RelationKind kind, const DatabaseLimits &limits,
                        RelationEntry **entry)
{
    FsmRoot &root = *s.root;
    apply_settings(s);
    bool evicted = false;
    if (limits.apply && limits.max_relations > 0)
        while (database_run(s, slots(s), key.database).size() >= limits.max_relations &&
               evict_one(s, key.database, cf::EvictionScope::own_database))
            evicted = true;
    uint32_t limit = static_cast<uint32_t>(std::max(1, root.max_relations_applied.load(std::memory_order_relaxed)));
    while (relation_count(s) >= limit && evict_one(s, key.database, cf::EvictionScope::fair))
        evicted = true;
    if (evicted)
        recompute_targets(s, slots(s));
    if (!ensure_slot_room(s))
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the free-space map",
                           "The relation could not be added to the map's directory.");
    Slot *all = slots(s);  // before the insertion: nothing below may fail once it is done
    DatabaseRun run = database_run(s, all, key.database);
    uint32_t database_limit = run.size() > 0 ? all[run.begin].database_limit_chunks
                              : limits.apply ? limits.max_chunks
                                             : kNoChunkLimit;
    int tranche = s.relation_tranche;
    core::InsertStatus status;
    FsmTable::Ref ref = s.table->find_or_insert(
        key_view(key), 0,
        [&](RelationEntry &e, char *) {
            LWLockInitialize(&e.lock, tranche);
            FsmRelation::init(e.state, kind);
            e.referenced = 1;
        },
        &status);
    if (status == core::InsertStatus::out_of_memory)
        throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache: no shared memory for the free-space map",
                           "The relation could not be added to the map's hash table.");
    if (status == core::InsertStatus::found)
        throw pg::SqlError(ERRCODE_DATA_CORRUPTED, "simple_cache: free-space map entry without a directory slot");
    *entry = &ref.entry();
    ref.release();
    insert_slot(s, all, run.end, Slot{key, static_cast<uint32_t>(kind), 0, 0, 0, 0, database_limit});
    return static_cast<int32_t>(run.end);
}

void remove_relation(Shared &s, Slot *all, uint32_t i)
{
    FsmRoot &root = *s.root;
    FsmTable::Ref ref = s.table->find(key_view(all[i].key), core::LockMode::exclusive);
    if (ref) {
        RelationEntry &e = ref.entry();
        {
            RelationLock lock(e, LW_EXCLUSIVE);
            FsmRelation(*s.policy, e.state).release();
        }
        s.table->erase(std::move(ref));
    }
    const Slot &gone = all[i];
    root.held_chunks.fetch_sub(gone.chunks, std::memory_order_relaxed);
    root.requested_chunks.fetch_sub(
        cf::chunks_for_pages(static_cast<cf::RelationKind>(gone.kind), gone.requested_pages), std::memory_order_relaxed);
    uint32_t n = relation_count(s);
    std::memmove(all + i, all + i + 1, size_t{n - i - 1} * sizeof(Slot));
    root.relations.store(n - 1, std::memory_order_relaxed);
    if (root.reclaim_clock > i)
        --root.reclaim_clock;
    if (root.evict_hand > i)
        --root.evict_hand;
}

void uncreate_relation(Shared &s, const FsmKey &key) noexcept
{
    try {
        Slot *all = slots(s);
        int32_t i = find_slot(s, key);
        if (i == kNoSlot)
            return;
        remove_relation(s, all, static_cast<uint32_t>(i));
        recompute_targets(s, all);
    } catch (...) {
        // An empty tracked relation is consistent; it is forgotten like any other.
    }
}

void reset_relation(Shared &s, Slot &slot, RelationEntry &e, cf::RelationKind kind)
{
    FsmRoot &root = *s.root;
    {
        RelationLock lock(e, LW_EXCLUSIVE);
        FsmRelation(*s.policy, e.state).release();
        FsmRelation::init(e.state, kind);
    }
    root.held_chunks.fetch_sub(slot.chunks, std::memory_order_relaxed);
    root.requested_chunks.fetch_sub(
        cf::chunks_for_pages(static_cast<cf::RelationKind>(slot.kind), slot.requested_pages), std::memory_order_relaxed);
    slot = Slot{slot.key, static_cast<uint32_t>(kind), 0, 0, 0, 0, slot.database_limit_chunks};
}

void recompute_targets(Shared &s, Slot *all)
{
    FsmRoot &root = *s.root;
    uint32_t n = relation_count(s);
    if (n == 0) {
        root.requested_chunks.store(0, std::memory_order_relaxed);
        return;
    }
    cf::BudgetSettings settings{root.capacity_chunks.load(std::memory_order_relaxed), cf::kDefaultMinimumChunks};
    cf::BudgetTotals totals = cf::compute_database_targets(
        n, settings, scratch_shares(s, all), [all](size_t i) { return all[i].key.database; },
        [all](size_t i) {
            return cf::TargetRequest{all[i].requested_pages, static_cast<cf::RelationKind>(all[i].kind)};
        },
        [all](size_t i) {
            uint32_t limit = all[i].database_limit_chunks;
            return limit == kNoChunkLimit ? cf::kNoDatabaseLimit : uint64_t{limit};
        },
        [all](size_t i, cf::Target t) {
            all[i].target_chunks = static_cast<uint32_t>(t.chunks);
            all[i].target_pages = static_cast<uint32_t>(t.pages);
        });
    root.requested_chunks.store(totals.requested_chunks, std::memory_order_relaxed);
}

uint64_t free_chunks(Shared &s)
{
    uint64_t capacity = s.root->capacity_chunks.load(std::memory_order_relaxed);
    uint64_t held = s.root->held_chunks.load(std::memory_order_relaxed);
    return capacity > held ? capacity - held : 0;
}

uint64_t trim_slot(Shared &s, Slot &slot)
{
    if (!cf::over_target(slot.chunks, slot.target_chunks))
        return 0;
    RelationEntry *e = entry_of(s, slot.key);
    if (e == nullptr)
        return 0;
    RelationLock lock(*e, LW_EXCLUSIVE);
    FsmRelation rel(*s.policy, e->state);
    uint64_t freed = cf::trim_over_target(rel, slot.target_chunks, BLCKSZ);
    set_chunks(s, slot, rel.chunks());
    return freed;
}

uint64_t reclaim(Shared &s, Slot *all, int32_t except, uint64_t needed)
{
    FsmRoot &root = *s.root;
    uint32_t n = relation_count(s);
    size_t clock = static_cast<size_t>(root.reclaim_clock);
    cf::ReclaimResult result = cf::reclaim_chunks(needed, n, &clock, n, [&](size_t i) -> uint64_t {
        return static_cast<int32_t>(i) == except ? 0 : trim_slot(s, all[i]);
    });
    root.reclaim_clock = clock;
    return result.freed_chunks;
}

void set_chunks(Shared &s, Slot &slot, uint32_t chunks)
{
    FsmRoot &root = *s.root;
    if (chunks > slot.chunks)
        root.held_chunks.fetch_add(chunks - slot.chunks, std::memory_order_relaxed);
    else
        root.held_chunks.fetch_sub(slot.chunks - chunks, std::memory_order_relaxed);
    slot.chunks = chunks;
}

void apply_settings(Shared &s)
{
    FsmRoot &root = *s.root;
    int32_t pages = setting_max_pages();
    int32_t relations = setting_max_relations();
    if (root.max_pages_applied.load(std::memory_order_relaxed) == pages &&
        root.max_relations_applied.load(std::memory_order_relaxed) == relations)
        return;
    Slot *all = slots(s);
    if (root.max_pages_applied.load(std::memory_order_relaxed) != pages) {
        uint64_t capacity = cf::capacity_chunks(static_cast<uint64_t>(pages));
        root.capacity_chunks.store(capacity, std::memory_order_relaxed);
        recompute_targets(s, all);
        uint64_t held = root.held_chunks.load(std::memory_order_relaxed);
        if (held > capacity)
            reclaim(s, all, kNoSlot, held - capacity);
        root.max_pages_applied.store(pages, std::memory_order_relaxed);  // last: a failed trim is retried
    }
    if (root.max_relations_applied.load(std::memory_order_relaxed) != relations) {
        bool evicted = false;
        while (relation_count(s) > static_cast<uint32_t>(relations) &&
               evict_one(s, pg::kNoScope, cf::EvictionScope::fair))
            evicted = true;
        if (evicted)
            recompute_targets(s, all);
        root.max_relations_applied.store(relations, std::memory_order_relaxed);
    }
}

void maybe_apply_settings(Shared &s)
{
    FsmRoot &root = *s.root;
    if (root.max_pages_applied.load(std::memory_order_relaxed) == setting_max_pages() &&
        root.max_relations_applied.load(std::memory_order_relaxed) == setting_max_relations())
        return;
    DirectoryLock directory(s, LW_EXCLUSIVE);
    apply_settings(s);
}

}  // namespace simple_cache::fsm
