// The C API's entry points (include/simple_cache/api/simple_cache_api.h): the SQL layer's
// counterpart for callers in C. Each function checks its arguments as the SQL function of the
// same name does, calls the feature, and runs all of that through run_c_function(), which
// raises any failure as a PostgreSQL ERROR with the SQL functions' SQLSTATE once the C++ frames
// are gone. The frames an ERROR passes over on its way to the C caller (call_from_c() and the
// entry points) hold only pointers and scalars.
#include "simple_cache/api/c_api.hpp"

#include <string>
#include <type_traits>
#include <vector>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/fsm/fsm.hpp"
#include "simple_cache/fsm/privileges.hpp"
#include "simple_cache/pg/database_scope.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/postgres.hpp"

#include "simple_cache/api/simple_cache_api.h"

extern "C" {
#include "access/xact.h"
}

namespace simple_cache::api {

namespace {

using pg::SqlError;

// Runs f (which throws on failure) for a C caller and returns its result; a failure becomes a
// PostgreSQL ERROR raised by run_c_function after f's frames have unwound.
template <class F>
auto call_from_c(F &&f) -> decltype(f())
{
    using Result = decltype(f());
    static_assert(std::is_trivially_destructible_v<std::remove_reference_t<F>>,
                  "an ERROR passes over the caller's frame: capture only references and scalars");
    static_assert(std::is_scalar_v<Result>, "results cross to C as plain values");
    struct Call {
        std::remove_reference_t<F> *f;
        Result result;
    } call{&f, Result{}};
    pg::run_c_function([](void *context) {
        auto *c = static_cast<Call *>(context);
        c->result = (*c->f)();
    }, &call);
    return call.result;
}

// Refuses a call made where the current database's data cannot be reached: outside a
// transaction (25000), in a process connected to no database, or in a database without the
// extension (55000).
void check_calling_context(const char *function)
{
    if (!IsTransactionState())
        throw SqlError(ERRCODE_INVALID_TRANSACTION_STATE,
                       std::string(function) + ": simple_cache's C API must be called inside a transaction");
    if (!OidIsValid(MyDatabaseId))
        throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                       std::string(function) + ": simple_cache's C API needs a process connected to a database");
    if (!pg::extension_in_current_database())
        throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                       std::string(function) + ": extension \"simple_cache\" is not installed in this database",
                       "Keys and relations belong to the current database, which needs the extension.",
                       "Run CREATE EXTENSION simple_cache in it.");
}

// Raises 22004 when a pointer argument is NULL (the SQL functions' NULL argument).
void reject_null(const void *pointer, const char *function, const char *name)
{
    if (pointer == nullptr)
        throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(function) + ": " + name + " must not be NULL");
}

// put's ttl_ms as the cache's Ttl: a positive number of milliseconds or one of the
// SIMPLE_CACHE_TTL_* values, else 22023 (SQL: a zero or negative interval).
cache::Ttl ttl_of(int64 ttl_ms, const char *function)
{
    if (ttl_ms == SIMPLE_CACHE_TTL_NONE)
        return cache::Ttl::never();
    if (ttl_ms == SIMPLE_CACHE_TTL_DEFAULT)
        return cache::Ttl::from_setting();
    if (ttl_ms <= 0)
        throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                       std::string(function) + ": time to live must be positive",
                       "ttl_ms is " + std::to_string(ttl_ms) +
                           "; besides a positive number of milliseconds it may be SIMPLE_CACHE_TTL_NONE (-1) "
                           "or SIMPLE_CACHE_TTL_DEFAULT (-2).");
    return cache::Ttl::after_ms(ttl_ms);
}

// put's kind: SIMPLE_CACHE_VALUE_TEXT or SIMPLE_CACHE_VALUE_BYTEA, else 22023.
cache::ValueKind kind_of(int kind, const char *function)
{
    if (kind == SIMPLE_CACHE_VALUE_TEXT)
        return cache::ValueKind::text;
    if (kind == SIMPLE_CACHE_VALUE_BYTEA)
        return cache::ValueKind::bytea;
    throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(function) + ": invalid value kind " + std::to_string(kind),
                   "The kind is SIMPLE_CACHE_VALUE_TEXT (0) or SIMPLE_CACHE_VALUE_BYTEA (1).");
}

