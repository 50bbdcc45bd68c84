// Unit tests for the saved files' format in the core (core/crc32c.hpp, core/saved_file.hpp,
// core/saved_cache_records.hpp): the checksum, the header, the cache's records, and the checks
// that reject damaged files. No PostgreSQL: the format is pure.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "simple_cache/core/crc32c.hpp"
#include "simple_cache/core/saved_cache_records.hpp"
#include "simple_cache/core/saved_file.hpp"

namespace core = simple_cache::core;

namespace {

// One entry to encode, owning its bytes.
struct Entry {
    core::SavedDatabase database;
    core::SavedValueKind kind;
    int64_t expires_ms;
    std::string key;
    std::string value;
};

// Encodes entries as a saved cache file, the way the server's writer does.
std::string encode_file(const std::vector<Entry> &entries, int64_t saved_at_ms)
{
    std::string payload;
    for (const Entry &e : entries) {
        core::SavedEntry saved{e.database, e.kind, e.expires_ms, e.key.data(), e.key.size(), e.value.data(),
                               e.value.size()};
        char head[core::kSnapshotRecordHeaderBytes];
        core::encode_cache_record_head(saved, head);
        payload.append(head, sizeof head);
        payload += e.key;
        payload += e.value;
    }
    char header[core::kSavedFileHeaderBytes];
    core::encode_header(core::kSnapshotFormat,
                        core::HeaderFields{entries.size(), payload.size(), saved_at_ms,
                                           core::crc32c_of(payload.data(), payload.size())},
                        header);
    return std::string(header, sizeof header) + payload;
}

// Parses a file held in memory, collecting the entries it visits.
core::ParseResult parse(const std::string &file, std::vector<Entry> *out)
{
    core::MemorySource source(file.data(), file.size());
    core::RecordVisitor visit = [&](const core::SavedEntry &e) {
        out->push_back(Entry{e.database, e.kind, e.expires_ms, std::string(e.key, e.key_size),
                             std::string(e.value, e.value_size)});
        return true;
    };
    return core::parse_snapshot(source, file.size(), out != nullptr ? &visit : nullptr);
}

const std::vector<Entry> kEntries = {
    {{5, 700, 16384}, core::SavedValueKind::text, 0, "alpha", "one"},
    {{5, 700, 16384}, core::SavedValueKind::bytea, 123456, "beta", std::string("\0\1\2", 3)},
    {{9, 12, 16390}, core::SavedValueKind::text, 1, "", ""},
};

}  // namespace

// The CRC is CRC-32C (PostgreSQL's pg_crc32c): its standard check value, and the same result
// whatever pieces the bytes are added in.
TEST(SavedFileTest, Crc32cIsCastagnoli)
{
    EXPECT_EQ(core::crc32c_of("123456789", 9), 0xE3069283u);
    EXPECT_EQ(core::crc32c_of("", 0), 0u);
    std::string bytes(1000, '\0');
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<char>(i * 31 + 7);
    for (size_t split = 0; split <= 17; ++split) {
        core::Crc32c crc;
        crc.update(bytes.data(), split);
        crc.update(bytes.data() + split, bytes.size() - split);
        EXPECT_EQ(crc.value(), core::crc32c_of(bytes.data(), bytes.size()));
    }
}

// A file written from entries parses back to exactly those entries, with the header's fields.
TEST(SavedFileTest, RoundTrip)
{
    std::string file = encode_file(kEntries, 4242);
    std::vector<Entry> got;
    core::ParseResult r = parse(file, &got);
    ASSERT_TRUE(r.valid) << r.problem;
    EXPECT_EQ(r.entries, kEntries.size());
    EXPECT_EQ(r.records, kEntries.size());
    EXPECT_EQ(r.saved_at_ms, 4242);
    ASSERT_EQ(got.size(), kEntries.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].database.database, kEntries[i].database.database);
        EXPECT_EQ(got[i].database.row_xmin, kEntries[i].database.row_xmin);
        EXPECT_EQ(got[i].database.extension, kEntries[i].database.extension);
        EXPECT_EQ(got[i].kind, kEntries[i].kind);
        EXPECT_EQ(got[i].expires_ms, kEntries[i].expires_ms);
        EXPECT_EQ(got[i].key, kEntries[i].key);
        EXPECT_EQ(got[i].value, kEntries[i].value);
    }
}

// An empty cache saves as a bare header, which is valid.
TEST(SavedFileTest, EmptyFileIsValid)
{
    std::string file = encode_file({}, 0);
    EXPECT_EQ(file.size(), core::kSavedFileHeaderBytes);
    core::ParseResult r = parse(file, nullptr);
    EXPECT_TRUE(r.valid) << r.problem;
    EXPECT_EQ(r.entries, 0u);
}

// Each kind of damage is rejected, with a problem that names it.
TEST(SavedFileTest, DamageIsRejected)
{
    std::string good = encode_file(kEntries, 1);
    auto problem_of = [](const std::string &file) {
        core::ParseResult r = parse(file, nullptr);
        EXPECT_FALSE(r.valid);
        return r.problem;
    };
    std::string bad_magic = good;
    bad_magic[0] = 'X';
    EXPECT_NE(problem_of(bad_magic).find("magic"), std::string::npos);

    std::string bad_payload = good;
    bad_payload[core::kSavedFileHeaderBytes + 40] ^= 1;  // a byte of the first record's key
    EXPECT_NE(problem_of(bad_payload).find("payload checksum"), std::string::npos);

    std::string bad_header = good;
    bad_header[20] ^= 1;  // the entry count
    EXPECT_NE(problem_of(bad_header).find("header checksum"), std::string::npos);

    EXPECT_NE(problem_of(good.substr(0, good.size() - 1)).find("truncated"), std::string::npos);
    EXPECT_NE(problem_of(good + "x").find("after the payload"), std::string::npos);
    EXPECT_NE(problem_of(good.substr(0, 10)).find("fewer than a header"), std::string::npos);
}

// A record whose fields break the limits is rejected even when the checksums agree.
TEST(SavedFileTest, RecordLimitsAreChecked)
{
    std::vector<Entry> entries = {{{1, 2, 3}, core::SavedValueKind::text, 0, "k", "v"}};
    std::string file = encode_file(entries, 0);
    file[core::kSavedFileHeaderBytes + 12] = 7;  // the value kind
    std::string payload = file.substr(core::kSavedFileHeaderBytes);
    char header[core::kSavedFileHeaderBytes];
    core::encode_header(core::kSnapshotFormat,
                        core::HeaderFields{1, payload.size(), 0, core::crc32c_of(payload.data(), payload.size())},
                        header);
    std::string repaired = std::string(header, sizeof header) + payload;
    core::ParseResult r = parse(repaired, nullptr);
    EXPECT_FALSE(r.valid);
    EXPECT_EQ(r.problem, "The value kind of record 1 is 7.");
}

// A visitor that stops early ends the parse there, with a valid, stopped result.
TEST(SavedFileTest, VisitorStops)
{
    std::string file = encode_file(kEntries, 0);
    core::MemorySource source(file.data(), file.size());
    int seen = 0;
    core::RecordVisitor visit = [&](const core::SavedEntry &) { return ++seen < 2; };
    core::ParseResult r = core::parse_snapshot(source, file.size(), &visit);
    EXPECT_TRUE(r.valid);
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(seen, 2);
    EXPECT_EQ(r.records, 2u);
}
