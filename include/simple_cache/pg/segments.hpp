// The area's DSM segments: what they add up to, read from dsa_dump()'s report (PostgreSQL 15
// has no other accessor for them).
#pragma once

#include <cstdint>
#include <string>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// The area's segments as dsa_dump() reports them.
struct AreaSegments {
    bool parsed = false;          // the report had the lines below
    uint64_t total_bytes = 0;     // total size of the segments
    uint64_t max_bytes = 0;       // the allocator's size limit in force
    uint32_t count = 0;           // segments
    uint32_t wholly_free = 0;     // segments other than the first with every usable page free
};

// Reads the segment figures out of a dsa_dump() report.
AreaSegments read_area_segments(const std::string &dump);

}  // namespace simple_cache::pg
