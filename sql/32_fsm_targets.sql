-- 32_fsm_targets: sharing simple_cache.fsm_max_pages among relations, and
-- simple_cache.fsm_max_relations.
--
-- With fsm_max_pages = 1000 the map has 31 chunks of 32 page slots (992). Three heap-style
-- relations reporting 2000, 1000 and 100 pages ask for 63, 32 and 4 chunks (99: an
-- oversubscription of 3.19). Each is guaranteed one chunk and the 28 left are shared in
-- proportion to the rest of each request: targets of 19, 10 and 2 chunks, i.e. 608, 320 and 64
-- pages. A report takes its target from free chunks, trimming relations over their targets to
-- 7/8 of them when the free chunks fall short, so after the first round of reports the first
-- relation holds less than its target and the second more; a second round settles both.
-- Heap relations keep the pages with the most free space (a histogram of amounts).
--
-- Both settings are server-wide (PGC_SIGHUP): ALTER SYSTEM and a reload, then a new session,
-- which is sure to see the new values. They take effect at the map's next operation. The map
-- is shared by every database, so this test needs no other relation in it: on a fresh server
-- there is none. Relations are oids 3200001 and up; both settings are reset at the end.
\pset null '<NULL>'

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;
SELECT relations AS other_relations FROM simple_cache_fsm_summary();

ALTER SYSTEM SET simple_cache.fsm_max_pages = 1000;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT current_setting('simple_cache.fsm_max_pages') AS fsm_max_pages;

-- A report: pages 0 .. n-1, page g with (g * 7919) % 8000 + 1 free bytes.
CREATE FUNCTION pg_temp.report(rel regclass, n int) RETURNS integer
LANGUAGE sql AS $$
    SELECT simple_cache_fsm_record_many(rel, array_agg(g::bigint ORDER BY g),
                                        array_agg((g * 7919) % 8000 + 1 ORDER BY g))
    FROM generate_series(0, n - 1) g
$$;

-- First round.
SELECT pg_temp.report(3200001, 2000) AS kept_a;
SELECT capacity_pages, used_pages, requested_pages, oversubscription, relations FROM simple_cache_fsm_summary();
SELECT pg_temp.report(3200002, 1000) AS kept_b;
SELECT pg_temp.report(3200003, 100) AS kept_c;
SELECT relid, stored_pages, requested_pages, target_pages, chunks FROM simple_cache_fsm_relations ORDER BY relid;
SELECT capacity_pages, used_pages, requested_pages, oversubscription, relations FROM simple_cache_fsm_summary();

-- Second round: every relation ends at its target.
SELECT pg_temp.report(3200001, 2000) AS kept_a, pg_temp.report(3200002, 1000) AS kept_b,
       pg_temp.report(3200003, 100) AS kept_c;
SELECT relid, stored_pages, requested_pages, target_pages, chunks FROM simple_cache_fsm_relations ORDER BY relid;
SELECT capacity_pages, used_pages, requested_pages, oversubscription, relations FROM simple_cache_fsm_summary();

-- The pages kept are those with the most free space: every kept page has at least as much as
-- any dropped one, less the width of one histogram bin (8192 / 32 = 256 bytes).
WITH reported AS (SELECT g AS block, (g * 7919) % 8000 + 1 AS avail FROM generate_series(0, 1999) g),
     kept AS (SELECT * FROM simple_cache_fsm_pages(3200001))
SELECT (SELECT min(avail) FROM kept) + 256 >= (SELECT max(r.avail) FROM reported r
                                               WHERE r.block NOT IN (SELECT block FROM kept)) AS most_free_kept,
       (SELECT bool_and(k.avail = r.avail) FROM kept k JOIN reported r USING (block)) AS amounts_as_reported;

-- The guarantee: a relation reporting a handful of pages is never squeezed out.
SELECT pg_temp.report(3200004, 5) AS kept_d;
SELECT relid, stored_pages, requested_pages, target_pages, chunks FROM simple_cache_fsm_relations ORDER BY relid;

-- Forgetting a relation gives its share back: the targets grow again at once.
SELECT simple_cache_fsm_forget(3200001) AS forgotten;
SELECT relid, stored_pages, requested_pages, target_pages, chunks FROM simple_cache_fsm_relations ORDER BY relid;
SELECT pg_temp.report(3200002, 1000) AS kept_b;
SELECT capacity_pages, used_pages, requested_pages, oversubscription, relations FROM simple_cache_fsm_summary();

-- A lower capacity trims relations over their new targets at once.
ALTER SYSTEM SET simple_cache.fsm_max_pages = 320;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT capacity_pages, used_pages, requested_pages, oversubscription, relations FROM simple_cache_fsm_summary();
SELECT relid, stored_pages, target_pages, chunks FROM simple_cache_fsm_relations ORDER BY relid;

-- fsm_max_relations: beyond it the least recently used relation is forgotten (a CLOCK over the
-- relations: one used since the hand last passed is spared once).
ALTER SYSTEM SET simple_cache.fsm_max_relations = 3;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT current_setting('simple_cache.fsm_max_relations') AS fsm_max_relations;
SELECT relid FROM simple_cache_fsm_relations ORDER BY relid;
SELECT simple_cache_fsm_record_many(3200005, ARRAY[1]::bigint[], ARRAY[100]) AS kept_e;
SELECT relid FROM simple_cache_fsm_relations ORDER BY relid;
SELECT simple_cache_fsm_get_page(3200003, 0) IS NOT NULL AS c_used;
SELECT simple_cache_fsm_add_free_page(3200006, 1) AS added_f;
SELECT relid FROM simple_cache_fsm_relations ORDER BY relid;
SELECT relations FROM simple_cache_fsm_summary();

-- Lowering the limit below the relations tracked forgets the surplus at the next operation.
ALTER SYSTEM SET simple_cache.fsm_max_relations = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT count(*) AS tracked FROM simple_cache_fsm_relations;

-- Settings back to their defaults: the capacity is 200000 page slots again.
ALTER SYSTEM RESET simple_cache.fsm_max_pages;
ALTER SYSTEM RESET simple_cache.fsm_max_relations;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\c
SELECT capacity_pages FROM simple_cache_fsm_summary();
SELECT current_setting('simple_cache.fsm_max_pages') AS fsm_max_pages,
       current_setting('simple_cache.fsm_max_relations') AS fsm_max_relations;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
SELECT count(simple_cache_fsm_forget(relid)) AS forgotten FROM simple_cache_fsm_relations;
