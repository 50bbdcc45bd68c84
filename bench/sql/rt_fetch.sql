-- 1f: simple_cache_fetch of a cached key, always a hit (the query never runs).
\set k random(1, :nkeys)
SELECT simple_cache_fetch('k' || :k, 'SELECT 1');
