// The saved cache's file, PostgreSQL-free: "simple_cache.dat" in the data directory, the common
// header (core/saved_file.hpp) with magic "SCACHE\r\n" and format version 2, then one record per
// entry, integers little-endian:
//
//     0   4  database oid                   | the database's identity
//     4   4  xmin of its pg_database row    | (pg/database_scope.hpp)
//     8   4  simple_cache's extension oid   |
//    12   1  value kind (0 text, 1 bytea)
//    13   8  expiry, ms since the PostgreSQL epoch (0: never expires)
//    21   4  key size (at most 1 MB)
//    25   4  value size (at most 1 GB)
//    29      key bytes, then value bytes
//
// Saving and loading it in a server is the cache's part (cache/persistence_file.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "simple_cache/core/saved_file.hpp"

namespace simple_cache::core {

inline constexpr const char *kSnapshotFileName = "simple_cache.dat";
inline constexpr char kSnapshotMagic[kSavedFileMagicBytes] = {'S', 'C', 'A', 'C', 'H', 'E', '\r', '\n'};
inline constexpr uint32_t kSnapshotFormatVersion = 2;
inline constexpr size_t kSnapshotHeaderBytes = kSavedFileHeaderBytes;
inline constexpr size_t kSnapshotRecordHeaderBytes = 29;

// The limits a record must respect (the cache's own; cache/persistence_file.cpp checks that
// they agree).
inline constexpr size_t kSavedKeyMaxBytes = 1024 * 1024;
inline constexpr size_t kSavedValueMaxBytes = 0x3fffffff - 4;  // PostgreSQL's MaxAllocSize - VARHDRSZ
inline constexpr int64_t kSavedExpiryMaxMs = (int64_t{1} << 47) - 1;

// The cache's format.
extern const FileFormat kSnapshotFormat;

// A value's kind as saved.
enum class SavedValueKind : uint8_t { text = 0, bytea = 1 };

// The database (incarnation) an entry was put in, as saved.
struct SavedDatabase {
    uint32_t database = 0;
    uint32_t row_xmin = 0;
    uint32_t extension = 0;
};

// One entry as saved; the bytes belong to the caller (writing) or the parser (reading).
struct SavedEntry {
    SavedDatabase database;
    SavedValueKind kind;
    int64_t expires_ms;  // absolute expiry, ms since the PostgreSQL epoch; 0: never expires
    const char *key;     // the user's key, without the database
    size_t key_size;
    const char *value;
    size_t value_size;
};

// Receives each record as it is parsed; returns false to stop parsing there.
using RecordVisitor = std::function<bool(const SavedEntry &)>;

// Reads one cache record, checking it, and hands it to visit (when not null); bytes holds the
// key and value meanwhile.
RecordStep read_cache_record(PayloadReader &in, uint64_t index, std::string &problem, const RecordVisitor *visit,
                             std::string &bytes);

// Writes the fixed part of entry's record (the key and value bytes follow it) to `to`.
void encode_cache_record_head(const SavedEntry &entry, char (&to)[kSnapshotRecordHeaderBytes]);

// Parses a saved cache of `size` bytes read from source. Trusts nothing in it: every length is
// checked against the bytes that remain before anything is read or allocated, so any byte
// sequence gives a result, never a crash. Without a visitor it only checks the file; with one
// it hands over each record as soon as it is read, before the payload checksum can be checked
// at the end, so check the file first when that matters.
ParseResult parse_snapshot(ByteSource &source, uint64_t size, const RecordVisitor *visit);

}  // namespace simple_cache::core
