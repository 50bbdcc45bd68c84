-- pgTAP: what put, get, drop, list, set_size_limit and the two reports do.
-- The cache is shared and not transactional (ROLLBACK does not undo puts), so every key here
-- starts with 'tap02:' and is dropped before the end; counts only look at that prefix.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS simple_cache;
SELECT plan(52);

CREATE FUNCTION pg_temp.stat(name text) RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_hash_table() from name || ': (\d+)')::bigint $$;

CREATE FUNCTION pg_temp.in_use() RETURNS bigint
LANGUAGE sql AS $$ SELECT substring(simple_cache_dump_area() from 'in use: (\d+) bytes')::bigint $$;

CREATE FUNCTION pg_temp.locks_held() RETURNS int
LANGUAGE sql AS $$
    SELECT substring(simple_cache_dump_hash_table() from 'partition locks held by this backend: (\d+)')::int
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'tap02:'); END $$;

-- put / get
SELECT is(simple_cache_put('tap02:a', 'first'), false, 'put of a new key returns false');
SELECT is(simple_cache_get('tap02:a'), 'first', 'get returns the value put');
SELECT is(simple_cache_put('tap02:a', 'second'), true, 'put of an existing key returns true');
SELECT is(simple_cache_get('tap02:a'), 'second', 'get returns the replacing value');
SELECT is(simple_cache_get('tap02:absent'), NULL, 'get of an absent key is NULL');
SELECT is(simple_cache_get(NULL), NULL, 'get of a NULL key is NULL');
SELECT is(simple_cache_get('tap02:A'), NULL, 'keys are case sensitive');
SELECT is(simple_cache_get('tap02:a '), NULL, 'a trailing space makes another key');

-- empty, unicode, large
SELECT is(simple_cache_put('tap02:empty', ''), false, 'an empty value can be put');
SELECT is(simple_cache_get('tap02:empty'), '', 'an empty value is returned as empty, not NULL');
SELECT is(simple_cache_put('', 'under the empty key'), false, 'the empty key can be put');
SELECT is(simple_cache_get(''), 'under the empty key', 'the empty key can be read');
SELECT is(simple_cache_drop(''), true, 'the empty key can be dropped');
SELECT is(simple_cache_put('tap02:ключ', '値 🐘 ∀'), false, 'unicode key and value can be put');
SELECT is(simple_cache_get('tap02:ключ'), '値 🐘 ∀', 'unicode value comes back unchanged');
SELECT is(simple_cache_put('tap02:big', repeat('xyz', 1000000)), false, 'a 3 MB value can be put');
SELECT is(md5(simple_cache_get('tap02:big')), md5(repeat('xyz', 1000000)), 'the 3 MB value comes back unchanged');
SELECT is(simple_cache_put('tap02:' || repeat('k', 1048570), 'long key'), false, 'a key of exactly 1 MB can be put');
SELECT is(simple_cache_get('tap02:' || repeat('k', 1048570)), 'long key', 'a key of exactly 1 MB can be read');
SELECT is(simple_cache_drop('tap02:' || repeat('k', 1048570)), true, 'a key of exactly 1 MB can be dropped');

-- list
SELECT results_eq(
    $$SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'tap02:') ORDER BY key COLLATE "C"$$,
    $$VALUES ('tap02:a', 'second'), ('tap02:big', repeat('xyz', 1000000)), ('tap02:empty', ''), ('tap02:ключ', '値 🐘 ∀')$$,
    'list returns exactly the entries put, with their latest values');
SELECT is((SELECT count(*) FROM simple_cache_list() WHERE key = ''), 0::bigint, 'a dropped key is not listed');

-- drop
SELECT is(simple_cache_drop('tap02:a'), true, 'drop of a present key returns true');
SELECT is(simple_cache_get('tap02:a'), NULL, 'a dropped key is gone');
SELECT is(simple_cache_drop('tap02:a'), false, 'drop of an absent key returns false');
SELECT is(simple_cache_drop(NULL), NULL, 'drop of a NULL key is NULL');
SELECT is(simple_cache_put('tap02:a', 'again'), false, 'a dropped key can be put again as a new key');

-- Not transactional: a put in a subtransaction that rolls back stays.
SAVEPOINT before_put;
DO $$ BEGIN PERFORM simple_cache_put('tap02:tx', 'kept'); END $$;
ROLLBACK TO SAVEPOINT before_put;
SELECT is(simple_cache_get('tap02:tx'), 'kept', 'the cache is not transactional: a rolled back put stays');

-- Many keys
SELECT is((SELECT count(*) FROM generate_series(1, 5000) i WHERE NOT simple_cache_put('tap02:n:' || i, i::text)),
          5000::bigint, '5000 new keys are put');
SELECT is((SELECT count(*) FROM generate_series(1, 5000) i WHERE simple_cache_get('tap02:n:' || i) = i::text),
          5000::bigint, '5000 keys read back');
