// The payload of the WAL record of cache invalidations (core/invalidation_record.hpp): what the
// writer builds, the reader gives back; every malformed payload is refused before anything is
// visited.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "simple_cache/core/invalidation_record.hpp"

namespace {

using simple_cache::core::InvalidationHeader;
using simple_cache::core::InvalidationKind;
using simple_cache::core::InvalidationRecordWriter;
using simple_cache::core::read_invalidation_record;

using Items = std::vector<std::pair<InvalidationKind, std::string>>;

// Reads payload; returns whether it was accepted and fills header and items.
bool read_all(const std::string &payload, InvalidationHeader *header, Items *items)
{
    return read_invalidation_record(payload.data(), payload.size(), header,
                                    [&](InvalidationKind kind, const char *data, size_t size) {
                                        items->emplace_back(kind, std::string(data, size));
                                    });
}

// A record of two keys (one empty, one with a zero byte) and a prefix.
std::string sample()
{
    InvalidationRecordWriter writer(0, 5);
    writer.add(InvalidationKind::key, "user:1", 6);
    writer.add(InvalidationKind::key, "", 0);
    writer.add(InvalidationKind::prefix, std::string("a\0b", 3).data(), 3);
    writer.set_xid(731);
    return std::string(writer.payload());
}

TEST(InvalidationRecord, RoundTrip)
{
    InvalidationHeader header;
    Items items;
    ASSERT_TRUE(read_all(sample(), &header, &items));
    EXPECT_EQ(header.xid, 731u);
    EXPECT_EQ(header.database, 5u);
    EXPECT_EQ(header.items, 3u);
    Items expected{{InvalidationKind::key, "user:1"},
                   {InvalidationKind::key, ""},
                   {InvalidationKind::prefix, std::string("a\0b", 3)}};
    EXPECT_EQ(items, expected);
}

TEST(InvalidationRecord, SizeIsHeaderAndFiveBytesPerItemAndTheBytes)
{
    EXPECT_EQ(sample().size(), sizeof(InvalidationHeader) + 3 * 5 + 6 + 0 + 3);
}

TEST(InvalidationRecord, EmptyRecord)
{
    InvalidationRecordWriter writer(9, 1);
    InvalidationHeader header;
    Items items;
    ASSERT_TRUE(read_all(std::string(writer.payload()), &header, &items));
    EXPECT_EQ(header.items, 0u);
    EXPECT_TRUE(items.empty());
}

TEST(InvalidationRecord, EveryTruncationIsRefusedWithoutVisiting)
{
    std::string full = sample();
    for (size_t size = 0; size < full.size(); ++size) {
        InvalidationHeader header;
        Items items;
        EXPECT_FALSE(read_all(full.substr(0, size), &header, &items)) << size;
        EXPECT_TRUE(items.empty()) << size;
    }
}

TEST(InvalidationRecord, TrailingBytesBadKindAndBadFormatAreRefused)
{
    InvalidationHeader header;
    Items items;
    EXPECT_FALSE(read_all(sample() + "x", &header, &items));
    std::string bad_kind = sample();
    bad_kind[sizeof(InvalidationHeader)] = 7;
    EXPECT_FALSE(read_all(bad_kind, &header, &items));
    std::string bad_format = sample();
    bad_format[0] ^= 1;
    EXPECT_FALSE(read_all(bad_format, &header, &items));
    std::string huge_length = sample();
    huge_length[sizeof(InvalidationHeader) + 4] = '\x7f';
    EXPECT_FALSE(read_all(huge_length, &header, &items));
    EXPECT_TRUE(items.empty());
}

// A record written with another format word (another release's layout) is refused as a whole:
// the standby then drops every database's entries rather than trust any of its bytes.
TEST(InvalidationRecord, AnotherFormatIsRefused)
{
    InvalidationRecordWriter writer(7, 5);
    writer.add(InvalidationKind::key, "k", 1);
    writer.set_format(simple_cache::core::kInvalidationFormat + 1);
    InvalidationHeader header;
    Items items;
    EXPECT_FALSE(read_all(std::string(writer.payload()), &header, &items));
    EXPECT_TRUE(items.empty());
    writer.set_format(simple_cache::core::kInvalidationFormat);
    EXPECT_TRUE(read_all(std::string(writer.payload()), &header, &items));
    EXPECT_EQ(items.size(), 1u);
}

}  // namespace
