// Chunk accounting: the map's memory budget is counted in chunks, not pages. A chunk holds 32
// page entries of a heap relation (page number + free bytes) or 48 page numbers of an index
// relation (page numbers only), so both kinds of chunk take the same 192 bytes of entries.
// A relation that holds one page has committed a whole chunk, so it may as well fill it.
#pragma once

#include <cstdint>

#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

inline constexpr uint32_t kHeapPagesPerChunk = 32;
inline constexpr uint32_t kIndexPagesPerChunk = 48;

// The most pages one relation may hold (keeps every count and tree index within 32 bits).
inline constexpr uint32_t kMaxPagesPerRelation = uint32_t{1} << 30;

// Pages of the given kind that one chunk holds.
constexpr uint32_t pages_per_chunk(RelationKind kind)
{
    return kind == RelationKind::index ? kIndexPagesPerChunk : kHeapPagesPerChunk;
}

// Chunks needed to hold `pages` pages of the given kind (rounded up).
constexpr uint64_t chunks_for_pages(RelationKind kind, uint64_t pages)
{
    return (pages + pages_per_chunk(kind) - 1) / pages_per_chunk(kind);
}

// Pages of the given kind that `chunks` chunks hold.
constexpr uint64_t pages_in_chunks(RelationKind kind, uint64_t chunks)
{
    return chunks * pages_per_chunk(kind);
}

// The whole map's capacity in chunks for a budget of max_pages page entries
// (simple_cache.fsm_max_pages counts heap page entries, so this rounds down to whole heap chunks).
constexpr uint64_t capacity_chunks(uint64_t max_pages)
{
    return max_pages / kHeapPagesPerChunk;
}

}  // namespace simple_cache::core::fsm
