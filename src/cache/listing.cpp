// simple_cache_list's path through the cache: every live entry of the current database, copied
// out of the table in batches of bounded size and handed over one row at a time.
//
// Memory: a batch holds at most the caller's budget (one larger entry makes a batch of its
// own) in a memory context emptied after each batch; a row's hex form, if it needs one, lives
// in a context emptied after each row. A value that cannot be shown in a row, whatever the
// budget, is not copied at all: its row gets a NULL value and a WARNING names its key.
#include "simple_cache/cache/cache.hpp"

#include "simple_cache/cache/key.hpp"
#include "simple_cache/core/dht_batch_scan.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/memory.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace simple_cache::cache {

using core::LockMode;

namespace {

// The size of bytea's hex form of n bytes: \x and two digits per byte.
constexpr size_t hex_size(size_t n) { return 2 + 2 * n; }

// How an entry will be shown.
enum class Shown : uint8_t {
    as_is,         // text, or bytea found to be valid text
    text_or_hex,   // bytea: as is if valid text, else in hex (which fits in a row)
    text_or_none,  // bytea whose hex form would not fit: as is if valid text, else not shown
    not_shown,     // no room in a row: a NULL value, and a WARNING
};

// One entry copied out of the table: its key and value laid out as text datums in one chunk.
struct CopiedEntry {
    CopiedEntry *next;
    text *key;
    text *value;  // null when not shown
    Shown shown;
    ValueKind kind;
    uint64_t value_size;
};

// The bytes a copied entry takes: the header, the key datum, and the value datum unless it
// is left out.
size_t copy_bytes(size_t key_size, size_t value_size, bool with_value)
{
    return MAXALIGN(sizeof(CopiedEntry)) + MAXALIGN(VARHDRSZ + key_size) + (with_value ? VARHDRSZ + value_size : 0);
}

// How a stored value can be shown, judged by its size and kind alone (no look at its bytes).
Shown shown_by_size(size_t key_size, const CacheEntry &entry)
{
    if (!fits_in_row(key_size, entry.value_size))
        return Shown::not_shown;
    if (static_cast<ValueKind>(entry.kind) == ValueKind::text)
        return Shown::as_is;
    return fits_in_row(key_size, hex_size(entry.value_size)) ? Shown::text_or_hex : Shown::text_or_none;
}

// The entries of one batch, copied under the partition lock into the batch's memory context.
class Batch {
  public:
    explicit Batch(MemoryContext context) : context_(context) {}

    // Copies a stored entry (the user's key, without the database). Runs under the partition
    // lock: it never raises an ERROR (an allocation failure throws bad_alloc, and the scan
    // releases the lock).
    void take(const char *key, size_t key_size, const CacheEntry &entry, const char *value)
    {
        Shown shown = shown_by_size(key_size, entry);
        // Checking here (pg_verifymbstr never raises with noError) spares copying a value that
        // will not be shown.
        if (shown == Shown::text_or_none)
            shown = pg_verifymbstr(value, static_cast<int>(entry.value_size), true) ? Shown::as_is : Shown::not_shown;
        bool with_value = shown != Shown::not_shown;
        char *chunk = static_cast<char *>(
            pg::palloc_in_or_null(context_, copy_bytes(key_size, entry.value_size, with_value)));
        if (chunk == nullptr)
            throw std::bad_alloc();
        auto *copied = reinterpret_cast<CopiedEntry *>(chunk);
        copied->key = reinterpret_cast<text *>(chunk + MAXALIGN(sizeof(CopiedEntry)));
        SET_VARSIZE(copied->key, VARHDRSZ + key_size);
        if (key_size > 0)
            std::memcpy(VARDATA(copied->key), key, key_size);
        copied->value = nullptr;
        if (with_value) {
            copied->value = reinterpret_cast<text *>(reinterpret_cast<char *>(copied->key) +
                                                     MAXALIGN(VARHDRSZ + key_size));
            SET_VARSIZE(copied->value, VARHDRSZ + entry.value_size);
            if (entry.value_size > 0)
                std::memcpy(VARDATA(copied->value), value, entry.value_size);
        }
        copied->shown = shown;
        copied->kind = static_cast<ValueKind>(entry.kind);
        copied->value_size = entry.value_size;
        copied->next = nullptr;
        *tail_ = copied;
        tail_ = &copied->next;
    }

    CopiedEntry *first() const { return first_; }

    // Forgets the entries (their memory goes with the context's reset).
    void clear()
    {
        first_ = nullptr;
        tail_ = &first_;
    }

