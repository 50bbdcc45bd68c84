-- 1d: primary-key lookup in an UNLOGGED table.
\set k random(1, :nkeys)
SELECT v FROM bench_kv WHERE k = 'k' || :k;
