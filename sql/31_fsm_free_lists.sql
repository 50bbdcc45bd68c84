-- 31_fsm_free_lists: index-style relations, whose map entry is a list of wholly free pages (as
-- btree indexes keep): add_free_page, get_free_page (lowest first), wholesale reports, how a
-- relation's kind is chosen, and the shrinking helpers (a NOTICE when the last pages of a real
-- relation are free, simple_cache_fsm_truncatable_pages, simple_cache_fsm_truncate).
-- Application-numbered relations are oids 3100001 and up; every relation of this database is
-- forgotten first and last.
\pset null '<NULL>'

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;

-- A first add_free_page on an oid that is no relation makes it index-style.
SELECT simple_cache_fsm_get_free_page(3100001) AS nothing_yet;
SELECT simple_cache_fsm_add_free_page(3100001, 10) AS a, simple_cache_fsm_add_free_page(3100001, 3) AS b,
       simple_cache_fsm_add_free_page(3100001, 7) AS c, simple_cache_fsm_add_free_page(3100001, 3) AS again;
SELECT relid, is_index, stored_pages, requested_pages, target_pages, avg_request, chunks
FROM simple_cache_fsm_relations;
SELECT * FROM simple_cache_fsm_pages(3100001);

-- get_free_page takes the lowest page out; NULL once the list is empty. A page taken out can
-- be added again.
SELECT g, simple_cache_fsm_get_free_page(3100001) AS page FROM generate_series(1, 4) g;
SELECT simple_cache_fsm_add_free_page(3100001, 7) AS re_added, simple_cache_fsm_get_free_page(3100001) AS page;

-- A list never reported wholesale holds its minimum share: one chunk of 48 pages. When it is
-- full, a lower page takes the place of the highest one and a higher page is not added.
SELECT count(*) FILTER (WHERE simple_cache_fsm_add_free_page(3100002, g)) AS added
FROM generate_series(100, 159) g;
SELECT count(*) AS listed, min(block), max(block) FROM simple_cache_fsm_pages(3100002);
SELECT simple_cache_fsm_add_free_page(3100002, 5) AS lower_page, simple_cache_fsm_add_free_page(3100002, 500) AS higher_page;
SELECT count(*) AS listed, min(block), max(block) FROM simple_cache_fsm_pages(3100002);

-- A wholesale report of an index-style relation lists its free pages (the amounts are checked
-- but not kept) and becomes its request, so the list may then grow as far as its target.
SELECT simple_cache_fsm_record_many(3100002, array_agg(g::bigint), array_agg(8192)) AS kept
FROM generate_series(1000, 1199) g;
SELECT relid, is_index, stored_pages, requested_pages, target_pages, chunks FROM simple_cache_fsm_relations
WHERE relid = 3100002::regclass;
SELECT count(*) AS listed, min(block), max(block), count(avail) AS amounts FROM simple_cache_fsm_pages(3100002);
SELECT count(*) FILTER (WHERE simple_cache_fsm_add_free_page(3100002, g)) AS added FROM generate_series(1, 40) g;
SELECT stored_pages, chunks FROM simple_cache_fsm_relations WHERE relid = 3100002::regclass;

-- The heap-style functions refuse an index-style relation, and the other way round (42809),
-- without changing either.
SELECT simple_cache_fsm_record_many(3100003, ARRAY[1]::bigint[], ARRAY[100]) AS heap_style;
\set VERBOSITY default
SELECT simple_cache_fsm_get_page(3100002, 10);
SELECT simple_cache_fsm_record_and_get_page(3100002, 1, 10, 10);
SELECT simple_cache_fsm_record(3100002, 1000, 10);
SELECT simple_cache_fsm_add_free_page(3100003, 5);
SELECT simple_cache_fsm_get_free_page(3100003);
\set VERBOSITY terse
SELECT stored_pages FROM simple_cache_fsm_relations WHERE relid IN (3100002::regclass, 3100003::regclass) ORDER BY relid;

