// Cache writes that take effect at commit: queued per (sub)transaction, checked and given
// their shared memory at pre-commit, applied at commit, discarded at abort (see
// pending_writes.hpp).
//
// Each write is a record in the transaction's "simple_cache pending writes" memory context.
// The log keeps them in the order they were made; a map from key to its latest record serves
// the writer's own reads, and each record links to the key's previous one so that rolling
// back a subtransaction (which removes a suffix of the log) restores the map exactly.
#include "simple_cache/cache/pending_writes.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "simple_cache/cache/key.hpp"
#include "simple_cache/cache/leases.hpp"
#include "simple_cache/cache/linking.hpp"
#include "simple_cache/cache/make_room.hpp"
#include "simple_cache/cache/prefix.hpp"
#include "simple_cache/cache/replicated_invalidations.hpp"
#include "simple_cache/pg/startup_load.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/memory.hpp"
#include "simple_cache/pg/shared_state.hpp"
#include "simple_cache/core/decimal.hpp"

extern "C" {
#include "common/int.h"
}

extern "C" {
#include "access/parallel.h"
#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "port/pg_bitutils.h"
#include "utils/guc.h"
#include "utils/memutils.h"
}

namespace simple_cache::cache {

namespace {

// simple_cache.max_pending_memory, in kB: what one transaction's pending writes may take.
int max_pending_memory_kb = 64 * 1024;

// What a pending write does at commit. An incr here adds to the value the cache holds at
// commit; an incr of a key whose state this transaction decided (a put, a drop) is queued as
// the put of its result.
enum class WriteKind : uint8_t { put, drop, drop_prefix, incr };

// One pending write; the key (or prefix) and the value follow the record in one chunk.
struct Record {
    Record *previous_of_key;  // the key's previous record in this transaction (puts and drops)
    size_t value_size;
    Ttl ttl;                  // puts: resolved when queued (never, or milliseconds)
    int level;                // the transaction nesting level that owns it
    uint32_t key_size;
    WriteKind kind;
    ValueKind value_kind;
    uint64_t sequence;        // its place in the log
    int64_t delta;            // incr: the sum of this transaction's increments of the key

    char *key() { return reinterpret_cast<char *>(this + 1); }
    char *value() { return key() + key_size; }
    std::string_view key_view() { return std::string_view(key(), key_size); }
};

// The largest block of the pending writes' memory context: what the context may take past
// simple_cache.max_pending_memory, at most.
constexpr size_t kPendingBlockBytes = 1024 * 1024;

// AllocSet gives a request larger than this a block of its own, exactly sized (aset.c's
// ALLOC_CHUNK_LIMIT); smaller ones are rounded up to a power of two.
constexpr size_t kAllocSetChunkLimit = 8192;

// What one map node takes, allocator rounding included (an estimate).
constexpr size_t kMapNodeBytes = 64;

// An allocator over a memory context: the pending writes' containers live and die with it.
template <class T>
struct ContextAllocator {
    using value_type = T;
    MemoryContext context;

    explicit ContextAllocator(MemoryContext c) noexcept : context(c) {}
    template <class U>
    ContextAllocator(const ContextAllocator<U> &other) noexcept : context(other.context) {}

    T *allocate(size_t n)
    {
        void *p = pg::palloc_in_or_null(context, n * sizeof(T));
        if (p == nullptr)
            throw std::bad_alloc();
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t) noexcept { pfree(p); }

    template <class U>
    bool operator==(const ContextAllocator<U> &other) const noexcept { return context == other.context; }
    template <class U>
    bool operator!=(const ContextAllocator<U> &other) const noexcept { return context != other.context; }
};

using RecordLog = std::vector<Record *, ContextAllocator<Record *>>;
using LatestByKey = std::unordered_map<std::string_view, Record *, std::hash<std::string_view>,
                                       std::equal_to<std::string_view>,
                                       ContextAllocator<std::pair<const std::string_view, Record *>>>;

// The current transaction's pending writes, allocated in their own memory context (a child of
// TopTransactionContext, so freed with the transaction however it ends). Never destroyed: the
// context's deletion takes everything.
struct PendingWrites {
    MemoryContext context;
    RecordLog log;
    LatestByKey latest;     // keys point into the key's first record, which outlives the others
    RecordLog prefix_drops; // the drop_prefix records, in log order
    uint64_t next_sequence = 1;

