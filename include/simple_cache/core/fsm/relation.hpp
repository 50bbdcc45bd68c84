// One relation's part of the free-space map: its tracked pages in block order over one
// allocation of Policy memory, and the operations on them.
//
// Heap relations (every page with its free bytes):
//   replace_pages()        wholesale replacement by a VACUUM report, trimmed to a target
//   record()               updates the free bytes of a page already tracked (never adds one)
//   get_page()             a page with at least `needed` free bytes, handed out round-robin
//   record_and_get_page()  record() for the page just filled, then get_page(), in one call
// Index relations (page numbers of wholly free pages, a btree-style free list):
//   replace_pages()        wholesale replacement, keeping the lowest page numbers
//   add_free_page()        adds one page (retail additions are allowed here)
//   get_free_page()        takes the lowest free page out of the list
//   trailing_free_pages()  how many free pages end the relation, so it could shrink
// Both kinds: trim_to() a new target, forget_pages_from() after the relation was truncated,
// release() of all memory, and read-only accessors.
//
// Pages are found by binary search over the sorted block numbers. Searches for space use the
// max tree (max_tree.hpp) from a per-relation cursor that moves past every page handed out, so
// that concurrent inserters asking for the same amount spread over the qualifying pages
// instead of all piling onto the first one; the cursor wraps around at the end.
//
// Locking is the binding's: it keeps a lock next to each RelationState and holds it exclusively
// around every call, except the read-only accessors (marked "read-only"), for which a shared
// lock is enough. "One atomic step" (record_and_get_page) means one call under that lock.
//
// Failures: a null allocation leaves the relation exactly as it was and is reported
// (Status::out_of_memory, AddResult::out_of_memory); nothing here throws on its own. If the
// policy's address() throws, it does so before anything changed, and a fresh allocation is
// freed first.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "simple_cache/core/fsm/chunks.hpp"
#include "simple_cache/core/fsm/histogram.hpp"
#include "simple_cache/core/fsm/max_tree.hpp"
#include "simple_cache/core/fsm/prepared_pages.hpp"
#include "simple_cache/core/fsm/relation_state.hpp"
#include "simple_cache/core/fsm/request_average.hpp"
#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

// Whether an operation that may allocate could do its work.
enum class Status { ok, out_of_memory };

// What replace_pages() did: whether it could, and how many pages it kept after trimming.
struct ReplaceResult {
    Status status = Status::ok;
    uint32_t kept = 0;
};

// What add_free_page() did with the page.
enum class AddResult {
    added,            // now in the list (at most max_chunks, the highest page may have made room)
    already_present,  // it was in the list already; nothing changed
    no_room,          // list full at max_chunks and the page is above all listed ones (or invalid)
    out_of_memory,    // the list needed to grow and the allocation failed; nothing changed
    wrong_kind,       // not an index relation; nothing changed
};

template <class Policy>
class Relation {
  public:
    using Pointer = typename Policy::Pointer;
    using State = RelationState<Pointer>;

    static_assert(std::is_trivially_copyable_v<State>, "relation state lives in shared memory");

    // Makes state an empty relation of the given kind: no pages, no memory, no history.
    static void init(State &state, RelationKind kind)
    {
        std::memset(static_cast<void *>(&state), 0, sizeof(State));
        state.storage = Pointer{};
        state.kind = static_cast<uint32_t>(kind);
    }

    // Works on a state made by init(); the policy must outlive this object.
    Relation(Policy &policy, State &state) : policy_(policy), state_(state) {}

    Relation(const Relation &) = delete;
    Relation &operator=(const Relation &) = delete;

    // ------------------------------------------------------------------------------------------
    // Read-only accessors

    RelationKind kind() const { return static_cast<RelationKind>(state_.kind); }
    bool is_index() const { return kind() == RelationKind::index; }
    uint32_t count() const { return state_.count; }
    uint32_t chunks() const { return state_.chunks; }

    // Pages the current storage can hold.
    uint32_t slots() const { return layout().slots; }

    // Bytes of Policy memory held.
    size_t storage_bytes() const { return layout().bytes; }

