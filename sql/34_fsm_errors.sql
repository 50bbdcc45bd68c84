-- 34_fsm_errors: every error the free-space map's functions raise, with its SQLSTATE, and what
-- an error in the middle of an operation leaves behind.
--   22004 null_value_not_allowed   a NULL argument or array element of record_many
--   2202E array_subscript_error    record_many's arrays of different lengths, or not 1-D
--   22023 invalid_parameter_value  a block number out of 0 .. 4294967294, an amount (avail,
--                                  needed, old_avail) out of 0 .. 8192, a size (nblocks) out
--                                  of 0 .. 4294967295
--   42809 wrong_object_type        a heap-style function on an index-style relation or back
--   42P01 undefined_table          vacuum, or truncatable_pages without a size, of an oid
--                                  that is no relation
--   0A000 feature_not_supported    vacuum of what is neither a heap table nor a btree index;
--                                  truncatable_pages without a size of a relation without
--                                  storage
--   42501 insufficient_privilege   a function naming a relation on which the caller lacks
--                                  the right it needs (vacuum of a catalog here; the rest in
--                                  37_fsm_privileges); simple_cache_fsm_check and
--                                  simple_cache_fsm_forget_dropped for plain roles
--   53200 out_of_memory            no room left in the shared area (the pages stay as they were)
-- After each error no map lock is held and nothing changed. With simple_cache.debug_fail_after
-- the n-th shared memory operation of record_many, get_page, add_free_page, forget and the
-- others fails; afterwards no lock is held, the map is consistent, the relation holds its old
-- pages or its new ones, and no byte of shared memory leaked.
-- Relations are oids 3400001 and up.
\pset null '<NULL>'

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;

-- The SQLSTATE and message of a command, or 'ok'.
CREATE FUNCTION pg_temp.error_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- A digest of the pages a relation holds.
CREATE FUNCTION pg_temp.pages_of(rel regclass) RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(block || ':' || coalesce(avail, -1), ',' ORDER BY block), ''))
    FROM simple_cache_fsm_pages(rel)
$$;

SELECT simple_cache_fsm_record_many(3400001, ARRAY[1, 2, 3]::bigint[], ARRAY[100, 200, 300]) AS kept;
SELECT simple_cache_fsm_add_free_page(3400002, 7) AS added;
SELECT pg_temp.pages_of(3400001) AS heap_before, pg_temp.pages_of(3400002) AS index_before \gset

SELECT c AS command, pg_temp.error_of(c) AS error
FROM unnest(ARRAY[
    -- 22004
    'SELECT simple_cache_fsm_record_many(NULL, ARRAY[1]::bigint[], ARRAY[1])',
    'SELECT simple_cache_fsm_record_many(3400001, NULL, ARRAY[1])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1]::bigint[], NULL)',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1, NULL]::bigint[], ARRAY[1, 2])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1, 2]::bigint[], ARRAY[1, NULL])',
    -- 2202E
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1, 2]::bigint[], ARRAY[1])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[[1, 2], [3, 4]]::bigint[], ARRAY[1, 2, 3, 4])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1, 2, 3, 4]::bigint[], ARRAY[[1, 2], [3, 4]])',
    -- 22023
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[-1]::bigint[], ARRAY[1])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[4294967295]::bigint[], ARRAY[1])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1]::bigint[], ARRAY[-1])',
    'SELECT simple_cache_fsm_record_many(3400001, ARRAY[1]::bigint[], ARRAY[8193])',
    'SELECT simple_cache_fsm_record(3400001, -5, 10)',
    'SELECT simple_cache_fsm_record(3400001, 1, 9000)',
    'SELECT simple_cache_fsm_get_page(3400001, -1)',
    'SELECT simple_cache_fsm_get_page(3400001, 8193)',
    'SELECT simple_cache_fsm_record_and_get_page(3400001, 4294967295, 10, 10)',
    'SELECT simple_cache_fsm_record_and_get_page(3400001, 1, -10, 10)',
    'SELECT simple_cache_fsm_record_and_get_page(3400001, 1, 10, 100000)',
    'SELECT simple_cache_fsm_add_free_page(3400002, -1)',
    'SELECT simple_cache_fsm_add_free_page(3400002, 4294967295)',
    'SELECT simple_cache_fsm_truncatable_pages(3400002, -1)',
    'SELECT simple_cache_fsm_truncatable_pages(3400002, 4294967296)',
    'SELECT simple_cache_fsm_truncate(3400002, -1)',
    -- 42809
    'SELECT simple_cache_fsm_get_page(3400002, 10)',
    'SELECT simple_cache_fsm_record(3400002, 7, 10)',
    'SELECT simple_cache_fsm_record_and_get_page(3400002, 7, 10, 10)',
    'SELECT simple_cache_fsm_add_free_page(3400001, 9)',
    'SELECT simple_cache_fsm_get_free_page(3400001)',
    'SELECT simple_cache_fsm_add_free_page(''pg_class'', 9)',
    -- 42P01
    'SELECT simple_cache_fsm_vacuum(3400003)',
    'SELECT simple_cache_fsm_truncatable_pages(3400003)',
    -- 0A000
    'SELECT simple_cache_fsm_vacuum(''pg_stat_activity'')',
    'SELECT simple_cache_fsm_truncatable_pages(''pg_stat_activity'')'
]) WITH ORDINALITY AS t(c, n)
ORDER BY n;

