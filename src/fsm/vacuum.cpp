// simple_cache_fsm_vacuum: reads a real relation through the buffer manager and reports its
// free space wholesale, as VACUUM reported to the 2003 free-space map.
//
//   heap tables (and materialized views, TOAST tables): every page with free space, with the
//     bytes PageGetHeapFreeSpace() gives under a share lock on the buffer. A new (all-zero)
//     page counts as an empty page: the bytes an initialised empty page offers. Pages with no
//     room are left out: they could satisfy no request.
//   btree indexes: the pages that are deleted (P_ISDELETED) or new (PageIsNew), as wholly
//     free pages; the metapage never is.
// The scan goes through a BAS_BULKREAD ring, so it does not flush shared buffers, and checks
// for interrupts before every page. Its memory is bounded whatever the relation's size: it
// keeps at most as many pages as the map could keep for one relation (simple_cache.fsm_max_pages,
// and this database's simple_cache.fsm_max_pages_per_database) and as maintenance_work_mem
// holds: the pages with the most room of a heap, the lowest free pages of an index. Every page
// found still counts in the relation's request. It needs the maintain right (privileges.hpp: who may VACUUM
// the table), checked once the relation is locked, and takes AccessShareLock until the end of
// the transaction.
#include <algorithm>

#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/privileges.hpp"
#include "simple_cache/fsm/wholesale_report.hpp"
#include "simple_cache/pg/error.hpp"

extern "C" {
#include "access/nbtree.h"
#include "access/relation.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/rel.h"
}

namespace simple_cache::fsm {

namespace cf = core::fsm;

namespace {

// What a scan found, in palloc'd arrays of the caller's memory context: at most `capacity`
// pages kept (for a heap, as a min-heap on the free bytes while scanning), `found` counted.
struct ScannedPages {
    uint32_t *blocks = nullptr;
    Avail *avail = nullptr;  // null for an index: page numbers only
    size_t count = 0;
    size_t capacity = 0;
    uint64_t found = 0;
    bool is_index = false;
};

// The most pages a scan keeps: what the map could keep for one relation, what
// maintenance_work_mem holds, and the relation's own size (at least one).
size_t pages_to_keep(BlockNumber nblocks)
{
    uint64_t keep = nblocks;
    keep = std::min<uint64_t>(keep, static_cast<uint64_t>(std::max(0, setting_max_pages())));
    if (setting_max_pages_per_database() > 0)
        keep = std::min<uint64_t>(keep, static_cast<uint64_t>(setting_max_pages_per_database()));
    uint64_t memory = static_cast<uint64_t>(maintenance_work_mem) * 1024;
    keep = std::min<uint64_t>(keep, memory / (sizeof(uint32_t) + sizeof(Avail)));
    return static_cast<size_t>(std::max<uint64_t>(keep, 1));
}

// Whether kept page a has less room than kept page b (then the higher block): the min-heap's
// order, so that its top is the page a better one replaces.
bool less_room(const ScannedPages *out, size_t a, size_t b)
{
    if (out->avail[a] != out->avail[b])
        return out->avail[a] < out->avail[b];
    return out->blocks[a] > out->blocks[b];
}

// Moves kept page i down the min-heap to its place.
void sift_down(ScannedPages *out, size_t i)
{
    for (;;) {
        size_t smallest = i;
        size_t left = 2 * i + 1;
        size_t right = left + 1;
        if (left < out->count && less_room(out, left, smallest))
            smallest = left;
        if (right < out->count && less_room(out, right, smallest))
            smallest = right;
        if (smallest == i)
            return;
        std::swap(out->blocks[i], out->blocks[smallest]);
        std::swap(out->avail[i], out->avail[smallest]);
        i = smallest;
    }
}

// Arranges the kept pages as a min-heap on their room.
void make_min_heap(ScannedPages *out)
{
    for (size_t i = out->count / 2; i-- > 0;)
        sift_down(out, i);
}

// Keeps a heap page with `free` bytes if there is a slot, or if it has more room than the
// kept page with the least. The arrays form a min-heap on the free bytes once full.
void keep_heap_page(ScannedPages *out, BlockNumber block, Avail free)
{
    ++out->found;
    if (out->count < out->capacity) {
        out->blocks[out->count] = block;
        out->avail[out->count] = free;
        ++out->count;
        if (out->count == out->capacity)
            make_min_heap(out);
        return;
    }
    if (free <= out->avail[0])  // ties keep the lower block, scanned first
        return;
    out->blocks[0] = block;
    out->avail[0] = free;
    sift_down(out, 0);
}

// Free bytes of an initialised page that holds no tuple (what a new page will offer).
constexpr Size kEmptyPageFree = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - sizeof(ItemIdData);

// Whether rel is a btree index (true) or a heap table (false); 0A000 for anything else.
bool is_btree(Relation rel)
{
    char relkind = rel->rd_rel->relkind;
    Oid am = rel->rd_rel->relam;
    if ((relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW || relkind == RELKIND_TOASTVALUE) &&
        am == HEAP_TABLE_AM_OID)
        return false;
    if (relkind == RELKIND_INDEX && am == BTREE_AM_OID)
        return true;
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("simple_cache_fsm_vacuum: relation \"%s\" is not a heap table or a btree index",
                           RelationGetRelationName(rel)),
                    errdetail("Only tables, materialized views and TOAST tables of the heap access method, "
                              "and btree indexes, can be scanned.")));
    pg_unreachable();
}

