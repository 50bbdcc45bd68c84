// Dividing the map's capacity among databases, before each database divides its part among
// its relations (targets.hpp).
//
// Each database asks for the sum of its relations' requests, in chunks, at most its own limit
// when an administrator set one: its demand. When the demands fit in the capacity, every
// database gets its demand. Otherwise the division is max-min fair (water-filling): there is
// a level L such that every database gets min(demand, L), and L is as high as the capacity
// allows. A database asking for no more than capacity / databases thus always gets all it
// asks for, however much the others ask; the capacity the small ones leave is shared equally
// by the large ones. Whole chunks: L is the highest level whose shares fit, and the chunks
// left over (fewer than the databases above L) go one each to the first databases above L, in
// their order. The shares then add up to exactly the capacity.
//
// Example: capacity 100; demands 7, 3000 and 60. Level 46: shares 7, 47 and 46 (7 + 46 + 46 is
// 99, the spare chunk goes to the first database above the level).
//
// O(k log max demand) for k databases, no allocation: a binary search over the level.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simple_cache::core::fsm {

// "No limit of its own" for a database's demand.
inline constexpr uint64_t kNoDatabaseLimit = UINT64_MAX;

// One database's part in the division: what it asks for, its limit, and (out) its share.
struct DatabaseShare {
    uint64_t requested_chunks = 0;
    uint64_t limit_chunks = kNoDatabaseLimit;
    uint64_t share_chunks = 0;

    // What the database may ask for: its request, at most its limit.
    uint64_t demand() const { return requested_chunks < limit_chunks ? requested_chunks : limit_chunks; }
};

// Sum over all databases of min(demand, level).
inline uint64_t filled_to(const DatabaseShare *databases, size_t k, uint64_t level)
{
    uint64_t sum = 0;
    for (size_t j = 0; j < k; ++j) {
        uint64_t d = databases[j].demand();
        sum += d < level ? d : level;
    }
    return sum;
}

// Sets share_chunks of the k databases, max-min fair over their demands within capacity
// (see above). Returns the sum of the shares: min(capacity, sum of demands).
inline uint64_t fair_shares(DatabaseShare *databases, size_t k, uint64_t capacity)
{
    uint64_t total = 0;
    uint64_t largest = 0;
    for (size_t j = 0; j < k; ++j) {
        uint64_t d = databases[j].demand();
        total += d;
        largest = d > largest ? d : largest;
    }
    if (total <= capacity) {
        for (size_t j = 0; j < k; ++j)
            databases[j].share_chunks = databases[j].demand();
        return total;
    }
    // filled_to(low) <= capacity < filled_to(high) = total.
    uint64_t low = 0;
    uint64_t high = largest;
    while (high - low > 1) {
        uint64_t mid = low + (high - low) / 2;
        if (filled_to(databases, k, mid) <= capacity)
            low = mid;
        else
            high = mid;
    }
    uint64_t spare = capacity - filled_to(databases, k, low);
    for (size_t j = 0; j < k; ++j) {
        uint64_t d = databases[j].demand();
        uint64_t share = d < low ? d : low;
        if (d > low && spare > 0) {
            ++share;
            --spare;
        }
        databases[j].share_chunks = share;
    }
    return capacity;
}

}  // namespace simple_cache::core::fsm
