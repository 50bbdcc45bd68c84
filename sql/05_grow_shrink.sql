-- 05_grow_shrink: the hash table grows while 200000 keys are put, every key reads back, and
-- after they are dropped the table shrinks back down.
-- Keys start with 'g05:'. Table shape comes from simple_cache_dump_hash_table(); other tests'
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

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'g05:'); END $$;

SELECT pg_temp.stat('grows') AS grows_before, pg_temp.stat('shrinks') AS shrinks_before,
       pg_temp.payload() AS payload_before \gset

-- 200000 new keys.
SELECT count(*) AS new_keys FROM generate_series(1, 200000) i
WHERE NOT simple_cache_put('g05:' || i, 'value ' || i);
-- All of them read back with their values, and a sample of absent neighbours does not.
SELECT count(*) AS read_back FROM generate_series(1, 200000) i
WHERE simple_cache_get('g05:' || i) = 'value ' || i;
SELECT count(*) AS absent_found FROM generate_series(200001, 201000) i
WHERE simple_cache_get('g05:' || i) IS NOT NULL;
-- list has each exactly once.
SELECT count(*) AS listed, count(DISTINCT key) AS distinct_keys,
       count(*) FILTER (WHERE value = 'value ' || substr(key, 5)) AS right_values
FROM simple_cache_list() WHERE starts_with(key, 'g05:');
-- The table grew: at least 131072 buckets, reached through more grows.
SELECT pg_temp.stat('buckets') >= 131072 AS buckets_grew,
       pg_temp.stat('grows') > :grows_before AS grows_counted,
       pg_temp.stat('entries') >= 200000 AS entries_counted;
SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)') AS locks_held;

-- Drop them all.
SELECT count(*) AS dropped FROM generate_series(1, 200000) i WHERE simple_cache_drop('g05:' || i);
SELECT count(*) AS listed FROM simple_cache_list() WHERE starts_with(key, 'g05:');
SELECT count(*) AS still_found FROM generate_series(1, 200000, 97) i
WHERE simple_cache_get('g05:' || i) IS NOT NULL;

-- Shrinking is incremental: keep a handful of keys busy until no resize is in progress and
-- the table is back to a small size (at most 1024 buckets, or 8 per entry of other tests).
DO $$
DECLARE
    i int := 0;
BEGIN
    LOOP
        i := i + 1;
        PERFORM simple_cache_put('g05:churn:' || i % 5, 'churn ' || i);
        PERFORM simple_cache_get('g05:churn:' || i % 7);
        PERFORM simple_cache_drop('g05:churn:' || i % 3);
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
SELECT simple_cache_put('g05:after', 'still fine') AS existed, simple_cache_get('g05:after') AS value;

SELECT count(*) >= 0 AS cleaned FROM simple_cache_list() WHERE starts_with(key, 'g05:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'g05:');
SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)') AS locks_held;

-- A table whose contents do not change stops resizing, also when its keys crowd one partition
-- (a shrink must not go to a size that the crowded partition immediately grows out of again).
-- Two keys of the same partition are found from the per-partition counts of the table report;
-- with eight more keys, 6000 operations that change nothing (gets of present keys, drops of
-- absent ones) must not resize the table once it has settled.
CREATE FUNCTION pg_temp.partition_counts() RETURNS int[]
LANGUAGE sql AS $$
    SELECT array_agg(m[2]::int ORDER BY m[1]::int)
    FROM regexp_matches(simple_cache_dump_hash_table(), 'partition (\d+): (\d+) entries', 'g') m
$$;
CREATE FUNCTION pg_temp.partition_of(k text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    before int[] := pg_temp.partition_counts();
    after int[];
BEGIN
    PERFORM simple_cache_put(k, 'probe');
    after := pg_temp.partition_counts();
    PERFORM simple_cache_drop(k);
    FOR p IN 1 .. array_length(after, 1) LOOP
        IF after[p] = before[p] + 1 THEN
            RETURN p - 1;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TEMP TABLE steady (k text);
DO $$
DECLARE
    first int := pg_temp.partition_of('g05:crowd:0');
    i int := 0;
BEGIN
    LOOP
        i := i + 1;
        EXIT WHEN pg_temp.partition_of('g05:crowd:' || i) = first;
        IF i > 10000 THEN
            RAISE EXCEPTION 'no two keys of one partition found';
        END IF;
    END LOOP;
    INSERT INTO steady VALUES ('g05:crowd:0'), ('g05:crowd:' || i);
    INSERT INTO steady SELECT 'g05:calm:' || j FROM generate_series(1, 8) j;
    PERFORM simple_cache_put(k, 'steady') FROM steady;
END
$$;
SELECT count(*) AS steady_keys FROM simple_cache_list() WHERE key IN (SELECT k FROM steady);
CREATE FUNCTION pg_temp.unchanging_ops(round int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    keys text[] := ARRAY(SELECT k FROM steady ORDER BY k);
BEGIN
    FOR i IN 0 .. 999 LOOP
        PERFORM simple_cache_get(keys[i % 10 + 1]);
        PERFORM simple_cache_drop('g05:absent:' || round || ':' || i);
    END LOOP;
    -- Let a resize that is under way finish.
    FOR i IN 1 .. 100000 LOOP
        EXIT WHEN NOT pg_temp.resizing();
        PERFORM simple_cache_drop('g05:absent');
    END LOOP;
END
$$;
SELECT pg_temp.unchanging_ops(0), pg_temp.unchanging_ops(1);
SELECT pg_temp.stat('grows') + pg_temp.stat('shrinks') AS resizes_settled \gset
SELECT pg_temp.unchanging_ops(2), pg_temp.unchanging_ops(3), pg_temp.unchanging_ops(4);
SELECT pg_temp.stat('grows') + pg_temp.stat('shrinks') - :resizes_settled AS resizes_while_unchanged;
SELECT count(*) AS steady_keys_intact FROM steady WHERE simple_cache_get(k) = 'steady';
SELECT count(*) AS steady_dropped FROM steady WHERE simple_cache_drop(k);

-- Every byte the entries took was given back.
SELECT pg_temp.payload() - :payload_before AS bytes_leaked;
