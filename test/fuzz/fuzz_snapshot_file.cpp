// libFuzzer target: the saved-cache file parser, core::parse_snapshot() from
// src/core/saved_cache_records.cpp and src/core/saved_file.cpp, the very files the extension
// links. They are PostgreSQL-free: the fuzzer builds without any server header or symbol. Its
// checksum oracle is a plain bitwise CRC-32C of its own, checked at start-up against the
// core's table-driven one and the standard check value.
//
// The first input byte picks how the rest is used:
//   0  raw: the bytes are the file;
//   1  raw with the checksums repaired: header and payload CRC recomputed (when the bytes are
//      long enough), so that mutations get past them into the record checks;
//   2  structured: the bytes describe records; a valid file is encoded from them with this
//      file's own encoder (written from the format description in persistence_file.hpp), then
//      possibly damaged: a byte changed, the file cut short or extended;
//   3  raw, read through a source that hands out a few bytes per read and whose real length
//      differs from the size the parser is told (a file that changed under the loader).
//
// Whatever the bytes, the parser must not crash, read out of bounds or allocate beyond the
// input (AddressSanitizer and UBSan watch), and these oracles must hold:
//   * checking alone (no visitor) and visiting agree on validity and on the problem found
//     (the loader checks the whole file first and restores in a second pass: if the passes
//     disagreed, a damaged file could be half restored);
//   * a valid file's records are exactly as many as its header announces, every key and
//     value is within the limits, and re-encoding the records gives back the input byte for
//     byte (so nothing was skipped, invented or misread);
//   * a structured, undamaged file is valid and gives back exactly the records it was made of;
//   * a visitor that stops early stops the parse there, with a valid result.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "simple_cache/core/crc32c.hpp"
#include "simple_cache/core/saved_cache_records.hpp"

namespace core = simple_cache::core;

namespace {

// Reports a failed oracle and aborts, so libFuzzer saves the input.
[[noreturn]] void fuzz_check_failed(int line, const char *what)
{
    std::string text = "fuzz check failed at line " + std::to_string(line) + ": " + what + "\n";
    std::fputs(text.c_str(), stderr);
    std::abort();
}

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fuzz_check_failed(__LINE__, #cond);                                              \
        }                                                                                    \
    } while (0)

struct Record {
    core::SavedDatabase database;
    uint8_t kind;
    int64_t expires_ms;
    std::string key;
    std::string value;
};

void put_u32(std::string &out, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out[at + i] = static_cast<char>(v >> (8 * i));
}
void put_u64(std::string &out, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        out[at + i] = static_cast<char>(v >> (8 * i));
}

