// Citus glue: the shard map of the colocation anchor, loaded through SPI from Citus' catalogs
// when they exist, and the ownership check of keyed calls. See citus_routing.hpp.
#include "simple_cache/pg/citus_routing.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace simple_cache::pg::citus {

namespace {

constexpr const char *anchor_name = "simple_cache_citus_anchor";

// One shard of the anchor: its hash range and where it is placed.
struct ShardRange {
    int32 min_hash;
    int32 max_hash;
    bool local;
    char *owner;  // "host:port", in map_context
};

// The state of this backend's map.
enum class MapState { unknown, unsharded, loaded };

MapState map_state = MapState::unknown;
Oid anchor_oid = InvalidOid;
ShardRange *ranges = nullptr;
int range_count = 0;
MemoryContext map_context = nullptr;
bool callbacks_registered = false;
uint64 invalidations = 0;  // counts resets, to notice one that happens while loading

// Forgets the map (an invalidation callback: must not raise errors or use the catalogs).
void reset_map()
{
    map_state = MapState::unknown;
    invalidations++;
}

// Relcache callback: the anchor changed (Citus invalidates it when its shards or placements
// change), or every relation did.
void on_relcache_change(Datum, Oid relid)
{
    if (relid == InvalidOid || relid == anchor_oid)
        reset_map();
}

// pg_class callback: while no anchor is known, a new relation may be it.
void on_pg_class_change(Datum, syscache_id, uint32)
{
    if (map_state == MapState::unsharded)
        reset_map();
}

// Loads the anchor's shard map of the current database into map_context. The anchor lives in
// the schema of the calling function (the extension's schema).
void load_map(Oid function_oid)
{
    if (!callbacks_registered) {
        CacheRegisterRelcacheCallback(on_relcache_change, (Datum) 0);
        CacheRegisterSyscacheCallback(RELNAMENSP, on_pg_class_change, (Datum) 0);
        callbacks_registered = true;
    }
    if (map_context == nullptr)
        map_context = AllocSetContextCreate(TopMemoryContext, "simple_cache citus shard map",
                                            ALLOCSET_SMALL_SIZES);
    MemoryContextReset(map_context);
    ranges = nullptr;
    range_count = 0;
    uint64 invalidations_before = invalidations;

    Oid schema = get_func_namespace(function_oid);
    anchor_oid = get_relname_relid(anchor_name, schema);
    bool citus_catalogs = OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)) &&
                          OidIsValid(get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE));
    if (OidIsValid(anchor_oid) && citus_catalogs) {
        static const char *query =
            "SELECT s.shardminvalue::int4, s.shardmaxvalue::int4,"
            "       p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group),"
            "       coalesce(n.nodename || ':' || n.nodeport, 'group ' || p.groupid)"
            "  FROM pg_catalog.pg_dist_shard s"
            "  JOIN pg_catalog.pg_dist_placement p ON p.shardid = s.shardid AND p.shardstate = 1"
            "  LEFT JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'"
            " WHERE s.logicalrelid = $1 ORDER BY 1";
        Oid argtypes[1] = {OIDOID};
        Datum args[1] = {ObjectIdGetDatum(anchor_oid)};
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "simple_cache: SPI_connect failed");
        int rc = SPI_execute_with_args(query, 1, argtypes, args, nullptr, true, 0);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "simple_cache: reading the Citus shard map failed (SPI code %d)", rc);
        ranges = static_cast<ShardRange *>(
            MemoryContextAllocZero(map_context, sizeof(ShardRange) * (SPI_processed + 1)));
        for (uint64 row = 0; row < SPI_processed; row++) {
            HeapTuple tuple = SPI_tuptable->vals[row];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool null_min, null_max, null_local, null_owner;
            Datum min_hash = SPI_getbinval(tuple, desc, 1, &null_min);
            Datum max_hash = SPI_getbinval(tuple, desc, 2, &null_max);
            Datum local = SPI_getbinval(tuple, desc, 3, &null_local);
            Datum owner = SPI_getbinval(tuple, desc, 4, &null_owner);
            if (null_min || null_max)
                continue;  // not a hash-distributed shard: not ours to judge
            ShardRange &range = ranges[range_count++];
            range.min_hash = DatumGetInt32(min_hash);
            range.max_hash = DatumGetInt32(max_hash);
            range.local = !null_local && DatumGetBool(local);
            range.owner = MemoryContextStrdup(map_context, null_owner ? "?" : TextDatumGetCString(owner));
        }
        SPI_finish();
    }
    MapState loaded = range_count > 0 ? MapState::loaded : MapState::unsharded;
    // An invalidation that arrived while loading leaves the state unknown: the next call
    // loads again; this call uses what was read.
    map_state = invalidations == invalidations_before ? loaded : MapState::unknown;
    if (loaded == MapState::unsharded)
        range_count = 0;
}

}  // namespace

