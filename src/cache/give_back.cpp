// When the cache gives free shared memory segments back (see give_back.hpp).
#include "simple_cache/cache/give_back.hpp"

#include "simple_cache/pg/segments.hpp"

namespace simple_cache::cache {

void give_back_segments()
{
    pg::give_back_free_segments();
}

}  // namespace simple_cache::cache