    explicit PendingWrites(MemoryContext c)
        : context(c), log(ContextAllocator<Record *>(c)), latest(16, std::hash<std::string_view>(),
                                                                 std::equal_to<std::string_view>(),
                                                                 LatestByKey::allocator_type(c)),
          prefix_drops(ContextAllocator<Record *>(c))
    {
    }
};

// A write made ready at pre-commit: its stored key (or prefix) and, for a put or an incr,
// its item (an incr's with room for any bigint, filled in at commit).
struct ReadyWrite {
    Record *record = nullptr;
    std::unique_ptr<ScopedKey> key;
    CacheTable::NewItem item;
};

// The longest bigint in decimal, "-9223372036854775808": the room an incr's item is given.
constexpr size_t kLongestCounterText = 20;

// Fills an incr's item, under the key's partition lock at commit: the counter now stored
// (live, or nullptr when absent) plus delta, keeping live's expiry. The item was allocated
// with room for the longest bigint; it is shrunk to the digits written, and the allocation
// counter with it, so that freeing it later subtracts what was counted. Takes no memory and
// raises no error; false when the stored value is not a bigint or the sum is out of range.
bool fill_counter_item(CacheEntry &fresh, char *fresh_tail, const CacheEntry *live, const char *live_tail,
                       int64_t delta) noexcept
{
    int64_t base = 0;
    if (live != nullptr && (static_cast<ValueKind>(live->kind) != ValueKind::text ||
                            core::parse_int64(live_tail, live->value_size, &base) != core::ParsedInt::ok))
        return false;
    int64_t result = 0;
    if (pg_add_s64_overflow(base, delta, &result))
        return false;
    std::to_chars_result written = std::to_chars(fresh_tail, fresh_tail + kLongestCounterText, result);
    if (written.ec != std::errc())
        return false;
    auto length = static_cast<uint32_t>(written.ptr - fresh_tail);
    pg::attach().control->counters.add(-static_cast<int64_t>(fresh.value_size - length), 0);
    fresh.value_size = length;
    fresh.set_expires_ms(live != nullptr ? live->expires_ms() : 0);
    return true;
}

// A counter as the cache holds it now.
struct SharedCounter {
    bool present = false;
    int64_t value = 0;
    int64_t expires = 0;
    std::string bytes;  // the stored value, byte for byte
};

// Reads the counter under key (under the partition's shared lock); throws 22P02 or 22003 when
// the stored value is not a bigint.
SharedCounter read_shared_counter(const ScopedKey &key, int64_t now)
{
    SharedCounter counter;
    bool is_bytea = false;
    {
        CacheTable::Ref ref = cache_table().find(key.view(), core::LockMode::shared);
        if (ref && !ref.entry().expired_at(now)) {
            counter.present = true;
            is_bytea = static_cast<ValueKind>(ref.entry().kind) != ValueKind::text;
            counter.bytes.assign(ref.tail(), ref.entry().value_size);
            counter.expires = ref.entry().expires_ms();
        }
    }
    if (is_bytea)
        throw pg::SqlError(ERRCODE_INVALID_TEXT_REPRESENTATION, "simple_cache value is not a 64-bit integer",
                           "The value was stored as bytea.");
    if (counter.present)
        counter.value = parse_counter(counter.bytes.data(), counter.bytes.size());
    return counter;
}

// a + b, or 22003.
int64_t add_or_throw(int64_t a, int64_t b)
{
    int64_t sum;
    if (pg_add_s64_overflow(a, b, &sum))
        throw pg::SqlError(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "simple_cache_incr result is out of range for bigint");
    return sum;
}

// The decimal digits of n.
std::string digits_of(int64_t n)
{
    return std::to_string(static_cast<long long>(n));
}

PendingWrites *pending = nullptr;  // null when this transaction queued nothing
std::vector<ReadyWrite> ready;     // filled at pre-commit, applied at commit
std::vector<std::unique_ptr<ScopedKey>> ready_prefixes;  // the prefix drops' stored prefixes
std::vector<core::KeyView> outermost_prefixes;  // of those, the ones the scan at commit matches
bool committing = false;           // past pre-commit: no more writes may be queued
bool callbacks_registered = false;

// Frees the last record of the log and restores what it changed.
void remove_last_record()
{
    Record *r = pending->log.back();
    pending->log.pop_back();
    if (r->kind == WriteKind::drop_prefix) {
        pending->prefix_drops.pop_back();
    } else {
        auto at = pending->latest.find(r->key_view());
        if (r->previous_of_key != nullptr)
            at->second = r->previous_of_key;
        else
            pending->latest.erase(at);
    }
    pfree(r);
}

// Forgets the pending and ready writes (their items go back to the shared area); the memory
// context goes with the transaction.
void forget_all() noexcept
{
    std::vector<ReadyWrite>().swap(ready);
    std::vector<core::KeyView>().swap(outermost_prefixes);
    std::vector<std::unique_ptr<ScopedKey>>().swap(ready_prefixes);
    forget_unlinked_items();
    pending = nullptr;
    committing = false;
}

// Logs the keys the ready writes change and the prefixes they drop, for the standbys (see
// replicated_invalidations.hpp): on a standby each becomes an invalidation, whatever the write.
void log_for_standbys()
{
    core::InvalidationRecordWriter record(0, MyDatabaseId);
    for (Record *r : pending->prefix_drops)
        record.add(core::InvalidationKind::prefix, r->key(), r->key_size);
    for (const ReadyWrite &write : ready)
        record.add(core::InvalidationKind::key, write.record->key(), write.record->key_size);
    replicate_invalidations(record);
}

bool dropped_by_prefix_after(std::string_view key, uint64_t after);  // below

// Makes the prefix drops ready: one scan at commit removes every entry under any of them,
// before the other writes are applied (a write of a key that a later prefix drop covers is
// left out, so the order they were made in still decides). Leases of the database are voided
// now as well.
void make_prefix_drops_ready()
{
    for (Record *r : pending->prefix_drops)
        ready_prefixes.push_back(std::make_unique<ScopedKey>(r->key(), r->key_size));
    if (ready_prefixes.empty())
        return;
    pg::note_flush_during_startup_load(pg::current_scope());
    void_scope_leases(pg::current_scope());
    outermost_prefixes.reserve(ready_prefixes.size());
    for (const auto &prefix : ready_prefixes)
        outermost_prefixes.push_back(prefix->view());
    keep_outermost_prefixes(outermost_prefixes);
}

// Checks every pending write and gives the puts their items, before the commit record: an
// error here (no room, a cancel) rolls the transaction back. Entry order is kept.
void make_ready()
{
    committing = true;
    cache_table();  // attached from here on: nothing at commit needs to attach
    int64_t now = now_ms();
    forget_unlinked_items();
    make_prefix_drops_ready();
    ready.reserve(pending->log.size());
    for (Record *r : pending->log) {
        if (r->kind == WriteKind::drop_prefix)
            continue;  // made ready above
        if (pending->latest.at(r->key_view()) != r)
            continue;  // a later write of the same key decides its state
        if (dropped_by_prefix_after(r->key_view(), r->sequence))
            continue;  // a later prefix drop removes the key: the scan at commit does
        ReadyWrite write;
        write.record = r;
        write.key = std::make_unique<ScopedKey>(r->key(), r->key_size);
        // Leases out on the keys are voided now, before the commit: a value a lease holder
        // computed from data older than this transaction is then never stored after it.
        pg::note_write_during_startup_load(write.key->view());
        void_leases(*write.key);
        if (r->kind == WriteKind::put)
            write.item = build_item(*write.key, ValueBytes{r->value(), r->value_size, r->value_kind},
                                    expiry_for(r->ttl, now));
        if (r->kind == WriteKind::incr) {
            // Checked now (COMMIT fails on a value that is not a bigint, or an overflow); the
            // result is computed again at commit from the value stored then.
            add_or_throw(read_shared_counter(*write.key, now).value, r->delta);
            static const char room[kLongestCounterText] = {};
            write.item = build_item(*write.key, ValueBytes{room, kLongestCounterText, ValueKind::text}, 0);
        }
        if (write.item)  // counts as its database's while the later items make room
            count_unlinked_item(CacheTable::item_bytes(write.key->view().size, write.item.entry().value_size));
        ready.push_back(std::move(write));
        pg::check_for_interrupts();
    }
    log_for_standbys();
}

// Applies the ready writes: the prefix drops in one scan, then the others in order. Runs
// after the commit record: every operation here is one that takes no memory and raises no
// error (voiding leases, linking a built item, the ordinary drop of a stored key, the scan).
// Leases are voided again here: one taken after pre-commit may hold a value computed from
// the rows as they were before the commit. Should a put still fail, its key is dropped
// instead, so the cache never keeps a value the transaction replaced.
void apply_ready() noexcept
{
    int64_t now = now_ms();
    if (!outermost_prefixes.empty()) {
        void_scope_leases(ScopedKey::scope_of(outermost_prefixes.front().data));  // also those taken since pre-commit
        drop_prefixes_scoped(outermost_prefixes.data(), outermost_prefixes.size());
    }
    for (ReadyWrite &write : ready) {
        try {
            switch (write.record->kind) {
            case WriteKind::put:
                void_leases(*write.key);  // also those taken since pre-commit
                link_item(std::move(write.item), *write.key, now, [](const CacheEntry *, const char *) { return true; });
                break;
            case WriteKind::drop:
                drop_scoped(*write.key);
                break;
            case WriteKind::drop_prefix:
                break;  // never in ready: applied by the scan above
            case WriteKind::incr: {
                // Adds to the counter as stored now, under its partition lock: other sessions'
                // increments since pre-commit are kept. Should the stored value have become
                // something that is not a bigint, or the sum overflow, the key is dropped.
                CacheEntry *fresh = &write.item.entry();
                char *fresh_tail = write.item.tail();
                int64_t delta = write.record->delta;
                void_leases(*write.key);  // also those taken since pre-commit
                PutOutcome outcome = link_item(std::move(write.item), *write.key, now,
                                               [=](const CacheEntry *live, const char *tail) {
                                                   return fill_counter_item(*fresh, fresh_tail, live, tail, delta);
                                               });
                if (!outcome.stored)
                    drop_scoped(*write.key);
                break;
            }
            }
        } catch (...) {
            try {
                if (write.record->kind == WriteKind::put || write.record->kind == WriteKind::incr)
                    drop_scoped(*write.key);
            } catch (...) {
            }
        }
    }
}

// Transaction end: check and allocate at pre-commit, apply at commit, refuse to prepare,
// discard at abort.
void on_transaction(XactEvent event, void *)
{
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
        if (pending != nullptr && !pending->log.empty())
            pg::run_raising([] { make_ready(); });  // before the commit record: may raise
        break;
    case XACT_EVENT_PRE_PREPARE:
        if (pending != nullptr && !pending->log.empty())
            pg::run_raising([] {
                throw pg::SqlError(ERRCODE_FEATURE_NOT_SUPPORTED,
                                   "cannot prepare a transaction that has pending simple_cache writes",
                                   "simple_cache_put_at_commit(), simple_cache_invalidate() and "
                                   "simple_cache_invalidate_prefix() queue writes for the commit; a "
                                   "prepared transaction's commit happens in another session.",
                                   "Use the immediate functions (simple_cache_put(), simple_cache_drop()) "
                                   "after COMMIT PREPARED.");
            });
        break;
    case XACT_EVENT_COMMIT:
        if (pending != nullptr)
            apply_ready();
        forget_all();
        break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
        forget_all();
        break;
    default:
        break;
    }
}

// Subtransaction end: a rolled-back one takes its writes (a suffix of the log) with it; a
// committed one hands them to its parent.
void on_subtransaction(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (pending == nullptr || pending->log.empty())
        return;
    int level = GetCurrentTransactionNestLevel();
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        while (!pending->log.empty() && pending->log.back()->level >= level)
            remove_last_record();
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (size_t i = pending->log.size(); i-- > 0 && pending->log[i]->level >= level;)
            pending->log[i]->level = level - 1;
    }
}

