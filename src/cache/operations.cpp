// The cache's data operations: put and its conditional forms, get, drop, expiry, incr, cas
// and flush (the listing is in listing.cpp).
#include "simple_cache/cache/cache.hpp"

#include <algorithm>
#include <cinttypes>
#include <memory>
#include <string>

#include "simple_cache/cache/give_back.hpp"
#include "simple_cache/cache/item_building.hpp"
#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/cache/make_room.hpp"
#include "simple_cache/cache/pending_writes.hpp"
#include "simple_cache/pg/startup_load.hpp"
#include "simple_cache/core/decimal.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/memory.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace simple_cache::cache {

using core::LockMode;

// Expiry time for a value stored now with ttl (0: never); throws for a bad ttl.
int64_t expiry_for(Ttl ttl, int64_t now)
{
    int64_t ms = 0;
    switch (ttl.kind) {
    case Ttl::Kind::none:
        return 0;
    case Ttl::Kind::setting_default:
        ms = default_ttl_ms();
        if (ms == 0)
            return 0;
        break;
    case Ttl::Kind::milliseconds:
        ms = ttl.ms;
        break;
    }
    if (ms <= 0)
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "simple_cache time to live must be positive");
    if (ms > kMaxExpiresMs - now)
        throw pg::SqlError(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "simple_cache time to live is too long");
    return now + ms;
}

namespace {

// Copies a value out of the table into a palloc'd varlena; runs under the partition lock, so it
// reports failure as bad_alloc instead of raising an ERROR.
varlena *copy_value(const CacheEntry &entry, const char *tail)
{
    auto *result = static_cast<varlena *>(pg::palloc_or_null(VARHDRSZ + entry.value_size));
    if (result == nullptr)
        throw std::bad_alloc();
    SET_VARSIZE(result, VARHDRSZ + entry.value_size);
    std::memcpy(VARDATA(result), tail, entry.value_size);
    return result;
}

// Removes key if it is expired (after a reader found it so under a shared lock).
void reap_if_expired(core::KeyView key)
{
    CacheTable::Ref ref = cache_table().find(key, LockMode::exclusive);
    if (ref && ref.entry().expired_at(now_ms())) {
        count_removed(ref.entry(), ref.key_data(), ref.key_size());
        cache_counters().add(kExpirations, 1);
        cache_table().erase(std::move(ref));
    }
}

}  // namespace

