// Counters shared by all backends, cheap to bump: each backend adds to its own stripe (a cache
// line of its own, chosen by process id), and readers sum the stripes.
#pragma once

#include <atomic>
#include <cstdint>

namespace simple_cache::pg {

// The stripe this backend writes to, out of `stripes`.
int backend_stripe(int stripes);

template <int N>
struct StripedCounters {
    static constexpr int kStripes = 32;
    struct alignas(64) Stripe {
        std::atomic<int64_t> values[N];
    };
    Stripe stripes[kStripes];

    // Adds delta to counter i, on this backend's stripe.
    void add(int i, int64_t delta)
    {
        stripes[backend_stripe(kStripes)].values[i].fetch_add(delta, std::memory_order_relaxed);
    }

    // The sum of counter i over all stripes.
    int64_t total(int i) const
    {
        int64_t sum = 0;
        for (const Stripe &s : stripes)
            sum += s.values[i].load(std::memory_order_relaxed);
        return sum;
    }

    // Sets counter i to zero on every stripe (increments racing with this may be lost).
    void reset(int i)
    {
        for (Stripe &s : stripes)
            s.values[i].store(0, std::memory_order_relaxed);
    }
};

}  // namespace simple_cache::pg
