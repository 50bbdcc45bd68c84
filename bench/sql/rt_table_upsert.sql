-- 1e: upsert into an UNLOGGED table.
\set k random(1, :nkeys)
INSERT INTO bench_kv (k, v) VALUES ('k' || :k, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
