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
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION simple_cache_get_bytea(key text)
RETURNS bytea AS 'MODULE_PATHNAME', 'simple_cache_get_bytea'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION simple_cache_mget(keys text[])
RETURNS TABLE(key text, value text) AS 'MODULE_PATHNAME', 'simple_cache_mget'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

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
-- Keys under a prefix, in the current database: list, count, drop now.

CREATE FUNCTION simple_cache_list_prefix(prefix text, OUT key text, OUT value text)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'simple_cache_list_prefix'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_count_prefix(prefix text)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_count_prefix'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_drop_prefix(prefix text)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_drop_prefix'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- ---------------------------------------------------------------------------------------------
-- Writes that take effect when the transaction commits, in the order they were made, and are
-- discarded if it (or the savepoint they follow) rolls back. The session's own reads
-- (simple_cache_get, simple_cache_get_bytea, simple_cache_mget, which therefore run in the
-- leader only) see them at once; other sessions see nothing before the commit. NULL arguments
-- are errors: an invalidation that silently did nothing would leave a stale value.

CREATE FUNCTION simple_cache_put_at_commit(key text, value text)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_put_at_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put_at_commit(key text, value text, ttl interval)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_put_at_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put_at_commit(key text, value bytea)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_put_at_commit_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_put_at_commit(key text, value bytea, ttl interval)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_put_at_commit_bytea'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_incr_at_commit(key text, delta bigint DEFAULT 1)
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_incr_at_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_invalidate(key text)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_invalidate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_invalidate_prefix(prefix text)
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_invalidate_prefix'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- A trigger function that invalidates at commit the keys built from the changed rows, by
-- templates given as the trigger's arguments ('user:{id}'): FOR EACH ROW AFTER INSERT, UPDATE
-- or DELETE drops the keys of the OLD and NEW rows; FOR EACH STATEMENT (TRUNCATE) drops every
-- key that starts with a template's text before its first placeholder.
CREATE FUNCTION simple_cache_invalidate_trigger()
RETURNS trigger AS 'MODULE_PATHNAME', 'simple_cache_invalidate_trigger'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

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

-- Replication: whether this server registered the WAL resource manager (simple_cache preloaded)
-- and its id; records of at-commit invalidations it logged for its standbys; records, keys and
-- prefixes it replayed from its primary (or in crash recovery), replays that fell back to a
-- whole database; fences out now and the puts and fetch leases they refused; whether any
-- record was replayed since the server started (the saved cache is then not loaded at
-- start-up); the scans of the cache replay made (one per record with prefixes and database, or
-- per database dropped whole). Counted since the server started; all zero without preloading.
CREATE FUNCTION simple_cache_replica_stats(
    OUT wal_rmgr_registered boolean, OUT wal_rmgr_id integer, OUT records_logged bigint,
    OUT records_replayed bigint, OUT keys_replayed bigint, OUT prefixes_replayed bigint,
    OUT database_fallbacks bigint, OUT fences_active bigint, OUT puts_refused bigint,
    OUT replayed_since_start boolean, OUT replay_scans bigint)
RETURNS record AS 'MODULE_PATHNAME', 'simple_cache_replica_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

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

-- ---------------------------------------------------------------------------------------------
-- Citus: one cache sharded by key over the workers of a Citus cluster (README, section Citus).
-- Nothing here needs Citus until simple_cache_citus_distribute() runs on the coordinator.

-- Planner support of the keyed functions: a constant NULL key fails with 22004 while the call
-- is planned, so it never reaches Citus, which hashes the constant distribution argument of a
-- distributed function (STRICT functions fold to NULL before); and a call in a query that
-- reads anything else is kept from Citus' routing, which crashes on such queries once they
-- are flattened (see src/sql/citus_functions.cpp).
CREATE FUNCTION simple_cache_key_support(internal)
RETURNS internal AS 'MODULE_PATHNAME', 'simple_cache_key_support'
LANGUAGE C STRICT;

