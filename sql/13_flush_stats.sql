-- 13_flush_stats: simple_cache_flush(), simple_cache_stats() and its view, and
-- simple_cache_stats_reset().
--
-- simple_cache_flush() removes every entry of the current database and returns how many; the
-- other databases' entries stay. It runs in a database made for the purpose, never in the
-- regression database, whose other entries are not this file's to remove. A database dropped
-- with entries still in the cache leaves them there (no session can reach them any more);
-- they stay counted until evicted or the server restarts (14_eviction's fill evicts them).
--
-- The statistics are cluster-wide. Counter deltas are checked exactly: nothing else runs
-- while a pg_regress file does. Keys start with 'f13:'.
\pset null '<NULL>'

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'f13:'); END $$;
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_f13 WITH (FORCE);
DROP DATABASE IF EXISTS regress_simple_cache_f13_dropped WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_f13;
CREATE DATABASE regress_simple_cache_f13_dropped;
-- Some write first: simple_cache.max_memory becomes the size limit with the first write.
SELECT simple_cache_put('f13:start', 'start') AS existed;

-- ---------------------------------------------------------------------------------------------
-- The view and the function have the same thirteen columns.
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid = 'simple_cache_stats'::regclass AND attnum > 0 ORDER BY attnum;
SELECT pg_get_function_arguments('simple_cache_stats()'::regprocedure) AS function_columns;
SELECT count(*) AS rows FROM simple_cache_stats;

-- The figures agree with the reports: entries and resizes with the hash table report, the
-- area's bytes with the area report; buckets is a power of two.
SELECT s.entries = substring(h from 'entries: (\d+)')::bigint AS entries_match,
       s.buckets = substring(h from 'buckets: (\d+)')::bigint AS buckets_match,
       s.resizes = substring(h from 'grows: (\d+)')::bigint + substring(h from 'shrinks: (\d+)')::bigint AS resizes_match,
       s.area_bytes = substring(a from 'in use: (\d+) bytes')::bigint AS area_bytes_match,
       s.size_limit = substring(a from 'size limit: (\d+) bytes')::bigint AS size_limit_match,
       s.buckets >= 128 AND s.buckets & (s.buckets - 1) = 0 AS buckets_power_of_two,
       s.area_bytes >= s.key_value_bytes AS area_holds_keys_and_values,
       s.stats_reset <= now() AS reset_in_the_past
FROM simple_cache_stats() s, simple_cache_dump_hash_table() h, simple_cache_dump_area() a;
-- size_limit is the limit in force.
SELECT size_limit AS limit_before FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(9223372036854775806);
SELECT size_limit FROM simple_cache_stats;
SELECT simple_cache_set_size_limit(:limit_before);
SELECT size_limit = :limit_before AS limit_restored FROM simple_cache_stats;

-- ---------------------------------------------------------------------------------------------
-- Counters: every operation counts what it did. Afterwards 'f13:a' = 'value a, longer',
-- 'f13:b' = 2 bytes and 'f13:n' = '11' are left: 3 entries of 20 + 7 + 7 key and value bytes.
CREATE TEMP TABLE before AS SELECT * FROM simple_cache_stats;
SELECT simple_cache_put('f13:a', 'value a') AS existed;            -- put
SELECT simple_cache_put('f13:a', 'value a, longer') AS existed;    -- put
SELECT simple_cache_put('f13:b', '\x0102'::bytea) AS existed;      -- put
SELECT simple_cache_get('f13:a') AS hit, simple_cache_get('f13:none') AS miss,
       simple_cache_get_bytea('f13:b') AS hit2;                     -- 2 hits, 1 miss
SELECT count(*) AS rows FROM simple_cache_mget(ARRAY['f13:a', 'f13:b', 'f13:none', NULL]);  -- 2 hits, 1 miss
SELECT simple_cache_add('f13:a', 'not stored') AS added,           -- refused: not counted
       simple_cache_add('f13:c', 'c') AS added2,                    -- put
       simple_cache_replace('f13:none', 'x') AS replaced,           -- refused
       simple_cache_replace('f13:c', 'cc') AS replaced2;            -- put
SELECT simple_cache_incr('f13:n') AS created,                       -- put
       simple_cache_incr('f13:n', 9) AS incremented,                -- put
       simple_cache_cas('f13:n', '10', '11') AS swapped,            -- put
       simple_cache_cas('f13:n', '10', '12') AS swapped2;           -- refused
