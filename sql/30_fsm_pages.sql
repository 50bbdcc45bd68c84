-- 30_fsm_pages: the free-space map's heap-style functions on relations an application numbers
-- itself (oids that are no relation: 3000001 and up, cast to regclass).
--   record_many   replaces a relation's pages wholesale; returns the pages kept
--   record        updates a tracked page only
--   get_page      a page with enough room, round-robin; feeds the average request size
--   record_and_get_page, avg_request, pages, forget, the simple_cache_fsm_relations view and
--   simple_cache_fsm_summary().
-- Every relation of this database is forgotten first and last.
\pset null '<NULL>'

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;
-- What other databases hold (nothing on a fresh server); the summary is compared with it.
SELECT used_pages AS used0, requested_pages AS requested0, relations AS relations0
FROM simple_cache_fsm_summary() \gset

-- A relation is tracked from its first wholesale report. Before: no page, no average, and
-- get_page does not start tracking it.
SELECT simple_cache_fsm_get_page(3000001, 100) AS page, simple_cache_fsm_avg_request(3000001) AS avg,
       simple_cache_fsm_record(3000001, 1, 100) AS recorded;
SELECT count(*) AS tracked FROM simple_cache_fsm_relations;

-- Unsorted input with a page named twice: the last amount wins; the request is the number of
-- distinct pages.
SELECT simple_cache_fsm_record_many(3000001, ARRAY[8, 2, 5, 1, 3, 2]::bigint[],
                                    ARRAY[300, 999, 8000, 100, 50, 2000]) AS kept;
SELECT * FROM simple_cache_fsm_pages(3000001);
SELECT relid, is_index, stored_pages, requested_pages, target_pages, avg_request, chunks
FROM simple_cache_fsm_relations;

-- get_page hands out the pages with enough room in turn (round-robin from a cursor), wrapping
-- around; NULL when none has enough.
SELECT g, simple_cache_fsm_get_page(3000001, 200) AS page FROM generate_series(1, 5) g;
SELECT simple_cache_fsm_get_page(3000001, 8001) AS page;
SELECT simple_cache_fsm_get_page(3000001, 0) AS any_page;

-- The average request size: the first request sets it, each later one weighs 1/16.
SELECT simple_cache_fsm_record_many(3000002, ARRAY[1]::bigint[], ARRAY[10]) AS kept;
SELECT simple_cache_fsm_avg_request(3000002) AS before_any;
SELECT simple_cache_fsm_get_page(3000002, 1600) AS page, simple_cache_fsm_avg_request(3000002) AS avg;
SELECT simple_cache_fsm_get_page(3000002, 0) AS page, simple_cache_fsm_avg_request(3000002) AS avg;
SELECT count(simple_cache_fsm_get_page(3000002, 500)) AS found FROM generate_series(1, 200);
SELECT simple_cache_fsm_avg_request(3000002) AS avg;

-- record updates a tracked page (and only a tracked one).
SELECT simple_cache_fsm_record(3000001, 5, 10) AS page_5, simple_cache_fsm_record(3000001, 4, 10) AS page_4,
       simple_cache_fsm_record(3000001, 8, 8192) AS page_8;
SELECT * FROM simple_cache_fsm_pages(3000001) WHERE block IN (4, 5, 8);

-- record_and_get_page records the page just filled, then finds one with room; the page
-- itself qualifies again if its new amount is enough.
SELECT simple_cache_fsm_record_and_get_page(3000001, 8, 0, 1000) AS page;
SELECT simple_cache_fsm_record_and_get_page(3000001, 2, 50, 1000) AS page;
SELECT simple_cache_fsm_record_and_get_page(3000001, 2, 5000, 4000) AS page;
SELECT simple_cache_fsm_record_and_get_page(3000001, 77, 5000, 4000) AS untracked_old_page;
SELECT * FROM simple_cache_fsm_pages(3000001);

-- A new report replaces everything; the cursor stays at the same block number.
SELECT simple_cache_fsm_record_many(3000001, ARRAY[1, 2, 3, 4, 5, 6]::bigint[],
                                    ARRAY[500, 500, 500, 500, 500, 500]) AS kept;
SELECT g, simple_cache_fsm_get_page(3000001, 100) AS page FROM generate_series(1, 3) g;
SELECT simple_cache_fsm_record_many(3000001, ARRAY[1, 2, 3, 4, 5, 6]::bigint[],
                                    ARRAY[500, 500, 500, 500, 500, 500]) AS kept;
