// The area's DSM segments (see segments.hpp).
//
// The give-back. dsa_trim() first destroys the empty superblocks the allocator keeps (each size
// class's current one, empty span descriptor blocks); dsa.c gives back any segment that this
// leaves wholly free. A segment emptied by frees of large allocations holds no superblock, so
// nothing would make dsa.c look at it again. For those (the dump shows them as wholly free),
// the area is briefly filled, under a size limit of zero so that no new segment is made:
//  1. large "fillers" take every run of at least 16 free pages (a superblock's size) in every
//     segment, largest first and halving, so a run takes a few fillers;
//  2. the fillers in the wholly free segments are let go: now only those have room for a
//     superblock;
//  3. 8 kB objects are allocated, eight to a superblock, and dsa.c puts each new superblock in
//     a segment with room, until every wholly free segment holds one (a large allocation of a
//     superblock's size first tells where the next superblock goes, and whether one fits);
//  4. the fillers are freed, then the objects: destroying the last superblock in a wholly free
//     segment makes dsa.c give the segment back.
// The work grows with the number of free runs, not with the free bytes, and nothing is
// written into the free pages but dsa.c's own bookkeeping.
#include "simple_cache/pg/segments.hpp"

#include <algorithm>
#include <cstdlib>

#include "simple_cache/core/size_groups.hpp"
#include "simple_cache/pg/dsa_policy.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/shared_state.hpp"

