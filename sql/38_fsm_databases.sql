-- 38_fsm_databases: isolation between databases in the free-space map. The relation limit
-- (simple_cache.fsm_max_relations) and the page budget (simple_cache.fsm_max_pages) are shared
-- by every database, but fairly: a new relation only ever pushes out a relation of the
-- database that tracks the most relations, and the budget is first divided among databases,
-- max-min fair over their requests, then among each database's relations. A superuser can cap
-- a database further with ALTER DATABASE ... SET simple_cache.fsm_max_relations_per_database
-- and simple_cache.fsm_max_pages_per_database, which no other role can change.
--
-- This database (the victim) tracks three real tables. regress_fsm38_flooder, owned by an
-- ordinary role, floods the map with 1,200 made-up relations (oids 3800001 and up) and a huge
-- report. The capacity is lowered to 3200 page slots (100 chunks) for the test and reset at
-- the end; the relation limit stays at its default of 1000. The victim's made-up relations
-- are oids 3810001 and up.
\pset null '<NULL>'
SELECT current_database() AS main_db, current_user AS main_user \gset
SET client_min_messages = warning;
DROP TABLE IF EXISTS fsm38_a, fsm38_b, fsm38_c;
DROP DATABASE IF EXISTS regress_fsm38_flooder WITH (FORCE);
DROP ROLE IF EXISTS regress_fsm38_flooder;
RESET client_min_messages;

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;
SELECT relations AS other_relations FROM simple_cache_fsm_summary();

ALTER SYSTEM SET simple_cache.fsm_max_pages = 3200;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT capacity_pages FROM simple_cache_fsm_summary();
SELECT current_setting('simple_cache.fsm_max_pages') AS fsm_max_pages,
       current_setting('simple_cache.fsm_max_relations') AS fsm_max_relations,
       current_setting('simple_cache.fsm_max_relations_per_database') AS per_database_relations,
       current_setting('simple_cache.fsm_max_pages_per_database') AS per_database_pages;

CREATE ROLE regress_fsm38_flooder LOGIN;
CREATE DATABASE regress_fsm38_flooder OWNER regress_fsm38_flooder;
\c regress_fsm38_flooder
CREATE EXTENSION simple_cache;
\c :main_db

-- The victim: three tables of 50 pages, every page about half empty.
CREATE TABLE fsm38_a (id int, pad text) WITH (fillfactor = 50, autovacuum_enabled = false);
CREATE TABLE fsm38_b (LIKE fsm38_a) WITH (fillfactor = 50, autovacuum_enabled = false);
CREATE TABLE fsm38_c (LIKE fsm38_a) WITH (fillfactor = 50, autovacuum_enabled = false);
INSERT INTO fsm38_a SELECT g, repeat('a', 500) FROM generate_series(1, 350) g;
INSERT INTO fsm38_b SELECT g, repeat('b', 500) FROM generate_series(1, 350) g;
INSERT INTO fsm38_c SELECT g, repeat('c', 500) FROM generate_series(1, 350) g;
SELECT simple_cache_fsm_vacuum('fsm38_a') AS a, simple_cache_fsm_vacuum('fsm38_b') AS b,
       simple_cache_fsm_vacuum('fsm38_c') AS c;
SELECT relid::regclass AS rel, stored_pages, requested_pages, target_pages, chunks
FROM simple_cache_fsm_relations ORDER BY relid;

-- The flooder, an ordinary role, tracks 1,200 made-up relations of 3 pages each.
\c regress_fsm38_flooder regress_fsm38_flooder
SELECT rolsuper FROM pg_roles WHERE rolname = current_user;
SELECT count(simple_cache_fsm_record_many(3800000 + g, ARRAY[0, 1, 2]::bigint[], ARRAY[100, 200, 300])) AS reports
FROM generate_series(1, 1200) g;
-- The map is full: the flooder pushed out its own relations, none of the victim's.
SELECT count(*) AS flooder_relations FROM simple_cache_fsm_relations;
SELECT relations AS all_relations FROM simple_cache_fsm_summary();

\c :main_db :main_user
SELECT relid::regclass AS rel, stored_pages, requested_pages, target_pages, chunks
FROM simple_cache_fsm_relations ORDER BY relid;
-- A new relation of the victim takes the place of one of the flooder's, the database that
-- tracks the most relations.
SELECT simple_cache_fsm_record_many(3810001, ARRAY[0, 1, 2, 3, 4]::bigint[], ARRAY[10, 20, 30, 40, 50]) AS kept;
SELECT count(*) AS victim_relations FROM simple_cache_fsm_relations;
SELECT relations AS all_relations FROM simple_cache_fsm_summary();

-- The flooder reports 100,000 pages for one relation: 3125 chunks, 31 times the capacity.
-- The victim asks for 2 + 2 + 2 + 1 = 7 chunks, so the flooder may have the other 93, shared
-- among its relations by the per-relation rules (one chunk guaranteed to each, but it has
-- more relations than chunks).
\c regress_fsm38_flooder regress_fsm38_flooder
SELECT simple_cache_fsm_record_many(3800001, array_agg(g::bigint), array_agg(4000)) AS kept
FROM generate_series(0, 99999) g;
SELECT count(*) AS flooder_relations, sum(chunks) AS flooder_chunks,
       sum(ceil(target_pages / 32.0)) AS flooder_target_chunks FROM simple_cache_fsm_relations;

