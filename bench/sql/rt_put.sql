-- 1c: simple_cache_put overwriting an existing key with a 32-byte value.
\set k random(1, :nkeys)
SELECT simple_cache_put('k' || :k, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv');