extern "C" {
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

namespace simple_cache::pg {

namespace {

constexpr uint64_t kPagesPerSuperblock = core::kSuperblockBytes / core::kAreaPageBytes;

// simple_cache.debug_give_back_pause, in milliseconds (0: off).
int give_back_pause_ms = 0;

// The objects whose superblocks mark wholly free segments: the largest small size.
constexpr size_t kMarkObjectBytes = core::kLargestSmallObject;
constexpr size_t kMarkObjectsPerSuperblock = core::kSuperblockBytes / kMarkObjectBytes;

// dsa.c keeps the segment number in the top bits of a dsa_pointer (64-bit pointers: 40 bits
// of offset). dsa.h does not export it, so it is restated here, and the fillers' segments are
// checked against the dump's list before anything relies on it.
constexpr int kDsaOffsetBits = 40;
static_assert(sizeof(dsa_pointer) == 8, "the give-back reads 64-bit dsa_pointers");

// The segment a dsa_pointer points into.
uint32_t segment_of(dsa_pointer p)
{
    return static_cast<uint32_t>(p >> kDsaOffsetBits);
}

// The unsigned number that follows `label` in line, if line contains label.
bool number_after(const std::string &line, const char *label, uint64_t *value)
{
    size_t at = line.find(label);
    if (at == std::string::npos)
        return false;
    const char *start = line.c_str() + at + std::strlen(label);
    char *end = nullptr;
    unsigned long long n = std::strtoull(start, &end, 10);
    if (end == start)
        return false;
    *value = n;
    return true;
}

// Reads one "segment index I, usable_pages = U, contiguous_pages = C, ..." line.
bool read_segment_line(const std::string &line, SegmentInfo *info)
{
    uint64_t index;
    if (!number_after(line, "segment index ", &index) ||
        !number_after(line, "usable_pages = ", &info->usable_pages) ||
        !number_after(line, "contiguous_pages = ", &info->largest_free_run))
        return false;
    info->index = static_cast<uint32_t>(index);
    return true;
}

// The segments as the area's dump shows them now.
AreaSegments current_segments(dsa_area *area)
{
    return read_area_segments(capture_area_dump(area));
}

// Frees the unused superblocks the allocator keeps.
void trim(dsa_area *area)
{
    guard([=] { dsa_trim(area); });
    // The size classes whose empty superblocks just went keep none now: from here on, only
    // classes allocated again count as keeping one (make_room.cpp's can-it-fit check uses this).
    attach().control->counters.small_groups_used.store(0, std::memory_order_relaxed);
}

// Allocates without raising an error for lack of room; InvalidDsaPointer then.
dsa_pointer try_allocate(dsa_area *area, size_t bytes)
{
    return guard([=] { return dsa_allocate_extended(area, bytes, DSA_ALLOC_NO_OOM | DSA_ALLOC_HUGE); });
}

// Frees, swallowing errors: only ever called on pointers this file allocated.
void free_quietly(dsa_area *area, dsa_pointer p) noexcept
{
    try {
        guard([=] { dsa_free(area, p); });
    } catch (...) {
    }
}

// Waits for the testing aid's pause, showing the wait as "Extension" in pg_stat_activity.
void pause_for_tests()
{
    if (give_back_pause_ms <= 0)
        return;
    int ms = give_back_pause_ms;
    guard([=] {
        TimestampTz end = GetCurrentTimestamp() + static_cast<TimestampTz>(ms) * 1000;
        for (TimestampTz now = GetCurrentTimestamp(); now < end; now = GetCurrentTimestamp()) {
            (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                             static_cast<long>((end - now + 999) / 1000), PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        }
    });
}

// Sets the allocator's size limit for a scope and puts back the one in force before.
class LimitOverride {
  public:
    LimitOverride(dsa_area *area, size_t limit, size_t previous) : area_(area), previous_(previous)
    {
        guard([=] { dsa_set_size_limit(area, limit); });
    }
    ~LimitOverride()
    {
        try {
            dsa_area *area = area_;
            size_t previous = previous_;
            guard([=] { dsa_set_size_limit(area, previous); });
        } catch (...) {
        }
    }
    LimitOverride(const LimitOverride &) = delete;
    LimitOverride &operator=(const LimitOverride &) = delete;

  private:
    dsa_area *area_;
    size_t previous_;
};

// A block taken to steer the allocator: where it lies and how many pages it has.
struct Held {
    dsa_pointer pointer;
    uint64_t pages;
};

// The fillers and marking objects of one give-back; everything still held is freed when it
// goes away, fillers before objects.
class Filling {
  public:
    explicit Filling(dsa_area *area) : area_(area) {}
    ~Filling()
    {
        for (const Held &h : fillers_)
            free_quietly(area_, h.pointer);
        for (const Held &h : objects_)
            free_quietly(area_, h.pointer);
    }
    Filling(const Filling &) = delete;
    Filling &operator=(const Filling &) = delete;

    // Phase 1: fills every run of at least a superblock's size with large fillers, halving
    // their size from the largest run down to a superblock's.
    void fill_runs(uint64_t largest_run)
    {
        if (largest_run < kPagesPerSuperblock)
            return;
        for (uint64_t pages = largest_run;; pages = std::max(pages / 2, kPagesPerSuperblock)) {
            while (take_filler(pages)) {
            }
            if (pages == kPagesPerSuperblock)
                return;
        }
    }

    // Whether every filler lies in one of the listed segments, as it must: no segment can be
    // made meanwhile. False means dsa_pointers are not laid out as this file assumes.
    bool fillers_within(const std::vector<SegmentInfo> &segments) const
    {
        for (const Held &h : fillers_) {
            uint32_t segment = segment_of(h.pointer);
            if (std::none_of(segments.begin(), segments.end(),
                             [=](const SegmentInfo &s) { return s.index == segment; }))
                return false;
        }
        return true;
    }

    // Phase 2: lets go of every filler in the segments, which become one free run each again;
    // false if none had one. (Letting go of only some would leave dsa.c's free page manager
    // there with a one-key btree, and taking that key's whole run, as a probe or superblock of
    // exactly its size may, loses the btree's page for good: the segment could never be
    // given back.)
    bool open_room_in(const std::vector<uint32_t> &segments)
    {
        bool opened = false;
        auto in_segments = [&](const Held &h) {
            return std::find(segments.begin(), segments.end(), segment_of(h.pointer)) != segments.end();
        };
        for (const Held &h : fillers_)
            if (in_segments(h)) {
                free_quietly(area_, h.pointer);
                opened = true;
            }
        fillers_.erase(std::remove_if(fillers_.begin(), fillers_.end(), in_segments), fillers_.end());
        return opened;
    }

    // Phase 3: makes superblocks until each segment in `wanted` holds one, or no superblock fits
    // anywhere. `spare_slots` objects go into existing superblocks first. A small allocation that
    // finds no room for a new superblock loses the span descriptor it took for it (dsa.c never
    // frees it), so room is checked first with a large allocation of a superblock's size, which
    // gives its descriptor back when it fails; where it lands is where the superblock will go.
    void mark(std::vector<uint32_t> wanted, uint64_t spare_slots)
    {
        for (uint64_t i = 0; i < spare_slots && !wanted.empty(); ++i)
            if (!take_object(&wanted))
                return;
        while (!wanted.empty()) {
            Held probe{try_allocate(area_, core::kSuperblockBytes), kPagesPerSuperblock};
            if (!DsaPointerIsValid(probe.pointer))
                return;
            auto target = std::find(wanted.begin(), wanted.end(), segment_of(probe.pointer));
            if (target == wanted.end()) {
                keep_filler(probe);  // room elsewhere: keep it filled
                continue;
            }
            free_quietly(area_, probe.pointer);
            for (size_t i = 0; i < kMarkObjectsPerSuperblock; ++i)
                if (!take_object(&wanted))
                    return;  // another backend took the room meanwhile
        }
    }

  private:
    // Takes a large filler of `pages` pages; false once none fits.
    bool take_filler(uint64_t pages)
    {
        fillers_.reserve(fillers_.size() + 1);  // before allocating: a throwing push_back would leak
        dsa_pointer p = try_allocate(area_, pages * core::kAreaPageBytes);
        if (!DsaPointerIsValid(p))
            return false;
        fillers_.push_back(Held{p, pages});
        return true;
    }

    // Records a filler that is already allocated.
    void keep_filler(Held h)
    {
        try {
            fillers_.push_back(h);
        } catch (...) {
            free_quietly(area_, h.pointer);
            throw;
        }
    }

    // Takes one 8 kB object; the segment it lands in is struck off `wanted`.
    bool take_object(std::vector<uint32_t> *wanted)
    {
        objects_.reserve(objects_.size() + 1);
        dsa_pointer p = try_allocate(area_, kMarkObjectBytes);
        if (!DsaPointerIsValid(p))
            return false;
        objects_.push_back(Held{p, 0});
        wanted->erase(std::remove(wanted->begin(), wanted->end(), segment_of(p)), wanted->end());
        return true;
    }

    dsa_area *area_;
    std::vector<Held> fillers_;
    std::vector<Held> objects_;
};

// The dsa_pointer written in hex after `label` in line, if line contains label.
bool pointer_after(const std::string &line, const char *label, dsa_pointer *value)
{
    size_t at = line.find(label);
    if (at == std::string::npos)
        return false;
    const char *start = line.c_str() + at + std::strlen(label);
    char *end = nullptr;
    unsigned long long n = std::strtoull(start, &end, 16);
    if (end == start)
        return false;
    *value = static_cast<dsa_pointer>(n);
    return true;
}

// Marks the segments that the blocks listed in the pools lie in.
void mark_occupied(AreaSegments &out, const std::vector<uint32_t> &occupied)
{
    for (SegmentInfo &s : out.segments)
        s.holds_blocks = std::find(occupied.begin(), occupied.end(), s.index) != occupied.end();
}

}  // namespace

uint32_t AreaSegments::wholly_free() const
{
    uint32_t n = 0;
    for (const SegmentInfo &s : segments)
        n += s.wholly_free() ? 1 : 0;
    return n;
}

uint64_t AreaSegments::wholly_free_bytes() const
{
    uint64_t bytes = 0;
    for (const SegmentInfo &s : segments)
        bytes += s.wholly_free() ? s.usable_pages * core::kAreaPageBytes : 0;
    return bytes;
}

AreaSegments read_area_segments(const std::string &dump)
{
    AreaSegments out;
    bool have_total = false, have_max = false, in_pools = false, in_8k_pool = false;
    std::vector<uint32_t> occupied;
    std::string line;
    size_t begin = 0;
    while (begin < dump.size()) {
        size_t end = dump.find('\n', begin);
        if (end == std::string::npos)
            end = dump.size();
        line.assign(dump, begin, end - begin);
        begin = end + 1;
        SegmentInfo info;
        uint64_t n;
        dsa_pointer block;
        if (line.find("  pools:") != std::string::npos) {
            in_pools = true;
        } else if (in_pools && line.find("pool for ") != std::string::npos) {
            in_8k_pool = line.find("(object size 8192 bytes)") != std::string::npos;
        } else if (in_pools) {
            if (pointer_after(line, "superblock at ", &block) &&
                std::find(occupied.begin(), occupied.end(), segment_of(block)) == occupied.end())
                occupied.push_back(segment_of(block));
            if (in_8k_pool && number_after(line, "objects free = ", &n))
                out.free_8k_objects += n;
        } else if (number_after(line, "max_total_segment_size: ", &out.max_bytes)) {
            have_max = true;
        } else if (number_after(line, "total_segment_size: ", &out.total_bytes)) {
            have_total = true;
        } else if (read_segment_line(line, &info)) {
            out.segments.push_back(info);
        }
    }
    mark_occupied(out, occupied);
    out.parsed = have_total && have_max;
    return out;
}

void note_large_block(dsa_pointer p, bool allocated)
{
    uint32_t segment = segment_of(p);
    LargeBlockCounts &counts = attach().control->large_blocks;
    if (segment >= LargeBlockCounts::kSegments)
        return;
    if (allocated)
        counts.per_segment[segment].fetch_add(1, std::memory_order_relaxed);
    else if (counts.per_segment[segment].fetch_sub(1, std::memory_order_relaxed) == 1)
        counts.give_back_due.store(1, std::memory_order_relaxed);
}

bool take_give_back_due()
{
    std::atomic<uint32_t> &due = attach().control->large_blocks.give_back_due;
    return due.load(std::memory_order_relaxed) != 0 && due.exchange(0, std::memory_order_relaxed) != 0;
}

void mark_give_back_due()
{
    attach().control->large_blocks.give_back_due.store(1, std::memory_order_relaxed);
}

AreaSegments give_back_free_segments(uint64_t spare_bytes)
{
    dsa_area *area = attach().area;
    const bool may_fill = dsa_rebins_freed_segments();  // reads settings: before the lock
    AreaLimitLock lock;
    attach().control->large_blocks.give_back_due.store(0, std::memory_order_relaxed);
    trim(area);
    AreaSegments before = current_segments(area);
    std::vector<SegmentInfo> free_segments;
    uint64_t largest_run = 0;
    for (const SegmentInfo &s : before.segments) {
        if (s.wholly_free())
            free_segments.push_back(s);
        largest_run = std::max(largest_run, s.largest_free_run);
    }
    std::sort(free_segments.begin(), free_segments.end(),
              [](const SegmentInfo &a, const SegmentInfo &b) { return a.usable_pages < b.usable_pages; });
    std::vector<uint32_t> wholly_free;
    uint64_t kept = 0;
    for (const SegmentInfo &s : free_segments) {
        uint64_t bytes = s.usable_pages * core::kAreaPageBytes;
        if (kept + bytes <= spare_bytes)
            kept += bytes;  // a spare, for the next values to reuse
        else
            wholly_free.push_back(s.index);
    }
    // On a server whose dsa.c does not re-bin segments after frees, filling the free runs would
    // leave every segment in the bin of a full one, where no allocation looks again once the
    // fillers are freed: the give-back would strand the whole area instead of freeing a part.
    if (!before.parsed || wholly_free.empty() || !may_fill)
        return before;
    {
        LimitOverride no_new_segment(area, 0, before.max_bytes);
        Filling filling(area);
        filling.fill_runs(largest_run);
        pause_for_tests();  // while no room is left anywhere
        if (filling.fillers_within(before.segments) && filling.open_room_in(wholly_free))
            filling.mark(wholly_free, before.free_8k_objects);
    }
    trim(area);
    return current_segments(area);
}

bool area_could_hold_run(uint64_t bytes, uint64_t limit)
{
    AreaSegments now = current_segments(attach().area);
    if (!now.parsed)
        return true;
    for (const SegmentInfo &s : now.segments)
        if (s.usable_pages * core::kAreaPageBytes >= bytes)
            return true;
    uint64_t kept = now.total_bytes - now.wholly_free_bytes();
    return limit > kept && limit - kept >= bytes + core::kSuperblockBytes;  // with room for its header
}

void set_give_back_pause_ms(int ms)
{
    give_back_pause_ms = ms;
}

bool wait_for_give_back()
{
    LWLock *lock = &attach().control->limit_lock;
    if (LWLockHeldByMe(lock))
        return false;
    if (LWLockConditionalAcquire(lock, LW_SHARED)) {
        LWLockRelease(lock);
        return false;
    }
    LWLockAcquire(lock, LW_SHARED);
    LWLockRelease(lock);
    return true;
}

AreaLimitLock::AreaLimitLock() : lock_(&attach().control->limit_lock)
{
    LWLockAcquire(lock_, LW_EXCLUSIVE);
}

AreaLimitLock::~AreaLimitLock()
{
    LWLockRelease(lock_);
}

}  // namespace simple_cache::pg
