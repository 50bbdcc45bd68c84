// The error boundary's out-of-line parts: converting a caught PostgreSQL error into a C++
// exception, and turning any exception into a PostgreSQL ERROR at the SQL entry points.
#include "simple_cache/pg/error.hpp"

#include <stdexcept>

namespace simple_cache::pg {

namespace {

// Room for an exception's texts once its object is gone; longer texts are cut.
constexpr size_t kMessageRoom = 1024;

// The parts of a caught exception needed to report it, kept in plain storage so that reporting
// happens outside every catch block.
struct Report {
    ErrorData *pg_error = nullptr;
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[kMessageRoom] = {};
    char detail[kMessageRoom] = {};
    char hint[kMessageRoom] = {};

    // Empties the report cheaply: a few stores, not the whole buffers.
    void clear()
    {
        pg_error = nullptr;
        sqlstate = ERRCODE_INTERNAL_ERROR;
        message[0] = detail[0] = hint[0] = '\0';
    }
};

// Counters of locks that must not be held once an error reaches an entry point.
constexpr int kMaxLockCounters = 4;
HeldLockCounter lock_counters[kMaxLockCounters];
int lock_counter_count = 0;

// Locks still held by this backend, over every registered structure.
unsigned held_locks()
{
    unsigned held = 0;
    for (int i = 0; i < lock_counter_count; ++i)
        held += lock_counters[i]();
    return held;
}

// Copies text into a fixed buffer, truncating; never allocates.
void copy_text(char (&to)[kMessageRoom], const char *from) noexcept
{
    strlcpy(to, from, kMessageRoom);
}

}  // namespace

// Describes the carried error for code that catches std::exception.
const char *PgError::what() const noexcept
{
    return (data_ != nullptr && data_->message != nullptr) ? data_->message : "PostgreSQL error";
}

// Copies the error being handled into the caller's memory context, clears PostgreSQL's error
// state and throws it as a PgError.
void throw_current_pg_error(MemoryContext caller_context, int saved_holdoff, int saved_cancel_holdoff)
{
    MemoryContextSwitchTo(caller_context);
    ErrorData *data = CopyErrorData();
    FlushErrorState();
    InterruptHoldoffCount = saved_holdoff;
    QueryCancelHoldoffCount = saved_cancel_holdoff;
    throw PgError(data);
}

void register_held_lock_counter(HeldLockCounter counter)
{
    for (int i = 0; i < lock_counter_count; ++i)
        if (lock_counters[i] == counter)
            return;
    if (lock_counter_count < kMaxLockCounters)
        lock_counters[lock_counter_count++] = counter;
}

// Raises the PostgreSQL ERROR that a Report describes, unless a lock guard failed to release
// its lock: that bug is reported instead.
[[noreturn]] static void raise_report(const Report &report)
{
    if (unsigned held = held_locks(); held != 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg_internal("simple_cache bug: %u shared lock(s) still held after an error", held),
                        errdetail_internal("The original error was: %s",
                                           report.pg_error != nullptr ? report.pg_error->message
                                                                      : report.message)));
    if (report.pg_error != nullptr)
        ReThrowError(report.pg_error);
    ereport(ERROR, (errcode(report.sqlstate), errmsg_internal("%s", report.message),
                    report.detail[0] ? errdetail_internal("%s", report.detail) : 0,
                    report.hint[0] ? errhint("%s", report.hint) : 0));
    pg_unreachable();
}

namespace {

// Fills report from the exception being handled: called only inside a catch block, it
// rethrows that exception to sort it by type and copies plain data out of it. The one mapping
// from C++ exceptions to SQLSTATEs, shared by every entry point.
void describe_current_exception(Report &report) noexcept
{
    try {
        throw;
    } catch (const PgError &e) {
        report.pg_error = e.data();
    } catch (const SqlError &e) {
        report.sqlstate = e.sqlstate();
        copy_text(report.message, e.what());
        copy_text(report.detail, e.detail().c_str());
        copy_text(report.hint, e.hint().c_str());
    } catch (const std::bad_alloc &) {
        report.sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_text(report.message, "out of memory");
    } catch (const std::invalid_argument &e) {
        report.sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
        copy_text(report.message, e.what());
    } catch (const std::length_error &e) {
        report.sqlstate = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
        copy_text(report.message, e.what());
    } catch (const std::out_of_range &e) {
        report.sqlstate = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
        copy_text(report.message, e.what());
    } catch (const std::exception &e) {
        copy_text(report.message, "internal error in simple_cache");
        copy_text(report.detail, e.what());
    } catch (...) {
        copy_text(report.message, "internal error in simple_cache");
        copy_text(report.detail, "an unknown C++ exception was thrown");
    }
}

// The report of the entry point running now. Static, so that the common path pays nothing for
// it (backends are single-threaded, and an entry point called while another one reports is
// impossible: reporting never calls back).
Report current_report;

}  // namespace

// See error.hpp. The try block holds the body; the handler only copies plain data, and the
// ERROR is raised after it has ended, so no exception object or C++ frame is skipped.
Datum run_sql_function(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo)
{
    current_report.clear();
    try {
        return body(fcinfo);
    } catch (...) {
        describe_current_exception(current_report);
    }
    raise_report(current_report);
}

// See error.hpp; the same as run_sql_function, for a body called from C code.
void run_c_function(void (*body)(void *), void *context)
{
    current_report.clear();
    try {
        body(context);
        return;
    } catch (...) {
        describe_current_exception(current_report);
    }
    raise_report(current_report);
}

// See error.hpp.
void check_for_interrupts()
{
    guard([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace simple_cache::pg
