// Exporting every live entry of the cache and restoring saved entries (see snapshot.hpp).
#include "simple_cache/cache/snapshot.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/cache/make_room.hpp"
#include "simple_cache/pg/startup_load.hpp"
#include "simple_cache/pg/error.hpp"

namespace simple_cache::cache {

using core::LockMode;

namespace {

// One exported entry as packed into a partition's batch, followed by its key and value bytes.
struct PackedEntry {
    pg::ScopeId scope;
    uint8_t kind;
    int64_t expires_ms;
    size_t key_size;
    size_t value_size;
};

// Appends the current entry of scan to the batch. Runs under the partition lock: it may throw
// bad_alloc (the scan's destructor then releases the lock) but never raises an ERROR.
void pack_current(std::string &batch, const CacheTable::Scan &scan)
{
    PackedEntry packed;
    packed.scope = ScopedKey::scope_of(scan.key_data());
    packed.kind = scan.entry().kind;
    packed.expires_ms = scan.entry().expires_ms();
    packed.key_size = ScopedKey::user_size(scan.key_size());
    packed.value_size = scan.entry().value_size;
    batch.append(reinterpret_cast<const char *>(&packed), sizeof packed);
    batch.append(ScopedKey::user_part(scan.key_data()), packed.key_size);
    batch.append(scan.tail(), packed.value_size);
}

// Hands every entry of a batch whose scope is live to visit; returns how many it handed.
uint64_t visit_batch(const std::string &batch, const std::vector<pg::ScopeEntry> &live,
                     const SnapshotVisitor &visit)
{
    uint64_t count = 0;
    const char *at = batch.data();
    const char *end = at + batch.size();
    while (at < end) {
        PackedEntry packed;
        std::memcpy(&packed, at, sizeof packed);
        at += sizeof packed;
        const char *key = at;
        at += packed.key_size + packed.value_size;
        const pg::DatabaseIdentity *database = pg::identity_in(live, packed.scope);
        if (database == nullptr)
            continue;
        SnapshotEntry entry{*database, static_cast<ValueKind>(packed.kind), packed.expires_ms,
                            key, packed.key_size, key + packed.key_size, packed.value_size};
        visit(entry);
        ++count;
    }
    return count;
}

}  // namespace

uint64_t export_entries(const SnapshotVisitor &visit)
{
    // Taken before the scan: an entry is saved under the identity its scope had then, so a
    // scope retired and reused during the scan can only lose entries, never mislabel them.
    std::vector<pg::ScopeEntry> live = pg::live_scopes();
    CacheTable &table = cache_table();
    CacheTable::Scan scan(table, LockMode::shared);
    std::string batch;
    uint64_t exported = 0;
    while (scan.next_partition()) {
        batch.clear();
        int64_t now = now_ms();
        while (scan.next()) {
            if (scan.key_size() < ScopedKey::kPrefixBytes || scan.entry().expired_at(now))
                continue;
            pack_current(batch, scan);
        }
        scan.release_partition();
        exported += visit_batch(batch, live, visit);
        pg::check_for_interrupts();
    }
    return exported;
}

RestoreOutcome restore_entry(pg::ScopeId scope, const char *key, size_t key_size, ValueBytes value,
                             int64_t expires_ms, bool replace_existing)
{
    if (value.size > kMaxValueBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    if (value.kind != ValueKind::text && value.kind != ValueKind::bytea)
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "simple_cache value kind is invalid");
    if (expires_ms < 0 || expires_ms > kMaxExpiresMs)
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "simple_cache expiry time is out of range");
    int64_t now = now_ms();
    if (expires_ms != 0 && expires_ms <= now)
        return RestoreOutcome::expired;

    ScopedKey scoped(scope, key, key_size);
    core::KeyView stored_key = scoped.view();
    // Marks and flushes only accumulate while the start-up load is pending, so a refusal seen
    // now is final: skip the allocation (and any eviction it would cause). The check under
    // the partition lock below still decides for keys marked from now on.
    if (!replace_existing && !pg::startup_load_may_restore_entry(stored_key))
        return RestoreOutcome::kept;
    CacheTable::NewItem item = make_item_with_room(stored_key, value.size);
    CacheEntry &entry = item.entry();
    entry.value_size = static_cast<uint32_t>(value.size);
    entry.kind = static_cast<uint8_t>(value.kind);
    entry.set_expires_ms(expires_ms);
    if (value.size > 0)
        std::memcpy(item.tail(), value.data, value.size);
    PutOutcome outcome = link_item(
        std::move(item), scoped, now,
        [&](const CacheEntry *live, const char *) {
            return replace_existing || (live == nullptr && pg::startup_load_may_restore_entry(stored_key));
        },
        false);
    return outcome.stored ? RestoreOutcome::stored : RestoreOutcome::kept;
}

}  // namespace simple_cache::cache
