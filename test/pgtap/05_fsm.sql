-- pgTAP: the free-space map's SQL API: functions, view and event trigger exist with their
-- signatures, strictness and privileges; the heap-style and index-style round trips; the
-- errors with their SQLSTATEs; the rights checked on a real table. The map is not transactional, so the relations used here
-- (oids 3700001 and up) are forgotten explicitly before the final ROLLBACK.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS simple_cache;
SELECT plan(59);

SELECT has_function('simple_cache_fsm_record_many', ARRAY['regclass', 'bigint[]', 'integer[]']);
SELECT has_function('simple_cache_fsm_record', ARRAY['regclass', 'bigint', 'integer']);
SELECT has_function('simple_cache_fsm_get_page', ARRAY['regclass', 'integer']);
SELECT has_function('simple_cache_fsm_record_and_get_page', ARRAY['regclass', 'bigint', 'integer', 'integer']);
SELECT has_function('simple_cache_fsm_avg_request', ARRAY['regclass']);
SELECT has_function('simple_cache_fsm_add_free_page', ARRAY['regclass', 'bigint']);
SELECT has_function('simple_cache_fsm_get_free_page', ARRAY['regclass']);
SELECT has_function('simple_cache_fsm_truncatable_pages', ARRAY['regclass', 'bigint']);
SELECT has_function('simple_cache_fsm_truncate', ARRAY['regclass', 'bigint']);
SELECT has_function('simple_cache_fsm_vacuum', ARRAY['regclass']);
SELECT has_function('simple_cache_fsm_forget', ARRAY['regclass']);
SELECT has_function('simple_cache_fsm_pages', ARRAY['regclass']);
SELECT has_function('simple_cache_fsm_summary', ARRAY[]::name[]);
SELECT has_view('simple_cache_fsm_relations');
SELECT columns_are('simple_cache_fsm_relations',
                   ARRAY['relid', 'is_index', 'stored_pages', 'requested_pages', 'target_pages', 'avg_request', 'chunks']);
SELECT is(pg_get_function_result('simple_cache_fsm_summary'::regproc),
          'record', 'simple_cache_fsm_summary() returns one record');
SELECT is(pg_get_function_arguments('simple_cache_fsm_summary'::regproc),
          'OUT capacity_pages bigint, OUT used_pages bigint, OUT requested_pages bigint, '
          'OUT oversubscription numeric, OUT relations integer', 'the summary''s columns');
SELECT ok(EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtevent = 'sql_drop' AND evtenabled <> 'D'
                  AND evtfoid = 'simple_cache_fsm_on_sql_drop'::regproc),
          'an enabled sql_drop event trigger forgets dropped relations');

-- record_many checks its NULLs (22004); the other data functions are STRICT.
SELECT isnt_strict('simple_cache_fsm_record_many', ARRAY['regclass', 'bigint[]', 'integer[]']);
SELECT is_strict('simple_cache_fsm_get_page', ARRAY['regclass', 'integer']);
SELECT is_strict('simple_cache_fsm_vacuum', ARRAY['regclass']);

-- Everyone may use the map; the consistency check and the trigger's helper are not public.
SELECT function_privs_are('simple_cache_fsm_get_page', ARRAY['regclass', 'integer'], 'public', ARRAY['EXECUTE']);
SELECT function_privs_are('simple_cache_fsm_record_many', ARRAY['regclass', 'bigint[]', 'integer[]'], 'public',
                          ARRAY['EXECUTE']);
