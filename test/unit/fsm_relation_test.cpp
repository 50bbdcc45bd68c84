// Unit tests of a heap relation in the free-space map (include/simple_cache/core/fsm/relation.hpp):
// wholesale replacement (sorting, duplicates, trimming, storage reuse), record() of tracked and
// untracked pages, round-robin get_page(), record_and_get_page(), the average request size,
// trimming and truncation, allocation failures that must change nothing, and a randomized
// comparison of every operation with a simple model. Every test ends with no live allocation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/histogram.hpp"
#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/core/fsm/relation.hpp"
#include "simple_cache/core/fsm/request_average.hpp"
#include "simple_cache/core/heap_policy.hpp"

namespace {

using simple_cache::core::HeapPolicy;
using namespace simple_cache::core::fsm;

constexpr uint32_t kPageSize = 8192;

// A HeapPolicy whose address() can be made to throw for the next allocation it hands out, to
// check that a failure there frees that allocation and changes nothing.
class TestPolicy : public HeapPolicy {
  public:
    Pointer allocate(size_t bytes)
    {
        Pointer p = HeapPolicy::allocate(bytes);
        if (poison_next_ && p != 0) {
            poisoned_ = p;
            poison_next_ = false;
        }
        return p;
    }
    void *address(Pointer p) const
    {
        if (p == poisoned_ && p != 0)
            throw std::runtime_error("address failed");
        return HeapPolicy::address(p);
    }
    void poison_next_allocation() { poison_next_ = true; }

  private:
    bool poison_next_ = false;
    Pointer poisoned_ = 0;
};

using TestRelation = Relation<TestPolicy>;
using State = TestRelation::State;

// A relation with its state and policy, released (and checked for leaks) at the end.
struct Fixture {
    explicit Fixture(RelationKind kind = RelationKind::heap) { TestRelation::init(state, kind); }
    ~Fixture()
    {
        rel.release();
        EXPECT_EQ(policy.live_blocks(), 0);
        EXPECT_EQ(policy.live_bytes(), 0);
    }
    TestPolicy policy;
    State state;
    TestRelation rel{policy, state};
};

// A report from parallel lists.
PreparedPages report(const std::vector<BlockNumber> &blocks, const std::vector<Avail> &avail)
{
    return PreparedPages::from_arrays(blocks.data(), avail.data(), blocks.size());
}

// A report of pages 0..n-1 with amounts amount(i).
template <class Amount>
PreparedPages numbered_report(uint32_t n, Amount &&amount)
{
    std::vector<BlockNumber> blocks(n);
    std::vector<Avail> avail(n);
    for (uint32_t i = 0; i < n; ++i) {
        blocks[i] = i;
        avail[i] = amount(i);
    }
    return report(blocks, avail);
}

// All pages of a relation in block order.
std::vector<std::pair<BlockNumber, Avail>> contents(const TestRelation &rel)
{
    std::vector<std::pair<BlockNumber, Avail>> out;
    for (uint32_t i = 0; i < rel.count(); ++i)
        out.emplace_back(rel.page_at(i).block, rel.page_at(i).avail);
    return out;
}

// Everything observable about a relation, to prove an operation changed nothing.
struct Snapshot {
    State state;
    std::vector<std::pair<BlockNumber, Avail>> pages;
    bool operator==(const Snapshot &o) const
    {
        return std::memcmp(&state, &o.state, sizeof(State)) == 0 && pages == o.pages;
    }
};
Snapshot snapshot(const State &state, const TestRelation &rel) { return Snapshot{state, contents(rel)}; }

TEST(FsmRelation, EmptyRelationHasNothingToGive)
{
    Fixture f;
    EXPECT_EQ(f.rel.kind(), RelationKind::heap);
    EXPECT_EQ(f.rel.count(), 0u);
    EXPECT_EQ(f.rel.chunks(), 0u);
    EXPECT_EQ(f.rel.avg_request(), 0u);
    EXPECT_EQ(f.rel.get_page(100), kInvalidBlock);
    EXPECT_FALSE(f.rel.record(0, 100));
    EXPECT_EQ(f.rel.record_and_get_page(0, 100, 50), kInvalidBlock);
    EXPECT_FALSE(f.rel.lookup(0, nullptr));
    EXPECT_EQ(f.rel.forget_pages_from(0), 0u);
    EXPECT_EQ(f.rel.trim_to(0, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.avg_request(), 97u);  // 100, then 50: 100 + (50 - 100) / 16, rounded
    EXPECT_EQ(f.rel.requests_seen(), 2u);
    EXPECT_TRUE(f.rel.consistent());
    EXPECT_EQ(f.policy.live_blocks(), 0);
}

TEST(FsmRelation, ReplaceSortsInputAndKeepsTheLastEntryOfADuplicate)
{
    Fixture f;
    ReplaceResult r = f.rel.replace_pages(
        report({7, 3, 9, 3, kInvalidBlock, 1}, {70, 30, 90, 33, 5, 10}), 100, kPageSize);
    EXPECT_EQ(r.status, Status::ok);
    EXPECT_EQ(r.kept, 4u);
    std::vector<std::pair<BlockNumber, Avail>> expected = {{1, 10}, {3, 33}, {7, 70}, {9, 90}};
    EXPECT_EQ(contents(f.rel), expected);
    EXPECT_EQ(f.rel.requested_pages(), 4u);  // distinct valid pages offered
    Avail a = 0;
    EXPECT_TRUE(f.rel.lookup(3, &a));
    EXPECT_EQ(a, 33);
    EXPECT_FALSE(f.rel.lookup(4, &a));
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, PreparedPagesOfSortedInputAreUnchanged)
{
    PreparedPages p = report({1, 2, 5, 9}, {4, 3, 2, 1});
    ASSERT_EQ(p.size(), 4u);
    EXPECT_EQ(p[2].block, 5u);
    EXPECT_EQ(p[2].avail, 2);
    PreparedPages q = PreparedPages::from_entries({{5, 1}, {5, 2}, {5, 3}});
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(q[0].avail, 3);
    PreparedPages r = PreparedPages::from_arrays(std::vector<BlockNumber>{4, 2}.data(), nullptr, 2);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].block, 2u);
    EXPECT_EQ(r[0].avail, 0);  // no amounts given: 0
}

