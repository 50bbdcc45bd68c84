-- capi_consumer: SQL functions over simple_cache's C API, for its tests (test/capi_consumer/).
\echo Use "CREATE EXTENSION capi_consumer" to load this file. \quit

-- Whether simple_cache has published its struct in this session (never loads it).
CREATE FUNCTION capi_published() RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- Whether the library's _PG_init found the API while being preloaded (and it is still the
-- published one).
CREATE FUNCTION capi_found_at_preload() RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- The published struct's version and size, this consumer's header's, and whether the header's
-- last member is present by SIMPLE_CACHE_API_HAS (loads simple_cache).
CREATE FUNCTION capi_api_info(OUT version integer, OUT size integer, OUT header_version integer,
                              OUT header_size integer, OUT has_last_member boolean)
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- Whether the published struct serves a consumer built for that version and struct size.
CREATE FUNCTION capi_compatible(version integer, size bigint) RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- The cache through the C API; a NULL key or value is passed as a NULL pointer.
CREATE FUNCTION capi_get(key text) RETURNS bytea
AS 'MODULE_PATHNAME' LANGUAGE C;

-- mode: 0 upsert, 1 add, 2 replace; kind: 0 text, 1 bytea; ttl_ms: -1 none, -2 the default.
CREATE FUNCTION capi_put(key text, value bytea, ttl_ms bigint DEFAULT -2, mode integer DEFAULT 0,
                         kind integer DEFAULT 0) RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE FUNCTION capi_put_claimed(key_len bigint, value_len bigint) RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE FUNCTION capi_drop(key text) RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE FUNCTION capi_incr(key text, delta bigint DEFAULT 1) RETURNS bigint
AS 'MODULE_PATHNAME' LANGUAGE C;

-- The free-space map through the C API (oid: a relation, or an application's own number).
CREATE FUNCTION capi_fsm_record_many(rel oid, blocks bigint[], avail integer[], n bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE FUNCTION capi_fsm_record(rel oid, block bigint, avail integer) RETURNS boolean
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION capi_fsm_get_page(rel oid, needed integer) RETURNS bigint
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION capi_fsm_record_and_get_page(rel oid, old_block bigint, old_avail integer, needed integer)
RETURNS bigint
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