SELECT is((SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'tap02:n:')),
          5000::bigint, '5000 keys listed');
SELECT is((SELECT count(DISTINCT key) FROM simple_cache_list() WHERE starts_with(key, 'tap02:n:')),
          5000::bigint, 'each key listed once');
SELECT ok(pg_temp.stat('buckets') >= 4096, 'the table grew to at least 4096 buckets');
SELECT is((SELECT count(*) FROM generate_series(1, 5000) i WHERE simple_cache_drop('tap02:n:' || i)),
          5000::bigint, '5000 keys dropped');

-- Reports
SELECT ok(simple_cache_dump_hash_table() ~ '^entries: \d+\nbuckets: \d+\npartitions: 128\nresize: ',
          'the table report starts with entries, buckets, partitions and resize lines');
SELECT is((SELECT count(*) FROM regexp_matches(simple_cache_dump_hash_table(), 'partition \d+: \d+ entries, \d+ buckets', 'g')),
          128::bigint, 'the table report has a line for each of the 128 partitions');
SELECT is(pg_temp.locks_held(), 0, 'the table report counts no partition lock held between calls');
SELECT ok(simple_cache_dump_area() ~ '\nin use: \d+ bytes in \d+ blocks\nsegments: \d+ bytes in \d+ segments, \d+ of them wholly free \(\d+ bytes\)\ndsa_dump:\n',
          'the area report has the in-use and segments lines followed by dsa_dump output');
SELECT ok(simple_cache_dump_area() ~ '\n\s*total_segment_size: \d+\n', 'the area report includes the total segment size');

-- The reports follow the cache: entries and bytes in use (this session is alone here).
SELECT pg_temp.stat('entries') AS entries_before \gset
DO $$ BEGIN PERFORM simple_cache_put('tap02:count', repeat('c', 1000)); END $$;
SELECT is(pg_temp.stat('entries'), (:entries_before + 1)::bigint, 'a new key adds one entry to the report');
-- The largest growth of the bytes in use seen over up to three puts of a new 1000-byte value
-- (each dropped again): one measurement came out smaller once (CI, 15; not reproduced since),
-- as it does when something is freed inside the window, such as the old bucket array of a
-- resize that the put finishes.
CREATE FUNCTION pg_temp.growth_of_a_put() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    before bigint;
    best bigint := NULL;
BEGIN
    FOR attempt IN 1 .. 3 LOOP
        before := pg_temp.in_use();
        PERFORM simple_cache_put('tap02:grow:' || attempt, repeat('g', 1000));
        best := greatest(best, pg_temp.in_use() - before);
        PERFORM simple_cache_drop('tap02:grow:' || attempt);
        EXIT WHEN best >= 1000;
    END LOOP;
    RETURN best;
END
$$;
SELECT ok(pg_temp.growth_of_a_put() >= 1000, 'a new 1000-byte value adds at least 1000 bytes in use');
DO $$ BEGIN PERFORM simple_cache_put('tap02:count', repeat('c', 10)); END $$;
SELECT is(pg_temp.stat('entries'), (:entries_before + 1)::bigint, 'replacing does not add an entry');
DO $$ BEGIN PERFORM simple_cache_drop('tap02:count'); END $$;
SELECT is(pg_temp.stat('entries'), :entries_before::bigint, 'dropping removes the entry');

-- Size limit
SELECT lives_ok('SELECT simple_cache_set_size_limit(42000000)', 'set_size_limit takes an int4 argument');
SELECT is(substring(simple_cache_dump_area() from 'size limit: ([^\n]*)'), '42000000 bytes', 'the limit shows in the area report');
SELECT is(substring(simple_cache_dump_area() from 'max_total_segment_size: (\d+)')::bigint,
          42000000 - substring(simple_cache_dump_area() from 'reserved room: (\d+)')::bigint,
          'the allocator''s max_total_segment_size is the limit less the room kept for the map');
SELECT cmp_ok(substring(simple_cache_dump_area() from 'reserved room: (\d+)')::bigint, '<=', 42000000 / 8::bigint,
              'the room kept for the map is at most an eighth of the limit');
SELECT lives_ok('SELECT simple_cache_set_size_limit(9223372036854775807)', 'the largest bigint is a valid limit');
SELECT is(substring(simple_cache_dump_area() from 'size limit: ([^\n]*)'), '9223372036854775807 bytes', 'the new limit replaces the old');

-- Clean up (ROLLBACK does not remove cache entries).
SELECT is((SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'tap02:') AND simple_cache_drop(key)),
          5::bigint, 'the remaining entries are dropped');
SELECT is((SELECT count(*) FROM simple_cache_list() WHERE starts_with(key, 'tap02:')), 0::bigint, 'nothing of this file is left');
SELECT is(pg_temp.locks_held(), 0, 'no partition lock held at the end');

SELECT * FROM finish();
ROLLBACK;
