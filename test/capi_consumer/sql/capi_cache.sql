-- capi_cache: the cache through simple_cache's C API, called from the C extension
-- capi_consumer (capi_get, capi_put, capi_drop, capi_incr call api->get, ->put, ->drop,
-- ->incr). What C writes, SQL reads and the other way round; TTLs and the put modes; errors
-- with the SQL functions' SQLSTATEs and nothing changed; another database's keys invisible; a
-- database without the extension refused; EXECUTE grants not consulted.
-- Keys start with 'c:'.
\pset null '<NULL>'

-- Finding the API. This session has not called simple_cache yet, so its library is not
-- loaded and nothing is published: the rendezvous variable holds NULL (no crash). The first
-- call through the API loads the library, which publishes the struct in _PG_init.
SELECT capi_published() AS published_before_first_use;
SELECT version, size = header_size AS same_size, version = header_version AS same_version, has_last_member
FROM capi_api_info();
SELECT capi_published() AS published_after_first_use;

-- The version rule: the same version and at least the consumer's struct size. A consumer of
-- an older header (smaller struct) is served; one of a newer version or a larger struct is not.
SELECT size AS api_size FROM capi_api_info() \gset
SELECT capi_compatible(1, :api_size) AS same,
       capi_compatible(1, :api_size - 8) AS older_header,
       capi_compatible(1, :api_size + 8) AS newer_header,
       capi_compatible(2, :api_size) AS next_version,
       capi_compatible(0, :api_size) AS version_zero;

CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

-- This file's entries, to show that refused calls changed nothing.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(key || '=' || coalesce(value, '?'), ',' ORDER BY key COLLATE "C"), ''))
    FROM simple_cache_list() WHERE starts_with(key, 'c:')
$$;

-- Bytes in use minus the bucket arrays (as in the main suites).
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;

-- Put through C, get through SQL, and back.
SELECT capi_put('c:greeting', 'hello') AS existed;
SELECT simple_cache_get('c:greeting') AS sql_get;
SELECT capi_put('c:greeting', 'hello again') AS existed;
SELECT simple_cache_get('c:greeting') AS sql_get;
SELECT simple_cache_put('c:from_sql', 'put by SQL') AS existed;
SELECT capi_get('c:from_sql') AS c_get, convert_from(capi_get('c:from_sql'), 'UTF8') AS as_text;
SELECT capi_get('c:absent') AS absent;
SELECT capi_put('c:empty', '') AS existed, simple_cache_get('c:empty') = '' AS empty_value,
       octet_length(capi_get('c:empty')) AS c_length;
SELECT count(*) AS listed FROM simple_cache_list() WHERE key IN ('c:greeting', 'c:from_sql', 'c:empty');

-- Value kinds. api->get returns any value's bytes, like simple_cache_get_bytea. A value put
-- as bytea is bytea to SQL: not valid UTF-8 here, so simple_cache_get refuses it (22021),
-- and simple_cache_incr refuses a bytea number (22P02); put as text, it is a counter.
SELECT simple_cache_put('c:bin_sql', '\x00ff41'::bytea) AS existed;
SELECT capi_get('c:bin_sql') AS c_get;
SELECT capi_put('c:bin_c', '\xfffe00', kind => 1) AS existed;
SELECT simple_cache_get_bytea('c:bin_c') AS sql_get_bytea,
       pg_temp.sqlstate_of($$SELECT simple_cache_get('c:bin_c')$$) AS sql_get_text;
SELECT capi_put('c:num_text', '41', kind => 0) AS existed, capi_put('c:num_bytea', '41', kind => 1) AS existed2;
SELECT simple_cache_incr('c:num_text') AS incremented,
       pg_temp.sqlstate_of($$SELECT simple_cache_incr('c:num_bytea')$$) AS incr_bytea;
SELECT simple_cache_get('c:num_text') AS num_text, simple_cache_get('c:num_bytea') AS num_bytea;

