-- 40_cancel_timeout: a query cancel or a statement timeout in the middle of a long operation
-- (list, mget, flush, save, load, lowering the size limit, the free-space map's vacuum) leaves
-- no partition lock held, no half-done entry, no leaked shared memory and no stray file, and
-- the next call works.
--
-- Two ways to interrupt:
--   * statement_timeout = 10ms on operations over 200000 entries, which take far longer;
--   * a cancel the backend sends itself just before the operation starts, in the same
--     expression (pg_cancel_backend(pg_backend_pid()) AND <operation>): it is noticed at the
--     operation's first interrupt check, so it lands at a known point inside it: after the
--     first partition of a flush, a save or an eviction, before the first read of a load, at
--     the first page of a vacuum.
-- After each: no partition lock held by this backend; the bytes in use match the entries
-- exactly (in use, less the bucket arrays, equals a constant plus a fixed overhead per entry
-- plus the key and value bytes the statistics count: the same accounting as 04, over the
-- whole cache); every entry of this file holds its own value (values are self-checking:
-- key || ':' || md5(key)); the operation then runs to completion.
-- Keys start with 'e40:'.
\pset null '<NULL>'

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

-- The value every e40 key holds.
CREATE FUNCTION pg_temp.value_of(k text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT k || ':' || md5(k) $$;

-- Bytes in use that entries do not account for: constant while nothing but entries changes.
CREATE TEMP TABLE base (overhead bigint, unaccounted bigint);
CREATE FUNCTION pg_temp.unaccounted() RETURNS bigint
LANGUAGE sql AS $$
    SELECT pg_temp.payload() - (SELECT overhead FROM base) * s.entries - s.key_value_bytes
    FROM simple_cache_stats s
$$;

-- The checks after an interruption: locks, accounting, and this file's entries: how many,
-- and whether every one holds its own value.
CREATE FUNCTION pg_temp.check(OUT locks_held int, OUT bytes_accounted bool, OUT entries bigint, OUT all_intact bool)
LANGUAGE sql AS $$
    SELECT pg_temp.locks_held(), pg_temp.unaccounted() = (SELECT unaccounted FROM base),
           count(*), coalesce(bool_and(value = pg_temp.value_of(key)), true)
    FROM simple_cache_list() WHERE starts_with(key, 'e40:')
$$;

-- Puts e40:1 .. e40:n (those missing or all); returns how many were new.
CREATE FUNCTION pg_temp.fill(n int) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*) FROM generate_series(1, n) g
    WHERE NOT simple_cache_put('e40:' || g, pg_temp.value_of('e40:' || g))
$$;

-- Saved-file state: a digest of simple_cache.dat and the temporary files of saves.
CREATE FUNCTION pg_temp.saved_file() RETURNS text
LANGUAGE sql AS $$ SELECT md5(pg_read_binary_file('simple_cache.dat')) $$;
CREATE FUNCTION pg_temp.temp_files() RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM pg_ls_dir('.') f WHERE f LIKE 'simple_cache.dat.%.tmp' $$;

-- A known size limit, restored at the end.
SELECT coalesce(size_limit, 9223372036854775807) AS limit_before FROM simple_cache_stats \gset
SELECT simple_cache_set_size_limit(256 * 1024 * 1024);

DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'e40:'); END $$;
-- The fixed overhead of one entry, measured (not assumed), and the starting point.
INSERT INTO base SELECT 0, pg_temp.payload();
SELECT simple_cache_put('e40:probe', 'probe') AS existed;
UPDATE base SET overhead = pg_temp.payload() - unaccounted - octet_length('e40:probe') - octet_length('probe');
SELECT simple_cache_drop('e40:probe') AS dropped;
UPDATE base SET unaccounted = pg_temp.unaccounted();
SELECT overhead > 0 AS overhead_positive FROM base;

SELECT pg_temp.fill(200000) AS put;
SELECT * FROM pg_temp.check();

-- list: a statement timeout.
SET statement_timeout = '10ms';
SELECT count(*) FROM simple_cache_list();
RESET statement_timeout;
SELECT * FROM pg_temp.check();

-- mget of 200000 keys: a statement timeout (the array is built beforehand).
CREATE TEMP TABLE keys AS SELECT array_agg('e40:' || g) AS a FROM generate_series(1, 200000) g;
SET statement_timeout = '10ms';
SELECT count(*) FROM keys, simple_cache_mget(keys.a);
RESET statement_timeout;
SELECT count(*) AS read, bool_and(m.value = pg_temp.value_of(m.key)) AS right FROM keys, simple_cache_mget(keys.a) m;

-- flush: a cancel after the first partition, then a statement timeout. Part of the entries
-- are gone, the rest intact.
SELECT pg_cancel_backend(pg_backend_pid()) AND simple_cache_flush() >= 0;
SELECT locks_held, bytes_accounted, entries BETWEEN 1 AND 199999 AS partly_flushed, all_intact FROM pg_temp.check();
SELECT pg_temp.fill(200000) > 0 AS put_back;
SET statement_timeout = '10ms';
SELECT simple_cache_flush();
RESET statement_timeout;
SELECT locks_held, bytes_accounted, entries < 200000 AS some_flushed, all_intact FROM pg_temp.check();
SELECT pg_temp.fill(200000) > 0 AS put_back;

