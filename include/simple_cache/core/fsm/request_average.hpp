// The average size of the requests a relation's pages were asked for (what get_page() saw), so
// that VACUUM can skip reporting pages too full to matter.
//
// It is an exponentially decaying mean in integer arithmetic: each request weighs 1/16 and the
// weight of older ones shrinks by 15/16 with every new request, so the average follows changes
// in the workload within a few dozen requests. The first request sets it outright. It is kept
// as an accumulator holding 16 times the mean (0 = no history yet): acc' = acc - acc/16 + x,
// which settles at exactly 16x for a steady request size x.
#pragma once

#include <cstdint>

#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

inline constexpr uint32_t kRequestAverageWeight = 16;  // each request counts 1/16

// The accumulator after one more request of `request` bytes (larger requests than any page
// could satisfy count as kMaxAvail).
constexpr uint32_t feed_request_average(uint32_t acc, uint32_t request)
{
    uint32_t x = request < kMaxAvail ? request : kMaxAvail;
    if (acc == 0)
        return x * kRequestAverageWeight;
    return acc - acc / kRequestAverageWeight + x;
}

// The mean, in bytes (rounded), that an accumulator holds; 0 before any request.
constexpr uint32_t request_average_of(uint32_t acc)
{
    return (acc + kRequestAverageWeight / 2) / kRequestAverageWeight;
}

}  // namespace simple_cache::core::fsm
