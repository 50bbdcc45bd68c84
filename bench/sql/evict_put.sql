-- 5: puts of new keys (random over 10^9, so nearly every put inserts): with eviction on a
-- full cache, every insert has to make room first.
\set k random(1, 1000000000)
SELECT simple_cache_put('e' || :k, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv');