-- Nothing changed, and no lock is held.
SELECT pg_temp.pages_of(3400001) = :'heap_before' AS heap_unchanged,
       pg_temp.pages_of(3400002) = :'index_before' AS index_unchanged,
       (SELECT count(*) FROM simple_cache_fsm_relations) AS tracked;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();

-- 42501: the testing and internal functions are not for everyone, nor is scanning a catalog
-- (who may VACUUM it may); an application's own numbers are open to every role.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_fsm34;
RESET client_min_messages;
CREATE ROLE regress_fsm34;
SET ROLE regress_fsm34;
SELECT pg_temp.error_of('SELECT simple_cache_fsm_check()') AS check_fn,
       pg_temp.error_of('SELECT simple_cache_fsm_forget_dropped(ARRAY[3400001::oid])') AS forget_dropped;
SELECT pg_temp.error_of('SELECT simple_cache_fsm_vacuum(''pg_class'')') AS vacuum_catalog;
SELECT simple_cache_fsm_get_page(3400001, 150) AS data_functions_are_public;
RESET ROLE;
DROP ROLE regress_fsm34;

-- The map's capacity is kept free of the cache. A number from the area's report.
SET simple_cache.eviction = none;
CREATE FUNCTION pg_temp.area_figure(pattern text) RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from pattern)::bigint $$;
-- Puts values of `bytes` until the cache refuses (eviction is off).
CREATE FUNCTION pg_temp.fill(bytes int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    value text := repeat('f', bytes);
BEGIN
    FOR i IN 1 .. 1000000 LOOP
        PERFORM simple_cache_put(format('e34:f%s:%s', bytes, i), value);
    END LOOP;
EXCEPTION WHEN out_of_memory THEN
    NULL;  -- the cache is full
END
$$;
-- First with the limit below the segments already made (a lowered limit): the cache's bytes
-- in use stop short of its share (the limit less the room kept for the map's area). 400 values
-- of 60 kB are put, the limit is set to the segments' total, every other value is dropped
-- (no segment empties), and the holes are filled again as far as the cache may.
SELECT count(simple_cache_put('e34:hold:' || g, repeat('h', 60000))) AS held FROM generate_series(1, 400) g;
SELECT simple_cache_set_size_limit(pg_temp.area_figure('\n\s*total_segment_size: (\d+)'));
SELECT count(simple_cache_drop('e34:hold:' || g)) AS dropped FROM generate_series(1, 400, 2) g;
SELECT pg_temp.fill(60000);
SELECT pg_temp.area_figure('in use: (\d+) bytes') + pg_temp.area_figure('reserved room: (\d+) bytes')
       <= pg_temp.area_figure('size limit: (\d+) bytes') AS lowered_limit_keeps_room;
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'e34:'); END $$;
-- Then with the limit above them, by at least the map's whole room (4.9 MB at the default
-- capacity, an eighth of the limit at most): the cache fills every segment it may make and
-- every free page; record_many still succeeds, in the map's own area, which the cache cannot
-- take, and evicts none of the cache's entries. (53200 remains for a limit too small for the
-- map.) The fillers are dropped and the limit lifted afterwards.
SELECT simple_cache_set_size_limit(greatest(pg_temp.area_figure('\n\s*total_segment_size: (\d+)') + 8 * 1024 * 1024,
                                            40 * 1024 * 1024));
