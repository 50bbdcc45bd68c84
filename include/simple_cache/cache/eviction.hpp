// Eviction (approximate LRU by the CLOCK algorithm), confined to some databases when fairness
// or a database's own limit asks for it, and light sweeping of expired entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#include "simple_cache/core/dht.hpp"

#include "simple_cache/pg/database_scope.hpp"

namespace simple_cache::cache {

// Which entries eviction may take. Expired entries may always be taken, and so may entries of
// a scope that is no longer registered (a dropped database's, waiting to be purged).
struct EvictionFilter {
    enum class Kind {
        any,          // every entry
        own,          // only entries of `scope`
        larger,       // entries of scopes holding more than `scope` would with `threshold` more
    } kind = Kind::any;
    pg::ScopeId scope = pg::kNoScope;
    int64_t threshold = 0;
    size_t min_item_bytes = 0;  // only entries whose item is at least this big (0: any size)
    core::KeyView spared{};     // an entry never evicted (the key a write is storing)

    static EvictionFilter any() { return EvictionFilter{}; }
    static EvictionFilter own(pg::ScopeId scope) { return EvictionFilter{Kind::own, scope}; }

    // Entries of the databases that hold more of the cache than scope would once it stored
    // item_bytes more: what a writer may take from others, so that no database ever pushes
    // out the entries of one that is not larger than itself.
    static EvictionFilter larger_than(pg::ScopeId scope, size_t item_bytes)
    {
        return EvictionFilter{Kind::larger, scope, static_cast<int64_t>(item_bytes), 0};
    }


    // Whether a live entry of scope `of` whose item takes item_bytes may be evicted.
    bool allows(pg::ScopeId of, size_t item_bytes) const noexcept;

    // The same filter, never evicting the entry stored under key.
    EvictionFilter sparing(core::KeyView key) const
    {
        EvictionFilter f = *this;
        f.spared = key;
        return f;
    }

    // Whether the stored key is the one spared.
    bool spares(const char *key, uint32_t key_size) const
    {
        return spared.data != nullptr && key_size == spared.size && std::memcmp(key, spared.data, key_size) == 0;
    }

    // The same filter, restricted to entries of at least item_bytes.
    EvictionFilter at_least(size_t item_bytes) const
    {
        EvictionFilter f = *this;
        f.min_item_bytes = item_bytes;
        return f;
    }
};

// What a round of the hand did.
struct EvictionRound {
    uint64_t visited = 0;
    uint64_t removed = 0;
    uint64_t bytes = 0;  // of the removed items
};

// One CLOCK round over up to a batch of entries: expired entries and allowed entries not read
// since the hand last passed are removed; allowed entries read since then lose their mark;
// other entries are left as they are.
EvictionRound evict_round(const EvictionFilter &filter);

// Runs rounds until done(what the rounds removed so far) is true, or the hand made two full
// passes without removing anything, or the table is empty; returns whether done() became
// true. Checks for cancel between rounds.
bool evict_until(const EvictionFilter &filter, const std::function<bool(const EvictionRound &so_far)> &done);

// Whether any entry over 8 kB is stored (a cheap count, kept as entries come and go).
bool large_entries_exist();

// Evicts until the extension's allocated bytes are at most `bytes`; false if it cannot. The
// table shrinks as it empties, and a shrink's old bucket array is freed at once.
bool evict_down_to(int64_t bytes);

// Reclaims a few expired entries, without waiting for any lock, when any entry has a TTL.
void sweep_expired_lightly();

// What a sweep for expired entries did.
struct ExpirySweep {
    uint64_t visited = 0;
    uint64_t removed = 0;
};

// Visits up to budget entries where the hand stopped last, removing the expired ones (counted
// as expirations); busy partitions are passed over, never waited for.
ExpirySweep sweep_expired(uint64_t budget);


}  // namespace simple_cache::cache
