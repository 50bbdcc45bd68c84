// Choosing which pages of a heap relation to keep when it has more than its target, with a
// histogram of free-space amounts instead of a sort.
//
// The amounts 0..page_size fall into 32 bins of equal width (page_size / 32 + 1 bytes, so the
// last bin still holds page_size itself). Counting the pages of each bin and walking down from
// the top bin finds the threshold bin: the first whose pages would take the total past the
// target. Then, in block order:
//   - every page in a higher bin is kept (avail >= the threshold bin's upper edge, thresholdU);
//   - every page in a lower bin is dropped (avail < its lower edge, thresholdL);
//   - of the pages in the threshold bin, the first `bincount` are kept, where bincount is the
//     target minus the pages of the higher bins.
// Exactly min(target, n) pages are kept, and many pages with equal amounts (an all-or-nothing
// case for a plain threshold) are cut at exactly the target. The result is never far from the
// best choice (the `target` pages with most space): any dropped page has less than a kept page
// plus the bin width. Two passes, O(n), no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

inline constexpr unsigned kHistogramBins = 32;

// Width in bytes of one histogram bin for pages of page_size bytes (BLCKSZ).
constexpr uint32_t bin_width(uint32_t page_size) { return page_size / kHistogramBins + 1; }

// The bin of a free-space amount; amounts above page_size (not expected) go to the top bin.
constexpr unsigned bin_of(uint32_t avail, uint32_t width)
{
    uint32_t bin = avail / width;
    return bin < kHistogramBins ? bin : kHistogramBins - 1;
}

// Which pages survive a trim: the outcome of choose_thresholds().
struct TrimThresholds {
    unsigned threshold_bin = 0;        // pages in higher bins are kept, in lower bins dropped
    uint64_t keep_in_threshold_bin = 0;  // "bincount": how many of the threshold bin's pages stay
    uint32_t lower_edge = 0;           // thresholdL: the threshold bin's smallest amount
    uint32_t upper_edge = 0;           // thresholdU: one past its largest amount
    uint64_t kept = 0;                 // pages the trim keeps: min(target, n)
};

// Builds the histogram of n amounts (avail_at(i) for i < n) and picks the thresholds that keep
// min(target, n) pages.
template <class AvailAt>
TrimThresholds choose_thresholds(size_t n, AvailAt &&avail_at, uint64_t target, uint32_t page_size)
{
    uint32_t width = bin_width(page_size);
    uint64_t counts[kHistogramBins] = {};
    for (size_t i = 0; i < n; ++i)
        ++counts[bin_of(avail_at(i), width)];

    TrimThresholds t;
    uint64_t above = 0;  // pages in bins higher than the one being looked at
    unsigned bin = kHistogramBins - 1;
    for (;; --bin) {
        if (above + counts[bin] > target) {
            t.keep_in_threshold_bin = target - above;
            break;
        }
        if (bin == 0) {  // every page fits: the "threshold bin" 0 keeps all of its pages
            t.keep_in_threshold_bin = counts[0];
            break;
        }
        above += counts[bin];
    }
    t.threshold_bin = bin;
    t.lower_edge = bin * width;
    t.upper_edge = (bin + 1) * width;
    t.kept = target < n ? target : n;
    return t;
}

// Applies thresholds to pages visited in block order: keep(avail) says whether each survives.
class TrimSelector {
  public:
    TrimSelector(const TrimThresholds &thresholds, uint32_t page_size)
        : bin_(thresholds.threshold_bin), quota_(thresholds.keep_in_threshold_bin),
          width_(bin_width(page_size))
    {
    }

    // Whether the next page (in block order) with this amount of free space is kept.
    bool keep(uint32_t avail)
    {
        unsigned bin = bin_of(avail, width_);
        if (bin != bin_)
            return bin > bin_;
        if (quota_ == 0)
            return false;
        --quota_;
        return true;
    }

  private:
    unsigned bin_;
    uint64_t quota_;
    uint32_t width_;
};

}  // namespace simple_cache::core::fsm