// put's mode: one of SIMPLE_CACHE_PUT_*, else 22023.
cache::PutMode mode_of(int mode, const char *function)
{
    switch (mode) {
    case SIMPLE_CACHE_PUT_UPSERT:
        return cache::PutMode::upsert;
    case SIMPLE_CACHE_PUT_ADD:
        return cache::PutMode::add;
    case SIMPLE_CACHE_PUT_REPLACE:
        return cache::PutMode::replace;
    default:
        throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, std::string(function) + ": invalid put mode " + std::to_string(mode),
                       "The mode is SIMPLE_CACHE_PUT_UPSERT (0), SIMPLE_CACHE_PUT_ADD (1) or SIMPLE_CACHE_PUT_REPLACE (2).");
    }
}

// A block number argument: 0 .. MaxBlockNumber, else 22023 (as the SQL functions check).
uint32_t block_number(BlockNumber block, const char *function, const char *name)
{
    if (block > MaxBlockNumber)
        throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                       std::string(function) + ": " + name + " " + std::to_string(block) + " is not a valid block number",
                       "Block numbers go from 0 to " + std::to_string(MaxBlockNumber) + ".");
    return block;
}

// An amount of free bytes (free space or a request): 0 .. BLCKSZ, else 22023.
fsm::Avail amount(int32 value, const char *function, const char *name)
{
    if (value < 0 || value > BLCKSZ)
        throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                       std::string(function) + ": " + name + " " + std::to_string(value) + " is out of range",
                       "Free space is counted in bytes, from 0 to the block size, " + std::to_string(BLCKSZ) + ".");
    return static_cast<fsm::Avail>(value);
}

}  // namespace

}  // namespace simple_cache::api

namespace sc = simple_cache;
using sc::api::call_from_c;
using sc::api::check_calling_context;
using sc::api::reject_null;

extern "C" {

// SimpleCacheApi.get: the value as a bytea palloc'd in CurrentMemoryContext, or NULL.
static bytea *api_get(const char *key, size_t key_len)
{
    return call_from_c([&]() -> bytea * {
        const char *function = "simple_cache api->get";
        check_calling_context(function);
        reject_null(key, function, "key");
        return sc::cache::get(key, key_len, sc::cache::ValueKind::bytea);
    });
}

// SimpleCacheApi.put: simple_cache_put, _add or _replace, by mode.
static bool api_put(const char *key, size_t key_len, const char *value, size_t value_len, int kind, int mode,
                    int64 ttl_ms)
{
    return call_from_c([&]() -> bool {
        const char *function = "simple_cache api->put";
        check_calling_context(function);
        reject_null(key, function, "key");
        reject_null(value, function, "value");
        sc::cache::ValueKind value_kind = sc::api::kind_of(kind, function);
        sc::cache::PutMode put_mode = sc::api::mode_of(mode, function);
        sc::cache::Ttl ttl = sc::api::ttl_of(ttl_ms, function);
        sc::cache::PutOutcome outcome =
            sc::cache::put(key, key_len, sc::cache::ValueBytes{value, value_len, value_kind}, put_mode, ttl);
        return put_mode == sc::cache::PutMode::upsert ? outcome.existed : outcome.stored;
    });
}

// SimpleCacheApi.drop: simple_cache_drop.
static bool api_drop(const char *key, size_t key_len)
{
    return call_from_c([&]() -> bool {
        const char *function = "simple_cache api->drop";
        check_calling_context(function);
        reject_null(key, function, "key");
        return sc::cache::drop(key, key_len);
    });
}

// SimpleCacheApi.incr: simple_cache_incr.
static int64 api_incr(const char *key, size_t key_len, int64 delta)
{
    return call_from_c([&]() -> int64 {
        const char *function = "simple_cache api->incr";
        check_calling_context(function);
        reject_null(key, function, "key");
        return sc::cache::incr(key, key_len, delta);
    });
}

// SimpleCacheApi.fsm_record_many: simple_cache_fsm_record_many, with the same right (maintain)
// and checks; blocks may be NULL only for an empty report.
static uint32 api_fsm_record_many(Oid relid, const BlockNumber *blocks, const int32 *avail, size_t n)
{
    return call_from_c([&]() -> uint32 {
        const char *function = "simple_cache api->fsm_record_many";
        check_calling_context(function);
        sc::fsm::check_right(function, relid, sc::fsm::Right::maintain);
        if (n > static_cast<size_t>(MaxBlockNumber) + 1)
            throw sc::pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                                   std::string(function) + ": a report of " + std::to_string(n) + " pages is too long",
                                   "A relation has at most " + std::to_string(static_cast<uint64>(MaxBlockNumber) + 1) +
                                       " pages.");
        if (n > 0)
            reject_null(blocks, function, "blocks");
        std::vector<sc::fsm::Avail> amounts;
        if (avail != nullptr)
            amounts.resize(n);
        for (size_t i = 0; i < n; ++i) {
            sc::api::block_number(blocks[i], function, "block");
            if (avail != nullptr)
                amounts[i] = sc::api::amount(avail[i], function, "avail");
        }
        return sc::fsm::record_many(relid, blocks, avail != nullptr ? amounts.data() : nullptr, n);
    });
}

