// Start-up of the PostgreSQL layer, called from _PG_init.
#pragma once

namespace simple_cache::pg {

// Defines the layer's settings (simple_cache.debug_fail_after, simple_cache.max_memory) and,
// when the library is being preloaded, reserves its shared memory.
void init();

}  // namespace simple_cache::pg
