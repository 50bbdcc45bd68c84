-- 1f: simple_cache_put overwriting an existing key with a 32-byte value, in a transaction block
-- (the baseline of 1g).
\set k random(1, :nkeys)
BEGIN;
SELECT simple_cache_put('k' || :k, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv');
COMMIT;
