// DSA-backed memory for the core structures: guarded allocation, translation and freeing,
// striped accounting of what is allocated, test-only failure injection, and dsa_dump capture.
#include "simple_cache/pg/dsa_policy.hpp"

#include <unistd.h>

#include "simple_cache/pg/error.hpp"

namespace simple_cache::pg {

namespace {

// DSA calls left before an injected failure; 0 means injection is off.
int injected_failure_countdown = 0;

// Run before every allocation, if set (see set_allocation_hook).
void (*allocation_hook)() = nullptr;

// The area's hooks (see set_policy_hooks).
PolicyHooks hooks;


// Raises the injected ERROR when the countdown reaches zero. Called inside guard().
void maybe_inject_failure()
{
    if (injected_failure_countdown > 0 && --injected_failure_countdown == 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("simple_cache: injected failure"),
                        errdetail("simple_cache.debug_fail_after counted down to zero.")));
}

}  // namespace

void set_injected_failure_countdown(int n)
{
    injected_failure_countdown = n;
}

void set_allocation_hook(void (*hook)())
{
    allocation_hook = hook;
}

void set_policy_hooks(const PolicyHooks &h)
{
    hooks = h;
}

int backend_stripe(int stripes)
{
    return MyProcPid % stripes;
}

// Allocates from the area with the given dsa flags; null when the area's size limit or the
// operating system refuses the memory. The allocation hook runs first (in the extension:
// taking up simple_cache.max_memory). A zeroed block of a size the reserve keeps comes from the
// reserve while it has one. A give-back of free segments holds the free space for a moment, so
// a refusal while one runs is retried once it is over. Other DSA errors arrive as PgError.
DsaPolicy::Pointer DsaPolicy::allocate_with(size_t bytes, int flags)
{
    if (allocation_hook != nullptr)
        allocation_hook();
    dsa_area *area = area_;
    PolicyHooks h = uses_hooks_ ? hooks : PolicyHooks{};
    Pointer kept = guard([=] {
        maybe_inject_failure();
        bool zeroed = (flags & DSA_ALLOC_ZERO) != 0;
        return zeroed && h.take_reserved != nullptr ? h.take_reserved(bytes) : InvalidDsaPointer;
    });
    if (DsaPointerIsValid(kept)) {
        counters_->add(static_cast<int64_t>(bytes), 1);  // no superblock of its size is made
        return kept;
    }
    Pointer p = guard([=] { return dsa_allocate_extended(area, bytes, flags); });
    if (!DsaPointerIsValid(p) && h.wait_for_room != nullptr && h.wait_for_room())
        p = guard([=] { return dsa_allocate_extended(area, bytes, flags); });
    if (DsaPointerIsValid(p) && (p >> kAddressBits) != 0) {
        guard([=] { dsa_free(area, p); });  // cannot happen with dsa.c's layout (see kAddressBits)
        p = InvalidDsaPointer;
    }
    if (DsaPointerIsValid(p)) {
        counters_->add(static_cast<int64_t>(bytes), 1);
        counters_->note_size(bytes);
        if (bytes > core::kLargestSmallObject && h.note_large != nullptr)
            h.note_large(p, true);
    }
    return p;
}

// Returns a block to the area, or to the reserve it came from.
void DsaPolicy::deallocate(Pointer p, size_t bytes)
{
    dsa_area *area = area_;
    PolicyHooks h = uses_hooks_ ? hooks : PolicyHooks{};
    if (h.put_back_reserved == nullptr || !h.put_back_reserved(p, bytes)) {
        guard([=] { dsa_free(area, p); });
        if (bytes > core::kLargestSmallObject && h.note_large != nullptr)
            h.note_large(p, false);
    }
    counters_->add(-static_cast<int64_t>(bytes), -1);
}

// Maps a dsa_pointer to this backend's address, attaching the segment if needed.
void *DsaPolicy::address(Pointer p) const
{
    dsa_area *area = area_;
    return guard([=] {
        maybe_inject_failure();
        return dsa_get_address(area, p);
    });
}

// dsa_dump() prints to stderr; point file descriptor 2 at a temporary file for the call, then
// read the report back. PostgreSQL 15 offers no other view of an area's segments.
std::string capture_area_dump(dsa_area *area)
{
    FILE *capture = tmpfile();
    if (capture == nullptr)
        throw SqlError(ERRCODE_IO_ERROR, "could not create a temporary file for the area report");
    fflush(stderr);
    int saved_stderr = dup(STDERR_FILENO);
    bool redirected = saved_stderr >= 0 && dup2(fileno(capture), STDERR_FILENO) >= 0;
    std::exception_ptr failure;
    if (redirected) {
        try {
            guard([=] { dsa_dump(area); });
        } catch (...) {
            failure = std::current_exception();
        }
        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
    }
    if (saved_stderr >= 0)
        close(saved_stderr);
    std::string report;
    if (redirected && !failure) {
        rewind(capture);
        char buffer[4096];
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, capture)) > 0)
            report.append(buffer, n);
    }
    fclose(capture);
    if (failure)
        std::rethrow_exception(failure);
    if (!redirected)
        throw SqlError(ERRCODE_IO_ERROR, "could not redirect stderr to capture the area report");
    return report;
}

}  // namespace simple_cache::pg
