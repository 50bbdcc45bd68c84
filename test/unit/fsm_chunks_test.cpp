// Unit tests of the free-space map's chunk accounting (include/simple_cache/core/fsm/chunks.hpp
// and relation_state.hpp): pages to chunks for both kinds of relation, the capacity a page
// budget gives, storage sizes, and the chunks relations actually hold.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/core/fsm/relation.hpp"
#include "simple_cache/core/fsm/relation_state.hpp"
#include "simple_cache/core/heap_policy.hpp"

namespace {

using simple_cache::core::HeapPolicy;
using namespace simple_cache::core::fsm;

using TestRelation = Relation<HeapPolicy>;
using State = TestRelation::State;

constexpr uint32_t kPageSize = 8192;

// A report of `n` pages numbered 0..n-1, each with `avail` free bytes.
PreparedPages pages_0_to(uint32_t n, Avail avail)
{
    std::vector<BlockNumber> blocks(n);
    std::vector<Avail> amounts(n, avail);
    for (uint32_t i = 0; i < n; ++i)
        blocks[i] = i;
    return PreparedPages::from_arrays(blocks.data(), amounts.data(), n);
}

TEST(FsmChunks, PagesPerChunkByKind)
{
    EXPECT_EQ(pages_per_chunk(RelationKind::heap), 32u);
    EXPECT_EQ(pages_per_chunk(RelationKind::index), 48u);
}

TEST(FsmChunks, HeapPagesRoundUpToChunksOf32)
{
    EXPECT_EQ(chunks_for_pages(RelationKind::heap, 0), 0u);
    EXPECT_EQ(chunks_for_pages(RelationKind::heap, 1), 1u);
    EXPECT_EQ(chunks_for_pages(RelationKind::heap, 32), 1u);
    EXPECT_EQ(chunks_for_pages(RelationKind::heap, 33), 2u);
    EXPECT_EQ(chunks_for_pages(RelationKind::heap, 2000), 63u);
    EXPECT_EQ(pages_in_chunks(RelationKind::heap, 63), 2016u);
}

TEST(FsmChunks, IndexPagesRoundUpToChunksOf48)
{
    EXPECT_EQ(chunks_for_pages(RelationKind::index, 0), 0u);
    EXPECT_EQ(chunks_for_pages(RelationKind::index, 1), 1u);
    EXPECT_EQ(chunks_for_pages(RelationKind::index, 48), 1u);
    EXPECT_EQ(chunks_for_pages(RelationKind::index, 49), 2u);
    EXPECT_EQ(chunks_for_pages(RelationKind::index, 2000), 42u);
    EXPECT_EQ(pages_in_chunks(RelationKind::index, 42), 2016u);
}

TEST(FsmChunks, CapacityIsWholeHeapChunksOfTheBudget)
{
    EXPECT_EQ(capacity_chunks(0), 0u);
    EXPECT_EQ(capacity_chunks(31), 0u);
    EXPECT_EQ(capacity_chunks(1000), 31u);
    EXPECT_EQ(capacity_chunks(200000), 6250u);  // the default simple_cache.fsm_max_pages
}

TEST(FsmChunks, BothKindsOfChunkHold192BytesOfEntries)
{
    StorageLayout index = StorageLayout::of(RelationKind::index, 1);
    EXPECT_EQ(index.slots, 48u);
    EXPECT_EQ(index.bytes, 192u);
    StorageLayout heap = StorageLayout::of(RelationKind::heap, 1);
    EXPECT_EQ(heap.slots, 32u);
    EXPECT_EQ(heap.tree_offset, 128u);  // the page numbers; the free amounts are the tree's leaves
    EXPECT_EQ(heap.leaves, 32u);
    EXPECT_EQ(heap.bytes, 128u + 64u * sizeof(Avail));
}

TEST(FsmChunks, HeapLayoutRoundsTreeLeavesToPowerOfTwo)
{
    StorageLayout l = StorageLayout::of(RelationKind::heap, 3);
    EXPECT_EQ(l.slots, 96u);
    EXPECT_EQ(l.leaves, 128u);
    EXPECT_EQ(l.bytes, 96u * 4 + 256u * 2);
    EXPECT_EQ(StorageLayout::of(RelationKind::heap, 0).bytes, 0u);
    EXPECT_EQ(StorageLayout::of(RelationKind::index, 0).bytes, 0u);
}

TEST(FsmChunks, RelationsHoldTheChunksTheirPagesNeed)
{
    HeapPolicy policy;
    struct Case {
        RelationKind kind;
        uint32_t pages;
        uint32_t chunks;
    } cases[] = {
        {RelationKind::heap, 0, 0},   {RelationKind::heap, 1, 1},    {RelationKind::heap, 32, 1},
        {RelationKind::heap, 33, 2},  {RelationKind::heap, 100, 4},  {RelationKind::index, 1, 1},
        {RelationKind::index, 48, 1}, {RelationKind::index, 49, 2},  {RelationKind::index, 100, 3},
    };
    for (const Case &c : cases) {
        State state;
        TestRelation::init(state, c.kind);
        TestRelation rel(policy, state);
        ReplaceResult r = rel.replace_pages(pages_0_to(c.pages, 100), c.pages, kPageSize);
        EXPECT_EQ(r.status, Status::ok);
        EXPECT_EQ(r.kept, c.pages);
        EXPECT_EQ(rel.chunks(), c.chunks) << c.pages << " pages";
        EXPECT_EQ(rel.slots(), pages_in_chunks(c.kind, c.chunks));
        EXPECT_EQ(policy.live_bytes(), static_cast<int64_t>(rel.storage_bytes()));
        EXPECT_EQ(policy.live_blocks(), c.chunks > 0 ? 1 : 0);  // one allocation per relation
        EXPECT_TRUE(rel.consistent());
        rel.release();
        EXPECT_EQ(policy.live_blocks(), 0);
    }
}

TEST(FsmChunks, TrimmedRelationHoldsTheChunksOfItsTarget)
{
    HeapPolicy policy;
    State state;
    TestRelation::init(state, RelationKind::heap);
    TestRelation rel(policy, state);
    ASSERT_EQ(rel.replace_pages(pages_0_to(1000, 500), 1000, kPageSize).kept, 1000u);
    EXPECT_EQ(rel.chunks(), 32u);
    EXPECT_EQ(rel.replace_pages(pages_0_to(1000, 500), 320, kPageSize).kept, 320u);
    EXPECT_EQ(rel.chunks(), 10u);
    EXPECT_EQ(rel.requested_pages(), 1000u);  // the request is what was offered, not kept
    EXPECT_EQ(rel.trim_to(100, kPageSize), Status::ok);
    EXPECT_EQ(rel.count(), 100u);
    EXPECT_EQ(rel.chunks(), 4u);
    EXPECT_EQ(policy.live_bytes(), static_cast<int64_t>(rel.storage_bytes()));
    rel.release();
    EXPECT_EQ(policy.live_blocks(), 0);
}

}  // namespace
