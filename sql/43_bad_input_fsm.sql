-- 43_bad_input_fsm: bad arguments to every free-space map function, table-driven like
-- 42_bad_input: one table of (call, expected outcome), run by a plpgsql loop that records 'ok'
-- or the SQLSTATE of each call, and checks that nothing changed (the pages of this file's
-- relations, the list of tracked relations, the bytes in use without the hash tables' bucket
-- arrays), that the map is consistent and that no map or partition lock is held. The cases:
-- NULL in every argument of every function, invalid regclasses, arrays with NULL elements, of
-- different lengths or of two dimensions, negative and too large block numbers, amounts and
-- sizes, heap-style calls on an index-style relation. (34_fsm_errors has the messages and the
-- injected failures.)
-- When the map's functions are not installed, the file says so and checks nothing
-- (expected/43_bad_input_fsm_1.out). Relations are oids 4300001 and up.
\pset null '<NULL>'

SELECT to_regprocedure('simple_cache_fsm_record_many(regclass, bigint[], integer[])') IS NOT NULL AS have_fsm \gset
\if :have_fsm
\else
\echo the free-space map functions are not installed: nothing to check
\quit
\endif

-- Bytes in use in the cache's area and the map's, less the cache's and the map's bucket arrays
-- (which any lookup may resize).
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from '\nin use: (\d+) bytes')::bigint
           + coalesce(substring(a from 'map''s area: (\d+) bytes in use')::bigint, 0)
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
           - (SELECT table_bytes FROM simple_cache_fsm_check())
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;

-- The pages of this file's relations and the tracked relations' shapes.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(concat(
        (SELECT string_agg(r || ':' || block || ':' || coalesce(avail, -1), ',' ORDER BY r, block)
         FROM unnest(ARRAY[4300001, 4300002]::oid[]) r, simple_cache_fsm_pages(r::regclass)),
        '|',
        (SELECT string_agg(relid::oid || ':' || is_index || ':' || stored_pages || ':' || requested_pages, ','
                           ORDER BY relid::oid)
         FROM simple_cache_fsm_relations)))
$$;

-- Map locks and cache partition locks held by this backend.
CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT (SELECT locks_held FROM simple_cache_fsm_check())
           + substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

SELECT simple_cache_fsm_forget(4300001) IS NOT NULL AND simple_cache_fsm_forget(4300002) IS NOT NULL AS cleared;
SELECT simple_cache_fsm_record_many(4300001, ARRAY[1, 2, 3]::bigint[], ARRAY[100, 2000, 8000]) AS heap_pages,
       simple_cache_fsm_add_free_page(4300002, 7) AS index_page;

