// The saved cache: its file format, saving and loading, and (declared at the end) the settings
// and background worker that save and load it automatically.
//
// The file is "simple_cache.dat" in the data directory. Version 2, integers little-endian:
//
//   header, 48 bytes
//     0   8  magic "SCACHE\r\n"
//     8   4  format version (2)
//    12   4  header size (48)
//    16   8  entry count
//    24   8  payload size in bytes (the file's size minus the header)
//    32   8  when it was saved, ms since the PostgreSQL epoch (2000-01-01 UTC)
//    40   4  CRC-32C of the payload
//    44   4  CRC-32C of header bytes 0..43
//   payload: one record per entry
//     0   4  database oid                   | the database's identity
//     4   4  xmin of its pg_database row    | (pg/database_scope.hpp)
//     8   4  simple_cache's extension oid   |
//    12   1  value kind (0 text, 1 bytea)
//    13   8  expiry, ms since the PostgreSQL epoch (0: never expires)
//    21   4  key size (at most 1 MB)
//    25   4  value size (at most 1 GB)
//    29      key bytes, then value bytes
//
// A save writes "simple_cache.dat.<pid>.tmp", fsyncs it, renames it over the file and fsyncs
// the data directory, so a reader sees the old file or the new one, never a mix; the old file
// is never opened, so one the server cannot read or write is replaced all the same. A load
// checks the whole file (magic, version, both checksums, every record's bounds) before it
// restores anything, and can resume where an earlier load of the same file stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "simple_cache/cache/snapshot.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::cache {

inline constexpr const char *kSnapshotFileName = "simple_cache.dat";
inline constexpr char kSnapshotMagic[8] = {'S', 'C', 'A', 'C', 'H', 'E', '\r', '\n'};
inline constexpr uint32_t kSnapshotFormatVersion = 2;
inline constexpr size_t kSnapshotHeaderBytes = 48;
inline constexpr size_t kSnapshotRecordHeaderBytes = 29;

// What a save wrote.
struct SaveResult {
    uint64_t entries = 0;  // records
    uint64_t bytes = 0;
};

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

// --- Saved files in general: the cache's file and the free-space map's share the header above
// (with their own magic, version and name), the temporary file, fsync and rename of a save,
// and the checks of a load. Their payloads are sequences of records of their own. ---

// What tells one kind of saved file from another.
struct FileFormat {
    const char *file_name;    // in the data directory
    const char *magic;        // 8 bytes
    uint32_t version;         // the format version this build writes and reads
    size_t min_record_bytes;  // the smallest record, to bound the header's record count
    const char *what;         // what the file is, for messages ("saved cache")
};

// The cache's format (the layout above).
extern const FileFormat kSnapshotFormat;

// Little-endian encoding, for records.
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

// Writes the temporary file of a save and, on commit, puts it in place of the format's file
// (fsync, rename, fsync of the directory; the old file is never opened). The temporary file is
// removed if the writer is destroyed without a commit. Creating it first removes temporary
// files that crashed saves left behind.
class FileWriter {
  public:
    explicit FileWriter(const FileFormat &format);
    FileWriter(const FileWriter &) = delete;
    FileWriter &operator=(const FileWriter &) = delete;
    ~FileWriter();

    // Appends bytes to the current record.
    void append(const char *data, size_t size);
    // Ends the current record.
    void end_record() { ++records_; }
    // Completes the file and renames it over the saved one. Throws on failure.
    SaveResult commit(int64_t saved_at_ms);

  private:
    void flush();
    void write_at(const char *data, size_t size, uint64_t offset);
    void close_quietly() noexcept;

    const FileFormat &format_;
    char temp_path_[MAXPGPATH] = {};
    int fd_ = -1;
    bool created_ = false;
    bool committed_ = false;
    std::string buffer_;
    uint32_t crc_ = 0;
    uint64_t records_ = 0;
    uint64_t payload_bytes_ = 0;  // written or buffered
};

