-- 16_list_batches: simple_cache_list and simple_cache_mget with the least work_mem there is.
--
-- list copies entries out of the cache in batches of at most work_mem, so with work_mem = 64kB
-- and values of up to 9 kB it cuts most partitions into several batches; mget and list build
-- one row at a time. Every entry must still be listed exactly once with its value: text
-- values as they are, bytea values as text when they are valid text, otherwise in bytea's hex
-- form; mget still returns one row per element, in order.
-- Keys start with 'b16:'.
SET work_mem = '64kB';

-- The value put under b16:t:<i>.
CREATE FUNCTION pg_temp.text_value(i int) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT i || ':' || repeat(chr(65 + i % 26), (i * 37) % 9000)
$$;
-- The bytes put under b16:b:<i>: valid UTF-8 for even i, not for odd i (a 0xff byte).
CREATE FUNCTION pg_temp.bytea_value(i int) RETURNS bytea IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN i % 2 = 0 THEN convert_to(pg_temp.text_value(i), 'UTF8')
                ELSE '\xff'::bytea || convert_to(pg_temp.text_value(i), 'UTF8') END
$$;

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'b16:'); END $$;
SELECT count(simple_cache_put('b16:t:' || i, pg_temp.text_value(i))) AS text_values FROM generate_series(1, 3000) i;
SELECT count(simple_cache_put('b16:b:' || i, pg_temp.bytea_value(i))) AS bytea_values FROM generate_series(1, 400) i;

-- Every entry once, each value as it should show.
SELECT count(*) AS listed, count(DISTINCT key) AS distinct_keys,
       count(*) FILTER (WHERE starts_with(key, 'b16:t:') AND value = pg_temp.text_value(substr(key, 7)::int)) AS right_text,
       count(*) FILTER (WHERE starts_with(key, 'b16:b:') AND substr(key, 7)::int % 2 = 0
                        AND value = pg_temp.text_value(substr(key, 7)::int)) AS right_valid_bytea,
       count(*) FILTER (WHERE starts_with(key, 'b16:b:') AND substr(key, 7)::int % 2 = 1
                        AND value = '\x' || encode(pg_temp.bytea_value(substr(key, 7)::int), 'hex')) AS right_hex
FROM simple_cache_list() WHERE starts_with(key, 'b16:');

-- mget of 4000 elements: present keys (text, and bytea that is valid text), absent keys and
-- NULLs, in array order.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE n % 4 = 1 AND key = 'b16:t:' || n AND value = pg_temp.text_value(n::int)) AS present,
       count(*) FILTER (WHERE n % 4 = 2 AND key = 'b16:none:' || n AND value IS NULL) AS absent,
       count(*) FILTER (WHERE n % 4 = 3 AND key IS NULL AND value IS NULL) AS null_elements,
       count(*) FILTER (WHERE n % 4 = 0 AND key = 'b16:b:' || (2 + 2 * (n / 4 % 200))
                        AND value = pg_temp.text_value((2 + 2 * (n / 4 % 200))::int)) AS valid_bytea
FROM simple_cache_mget(ARRAY(
         SELECT CASE i % 4 WHEN 1 THEN 'b16:t:' || i WHEN 2 THEN 'b16:none:' || i
                           WHEN 3 THEN NULL ELSE 'b16:b:' || (2 + 2 * (i / 4 % 200)) END
         FROM generate_series(1, 4000) i ORDER BY i)) WITH ORDINALITY AS m(key, value, n);

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'b16:'); END $$;
RESET work_mem;