-- Real relations: an index is index-style and a table heap-style, whichever function comes
-- first; add_free_page on an untracked table is refused and does not start tracking it.
CREATE TABLE fsm31_t (id int PRIMARY KEY, pad text);
INSERT INTO fsm31_t SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g;
SELECT simple_cache_fsm_record_many('fsm31_t_pkey', ARRAY[3, 4]::bigint[], ARRAY[0, 0]) AS index_report;
SELECT simple_cache_fsm_add_free_page('fsm31_t', 1);
SELECT relid, is_index FROM simple_cache_fsm_relations WHERE relid IN ('fsm31_t'::regclass, 'fsm31_t_pkey'::regclass);
SELECT simple_cache_fsm_record_many('fsm31_t', ARRAY[0]::bigint[], ARRAY[500]) AS table_report;
SELECT relid, is_index FROM simple_cache_fsm_relations WHERE relid IN ('fsm31_t'::regclass, 'fsm31_t_pkey'::regclass)
ORDER BY relid::oid;
SELECT simple_cache_fsm_forget('fsm31_t_pkey') AS forgotten;

-- Freeing the last page of a real relation says that it could shrink (a NOTICE), and
-- simple_cache_fsm_truncatable_pages counts the free pages that end it.
SELECT pg_relation_size('fsm31_t_pkey') / current_setting('block_size')::int AS nblocks \gset
SELECT simple_cache_fsm_add_free_page('fsm31_t_pkey', :nblocks - 3) AS added;
SELECT simple_cache_fsm_truncatable_pages('fsm31_t_pkey') AS truncatable;
SELECT simple_cache_fsm_add_free_page('fsm31_t_pkey', :nblocks - 1) AS added;
SELECT simple_cache_fsm_add_free_page('fsm31_t_pkey', :nblocks - 2) AS added;
SELECT simple_cache_fsm_add_free_page('fsm31_t_pkey', :nblocks - 2) AS added_again;
SELECT simple_cache_fsm_truncatable_pages('fsm31_t_pkey') AS truncatable;

-- With an explicit size, any relation (real or not) can be asked; pages past the size are
-- ignored. Heap-style and untracked relations have none.
SELECT simple_cache_fsm_truncatable_pages('fsm31_t_pkey', :nblocks - 1) AS below_the_last,
       simple_cache_fsm_truncatable_pages('fsm31_t_pkey', :nblocks + 1) AS one_more;
SELECT simple_cache_fsm_add_free_page(3100004, g) FROM generate_series(5, 9) g;
SELECT simple_cache_fsm_truncatable_pages(3100004, 10) AS ten, simple_cache_fsm_truncatable_pages(3100004, 11) AS eleven,
       simple_cache_fsm_truncatable_pages(3100004, 8) AS eight, simple_cache_fsm_truncatable_pages(3100003, 2) AS heap_style,
       simple_cache_fsm_truncatable_pages(3100099, 10) AS untracked, simple_cache_fsm_truncatable_pages(NULL) AS null_rel;

-- After truncating a relation, simple_cache_fsm_truncate forgets the pages past its new size.
SELECT simple_cache_fsm_truncate(3100004, 7) AS forgotten, simple_cache_fsm_truncate(3100004, 7) AS again;
SELECT * FROM simple_cache_fsm_pages(3100004);
SELECT simple_cache_fsm_truncate('fsm31_t_pkey', :nblocks - 3) AS forgotten;
SELECT count(*) AS listed FROM simple_cache_fsm_pages('fsm31_t_pkey');
SELECT simple_cache_fsm_record_many(3100005, ARRAY[1, 5, 9]::bigint[], ARRAY[10, 20, 30]) AS kept;
SELECT simple_cache_fsm_truncate(3100005, 5) AS heap_forgotten;
SELECT * FROM simple_cache_fsm_pages(3100005);
SELECT simple_cache_fsm_truncate(3100099, 0) AS untracked;

-- A relation without storage needs the size given; an oid that is no relation too.
CREATE VIEW fsm31_v AS SELECT 1 AS one;
SELECT simple_cache_fsm_truncatable_pages('fsm31_v');
SELECT simple_cache_fsm_truncatable_pages(3100004);
SELECT simple_cache_fsm_truncatable_pages('fsm31_v', 0) AS with_size;

SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
DROP VIEW fsm31_v;
DROP TABLE fsm31_t;
SELECT count(simple_cache_fsm_forget(relid)) AS forgotten FROM simple_cache_fsm_relations;