-- TTL in milliseconds: a positive number, SIMPLE_CACHE_TTL_NONE (-1) or
-- SIMPLE_CACHE_TTL_DEFAULT (-2, simple_cache.default_ttl; the consumer's default argument).
SELECT capi_put('c:ttl', 'v', ttl_ms => 60000) AS existed;
SELECT simple_cache_ttl('c:ttl') BETWEEN '59 s' AND '60 s' AS about_a_minute;
SELECT capi_put('c:short', 'v', ttl_ms => 100) AS existed;
SELECT simple_cache_get('c:short') AS before_expiry;
SELECT pg_sleep(0.3);
SELECT simple_cache_get('c:short') AS sql_after_expiry, capi_get('c:short') AS c_after_expiry;
SELECT capi_put('c:ttl', 'v2', ttl_ms => -1) AS existed;
SELECT simple_cache_ttl('c:ttl') AS none_removes_the_ttl;
SET simple_cache.default_ttl = '2min';
SELECT capi_put('c:default', 'v') AS existed;
SELECT simple_cache_ttl('c:default') BETWEEN '119 s' AND '120 s' AS default_ttl_applies;
RESET simple_cache.default_ttl;
SELECT capi_put('c:default', 'v') AS existed;
SELECT simple_cache_ttl('c:default') AS no_default_no_ttl;
-- Refused: zero, another negative number, an expiry past the latest possible (22008); the
-- key keeps its value and its lack of expiry.
SELECT pg_temp.digest() AS digest_before \gset
SELECT pg_temp.sqlstate_of($$SELECT capi_put('c:ttl', 'x', ttl_ms => 0)$$) AS zero,
       pg_temp.sqlstate_of($$SELECT capi_put('c:ttl', 'x', ttl_ms => -3)$$) AS minus_three,
       pg_temp.sqlstate_of($$SELECT capi_put('c:ttl', 'x', ttl_ms => -9223372036854775808)$$) AS min_bigint,
       pg_temp.sqlstate_of($$SELECT capi_put('c:ttl', 'x', ttl_ms => 9223372036854775807)$$) AS too_far,
       pg_temp.sqlstate_of($$SELECT capi_put('c:new_ttl', 'x', ttl_ms => 0)$$) AS new_key;
SELECT simple_cache_get('c:ttl') AS value, simple_cache_ttl('c:ttl') AS ttl, capi_get('c:new_ttl') AS new_key;
SELECT pg_temp.digest() = :'digest_before' AS unchanged;
\set VERBOSITY default
SELECT capi_put('c:ttl', 'x', ttl_ms => 0);

-- Put modes: add stores only a new key, replace only an existing one (never creating it).
SELECT capi_put('c:mode', 'first', mode => 1) AS added;
SELECT capi_put('c:mode', 'second', mode => 1) AS added_again;
SELECT simple_cache_get('c:mode') AS after_add;
SELECT capi_put('c:no_such_key', 'x', mode => 2) AS replaced_absent;
SELECT simple_cache_get('c:no_such_key') AS not_created;
SELECT capi_put('c:mode', 'third', mode => 2) AS replaced;
SELECT simple_cache_get('c:mode') AS after_replace;
-- An SQL add and a C replace agree on the same key.
SELECT simple_cache_add('c:mode', 'fourth') AS sql_add, simple_cache_replace('c:mode', 'fifth') AS sql_replace;
SELECT convert_from(capi_get('c:mode'), 'UTF8') AS c_get;
-- Unknown modes and kinds: 22023, nothing stored.
SELECT pg_temp.sqlstate_of($$SELECT capi_put('c:mode', 'x', mode => 3)$$) AS mode_3,
       pg_temp.sqlstate_of($$SELECT capi_put('c:mode', 'x', mode => -1)$$) AS mode_minus_1,
       pg_temp.sqlstate_of($$SELECT capi_put('c:mode', 'x', kind => 2)$$) AS kind_2,
       pg_temp.sqlstate_of($$SELECT capi_put('c:bad_kind', 'x', kind => -1)$$) AS kind_minus_1;
SELECT simple_cache_get('c:mode') AS still_fifth, simple_cache_get('c:bad_kind') AS not_created;
SELECT capi_put('c:mode', 'x', mode => 3);
SELECT capi_put('c:mode', 'x', kind => 2);

-- incr: creates an absent key with delta, adds atomically, text in and out.
SELECT capi_incr('c:counter') AS first, capi_incr('c:counter', 41) AS second;
SELECT simple_cache_get('c:counter') AS sql_get, simple_cache_incr('c:counter', -2) AS sql_incr,
       capi_incr('c:counter', 0) AS c_incr;
SELECT simple_cache_put('c:spaced', ' +7 ') AS existed;
SELECT capi_incr('c:spaced', 3) AS spaced, simple_cache_get('c:spaced') AS stored_as_digits;
-- Not an integer (22P02), overflow either way (22003): the value stays as it was.
SELECT capi_put('c:word', 'abc') AS existed, capi_put('c:max', '9223372036854775807') AS existed2,
       capi_put('c:min', '-9223372036854775807') AS existed3;
SELECT pg_temp.sqlstate_of($$SELECT capi_incr('c:word')$$) AS not_integer,
       pg_temp.sqlstate_of($$SELECT capi_incr('c:max')$$) AS overflow,
       pg_temp.sqlstate_of($$SELECT capi_incr('c:bin_c')$$) AS bytea_value,
       pg_temp.sqlstate_of($$SELECT capi_incr('c:min', -2)$$) AS underflow;
SELECT simple_cache_get('c:word') AS word, simple_cache_get('c:max') AS max, simple_cache_get('c:min') AS min,
       simple_cache_get_bytea('c:bin_c') AS bin_c;
SELECT capi_incr('c:min', -1) AS lowest_bigint;
SELECT capi_incr('c:max');

-- drop: true when present, false when absent; both ways between C and SQL.
SELECT capi_drop('c:greeting') AS dropped, capi_drop('c:greeting') AS dropped_again;
SELECT simple_cache_get('c:greeting') AS gone;
SELECT capi_put('c:to_drop', 'x') AS existed;
SELECT simple_cache_drop('c:to_drop') AS sql_dropped, capi_get('c:to_drop') AS c_sees;
SELECT capi_drop('c:never') AS absent;

-- NULL pointers: 22004, as the SQL functions' NULL arguments; nothing stored or removed.
SELECT pg_temp.digest() AS digest_before \gset
SELECT pg_temp.sqlstate_of($$SELECT capi_put(NULL, 'v')$$) AS put_key,
       pg_temp.sqlstate_of($$SELECT capi_put('c:null_value', NULL)$$) AS put_value,
       pg_temp.sqlstate_of($$SELECT capi_get(NULL)$$) AS get_key,
       pg_temp.sqlstate_of($$SELECT capi_drop(NULL)$$) AS drop_key,
       pg_temp.sqlstate_of($$SELECT capi_incr(NULL)$$) AS incr_key;
SELECT pg_temp.digest() = :'digest_before' AS unchanged, simple_cache_get('c:null_value') AS not_created;
SELECT capi_put(NULL, 'v');
SELECT capi_put('c:null_value', NULL);
SELECT capi_get(NULL);

-- Keys over 1 MB (1048576 bytes): 54000 for every function; exactly 1 MB works.
SELECT pg_temp.sqlstate_of($$SELECT capi_put(repeat('k', 1048577), 'v')$$) AS put,
       pg_temp.sqlstate_of($$SELECT capi_get(repeat('k', 1048577))$$) AS get,
       pg_temp.sqlstate_of($$SELECT capi_drop(repeat('k', 1048577))$$) AS drop,
       pg_temp.sqlstate_of($$SELECT capi_incr(repeat('k', 1048577))$$) AS incr;
SELECT capi_put(repeat('k', 1048576), 'v') AS existed, octet_length(capi_get(repeat('k', 1048576))) AS got,
       capi_drop(repeat('k', 1048576)) AS dropped;
-- Lengths larger than the caller's buffer are refused before a byte is read: a key over
-- 1 MB (54000), a value over the largest (1 GB less the varlena header, 54000).
SELECT pg_temp.sqlstate_of($$SELECT capi_put_claimed(1048577, 1)$$) AS key_over_1mb,
       pg_temp.sqlstate_of($$SELECT capi_put_claimed(4, 1073741820)$$) AS value_over_1gb,
       pg_temp.sqlstate_of($$SELECT capi_put_claimed(4, -1)$$) AS value_size_max;
SELECT capi_put_claimed(12, 16) AS existed, simple_cache_get('capi:claimed') AS claimed,
       simple_cache_drop('capi:claimed') AS dropped;
SELECT pg_temp.digest() = :'digest_before' AS unchanged;
SELECT capi_put_claimed(4, 1073741820);
SELECT pg_temp.locks_held() AS locks_held;

-- A PostgreSQL error raised inside simple_cache (here the injected failure of the first
-- shared-memory operation) reaches the C caller unchanged, message and detail; the key keeps
-- its value and no lock stays held.
SELECT capi_put('c:injected', 'old') AS existed;
SET simple_cache.debug_fail_after = 1;
SELECT capi_put('c:injected', 'new');
RESET simple_cache.debug_fail_after;
SELECT simple_cache_get('c:injected') AS injected, pg_temp.locks_held() AS locks_held;

-- Out of memory with eviction none: under a size limit 1 MB above the area's current size,
-- 64 kB values are put through C until one fails; it fails with 53200, and a value larger
-- than the whole limit fails with 53200 too. Nothing changes: the failed key is absent, the
-- victim keeps its old value, no bytes are leaked.
SET simple_cache.eviction = none;
SELECT capi_put('c:victim', 'old value') AS existed;
SELECT substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint + 1024 * 1024 AS lim \gset
SELECT simple_cache_set_size_limit(:lim);
CREATE TEMP TABLE fill (stored int, failure text);
DO $$
DECLARE
    n int := 0;
BEGIN
    FOR i IN 1 .. 1000 LOOP
        BEGIN
            PERFORM capi_put('c:fill:' || lpad(i::text, 4, '0'), convert_to(repeat('f', 65536), 'UTF8'));
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO fill VALUES (n, SQLSTATE);
            RETURN;
        END;
    END LOOP;
    INSERT INTO fill VALUES (n, 'no failure');
END
$$;
SELECT stored > 0 AS some_stored, failure FROM fill;
SELECT pg_temp.payload() AS payload_before, pg_temp.digest() AS digest_before \gset
SELECT pg_temp.sqlstate_of(format('SELECT capi_put(%L, convert_to(repeat(%L, 65536), %L))', 'c:victim', 'v', 'UTF8')) AS replace_victim,
       pg_temp.sqlstate_of(format('SELECT capi_put(%L, convert_to(repeat(%L, 65536), %L))', 'c:fill:new', 'n', 'UTF8')) AS new_key,
       pg_temp.sqlstate_of(format('SELECT capi_put(%L, convert_to(repeat(%L, %s), %L))', 'c:huge', 'h', :lim + 1, 'UTF8')) AS over_the_limit;
SELECT simple_cache_get('c:victim') AS victim, capi_get('c:fill:new') AS new_key, capi_get('c:huge') AS huge;
SELECT pg_temp.digest() = :'digest_before' AS unchanged, pg_temp.payload() - :payload_before AS bytes_leaked,
       pg_temp.locks_held() AS locks_held;
\set VERBOSITY terse
SELECT capi_put('c:fill:new', convert_to(repeat('n', 65536), 'UTF8'));
\set VERBOSITY default
-- Raising the limit lets the same put through.
SELECT simple_cache_set_size_limit(9223372036854775807);
SELECT capi_put('c:fill:new', convert_to(repeat('n', 65536), 'UTF8')) AS existed;
RESET simple_cache.eviction;
SELECT count(*) = (SELECT stored + 1 FROM fill) AS all_dropped
FROM simple_cache_list() WHERE starts_with(key, 'c:fill:') AND capi_drop(key);

-- EXECUTE grants on the SQL functions are not consulted: C code is trusted. A role that may
-- not execute simple_cache_put, _get or _drop still reaches the cache through the consumer.
CREATE ROLE regress_capi_user;
REVOKE EXECUTE ON FUNCTION simple_cache_put(text, text), simple_cache_get(text), simple_cache_drop(text) FROM PUBLIC;
SET ROLE regress_capi_user;
SELECT pg_temp.sqlstate_of($$SELECT simple_cache_put('c:role', 'via SQL')$$) AS sql_put;
SELECT capi_put('c:role', 'via C') AS existed, convert_from(capi_get('c:role'), 'UTF8') AS c_get;
RESET ROLE;
GRANT EXECUTE ON FUNCTION simple_cache_put(text, text), simple_cache_get(text), simple_cache_drop(text) TO PUBLIC;
SELECT simple_cache_get('c:role') AS sql_get;
DROP ROLE regress_capi_user;

-- Another database: the C API sees that database's keys only, as SQL does.
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_capi_other WITH (FORCE);
DROP DATABASE IF EXISTS regress_capi_noext WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_capi_other;
CREATE DATABASE regress_capi_noext;
\c regress_capi_other
CREATE EXTENSION simple_cache;
CREATE EXTENSION capi_consumer;
SELECT capi_get('c:mode') AS main_key, capi_drop('c:mode') AS dropped, capi_incr('c:counter') AS new_counter;
SELECT capi_put('c:mode', 'other database') AS existed;
SELECT simple_cache_get('c:mode') AS sql_get;
\c :main_db
SELECT simple_cache_get('c:mode') AS sql_get, convert_from(capi_get('c:mode'), 'UTF8') AS c_get,
       simple_cache_get('c:counter') AS counter;
-- A database without CREATE EXTENSION simple_cache: 55000 for every function, nothing stored.
\c regress_capi_noext
CREATE EXTENSION capi_consumer;
CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT pg_temp.sqlstate_of($$SELECT capi_put('c:mode', 'x')$$) AS put,
       pg_temp.sqlstate_of($$SELECT capi_get('c:mode')$$) AS get,
       pg_temp.sqlstate_of($$SELECT capi_drop('c:mode')$$) AS drop,
       pg_temp.sqlstate_of($$SELECT capi_incr('c:mode')$$) AS incr,
       pg_temp.sqlstate_of($$SELECT capi_fsm_get_page(3000001, 10)$$) AS fsm_get_page;
SELECT capi_get('c:mode');
-- Created now, the extension makes the API usable here, with an empty cache of its own.
CREATE EXTENSION simple_cache;
SELECT capi_get('c:mode') AS main_key, capi_put('c:mode', 'third database') AS existed;
SELECT simple_cache_get('c:mode') AS sql_get;
\c :main_db
SELECT simple_cache_get('c:mode') AS main_value;
DROP DATABASE regress_capi_other WITH (FORCE);
DROP DATABASE regress_capi_noext WITH (FORCE);

-- Clean up.
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'c:') AND capi_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'c:');
SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int AS locks_held;
