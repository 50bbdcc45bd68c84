// The error boundary's out-of-line parts: converting a caught PostgreSQL error into a C++
// exception, and the one mechanism that turns any exception into one error report, raised at
// SQL entry points and callbacks or logged by background workers.
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

namespace {

// The failure capture() caught last. Static, so that the common path pays nothing for it
// (backends are single-threaded, and capturing never runs while a report is raised or logged).
Report captured;

// The locks still held after an error reached a boundary, as a sentence for the log; empty
// when there are none (every lock guard released its lock, as it must).
void describe_held_locks(char (&to)[kMessageRoom])
{
    to[0] = '\0';
    if (unsigned held = held_locks(); held != 0)
        snprintf(to, kMessageRoom, "simple_cache bug: %u shared lock(s) still held after an error", held);
}

}  // namespace

namespace detail {

// See error.hpp. Every handler only copies plain data, so that raising or logging happens
// after the handlers have ended and no exception object or C++ frame is skipped.
bool capture(void (*invoke)(void *), void *f) noexcept
{
    captured.clear();
    try {
        invoke(f);
        return true;
    } catch (const PgError &e) {
        captured.pg_error = e.data();
    } catch (const SqlError &e) {
        captured.sqlstate = e.sqlstate();
        copy_text(captured.message, e.what());
        copy_text(captured.detail, e.detail().c_str());
        copy_text(captured.hint, e.hint().c_str());
    } catch (const std::bad_alloc &) {
        captured.sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_text(captured.message, "out of memory");
    } catch (const std::invalid_argument &e) {
        captured.sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
        copy_text(captured.message, e.what());
    } catch (const std::length_error &e) {
        captured.sqlstate = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
        copy_text(captured.message, e.what());
    } catch (const std::out_of_range &e) {
        captured.sqlstate = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
        copy_text(captured.message, e.what());
    } catch (const std::exception &e) {
        copy_text(captured.message, "internal error in simple_cache");
        copy_text(captured.detail, e.what());
    } catch (...) {
        copy_text(captured.message, "internal error in simple_cache");
        copy_text(captured.detail, "an unknown C++ exception was thrown");
    }
    return false;
}

// Raises the captured failure as a PostgreSQL ERROR, unless a lock guard failed to release its
// lock: that bug is reported instead.
void raise_captured()
{
    const Report &report = captured;
    char held[kMessageRoom];
    describe_held_locks(held);
    if (held[0] != '\0')
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("%s", held),
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

// Logs the captured failure, and a lock a guard failed to release as the bug it is.
void log_captured(int level, const char *context, const char *action)
{
    const Report &report = captured;
    char held[kMessageRoom];
    describe_held_locks(held);
    if (held[0] != '\0')
        ereport(level, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("%s", held),
                        errcontext("%s, %s", context, action)));
    const ErrorData *pg = report.pg_error;
    ereport(level, (errcode(pg != nullptr ? pg->sqlerrcode : report.sqlstate),
                    errmsg_internal("%s", pg != nullptr && pg->message ? pg->message : report.message),
                    (pg != nullptr ? pg->detail != nullptr : report.detail[0] != '\0')
                        ? errdetail_internal("%s", pg != nullptr ? pg->detail : report.detail)
                        : 0,
                    (pg != nullptr ? pg->hint != nullptr : report.hint[0] != '\0')
                        ? errhint("%s", pg != nullptr ? pg->hint : report.hint)
                        : 0,
                    errcontext("%s, %s", context, action)));
}

}  // namespace detail

// See error.hpp.
Datum run_sql_function(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo)
{
    Datum result = 0;
    auto call = [&] { result = body(fcinfo); };
    if (!detail::capture(&detail::invoke<decltype(call)>, &call))
        detail::raise_captured();
    return result;
}

// See error.hpp; the same as run_sql_function, for a body called from C code.
void run_c_function(void (*body)(void *), void *context)
{
    if (!detail::capture(body, context))
        detail::raise_captured();
}

// See error.hpp.
void check_for_interrupts()
{
    guard([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace simple_cache::pg
