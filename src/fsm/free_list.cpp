// Index-style free-page lists: add_free_page, get_free_page, and the shrinking helpers
// truncatable_pages and truncate.
//
// add_free_page needs the directory lock only when the list must grow or the relation is new
// (its chunks change then, and the held total must stay exact); a page that fits in the list's
// current storage is added under the relation's lock alone.
#include "simple_cache/fsm/database_limits.hpp"
#include "simple_cache/fsm/directory.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/fsm/relation_info.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

// What add_free_page did, and what it learnt about the end of the relation.
struct AddOutcome {
    bool done = false;  // the fast path handled it
    bool wrong_style = false;
    cf::AddResult result = cf::AddResult::no_room;
    uint32_t trailing = 0;  // free pages ending the relation, when its size is known
};

// Adds block under the relation's lock when the list has room; done stays false when the
// relation is untracked or its list is full.
AddOutcome add_without_directory(Shared &s, Oid relid, uint32_t block, int64_t nblocks)
{
    AddOutcome out;
    RelationLock lock;
    RelationEntry *e = open_relation(s, key_of(relid), LW_EXCLUSIVE, lock);
    if (e == nullptr)
        return out;
    FsmRelation rel(*s.policy, e->state);
    if (!rel.is_index()) {
        out.wrong_style = true;
        out.done = true;
        return out;
    }
    if (!rel.lookup(block, nullptr) && rel.count() >= rel.slots())
        return out;
    touch(*e);
    out.result = rel.add_free_page(block, rel.chunks());
    out.done = true;
    if (nblocks > 0)
        out.trailing = rel.trailing_free_pages(static_cast<uint32_t>(nblocks));
    return out;
}

// The directory-locked part of add_with_directory() for the relation of slot i (entry e).
void add_locked(Shared &s, Slot *all, int32_t i, RelationEntry &e, uint32_t block, int64_t nblocks,
                AddOutcome *out)
{
    Slot &slot = all[i];
    uint64_t want = std::max<uint64_t>(slot.target_chunks, cf::kDefaultMinimumChunks);
    uint64_t allowance = cf::allowance_chunks(database_room(s, all, i, want), slot.chunks, free_chunks(s));
    RelationLock lock(e, LW_EXCLUSIVE);
    FsmRelation rel(*s.policy, e.state);
    out->done = true;
    if (!rel.is_index()) {
        out->wrong_style = true;
        return;
    }
    touch(e);
    out->result = rel.add_free_page(block, allowance);
    set_chunks(s, slot, rel.chunks());
    if (nblocks > 0)
        out->trailing = rel.trailing_free_pages(static_cast<uint32_t>(nblocks));
}

// Adds block under the directory lock: creates the relation if needed (within the database's
// limits) and lets its list grow up to its allowance (its target, or the minimum guarantee for
// a list never reported, within the database's page limit).
AddOutcome add_with_directory(Shared &s, Oid relid, uint32_t block, int64_t nblocks, KindRule rule)
{
    AddOutcome out;
    FsmKey key = key_of(relid);
    DatabaseLimits limits = own_database_limits();
    DirectoryLock directory(s, LW_EXCLUSIVE);
    apply_settings(s);
    apply_database_limits(s, key.database, limits);
    RelationEntry *e = nullptr;
    int32_t i = find_slot(s, key);
    bool created = i == kNoSlot;
    if (created)
        i = create_relation(s, key, rule.kind, limits, &e);
    else
        e = entry_of(s, key);
    if (e == nullptr)
        throw pg::SqlError(ERRCODE_DATA_CORRUPTED, "simple_cache: free-space map directory slot without an entry");
    try {
        add_locked(s, slots(s), i, *e, block, nblocks, &out);
    } catch (...) {
        if (created)
            uncreate_relation(s, key);
        throw;
    }
    if (created && out.result == cf::AddResult::out_of_memory)
        uncreate_relation(s, key);
    return out;
}

