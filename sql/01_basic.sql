-- 01_basic: put, get, drop and list; empty, unicode and maximal keys; argument checks;
-- size limit arguments; privileges of the administrative functions.
--
-- The cache is shared by the whole cluster and outlives this file, so everything here uses
-- keys starting with 'b01:' (plus the empty key, restored at the end) and only ever counts
-- entries of that prefix.
\pset null '<NULL>'

-- The SQLSTATE an SQL command raises, or 'ok'.
CREATE FUNCTION pg_temp.sqlstate_of(command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE command;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- Bytes in use in the shared area (the wrapper's own accounting) minus the hash table's bucket
-- arrays, whose size changes whenever the table grows or shrinks: what the entries (and the
-- fixed table header) take.
CREATE FUNCTION pg_temp.payload() RETURNS bigint
LANGUAGE sql AS $$
    SELECT substring(a from 'in use: (\d+) bytes')::bigint
           - 8 * substring(h from 'buckets: (\d+)')::bigint
           - 8 * coalesce(substring(h from 'resize: in progress from (\d+) buckets')::bigint, 0)
    FROM (SELECT simple_cache_dump_area() AS a, simple_cache_dump_hash_table() AS h) d
$$;

-- Leftovers of an earlier, interrupted run in the same cluster.
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'b01:'); END $$;
SELECT simple_cache_drop('') IS NOT NULL AS empty_key_cleared;

-- put: false for a new key, true when it replaces; get sees the latest value.
SELECT simple_cache_put('b01:alpha', 'one') AS existed;
SELECT simple_cache_get('b01:alpha') AS value;
SELECT simple_cache_put('b01:alpha', 'two') AS existed;
SELECT simple_cache_get('b01:alpha') AS value;
SELECT simple_cache_put('b01:beta', 'B') AS existed, simple_cache_put('b01:gamma', 'C') AS existed2;

-- get: NULL for an absent key and for a NULL key (STRICT).
SELECT simple_cache_get('b01:absent') AS absent, simple_cache_get(NULL) AS null_key;

-- Keys are compared byte for byte: case and trailing spaces make different keys.
SELECT simple_cache_put('b01:Alpha', 'upper') AS existed, simple_cache_put('b01:alpha ', 'space') AS existed2;
SELECT simple_cache_get('b01:alpha') AS alpha, simple_cache_get('b01:Alpha') AS "Alpha",
       simple_cache_get('b01:alpha ') AS "alpha ";

-- list: exactly the entries put above (the cache may hold others; look at this prefix only).
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'b01:') ORDER BY key COLLATE "C";

-- drop: true when present, false when absent, NULL for a NULL key; the entry is gone after.
SELECT simple_cache_drop('b01:beta') AS dropped;
SELECT simple_cache_drop('b01:beta') AS dropped_again;
SELECT simple_cache_drop(NULL) AS null_key;
SELECT simple_cache_get('b01:beta') AS value;
SELECT key, value FROM simple_cache_list() WHERE starts_with(key, 'b01:') ORDER BY key COLLATE "C";
-- A dropped key can be put again, as a new key.
SELECT simple_cache_put('b01:beta', 'B2') AS existed;
SELECT simple_cache_get('b01:beta') AS value;

-- The empty key and the empty value are ordinary keys and values (not NULL).
SELECT simple_cache_put('', 'value of the empty key') AS existed;
SELECT simple_cache_get('') AS value;
SELECT simple_cache_put('b01:empty', '') AS existed;
SELECT simple_cache_get('b01:empty') AS value, simple_cache_get('b01:empty') IS NULL AS is_null,
       octet_length(simple_cache_get('b01:empty')) AS bytes;
SELECT count(*) AS empty_key_listed FROM simple_cache_list() WHERE key = '' AND value = 'value of the empty key';
SELECT simple_cache_drop('') AS dropped, simple_cache_get('') AS value;

-- Unicode keys and values come back unchanged, byte for byte.
SELECT simple_cache_put('b01:ключ', 'значение') AS existed,
       simple_cache_put('b01:日本', '日本語のテキスト') AS existed2,
       simple_cache_put('b01:emoji', 'elephant 🐘, accents àéîõü, math ∀x∈ℝ') AS existed3;
SELECT simple_cache_get('b01:ключ') AS ru, simple_cache_get('b01:日本') AS ja,
       simple_cache_get('b01:emoji') AS emoji;
SELECT octet_length(simple_cache_get('b01:emoji')) = octet_length('elephant 🐘, accents àéîõü, math ∀x∈ℝ') AS same_bytes;
-- Control characters too.
SELECT simple_cache_put('b01:ctrl', E'line 1\nline 2\ttab\\backslash\r') AS existed;
SELECT simple_cache_get('b01:ctrl') = E'line 1\nline 2\ttab\\backslash\r' AS same;

-- A 10 MB value round-trips.
SELECT simple_cache_put('b01:large', repeat('0123456789', 1000000)) AS existed;
SELECT octet_length(simple_cache_get('b01:large')) AS bytes,
       md5(simple_cache_get('b01:large')) = md5(repeat('0123456789', 1000000)) AS same;
SELECT simple_cache_drop('b01:large') AS dropped;

-- Keys of up to 1 MB (1048576 bytes) are accepted; the limit counts bytes, not characters.
SELECT simple_cache_put('b01:' || repeat('k', 1048572), 'max key') AS existed;
SELECT simple_cache_get('b01:' || repeat('k', 1048572)) AS value;
SELECT octet_length(key) AS key_bytes, value FROM simple_cache_list() WHERE key = 'b01:' || repeat('k', 1048572);
SELECT simple_cache_drop('b01:' || repeat('k', 1048572)) AS dropped;
SELECT simple_cache_put('b01:' || repeat('é', 524286), 'max key, two-byte characters') AS existed;
SELECT simple_cache_get('b01:' || repeat('é', 524286)) AS value;
SELECT simple_cache_drop('b01:' || repeat('é', 524286)) AS dropped;

