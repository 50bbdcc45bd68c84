// The background worker's sweep of expired entries (see expiry_sweep.hpp).
#include "simple_cache/cache/expiry_sweep.hpp"

#include "simple_cache/cache/eviction.hpp"
#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

namespace {

// Entries visited per batch, batches per step: a step holds each partition lock for one run of
// buckets, and ends after at most kBatchesPerStep * kBatchEntries visits.
constexpr uint64_t kBatchEntries = 512;
constexpr int kBatchesPerStep = 8;

// The pause between steps when the last one found many expired entries (short: more are
// likely, but leave the CPU to others between steps), when it found few, and the period at
// which a cache with no entry with a TTL (or no cache yet) is looked at again.
constexpr long kBusyPauseMs = 10;
constexpr long kPauseMs = 100;
constexpr long kIdleMs = 1000;

}  // namespace

long sweep_expired_step()
{
    if (!pg::area_exists() || !cache_exists() || cache_counters().total(kEntriesWithTtl) <= 0)
        return kIdleMs;
    uint64_t visited = 0;
    uint64_t removed = 0;
    for (int batch = 0; batch < kBatchesPerStep; ++batch) {
        ExpirySweep swept = sweep_expired(kBatchEntries);
        visited += swept.visited;
        removed += swept.removed;
        if (swept.visited == 0 || cache_counters().total(kEntriesWithTtl) <= 0)
            break;
    }
    // Like Redis's active expiry: when a quarter or more of what was visited had expired, the
    // next step follows soon.
    return visited > 0 && removed * 4 >= visited ? kBusyPauseMs : kPauseMs;
}

}  // namespace simple_cache::cache
