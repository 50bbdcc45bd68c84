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

// Offsets of a record header's fields.
enum RecordOffset : size_t {
    kDatabaseAt = 0,
    kKindAt = 4,
    kExpiresAt = 5,
    kKeySizeAt = 13,
    kValueSizeAt = 17,
};

// Little-endian encoding.
void put_u32(char *to, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        to[i] = static_cast<char>(v >> (8 * i));
}
void put_u64(char *to, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        to[i] = static_cast<char>(v >> (8 * i));
}
uint32_t get_u32(const char *from)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= static_cast<uint32_t>(static_cast<unsigned char>(from[i])) << (8 * i);
    return v;
}
uint64_t get_u64(const char *from)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= static_cast<uint64_t>(static_cast<unsigned char>(from[i])) << (8 * i);
    return v;
}

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

// The error for a saved file that fails the checks.
pg::SqlError invalid_file_error(const std::string &problem, const char *hint)
{
    return pg::SqlError(ERRCODE_DATA_CORRUPTED,
                        std::string("simple_cache: saved cache file \"") + kSnapshotFileName + "\" is not valid",
                        problem, hint);
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

// "record N" for problems found in the N-th record (counted from 1).
std::string record_label(uint64_t index)
{
    return "record " + std::to_string(index + 1);
}

// Writes the temporary file of a save and, on commit, puts it in place of the saved file. The
// temporary file is closed and removed if the writer is destroyed without a commit.
class SnapshotWriter {
  public:
    SnapshotWriter()
    {
        buffer_.reserve(kIoBufferBytes);
        snprintf(temp_path_, sizeof temp_path_, "%s.%d.tmp", kSnapshotFileName, static_cast<int>(MyProcPid));
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
    SnapshotWriter(const SnapshotWriter &) = delete;
    SnapshotWriter &operator=(const SnapshotWriter &) = delete;

    ~SnapshotWriter()
    {
        close_quietly();
        if (created_ && !committed_)
            unlink(temp_path_);
    }

    // Appends one entry's record.
    void add(const SnapshotEntry &entry)
    {
        char head[kSnapshotRecordHeaderBytes];
        put_u32(head + kDatabaseAt, entry.database);
        head[kKindAt] = static_cast<char>(entry.kind);
        put_u64(head + kExpiresAt, static_cast<uint64_t>(entry.expires_ms));
        put_u32(head + kKeySizeAt, static_cast<uint32_t>(entry.key_size));
        put_u32(head + kValueSizeAt, static_cast<uint32_t>(entry.value_size));
        append(head, sizeof head);
        append(entry.key, entry.key_size);
        append(entry.value, entry.value_size);
        ++entries_;
    }

    // Completes the file (header, fsync, close) and renames it over the saved file.
    SaveResult commit(int64_t saved_at_ms)
    {
        flush();
        FIN_CRC32C(crc_);
        char header[kSnapshotHeaderBytes] = {};
        std::memcpy(header + kMagicAt, kSnapshotMagic, sizeof kSnapshotMagic);
        put_u32(header + kVersionAt, kSnapshotFormatVersion);
        put_u32(header + kHeaderSizeAt, kSnapshotHeaderBytes);
        put_u64(header + kEntriesAt, entries_);
        put_u64(header + kPayloadBytesAt, payload_bytes_);
        put_u64(header + kSavedAtAt, static_cast<uint64_t>(saved_at_ms));
        put_u32(header + kPayloadCrcAt, crc_);
        put_u32(header + kHeaderCrcAt, crc_of(header, kHeaderCrcAt));
        write_at(header, sizeof header, 0);

        int fd = fd_;
        if (pg::guard([=] { return pg_fsync(fd); }) != 0)
            throw_file_error("fsync", temp_path_);
        fd_ = -1;
        if (pg::guard([=] { return CloseTransientFile(fd); }) != 0)
            throw_file_error("close", temp_path_);
        const char *from = temp_path_;
        pg::guard([=] { durable_rename(from, kSnapshotFileName, ERROR); });
        committed_ = true;
        return SaveResult{entries_, kSnapshotHeaderBytes + payload_bytes_};
    }

  private:
    // Adds bytes to the payload, through the buffer unless they are large.
    void append(const char *data, size_t size)
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
    void flush()
    {
        if (buffer_.empty())
            return;
        uint64_t buffered_from = kSnapshotHeaderBytes + payload_bytes_ - buffer_.size();
        write_at(buffer_.data(), buffer_.size(), buffered_from);
        buffer_.clear();
    }

    // Writes size bytes at offset; a short write that makes no progress means a full disk.
    void write_at(const char *data, size_t size, uint64_t offset)
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
    void close_quietly() noexcept
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

    char temp_path_[MAXPGPATH] = {};
    int fd_ = -1;
    bool created_ = false;
    bool committed_ = false;
    std::string buffer_;
    pg_crc32c crc_;
    uint64_t entries_ = 0;
    uint64_t payload_bytes_ = 0;  // written or buffered
};

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
    explicit FileSource(int fd) : fd_(fd) {}
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
                throw_file_error("read", kSnapshotFileName);
        }
    }

  private:
    int fd_;
    uint64_t offset_ = 0;
};

