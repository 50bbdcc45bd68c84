// Stand-ins for the PostgreSQL backend symbols that src/cache/persistence_file.cpp refers to,
// so that the file can be linked into a fuzzer that runs WITHOUT a server.
//
// The fuzzer calls only parse_snapshot(), which is pure: it reads a ByteSource and computes
// CRC-32C through PostgreSQL's pg_comp_crc32c function pointer. That pointer is set here to a
// plain bitwise CRC-32C compiled with the fuzzer's sanitizers, so that AddressSanitizer also
// sees every byte the checksum reads (libpgport's SSE 4.2 code is not instrumented); the
// fuzzer checks at start-up that it agrees with libpgport's own pg_comp_crc32c_sb8. Every
// other symbol below belongs to saving and loading files in a running server (file
// descriptors, ereport, interrupts, the cache itself); none of them may be reached, so each
// one aborts.
// The stubs are declared through PostgreSQL's and the project's own headers, so the compiler
// checks that their signatures are the real ones. When persistence_file.cpp starts to use a
// new symbol, or one's signature changes, test/fuzz/missing-symbols.sh defines it as a zeroed,
// non-executable alias (calling it crashes the fuzzer) and the build names it, so that the
// fuzzer keeps building while the stub here is brought up to date.
#include <cstdio>
#include <cstdlib>

#include "simple_cache/cache/persistence_file.hpp"
#include "simple_cache/cache/snapshot.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

extern "C" {
#include "port/pg_crc32c.h"
#include "storage/fd.h"
}

namespace {

[[noreturn]] void unreachable(const char *what)
{
    // fputs, not fprintf: PostgreSQL's port.h turns fprintf into its own pg_fprintf.
    std::fputs("fuzz stub: ", stderr);
    std::fputs(what, stderr);
    std::fputs(" called; the fuzzer must only parse\n", stderr);
    std::abort();
}

// CRC-32C (Castagnoli, reflected), one bit at a time: slow, simple, instrumented.
pg_crc32c crc32c_bitwise(pg_crc32c crc, const void *data, size_t len)
{
    const auto *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < len; ++i) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc;
}

}  // namespace

// Backend globals: only read by code the fuzzer never runs.
extern "C" {
pg_crc32c (*pg_comp_crc32c)(pg_crc32c crc, const void *data, size_t len) = crc32c_bitwise;
MemoryContext CurrentMemoryContext = nullptr;
volatile uint32 InterruptHoldoffCount = 0;
volatile uint32 QueryCancelHoldoffCount = 0;
int MyProcPid = 0;
sigjmp_buf *PG_exception_stack = nullptr;
ErrorContextCallback *error_context_stack = nullptr;

int OpenTransientFile(const char *, int) { unreachable("OpenTransientFile"); }
int CloseTransientFile(int) { unreachable("CloseTransientFile"); }
DIR *AllocateDir(const char *) { unreachable("AllocateDir"); }
struct dirent *ReadDir(DIR *, const char *) { unreachable("ReadDir"); }
int FreeDir(DIR *) { unreachable("FreeDir"); }
int pg_fsync(int) { unreachable("pg_fsync"); }
int errcode_for_file_access(void) { unreachable("errcode_for_file_access"); }
int errmsg(const char *, ...) { unreachable("errmsg"); }
bool errstart(int, const char *) { unreachable("errstart"); }
bool errstart_cold(int, const char *) { unreachable("errstart_cold"); }
void errfinish(const char *, int, const char *) { unreachable("errfinish"); }
}

namespace simple_cache::pg {
void check_for_interrupts() { unreachable("check_for_interrupts"); }
void throw_current_pg_error(MemoryContext, int, int) { unreachable("throw_current_pg_error"); }
SavedScopes::~SavedScopes() {}
ScopeId SavedScopes::scope_for(const DatabaseIdentity &) { unreachable("SavedScopes::scope_for"); }
}  // namespace simple_cache::pg

namespace simple_cache::cache {
int64_t now_ms() { unreachable("now_ms"); }
uint64_t export_entries(const SnapshotVisitor &) { unreachable("export_entries"); }
RestoreOutcome restore_entry(pg::ScopeId, const char *, size_t, ValueBytes, int64_t, bool) { unreachable("restore_entry"); }
}  // namespace simple_cache::cache