ALTER FUNCTION simple_cache_put(text, text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_put(text, text, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_put(text, bytea) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_put(text, bytea, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_add(text, text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_add(text, text, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_add(text, bytea) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_add(text, bytea, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_replace(text, text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_replace(text, text, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_replace(text, bytea) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_replace(text, bytea, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_incr(text, bigint) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_cas(text, text, text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_get(text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_get_bytea(text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_drop(text) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_expire(text, interval) SUPPORT simple_cache_key_support;
ALTER FUNCTION simple_cache_ttl(text) SUPPORT simple_cache_key_support;

-- The keyed functions Citus routes by their first argument, the key.
CREATE FUNCTION simple_cache_citus_keyed_functions()
RETURNS SETOF regprocedure
LANGUAGE sql IMMUTABLE SET search_path = @extschema@, pg_catalog AS $$
    SELECT unnest(ARRAY[
        'simple_cache_put(text, text)', 'simple_cache_put(text, text, interval)',
        'simple_cache_put(text, bytea)', 'simple_cache_put(text, bytea, interval)',
        'simple_cache_add(text, text)', 'simple_cache_add(text, text, interval)',
        'simple_cache_add(text, bytea)', 'simple_cache_add(text, bytea, interval)',
        'simple_cache_replace(text, text)', 'simple_cache_replace(text, text, interval)',
        'simple_cache_replace(text, bytea)', 'simple_cache_replace(text, bytea, interval)',
        'simple_cache_incr(text, bigint)', 'simple_cache_cas(text, text, text)',
        'simple_cache_get(text)', 'simple_cache_get_bytea(text)', 'simple_cache_drop(text)',
        'simple_cache_expire(text, interval)', 'simple_cache_ttl(text)']::regprocedure[])
$$;

-- The Citus node ("host:port") that owns key, 'local' for this node, NULL when the cache is
-- not distributed here.
CREATE FUNCTION simple_cache_citus_owner(key text)
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_citus_owner'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Drops this node's entries (current database) that another node owns, after shards moved.
CREATE FUNCTION simple_cache_citus_drop_unowned()
RETURNS bigint AS 'MODULE_PATHNAME', 'simple_cache_citus_drop_unowned'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Raises 55000 unless Citus is installed in this database and this is its coordinator, and,
-- for an administrative call, 42501 unless the caller is a superuser or the extension's owner.
-- function names the caller.
CREATE FUNCTION simple_cache_citus_require_coordinator(function text, administrative boolean)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION '%: Citus is not installed in this database', function
            USING ERRCODE = '55000',
                  HINT = 'Add citus to shared_preload_libraries and run CREATE EXTENSION citus on every node.';
    END IF;
    IF administrative AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND current_user::text::regrole <> (SELECT extowner FROM pg_extension WHERE extname = 'simple_cache') THEN
        RAISE EXCEPTION '%: only a superuser or the owner of simple_cache may run it', function
            USING ERRCODE = '42501';
    END IF;
    IF NOT citus_is_coordinator() THEN
        RAISE EXCEPTION '%: run it on the Citus coordinator', function USING ERRCODE = '55000';
    END IF;
END
$$;

-- Sets the Citus cluster up for the cache: creates the colocation anchor, the distributed
-- table simple_cache_citus_anchor(key text COLLATE "C") whose shards decide which worker
-- owns a key, and distributes every keyed function by its key, colocated with it. Idempotent:
-- a second call changes nothing. Returns a summary.
CREATE FUNCTION simple_cache_citus_distribute(shard_count integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog, pg_temp AS $$
DECLARE
    anchor regclass;
    fn regprocedure;
    newly_distributed integer := 0;
    shards integer;
    nodes integer;
BEGIN
    PERFORM simple_cache_citus_require_coordinator('simple_cache_citus_distribute', true);
    IF shard_count IS NOT NULL AND shard_count < 1 THEN
        RAISE EXCEPTION 'simple_cache_citus_distribute: shard_count must be positive' USING ERRCODE = '22023';
    END IF;
    anchor := to_regclass('@extschema@.simple_cache_citus_anchor');
    IF anchor IS NULL THEN
        CREATE TABLE @extschema@.simple_cache_citus_anchor (key text COLLATE "C");
        COMMENT ON TABLE @extschema@.simple_cache_citus_anchor IS
            'simple_cache: Citus colocation anchor of the keyed functions (always empty)';
        anchor := '@extschema@.simple_cache_citus_anchor'::regclass;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = anchor) THEN
        -- One placement per shard: Citus routes no call to a replicated shard.
        PERFORM set_config('citus.shard_replication_factor', '1', true);
        IF shard_count IS NULL THEN
            PERFORM create_distributed_table(anchor, 'key');
        ELSE
            PERFORM create_distributed_table(anchor, 'key', shard_count := shard_count);
        END IF;
    END IF;
    FOR fn IN SELECT simple_cache_citus_keyed_functions() LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_dist_object o
            WHERE o.classid = 'pg_proc'::regclass AND o.objid = fn
              AND o.distribution_argument_index = 0
              AND o.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = anchor)) THEN
            PERFORM create_distributed_function(fn, '$1', colocate_with := anchor::text);
            newly_distributed := newly_distributed + 1;
        END IF;
    END LOOP;
    SELECT count(*), count(DISTINCT p.groupid) INTO shards, nodes
    FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) WHERE s.logicalrelid = anchor;
    RETURN format('%s keyed functions distributed (%s newly), colocated with %s: %s shards on %s nodes',
                  (SELECT count(*) FROM simple_cache_citus_keyed_functions()), newly_distributed,
                  anchor, shards, nodes);
END
$$;

REVOKE ALL ON FUNCTION simple_cache_citus_drop_unowned() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_citus_distribute(integer) FROM PUBLIC;

-- Cluster-wide statistics: one row per active primary node of the Citus cluster (coordinator
-- included), its simple_cache_stats() for the current database's server; error is the
-- node's failure (then the figures are NULL). Run on the coordinator.
CREATE FUNCTION simple_cache_citus_stats(
    OUT nodename text, OUT nodeport integer, OUT entries bigint, OUT key_value_bytes bigint,
    OUT area_bytes bigint, OUT hits bigint, OUT misses bigint, OUT puts bigint, OUT drops bigint,
    OUT evictions bigint, OUT expirations bigint, OUT error text)
RETURNS SETOF record
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'simple_cache_citus_stats: Citus is not installed in this database' USING ERRCODE = '55000';
    END IF;
    RETURN QUERY
    SELECT n.nodename::text, n.nodeport, s.entries, s.key_value_bytes, s.area_bytes, s.hits, s.misses,
           s.puts, s.drops, s.evictions, s.expirations,
           CASE WHEN NOT r.success THEN r.result END
    FROM run_command_on_all_nodes(
             format('SELECT row_to_json(s) FROM %I.simple_cache_stats s',
                    (SELECT nspname FROM pg_namespace WHERE oid = (SELECT extnamespace FROM pg_extension
                                                                    WHERE extname = 'simple_cache'))),
             parallel := true, give_warning_for_connection_errors := false) r
    JOIN pg_dist_node n USING (nodeid)
    LEFT JOIN LATERAL json_to_record(CASE WHEN r.success THEN r.result::json END)
         AS s(entries bigint, key_value_bytes bigint, area_bytes bigint, hits bigint, misses bigint,
              puts bigint, drops bigint, evictions bigint, expirations bigint) ON true
    ORDER BY n.nodename, n.nodeport;
END
$$;

-- The sums over the cluster's nodes; nodes_failed counts the nodes that did not answer.
CREATE VIEW simple_cache_citus_stats_total AS
SELECT count(*) FILTER (WHERE error IS NULL) AS nodes, count(*) FILTER (WHERE error IS NOT NULL) AS nodes_failed,
       sum(entries)::bigint AS entries, sum(key_value_bytes)::bigint AS key_value_bytes,
       sum(area_bytes)::bigint AS area_bytes, sum(hits)::bigint AS hits, sum(misses)::bigint AS misses,
       sum(puts)::bigint AS puts, sum(drops)::bigint AS drops, sum(evictions)::bigint AS evictions,
       sum(expirations)::bigint AS expirations
FROM simple_cache_citus_stats();

-- Flushes the current database's entries on every node; returns how many were dropped in
-- all. Fails naming the first node that could not flush (the others are flushed).
CREATE FUNCTION simple_cache_citus_flush()
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    schema_name text;
    answer record;
    failed record;
    total bigint := 0;
BEGIN
    PERFORM @extschema@.simple_cache_citus_require_coordinator('simple_cache_citus_flush', true);
    SELECT nspname INTO schema_name FROM pg_namespace
    WHERE oid = (SELECT extnamespace FROM pg_extension WHERE extname = 'simple_cache');
    FOR answer IN
        SELECT n.nodename, n.nodeport, r.success, r.result
        FROM run_command_on_all_nodes(format('SELECT %I.simple_cache_flush()', schema_name)) r
        JOIN pg_dist_node n USING (nodeid)
        ORDER BY n.nodename, n.nodeport
    LOOP
        IF answer.success THEN
            total := total + answer.result::bigint;
        ELSIF failed IS NULL THEN
            failed := answer;
        END IF;
    END LOOP;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'simple_cache_citus_flush: node %:% failed: %', failed.nodename, failed.nodeport, failed.result
            USING ERRCODE = '08006';
    END IF;
    RETURN total;
END
$$;

-- Every node's entries of the current database, with the node that holds each. Each node's
-- listing travels as one value: for inspection, not for caches of gigabytes. A node that
-- cannot be reached is named in a WARNING.
CREATE FUNCTION simple_cache_citus_list(OUT nodename text, OUT nodeport integer, OUT key text, OUT value text)
RETURNS SETOF record
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    schema_name text;
    answer record;
BEGIN
    PERFORM @extschema@.simple_cache_citus_require_coordinator('simple_cache_citus_list', true);
    SELECT nspname INTO schema_name FROM pg_namespace
    WHERE oid = (SELECT extnamespace FROM pg_extension WHERE extname = 'simple_cache');
    FOR answer IN
        SELECT n.nodename::text AS nodename, n.nodeport, r.success, r.result
        FROM run_command_on_all_nodes(
                 format('SELECT coalesce(json_agg(json_build_array(key, value)), ''[]'') FROM %I.simple_cache_list()',
                        schema_name)) r
        JOIN pg_dist_node n USING (nodeid)
        ORDER BY n.nodename, n.nodeport
    LOOP
        IF NOT answer.success THEN
            RAISE WARNING 'simple_cache_citus_list: node %:% failed: %', answer.nodename, answer.nodeport, answer.result;
            CONTINUE;
        END IF;
        RETURN QUERY SELECT answer.nodename, answer.nodeport, pair->>0, pair->>1
                     FROM json_array_elements(answer.result::json) pair ORDER BY 3;
    END LOOP;
END
$$;

-- The values of keys, in their order (as simple_cache_mget), fetched from their owning
-- workers with one command per worker, run in parallel. Keys of a node that cannot be reached
-- read as absent, with a WARNING naming the node.
CREATE FUNCTION simple_cache_citus_mget(keys text[])
RETURNS TABLE(key text, value text)
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    schema_name text;
    node_names text[];
    node_ports integer[];
    commands text[];
    found jsonb := '{}';
    answer record;
BEGIN
    PERFORM @extschema@.simple_cache_citus_require_coordinator('simple_cache_citus_mget', false);
    SELECT nspname INTO schema_name FROM pg_namespace
    WHERE oid = (SELECT extnamespace FROM pg_extension WHERE extname = 'simple_cache');
    -- Keys grouped by owner ("host:port"; 'local' for keys this node owns).
    SELECT array_agg(regexp_replace(owner, ':[0-9]+$', '')), array_agg(substring(owner FROM ':([0-9]+)$')::integer),
           array_agg(format('SELECT coalesce(json_object_agg(key, value) FILTER (WHERE value IS NOT NULL), ''{}'') '
                            'FROM %I.simple_cache_mget(%L::text[])', schema_name, owned_keys))
      INTO node_names, node_ports, commands
    FROM (SELECT @extschema@.simple_cache_citus_owner(k) AS owner, array_agg(DISTINCT k) AS owned_keys
          FROM unnest(keys) k WHERE k IS NOT NULL GROUP BY 1) groups
    WHERE owner IS NOT NULL AND owner <> 'local';
    IF EXISTS (SELECT 1 FROM unnest(keys) k WHERE k IS NOT NULL AND @extschema@.simple_cache_citus_owner(k) IS NULL) THEN
        RAISE EXCEPTION 'simple_cache_citus_mget: the cache is not distributed'
            USING ERRCODE = '55000', HINT = 'Run simple_cache_citus_distribute() first.';
    END IF;
    IF node_names IS NOT NULL THEN
        FOR answer IN SELECT * FROM master_run_on_worker(node_names, node_ports, commands, true) LOOP
            IF answer.success THEN
                found := found || answer.result::jsonb;
            ELSE
                RAISE WARNING 'simple_cache_citus_mget: node %:% failed, its keys read as absent: %',
                    answer.node_name, answer.node_port, answer.result;
            END IF;
        END LOOP;
    END IF;
    -- Keys the coordinator itself owns (when it holds shards) are read here.
    SELECT found || coalesce(jsonb_object_agg(m.key, m.value) FILTER (WHERE m.value IS NOT NULL), '{}')
      INTO found
    FROM @extschema@.simple_cache_mget(ARRAY(SELECT k FROM unnest(keys) k
                                             WHERE @extschema@.simple_cache_citus_owner(k) = 'local')) m;
    RETURN QUERY SELECT k, found->>k FROM unnest(keys) WITH ORDINALITY AS u(k, i) ORDER BY i;
END
$$;

REVOKE ALL ON FUNCTION simple_cache_citus_flush() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_citus_list() FROM PUBLIC;

-- After shards moved (a node added and the cluster rebalanced, a shard moved or a node
-- drained): drops on every node the entries of the current database whose keys that node no
-- longer owns; returns how many in all. Moves carry no cache entries: the new owner starts
-- empty for the moved shards.
CREATE FUNCTION simple_cache_citus_drop_moved()
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    schema_name text;
    answer record;
    total bigint := 0;
BEGIN
    PERFORM @extschema@.simple_cache_citus_require_coordinator('simple_cache_citus_drop_moved', true);
    SELECT nspname INTO schema_name FROM pg_namespace
    WHERE oid = (SELECT extnamespace FROM pg_extension WHERE extname = 'simple_cache');
    FOR answer IN
        SELECT n.nodename, n.nodeport, r.success, r.result
        FROM run_command_on_all_nodes(format('SELECT %I.simple_cache_citus_drop_unowned()', schema_name)) r
        JOIN pg_dist_node n USING (nodeid)
    LOOP
        IF NOT answer.success THEN
            RAISE EXCEPTION 'simple_cache_citus_drop_moved: node %:% failed: %',
                answer.nodename, answer.nodeport, answer.result USING ERRCODE = '08006';
        END IF;
        total := total + answer.result::bigint;
    END LOOP;
    RETURN total;
END
$$;

REVOKE ALL ON FUNCTION simple_cache_citus_drop_moved() FROM PUBLIC;
