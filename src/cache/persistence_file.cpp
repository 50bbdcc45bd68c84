// The saved cache's file: format, parsing, saving and loading (see persistence_file.hpp).
#include "simple_cache/cache/persistence_file.hpp"

#include <cerrno>
#include <climits>
#include <csignal>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

extern "C" {
#include "port/pg_crc32c.h"
#include "storage/fd.h"
}

namespace simple_cache::cache {

namespace {

// Bytes buffered by the parser's reads and by the writer before a write call.
constexpr size_t kIoBufferBytes = 256 * 1024;

// Records restored between checks for query cancel.
constexpr uint64_t kRecordsPerInterruptCheck = 1024;

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


// CRC-32C of a byte range, starting fresh.
pg_crc32c crc_of(const char *data, size_t size)
{
    pg_crc32c crc;
    INIT_CRC32C(crc);
    COMP_CRC32C(crc, data, size);
    FIN_CRC32C(crc);
    return crc;
}

// Raises the ERROR for a failed file operation; errno says why. Plain PostgreSQL code.
void raise_file_error(int saved_errno, const char *action, const char *path)
{
    errno = saved_errno;
    ereport(ERROR, (errcode_for_file_access(), errmsg("could not %s file \"%s\": %m", action, path)));
}

// Throws the error for a failed file operation as a PgError; call right after the failing
// call, while errno still says why.
[[noreturn]] void throw_file_error(const char *action, const char *path)
{
    int saved_errno = errno;
    pg::guard([=] { raise_file_error(saved_errno, action, path); });
    throw pg::SqlError(ERRCODE_INTERNAL_ERROR, "simple_cache: file error not raised");
}

// Throws the error for a failed rename as a PgError; call right after the failing call.
[[noreturn]] void throw_rename_error(const char *from, const char *to)
{
    int saved_errno = errno;
    pg::guard([=] {
        errno = saved_errno;
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not rename file \"%s\" to \"%s\": %m", from, to)));
    });
    throw pg::SqlError(ERRCODE_INTERNAL_ERROR, "simple_cache: file error not raised");
}

// Reads a ByteSource in large chunks (no larger than the expected size), keeping a running
// CRC of what it hands out.
class Cursor {
  public:
    Cursor(ByteSource &source, uint64_t size)
        : source_(source), buffer_(size == 0 ? 1 : size < kIoBufferBytes ? size : kIoBufferBytes)
    {
    }

    // Copies the next n bytes to `to` (or skips them when to is null), adding them to crc when
    // crc is not null. False when the source ends first.
    bool take(char *to, size_t n, pg_crc32c *crc)
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
                COMP_CRC32C(*crc, buffer_.data() + at_, count);
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

// Sets result's problem and returns it, for parse_snapshot's early exits.
ParseResult &reject(ParseResult &result, std::string problem)
{
    result.valid = false;
    result.problem = std::move(problem);
    return result;
}

// A file opened with OpenTransientFile, closed when this goes out of scope.
class TransientFile {
  public:
    explicit TransientFile(int fd) : fd_(fd) {}
    TransientFile(const TransientFile &) = delete;
    TransientFile &operator=(const TransientFile &) = delete;
    ~TransientFile()
    {
        int fd = fd_;
        try {
            pg::guard([=] { CloseTransientFile(fd); });
        } catch (...) {
        }
    }
    int fd() const { return fd_; }

  private:
    int fd_;
};

// A ByteSource reading a file from its start; checks for query cancel before each read.
class FileSource final : public ByteSource {
  public:
    FileSource(int fd, const char *name) : fd_(fd), name_(name) {}
    size_t read(char *to, size_t n) override
    {
        pg::check_for_interrupts();
        for (;;) {
            ssize_t got = pg_pread(fd_, to, n, static_cast<off_t>(offset_));
            if (got >= 0) {
                offset_ += static_cast<uint64_t>(got);
                return static_cast<size_t>(got);
            }
            if (errno != EINTR)
                throw_file_error("read", name_);
        }
    }

