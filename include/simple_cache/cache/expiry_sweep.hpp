// Active expiry: expired entries are reclaimed without memory pressure and without being read.
// Writers sweep a few entries after each write (eviction.hpp); the background worker, when the
// library is preloaded, sweeps in bounded steps.
#pragma once

namespace simple_cache::cache {

// One bounded step of the background sweep: visits at most a few thousand entries, never
// waiting for a busy partition. Returns the milliseconds until the next step is due: 10 when
// this one found many expired entries (more are likely), 100 otherwise, 1000 while no entry
// has a TTL (or there is no cache yet). Never creates the shared area or the cache.
long sweep_expired_step();

}  // namespace simple_cache::cache