-- save: a cancel after the first partition, then a statement timeout. The saved file stays
-- the one saved before, and no temporary file is left.
SELECT simple_cache_save() >= 200000 AS saved;
SELECT pg_temp.saved_file() AS file_before \gset
SELECT pg_cancel_backend(pg_backend_pid()) AND simple_cache_save() >= 0;
SELECT pg_temp.saved_file() = :'file_before' AS file_unchanged, pg_temp.temp_files() AS temp_files;
SET statement_timeout = '10ms';
SELECT simple_cache_save();
RESET statement_timeout;
SELECT pg_temp.saved_file() = :'file_before' AS file_unchanged, pg_temp.temp_files() AS temp_files;
SELECT * FROM pg_temp.check();

-- load: drop a tenth of the entries, then a cancel before the first read (nothing is loaded)
-- and a statement timeout (what was loaded is intact); then a complete load brings all back.
SELECT count(*) AS dropped FROM generate_series(1, 200000, 10) g WHERE simple_cache_drop('e40:' || g);
SELECT pg_cancel_backend(pg_backend_pid()) AND simple_cache_load() >= 0;
SELECT * FROM pg_temp.check();
SET statement_timeout = '10ms';
SELECT simple_cache_load();
RESET statement_timeout;
SELECT locks_held, bytes_accounted, entries BETWEEN 180000 AND 200000 AS loaded_or_not, all_intact FROM pg_temp.check();
SELECT simple_cache_load() >= 200000 AS loaded;
SELECT * FROM pg_temp.check();

-- Lowering the size limit below the bytes in use: a cancel after the first eviction round.
-- The limit stays as it was; what was evicted is gone, the rest intact.
-- (The new limit is computed beforehand: the regular expression would notice the cancel.)
SELECT size_limit AS limit_now, substring(simple_cache_dump_area() from 'in use: (\d+) bytes')::bigint / 2 AS half
FROM simple_cache_stats \gset
SELECT pg_cancel_backend(pg_backend_pid()) AND simple_cache_set_size_limit(:half) IS NULL;
SELECT size_limit = :limit_now AS limit_unchanged FROM simple_cache_stats;
SELECT locks_held, bytes_accounted, entries < 200000 AS some_evicted, all_intact FROM pg_temp.check();
SELECT pg_temp.fill(200000) > 0 AS put_back;

-- Each operation still completes, and once everything this file added is dropped, the bytes in
-- use are back to what the remaining entries account for (other files' entries were evicted on
-- the way, so this is the baseline that applies).
SELECT count(*) AS listed, bool_and(value = pg_temp.value_of(key)) AS right
FROM simple_cache_list() WHERE starts_with(key, 'e40:');
SELECT simple_cache_save() >= 200000 AS saved, pg_temp.temp_files() AS temp_files;
SELECT count(*) AS dropped FROM simple_cache_list() WHERE starts_with(key, 'e40:') AND simple_cache_drop(key);
SELECT * FROM pg_temp.check();
SELECT simple_cache_set_size_limit(:limit_before);

-- The free-space map's vacuum of a table: a cancel at its first page. The map keeps what it
-- had for the table; the vacuum then completes.
SELECT to_regprocedure('simple_cache_fsm_vacuum(regclass)') IS NOT NULL AS have_fsm \gset
\if :have_fsm
CREATE TABLE e40_table AS SELECT g, repeat('x', 500) AS filler FROM generate_series(1, 20000) g;
DELETE FROM e40_table WHERE g % 3 = 0;
SELECT simple_cache_fsm_vacuum('e40_table') > 0 AS vacuumed;
SELECT md5(string_agg(block || ':' || avail, ',' ORDER BY block)) AS pages_before FROM simple_cache_fsm_pages('e40_table') \gset
DELETE FROM e40_table WHERE g % 3 = 1;
SELECT pg_cancel_backend(pg_backend_pid()) AND simple_cache_fsm_vacuum('e40_table') >= 0;
SELECT md5(string_agg(block || ':' || avail, ',' ORDER BY block)) = :'pages_before' AS pages_unchanged
FROM simple_cache_fsm_pages('e40_table');
SELECT consistent, locks_held FROM simple_cache_fsm_check();
SELECT simple_cache_fsm_vacuum('e40_table') > 0 AS vacuumed;
SELECT md5(string_agg(block || ':' || avail, ',' ORDER BY block)) <> :'pages_before' AS pages_updated
FROM simple_cache_fsm_pages('e40_table');
DROP TABLE e40_table;
SELECT consistent, locks_held FROM simple_cache_fsm_check();
\else
\echo the free-space map functions are not installed: no vacuum to cancel
\endif