// CRC-32C one bit at a time: the reference the core's table-driven CRC is checked against.
uint32_t crc_of(const char *data, size_t size)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; ++i) {
        crc ^= static_cast<unsigned char>(data[i]);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

// Whether two saved databases are the same.
bool same_database(const core::SavedDatabase &a, const core::SavedDatabase &b)
{
    return a.database == b.database && a.row_xmin == b.row_xmin && a.extension == b.extension;
}

// Recomputes the header's payload CRC (offset 40) and header CRC (offset 44).
void repair_checksums(std::string &file)
{
    if (file.size() < core::kSnapshotHeaderBytes)
        return;
    put_u32(file, 40, crc_of(file.data() + core::kSnapshotHeaderBytes, file.size() - core::kSnapshotHeaderBytes));
    put_u32(file, 44, crc_of(file.data(), 44));
}

// Encodes records as a version 2 file, following the layout in core/saved_cache_records.hpp.
std::string encode(const std::vector<Record> &records, int64_t saved_at_ms)
{
    std::string file(core::kSnapshotHeaderBytes, '\0');
    std::memcpy(file.data(), core::kSnapshotMagic, sizeof core::kSnapshotMagic);
    put_u32(file, 8, core::kSnapshotFormatVersion);
    put_u32(file, 12, core::kSnapshotHeaderBytes);
    put_u64(file, 16, records.size());
    put_u64(file, 32, static_cast<uint64_t>(saved_at_ms));
    for (const Record &r : records) {
        std::string head(core::kSnapshotRecordHeaderBytes, '\0');
        put_u32(head, 0, r.database.database);
        put_u32(head, 4, r.database.row_xmin);
        put_u32(head, 8, r.database.extension);
        head[12] = static_cast<char>(r.kind);
        put_u64(head, 13, static_cast<uint64_t>(r.expires_ms));
        put_u32(head, 21, static_cast<uint32_t>(r.key.size()));
        put_u32(head, 25, static_cast<uint32_t>(r.value.size()));
        file += head;
        file += r.key;
        file += r.value;
    }
    put_u64(file, 24, file.size() - core::kSnapshotHeaderBytes);
    repair_checksums(file);
    return file;
}

// A source that returns at most `chunk` bytes per read.
class ChunkedSource final : public core::ByteSource {
  public:
    ChunkedSource(const std::string &bytes, size_t chunk) : bytes_(bytes), chunk_(chunk == 0 ? 1 : chunk) {}
    size_t read(char *to, size_t n) override
    {
        size_t count = std::min({n, chunk_, bytes_.size() - at_});
        std::memcpy(to, bytes_.data() + at_, count);
        at_ += count;
        return count;
    }

  private:
    const std::string &bytes_;
    size_t chunk_;
    size_t at_ = 0;
};

// What one parse returned, with the records it visited.
struct Parsed {
    core::ParseResult result;
    std::vector<Record> records;
};

// Parses bytes (announced as `size` bytes) through a fresh source; visits unless check_only;
// a visitor stops after stop_after records (never when negative).
Parsed parse(const std::string &bytes, uint64_t size, size_t chunk, bool check_only, long stop_after)
{
    Parsed out;
    ChunkedSource source(bytes, chunk);
    if (check_only) {
        out.result = core::parse_snapshot(source, size, nullptr);
        return out;
    }
    core::RecordVisitor visit = [&](const core::SavedEntry &e) {
        FUZZ_CHECK(e.key_size <= core::kSavedKeyMaxBytes);
        FUZZ_CHECK(e.value_size <= core::kSavedValueMaxBytes);
        FUZZ_CHECK(e.kind == core::SavedValueKind::text || e.kind == core::SavedValueKind::bytea);
        FUZZ_CHECK(e.expires_ms >= 0 && e.expires_ms <= core::kSavedExpiryMaxMs);
        FUZZ_CHECK(e.key_size + e.value_size <= bytes.size());
        out.records.push_back(Record{e.database, static_cast<uint8_t>(e.kind), e.expires_ms,
                                     std::string(e.key, e.key_size), std::string(e.value, e.value_size)});
        return stop_after < 0 || static_cast<long>(out.records.size()) < stop_after;
    };
    out.result = core::parse_snapshot(source, size, &visit);
    return out;
}

bool same_records(const std::vector<Record> &a, const std::vector<Record> &b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!same_database(a[i].database, b[i].database) || a[i].kind != b[i].kind || a[i].expires_ms != b[i].expires_ms ||
            a[i].key != b[i].key || a[i].value != b[i].value)
            return false;
    return true;
}

// Parses the bytes both ways and checks the oracles that hold for any input.
void check_any(const std::string &bytes, uint64_t size, size_t chunk, long stop_after)
{
    Parsed checked = parse(bytes, size, chunk, true, -1);
    Parsed visited = parse(bytes, size, chunk, false, -1);
    FUZZ_CHECK(checked.result.valid == visited.result.valid);
    FUZZ_CHECK(checked.result.problem == visited.result.problem);
    FUZZ_CHECK(!visited.result.stopped);
    FUZZ_CHECK(visited.result.records == visited.records.size());
    FUZZ_CHECK(checked.result.records == visited.result.records);
    if (!visited.result.valid) {
        FUZZ_CHECK(!visited.result.problem.empty());
        return;
    }
    // A valid parse read every byte it was told about: the whole file, re-encoded the same.
    FUZZ_CHECK(visited.result.records == visited.result.entries);
    FUZZ_CHECK(size == bytes.size());
    std::string again = encode(visited.records, visited.result.saved_at_ms);
    FUZZ_CHECK(again == bytes);

    // A visitor that stops early: a valid, stopped result with exactly that many records.
    if (stop_after >= 1 && static_cast<uint64_t>(stop_after) < visited.records.size()) {
        Parsed stopped = parse(bytes, size, chunk, false, stop_after);
        FUZZ_CHECK(stopped.result.valid && stopped.result.stopped);
        FUZZ_CHECK(static_cast<long>(stopped.records.size()) == stop_after);
    }
}