  private:
    MemoryContext context_;
    CopiedEntry *first_ = nullptr;
    CopiedEntry **tail_ = &first_;
};

// Names in a WARNING the key whose value is not shown, and why. Plain PostgreSQL code.
void warn_not_shown(const CopiedEntry &e)
{
    const char *key = VARDATA(e.key);
    int key_size = static_cast<int>(VARSIZE(e.key) - VARHDRSZ);
    int shown_size = pg_mbcliplen(key, key_size, 100);
    const char *more = shown_size < key_size ? "..." : "";
    if (e.kind == ValueKind::bytea && fits_in_row(static_cast<size_t>(key_size), e.value_size))
        ereport(WARNING,
                (errmsg("simple_cache_list: the value of key \"%.*s%s\" is not shown", shown_size, key, more),
                 errdetail("It is a bytea value of %llu bytes that is not valid text in this database's "
                           "encoding, and its hex form would pass the 1 GB limit of a text value.",
                           static_cast<unsigned long long>(e.value_size)),
                 errhint("Read it with simple_cache_get_bytea().")));
    else
        ereport(WARNING,
                (errmsg("simple_cache_list: the value of key \"%.*s%s\" is not shown", shown_size, key, more),
                 errdetail("Its key and value, %llu bytes, would pass the 1 GB limit of a row.",
                           static_cast<unsigned long long>(key_size + e.value_size)),
                 errhint("Read it with %s().", e.kind == ValueKind::bytea ? "simple_cache_get_bytea" : "simple_cache_get")));
}

// Hands every entry of a batch to emit, each row built in row_context (emptied after each),
// then checks for cancel. Plain PostgreSQL code, run under guard().
void emit_batch(const CopiedEntry *first, ListEmitter emit, void *context, MemoryContext row_context)
{
    MemoryContext caller = MemoryContextSwitchTo(row_context);
    for (const CopiedEntry *e = first; e != nullptr; e = e->next) {
        ListedRow row{e->key, e->value};
        if (e->shown == Shown::not_shown)
            warn_not_shown(*e);
        if (e->shown == Shown::text_or_hex &&
            !pg_verifymbstr(VARDATA(e->value), static_cast<int>(e->value_size), true)) {
            // Not text in this encoding: shown in bytea's hex form, \x and two digits a byte.
            size_t size = hex_size(e->value_size);
            auto *hex = static_cast<text *>(palloc(VARHDRSZ + size));
            SET_VARSIZE(hex, VARHDRSZ + size);
            char *at = VARDATA(hex);
            at[0] = '\\';
            at[1] = 'x';
            hex_encode(VARDATA(e->value), e->value_size, at + 2);
            row.value = hex;
        }
        emit(context, row);
        MemoryContextReset(row_context);
    }
    MemoryContextSwitchTo(caller);
    CHECK_FOR_INTERRUPTS();
}

}  // namespace

void list(size_t batch_bytes, ListEmitter emit, void *context, const char *prefix, size_t prefix_size)
{
    pg::LocalMemoryContext batch_context("simple_cache list batch");
    pg::LocalMemoryContext row_context("simple_cache list row");
    Batch batch(batch_context.get());
    ScopedKey stored_prefix(prefix, prefix_size);  // the database's scope, then the prefix
    core::KeyView under = stored_prefix.view();
    CacheTable::BatchScan scan(cache_table(), LockMode::shared);
    int64_t now = now_ms();
    // What an entry costs in the batch; entries of other databases, keys outside the prefix and
    // expired ones are skipped.
    auto cost = [now, under](const CacheEntry &entry, const char *key, uint32_t key_size, const char *) {
        if (key_size < under.size || std::memcmp(key, under.data, under.size) != 0 || entry.expired_at(now))
            return CacheTable::BatchScan::kSkip;
        size_t user_size = ScopedKey::user_size(key_size);
        return copy_bytes(user_size, entry.value_size, shown_by_size(user_size, entry) != Shown::not_shown);
    };
    auto take = [&batch](const CacheEntry &entry, const char *key, uint32_t key_size, const char *tail) {
        batch.take(ScopedKey::user_part(key), ScopedKey::user_size(key_size), entry, tail);
    };
    while (scan.next_batch(batch_bytes, cost, take)) {
        pg::guard([&] { emit_batch(batch.first(), emit, context, row_context.get()); });
        batch.clear();
        batch_context.reset();
    }
}

}  // namespace simple_cache::cache
