// Wholesale reports (record_many, and vacuum's result): the database's own limits are put in
// force, the relation's request is updated, all targets are recomputed, room is reclaimed from
// relations over their targets when the map (or the database, within its page limit) has too
// little free, and the relation's pages are replaced, trimmed to what it may keep.
#include "simple_cache/fsm/wholesale_report.hpp"

#include "simple_cache/fsm/database_limits.hpp"
#include "simple_cache/fsm/directory.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/startup_load.hpp"

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

// The chunks the relation in slot i may hold for its new report: its target (within its
// database's page limit), reclaimed from others when the map's free chunks fall short.
uint64_t allowance_for(Shared &s, Slot *all, int32_t i)
{
    Slot &slot = all[i];
    uint64_t want = database_room(s, all, i, slot.target_chunks);
    uint64_t allow = cf::allowance_chunks(want, slot.chunks, free_chunks(s));
    if (allow < want) {
        reclaim(s, all, i, want - allow);
        allow = cf::allowance_chunks(want, slot.chunks, free_chunks(s));
    }
    return allow;
}

// Replaces the pages of the relation in slot i (entry e) by pages, recording `request` (its
// slot's request) as the entry's, and a saved average request size when restoring one (0:
// keep). Returns the pages kept, or -1 when memory ran out. Directory held exclusively.
int64_t replace_locked(Shared &s, Slot *all, int32_t i, RelationEntry &e, const cf::PreparedPages &pages,
                       uint32_t request, uint32_t saved_average)
{
    uint64_t allow = allowance_for(s, all, i);
    RelationLock lock(e, LW_EXCLUSIVE);
    FsmRelation rel(*s.policy, e.state);
    uint64_t keep = cf::target_pages(rel.kind(), pages.size(), allow);
    cf::ReplaceResult result = rel.replace_pages(pages, keep, BLCKSZ);
    touch(e);
    if (result.status != cf::Status::ok)
        return -1;
    e.state.requested_pages = request;
    if (saved_average > 0)
        e.state.request_average = saved_average * cf::kRequestAverageWeight;
    set_chunks(s, all[i], rel.chunks());
    return result.kept;
}

// The tracked relation key, its slot and entry, created with rule's kind when new (*created
// says so; within limits), or reset to it when an authoritative rule says the existing entry
// has the wrong kind.
int32_t relation_for_report(Shared &s, const FsmKey &key, KindRule rule, const DatabaseLimits &limits,
                            RelationEntry **e, bool *created)
{
    int32_t i = find_slot(s, key);
    *created = i == kNoSlot;
    if (*created)
        return create_relation(s, key, rule.kind, limits, e);
    *e = entry_of(s, key);
    if (*e == nullptr)
        throw pg::SqlError(ERRCODE_DATA_CORRUPTED, "simple_cache: free-space map directory slot without an entry");
    Slot *all = slots(s);
    if (rule.authoritative && all[i].kind != static_cast<uint32_t>(rule.kind))
        reset_relation(s, all[i], **e, rule.kind);
    return i;
}

// Puts the request of slot i back after a report that was not recorded. Never throws.
void undo_request(Shared &s, Slot *all, int32_t i, uint32_t old_request) noexcept
{
    all[i].requested_pages = old_request;
    recompute_targets(s, all);
}

}  // namespace

int64_t report_for_key(const FsmKey &key, const cf::PreparedPages &pages, KindRule rule, uint32_t request,
                       ReportSource source, uint32_t saved_average, const DatabaseLimits &limits)
{
    if (source == ReportSource::client)
        pg::note_write_during_startup_load(key_view(key));  // before the directory lock
    Shared &s = shared();
    int64_t kept = kReportNoRoom;
    {
        DirectoryLock directory(s, LW_EXCLUSIVE);
        if (source == ReportSource::startup_load && !pg::startup_load_may_restore_relation(key_view(key)))
            return kReportSkipped;
        apply_settings(s);
        apply_database_limits(s, key.database, limits);
        RelationEntry *e = nullptr;
        bool created = false;
        int32_t i = relation_for_report(s, key, rule, limits, &e, &created);
        Slot *all = nullptr;
        uint32_t old_request = 0;
        try {
            all = slots(s);
            old_request = all[i].requested_pages;
            all[i].requested_pages = request;
            recompute_targets(s, all);
            kept = replace_locked(s, all, i, *e, pages, request, saved_average);
        } catch (...) {
            kept = kReportNoRoom;
            if (all != nullptr)
                undo_request(s, all, i, old_request);
            if (created)
                uncreate_relation(s, key);
            throw;
        }
        if (kept < 0) {
            undo_request(s, all, i, old_request);
            if (created)
                uncreate_relation(s, key);
        }
    }
    return kept;
}

uint32_t record_report(const char *function, Oid relid, const cf::PreparedPages &pages, KindRule rule,
                       uint32_t request)
{
    request = std::max(request, static_cast<uint32_t>(std::min<size_t>(pages.size(), UINT32_MAX)));
    int64_t kept =
        report_for_key(key_of(relid), pages, rule, request, ReportSource::client, 0, own_database_limits());
    if (kept < 0)
        throw_no_room(function, relid);
    return static_cast<uint32_t>(kept);
}

uint32_t record_many(Oid relid, const uint32_t *blocks, const Avail *avail, size_t n)
{
    cf::PreparedPages pages = cf::PreparedPages::from_arrays(blocks, avail, n);
    RelationFacts facts = relation_facts(relid, false);
    return record_report("simple_cache_fsm_record_many", relid, pages, kind_rule(facts, cf::RelationKind::heap));
}

}  // namespace simple_cache::fsm