// The pending writes of this transaction, created on first use; refuses where writes cannot
// be queued.
PendingWrites &pending_writes()
{
    if (pg::guard([] { return IsInParallelMode(); }))
        throw pg::SqlError(ERRCODE_INVALID_TRANSACTION_STATE,
                           "cannot queue simple_cache writes during a parallel operation");
    if (committing)
        throw pg::SqlError(ERRCODE_INVALID_TRANSACTION_STATE,
                           "cannot queue simple_cache writes while the transaction commits");
    if (!callbacks_registered) {
        pg::guard([] {
            RegisterXactCallback(on_transaction, nullptr);
            RegisterSubXactCallback(on_subtransaction, nullptr);
        });
        callbacks_registered = true;
    }
    if (pending == nullptr) {
        MemoryContext context = nullptr;
        pg::guard([&] {
            context = AllocSetContextCreate(TopTransactionContext, "simple_cache pending writes",
                                            ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE, kPendingBlockBytes);
        });
        void *place = pg::palloc_in_or_null(context, sizeof(PendingWrites));
        if (place == nullptr)
            throw std::bad_alloc();
        pending = new (place) PendingWrites(context);
    }
    return *pending;
}

// Makes sure one more element fits in log without a reallocation, so that the push_back
// after it cannot fail. Grows geometrically (doubling): reserving one more each time would
// copy the whole log on every write.
void make_room_for_one_more(RecordLog &log)
{
    if (log.size() == log.capacity())
        log.reserve(std::max<size_t>(16, 2 * log.capacity()));
}

