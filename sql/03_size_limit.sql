-- 03_size_limit: a put that does not fit under the size limit fails with 53200
-- (out_of_memory) and changes nothing: the key keeps its old value, other entries stay, and
-- no memory is leaked. Raising the limit lets the same put succeed.
--
-- The area is shared and may already be large when this file runs (its segments stay once
-- made), so sizes are derived from the area report: the limit from the current total segment
-- size, the size of the filler values from the largest run of free pages. The area is filled
-- under the limit until a put fails; a put of the same size must then fail the same way.
-- Keys start with 's03:'. The limit is set back to the maximum at the end.

-- Eviction is turned off here: with simple_cache.eviction = lru (the default) a full cache
-- makes room instead of failing; that is tested separately.
SET simple_cache.eviction = none;

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

-- Bytes in use minus the bucket arrays (see 01_basic).
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;

-- The area's current total segment size ("max_total_segment_size" is the limit, not this).
CREATE FUNCTION pg_temp.total_segment_size() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from '\n\s*total_segment_size: (\d+)')::bigint $$;

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

-- A digest of this file's entries, to show they are untouched.
CREATE FUNCTION pg_temp.digest() RETURNS text
LANGUAGE sql AS $$
    SELECT md5(coalesce(string_agg(key || '=' || value, ',' ORDER BY key COLLATE "C"), ''))
    FROM simple_cache_list() WHERE starts_with(key, 's03:')
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 's03:'); END $$;

-- A few entries to keep an eye on, and the victim (its key as long as the filler keys).
SELECT count(*) AS put FROM generate_series(1, 20) g
WHERE NOT simple_cache_put('s03:keep:' || g, repeat(chr(64 + g), 1000 + g));
SELECT simple_cache_put('s03:fill:victim', 'old value') AS existed;

-- Cap the area at 1 MB above its current size: at most one small segment can still be added.
SELECT pg_temp.total_segment_size() + 1024 * 1024 AS lim \gset
SELECT simple_cache_set_size_limit(:lim);
SELECT substring(simple_cache_dump_area() from 'size limit: (\d+) bytes')::bigint = :lim AS limit_reported;

-- Filler values: 64 kB, or 1/128 of the largest free run if that is more (fewer puts in a large
-- area). Each successful put takes at least that much of the limit, so the loop ends early.
CREATE TEMP TABLE fill AS
SELECT greatest(65536, max(m[1]::int) * 4096 / 128) AS size, 0 AS stored, ''::text AS failure,
       0::bigint AS leaked
FROM regexp_matches(simple_cache_dump_area(), 'contiguous_pages = (\d+)', 'g') m;
SELECT size AS fill_size FROM fill \gset
DO $$
DECLARE
    lim bigint := substring(simple_cache_dump_area() from 'size limit: (\d+) bytes')::bigint;
    value text := repeat('f', (SELECT size FROM fill));
    n int := 0;
    start bigint := pg_temp.payload();
    per_entry bigint;
BEGIN
    FOR i IN 1 .. lim / length(value) + 10 LOOP
        BEGIN
            PERFORM simple_cache_put('s03:fill:' || lpad(i::text, 6, '0'), value);
            n := n + 1;
            IF n = 1 THEN
                per_entry := pg_temp.payload() - start;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            -- The filler entries all have the same size: the bytes in use must be exactly n of them.
            UPDATE fill SET stored = n, failure = SQLSTATE, leaked = pg_temp.payload() - start - n * per_entry;
            RETURN;
        END;
    END LOOP;
    UPDATE fill SET stored = n, failure = 'no failure';
END
$$;
-- Some fitted, then a put failed with 53200 and left nothing behind.
SELECT stored > 0 AS some_stored, failure, leaked FROM fill;
SELECT count(*) = (SELECT stored FROM fill) AS all_fillers_listed
FROM simple_cache_list() WHERE starts_with(key, 's03:fill:0') AND value = repeat('f', :fill_size);
SELECT simple_cache_get('s03:fill:' || lpad((SELECT stored + 1 FROM fill)::text, 6, '0')) AS failed_key;

-- The area is full for a value of that size: replacing the victim's value with one fails, and
-- so does a new key, both with 53200.
SELECT pg_temp.payload() AS payload_before, pg_temp.digest() AS digest_before \gset
\set VERBOSITY terse
SELECT simple_cache_put('s03:fill:victim', repeat('v', :fill_size));
\set VERBOSITY default
SELECT pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 's03:fill:victim', 'v', :fill_size)) AS replace_existing,
       pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 's03:fill:newkey', 'n', :fill_size)) AS new_key;
-- Nothing changed: old value, no new key, same entries, no bytes leaked, no lock held.
-- (At most 40 characters shown: a wrong result could be a very long value.)
SELECT left(simple_cache_get('s03:fill:victim'), 40) AS victim, left(simple_cache_get('s03:fill:newkey'), 40) AS new_key;
SELECT pg_temp.digest() = :'digest_before' AS entries_intact;
SELECT count(*) = (SELECT stored + 21 FROM fill) AS same_entry_count FROM simple_cache_list() WHERE starts_with(key, 's03:');
SELECT pg_temp.payload() - :payload_before AS bytes_leaked;
SELECT pg_temp.locks_held() AS locks_held;
SELECT count(*) AS keep_entries_intact FROM generate_series(1, 20) g
WHERE simple_cache_get('s03:keep:' || g) = repeat(chr(64 + g), 1000 + g);

-- Raise the limit: now the same put succeeds and replaces the old value, and the bytes in use
-- grow by exactly the difference between the two values. (The room kept for the map is at most
-- an eighth of the limit: 8/7 of what the cache needs leaves it that much.)
SELECT simple_cache_set_size_limit((pg_temp.total_segment_size() + 2 * :fill_size + 4 * 1024 * 1024) * 8 / 7 + 1);
SELECT simple_cache_put('s03:fill:victim', repeat('v', :fill_size)) AS existed;
SELECT simple_cache_get('s03:fill:victim') = repeat('v', :fill_size) AS new_value_stored;
SELECT pg_temp.payload() - :payload_before = :fill_size - octet_length('old value') AS accounted;
SELECT pg_temp.locks_held() AS locks_held;

-- Restore a limit that constrains no other test, and clean up.
SELECT simple_cache_set_size_limit(9223372036854775807);
SELECT count(*) = (SELECT stored + 21 FROM fill) AS all_dropped
FROM simple_cache_list() WHERE starts_with(key, 's03:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 's03:');
SELECT pg_temp.locks_held() AS locks_held;
