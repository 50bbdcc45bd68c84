// When the cache gives free shared memory segments back to the operating system.
#pragma once

namespace simple_cache::cache {

// Gives back the area's wholly free segments (see pg/segments.hpp). The caller must hold no
// lock of the cache's table.
void give_back_segments();

}  // namespace simple_cache::cache
