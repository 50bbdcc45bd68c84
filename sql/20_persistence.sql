-- 20_persistence: simple_cache_save() and simple_cache_load() on a server that does not
-- preload the library. A round trip keeps values, value kinds and the remaining time to live;
-- a load merges (a saved entry replaces the one with its key, other entries stay); an entry
-- that expired between save and load is skipped; a damaged file is refused with XX001 before
-- anything is loaded; both functions are for superusers unless granted.
--
-- The cache is shared by the whole cluster and the file holds every database's entries, so
-- keys start with 'p20:', only those are listed, and saved and loaded totals are compared with
-- bounds rather than fixed numbers.
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

-- Replaces simple_cache.dat in the data directory with the given bytes (lo_export writes
-- files on the server).
CREATE FUNCTION pg_temp.write_saved_file(bytes bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lo oid := lo_from_bytea(0, bytes);
BEGIN
    PERFORM lo_export(lo, current_setting('data_directory') || '/simple_cache.dat');
    PERFORM lo_unlink(lo);
END
$$;

-- The 'p20:' entries of this database, bytea ones shown in hex.
CREATE FUNCTION pg_temp.entries() RETURNS TABLE(key text, value text)
LANGUAGE sql AS $$
    SELECT key, CASE WHEN key = 'p20:bytes' THEN encode(simple_cache_get_bytea(key), 'hex') ELSE value END
    FROM simple_cache_list() WHERE starts_with(key, 'p20:') ORDER BY key
$$;

-- Leftovers of an earlier, interrupted run in the same cluster.
DO $$ BEGIN PERFORM simple_cache_drop(key) FROM simple_cache_list() WHERE starts_with(key, 'p20:'); END $$;

-- Entries of every kind: text, bytea, an empty value, with and without a time to live.
SELECT simple_cache_put('p20:text', 'a text value') AS existed,
       simple_cache_put('p20:bytes', '\x00ff'::bytea) AS existed2,
       simple_cache_put('p20:empty', '') AS existed3,
       simple_cache_put('p20:ttl', 'lives an hour', interval '1 hour') AS existed4,
       simple_cache_put('p20:short', 'lives two seconds', interval '2 seconds') AS existed5,
       simple_cache_put('p20:replaced', 'saved value') AS existed6;

-- Saving writes every live entry of every database.
SELECT simple_cache_save() AS saved \gset
SELECT :saved >= 6 AS saved_ours;
-- The file starts with the magic number and format version 2.
SELECT substr(pg_read_binary_file('simple_cache.dat'), 1, 12) AS file_start;
SELECT position(convert_to('lives two seconds', 'UTF8') in pg_read_binary_file('simple_cache.dat')) > 0
       AS short_lived_entry_saved;

-- After the save: one entry expires, one is dropped, one replaced, one added.
SELECT pg_sleep(2.1);
SELECT simple_cache_drop('p20:text') AS dropped,
       simple_cache_put('p20:replaced', 'newer value') AS existed,
       simple_cache_put('p20:unsaved', 'not in the file') AS existed2;

-- Loading merges: saved entries come back or replace, the unsaved one stays, the expired one
-- stays away.
SELECT simple_cache_load() AS loaded \gset
SELECT :loaded BETWEEN 5 AND :saved - 1 AS loaded_all_but_expired;
SELECT * FROM pg_temp.entries();
-- Times to live are absolute: what remained is kept; entries without one still have none.
SELECT simple_cache_ttl('p20:ttl') BETWEEN interval '59 minutes' AND interval '1 hour' AS ttl_kept,
       simple_cache_ttl('p20:text') IS NULL AS text_never_expires;

-- A round trip through an empty database scope: flush, load, everything is back.
SELECT simple_cache_flush() >= 6 AS flushed;
SELECT count(*) AS after_flush FROM pg_temp.entries();
SELECT simple_cache_load() >= 5 AS loaded_again;
SELECT * FROM pg_temp.entries();

-- Damaged files: each is refused with data_corrupted (XX001) and nothing is loaded.
SELECT pg_read_binary_file('simple_cache.dat') AS good \gset
SELECT simple_cache_flush() >= 5 AS flushed;
SELECT position(convert_to('a text value', 'UTF8') in :'good'::bytea) AS text_at \gset
SELECT pg_temp.write_saved_file(set_byte(:'good'::bytea, :text_at, get_byte(:'good'::bytea, :text_at) # 1));
SELECT simple_cache_load();
SELECT pg_temp.write_saved_file(set_byte(:'good'::bytea, 8, 3));
SELECT simple_cache_load();
SELECT pg_temp.write_saved_file(set_byte(:'good'::bytea, 16, get_byte(:'good'::bytea, 16) # 1));
SELECT simple_cache_load();
SELECT pg_temp.write_saved_file(convert_to(repeat('not a saved cache ', 10), 'UTF8'));
SELECT simple_cache_load();
SELECT pg_temp.write_saved_file('');
SELECT simple_cache_load();
SELECT pg_temp.write_saved_file(substr(:'good'::bytea, 1, length(:'good'::bytea) - 1));
SELECT pg_temp.sqlstate_of('SELECT simple_cache_load()') AS truncated;
SELECT pg_temp.write_saved_file(:'good'::bytea || '\x00'::bytea);
SELECT pg_temp.sqlstate_of('SELECT simple_cache_load()') AS trailing_byte;
SELECT count(*) AS loaded_from_damaged_files FROM pg_temp.entries();
-- The good file loads again.
SELECT pg_temp.write_saved_file(:'good'::bytea);
SELECT simple_cache_load() >= 5 AS loaded_good_file;
SELECT count(*) AS entries FROM pg_temp.entries();

-- Privileges: saving and loading are for superusers (or roles granted them).
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_simple_cache_p20;
RESET client_min_messages;
CREATE ROLE regress_simple_cache_p20;
SELECT has_function_privilege('regress_simple_cache_p20', 'simple_cache_save()', 'EXECUTE') AS save,
       has_function_privilege('regress_simple_cache_p20', 'simple_cache_load()', 'EXECUTE') AS load;
SET ROLE regress_simple_cache_p20;
SELECT pg_temp.sqlstate_of('SELECT simple_cache_save()') AS save,
       pg_temp.sqlstate_of('SELECT simple_cache_load()') AS load;
RESET ROLE;
DROP ROLE regress_simple_cache_p20;

-- Clean up: nothing of this file stays in the cache; the saved file is valid.
SELECT count(*) AS dropped FROM simple_cache_list() WHERE starts_with(key, 'p20:') AND simple_cache_drop(key);
SELECT simple_cache_save() >= 0 AS saved;