// Mode 2: records from the input, encoded, maybe damaged.
void structured(FuzzedDataProvider &in)
{
    std::vector<Record> records;
    size_t count = in.ConsumeIntegralInRange<size_t>(0, 16);
    for (size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
        Record r;
        r.database.database = in.ConsumeIntegral<uint32_t>();
        r.database.row_xmin = in.ConsumeIntegral<uint32_t>();
        r.database.extension = in.ConsumeIntegral<uint32_t>();
        r.kind = in.ConsumeIntegralInRange<uint8_t>(0, 1);
        r.expires_ms = in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange<int64_t>(0, core::kSavedExpiryMaxMs);
        r.key = in.ConsumeRandomLengthString(64);
        r.value = in.ConsumeRandomLengthString(256);
        records.push_back(std::move(r));
    }
    int64_t saved_at = in.ConsumeIntegralInRange<int64_t>(0, core::kSavedExpiryMaxMs);
    std::string file = encode(records, saved_at);
    uint8_t damage = in.ConsumeIntegralInRange<uint8_t>(0, 4);
    size_t chunk = in.ConsumeIntegralInRange<size_t>(1, 4096);
    if (damage == 0) {
        Parsed p = parse(file, file.size(), chunk, false, -1);
        FUZZ_CHECK(p.result.valid && !p.result.stopped);
        FUZZ_CHECK(p.result.entries == records.size() && p.result.saved_at_ms == saved_at);
        FUZZ_CHECK(same_records(p.records, records));
        check_any(file, file.size(), chunk, in.ConsumeIntegralInRange<long>(0, 16));
        return;
    }
    size_t at = in.ConsumeIntegralInRange<size_t>(0, file.size() - 1);
    switch (damage) {
    case 1:  // one byte changed
        file[at] = static_cast<char>(file[at] ^ in.ConsumeIntegralInRange<uint8_t>(1, 255));
        break;
    case 2:  // cut short
        file.resize(at);
        break;
    case 3:  // bytes appended
        file += in.ConsumeRandomLengthString(64);
        break;
    case 4:  // one byte changed, checksums repaired: a damaged record that the CRCs accept
        file[at] = static_cast<char>(file[at] ^ in.ConsumeIntegralInRange<uint8_t>(1, 255));
        repair_checksums(file);
        break;
    }
    check_any(file, file.size(), chunk, -1);
}

}  // namespace

// Checks once that the reference CRC gives CRC-32C's check value and that the core's CRC
// agrees with it at every alignment and length class, in one piece and split.
extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    FUZZ_CHECK(crc_of("123456789", 9) == 0xE3069283u);
    std::string sample;
    for (int i = 0; i < 1000; ++i)
        sample += static_cast<char>(i * 37 + (i >> 3));
    for (size_t len : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{63}, sample.size()}) {
        FUZZ_CHECK(core::crc32c_of(sample.data(), len) == crc_of(sample.data(), len));
        core::Crc32c split;
        split.update(sample.data(), len / 3);
        split.update(sample.data() + len / 3, len - len / 3);
        FUZZ_CHECK(split.value() == crc_of(sample.data(), len));
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 4;
    std::string bytes(reinterpret_cast<const char *>(data) + 1, size - 1);
    switch (mode) {
    case 0:
        check_any(bytes, bytes.size(), core::kSnapshotHeaderBytes * 1024, -1);
        break;
    case 1:
        repair_checksums(bytes);
        check_any(bytes, bytes.size(), 7, 1);
        break;
    case 2: {
        FuzzedDataProvider in(data + 1, size - 1);
        structured(in);
        break;
    }
    case 3: {
        // The last two bytes: the chunk size, and how far the announced size is off.
        if (bytes.size() < 2)
            return 0;
        size_t chunk = static_cast<unsigned char>(bytes[bytes.size() - 1]) % 9 + 1;
        int delta = static_cast<signed char>(bytes[bytes.size() - 2]);
        bytes.resize(bytes.size() - 2);
        uint64_t announced = delta < 0 && static_cast<size_t>(-delta) > bytes.size() ? 0 : bytes.size() + delta;
        Parsed checked = parse(bytes, announced, chunk, true, -1);
        Parsed visited = parse(bytes, announced, chunk, false, -1);
        FUZZ_CHECK(checked.result.valid == visited.result.valid);
        FUZZ_CHECK(checked.result.problem == visited.result.problem);
        if (delta > 0)
            FUZZ_CHECK(!visited.result.valid);  // a file shorter than its size is never accepted
        break;
    }
    }
    return 0;
}