SELECT pg_temp.fill(65536);
SELECT count(*) AS fillers FROM simple_cache_list() WHERE starts_with(key, 'e34:f') \gset
SELECT left(pg_temp.error_of($$SELECT simple_cache_fsm_record_many(3400001, array_agg(g::bigint), array_agg(100))
                               FROM generate_series(1, 3000000) g$$), 5) AS big_report,
       left(pg_temp.error_of($$SELECT simple_cache_fsm_record_many(3400009, array_agg(g::bigint), array_agg(100))
                               FROM generate_series(1, 3000000) g$$), 5) AS big_first_report;
SELECT count(*) = :fillers AS fillers_kept FROM simple_cache_list() WHERE starts_with(key, 'e34:f');
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'e34:f'); END $$;
SELECT simple_cache_set_size_limit(9223372036854775807);
RESET simple_cache.eviction;
SELECT pg_temp.pages_of(3400001) <> :'heap_before' AS heap_reported,
       (SELECT requested_pages FROM simple_cache_fsm_relations WHERE relid = 3400001::regclass) AS request,
       (SELECT count(*) FROM simple_cache_fsm_relations WHERE relid = 3400009::regclass) AS first_report_tracked;
-- Back to the state the rest of this file starts from: 3400001 with its three pages, no 3400009.
SELECT simple_cache_fsm_forget(3400009) AS forgotten,
       simple_cache_fsm_record_many(3400001, ARRAY[1, 2, 3]::bigint[], ARRAY[100, 200, 300]) AS kept;
SELECT pg_temp.pages_of(3400001) = :'heap_before' AS heap_as_before;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();

-- Injected failures. Bytes in use by the map's area and by the cache's, less the map's hash
-- table buckets (which a resize replaces and any lookup may help along): constant across a
-- failed operation.
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_area() from 'map''s area: (\d+) bytes in use')::bigint
           + substring(simple_cache_dump_area() from '\nin use: (\d+) bytes')::bigint
           - (SELECT table_bytes FROM simple_cache_fsm_check())
$$;

-- Runs command with the n-th shared memory operation failing; 'ok' or the error.
CREATE FUNCTION pg_temp.try(command text, n int) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('simple_cache.debug_fail_after', n::text, true);
    EXECUTE command;
    PERFORM set_config('simple_cache.debug_fail_after', '0', true);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- Runs command (with $n replaced by n) for n = 1 .. upto with failure injection, checking after