-- The victim keeps every page.
\c :main_db :main_user
SELECT relid::regclass AS rel, stored_pages, requested_pages, target_pages, chunks
FROM simple_cache_fsm_relations ORDER BY relid;
SELECT capacity_pages, requested_pages, relations FROM simple_cache_fsm_summary();

-- When the victim asks for more than half (a made-up relation of 5000 pages, 157 chunks), it
-- gets exactly half: targets of 50 chunks, shared among its relations by the per-relation
-- rules. Relations over their new targets give chunks back when room is needed.
SELECT simple_cache_fsm_record_many(3810002, array_agg(g::bigint), array_agg(2000)) AS kept
FROM generate_series(0, 4999) g;
SELECT relid::regclass AS rel, stored_pages, requested_pages, target_pages, chunks
FROM simple_cache_fsm_relations ORDER BY relid;
SELECT sum(ceil(target_pages / 32.0)) AS victim_target_chunks, sum(chunks) AS victim_chunks
FROM simple_cache_fsm_relations;
SELECT used_pages FROM simple_cache_fsm_summary();

-- The per-database limits are superuser settings: the flooder's owner can neither set them
-- in its session nor for its database (42501). A value set before the library is loaded is
-- discarded with a warning when it loads.
\c regress_fsm38_flooder regress_fsm38_flooder
SET simple_cache.fsm_max_relations_per_database = 5000;
SELECT count(*) AS flooder_relations FROM simple_cache_fsm_relations;
SELECT current_setting('simple_cache.fsm_max_relations_per_database') AS per_database_relations;
SET simple_cache.fsm_max_relations_per_database = 0;
SET simple_cache.fsm_max_pages_per_database = 0;
ALTER DATABASE regress_fsm38_flooder SET simple_cache.fsm_max_pages_per_database = 0;
ALTER ROLE regress_fsm38_flooder SET simple_cache.fsm_max_pages_per_database = 0;

-- Out-of-range values are refused (22023).
\c regress_fsm38_flooder :main_user
SELECT count(*) AS flooder_relations FROM simple_cache_fsm_relations;
SET simple_cache.fsm_max_relations_per_database = -1;
SET simple_cache.fsm_max_pages_per_database = -1;
SET simple_cache.fsm_max_relations_per_database = 1000001;
SELECT current_setting('simple_cache.fsm_max_relations_per_database') AS per_database_relations,
       current_setting('simple_cache.fsm_max_pages_per_database') AS per_database_pages;

-- A superuser caps the flooder at 20 relations and 320 pages (10 chunks).
ALTER DATABASE regress_fsm38_flooder SET simple_cache.fsm_max_relations_per_database = 20;
ALTER DATABASE regress_fsm38_flooder SET simple_cache.fsm_max_pages_per_database = 320;
\c regress_fsm38_flooder regress_fsm38_flooder
SELECT current_setting('simple_cache.fsm_max_relations_per_database') AS per_database_relations,
       current_setting('simple_cache.fsm_max_pages_per_database') AS per_database_pages;
-- Its next report applies them: it forgets its least recently used relations down to 20, and its
-- reports are trimmed to 320 pages in all.
SELECT simple_cache_fsm_record_many(3800001, array_agg(g::bigint), array_agg(4000)) <= 320 AS kept_within_cap
FROM generate_series(0, 99999) g;
SELECT count(*) AS flooder_relations, sum(chunks) AS flooder_chunks, sum(stored_pages) <= 320 AS within_cap
FROM simple_cache_fsm_relations;
SELECT count(simple_cache_fsm_record_many(3802000 + g, ARRAY[0, 1, 2]::bigint[], ARRAY[100, 200, 300])) AS reports
FROM generate_series(1, 100) g;
SELECT count(*) AS flooder_relations, sum(chunks) AS flooder_chunks FROM simple_cache_fsm_relations;
-- The relation it reported last is among them.
SELECT count(*) AS last_kept FROM simple_cache_fsm_relations WHERE relid = 3802100;

-- The victim's share grows to what the capped flooder leaves: 90 chunks.
\c :main_db :main_user
SELECT simple_cache_fsm_record_many(3810002, array_agg(g::bigint), array_agg(2000)) AS kept
FROM generate_series(0, 4999) g;
SELECT sum(ceil(target_pages / 32.0)) AS victim_target_chunks, sum(chunks) AS victim_chunks
FROM simple_cache_fsm_relations;
SELECT relations AS all_relations, used_pages FROM simple_cache_fsm_summary();
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();

-- Clean up: both databases' relations, the flooder's database and role, the capacity.
\c regress_fsm38_flooder :main_user
SELECT count(simple_cache_fsm_forget(relid)) AS forgotten FROM simple_cache_fsm_relations;
\c :main_db
SELECT count(simple_cache_fsm_forget(relid)) AS forgotten FROM simple_cache_fsm_relations;
DROP TABLE fsm38_a, fsm38_b, fsm38_c;
DROP DATABASE regress_fsm38_flooder;
DROP ROLE regress_fsm38_flooder;
ALTER SYSTEM RESET simple_cache.fsm_max_pages;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT capacity_pages, used_pages, relations FROM simple_cache_fsm_summary();
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
