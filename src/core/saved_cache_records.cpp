// The saved cache's records: reading, checking and encoding them (see
// core/saved_cache_records.hpp).
#include "simple_cache/core/saved_cache_records.hpp"

#include <string>

namespace simple_cache::core {

namespace {

// Offsets of a record header's fields.
enum RecordOffset : size_t {
    kDatabaseAt = 0,
    kRowXminAt = 4,
    kExtensionAt = 8,
    kKindAt = 12,
    kExpiresAt = 13,
    kKeySizeAt = 21,
    kValueSizeAt = 25,
};

}  // namespace

const FileFormat kSnapshotFormat = {kSnapshotFileName, kSnapshotMagic, kSnapshotFormatVersion,
                                    kSnapshotRecordHeaderBytes, "saved cache"};

RecordStep read_cache_record(PayloadReader &in, uint64_t i, std::string &problem, const RecordVisitor *visit,
                             std::string &bytes)
{
    char head[kSnapshotRecordHeaderBytes];
    if (!in.take(head, sizeof head)) {
        problem = "The payload ends inside " + record_label(i) + ".";
        return RecordStep::invalid;
    }
    SavedDatabase database{get_u32(head + kDatabaseAt), get_u32(head + kRowXminAt), get_u32(head + kExtensionAt)};
    auto kind = static_cast<unsigned char>(head[kKindAt]);
    auto expires_ms = static_cast<int64_t>(get_u64(head + kExpiresAt));
    uint32_t key_size = get_u32(head + kKeySizeAt);
    uint32_t value_size = get_u32(head + kValueSizeAt);
    if (kind != static_cast<unsigned char>(SavedValueKind::text) &&
        kind != static_cast<unsigned char>(SavedValueKind::bytea))
        problem = "The value kind of " + record_label(i) + " is " + std::to_string(kind) + ".";
    else if (expires_ms < 0 || expires_ms > kSavedExpiryMaxMs)
        problem = "The expiry of " + record_label(i) + " is out of range.";
    else if (key_size > kSavedKeyMaxBytes)
        problem = "The key of " + record_label(i) + " has " + std::to_string(key_size) + " bytes, over the limit.";
    else if (value_size > kSavedValueMaxBytes)
        problem = "The value of " + record_label(i) + " has " + std::to_string(value_size) + " bytes, over the limit.";
    if (!problem.empty())
        return RecordStep::invalid;
    uint64_t body = uint64_t{key_size} + value_size;
    if (visit != nullptr)
        bytes.resize(body);
    if (!in.take(visit != nullptr ? bytes.data() : nullptr, body)) {
        problem = record_label(i) + " runs past the end of the payload.";
        return RecordStep::invalid;
    }
    if (visit == nullptr)
        return RecordStep::next;
    SavedEntry entry{database, static_cast<SavedValueKind>(kind), expires_ms, bytes.data(), key_size,
                     bytes.data() + key_size, value_size};
    return (*visit)(entry) ? RecordStep::next : RecordStep::stop;
}

void encode_cache_record_head(const SavedEntry &entry, char (&to)[kSnapshotRecordHeaderBytes])
{
    put_u32(to + kDatabaseAt, entry.database.database);
    put_u32(to + kRowXminAt, entry.database.row_xmin);
    put_u32(to + kExtensionAt, entry.database.extension);
    to[kKindAt] = static_cast<char>(entry.kind);
    put_u64(to + kExpiresAt, static_cast<uint64_t>(entry.expires_ms));
    put_u32(to + kKeySizeAt, static_cast<uint32_t>(entry.key_size));
    put_u32(to + kValueSizeAt, static_cast<uint32_t>(entry.value_size));
}

ParseResult parse_snapshot(ByteSource &source, uint64_t size, const RecordVisitor *visit)
{
    std::string bytes;  // the current record's key and value, when visiting
    return parse_file(kSnapshotFormat, source, size, [&](PayloadReader &in, uint64_t i, std::string &problem) {
        return read_cache_record(in, i, problem, visit, bytes);
    });
}

}  // namespace simple_cache::core