SELECT simple_cache_drop('f13:c') AS dropped,                       -- drop
       simple_cache_drop('f13:none') AS dropped2;                   -- nothing to drop
SELECT simple_cache_expire('f13:a', '1 hour') AS expire_set,        -- not counted
       simple_cache_ttl('f13:a') IS NOT NULL AS has_ttl;
SELECT count(*) AS listed FROM simple_cache_list() WHERE starts_with(key, 'f13:') AND key <> 'f13:start';
SELECT s.entries - b.entries AS entries, s.key_value_bytes - b.key_value_bytes AS key_value_bytes,
       s.hits - b.hits AS hits, s.misses - b.misses AS misses, s.puts - b.puts AS puts,
       s.drops - b.drops AS drops, s.evictions - b.evictions AS evictions,
       s.stats_reset = b.stats_reset AS same_reset_time
FROM simple_cache_stats s, before b;

-- stats_reset() zeroes the event counters and records when (to the millisecond); the gauges
-- (entries, bytes, limit, table shape) are not counters and stay.
SELECT now() AS before_reset \gset
SELECT simple_cache_stats_reset();
SELECT hits, misses, puts, drops, evictions, expirations, stats_reset >= date_trunc('milliseconds', :'before_reset'::timestamptz) AS reset_time_updated
FROM simple_cache_stats;
SELECT s.entries = b.entries + 3 AS entries_kept, s.key_value_bytes = b.key_value_bytes + 34 AS bytes_kept,
       s.size_limit IS NOT DISTINCT FROM b.size_limit AS limit_kept, s.buckets >= 128 AS buckets_kept
FROM simple_cache_stats s, before b;
-- Counting starts again from zero.
SELECT simple_cache_get('f13:a') IS NOT NULL AS hit, simple_cache_put('f13:d', 'd') AS existed;
SELECT hits, misses, puts, drops FROM simple_cache_stats;
-- The view shows what the function returns.
SELECT (SELECT row(v.*)::text FROM simple_cache_stats v) = (SELECT row(f.*)::text FROM simple_cache_stats() f) AS view_matches;

-- ---------------------------------------------------------------------------------------------
-- flush: removes the current database's entries only, returns how many.
SELECT simple_cache_put('f13:main:' || i, 'main ' || i) IS NOT NULL AS put FROM generate_series(1, 3) i;
SELECT entries AS entries_before_other FROM simple_cache_stats \gset

\c regress_simple_cache_f13
CREATE EXTENSION simple_cache;
SELECT count(*) AS put FROM generate_series(1, 5) i WHERE NOT simple_cache_put('f13:other:' || i, 'other ' || i);
SELECT simple_cache_put('f13:main:1', 'same key, other database') AS existed;
SELECT entries - :entries_before_other AS entries_added FROM simple_cache_stats;
SELECT simple_cache_flush() AS flushed;
SELECT count(*) AS listed, simple_cache_get('f13:other:1') AS other_1, simple_cache_get('f13:main:1') AS main_1
FROM simple_cache_list();
SELECT entries = :entries_before_other AS entries_back FROM simple_cache_stats;
-- Nothing left to flush; the cache keeps working after a flush.
SELECT simple_cache_flush() AS flushed_again;
SELECT simple_cache_put('f13:other:after', 'after flush') AS existed, simple_cache_get('f13:other:after') AS value;
SELECT simple_cache_flush() AS flushed_last;

\c :main_db
-- The regression database's entries are untouched.
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'f13:main:') ORDER BY key COLLATE "C";

-- A dropped database's entries stay in the cache: flush them before DROP DATABASE.
\c regress_simple_cache_f13_dropped
CREATE EXTENSION simple_cache;
SELECT count(*) AS put FROM generate_series(1, 4) i WHERE NOT simple_cache_put('f13:orphan:' || i, 'orphan ' || i);
SELECT entries AS entries_with_orphans FROM simple_cache_stats \gset
\c :main_db
DROP DATABASE regress_simple_cache_f13_dropped WITH (FORCE);
SELECT entries - :entries_with_orphans AS entries_changed_by_drop_database FROM simple_cache_stats;
-- They are not this database's to flush or list.
SELECT count(*) AS listed_here FROM simple_cache_list() WHERE starts_with(key, 'f13:orphan:');

-- Clean up (the orphans stay until evicted).
DROP DATABASE regress_simple_cache_f13 WITH (FORCE);
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'f13:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'f13:');
