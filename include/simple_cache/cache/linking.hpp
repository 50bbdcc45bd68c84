// Linking built items into the cache table while keeping the shared counters right. Shared by
// the data operations (operations.cpp) and the restoring of saved entries (snapshot.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/item_building.hpp"  // expiry_for, build_item
#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/replica_fences.hpp"
#include "simple_cache/cache/table.hpp"

namespace simple_cache::cache {

// Accounts for an entry leaving the table (removed or replaced), under its stored key.
inline void count_removed(const CacheEntry &entry, const void *stored_key, size_t stored_key_size)
{
    CacheCounters &c = cache_counters();
    c.add(kKeyValueBytes, -static_cast<int64_t>(ScopedKey::user_size(stored_key_size) + entry.value_size));
    if (entry.has_expiry())
        c.add(kEntriesWithTtl, -1);
    size_t bytes = CacheTable::item_bytes(stored_key_size, entry.value_size);
    if (bytes > core::kLargestSmallObject)
        c.add(kLargeEntries, -1);
    pg::add_scope_usage(ScopedKey::scope_of(stored_key), kScopeCacheBytes, -static_cast<int64_t>(bytes));
}

// Accounts for an entry entering the table under its stored key.
inline void count_added(const CacheEntry &entry, const void *stored_key, size_t stored_key_size)
{
    CacheCounters &c = cache_counters();
    c.add(kKeyValueBytes, static_cast<int64_t>(ScopedKey::user_size(stored_key_size) + entry.value_size));
    if (entry.has_expiry())
        c.add(kEntriesWithTtl, 1);
    size_t bytes = CacheTable::item_bytes(stored_key_size, entry.value_size);
    if (bytes > core::kLargestSmallObject)
        c.add(kLargeEntries, 1);
    pg::add_scope_usage(ScopedKey::scope_of(stored_key), kScopeCacheBytes, static_cast<int64_t>(bytes));
}

// Parses a stored counter as bigint input would; throws 22P02 (not an integer) or 22003.
int64_t parse_counter(const char *data, size_t size);

// The ordinary drop of a stored key (operations.cpp), without the housekeeping that follows a
// drop. It takes no memory and raises no error once this backend is attached to the cache, so
// the writes applied at commit use it. Returns whether a live value was removed.
bool drop_scoped(const ScopedKey &key);

// Links item under its key when allow(existing live entry or nullptr, its value) says so,
// keeping the counters right; a stored item counts as a put unless count_as_put is false. An
// expired entry counts as absent and is replaced. Unless respect_fences is false (an increment
// or a swap, which act on the cache's own value), a key fenced by a replayed invalidation whose
// commit is not visible yet is not stored (replica_fences.hpp), checked under the partition
// lock that the replay's drop takes after installing the fence.
template <class Allow>
PutOutcome link_item(CacheTable::NewItem &&item, const ScopedKey &key, int64_t now, Allow &&allow,
                     bool count_as_put = true, bool respect_fences = true)
{
    core::KeyView stored = key.view();
    if (respect_fences && replica_fences_active())
        resolve_finished_fences();
    const CacheEntry *fresh = item ? &item.entry() : nullptr;  // valid until linked or freed
    CacheEntry added{};
    bool saw_live = false;
    bool replaced_any = false;
    CacheEntry replaced{};
    core::UpsertResult result = cache_table().upsert(
        std::move(item), [&](const CacheEntry *existing, const char *tail) {
            saw_live = existing != nullptr && !existing->expired_at(now);
            if (respect_fences && put_is_fenced(stored))
                return false;
            if (!allow(saw_live ? existing : nullptr, saw_live ? tail : nullptr))
                return false;
            added = *fresh;  // as allow() left it (cas gives the new item the old expiry)
            if (existing != nullptr) {
                replaced = *existing;
                replaced_any = true;
            }
            return true;
        });
    PutOutcome outcome;
    outcome.existed = saw_live;
    outcome.stored = result.stored;
    if (result.stored) {
        CacheCounters &c = cache_counters();
        if (replaced_any)
            count_removed(replaced, stored.data, stored.size);
        if (replaced_any && !saw_live)
            c.add(kExpirations, 1);
        count_added(added, stored.data, stored.size);
        if (count_as_put)
            c.add(kPuts, 1);
    }
    return outcome;
}

}  // namespace simple_cache::cache
