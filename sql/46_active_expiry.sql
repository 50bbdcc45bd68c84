-- 46_active_expiry: without the background worker (not preloaded), writers reclaim expired
-- entries that nobody reads: each put or drop sweeps a few entries where the last sweep
-- stopped, and each one reclaimed counts as an expiration. (With the worker:
-- test/t/070_active_expiry.pl.) Keys start with 'x23:'.
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'x23:'); END $$;

-- (Counted from before the puts: the puts' own sweeps may already reclaim some.)
SELECT expirations AS expirations_before FROM simple_cache_stats \gset
SELECT count(simple_cache_put('x23:short:' || i, 'v', '1 millisecond')) AS short_lived,
       count(simple_cache_put('x23:kept:' || i, 'v', '1 hour')) AS kept
FROM generate_series(1, 300) i;
SELECT pg_sleep(0.05);

-- Writes of one other key, until the expired entries are gone (read from the table's entry
-- count, which reading reclaims nothing from) or 100000 writes were made.
CREATE FUNCTION pg_temp.writes_until_reclaimed(target bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE writes int := 0;
BEGIN
    WHILE writes < 100000 LOOP
        PERFORM simple_cache_put('x23:writer', 'w');
        PERFORM simple_cache_drop('x23:writer');
        writes := writes + 2;
        EXIT WHEN writes % 100 = 0 AND
                  (SELECT expirations FROM simple_cache_stats) - target >= 0;
    END LOOP;
    RETURN writes;
END $$;
SELECT pg_temp.writes_until_reclaimed(:expirations_before + 300) < 100000 AS reclaimed_by_writers;
SELECT expirations - :expirations_before >= 300 AS counted FROM simple_cache_stats;
-- What had not expired stays (the listing skips expired entries: the count above is the proof).
SELECT count(*) FILTER (WHERE starts_with(key, 'x23:kept:')) AS kept,
       count(*) FILTER (WHERE starts_with(key, 'x23:short:')) AS short_left
FROM simple_cache_list();

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'x23:'); END $$;
