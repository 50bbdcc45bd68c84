// The links of the DHT's chains: a policy Pointer in the low bits and, in the high bits the
// policy leaves unused, a summary of the hash tags of every item on the chain the link starts.
//
// A lookup reads the summary before it touches an item: when the summary rules its key out, the
// rest of the chain is skipped. A chain of one item carries that item's exact tag, so a miss on
// the common one-item bucket touches no item (a false match once in 2^tag-bits); a longer chain
// carries a small filter with one bit per item. A summary may claim more tags than its chain
// holds (removing an item leaves earlier links' summaries as they were), never fewer.
//
// Invariant: for every link L, tags(chain starting at L's target) is a subset of what L's
// summary may contain. Every change to a chain keeps it:
//  - putting an item in front of chain R: the new link's summary is prepend(tag, R), which
//    covers the item's tag and everything R covers (an exact tag turns into its filter bit);
//  - removing the item a link L points at: L takes the item's own next link, which covers the
//    rest of the chain; links before L cover a superset of what their chain now holds;
//  - replacing an item by one with the same key: the link keeps its summary, the new item takes
//    the old one's next link.
// Chains change only under the partition's exclusive lock and are read under its shared lock,
// so no reader sees a half-made change.
#pragma once

#include <cstdint>

namespace simple_cache::core {

// Link encoding for pointers of a policy that uses only the low kAddressBits bits.
template <class Pointer, unsigned kAddressBits>
struct DhtLinks {
    static_assert(sizeof(Pointer) == 8, "links are 64-bit pointers");
    static_assert(kAddressBits <= 56, "a summary needs at least 8 spare bits");

    static constexpr unsigned kSummaryBits = 64 - kAddressBits > 16 ? 16 : 64 - kAddressBits;
    static constexpr unsigned kTagBits = kSummaryBits - 1;  // the top summary bit flags a filter
    static constexpr uint64_t kTagMask = (uint64_t{1} << kTagBits) - 1;
    static constexpr uint64_t kFilterFlag = uint64_t{1} << kTagBits;
    static constexpr uint64_t kAddressMask = (uint64_t{1} << kAddressBits) - 1;

    // The tag of a key with this hash: its lowest bits (bucket numbers come from the top bits).
    static uint32_t tag_of(uint32_t hash) { return static_cast<uint32_t>(hash & kTagMask); }

    // The pointer a link leads to.
    static Pointer target(Pointer link) { return link & kAddressMask; }

    // A link to target whose chain (target and what follows it) is `rest` with target in front.
    static Pointer make(Pointer target, uint32_t target_tag, Pointer rest)
    {
        return target | (prepend(target_tag, rest) << kAddressBits);
    }

    // The same link pointing at another item with the same tag (an item replaced in place).
    static Pointer retarget(Pointer link, Pointer target) { return (link & ~kAddressMask) | target; }

    // Whether the chain that link starts may hold an item with this tag (false for null).
    static bool may_contain(Pointer link, uint32_t tag)
    {
        uint64_t summary = link >> kAddressBits;
        if ((summary & kFilterFlag) == 0)
            return link != Pointer{} && summary == tag;
        return (summary & filter_bit(tag)) != 0;
    }

  private:
    // The filter bit a tag sets.
    static uint64_t filter_bit(uint64_t tag) { return uint64_t{1} << (tag % kTagBits); }

    // The summary of an item with `tag` followed by the chain `rest` starts.
    static uint64_t prepend(uint32_t tag, Pointer rest)
    {
        if (rest == Pointer{})
            return tag;  // a chain of one: its exact tag
        uint64_t summary = rest >> kAddressBits;
        uint64_t bits = (summary & kFilterFlag) != 0 ? summary & kTagMask : filter_bit(summary);
        return kFilterFlag | bits | filter_bit(tag);
    }
};

}  // namespace simple_cache::core
