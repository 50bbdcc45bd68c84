-- 33_fsm_vacuum: simple_cache_fsm_vacuum scans real relations through the buffer manager.
--   heap tables: every page with room, with PageGetHeapFreeSpace's bytes, checked here against
--     the page headers (pageinspect: upper - lower, less one line pointer) and against
--     PostgreSQL's own free space map (pg_freespacemap, which keeps the amount in steps of 32);
--   btree indexes: the deleted pages, checked against pageinspect's bt_page_stats.
-- Also: what cannot be scanned (0A000, 42P01), who may scan (who may VACUUM: 42501 otherwise),
-- and relations dropped by DROP TABLE / DROP INDEX / DROP SCHEMA are forgotten when the
-- dropping transaction commits (an event trigger), not when it rolls back.
\pset null '<NULL>'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pageinspect;
CREATE EXTENSION IF NOT EXISTS pg_freespacemap;
DROP SCHEMA IF EXISTS fsm33_own CASCADE;
DROP ROLE IF EXISTS regress_fsm33;
RESET client_min_messages;

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;

-- A heap table whose pages have all sorts of free space: rows of different widths, a third of
-- them deleted, and a VACUUM that compacts the pages.
CREATE TABLE fsm33_t (id int, pad text) WITH (autovacuum_enabled = off);
INSERT INTO fsm33_t SELECT g, repeat('x', (g * 37) % 1500) FROM generate_series(1, 6000) g;
INSERT INTO fsm33_t SELECT 0, string_agg(md5(g::text), '') FROM generate_series(1, 400) g;  -- TOASTed
DELETE FROM fsm33_t WHERE id % 3 = 0 OR (id BETWEEN 2000 AND 2600);
VACUUM fsm33_t;
SELECT pg_relation_size('fsm33_t') / current_setting('block_size')::int AS nblocks \gset
SELECT simple_cache_fsm_vacuum('fsm33_t') AS kept \gset
SELECT :kept > 100 AS many_pages_kept;

-- What PageGetHeapFreeSpace says for each page (no page here has 291 line pointers, where it
-- would also look for an unused one): upper - lower less one line pointer, or 0.
CREATE TEMP TABLE fsm33_expected AS
SELECT b AS block, greatest(h.upper - h.lower - 4, 0) AS avail
FROM generate_series(0, :nblocks - 1) b, LATERAL page_header(get_raw_page('fsm33_t', b::int)) h;
SELECT count(*) = :nblocks AS every_page, count(*) FILTER (WHERE avail > 0) = :kept AS pages_with_room,
       count(*) FILTER (WHERE avail = 0) AS full_pages, max(avail) > 4000 AS some_nearly_empty
FROM fsm33_expected;

-- The map holds exactly the pages with room, each with its exact amount.
SELECT (SELECT count(*) FROM simple_cache_fsm_pages('fsm33_t')) =
       (SELECT count(*) FROM fsm33_expected WHERE avail > 0) AS same_count,
       NOT EXISTS (SELECT block, avail FROM fsm33_expected WHERE avail > 0
                   EXCEPT SELECT block, avail FROM simple_cache_fsm_pages('fsm33_t')) AS same_pages_and_amounts;
-- ... and agrees with PostgreSQL's own map, which rounds down to steps of 32 bytes.
SELECT bool_and(p.avail / 32 * 32 = f.avail) AS matches_pg_freespace
FROM simple_cache_fsm_pages('fsm33_t') p JOIN pg_freespace('fsm33_t') f ON f.blkno = p.block;
SELECT relid, is_index, stored_pages = requested_pages AS all_kept, chunks > 0 AS has_chunks
FROM simple_cache_fsm_relations WHERE relid = 'fsm33_t'::regclass;

