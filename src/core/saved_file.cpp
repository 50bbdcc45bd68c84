// The saved files' common format: header encoding and the checking parser (see
// core/saved_file.hpp).
#include "simple_cache/core/saved_file.hpp"

#include <string>
#include <vector>

#include "simple_cache/core/crc32c.hpp"

namespace simple_cache::core {

namespace {

// Bytes the parser reads from its source at a time.
constexpr size_t kReadBufferBytes = 256 * 1024;

// Offsets of the header's fields.
enum HeaderOffset : size_t {
    kMagicAt = 0,
    kVersionAt = 8,
    kHeaderSizeAt = 12,
    kEntriesAt = 16,
    kPayloadBytesAt = 24,
    kSavedAtAt = 32,
    kPayloadCrcAt = 40,
    kHeaderCrcAt = 44,
};

// Reads a ByteSource in large chunks (no larger than the expected size), adding what it hands
// out to a running CRC when asked.
class Cursor {
  public:
    Cursor(ByteSource &source, uint64_t size)
        : source_(source), buffer_(size == 0 ? 1 : size < kReadBufferBytes ? size : kReadBufferBytes)
    {
    }

    // Copies the next n bytes to `to` (or skips them when to is null), adding them to crc when
    // crc is not null. False when the source ends first.
    bool take(char *to, size_t n, Crc32c *crc)
    {
        while (n > 0) {
            if (at_ == filled_) {
                filled_ = source_.read(buffer_.data(), buffer_.size());
                at_ = 0;
                if (filled_ == 0)
                    return false;
            }
            size_t count = n < filled_ - at_ ? n : filled_ - at_;
            if (crc != nullptr)
                crc->update(buffer_.data() + at_, count);
            if (to != nullptr) {
                std::memcpy(to, buffer_.data() + at_, count);
                to += count;
            }
            at_ += count;
            n -= count;
        }
        return true;
    }

  private:
    ByteSource &source_;
    std::vector<char> buffer_;
    size_t at_ = 0;
    size_t filled_ = 0;
};

// The payload, read through a Cursor, with its running CRC and the bytes left.
class CursorPayload final : public PayloadReader {
  public:
    CursorPayload(Cursor &cursor, uint64_t payload) : cursor_(cursor), remaining_(payload) {}
    bool take(char *to, uint64_t n) override
    {
        if (n > remaining_ || !cursor_.take(to, n, &crc_))
            return false;
        remaining_ -= n;
        return true;
    }
    uint64_t remaining() const override { return remaining_; }
    uint32_t crc() const { return crc_.value(); }

  private:
    Cursor &cursor_;
    uint64_t remaining_;
    Crc32c crc_;
};

// Sets result's problem and returns it, for parse_file's early exits.
ParseResult &reject(ParseResult &result, std::string problem)
{
    result.valid = false;
    result.problem = std::move(problem);
    return result;
}

}  // namespace

std::string record_label(uint64_t index)
{
    return "record " + std::to_string(index + 1);
}

void encode_header(const FileFormat &format, const HeaderFields &fields, char (&to)[kSavedFileHeaderBytes])
{
    std::memset(to, 0, sizeof to);
    std::memcpy(to + kMagicAt, format.magic, kSavedFileMagicBytes);
    put_u32(to + kVersionAt, format.version);
    put_u32(to + kHeaderSizeAt, kSavedFileHeaderBytes);
    put_u64(to + kEntriesAt, fields.records);
    put_u64(to + kPayloadBytesAt, fields.payload_bytes);
    put_u64(to + kSavedAtAt, static_cast<uint64_t>(fields.saved_at_ms));
    put_u32(to + kPayloadCrcAt, fields.payload_crc);
    put_u32(to + kHeaderCrcAt, crc32c_of(to, kHeaderCrcAt));
}

ParseResult parse_file(const FileFormat &format, ByteSource &source, uint64_t size, const RecordReader &read)
{
    ParseResult result;
    Cursor cursor(source, size);
    if (size < kSavedFileHeaderBytes)
        return reject(result, "The file has " + std::to_string(size) + " bytes, fewer than a header's " +
                                  std::to_string(kSavedFileHeaderBytes) + ".");
    char header[kSavedFileHeaderBytes];
    if (!cursor.take(header, sizeof header, nullptr))
        return reject(result, "The file ended inside its header.");
    if (std::memcmp(header + kMagicAt, format.magic, kSavedFileMagicBytes) != 0)
        return reject(result, std::string("The file does not start with the simple_cache magic number; it is not a ") +
                                  format.what + ".");
    uint32_t version = get_u32(header + kVersionAt);
    if (version != format.version)
        return reject(result, "The file has format version " + std::to_string(version) + "; this build reads version " +
                                  std::to_string(format.version) + ".");
    if (get_u32(header + kHeaderCrcAt) != crc32c_of(header, kHeaderCrcAt))
        return reject(result, "The header checksum does not match.");
    if (get_u32(header + kHeaderSizeAt) != kSavedFileHeaderBytes)
        return reject(result, "The header size is " + std::to_string(get_u32(header + kHeaderSizeAt)) + ", not " +
                                  std::to_string(kSavedFileHeaderBytes) + ".");
    result.entries = get_u64(header + kEntriesAt);
    result.header_crc = get_u32(header + kHeaderCrcAt);
    result.saved_at_ms = static_cast<int64_t>(get_u64(header + kSavedAtAt));
    if (result.saved_at_ms < 0 || result.saved_at_ms > kMaxSavedAtMs)
        return reject(result, "The save time in the header is out of range.");
    uint64_t payload = get_u64(header + kPayloadBytesAt);
    uint64_t present = size - kSavedFileHeaderBytes;
    if (payload > present)
        return reject(result, "The file is truncated: its header announces " + std::to_string(payload) +
                                  " payload bytes, the file has " + std::to_string(present) + ".");
    if (payload < present)
        return reject(result, "The file has " + std::to_string(present - payload) +
                                  " bytes after the payload its header announces.");
    if (result.entries > payload / format.min_record_bytes)
        return reject(result, "The header announces " + std::to_string(result.entries) + " entries, more than " +
                                  std::to_string(payload) + " payload bytes can hold.");

    CursorPayload in(cursor, payload);
    for (uint64_t i = 0; i < result.entries; ++i) {
        std::string problem;
        RecordStep step = read(in, i, problem);
        if (step == RecordStep::invalid)
            return reject(result, problem);
        ++result.records;
        if (step == RecordStep::stop) {
            result.stopped = true;
            result.valid = true;
            return result;
        }
    }
    if (in.remaining() != 0)
        return reject(result, std::to_string(in.remaining()) + " payload bytes follow the last of the " +
                                  std::to_string(result.entries) + " entries.");
    if (in.crc() != get_u32(header + kPayloadCrcAt))
        return reject(result, "The payload checksum does not match.");
    result.valid = true;
    return result;
}

}  // namespace simple_cache::core