// What queueing a write of key_size + value_size bytes adds to the context, about: its record
// as AllocSet gives it (rounded up to a power of two with a chunk header, or a block of its
// own when over kAllocSetChunkLimit), a map node, and the log's growth when the log is full.
size_t expected_growth(const PendingWrites &p, size_t key_size, size_t value_size)
{
    size_t record = sizeof(Record) + key_size + value_size;
    size_t chunk = record > kAllocSetChunkLimit ? record + 64 : pg_nextpower2_size_t(record) + 16;
    size_t log_growth = p.log.size() == p.log.capacity() ? std::max<size_t>(16, 2 * p.log.capacity()) * sizeof(Record *) : 0;
    return chunk + kMapNodeBytes + log_growth;
}

// Appends a record to the log (and, for a key's write, to the map), within the memory limit.
Record *queue(WriteKind kind, const char *key, size_t key_size, const char *value, size_t value_size,
           ValueKind value_kind, Ttl ttl)
{
    if (key_size > kMaxKeyBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache key is too long",
                           "The key has " + std::to_string(key_size) + " bytes; the limit is " +
                               std::to_string(kMaxKeyBytes) + ".");
    if (value_size > kMaxValueBytes)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "simple_cache value is too long");
    PendingWrites &p = pending_writes();
    size_t taken = MemoryContextMemAllocated(p.context, false);
    size_t bytes = expected_growth(p, key_size, value_size);
    size_t limit = static_cast<size_t>(max_pending_memory_kb) * 1024;
    if (taken + bytes > limit)
        throw pg::SqlError(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                           "simple_cache: this transaction's pending cache writes would pass simple_cache.max_pending_memory",
                           "Their memory context takes " + std::to_string(taken) + " bytes; this write needs about " +
                               std::to_string(bytes) + " more; the limit is " + std::to_string(limit) + ".",
                           "Raise simple_cache.max_pending_memory, or queue fewer or smaller writes.");
    make_room_for_one_more(p.log);
    if (kind == WriteKind::drop_prefix)
        make_room_for_one_more(p.prefix_drops);
    auto *r = static_cast<Record *>(pg::palloc_in_or_null(p.context, sizeof(Record) + key_size + value_size));
    if (r == nullptr)
        throw std::bad_alloc();
    r->previous_of_key = nullptr;
    r->value_size = value_size;
    r->ttl = ttl;
    r->level = GetCurrentTransactionNestLevel();
    r->key_size = static_cast<uint32_t>(key_size);
    r->kind = kind;
    r->value_kind = value_kind;
    r->sequence = p.next_sequence++;
    r->delta = 0;
    if (key_size > 0)
        std::memcpy(r->key(), key, key_size);
    if (value_size > 0)
        std::memcpy(r->value(), value, value_size);
    if (kind != WriteKind::drop_prefix) {
        try {
            auto [at, inserted] = p.latest.try_emplace(r->key_view(), r);
            if (!inserted) {
                r->previous_of_key = at->second;
                at->second = r;
            }
        } catch (...) {
            pfree(r);
            throw;
        }
    } else {
        p.prefix_drops.push_back(r);
    }
    p.log.push_back(r);
    return r;
}

