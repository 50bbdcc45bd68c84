-- 17_database_fairness: one database cannot push another's entries out of the cache, nor the
-- free-space map out of the shared area; simple_cache.database_max_memory caps a database.
-- Runs under a limit of at least 16 MB (restored at the end) in two extra databases.
\pset null '<NULL>'

SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_quiet WITH (FORCE);
DROP DATABASE IF EXISTS regress_simple_cache_noisy WITH (FORCE);
DROP ROLE IF EXISTS regress_simple_cache_noisy;
RESET client_min_messages;
CREATE ROLE regress_simple_cache_noisy LOGIN;
CREATE DATABASE regress_simple_cache_quiet;
CREATE DATABASE regress_simple_cache_noisy;
SELECT simple_cache_flush() >= 0 AS flushed;
-- The limit: 16 MB, or 8 MB over the segments the area already has when that is more (on a
-- cluster that ran other files before): the map's room can then be a segment of its own
-- (README, Limits).
SELECT greatest(16 * 1024 * 1024, substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint + 8 * 1024 * 1024) AS lim \gset
SELECT simple_cache_set_size_limit(:lim);

-- A quiet database keeps 10,001 small entries.
\c regress_simple_cache_quiet
CREATE EXTENSION simple_cache;
SELECT count(simple_cache_put('q:' || g, 'small value ' || g)) AS put FROM generate_series(0, 10000) g;

-- A noisy plain role in another database puts 200 values of 1 MB: far more than the limit.
\c regress_simple_cache_noisy
CREATE EXTENSION simple_cache;
SET ROLE regress_simple_cache_noisy;
SELECT count(simple_cache_put('n:' || g, repeat('x', 1024 * 1024))) AS put FROM generate_series(1, 200) g;
-- Its own entries were evicted to make room for its later ones; the last one is there.
SELECT count(*) < 200 AS evicted_its_own, length(simple_cache_get('n:200')) AS last_value FROM simple_cache_list();
-- It may not raise or lower its own database's limit.
SET simple_cache.database_max_memory = '64MB';
RESET ROLE;

-- The quiet database lost nothing.
\c regress_simple_cache_quiet
SELECT count(*) AS kept FROM simple_cache_list();
SELECT simple_cache_get('q:0') AS first, simple_cache_get('q:10000') AS last;
-- A new put here evicts from the bigger database, not from here.
SELECT simple_cache_put('q:new', repeat('y', 1024 * 1024)) AS existed;
SELECT count(*) AS kept_with_new FROM simple_cache_list();
SELECT oid AS quiet_oid FROM pg_database WHERE datname = current_database() \gset
SELECT oid AS noisy_oid FROM pg_database WHERE datname = 'regress_simple_cache_noisy' \gset

\c regress_simple_cache_noisy

-- simple_cache.database_max_memory, set for the noisy database by a superuser, caps it: its
-- writes evict only its own entries, down to the cap.
ALTER DATABASE regress_simple_cache_noisy SET simple_cache.database_max_memory = '4MB';
\c regress_simple_cache_noisy
SELECT simple_cache_flush() > 0 AS flushed;
SET ROLE regress_simple_cache_noisy;
SHOW simple_cache.database_max_memory;
SELECT count(simple_cache_put('n3:' || g, repeat('w', 512 * 1024))) AS put FROM generate_series(1, 40) g;
SELECT sum(length(value)) <= 4 * 1024 * 1024 AS within_cap, count(*) > 0 AS kept_some,
       simple_cache_get('n3:40') IS NOT NULL AS last_kept
FROM simple_cache_list();
-- A value larger than the cap on its own is refused, and nothing is evicted for it.
SELECT count(*) AS before FROM simple_cache_list() \gset
DO $$ BEGIN PERFORM simple_cache_put('n3:huge', repeat('h', 5 * 1024 * 1024));
EXCEPTION WHEN out_of_memory THEN RAISE NOTICE 'refused: %', SQLERRM; END $$;
SELECT count(*) = :before AS nothing_evicted FROM simple_cache_list();
RESET ROLE;
-- With eviction off, a put over the cap fails and changes nothing.
SET simple_cache.eviction = none;
DO $$ BEGIN PERFORM simple_cache_put('n3:over', repeat('o', 2 * 1024 * 1024));
EXCEPTION WHEN out_of_memory THEN RAISE NOTICE 'refused with eviction none'; END $$;
SELECT count(*) = :before AS unchanged, simple_cache_get('n3:over') IS NULL AS not_stored FROM simple_cache_list();
RESET simple_cache.eviction;
SELECT cache_bytes <= 4 * 1024 * 1024 AS noisy_within_cap FROM simple_cache_databases() WHERE datid = :noisy_oid;

-- The quiet database still has all of its entries.
\c regress_simple_cache_quiet
SELECT count(*) AS kept FROM simple_cache_list();

-- The free-space map always gets its room: with the cache full of small entries, 200 reports
-- of 100 pages on made-up relations all fit, in the room kept free of the cache for the map.
\c regress_simple_cache_noisy
ALTER DATABASE regress_simple_cache_noisy RESET simple_cache.database_max_memory;
\c regress_simple_cache_noisy
SET ROLE regress_simple_cache_noisy;
SELECT count(simple_cache_put('n2:' || g, repeat('z', 100))) = :lim / 80 AS refilled FROM generate_series(1, :lim / 80) g;
SELECT (SELECT evictions FROM simple_cache_stats) > 0 AS cache_full;
RESET ROLE;
SELECT evictions AS evictions_before_reports FROM simple_cache_stats \gset
SELECT count(*) AS reports,
       count(*) FILTER (WHERE kept = 100) AS kept_whole
FROM (SELECT simple_cache_fsm_record_many(950000 + g, array_agg(b::bigint), array_agg(4000))
             AS kept
      FROM generate_series(1, 200) g, generate_series(0, 99) b GROUP BY g) r;
SELECT count(*) AS relations FROM simple_cache_fsm_relations WHERE relid > 950000;
-- It took that room from the room kept for it, not from the cache: nothing was evicted.
SELECT evictions - :evictions_before_reports AS evicted_for_the_map FROM simple_cache_stats;
SELECT count(*) AS forgotten FROM generate_series(1, 200) g WHERE simple_cache_fsm_forget((950000 + g)::oid);


-- Clean up.
\c :main_db
DROP DATABASE regress_simple_cache_quiet;
DROP DATABASE regress_simple_cache_noisy;
DROP ROLE regress_simple_cache_noisy;
SELECT simple_cache_set_size_limit(256 * 1024 * 1024);
