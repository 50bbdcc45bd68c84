// The area's size limit: simple_cache_set_size_limit() and the simple_cache.max_memory
// setting both set it; whichever changed last is in force.
#include "simple_cache/cache/cache.hpp"

#include <string>

#include "simple_cache/cache/give_back.hpp"
#include "simple_cache/cache/room.hpp"
#include "simple_cache/pg/error.hpp"
#include "simple_cache/pg/segments.hpp"
#include "simple_cache/pg/shared_state.hpp"

namespace simple_cache::cache {

int64_t max_memory_bytes();

namespace {

// Puts a new limit in force for the whole area.
void install_limit(pg::Attachment &attachment, int64_t bytes)
{
    dsa_area *area = attachment.area;
    uint64_t previous;
    {
        pg::AreaLimitLock lock;  // not while a give-back of segments has lowered it for a moment
        pg::guard([=] { dsa_set_size_limit(area, static_cast<size_t>(bytes)); });
        previous = attachment.control->size_limit.exchange(static_cast<uint64_t>(bytes));
    }
    // Segments made under a higher limit stay; until the limit rises again, writes also check
    // the bytes in use against it.
    if (previous == 0 || static_cast<uint64_t>(bytes) >= previous)
        attachment.control->limit_lowered.store(false, std::memory_order_relaxed);
    else
        attachment.control->limit_lowered.store(true, std::memory_order_relaxed);
}

// The error for a limit below what is in use while eviction is off.
[[noreturn]] void throw_limit_below_use(int64_t bytes, int64_t in_use)
{
    throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache size limit is below the memory in use",
                       "The limit asked for is " + std::to_string(bytes) + " bytes; " +
                           std::to_string(in_use) + " bytes are in use and simple_cache.eviction is none.",
                       "Drop entries first, or enable eviction.");
}

}  // namespace

void set_size_limit(int64_t bytes)
{
    if (bytes <= 0)
        throw pg::SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "simple_cache size limit must be positive",
                           "The limit given was " + std::to_string(bytes) + " bytes.");
    pg::Attachment &attachment = pg::attach();
    // This call now decides the limit: the setting applies again only once it changes.
    attachment.control->max_memory_applied.store(max_memory_bytes(), std::memory_order_relaxed);
    int64_t in_use = attachment.control->counters.total_bytes();
    if (in_use > bytes) {
        if (!eviction_enabled())
            throw_limit_below_use(bytes, in_use);
        int64_t structures = in_use - bytes_held_by_entries();
        if (bytes < structures)
            throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache size limit is below the memory its own structures need",
                               "The limit asked for is " + std::to_string(bytes) + " bytes; the tables and bucket arrays alone take about " +
                                   std::to_string(structures) + " bytes.");
        if (!evict_down_to(bytes))
            throw pg::SqlError(ERRCODE_OUT_OF_MEMORY, "simple_cache could not evict down to the new size limit",
                               "The limit asked for is " + std::to_string(bytes) + " bytes.");
    }
    install_limit(attachment, bytes);
    if (in_use > bytes)
        give_back_segments();  // the segments the eviction emptied
}

void apply_max_memory_setting()
{
    pg::Attachment &attachment = pg::attach();
    int64_t wanted = max_memory_bytes();
    int64_t applied = attachment.control->max_memory_applied.load(std::memory_order_relaxed);
    if (applied == wanted ||
        !attachment.control->max_memory_applied.compare_exchange_strong(applied, wanted))
        return;
    int64_t in_use = attachment.control->counters.total_bytes();
    if (in_use > wanted && !(eviction_enabled() && evict_down_to(wanted))) {
        // Refused, as simple_cache_set_size_limit() refuses it: the limit in force stays.
        pg::guard([=] {
            ereport(WARNING, (errmsg("simple_cache.max_memory (%lld bytes) is below the memory in use (%lld bytes) and was not applied",
                                     static_cast<long long>(wanted), static_cast<long long>(in_use)),
                              errhint("Drop entries or enable eviction, then change the setting again.")));
        });
        return;
    }
    install_limit(attachment, wanted);
}

}  // namespace simple_cache::cache
