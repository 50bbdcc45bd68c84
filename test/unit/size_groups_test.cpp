// Unit tests of the small-allocation size groups (include/simple_cache/core/size_groups.hpp):
// the boundaries of the first groups and of those above 1 kB (PostgreSQL 15's DSA size
// classes), that groups never go down as sizes grow, that every size up to 8 kB lands in one
// of the 36 groups and every group is used, and whole pages.
#include <gtest/gtest.h>

#include <set>

#include "simple_cache/core/size_groups.hpp"

namespace {

using namespace simple_cache::core;

TEST(SizeGroups, FirstGroupsAreEightBytesWide)
{
    EXPECT_EQ(small_size_group(1), 0u);
    EXPECT_EQ(small_size_group(8), 0u);
    EXPECT_EQ(small_size_group(9), 1u);
    EXPECT_EQ(small_size_group(64), 7u);
}

TEST(SizeGroups, FourGroupsPerDoublingAbove64)
{
    EXPECT_EQ(small_size_group(65), 8u);
    EXPECT_EQ(small_size_group(80), 8u);
    EXPECT_EQ(small_size_group(81), 9u);
    EXPECT_EQ(small_size_group(128), 11u);
    EXPECT_EQ(small_size_group(129), 12u);
    EXPECT_EQ(small_size_group(1024), 23u);
    EXPECT_EQ(small_size_group(1025), 24u);
    EXPECT_EQ(small_size_group(4096), 31u);
    EXPECT_EQ(small_size_group(4097), 32u);
    EXPECT_EQ(small_size_group(kLargestSmallObject), kSmallSizeGroups - 1);
}

// Above 1 kB a group ends at the largest multiple of 8 that fits as many objects in a 64 kB
// superblock as the nominal size does: 1536 fits 42 times, and so does 1560.
TEST(SizeGroups, GroupsAbove1kBEndWhereTheSameNumberOfObjectsStillFits)
{
    const size_t expected[12] = {1280, 1560, 1816, 2048, 2616, 3120, 3640, 4096, 5456, 6552, 7280, 8192};
    for (unsigned i = 0; i < 12; ++i) {
        EXPECT_EQ(kLargeGroupMaxima.bytes[i], expected[i]) << i;
        EXPECT_EQ(small_size_group(expected[i]), 24 + i) << expected[i];
        if (i < 11)
            EXPECT_EQ(small_size_group(expected[i] + 1), 25 + i) << expected[i] + 1;
        EXPECT_GT(kSuperblockBytes / expected[i], kSuperblockBytes / (expected[i] + 8)) << "8 more bytes fit fewer";
    }
    EXPECT_EQ(small_size_group(1550), 25u);
    EXPECT_EQ(small_size_group(1600), 26u);
}

TEST(SizeGroups, MonotonicAndCoveringAllGroups)
{
    std::set<unsigned> seen;
    unsigned previous = 0;
    for (size_t bytes = 1; bytes <= kLargestSmallObject; ++bytes) {
        unsigned group = small_size_group(bytes);
        ASSERT_LT(group, kSmallSizeGroups) << bytes;
        ASSERT_GE(group, previous) << bytes;
        ASSERT_LE(group, previous + 1) << bytes;
        previous = group;
        seen.insert(group);
    }
    EXPECT_EQ(seen.size(), kSmallSizeGroups);
}

TEST(SizeGroups, LargeRequestsTakeWholePages)
{
    EXPECT_EQ(whole_pages(kLargestSmallObject + 1), 3 * kAreaPageBytes);
    EXPECT_EQ(whole_pages(900000), 220 * kAreaPageBytes);
    EXPECT_EQ(whole_pages(4 * kAreaPageBytes), 4 * kAreaPageBytes);
}

}  // namespace