// Whether a prefix drop queued after the write numbered `after` (0: any) covers key.
bool dropped_by_prefix_after(std::string_view key, uint64_t after)
{
    for (size_t i = pending->prefix_drops.size(); i-- > 0 && pending->prefix_drops[i]->sequence > after;) {
        std::string_view prefix = pending->prefix_drops[i]->key_view();
        if (key.substr(0, prefix.size()) == prefix)
            return true;
    }
    return false;
}

// A copy of a pending value as a varlena, checked for the way it is read.
varlena *copy_pending_value(Record &r, ValueKind as)
{
    if (as == ValueKind::text && r.value_kind == ValueKind::bytea &&
        !pg_verifymbstr(r.value(), static_cast<int>(r.value_size), true))
        throw pg::SqlError(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                           "simple_cache value is not valid text in this database's encoding",
                           "The value was stored as bytea.", "Read it with simple_cache_get_bytea().");
    auto *copy = static_cast<varlena *>(pg::palloc_or_null(VARHDRSZ + r.value_size));
    if (copy == nullptr)
        throw std::bad_alloc();
    SET_VARSIZE(copy, VARHDRSZ + r.value_size);
    if (r.value_size > 0)
        std::memcpy(VARDATA(copy), r.value(), r.value_size);
    return copy;
}

}  // namespace

