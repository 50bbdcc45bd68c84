// When the cache gives free shared memory segments back (see give_back.hpp).
#include "simple_cache/cache/give_back.hpp"

#include "simple_cache/pg/segments.hpp"

namespace simple_cache::cache {

namespace {

// Wholly free segments kept after a write freed large values: without them, a value replaced
// over and over would make and give back a segment each time, and every new segment costs
// its pages afresh.
constexpr uint64_t kSpareBytes = 4 * 1024 * 1024;

}  // namespace

void give_back_segments()
{
    pg::give_back_free_segments();
}

void give_back_segments_if_due()
{
    if (!pg::take_give_back_due())
        return;
    try {
        pg::give_back_free_segments(kSpareBytes);
    } catch (...) {
        pg::mark_give_back_due();  // for the next write to try again
        throw;
    }
}

}  // namespace simple_cache::cache