    // Distinct pages of the last wholesale report: the relation's request in the budget.
    uint32_t requested_pages() const { return state_.requested_pages; }

    // The average request size seen by get_page() (request_average.hpp); 0 before any.
    uint32_t avg_request() const { return request_average_of(state_.request_average); }

    // How many page requests were made (stops at 2^32 - 1).
    uint32_t requests_seen() const { return state_.requests_seen; }

    // The i-th tracked page in block order (i < count()); index pages have avail 0.
    PageEntry page_at(uint32_t i) const
    {
        const BlockNumber *blocks = block_array();
        if (is_index())
            return PageEntry{blocks[state_.first + i], 0};
        return PageEntry{blocks[i], tree().get(i)};
    }

    // Whether block is tracked; if so and avail is not null, stores its free bytes there.
    bool lookup(BlockNumber block, Avail *avail) const
    {
        uint32_t slot;
        if (!find_slot(block, &slot))
            return false;
        if (avail != nullptr)
            *avail = is_index() ? Avail{0} : tree().get(slot);
        return true;
    }

    // Index relations: how many listed pages form an unbroken run ending at the relation's last
    // page (nblocks - 1); the relation could be truncated by that many pages. Listed pages at
    // or beyond nblocks are ignored. Heap relations: 0.
    uint32_t trailing_free_pages(BlockNumber nblocks) const
    {
        if (!is_index() || state_.count == 0 || nblocks == 0)
            return 0;
        const BlockNumber *blocks = block_array();
        uint32_t end = lower_bound_slot(nblocks);
        uint32_t run = 0;
        while (end - run > state_.first && blocks[end - run - 1] == nblocks - 1 - run)
            ++run;
        return run;
    }

    // Checks every invariant of the state and storage (for tests and assertions).
    bool consistent() const
    {
        StorageLayout l = layout();
        if ((state_.storage == Pointer{}) != (state_.chunks == 0))
            return false;
        if (state_.first > l.slots || state_.count > l.slots - state_.first)
            return false;
        if (state_.storage == Pointer{})
            return state_.count == 0 && state_.first == 0 && state_.cursor == 0;
        const BlockNumber *blocks = block_array();
        for (uint32_t i = 1; i < state_.count; ++i)
            if (blocks[state_.first + i - 1] >= blocks[state_.first + i])
                return false;
        if (state_.count > 0 && blocks[state_.first + state_.count - 1] == kInvalidBlock)
            return false;
        if (is_index())
            return state_.cursor == 0;
        if (state_.first != 0 || (state_.cursor != 0 && state_.cursor >= state_.count))
            return false;
        MaxTreeView t = tree();
        for (uint32_t i = state_.count; i < t.leaves(); ++i)
            if (t.get(i) != 0)
                return false;
        return t.consistent();
    }

    // ------------------------------------------------------------------------------------------
    // Wholesale replacement and trimming (both kinds)

    // Replaces all pages by a prepared report, keeping at most target_pages of them: for heap
    // relations the ones with most free space (histogram.hpp), for index relations the lowest
    // page numbers. The report's size becomes the relation's request. Storage is resized to the
    // chunks the kept pages need (reused when that number is unchanged, so no allocation).
    // The cursor stays at the same block number, so round-robin goes on where it was.
    ReplaceResult replace_pages(const PreparedPages &pages, uint64_t target_pages, uint32_t page_size)
    {
        size_t n = pages.size();
        uint64_t target = std::min<uint64_t>(target_pages, kMaxPagesPerRelation);
        TrimThresholds thresholds;
        if (!is_index())
            thresholds = choose_thresholds(
                n, [&pages](size_t i) { return pages[i].avail; }, target, page_size);
        uint32_t kept = static_cast<uint32_t>(std::min<uint64_t>(target, n));
        uint32_t new_chunks = static_cast<uint32_t>(chunks_for_pages(kind(), kept));
        BlockNumber cursor_block = cursor_block_now();

        Fresh fresh;
        if (new_chunks != state_.chunks && !allocate_storage(new_chunks, &fresh))
            return ReplaceResult{Status::out_of_memory, 0};
        // From here on nothing can fail.
        Target dest = new_chunks != state_.chunks ? fresh.target : current_target();
        if (is_index()) {
            for (uint32_t i = 0; i < kept; ++i)
                dest.blocks[i] = pages[i].block;
        } else {
            TrimSelector selector(thresholds, page_size);
            uint32_t w = 0;
            for (size_t i = 0; i < n; ++i) {
                if (!selector.keep(pages[i].avail))
                    continue;
                dest.blocks[w] = pages[i].block;
                dest.tree.put(w, pages[i].avail);
                ++w;
            }
        }
        if (new_chunks != state_.chunks)
            adopt_storage(fresh);
        finish_contents(dest, kept, 0, cursor_block);
        state_.requested_pages = static_cast<uint32_t>(std::min<size_t>(n, UINT32_MAX));
        return ReplaceResult{Status::ok, kept};
    }

