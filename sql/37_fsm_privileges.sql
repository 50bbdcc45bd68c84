-- 37_fsm_privileges: every free-space-map function that names a relation of this database
-- checks a privilege on it (for an index: on its table), and raises 42501 otherwise, with the
-- map left as it was.
--   read      pages, avg_request, truncatable_pages, rows of the view: SELECT, or the right
--             to vacuum the table
--   use       get_page, record, record_and_get_page, get_free_page: INSERT or UPDATE, or the
--             right to vacuum the table
--   maintain  record_many, add_free_page, truncate, forget, vacuum: the right the server
--             gives to run VACUUM on the table: its owner (members of the owning role,
--             superusers) or, unless the relation is shared, the database's owner
--             (and from PostgreSQL 17 on the MAINTAIN privilege: 39_fsm_maintain)
-- Oids that are no relation of this database (an application's own numbering) stay open to
-- every role; simple_cache_fsm_summary() is for everyone; the sql_drop event trigger forgets
-- a table its owner drops. Made-up relations are oids 3700011 and up.
\pset null '<NULL>'
SELECT current_database() AS main_db \gset
SET client_min_messages = warning;
DROP TABLE IF EXISTS fsm37_t;
DROP DATABASE IF EXISTS regress_fsm37_db WITH (FORCE);
DROP ROLE IF EXISTS regress_fsm37_none;
DROP ROLE IF EXISTS regress_fsm37_reader;
DROP ROLE IF EXISTS regress_fsm37_writer;
DROP ROLE IF EXISTS regress_fsm37_member;
DROP ROLE IF EXISTS regress_fsm37_read_all;
DROP ROLE IF EXISTS regress_fsm37_write_all;
DROP ROLE IF EXISTS regress_fsm37_owner;
DROP ROLE IF EXISTS regress_fsm37_dbowner;
RESET client_min_messages;

SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;

-- A table owned by one role; a role with no privilege, one with SELECT, one with INSERT, a
-- member of the owning role, and members of pg_read_all_data and pg_write_all_data.
CREATE ROLE regress_fsm37_owner;
CREATE ROLE regress_fsm37_none;
CREATE ROLE regress_fsm37_reader;
CREATE ROLE regress_fsm37_writer;
CREATE ROLE regress_fsm37_member IN ROLE regress_fsm37_owner;
CREATE ROLE regress_fsm37_read_all IN ROLE pg_read_all_data;
CREATE ROLE regress_fsm37_write_all IN ROLE pg_write_all_data;
CREATE TABLE fsm37_t (id int PRIMARY KEY, pad text);
INSERT INTO fsm37_t SELECT g, repeat('x', 200) FROM generate_series(1, 100) g;
ALTER TABLE fsm37_t OWNER TO regress_fsm37_owner;
GRANT SELECT ON fsm37_t TO regress_fsm37_reader;
GRANT INSERT ON fsm37_t TO regress_fsm37_writer;

-- Runs command as role; returns 'ok', or the SQLSTATE it raised. The role switch is undone
-- either way.
CREATE FUNCTION pg_temp.as_role(role name, command text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET ROLE %I', role);
    EXECUTE command;
    RESET ROLE;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- The same known state for the table, its index and a made-up relation.
CREATE FUNCTION pg_temp.set_up() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM simple_cache_fsm_forget(relid) FROM simple_cache_fsm_relations;
    PERFORM simple_cache_fsm_record_many('fsm37_t', ARRAY[0, 1, 2, 3]::bigint[], ARRAY[7000, 120, 4000, 2500]);
    PERFORM simple_cache_fsm_get_page('fsm37_t', 1000);
    PERFORM simple_cache_fsm_record_many('fsm37_t_pkey', ARRAY[10, 11, 12]::bigint[], ARRAY[0, 0, 0]);
    PERFORM simple_cache_fsm_record_many(3700011, ARRAY[5]::bigint[], ARRAY[500]);
END
$$;

-- Everything the map holds for this database, as one text: per relation its kind, request,
-- average request and pages (with their free bytes).
CREATE FUNCTION pg_temp.map_state() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(r.relid::text || (CASE WHEN r.is_index THEN ' index' ELSE ' heap' END)
                               || ' req ' || r.requested_pages || ' avg ' || r.avg_request || ' pages '
                               || (SELECT coalesce(string_agg(block || ':' || coalesce(avail, -1), ',' ORDER BY block), '')
                                   FROM simple_cache_fsm_pages(r.relid)),
                               '; ' ORDER BY r.relid::text), '(empty)')
    FROM simple_cache_fsm_relations r
$$;

-- Every map function that names a relation, in the order they are tried.
CREATE TEMP TABLE calls(n int, function text, command text);
INSERT INTO calls VALUES
    (1, 'pages', 'SELECT count(*) FROM simple_cache_fsm_pages(''fsm37_t'')'),
    (2, 'avg_request', 'SELECT simple_cache_fsm_avg_request(''fsm37_t'')'),
    (3, 'truncatable_pages(index, 13)', 'SELECT simple_cache_fsm_truncatable_pages(''fsm37_t_pkey'', 13)'),
    (4, 'truncatable_pages(index)', 'SELECT simple_cache_fsm_truncatable_pages(''fsm37_t_pkey'')'),
    (5, 'get_page', 'SELECT simple_cache_fsm_get_page(''fsm37_t'', 100)'),
    (6, 'record', 'SELECT simple_cache_fsm_record(''fsm37_t'', 1, 150)'),
    (7, 'record_and_get_page', 'SELECT simple_cache_fsm_record_and_get_page(''fsm37_t'', 2, 3000, 100)'),
    (8, 'get_free_page(index)', 'SELECT simple_cache_fsm_get_free_page(''fsm37_t_pkey'')'),
    (9, 'record_many', 'SELECT simple_cache_fsm_record_many(''fsm37_t'', ARRAY[9]::bigint[], ARRAY[9])'),
    (10, 'add_free_page(index)', 'SELECT simple_cache_fsm_add_free_page(''fsm37_t_pkey'', 20)'),
    (11, 'truncate(index)', 'SELECT simple_cache_fsm_truncate(''fsm37_t_pkey'', 12)'),
    (12, 'vacuum', 'SELECT simple_cache_fsm_vacuum(''fsm37_t'')'),
    (13, 'vacuum(index)', 'SELECT simple_cache_fsm_vacuum(''fsm37_t_pkey'')'),
    (14, 'forget(index)', 'SELECT simple_cache_fsm_forget(''fsm37_t_pkey'')'),
    (15, 'forget', 'SELECT simple_cache_fsm_forget(''fsm37_t'')');

-- Each role in turn, from the same state: what each call gave, and what the map holds after.
CREATE TEMP TABLE outcomes(role name, n int, outcome text);
CREATE TEMP TABLE states(role name, state text);
SELECT pg_temp.set_up();
SELECT pg_temp.map_state() AS initial_state \gset
SELECT :'initial_state' AS initial_state;

CREATE FUNCTION pg_temp.try_all(role name) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    PERFORM pg_temp.set_up();
    FOR c IN SELECT * FROM calls ORDER BY n LOOP
        INSERT INTO outcomes VALUES (role, c.n, pg_temp.as_role(role, c.command));
    END LOOP;
    INSERT INTO states VALUES (role, pg_temp.map_state());
END
$$;
SELECT pg_temp.try_all('regress_fsm37_none');
SELECT pg_temp.try_all('regress_fsm37_reader');
SELECT pg_temp.try_all('regress_fsm37_writer');
SELECT pg_temp.try_all('regress_fsm37_read_all');
SELECT pg_temp.try_all('regress_fsm37_write_all');
SELECT pg_temp.try_all('regress_fsm37_member');
SELECT pg_temp.try_all('regress_fsm37_owner');

SELECT c.function,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_none') AS no_privilege,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_reader') AS select_only,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_writer') AS insert_only,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_read_all') AS read_all,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_write_all') AS write_all,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_member') AS owner_member,
       max(o.outcome) FILTER (WHERE o.role = 'regress_fsm37_owner') AS owner
