// A wholesale report of a relation's free pages (what VACUUM hands over), put in block order
// before any lock is taken.
//
// Input may come in any order and may name a page twice: entries are sorted by block number,
// and for a page named more than once the LAST entry wins (it is the most recent news about the
// page). Entries for kInvalidBlock are skipped, since that value means "no page". The result
// lives in this process's memory: preparing can throw std::bad_alloc, but only before anything
// shared has been touched. The number of pages left (size()) is the relation's request in the
// budget (targets.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "simple_cache/core/fsm/types.hpp"

namespace simple_cache::core::fsm {

class PreparedPages {
  public:
    PreparedPages() = default;

    // Prepares n entries: blocks[i] with avail[i] free bytes. avail may be null (index
    // relations report page numbers only); amounts are then 0.
    static PreparedPages from_arrays(const BlockNumber *blocks, const Avail *avail, size_t n)
    {
        return prepare(n, [&](size_t i) { return PageEntry{blocks[i], avail != nullptr ? avail[i] : Avail{0}}; });
    }

    // Prepares a list of page entries (the same rules).
    static PreparedPages from_entries(const std::vector<PageEntry> &entries)
    {
        return prepare(entries.size(), [&](size_t i) { return entries[i]; });
    }

    // Distinct pages, in ascending block order.
    size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    const PageEntry &operator[](size_t i) const { return entries_[i]; }
    const std::vector<PageEntry> &entries() const { return entries_; }

  private:
    // Collects the n entries entry_at(i), skipping invalid blocks, and sorts them if needed.
    template <class EntryAt>
    static PreparedPages prepare(size_t n, EntryAt &&entry_at)
    {
        PreparedPages pages;
        pages.entries_.reserve(n);
        bool in_order = true;  // strictly ascending so far: no sort and no duplicates to handle
        for (size_t i = 0; i < n; ++i) {
            PageEntry e = entry_at(i);
            if (e.block == kInvalidBlock)
                continue;
            if (!pages.entries_.empty() && pages.entries_.back().block >= e.block)
                in_order = false;
            pages.entries_.push_back(e);
        }
        if (!in_order)
            pages.sort_keeping_last();
        return pages;
    }

    // Sorts by block; of entries naming the same block, keeps only the last one given.
    void sort_keeping_last()
    {
        std::stable_sort(entries_.begin(), entries_.end(),
                         [](const PageEntry &a, const PageEntry &b) { return a.block < b.block; });
        size_t kept = 0;
        for (size_t i = 0; i < entries_.size(); ++i) {
            bool last_of_block = i + 1 == entries_.size() || entries_[i + 1].block != entries_[i].block;
            if (last_of_block)
                entries_[kept++] = entries_[i];
        }
        entries_.resize(kept);
    }

    std::vector<PageEntry> entries_;
};

}  // namespace simple_cache::core::fsm