SELECT simple_cache_fsm_get_page(3000001, 100) AS continues_at;

-- An empty report: the relation stays tracked, with no page and no request.
SELECT simple_cache_fsm_record_many(3000003, '{}'::bigint[], '{}'::int[]) AS kept;
SELECT simple_cache_fsm_get_page(3000003, 0) AS page;
SELECT relid, stored_pages, requested_pages, chunks FROM simple_cache_fsm_relations ORDER BY relid;

-- Block numbers up to MaxBlockNumber (4294967294) and amounts up to BLCKSZ are accepted.
SELECT simple_cache_fsm_record_many(3000004, ARRAY[0, 4294967294]::bigint[], ARRAY[0, 8192]) AS kept;
SELECT * FROM simple_cache_fsm_pages(3000004);
SELECT simple_cache_fsm_get_page(3000004, 8192) AS page;

-- A larger report: pages kept in block order, each with its amount; 1000 heap pages take 32
-- chunks of 32 pages.
SELECT simple_cache_fsm_record_many(3000005, array_agg(g::bigint ORDER BY g DESC), array_agg((g * 37) % 8000 ORDER BY g DESC))
       AS kept
FROM generate_series(0, 999) g;
SELECT count(*) AS pages, bool_and(avail = (block * 37) % 8000) AS amounts_right,
       bool_and(block = ordinal - 1) AS in_block_order
FROM simple_cache_fsm_pages(3000005) WITH ORDINALITY AS p(block, avail, ordinal);
SELECT stored_pages, requested_pages, target_pages, chunks FROM simple_cache_fsm_relations
WHERE relid = 3000005::regclass;

-- The summary counts page slots: chunks of 32 heap pages, the unit of
-- simple_cache.fsm_max_pages (200000 by default). It covers every database; here it is shown
-- less what other databases held at the start. Requested: 1 + 1 + 0 + 1 + 32 chunks.
SELECT capacity_pages, used_pages - :used0 AS used_pages, requested_pages - :requested0 AS requested_pages,
       relations - :relations0 AS relations
FROM simple_cache_fsm_summary();
SELECT used_pages - :used0 = 32 * (SELECT sum(chunks) FROM simple_cache_fsm_relations) AS used_matches_view
FROM simple_cache_fsm_summary();

-- Everything is scoped to the current database: another database sees none of it.
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_simple_cache_fsm30;
RESET client_min_messages;
CREATE DATABASE regress_simple_cache_fsm30;
\c regress_simple_cache_fsm30
CREATE EXTENSION simple_cache;
SELECT count(*) AS tracked_here FROM simple_cache_fsm_relations;
SELECT simple_cache_fsm_get_page(3000001, 0) AS page, simple_cache_fsm_avg_request(3000001) AS avg;
SELECT simple_cache_fsm_record_many(3000001, ARRAY[42]::bigint[], ARRAY[4242]) AS kept;
SELECT * FROM simple_cache_fsm_pages(3000001);
SELECT simple_cache_fsm_forget(3000001) AS forgotten;
\c :main_db
DROP DATABASE regress_simple_cache_fsm30;
SELECT * FROM simple_cache_fsm_pages(3000001) WHERE block = 42;
SELECT simple_cache_fsm_get_page(3000001, 0) IS NOT NULL AS still_here;

-- forget: true once, then false; the relation is untracked again.
SELECT simple_cache_fsm_forget(3000002) AS first, simple_cache_fsm_forget(3000002) AS second;
SELECT simple_cache_fsm_avg_request(3000002) AS avg, simple_cache_fsm_get_page(3000002, 0) AS page;

-- NULL arguments: the STRICT functions return NULL.
SELECT simple_cache_fsm_get_page(NULL, 1) AS a, simple_cache_fsm_get_page(3000001, NULL) AS b,
       simple_cache_fsm_record(3000001, NULL, 1) AS c, simple_cache_fsm_avg_request(NULL) AS d,
       simple_cache_fsm_record_and_get_page(3000001, 1, NULL, 1) AS e, simple_cache_fsm_forget(NULL) AS f;

SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
SELECT count(simple_cache_fsm_forget(relid)) AS forgotten FROM simple_cache_fsm_relations;
SELECT relations - :relations0 AS relations, used_pages - :used0 AS used_pages FROM simple_cache_fsm_summary();
