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