TEST(FsmRelation, ReplaceReplacesEverything)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(100, [](uint32_t) { return Avail{500}; }), 100, kPageSize);
    f.rel.replace_pages(report({1000, 2000}, {1, 2}), 100, kPageSize);
    std::vector<std::pair<BlockNumber, Avail>> expected = {{1000, 1}, {2000, 2}};
    EXPECT_EQ(contents(f.rel), expected);
    EXPECT_EQ(f.rel.chunks(), 1u);
    EXPECT_EQ(f.rel.requested_pages(), 2u);
    f.rel.replace_pages(PreparedPages(), 100, kPageSize);
    EXPECT_EQ(f.rel.count(), 0u);
    EXPECT_EQ(f.rel.chunks(), 0u);
    EXPECT_EQ(f.policy.live_blocks(), 0);
}

TEST(FsmRelation, RecordUpdatesTrackedPagesOnly)
{
    Fixture f;
    f.rel.replace_pages(report({10, 20, 30}, {100, 200, 300}), 10, kPageSize);
    EXPECT_TRUE(f.rel.record(20, 5000));
    EXPECT_FALSE(f.rel.record(25, 5000));  // no retail additions
    EXPECT_FALSE(f.rel.record(0, 5000));
    EXPECT_FALSE(f.rel.record(31, 5000));
    EXPECT_FALSE(f.rel.record(kInvalidBlock, 5000));
    std::vector<std::pair<BlockNumber, Avail>> expected = {{10, 100}, {20, 5000}, {30, 300}};
    EXPECT_EQ(contents(f.rel), expected);
    EXPECT_EQ(f.rel.get_page(4000), 20u);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, GetPageHandsOutQualifyingPagesRoundRobin)
{
    Fixture f;
    // Even pages have room for 500 bytes, odd ones do not.
    f.rel.replace_pages(numbered_report(10, [](uint32_t i) { return Avail(i % 2 == 0 ? 1000 : 10); }), 10,
                        kPageSize);
    std::vector<BlockNumber> got;
    for (int i = 0; i < 12; ++i)
        got.push_back(f.rel.get_page(500));
    std::vector<BlockNumber> expected = {0, 2, 4, 6, 8, 0, 2, 4, 6, 8, 0, 2};
    EXPECT_EQ(got, expected);
    EXPECT_EQ(f.rel.get_page(2000), kInvalidBlock);
    EXPECT_EQ(f.rel.get_page(5), 3u);  // the cursor stands after page 2
}