    // Trims the relation to at most target_pages pages (heap: by histogram; index: keeping the
    // lowest page numbers) and to no more chunks than the remaining pages need, giving memory
    // back. Does nothing when both already hold. O(pages held).
    Status trim_to(uint64_t target_pages, uint32_t page_size)
    {
        uint32_t count = state_.count;
        uint32_t kept = static_cast<uint32_t>(std::min<uint64_t>(target_pages, count));
        uint32_t new_chunks = static_cast<uint32_t>(chunks_for_pages(kind(), kept));
        if (kept == count && new_chunks == state_.chunks)
            return Status::ok;
        BlockNumber cursor_block = cursor_block_now();
        if (is_index())
            return trim_index(kept, new_chunks);

        Target src = current_target();
        TrimThresholds thresholds = choose_thresholds(
            count, [&src](size_t i) { return src.tree.get(static_cast<uint32_t>(i)); }, kept, page_size);
        Fresh fresh;
        if (new_chunks != state_.chunks && !allocate_storage(new_chunks, &fresh))
            return Status::out_of_memory;
        // Writing in place is safe: the write position never passes the read position.
        Target dest = new_chunks != state_.chunks ? fresh.target : src;
        TrimSelector selector(thresholds, page_size);
        uint32_t w = 0;
        for (uint32_t i = 0; i < count; ++i) {
            Avail avail = src.tree.get(i);
            if (!selector.keep(avail))
                continue;
            dest.blocks[w] = src.blocks[i];
            dest.tree.put(w, avail);
            ++w;
        }
        if (new_chunks != state_.chunks)
            adopt_storage(fresh);
        finish_contents(dest, kept, 0, cursor_block);
        return Status::ok;
    }

    // Forgets every page numbered nblocks or above (after the relation was truncated to nblocks
    // pages); returns how many were forgotten. Keeps the storage: trim_to() gives chunks back.
    uint32_t forget_pages_from(BlockNumber nblocks)
    {
        if (state_.count == 0)
            return 0;
        uint32_t end = state_.first + state_.count;
        uint32_t from = lower_bound_slot(nblocks);
        uint32_t forgotten = end - from;
        if (forgotten == 0)
            return 0;
        BlockNumber cursor_block = cursor_block_now();
        if (is_index()) {
            state_.count = from - state_.first;
            if (state_.count == 0)
                state_.first = 0;
        } else {
            Target at = current_target();  // resolved before anything changes
            state_.count = from;
            at.tree.clear_from(from);
            state_.cursor = cursor_slot_in(at.blocks, cursor_block);
        }
        return forgotten;
    }

    // Frees the storage; the relation then tracks no page. Its kind, request and request
    // average stay (the binding drops the whole state when the relation goes away).
    void release()
    {
        Pointer old = state_.storage;
        size_t old_bytes = layout().bytes;
        state_.storage = Pointer{};
        state_.chunks = 0;
        state_.count = 0;
        state_.first = 0;
        state_.cursor = 0;
        if (old != Pointer{})
            deallocate_quietly(old, old_bytes);
    }

    // ------------------------------------------------------------------------------------------
    // Heap relations

