// Saved files in the data directory: the temporary file, fsync and rename of a save, and the
// two passes of a load (see pg/saved_file.hpp).
#include "simple_cache/pg/saved_file.hpp"

#include <cerrno>
#include <climits>
#include <csignal>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

extern "C" {
#include "storage/fd.h"
#include "utils/timestamp.h"
}

namespace simple_cache::pg {

namespace {

// Bytes the writer buffers before a write call.
constexpr size_t kWriteBufferBytes = 256 * 1024;

constexpr size_t kHeaderBytes = core::kSavedFileHeaderBytes;

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
    guard([=] { raise_file_error(saved_errno, action, path); });
    throw SqlError(ERRCODE_INTERNAL_ERROR, "simple_cache: file error not raised");
}

// Throws the error for a failed rename as a PgError; call right after the failing call.
[[noreturn]] void throw_rename_error(const char *from, const char *to)
{
    int saved_errno = errno;
    guard([=] {
        errno = saved_errno;
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not rename file \"%s\" to \"%s\": %m", from, to)));
    });
    throw SqlError(ERRCODE_INTERNAL_ERROR, "simple_cache: file error not raised");
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
            guard([=] { CloseTransientFile(fd); });
        } catch (...) {
        }
    }
    int fd() const { return fd_; }

  private:
    int fd_;
};

// A ByteSource reading a file from its start; checks for query cancel before each read.
class FileSource final : public core::ByteSource {
  public:
    FileSource(int fd, const char *name) : fd_(fd), name_(name) {}
    size_t read(char *to, size_t n) override
    {
        check_for_interrupts();
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
    int fd = guard([&] {
        int opened = OpenTransientFile(dir, O_RDONLY | PG_BINARY);
        saved_errno = errno;
        return opened;
    });
    if (fd < 0) {
        errno = saved_errno;
        throw_file_error("open", dir);
    }
    TransientFile directory(fd);
    int synced = guard([&] {
        int result = pg_fsync(fd);
        saved_errno = errno;
        return result;
    });
    if (synced != 0 && saved_errno != EBADF && saved_errno != EINVAL) {
        errno = saved_errno;
        throw_file_error("fsync", dir);
    }
}

// Starts progress on the file just checked: keeps it (another attempt of the same load) if it
// describes that file, else resets it.
void resume_or_restart(LoadProgress &progress, const core::ParseResult &checked)
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

}  // namespace

int64_t saved_at_now_ms()
{
    return GetCurrentTimestamp() / 1000;
}

SqlError invalid_file_error(const core::FileFormat &format, const std::string &problem, const char *hint)
{
    return SqlError(ERRCODE_DATA_CORRUPTED,
                    std::string("simple_cache: ") + format.what + " file \"" + format.file_name + "\" is not valid",
                    problem, hint);
}

FileWriter::FileWriter(const core::FileFormat &format) : format_(format)
{
    const char *name = format_.file_name;
    guard([=] { remove_stale_temp_files(name); });
    buffer_.reserve(kWriteBufferBytes);
    snprintf(temp_path_, sizeof temp_path_, "%s.%d.tmp", format_.file_name, static_cast<int>(MyProcPid));
    const char *path = temp_path_;
    int open_errno = 0;
    fd_ = guard([&] {
        int fd = OpenTransientFile(path, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
        open_errno = errno;
        return fd;
    });
    if (fd_ < 0) {
        errno = open_errno;
        throw_file_error("create", temp_path_);
    }
    created_ = true;
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
    char header[kHeaderBytes];
    core::encode_header(format_, core::HeaderFields{records_, payload_bytes_, saved_at_ms, crc_.value()}, header);
    write_at(header, sizeof header, 0);

    int fd = fd_;
    if (guard([=] { return pg_fsync(fd); }) != 0)
        throw_file_error("fsync", temp_path_);
    fd_ = -1;
    if (guard([=] { return CloseTransientFile(fd); }) != 0)
        throw_file_error("close", temp_path_);
    // rename() replaces the old file without opening it (durable_rename() opens it to fsync
    // it first, which fails on a file the server may not read or write).
    if (rename(temp_path_, format_.file_name) != 0)
        throw_rename_error(temp_path_, format_.file_name);
    committed_ = true;
    fsync_data_directory();
    return SaveResult{records_, kHeaderBytes + payload_bytes_};
}

// Adds bytes to the payload, through the buffer unless they are large.
void FileWriter::append(const char *data, size_t size)
{
    if (size == 0)
        return;
    crc_.update(data, size);
    if (buffer_.size() + size > kWriteBufferBytes)
        flush();
    if (size >= kWriteBufferBytes) {
        write_at(data, size, kHeaderBytes + payload_bytes_);
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
    uint64_t buffered_from = kHeaderBytes + payload_bytes_ - buffer_.size();
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
        guard([=] { CloseTransientFile(fd); });
    } catch (...) {
    }
}

FileLoad load_file(const core::FileFormat &format, const core::RecordReader &check, const core::RecordReader &read,
                   LoadProgress &progress)
{
    FileLoad out;
    int open_errno = 0;
    const char *name = format.file_name;
    int fd = guard([&] {
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
        core::ParseResult checked = core::parse_file(format, source, size, check);
        if (!checked.valid)
            throw RejectedFile(invalid_file_error(format, checked.problem, "Nothing was loaded from it."));
        resume_or_restart(progress, checked);
    }
    // Second pass: restore what earlier attempts did not.
    out.found = true;
    uint64_t resume_at = progress.done;
    FileSource source(fd, name);
    out.result = core::parse_file(format, source, size, [&](core::PayloadReader &in, uint64_t i, std::string &problem) {
        if (i < resume_at)
            return check(in, i, problem);
        core::RecordStep step = read(in, i, problem);
        if (step == core::RecordStep::next)
            progress.done = i + 1;
        return step;
    });
    return out;
}

}  // namespace simple_cache::pg
