// Saved files in the data directory, the file side shared by the cache and the free-space map:
// a save writes "<name>.<pid>.tmp", fsyncs it, renames it over the file and fsyncs the data
// directory, so a reader sees the old file or the new one, never a mix; the old file is never
// opened, so one the server cannot read or write is replaced all the same. A load checks the
// whole file (core/saved_file.hpp: magic, version, both checksums, every record's bounds)
// before it restores anything, and can resume where an earlier load of the same file stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "simple_cache/core/crc32c.hpp"
#include "simple_cache/core/saved_file.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// What a save wrote.
struct SaveResult {
    uint64_t entries = 0;  // records
    uint64_t bytes = 0;
};

// Now, as a save time: ms since the PostgreSQL epoch.
int64_t saved_at_now_ms();

// Writes the temporary file of a save and, on commit, puts it in place of the format's file
// (fsync, rename, fsync of the directory; the old file is never opened). The temporary file is
// removed if the writer is destroyed without a commit. Creating it first removes temporary
// files that crashed saves left behind.
class FileWriter {
  public:
    explicit FileWriter(const core::FileFormat &format);
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

    const core::FileFormat &format_;
    char temp_path_[MAXPGPATH] = {};
    int fd_ = -1;
    bool created_ = false;
    bool committed_ = false;
    std::string buffer_;
    core::Crc32c crc_;
    uint64_t records_ = 0;
    uint64_t payload_bytes_ = 0;  // written or buffered
};

// How far loads of one file got, and what they did. A caller that keeps it between loads
// (the worker keeps its start-up load's in shared memory, pg/saved_state.hpp) makes a load of
// the same file resume after the records an earlier load handled: they are read again, not
// restored again.
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
    core::ParseResult result;
};
FileLoad load_file(const core::FileFormat &format, const core::RecordReader &check, const core::RecordReader &read,
                   LoadProgress &progress);

// The error for a file of `format` that fails the checks.
SqlError invalid_file_error(const core::FileFormat &format, const std::string &problem, const char *hint);

// The error load_file raises for a file that fails the checks before anything is restored
// (SqlError XX001), as its own type: such a file holds nothing a save could lose.
class RejectedFile : public SqlError {
  public:
    explicit RejectedFile(SqlError error) : SqlError(std::move(error)) {}
};

}  // namespace simple_cache::pg
