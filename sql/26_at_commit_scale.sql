-- 26_at_commit_scale: writes at commit in large numbers. Each check guards against a cost
-- that grows faster than the number of writes (a queue that copies itself on every write, a
-- table scan per prefix invalidation); the generous timeouts are not timings.
-- Keys start with 'c26:'.
\pset null '<NULL>'
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'c26:'); END $$;

-- 200,000 invalidations in one transaction: queueing is linear in their number. (Copying the
-- whole queue on each write took many minutes for this many.)
SET statement_timeout = '60s';
SELECT simple_cache_put('c26:q:1', 'old') AS existed, simple_cache_put('c26:q:200000', 'old') AS existed;
BEGIN;
SELECT count(*) AS queued
  FROM (SELECT simple_cache_invalidate('c26:q:' || g) FROM generate_series(1, 200000) g) s;
COMMIT;
SELECT simple_cache_get('c26:q:1') AS first, simple_cache_get('c26:q:200000') AS last;
RESET statement_timeout;

-- Prefix invalidations at commit are applied in one scan of the table, however many were
-- queued: 2,000 distinct prefixes and 600 repetitions of one over 100,000 entries. (One scan
-- per prefix took about a minute here, after the commit record, where cancel and
-- statement_timeout cannot stop it.) The bound below is generous; it guards against a scan
-- per prefix, not a timing.
SELECT count(simple_cache_put('c26:e:' || g, 'v')) AS put FROM generate_series(1, 100000) g;
SELECT simple_cache_put('c26:p:a:1', 'before') AS existed, simple_cache_put('c26:p:b:1', 'before') AS existed;
SELECT clock_timestamp() AS started \gset
BEGIN;
SELECT count(*) AS queued
  FROM (SELECT simple_cache_invalidate_prefix('c26:nomatch:' || g || ':') FROM generate_series(1, 2000) g) s;
SELECT count(*) AS queued
  FROM (SELECT simple_cache_invalidate_prefix('c26:same:') FROM generate_series(1, 600) g) s;
-- Order still holds: a put before a prefix invalidation is removed by it, one after it stays.
SELECT simple_cache_put_at_commit('c26:p:a:2', 'put before');
SELECT simple_cache_invalidate_prefix('c26:p:a:');
SELECT simple_cache_put_at_commit('c26:p:a:3', 'put after');
SELECT simple_cache_put_at_commit('c26:p:b:2', 'put before');
SELECT simple_cache_invalidate_prefix('c26:p:');
SELECT simple_cache_put_at_commit('c26:p:b:3', 'put after');
SELECT simple_cache_invalidate_prefix('c26:p:b:');  -- subsumed by c26:p:, but later: removes b:3
SELECT simple_cache_put_at_commit('c26:p:b:4', 'put after');
COMMIT;
SELECT clock_timestamp() - :'started' < interval '20 seconds' AS commit_took_one_scan;
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'c26:p:') ORDER BY key;
SELECT count(*) AS entries_kept FROM simple_cache_list() WHERE starts_with(key, 'c26:e:');
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'c26:'); END $$;

-- simple_cache.max_pending_memory bounds what the queue's memory context really takes
-- (PostgreSQL's rounding of each allocation, the map and the log included), within one more
-- block of the context (1 MB). Values of 4,200 bytes are queued until the limit refuses one;
-- each call in its own subtransaction, so the refused one alone is rolled back.
SET simple_cache.max_pending_memory = '16MB';
BEGIN;
DO $$
BEGIN
    FOR g IN 1..10000 LOOP
        BEGIN
            PERFORM simple_cache_put_at_commit('c26:m:' || g, repeat('m', 4200));
        EXCEPTION WHEN program_limit_exceeded THEN
            RAISE NOTICE 'refused after % puts', CASE WHEN g > 1000 THEN 'many' ELSE g::text END;
            EXIT;
        END;
    END LOOP;
END $$;
SELECT total_bytes <= (16 + 1) * 1024 * 1024 AS within_limit
  FROM pg_backend_memory_contexts WHERE name = 'simple_cache pending writes';
ROLLBACK;
RESET simple_cache.max_pending_memory;
