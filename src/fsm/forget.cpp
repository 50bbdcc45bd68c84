// Forgetting relations: simple_cache_fsm_forget(), and the relations a transaction dropped.
//
// The install script's sql_drop event trigger passes the oids of dropped pg_class objects to
// forget_dropped(), which only notes them in a backend-local list. They are forgotten when the
// transaction commits (at pre-commit, or pre-prepare), and struck from the list when the
// transaction, or the subtransaction that dropped them, rolls back: a DROP that is rolled back
// leaves the map as it was.
#include <algorithm>
#include <vector>

#include "simple_cache/fsm/directory.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/startup_load.hpp"

extern "C" {
#include "access/xact.h"
}

namespace simple_cache::fsm {

namespace {

// A dropped relation, and the transaction nesting level that dropped it.
struct PendingForget {
    FsmKey key;
    int level;
};

std::vector<PendingForget> pending;
bool callbacks_registered = false;

// Removes the relations named in keys, under one directory lock.
void forget_keys(const std::vector<FsmKey> &keys)
{
    if (keys.empty() || !in_use())
        return;
    Shared &s = shared();
    DirectoryLock directory(s, LW_EXCLUSIVE);
    Slot *all = slots(s);
    bool removed = false;
    for (const FsmKey &key : keys) {
        int32_t i = find_slot(s, key);
        if (i != kNoSlot) {
            remove_relation(s, all, static_cast<uint32_t>(i));
            removed = true;
        }
    }
    if (removed)
        recompute_targets(s, all);
}

// Forgets the pending relations; run through the error boundary from the commit callback.
void forget_pending()
{
    std::vector<FsmKey> keys;
    keys.reserve(pending.size());
    for (const PendingForget &p : pending)
        keys.push_back(p.key);
    pending.clear();
    forget_keys(keys);
}

// Transaction end: forget at pre-commit, discard on abort.
void on_transaction(XactEvent event, void *)
{
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PRE_PREPARE:
        if (!pending.empty())
            pg::run_raising([] { forget_pending(); });  // before the commit record: may raise
        break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
        pending.clear();
        break;
    default:
        break;
    }
}

// Subtransaction end: a rolled-back one takes its drops with it; a committed one hands them
// to its parent.
void on_subtransaction(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (pending.empty())
        return;
    int level = GetCurrentTransactionNestLevel();
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        pending.erase(std::remove_if(pending.begin(), pending.end(),
                                     [level](const PendingForget &p) { return p.level >= level; }),
                      pending.end());
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (PendingForget &p : pending)
            if (p.level >= level)
                p.level = level - 1;
    }
}

}  // namespace

bool forget(Oid relid)
{
    pg::note_write_during_startup_load(key_view(key_of(relid)));  // before the directory lock
    Shared &s = shared();
    DirectoryLock directory(s, LW_EXCLUSIVE);
    Slot *all = slots(s);
    int32_t i = find_slot(s, key_of(relid));
    if (i == kNoSlot)
        return false;
    remove_relation(s, all, static_cast<uint32_t>(i));
    recompute_targets(s, all);
    return true;
}

void purge_scopes(const pg::ScopeId *scopes, size_t count)
{
    if (!in_use())
        return;
    Shared &s = shared();
    DirectoryLock directory(s, LW_EXCLUSIVE);
    Slot *all = slots(s);
    bool removed = false;
    for (uint32_t i = relation_count(s); i-- > 0;) {  // removing shifts the later slots down
        if (std::find(scopes, scopes + count, all[i].key.database) != scopes + count) {
            remove_relation(s, all, i);
            removed = true;
        }
    }
    if (removed)
        recompute_targets(s, all);
}

void forget_dropped(const Oid *relids, size_t n)
{
    for (size_t i = 0; i < n; ++i)  // a start-up load of the map must not bring them back
        pg::note_write_during_startup_load(key_view(key_of(relids[i])));
    if (n == 0 || !in_use())
        return;  // no map in this server: nothing it could track
    if (!callbacks_registered) {
        pg::guard([] {
            RegisterXactCallback(on_transaction, nullptr);
            RegisterSubXactCallback(on_subtransaction, nullptr);
        });
        callbacks_registered = true;
    }
    int level = pg::guard([] { return GetCurrentTransactionNestLevel(); });
    pending.reserve(pending.size() + n);
    for (size_t i = 0; i < n; ++i)
        pending.push_back(PendingForget{key_of(relids[i]), level});
}

}  // namespace simple_cache::fsm
