-- 03_size_limit: a put that does not fit under the size limit fails with 53200
-- (out_of_memory) and changes nothing: the key keeps its old value, other entries stay, and
-- no memory is leaked. Raising the limit lets the same put succeed.
--
-- The area is shared and may already be large when this file runs, so the limits are derived
-- from the area's current total segment size (from the dsa_dump part of the area report).
-- Keys start with 's03:'. The limit is set back to the maximum at the end.
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

-- A few entries to keep an eye on.
SELECT count(*) AS put FROM generate_series(1, 20) g
WHERE NOT simple_cache_put('s03:keep:' || g, repeat(chr(64 + g), 1000 + g));
SELECT simple_cache_put('s03:victim', 'old value') AS existed;

-- Cap the area at its current size: no new segment can be added.
SELECT pg_temp.total_segment_size() AS lim \gset
SELECT simple_cache_set_size_limit(:lim);
SELECT substring(simple_cache_dump_area() from 'size limit: (\d+) bytes')::bigint = :lim AS limit_reported;

-- A value larger than the whole limit cannot fit, whatever is free inside the segments.
SELECT pg_temp.payload() AS payload_before, pg_temp.digest() AS digest_before \gset
\set VERBOSITY terse
SELECT simple_cache_put('s03:victim', repeat('v', :lim + 1));
\set VERBOSITY default
SELECT pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 's03:victim', 'v', :lim + 1)) AS replace_existing,
       pg_temp.sqlstate_of(format('SELECT simple_cache_put(%L, repeat(%L, %s))', 's03:new', 'n', :lim + 1)) AS new_key;
-- Nothing changed: old value, no new key, same entries, no bytes leaked, no lock held.
SELECT simple_cache_get('s03:victim') AS victim, simple_cache_get('s03:new') AS new_key;
SELECT pg_temp.digest() = :'digest_before' AS entries_intact;
SELECT count(*) AS entries FROM simple_cache_list() WHERE starts_with(key, 's03:');
SELECT pg_temp.payload() - :payload_before AS bytes_leaked;
SELECT pg_temp.locks_held() AS locks_held;

-- Allow 4 MB more than the area has now, then fill it with 64 kB values until a put fails:
-- it must be 53200, every entry put before it must be intact, and the failed put must not leak.
SELECT simple_cache_set_size_limit(pg_temp.total_segment_size() + 4 * 1024 * 1024);
CREATE TEMP TABLE fill_result AS SELECT 0 AS stored, ''::text AS failure, 0::bigint AS leaked;
DO $$
DECLARE
    lim bigint := substring(simple_cache_dump_area() from 'size limit: (\d+) bytes')::bigint;
    value text := repeat('f', 65536);
    n int := 0;
    before bigint;
BEGIN
    -- Every successful put takes more than 64 kB of the segments, so the loop must end early.
    FOR i IN 1 .. lim / 65536 + 10 LOOP
        before := pg_temp.payload();
        BEGIN
            PERFORM simple_cache_put('s03:fill:' || i, value);
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            UPDATE fill_result SET stored = n, failure = SQLSTATE, leaked = pg_temp.payload() - before;
            RETURN;
        END;
    END LOOP;
    UPDATE fill_result SET stored = n, failure = 'no failure';
END
$$;
SELECT stored > 0 AS some_stored, failure, leaked FROM fill_result;
SELECT count(*) = (SELECT stored FROM fill_result) AS all_fill_entries_listed
FROM simple_cache_list() WHERE starts_with(key, 's03:fill:') AND value = repeat('f', 65536);
SELECT simple_cache_get('s03:fill:' || (SELECT stored + 1 FROM fill_result)) AS failed_key;
SELECT simple_cache_get('s03:victim') AS victim;
SELECT count(*) AS keep_entries_intact FROM generate_series(1, 20) g
WHERE simple_cache_get('s03:keep:' || g) = repeat(chr(64 + g), 1000 + g);
SELECT pg_temp.locks_held() AS locks_held;
-- Reads, drops and lists still work in a full area.
SELECT count(*) = (SELECT stored FROM fill_result) AS fill_dropped
FROM simple_cache_list() WHERE starts_with(key, 's03:fill:') AND simple_cache_drop(key);

-- Raise the limit well above what the big value needs: now the put succeeds and replaces.
SELECT pg_temp.payload() AS payload_before \gset
SELECT simple_cache_set_size_limit(pg_temp.total_segment_size() + 2 * :lim + 16 * 1024 * 1024);
SELECT simple_cache_put('s03:victim', repeat('v', :lim + 1)) AS existed;
SELECT octet_length(simple_cache_get('s03:victim')) = :lim + 1 AS new_value_stored,
       simple_cache_get('s03:victim') = repeat('v', :lim + 1) AS new_value_correct;
-- The old 9-byte value was replaced by the new one: the difference is exactly accounted for.
SELECT pg_temp.payload() - :payload_before = (:lim + 1) - octet_length('old value') AS accounted;
SELECT simple_cache_drop('s03:victim') AS dropped;

-- Restore a limit that constrains no other test, and clean up.
SELECT simple_cache_set_size_limit(9223372036854775807);
SELECT count(*) AS dropped FROM simple_cache_list() WHERE starts_with(key, 's03:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 's03:');
SELECT pg_temp.locks_held() AS locks_held;