-- each: no lock, a consistent map, rel's pages as before or as expected_after, and no byte
-- leaked by a failed attempt. Returns a verdict.
CREATE FUNCTION pg_temp.inject(template text, upto int, rel regclass, expected_after text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    before text;
    after text;
    bytes_before bigint;
    failed int := 0;
    succeeded int := 0;
    problems text := '';
    c record;
BEGIN
    FOR n IN 1 .. upto LOOP
        before := pg_temp.pages_of(rel);
        bytes_before := pg_temp.payload();
        state := pg_temp.try(replace(template, '$n', n::text), n);
        SELECT * INTO c FROM simple_cache_fsm_check();
        after := pg_temp.pages_of(rel);
        IF state = 'ok' THEN
            succeeded := succeeded + 1;
            IF expected_after IS NOT NULL AND after <> expected_after THEN
                problems := problems || format(' n=%s: wrong pages after success', n);
            END IF;
        ELSIF state <> 'XX000' THEN
            problems := problems || format(' n=%s: unexpected %s', n, state);
        ELSE
            failed := failed + 1;
            IF after <> before THEN
                problems := problems || format(' n=%s: pages changed by a failed call', n);
            END IF;
            IF pg_temp.payload() <> bytes_before THEN
                problems := problems || format(' n=%s: %s bytes leaked', n, pg_temp.payload() - bytes_before);
            END IF;
        END IF;
        IF NOT c.consistent THEN
            problems := problems || format(' n=%s: %s', n, c.problem);
        END IF;
        IF c.locks_held <> 0 THEN
            problems := problems || format(' n=%s: %s locks held', n, c.locks_held);
        END IF;
    END LOOP;
    -- How many attempts fail depends on the table's state (a resize under way, say), so only
    -- the verdict is returned.
    RETURN CASE WHEN failed = 0 THEN 'no failure was injected'
                WHEN succeeded = 0 THEN 'never succeeded'
                WHEN problems <> '' THEN problems
                ELSE 'failures left no trace' END;
END
$$;

-- Each injected statement makes one call, so a failed statement changed nothing at all: a
-- report of 1000 pages, then others of 1001 .. 1012 pages over it (each attempt replaces the
-- last success), first reports of new relations, the page functions, first free pages of new
-- lists and pages added to a list with room, truncation and forgetting.
SELECT pg_temp.inject('SELECT simple_cache_fsm_record_many(3400010, array_agg(g::bigint), array_agg(g % 8000))
                       FROM generate_series(0, 999 + $n) g', 12, 3400010, NULL) AS report_over_report;
SELECT pg_temp.inject('SELECT simple_cache_fsm_record_many(34001$n, ARRAY[1, 2]::bigint[], ARRAY[10, 20])',
                      16, 3400116, NULL) AS first_reports;
SELECT pg_temp.inject('SELECT simple_cache_fsm_get_page(3400010, 100)', 10, 3400010, NULL) AS get_page;
SELECT pg_temp.inject('SELECT simple_cache_fsm_record(3400010, 5, 7)', 10, 3400010, NULL) AS record;
SELECT pg_temp.inject('SELECT simple_cache_fsm_record_and_get_page(3400010, 6, 8, 100)', 10, 3400010, NULL)
       AS record_and_get_page;
SELECT pg_temp.inject('SELECT simple_cache_fsm_add_free_page(34002$n, 5)', 16, 3400216, NULL) AS first_free_pages;
SELECT count(*) FILTER (WHERE simple_cache_fsm_add_free_page(3400011, g)) AS listed FROM generate_series(1, 20) g;
SELECT pg_temp.inject('SELECT simple_cache_fsm_add_free_page(3400011, 100 + $n)', 12, 3400011, NULL) AS add_free_page;
SELECT pg_temp.inject('SELECT simple_cache_fsm_get_free_page(3400011)', 10, 3400011, NULL) AS get_free_page;
SELECT pg_temp.inject('SELECT simple_cache_fsm_truncate(3400010, 900 - $n)', 10, 3400010, NULL) AS truncate;
SELECT pg_temp.inject('SELECT simple_cache_fsm_forget(34001$n)', 16, 3400010, NULL) AS forget;
SELECT pg_temp.inject('SELECT count(*) FROM simple_cache_fsm_relations', 100, 3400010, NULL) AS view;

SELECT current_setting('simple_cache.debug_fail_after') AS injection_off;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
SELECT count(simple_cache_fsm_forget(relid)) > 0 AS forgotten FROM simple_cache_fsm_relations;