void put_at_commit(const char *key, size_t key_size, ValueBytes value, Ttl ttl)
{
    // The ttl is checked now and resolved against simple_cache.default_ttl as of now; the
    // expiry itself counts from the commit.
    if (ttl.kind == Ttl::Kind::setting_default)
        ttl = default_ttl_ms() == 0 ? Ttl::never() : Ttl::after_ms(default_ttl_ms());
    expiry_for(ttl, now_ms());
    queue(WriteKind::put, key, key_size, value.data, value.size, value.kind, ttl);
}

void drop_at_commit(const char *key, size_t key_size)
{
    queue(WriteKind::drop, key, key_size, nullptr, 0, ValueKind::text, Ttl::never());
}

void drop_prefix_at_commit(const char *prefix, size_t prefix_size)
{
    // The latest write queued being a drop of a prefix that covers this one, this one would
    // remove nothing more: it is not queued. (A savepoint rolled back removes that drop only
    // with this call's own.)
    PendingWrites &p = pending_writes();
    if (prefix_size <= kMaxKeyBytes && !p.log.empty() && p.log.back()->kind == WriteKind::drop_prefix &&
        std::string_view(prefix, prefix_size).substr(0, p.log.back()->key_size) == p.log.back()->key_view())
        return;
    queue(WriteKind::drop_prefix, prefix, prefix_size, nullptr, 0, ValueKind::text, Ttl::never());
}