-- A page can also be full by count: with MaxHeapTuplesPerPage (291) line pointers and none
-- unused, PageGetHeapFreeSpace gives 0 whatever room is left. Rows without columns fill a page
-- with 291 of them and leave 20 bytes; those pages are not in the map, the last one is.
CREATE TABLE fsm33_z () WITH (autovacuum_enabled = off);
INSERT INTO fsm33_z SELECT FROM generate_series(1, 1000);
VACUUM fsm33_z;
SELECT simple_cache_fsm_vacuum('fsm33_z') AS kept;
SELECT b AS block, (h.lower - 24) / 4 AS line_pointers, h.upper - h.lower AS gap, p.avail AS recorded
FROM generate_series(0, 3) b
CROSS JOIN LATERAL page_header(get_raw_page('fsm33_z', b::int)) h
LEFT JOIN simple_cache_fsm_pages('fsm33_z') p ON p.block = b
ORDER BY b;

-- An application then uses it: a page with room for 1000 bytes has at least that much.
SELECT simple_cache_fsm_get_page('fsm33_t', 1000) AS page \gset
SELECT avail >= 1000 AS has_room FROM fsm33_expected WHERE block = :page;

-- A btree index with deleted pages: most rows gone, VACUUM deletes the emptied leaf pages.
CREATE TABLE fsm33_b (id int) WITH (autovacuum_enabled = off);
INSERT INTO fsm33_b SELECT g FROM generate_series(1, 100000) g;
CREATE INDEX fsm33_b_id ON fsm33_b (id);
SELECT simple_cache_fsm_vacuum('fsm33_b_id') AS free_before_delete;
DELETE FROM fsm33_b WHERE id BETWEEN 10000 AND 90000;
VACUUM fsm33_b;
SELECT pg_relation_size('fsm33_b_id') / current_setting('block_size')::int AS index_nblocks \gset
SELECT simple_cache_fsm_vacuum('fsm33_b_id') > 100 AS free_pages;
CREATE TEMP TABLE fsm33_deleted AS
SELECT b AS block FROM generate_series(1, :index_nblocks - 1) b, LATERAL bt_page_stats('fsm33_b_id', b::int) s
WHERE s.type = 'd';
SELECT count(*) > 100 AS many_deleted FROM fsm33_deleted;
SELECT (SELECT count(*) FROM simple_cache_fsm_pages('fsm33_b_id')) = (SELECT count(*) FROM fsm33_deleted) AS same_count,
       NOT EXISTS (SELECT block FROM fsm33_deleted EXCEPT SELECT block FROM simple_cache_fsm_pages('fsm33_b_id'))
           AS same_pages,
       (SELECT count(avail) FROM simple_cache_fsm_pages('fsm33_b_id')) AS amounts;
SELECT relid, is_index, stored_pages = requested_pages AS all_kept FROM simple_cache_fsm_relations
WHERE relid = 'fsm33_b_id'::regclass;
-- The index's free pages come out lowest first.
SELECT simple_cache_fsm_get_free_page('fsm33_b_id') = (SELECT min(block) FROM fsm33_deleted) AS lowest_first;

-- Materialized views and TOAST tables are heap tables too.
CREATE MATERIALIZED VIEW fsm33_mv AS SELECT g AS id FROM generate_series(1, 1000) g;
SELECT simple_cache_fsm_vacuum('fsm33_mv') = pg_relation_size('fsm33_mv') / current_setting('block_size')::int
       AS kept_every_page;
SELECT reltoastrelid::regclass AS toast FROM pg_class WHERE relname = 'fsm33_t' \gset
SELECT simple_cache_fsm_vacuum(:'toast') > 0 AS toast_pages_kept;

-- What cannot be scanned: 0A000 for relations without heap or btree pages, 42P01 for an oid
-- that is no relation.
CREATE VIEW fsm33_v AS SELECT 1 AS one;
CREATE SEQUENCE fsm33_s;
CREATE TABLE fsm33_p (id int) PARTITION BY RANGE (id);
CREATE INDEX fsm33_t_hash ON fsm33_t USING hash (id);
\set VERBOSITY default
SELECT simple_cache_fsm_vacuum('fsm33_v');
\set VERBOSITY terse
SELECT simple_cache_fsm_vacuum('fsm33_s');
SELECT simple_cache_fsm_vacuum('fsm33_p');
SELECT simple_cache_fsm_vacuum('fsm33_t_hash');
SELECT simple_cache_fsm_vacuum(3300001);
SELECT simple_cache_fsm_vacuum(NULL) AS null_rel;
SELECT count(*) AS tracked FROM simple_cache_fsm_relations
WHERE relid IN ('fsm33_v'::regclass, 'fsm33_s'::regclass, 'fsm33_p'::regclass, 'fsm33_t_hash'::regclass);

