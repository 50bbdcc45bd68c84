-- 19_eviction_limits: what a write may evict, and never more. A replacement never evicts the
-- key it replaces (and counts the value it replaces as gone against the database's limit); an
-- add, replace or cas that will not store evicts nothing; a large value evicts at most twice
-- its size of other entries, and one that could not fit even in an emptied area evicts
-- nothing. Runs under a 16 MB limit, restored at the end; keys start with 'e19:'.
\pset null '<NULL>'
SELECT current_database() AS main_db, size_limit AS limit_before FROM simple_cache_stats \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_e19 WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_e19;
SELECT simple_cache_flush() >= 0 AS flushed;

-- 1. A database capped at 10 MB holding one 6 MB value replaces it in place.
ALTER DATABASE regress_simple_cache_e19 SET simple_cache.database_max_memory = '10MB';
\c regress_simple_cache_e19
CREATE EXTENSION simple_cache;
SELECT simple_cache_put('e19:k', repeat('a', 6 * 1024 * 1024)) AS existed;
SELECT simple_cache_put('e19:k', repeat('b', 6 * 1024 * 1024)) AS existed;
SELECT simple_cache_replace('e19:k', repeat('c', 6 * 1024 * 1024)) AS replaced;
SELECT simple_cache_cas('e19:k', repeat('c', 6 * 1024 * 1024), repeat('d', 6 * 1024 * 1024)) AS swapped;
SELECT left(simple_cache_get('e19:k'), 1) AS first, length(simple_cache_get('e19:k')) AS length;
SET simple_cache.eviction = none;
SELECT simple_cache_put('e19:k', repeat('e', 6 * 1024 * 1024)) AS existed_with_eviction_none;
RESET simple_cache.eviction;
-- A second 6 MB value does not fit the cap with the first: the first one is evicted for it.
SELECT simple_cache_put('e19:k2', repeat('f', 6 * 1024 * 1024)) AS existed;
SELECT simple_cache_get('e19:k') IS NULL AS first_evicted, length(simple_cache_get('e19:k2')) AS second;

-- 2. Writes that will not store evict nothing, even in a full cache.
\c :main_db
SELECT simple_cache_set_size_limit(16 * 1024 * 1024);
SELECT count(simple_cache_put('e19:s:' || g, repeat('s', 50))) AS small_entries FROM generate_series(1, 150000) g;
SELECT simple_cache_put('e19:present', 'small') AS existed;
SELECT evictions AS evictions_before FROM simple_cache_stats \gset
SELECT count(*) FILTER (WHERE simple_cache_replace('e19:nokey' || g, repeat('r', 512 * 1024))) AS replaced,
       count(*) FILTER (WHERE simple_cache_add('e19:present', repeat('a', 512 * 1024))) AS added,
       count(*) FILTER (WHERE simple_cache_cas('e19:present', 'not the value', repeat('c', 512 * 1024))) AS swapped
FROM generate_series(1, 50) g;
SELECT evictions - :evictions_before AS evicted FROM simple_cache_stats;

-- 3. A large value in a cache full of small entries: one that could not fit even in an emptied
-- area (the table's own structures for 150,000 entries leave less than 15.5 MB of the 16 MB)
-- evicts nothing; one that could evicts at most about twice its size (the free space is split
-- by small entries, which share their pages).
SELECT cache_bytes AS bytes_before FROM simple_cache_databases() WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database()) \gset
DO $$ BEGIN PERFORM simple_cache_put('e19:huge', repeat('h', 15 * 1024 * 1024 + 512 * 1024));
EXCEPTION WHEN out_of_memory THEN RAISE NOTICE 'refused: 15.5 MB cannot fit'; END $$;
SELECT :bytes_before - cache_bytes AS evicted_for_15_5mb FROM simple_cache_databases() WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database());
DO $$ BEGIN PERFORM simple_cache_put('e19:big', repeat('b', 3 * 1024 * 1024));
EXCEPTION WHEN out_of_memory THEN NULL; END $$;  -- stored or refused: either is fine here
SELECT :bytes_before - cache_bytes + coalesce(length(simple_cache_get('e19:big')), 0) <= 7 * 1024 * 1024 + 3 * 1024 * 1024 AS evicted_at_most_twice_its_size
FROM simple_cache_databases() WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- Clean up.
SELECT simple_cache_set_size_limit(:limit_before);
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'e19:'); END $$;
DROP DATABASE regress_simple_cache_e19 WITH (FORCE);
