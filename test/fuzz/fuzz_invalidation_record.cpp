// libFuzzer target: the payload of the WAL record that carries a transaction's cache
// invalidations to the standbys, include/simple_cache/core/invalidation_record.hpp, the very
// decoder the redo path (cache/replicated_invalidations.cpp, replay_record and rm_desc) runs on
// whatever the WAL holds. It is PostgreSQL-free: this builds without any server header.
//
// The first input byte picks how the rest is used:
//   0  raw: the bytes are the payload;
//   1  raw with the format word repaired (when there are four bytes), so that mutations get
//      past it into the header and the items;
//   2  structured: the bytes describe a record (xid, database, items of either kind, with any
//      bytes, zero bytes and empty ones included); it is encoded with the project's writer,
//      then possibly damaged: a byte changed, the payload cut short or extended, the item count
//      changed.
//
// Whatever the bytes, the decoder must not crash, read out of bounds or allocate (AddressSanitizer
// and UBSan watch; this file's visitor copies at most the input's bytes), and these oracles hold:
//   * acceptance is exactly what an independent decoder of the documented layout (below,
//     written from the comment in invalidation_record.hpp) says, and on acceptance both give the
//     same header and items;
//   * a refused payload visits nothing; an accepted one visits exactly header.items items, each
//     within the input, of kind key or prefix;
//   * an accepted payload, encoded again with the writer from what was visited, is the input
//     byte for byte (nothing skipped, invented or misread);
//   * a structured, undamaged record is accepted and gives back exactly what it was made of.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "simple_cache/core/invalidation_record.hpp"
#include "fuzz_check.hpp"

namespace core = simple_cache::core;

namespace {

// One item as visited: its kind byte and its bytes.
using Item = std::pair<uint8_t, std::string>;

// A decoded record.
struct Decoded {
    bool accepted = false;
    core::InvalidationHeader header;
    std::vector<Item> items;
};

// Reads a little-endian uint32 (the layout's integers are the machine's; the fuzzer runs on
// little-endian machines only, as does every server the project supports for WAL).
uint32_t u32_at(const std::string &bytes, size_t at)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
}

// Appends a little-endian uint32.
void append_u32(std::string &out, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<char>(v >> (8 * i)));
}

// The reference decoder: the layout as documented, in the plainest form.
Decoded reference_decode(const std::string &bytes)
{
    Decoded out;
    if (bytes.size() < 16 || u32_at(bytes, 0) != core::kInvalidationFormat)
        return out;
    out.header.format = u32_at(bytes, 0);
    out.header.xid = u32_at(bytes, 4);
    out.header.database = u32_at(bytes, 8);
    out.header.items = u32_at(bytes, 12);
    size_t at = 16;
    for (uint64_t i = 0; i < out.header.items; ++i) {
        if (bytes.size() < at + 5)
            return Decoded{};
        uint8_t kind = static_cast<uint8_t>(bytes[at]);
        if (kind != 1 && kind != 2)
            return Decoded{};
        uint64_t length = u32_at(bytes, at + 1);
        at += 5;
        if (bytes.size() - at < length)
            return Decoded{};
        out.items.emplace_back(kind, bytes.substr(at, length));
        at += length;
    }
    if (at != bytes.size())
        return Decoded{};
    out.accepted = true;
    return out;
}

// The project's decoder, with every visited pointer checked to lie within the input. The
// bytes are copied into a buffer of exactly their size, so that AddressSanitizer sees a read
// past the end.
Decoded project_decode(const std::string &bytes)
{
    std::vector<char> exact(bytes.begin(), bytes.end());
    const char *data = exact.empty() ? nullptr : exact.data();
    Decoded out;
    out.accepted = core::read_invalidation_record(
        data, exact.size(), &out.header, [&](core::InvalidationKind kind, const char *item, size_t size) {
            FUZZ_CHECK(kind == core::InvalidationKind::key || kind == core::InvalidationKind::prefix);
            FUZZ_CHECK(size <= exact.size());
            FUZZ_CHECK(size == 0 || (item >= data && item + size <= data + exact.size()));
            out.items.emplace_back(static_cast<uint8_t>(kind), std::string(item, size));
        });
    if (!out.accepted)
        FUZZ_CHECK(out.items.empty());
    return out;
}

// Encodes a record with the project's writer.
std::string encode(uint32_t xid, uint32_t database, const std::vector<Item> &items)
{
    core::InvalidationRecordWriter writer(0, database);
    for (const Item &item : items)
        writer.add(static_cast<core::InvalidationKind>(item.first), item.second.data(), item.second.size());
    writer.set_xid(xid);
    FUZZ_CHECK(writer.items() == items.size());
    return std::string(writer.payload());
}

// Decodes bytes both ways and checks every oracle.
void check(const std::string &bytes)
{
    Decoded project = project_decode(bytes);
    Decoded reference = reference_decode(bytes);
    FUZZ_CHECK(project.accepted == reference.accepted);
    if (!project.accepted)
        return;
    FUZZ_CHECK(project.header.format == core::kInvalidationFormat);
    FUZZ_CHECK(project.header.xid == reference.header.xid);
    FUZZ_CHECK(project.header.database == reference.header.database);
    FUZZ_CHECK(project.header.items == reference.header.items);
    FUZZ_CHECK(project.items.size() == project.header.items);
    FUZZ_CHECK(project.items == reference.items);
    FUZZ_CHECK(encode(project.header.xid, project.header.database, project.items) == bytes);
}

// Mode 2: a record described by the input, encoded, round-tripped, then perhaps damaged.
void structured(FuzzedDataProvider &in)
{
    uint32_t xid = in.ConsumeIntegral<uint32_t>();
    uint32_t database = in.ConsumeIntegral<uint32_t>();
    std::vector<Item> items;
    size_t count = in.ConsumeIntegralInRange<size_t>(0, 64);
    for (size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
        uint8_t kind = in.ConsumeBool() ? 1 : 2;
        items.emplace_back(kind, in.ConsumeRandomLengthString(256));
    }
    std::string payload = encode(xid, database, items);
    Decoded back = project_decode(payload);
    FUZZ_CHECK(back.accepted);
    FUZZ_CHECK(back.header.xid == xid);
    FUZZ_CHECK(back.header.database == database);
    FUZZ_CHECK(back.header.items == items.size());
    FUZZ_CHECK(back.items == items);
    check(payload);

    switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:  // undamaged
        return;
    case 1: {  // a byte changed
        size_t at = in.ConsumeIntegralInRange<size_t>(0, payload.size() - 1);
        payload[at] = static_cast<char>(payload[at] ^ in.ConsumeIntegralInRange<uint8_t>(1, 255));
        break;
    }
    case 2:  // cut short
        payload.resize(in.ConsumeIntegralInRange<size_t>(0, payload.size()));
        break;
    case 3:  // extended
        payload += in.ConsumeRandomLengthString(64);
        break;
    case 4: {  // the item count changed
        std::string count_bytes;
        append_u32(count_bytes, in.ConsumeIntegral<uint32_t>());
        payload.replace(12, 4, count_bytes);
        break;
    }
    }
    check(payload);
}

}  // namespace

// libFuzzer's entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 3;
    std::string rest(reinterpret_cast<const char *>(data + 1), size - 1);
    if (mode == 0) {
        check(rest);
    } else if (mode == 1) {
        if (rest.size() >= 4) {
            std::string format;
            append_u32(format, core::kInvalidationFormat);
            rest.replace(0, 4, format);
        }
        check(rest);
    } else {
        FuzzedDataProvider in(data + 1, size - 1);
        structured(in);
    }
    return 0;
}