// Inserters asking for the same amount one after another spread over all qualifying pages
// instead of piling onto the first.
TEST(FsmRelation, ConsecutiveRequestsGetDifferentPagesWhileSeveralQualify)
{
    Fixture f;
    std::mt19937 rng(7);
    f.rel.replace_pages(numbered_report(300, [&](uint32_t) { return Avail(rng() % 8192); }), 300, kPageSize);
    std::set<BlockNumber> qualifying;
    for (uint32_t i = 0; i < f.rel.count(); ++i)
        if (f.rel.page_at(i).avail >= 4000)
            qualifying.insert(f.rel.page_at(i).block);
    ASSERT_GT(qualifying.size(), 10u);
    std::set<BlockNumber> handed_out;
    for (size_t i = 0; i < qualifying.size(); ++i) {
        BlockNumber b = f.rel.get_page(4000);
        EXPECT_TRUE(qualifying.count(b) == 1);
        EXPECT_TRUE(handed_out.insert(b).second) << "page " << b << " handed out twice in a round";
    }
    EXPECT_EQ(handed_out, qualifying);
}

TEST(FsmRelation, RecordAndGetPageRecordsFirstThenSearches)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(5, [](uint32_t) { return Avail{1000}; }), 5, kPageSize);
    // The page just filled no longer qualifies: the next one is handed out.
    EXPECT_EQ(f.rel.record_and_get_page(0, 0, 500), 1u);
    Avail a;
    ASSERT_TRUE(f.rel.lookup(0, &a));
    EXPECT_EQ(a, 0);
    EXPECT_EQ(f.rel.record_and_get_page(1, 100, 500), 2u);
    // An untracked old page is ignored; the search still happens.
    EXPECT_EQ(f.rel.record_and_get_page(77, 0, 500), 3u);
    EXPECT_FALSE(f.rel.lookup(77, nullptr));
    // Only the old page's new amount is enough: it is handed out again.
    f.rel.record(2, 0);
    f.rel.record(3, 0);
    EXPECT_EQ(f.rel.record_and_get_page(4, 900, 500), 4u);
    EXPECT_EQ(f.rel.record_and_get_page(4, 499, 500), kInvalidBlock);
    EXPECT_EQ(f.rel.requests_seen(), 5u);
    EXPECT_EQ(f.rel.avg_request(), 500u);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, AverageRequestDecaysTowardsRecentRequests)
{
    Fixture f;
    EXPECT_EQ(f.rel.avg_request(), 0u);
    f.rel.get_page(160);
    EXPECT_EQ(f.rel.avg_request(), 160u);  // the first request sets it
    for (int i = 0; i < 200; ++i)
        f.rel.get_page(200);
    EXPECT_EQ(f.rel.avg_request(), 200u);  // a steady size is reached exactly
    f.rel.get_page(1800);
    EXPECT_EQ(f.rel.avg_request(), 300u);  // one request moves it by 1/16 of the difference
    uint32_t acc = 0;
    std::mt19937 rng(3);
    Fixture g;
    for (int i = 0; i < 500; ++i) {
        uint32_t x = static_cast<uint32_t>(rng() % 9000);
        acc = feed_request_average(acc, x);
        g.rel.get_page(x);
        ASSERT_EQ(g.rel.avg_request(), request_average_of(acc));
    }
    g.rel.get_page(1000000);  // more than any page: counts as the largest amount
    EXPECT_EQ(g.rel.avg_request(), request_average_of(feed_request_average(acc, kMaxAvail)));
}

TEST(FsmRelation, RequestsLargerThanAnyPageFindNothing)
{
    Fixture f;
    f.rel.replace_pages(report({1}, {65535}), 1, kPageSize);
    EXPECT_EQ(f.rel.get_page(65535), 1u);
    EXPECT_EQ(f.rel.get_page(65536), kInvalidBlock);
    EXPECT_EQ(f.rel.get_page(0), 1u);
}