// Whether a directory entry is the temporary file of a save by a process that no longer
// exists (one that crashed in the middle of a save).
bool is_stale_temp_file(const char *name)
{
    size_t base = strlen(kSnapshotFileName);
    if (strncmp(name, kSnapshotFileName, base) != 0 || name[base] != '.')
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

// Removes the temporary files of saves that crashed. Plain PostgreSQL code, run under guard().
void remove_stale_temp_files()
{
    DIR *dir = AllocateDir(".");
    struct dirent *de;
    while ((de = ReadDir(dir, ".")) != nullptr) {
        if (!is_stale_temp_file(de->d_name))
            continue;
        if (unlink(de->d_name) != 0 && errno != ENOENT)
            ereport(LOG, (errcode_for_file_access(), errmsg("could not remove file \"%s\": %m", de->d_name)));
    }
    FreeDir(dir);
}

}  // namespace

ParseResult parse_snapshot(ByteSource &source, uint64_t size, const RecordVisitor *visit)
{
    ParseResult result;
    Cursor cursor(source, size);
    if (size < kSnapshotHeaderBytes)
        return reject(result, "The file has " + std::to_string(size) + " bytes, fewer than a header's " +
                                  std::to_string(kSnapshotHeaderBytes) + ".");
    char header[kSnapshotHeaderBytes];
    if (!cursor.take(header, sizeof header, nullptr))
        return reject(result, "The file ended inside its header.");
    if (std::memcmp(header + kMagicAt, kSnapshotMagic, sizeof kSnapshotMagic) != 0)
        return reject(result, "The file does not start with the simple_cache magic number; it is not a saved cache.");
    uint32_t version = get_u32(header + kVersionAt);
    if (version != kSnapshotFormatVersion)
        return reject(result, "The file has format version " + std::to_string(version) + "; this build reads version " +
                                  std::to_string(kSnapshotFormatVersion) + ".");
    if (get_u32(header + kHeaderCrcAt) != crc_of(header, kHeaderCrcAt))
        return reject(result, "The header checksum does not match.");
    if (get_u32(header + kHeaderSizeAt) != kSnapshotHeaderBytes)
        return reject(result, "The header size is " + std::to_string(get_u32(header + kHeaderSizeAt)) + ", not " +
                                  std::to_string(kSnapshotHeaderBytes) + ".");
    result.entries = get_u64(header + kEntriesAt);
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
    if (result.entries > payload / kSnapshotRecordHeaderBytes)
        return reject(result, "The header announces " + std::to_string(result.entries) + " entries, more than " +
                                  std::to_string(payload) + " payload bytes can hold.");

    pg_crc32c crc;
    INIT_CRC32C(crc);
    uint64_t remaining = payload;
    std::string bytes;  // the current record's key and value, when visiting
    for (uint64_t i = 0; i < result.entries; ++i) {
        if (remaining < kSnapshotRecordHeaderBytes)
            return reject(result, "The payload ends inside " + record_label(i) + ".");
        char head[kSnapshotRecordHeaderBytes];
        if (!cursor.take(head, sizeof head, &crc))
            return reject(result, "The file ended early, inside " + record_label(i) + ".");
        remaining -= kSnapshotRecordHeaderBytes;
        Oid database = get_u32(head + kDatabaseAt);
        auto kind = static_cast<unsigned char>(head[kKindAt]);
        auto expires_ms = static_cast<int64_t>(get_u64(head + kExpiresAt));
        uint32_t key_size = get_u32(head + kKeySizeAt);
        uint32_t value_size = get_u32(head + kValueSizeAt);
        if (kind != static_cast<unsigned char>(ValueKind::text) && kind != static_cast<unsigned char>(ValueKind::bytea))
            return reject(result, "The value kind of " + record_label(i) + " is " + std::to_string(kind) + ".");
        if (expires_ms < 0 || expires_ms > kMaxExpiresMs)
            return reject(result, "The expiry of " + record_label(i) + " is out of range.");
        if (key_size > kMaxKeyBytes)
            return reject(result, "The key of " + record_label(i) + " has " + std::to_string(key_size) +
                                      " bytes, over the limit.");
        if (value_size > kMaxValueBytes)
            return reject(result, "The value of " + record_label(i) + " has " + std::to_string(value_size) +
                                      " bytes, over the limit.");
        uint64_t body = uint64_t{key_size} + value_size;
        if (body > remaining)
            return reject(result, record_label(i) + " runs past the end of the payload.");
        remaining -= body;
        if (visit == nullptr) {
            if (!cursor.take(nullptr, body, &crc))
                return reject(result, "The file ended early, inside " + record_label(i) + ".");
            ++result.records;
            continue;
        }
        bytes.resize(body);
        if (!cursor.take(bytes.data(), body, &crc))
            return reject(result, "The file ended early, inside " + record_label(i) + ".");
        ++result.records;
        SnapshotEntry entry{database, static_cast<ValueKind>(kind), expires_ms, bytes.data(), key_size,
                            bytes.data() + key_size, value_size};
        if (!(*visit)(entry)) {
            result.stopped = true;
            result.valid = true;
            return result;
        }
    }
    if (remaining != 0)
        return reject(result, std::to_string(remaining) + " payload bytes follow the last of the " +
                                  std::to_string(result.entries) + " entries.");
    FIN_CRC32C(crc);
    if (crc != get_u32(header + kPayloadCrcAt))
        return reject(result, "The payload checksum does not match.");
    result.valid = true;
    return result;
}

