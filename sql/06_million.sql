-- 06_million: one million keys are put and read back; the table grows to match, and
-- after they are all dropped it shrinks back down.
-- Keys start with 'm06:'. Table shape comes from simple_cache_dump_hash_table(); other tests'
-- entries may be present, so bounds are relative to the global entry count.
\pset null '<NULL>'

CREATE FUNCTION pg_temp.stat(name text) RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_hash_table() from name || ': (\d+)')::bigint $$;

-- Bytes in use minus the bucket arrays (see 01_basic).
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;

CREATE FUNCTION pg_temp.resizing() RETURNS bool
LANGUAGE sql AS $$ SELECT simple_cache_dump_hash_table() LIKE '%resize: in progress%' $$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'm06:'); END $$;

SELECT pg_temp.stat('grows') AS grows_before, pg_temp.stat('shrinks') AS shrinks_before,
       pg_temp.payload() AS payload_before \gset

-- One million new keys.
SELECT count(*) AS new_keys FROM generate_series(1, 1000000) i
WHERE NOT simple_cache_put('m06:' || i, 'value ' || i);
-- All of them read back with their values, and a sample of absent neighbours does not.
SELECT count(*) AS read_back FROM generate_series(1, 1000000) i
WHERE simple_cache_get('m06:' || i) = 'value ' || i;
SELECT count(*) AS absent_found FROM generate_series(1000001, 1001000) i
WHERE simple_cache_get('m06:' || i) IS NOT NULL;
-- list has each exactly once.
SELECT count(*) AS listed, count(DISTINCT key) AS distinct_keys,
       count(*) FILTER (WHERE value = 'value ' || substr(key, 5)) AS right_values
FROM simple_cache_list() WHERE starts_with(key, 'm06:');
-- The table grew: at least 524288 buckets, reached through more grows.
SELECT pg_temp.stat('buckets') >= 524288 AS buckets_grew,
       pg_temp.stat('grows') > :grows_before AS grows_counted,
       pg_temp.stat('entries') >= 1000000 AS entries_counted;
SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)') AS locks_held;

-- Drop them all.
SELECT count(*) AS dropped FROM generate_series(1, 1000000) i WHERE simple_cache_drop('m06:' || i);
SELECT count(*) AS listed FROM simple_cache_list() WHERE starts_with(key, 'm06:');
SELECT count(*) AS still_found FROM generate_series(1, 1000000, 97) i
WHERE simple_cache_get('m06:' || i) IS NOT NULL;

-- Shrinking is incremental: keep a handful of keys busy until no resize is in progress and
-- the table is back to a small size (at most 1024 buckets, or 8 per entry of other tests).
DO $$
DECLARE
    i int := 0;
BEGIN
    LOOP
        i := i + 1;
        PERFORM simple_cache_put('m06:churn:' || i % 5, 'churn ' || i);
        PERFORM simple_cache_get('m06:churn:' || i % 7);
        PERFORM simple_cache_drop('m06:churn:' || i % 3);
        EXIT WHEN i >= 3000 AND NOT pg_temp.resizing()
              AND pg_temp.stat('buckets') <= greatest(1024, 8 * pg_temp.stat('entries'));
        EXIT WHEN i >= 100000;
    END LOOP;
END
$$;
SELECT NOT pg_temp.resizing() AS resize_finished,
       pg_temp.stat('buckets') <= greatest(1024, 8 * pg_temp.stat('entries')) AS buckets_shrank,
       pg_temp.stat('shrinks') > :shrinks_before AS shrinks_counted;

-- The small table still works.
SELECT simple_cache_put('m06:after', 'still fine') AS existed, simple_cache_get('m06:after') AS value;

SELECT count(*) >= 0 AS cleaned FROM simple_cache_list() WHERE starts_with(key, 'm06:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'm06:');
SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)') AS locks_held;
-- Every byte the entries took was given back.
SELECT pg_temp.payload() - :payload_before AS bytes_leaked;
