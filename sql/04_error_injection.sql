-- 04_error_injection: an ERROR raised in the middle of an operation leaves no partition lock
-- held, no half-built or torn entry, and no leaked shared memory.
--
-- simple_cache.debug_fail_after = n makes the n-th shared-memory operation from now raise an
-- injected ERROR (SQLSTATE XX000). For n = 1 .. 12, each of put (replacing), put (new key),
-- get, drop and list is run with the injection armed inside a subtransaction; afterwards, with
-- the injection off, the checks are:
--   * no partition lock is held by this backend;
--   * the key holds the old value (the operation failed) or the new one (it succeeded), never
--     anything else, and a failed operation changed nothing;
--   * the bytes in use are exactly what the surviving entries account for.
-- The same is then done while the hash table is being resized, where the injected failures
-- also hit the incremental migration and the start of a resize, and finally everything is
-- dropped and the area must be back to where it started.
-- Keys start with 'e04:'.
\pset null '<NULL>'

-- Bytes in use minus the bucket arrays (see 01_basic).
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

-- Bytes this file's entries take: per entry a fixed overhead plus the key and value bytes.
CREATE FUNCTION pg_temp.my_bytes(overhead bigint) RETURNS bigint
LANGUAGE sql AS $$
    SELECT coalesce(sum(overhead + octet_length(key) + octet_length(value)), 0)::bigint
    FROM simple_cache_list() WHERE starts_with(key, 'e04:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'e04:'); END $$;

-- The starting point, and the fixed per-entry overhead, measured (not assumed) with one entry.
CREATE TEMP TABLE base AS SELECT pg_temp.payload() AS p0, 0::bigint AS overhead;
SELECT simple_cache_put('e04:probe', 'probe') AS existed;
UPDATE base SET overhead = pg_temp.payload() - p0 - octet_length('e04:probe') - octet_length('probe');
SELECT overhead > 0 AS overhead_positive FROM base;
SELECT simple_cache_drop('e04:probe') AS dropped;
SELECT pg_temp.payload() = p0 AS back_to_start FROM base;

-- Runs command with the injection armed at n; returns 'ok' and the command's first column, or
-- the SQLSTATE and message of the error. The injection is off again afterwards either way
-- (on error, the subtransaction's rollback restores the setting).
CREATE FUNCTION pg_temp.try(command text, n int, OUT state text, OUT result text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('simple_cache.debug_fail_after', n::text, true);
    EXECUTE command INTO result;
    PERFORM set_config('simple_cache.debug_fail_after', '0', true);
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE || ': ' || SQLERRM;
    result := NULL;
END
$$;

CREATE TEMP TABLE attempts (phase text, op text, n int, state text, failed bool, ok bool,
                            problem text);

-- Records one attempt. op_ok is the operation-specific verdict; this adds the common checks.
CREATE FUNCTION pg_temp.record(phase text, op text, n int, state text, op_ok bool)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    locks int := pg_temp.locks_held();
    expected bigint;
    actual bigint := pg_temp.payload();
    problem text := NULL;
BEGIN
    IF current_setting('simple_cache.debug_fail_after') <> '0' THEN
        problem := 'injection still armed';
    END IF;
    SELECT p0 + pg_temp.my_bytes(overhead) INTO expected FROM base;
    IF state <> 'ok' AND state <> 'XX000: simple_cache: injected failure' THEN
        problem := concat_ws('; ', problem, 'unexpected error ' || state);
    END IF;
    IF NOT coalesce(op_ok, false) THEN
        problem := concat_ws('; ', problem, 'wrong result or state after the operation');
    END IF;
    IF locks <> 0 THEN
        problem := concat_ws('; ', problem, locks || ' partition locks held');
    END IF;
    IF actual <> expected THEN
        problem := concat_ws('; ', problem, format('%s bytes in use, entries account for %s',
                                                   actual, expected));
    END IF;
    INSERT INTO attempts VALUES (phase, op, n, state, state <> 'ok', problem IS NULL, problem);
END
$$;

-- One round of the five operations with the injection armed at n.
CREATE FUNCTION pg_temp.round(phase text, n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v text;
    expected_list text;
    k text := 'e04:' || phase || ':' || n;
BEGIN
    -- put replacing an existing key: old or new value, never anything else.
    PERFORM simple_cache_put(k || ':r', 'old value ' || n);
    t := pg_temp.try(format('SELECT simple_cache_put(%L, %L)', k || ':r', 'NEW VALUE ' || n), n);
    v := simple_cache_get(k || ':r');
    PERFORM pg_temp.record(phase, '1 put, replacing', n, t.state,
        CASE WHEN t.state = 'ok' THEN t.result = 'true' AND v = 'NEW VALUE ' || n
             ELSE v = 'old value ' || n END);

    -- put of a new key: present with its value, or absent.
    t := pg_temp.try(format('SELECT simple_cache_put(%L, %L)', k || ':n', 'new key ' || n), n);
    v := simple_cache_get(k || ':n');
    PERFORM pg_temp.record(phase, '2 put, new key', n, t.state,
        CASE WHEN t.state = 'ok' THEN t.result = 'false' AND v = 'new key ' || n
             ELSE v IS NULL END);

    -- get: the right value when it succeeds; nothing changes either way.
    t := pg_temp.try(format('SELECT simple_cache_get(%L)', k || ':r'), n);
    PERFORM pg_temp.record(phase, '3 get', n, t.state,
        (t.state <> 'ok' OR t.result IN ('old value ' || n, 'NEW VALUE ' || n))
        AND simple_cache_get(k || ':r') IN ('old value ' || n, 'NEW VALUE ' || n));

    -- drop: gone, or still there with its value.
    PERFORM simple_cache_put(k || ':d', 'to drop ' || n);
    t := pg_temp.try(format('SELECT simple_cache_drop(%L)', k || ':d'), n);
    v := simple_cache_get(k || ':d');
    PERFORM pg_temp.record(phase, '4 drop', n, t.state,
        CASE WHEN t.state = 'ok' THEN t.result = 'true' AND v IS NULL
             ELSE v = 'to drop ' || n END);

    -- list: when it succeeds, exactly the entries there are (this file's, compared as text).
    SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C") INTO expected_list
    FROM simple_cache_list() WHERE starts_with(key, 'e04:');
    t := pg_temp.try($q$SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C")
                        FROM simple_cache_list() WHERE starts_with(key, 'e04:')$q$, n);
    PERFORM pg_temp.record(phase, '5 list', n, t.state,
        (t.state <> 'ok' OR t.result = expected_list)
        AND expected_list = (SELECT string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C")
                             FROM simple_cache_list() WHERE starts_with(key, 'e04:')));
END
$$;

-- Phase 1: a table at rest.
SELECT count(pg_temp.round('rest', n)) AS rounds FROM generate_series(1, 12) n;
-- A list fails further into its scan too (it touches shared memory once per partition).
SELECT count(pg_temp.record('rest', '5 list', n,
                            (pg_temp.try('SELECT count(*) FROM simple_cache_list()', n)).state, true)) AS lists
FROM generate_series(20, 400, 20) n;

-- Phase 2: while the table resizes. Bulk entries are put until a resize is under way; the
-- rounds then also fail inside the incremental migration and inside starting a resize.
CREATE TEMP TABLE bulk (n int);
DO $$
DECLARE
    i int := 0;
BEGIN
    LOOP
        i := i + 1;
        PERFORM simple_cache_put('e04:bulk:' || i, 'bulk value ' || i);
        EXIT WHEN i >= 2000 AND simple_cache_dump_hash_table() LIKE '%resize: in progress%';
        IF i > 1000000 THEN
            RAISE EXCEPTION 'no resize seen after % puts', i;
        END IF;
    END LOOP;
    INSERT INTO bulk VALUES (i);
END
$$;
SELECT simple_cache_dump_hash_table() LIKE '%resize: in progress%' AS resizing;
SELECT count(pg_temp.round('resizing', n)) AS rounds FROM generate_series(1, 12) n;
-- More puts of new keys, each with the injection armed at a small n, keep resizes going and
-- fail in migration steps, resize starts and puts alike.
SELECT count(pg_temp.record('resizing', '6 put, bulk', i % 12 + 1, t.state,
           CASE WHEN t.state = 'ok' THEN simple_cache_get('e04:more:' || i) = 'more ' || i
                ELSE simple_cache_get('e04:more:' || i) IS NULL END)) AS puts
FROM generate_series(1, 1200) i,
     LATERAL pg_temp.try(format('SELECT simple_cache_put(%L, %L)', 'e04:more:' || i, 'more ' || i),
                         i % 12 + 1) t;

-- Every bulk entry survived all of it, once, with its value.
SELECT count(*) = (SELECT n FROM bulk) AS bulk_intact FROM simple_cache_list()
WHERE starts_with(key, 'e04:bulk:') AND value = 'bulk value ' || substr(key, 10);
SELECT count(*) = (SELECT n FROM bulk) AS bulk_readable
FROM generate_series(1, (SELECT n FROM bulk)) i
WHERE simple_cache_get('e04:bulk:' || i) = 'bulk value ' || i;

-- The verdicts: every attempt passed its checks; at n = 1 every operation failed.
SELECT phase, op, count(*) AS attempts, bool_and(ok) AS all_checks_passed,
       bool_or(failed) AS some_failed
FROM attempts GROUP BY phase, op ORDER BY phase DESC, op;
SELECT count(*) AS failed_at_1 FROM attempts WHERE n = 1 AND failed AND op <> '6 put, bulk';
-- Details of any attempt that did not pass (none expected).
SELECT phase, op, n, state, problem FROM attempts WHERE NOT ok ORDER BY phase, op, n;

-- Drop everything: the area is back to exactly where it started, nothing leaked.
SELECT count(*) > 0 AS dropped FROM simple_cache_list() WHERE starts_with(key, 'e04:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'e04:');
SELECT pg_temp.payload() - p0 AS bytes_leaked FROM base;
SELECT pg_temp.locks_held() AS locks_held;
SELECT current_setting('simple_cache.debug_fail_after') AS debug_fail_after;