int64_t incr_at_commit(const char *key, size_t key_size, int64_t delta)
{
    PendingWrites &p = pending_writes();
    std::string_view wanted(key, key_size);
    auto at = p.latest.find(wanted);
    Record *latest = at == p.latest.end() ? nullptr : at->second;
    bool absent = dropped_by_prefix_after(wanted, latest == nullptr ? 0 : latest->sequence) ||
                  (latest != nullptr && latest->kind == WriteKind::drop);
    if (absent || (latest != nullptr && latest->kind == WriteKind::put)) {
        // The transaction decided the key's state: the increment is the put of its result,
        // which keeps the pending put's time to live (a new key gets none, as incr gives it).
        int64_t base = 0;
        Ttl ttl = Ttl::never();
        if (!absent) {
            if (latest->value_kind != ValueKind::text)
                throw pg::SqlError(ERRCODE_INVALID_TEXT_REPRESENTATION, "simple_cache value is not a 64-bit integer",
                                   "The value was stored as bytea.");
            base = parse_counter(latest->value(), latest->value_size);
            ttl = latest->ttl;
        }
        int64_t result = add_or_throw(base, delta);
        std::string digits = digits_of(result);
        queue(WriteKind::put, key, key_size, digits.data(), digits.size(), ValueKind::text, ttl);
        return result;
    }
    // Adds to whatever the cache holds at commit; returns what it would be now.
    int64_t total = add_or_throw(latest == nullptr ? 0 : latest->delta, delta);
    ScopedKey scoped(key, key_size);
    int64_t result = add_or_throw(read_shared_counter(scoped, now_ms()).value, total);
    Record *r = queue(WriteKind::incr, key, key_size, nullptr, 0, ValueKind::text, Ttl::never());
    r->delta = total;
    return result;
}

PendingRead read_pending(const char *key, size_t key_size, ValueKind as)
{
    PendingRead read;
    if (pending == nullptr)
        return read;
    std::string_view wanted(key, key_size);
    auto at = pending->latest.find(wanted);
    Record *latest = at == pending->latest.end() ? nullptr : at->second;
    // A prefix drop made after the key's latest write removes it.
    if (dropped_by_prefix_after(wanted, latest == nullptr ? 0 : latest->sequence)) {
        read.decided = true;
        return read;
    }
    if (latest == nullptr)
        return read;
    read.decided = true;
    if (latest->kind == WriteKind::put) {
        read.value = copy_pending_value(*latest, as);
    } else if (latest->kind == WriteKind::incr) {
        // The counter as it would be if the transaction committed now.
        ScopedKey scoped(key, key_size);
        std::string result = digits_of(add_or_throw(read_shared_counter(scoped, now_ms()).value, latest->delta));
        read.value = static_cast<varlena *>(pg::palloc_or_null(VARHDRSZ + result.size()));
        if (read.value == nullptr)
            throw std::bad_alloc();
        SET_VARSIZE(read.value, VARHDRSZ + result.size());
        std::memcpy(VARDATA(read.value), result.data(), result.size());
    }
    return read;
}

void define_pending_writes_setting()
{
    DefineCustomIntVariable("simple_cache.max_pending_memory",
                            "Memory one transaction's writes queued for its commit may take.",
                            "The memory context of the writes queued by simple_cache_put_at_commit(), "
                            "simple_cache_incr_at_commit(), simple_cache_invalidate() and "
                            "simple_cache_invalidate_prefix(), as allocated; a write over it fails "
                            "with SQLSTATE 54000. It bounds only this session's memory.",
                            &max_pending_memory_kb, 64 * 1024, 64, MAX_KILOBYTES, PGC_USERSET, GUC_UNIT_KB,
                            nullptr, nullptr, nullptr);
}

}  // namespace simple_cache::cache
