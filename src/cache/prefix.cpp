// Prefix operations: counting and dropping the keys of the current database that start with a
// given prefix (the listing under a prefix is simple_cache_list's, in listing.cpp). Each visits
// the table one partition at a time, holding only that partition's lock, so the rest of the
// table stays usable; cancel is checked between partitions. A prefix is matched against the
// stored key, whose first bytes are the database's scope: another database's keys never match.
#include "simple_cache/cache/prefix.hpp"

#include <algorithm>
#include <string_view>

#include "simple_cache/cache/cache.hpp"
#include "simple_cache/cache/give_back.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/startup_load.hpp"

namespace simple_cache::cache {

using core::LockMode;

namespace {

// Removes the entries whose stored key `matches`, partition by partition; between partitions
// calls between_partitions(). Returns how many live entries it removed.
template <class Matches, class Between>
uint64_t remove_matching(Matches &&matches, Between &&between_partitions)
{
    CacheTable::Scan scan(cache_table(), LockMode::exclusive);
    int64_t now = now_ms();
    uint64_t live_removed = 0;
    uint64_t expired_removed = 0;
    while (scan.next_partition()) {
        while (scan.next()) {
            if (!matches(scan.key_data(), scan.key_size()))
                continue;
            bool live = !scan.entry().expired_at(now);
            count_removed(scan.entry(), scan.key_data(), scan.key_size());
            scan.erase_current();
            ++(live ? live_removed : expired_removed);
        }
        scan.release_partition();
        between_partitions();
    }
    scan.finish();
    cache_counters().add(kDrops, static_cast<int64_t>(live_removed));
    cache_counters().add(kExpirations, static_cast<int64_t>(expired_removed));
    return live_removed;
}

// Removes the entries under the stored prefix (see remove_matching).
template <class Between>
uint64_t remove_under(core::KeyView stored_prefix, Between &&between_partitions)
{
    return remove_matching([stored_prefix](const char *key, size_t size) { return under_prefix(stored_prefix, key, size); },
                           between_partitions);
}

// A stored key or prefix as a byte string, for ordering.
std::string_view bytes_of(core::KeyView key)
{
    return std::string_view(static_cast<const char *>(key.data), key.size);
}

// Whether the stored key lies under one of the sorted prefixes, none of which covers another:
// then only the last prefix not after the key can be its prefix (any string between a prefix
// and a key that starts with it starts with it too).
bool under_any_prefix(const core::KeyView *sorted, size_t count, const char *key, size_t key_size)
{
    std::string_view wanted(key, key_size);
    const core::KeyView *after = std::upper_bound(sorted, sorted + count, wanted, [](std::string_view k, core::KeyView p) {
        return k < bytes_of(p);
    });
    return after != sorted && under_prefix(*(after - 1), key, key_size);
}

}  // namespace

uint64_t count_prefix(const char *prefix, size_t prefix_size)
{
    ScopedKey stored(prefix, prefix_size);
    core::KeyView under = stored.view();
    CacheTable::Scan scan(cache_table(), LockMode::shared);
    int64_t now = now_ms();
    uint64_t count = 0;
    while (scan.next_partition()) {
        while (scan.next())
            if (under_prefix(under, scan.key_data(), scan.key_size()) && !scan.entry().expired_at(now))
                ++count;
        scan.release_partition();
        pg::check_for_interrupts();
    }
    return count;
}

uint64_t drop_prefix(const char *prefix, size_t prefix_size)
{
    ScopedKey stored(prefix, prefix_size);
    // A start-up load still running must not bring the dropped keys back: as for a flush, it
    // loads no more of this database's saved entries.
    pg::note_flush_during_startup_load(pg::current_scope());
    void_scope_leases(pg::current_scope());  // a lease on a key under the prefix stores nothing now
    uint64_t removed = remove_under(stored.view(), [] { pg::check_for_interrupts(); });
    give_back_segments_if_due();
    return removed;
}

uint64_t drop_prefixes_scoped(const core::KeyView *sorted_prefixes, size_t count) noexcept
{
    try {
        return remove_matching(
            [=](const char *key, size_t size) { return under_any_prefix(sorted_prefixes, count, key, size); }, [] {});
    } catch (...) {
        return 0;  // cannot happen once attached: the scan neither allocates nor raises
    }
}

void keep_outermost_prefixes(std::vector<core::KeyView> &prefixes)
{
    std::sort(prefixes.begin(), prefixes.end(),
              [](core::KeyView a, core::KeyView b) { return bytes_of(a) < bytes_of(b); });
    // Sorted, the prefixes a kept one covers follow it at once.
    size_t kept = 0;
    for (core::KeyView p : prefixes)
        if (kept == 0 || !under_prefix(prefixes[kept - 1], static_cast<const char *>(p.data), p.size))
            prefixes[kept++] = p;
    prefixes.resize(kept);
}

}  // namespace simple_cache::cache