    // Sets the free bytes of a tracked page; false (and nothing changes) when the page is not
    // tracked or the relation is an index. O(log n).
    bool record(BlockNumber block, Avail avail) { return record_in(heap_target(), block, avail); }

    // A page with at least `needed` free bytes, or kInvalidBlock. The search starts at the
    // cursor and wraps around; the cursor then moves just past the page returned. The page's
    // amount is not changed: the caller records what is left once it has used the page. Every
    // call, successful or not, feeds the average request size. Index relations: always
    // kInvalidBlock (use get_free_page()). O(log n).
    BlockNumber get_page(uint32_t needed) { return get_page_in(heap_target(), needed); }

    // Records old_avail for old_block (the page just filled; ignored when not tracked), then
    // returns get_page(needed). The old page itself may be returned if its new amount is enough.
    // The storage is resolved once, first, so the two halves succeed or fail together.
    BlockNumber record_and_get_page(BlockNumber old_block, Avail old_avail, uint32_t needed)
    {
        Target at = heap_target();
        record_in(at, old_block, old_avail);
        return get_page_in(at, needed);
    }

    // ------------------------------------------------------------------------------------------
    // Index relations

    // Adds a free page. A full list grows (by half its chunks, at least one) up to max_chunks
    // chunks, the binding's allowance; a list that cannot grow keeps its lowest pages: a page
    // below the highest listed one replaces it, a page above all of them is not added
    // (no_room). O(log n) plus moving the shorter side of the list, or a copy when growing.
    AddResult add_free_page(BlockNumber block, uint64_t max_chunks)
    {
        if (!is_index())
            return AddResult::wrong_kind;
        if (block == kInvalidBlock)
            return AddResult::no_room;
        uint32_t pos = lower_bound_slot(block);
        uint32_t end = state_.first + state_.count;
        BlockNumber *blocks = state_.count > 0 ? block_array() : nullptr;
        if (pos < end && blocks[pos] == block)
            return AddResult::already_present;
        if (state_.count < slots()) {
            insert_at(pos, block);
            return AddResult::added;
        }
        uint32_t grown = grown_chunks(max_chunks);
        if (grown > state_.chunks)
            return grow_and_insert(grown, pos, block);
        if (pos == end)
            return AddResult::no_room;
        // Full: the highest page gives way to this lower one.
        --state_.count;
        insert_at(pos, block);
        return AddResult::added;
    }

    // Takes the lowest listed page out of the list, or returns kInvalidBlock when it is empty.
    // O(1); the storage is kept (trim_to() gives chunks back).
    BlockNumber get_free_page()
    {
        if (!is_index() || state_.count == 0)
            return kInvalidBlock;
        BlockNumber lowest = block_array()[state_.first];
        --state_.count;
        state_.first = state_.count == 0 ? 0 : state_.first + 1;
        return lowest;
    }

  private:
    // Where a relation's pages are written: its block array and max tree (heap only).
    struct Target {
        BlockNumber *blocks;
        MaxTreeView tree;
    };

    // A new allocation not yet adopted by the state.
    struct Fresh {
        Pointer ptr{};
        uint32_t chunks = 0;
        size_t bytes = 0;
        Target target{nullptr, MaxTreeView(nullptr, 0)};
    };

    StorageLayout layout() const { return StorageLayout::of(kind(), state_.chunks); }

    BlockNumber *block_array() const
    {
        return static_cast<BlockNumber *>(policy_.address(state_.storage));
    }

    // The max tree in storage at base for the given layout.
    static MaxTreeView tree_at(void *base, const StorageLayout &l)
    {
        return MaxTreeView(reinterpret_cast<Avail *>(static_cast<char *>(base) + l.tree_offset), l.leaves);
    }

    MaxTreeView tree() const { return tree_at(policy_.address(state_.storage), layout()); }

    Target current_target() const
    {
        if (state_.storage == Pointer{})
            return Target{nullptr, MaxTreeView(nullptr, 0)};
        void *base = policy_.address(state_.storage);
        return Target{static_cast<BlockNumber *>(base), tree_at(base, layout())};
    }