SELECT function_privs_are('simple_cache_fsm_check', ARRAY[]::name[], 'public', ARRAY[]::text[]);
SELECT function_privs_are('simple_cache_fsm_check', ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE']);
SELECT function_privs_are('simple_cache_fsm_forget_dropped', ARRAY['oid[]'], 'public', ARRAY[]::text[]);
SELECT table_privs_are('simple_cache_fsm_relations', 'public', ARRAY['SELECT'],
                       'the view is readable by everyone, like the function behind it');

-- Heap-style round trip.
SELECT is(simple_cache_fsm_record_many(3700001, ARRAY[5, 9, 12]::bigint[], ARRAY[100, 4000, 7000]), 3,
          'record_many keeps all three pages');
SELECT results_eq($$SELECT simple_cache_fsm_get_page(3700001, 3000) FROM generate_series(1, 3)$$,
                  $$VALUES (9::bigint), (12::bigint), (9::bigint)$$, 'get_page hands out the pages with room in turn');
SELECT ok(simple_cache_fsm_record(3700001, 12, 10), 'record updates a tracked page');
SELECT ok(NOT simple_cache_fsm_record(3700001, 13, 10), 'record does not add a page');
SELECT is(simple_cache_fsm_record_and_get_page(3700001, 9, 0, 3000), NULL::bigint,
          'record_and_get_page: no page left with 3000 bytes once 9 is full');
SELECT is(simple_cache_fsm_avg_request(3700001), 3000, 'the average request size');
SELECT results_eq($$SELECT block, avail FROM simple_cache_fsm_pages(3700001)$$,
                  $$VALUES (5::bigint, 100), (9::bigint, 0), (12::bigint, 10)$$, 'the pages and their amounts');

-- Index-style round trip.
SELECT ok(simple_cache_fsm_add_free_page(3700002, 30), 'a first free page makes an index-style list');
SELECT ok(simple_cache_fsm_add_free_page(3700002, 20), 'a second free page');
SELECT is(simple_cache_fsm_get_free_page(3700002), 20::bigint, 'the lowest free page comes out first');
SELECT is(simple_cache_fsm_truncatable_pages(3700002, 31), 1::bigint, 'page 30 of 31 ends the relation');
SELECT results_eq($$SELECT relid::oid, is_index FROM simple_cache_fsm_relations
                    WHERE relid IN (3700001::regclass, 3700002::regclass) ORDER BY relid$$,
                  $$VALUES (3700001::oid, false), (3700002::oid, true)$$, 'the view shows both relations and kinds');

-- Errors.
SELECT throws_ok($$SELECT simple_cache_fsm_record_many(3700001, ARRAY[1, NULL]::bigint[], ARRAY[1, 2])$$, '22004',
                 'simple_cache_fsm_record_many: blocks element 2 is NULL', 'NULL element: 22004');
SELECT throws_ok($$SELECT simple_cache_fsm_record_many(3700001, ARRAY[1, 2]::bigint[], ARRAY[1])$$, '2202E',
                 'simple_cache_fsm_record_many: blocks and avail have different lengths', 'different lengths: 2202E');
SELECT throws_ok($$SELECT simple_cache_fsm_record_many(3700001, ARRAY[1]::bigint[], ARRAY[9000])$$, '22023',
                 'simple_cache_fsm_record_many: avail 9000 is out of range', 'amount above BLCKSZ: 22023');
SELECT throws_ok($$SELECT simple_cache_fsm_get_page(3700002, 10)$$, '42809',
                 'simple_cache_fsm_get_page: relation "3700002" is index-style', 'heap-style call on a list: 42809');
SELECT throws_ok($$SELECT simple_cache_fsm_vacuum(3700003)$$, '42P01',
                 'simple_cache_fsm_vacuum: relation with OID 3700003 does not exist', 'vacuum of no relation: 42P01');
SELECT throws_ok($$SELECT simple_cache_fsm_vacuum('pg_tables')$$, '0A000',
                 'simple_cache_fsm_vacuum: relation "pg_tables" is not a heap table or a btree index',
                 'vacuum of a view: 0A000');

-- On a real table: a role with no privilege on it is refused (42501) reading, getting pages and
-- forgetting, and does not see it in the view; SELECT lets a role read but not get pages.
-- (SET LOCAL ROLE inside the statement is undone when its subtransaction fails.)
CREATE ROLE tap_fsm_nobody;
CREATE ROLE tap_fsm_reader;
CREATE TABLE tap_fsm_t (id int);
GRANT SELECT ON tap_fsm_t TO tap_fsm_reader;
SELECT simple_cache_fsm_record_many('tap_fsm_t', ARRAY[0, 1]::bigint[], ARRAY[500, 600]);
CREATE FUNCTION pg_temp.visible_to(role name) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', role);
    SELECT count(*) INTO n FROM simple_cache_fsm_relations WHERE relid = 'tap_fsm_t'::regclass;
    RESET ROLE;
    RETURN n;
END
$$;
SELECT throws_ok($$SET LOCAL ROLE tap_fsm_nobody; SELECT * FROM simple_cache_fsm_pages('tap_fsm_t')$$, '42501',
                 'simple_cache_fsm_pages: permission denied for relation "tap_fsm_t"', 'pages without SELECT: 42501');
SELECT throws_ok($$SET LOCAL ROLE tap_fsm_nobody; SELECT simple_cache_fsm_get_page('tap_fsm_t', 10)$$, '42501',
                 'simple_cache_fsm_get_page: permission denied for relation "tap_fsm_t"', 'get_page without INSERT: 42501');
SELECT throws_ok($$SET LOCAL ROLE tap_fsm_nobody; SELECT simple_cache_fsm_forget('tap_fsm_t')$$, '42501',
                 'simple_cache_fsm_forget: permission denied for relation "tap_fsm_t"', 'forget by another role: 42501');
SELECT throws_ok($$SET LOCAL ROLE tap_fsm_reader; SELECT simple_cache_fsm_get_page('tap_fsm_t', 10)$$, '42501',
                 'simple_cache_fsm_get_page: permission denied for relation "tap_fsm_t"', 'get_page with SELECT only: 42501');
SELECT results_eq($$SELECT block, avail FROM simple_cache_fsm_pages('tap_fsm_t')$$,
                  $$VALUES (0::bigint, 500), (1::bigint, 600)$$, 'the refused calls changed nothing');
SELECT lives_ok($$SET LOCAL ROLE tap_fsm_reader; SELECT * FROM simple_cache_fsm_pages('tap_fsm_t')$$,
                'pages with SELECT');
SELECT is(pg_temp.visible_to('tap_fsm_nobody'), 0::bigint, 'the view hides the table from a role without SELECT');
SELECT is(pg_temp.visible_to('tap_fsm_reader'), 1::bigint, 'the view shows it to a role with SELECT');
SELECT simple_cache_fsm_forget('tap_fsm_t');
SELECT is((SELECT locks_held FROM simple_cache_fsm_check()), 0, 'no map lock held after the errors');
SELECT ok((SELECT consistent FROM simple_cache_fsm_check()), 'the map is consistent');

-- The per-database limits: superuser settings (ALTER DATABASE ... SET), off by default; an
-- ordinary role can neither SET them nor lift them for its database.
SELECT results_eq($$SELECT name::text, context::text, setting FROM pg_settings
                    WHERE name IN ('simple_cache.fsm_max_relations_per_database',
                                   'simple_cache.fsm_max_pages_per_database') ORDER BY name$$,
                  $$VALUES ('simple_cache.fsm_max_pages_per_database', 'superuser', '0'),
                           ('simple_cache.fsm_max_relations_per_database', 'superuser', '0')$$,
                  'the per-database limits are superuser settings, off by default');
SELECT throws_ok($$SET LOCAL ROLE tap_fsm_nobody; SET simple_cache.fsm_max_pages_per_database = 0$$, '42501',
                 'permission denied to set parameter "simple_cache.fsm_max_pages_per_database"',
                 'an ordinary role cannot set a per-database limit: 42501');
SELECT throws_ok($$SET LOCAL ROLE tap_fsm_nobody; SET simple_cache.fsm_max_relations_per_database = 0$$, '42501',
                 'permission denied to set parameter "simple_cache.fsm_max_relations_per_database"',
                 'nor the other one: 42501');

SELECT ok(simple_cache_fsm_forget(3700001) AND simple_cache_fsm_forget(3700002), 'both relations forgotten');
SELECT * FROM finish();
ROLLBACK;