// Finds the shard range of key by its hash (Citus hashes text with hashtext, which for the
// anchor's deterministic "C" collation is hash_any over the bytes).
KeyOwner key_owner(Oid function_oid, const char *key, size_t key_size, const char **owner_name)
{
    if (map_state == MapState::unknown)
        load_map(function_oid);
    if (range_count == 0)
        return KeyOwner::unsharded;
    int32 hash = DatumGetInt32(hash_any(reinterpret_cast<const unsigned char *>(key), static_cast<int>(key_size)));
    int low = 0, high = range_count - 1;
    while (low <= high) {
        int middle = low + (high - low) / 2;
        const ShardRange &range = ranges[middle];
        if (hash < range.min_hash)
            high = middle - 1;
        else if (hash > range.max_hash)
            low = middle + 1;
        else {
            if (owner_name != nullptr)
                *owner_name = range.owner;
            return range.local ? KeyOwner::local : KeyOwner::remote;
        }
    }
    // A hash no shard covers (a map caught mid-change): let the call run here.
    return KeyOwner::unsharded;
}

// Raises 0A000 for a key owned by another node; see the header.
void require_owned(FunctionCallInfo fcinfo, const char *function, const char *key, size_t key_size)
{
    const char *owner = nullptr;
    if (key_owner(fcinfo->flinfo->fn_oid, key, key_size, &owner) != KeyOwner::remote)
        return;
    int shown = pg_mbcliplen(key, static_cast<int>(key_size), 64);
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("%s: key \"%.*s\" belongs to the Citus node %s, but this call runs on another node",
                    function, shown, key, owner),
             errdetail("Citus routes only a top-level \"SELECT %s(...)\" with a constant key, outside a "
                       "transaction block; this call was not routed, and running it here would use "
                       "the wrong node's cache.",
                       function),
             errhint("Call it on its own as a top-level statement, or use the simple_cache_citus_* "
                     "functions for several keys.")));
}

// Raises 0A000 for a key, made by an invalidation trigger, that another node owns; see the
// header.
void require_owned_by_trigger(FunctionCallInfo fcinfo, const char *trigger, const char *table, const char *key,
                              size_t key_size)
{
    const char *owner = nullptr;
    if (key_owner(fcinfo->flinfo->fn_oid, key, key_size, &owner) != KeyOwner::remote)
        return;
    int shown = pg_mbcliplen(key, static_cast<int>(key_size), 64);
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("trigger \"%s\" on table \"%s\": key \"%.*s\" belongs to the Citus node %s, but the "
                    "trigger runs on another node",
                    trigger, table, shown, key, owner),
             errdetail("simple_cache_invalidate_trigger() drops keys in the cache of the node where the table "
                       "is changed; dropping this key here would leave its owner's value stale."),
             errhint("Change the table on the node that owns its keys, or invalidate the keys on their owners "
                     "after the commit (a top-level SELECT simple_cache_drop(key)).")));
}

}  // namespace simple_cache::pg::citus