    // A heap relation's storage when it holds pages (else no storage): resolved before a page
    // operation changes anything.
    Target heap_target() const
    {
        if (is_index() || state_.count == 0)
            return Target{nullptr, MaxTreeView(nullptr, 0)};
        return current_target();
    }

    // record() on storage resolved by heap_target().
    bool record_in(Target at, BlockNumber block, Avail avail)
    {
        if (at.blocks == nullptr)
            return false;
        const BlockNumber *begin = at.blocks;
        const BlockNumber *end = begin + state_.count;
        const BlockNumber *found = std::lower_bound(begin, end, block);
        if (found == end || *found != block)
            return false;
        at.tree.set(static_cast<uint32_t>(found - begin), avail);
        return true;
    }

    // get_page() on storage resolved by heap_target().
    BlockNumber get_page_in(Target at, uint32_t needed)
    {
        state_.request_average = feed_request_average(state_.request_average, needed);
        if (state_.requests_seen != UINT32_MAX)
            ++state_.requests_seen;
        if (at.blocks == nullptr)
            return kInvalidBlock;
        uint32_t slot = at.tree.find_wrapping(state_.cursor, state_.count, needed);
        if (slot == MaxTreeView::kNotFound)
            return kInvalidBlock;
        state_.cursor = slot + 1 < state_.count ? slot + 1 : 0;
        return at.blocks[slot];
    }

    // The slot of the first page numbered block or above (first + count when none is).
    uint32_t lower_bound_slot(BlockNumber block) const
    {
        if (state_.count == 0)
            return state_.first;
        const BlockNumber *blocks = block_array();
        const BlockNumber *begin = blocks + state_.first;
        const BlockNumber *end = begin + state_.count;
        return static_cast<uint32_t>(std::lower_bound(begin, end, block) - blocks);
    }

    // Finds the slot holding block.
    bool find_slot(BlockNumber block, uint32_t *slot) const
    {
        if (state_.count == 0)
            return false;
        uint32_t pos = lower_bound_slot(block);
        if (pos == state_.first + state_.count || block_array()[pos] != block)
            return false;
        *slot = pos;
        return true;
    }

    // The block number the cursor points at (kInvalidBlock when there is none).
    BlockNumber cursor_block_now() const
    {
        if (is_index() || state_.count == 0)
            return kInvalidBlock;
        return block_array()[state_.cursor];
    }

    // The cursor slot that points at block or the next page after it (0 past the end), in a
    // heap relation's block array at blocks (already resolved: nothing here can fail).
    uint32_t cursor_slot_in(const BlockNumber *blocks, BlockNumber block) const
    {
        if (block == kInvalidBlock || state_.count == 0)
            return 0;
        uint32_t slot = static_cast<uint32_t>(std::lower_bound(blocks, blocks + state_.count, block) - blocks);
        return slot < state_.count ? slot : 0;
    }

    // Allocates storage for `chunks` chunks (none for 0); false when the allocation failed.
    bool allocate_storage(uint32_t chunks, Fresh *fresh)
    {
        StorageLayout l = StorageLayout::of(kind(), chunks);
        fresh->chunks = chunks;
        fresh->bytes = l.bytes;
        if (chunks == 0)
            return true;
        fresh->ptr = policy_.allocate(l.bytes);
        if (fresh->ptr == Pointer{})
            return false;
        void *base;
        try {
            base = policy_.address(fresh->ptr);
        } catch (...) {
            deallocate_quietly(fresh->ptr, l.bytes);
            throw;
        }
        fresh->target = Target{static_cast<BlockNumber *>(base), tree_at(base, l)};
        return true;
    }

    // Makes a filled fresh allocation the relation's storage and frees the old one.
    void adopt_storage(const Fresh &fresh) noexcept
    {
        Pointer old = state_.storage;
        size_t old_bytes = layout().bytes;
        state_.storage = fresh.ptr;
        state_.chunks = fresh.chunks;
        if (old != Pointer{})
            deallocate_quietly(old, old_bytes);
    }

