-- 1b: simple_cache_get, always a hit.
\set k random(1, :nkeys)
SELECT simple_cache_get('k' || :k);