// Builds an item for key holding value, expiring at `expires` (0: never), making room first
// when the area is full.
CacheTable::NewItem build_item(const ScopedKey &key, const ValueBytes &value, int64_t expires)
{
    if (value.size > kMaxValueBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    CacheTable::NewItem item = make_item_with_room(key.view(), value.size);
    CacheEntry &entry = item.entry();
    entry.value_size = static_cast<uint32_t>(value.size);
    entry.kind = static_cast<uint8_t>(value.kind);
    entry.set_expires_ms(expires);
    if (value.size > 0)
        std::memcpy(item.tail(), value.data, value.size);
    return item;
}

// Parses a stored value as PostgreSQL's bigint input would, or throws 22P02 (not an integer)
// or 22003 (outside bigint).
int64_t parse_counter(const char *data, size_t size)
{
    int64_t value = 0;
    core::ParsedInt parsed = core::parse_int64(data, size, &value);
    if (parsed != core::ParsedInt::ok)
        throw pg::SqlError(parsed == core::ParsedInt::out_of_range ? ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE
                                                                   : ERRCODE_INVALID_TEXT_REPRESENTATION,
                           "simple_cache value is not a 64-bit integer",
                           "simple_cache_incr() needs the stored value to be an integer.");
    return value;
}

namespace {

// Removes every entry whose scope `matches`, one partition at a time under its exclusive
// lock, checking for cancel between partitions; returns how many it removed.
template <class Matches>
uint64_t remove_entries_where(Matches &&matches)
{
    CacheTable::Scan scan(cache_table(), LockMode::exclusive);
    uint64_t removed = 0;
    while (scan.next_partition()) {
        while (scan.next()) {
            if (!matches(ScopedKey::scope_of(scan.key_data())))
                continue;
            count_removed(scan.entry(), scan.key_data(), scan.key_size());
            scan.erase_current();
            ++removed;
        }
        scan.release_partition();
        pg::check_for_interrupts();
    }
    scan.finish();  // and a shrink of the table, which frees its large bucket array
    return removed;
}

// Whether key holds a live value (and, when compare is set, one equal to expected), seen under
// the partition's shared lock. Only a hint for skipping work: the write decides again under
// its exclusive lock.
bool live_value_matches(const ScopedKey &key, int64_t now, const char *expected, size_t expected_size, bool compare)
{
    CacheTable::Ref ref = cache_table().find(key.view(), LockMode::shared);
    if (!ref || ref.entry().expired_at(now))
        return false;
    if (!compare)
        return true;
    return ref.entry().value_size == expected_size &&
           (expected_size == 0 || std::memcmp(ref.tail(), expected, expected_size) == 0);
}

}  // namespace

PutOutcome put(const char *key, size_t key_size, ValueBytes value, PutMode mode, Ttl ttl)
{
    ScopedKey scoped(key, key_size);
    pg::note_write_during_startup_load(scoped.view());
    int64_t now = now_ms();
    int64_t expires = expiry_for(ttl, now);
    if (value.size > kMaxValueBytes)  // bad input is refused whether or not the write would store
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    if (mode != PutMode::upsert) {
        // A write that will not store needs no room: make none (evicting nothing) for it.
        bool present = live_value_matches(scoped, now, nullptr, 0, false);
        if (present == (mode == PutMode::add))
            return PutOutcome{present, false};
    }
    CacheTable::NewItem item = build_item(scoped, value, expires);
    void_leases(scoped);  // a lease holder's value may be older than this one
    PutOutcome outcome = link_item(std::move(item), scoped, now, [mode](const CacheEntry *live, const char *) {
        return mode == PutMode::upsert || (mode == PutMode::add) == (live == nullptr);
    });
    if (outcome.stored)
        keep_database_within_limit_after_write(scoped);
    sweep_expired_lightly();
    give_back_segments_if_due();
    return outcome;
}

varlena *get(const char *key, size_t key_size, ValueKind as)
{
    if (PendingRead pending = read_pending(key, key_size, as); pending.decided)
        return pending.value;  // this transaction's own write, queued for its commit
    ScopedKey scoped(key, key_size);
    varlena *value = nullptr;
    bool expired = false;
    ValueKind stored_kind = ValueKind::text;
    {
        CacheTable::Ref ref = cache_table().find(scoped.view(), LockMode::shared);
        if (ref) {
            CacheEntry &entry = ref.entry();
            if (entry.expired_at(entry.has_expiry() ? now_ms() : 0)) {
                expired = true;
            } else {
                if (__atomic_load_n(&entry.referenced, __ATOMIC_RELAXED) == 0)
                    __atomic_store_n(&entry.referenced, 1, __ATOMIC_RELAXED);
                stored_kind = static_cast<ValueKind>(entry.kind);
                value = copy_value(entry, ref.tail());
            }
        }
    }
    cache_counters().add(value != nullptr ? kHits : kMisses, 1);
    if (expired)
        reap_if_expired(scoped.view());
    if (value != nullptr && as == ValueKind::text && stored_kind == ValueKind::bytea &&
        !pg_verifymbstr(VARDATA(value), static_cast<int>(VARSIZE(value) - VARHDRSZ), true))
        throw pg::SqlError(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                           "simple_cache value is not valid text in this database's encoding",
                           "The value was stored as bytea.", "Read it with simple_cache_get_bytea().");
    return value;
}

namespace {

// What get_many() learned about one key of its batch.
enum class BatchState : uint8_t {
    absent,    // looked up, not found (or not looked up yet)
    pending,   // decided by this transaction's pending writes
    found,     // a live value, copied
    expired,   // found expired
    deferred,  // found, but its value would pass the byte budget: left for the next call
};

// Raises 22021 when a value stored as bytea and read as text is not valid in the database
// encoding (as get() does).
void check_text_value(const varlena *value)
{
    if (!pg_verifymbstr(VARDATA(value), static_cast<int>(VARSIZE(value) - VARHDRSZ), true))
        throw pg::SqlError(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                           "simple_cache value is not valid text in this database's encoding",
                           "The value was stored as bytea.", "Read it with simple_cache_get_bytea().");
}

}  // namespace

size_t get_many(const BatchKey *keys, size_t count, ValueKind as, size_t byte_budget, varlena **values)
{
    count = std::min(count, kMaxBatchKeys);
    if (count == 0)
        return 0;
    BatchState state[kMaxBatchKeys];
    uint8_t stored_kind[kMaxBatchKeys];
    size_t used = 0;  // bytes of the values this call holds
    // 1. In order: where the call must end (a key get() refuses), and this transaction's own
    // pending writes, which decide a key without the table. A failure on a later key ends the
    // call before it, so that errors come in the order of the keys.
    size_t limit = count;
    size_t lookups = 0;
    size_t key_bytes = 0;
    for (size_t i = 0; i < count && limit == count; ++i) {
        values[i] = nullptr;
        state[i] = BatchState::absent;
        if (keys[i].size > kMaxKeyBytes) {
            if (i == 0)
                ScopedKey refused(keys[i].data, keys[i].size);  // raises get()'s error
            limit = i;
            break;
        }
        PendingRead pending;
        try {
            pending = read_pending(keys[i].data, keys[i].size, as);
        } catch (...) {
            if (i == 0)
                throw;
            limit = i;
            break;
        }
        if (!pending.decided) {
            ++lookups;
            key_bytes += ScopedKey::kPrefixBytes + keys[i].size;
            continue;
        }
        state[i] = BatchState::pending;
        values[i] = pending.value;
        size_t size = pending.value != nullptr ? VARSIZE(pending.value) - VARHDRSZ : 0;
        if (i > 0 && used + size > byte_budget) {
            limit = i;
            break;
        }
        used += size;
    }
    // 2. The table: every key still open, in one batch lookup.
    if (lookups > 0) {
        pg::ScopeId scope = pg::current_scope();
        std::unique_ptr<char[]> scoped(new char[key_bytes]);
        core::KeyView views[kMaxBatchKeys];
        uint16_t key_of_view[kMaxBatchKeys];
        uint32_t hashes[kMaxBatchKeys];
        uint32_t order[kMaxBatchKeys];
        uint32_t n = 0;
        char *at = scoped.get();
        for (size_t i = 0; i < limit; ++i) {
            if (state[i] != BatchState::absent)
                continue;
            std::memcpy(at, &scope, ScopedKey::kPrefixBytes);
            if (keys[i].size > 0)
                std::memcpy(at + ScopedKey::kPrefixBytes, keys[i].data, keys[i].size);
            views[n] = core::KeyView{at, static_cast<uint32_t>(ScopedKey::kPrefixBytes + keys[i].size)};
            key_of_view[n++] = static_cast<uint16_t>(i);
            at += ScopedKey::kPrefixBytes + keys[i].size;
        }
        int64_t now = now_ms();
        cache_table().find_batch(views, n, hashes, order, [&](uint32_t v, CacheEntry &entry, const char *tail) {
            size_t i = key_of_view[v];
            if (entry.expired_at(entry.has_expiry() ? now : 0)) {
                state[i] = BatchState::expired;
                return;
            }
            if (i > 0 && used + entry.value_size > byte_budget) {
                state[i] = BatchState::deferred;
                return;
            }
            if (__atomic_load_n(&entry.referenced, __ATOMIC_RELAXED) == 0)
                __atomic_store_n(&entry.referenced, 1, __ATOMIC_RELAXED);
            stored_kind[i] = entry.kind;
            values[i] = copy_value(entry, tail);  // bad_alloc ends the batch and releases the lock
            used += entry.value_size;
            state[i] = BatchState::found;
        });
        // 3. In order, as get() would for each key: counters, expired entries, encoding. A
        // value too large for a row ends the call after its key, so that the caller reports it
        // before anything about a later key.
        int64_t hits = 0;
        int64_t misses = 0;
        struct CountOnExit {  // the counters of the decided keys, also when an error ends the call
            int64_t &hits, &misses;
            ~CountOnExit()
            {
                if (hits > 0)
                    cache_counters().add(kHits, hits);
                if (misses > 0)
                    cache_counters().add(kMisses, misses);
            }
        } count_on_exit{hits, misses};
        uint32_t v = 0;  // the view of key i, for keys that were looked up
        for (size_t i = 0; i < limit; ++i) {
            if (state[i] == BatchState::pending) {
                if (values[i] != nullptr && !fits_in_row(keys[i].size, VARSIZE(values[i]) - VARHDRSZ))
                    return i + 1;
                continue;
            }
            core::KeyView view = views[v++];
            switch (state[i]) {
            case BatchState::deferred:
                return i;
            case BatchState::absent:
                ++misses;
                break;
            case BatchState::expired:
                ++misses;
                reap_if_expired(view);
                break;
            case BatchState::found:
                ++hits;
                if (as == ValueKind::text && static_cast<ValueKind>(stored_kind[i]) == ValueKind::bytea)
                    check_text_value(values[i]);
                if (!fits_in_row(keys[i].size, VARSIZE(values[i]) - VARHDRSZ))
                    return i + 1;
                break;
            case BatchState::pending:
                break;
            }
        }
        return limit;
    }
    for (size_t i = 0; i < limit; ++i)
        if (values[i] != nullptr && !fits_in_row(keys[i].size, VARSIZE(values[i]) - VARHDRSZ))
            return i + 1;
    return limit;
}

bool drop(const char *key, size_t key_size)
{
    ScopedKey scoped(key, key_size);
    pg::note_write_during_startup_load(scoped.view());
    bool live = drop_scoped(scoped);
    sweep_expired_lightly();
    give_back_segments_if_due();
    return live;
}

bool drop_scoped(const ScopedKey &scoped)
{
    void_leases(scoped);  // before the removal: a holder's put then either fails or is removed
    CacheTable &table = cache_table();
    CacheTable::Ref ref = table.find(scoped.view(), LockMode::exclusive);
    if (!ref)
        return false;
    bool live = !ref.entry().expired_at(ref.entry().has_expiry() ? now_ms() : 0);
    count_removed(ref.entry(), ref.key_data(), ref.key_size());
    table.erase(std::move(ref));
    cache_counters().add(live ? kDrops : kExpirations, 1);
    return live;
}

varlena *get_and_drop(const char *key, size_t key_size, ValueKind as)
{
    ScopedKey scoped(key, key_size);
    pg::note_write_during_startup_load(scoped.view());
    varlena *value = nullptr;
    bool expired = false;
    void_leases(scoped);
    {
        CacheTable &table = cache_table();
        CacheTable::Ref ref = table.find(scoped.view(), LockMode::exclusive);
        if (!ref)
            return nullptr;
        CacheEntry &entry = ref.entry();
        expired = entry.expired_at(entry.has_expiry() ? now_ms() : 0);
        if (!expired) {
            // Checked before anything changes: a value that cannot be returned stays stored.
            if (as == ValueKind::text && static_cast<ValueKind>(entry.kind) == ValueKind::bytea &&
                !pg_verifymbstr(ref.tail(), static_cast<int>(entry.value_size), true))
                throw pg::SqlError(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                                   "simple_cache value is not valid text in this database's encoding",
                                   "The value was stored as bytea.",
                                   "Read it with simple_cache_get_and_drop_bytea().");
            value = copy_value(entry, ref.tail());
        }
        count_removed(entry, ref.key_data(), ref.key_size());
        table.erase(std::move(ref));
    }
    cache_counters().add(expired ? kExpirations : kDrops, 1);
    cache_counters().add(expired ? kMisses : kHits, 1);
    sweep_expired_lightly();
    give_back_segments_if_due();
    return value;
}

bool expire(const char *key, size_t key_size, int64_t ttl_ms)
{
    ScopedKey scoped(key, key_size);
    pg::note_write_during_startup_load(scoped.view());
    int64_t now = now_ms();
    int64_t expires = expiry_for(Ttl::after_ms(ttl_ms), now);
    CacheTable::Ref ref = cache_table().find(scoped.view(), LockMode::exclusive);
    if (!ref || ref.entry().expired_at(now))
        return false;
    if (!ref.entry().has_expiry())
        cache_counters().add(kEntriesWithTtl, 1);
    ref.entry().set_expires_ms(expires);
    return true;
}

bool ttl(const char *key, size_t key_size, int64_t *remaining_ms)
{
    ScopedKey scoped(key, key_size);
    int64_t now = now_ms();
    CacheTable::Ref ref = cache_table().find(scoped.view(), LockMode::shared);
    if (!ref || ref.entry().expired_at(now))
        return false;
    *remaining_ms = ref.entry().has_expiry() ? ref.entry().expires_ms() - now : -1;
    return true;
}

// An optimistic loop: read the counter, build the new value, and store it only if the value
// is still the one read (or still absent). Concurrent increments retry; none is lost.
int64_t incr(const char *key, size_t key_size, int64_t delta, Ttl ttl_on_create)
{
    ScopedKey scoped(key, key_size);
    pg::note_write_during_startup_load(scoped.view());
    expiry_for(ttl_on_create, now_ms());  // a bad ttl is refused whether or not the key exists
    for (;;) {
        int64_t now = now_ms();
        bool present = false;
        std::string seen;
        int64_t expires = expiry_for(ttl_on_create, now);  // kept below when the key exists
        {
            CacheTable::Ref ref = cache_table().find(scoped.view(), LockMode::shared);
            if (ref && !ref.entry().expired_at(now)) {
                present = true;
                seen.assign(ref.tail(), ref.entry().value_size);
                expires = ref.entry().expires_ms();
                if (static_cast<ValueKind>(ref.entry().kind) != ValueKind::text)
                    throw pg::SqlError(ERRCODE_INVALID_TEXT_REPRESENTATION,
                                       "simple_cache value is not a 64-bit integer",
                                       "The value was stored as bytea.");
            }
        }
        int64_t result = delta;
        if (present && pg_add_s64_overflow(parse_counter(seen.data(), seen.size()), delta, &result))
            throw pg::SqlError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "simple_cache_incr result is out of range for bigint");
        char digits[32];
        int length = snprintf(digits, sizeof digits, "%lld", static_cast<long long>(result));
        CacheTable::NewItem item =
            build_item(scoped, ValueBytes{digits, static_cast<size_t>(length), ValueKind::text}, expires);
        void_leases(scoped);
        PutOutcome outcome = link_item(std::move(item), scoped, now, [&](const CacheEntry *live, const char *tail) {
            if (!present)
                return live == nullptr;
            return live != nullptr && live->value_size == seen.size() &&
                   std::memcmp(tail, seen.data(), seen.size()) == 0;
        }, true, false);
        if (outcome.stored)
            return result;
    }
}

