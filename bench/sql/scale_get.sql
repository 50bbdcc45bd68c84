-- 5: simple_cache_get of 16-byte keys over the cluster's nkeys entries.
\set k random(1, :nkeys)
SELECT simple_cache_get('key:' || lpad(:k::text, 12, '0'));