    // Sets the count and first slot once the pages are in place at `at` (the storage's
    // addresses, resolved before anything changed, so that nothing here can fail); heap
    // relations get their unused leaves cleared, their tree rebuilt and their cursor put back
    // at cursor_block.
    void finish_contents(Target at, uint32_t count, uint32_t first, BlockNumber cursor_block)
    {
        state_.count = count;
        state_.first = first;
        state_.cursor = 0;
        if (is_index() || state_.storage == Pointer{})
            return;
        at.tree.clear_from(count);
        state_.cursor = cursor_slot_in(at.blocks, cursor_block);
    }

    // trim_to() for index relations: keeps the `kept` lowest pages.
    Status trim_index(uint32_t kept, uint32_t new_chunks)
    {
        if (new_chunks == state_.chunks) {
            state_.count = kept;
            if (kept == 0)
                state_.first = 0;
            return Status::ok;
        }
        // The old list is resolved first: a failure after the allocation would leak it.
        const BlockNumber *old = kept > 0 ? block_array() + state_.first : nullptr;
        Fresh fresh;
        if (!allocate_storage(new_chunks, &fresh))
            return Status::out_of_memory;
        if (kept > 0)
            std::memcpy(fresh.target.blocks, old, size_t{kept} * sizeof(BlockNumber));
        adopt_storage(fresh);
        finish_contents(fresh.target, kept, 0, kInvalidBlock);
        return Status::ok;
    }

    // The chunks a full index list may grow to under max_chunks (its current chunks if none).
    uint32_t grown_chunks(uint64_t max_chunks) const
    {
        uint64_t limit = std::min<uint64_t>(max_chunks, kMaxPagesPerRelation / kIndexPagesPerChunk);
        uint64_t wanted = uint64_t{state_.chunks} + std::max<uint32_t>(1, state_.chunks / 2);
        uint64_t grown = std::min(wanted, limit);
        return static_cast<uint32_t>(std::max<uint64_t>(grown, state_.chunks));
    }

    // Moves the list into a larger allocation with block inserted at slot pos of the old one.
    AddResult grow_and_insert(uint32_t chunks, uint32_t pos, BlockNumber block)
    {
        // The old list is resolved first: a failure after the allocation would leak it.
        const BlockNumber *old = state_.count > 0 ? block_array() + state_.first : nullptr;
        Fresh fresh;
        if (!allocate_storage(chunks, &fresh))
            return AddResult::out_of_memory;
        uint32_t before = pos - state_.first;
        uint32_t after = state_.count - before;
        if (state_.count > 0) {
            std::memcpy(fresh.target.blocks, old, size_t{before} * sizeof(BlockNumber));
            std::memcpy(fresh.target.blocks + before + 1, old + before, size_t{after} * sizeof(BlockNumber));
        }
        fresh.target.blocks[before] = block;
        uint32_t count = state_.count + 1;
        adopt_storage(fresh);
        finish_contents(fresh.target, count, 0, kInvalidBlock);
        return AddResult::added;
    }

    // Inserts block at slot pos of a list with room, moving whichever side is shorter.
    void insert_at(uint32_t pos, BlockNumber block)
    {
        BlockNumber *blocks = block_array();
        uint32_t first = state_.first;
        uint32_t end = first + state_.count;
        bool room_left = first > 0;
        bool room_right = end < slots();
        bool go_left = room_left && (!room_right || pos - first <= end - pos);
        if (go_left) {
            std::memmove(blocks + first - 1, blocks + first, size_t{pos - first} * sizeof(BlockNumber));
            blocks[pos - 1] = block;
            state_.first = first - 1;
        } else {
            std::memmove(blocks + pos + 1, blocks + pos, size_t{end - pos} * sizeof(BlockNumber));
            blocks[pos] = block;
        }
        ++state_.count;
    }

    // Frees memory, swallowing failures: used where the relation is already consistent and an
    // error could only leak the block.
    void deallocate_quietly(Pointer p, size_t bytes) noexcept
    {
        try {
            policy_.deallocate(p, bytes);
        } catch (...) {
        }
    }

    Policy &policy_;
    State &state_;
};

}  // namespace simple_cache::core::fsm
