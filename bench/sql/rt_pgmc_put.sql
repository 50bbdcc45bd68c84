-- 7, pgmemcache: memcache_set overwriting a key with a 32-byte value, as rt_put.sql does with
-- simple_cache_put. The server is added once per client session (see rt_pgmc_get.sql).
\if :mc_added = 0
SELECT memcache_server_add('127.0.0.1:' || :mc_port);
\set mc_added 1
\endif
\set k random(1, :nkeys)
SELECT memcache_set('k' || :k, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv');
