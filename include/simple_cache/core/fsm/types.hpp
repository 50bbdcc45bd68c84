// The vocabulary of the free-space map (FSM): page numbers, amounts of free space, the two
// kinds of relation it tracks, and one page's entry. Free of any PostgreSQL dependency.
#pragma once

#include <cstdint>

namespace simple_cache::core::fsm {

// A page's number within its relation (PostgreSQL's BlockNumber).
using BlockNumber = uint32_t;

// "No page": what searches return when nothing qualifies. Never stored (it is PostgreSQL's
// InvalidBlockNumber, which no real page has).
inline constexpr BlockNumber kInvalidBlock = 0xFFFFFFFFu;

// Free bytes on a page. PostgreSQL pages are at most 32 kB, so 16 bits always suffice; the
// binding rejects larger values before they reach the core.
using Avail = uint16_t;
inline constexpr uint32_t kMaxAvail = 0xFFFFu;

// How a relation's free space is tracked.
//   heap:  every page with its free bytes; pages are handed out by amount of space.
//   index: page numbers only, of wholly free pages (a free list, as btree indexes keep).
enum class RelationKind : uint32_t { heap = 0, index = 1 };

// One tracked page. For index relations avail is always 0.
struct PageEntry {
    BlockNumber block;
    Avail avail;
};

}  // namespace simple_cache::core::fsm