// Records the heap pages of rel that have room. Plain PostgreSQL code.
void scan_heap(Relation rel, BlockNumber nblocks, BufferAccessStrategy strategy, ScannedPages *out)
{
    for (BlockNumber block = 0; block < nblocks; ++block) {
        CHECK_FOR_INTERRUPTS();
        Buffer buffer = ReadBufferExtended(rel, MAIN_FORKNUM, block, RBM_NORMAL, strategy);
        LockBuffer(buffer, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buffer);
        Size free = PageIsNew(page) ? kEmptyPageFree : PageGetHeapFreeSpace(page);
        UnlockReleaseBuffer(buffer);
        if (free != 0)
            keep_heap_page(out, block, static_cast<Avail>(free));
    }
}

// Records the btree pages of rel that are deleted or new. Plain PostgreSQL code.
void scan_btree(Relation rel, BlockNumber nblocks, BufferAccessStrategy strategy, ScannedPages *out)
{
    for (BlockNumber block = BTREE_METAPAGE + 1; block < nblocks; ++block) {
        CHECK_FOR_INTERRUPTS();
        Buffer buffer = ReadBufferExtended(rel, MAIN_FORKNUM, block, RBM_NORMAL, strategy);
        LockBuffer(buffer, BUFFER_LOCK_SHARE);
        Page page = BufferGetPage(buffer);
        bool free = PageIsNew(page) || P_ISDELETED(reinterpret_cast<BTPageOpaque>(PageGetSpecialPointer(page)));
        UnlockReleaseBuffer(buffer);
        if (!free)
            continue;
        ++out->found;
        if (out->count < out->capacity)  // the lowest free pages: those an index reuses first
            out->blocks[out->count++] = block;
    }
}

// Opens relid, checks it may and can be scanned, and scans it. Plain PostgreSQL code, run
// under guard(); the relation stays locked until the end of the transaction.
void scan_relation(Oid relid, ScannedPages *out)
{
    Relation rel = try_relation_open(relid, AccessShareLock);
    if (rel == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("simple_cache_fsm_vacuum: relation with OID %u does not exist", relid)));
    require_right("simple_cache_fsm_vacuum", relid, Right::maintain);
    if (RELATION_IS_OTHER_TEMP(rel))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("simple_cache_fsm_vacuum: cannot scan temporary tables of other sessions")));
    out->is_index = is_btree(rel);
    BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
    out->capacity = pages_to_keep(nblocks);
    out->blocks = static_cast<uint32_t *>(palloc_extended(out->capacity * sizeof(uint32_t), MCXT_ALLOC_HUGE));
    BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
    if (out->is_index) {
        scan_btree(rel, nblocks, strategy, out);
    } else {
        out->avail = static_cast<Avail *>(palloc_extended(out->capacity * sizeof(Avail), MCXT_ALLOC_HUGE));
        scan_heap(rel, nblocks, strategy, out);
    }
    FreeAccessStrategy(strategy);
    relation_close(rel, NoLock);
}

}  // namespace

uint32_t vacuum(Oid relid)
{
    ScannedPages scanned;
    pg::guard([&] { scan_relation(relid, &scanned); });
    cf::PreparedPages pages = cf::PreparedPages::from_arrays(scanned.blocks, scanned.avail, scanned.count);
    KindRule rule{scanned.is_index ? cf::RelationKind::index : cf::RelationKind::heap, true};
    uint32_t request = static_cast<uint32_t>(std::min<uint64_t>(scanned.found, UINT32_MAX));
    return record_report("simple_cache_fsm_vacuum", relid, pages, rule, request);
}

}  // namespace simple_cache::fsm
