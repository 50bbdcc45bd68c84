// The area's DSM segments: what they add up to, and giving back the ones left wholly free.
//
// PostgreSQL's allocator (dsa.c) hands a segment back to the operating system only when it
// destroys a superblock of small objects (up to 8 kB) and then finds the segment wholly free.
// Two of its behaviours therefore keep free segments:
//  - freeing a large allocation (over 8 kB: whole 4 kB pages) returns the pages to their
//    segment but never looks at the segment, so a segment whose last allocation was a large
//    one stays, wholly free, until the server restarts;
//  - a size class's current superblock is never destroyed by a free, only by dsa_trim(), so an
//    empty one keeps the segment it sits in (and the span descriptor block that describes it
//    keeps its own).
// give_back_free_segments() works round both (see segments.cpp). PostgreSQL 15 has no
// accessor for the segments, so their figures are read from dsa_dump()'s report.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// One segment as dsa_dump() reports it, in 4 kB pages.
struct SegmentInfo {
    uint32_t index = 0;
    uint64_t usable_pages = 0;
    uint64_t largest_free_run = 0;  // the longest run of free pages
    bool holds_blocks = false;      // some superblock or large block lies in it

    // Holds no allocation (the first segment, which holds the area's control data, is never
    // given back and never counts). Its free pages may still be split by the free page
    // manager's own bookkeeping, which dsa.c then does not see as wholly free either.
    bool wholly_free() const { return index != 0 && !holds_blocks; }
};

// The area's segments as dsa_dump() reports them.
struct AreaSegments {
    bool parsed = false;          // the report had the lines below
    uint64_t total_bytes = 0;     // total size of the segments
    uint64_t max_bytes = 0;       // the allocator's size limit in force
    std::vector<SegmentInfo> segments;
    uint64_t free_8k_objects = 0;  // free slots in the superblocks of 8 kB objects

    uint32_t count() const { return static_cast<uint32_t>(segments.size()); }
    uint32_t wholly_free() const;
    uint64_t wholly_free_bytes() const;  // their usable pages' bytes
};

// Reads the segment figures out of a dsa_dump() report.
AreaSegments read_area_segments(const std::string &dump);

// Large blocks (over 8 kB) allocated through the DsaPolicy, counted per segment: when a free
// leaves a segment with none, the segment may be wholly free, and dsa.c will not notice; a
// give-back is then due. Lives in the area's control block.
struct LargeBlockCounts {
    static constexpr uint32_t kSegments = 1024;  // dsa.c's most segments per area
    std::atomic<uint32_t> per_segment[kSegments];
    std::atomic<uint32_t> give_back_due;
};

// Records a large block allocated (or, after it was freed, freed) at p (a PolicyHooks hook).
void note_large_block(dsa_pointer p, bool allocated);

// Whether a give-back is due, clearing the mark; a caller that then fails to give back calls
// mark_give_back_due() again.
bool take_give_back_due();
void mark_give_back_due();

// Gives the wholly free segments back to the operating system, and the empty superblocks the
// allocator keeps; returns the segments as they are afterwards. Wholly free segments of up to
// spare_bytes in all are kept for reuse, the smallest first. Takes the area's init lock; the
// caller must hold no lock of the area's structures. Other backends keep working meanwhile: an
// allocation that finds no room waits for it to end (see wait_for_give_back()).
AreaSegments give_back_free_segments(uint64_t spare_bytes = 0);

// Whether a run of `bytes` in whole pages could be had once everything that can be freed is:
// some segment is at least that large, or a new segment that large could still be made under
// `limit` (counting wholly free segments as given back). True when the segments cannot be read.
bool area_could_hold_run(uint64_t bytes, uint64_t limit);

// Testing aid (simple_cache.debug_give_back_pause): a give-back waits this many milliseconds
// once it has taken every run of free pages, so a test can have another session allocate then.
void set_give_back_pause_ms(int ms);

// Called when an allocation found no room: if a give-back is under way in another backend,
// waits for it to end and returns true (the allocation is worth retrying).
bool wait_for_give_back();

// Holds the area's limit lock, which every change of the allocator's size limit holds
// (size_limit.cpp too): a give-back lowers the limit for a moment and puts back the one it found.
class AreaLimitLock {
  public:
    AreaLimitLock();
    ~AreaLimitLock();
    AreaLimitLock(const AreaLimitLock &) = delete;
    AreaLimitLock &operator=(const AreaLimitLock &) = delete;

  private:
    LWLock *lock_;
};

}  // namespace simple_cache::pg
