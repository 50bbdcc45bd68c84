// The saved files' common format, PostgreSQL-free: the header every saved file starts with, the
// checks a reader makes, and the little-endian helpers records are written with. The cache's
// file (core/saved_cache_records.hpp) and the free-space map's (fsm/persistence.hpp) share it,
// each with its own magic, version, name and records. Reading and writing files in a server is
// the pg layer's part (pg/saved_file.hpp).
//
// Header, 48 bytes, integers little-endian:
//     0   8  magic (the format's own)
//     8   4  format version
//    12   4  header size (48)
//    16   8  record count
//    24   8  payload size in bytes (the file's size minus the header)
//    32   8  when it was saved, ms since the PostgreSQL epoch (2000-01-01 UTC)
//    40   4  CRC-32C of the payload
//    44   4  CRC-32C of header bytes 0..43
// then the payload: the records, one after another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace simple_cache::core {

inline constexpr size_t kSavedFileHeaderBytes = 48;
inline constexpr size_t kSavedFileMagicBytes = 8;

// The latest save time a header may carry (the same bound as a cache entry's expiry).
inline constexpr int64_t kMaxSavedAtMs = (int64_t{1} << 47) - 1;

// What tells one kind of saved file from another.
struct FileFormat {
    const char *file_name;    // in the data directory
    const char *magic;        // kSavedFileMagicBytes bytes
    uint32_t version;         // the format version this build writes and reads
    size_t min_record_bytes;  // the smallest record, to bound the header's record count
    const char *what;         // what the file is, for messages ("saved cache")
};

// Little-endian encoding, for headers and records.
inline void put_u32(char *to, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        to[i] = static_cast<char>(v >> (8 * i));
}
inline void put_u64(char *to, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        to[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t get_u32(const char *from)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= static_cast<uint32_t>(static_cast<unsigned char>(from[i])) << (8 * i);
    return v;
}
inline uint64_t get_u64(const char *from)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= static_cast<uint64_t>(static_cast<unsigned char>(from[i])) << (8 * i);
    return v;
}

// Where the parser reads from: a file (pg/saved_file.hpp), or memory (tests and fuzzing).
class ByteSource {
  public:
    virtual ~ByteSource() = default;
    // Reads up to n bytes into to; returns how many, 0 only at the end. May throw on I/O errors.
    virtual size_t read(char *to, size_t n) = 0;
};

// A ByteSource over bytes in memory.
class MemorySource final : public ByteSource {
  public:
    MemorySource(const char *data, size_t size) : data_(data), size_(size) {}
    size_t read(char *to, size_t n) override
    {
        size_t count = n < size_ - at_ ? n : size_ - at_;
        if (count > 0)
            std::memcpy(to, data_ + at_, count);
        at_ += count;
        return count;
    }

  private:
    const char *data_;
    size_t size_;
    size_t at_ = 0;
};

// What parsing a file found.
struct ParseResult {
    bool valid = false;       // every check passed (or the visitor stopped before a defect)
    bool stopped = false;     // the visitor asked to stop
    std::string problem;      // why the file was rejected, for the log
    uint64_t entries = 0;     // the header's entry (record) count
    int64_t saved_at_ms = 0;  // the header's save time
    uint32_t header_crc = 0;  // the header's checksum, which tells one save from another
    uint64_t records = 0;     // records read
};

// The payload of a file being parsed, as the record reader sees it.
class PayloadReader {
  public:
    virtual ~PayloadReader() = default;
    // Copies the next n bytes to `to` (skips them when to is null). False, reading nothing,
    // when fewer than n bytes of the payload remain or the file ends first.
    virtual bool take(char *to, uint64_t n) = 0;
    // Payload bytes not read yet.
    virtual uint64_t remaining() const = 0;
};

// What a record reader tells the parser.
enum class RecordStep {
    next,     // the record was fine: go on
    stop,     // stop parsing here (the file counts as valid)
    invalid,  // the record is damaged; problem says how
};

// Reads (and checks the bounds of) record `index` from the payload, setting problem when it
// returns invalid.
using RecordReader = std::function<RecordStep(PayloadReader &in, uint64_t index, std::string &problem)>;

// "record N" for problems found in record `index` (counted from 0).
std::string record_label(uint64_t index);

// What a header says about the payload that follows it.
struct HeaderFields {
    uint64_t records = 0;
    uint64_t payload_bytes = 0;
    int64_t saved_at_ms = 0;
    uint32_t payload_crc = 0;
};

// Writes the header of a file of `format` (header CRC included) to `to`.
void encode_header(const FileFormat &format, const HeaderFields &fields, char (&to)[kSavedFileHeaderBytes]);

// Parses a file of `format` of `size` bytes from source: checks the header, hands each record
// to read, and checks the payload's bounds and checksum. Trusts nothing in the file: any byte
// sequence gives a result, never a crash.
ParseResult parse_file(const FileFormat &format, ByteSource &source, uint64_t size, const RecordReader &read);

}  // namespace simple_cache::core
