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

CREATE FUNCTION simple_cache_stats_reset()
RETURNS void AS 'MODULE_PATHNAME', 'simple_cache_stats_reset'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION simple_cache_dump_area()
RETURNS text AS 'MODULE_PATHNAME', 'simple_cache_dump_area'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

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
REVOKE ALL ON FUNCTION simple_cache_save() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_load() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION simple_cache_dump_area() TO pg_monitor;
GRANT EXECUTE ON FUNCTION simple_cache_dump_hash_table() TO pg_monitor;
