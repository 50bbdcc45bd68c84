-- capi_fsm: the free-space map through simple_cache's C API, called from the C extension
-- capi_consumer (capi_fsm_record_many, _record, _get_page, _record_and_get_page call the
-- api->fsm_* functions). Reports through C read through SQL and the other way round; argument
-- errors with the SQL functions' SQLSTATEs and nothing changed; the per-relation rights the
-- SQL functions check (use: INSERT or UPDATE; maintain: the right to vacuum); a large report;
-- another database's map invisible.
-- Application page spaces are oids 3500001 and up; the table capi_t is a real relation.
\pset null '<NULL>'

CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- A digest of the pages the map keeps for a relation.
CREATE FUNCTION pg_temp.pages_of(rel regclass) RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(block || ':' || coalesce(avail, -1), ',' ORDER BY block), ''))
    FROM simple_cache_fsm_pages(rel)
$$;

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;
CREATE TABLE capi_t (id int);

-- A report through C, read through SQL: the pages and amounts as given (unsorted, a page
-- named twice: the last amount wins).
SELECT capi_fsm_record_many(3500001, ARRAY[8, 2, 5, 1, 2]::bigint[], ARRAY[300, 999, 8000, 100, 2000]) AS kept;
SELECT * FROM simple_cache_fsm_pages(3500001);
SELECT relid, is_index, stored_pages, requested_pages FROM simple_cache_fsm_relations WHERE relid = 3500001;
-- get_page through C hands out the page with room; record through C updates a tracked page
-- only; record_and_get_page does both in one step.
SELECT capi_fsm_get_page(3500001, 5000) AS page_with_5000, capi_fsm_get_page(3500001, 8001) AS none;
SELECT capi_fsm_record(3500001, 5, 50) AS recorded, capi_fsm_record(3500001, 3, 50) AS untracked_page;
SELECT capi_fsm_get_page(3500001, 5000) AS page_with_5000;
SELECT capi_fsm_record_and_get_page(3500001, 8, 7000, 6000) AS page;
SELECT * FROM simple_cache_fsm_pages(3500001);
-- The average request size that SQL reports counts the C API's requests.
SELECT simple_cache_fsm_avg_request(3500001) > 0 AS requests_counted;
-- A report through SQL, read through C.
SELECT simple_cache_fsm_record_many(3500002, ARRAY[10, 11]::bigint[], ARRAY[6000, 20]) AS kept;
SELECT capi_fsm_get_page(3500002, 5000) AS page, capi_fsm_get_page(3500002, 7000) AS none;
-- Without amounts (a NULL pointer) every page is reported with 0 free bytes; an empty report
-- (n = 0, NULL pointers allowed) leaves no page.
SELECT capi_fsm_record_many(3500003, ARRAY[7, 9]::bigint[], NULL) AS kept;
SELECT * FROM simple_cache_fsm_pages(3500003);
SELECT capi_fsm_record_many(3500003, NULL, NULL, 0) AS kept;
SELECT count(*) AS pages FROM simple_cache_fsm_pages(3500003);
-- An untracked relation: no page, and get_page does not start tracking it.
SELECT capi_fsm_get_page(3500009, 1) AS page, capi_fsm_record(3500009, 1, 1) AS recorded;
SELECT count(*) AS tracked FROM simple_cache_fsm_relations WHERE relid = 3500009;

