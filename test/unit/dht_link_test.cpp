// Tests of the DHT's link encoding (include/simple_cache/core/dht_link.hpp): a link keeps its
// target intact, and its summary never rules out a tag that its chain holds, whatever sequence
// of insertions at the front, removals and replacements built the chain.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "simple_cache/core/dht_link.hpp"

namespace {

using Links = simple_cache::core::DhtLinks<uint64_t, 50>;

// A chain modelled as vectors: node i holds a target, a tag and the link to node i + 1.
struct Chain {
    std::vector<uint64_t> targets;
    std::vector<uint32_t> tags;
    std::vector<uint64_t> links;  // links[i] leads to node i; links[size] is null

    Chain() : links{0} {}

    // Puts a node in front, as a bucket insertion does.
    void push_front(uint64_t target, uint32_t tag)
    {
        links.insert(links.begin(), Links::make(target, tag, links.front()));
        targets.insert(targets.begin(), target);
        tags.insert(tags.begin(), tag);
    }
    // Removes node i: the link that led to it takes the node's own next link.
    void erase(size_t i)
    {
        links.erase(links.begin() + static_cast<long>(i));
        targets.erase(targets.begin() + static_cast<long>(i));
        tags.erase(tags.begin() + static_cast<long>(i));
    }
    // Replaces node i by another item with the same tag.
    void replace(size_t i, uint64_t target)
    {
        links[i] = Links::retarget(links[i], target);
        targets[i] = target;
    }
};

// Checks that every link leads to its node and covers every tag from its node on.
void expect_covered(const Chain &chain)
{
    ASSERT_EQ(chain.links.back(), 0u);
    for (size_t i = 0; i < chain.targets.size(); ++i) {
        EXPECT_EQ(Links::target(chain.links[i]), chain.targets[i]);
        for (size_t j = i; j < chain.targets.size(); ++j)
            EXPECT_TRUE(Links::may_contain(chain.links[i], chain.tags[j])) << i << " " << j;
    }
}

TEST(DhtLinks, NullLinkHoldsNothing)
{
    for (uint32_t tag = 0; tag <= Links::kTagMask; ++tag)
        ASSERT_FALSE(Links::may_contain(0, tag));
}

TEST(DhtLinks, OneItemChainMatchesOnlyItsExactTag)
{
    uint64_t target = (uint64_t{1} << 50) - 8;  // the highest address bits survive
    uint32_t tag = 0x1234 & Links::kTagMask;
    uint64_t link = Links::make(target, tag, 0);
    EXPECT_EQ(Links::target(link), target);
    for (uint32_t other = 0; other <= Links::kTagMask; ++other)
        ASSERT_EQ(Links::may_contain(link, other), other == tag) << other;
}

TEST(DhtLinks, TagComesFromTheLowHashBits)
{
    EXPECT_EQ(Links::tag_of(0xffffffffu), Links::kTagMask);
    EXPECT_EQ(Links::tag_of(0xffff0000u), 0xffff0000u & Links::kTagMask);
    EXPECT_EQ(Links::kTagBits, 13u);  // 14 spare bits: a filter flag and 13 tag bits
}

TEST(DhtLinks, LongerChainsFilterMostOtherTags)
{
    Chain chain;
    chain.push_front(8, 1);
    chain.push_front(16, 2);
    int matches = 0;
    for (uint32_t tag = 0; tag <= Links::kTagMask; ++tag)
        matches += Links::may_contain(chain.links[0], tag) ? 1 : 0;
    // Two filter bits out of 13: about 2/13 of all tags may match.
    EXPECT_LT(matches, static_cast<int>((Links::kTagMask + 1) * 3 / 13));
    expect_covered(chain);
}

TEST(DhtLinks, RandomChangesKeepEveryTagCovered)
{
    std::mt19937_64 rng(12345);
    for (int round = 0; round < 200; ++round) {
        Chain chain;
        uint64_t next_target = 8;
        for (int step = 0; step < 60; ++step) {
            unsigned what = static_cast<unsigned>(rng() % 4);
            if (chain.targets.empty() || what <= 1) {
                chain.push_front(next_target, static_cast<uint32_t>(rng()) & Links::kTagMask);
                next_target += 8;
            } else if (what == 2) {
                chain.erase(rng() % chain.targets.size());
            } else {
                chain.replace(rng() % chain.targets.size(), next_target);
                next_target += 8;
            }
            expect_covered(chain);
            if (HasFailure())
                return;
        }
    }
}

}  // namespace