// Tells the user that rel's last pages are all free, so it could be truncated.
void notice_could_shrink(Oid relid, uint32_t trailing, int64_t nblocks)
{
    std::string name = relation_name(relid);
    pg::guard([&] {
        ereport(NOTICE,
                (errmsg("relation \"%s\" could shrink by %u page%s", name.c_str(), trailing, trailing == 1 ? "" : "s"),
                 errdetail("Its last %u page%s (from page %lld on) are in its free-page list.", trailing,
                           trailing == 1 ? " is" : "s", static_cast<long long>(nblocks - trailing)),
                 errhint("After truncating it, call simple_cache_fsm_truncate() with its new size.")));
    });
}

}  // namespace

bool add_free_page(Oid relid, uint32_t block)
{
    Shared &s = shared();
    RelationFacts facts = relation_facts(relid, true);
    KindRule rule = kind_rule(facts, cf::RelationKind::index);
    AddOutcome out;
    {
        StartupLoadFence fence(s, key_of(relid));
        out = add_without_directory(s, relid, block, facts.nblocks);
    }
    if (!out.done && rule.kind != cf::RelationKind::index)
        out.wrong_style = true;  // a table, untracked: not made a free-page list
    else if (!out.done)
        out = add_with_directory(s, relid, block, facts.nblocks, rule);
    if (out.wrong_style)
        throw_wrong_style("simple_cache_fsm_add_free_page", relid, false);
    if (out.result == cf::AddResult::out_of_memory)
        throw_no_room("simple_cache_fsm_add_free_page", relid);
    bool added = out.result == cf::AddResult::added;
    if (added && out.trailing > 0 && block >= facts.nblocks - out.trailing)
        notice_could_shrink(relid, out.trailing, facts.nblocks);
    return added;
}

uint32_t get_free_page(Oid relid)
{
    Shared &s = shared();
    bool wrong_style = false;
    uint32_t block = kInvalidBlock;
    {
        RelationLock lock;
        RelationEntry *e = open_relation(s, key_of(relid), LW_EXCLUSIVE, lock);
        if (e == nullptr)
            return kInvalidBlock;
        FsmRelation rel(*s.policy, e->state);
        wrong_style = !rel.is_index();
        if (!wrong_style) {
            touch(*e);
            block = rel.get_free_page();
        }
    }
    if (wrong_style)
        throw_wrong_style("simple_cache_fsm_get_free_page", relid, false);
    return block;
}

int64_t truncatable_pages(Oid relid, int64_t nblocks)
{
    if (nblocks < 0) {
        RelationFacts facts = relation_facts(relid, true);
        if (!facts.exists)
            throw pg::SqlError(ERRCODE_UNDEFINED_TABLE,
                               "simple_cache_fsm_truncatable_pages: relation with OID " + std::to_string(relid) +
                                   " does not exist",
                               "", "Pass the relation's size in pages as the second argument.");
        if (!facts.has_storage)
            throw pg::SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
                               "simple_cache_fsm_truncatable_pages: relation \"" + relation_name(relid) +
                                   "\" has no storage",
                               "", "Pass the size in pages as the second argument.");
        nblocks = facts.nblocks;
    }
    Shared &s = shared();
    RelationLock lock;
    RelationEntry *e = open_relation(s, key_of(relid), LW_SHARED, lock);
    if (e == nullptr)
        return 0;
    return FsmRelation(*s.policy, e->state).trailing_free_pages(static_cast<uint32_t>(nblocks));
}

int64_t truncate(Oid relid, uint32_t nblocks)
{
    Shared &s = shared();
    FsmKey key = key_of(relid);
    StartupLoadFence fence(s, key);
    RelationLock lock;
    RelationEntry *e = open_relation(s, key, LW_EXCLUSIVE, lock);
    if (e == nullptr)
        return 0;
    return FsmRelation(*s.policy, e->state).forget_pages_from(nblocks);
}

}  // namespace simple_cache::fsm