TEST(FsmRelation, ReplaceTrimsToTargetKeepingMostFreeSpace)
{
    Fixture f;
    // 100 pages: amount 80 * i; target 10 keeps the 10 pages with most room (or within a bin).
    ReplaceResult r =
        f.rel.replace_pages(numbered_report(100, [](uint32_t i) { return Avail(80 * i); }), 10, kPageSize);
    EXPECT_EQ(r.kept, 10u);
    EXPECT_EQ(f.rel.count(), 10u);
    EXPECT_EQ(f.rel.chunks(), 1u);
    EXPECT_EQ(f.rel.requested_pages(), 100u);
    for (uint32_t i = 0; i < f.rel.count(); ++i)
        EXPECT_GE(f.rel.page_at(i).avail + bin_width(kPageSize), 80u * 90);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, TrimToShrinksStorageAndKeepsMostFreeSpace)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(200, [](uint32_t i) { return Avail(i % 2 == 0 ? 8000 : 100); }), 200,
                        kPageSize);
    EXPECT_EQ(f.rel.chunks(), 7u);
    EXPECT_EQ(f.rel.trim_to(100, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.count(), 100u);
    EXPECT_EQ(f.rel.chunks(), 4u);
    for (uint32_t i = 0; i < f.rel.count(); ++i)
        EXPECT_EQ(f.rel.page_at(i).avail, 8000);
    EXPECT_EQ(f.policy.live_bytes(), static_cast<int64_t>(f.rel.storage_bytes()));
    // Within the same number of chunks the trim works in place.
    f.policy.fail_next_allocations(1);
    EXPECT_EQ(f.rel.trim_to(97, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.count(), 97u);
    EXPECT_EQ(f.rel.chunks(), 4u);
    f.policy.fail_next_allocations(0);
    EXPECT_EQ(f.rel.trim_to(1000, kPageSize), Status::ok);  // already fits
    EXPECT_EQ(f.rel.count(), 97u);
    EXPECT_EQ(f.rel.trim_to(0, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.count(), 0u);
    EXPECT_EQ(f.rel.chunks(), 0u);
    EXPECT_EQ(f.policy.live_blocks(), 0);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, ReplaceWithTheSameChunkCountReusesStorage)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(40, [](uint32_t) { return Avail{100}; }), 40, kPageSize);
    ASSERT_EQ(f.rel.chunks(), 2u);
    f.policy.fail_next_allocations(1);  // would fail any allocation: none is needed
    ReplaceResult r = f.rel.replace_pages(numbered_report(60, [](uint32_t i) { return Avail(i); }), 60, kPageSize);
    EXPECT_EQ(r.status, Status::ok);
    EXPECT_EQ(r.kept, 60u);
    EXPECT_EQ(f.policy.live_blocks(), 1);
    EXPECT_TRUE(f.rel.consistent());
    f.policy.fail_next_allocations(0);
}

TEST(FsmRelation, CursorStaysAtItsBlockAcrossReplace)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(10, [](uint32_t) { return Avail{1000}; }), 10, kPageSize);
    EXPECT_EQ(f.rel.get_page(10), 0u);
    EXPECT_EQ(f.rel.get_page(10), 1u);
    EXPECT_EQ(f.rel.get_page(10), 2u);  // the cursor now points at page 3
    // New report without page 3: the search resumes at the next page, 4.
    f.rel.replace_pages(report({0, 1, 2, 4, 5}, {1000, 1000, 1000, 1000, 1000}), 10, kPageSize);
    EXPECT_EQ(f.rel.get_page(10), 4u);
    EXPECT_EQ(f.rel.get_page(10), 5u);
    EXPECT_EQ(f.rel.get_page(10), 0u);
}

TEST(FsmRelation, ForgetPagesFromDropsTheTruncatedTail)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(100, [](uint32_t) { return Avail{1000}; }), 100, kPageSize);
    for (int i = 0; i < 70; ++i)
        f.rel.get_page(10);  // the cursor is at page 70
    EXPECT_EQ(f.rel.forget_pages_from(50), 50u);
    EXPECT_EQ(f.rel.count(), 50u);
    EXPECT_TRUE(f.rel.consistent());
    EXPECT_EQ(f.rel.get_page(10), 0u);  // the cursor's page went away: start over
    for (int i = 0; i < 100; ++i)
        EXPECT_LT(f.rel.get_page(10), 50u);
    EXPECT_EQ(f.rel.forget_pages_from(50), 0u);
    EXPECT_EQ(f.rel.chunks(), 4u);  // storage is kept until a trim
    EXPECT_EQ(f.rel.trim_to(50, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.chunks(), 2u);
    EXPECT_EQ(f.rel.forget_pages_from(0), 50u);
    EXPECT_EQ(f.rel.count(), 0u);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, IndexOperationsOnAHeapRelationChangeNothing)
{
    Fixture f;
    f.rel.replace_pages(report({1, 2, 3}, {10, 20, 30}), 10, kPageSize);
    EXPECT_EQ(f.rel.add_free_page(5, 100), AddResult::wrong_kind);
    EXPECT_EQ(f.rel.get_free_page(), kInvalidBlock);
    EXPECT_EQ(f.rel.trailing_free_pages(4), 0u);
    EXPECT_EQ(f.rel.count(), 3u);
}

