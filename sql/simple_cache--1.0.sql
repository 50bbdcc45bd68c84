-- simple_cache 1.0: a key/value cache in dynamic shared memory, shared by every backend.
\echo Use "CREATE EXTENSION simple_cache" to load this file. \quit

-- ---------------------------------------------------------------------------------------------
-- Storing values. Each returns whether the key existed (put) or whether the value was stored
-- (add, replace). Without a ttl argument simple_cache.default_ttl applies; a NULL ttl means
-- no expiry.

CREATE FUNCTION simple_cache_put(key text, value text)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_put'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put(key text, value text, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_put'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put(key text, value bytea)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_put_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put(key text, value bytea, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_put_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_add(key text, value text)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_add'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_add(key text, value text, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_add'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_add(key text, value bytea)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_add_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_add(key text, value bytea, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_add_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_replace(key text, value text)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_replace'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_replace(key text, value text, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_replace'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_replace(key text, value bytea)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_replace_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_replace(key text, value bytea, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_replace_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Adds delta to an integer value (creating the key with delta) and returns the result.
CREATE FUNCTION simple_cache_incr(key text, delta bigint DEFAULT 1)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_incr'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The same, giving a key it creates (absent or expired) the time to live ttl (NULL: none); an
-- existing key keeps its expiry. A fixed-window rate limiter in one call.
CREATE FUNCTION simple_cache_incr(key text, delta bigint, ttl interval)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_incr'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Replaces the value only if it currently equals expected.
CREATE FUNCTION simple_cache_cas(key text, expected text, new_value text)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_cas'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- ---------------------------------------------------------------------------------------------
-- Reading and removing.

CREATE FUNCTION simple_cache_get(key text)
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_get'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_get_bytea(key text)
RETURNS bytea AS 'MODULE_PATHNAME', 'simple_cache_get_bytea'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_mget(keys text[])
RETURNS TABLE(key text, value text) AS 'MODULE_PATHNAME', 'simple_cache_mget'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_drop(key text)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_drop'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Removes the key and returns its value in one step (NULL when absent): of concurrent
-- callers, exactly one receives a given value.
CREATE FUNCTION simple_cache_get_and_drop(key text)
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_get_and_drop'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_get_and_drop_bytea(key text)
RETURNS bytea AS 'MODULE_PATHNAME', 'simple_cache_get_and_drop_bytea'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_expire(key text, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_expire'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_ttl(key text)
RETURNS interval AS 'MODULE_PATHNAME', 'simple_cache_ttl'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_list(OUT key text, OUT value text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'simple_cache_list'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- ---------------------------------------------------------------------------------------------
-- Read-through with leases. simple_cache_fetch returns the cached value, or runs the query
-- (one row, one column; with the caller's privileges) under a lease, stores its value and
-- returns it; sessions missing the same key meanwhile wait for that value. A write or drop of
-- the key while the lease is out voids it: the value is returned but not stored. Without ttl,
-- simple_cache.default_ttl applies; a NULL ttl means no expiry.

CREATE FUNCTION simple_cache_fetch(key text, query text)
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_fetch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_fetch(key text, query text, ttl interval)
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_fetch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The two-step form: a hit gives (value, NULL); a miss (NULL, lease), or (NULL, NULL) while
-- another session holds the key's lease. Without lease_time, simple_cache.lease_time applies.
CREATE FUNCTION simple_cache_get_or_lease(key text, OUT value text, OUT lease bigint)
RETURNS record AS 'MODULE_PATHNAME', 'simple_cache_get_or_lease'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_get_or_lease(key text, lease_time interval, OUT value text, OUT lease bigint)
RETURNS record AS 'MODULE_PATHNAME', 'simple_cache_get_or_lease'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Stores the value if the lease is still valid, and ends the lease; whether it stored.
CREATE FUNCTION simple_cache_put_leased(key text, value text, lease bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_put_leased'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put_leased(key text, value text, lease bigint, ttl interval)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_put_leased'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Gives a lease up without storing; whether it was out.
CREATE FUNCTION simple_cache_release_lease(key text, lease bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_release_lease'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- The leases out on keys of the current database.
CREATE FUNCTION simple_cache_leases(OUT holder_pid integer, OUT expires timestamptz, OUT voided boolean)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'simple_cache_leases'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- ---------------------------------------------------------------------------------------------
-- Administration and observability.

CREATE FUNCTION simple_cache_flush()
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_flush'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_set_size_limit(n bigint)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_set_size_limit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_stats(
    OUT entries bigint, OUT key_value_bytes bigint, OUT area_bytes bigint, OUT size_limit bigint,
    OUT hits bigint, OUT misses bigint, OUT puts bigint, OUT drops bigint, OUT evictions bigint,
    OUT expirations bigint, OUT resizes bigint, OUT buckets bigint, OUT stats_reset timestamptz)
RETURNS record AS 'MODULE_PATHNAME', 'simple_cache_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW simple_cache_stats AS SELECT * FROM simple_cache_stats();
GRANT SELECT ON simple_cache_stats TO PUBLIC;

CREATE FUNCTION simple_cache_stats_reset()
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_stats_reset'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_dump_area()
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_dump_area'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- One row per database that uses the extension: its cache entries' bytes in the shared area
-- (items with their headers) and the sessions using it now.
CREATE FUNCTION simple_cache_databases(OUT datid oid, OUT cache_bytes bigint, OUT sessions integer)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'simple_cache_databases'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION simple_cache_dump_hash_table()
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_dump_hash_table'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- ---------------------------------------------------------------------------------------------
-- Persistence: save every database's entries to simple_cache.dat in the data directory, and
-- load them back (merging: a loaded entry replaces the one with the same key, others stay).
-- Each returns how many entries it wrote or loaded.

CREATE FUNCTION simple_cache_save()
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_save'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_load()
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_load'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- ---------------------------------------------------------------------------------------------
-- Privileges: the data functions stay executable by everyone; administration is for
-- superusers unless granted, and monitoring roles may read statistics and reports.

REVOKE ALL ON FUNCTION simple_cache_set_size_limit(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_flush() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_stats_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_dump_area() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_dump_hash_table() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_databases() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_save() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_load() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION simple_cache_dump_area() TO pg_monitor;
GRANT EXECUTE ON FUNCTION simple_cache_dump_hash_table() TO pg_monitor;
GRANT EXECUTE ON FUNCTION simple_cache_databases() TO pg_monitor;

-- ---------------------------------------------------------------------------------------------
-- Free-space map: per relation of the current database, pages with their free bytes
-- (heap-style) or wholly free pages (index-style), in one budget of simple_cache.fsm_max_pages
-- page slots shared by the whole server. A relation is any regclass, real or not. Functions
-- naming a relation of this database check the caller's right on its table: SELECT to read,
-- INSERT or UPDATE to get and record pages, and the right to VACUUM it to change it wholesale.

-- Replaces rel's pages wholesale; returns the pages kept after trimming to rel's target.
CREATE FUNCTION simple_cache_fsm_record_many(rel regclass, blocks bigint[], avail integer[])
RETURNS integer AS 'MODULE_PATHNAME', 'simple_cache_fsm_record_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Updates a tracked page's free bytes; false when the page is not tracked.
CREATE FUNCTION simple_cache_fsm_record(rel regclass, block bigint, avail integer)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_fsm_record'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- A page with at least needed free bytes (round-robin), NULL when none.
CREATE FUNCTION simple_cache_fsm_get_page(rel regclass, needed integer)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_get_page'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Records old_avail for old_block, then gets a page with needed free bytes: one atomic step.
CREATE FUNCTION simple_cache_fsm_record_and_get_page(rel regclass, old_block bigint, old_avail integer,
                                                     needed integer)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_record_and_get_page'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- The average request size of rel's get_page calls; NULL when rel is not tracked.
CREATE FUNCTION simple_cache_fsm_avg_request(rel regclass)
RETURNS integer AS 'MODULE_PATHNAME', 'simple_cache_fsm_avg_request'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Index-style free-page lists: add a wholly free page; take the lowest one out.
CREATE FUNCTION simple_cache_fsm_add_free_page(rel regclass, block bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_fsm_add_free_page'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_fsm_get_free_page(rel regclass)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_get_free_page'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- How many listed free pages end rel (of nblocks pages; NULL: rel's real size): it could be
-- truncated by that many. After truncating, simple_cache_fsm_truncate forgets the pages gone.
CREATE FUNCTION simple_cache_fsm_truncatable_pages(rel regclass, nblocks bigint DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_truncatable_pages'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_fsm_truncate(rel regclass, nblocks bigint)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_truncate'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Scans a heap table or btree index and records its free space wholesale.
CREATE FUNCTION simple_cache_fsm_vacuum(rel regclass)
RETURNS integer AS 'MODULE_PATHNAME', 'simple_cache_fsm_vacuum'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Stops tracking rel; whether it was tracked.
CREATE FUNCTION simple_cache_fsm_forget(rel regclass)
RETURNS boolean AS 'MODULE_PATHNAME', 'simple_cache_fsm_forget'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- The pages the map keeps for rel, in block order (avail NULL for index-style lists).
CREATE FUNCTION simple_cache_fsm_pages(rel regclass, OUT block bigint, OUT avail integer)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'simple_cache_fsm_pages'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_fsm_relations(
    OUT relid regclass, OUT is_index boolean, OUT stored_pages bigint, OUT requested_pages bigint,
    OUT target_pages bigint, OUT avg_request integer, OUT chunks integer)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'simple_cache_fsm_relations'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- The view is for everyone, like the function behind it: both list only the relations the
-- caller may read (SELECT on the table, or the right to vacuum it) and made-up oids.
CREATE VIEW simple_cache_fsm_relations AS SELECT * FROM simple_cache_fsm_relations();
GRANT SELECT ON simple_cache_fsm_relations TO PUBLIC;

CREATE FUNCTION simple_cache_fsm_summary(
    OUT capacity_pages bigint, OUT used_pages bigint, OUT requested_pages bigint,
    OUT oversubscription numeric, OUT relations integer)
RETURNS record AS 'MODULE_PATHNAME', 'simple_cache_fsm_summary'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Testing aid: the map's invariants, the map locks this backend holds, and the bytes of the
-- map's hash table buckets.
CREATE FUNCTION simple_cache_fsm_check(OUT consistent boolean, OUT problem text, OUT locks_held integer,
                                       OUT table_bytes bigint)
RETURNS record AS 'MODULE_PATHNAME', 'simple_cache_fsm_check'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Dropped tables and indexes are forgotten when the dropping transaction commits. The event
-- trigger runs in every backend, also one that never loaded the library; the library is
-- loaded only when a relation was dropped, and does nothing while the map does not exist.
CREATE FUNCTION simple_cache_fsm_forget_dropped(relids oid[])
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_fsm_forget_dropped'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_fsm_on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dropped oid[];
BEGIN
    SELECT array_agg(objid) INTO dropped
    FROM pg_event_trigger_dropped_objects()
    WHERE classid = 'pg_class'::regclass AND objsubid = 0;
    IF dropped IS NOT NULL THEN
        PERFORM @extschema@.simple_cache_fsm_forget_dropped(dropped);
    END IF;
END
$$;

CREATE EVENT TRIGGER simple_cache_fsm_forget_dropped ON sql_drop
EXECUTE FUNCTION simple_cache_fsm_on_sql_drop();

REVOKE ALL ON FUNCTION simple_cache_fsm_forget_dropped(oid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_fsm_on_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_fsm_check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION simple_cache_fsm_check() TO pg_monitor;

-- Persistence of the map: save every database's relations to simple_cache_fsm.dat in the data
-- directory, and load them back (each relation reported wholesale, replacing what is tracked
-- under its oid). Each returns how many relations it wrote or loaded.
CREATE FUNCTION simple_cache_fsm_save()
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_save'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_fsm_load()
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_fsm_load'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION simple_cache_fsm_save() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_fsm_load() FROM PUBLIC;