SaveResult save_snapshot()
{
    pg::guard([] { remove_stale_temp_files(); });
    SnapshotWriter writer;
    int64_t saved_at = now_ms();
    export_entries([&](const SnapshotEntry &entry) { writer.add(entry); });
    return writer.commit(saved_at);
}

LoadResult load_snapshot(bool (*stop_requested)())
{
    LoadResult out;
    int open_errno = 0;
    int fd = pg::guard([&] {
        int opened = OpenTransientFile(kSnapshotFileName, O_RDONLY | PG_BINARY);
        open_errno = errno;
        return opened;
    });
    if (fd < 0) {
        if (open_errno == ENOENT)
            return out;
        errno = open_errno;
        throw_file_error("open", kSnapshotFileName);
    }
    TransientFile file(fd);
    struct stat st;
    if (fstat(fd, &st) != 0)
        throw_file_error("stat", kSnapshotFileName);
    auto size = static_cast<uint64_t>(st.st_size);

    // First pass: check everything, restore nothing.
    {
        FileSource source(fd);
        ParseResult check = parse_snapshot(source, size, nullptr);
        if (!check.valid)
            throw invalid_file_error(check.problem, "Nothing was loaded from it.");
    }

    // Second pass: restore.
    out.found = true;
    uint64_t seen = 0;
    RecordVisitor restore = [&](const SnapshotEntry &entry) {
        if (stop_requested != nullptr && stop_requested()) {
            out.stopped = true;
            return false;
        }
        try {
            RestoreOutcome outcome =
                restore_entry(entry.database, entry.key, entry.key_size,
                              ValueBytes{entry.value, entry.value_size, entry.kind}, entry.expires_ms);
            ++(outcome == RestoreOutcome::stored ? out.loaded : out.expired);
        } catch (const pg::SqlError &e) {
            if (e.sqlstate() != ERRCODE_OUT_OF_MEMORY)
                throw;
            ++out.no_room;
        }
        if (++seen % kRecordsPerInterruptCheck == 0)
            pg::check_for_interrupts();
        return true;
    };
    FileSource source(fd);
    ParseResult result = parse_snapshot(source, size, &restore);
    out.saved_at_ms = result.saved_at_ms;
    if (!result.valid)
        throw invalid_file_error(result.problem + " The file changed while it was being loaded.",
                                 (std::to_string(out.loaded) + " entries were loaded before the defect.").c_str());
    return out;
}

}  // namespace simple_cache::cache