TEST(FsmRelation, AllocationFailuresChangeNothing)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(50, [](uint32_t i) { return Avail(i * 100); }), 50, kPageSize);
    for (int i = 0; i < 7; ++i)
        f.rel.get_page(1000);
    Snapshot before = snapshot(f.state, f.rel);

    // A report needing more chunks.
    f.policy.fail_next_allocations(1);
    ReplaceResult r = f.rel.replace_pages(numbered_report(500, [](uint32_t) { return Avail{7}; }), 500, kPageSize);
    EXPECT_EQ(r.status, Status::out_of_memory);
    EXPECT_EQ(r.kept, 0u);
    EXPECT_TRUE(snapshot(f.state, f.rel) == before);

    // A trim needing a smaller copy.
    f.policy.fail_next_allocations(1);
    EXPECT_EQ(f.rel.trim_to(5, kPageSize), Status::out_of_memory);
    EXPECT_TRUE(snapshot(f.state, f.rel) == before);

    // A byte limit instead of an injected failure.
    f.policy.set_byte_limit(f.policy.live_bytes() + 64);
    EXPECT_EQ(f.rel.replace_pages(numbered_report(5000, [](uint32_t) { return Avail{7}; }), 5000, kPageSize).status,
              Status::out_of_memory);
    EXPECT_TRUE(snapshot(f.state, f.rel) == before);
    f.policy.set_byte_limit(0);
    EXPECT_EQ(f.policy.live_blocks(), 1);

    // Everything works again once memory is there.
    EXPECT_EQ(f.rel.trim_to(5, kPageSize), Status::ok);
    EXPECT_EQ(f.rel.count(), 5u);
    EXPECT_TRUE(f.rel.consistent());
}

TEST(FsmRelation, ThrowingAddressFreesTheNewStorageAndChangesNothing)
{
    Fixture f;
    f.rel.replace_pages(numbered_report(50, [](uint32_t i) { return Avail(i); }), 50, kPageSize);
    Snapshot before = snapshot(f.state, f.rel);
    f.policy.poison_next_allocation();
    EXPECT_THROW(f.rel.replace_pages(numbered_report(100, [](uint32_t) { return Avail{1}; }), 100, kPageSize),
                 std::runtime_error);
    EXPECT_TRUE(snapshot(f.state, f.rel) == before);
    EXPECT_EQ(f.policy.live_blocks(), 1);
}

// ---------------------------------------------------------------------------------------------
// Randomized comparison with a model: a sorted vector of pages and a cursor.

struct Model {
    std::vector<PageEntry> pages;
    uint32_t cursor = 0;

    // The slot of block, or -1.
    int find(BlockNumber block) const
    {
        auto it = std::lower_bound(pages.begin(), pages.end(), block,
                                   [](const PageEntry &e, BlockNumber b) { return e.block < b; });
        return it != pages.end() && it->block == block ? static_cast<int>(it - pages.begin()) : -1;
    }
    // Puts the cursor at the first page at or after block (0 past the end).
    void cursor_to(BlockNumber block)
    {
        uint32_t slot = 0;
        while (slot < pages.size() && pages[slot].block < block)
            ++slot;
        cursor = slot < pages.size() ? slot : 0;
    }
    BlockNumber cursor_block() const { return pages.empty() ? kInvalidBlock : pages[cursor].block; }

    void replace(const std::vector<PageEntry> &report, uint64_t target)
    {
        std::map<BlockNumber, Avail> last;
        for (const PageEntry &e : report)
            if (e.block != kInvalidBlock)
                last[e.block] = e.avail;
        std::vector<PageEntry> sorted;
        for (auto [b, a] : last)
            sorted.push_back(PageEntry{b, a});
        BlockNumber at = cursor_block();
        pages = keep(sorted, target);
        cursor_to(at);
    }
    // The histogram rule, applied to pages in block order.
    static std::vector<PageEntry> keep(const std::vector<PageEntry> &in, uint64_t target)
    {
        TrimThresholds t = choose_thresholds(in.size(), [&](size_t i) { return in[i].avail; }, target, kPageSize);
        TrimSelector s(t, kPageSize);
        std::vector<PageEntry> out;
        for (const PageEntry &e : in)
            if (s.keep(e.avail))
                out.push_back(e);
        return out;
    }
    void trim(uint64_t target)
    {
        BlockNumber at = cursor_block();
        pages = keep(pages, target);
        cursor_to(at);
    }
    bool record(BlockNumber block, Avail avail)
    {
        int slot = find(block);
        if (slot < 0)
            return false;
        pages[static_cast<size_t>(slot)].avail = avail;
        return true;
    }
    BlockNumber get_page(uint32_t needed)
    {
        size_t n = pages.size();
        for (size_t k = 0; k < n; ++k) {
            size_t slot = (cursor + k) % n;
            if (pages[slot].avail >= needed) {
                cursor = static_cast<uint32_t>((slot + 1) % n);
                return pages[slot].block;
            }
        }
        return kInvalidBlock;
    }
    uint32_t forget_from(BlockNumber nblocks)
    {
        BlockNumber at = cursor_block();
        size_t before = pages.size();
        while (!pages.empty() && pages.back().block >= nblocks)
            pages.pop_back();
        cursor_to(at);
        if (at >= nblocks)
            cursor = 0;
        return static_cast<uint32_t>(before - pages.size());
    }
};