bool cas(const char *key, size_t key_size, const char *expected, size_t expected_size, ValueBytes new_value)
{
    ScopedKey scoped(key, key_size);
    pg::note_write_during_startup_load(scoped.view());
    int64_t now = now_ms();
    if (new_value.size > kMaxValueBytes)  // bad input is refused whether or not it would swap
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    if (!live_value_matches(scoped, now, expected, expected_size, true))
        return false;  // would not swap: make no room (evicting nothing) for it
    CacheTable::NewItem item = build_item(scoped, new_value, 0);
    CacheEntry *fresh = &item.entry();
    void_leases(scoped);
    PutOutcome outcome = link_item(std::move(item), scoped, now, [&](const CacheEntry *live, const char *tail) {
        if (live == nullptr || live->value_size != expected_size ||
            (expected_size > 0 && std::memcmp(tail, expected, expected_size) != 0))
            return false;
        fresh->set_expires_ms(live->expires_ms());  // a swap keeps the key's expiry
        return true;
    }, true, false);
    if (outcome.stored)
        keep_database_within_limit_after_write(scoped);
    give_back_segments_if_due();
    return outcome.stored;
}

uint64_t flush()
{
    pg::ScopeId scope = pg::current_scope();
    pg::note_flush_during_startup_load(scope);
    void_scope_leases(scope);
    uint64_t removed = remove_entries_where([scope](pg::ScopeId of) { return of == scope; });
    give_back_segments();
    return removed;
}

void purge_scopes(const pg::ScopeId *scopes, size_t count)
{
    if (!cache_exists())
        return;
    remove_entries_where([=](pg::ScopeId of) { return std::find(scopes, scopes + count, of) != scopes + count; });
}

}  // namespace simple_cache::cache
