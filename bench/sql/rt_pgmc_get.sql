-- 7, pgmemcache: memcache_get of a preloaded key, as rt_get.sql does with simple_cache_get.
-- pgbench starts every client with mc_added = 0 (-D); the client's first transaction adds the
-- memcached server to its session (pgmemcache keeps the server list per backend).
\if :mc_added = 0
SELECT memcache_server_add('127.0.0.1:' || :mc_port);
\set mc_added 1
\endif
\set k random(1, :nkeys)
SELECT memcache_get('k' || :k);