// Parses a file of `format` of `size` bytes from source: checks the header, hands each record
// to read, and checks the payload's bounds and checksum. Trusts nothing in the file.
ParseResult parse_file(const FileFormat &format, ByteSource &source, uint64_t size, const RecordReader &read);

// How far loads of one file got, and what they did. A caller that keeps it between loads
// (the worker keeps its start-up load's in shared memory) makes a load of the same file resume
// after the records an earlier load handled: they are read again, not restored again.
struct LoadProgress {
    uint32_t header_crc = 0;  // the file being loaded: its header's checksum,
    int64_t saved_at_ms = 0;  // save time
    uint64_t records = 0;     // and record count
    uint64_t done = 0;        // records handled (restored or deliberately not), in file order
    uint64_t loaded = 0;      // entries (relations) restored
    uint64_t expired = 0;     // entries skipped because their expiry had passed
    uint64_t no_room = 0;     // entries that did not fit
    uint64_t skipped = 0;     // entries the start-up load left to clients' newer changes
    uint64_t orphaned = 0;    // entries of databases dropped (or re-created) since the save
    uint32_t attempts = 0;    // loads of this file begun; more than 1 means it was resumed
};

// Opens format's file (found = false when there is none) and parses it with check (which must
// change nothing), throwing RejectedFile when it is not valid. Then parses it again, handing
// read the records from progress.done on (progress is reset first if it describes another
// file) and advancing progress.done past each record read accepts; returns that pass's result
// (result.valid false: the file changed in between).
struct FileLoad {
    bool found = false;
    ParseResult result;
};
FileLoad load_file(const FileFormat &format, const RecordReader &check, const RecordReader &read,
                   LoadProgress &progress);

// The error for a file of `format` that fails the checks.
pg::SqlError invalid_file_error(const FileFormat &format, const std::string &problem, const char *hint);

// The error load_file raises for a file that fails the checks before anything is restored
// (SqlError XX001), as its own type: such a file holds nothing a save could lose.
class RejectedFile : public pg::SqlError {
  public:
    explicit RejectedFile(pg::SqlError error) : pg::SqlError(std::move(error)) {}
};

// --- The cache's file ---

// Receives each record as it is parsed; returns false to stop parsing there.
using RecordVisitor = std::function<bool(const SnapshotEntry &)>;


// Parses a saved cache of `size` bytes read from source. Trusts nothing in it: every length is
// checked against the bytes that remain before anything is read or allocated, so any byte
// sequence gives a result, never a crash. Without a visitor it only checks the file; with one
// it hands over each record as soon as it is read, before the payload checksum can be checked
// at the end, so check the file first when that matters.
ParseResult parse_snapshot(ByteSource &source, uint64_t size, const RecordVisitor *visit);

// Writes every live entry of every database to the file (through the temporary file and a
// rename). Throws on failure, leaving the previous file untouched.
SaveResult save_snapshot();

// What a load did: its progress (counts over every attempt, for a resumed load), and how it
// ended.
struct LoadResult : LoadProgress {
    bool found = false;    // there was a file
    bool stopped = false;  // stop_requested() ended the load early
};

// Checks the whole file, then restores its entries into the cache, merging: an entry replaces
// the one with the same key in the same database, other entries stay. Entries of a database
// that no longer exists as it was saved (dropped, or its oid reused) are left out. A missing
// file gives found = false. A file that fails the checks throws RejectedFile (SqlError XX001,
// data_corrupted) before anything is restored. stop_requested, if given, is polled between
// entries. With progress, a load of the file that progress describes resumes where it ended.
LoadResult load_snapshot(bool (*stop_requested)() = nullptr, bool replace_existing = true,
                         LoadProgress *progress = nullptr);

// --- Settings and background worker (persistence_worker.cpp) ---

// Defines simple_cache.save and simple_cache.save_interval and, while shared_preload_libraries
// is being processed, registers the worker that loads the file at start-up and saves it
// periodically and at shutdown. Called from _PG_init.
void persistence_init();

}  // namespace simple_cache::cache
