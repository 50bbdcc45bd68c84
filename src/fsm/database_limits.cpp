// Per-database limits of the free-space map (see database_limits.hpp).
#include "simple_cache/fsm/database_limits.hpp"

#include "simple_cache/fsm/fsm.hpp"

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

// Trims the relations of run that hold more than their targets, except slot `except`.
void trim_run(Shared &s, Slot *all, DatabaseRun run, int32_t except)
{
    for (uint32_t i = run.begin; i < run.end; ++i)
        if (static_cast<int32_t>(i) != except)
            trim_slot(s, all[i]);
}

// Chunks held by the relations of run, except slot `except`.
uint64_t chunks_held(const Slot *all, DatabaseRun run, int32_t except)
{
    uint64_t held = 0;
    for (uint32_t i = run.begin; i < run.end; ++i)
        if (static_cast<int32_t>(i) != except)
            held += all[i].chunks;
    return held;
}

}  // namespace

DatabaseLimits own_database_limits()
{
    DatabaseLimits limits;
    limits.apply = true;
    limits.max_relations = static_cast<uint32_t>(setting_max_relations_per_database());
    int pages = setting_max_pages_per_database();
    if (pages > 0)
        limits.max_chunks = static_cast<uint32_t>(cf::capacity_chunks(static_cast<uint64_t>(pages)));
    return limits;
}

void apply_database_limits(Shared &s, pg::ScopeId database, const DatabaseLimits &limits)
{
    if (!limits.apply)
        return;
    bool evicted = false;
    if (limits.max_relations > 0)
        while (database_run(s, slots(s), database).size() > limits.max_relations &&
               evict_one(s, database, cf::EvictionScope::own_database))
            evicted = true;
    Slot *all = slots(s);
    DatabaseRun run = database_run(s, all, database);
    bool limit_changed = run.size() > 0 && all[run.begin].database_limit_chunks != limits.max_chunks;
    for (uint32_t i = run.begin; limit_changed && i < run.end; ++i)
        all[i].database_limit_chunks = limits.max_chunks;
    if (evicted || limit_changed)
        recompute_targets(s, all);
    if (limit_changed)
        trim_run(s, all, run, kNoSlot);
}

uint64_t database_room(Shared &s, Slot *all, int32_t i, uint64_t want)
{
    uint64_t limit = all[i].database_limit_chunks;
    if (limit == kNoChunkLimit)
        return want;
    DatabaseRun run = database_run(s, all, all[i].key.database);
    uint64_t others = chunks_held(all, run, i);
    if (others + want > limit) {
        trim_run(s, all, run, i);
        others = chunks_held(all, run, i);
    }
    uint64_t room = limit > others ? limit - others : 0;
    return want < room ? want : room;
}

}  // namespace simple_cache::fsm