FROM calls c JOIN outcomes o USING (n)
GROUP BY c.n, c.function ORDER BY c.n;

-- Refused calls changed nothing: the role with no privilege and the readers leave the map
-- exactly as it was set up. The INSERT role's calls (and pg_write_all_data's) got pages (the
-- average request moved from 1000 to 891), recorded pages 1 and 2 and took free page 10; the
-- owner's calls ended with forgetting the table and its index.
SELECT role, state = :'initial_state' AS unchanged FROM states ORDER BY role;
SELECT state AS after_insert_only FROM states WHERE role = 'regress_fsm37_writer';
SELECT count(DISTINCT state) AS distinct_states FROM states
WHERE role IN ('regress_fsm37_writer', 'regress_fsm37_write_all');
SELECT state AS after_owner FROM states WHERE role = 'regress_fsm37_owner';

-- The messages say which right is missing.
SELECT pg_temp.set_up();
SET ROLE regress_fsm37_none;
SELECT * FROM simple_cache_fsm_pages('fsm37_t');
SELECT simple_cache_fsm_get_free_page('fsm37_t_pkey');
SELECT simple_cache_fsm_record_many('fsm37_t', ARRAY[0]::bigint[], ARRAY[1]);
RESET ROLE;
SET ROLE regress_fsm37_reader;
SELECT simple_cache_fsm_forget('fsm37_t');
RESET ROLE;

