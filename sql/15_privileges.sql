-- 15_privileges: who may call what. The data functions (put, add, replace, incr, cas, get,
-- get_bytea, mget, drop, expire, ttl, list) and simple_cache_stats() are for everyone;
-- simple_cache_flush(), simple_cache_stats_reset() and simple_cache_set_size_limit() are
-- revoked from PUBLIC (superusers, or roles granted EXECUTE); the two dump reports are also
-- granted to pg_monitor. simple_cache.default_ttl is a user setting, simple_cache.eviction a
-- superuser one, simple_cache.max_memory a server one.
-- Keys start with 'p15:'; the roles and the database made here are dropped at the end.
\pset null '<NULL>'

-- The SQLSTATE an SQL command raises, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'p15:'); END $$;
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_p15 WITH (FORCE);
DROP ROLE IF EXISTS regress_simple_cache_p15;
DROP ROLE IF EXISTS regress_simple_cache_p15_monitor;
RESET client_min_messages;
CREATE ROLE regress_simple_cache_p15;
CREATE ROLE regress_simple_cache_p15_monitor IN ROLE pg_monitor;

-- The functions covered here, and whether a plain role and a pg_monitor member may run them.
SELECT f::regprocedure AS function,
       has_function_privilege('regress_simple_cache_p15', f::regprocedure, 'EXECUTE') AS plain_role,
       has_function_privilege('regress_simple_cache_p15_monitor', f::regprocedure, 'EXECUTE') AS monitor
FROM unnest(ARRAY[
    'simple_cache_put(text,text)', 'simple_cache_put(text,text,interval)',
    'simple_cache_put(text,bytea)', 'simple_cache_put(text,bytea,interval)',
    'simple_cache_add(text,text)', 'simple_cache_add(text,text,interval)',
    'simple_cache_add(text,bytea)', 'simple_cache_add(text,bytea,interval)',
    'simple_cache_replace(text,text)', 'simple_cache_replace(text,text,interval)',
    'simple_cache_replace(text,bytea)', 'simple_cache_replace(text,bytea,interval)',
    'simple_cache_incr(text,bigint)', 'simple_cache_cas(text,text,text)',
    'simple_cache_get(text)', 'simple_cache_get_bytea(text)', 'simple_cache_mget(text[])',
    'simple_cache_drop(text)', 'simple_cache_expire(text,interval)', 'simple_cache_ttl(text)',
    'simple_cache_list()', 'simple_cache_stats()',
    'simple_cache_flush()', 'simple_cache_stats_reset()', 'simple_cache_set_size_limit(bigint)',
    'simple_cache_dump_area()', 'simple_cache_dump_hash_table()']) WITH ORDINALITY AS t(f, n)
ORDER BY n;

-- A plain role uses the data functions and reads the statistics ...
SET ROLE regress_simple_cache_p15;
SELECT simple_cache_put('p15:a', 'a') AS put, simple_cache_put('p15:b', '\x62'::bytea, '1 hour') AS put_bytea,
       simple_cache_add('p15:c', 'c') AS add, simple_cache_replace('p15:a', 'A') AS replace,
       simple_cache_incr('p15:n', 2) AS incr, simple_cache_cas('p15:c', 'c', 'C') AS cas,
       simple_cache_expire('p15:a', '1 hour') AS expire;
SELECT simple_cache_get('p15:a') AS get, simple_cache_get_bytea('p15:b') AS get_bytea,
       simple_cache_ttl('p15:b') BETWEEN '59 minutes' AND '1 hour' AS ttl,
       (SELECT string_agg(coalesce(value, '-'), ',') FROM simple_cache_mget(ARRAY['p15:a', 'p15:c', 'p15:x'])) AS mget,
       (SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'p15:')) AS listed,
       simple_cache_drop('p15:n') AS drop;
SELECT entries > 0 AS stats_readable FROM simple_cache_stats();
-- ... and sets its own default ttl ...
SET simple_cache.default_ttl = 60;
SELECT simple_cache_put('p15:d', 'd') AS put, simple_cache_ttl('p15:d') BETWEEN '59 seconds' AND '60 seconds' AS default_ttl;
RESET simple_cache.default_ttl;
-- ... but cannot flush, reset statistics, change the limit or the eviction policy, or read the
-- reports (42501); nothing changes.
SELECT simple_cache_flush();
SELECT simple_cache_stats_reset();
SELECT pg_temp.sqlstate_of('SELECT simple_cache_flush()') AS flush,
       pg_temp.sqlstate_of('SELECT simple_cache_stats_reset()') AS stats_reset,
       pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(1)') AS set_size_limit,
       pg_temp.sqlstate_of('SELECT simple_cache_dump_area()') AS dump_area,
       pg_temp.sqlstate_of('SELECT simple_cache_dump_hash_table()') AS dump_hash_table,
       pg_temp.sqlstate_of('SET simple_cache.eviction = none') AS set_eviction;
SHOW simple_cache.eviction;
-- ALTER SYSTEM (for simple_cache.max_memory) needs superuser or a grant of the parameter.
ALTER SYSTEM SET simple_cache.max_memory = '1MB';
RESET ROLE;
SHOW simple_cache.max_memory;
SELECT count(*) AS still_listed FROM simple_cache_list() WHERE starts_with(key, 'p15:');

-- A pg_monitor member reads the reports, but cannot flush or reset either.
SET ROLE regress_simple_cache_p15_monitor;
SELECT simple_cache_dump_area() LIKE '%size limit:%' AS dump_area,
       simple_cache_dump_hash_table() LIKE '%partitions: 128%' AS dump_hash_table;
SELECT pg_temp.sqlstate_of('SELECT simple_cache_flush()') AS flush,
       pg_temp.sqlstate_of('SELECT simple_cache_stats_reset()') AS stats_reset,
       pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(1)') AS set_size_limit;
RESET ROLE;

-- Granting EXECUTE lets a role flush and reset (in a database of its own here, so the flush
-- takes nothing of the regression database's).
CREATE DATABASE regress_simple_cache_p15;
\c regress_simple_cache_p15
CREATE EXTENSION simple_cache;
GRANT EXECUTE ON FUNCTION simple_cache_flush() TO regress_simple_cache_p15;
GRANT EXECUTE ON FUNCTION simple_cache_stats_reset() TO regress_simple_cache_p15;
SET ROLE regress_simple_cache_p15;
SELECT count(*) AS put FROM generate_series(1, 3) i WHERE NOT simple_cache_put('p15:granted:' || i, 'g');
SELECT simple_cache_flush() AS flushed;
SELECT simple_cache_stats_reset();
SELECT hits, misses, puts FROM simple_cache_stats();
RESET ROLE;
\c :main_db

-- Clean up.
DROP DATABASE regress_simple_cache_p15 WITH (FORCE);
DROP ROLE regress_simple_cache_p15;
DROP ROLE regress_simple_cache_p15_monitor;
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'p15:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'p15:');
