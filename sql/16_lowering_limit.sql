-- 16_lowering_limit: simple_cache_set_size_limit() with eviction = lru accepts a lower limit
-- whenever evicting can reach it, as the README promises ("lowering the limit evicts"), also
-- where the hash table's own bucket arrays are most of the memory:
--   1. right after a flush that left the table shrinking: the entries of another database
--      stay in the old, large bucket array until they have moved to the new one, which
--      ordinary operations do a few at a time; the call finishes that move first instead of
--      counting the old array as memory the structures need;
--   2. on a full cache whose bucket array alone is larger than the new limit: evicting empties
--      the table, which then shrinks, so the call counts the table at that size.
-- 700,000 entries make a table of 2^20 buckets (8 MB of bucket array); the limits asked for
-- are 4 MB. The cache is shared with the other files: this file relies only on its own keys
-- ('l16:'), creates a second database and drops it, and sets the limit back at the end.
\pset null '<NULL>'
SET simple_cache.eviction = lru;

-- The table's shape, from the report (a plain function: the file changes sessions).
CREATE FUNCTION l16_shape() RETURNS TABLE (buckets bigint, resizing_from bigint)
LANGUAGE sql AS $$
    SELECT substring(h from 'buckets: (\d+)')::bigint,
           substring(h from 'resize: in progress from (\d+) buckets')::bigint
    FROM simple_cache_dump_hash_table() h
$$;

SELECT current_database() AS main_db, size_limit AS limit_before FROM simple_cache_stats \gset
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'l16:'); END $$;
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_l16 WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_l16;

-- Entries of another database, spread over every partition.
\c regress_simple_cache_l16
CREATE EXTENSION simple_cache;
SELECT count(simple_cache_put('l16:other:' || i, 'kept')) AS other_entries FROM generate_series(1, 2000) i;

-- ---------------------------------------------------------------------------------------------
-- 1. After a flush that left a shrink in progress.
\c :main_db
SET simple_cache.eviction = lru;
SELECT count(simple_cache_put('l16:' || i, 'v')) AS put FROM generate_series(1, 700000) i;
SELECT buckets, resizing_from FROM l16_shape();
SELECT simple_cache_flush() AS flushed;
-- The table is shrinking: the 8 MB array stays until the other database's entries have moved.
SELECT buckets < 1048576 AS shrunk, resizing_from FROM l16_shape();
SELECT evictions AS evictions_before FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(4 * 1024 * 1024);
SELECT size_limit, area_bytes <= 4 * 1024 * 1024 AS under_the_limit, evictions - :evictions_before AS evicted
FROM simple_cache_stats;
SELECT buckets < 1048576 AS shrunk, resizing_from FROM l16_shape();
-- Nothing had to be evicted: the other database's entries are all there.
\c regress_simple_cache_l16
SELECT count(*) AS other_entries_kept FROM simple_cache_list() WHERE starts_with(key, 'l16:other:') AND value = 'kept';

-- ---------------------------------------------------------------------------------------------
-- 2. A full cache whose bucket array alone is over the new limit.
\c :main_db
SET simple_cache.eviction = lru;
SELECT simple_cache_set_size_limit(:limit_before);
SELECT count(simple_cache_put('l16:' || i, 'v')) AS put FROM generate_series(1, 700000) i;
SELECT buckets, resizing_from FROM l16_shape();
SELECT area_bytes > 8 * 1024 * 1024 AS over_8mb_in_use FROM simple_cache_stats;
SELECT simple_cache_set_size_limit(4 * 1024 * 1024);
SELECT size_limit, area_bytes <= 4 * 1024 * 1024 AS under_the_limit, evictions > :evictions_before AS evicted,
       entries > 0 AS entries_left
FROM simple_cache_stats;
SELECT buckets < 1048576 AS shrunk, resizing_from FROM l16_shape();
-- The cache works under the new limit.
SELECT simple_cache_put('l16:after', 'works') AS existed, simple_cache_get('l16:after') AS value;

-- Clean up: the limit as it was, this file's entries and database gone.
SELECT simple_cache_set_size_limit(:limit_before);
SELECT size_limit = :limit_before AS limit_restored FROM simple_cache_stats;
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'l16:'); END $$;
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'l16:');
\c regress_simple_cache_l16
SELECT simple_cache_flush() >= 0 AS flushed_other;
\c :main_db
DROP DATABASE regress_simple_cache_l16 WITH (FORCE);
DROP FUNCTION l16_shape();
