-- 36_fsm_persistence: simple_cache_fsm_save() and simple_cache_fsm_load() on a server that does
-- not preload the library. A round trip gives back a heap-style relation's pages with their
-- free bytes and an index-style relation's free-page list; a damaged file is refused with
-- XX001 before anything is loaded; both functions are for superusers unless granted.
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

CREATE TABLE p36_heap (i integer);
CREATE INDEX p36_index ON p36_heap (i);

SELECT simple_cache_fsm_record_many('p36_heap', ARRAY[1, 5, 9]::bigint[], ARRAY[100, 2000, 8000]) AS kept;
SELECT simple_cache_fsm_add_free_page('p36_index', 3) AS added,
       simple_cache_fsm_add_free_page('p36_index', 7) AS added2;

-- Save, forget both relations, load: the same pages come back.
SELECT simple_cache_fsm_save() >= 2 AS saved;
SELECT simple_cache_fsm_forget('p36_heap') AS forgot, simple_cache_fsm_forget('p36_index') AS forgot2;
SELECT count(*) AS heap_pages FROM simple_cache_fsm_pages('p36_heap');
SELECT simple_cache_fsm_load() >= 2 AS loaded;
SELECT * FROM simple_cache_fsm_pages('p36_heap');
SELECT * FROM simple_cache_fsm_pages('p36_index');
SELECT relid::regclass, is_index, stored_pages, requested_pages
FROM simple_cache_fsm_relations WHERE relid IN ('p36_heap'::regclass, 'p36_index'::regclass) ORDER BY 1;

-- A damaged file is refused, and nothing is loaded from it.
SELECT simple_cache_fsm_forget('p36_heap') AS forgot;
DO $$
DECLARE
    lo oid := lo_from_bytea(0, '\x00112233'::bytea);
BEGIN
    PERFORM lo_export(lo, current_setting('data_directory') || '/simple_cache_fsm.dat');
    PERFORM lo_unlink(lo);
END
$$;
SELECT simple_cache_fsm_load();
SELECT count(*) AS heap_pages FROM simple_cache_fsm_pages('p36_heap');

-- A good save replaces the damaged file.
SELECT simple_cache_fsm_save() >= 1 AS saved;
SELECT simple_cache_fsm_load() >= 1 AS loaded;

-- Privileges: not for PUBLIC.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_simple_cache_p36;
RESET client_min_messages;
CREATE ROLE regress_simple_cache_p36;
SET ROLE regress_simple_cache_p36;
SELECT pg_temp.sqlstate_of('SELECT simple_cache_fsm_save()') AS save,
       pg_temp.sqlstate_of('SELECT simple_cache_fsm_load()') AS load;
RESET ROLE;
DROP ROLE regress_simple_cache_p36;

SELECT simple_cache_fsm_forget('p36_index') AS forgot;
DROP TABLE p36_heap;
