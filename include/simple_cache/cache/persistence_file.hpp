// The saved cache: its file format, saving and loading, and (declared at the end) the settings
// and background worker that save and load it automatically.
//
// The file is "simple_cache.dat" in the data directory. Version 1, integers little-endian:
//
//   header, 48 bytes
//     0   8  magic "SCACHE\r\n"
//     8   4  format version (1)
//    12   4  header size (48)
//    16   8  entry count
//    24   8  payload size in bytes (the file's size minus the header)
//    32   8  when it was saved, ms since the PostgreSQL epoch (2000-01-01 UTC)
//    40   4  CRC-32C of the payload
//    44   4  CRC-32C of header bytes 0..43
//   payload: one record per entry
//     0   4  database oid
//     4   1  value kind (0 text, 1 bytea)
//     5   8  expiry, ms since the PostgreSQL epoch (0: never expires)
//    13   4  key size (at most 1 MB)
//    17   4  value size (at most 1 GB)
//    21      key bytes, then value bytes
//
// A save writes "simple_cache.dat.<pid>.tmp", fsyncs it and renames it over the file with
// durable_rename(), so a reader sees the old file or the new one, never a mix. A load checks
// the whole file (magic, version, both checksums, every record's bounds) before it restores
// anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "simple_cache/cache/snapshot.hpp"

namespace simple_cache::cache {

inline constexpr const char *kSnapshotFileName = "simple_cache.dat";
inline constexpr char kSnapshotMagic[8] = {'S', 'C', 'A', 'C', 'H', 'E', '\r', '\n'};
inline constexpr uint32_t kSnapshotFormatVersion = 1;
inline constexpr size_t kSnapshotHeaderBytes = 48;
inline constexpr size_t kSnapshotRecordHeaderBytes = 21;

// Where the parser reads from: the file, or memory (tests and fuzzing).
class ByteSource {
  public:
    virtual ~ByteSource() = default;
    // Reads up to n bytes into to; returns how many, 0 only at the end. Throws on I/O errors.
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

// Receives each record as it is parsed; returns false to stop parsing there.
using RecordVisitor = std::function<bool(const SnapshotEntry &)>;

// What parse_snapshot found.
struct ParseResult {
    bool valid = false;       // every check passed (or the visitor stopped before a defect)
    bool stopped = false;     // the visitor asked to stop
    std::string problem;      // why the file was rejected, for the log
    uint64_t entries = 0;     // the header's entry count
    int64_t saved_at_ms = 0;  // the header's save time
    uint64_t records = 0;     // records read
};

// Parses a saved cache of `size` bytes read from source. Trusts nothing in it: every length is
// checked against the bytes that remain before anything is read or allocated, so any byte
// sequence gives a result, never a crash. Without a visitor it only checks the file; with one
// it hands over each record as soon as it is read, before the payload checksum can be checked
// at the end, so check the file first when that matters.
ParseResult parse_snapshot(ByteSource &source, uint64_t size, const RecordVisitor *visit);

// What a save wrote.
struct SaveResult {
    uint64_t entries = 0;
    uint64_t bytes = 0;
};

// Writes every live entry of every database to the file (through the temporary file and
// durable_rename). Throws on failure, leaving the previous file untouched.
SaveResult save_snapshot();

// What a load did.
struct LoadResult {
    bool found = false;       // there was a file
    bool stopped = false;     // stop_requested() ended the load early
    uint64_t loaded = 0;      // entries restored
    uint64_t expired = 0;     // entries skipped because their expiry had passed
    uint64_t no_room = 0;     // entries that did not fit in the cache
    int64_t saved_at_ms = 0;  // when the file was saved
};

// Checks the whole file, then restores its entries into the cache, merging: an entry replaces
// the one with the same key in the same database, other entries stay. A missing file gives
// found = false. A file that fails the checks throws SqlError XX001 (data_corrupted) before
// anything is restored. stop_requested, if given, is polled between entries.
LoadResult load_snapshot(bool (*stop_requested)() = nullptr);

// --- Settings and background worker (persistence_worker.cpp) ---

// Defines simple_cache.save and simple_cache.save_interval and, while shared_preload_libraries
// is being processed, registers the worker that loads the file at start-up and saves it
// periodically and at shutdown. Called from _PG_init.
void persistence_init();

}  // namespace simple_cache::cache
