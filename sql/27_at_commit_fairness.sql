-- 27_at_commit_fairness: writes at commit are held to fair eviction between databases and to
-- simple_cache.database_max_memory as immediate writes are: the entries a commit builds before
-- it links any count as its database's while it makes room. Runs under a 16 MB limit
-- (restored at the end) in two extra databases.
\pset null '<NULL>'
\set VERBOSITY terse

SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_sc27_quiet WITH (FORCE);
DROP DATABASE IF EXISTS regress_sc27_writer WITH (FORCE);
DROP ROLE IF EXISTS regress_sc27_writer;
RESET client_min_messages;
CREATE ROLE regress_sc27_writer LOGIN;
CREATE DATABASE regress_sc27_quiet;
CREATE DATABASE regress_sc27_writer;
SELECT simple_cache_flush() >= 0 AS flushed;
SELECT simple_cache_set_size_limit(16 * 1024 * 1024);

-- A quiet database keeps 60 values of 100 kB (about 6 MB).
\c regress_sc27_quiet
CREATE EXTENSION simple_cache;
SELECT count(simple_cache_put('q:' || g, repeat('q', 100000))) AS put FROM generate_series(1, 60) g;

-- A plain role in another database queues 200 values of 100 kB for its commit: more than
-- the limit. It may evict the quiet database's entries only while that one holds more than
-- this one would with what the commit has built so far; past its fair share it has no entry
-- of its own to evict, so COMMIT fails with 53200. The quiet database keeps at least half of
-- its entries (all of them when the area had room for both halves; other tests' leftovers in
-- the area can make the split come earlier).
\c regress_sc27_writer
CREATE EXTENSION simple_cache;
SET ROLE regress_sc27_writer;
BEGIN;
SELECT count(*) AS queued
  FROM (SELECT simple_cache_put_at_commit('w:' || g, repeat('w', 100000)) FROM generate_series(1, 200) g) s;
COMMIT;
SELECT count(*) AS writer_entries FROM simple_cache_list();
RESET ROLE;
\c regress_sc27_quiet
SELECT count(*) >= 30 AS quiet_kept_half FROM simple_cache_list();

-- simple_cache.database_max_memory holds at the commit.
ALTER DATABASE regress_sc27_writer SET simple_cache.database_max_memory = '1MB';
\c regress_sc27_writer
SET ROLE regress_sc27_writer;
-- A commit whose puts alone take more than the cap fails with 53200 and stores nothing.
BEGIN;
SELECT count(*) AS queued
  FROM (SELECT simple_cache_put_at_commit('big:' || g, repeat('b', 100000)) FROM generate_series(1, 20) g) s;
COMMIT;
SELECT count(*) AS writer_entries FROM simple_cache_list();
-- A commit that fits under the cap evicts the database's own older entries first.
SELECT count(simple_cache_put('old:' || g, repeat('o', 100000))) AS put FROM generate_series(1, 8) g;
BEGIN;
SELECT count(*) AS queued
  FROM (SELECT simple_cache_put_at_commit('new:' || g, repeat('n', 100000)) FROM generate_series(1, 5) g) s;
COMMIT;
SELECT sum(length(value)) <= 1024 * 1024 AS within_cap,
       count(*) FILTER (WHERE starts_with(key, 'new:')) AS new_kept,
       count(*) FILTER (WHERE starts_with(key, 'old:')) < 8 AS old_evicted
FROM simple_cache_list();
RESET ROLE;

-- Clean up.
\c :main_db
DROP DATABASE regress_sc27_quiet;
DROP DATABASE regress_sc27_writer;
DROP ROLE regress_sc27_writer;
SELECT simple_cache_set_size_limit(256 * 1024 * 1024);
