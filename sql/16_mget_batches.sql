-- 16_mget_batches: simple_cache_mget reads its keys in batches (up to 1024 keys a step, each
-- partition of the table locked once per step). The rows, the hit and miss counters, expired
-- entries and this transaction's pending writes must come out exactly as one
-- simple_cache_get per element would give them, also when the array spans many steps, when a
-- key repeats, and when the least work_mem cuts steps short (values of up to 9 kB).
-- Keys start with 'g16:'.
SELECT simple_cache_drop_prefix('g16:') >= 0 AS clean;
SELECT count(simple_cache_put('g16:' || i, i || ':' || repeat('v', (i * 37) % 9000))) AS puts
FROM generate_series(1, 5000) i;
SELECT count(simple_cache_put('g16:x:' || i, 'soon gone', interval '1 millisecond')) AS expiring
FROM generate_series(1, 50) i;
SELECT pg_sleep(0.05);
-- The array: present keys (some repeated), absent keys, expired keys and NULLs.
CREATE TEMP TABLE g16_keys AS
SELECT ARRAY(SELECT CASE WHEN i % 11 = 0 THEN NULL
                         WHEN i % 7 = 0 THEN 'g16:none:' || i
                         WHEN i % 97 = 0 THEN 'g16:x:' || (i % 50 + 1)
                         WHEN i % 5 = 0 THEN 'g16:' || (i % 13 + 1)
                         ELSE 'g16:' || (i * 7919 % 5000 + 1) END
             FROM generate_series(1, 12000) i ORDER BY i) AS a;
SELECT count(*) FILTER (WHERE k IS NOT NULL) AS keys, count(*) FILTER (WHERE k IS NULL) AS nulls,
       count(DISTINCT k) AS distinct_keys
FROM g16_keys, unnest(a) k;

-- The expected answers, one get per element (expired keys are reaped here already: both
-- forms below count them as misses).
CREATE TEMP TABLE g16_expected AS
SELECT n, k, CASE WHEN k IS NULL THEN NULL ELSE simple_cache_get(k) END AS v
FROM g16_keys, unnest(a) WITH ORDINALITY AS u(k, n);

CREATE FUNCTION pg_temp.counters() RETURNS TABLE(hits bigint, misses bigint) LANGUAGE sql AS $$
    SELECT hits, misses FROM simple_cache_stats
$$;

-- mget with the default work_mem and with the least there is: the same rows in the same
-- order, and one hit or one miss per non-NULL element.
SELECT hits AS h0, misses AS m0 FROM pg_temp.counters() \gset
SELECT count(*) AS rows,
       count(*) FILTER (WHERE m.key IS NOT DISTINCT FROM e.k AND m.value IS NOT DISTINCT FROM e.v) AS same
FROM g16_keys, simple_cache_mget(g16_keys.a) WITH ORDINALITY AS m(key, value, n) JOIN g16_expected e USING (n);
SELECT hits - :h0 AS hits, misses - :m0 AS misses FROM pg_temp.counters();
SET work_mem = '64kB';
SELECT hits AS h0, misses AS m0 FROM pg_temp.counters() \gset
SELECT count(*) AS rows,
       count(*) FILTER (WHERE m.key IS NOT DISTINCT FROM e.k AND m.value IS NOT DISTINCT FROM e.v) AS same
FROM g16_keys, simple_cache_mget(g16_keys.a) WITH ORDINALITY AS m(key, value, n) JOIN g16_expected e USING (n);
SELECT hits - :h0 AS hits, misses - :m0 AS misses FROM pg_temp.counters();
RESET work_mem;

-- Expired entries are reaped by mget, counted as misses, as get does.
SELECT count(simple_cache_put('g16:y:' || i, 'soon gone', interval '1 millisecond')) AS expiring
FROM generate_series(1, 30) i;
SELECT pg_sleep(0.05);
SELECT hits AS h0, misses AS m0 FROM pg_temp.counters() \gset
SELECT count(*) AS rows, count(value) AS values
FROM simple_cache_mget(ARRAY(SELECT 'g16:y:' || i FROM generate_series(1, 30) i));
SELECT hits - :h0 AS hits, misses - :m0 AS misses FROM pg_temp.counters();
SELECT count(*) AS left_in_cache FROM simple_cache_list() WHERE starts_with(key, 'g16:y:');

-- Pending writes of the own transaction in the middle of a long array: they decide their
-- keys (and count neither as hits nor as misses, as with get).
BEGIN;
SELECT simple_cache_put_at_commit('g16:2500', 'pending value');
SELECT simple_cache_put_at_commit('g16:none:7', 'pending new');
SELECT simple_cache_invalidate('g16:10');
SELECT hits AS h0, misses AS m0 FROM pg_temp.counters() \gset
SELECT n, key, left(value, 20) AS value
FROM simple_cache_mget(ARRAY(SELECT CASE i WHEN 1500 THEN 'g16:2500' WHEN 1501 THEN 'g16:none:7'
                                           WHEN 1502 THEN 'g16:10' WHEN 1503 THEN 'g16:2500'
                                           ELSE 'g16:' || i END
                             FROM generate_series(1, 3000) i ORDER BY i)) WITH ORDINALITY AS m(key, value, n)
WHERE n BETWEEN 1499 AND 1504;
SELECT hits - :h0 AS hits, misses - :m0 AS misses FROM pg_temp.counters();
ROLLBACK;

SELECT simple_cache_drop_prefix('g16:') > 0 AS dropped;