-- One byte more fails with 54000 (program_limit_exceeded) in every function taking a key.
SELECT simple_cache_put('b01:' || repeat('k', 1048573), 'too long');
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_put('b01:' || repeat('k', 1048573), 'x')$q$) AS put,
       pg_temp.sqlstate_of($q$SELECT simple_cache_get('b01:' || repeat('k', 1048573))$q$) AS get,
       pg_temp.sqlstate_of($q$SELECT simple_cache_drop('b01:' || repeat('k', 1048573))$q$) AS drop,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('b01:' || repeat('é', 524286) || 'x', 'x')$q$) AS put_multibyte;
SELECT count(*) AS listed FROM simple_cache_list() WHERE octet_length(key) > 1048576;

-- put with a NULL key or value fails with 22004 (null_value_not_allowed) and changes nothing.
SELECT simple_cache_put('b01:keep', 'kept') AS existed;
SELECT pg_temp.payload() AS payload_before \gset
SELECT count(*) AS entries_before FROM simple_cache_list() WHERE starts_with(key, 'b01:') \gset
SELECT simple_cache_put(NULL, 'value');
SELECT simple_cache_put('b01:keep', NULL);
SELECT pg_temp.sqlstate_of($q$SELECT simple_cache_put(NULL, 'x')$q$) AS null_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('b01:keep', NULL)$q$) AS null_value,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put('b01:newkey', NULL)$q$) AS null_value_new_key,
       pg_temp.sqlstate_of($q$SELECT simple_cache_put(NULL, NULL)$q$) AS both_null;
SELECT simple_cache_get('b01:keep') AS value, simple_cache_get('b01:newkey') AS new_key;
SELECT count(*) = :entries_before AS same_entry_count FROM simple_cache_list() WHERE starts_with(key, 'b01:');
SELECT pg_temp.payload() = :payload_before AS in_use_unchanged;

-- simple_cache_set_size_limit accepts an int4 literal; the report shows the limit.
SELECT simple_cache_set_size_limit(42000000);
SELECT substring(simple_cache_dump_area() from 'size limit: ([^\n]*)') AS size_limit;
-- Zero, negative and NULL limits are refused (22023, 22023, 22004) and change nothing.
SELECT simple_cache_set_size_limit(0);
SELECT simple_cache_set_size_limit(-1);
SELECT pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(0)') AS zero,
       pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(-1)') AS minus_one,
       pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(-9223372036854775808)') AS min_bigint,
       pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(NULL)') AS null_limit;
SELECT substring(simple_cache_dump_area() from 'size limit: ([^\n]*)') AS size_limit;
-- Back to a limit that constrains no other test.
SELECT simple_cache_set_size_limit(9223372036854775807);
SELECT substring(simple_cache_dump_area() from 'size limit: ([^\n]*)') AS size_limit;

-- Privileges: the data functions are for everyone; the size limit, the reports and the
-- failure-injection setting are for superusers (or roles granted them).
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_simple_cache_b01;
RESET client_min_messages;
CREATE ROLE regress_simple_cache_b01;
SELECT has_function_privilege('regress_simple_cache_b01', 'simple_cache_put(text, text)', 'EXECUTE') AS put,
       has_function_privilege('regress_simple_cache_b01', 'simple_cache_get(text)', 'EXECUTE') AS get,
       has_function_privilege('regress_simple_cache_b01', 'simple_cache_drop(text)', 'EXECUTE') AS drop,
       has_function_privilege('regress_simple_cache_b01', 'simple_cache_list()', 'EXECUTE') AS list,
       has_function_privilege('regress_simple_cache_b01', 'simple_cache_set_size_limit(bigint)', 'EXECUTE') AS set_size_limit,
       has_function_privilege('regress_simple_cache_b01', 'simple_cache_dump_area()', 'EXECUTE') AS dump_area,
       has_function_privilege('regress_simple_cache_b01', 'simple_cache_dump_hash_table()', 'EXECUTE') AS dump_hash_table;
SET ROLE regress_simple_cache_b01;
SELECT simple_cache_put('b01:by_role', 'from an unprivileged role') AS existed;
SELECT simple_cache_get('b01:by_role') AS value;
SELECT count(*) AS listed FROM simple_cache_list() WHERE key = 'b01:by_role';
SELECT simple_cache_set_size_limit(1);
SELECT simple_cache_dump_area();
SELECT simple_cache_dump_hash_table();
SET simple_cache.debug_fail_after = 1;
SELECT pg_temp.sqlstate_of('SELECT simple_cache_set_size_limit(1)') AS set_size_limit,
       pg_temp.sqlstate_of('SELECT simple_cache_dump_area()') AS dump_area,
       pg_temp.sqlstate_of('SELECT simple_cache_dump_hash_table()') AS dump_hash_table,
       pg_temp.sqlstate_of('SET simple_cache.debug_fail_after = 1') AS debug_fail_after;
SELECT simple_cache_drop('b01:by_role') AS dropped;
RESET ROLE;
-- The refused call did not lower the limit.
SELECT substring(simple_cache_dump_area() from 'size limit: ([^\n]*)') AS size_limit;
DROP ROLE regress_simple_cache_b01;

-- Clean up: nothing of this file stays in the cache.
SELECT count(*) AS dropped FROM simple_cache_list() WHERE starts_with(key, 'b01:') AND simple_cache_drop(key);
SELECT count(*) AS remaining FROM simple_cache_list() WHERE starts_with(key, 'b01:');
