// When the cache gives free shared memory segments back to the operating system.
#pragma once

namespace simple_cache::cache {

// Gives back the area's wholly free segments (see pg/segments.hpp). The caller must hold no
// lock of the cache's table.
void give_back_segments();

// Gives back the area's wholly free segments, but for 4 MB of them kept for reuse, if a free
// of a large block (over 8 kB) left a segment without any since the last give-back. Cheap
// otherwise: one shared flag is read. The caller must hold no lock of the cache's table.
void give_back_segments_if_due();

}  // namespace simple_cache::cache
