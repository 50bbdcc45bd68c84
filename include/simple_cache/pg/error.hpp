// The boundary between PostgreSQL errors (siglongjmp) and C++ exceptions.
//
// Downward: guard(f) runs PostgreSQL code and turns an ERROR raised inside it into a PgError
// exception, so C++ destructors run as the error travels up. Upward: every SQL-callable function
// is defined with SIMPLE_CACHE_FUNCTION, whose wrapper catches every exception and raises it as a
// PostgreSQL ERROR only after all C++ frames are gone; a PgError is re-raised unchanged
// (SQLSTATE, detail, hint and context intact). The C API's functions go through the same
// wrapper (run_c_function).
#pragma once

#include <exception>
#include <string>
#include <type_traits>

#include "simple_cache/pg/postgres.hpp"

namespace simple_cache::pg {

// A PostgreSQL error caught by guard(): carries the copied ErrorData until re-raised.
class PgError : public std::exception {
  public:
    explicit PgError(ErrorData *data) : data_(data) {}
    const char *what() const noexcept override;
    ErrorData *data() const noexcept { return data_; }

  private:
    ErrorData *data_;  // palloc'd in the memory context that was current at the guard
};

// An error raised by project code, with the SQLSTATE users will see.
class SqlError : public std::exception {
  public:
    SqlError(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : sqlstate_(sqlstate), message_(std::move(message)), detail_(std::move(detail)),
          hint_(std::move(hint))
    {
    }
    const char *what() const noexcept override { return message_.c_str(); }
    int sqlstate() const noexcept { return sqlstate_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }

  private:
    int sqlstate_;
    std::string message_;
    std::string detail_;
    std::string hint_;
};

// Throws a PgError built from the error PostgreSQL is currently handling (inside PG_CATCH).
[[noreturn]] void throw_current_pg_error(MemoryContext caller_context, int saved_holdoff,
                                         int saved_cancel_holdoff);

// Runs f, which may raise PostgreSQL errors, and converts such an error into a PgError. f must
// not leave C++ objects with destructors on the stack across PostgreSQL calls (a lambda calling
// PostgreSQL functions is the intended use). Interrupt hold-off counts are restored, because an
// ERROR zeroes them while this backend may still hold LWLocks that its guards will release.
template <class F>
auto guard(F &&f) -> decltype(f())
{
    using Result = decltype(f());
    if constexpr (std::is_void_v<Result>) {
        guard([&f] {  // one body for both: a void f runs as one that returns a dummy value
            f();
            return 0;
        });
    } else {
        static_assert(std::is_scalar_v<Result>, "guard returns plain values");
        MemoryContext caller_context = CurrentMemoryContext;
        int saved_holdoff = InterruptHoldoffCount;
        int saved_cancel_holdoff = QueryCancelHoldoffCount;
        volatile bool failed = false;  // set in PG_CATCH, after the longjmp
        std::exception_ptr cpp_failure;
        Result volatile result{};  // written only before any longjmp, but keep gcc sure of it
        PG_TRY();
        {
            try {
                result = f();
            } catch (...) {
                cpp_failure = std::current_exception();
            }
        }
        PG_CATCH();
        {
            failed = true;
        }
        PG_END_TRY();
        if (failed)
            throw_current_pg_error(caller_context, saved_holdoff, saved_cancel_holdoff);
        if (cpp_failure)
            std::rethrow_exception(cpp_failure);
        return result;
    }
}

// The one mechanism that turns whatever C++ code throws into one error report. capture()
// runs f and keeps what it threw, as plain data, once every C++ frame of f is gone; the
// report is then raised (entry points, callbacks) or logged (background worker loops). Either
// way a lock guard that failed to release its lock is reported as the bug it is.
namespace detail {
bool capture(void (*invoke)(void *), void *f) noexcept;
[[noreturn]] void raise_captured();
void log_captured(int level, const char *context, const char *action);

// Calls the callable that f points at.
template <class F>
void invoke(void *f)
{
    (*static_cast<F *>(f))();
}

// f's address for capture(), whatever its constness (invoke<F> casts it back).
template <class F>
void *address_of(F &f)
{
    return const_cast<void *>(static_cast<const void *>(&f));
}
}  // namespace detail

// Runs f and raises whatever it throws as a PostgreSQL ERROR (SQLSTATE, detail and hint kept),
// after f's frames are unwound: for code entered from PostgreSQL that may raise an error, such
// as transaction callbacks taken before the commit record.
template <class F>
void run_raising(F &&f)
{
    using Callable = std::remove_reference_t<F>;
    if (!detail::capture(&detail::invoke<Callable>, detail::address_of(f)))
        detail::raise_captured();
}

// Runs f; whatever it throws is logged at `level`, with "context, action" as the error's
// context line, instead of raised. Returns whether f completed. For loops that must go on
// after a failure (background workers); the caller undoes what an ERROR leaves behind.
template <class F>
bool run_logging(int level, const char *context, const char *action, F &&f)
{
    using Callable = std::remove_reference_t<F>;
    if (detail::capture(&detail::invoke<Callable>, detail::address_of(f)))
        return true;
    detail::log_captured(level, context, action);
    return false;
}

// Runs an SQL function's body and reports whatever it throws as a PostgreSQL ERROR, after the
// body's frames are unwound.
Datum run_sql_function(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo);

// Runs body(context) for an entry point called from C code (the C API, src/api/) and reports
// whatever it throws as a PostgreSQL ERROR, the same way as run_sql_function, after body's
// frames are unwound. The frames between the C caller and this call must hold nothing with a
// destructor, since the ERROR passes over them.
void run_c_function(void (*body)(void *), void *context);

// Checks for query cancel and termination from C++ code (through guard()).
void check_for_interrupts();

// Counts the locks of one shared structure that this backend holds.
using HeldLockCounter = unsigned (*)();

// Registers a counter consulted whenever an error reaches an SQL entry point: by then every
// lock guard has run, so a held lock is a bug, reported as such instead of being hidden by
// the release-all of transaction abort.
void register_held_lock_counter(HeldLockCounter counter);

}  // namespace simple_cache::pg

// Defines an SQL-callable function. Use as:
//   SIMPLE_CACHE_FUNCTION(simple_cache_get) { ...body using fcinfo... }
// The body may call PostgreSQL directly only while no C++ object with a destructor is alive in
// its frame; feature code below it reaches PostgreSQL through guard().
#define SIMPLE_CACHE_FUNCTION(name)                                                             \
    static Datum name##_body(FunctionCallInfo fcinfo);                                          \
    extern "C" {                                                                                \
    PG_FUNCTION_INFO_V1(name);                                                                  \
    }                                                                                           \
    Datum name(PG_FUNCTION_ARGS) { return ::simple_cache::pg::run_sql_function(name##_body, fcinfo); } \
    static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