-- Who may scan: who may VACUUM the table (for an index: its table), such as its owner;
-- anyone else gets 42501, SELECT on the table is not enough (37_fsm_privileges has the rest).
CREATE ROLE regress_fsm33;
CREATE SCHEMA fsm33_own AUTHORIZATION regress_fsm33;
SET ROLE regress_fsm33;
SELECT simple_cache_fsm_vacuum('fsm33_t');
SELECT simple_cache_fsm_vacuum('fsm33_b_id');
RESET ROLE;
GRANT SELECT ON fsm33_b TO regress_fsm33;
SET ROLE regress_fsm33;
SELECT simple_cache_fsm_vacuum('fsm33_b_id');
RESET ROLE;
ALTER TABLE fsm33_b OWNER TO regress_fsm33;
SET ROLE regress_fsm33;
SELECT simple_cache_fsm_vacuum('fsm33_b_id') > 100 AS index_scanned;
SELECT simple_cache_fsm_vacuum('fsm33_b') > 0 AS table_scanned;
CREATE TABLE fsm33_own.t (id int);
INSERT INTO fsm33_own.t VALUES (1);
SELECT simple_cache_fsm_vacuum('fsm33_own.t') AS own_scanned;
-- A plain role's DROP is seen by the event trigger too.
DROP TABLE fsm33_own.t;
RESET ROLE;
ALTER TABLE fsm33_b OWNER TO CURRENT_USER;
SELECT count(*) AS own_tracked FROM simple_cache_fsm_relations WHERE relid::text = 'fsm33_own.t';

-- Dropping forgets: not while the transaction runs, not when it (or the subtransaction that
-- dropped) rolls back, and at commit. Dropping a table drops its indexes and TOAST table.
SELECT CASE WHEN relid::text LIKE 'pg_toast.%' THEN 'fsm33_t''s TOAST table' ELSE relid::text END AS relation
FROM simple_cache_fsm_relations ORDER BY relid::oid;
BEGIN;
DROP TABLE fsm33_t;
SELECT count(*) AS still_tracked FROM simple_cache_fsm_relations;
ROLLBACK;
SELECT count(*) AS after_rollback FROM simple_cache_fsm_relations;
BEGIN;
SAVEPOINT s;
DROP INDEX fsm33_b_id;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s2;
DROP MATERIALIZED VIEW fsm33_mv;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT CASE WHEN relid::text LIKE 'pg_toast.%' THEN 'fsm33_t''s TOAST table' ELSE relid::text END AS relation
FROM simple_cache_fsm_relations ORDER BY relid::oid;
DROP INDEX fsm33_b_id;
SELECT CASE WHEN relid::text LIKE 'pg_toast.%' THEN 'fsm33_t''s TOAST table' ELSE relid::text END AS relation
FROM simple_cache_fsm_relations ORDER BY relid::oid;
CREATE SCHEMA fsm33_schema;
CREATE TABLE fsm33_schema.inner_t (id int PRIMARY KEY);
INSERT INTO fsm33_schema.inner_t VALUES (1);
SELECT simple_cache_fsm_vacuum('fsm33_schema.inner_t') AS kept, simple_cache_fsm_vacuum('fsm33_schema.inner_t_pkey') AS free;
SELECT count(*) AS in_schema FROM simple_cache_fsm_relations WHERE relid::text LIKE 'fsm33_schema.%';
SET client_min_messages = warning;
DROP SCHEMA fsm33_schema CASCADE;
RESET client_min_messages;
DROP TABLE fsm33_t, fsm33_b, fsm33_z;
SELECT count(*) AS tracked FROM simple_cache_fsm_relations;

SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
DROP VIEW fsm33_v;
DROP SEQUENCE fsm33_s;
DROP TABLE fsm33_p;
DROP SCHEMA fsm33_own;
DROP ROLE regress_fsm33;
