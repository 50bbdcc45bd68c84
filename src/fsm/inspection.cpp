// Reading the map: the per-relation rows of the simple_cache_fsm_relations view, a relation's
// pages, the summary, and the consistency check. Readers never hold up writers for long: the summary reads relaxed
// totals; the view copies the directory under a brief shared directory lock, then takes each
// relation's lock in shared mode, one at a time; a relation's pages are copied in batches of
// bounded size, each under the relation's lock in shared mode.
#include <algorithm>
#include <vector>

#include "simple_cache/fsm/directory.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/locks.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

// Copies the slots of the current database, under the directory lock in shared mode. The
// buffer is sized before the lock is taken (no allocation under it) and the copy retried if
// the directory grew meanwhile.
std::vector<Slot> copy_own_slots(Shared &s)
{
    pg::ScopeId scope = pg::current_scope();
    std::vector<Slot> copy;
    for (;;) {
        copy.resize(relation_count(s) + 16);
        size_t n = 0;
        {
            DirectoryLock directory(s, LW_SHARED);
            uint32_t count = relation_count(s);
            if (count > copy.size())
                continue;
            const Slot *all = slots(s);
            for (uint32_t i = 0; i < count; ++i)
                if (all[i].key.database == scope)
                    copy[n++] = all[i];
        }
        copy.resize(n);
        return copy;
    }
}

// The row of one relation, read under its shared lock; false when it is no longer tracked.
bool read_row(Shared &s, const Slot &slot, RelationRow *row)
{
    RelationLock lock;
    RelationEntry *e = open_relation(s, slot.key, LW_SHARED, lock);
    if (e == nullptr)
        return false;
    FsmRelation rel(*s.policy, e->state);
    row->relid = slot.key.relid;
    row->is_index = rel.is_index();
    row->stored_pages = rel.count();
    row->requested_pages = rel.requested_pages();
    row->target_pages = slot.target_pages;
    row->avg_request = static_cast<int32_t>(rel.avg_request());
    row->chunks = static_cast<int32_t>(rel.chunks());
    return true;
}

// The position of rel's first tracked page at or after block (count() if none); pages are
// kept in block order.
uint32_t first_at_or_after(const FsmRelation &rel, uint32_t block)
{
    uint32_t low = 0;
    uint32_t high = rel.count();
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (rel.page_at(middle).block < block)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

// Fixed room for the check's description of a problem.
char problem_text[256];

// Records a problem for check() and returns false.
bool problem(const char *what, Oid relid)
{
    snprintf(problem_text, sizeof problem_text, "%s (relation %u)", what, relid);
    return false;
}

// Checks one slot against its entry.
bool check_slot(Shared &s, const Slot &slot)
{
    RelationEntry *e = entry_of(s, slot.key);
    if (e == nullptr)
        return problem("directory slot without an entry", slot.key.relid);
    RelationLock lock(*e, LW_SHARED);
    FsmRelation rel(*s.policy, e->state);
    if (!rel.consistent())
        return problem("relation storage is inconsistent", slot.key.relid);
    if (static_cast<uint32_t>(rel.kind()) != slot.kind)
        return problem("kind differs between slot and entry", slot.key.relid);
    if (rel.chunks() != slot.chunks)
        return problem("chunks differ between slot and entry", slot.key.relid);
    if (rel.requested_pages() != slot.requested_pages)
        return problem("request differs between slot and entry", slot.key.relid);
    return true;
}

}  // namespace

void list_relations(RowEmitter emit, void *context)
{
    Shared &s = shared();
    maybe_apply_settings(s);
    std::vector<Slot> own = copy_own_slots(s);
    for (const Slot &slot : own) {
        RelationRow row;
        if (read_row(s, slot, &row))
            pg::guard([&] { emit(context, row); });
    }
}

void list_pages(Oid relid, size_t batch_bytes, PageEmitter emit, void *context)
{
    Shared &s = shared();
    size_t batch_pages = std::max<size_t>(1, batch_bytes / sizeof(cf::PageEntry));
    std::vector<cf::PageEntry> pages;
    bool index = false;
    uint32_t from = 0;  // the first block the next batch may show
    for (bool more = true; more;) {
        pages.clear();
        {
            RelationLock lock;
            RelationEntry *e = open_relation(s, key_of(relid), LW_SHARED, lock);
            if (e == nullptr)
                return;
            FsmRelation rel(*s.policy, e->state);
            index = rel.is_index();
            uint32_t count = rel.count();
            uint32_t i = first_at_or_after(rel, from);
            // std::bad_alloc releases the lock on its way up.
            pages.reserve(std::min<size_t>(batch_pages, count - i));
            for (; i < count && pages.size() < batch_pages; ++i)
                pages.push_back(rel.page_at(i));
            more = i < count;
        }
        if (!pages.empty())
            from = pages.back().block + 1;  // a tracked block is at most MaxBlockNumber
        pg::guard([&] {
            for (const cf::PageEntry &page : pages)
                emit(context, page.block, index ? -1 : page.avail);
            CHECK_FOR_INTERRUPTS();
        });
    }
}

Summary summary()
{
    Shared &s = shared();
    maybe_apply_settings(s);
    const FsmRoot &root = *s.root;
    Summary out;
    out.capacity_chunks = static_cast<int64_t>(root.capacity_chunks.load(std::memory_order_relaxed));
    out.requested_chunks = static_cast<int64_t>(root.requested_chunks.load(std::memory_order_relaxed));
    out.capacity_pages = out.capacity_chunks * cf::kHeapPagesPerChunk;
    out.used_pages = static_cast<int64_t>(root.held_chunks.load(std::memory_order_relaxed)) * cf::kHeapPagesPerChunk;
    out.requested_pages = out.requested_chunks * cf::kHeapPagesPerChunk;
    out.relations = static_cast<int32_t>(root.relations.load(std::memory_order_relaxed));
    return out;
}

CheckResult check()
{
    Shared &s = shared();
    DirectoryLock directory(s, LW_SHARED);
    const FsmRoot &root = *s.root;
    core::DhtStats shape = s.table->stats();
    CheckResult result{false, problem_text, static_cast<int64_t>(sizeof(dsa_pointer)) << shape.size_log2};
    if (shape.resizing)
        result.table_bytes += static_cast<int64_t>(sizeof(dsa_pointer)) << shape.old_size_log2;
    uint32_t n = relation_count(s);
    const Slot *all = slots(s);
    uint64_t held = 0;
    uint64_t requested = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (!check_slot(s, all[i]))
            return result;
        if (i > 0 && all[i - 1].key.database > all[i].key.database) {
            problem("directory slots are not ordered by database", all[i].key.relid);
            return result;
        }
        if (i > 0 && all[i - 1].key.database == all[i].key.database &&
            all[i - 1].database_limit_chunks != all[i].database_limit_chunks) {
            problem("a database's slots differ in its page limit", all[i].key.relid);
            return result;
        }
        held += all[i].chunks;
        requested += cf::chunks_for_pages(static_cast<cf::RelationKind>(all[i].kind), all[i].requested_pages);
    }
    if (held != root.held_chunks.load(std::memory_order_relaxed))
        problem("held total differs from the relations' chunks", 0);
    else if (requested != root.requested_chunks.load(std::memory_order_relaxed))
        problem("requested total differs from the relations' requests", 0);
    else if (shape.entries != n)
        problem("hash table entries differ from directory slots", 0);
    else
        result = CheckResult{true, nullptr, result.table_bytes};
    return result;
}

}  // namespace simple_cache::fsm
