// The cache's data operations: put, get, drop, list and the size limit.
#include "simple_cache/cache/cache.hpp"

#include <string>

#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/table.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/memory.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

using core::LockMode;

namespace {

// The error for a put that does not fit in the area.
[[noreturn]] void throw_cache_full(size_t key_size, size_t value_size)
{
    uint64_t limit = pg::attach().control->size_limit.load(std::memory_order_relaxed);
    std::string detail = "An entry with a " + std::to_string(key_size) + "-byte key and a " +
                         std::to_string(value_size) + "-byte value does not fit";
    detail += limit != 0 ? " within the size limit of " + std::to_string(limit) + " bytes."
                         : " in the shared memory available.";
    throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache is out of shared memory", detail,
                       "Drop entries or raise the limit with simple_cache_set_size_limit().");
}

// One listed entry, packed into the per-partition batch buffer.
struct PackedHeader {
    size_t key_size;
    size_t value_size;
};

// Appends a stored entry's user key and value to the batch.
void pack(std::string &batch, const char *key, size_t key_size, const char *value, size_t value_size)
{
    PackedHeader header{key_size, value_size};
    batch.append(reinterpret_cast<const char *>(&header), sizeof header);
    batch.append(key, key_size);
    batch.append(value, value_size);
}

// Hands every packed entry of the batch to emit, then checks for cancel. Plain PostgreSQL
// work, run under guard().
void emit_batch(const std::string &batch, ListEmitter emit, void *context)
{
    const char *at = batch.data();
    const char *end = at + batch.size();
    while (at < end) {
        PackedHeader header;
        std::memcpy(&header, at, sizeof header);
        at += sizeof header;
        const char *key = at;
        const char *value = key + header.key_size;
        at = value + header.value_size;
        emit(context, key, header.key_size, value, header.value_size);
    }
    CHECK_FOR_INTERRUPTS();
}

}  // namespace

bool put(const char *key, size_t key_size, const char *value, size_t value_size)
{
    ScopedKey scoped(key, key_size);
    if (value_size > kMaxValueBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    CacheTable &table = cache_table();
    CacheTable::NewItem item = table.make_item(scoped.view(), value_size);
    if (!item)
        throw_cache_full(key_size, value_size);
    item.entry().value_size = static_cast<uint32_t>(value_size);
    if (value_size > 0)
        std::memcpy(item.tail(), value, value_size);
    core::UpsertResult result =
        table.upsert(std::move(item), [](const CacheEntry *, const char *) { return true; });
    return result.existed;
}

text *get(const char *key, size_t key_size)
{
    ScopedKey scoped(key, key_size);
    CacheTable::Ref ref = cache_table().find(scoped.view(), LockMode::shared);
    if (!ref)
        return nullptr;
    size_t value_size = ref.entry().value_size;
    auto *result = static_cast<text *>(pg::palloc_or_null(VARHDRSZ + value_size));
    if (result == nullptr)
        throw std::bad_alloc();
    SET_VARSIZE(result, VARHDRSZ + value_size);
    std::memcpy(VARDATA(result), ref.tail(), value_size);
    return result;
}

bool drop(const char *key, size_t key_size)
{
    ScopedKey scoped(key, key_size);
    return cache_table().erase(scoped.view());
}

void list(ListEmitter emit, void *context)
{
    CacheTable &table = cache_table();
    CacheTable::Scan scan(table, LockMode::shared);
    std::string batch;
    while (scan.next_partition()) {
        batch.clear();
        while (scan.next()) {
            if (!ScopedKey::in_current_database(scan.key_data(), scan.key_size()))
                continue;
            pack(batch, ScopedKey::user_part(scan.key_data()), ScopedKey::user_size(scan.key_size()),
                 scan.tail(), scan.entry().value_size);
        }
        scan.release_partition();
        pg::guard([&] { emit_batch(batch, emit, context); });
    }
}

void set_size_limit(int64_t bytes)
{
    if (bytes <= 0)
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "simple_cache size limit must be positive",
                           "The limit given was " + std::to_string(bytes) + " bytes.");
    pg::Attachment &attachment = pg::attach();
    dsa_area *area = attachment.area;
    pg::guard([=] { dsa_set_size_limit(area, static_cast<size_t>(bytes)); });
    attachment.control->size_limit.store(static_cast<uint64_t>(bytes), std::memory_order_relaxed);
}

}  // namespace simple_cache::cache
