// Heap-style page operations, each under the relation's lock alone (no directory lock, so a
// wholesale report on another relation never holds them up): record, get_page,
// record_and_get_page and avg_request.
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/fsm/relation_info.hpp"

namespace simple_cache::fsm {

namespace {

// The outcome of an operation on a heap-style relation.
struct PageOutcome {
    bool tracked = false;
    bool wrong_style = false;
    uint32_t block = kInvalidBlock;
    bool recorded = false;
};

// Runs op(rel) on relid's relation under its exclusive lock, unless it is not tracked or is
// index-style.
template <class Op>
PageOutcome with_heap_relation(Oid relid, Op &&op)
{
    Shared &s = shared();
    PageOutcome outcome;
    RelationLock lock;
    RelationEntry *e = open_relation(s, key_of(relid), LW_EXCLUSIVE, lock);
    if (e == nullptr)
        return outcome;
    outcome.tracked = true;
    FsmRelation rel(*s.policy, e->state);
    if (rel.is_index()) {
        outcome.wrong_style = true;
        return outcome;
    }
    touch(*e);
    op(rel, outcome);
    return outcome;
}

}  // namespace

bool record(Oid relid, uint32_t block, Avail avail)
{
    PageOutcome o = with_heap_relation(relid, [&](FsmRelation &rel, PageOutcome &out) {
        out.recorded = rel.record(block, avail);
    });
    if (o.wrong_style)
        throw_wrong_style("simple_cache_fsm_record", relid, true);
    return o.recorded;
}

uint32_t get_page(Oid relid, uint32_t needed)
{
    PageOutcome o = with_heap_relation(relid, [&](FsmRelation &rel, PageOutcome &out) {
        out.block = rel.get_page(needed);
    });
    if (o.wrong_style)
        throw_wrong_style("simple_cache_fsm_get_page", relid, true);
    return o.block;
}

uint32_t record_and_get_page(Oid relid, uint32_t old_block, Avail old_avail, uint32_t needed)
{
    PageOutcome o = with_heap_relation(relid, [&](FsmRelation &rel, PageOutcome &out) {
        out.block = rel.record_and_get_page(old_block, old_avail, needed);
    });
    if (o.wrong_style)
        throw_wrong_style("simple_cache_fsm_record_and_get_page", relid, true);
    return o.block;
}

bool avg_request(Oid relid, uint32_t *average)
{
    Shared &s = shared();
    RelationLock lock;
    RelationEntry *e = open_relation(s, key_of(relid), LW_SHARED, lock);
    if (e == nullptr)
        return false;
    *average = FsmRelation(*s.policy, e->state).avg_request();
    return true;
}

}  // namespace simple_cache::fsm
