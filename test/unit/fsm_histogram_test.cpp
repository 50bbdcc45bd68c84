// Unit tests of the histogram trimming of heap relations
// (include/simple_cache/core/fsm/histogram.hpp): bins, a worked example, the case of many
// pages with the same amount of free space that defeated a plain threshold in 2003, and a
// randomized comparison with a brute-force reference and with the best possible choice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "simple_cache/core/fsm/histogram.hpp"

namespace {

using namespace simple_cache::core::fsm;

constexpr uint32_t kPageSize = 8192;

// Which of the pages (amounts in block order) choose_thresholds + TrimSelector keep.
std::vector<bool> trim(const std::vector<uint32_t> &avail, uint64_t target, uint32_t page_size,
                       TrimThresholds *out = nullptr)
{
    TrimThresholds t = choose_thresholds(
        avail.size(), [&avail](size_t i) { return avail[i]; }, target, page_size);
    if (out != nullptr)
        *out = t;
    TrimSelector selector(t, page_size);
    std::vector<bool> keep;
    for (uint32_t a : avail)
        keep.push_back(selector.keep(a));
    return keep;
}

// The rule written out naively: bins by division, thresholds by scanning bins from the top,
// then the first `bincount` pages of the threshold bin in block order.
std::vector<bool> reference_trim(const std::vector<uint32_t> &avail, uint64_t target, uint32_t page_size)
{
    uint32_t width = page_size / 32 + 1;
    auto bin = [&](uint32_t a) { return std::min<uint32_t>(a / width, 31); };
    std::vector<bool> keep(avail.size(), false);
    if (target >= avail.size()) {
        keep.assign(avail.size(), true);
        return keep;
    }
    uint64_t above = 0;
    for (int b = 31; b >= 0; --b) {
        uint64_t in_bin = static_cast<uint64_t>(std::count_if(
            avail.begin(), avail.end(), [&](uint32_t a) { return bin(a) == static_cast<uint32_t>(b); }));
        if (above + in_bin > target) {
            uint64_t quota = target - above;
            for (size_t i = 0; i < avail.size(); ++i) {
                if (bin(avail[i]) > static_cast<uint32_t>(b))
                    keep[i] = true;
                else if (bin(avail[i]) == static_cast<uint32_t>(b) && quota > 0) {
                    keep[i] = true;
                    --quota;
                }
            }
            return keep;
        }
        above += in_bin;
    }
    return keep;
}

// A random number in [0, n).
uint32_t below(std::mt19937 &rng, uint32_t n) { return static_cast<uint32_t>(rng() % n); }

size_t count_kept(const std::vector<bool> &keep) { return static_cast<size_t>(std::count(keep.begin(), keep.end(), true)); }

TEST(FsmHistogram, BinsCoverZeroToPageSize)
{
    EXPECT_EQ(bin_width(8192), 257u);
    EXPECT_EQ(bin_of(0, 257), 0u);
    EXPECT_EQ(bin_of(256, 257), 0u);
    EXPECT_EQ(bin_of(257, 257), 1u);
    EXPECT_EQ(bin_of(8192, 257), 31u);   // a wholly empty page still has a bin
    EXPECT_EQ(bin_of(65535, 257), 31u);  // amounts above the page size go to the top bin
    EXPECT_EQ(bin_width(32768), 1025u);
    EXPECT_EQ(bin_width(31), 1u);
}

TEST(FsmHistogram, WorkedExample)
{
    // Page size 320: bins of 11 bytes. Amounts in block order.
    std::vector<uint32_t> avail = {300, 5, 100, 104, 300, 99, 101, 0, 320};
    TrimThresholds t;
    std::vector<bool> keep = trim(avail, 5, 320, &t);
    // From the top: bin 29 holds 320, bin 27 holds 300 twice: 3 pages. Bin 9 (99..109) holds
    // 100, 104, 99 and 101: 3 + 4 > 5, so bin 9 is the threshold bin, and of its pages the
    // first 5 - 3 = 2 in block order (100 and 104) are kept. Bins 0..8 (5 and 0) are dropped.
    EXPECT_EQ(t.threshold_bin, 9u);
    EXPECT_EQ(t.keep_in_threshold_bin, 2u);
    EXPECT_EQ(t.lower_edge, 99u);
    EXPECT_EQ(t.upper_edge, 110u);
    EXPECT_EQ(t.kept, 5u);
    std::vector<bool> expected = {true, false, true, true, true, false, false, false, true};
    EXPECT_EQ(keep, expected);
}

TEST(FsmHistogram, KeepsAllWhenTargetCoversEveryPage)
{
    std::vector<uint32_t> avail = {0, 0, 8192, 17, 17};
    EXPECT_EQ(count_kept(trim(avail, 5, kPageSize)), 5u);
    EXPECT_EQ(count_kept(trim(avail, 500, kPageSize)), 5u);
    EXPECT_EQ(count_kept(trim({}, 0, kPageSize)), 0u);
    EXPECT_EQ(count_kept(trim({}, 10, kPageSize)), 0u);
}

TEST(FsmHistogram, TargetZeroKeepsNothing)
{
    std::vector<uint32_t> avail = {0, 8192, 4000, 4000};
    EXPECT_EQ(count_kept(trim(avail, 0, kPageSize)), 0u);
}

// The 2003 problem: with many pages having exactly the same amount, a plain threshold keeps
// all or none of them. The histogram keeps exactly the target, the lowest-numbered first.
TEST(FsmHistogram, ManyEqualAmountsAreCutAtExactlyTheTarget)
{
    std::vector<uint32_t> avail(1000, 8000);
    std::vector<bool> keep = trim(avail, 300, kPageSize);
    EXPECT_EQ(count_kept(keep), 300u);
    for (size_t i = 0; i < avail.size(); ++i)
        EXPECT_EQ(keep[i], i < 300) << i;

    // Equal amounts under a few larger ones (in a higher bin): the larger ones always stay.
    std::fill(avail.begin(), avail.end(), 4000);
    avail[999] = 8192;
    avail[500] = 8000;
    keep = trim(avail, 10, kPageSize);
    EXPECT_EQ(count_kept(keep), 10u);
    EXPECT_TRUE(keep[999]);
    EXPECT_TRUE(keep[500]);
    for (size_t i = 0; i < 8; ++i)
        EXPECT_TRUE(keep[i]);
}

// Randomized against the naive reference (exactly the same pages) and against the best choice:
// min(target, n) pages are kept, and no dropped page has as much as a kept page plus one bin
// width, so the kept amounts are never more than a bin width below the best possible ones.
TEST(FsmHistogram, RandomizedAgainstBruteForce)
{
    const std::vector<uint32_t> page_sizes = {8192, 8192, 32768, 1024, 320, 31};
    for (uint32_t seed = 1; seed <= 1500; ++seed) {
        std::mt19937 rng(seed);
        uint32_t page_size = page_sizes[seed % page_sizes.size()];
        uint32_t width = bin_width(page_size);
        size_t n = below(rng, 400);
        std::vector<uint32_t> avail(n);
        uint32_t shape = below(rng, 5);
        std::vector<uint32_t> few = {below(rng, page_size + 1), below(rng, page_size + 1), below(rng, page_size + 1)};
        uint32_t base = below(rng, page_size + 1);
        for (uint32_t &a : avail) {
            switch (shape) {
            case 0: a = below(rng, page_size + 1); break;                        // spread out
            case 1: a = few[below(rng, 3)]; break;                               // few distinct amounts
            case 2: a = base; break;                                             // all equal
            case 3: a = std::min(page_size, base + below(rng, width)); break;    // one or two bins
            default: a = below(rng, 2) == 0 ? page_size : below(rng, std::min(64u, page_size + 1)); break;  // empty or full
            }
        }
        uint64_t target = below(rng, static_cast<uint32_t>(n) + 6);
        std::vector<bool> keep = trim(avail, target, page_size);
        ASSERT_EQ(keep, reference_trim(avail, target, page_size)) << "seed " << seed;
        ASSERT_EQ(count_kept(keep), std::min<uint64_t>(target, n)) << "seed " << seed;

        // Every dropped page has less than every kept page plus the bin width.
        uint32_t min_kept = UINT32_MAX, max_dropped = 0;
        bool any_dropped = false;
        std::vector<uint32_t> kept_amounts;
        for (size_t i = 0; i < n; ++i) {
            if (keep[i]) {
                min_kept = std::min(min_kept, avail[i]);
                kept_amounts.push_back(avail[i]);
            } else {
                max_dropped = std::max(max_dropped, avail[i]);
                any_dropped = true;
            }
        }
        if (any_dropped && !kept_amounts.empty()) {
            ASSERT_LT(max_dropped, min_kept + width) << "seed " << seed;
        }

        // Against the best possible pages (the `target` largest amounts): the k-th largest kept
        // amount is at most one bin width below the k-th largest of the best choice.
        std::vector<uint32_t> best = avail;
        std::sort(best.begin(), best.end(), std::greater<uint32_t>());
        best.resize(kept_amounts.size());
        std::sort(kept_amounts.begin(), kept_amounts.end(), std::greater<uint32_t>());
        for (size_t k = 0; k < best.size(); ++k)
            ASSERT_LT(best[k], kept_amounts[k] + width) << "seed " << seed << " rank " << k;
    }
}

}  // namespace