-- Argument errors, as the SQL functions raise them, and nothing changed:
--   22023 a block number out of 0 .. 4294967294 (4294967295 is InvalidBlockNumber), an amount
--         out of 0 .. 8192, a report of more pages than a relation can have
--   22004 a NULL blocks pointer for a non-empty report
--   42809 a heap-style function on an index-style relation (the map's own error)
SELECT simple_cache_fsm_add_free_page(3500004, 3) AS index_style;
SELECT pg_temp.pages_of(3500001) AS pages_before \gset
SELECT c AS command, pg_temp.sqlstate_of(c) AS sqlstate
FROM unnest(ARRAY[
    'SELECT capi_fsm_record_many(3500001, ARRAY[1, 4294967295]::bigint[], ARRAY[1, 1])',
    'SELECT capi_fsm_record_many(3500001, ARRAY[1, 2]::bigint[], ARRAY[1, 8193])',
    'SELECT capi_fsm_record_many(3500001, ARRAY[1, 2]::bigint[], ARRAY[-1, 1])',
    'SELECT capi_fsm_record_many(3500001, NULL, NULL, 4294967296)',
    'SELECT capi_fsm_record_many(3500001, NULL, NULL, 3)',
    'SELECT capi_fsm_record_many(3500001, NULL, ARRAY[1, 2, 3], 3)',
    'SELECT capi_fsm_record(3500001, 4294967295, 10)',
    'SELECT capi_fsm_record(3500001, 1, 8193)',
    'SELECT capi_fsm_record(3500001, 1, -1)',
    'SELECT capi_fsm_get_page(3500001, 8193)',
    'SELECT capi_fsm_get_page(3500001, -1)',
    'SELECT capi_fsm_record_and_get_page(3500001, 4294967295, 10, 10)',
    'SELECT capi_fsm_record_and_get_page(3500001, 1, 8193, 10)',
    'SELECT capi_fsm_record_and_get_page(3500001, 1, 10, 8193)',
    'SELECT capi_fsm_get_page(3500004, 10)',
    'SELECT capi_fsm_record(3500004, 3, 10)'
]) c;
SELECT pg_temp.pages_of(3500001) = :'pages_before' AS unchanged;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
\set VERBOSITY default
SELECT capi_fsm_record_many(3500001, ARRAY[1, 4294967295]::bigint[], ARRAY[1, 1]);
SELECT capi_fsm_get_page(3500001, 8193);
SELECT capi_fsm_record_many(3500001, NULL, NULL, 4294967296);

-- A large report: a million pages through C. The map keeps what the relation's share allows
-- and reports that number; SQL lists exactly those pages.
SELECT capi_fsm_record_many(3500005, array_agg(g::bigint), array_agg((g % 8193)::int)) AS kept
FROM generate_series(0, 999999) g \gset
SELECT :kept > 0 AND :kept <= 1000000 AS kept_in_range,
       (SELECT count(*) FROM simple_cache_fsm_pages(3500005)) = :kept AS listed_as_kept,
       (SELECT bool_and(avail = block % 8193) FROM simple_cache_fsm_pages(3500005)) AS amounts_as_given;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
SELECT simple_cache_fsm_forget(3500005) AS forgotten;

-- Rights on a real relation, checked as for the SQL functions (current user, on the table):
-- get_page, record and record_and_get_page need INSERT or UPDATE (the use right),
-- record_many the right to vacuum it (maintain). On an application's own number every role
-- passes.
SELECT capi_fsm_record_many('capi_t'::regclass, ARRAY[0, 1]::bigint[], ARRAY[4000, 100]) AS kept;
SELECT pg_temp.pages_of('capi_t') AS pages_before \gset
CREATE ROLE regress_capi_fsm;
SET ROLE regress_capi_fsm;
SELECT pg_temp.sqlstate_of($$SELECT capi_fsm_get_page('capi_t'::regclass, 10)$$) AS get_page,
       pg_temp.sqlstate_of($$SELECT capi_fsm_record('capi_t'::regclass, 1, 10)$$) AS record,
       pg_temp.sqlstate_of($$SELECT capi_fsm_record_and_get_page('capi_t'::regclass, 1, 10, 10)$$) AS record_and_get_page,
       pg_temp.sqlstate_of($$SELECT capi_fsm_record_many('capi_t'::regclass, ARRAY[5]::bigint[], ARRAY[5])$$) AS record_many;
SELECT capi_fsm_get_page('capi_t'::regclass, 10);
SELECT capi_fsm_record_many('capi_t'::regclass, ARRAY[5]::bigint[], ARRAY[5]);
-- The same as the SQL functions.
SELECT pg_temp.sqlstate_of($$SELECT simple_cache_fsm_get_page('capi_t', 10)$$) AS sql_get_page,
       pg_temp.sqlstate_of($$SELECT simple_cache_fsm_record_many('capi_t', ARRAY[5]::bigint[], ARRAY[5])$$) AS sql_record_many;
SELECT capi_fsm_record_many(3500006, ARRAY[1]::bigint[], ARRAY[500]) AS own_number_kept,
       capi_fsm_get_page(3500006, 100) AS own_number_page;
RESET ROLE;
SELECT pg_temp.pages_of('capi_t') = :'pages_before' AS unchanged;
GRANT INSERT ON capi_t TO regress_capi_fsm;
SET ROLE regress_capi_fsm;
SELECT capi_fsm_get_page('capi_t'::regclass, 3000) AS page, capi_fsm_record('capi_t'::regclass, 0, 2000) AS recorded,
       capi_fsm_record_and_get_page('capi_t'::regclass, 1, 3500, 3000) AS page2;
SELECT pg_temp.sqlstate_of($$SELECT capi_fsm_record_many('capi_t'::regclass, ARRAY[5]::bigint[], ARRAY[5])$$) AS record_many;
RESET ROLE;
SELECT * FROM simple_cache_fsm_pages('capi_t');
-- The owner may vacuum the table: record_many is allowed.
ALTER TABLE capi_t OWNER TO regress_capi_fsm;
SET ROLE regress_capi_fsm;
SELECT capi_fsm_record_many('capi_t'::regclass, ARRAY[5]::bigint[], ARRAY[5]) AS kept;
RESET ROLE;
SELECT * FROM simple_cache_fsm_pages('capi_t');

-- Another database: the map there tracks neither this database's numbers nor its relations.
SELECT current_database() AS main_db, 'capi_t'::regclass::oid AS capi_t_oid \gset
SELECT pg_temp.pages_of(3500001) AS pages_before \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_capi_fsm_other WITH (FORCE);
RESET client_min_messages;
CREATE DATABASE regress_capi_fsm_other;
\c regress_capi_fsm_other
CREATE EXTENSION simple_cache;
CREATE EXTENSION capi_consumer;
SELECT capi_fsm_get_page(3500001, 0) AS main_number, capi_fsm_get_page(:capi_t_oid, 0) AS main_table_oid,
       capi_fsm_record(3500001, 1, 10) AS recorded;
SELECT capi_fsm_record_many(3500001, ARRAY[42]::bigint[], ARRAY[42]) AS kept;
SELECT * FROM simple_cache_fsm_pages(3500001);
\c :main_db
SELECT md5(coalesce(string_agg(block || ':' || coalesce(avail, -1), ',' ORDER BY block), '')) = :'pages_before' AS unchanged
FROM simple_cache_fsm_pages(3500001);
DROP DATABASE regress_capi_fsm_other WITH (FORCE);

-- Clean up.
DROP TABLE capi_t;
DROP ROLE regress_capi_fsm;
SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