-- The view lists only the relations the caller may read (and the made-up ones); everyone may
-- read it and the summary, which counts the whole map.
CREATE FUNCTION pg_temp.listed_as(role name) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    listed text;
BEGIN
    EXECUTE format('SET ROLE %I', role);
    SELECT string_agg(relid::text, ', ' ORDER BY relid::text)
    INTO listed FROM simple_cache_fsm_relations;
    RESET ROLE;
    RETURN coalesce(listed, '(none)');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT r AS role, pg_temp.listed_as(r) AS listed,
       pg_temp.as_role(r, 'SELECT * FROM simple_cache_fsm_relations()') AS function_behind_it,
       pg_temp.as_role(r, 'SELECT * FROM simple_cache_fsm_summary()') AS summary
FROM unnest(ARRAY['regress_fsm37_none', 'regress_fsm37_reader', 'regress_fsm37_writer',
                  'regress_fsm37_member', 'regress_fsm37_owner']::name[]) WITH ORDINALITY AS t(r, n)
ORDER BY n;
SELECT relations AS all_relations FROM simple_cache_fsm_summary() \gset
SET ROLE regress_fsm37_none;
SELECT relations = :all_relations AS summary_counts_all FROM simple_cache_fsm_summary();
RESET ROLE;

-- Made-up relations stay open to every role: one role reports, another reads, takes a page
-- and forgets it.
SET ROLE regress_fsm37_none;
SELECT simple_cache_fsm_record_many(3700012, ARRAY[1, 2]::bigint[], ARRAY[800, 900]) AS kept;
SELECT simple_cache_fsm_add_free_page(3700013, 4) AS added;
RESET ROLE;
SET ROLE regress_fsm37_reader;
SELECT simple_cache_fsm_get_page(3700012, 850) AS page, simple_cache_fsm_avg_request(3700012) AS avg,
       simple_cache_fsm_record(3700012, 1, 100) AS recorded, simple_cache_fsm_get_free_page(3700013) AS free_page,
       simple_cache_fsm_truncatable_pages(3700013, 5) AS truncatable, simple_cache_fsm_truncate(3700012, 2) AS truncated;
SELECT * FROM simple_cache_fsm_pages(3700012);
SELECT simple_cache_fsm_forget(3700012) AS forgot, simple_cache_fsm_forget(3700013) AS forgot_list;
RESET ROLE;

-- The owner's DROP TABLE is seen by the event trigger: the table and its index are forgotten.
SELECT pg_temp.set_up();
SET ROLE regress_fsm37_owner;
DROP TABLE fsm37_t;
RESET ROLE;
SELECT pg_temp.map_state() AS after_drop;

-- A database's owner may maintain its relations (as VACUUM allows), but not shared catalogs.
CREATE ROLE regress_fsm37_dbowner;
CREATE DATABASE regress_fsm37_db OWNER regress_fsm37_dbowner;
\c regress_fsm37_db
SET client_min_messages = warning;
CREATE EXTENSION simple_cache;
RESET client_min_messages;
CREATE TABLE fsm37_d (id int);
INSERT INTO fsm37_d VALUES (1);
SET ROLE regress_fsm37_dbowner;
SELECT simple_cache_fsm_vacuum('fsm37_d') AS scanned, (SELECT count(*) FROM simple_cache_fsm_pages('fsm37_d')) AS pages,
       simple_cache_fsm_get_page('fsm37_d', 100) AS page, simple_cache_fsm_forget('fsm37_d') AS forgot;
SELECT simple_cache_fsm_vacuum('pg_class') > 0 AS catalog_scanned, simple_cache_fsm_forget('pg_class') AS forgot;
SELECT simple_cache_fsm_vacuum('pg_database');
SELECT simple_cache_fsm_record_many('pg_authid', ARRAY[0]::bigint[], ARRAY[100]);
RESET ROLE;
\c :main_db
DROP DATABASE regress_fsm37_db;

-- Clean up.
SELECT count(simple_cache_fsm_forget(relid)) >= 0 AS cleared FROM simple_cache_fsm_relations;
SELECT consistent, problem, locks_held FROM simple_cache_fsm_check();
DROP ROLE regress_fsm37_none;
DROP ROLE regress_fsm37_reader;
DROP ROLE regress_fsm37_writer;
DROP ROLE regress_fsm37_member;
DROP ROLE regress_fsm37_read_all;
DROP ROLE regress_fsm37_write_all;
DROP ROLE regress_fsm37_owner;
DROP ROLE regress_fsm37_dbowner;