TEST(FsmRelation, RandomizedAgainstModel)
{
    for (uint32_t seed = 1; seed <= 60; ++seed) {
        std::mt19937 rng(seed);
        auto below = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
        Fixture f;
        Model m;
        uint32_t block_range = 50 + below(3000);
        uint32_t amount_range = below(2) == 0 ? 8193 : 5;
        for (int op = 0; op < 1500; ++op) {
            uint32_t what = below(100);
            if (what < 3) {
                std::vector<PageEntry> rep(below(600));
                for (PageEntry &e : rep)
                    e = PageEntry{below(10) == 0 ? kInvalidBlock : below(block_range),
                                  static_cast<Avail>(below(amount_range))};
                uint64_t target = below(2) == 0 ? 100000 : below(400);
                int64_t blocks_before = f.policy.live_blocks();
                if (below(10) == 0)
                    f.policy.fail_next_allocations(1);
                ReplaceResult r = f.rel.replace_pages(PreparedPages::from_entries(rep), target, kPageSize);
                f.policy.fail_next_allocations(0);
                if (r.status == Status::ok) {
                    m.replace(rep, target);
                    ASSERT_EQ(r.kept, m.pages.size());
                    ASSERT_EQ(f.rel.chunks(), chunks_for_pages(RelationKind::heap, r.kept));
                } else {
                    ASSERT_EQ(f.policy.live_blocks(), blocks_before);
                }
            } else if (what < 5) {
                uint64_t target = below(m.pages.size() + 10);
                if (f.rel.trim_to(target, kPageSize) == Status::ok)
                    m.trim(target);
            } else if (what < 6) {
                BlockNumber nblocks = below(block_range + 10);
                ASSERT_EQ(f.rel.forget_pages_from(nblocks), m.forget_from(nblocks));
            } else if (what < 40) {
                BlockNumber b = below(3) == 0 || m.pages.empty() ? below(block_range)
                                                                  : m.pages[below(static_cast<uint32_t>(m.pages.size()))].block;
                Avail a = static_cast<Avail>(below(amount_range));
                ASSERT_EQ(f.rel.record(b, a), m.record(b, a)) << "seed " << seed << " op " << op;
            } else if (what < 75) {
                uint32_t needed = below(amount_range + 1);
                ASSERT_EQ(f.rel.get_page(needed), m.get_page(needed)) << "seed " << seed << " op " << op;
            } else {
                BlockNumber b = m.pages.empty() ? below(block_range)
                                                : m.pages[below(static_cast<uint32_t>(m.pages.size()))].block;
                Avail a = static_cast<Avail>(below(amount_range));
                uint32_t needed = below(amount_range + 1);
                m.record(b, a);
                ASSERT_EQ(f.rel.record_and_get_page(b, a, needed), m.get_page(needed))
                    << "seed " << seed << " op " << op;
            }
            ASSERT_EQ(f.rel.count(), m.pages.size());
            if (op % 50 == 0 || what < 6) {
                ASSERT_TRUE(f.rel.consistent()) << "seed " << seed << " op " << op;
                for (uint32_t i = 0; i < f.rel.count(); ++i) {
                    ASSERT_EQ(f.rel.page_at(i).block, m.pages[i].block);
                    ASSERT_EQ(f.rel.page_at(i).avail, m.pages[i].avail);
                }
                ASSERT_EQ(f.state.cursor, m.cursor);
                ASSERT_EQ(f.policy.live_bytes(), static_cast<int64_t>(f.rel.storage_bytes()));
            }
        }
    }
}

}  // namespace