  private:
    int fd_;
    const char *name_;
    uint64_t offset_ = 0;
};

// Whether a directory entry is the temporary file of a save by a process that no longer
// exists (one that crashed in the middle of a save).
bool is_stale_temp_file(const char *name, const char *file_name)
{
    size_t base = strlen(file_name);
    if (strncmp(name, file_name, base) != 0 || name[base] != '.')
        return false;
    const char *digits = name + base + 1;
    char *end = nullptr;
    errno = 0;
    long pid = strtol(digits, &end, 10);
    if (end == digits || errno != 0 || strcmp(end, ".tmp") != 0 || pid <= 0 || pid > INT_MAX)
        return false;
    if (pid == MyProcPid)
        return false;
    return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Removes the temporary files of saves of file_name that crashed. Plain PostgreSQL code, run
// under guard().
void remove_stale_temp_files(const char *file_name)
{
    DIR *dir = AllocateDir(".");
    struct dirent *de;
    while ((de = ReadDir(dir, ".")) != nullptr) {
        if (!is_stale_temp_file(de->d_name, file_name))
            continue;
        if (unlink(de->d_name) != 0 && errno != ENOENT)
            ereport(LOG, (errcode_for_file_access(), errmsg("could not remove file \"%s\": %m", de->d_name)));
    }
    FreeDir(dir);
}

// Makes a rename in the data directory durable by fsyncing the directory. Like PostgreSQL's
// own fsync of a directory, tolerates systems that cannot fsync one (EBADF, EINVAL).
void fsync_data_directory()
{
    const char *dir = ".";
    int saved_errno = 0;
    int fd = pg::guard([&] {
        int opened = OpenTransientFile(dir, O_RDONLY | PG_BINARY);
        saved_errno = errno;
        return opened;
    });
    if (fd < 0) {
        errno = saved_errno;
        throw_file_error("open", dir);
    }
    TransientFile directory(fd);
    int synced = pg::guard([&] {
        int result = pg_fsync(fd);
        saved_errno = errno;
        return result;
    });
    if (synced != 0 && saved_errno != EBADF && saved_errno != EINVAL) {
        errno = saved_errno;
        throw_file_error("fsync", dir);
    }
}

// The payload, read through a Cursor, with its running CRC and the bytes left.
class CursorPayload final : public PayloadReader {
  public:
    CursorPayload(Cursor &cursor, uint64_t payload) : cursor_(cursor), remaining_(payload) { INIT_CRC32C(crc_); }
    bool take(char *to, uint64_t n) override
    {
        if (n > remaining_ || !cursor_.take(to, n, &crc_))
            return false;
        remaining_ -= n;
        return true;
    }
    uint64_t remaining() const override { return remaining_; }
    pg_crc32c crc()
    {
        pg_crc32c done = crc_;
        FIN_CRC32C(done);
        return done;
    }

  private:
    Cursor &cursor_;
    uint64_t remaining_;
    pg_crc32c crc_;
};

// Starts progress on the file just checked: keeps it (another attempt of the same load) if it
// describes that file, else resets it.
void resume_or_restart(LoadProgress &progress, const ParseResult &checked)
{
    bool same_file = progress.attempts > 0 && progress.header_crc == checked.header_crc &&
                     progress.saved_at_ms == checked.saved_at_ms && progress.records == checked.entries;
    if (!same_file) {
        progress = LoadProgress{};
        progress.header_crc = checked.header_crc;
        progress.saved_at_ms = checked.saved_at_ms;
        progress.records = checked.entries;
    }
    ++progress.attempts;
}

// The cache's record layout: offsets of a record header's fields.
enum RecordOffset : size_t {
    kDatabaseAt = 0,
    kRowXminAt = 4,
    kExtensionAt = 8,
    kKindAt = 12,
    kExpiresAt = 13,
    kKeySizeAt = 21,
    kValueSizeAt = 25,
};

// Reads one cache record, checking it, and hands it to visit (when not null).
RecordStep read_cache_record(PayloadReader &in, uint64_t i, std::string &problem, const RecordVisitor *visit,
                             std::string &bytes)
{
    char head[kSnapshotRecordHeaderBytes];
    if (!in.take(head, sizeof head)) {
        problem = "The payload ends inside " + record_label(i) + ".";
        return RecordStep::invalid;
    }
    pg::DatabaseIdentity database{get_u32(head + kDatabaseAt), get_u32(head + kRowXminAt),
                                  get_u32(head + kExtensionAt)};
    auto kind = static_cast<unsigned char>(head[kKindAt]);
    auto expires_ms = static_cast<int64_t>(get_u64(head + kExpiresAt));
    uint32_t key_size = get_u32(head + kKeySizeAt);
    uint32_t value_size = get_u32(head + kValueSizeAt);
    if (kind != static_cast<unsigned char>(ValueKind::text) && kind != static_cast<unsigned char>(ValueKind::bytea))
        problem = "The value kind of " + record_label(i) + " is " + std::to_string(kind) + ".";
    else if (expires_ms < 0 || expires_ms > kMaxExpiresMs)
        problem = "The expiry of " + record_label(i) + " is out of range.";
    else if (key_size > kMaxKeyBytes)
        problem = "The key of " + record_label(i) + " has " + std::to_string(key_size) + " bytes, over the limit.";
    else if (value_size > kMaxValueBytes)
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
    SnapshotEntry entry{database, static_cast<ValueKind>(kind), expires_ms, bytes.data(), key_size,
                        bytes.data() + key_size, value_size};
    return (*visit)(entry) ? RecordStep::next : RecordStep::stop;
}

// Appends one cache entry's record.
void add_entry(FileWriter &writer, const SnapshotEntry &entry)
{
    char head[kSnapshotRecordHeaderBytes];
    put_u32(head + kDatabaseAt, entry.database.database);
    put_u32(head + kRowXminAt, entry.database.row_xmin);
    put_u32(head + kExtensionAt, entry.database.extension);
    head[kKindAt] = static_cast<char>(entry.kind);
    put_u64(head + kExpiresAt, static_cast<uint64_t>(entry.expires_ms));
    put_u32(head + kKeySizeAt, static_cast<uint32_t>(entry.key_size));
    put_u32(head + kValueSizeAt, static_cast<uint32_t>(entry.value_size));
    writer.append(head, sizeof head);
    writer.append(entry.key, entry.key_size);
    writer.append(entry.value, entry.value_size);
    writer.end_record();
}

}  // namespace

const FileFormat kSnapshotFormat = {kSnapshotFileName, kSnapshotMagic, kSnapshotFormatVersion,
                                    kSnapshotRecordHeaderBytes, "saved cache"};

std::string record_label(uint64_t index)
{
    return "record " + std::to_string(index + 1);
}

pg::SqlError invalid_file_error(const FileFormat &format, const std::string &problem, const char *hint)
{
    return pg::SqlError(ERRCODE_DATA_CORRUPTED,
                        std::string("simple_cache: ") + format.what + " file \"" + format.file_name + "\" is not valid",
                        problem, hint);
}

FileWriter::FileWriter(const FileFormat &format) : format_(format)
{
    const char *name = format_.file_name;
    pg::guard([=] { remove_stale_temp_files(name); });
    buffer_.reserve(kIoBufferBytes);
    snprintf(temp_path_, sizeof temp_path_, "%s.%d.tmp", format_.file_name, static_cast<int>(MyProcPid));
    const char *path = temp_path_;
    int open_errno = 0;
    fd_ = pg::guard([&] {
        int fd = OpenTransientFile(path, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
        open_errno = errno;
        return fd;
    });
    if (fd_ < 0) {
        errno = open_errno;
        throw_file_error("create", temp_path_);
    }
    created_ = true;
    INIT_CRC32C(crc_);
}

FileWriter::~FileWriter()
{
    close_quietly();
    if (created_ && !committed_)
        unlink(temp_path_);
}

SaveResult FileWriter::commit(int64_t saved_at_ms)
{
    flush();
    pg_crc32c crc = crc_;
    FIN_CRC32C(crc);
    char header[kSnapshotHeaderBytes] = {};
    std::memcpy(header + kMagicAt, format_.magic, sizeof kSnapshotMagic);
    put_u32(header + kVersionAt, format_.version);
    put_u32(header + kHeaderSizeAt, kSnapshotHeaderBytes);
    put_u64(header + kEntriesAt, records_);
    put_u64(header + kPayloadBytesAt, payload_bytes_);
    put_u64(header + kSavedAtAt, static_cast<uint64_t>(saved_at_ms));
    put_u32(header + kPayloadCrcAt, crc);
    put_u32(header + kHeaderCrcAt, crc_of(header, kHeaderCrcAt));
    write_at(header, sizeof header, 0);

    int fd = fd_;
    if (pg::guard([=] { return pg_fsync(fd); }) != 0)
        throw_file_error("fsync", temp_path_);
    fd_ = -1;
    if (pg::guard([=] { return CloseTransientFile(fd); }) != 0)
        throw_file_error("close", temp_path_);
    // rename() replaces the old file without opening it (durable_rename() opens it to fsync
    // it first, which fails on a file the server may not read or write).
    if (rename(temp_path_, format_.file_name) != 0)
        throw_rename_error(temp_path_, format_.file_name);
    committed_ = true;
    fsync_data_directory();
    return SaveResult{records_, kSnapshotHeaderBytes + payload_bytes_};
}

// Adds bytes to the payload, through the buffer unless they are large.
void FileWriter::append(const char *data, size_t size)
{
    if (size == 0)
        return;
    COMP_CRC32C(crc_, data, size);
    if (buffer_.size() + size > kIoBufferBytes)
        flush();
    if (size >= kIoBufferBytes) {
        write_at(data, size, kSnapshotHeaderBytes + payload_bytes_);
    } else {
        buffer_.append(data, size);
    }
    payload_bytes_ += size;
}

// Writes out the buffered payload bytes.
void FileWriter::flush()
{
    if (buffer_.empty())
        return;
    uint64_t buffered_from = kSnapshotHeaderBytes + payload_bytes_ - buffer_.size();
    write_at(buffer_.data(), buffer_.size(), buffered_from);
    buffer_.clear();
}

// Writes size bytes at offset; a short write that makes no progress means a full disk.
void FileWriter::write_at(const char *data, size_t size, uint64_t offset)
{
    while (size > 0) {
        ssize_t written = pg_pwrite(fd_, data, size, static_cast<off_t>(offset));
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            if (written == 0)
                errno = ENOSPC;
            throw_file_error("write", temp_path_);
        }
        data += written;
        size -= static_cast<size_t>(written);
        offset += static_cast<uint64_t>(written);
    }
}

// Closes the file if open; failures are only logged by PostgreSQL, never thrown.
void FileWriter::close_quietly() noexcept
{
    if (fd_ < 0)
        return;
    int fd = fd_;
    fd_ = -1;
    try {
        pg::guard([=] { CloseTransientFile(fd); });
    } catch (...) {
    }
}

ParseResult parse_file(const FileFormat &format, ByteSource &source, uint64_t size, const RecordReader &read)
{
    ParseResult result;
    Cursor cursor(source, size);
    if (size < kSnapshotHeaderBytes)
        return reject(result, "The file has " + std::to_string(size) + " bytes, fewer than a header's " +
                                  std::to_string(kSnapshotHeaderBytes) + ".");
    char header[kSnapshotHeaderBytes];
    if (!cursor.take(header, sizeof header, nullptr))
        return reject(result, "The file ended inside its header.");
    if (std::memcmp(header + kMagicAt, format.magic, sizeof kSnapshotMagic) != 0)
        return reject(result, std::string("The file does not start with the simple_cache magic number; it is not a ") +
                                  format.what + ".");
    uint32_t version = get_u32(header + kVersionAt);
    if (version != format.version)
        return reject(result, "The file has format version " + std::to_string(version) + "; this build reads version " +
                                  std::to_string(format.version) + ".");
    if (get_u32(header + kHeaderCrcAt) != crc_of(header, kHeaderCrcAt))
        return reject(result, "The header checksum does not match.");
    if (get_u32(header + kHeaderSizeAt) != kSnapshotHeaderBytes)
        return reject(result, "The header size is " + std::to_string(get_u32(header + kHeaderSizeAt)) + ", not " +
                                  std::to_string(kSnapshotHeaderBytes) + ".");
    result.entries = get_u64(header + kEntriesAt);
    result.header_crc = get_u32(header + kHeaderCrcAt);
    result.saved_at_ms = static_cast<int64_t>(get_u64(header + kSavedAtAt));
    if (result.saved_at_ms < 0 || result.saved_at_ms > kMaxExpiresMs)
        return reject(result, "The save time in the header is out of range.");
    uint64_t payload = get_u64(header + kPayloadBytesAt);
    uint64_t present = size - kSnapshotHeaderBytes;
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

FileLoad load_file(const FileFormat &format, const RecordReader &check, const RecordReader &read,
                   LoadProgress &progress)
{
    FileLoad out;
    int open_errno = 0;
    const char *name = format.file_name;
    int fd = pg::guard([&] {
        int opened = OpenTransientFile(name, O_RDONLY | PG_BINARY);
        open_errno = errno;
        return opened;
    });
    if (fd < 0) {
        if (open_errno == ENOENT)
            return out;
        errno = open_errno;
        throw_file_error("open", name);
    }
    TransientFile file(fd);
    struct stat st;
    if (fstat(fd, &st) != 0)
        throw_file_error("stat", name);
    auto size = static_cast<uint64_t>(st.st_size);

    // First pass: check everything, restore nothing.
    {
        FileSource source(fd, name);
        ParseResult checked = parse_file(format, source, size, check);
        if (!checked.valid)
            throw RejectedFile(invalid_file_error(format, checked.problem, "Nothing was loaded from it."));
        resume_or_restart(progress, checked);
    }
    // Second pass: restore what earlier attempts did not.
    out.found = true;
    uint64_t resume_at = progress.done;
    FileSource source(fd, name);
    out.result = parse_file(format, source, size, [&](PayloadReader &in, uint64_t i, std::string &problem) {
        if (i < resume_at)
            return check(in, i, problem);
        RecordStep step = read(in, i, problem);
        if (step == RecordStep::next)
            progress.done = i + 1;
        return step;
    });
    return out;
}

ParseResult parse_snapshot(ByteSource &source, uint64_t size, const RecordVisitor *visit)
{
    std::string bytes;  // the current record's key and value, when visiting
    return parse_file(kSnapshotFormat, source, size, [&](PayloadReader &in, uint64_t i, std::string &problem) {
        return read_cache_record(in, i, problem, visit, bytes);
    });
}

SaveResult save_snapshot()
{
    FileWriter writer(kSnapshotFormat);
    int64_t saved_at = now_ms();
    export_entries([&](const SnapshotEntry &entry) { add_entry(writer, entry); });
    return writer.commit(saved_at);
}

LoadResult load_snapshot(bool (*stop_requested)(), bool replace_existing, LoadProgress *progress)
{
    LoadResult out;
    LoadProgress fresh;
    LoadProgress &p = progress != nullptr ? *progress : fresh;
    uint64_t seen = 0;
    pg::SavedScopes scopes;
    RecordVisitor restore = [&](const SnapshotEntry &entry) {
        if (stop_requested != nullptr && stop_requested()) {
            out.stopped = true;
            return false;
        }
        pg::ScopeId scope = scopes.scope_for(entry.database);
        if (scope == pg::kNoScope) {
            ++p.orphaned;
            return true;
        }
        try {
            RestoreOutcome outcome =
                restore_entry(scope, entry.key, entry.key_size,
                              ValueBytes{entry.value, entry.value_size, entry.kind}, entry.expires_ms,
                              replace_existing);
            if (outcome == RestoreOutcome::stored)
                ++p.loaded;
            else if (outcome == RestoreOutcome::expired)
                ++p.expired;
            else
                ++p.skipped;
        } catch (const pg::SqlError &e) {
            if (e.sqlstate() != ERRCODE_OUT_OF_MEMORY)
                throw;
            ++p.no_room;
        }
        if (++seen % kRecordsPerInterruptCheck == 0)
            pg::check_for_interrupts();
        return true;
    };
    std::string bytes;
    FileLoad load = load_file(
        kSnapshotFormat,
        [&](PayloadReader &in, uint64_t i, std::string &problem) {
            return read_cache_record(in, i, problem, nullptr, bytes);
        },
        [&](PayloadReader &in, uint64_t i, std::string &problem) {
            return read_cache_record(in, i, problem, &restore, bytes);
        },
        p);
    static_cast<LoadProgress &>(out) = p;
    out.found = load.found;
    if (load.found && !load.result.valid)
        throw invalid_file_error(kSnapshotFormat, load.result.problem + " The file changed while it was being loaded.",
                                 (std::to_string(p.loaded) + " entries were loaded before the defect.").c_str());
    return out;
}

}  // namespace simple_cache::cache
