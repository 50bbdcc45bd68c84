-- simple_cache 1.0: a key/value cache in dynamic shared memory, shared by every backend.
\echo Use "CREATE EXTENSION simple_cache" to load this file. \quit

-- Stores value under key in the current database; true when the key already existed.
CREATE FUNCTION simple_cache_put(key text, value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'simple_cache_put'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The value stored under key, or NULL.
CREATE FUNCTION simple_cache_get(key text)
RETURNS text
AS 'MODULE_PATHNAME', 'simple_cache_get'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Removes key; true when it was present.
CREATE FUNCTION simple_cache_drop(key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'simple_cache_drop'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Every entry of the current database.
CREATE FUNCTION simple_cache_list(OUT key text, OUT value text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'simple_cache_list'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

-- Caps the shared area's total size, in bytes.
CREATE FUNCTION simple_cache_set_size_limit(n bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'simple_cache_set_size_limit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Reports on the shared area and on the cache's hash table.
CREATE FUNCTION simple_cache_dump_area()
RETURNS text
AS 'MODULE_PATHNAME', 'simple_cache_dump_area'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE FUNCTION simple_cache_dump_hash_table()
RETURNS text
AS 'MODULE_PATHNAME', 'simple_cache_dump_hash_table'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION simple_cache_set_size_limit(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_dump_area() FROM PUBLIC;
REVOKE ALL ON FUNCTION simple_cache_dump_hash_table() FROM PUBLIC;