// SimpleCacheApi.fsm_record: simple_cache_fsm_record (right: use).
static bool api_fsm_record(Oid relid, BlockNumber block, int32 avail)
{
    return call_from_c([&]() -> bool {
        const char *function = "simple_cache api->fsm_record";
        check_calling_context(function);
        sc::fsm::check_right(function, relid, sc::fsm::Right::use);
        uint32_t page = sc::api::block_number(block, function, "block");
        sc::fsm::Avail free_bytes = sc::api::amount(avail, function, "avail");
        return sc::fsm::record(relid, page, free_bytes);
    });
}

// SimpleCacheApi.fsm_get_page: simple_cache_fsm_get_page (right: use); InvalidBlockNumber
// for none.
static BlockNumber api_fsm_get_page(Oid relid, int32 needed)
{
    return call_from_c([&]() -> BlockNumber {
        const char *function = "simple_cache api->fsm_get_page";
        check_calling_context(function);
        sc::fsm::check_right(function, relid, sc::fsm::Right::use);
        sc::fsm::Avail request = sc::api::amount(needed, function, "needed");
        return sc::fsm::get_page(relid, request);
    });
}

// SimpleCacheApi.fsm_record_and_get_page: simple_cache_fsm_record_and_get_page (right: use).
static BlockNumber api_fsm_record_and_get_page(Oid relid, BlockNumber old_block, int32 old_avail, int32 needed)
{
    return call_from_c([&]() -> BlockNumber {
        const char *function = "simple_cache api->fsm_record_and_get_page";
        check_calling_context(function);
        sc::fsm::check_right(function, relid, sc::fsm::Right::use);
        uint32_t page = sc::api::block_number(old_block, function, "old_block");
        sc::fsm::Avail free_bytes = sc::api::amount(old_avail, function, "old_avail");
        sc::fsm::Avail request = sc::api::amount(needed, function, "needed");
        return sc::fsm::record_and_get_page(relid, page, free_bytes, request);
    });
}

}  // extern "C"

namespace simple_cache::api {

namespace {

// The published struct: static, so its address stays valid for the life of the process.
const SimpleCacheApi published = {
    SIMPLE_CACHE_API_VERSION,
    sizeof(SimpleCacheApi),
    api_get,
    api_put,
    api_drop,
    api_incr,
    api_fsm_record_many,
    api_fsm_record,
    api_fsm_get_page,
    api_fsm_record_and_get_page,
};

static_assert(sc::fsm::kInvalidBlock == InvalidBlockNumber, "fsm_get_page returns InvalidBlockNumber for none");

}  // namespace

void init()
{
    void **slot = find_rendezvous_variable(SIMPLE_CACHE_API_RENDEZVOUS);
    *slot = const_cast<SimpleCacheApi *>(&published);
}

}  // namespace simple_cache::api