-- expected: the SQLSTATE (or the SQLSTATEs, separated by spaces, any of which is right) or ok.
CREATE TEMP TABLE cases (n serial PRIMARY KEY, call text NOT NULL, expected text NOT NULL);
INSERT INTO cases (call, expected) VALUES
    -- record_many is not STRICT: every NULL argument and element is an error.
    ($$SELECT simple_cache_fsm_record_many(NULL, ARRAY[1]::bigint[], ARRAY[1])$$, '22004'),
    ($$SELECT simple_cache_fsm_record_many(4300001, NULL, ARRAY[1])$$, '22004'),
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[1]::bigint[], NULL)$$, '22004'),
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[NULL]::bigint[], ARRAY[1])$$, '22004'),
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[1, 2]::bigint[], ARRAY[NULL, 5])$$, '22004'),
    -- Arrays of different lengths or dimensions.
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[1, 2, 3]::bigint[], ARRAY[1, 2])$$, '2202E'),
    ($$SELECT simple_cache_fsm_record_many(4300001, '{}'::bigint[], ARRAY[1])$$, '2202E'),
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[[1, 2]]::bigint[], ARRAY[1, 2])$$, '2202E'),
    -- Block numbers, amounts and sizes out of range.
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[-1]::bigint[], ARRAY[1])$$, '22023'),
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[1]::bigint[], ARRAY[-1])$$, '22023'),
    ($$SELECT simple_cache_fsm_record(4300001, -1, 10)$$, '22023'),
    ($$SELECT simple_cache_fsm_record(4300001, 1, -10)$$, '22023'),
    ($$SELECT simple_cache_fsm_get_page(4300001, -1)$$, '22023'),
    ($$SELECT simple_cache_fsm_record_and_get_page(4300001, -1, 10, 10)$$, '22023'),
    ($$SELECT simple_cache_fsm_add_free_page(4300002, -7)$$, '22023'),
    ($$SELECT simple_cache_fsm_truncatable_pages(4300002, -1)$$, '22023'),
    ($$SELECT simple_cache_fsm_truncate(4300002, -1)$$, '22023'),
    ($$SELECT simple_cache_fsm_truncate(4300002, -9223372036854775808)$$, '22023'),
    -- NULL in the STRICT functions: no call, a NULL result.
    ($$SELECT simple_cache_fsm_record(NULL, 1, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_record(4300001, NULL, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_record(4300001, 1, NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_get_page(NULL, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_get_page(4300001, NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_record_and_get_page(NULL, 1, 10, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_record_and_get_page(4300001, NULL, 10, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_record_and_get_page(4300001, 1, NULL, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_record_and_get_page(4300001, 1, 10, NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_avg_request(NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_add_free_page(NULL, 1)$$, 'ok'),
    ($$SELECT simple_cache_fsm_add_free_page(4300002, NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_get_free_page(NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_truncatable_pages(NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_truncatable_pages(NULL, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_truncatable_pages(4300002, NULL)$$, '42P01'),
    ($$SELECT simple_cache_fsm_truncate(NULL, 1)$$, 'ok'),
    ($$SELECT simple_cache_fsm_truncate(4300002, NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_vacuum(NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_forget(NULL)$$, 'ok'),
    ($$SELECT * FROM simple_cache_fsm_pages(NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_forget_dropped(NULL)$$, 'ok'),
    ($$SELECT simple_cache_fsm_forget_dropped(ARRAY[NULL]::oid[])$$, 'ok'),
    -- Invalid regclasses: names and oids of nothing; real relations of the wrong kind.
    ($$SELECT simple_cache_fsm_vacuum('no_such_table')$$, '42P01'),
    -- (a missing schema: 3F000, or 42P01 where the server reports the relation instead)
    ($$SELECT simple_cache_fsm_record('no_such_schema.t', 1, 10)$$, '3F000 42P01'),
    ($$SELECT simple_cache_fsm_get_page('"unterminated', 10)$$, '42602'),
    ($$SELECT simple_cache_fsm_vacuum(4300003)$$, '42P01'),
    ($$SELECT simple_cache_fsm_vacuum(0)$$, '42P01'),
    ($$SELECT simple_cache_fsm_truncatable_pages(4300003)$$, '42P01'),
    ($$SELECT simple_cache_fsm_vacuum('pg_stat_activity')$$, '0A000'),
    ($$SELECT simple_cache_fsm_get_page(4300003, 10)$$, 'ok'),
    ($$SELECT simple_cache_fsm_get_free_page(4300003)$$, 'ok'),
    ($$SELECT simple_cache_fsm_forget(4300003)$$, 'ok'),
    ($$SELECT simple_cache_fsm_avg_request(4300003)$$, 'ok'),
    -- Heap-style calls on an index-style relation and back.
    ($$SELECT simple_cache_fsm_get_page(4300002, 10)$$, '42809'),
    ($$SELECT simple_cache_fsm_record(4300002, 7, 10)$$, '42809'),
    ($$SELECT simple_cache_fsm_add_free_page(4300001, 9)$$, '42809'),
    ($$SELECT simple_cache_fsm_get_free_page(4300001)$$, '42809'),
    -- Wrong types.
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[1.5], ARRAY[1])$$, '42883'),
    ($$SELECT simple_cache_fsm_record(4300001, 'one', 10)$$, '22P02'),
    ($$SELECT simple_cache_fsm_record_many(4300001, ARRAY[1]::bigint[], ARRAY[4294967296])$$, '42883');

CREATE TEMP TABLE results (n int PRIMARY KEY, got text, message text, same_state bool, same_bytes bool,
                           consistent bool, locks int);

DO $$
DECLARE
    c record;
    digest_before text;
    bytes_before bigint;
    got text;
    message text;
BEGIN
    FOR c IN SELECT * FROM cases ORDER BY n LOOP
        digest_before := pg_temp.digest();
        bytes_before := pg_temp.payload();
        BEGIN
            EXECUTE c.call;
            got := 'ok';
            message := NULL;
        EXCEPTION WHEN OTHERS THEN
            got := SQLSTATE;
            message := SQLERRM;
        END;
        INSERT INTO results VALUES (c.n, got, message, pg_temp.digest() = digest_before,
                                    pg_temp.payload() = bytes_before,
                                    (SELECT consistent FROM simple_cache_fsm_check()), pg_temp.locks_held());
    END LOOP;
END
$$;

SELECT c.n, c.call, CASE WHEN r.got = ANY (string_to_array(c.expected, ' ')) THEN c.expected ELSE r.got END AS got,
       CASE WHEN r.got = ANY (string_to_array(c.expected, ' ')) THEN 'as expected' ELSE 'EXPECTED ' || c.expected END AS verdict,
       CASE WHEN r.same_state AND r.same_bytes AND r.consistent AND r.locks = 0 THEN 'unchanged'
            ELSE concat_ws(', ', CASE WHEN NOT r.same_state THEN 'PAGES CHANGED' END,
                           CASE WHEN NOT r.same_bytes THEN 'BYTES CHANGED' END,
                           CASE WHEN NOT r.consistent THEN 'MAP INCONSISTENT' END,
                           CASE WHEN r.locks <> 0 THEN r.locks || ' LOCKS HELD' END) END AS state
FROM cases c JOIN results r USING (n) ORDER BY c.n;

SELECT count(*) AS cases, count(*) FILTER (WHERE r.got = ANY (string_to_array(c.expected, ' '))) AS as_expected,
       count(*) FILTER (WHERE r.same_state AND r.same_bytes AND r.consistent AND r.locks = 0) AS unchanged
FROM cases c JOIN results r USING (n);

-- The relations still work, then are forgotten.
SELECT simple_cache_fsm_get_page(4300001, 1500) AS page_with_room, simple_cache_fsm_get_free_page(4300002) AS free_page;
SELECT simple_cache_fsm_forget(4300001) AND simple_cache_fsm_forget(4300002) AS forgotten;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
